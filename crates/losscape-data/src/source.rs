//! [`DataSource`]: where a data set comes from, as a value that checkpoints and run folders record
//! as text (`fashion-mnist-mini`, `idx:<dir>`, `cifar10:<dir>`, `npz:<file>`, `npy:<dir>`) and that
//! loads it again.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::cifar::{read_cifar10_dir, CIFAR10_CLASSES};
use crate::embedded::{fashion_mnist_mini, FASHION_MNIST_CLASSES, FASHION_MNIST_MINI};
use crate::error::{Error, Result};
use crate::idx::read_idx_dir;
use crate::npy::{read_npy_dir, read_npz};
use crate::Splits;

/// A data set's origin. Its text form (see [`fmt::Display`] and [`FromStr`], which are inverse
/// for paths that are valid UTF-8) is `fashion-mnist-mini`, `idx:<dir>`, `cifar10:<dir>`,
/// `npz:<file>` or `npy:<dir>`;
/// serde uses the same text.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum DataSource {
    /// The embedded Fashion-MNIST subset ([`fashion_mnist_mini`]).
    #[default]
    FashionMnistMini,
    /// An MNIST-style IDX folder ([`read_idx_dir`]).
    Idx(PathBuf),
    /// A CIFAR-10 binary folder ([`read_cifar10_dir`]).
    Cifar10(PathBuf),
    /// NumPy arrays in one `.npz` file ([`read_npz`]).
    Npz(PathBuf),
    /// A folder of NumPy `.npy` files ([`read_npy_dir`]).
    Npy(PathBuf),
}

impl DataSource {
    /// Loads both splits on the CPU, unnormalized (0..1 scale).
    pub fn load(&self) -> Result<Splits> {
        match self {
            DataSource::FashionMnistMini => fashion_mnist_mini(),
            DataSource::Idx(dir) => read_idx_dir(dir),
            DataSource::Cifar10(dir) => read_cifar10_dir(dir),
            DataSource::Npz(file) => read_npz(file),
            DataSource::Npy(dir) => read_npy_dir(dir),
        }
    }

    /// The file or folder the data is read from (none for the embedded set).
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            DataSource::FashionMnistMini => None,
            DataSource::Idx(p) | DataSource::Cifar10(p) | DataSource::Npz(p) | DataSource::Npy(p) => Some(p),
        }
    }

    /// The class names where the source defines them (an IDX folder may hold MNIST digits or
    /// Fashion-MNIST clothes, so it has none).
    pub fn class_names(&self) -> Option<&'static [&'static str]> {
        match self {
            DataSource::FashionMnistMini => Some(&FASHION_MNIST_CLASSES),
            DataSource::Idx(_) | DataSource::Npz(_) | DataSource::Npy(_) => None,
            DataSource::Cifar10(_) => Some(&CIFAR10_CLASSES),
        }
    }
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSource::FashionMnistMini => f.write_str(FASHION_MNIST_MINI),
            DataSource::Idx(dir) => write!(f, "idx:{}", dir.display()),
            DataSource::Cifar10(dir) => write!(f, "cifar10:{}", dir.display()),
            DataSource::Npz(file) => write!(f, "npz:{}", file.display()),
            DataSource::Npy(dir) => write!(f, "npy:{}", dir.display()),
        }
    }
}

impl FromStr for DataSource {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let folder = |rest: &str, form: &str| {
            if rest.is_empty() {
                Err(Error::Invalid(format!("data source `{s}` names no path (expected {form})")))
            } else {
                Ok(PathBuf::from(rest))
            }
        };
        if s == FASHION_MNIST_MINI {
            Ok(DataSource::FashionMnistMini)
        } else if let Some(rest) = s.strip_prefix("idx:") {
            Ok(DataSource::Idx(folder(rest, "idx:<dir>")?))
        } else if let Some(rest) = s.strip_prefix("cifar10:") {
            Ok(DataSource::Cifar10(folder(rest, "cifar10:<dir>")?))
        } else if let Some(rest) = s.strip_prefix("npz:") {
            Ok(DataSource::Npz(folder(rest, "npz:<file>")?))
        } else if let Some(rest) = s.strip_prefix("npy:") {
            Ok(DataSource::Npy(folder(rest, "npy:<dir>")?))
        } else {
            Err(Error::Invalid(format!(
                "unknown data source `{s}` (expected {FASHION_MNIST_MINI}, idx:<dir>, cifar10:<dir>, npz:<file> or npy:<dir>)"
            )))
        }
    }
}

impl Serialize for DataSource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DataSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        for s in ["fashion-mnist-mini", "idx:data/mnist", "cifar10:/data/cifar-10-batches-bin", "idx:C:\\x y"] {
            let src: DataSource = s.parse().unwrap();
            assert_eq!(src.to_string(), s);
        }
        assert_eq!("idx:a/b".parse::<DataSource>().unwrap(), DataSource::Idx("a/b".into()));
        assert_eq!("cifar10:c".parse::<DataSource>().unwrap(), DataSource::Cifar10("c".into()));
        assert_eq!("npz:d.npz".parse::<DataSource>().unwrap(), DataSource::Npz("d.npz".into()));
        assert_eq!("npy:arrays".parse::<DataSource>().unwrap(), DataSource::Npy("arrays".into()));
        for bad in ["", "mnist", "idx:", "cifar10:", "Fashion-MNIST-mini", "cifar100:x"] {
            let err = bad.parse::<DataSource>().unwrap_err().to_string();
            assert!(err.contains(&format!("`{bad}`")), "{err}");
        }
    }

    #[test]
    fn serde_uses_the_text_form() {
        let src = DataSource::Cifar10("data/cifar".into());
        let json = serde_json::to_string(&src).unwrap();
        assert_eq!(json, "\"cifar10:data/cifar\"");
        assert_eq!(serde_json::from_str::<DataSource>(&json).unwrap(), src);
        assert!(serde_json::from_str::<DataSource>("\"mnist\"").is_err());
    }

    #[test]
    fn class_names_follow_the_source() {
        assert_eq!(DataSource::FashionMnistMini.class_names().unwrap()[9], "Ankle boot");
        assert_eq!(DataSource::Cifar10("x".into()).class_names().unwrap()[0], "airplane");
        assert!(DataSource::Idx("x".into()).class_names().is_none());
    }
}
