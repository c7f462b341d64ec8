//! The error type of losscape-directions.

/// Errors from making, combining, saving and loading directions.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A direction does not fit a model (names, shapes or scope differ).
    #[error("{0}")]
    Mismatch(String),
    /// An argument that cannot be used (unknown normalization name, zero direction, ...).
    #[error("{0}")]
    Invalid(String),
    /// A direction file that is not one (wrong metadata, missing tensors).
    #[error("{path}: {message}")]
    Format { path: std::path::PathBuf, message: String },
    /// An error reported by libtorch.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// An error from the models layer (checkpoint files).
    #[error(transparent)]
    Models(#[from] losscape_models::Error),
    /// An error from the plumbing layer.
    #[error(transparent)]
    Core(#[from] losscape_core::Error),
}

/// Result with the directions [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
