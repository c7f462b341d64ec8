//! The error type of losscape-train: bad configurations, run folders that belong to another
//! configuration, unreadable resume state, and the errors of the layers below.

use std::path::PathBuf;

/// Errors from configuring, running or resuming a training run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value that cannot be used (the message names it).
    #[error("invalid training configuration: {0}")]
    Config(String),
    /// The run folder holds a run with another configuration; the message lists what differs.
    #[error(
        "{path} holds a run with a different configuration ({differences}); use a new folder or start over"
    )]
    ConfigMismatch { path: PathBuf, differences: String },
    /// The run folder holds run files but no configuration (an incomplete or foreign run).
    #[error("{path}: holds run files but no config.json (an incomplete or foreign run): use a new folder or start over")]
    IncompleteRun { path: PathBuf },
    /// A run folder file (config, run record, metrics log, resume state) is not what it must be.
    #[error("{path}: {message}")]
    RunFolder { path: PathBuf, message: String },
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Training diverged (a non-finite loss).
    #[error("training diverged: non-finite loss {loss} in epoch {epoch}, batch {batch}")]
    Diverged { epoch: u64, batch: usize, loss: f64 },
    /// An error reported by libtorch.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// An error from the plumbing layer.
    #[error(transparent)]
    Core(#[from] losscape_core::Error),
    /// An error from the data layer.
    #[error(transparent)]
    Data(#[from] losscape_data::Error),
    /// An error from the model layer.
    #[error(transparent)]
    Models(#[from] losscape_models::Error),
}

/// Result with the training [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub(crate) fn run_folder(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::RunFolder { path: path.into(), message: message.into() }
    }
}
