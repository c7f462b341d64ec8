//! The error type of losscape-core and the kinds shared by the other crates' errors.

use std::path::PathBuf;

/// Errors from the plumbing layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written; the path says which.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An error reported by libtorch.
    #[cfg(feature = "torch")]
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// A file is locked by another process (a second writer).
    #[error("{0}")]
    Locked(String),
    /// A value given by the user that cannot be used (a device name, a precision, ...).
    #[error("{0}")]
    Invalid(String),
}

/// Result with the core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}
