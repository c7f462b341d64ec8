//! Data sets given as NumPy arrays: one `.npz` file ([`read_npz`]) or a folder of `.npy` files
//! ([`read_npy_dir`]) holding `x_train`, `y_train`, `x_test`, `y_test` and optionally `mean` and
//! `std` (per-channel normalization statistics on the 0..1 scale) and `num_classes` (a scalar).
//!
//! Images are `N x C x H x W` or `N x H x W x C` (taken as channels-last when dim 1 is larger than
//! the last dim, so `N x 32 x 32 x 3` and `N x 3 x 32 x 32` both work; ties read as channels-first)
//! or `N x H x W` (one channel); `uint8` images are divided by 255, floating-point images are taken
//! as they are (on the 0..1 scale if `mean`/`std` are given). For users' own (TorchScript) models
//! the inputs may also be floating-point features `N x D` (normalized per feature by `mean`/`std`
//! of length D) or integer token ids `N x T` (any integer dtype, stored as int64 and fed to the
//! model as they are; no `mean`/`std`). Labels are integers in
//! `0..num_classes`; `num_classes` defaults to the largest label plus one. Floating-point labels
//! `[N]` or `[N, K]` are regression targets instead (for the `mse` loss; `num_classes` is then `K`,
//! the number of outputs, and accuracy is undefined). When `mean` and `std`
//! are present both splits come back normalized with them (and record it), so evaluation applies
//! them exactly once. Arrays must be C-ordered and little-endian (NumPy's defaults).
//!
//! The `.npy` format is parsed here ([`parse_npy`]): the data must hold exactly the bytes the
//! header's shape and dtype promise, and every `.npz` member is read whole and checked against its
//! CRC, so a truncated or lying file is refused instead of read past its end.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use tch::{Kind, Tensor};

use crate::dataset::{Dataset, Normalization};
use crate::error::{Error, Result};
use crate::file::{require_dir, short_name};
use crate::Splits;

/// The array names a data set needs.
const REQUIRED: [&str; 4] = ["x_train", "y_train", "x_test", "y_test"];

/// Reads a data set from an `.npz` archive (as `numpy.savez` or `numpy.savez_compressed` write).
pub fn read_npz(path: &Path) -> Result<Splits> {
    if !path.is_file() {
        return Err(Error::not_found(path, "no such .npz file"));
    }
    let arrays = read_npz_arrays(path)?;
    splits_from_arrays(arrays, path, &short_name(path))
}

/// The arrays of an `.npz` archive by name (without `.npy`), each member read whole (checked
/// against its CRC) and parsed with [`parse_npy`].
pub fn read_npz_arrays(path: &Path) -> Result<BTreeMap<String, Tensor>> {
    let bad = |message: String| Error::format(path, message);
    let file = std::fs::File::open(path).map_err(|e| Error::format(path, format!("cannot open: {e}")))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| bad(format!("not a readable .npz file: {e}")))?;
    let mut arrays = BTreeMap::new();
    for index in 0..archive.len() {
        let mut member = archive.by_index(index).map_err(|e| bad(format!("not a readable .npz file: {e}")))?;
        let name = member.name().to_string();
        if member.is_dir() {
            continue;
        }
        let mut bytes = Vec::with_capacity(member.size().min(1 << 30) as usize);
        member
            .read_to_end(&mut bytes)
            .map_err(|e| bad(format!("member {name} is damaged or truncated: {e}")))?;
        let key = name.trim_end_matches(".npy").to_string();
        let tensor = parse_npy(&bytes).map_err(|message| bad(format!("member {name}: {message}")))?;
        arrays.insert(key, tensor);
    }
    Ok(arrays)
}

/// Reads one `.npy` file (see [`parse_npy`]).
pub fn read_npy(path: &Path) -> Result<Tensor> {
    let bytes = std::fs::read(path).map_err(|e| Error::format(path, format!("cannot read: {e}")))?;
    parse_npy(&bytes).map_err(|message| Error::format(path, message))
}

