//! The flags that say how `--checkpoint` is loaded (`--weights`, `--roles`, `--bn`), turned into
//! a library [`ModelSource`], and the model folders a trajectory can be read from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use losscape::core::Precision;
use losscape::directions::Scope;
use losscape::models::torchscript::{is_torchscript_file, parse_roles};
use losscape::models::{checkpoint, BnMode, CheckpointMeta, Model, ModelSource};
use losscape::trajectory::Trajectory;

/// How `--checkpoint` (and `--target`, `--interpolate-to`) are loaded.
#[derive(Args, Clone, Debug, Default)]
pub struct ModelArgs {
    /// Load these weights (a safetensors state dict, tensors by name) into the model after
    /// loading it; every tensor must fit (names and shapes).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// TorchScript modules: role overrides NAME=ROLE,... (conv_weight, linear_weight, bias,
    /// bn_weight, bn_bias, other_parameter); roles are otherwise inferred from names and shapes.
    #[arg(long, value_parser = parse_roles)]
    roles: Option<BTreeMap<String, losscape::models::Role>>,
    /// TorchScript modules: batch-norm statistics when evaluating: running (the module's) |
    /// batch (each evaluated batch's own; needed to interpolate between two modules).
    #[arg(long, default_value = "running")]
    bn: BnMode,
}

impl ModelArgs {
    /// The model in `checkpoint`, loaded with these options.
    pub(crate) fn source(&self, checkpoint: &Path) -> ModelSource {
        ModelSource { checkpoint: checkpoint.to_path_buf(), weights: self.weights.clone(), roles: self.roles.clone(), bn: self.bn }
    }

    /// The `--weights` file, if given.
    pub(crate) fn weights(&self) -> Option<&PathBuf> {
        self.weights.as_ref()
    }

}

/// Loads `path` (in `precision`, default: as saved) with `--weights`, `--roles` and `--bn` as
/// [`ModelSource::load`] does.
pub(crate) fn load_model(
    path: &Path,
    device: tch::Device,
    precision: Option<Precision>,
    args: &ModelArgs,
) -> Result<(Box<dyn Model>, CheckpointMeta)> {
    Ok(args.source(path).load(device, precision)?)
}

/// A path from a folder of safetensors weight files (state dicts of `model`'s tensors, one per
/// epoch, in file-name order: epochs 0, 1, ...) and the model that holds the last of them.
pub(crate) fn weights_trajectory(model: &Path, dir: &Path) -> Result<(Trajectory, Box<dyn Model>)> {
    let files = folder_files(dir, "weights", |f| f.extension().is_some_and(|e| e == "safetensors"))?;
    let last = files.last().cloned().with_context(|| format!("{} holds no .safetensors files", dir.display()))?;
    let args = ModelArgs { weights: Some(last), ..ModelArgs::default() };
    let (model, _) = load_model(model, tch::Device::Cpu, None, &args)?;
    Ok((numbered_path(files, dir)?, model))
}

/// The files of `dir` that `keep` accepts, in name order; hidden files (such as a crashed atomic
/// save's temporary) are left out. `what` names the folder in errors.
fn folder_files(dir: &Path, what: &str, keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>> {
    let context = || format!("reading the {what} folder {}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(context)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .with_context(context)?;
    let hidden = |f: &Path| f.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
    files.retain(|f| f.is_file() && !hidden(f) && keep(f));
    files.sort();
    Ok(files)
}

/// A path through `files` as epochs 0, 1, ... with no LR decays recorded.
fn numbered_path(files: Vec<PathBuf>, dir: &Path) -> Result<Trajectory> {
    let epochs = files.into_iter().enumerate().map(|(k, f)| (k as u64, f)).collect();
    Trajectory::from_checkpoints(epochs, &[]).with_context(|| format!("the path in {}", dir.display()))
}

/// A path from a folder of TorchScript modules saved along training (`*.pt` or any TorchScript
/// file, one per epoch, in file-name order: epochs 0, 1, ...; hidden files and files that are not
/// zip archives are passed over). The trajectory code reads checkpoints in slices from
/// safetensors files, so each module's parameters are written once to
/// `<weights_out>/NNNN-<name>.safetensors` (kept beside the analysis; the folder is emptied of
/// an earlier run's files first). `scope` is checked on the first module before anything is
/// written. Returns the path, the last module (the final model) and that module's file.
pub(crate) fn modules_trajectory(
    dir: &Path,
    weights_out: &Path,
    scope: Scope,
) -> Result<(Trajectory, Box<dyn Model>, PathBuf)> {
    let files = folder_files(dir, "modules", is_torchscript_file)?;
    if files.len() < 2 {
        bail!("{} holds {} TorchScript module(s); a path needs at least 2", dir.display(), files.len());
    }
    let mut written = Vec::with_capacity(files.len());
    let mut last: Option<Box<dyn Model>> = None;
    for (k, file) in files.iter().enumerate() {
        let (model, _) = load_model(file, tch::Device::Cpu, None, &ModelArgs::default())?;
        if k == 0 {
            check_scope(model.as_ref(), scope)?;
            if weights_out.exists() {
                std::fs::remove_dir_all(weights_out)
                    .with_context(|| format!("clearing {} of an earlier run's files", weights_out.display()))?;
            }
        }
        let tensors: Vec<(String, tch::Tensor)> =
            model.named_tensors().into_iter().map(|n| (n.name, n.tensor.detach())).collect();
        let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let target = weights_out.join(format!("{k:04}-{stem}.safetensors"));
        checkpoint::save_tensors(&tensors, &BTreeMap::new(), &target)
            .with_context(|| format!("writing the parameters of {} to {}", file.display(), target.display()))?;
        written.push(target);
        last = Some(model);
    }
    let final_file = files.last().cloned().expect("at least two modules");
    Ok((numbered_path(written, dir)?, last.expect("at least two modules"), final_file))
}

/// Refuses the `states` scope for a model whose BN statistics cannot be reached.
pub(crate) fn check_scope(model: &dyn Model, scope: Scope) -> Result<()> {
    Ok(losscape::landscape::job::check_scope(model, scope)?)
}
