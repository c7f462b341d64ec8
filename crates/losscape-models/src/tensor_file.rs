//! The one reader of safetensors headers ([`read_header`]: the metadata and where each tensor
//! lies, checked against the file), and ranged reads on top of it ([`TensorFile`]): the header is
//! parsed once, then any element range of any tensor is read with one seek and one read. This is
//! what bounds the memory of the streaming PCA (losscape-trajectory): a pass over `n` checkpoints
//! holds `n` slices of one tensor at a time, never whole checkpoints. Checkpoints read their
//! metadata through the same parser.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tch::{Kind, Tensor};


use crate::error::{Error, Result};

/// Largest header accepted (safetensors' own limit is 100 MB).
pub const MAX_HEADER: u64 = 100_000_000;

/// Where one tensor lies in its file.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorEntry {
    /// The stored element kind.
    pub kind: Kind,
    /// The stored shape.
    pub shape: Vec<i64>,
    /// Number of elements.
    pub numel: usize,
    /// Byte offset of the first element from the start of the file.
    offset: u64,
}

/// A safetensors file opened for ranged reads: its header (tensor kinds, shapes and places) is in
/// memory, its data is read on demand.
#[derive(Clone, Debug)]
pub struct TensorFile {
    path: PathBuf,
    tensors: BTreeMap<String, TensorEntry>,
}

#[derive(Deserialize)]
struct RawEntry {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: [u64; 2],
}

/// A safetensors header as read and checked by [`read_header`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Header {
    /// The `__metadata__` map (empty when the file has none).
    pub metadata: BTreeMap<String, String>,
    /// Where each tensor lies, by name.
    pub tensors: BTreeMap<String, TensorEntry>,
}

/// Reads and checks the header of the safetensors file `path` (reading the header only): its
/// length fits the file, it is JSON, every tensor's dtype is known, its byte length matches its
/// shape, and its data lies inside the file.
pub fn read_header(path: &Path) -> Result<Header> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut prefix = [0u8; 8];
    file.read_exact(&mut prefix)
        .map_err(|_| Error::format(path, "not a safetensors file (shorter than its 8-byte header length)"))?;
    let header_len = u64::from_le_bytes(prefix);
    if header_len > MAX_HEADER || 8 + header_len > file_len {
        return Err(Error::format(
            path,
            format!("not a safetensors file (header length {header_len} is implausible: it does not fit a file of {file_len} bytes)"),
        ));
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header).map_err(|e| Error::io(path, e))?;
    let mut raw: BTreeMap<String, serde_json::Value> = serde_json::from_slice(&header)
        .map_err(|e| Error::format(path, format!("not a safetensors file (bad header JSON: {e})")))?;
    let metadata = match raw.remove("__metadata__") {
        None | Some(serde_json::Value::Null) => BTreeMap::new(),
        Some(m) => serde_json::from_value(m)
            .map_err(|e| Error::format(path, format!("not a safetensors file (bad __metadata__: {e})")))?,
    };
    let data_start = 8 + header_len;
    let data_len = file_len - data_start;
    let mut tensors = BTreeMap::new();
    for (name, value) in raw {
        let entry: RawEntry = serde_json::from_value(value)
            .map_err(|e| Error::format(path, format!("tensor '{name}': bad header entry: {e}")))?;
        let kind = kind_of(&entry.dtype)
            .ok_or_else(|| Error::format(path, format!("tensor '{name}' has unsupported dtype {}", entry.dtype)))?;
        let numel = entry.shape.iter().try_fold(1u64, |n, &s| n.checked_mul(s));
        let bytes = numel.and_then(|n| n.checked_mul(kind.elt_size_in_bytes() as u64));
        let [begin, end] = entry.data_offsets;
        match bytes {
            Some(b) if end >= begin && end - begin == b && end <= data_len => {}
            _ => {
                return Err(Error::format(
                    path,
                    format!(
                        "tensor '{name}' ({} {:?}) has data offsets {begin}..{end} that do not fit its shape or the file ({data_len} data bytes)",
                        entry.dtype, entry.shape
                    ),
                ))
            }
        }
        let shape = entry.shape.iter().map(|&s| s as i64).collect();
        let numel = numel.unwrap_or(0) as usize;
        tensors.insert(name, TensorEntry { kind, shape, numel, offset: data_start + begin });
    }
    Ok(Header { metadata, tensors })
}