/// Parses the bytes of a `.npy` file (format versions 1 to 3) into a CPU tensor. Supported dtypes:
/// bool, u8, i8, i16, i32, i64, f16, f32, f64, little-endian, C order. The data must hold exactly
/// the bytes that the header's shape and dtype give; the error says what is wrong in words.
pub fn parse_npy(bytes: &[u8]) -> std::result::Result<Tensor, String> {
    const MAGIC: &[u8] = b"\x93NUMPY";
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a .npy array (no NUMPY signature)".into());
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(format!(".npy format version {v} is not supported")),
    };
    let header = bytes
        .get(start..start.saturating_add(header_len))
        .ok_or_else(|| format!("truncated .npy header ({} bytes in all, the header needs {})", bytes.len(), start + header_len))?;
    let header = std::str::from_utf8(header).map_err(|_| "the .npy header is not text".to_string())?;
    let descr = dict_value(header, "descr").ok_or("the .npy header has no 'descr'")?;
    let descr = descr.trim().trim_matches(|c| c == '\'' || c == '"');
    let fortran = dict_value(header, "fortran_order").ok_or("the .npy header has no 'fortran_order'")?;
    if fortran.trim() != "False" {
        return Err("Fortran-ordered arrays are not supported (save a C-ordered copy)".into());
    }
    let shape_text = dict_value(header, "shape").ok_or("the .npy header has no 'shape'")?;
    let shape_text = shape_text.trim();
    let inner = shape_text
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| format!("bad shape {shape_text} in the .npy header"))?;
    let mut shape = Vec::new();
    for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let n: i64 = part.trim_end_matches('L').parse().map_err(|_| format!("bad shape {shape_text} in the .npy header"))?;
        if n < 0 {
            return Err(format!("bad shape {shape_text} in the .npy header"));
        }
        shape.push(n);
    }
    let (kind, size) = match descr {
        "|b1" => (Kind::Bool, 1),
        "|u1" | "<u1" => (Kind::Uint8, 1),
        "|i1" | "<i1" => (Kind::Int8, 1),
        "<i2" => (Kind::Int16, 2),
        "<i4" => (Kind::Int, 4),
        "<i8" => (Kind::Int64, 8),
        "<f2" => (Kind::Half, 2),
        "<f4" => (Kind::Float, 4),
        "<f8" => (Kind::Double, 8),
        d if d.starts_with('>') => return Err(format!("big-endian arrays ({d}) are not supported")),
        d => return Err(format!("dtype {d} is not supported (use bool, integers, float16/32/64)")),
    };
    let numel = shape.iter().try_fold(1u64, |acc, &n| acc.checked_mul(n as u64));
    let needed = numel.and_then(|n| n.checked_mul(size)).filter(|&n| n <= usize::MAX as u64);
    let data = &bytes[start + header_len..];
    match needed {
        Some(n) if n as usize == data.len() => {}
        Some(n) => {
            return Err(format!(
                "its header says shape {shape:?} of {descr} ({n} bytes) but it holds {} bytes of data",
                data.len()
            ))
        }
        None => return Err(format!("its header's shape {shape:?} is too large")),
    }
    Tensor::f_from_data_size(data, &shape, kind).map_err(|e| format!("libtorch: {e}"))
}

/// The text of the value of `key` in a `.npy` header (a Python dict literal), up to the comma or
/// brace that ends it (a tuple's commas included).
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header.find(&format!("'{key}'")).or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = &header[at + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?;
    let mut depth = 0i32;
    for (i, c) in rest.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' | '}' if depth == 0 => return Some(&rest[..i]),
            _ => {}
        }
    }
    None
}

/// Reads a data set from a folder of `.npy` files named after the arrays (`x_train.npy`, ...).
pub fn read_npy_dir(dir: &Path) -> Result<Splits> {
    require_dir(dir)?;
    let mut arrays = BTreeMap::new();
    for name in REQUIRED.iter().chain(&["mean", "std", "num_classes"]) {
        let file = dir.join(format!("{name}.npy"));
        if file.is_file() {
            arrays.insert(name.to_string(), read_npy(&file)?);
        }
    }
    splits_from_arrays(arrays, dir, &short_name(dir))
}

