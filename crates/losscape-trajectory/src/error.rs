//! The error type of losscape-trajectory: run folders and checkpoints that cannot be used as a
//! path, degenerate paths, and the errors of the layers below.

use std::path::PathBuf;

/// Errors from reading an optimization path, its PCA and its projections.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument or a path that cannot be analysed (too few checkpoints, no variation, ...).
    #[error("{0}")]
    Invalid(String),
    /// A checkpoint that does not fit the others or the model (names, shapes, dtypes).
    #[error("{path}: {message}")]
    Mismatch { path: PathBuf, message: String },
    /// A file that is not what it must be (a damaged safetensors header, offsets past its end).
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An error reported by libtorch.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// An error from the plumbing layer.
    #[error(transparent)]
    Core(#[from] losscape_core::Error),
    /// An error from the model layer (checkpoint files).
    #[error(transparent)]
    Models(#[from] losscape_models::Error),
    /// An error from the directions layer.
    #[error(transparent)]
    Directions(#[from] losscape_directions::Error),
    /// An error from the training layer (run folder files).
    #[error(transparent)]
    Train(#[from] losscape_train::Error),
}

/// Result with the trajectory [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub(crate) fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Format { path: path.into(), message: message.into() }
    }

    pub(crate) fn mismatch(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Mismatch { path: path.into(), message: message.into() }
    }
}
