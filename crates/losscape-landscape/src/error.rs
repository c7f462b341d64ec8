//! The error type of losscape-landscape: file errors name the file, refused resumes and merges name
//! every field that differs.

use std::path::PathBuf;

/// Errors from building grids, evaluating surfaces, and reading, writing or exporting surface files.
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
        /// What was refused, e.g. "cannot resume surface file out.surface: it was made differently".
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
    /// Another process computing points for this run (an MPI rank of a distributed run) failed
    /// or sent what the protocol does not allow; the message says which and why.
    #[error("{0}")]
    Remote(String),
    /// An error from the plumbing layer (atomic writes, hashing, devices).
    #[error(transparent)]
    Core(#[from] losscape_core::Error),
    /// An error from the data layer.
    #[error(transparent)]
    Data(#[from] losscape_data::Error),
    /// An error from the models layer.
    #[error(transparent)]
    Models(#[from] losscape_models::Error),
    /// An error from the directions layer.
    #[error(transparent)]
    Directions(#[from] losscape_directions::Error),
    /// An error reported by libtorch.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// An input a job refuses because of what its model can do.
    #[error("{0}")]
    Refused(#[from] crate::job::Refusal),
    /// What was being done when `source` happened (e.g. "loading data cifar10:...").
    #[error("{context}")]
    Context {
        /// What was being done.
        context: String,
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },
}

/// Result with the landscape [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            message: message.into(),
        }
    }

    /// This error as the cause of `context`.
    pub fn context(self, context: impl Into<String>) -> Self {
        Error::Context { context: context.into(), source: Box::new(self) }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }
}
