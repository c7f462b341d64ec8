//! Where a model comes from: a losscape checkpoint or a user's TorchScript module, optionally with
//! a safetensors state dict loaded over it, and the one identity hash every job records for it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use losscape_core::{hash, Precision};
use tch::Device;

use crate::checkpoint::{self, CheckpointMeta};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::role::Role;
use crate::state_dict::load_state_dict;
use crate::torchscript::{is_torchscript_file, BnMode, TorchScriptModel, TorchScriptOptions, TORCHSCRIPT_SPEC};

/// A model to load: the checkpoint (a losscape checkpoint, or a TorchScript module recognized by
/// its zip signature), an optional state dict loaded over it, and the TorchScript options.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelSource {
    /// The checkpoint file or TorchScript module.
    pub checkpoint: PathBuf,
    /// A safetensors state dict (tensors by name) loaded into the model after it; every tensor
    /// must fit (names and shapes).
    pub weights: Option<PathBuf>,
    /// TorchScript modules: role overrides by parameter name (none: inferred from names and
    /// shapes). Refused for a losscape checkpoint.
    pub roles: Option<BTreeMap<String, Role>>,
    /// TorchScript modules: the batch-norm statistics used when evaluating. Batch statistics
    /// are refused for a losscape checkpoint.
    pub bn: BnMode,
}

impl ModelSource {
    /// The model in `checkpoint`, with no state dict and default options.
    pub fn new(checkpoint: impl Into<PathBuf>) -> Self {
        ModelSource { checkpoint: checkpoint.into(), ..ModelSource::default() }
    }

    /// Another model loaded the same way: the same state dict and options, another checkpoint
    /// (the far end of an interpolation, a target direction's model).
    pub fn with_checkpoint(&self, checkpoint: impl Into<PathBuf>) -> Self {
        ModelSource { checkpoint: checkpoint.into(), ..self.clone() }
    }

    /// Whether batch-norm statistics are re-estimated on the evaluated batches.
    pub fn batch_stats(&self) -> bool {
        self.bn == BnMode::BatchStats
    }

    /// Loads the model on `device` (in `precision`, default: as saved), then the state dict. A
    /// TorchScript module gets a synthesized [`CheckpointMeta`]: spec `torchscript`, input
    /// channels and classes read off its first and last weight banks (0 when unknown), no data
    /// set and no normalization. A model holding NaN or infinite values is refused.
    pub fn load(&self, device: Device, precision: Option<Precision>) -> Result<(Box<dyn Model>, CheckpointMeta)> {
        let path = self.checkpoint.as_path();
        if let Some(p) = precision.filter(|p| !p.is_model_precision()) {
            return Err(Error::Invalid(format!(
                "models are loaded in f32 or f64; {p} is an evaluation precision (of the fast path's folded weights)"
            )));
        }
        check_input_file(path, "checkpoint")?;
        if let Some(weights) = &self.weights {
            check_input_file(weights, "weights file")?;
        }
        let (model, meta): (Box<dyn Model>, CheckpointMeta) = if is_torchscript_file(path) {
            let options = TorchScriptOptions {
                roles: self.roles.clone().unwrap_or_default(),
                bn: self.bn,
                kind: precision.map(Precision::kind),
            };
            let model = TorchScriptModel::load(path, device, &options)
                .map_err(|e| e.context(format!("loading TorchScript module {}", path.display())))?;
            let meta = CheckpointMeta::with_spec(
                TORCHSCRIPT_SPEC.into(),
                model.inferred_in_channels().unwrap_or(0),
                model.inferred_outputs().unwrap_or(0),
                [0, 0],
                Precision::from_kind(model.kind()),
            );
            (Box::new(model), meta)
        } else {
            if self.roles.is_some() || self.batch_stats() {
                return Err(Error::Invalid(format!(
                    "role overrides and batch statistics apply to TorchScript modules, and {} is a losscape checkpoint",
                    path.display()
                )));
            }
            let loaded = match precision {
                Some(p) => checkpoint::load_as(path, device, p),
                None => checkpoint::load(path, device),
            };
            loaded.map_err(|e| e.context(format!("loading checkpoint {}", path.display())))?
        };
        if let Some(weights) = &self.weights {
            load_state_dict(model.as_ref(), weights)
                .map_err(|e| e.context(format!("loading weights {} into {}", weights.display(), path.display())))?;
        }
        let named = model.named_tensors();
        if let Some((name, count)) = checkpoint::first_non_finite(named.iter().map(|t| (t.name.as_str(), &t.tensor)))? {
            let source = self.weights.as_deref().unwrap_or(path);
            return Err(Error::Invalid(format!(
                "{}: tensor '{name}' holds {count} NaN or infinite value(s); refusing to use it",
                source.display()
            )));
        }
        Ok((model, meta))
    }

    /// The model's identity, the one every job records and compares (surfaces, Hessian maps,
    /// direction files): the SHA-256 of the checkpoint file, followed by `+` and that of the
    /// state dict when one is loaded over it.
    pub fn identity_hash(&self) -> Result<String> {
        let mut h = hash::sha256_file(&self.checkpoint)?;
        if let Some(weights) = &self.weights {
            h = format!("{h}+{}", hash::sha256_file(weights)?);
        }
        Ok(h)
    }
}

/// Refuses an input that is missing or not a regular file (a folder given as a checkpoint),
/// naming it as `what`.
pub fn check_input_file(path: &Path, what: &str) -> Result<()> {
    let invalid = |m: String| Err(Error::Invalid(m));
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(m) if m.is_dir() => invalid(format!("{} is a folder, not a {what}", path.display())),
        Ok(_) => invalid(format!("{} is not a regular file (a {what} is expected)", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => invalid(format!("{}: no such {what}", path.display())),
        Err(e) => Err(Error::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_hash_includes_the_weights_file() {
        let dir = tempfile::tempdir().unwrap();
        let (a, w) = (dir.path().join("a"), dir.path().join("w"));
        std::fs::write(&a, b"abc").unwrap();
        std::fs::write(&w, b"").unwrap();
        let sha_abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let sha_empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(ModelSource::new(&a).identity_hash().unwrap(), sha_abc);
        let with = ModelSource { weights: Some(w), ..ModelSource::new(&a) };
        assert_eq!(with.identity_hash().unwrap(), format!("{sha_abc}+{sha_empty}"));
        assert_eq!(with.with_checkpoint("b").weights, with.weights);
    }

    #[test]
    fn missing_and_folder_inputs_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = ModelSource::new(dir.path()).load(Device::Cpu, None).err().unwrap().to_string();
        assert!(err.contains("is a folder, not a checkpoint"), "{err}");
        let err = ModelSource::new(dir.path().join("none")).load(Device::Cpu, None).err().unwrap().to_string();
        assert!(err.ends_with("no such checkpoint"), "{err}");
    }
}