/// Builds both splits from named arrays (see the module docs); `origin` names the file or folder
/// in errors and `name` prefixes the splits' names.
pub fn splits_from_arrays(mut arrays: BTreeMap<String, Tensor>, origin: &Path, name: &str) -> Result<Splits> {
    let missing: Vec<&str> = REQUIRED.iter().copied().filter(|k| !arrays.contains_key(*k)).collect();
    if !missing.is_empty() {
        let present: Vec<&str> = arrays.keys().map(String::as_str).collect();
        return Err(Error::format(
            origin,
            format!("missing array(s) {} (it has: {})", missing.join(", "), present.join(", ")),
        ));
    }
    let mut take = |key: &str| arrays.remove(key).expect("checked above");
    let (x_train, y_train, x_test, y_test) = (take("x_train"), take("y_train"), take("x_test"), take("y_test"));
    let x_train = inputs(x_train, origin, "x_train")?;
    let x_test = inputs(x_test, origin, "x_test")?;
    if x_train.size()[1..] != x_test.size()[1..] || x_train.kind() != x_test.kind() {
        return Err(Error::format(
            origin,
            format!(
                "x_train examples are {:?} {:?} but x_test examples are {:?} {:?}",
                x_train.kind(),
                &x_train.size()[1..],
                x_test.kind(),
                &x_test.size()[1..]
            ),
        ));
    }
    if is_float(y_train.kind()) || is_float(y_test.kind()) {
        let train = regression(x_train, y_train, origin, "train", name)?;
        let test = regression(x_test, y_test, origin, "test", name)?;
        if train.num_classes != test.num_classes {
            return Err(Error::format(origin, "y_train and y_test hold different numbers of targets per example"));
        }
        return normalize(Splits { train, test }, &mut arrays, origin);
    }
    let y_train = labels(y_train, origin, "y_train")?;
    let y_test = labels(y_test, origin, "y_test")?;
    let num_classes = match arrays.remove("num_classes") {
        Some(t) if t.numel() == 1 && !is_float(t.kind()) => t.f_reshape([1])?.f_int64_value(&[0])?,
        Some(t) => return Err(Error::format(origin, format!("num_classes must be one integer, got {:?} {:?}", t.kind(), t.size()))),
        None => {
            let max = |t: &Tensor| -> Result<i64> { Ok(if t.numel() == 0 { 0 } else { t.f_max()?.int64_value(&[]) }) };
            max(&y_train)?.max(max(&y_test)?) + 1
        }
    };
    let train = Dataset::of_examples(x_train, y_train, num_classes, format!("{name}/train"))?;
    let test = Dataset::of_examples(x_test, y_test, num_classes, format!("{name}/test"))?;
    normalize(Splits { train, test }, &mut arrays, origin)
}

/// Both splits normalized with the arrays `mean` and `std`, when present.
fn normalize(splits: Splits, arrays: &mut BTreeMap<String, Tensor>, origin: &Path) -> Result<Splits> {
    match (arrays.remove("mean"), arrays.remove("std")) {
        (None, None) => Ok(splits),
        (Some(mean), Some(std)) => {
            let norm = Normalization { mean: values(&mean)?, std: values(&std)? };
            splits.normalized(&norm).map_err(|e| Error::format(origin, format!("mean/std: {e}")))
        }
        _ => Err(Error::format(origin, "give both mean and std, or neither")),
    }
}

/// Whether a kind is floating point.
fn is_float(kind: Kind) -> bool {
    matches!(kind, Kind::Half | Kind::BFloat16 | Kind::Float | Kind::Double)
}

/// The values of a small 1-D array as f64.
fn values(t: &Tensor) -> Result<Vec<f64>> {
    let flat = t.f_to_kind(Kind::Double)?.f_flatten(0, -1)?;
    Ok(Vec::<f64>::try_from(&flat)?)
}

