//! The embedded default data set: a class-balanced subset of Fashion-MNIST compiled into the
//! library, so examples, tests and first runs need no download.
//!
//! Provenance: Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017; MIT licence, copyright Zalando SE),
//! taken from Debian's `dataset-fashion-mnist` package. The subset holds, in file order, the first
//! 500 training images and the first 100 test images of each of the 10 classes (5,000 + 1,000
//! 28x28 grey images, about 2.6 MB gzip-compressed). `cargo xtask data` rebuilds the files and
//! `cargo xtask data --check` verifies them against `data/fashion-mnist-mini/SHA256SUMS`; see
//! `data/fashion-mnist-mini/README.md`.

use std::path::Path;

use crate::error::Result;
use crate::file::decode_maybe_gz;
use crate::idx::dataset_from_bytes;
use crate::Splits;

/// Name of the embedded data set (as in [`crate::DataSource::FashionMnistMini`]).
pub const FASHION_MNIST_MINI: &str = "fashion-mnist-mini";

/// The Fashion-MNIST class names, by label.
pub const FASHION_MNIST_CLASSES: [&str; 10] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

const TRAIN_IMAGES: &[u8] = include_bytes!("../data/fashion-mnist-mini/train-images-idx3-ubyte.gz");
const TRAIN_LABELS: &[u8] = include_bytes!("../data/fashion-mnist-mini/train-labels-idx1-ubyte.gz");
const TEST_IMAGES: &[u8] = include_bytes!("../data/fashion-mnist-mini/test-images-idx3-ubyte.gz");
const TEST_LABELS: &[u8] = include_bytes!("../data/fashion-mnist-mini/test-labels-idx1-ubyte.gz");

/// The embedded Fashion-MNIST subset on the CPU, unnormalized (0..1 scale): 5,000 training
/// images (500 per class) named `fashion-mnist-mini/train` and 1,000 test images (100 per class)
/// named `fashion-mnist-mini/test`, each `[1, 28, 28]`, 10 classes.
pub fn fashion_mnist_mini() -> Result<Splits> {
    let split = |split: &str, images: &[u8], labels: &[u8]| {
        let ip = Path::new("<embedded>").join(format!("{FASHION_MNIST_MINI}/{split}-images-idx3-ubyte.gz"));
        let lp = Path::new("<embedded>").join(format!("{FASHION_MNIST_MINI}/{split}-labels-idx1-ubyte.gz"));
        let (images, labels) = (decode_maybe_gz(images, &ip)?, decode_maybe_gz(labels, &lp)?);
        dataset_from_bytes(&images, &ip, &labels, &lp, format!("{FASHION_MNIST_MINI}/{split}"))
    };
    Ok(Splits { train: split("train", TRAIN_IMAGES, TRAIN_LABELS)?, test: split("test", TEST_IMAGES, TEST_LABELS)? })
}
