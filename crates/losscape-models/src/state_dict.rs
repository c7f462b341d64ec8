//! PyTorch state dicts saved as safetensors files (`safetensors.torch.save_file(model.state_dict(),
//! path)`) loaded into any [`Model`]: one of losscape's networks (whose tensor names are PyTorch's)
//! or a TorchScript module's parameters. Every tensor of the model must be in the file with its
//! shape and the file may hold no other; otherwise the error lists each missing, extra and
//! mis-shaped tensor by name (with both shapes) and the model is left unchanged.

use std::collections::HashMap;
use std::path::Path;

use tch::Tensor;

use crate::checkpoint::{is_float, read_tensor_file};
use crate::error::{Error, Result};
use crate::model::Model;

/// Names of PyTorch's batch-norm buffers (the last part of a state-dict key).
const BUFFER_LEAVES: [&str; 3] = ["running_mean", "running_var", "num_batches_tracked"];

/// Copies the tensors of a safetensors state dict into `model` (under `no_grad`, converting
/// floating-point kinds to the model's) and returns how many were loaded.
///
/// The file's metadata is ignored, so any safetensors file of named tensors works. For a model
/// whose buffers cannot be reached ([`Model::unlisted_state`]), buffer entries of the file are
/// refused with an explanation instead of being skipped silently.
pub fn load_state_dict(model: &dyn Model, path: &Path) -> Result<usize> {
    let (tensors, _) = read_tensor_file(path)?;
    let mut by_name: HashMap<&str, &Tensor> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let targets = model.named_tensors();
    let mut problems = Vec::new();
    let mut pairs = Vec::with_capacity(targets.len());
    for target in &targets {
        let want = target.tensor.size();
        match by_name.remove(target.name.as_str()) {
            None => problems.push(format!("tensor '{}' (shape {want:?}) is missing from the file", target.name)),
            Some(source) if source.size() != want => problems.push(format!(
                "tensor '{}' has shape {:?} in the file but {want:?} in the model",
                target.name,
                source.size()
            )),
            Some(source) => {
                let (from, to) = (source.kind(), target.tensor.kind());
                if from != to && !(is_float(from) && is_float(to)) {
                    problems.push(format!("tensor '{}' is {from:?} in the file but {to:?} in the model", target.name));
                } else {
                    pairs.push((source, &target.tensor));
                }
            }
        }
    }
    for (name, tensor) in tensors.iter().filter(|(n, _)| by_name.contains_key(n.as_str())) {
        let leaf = name.rsplit('.').next().unwrap_or_default();
        match model.unlisted_state() {
            Some(reason) if BUFFER_LEAVES.contains(&leaf) => problems.push(format!(
                "tensor '{name}' is a batch-norm buffer, which this model cannot take ({reason}): save the parameters \
                 only (dict(model.named_parameters())), or load the state dict in PyTorch and save the module again"
            )),
            _ => problems.push(format!(
                "tensor '{name}' (shape {:?}) is in the file but not in the model",
                tensor.size()
            )),
        }
    }
    if !problems.is_empty() {
        // The first few name the kind of misfit; a file of another architecture lists dozens.
        const SHOWN: usize = 4;
        let more = match problems.len().saturating_sub(SHOWN) {
            0 => String::new(),
            n => format!("; and {n} more"),
        };
        problems.truncate(SHOWN);
        return Err(Error::mismatch(
            path,
            format!("the state dict does not fit model '{}': {}{more}", model.spec(), problems.join("; ")),
        ));
    }
    let _guard = tch::no_grad_guard();
    for (source, target) in &pairs {
        let source = source.f_to_device(target.device())?;
        target.shallow_clone().f_copy_(&source)?;
    }
    Ok(pairs.len())
}
