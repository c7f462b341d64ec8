//! The CIFAR-10 binary reader.
//!
//! A CIFAR-10 binary file is a sequence of 3,073-byte records: one label byte (0..9) followed by
//! 3,072 pixel bytes, the red, green and blue 32x32 planes in turn (channel-major, rows top to
//! bottom). The official distribution's folder `cifar-10-batches-bin` holds `data_batch_1.bin` ..
//! `data_batch_5.bin` (10,000 training images each) and `test_batch.bin`. Images become float
//! `[N, 3, 32, 32]` on the 0..1 scale. Files may also be gzip-compressed (detected by content).

use std::path::{Path, PathBuf};

use tch::Tensor;

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::file::{bytes_to_unit_float, read_maybe_gz, require_dir, short_name};
use crate::Splits;

/// Bytes of one record: one label byte plus 3 x 32 x 32 pixel bytes.
pub const CIFAR_RECORD_BYTES: usize = 1 + CIFAR_PIXEL_BYTES;
const CIFAR_PIXEL_BYTES: usize = 3 * 32 * 32;
/// Number of CIFAR-10 classes.
pub const CIFAR10_NUM_CLASSES: i64 = 10;
/// The CIFAR-10 class names, by label.
pub const CIFAR10_CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];
/// The training files of the official distribution, in order.
pub const CIFAR10_TRAIN_FILES: [&str; 5] =
    ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
/// The test file of the official distribution.
pub const CIFAR10_TEST_FILE: &str = "test_batch.bin";
/// The folder name inside the official archive.
const ARCHIVE_FOLDER: &str = "cifar-10-batches-bin";

/// Checks the records of one file and returns their labels.
fn check_records(bytes: &[u8], path: &Path) -> Result<Vec<i64>> {
    if bytes.is_empty() {
        return Err(Error::format(path, "empty file: no CIFAR-10 records"));
    }
    if bytes.len() % CIFAR_RECORD_BYTES != 0 {
        return Err(Error::format(
            path,
            format!(
                "size {} bytes is not a multiple of {CIFAR_RECORD_BYTES} (1 label byte + 3072 pixel bytes per CIFAR-10 record): truncated or not a CIFAR-10 binary file",
                bytes.len()
            ),
        ));
    }
    bytes
        .chunks_exact(CIFAR_RECORD_BYTES)
        .enumerate()
        .map(|(i, record)| {
            let label = i64::from(record[0]);
            if label < CIFAR10_NUM_CLASSES {
                Ok(label)
            } else {
                Err(Error::format(
                    path,
                    format!("label {label} of record {i} is out of range 0..{CIFAR10_NUM_CLASSES}"),
                ))
            }
        })
        .collect()
}

/// Builds a data set from the concatenated, already checked records.
fn dataset_from_records(records: &[u8], labels: Vec<i64>, name: String) -> Result<Dataset> {
    let n = labels.len() as i64;
    let images = bytes_to_unit_float(records, &[n, CIFAR_RECORD_BYTES as i64])?
        .f_narrow(1, 1, CIFAR_PIXEL_BYTES as i64)?
        .f_reshape([n, 3, 32, 32])?;
    Dataset::new(images, Tensor::f_from_slice(&labels)?, CIFAR10_NUM_CLASSES, name)
}

/// Reads and checks the records of `paths`, concatenated in order, into one data set.
fn read_files(paths: &[PathBuf], name: String) -> Result<Dataset> {
    let mut records = Vec::new();
    let mut labels = Vec::new();
    for path in paths {
        let bytes = read_maybe_gz(path)?;
        labels.extend(check_records(&bytes, path)?);
        if records.is_empty() {
            records = bytes;
        } else {
            records.extend_from_slice(&bytes);
        }
    }
    dataset_from_records(&records, labels, name)
}

/// Reads any CIFAR-10 format file (size a multiple of 3,073 bytes) into a data set named after
/// the file.
pub fn read_cifar_file(path: &Path) -> Result<Dataset> {
    read_files(&[path.to_path_buf()], short_name(path))
}

/// Reads the official CIFAR-10 binary folder: `data_batch_1.bin` .. `data_batch_5.bin` become
/// the training split (50,000 images), `test_batch.bin` the test split (10,000). `dir` may be the
/// `cifar-10-batches-bin` folder itself or the folder the archive was unpacked in. The splits are
/// named `cifar10/train` and `cifar10/test`.
pub fn read_cifar10_dir(dir: &Path) -> Result<Splits> {
    require_dir(dir)?;
    let nested = dir.join(ARCHIVE_FOLDER);
    let dir = if !dir.join(CIFAR10_TRAIN_FILES[0]).exists() && nested.is_dir() { nested } else { dir.to_path_buf() };
    let need = |name: &str| {
        let path = dir.join(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(Error::not_found(
                path,
                "not found (a CIFAR-10 binary folder holds data_batch_1.bin .. data_batch_5.bin and test_batch.bin)",
            ))
        }
    };
    let train = CIFAR10_TRAIN_FILES.iter().map(|n| need(n)).collect::<Result<Vec<_>>>()?;
    let test = need(CIFAR10_TEST_FILE)?;
    Ok(Splits {
        train: read_files(&train, "cifar10/train".into())?,
        test: read_files(&[test], "cifar10/test".into())?,
    })
}

/// Encodes images (`[N, 3, 32, 32]` bytes, channel-major) and labels as CIFAR-10 records: the
/// inverse of the reader, for tests and tools that write small data sets.
pub fn encode_cifar(pixels: &[u8], labels: &[u8]) -> Result<Vec<u8>> {
    if pixels.len() != labels.len() * CIFAR_PIXEL_BYTES {
        return Err(Error::Invalid(format!(
            "{} pixel bytes for {} labels, expected {} per image",
            pixels.len(),
            labels.len(),
            CIFAR_PIXEL_BYTES
        )));
    }
    let mut out = Vec::with_capacity(labels.len() * CIFAR_RECORD_BYTES);
    for (label, image) in labels.iter().zip(pixels.chunks_exact(CIFAR_PIXEL_BYTES)) {
        out.push(*label);
        out.extend_from_slice(image);
    }
    Ok(out)
}
