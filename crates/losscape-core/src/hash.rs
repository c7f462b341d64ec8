//! SHA-256 content hashes (lowercase hex) of bytes, files and tensors. Results record the hashes
//! of the inputs they were made from, so stale files are detected instead of silently reused.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};
#[cfg(feature = "torch")]
use tch::Tensor;

use crate::error::{Error, Result};

/// Hex SHA-256 of a byte slice.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Hex SHA-256 of a file's content, read in chunks.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

#[cfg(feature = "torch")]
/// Incremental hash over named tensors: each tensor contributes its name, dtype, shape and the
/// bytes of its values (copied to the CPU, contiguous), so equal hashes mean equal tensors.
#[derive(Default)]
pub struct TensorHasher {
    inner: Sha256,
}

#[cfg(feature = "torch")]
impl TensorHasher {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one named tensor.
    pub fn update(&mut self, name: &str, tensor: &Tensor) -> Result<()> {
        let cpu = tensor.f_to_device(tch::Device::Cpu)?.f_contiguous()?;
        self.inner.update((name.len() as u64).to_le_bytes());
        self.inner.update(name.as_bytes());
        self.inner.update(format!("{:?}{:?}", cpu.kind(), cpu.size()).as_bytes());
        let numel = cpu.numel();
        let mut bytes = vec![0u8; numel * cpu.kind().elt_size_in_bytes()];
        cpu.f_copy_data_u8(&mut bytes, numel)?;
        self.inner.update(&bytes);
        Ok(())
    }

    /// The hex digest.
    pub fn finish(self) -> String {
        hex(&self.inner.finalize())
    }
}

/// Hex SHA-256 of a list of named tensors, in the given order.
///
/// ```
/// use tch::Tensor;
/// let w = Tensor::from_slice(&[0.5f32, -1.0]);
/// let h = losscape_core::hash::hash_tensors([("w", &w)])?;
/// assert_eq!(h.len(), 64);
/// assert_ne!(h, losscape_core::hash::hash_tensors([("w", &(&w * 2))])?);
/// # Ok::<(), losscape_core::Error>(())
/// ```
#[cfg(feature = "torch")]
pub fn hash_tensors<'a>(tensors: impl IntoIterator<Item = (&'a str, &'a Tensor)>) -> Result<String> {
    let mut hasher = TensorHasher::new();
    for (name, tensor) in tensors {
        hasher.update(name, tensor)?;
    }
    Ok(hasher.finish())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[cfg(feature = "torch")]
    #[test]
    fn tensor_hash_sees_values_names_and_shapes() {
        let a = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]);
        let same = hash_tensors([("w", &a)]).unwrap();
        assert_eq!(same, hash_tensors([("w", &a.copy())]).unwrap());
        assert_ne!(same, hash_tensors([("v", &a)]).unwrap());
        assert_ne!(same, hash_tensors([("w", &a.reshape([2, 2]))]).unwrap());
        assert_ne!(same, hash_tensors([("w", &(&a + 1e-6))]).unwrap());
        // Non-contiguous views hash like their contiguous copies.
        let m = Tensor::from_slice(&[1.0f64, 2.0, 3.0, 4.0]).reshape([2, 2]);
        assert_eq!(
            hash_tensors([("m", &m.tr())]).unwrap(),
            hash_tensors([("m", &m.tr().contiguous())]).unwrap()
        );
    }
}
