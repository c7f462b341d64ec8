//! The error type of losscape-curvature.

/// Errors from Hessian-vector products, eigensolvers, trace estimation and Hessian maps.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument that cannot be used (empty data set, zero tolerance, wrong vector length,
    /// an unknown parameter-set name, ...).
    #[error("{0}")]
    Invalid(String),
    /// A computation that produced no usable number (a NaN or infinite Hessian-vector product).
    #[error("{0}")]
    NotFinite(String),
    /// An error reported by libtorch.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// An error from the data layer.
    #[error(transparent)]
    Data(#[from] losscape_data::Error),
    /// An error from the models layer.
    #[error(transparent)]
    Models(#[from] losscape_models::Error),
    /// An error from the directions layer.
    #[error(transparent)]
    Directions(#[from] losscape_directions::Error),
    /// An error from the landscape layer (grids, surface files).
    #[error(transparent)]
    Landscape(losscape_landscape::Error),
}

/// Result with the curvature [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for losscape_landscape::Error {
    /// Lets a Hessian map report its errors through the landscape grid driver: errors of the
    /// layers below become the landscape's own variants, curvature's own errors travel whole as
    /// [`losscape_landscape::Error::Metric`] (same message, nothing converted to a string).
    fn from(e: Error) -> Self {
        match e {
            Error::Landscape(inner) => inner,
            Error::Torch(t) => losscape_landscape::Error::Torch(t),
            Error::Data(d) => losscape_landscape::Error::Data(d),
            Error::Models(m) => losscape_landscape::Error::Models(m),
            Error::Directions(d) => losscape_landscape::Error::Directions(d),
            own => losscape_landscape::Error::metric(own),
        }
    }
}

impl From<losscape_landscape::Error> for Error {
    /// The landscape layer's error, with curvature's own errors that travelled through the grid
    /// driver ([`losscape_landscape::Error::Metric`]) taken back out: a map that failed with
    /// [`Error::Invalid`] at a point returns [`Error::Invalid`].
    fn from(e: losscape_landscape::Error) -> Self {
        match e {
            losscape_landscape::Error::Metric(source) => match source.downcast::<Error>() {
                Ok(own) => *own,
                Err(other) => Error::Landscape(losscape_landscape::Error::Metric(other)),
            },
            other => Error::Landscape(other),
        }
    }
}