/// The inputs: images (see [`images`]), float features `[N, D]` as f32, or integer token ids
/// `[N, T]` as int64 (not negative).
fn inputs(t: Tensor, origin: &Path, key: &str) -> Result<Tensor> {
    match (t.kind(), t.dim()) {
        (k, 2) if is_float(k) => Ok(t.f_to_kind(Kind::Float)?),
        (Kind::Bool, _) => Err(Error::format(origin, format!("{key} is Bool: inputs must be numbers"))),
        (k, 2) if !is_float(k) => {
            let ids = t.f_to_kind(Kind::Int64)?;
            if ids.numel() > 0 && ids.f_min()?.int64_value(&[]) < 0 {
                return Err(Error::format(origin, format!("{key} holds negative values: integer N x T inputs are token ids (0 or more)")));
            }
            Ok(ids)
        }
        _ => images(t, origin, key),
    }
}

/// Images as float `[N, C, H, W]`: uint8 divided by 255, floats as they are, channels-last moved
/// to channels-first.
fn images(t: Tensor, origin: &Path, key: &str) -> Result<Tensor> {
    let t = match t.kind() {
        Kind::Uint8 => t.f_to_kind(Kind::Float)?.f_div_scalar(255.0)?,
        k if is_float(k) => t.f_to_kind(Kind::Float)?,
        k => {
            return Err(Error::format(
                origin,
                format!("{key} is {k:?} {:?}: images must be uint8 or floating point (integer inputs must be N x T token ids)", t.size()),
            ))
        }
    };
    let s = t.size();
    match s.len() {
        3 => Ok(t.f_unsqueeze(1)?),
        4 if s[1] > s[3] => Ok(t.f_permute([0, 3, 1, 2])?.f_contiguous()?),
        4 => Ok(t),
        _ => Err(Error::format(
            origin,
            format!("{key} has shape {s:?}: inputs must be images N x C x H x W, N x H x W x C or N x H x W, features N x D, or token ids N x T"),
        )),
    }
}

/// A split with regression targets: float labels `[N]` or `[N, K]` (stored as f32; K outputs).
fn regression(images: Tensor, targets: Tensor, origin: &Path, split: &str, name: &str) -> Result<Dataset> {
    let (is, ts) = (images.size(), targets.size());
    if !is_float(targets.kind()) || !(1..=2).contains(&ts.len()) || ts[0] != is[0] {
        return Err(Error::format(
            origin,
            format!(
                "y_{split} ({:?} {ts:?}) must be float regression targets [N] or [N, K] for the {} images, like the other split's",
                targets.kind(),
                is[0]
            ),
        ));
    }
    Dataset::of_examples(images, targets, 0, format!("{name}/{split}"))
}

