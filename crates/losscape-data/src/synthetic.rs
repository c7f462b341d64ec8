//! Synthetic image data sets for timing and device checks (not for science): uniform random
//! `uint8` pixels from a seeded [`SplitMix64`] stream and labels `0, 1, ..., classes-1, 0, ...`
//! (so the first K of each class are the first `K * classes` examples), written as a NumPy `.npz`
//! that the `npz:` data source reads. The same spec gives the same bytes.

use std::io::Write;
use std::path::Path;

use zip::write::FileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::error::{Error, Result};
use crate::rng::SplitMix64;

/// The size of a synthetic data set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntheticSpec {
    pub train: usize,
    pub test: usize,
    /// Image shape `[C, H, W]`.
    pub shape: [usize; 3],
    pub classes: usize,
    pub seed: u64,
}

impl SyntheticSpec {
    fn check(&self) -> Result<()> {
        if self.train == 0 || self.test == 0 {
            return Err(Error::Invalid("a synthetic data set needs at least one train and one test image".into()));
        }
        if self.shape.contains(&0) {
            return Err(Error::Invalid(format!("image shape {:?} has a zero dimension", self.shape)));
        }
        if !(2..=1000).contains(&self.classes) {
            return Err(Error::Invalid(format!("{} classes: use 2 to 1000", self.classes)));
        }
        let pixels = self.shape.iter().product::<usize>();
        if (self.train + self.test).checked_mul(pixels).is_none_or(|n| n > 1 << 34) {
            return Err(Error::Invalid("the synthetic data set would exceed 16 GiB".into()));
        }
        Ok(())
    }
}

/// Writes the data set `spec` describes to `path` (atomically): `x_train`, `y_train`, `x_test`,
/// `y_test` (`uint8` images `N x C x H x W`, `int64` labels) and `num_classes`.
pub fn write_synthetic_npz(spec: &SyntheticSpec, path: &Path) -> Result<()> {
    spec.check()?;
    let mut rng = SplitMix64::new(spec.seed);
    let [c, h, w] = spec.shape;
    let mut members = Vec::new();
    for (name, n) in [("train", spec.train), ("test", spec.test)] {
        let mut pixels = vec![0u8; n * c * h * w];
        for chunk in pixels.chunks_mut(8) {
            let bytes = rng.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        let labels: Vec<u8> = (0..n).flat_map(|i| ((i % spec.classes) as i64).to_le_bytes()).collect();
        members.push((format!("x_{name}"), npy("|u1", &[n, c, h, w], &pixels)));
        members.push((format!("y_{name}"), npy("<i8", &[n], &labels)));
    }
    members.push(("num_classes".into(), npy("<i8", &[], &(spec.classes as i64).to_le_bytes())));
    losscape_core::fsio::write_atomic_with(path, |out| {
        let mut zip = ZipWriter::new(out);
        let options = FileOptions::default().compression_method(CompressionMethod::Stored).large_file(true);
        for (name, bytes) in &members {
            zip.start_file(format!("{name}.npy"), options).map_err(std::io::Error::other)?;
            zip.write_all(bytes)?;
        }
        zip.finish().map_err(std::io::Error::other)?;
        Ok(())
    })?;
    Ok(())
}

/// A `.npy` version 1.0 file (losscape-core's encoding).
fn npy(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    losscape_core::npy::encode(descr, shape, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_npz;

    #[test]
    fn round_trips_through_the_npz_reader_and_repeats_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let spec = SyntheticSpec { train: 30, test: 7, shape: [3, 4, 5], classes: 10, seed: 3 };
        let a = dir.path().join("a.npz");
        write_synthetic_npz(&spec, &a).unwrap();
        let splits = read_npz(&a).unwrap();
        assert_eq!(splits.train.images.size(), [30, 3, 4, 5]);
        assert_eq!(splits.test.images.size(), [7, 3, 4, 5]);
        assert_eq!(splits.train.num_classes, 10);
        let labels: Vec<i64> = Vec::try_from(&splits.train.labels).unwrap();
        assert_eq!(labels[..12], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
        // uint8 pixels come back on the 0..1 scale; the first pixel is the first stream byte / 255.
        let first = splits.train.images.double_value(&[0, 0, 0, 0]);
        let expected = SplitMix64::new(3).next_u64().to_le_bytes()[0] as f64 / 255.0;
        assert!((first - expected).abs() < 1e-6, "{first} vs {expected}");
        let mean = splits.train.images.mean(tch::Kind::Double).double_value(&[]);
        assert!((mean - 0.5).abs() < 0.05, "uniform pixels average about 0.5, got {mean}");
        let b = dir.path().join("b.npz");
        write_synthetic_npz(&spec, &b).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let other = SyntheticSpec { seed: 4, ..spec.clone() };
        write_synthetic_npz(&other, &b).unwrap();
        assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    }

    #[test]
    fn refuses_empty_or_absurd_specs() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.npz");
        let ok = SyntheticSpec { train: 1, test: 1, shape: [1, 2, 2], classes: 2, seed: 0 };
        for bad in [
            SyntheticSpec { train: 0, ..ok.clone() },
            SyntheticSpec { shape: [3, 0, 32], ..ok.clone() },
            SyntheticSpec { classes: 1, ..ok.clone() },
            SyntheticSpec { train: 1 << 30, shape: [3, 32, 32], ..ok.clone() },
        ] {
            assert!(write_synthetic_npz(&bad, &p).is_err(), "{bad:?}");
        }
        assert!(!p.exists());
    }
}
