//! The IDX reader (MNIST, Fashion-MNIST, raw or gzip-compressed).
//!
//! An IDX file is a big-endian header, `00 00 <type> <ndim>` then `ndim` 32-bit sizes, followed
//! by the items. Images are `00 00 08 03` (unsigned bytes, `[N, H, W]`), labels `00 00 08 01`
//! (unsigned bytes, `[N]`). Images become float `[N, 1, H, W]` on the 0..1 scale, labels int64.
//!
//! Labels must lie in `0..10`: both MNIST and Fashion-MNIST define exactly ten classes, so a larger
//! label means a damaged file or a different data set (such as EMNIST), and accepting it would
//! silently change the number of outputs a model is built with. It is reported as an error.

use std::path::{Path, PathBuf};

use tch::{Kind, Tensor};

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::file::{bytes_to_unit_float, find_first, read_maybe_gz, require_dir, short_name};
use crate::Splits;

/// Number of classes of the IDX data sets this reader serves (MNIST, Fashion-MNIST).
pub const IDX_NUM_CLASSES: i64 = 10;

/// The magic number of an unsigned-byte IDX file with `ndim` dimensions.
fn magic(ndim: u8) -> u32 {
    u32::from_be_bytes([0, 0, 0x08, ndim])
}

/// Checks an IDX header and size and returns the dimensions and the payload.
fn parse<'a>(bytes: &'a [u8], path: &Path, ndim: u8, what: &str) -> Result<(Vec<usize>, &'a [u8])> {
    if bytes.len() < 4 {
        return Err(Error::format(path, format!("truncated file: {} byte(s), not even an IDX magic number", bytes.len())));
    }
    let found = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if found != magic(ndim) {
        return Err(Error::format(
            path,
            format!("wrong magic number 0x{found:08x}, expected 0x{:08x} ({what}: unsigned bytes, {ndim} dimension(s))", magic(ndim)),
        ));
    }
    let header = 4 + 4 * ndim as usize;
    if bytes.len() < header {
        return Err(Error::format(path, format!("truncated file: {} bytes, the IDX header needs {header}", bytes.len())));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let payload = dims.iter().try_fold(1usize, |acc, d| acc.checked_mul(*d));
    let have = bytes.len() - header;
    match payload {
        Some(need) if need == have => Ok((dims, &bytes[header..])),
        Some(need) if need > have => Err(Error::format(
            path,
            format!("truncated file: the header announces {dims:?} = {need} bytes of {what}, the file holds {have}"),
        )),
        Some(need) => Err(Error::format(
            path,
            format!("{} unexpected byte(s) after the {need} bytes of {what} the header announces ({dims:?})", have - need),
        )),
        None => Err(Error::format(path, format!("impossible {what} dimensions {dims:?}"))),
    }
}

/// Builds a data set from the contents (already decompressed) of an IDX image file and an IDX
/// label file. The paths only name the data in errors.
pub(crate) fn dataset_from_bytes(
    images: &[u8],
    images_path: &Path,
    labels: &[u8],
    labels_path: &Path,
    name: String,
) -> Result<Dataset> {
    let (idims, pixels) = parse(images, images_path, 3, "images")?;
    let (ldims, label_bytes) = parse(labels, labels_path, 1, "labels")?;
    let (n, h, w) = (idims[0], idims[1], idims[2]);
    if n > 0 && (h == 0 || w == 0) {
        return Err(Error::format(images_path, format!("images of size {h}x{w}")));
    }
    if ldims[0] != n {
        return Err(Error::format(
            images_path,
            format!("{n} images but {} holds {} labels", labels_path.display(), ldims[0]),
        ));
    }
    if let Some((i, l)) = label_bytes.iter().enumerate().find(|(_, l)| i64::from(**l) >= IDX_NUM_CLASSES) {
        return Err(Error::format(
            labels_path,
            format!("label {l} at index {i} is out of range 0..{IDX_NUM_CLASSES} (MNIST and Fashion-MNIST have 10 classes)"),
        ));
    }
    let images = bytes_to_unit_float(pixels, &[n as i64, 1, h as i64, w as i64])?;
    let labels = Tensor::f_from_data_size(label_bytes, &[n as i64], Kind::Uint8)?.f_to_kind(Kind::Int64)?;
    Dataset::new(images, labels, IDX_NUM_CLASSES, name)
}

/// Reads a pair of IDX files (images and labels, each raw or gzip-compressed) into a data set
/// named after the image file.
pub fn read_idx_pair(images: &Path, labels: &Path) -> Result<Dataset> {
    let image_bytes = read_maybe_gz(images)?;
    let label_bytes = read_maybe_gz(labels)?;
    let name = short_name(images);
    let name = name.strip_suffix(".gz").map(str::to_owned).unwrap_or(name);
    dataset_from_bytes(&image_bytes, images, &label_bytes, labels, name)
}

/// The file names accepted for one split's `what` (`images` or `labels`) with IDX tag `tag`
/// (`idx3` or `idx1`), in order of preference: the official names (`train-images-idx3-ubyte`,
/// `t10k-labels-idx1-ubyte`, ...), then `train-images.idx3-ubyte` as some mirrors spell them,
/// each raw or `.gz`, for each prefix in turn (`t10k` then `test`).
fn candidates(prefixes: &[&str], what: &str, tag: &str) -> Vec<String> {
    let mut out = Vec::new();
    for prefix in prefixes {
        for sep in ["-", "."] {
            for ext in ["", ".gz"] {
                out.push(format!("{prefix}-{what}{sep}{tag}-ubyte{ext}"));
            }
        }
    }
    out
}

/// Finds one split's image and label files in `dir`.
fn find_split(dir: &Path, prefixes: &[&str], split: &str) -> Result<(PathBuf, PathBuf)> {
    let find = |what: &str, tag: &str| {
        let names = candidates(prefixes, what, tag);
        find_first(dir, &names).ok_or_else(|| {
            Error::not_found(dir, format!("no {split} {what} file (looked for {} and similar names, raw or .gz)", names[0]))
        })
    };
    Ok((find("images", "idx3")?, find("labels", "idx1")?))
}

/// Reads the training and test splits of an MNIST-style folder: `train-images-idx3-ubyte`,
/// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each possibly
/// with `.gz`, and `test-` accepted for `t10k-`. The splits are named `<folder>/train` and
/// `<folder>/test`.
pub fn read_idx_dir(dir: &Path) -> Result<Splits> {
    require_dir(dir)?;
    let base = short_name(dir);
    let (ti, tl) = find_split(dir, &["train"], "training")?;
    let (vi, vl) = find_split(dir, &["t10k", "test"], "test")?;
    let train = dataset_from_bytes(&read_maybe_gz(&ti)?, &ti, &read_maybe_gz(&tl)?, &tl, format!("{base}/train"))?;
    let test = dataset_from_bytes(&read_maybe_gz(&vi)?, &vi, &read_maybe_gz(&vl)?, &vl, format!("{base}/test"))?;
    Ok(Splits { train, test })
}

/// Encodes unsigned-byte data as an IDX file (header plus items): the inverse of the reader,
/// for tests and tools that write small data sets.
pub fn encode_idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_names_cover_the_usual_spellings() {
        let c = candidates(&["t10k", "test"], "images", "idx3");
        for want in [
            "t10k-images-idx3-ubyte",
            "t10k-images-idx3-ubyte.gz",
            "t10k-images.idx3-ubyte",
            "test-images-idx3-ubyte.gz",
        ] {
            assert!(c.iter().any(|n| n == want), "{want} not in {c:?}");
        }
    }

    #[test]
    fn parses_header_and_rejects_bad_sizes() {
        let p = Path::new("f");
        let ok = encode_idx(&[2, 1, 3], &[1, 2, 3, 4, 5, 6]);
        let (dims, data) = parse(&ok, p, 3, "images").unwrap();
        assert_eq!((dims, data), (vec![2, 1, 3], &[1u8, 2, 3, 4, 5, 6][..]));
        let e = parse(&ok[..ok.len() - 1], p, 3, "images").unwrap_err().to_string();
        assert!(e.contains("truncated file") && e.contains("holds 5"), "{e}");
        let mut long = ok.clone();
        long.push(0);
        assert!(parse(&long, p, 3, "images").unwrap_err().to_string().contains("1 unexpected byte"));
        assert!(parse(&ok[..9], p, 3, "images").unwrap_err().to_string().contains("header needs 16"));
        assert!(parse(&ok[..2], p, 3, "images").unwrap_err().to_string().contains("truncated file"));
        let e = parse(&ok, p, 1, "labels").unwrap_err().to_string();
        assert!(e.contains("wrong magic number 0x00000803, expected 0x00000801"), "{e}");
        let huge = encode_idx(&[u32::MAX, u32::MAX, u32::MAX], &[]);
        assert!(parse(&huge, p, 3, "images").is_err());
    }
}