/// Labels as int64 `[N]`.
fn labels(t: Tensor, origin: &Path, key: &str) -> Result<Tensor> {
    if is_float(t.kind()) || t.kind() == Kind::Bool {
        return Err(Error::format(
            origin,
            format!("{key} is {:?}: labels must be integers (class indices)", t.kind()),
        ));
    }
    if t.dim() != 1 {
        return Err(Error::format(origin, format!("{key} has shape {:?}: labels must be one-dimensional", t.size())));
    }
    Ok(t.f_to_kind(Kind::Int64)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn write_npz(dir: &Path, arrays: &[(&str, Tensor)]) -> std::path::PathBuf {
        let path = dir.join("set.npz");
        Tensor::write_npz(arrays, &path).unwrap();
        path
    }

    #[test]
    fn channels_last_uint8_images_with_statistics() {
        let dir = tempfile::tempdir().unwrap();
        let x = Tensor::arange(2 * 4 * 4 * 3, (Kind::Int64, Device::Cpu)).to_kind(Kind::Uint8).view([2, 4, 4, 3]);
        let arrays = [
            ("x_train", x.shallow_clone()),
            ("y_train", Tensor::from_slice(&[0i32, 2])),
            ("x_test", x.narrow(0, 0, 1)),
            ("y_test", Tensor::from_slice(&[1i64])),
            ("mean", Tensor::from_slice(&[0.5f32, 0.25, 0.0])),
            ("std", Tensor::from_slice(&[0.5f64, 1.0, 2.0])),
        ];
        let splits = read_npz(&write_npz(dir.path(), &arrays)).unwrap();
        assert_eq!(splits.train.images.size(), [2, 3, 4, 4]);
        assert_eq!((splits.train.num_classes, splits.test.len()), (3, 1));
        assert_eq!(splits.train.normalization.as_ref().unwrap().std, [0.5, 1.0, 2.0]);
        // pixel (h=1, w=2) of image 0, channel 1 is x[0, 1, 2, 1] = (1*4 + 2)*3 + 1 = 19.
        let v = splits.train.images.double_value(&[0, 1, 1, 2]);
        assert!((v - (19.0 / 255.0 - 0.25)).abs() < 1e-6, "{v}");
        assert!(splits.train.name.ends_with("/train"));
    }

    #[test]
    fn channels_first_floats_and_folders_of_npy_files() {
        let dir = tempfile::tempdir().unwrap();
        let x = Tensor::ones([3, 1, 5, 5], (Kind::Double, Device::Cpu));
        for (name, t) in [
            ("x_train", x.shallow_clone()),
            ("y_train", Tensor::from_slice(&[0i64, 1, 1])),
            ("x_test", x.shallow_clone()),
            ("y_test", Tensor::from_slice(&[0i64, 0, 1])),
            ("num_classes", Tensor::from_slice(&[4i64])),
        ] {
            t.write_npy(dir.path().join(format!("{name}.npy"))).unwrap();
        }
        let splits = read_npy_dir(dir.path()).unwrap();
        assert_eq!(splits.test.images.size(), [3, 1, 5, 5]);
        assert_eq!((splits.test.num_classes, splits.train.images.kind()), (4, Kind::Float));
        assert!(splits.train.normalization.is_none());
    }

    #[test]
    fn float_labels_are_regression_targets() {
        let dir = tempfile::tempdir().unwrap();
        let x = Tensor::zeros([3, 2, 4, 4], (Kind::Float, Device::Cpu));
        let arrays = [
            ("x_train", x.shallow_clone()),
            ("y_train", Tensor::from_slice(&[0.5f64, 1.0, -2.0, 3.0, 0.0, 1.5]).view([3, 2])),
            ("x_test", x.shallow_clone()),
            ("y_test", Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).view([3, 2])),
            ("mean", Tensor::from_slice(&[0.5f32, 0.5])),
            ("std", Tensor::from_slice(&[0.25f32, 0.25])),
        ];
        let splits = read_npz(&write_npz(dir.path(), &arrays)).unwrap();
        assert_eq!((splits.train.num_classes, splits.train.labels.kind()), (2, Kind::Float));
        assert_eq!(splits.test.labels.double_value(&[2, 1]), 6.0);
        assert_eq!(splits.train.images.double_value(&[0, 0, 0, 0]), -2.0);
        let one = [
            ("x_train", x.shallow_clone()),
            ("y_train", Tensor::from_slice(&[0.5f32, 1.0, 2.0])),
            ("x_test", x.shallow_clone()),
            ("y_test", Tensor::from_slice(&[0.5f32, 1.0])),
        ];
        let err = read_npz(&write_npz(dir.path(), &one)).unwrap_err().to_string();
        assert!(err.contains("y_test") && err.contains("for the 3 images"), "{err}");
    }

    #[test]
    fn features_and_token_ids() {
        let dir = tempfile::tempdir().unwrap();
        // N x D float64 features with int64 labels and per-feature statistics.
        let x = Tensor::from_slice(&[0.0f64, 10.0, 1.0, 20.0, 2.0, 30.0]).view([3, 2]);
        let arrays = [
            ("x_train", x.shallow_clone()),
            ("y_train", Tensor::from_slice(&[0i64, 1, 2])),
            ("x_test", x.narrow(0, 0, 2)),
            ("y_test", Tensor::from_slice(&[2i64, 0])),
            ("mean", Tensor::from_slice(&[1.0f32, 20.0])),
            ("std", Tensor::from_slice(&[0.5f32, 10.0])),
        ];
        let splits = read_npz(&write_npz(dir.path(), &arrays)).unwrap();
        assert_eq!((splits.train.input_kind(), splits.train.example_shape()), (crate::InputKind::Features, vec![2]));
        assert_eq!((splits.train.images.kind(), splits.train.num_classes), (Kind::Float, 3));
        assert_eq!(splits.train.images.double_value(&[2, 0]), 2.0);
        assert_eq!(splits.train.images.double_value(&[0, 1]), -1.0);
        // N x T int32 token ids with float regression targets.
        let ids = Tensor::from_slice(&[1i32, 2, 3, 0, 0, 7]).view([2, 3]);
        let arrays = [
            ("x_train", ids.shallow_clone()),
            ("y_train", Tensor::from_slice(&[0.5f32, 1.5])),
            ("x_test", ids.shallow_clone()),
            ("y_test", Tensor::from_slice(&[0.5f32, 1.5])),
        ];
        let splits = read_npz(&write_npz(dir.path(), &arrays)).unwrap();
        assert_eq!((splits.test.input_kind(), splits.test.images.kind()), (crate::InputKind::Tokens, Kind::Int64));
        assert_eq!(Vec::<i64>::try_from(&splits.test.images.flatten(0, -1)).unwrap(), [1, 2, 3, 0, 0, 7]);
        assert_eq!((splits.test.num_classes, splits.test.labels.double_value(&[1])), (1, 1.5));
        // Token ids with statistics, negative ids, and splits of different shapes are refused.
        let with_stats = [
            ("x_train", ids.shallow_clone()),
            ("y_train", Tensor::from_slice(&[0i64, 1])),
            ("x_test", ids.shallow_clone()),
            ("y_test", Tensor::from_slice(&[0i64, 1])),
            ("mean", Tensor::from_slice(&[0.0f32, 0.0, 0.0])),
            ("std", Tensor::from_slice(&[1.0f32, 1.0, 1.0])),
        ];
        let err = read_npz(&write_npz(dir.path(), &with_stats)).unwrap_err().to_string();
        assert!(err.contains("token ids cannot be normalized"), "{err}");
        let negative = [
            ("x_train", Tensor::from_slice(&[1i64, -2]).view([1, 2])),
            ("y_train", Tensor::from_slice(&[0i64])),
            ("x_test", Tensor::from_slice(&[1i64, 2]).view([1, 2])),
            ("y_test", Tensor::from_slice(&[0i64])),
        ];
        let err = read_npz(&write_npz(dir.path(), &negative)).unwrap_err().to_string();
        assert!(err.contains("x_train holds negative values"), "{err}");
        let mixed = [
            ("x_train", x.to_kind(Kind::Float)),
            ("y_train", Tensor::from_slice(&[0i64, 1, 2])),
            ("x_test", Tensor::from_slice(&[1i64, 2]).view([1, 2])),
            ("y_test", Tensor::from_slice(&[0i64])),
        ];
        let err = read_npz(&write_npz(dir.path(), &mixed)).unwrap_err().to_string();
        assert!(err.contains("x_train examples are Float [2] but x_test examples are Int64 [2]"), "{err}");
    }

    #[test]
    fn bad_arrays_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let x = Tensor::zeros([2, 1, 3, 3], (Kind::Float, Device::Cpu));
        let y = Tensor::from_slice(&[0i64, 1]);
        let err = read_npz(&write_npz(dir.path(), &[("x_train", x.shallow_clone()), ("y_train", y.shallow_clone())]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing array(s) x_test, y_test") && err.contains("x_train"), "{err}");
        let float_labels = [
            ("x_train", x.shallow_clone()),
            ("y_train", Tensor::from_slice(&[0.5f32, 1.0])),
            ("x_test", x.shallow_clone()),
            ("y_test", y.shallow_clone()),
        ];
        let err = read_npz(&write_npz(dir.path(), &float_labels)).unwrap_err().to_string();
        assert!(err.contains("y_test (Int64 [2]) must be float regression targets"), "{err}");
        let only_mean = [
            ("x_train", x.shallow_clone()),
            ("y_train", y.shallow_clone()),
            ("x_test", x.shallow_clone()),
            ("y_test", y.shallow_clone()),
            ("mean", Tensor::from_slice(&[0.5f32])),
        ];
        let err = read_npz(&write_npz(dir.path(), &only_mean)).unwrap_err().to_string();
        assert!(err.contains("both mean and std"), "{err}");
        assert!(read_npz(&dir.path().join("none.npz")).unwrap_err().to_string().contains("no such"));
    }
}
