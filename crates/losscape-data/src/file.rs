//! Reading a data file whole, decompressing it when it is gzip (detected by its magic bytes, not
//! its name), and turning raw bytes into image tensors on the 0..1 scale.

use std::borrow::Cow;
use std::io::Read;
use std::path::{Path, PathBuf};

use tch::{Kind, Tensor};

use crate::error::{Error, Result};

/// The first two bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads `path` whole; a gzip file (by magic bytes) is decompressed.
pub(crate) fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    if path.is_dir() {
        return Err(Error::format(path, "is a folder, expected a file"));
    }
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::not_found(path, "no such file"),
        _ => Error::io(path, e),
    })?;
    Ok(decode_maybe_gz(&bytes, path)?.into_owned())
}

/// `bytes` as they are, or decompressed if they start with the gzip magic bytes. `path` only
/// names the data in errors.
pub(crate) fn decode_maybe_gz<'a>(bytes: &'a [u8], path: &Path) -> Result<Cow<'a, [u8]>> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| Error::format(path, format!("truncated or corrupt gzip data ({e})")))?;
    Ok(Cow::Owned(out))
}

/// Unsigned bytes of shape `size` as a float tensor on the 0..1 scale (divided by 255).
pub(crate) fn bytes_to_unit_float(bytes: &[u8], size: &[i64]) -> Result<Tensor> {
    Ok(Tensor::f_from_data_size(bytes, size, Kind::Uint8)?
        .f_to_kind(Kind::Float)?
        .f_div_scalar(255.0)?)
}

/// The last component of `path` as text (for data set names), or the whole path.
pub(crate) fn short_name(path: &Path) -> String {
    path.file_name().unwrap_or(path.as_os_str()).to_string_lossy().into_owned()
}

/// The first of `names` that exists as a file in `dir`.
pub(crate) fn find_first(dir: &Path, names: &[String]) -> Option<PathBuf> {
    names.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

/// Fails with [`Error::NotFound`] unless `dir` is a folder.
pub(crate) fn require_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        Ok(())
    } else if dir.exists() {
        Err(Error::format(dir, "is a file, expected a folder"))
    } else {
        Err(Error::not_found(dir, "no such folder"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_is_detected_by_content() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"hello").unwrap();
        let gz = enc.finish().unwrap();
        let p = Path::new("x.bin");
        assert_eq!(&*decode_maybe_gz(&gz, p).unwrap(), b"hello");
        assert_eq!(&*decode_maybe_gz(b"hello", p).unwrap(), b"hello");
        let err = decode_maybe_gz(&gz[..gz.len() - 6], p).unwrap_err().to_string();
        assert!(err.starts_with("x.bin: truncated or corrupt gzip"), "{err}");
    }
}
