//! The error type of losscape-landscape: evaluation and grid-run errors, typed refusals, and the
//! errors of the layers below (surface files keep theirs: every differing field named).

/// Errors from evaluating models over grids and running grid jobs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error of a grid, a surface file or an export (losscape-surface).
    #[error(transparent)]
    Surface(#[from] losscape_surface::Error),
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
    /// An error of a metric's own layer (a [`crate::PointMetrics`] implemented elsewhere, such as
    /// curvature's Hessian map), kept whole: its message is the metric's, and a caller matches
    /// on it by downcasting (`source.downcast_ref::<losscape_curvature::Error>()`), or through
    /// that layer's conversion back from this error.
    #[error(transparent)]
    Metric(Box<dyn std::error::Error + Send + Sync + 'static>),
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
    /// This error as the cause of `context`.
    pub fn context(self, context: impl Into<String>) -> Self {
        Error::Context { context: context.into(), source: Box::new(self) }
    }

    /// A metric's own error, kept whole as [`Error::Metric`].
    pub fn metric(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Metric(Box::new(source))
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }

    /// A file that cannot be read or written (the original code's HDF5 files).
    #[cfg(feature = "hdf5")]
    pub(crate) fn io(path: impl Into<std::path::PathBuf>, source: std::io::Error) -> Self {
        losscape_surface::Error::Io { path: path.into(), source }.into()
    }

    /// A file whose content is not what its format requires (the original code's HDF5 files).
    #[cfg(feature = "hdf5")]
    pub(crate) fn format(path: impl Into<std::path::PathBuf>, message: impl Into<String>) -> Self {
        losscape_surface::Error::Format { path: path.into(), message: message.into() }.into()
    }
}
