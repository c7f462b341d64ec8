//! Loading the model behind `--checkpoint`: a losscape checkpoint or a user's TorchScript module
//! (recognized by its zip signature), optionally with weights from a safetensors state dict
//! (`--weights`), role overrides (`--roles`) and the batch-norm mode (`--bn`) for TorchScript.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use losscape::core::{hash, Precision};
use losscape::directions::{DirectionSet, Scope};
use losscape::models::torchscript::{is_torchscript_file, parse_roles, TORCHSCRIPT_SPEC};
use losscape::trajectory::Trajectory;
use losscape::models::{checkpoint, load_state_dict, BnMode, CheckpointMeta, Model, TorchScriptModel, TorchScriptOptions};

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
    /// The `--weights` file, if given.
    pub(crate) fn weights(&self) -> Option<&PathBuf> {
        self.weights.as_ref()
    }

    /// Whether batch-norm statistics are re-estimated on the evaluated batches.
    pub(crate) fn batch_stats(&self) -> bool {
        self.bn == BnMode::BatchStats
    }
}

/// Loads `path` as a losscape checkpoint or a TorchScript module (in `precision`, default: as
/// saved), then `--weights`. A TorchScript module gets a synthesized [`CheckpointMeta`]: spec
/// `torchscript`, input channels and classes read off its first and last weight banks (0 when
/// unknown), no data set and no normalization.
pub(crate) fn load_model(
    path: &Path,
    device: tch::Device,
    precision: Option<Precision>,
    args: &ModelArgs,
) -> Result<(Box<dyn Model>, CheckpointMeta)> {
    check_input_file(path, "checkpoint")?;
    if let Some(weights) = &args.weights {
        check_input_file(weights, "weights file")?;
    }
    let (model, meta): (Box<dyn Model>, CheckpointMeta) = if is_torchscript_file(path) {
        let options = TorchScriptOptions {
            roles: args.roles.clone().unwrap_or_default(),
            bn: args.bn,
            kind: precision.map(Precision::kind),
        };
        let model = TorchScriptModel::load(path, device, &options)
            .with_context(|| format!("loading TorchScript module {}", path.display()))?;
        let meta = CheckpointMeta::with_spec(
            TORCHSCRIPT_SPEC.into(),
            model.inferred_in_channels().unwrap_or(0),
            model.inferred_outputs().unwrap_or(0),
            [0, 0],
            Precision::from_kind(model.kind()),
        );
        (Box::new(model), meta)
    } else {
        if args.roles.is_some() || args.batch_stats() {
            bail!("--roles and --bn batch apply to TorchScript modules, and {} is a losscape checkpoint", path.display());
        }
        let loaded = match precision {
            Some(p) => checkpoint::load_as(path, device, p),
            None => checkpoint::load(path, device),
        };
        loaded.with_context(|| format!("loading checkpoint {}", path.display()))?
    };
    if let Some(weights) = &args.weights {
        load_state_dict(model.as_ref(), weights)
            .with_context(|| format!("loading weights {} into {}", weights.display(), path.display()))?;
    }
    let named = model.named_tensors();
    if let Some((name, count)) = checkpoint::first_non_finite(named.iter().map(|t| (t.name.as_str(), &t.tensor)))? {
        let source = args.weights.as_deref().unwrap_or(path);
        bail!("{}: tensor '{name}' holds {count} NaN or infinite value(s); refusing to use it", source.display());
    }
    Ok((model, meta))
}

/// Refuses an input that is missing or not a regular file (a folder given as `--checkpoint`),
/// naming it as `what`.
pub(crate) fn check_input_file(path: &Path, what: &str) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(m) if m.is_dir() => bail!("{} is a folder, not a {what}", path.display()),
        Ok(_) => bail!("{} is not a regular file (a {what} is expected)", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!("{}: no such {what}", path.display()),
        Err(e) => bail!("{}: {e}", path.display()),
    }
}

/// The model's identity hash, the one every command records and compares (surfaces, Hessian
/// maps, direction files): the SHA-256 of the checkpoint file, followed by that of the
/// `--weights` file when one is given.
pub(crate) fn model_hash(path: &Path, args: &ModelArgs) -> Result<String> {
    let mut h = hash::sha256_file(path)?;
    if let Some(weights) = &args.weights {
        h = format!("{h}+{}", hash::sha256_file(weights)?);
    }
    Ok(h)
}

/// The hash `losscape surface --checkpoint MODEL --weights WEIGHTS` records for its model.
pub(crate) fn weights_model_hash(model: &Path, weights: &Path) -> Result<String> {
    model_hash(model, &ModelArgs { weights: Some(weights.to_path_buf()), ..ModelArgs::default() })
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

/// Reads a direction file, refusing one made between models whose BN running statistics cannot
/// move (it records `batch_stats`) unless `--bn batch` is given: along it, the first model's
/// hidden running statistics would otherwise be used at every point.
pub(crate) fn load_directions(file: &Path, args: &ModelArgs) -> Result<DirectionSet> {
    check_input_file(file, "direction file")?;
    let set = DirectionSet::load(file).with_context(|| format!("reading directions {}", file.display()))?;
    if set.meta.batch_stats && !args.batch_stats() {
        bail!(
            "{} runs between models whose BN running statistics cannot move (it was made with --bn batch): \
             add --bn batch, so each point is evaluated with its own batch statistics",
            file.display()
        );
    }
    Ok(set)
}

/// Refuses the `states` scope for a model whose BN statistics cannot be reached.
pub(crate) fn check_scope(model: &dyn Model, scope: Scope) -> Result<()> {
    if let (Scope::States, Some(reason)) = (scope, model.unlisted_state()) {
        bail!("the states scope also moves the BN running statistics, but {reason}: use --scope weights");
    }
    Ok(())
}

/// The scope of model-to-model directions: `states` (parameters and BN statistics), or `weights`
/// for a model whose BN statistics cannot be reached, which then must evaluate with batch
/// statistics (`--bn batch`): its hidden running statistics would stay those of the first model.
pub(crate) fn target_scope(model: &dyn Model, args: &ModelArgs) -> Result<Scope> {
    match model.unlisted_state() {
        None => Ok(Scope::States),
        Some(_) if args.batch_stats() => Ok(Scope::Weights),
        Some(reason) => bail!(
            "a direction between two models moves their BN running statistics too, but {reason}: add --bn batch to \
             evaluate batch normalization with the statistics of each evaluated batch (re-estimated at every point; \
             give a --batch-size that holds the whole data set to use all of it)"
        ),
    }
}

/// A TorchScript module records no data set: the data must be given.
pub(crate) fn require_dataset(meta: &CheckpointMeta, given: bool) -> Result<()> {
    if meta.spec == TORCHSCRIPT_SPEC && !given {
        bail!("a TorchScript module records no data set: give one with --dataset (e.g. npz:data.npz)");
    }
    Ok(())
}