impl TensorFile {
    /// Reads and checks the header of `path` ([`read_header`]) for ranged reads.
    pub fn open(path: &Path) -> Result<Self> {
        Ok(Self { path: path.to_path_buf(), tensors: read_header(path)?.tensors })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The names of the file's tensors, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Where tensor `name` lies, if the file has it.
    pub fn entry(&self, name: &str) -> Option<&TensorEntry> {
        self.tensors.get(name)
    }

    /// Elements `start .. start + len` of tensor `name` (row-major), as a 1-D CPU tensor of the
    /// stored kind. Reads only those bytes.
    pub fn read_range(&self, name: &str, start: usize, len: usize) -> Result<Tensor> {
        let entry = self
            .entry(name)
            .ok_or_else(|| Error::mismatch(&self.path, format!("has no tensor '{name}'")))?;
        if start.checked_add(len).is_none_or(|end| end > entry.numel) {
            return Err(Error::Invalid(format!(
                "{}: elements {start}..{} of tensor '{name}' are out of range (it has {})",
                self.path.display(),
                start.saturating_add(len),
                entry.numel
            )));
        }
        let size = entry.kind.elt_size_in_bytes();
        let mut bytes = vec![0u8; len * size];
        let mut file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        file.seek(SeekFrom::Start(entry.offset + (start * size) as u64)).map_err(|e| Error::io(&self.path, e))?;
        file.read_exact(&mut bytes).map_err(|e| Error::io(&self.path, e))?;
        Ok(Tensor::f_from_data_size(&bytes, &[len as i64], entry.kind)?)
    }
}

/// The libtorch kind of a safetensors dtype name.
fn kind_of(dtype: &str) -> Option<Kind> {
    Some(match dtype {
        "BOOL" => Kind::Bool,
        "U8" => Kind::Uint8,
        "I8" => Kind::Int8,
        "I16" => Kind::Int16,
        "I32" => Kind::Int,
        "I64" => Kind::Int64,
        "F16" => Kind::Half,
        "BF16" => Kind::BFloat16,
        "F32" => Kind::Float,
        "F64" => Kind::Double,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::checkpoint::save_tensors;

    use super::*;

    #[test]
    fn ranges_equal_slices_of_the_whole_tensor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.safetensors");
        let a = Tensor::arange(24, (Kind::Float, tch::Device::Cpu)).reshape([2, 3, 4]);
        let b = Tensor::arange(5, (Kind::Double, tch::Device::Cpu)) * 0.5;
        let c = Tensor::from_slice(&[7i64]);
        save_tensors(&[("a".into(), a.shallow_clone()), ("b".into(), b.shallow_clone()), ("c".into(), c)], &BTreeMap::new(), &path)
            .unwrap();
        let file = TensorFile::open(&path).unwrap();
        assert_eq!(file.entry("a").unwrap().shape, vec![2, 3, 4]);
        assert_eq!(file.entry("b").unwrap().kind, Kind::Double);
        assert!(file.read_range("a", 5, 7).unwrap().equal(&a.flatten(0, -1).narrow(0, 5, 7)));
        assert!(file.read_range("b", 0, 5).unwrap().equal(&b));
        assert_eq!(file.read_range("a", 24, 0).unwrap().numel(), 0);
        let err = file.read_range("a", 20, 5).unwrap_err().to_string();
        assert!(err.contains("out of range") && err.contains("'a'"), "{err}");
        assert!(file.read_range("zzz", 0, 1).unwrap_err().to_string().contains("no tensor 'zzz'"));
    }

    #[test]
    fn damaged_files_are_refused_with_their_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.safetensors");
        let a = Tensor::arange(100, (Kind::Float, tch::Device::Cpu));
        save_tensors(&[("a".into(), a)], &BTreeMap::new(), &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
        let err = TensorFile::open(&path).unwrap_err().to_string();
        assert!(err.contains("t.safetensors") && err.contains("do not fit"), "{err}");
        std::fs::write(&path, b"abc").unwrap();
        assert!(TensorFile::open(&path).unwrap_err().to_string().contains("not a safetensors file"));
        std::fs::write(&path, [4u8, 0, 0, 0, 0, 0, 0, 0, b'{', b'x', b'y', b'}']).unwrap();
        assert!(TensorFile::open(&path).unwrap_err().to_string().contains("bad header JSON"));
    }
}
