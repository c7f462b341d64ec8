//! In-memory image data sets as libtorch tensors for losscape: every split is two tensors (images
//! `[N, C, H, W]`, labels `[N]`) held on one device for a whole run, so nothing is decoded per batch
//! or per landscape point.
//!
//! - [`Dataset`] and [`Splits`]: the tensors with their class count, name and the
//!   [`Normalization`] applied to them; class counts, deterministic subsets, seeded [`batches`](Dataset::batches).
//! - Readers: [`read_idx_pair`] and [`read_idx_dir`] (MNIST, Fashion-MNIST; raw or gzip),
//!   [`read_cifar_file`] and [`read_cifar10_dir`] (CIFAR-10 binary), [`read_npz`] and
//!   [`read_npy_dir`] (a user's NumPy arrays, see [`npy`]). Bad files give an [`Error`]
//!   naming the file, never a panic.
//! - [`fashion_mnist_mini`]: the embedded default data set, 5,000 + 1,000 Fashion-MNIST images
//!   (500 and 100 per class), compiled in; provenance in the [`embedded`] module.
//! - [`DataSource`]: which of these a run uses, as the text that checkpoints record
//!   (`fashion-mnist-mini`, `idx:<dir>`, `cifar10:<dir>`, `npz:<file>`, `npy:<dir>`).
//! - [`write_synthetic_npz`]: seeded random images as an `.npz`, for timing and device checks.
//! - [`Augmentation`]: seeded random crop and horizontal flip for training batches.
//! - [`rng`]: the documented generator (SplitMix64) behind every shuffle and augmentation.
//!
//! Images load on the CPU on the 0..1 scale; normalize and move them once:
//!
//! ```
//! use losscape_data::{fashion_mnist_mini, rng::derive_seed, Augmentation, Normalization};
//!
//! let splits = fashion_mnist_mini()?;
//! assert_eq!((splits.train.len(), splits.test.len()), (5_000, 1_000));
//! assert_eq!(splits.train.image_shape(), [1, 28, 28]);
//! assert_eq!(splits.train.class_counts(), vec![500; 10]);
//!
//! // Normalize with the training statistics (about 0.286 and 0.353 for Fashion-MNIST).
//! let norm = Normalization::fit(&splits.train)?;
//! assert!((norm.mean[0] - 0.286).abs() < 0.02);
//! let train = splits.train.normalized(&norm)?;
//!
//! // One epoch's first batches, shuffled and augmented from seeds alone.
//! let (seed, epoch) = (42, 0);
//! let augmentation = Augmentation::standard();
//! for (step, (x, y)) in train.batches(128, Some(derive_seed(seed, epoch)))?.take(2).enumerate() {
//!     let x = augmentation.apply_normalized(&x, train.normalization.as_ref(), derive_seed(seed, step as u64))?;
//!     assert_eq!((x.size(), y.size()), (vec![128, 1, 28, 28], vec![128]));
//! }
//! # Ok::<(), losscape_data::Error>(())
//! ```

pub mod augment;
pub mod cifar;
pub mod dataset;
pub mod embedded;
pub mod error;
mod file;
pub mod idx;
pub mod npy;
pub mod rng;
pub mod source;
pub mod synthetic;

pub use augment::Augmentation;
pub use cifar::{read_cifar10_dir, read_cifar_file, CIFAR10_CLASSES};
pub use dataset::{Batches, Dataset, InputKind, Normalization};
pub use embedded::{fashion_mnist_mini, FASHION_MNIST_CLASSES};
pub use error::{Error, Result};
pub use idx::{read_idx_dir, read_idx_pair};
pub use npy::{read_npy_dir, read_npz};
pub use synthetic::{write_synthetic_npz, SyntheticSpec};
pub use source::DataSource;

use tch::Device;

/// The training and test splits of a data set.
#[derive(Clone, Debug)]
pub struct Splits {
    /// The training split.
    pub train: Dataset,
    /// The test split (used for evaluation only).
    pub test: Dataset,
}

impl Splits {
    /// Both splits on `device`.
    pub fn to_device(&self, device: Device) -> Result<Self> {
        Ok(Self { train: self.train.to_device(device)?, test: self.test.to_device(device)? })
    }

    /// Both splits normalized with `norm` (typically fitted on the training split).
    pub fn normalized(&self, norm: &Normalization) -> Result<Self> {
        Ok(Self { train: self.train.normalized(norm)?, test: self.test.normalized(norm)? })
    }
}
