//! The error type of losscape-plot.

use std::path::PathBuf;

/// Errors from drawing or writing a figure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The output file's extension names no format we write.
    #[error("{path}: unsupported figure format (the file name must end in .png or .svg)")]
    UnsupportedFormat {
        /// The requested output path.
        path: PathBuf,
    },
    /// Input data or options that cannot be drawn (shapes that disagree, coordinates that are
    /// not increasing, an empty level range, a figure size out of bounds, ...).
    #[error("{0}")]
    Invalid(String),
    /// An error of the plumbing layer (the atomic write of the figure file).
    #[error(transparent)]
    Core(#[from] losscape_core::Error),
    /// The drawing library reported an error while drawing.
    #[error("drawing failed: {0}")]
    Draw(String),
    /// The rendered picture could not be encoded as PNG.
    #[error("{path}: png encoding failed: {message}")]
    Encode {
        /// The output file.
        path: PathBuf,
        /// What the encoder said.
        message: String,
    },
    /// The embedded font could not be registered with the drawing library.
    #[error("the embedded font could not be loaded")]
    Font,
}

/// Result with the plot [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An invalid-input error with the given message.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }
}

impl<E: std::error::Error + Send + Sync> From<plotters::drawing::DrawingAreaErrorKind<E>>
    for Error
{
    fn from(e: plotters::drawing::DrawingAreaErrorKind<E>) -> Self {
        Error::Draw(e.to_string())
    }
}
