//! The error type of losscape-surface: file errors name the file, refused resumes and merges name
//! every field that differs.

use std::path::PathBuf;

/// Errors from building grids and reading, writing, merging or exporting surface files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A file's content is not what its format requires (wrong magic bytes, unsupported version,
    /// truncated, checksum mismatch, inconsistent lengths, ...).
    #[error("{path}: {message}")]
    Format {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Two surfaces (an existing file and a new run, or two shards to merge) were made from
    /// different inputs; `details` lists every differing field with both values.
    #[error("{subject}: {}; {hint}", details.join("; "))]
    Mismatch {
        /// What was refused, e.g. "cannot resume out.surface: the existing surface file was made
        /// with different inputs".
        subject: String,
        /// One entry per differing field: "grid: file has ..., this run has ...".
        details: Vec<String>,
        /// What the user can do about it.
        hint: String,
    },
    /// A value or argument that cannot be used (a malformed axis or shard, a wrong number of
    /// values for a point, an unknown array name, ...).
    #[error("{0}")]
    Invalid(String),
    /// An error from the plumbing layer (atomic writes, locks).
    #[error(transparent)]
    Core(#[from] losscape_core::Error),
}

/// Result with the surface [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub(crate) fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Format { path: path.into(), message: message.into() }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }
}
