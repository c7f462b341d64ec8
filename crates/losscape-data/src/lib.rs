//! In-memory image data sets as libtorch tensors for losscape.
//! (Overview and example: see README.md; readers and the embedded set are being added.)

pub mod dataset;
pub mod error;
pub mod rng;

pub use dataset::{Batches, Dataset, Normalization};
pub use error::{Error, Result};

/// The training and test splits of a data set.
#[derive(Clone, Debug)]
pub struct Splits {
    pub train: Dataset,
    pub test: Dataset,
}
