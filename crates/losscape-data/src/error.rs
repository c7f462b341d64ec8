//! The error type of losscape-data: every file error names the file.

use std::path::PathBuf;

/// Errors from reading or preparing data sets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or folder could not be read.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file or folder that a reader needs does not exist.
    #[error("{path}: {message}")]
    NotFound { path: PathBuf, message: String },
    /// A file's content is not what its format requires.
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    /// Inconsistent tensors or arguments (shapes, label ranges, batch sizes, ...).
    #[error("{0}")]
    Invalid(String),
    /// An error reported by libtorch.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// An error from the plumbing layer.
    #[error(transparent)]
    Core(#[from] losscape_core::Error),
}

/// Result with the data [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
    pub(crate) fn not_found(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::NotFound { path: path.into(), message: message.into() }
    }
    pub(crate) fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Format { path: path.into(), message: message.into() }
    }
}
