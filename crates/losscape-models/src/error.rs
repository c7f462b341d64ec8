//! The error type of losscape-models: invalid specs list the valid forms, file errors name the
//! file, and checkpoint mismatches name the first tensor that does not fit.

use std::path::PathBuf;

/// Errors from building models and reading or writing checkpoints.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A model spec string that is not one of the valid forms (the message lists them).
    #[error("{0}")]
    Spec(String),
    /// Build arguments or inputs that cannot be used (channel counts, image sizes, input shapes).
    #[error("{0}")]
    Invalid(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file's content is not a valid tensor file or checkpoint.
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    /// A checkpoint's tensors do not fit the model (missing, extra or differently shaped tensor).
    #[error("{path}: {message}")]
    Mismatch { path: PathBuf, message: String },
    /// An error reported by libtorch.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// What was being done when `source` happened (e.g. "loading checkpoint a.safetensors").
    #[error("{context}")]
    Context {
        context: String,
        #[source]
        source: Box<Error>,
    },
    /// An error from the plumbing layer (atomic writes, ...).
    #[error(transparent)]
    Core(#[from] losscape_core::Error),
}

/// Result with the models [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// This error as the cause of `context`.
    pub fn context(self, context: impl Into<String>) -> Self {
        Error::Context { context: context.into(), source: Box::new(self) }
    }
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
    pub(crate) fn mismatch(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Mismatch {
            path: path.into(),
            message: message.into(),
        }
    }
}
