//! PyTorch state dicts of losscape's architectures turned into self-describing checkpoints: the
//! bridge from models trained with the original Python code (tomgoldstein/loss-landscape), whose
//! `state_dict` names are ours (`conv1.weight`, `layer1.0.shortcut.0.weight`, `linear.bias`,
//! `features.0.weight`, `fc.1.running_var`, ...).
//!
//! [`import_state_dict`] reads a safetensors state dict, strips the `module.` prefix that
//! `nn.DataParallel` adds, checks every tensor against the named architecture (each missing,
//! extra and mis-shaped tensor is named in one error, with the architecture the file looks like
//! when that can be told), copies the values, BN running statistics included (so the `states`
//! scope and the fast evaluator work), and returns the model with a [`CheckpointMeta`] that
//! records the data normalization the network was trained with ([`CIFAR10_MEAN`],
//! [`CIFAR10_STD`]: the original's, by default).
//!
//! State dicts saved before PyTorch 0.4.1 have no `num_batches_tracked` counters; those are then
//! set to 0 (they play no part in evaluation) and counted in [`Imported::counters_filled`].

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use tch::{Device, Tensor};

use losscape_core::{hash, Precision};
use losscape_data::Normalization;

use crate::checkpoint::{first_non_finite, is_float, read_tensor_file, CheckpointMeta};
use crate::error::{Error, Result};
use crate::layers::Init;
use crate::model::Model;
use crate::role::Role;
use crate::spec::{Family, ModelSpec};
use crate::zoo::{build_with, BuildSpec};

/// The CIFAR-10 channel means of the original's data loader (`[125.3, 123.0, 113.9] / 255`).
pub const CIFAR10_MEAN: [f64; 3] = [125.3 / 255.0, 123.0 / 255.0, 113.9 / 255.0];
/// The CIFAR-10 channel standard deviations of the original's data loader (`[63.0, 62.1, 66.7] / 255`).
pub const CIFAR10_STD: [f64; 3] = [63.0 / 255.0, 62.1 / 255.0, 66.7 / 255.0];

/// The prefix `nn.DataParallel` puts before every state-dict key.
pub const DATA_PARALLEL_PREFIX: &str = "module.";

/// What an imported state dict is: its architecture and what the checkpoint should record.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The architecture the state dict belongs to.
    pub spec: ModelSpec,
    /// Input image size `[height, width]` (the flattened size of VGG-9's first FC layer follows
    /// from it; ResNets pool globally). The original's CIFAR-10 models: 32x32.
    pub image_size: [i64; 2],
    /// Precision of the checkpoint (values are converted from the file's floating-point kinds).
    pub precision: Precision,
    /// The normalization the images were given in training (recorded in the checkpoint and
    /// applied by every evaluation); `None` records raw 0..1 images.
    pub normalization: Option<Normalization>,
    /// The data source to record (as `--dataset` takes it, e.g. `cifar10:DIR`), if any.
    pub data: Option<String>,
}

impl ImportOptions {
    /// The original's setting for `spec`: 32x32 images, f32, its CIFAR-10 normalization.
    pub fn cifar10(spec: ModelSpec) -> Self {
        Self {
            spec,
            image_size: [32, 32],
            precision: Precision::F32,
            normalization: Some(Normalization { mean: CIFAR10_MEAN.to_vec(), std: CIFAR10_STD.to_vec() }),
            data: None,
        }
    }
}

/// An imported model and what was done to bring it in.
#[derive(Debug)]
pub struct Imported {
    /// The network holding the state dict's values.
    pub model: Box<dyn Model>,
    /// Metadata for [`checkpoint::save`](crate::checkpoint::save).
    pub meta: CheckpointMeta,
    /// Whether the keys carried the `module.` prefix (removed).
    pub stripped_prefix: bool,
    /// How many `num_batches_tracked` counters the file lacked (set to 0).
    pub counters_filled: usize,
    /// How many tensors were copied from the file.
    pub loaded: usize,
}

/// Reads the safetensors state dict at `path` into a new network of `options.spec` on `device`.
///
/// Input channels and classes are read off the first convolution and the last linear layer
/// (`conv1.weight` / `features.0.weight`, `linear.weight` / `classifier.weight`), so a 1-channel
/// or 100-class model imports as well. Every tensor of the network must be in the file with its
/// shape (a missing `num_batches_tracked` excepted), the file may hold no other, and no value may
/// be NaN or infinite; otherwise one error names each problem and nothing is returned.
pub fn import_state_dict(path: &Path, options: &ImportOptions, device: Device) -> Result<Imported> {
    let (raw, _) = read_tensor_file(path)?;
    let (tensors, stripped_prefix) = strip_prefix(raw, path)?;
    let by_name: HashMap<&str, &Tensor> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let spec = options.spec;
    let (first, last) = match spec.family() {
        Family::ResNet => ("conv1.weight", "linear.weight"),
        Family::Vgg9 => ("features.0.weight", "classifier.weight"),
    };
    let dim = |name: &str, d: usize| by_name.get(name).and_then(|t| t.size().get(d).copied());
    let in_channels = dim(first, 1).unwrap_or(3);
    let num_classes = dim(last, 0).unwrap_or(10);
    if let Some(n) = &options.normalization {
        if n.mean.len() as i64 != in_channels || n.std.len() as i64 != in_channels {
            return Err(Error::Invalid(format!(
                "{}: the normalization has {} mean(s) and {} std(s) but the model takes {in_channels} input channel(s)",
                path.display(),
                n.mean.len(),
                n.std.len()
            )));
        }
        if n.mean.iter().chain(&n.std).any(|v| !v.is_finite()) || n.std.iter().any(|s| *s <= 0.0) {
            return Err(Error::Invalid(format!(
                "normalization mean {:?} std {:?}: values must be finite and each std positive",
                n.mean, n.std
            )));
        }
    }
    let build = BuildSpec { model: spec, in_channels, num_classes, image_size: options.image_size, precision: options.precision };
    let model = build_with(&build, device, Init::Blank)?;
    let targets = model.named_tensors();
    let (mut missing, mut misshaped) = (Vec::new(), Vec::new());
    let mut counters_filled = 0;
    let mut pairs = Vec::with_capacity(targets.len());
    for target in &targets {
        let want = target.tensor.size();
        match by_name.get(target.name.as_str()) {
            None if target.role == Role::BnNumBatchesTracked => counters_filled += 1,
            None => missing.push(format!("{} {want:?}", target.name)),
            Some(source) if source.size() != want => {
                misshaped.push(format!("{} is {:?} in the file, {want:?} in {spec}", target.name, source.size()))
            }
            Some(source) => {
                let (from, to) = (source.kind(), target.tensor.kind());
                if from != to && !(is_float(from) && is_float(to)) {
                    misshaped.push(format!("{} is {from:?} in the file, {to:?} in {spec}", target.name));
                } else {
                    pairs.push((*source, &target.tensor));
                }
            }
        }
    }
    let known: HashMap<&str, ()> = targets.iter().map(|t| (t.name.as_str(), ())).collect();
    let extra: Vec<String> = tensors
        .iter()
        .filter(|(n, _)| !known.contains_key(n.as_str()))
        .map(|(n, t)| format!("{n} {:?}", t.size()))
        .collect();
    if !(missing.is_empty() && misshaped.is_empty() && extra.is_empty()) {
        let mut parts = Vec::new();
        for (what, list) in [("missing", &missing), ("extra", &extra), ("mis-shaped", &misshaped)] {
            if !list.is_empty() {
                parts.push(format!("{} {what}: {}", list.len(), list.join(", ")));
            }
        }
        let hint = match guess_spec(&tensors) {
            Some(guess) if guess != spec => format!(" (its tensors look like {guess}: try --model {guess})"),
            _ => String::new(),
        };
        return Err(Error::mismatch(
            path,
            format!("the state dict does not fit {spec}{hint}: {}", parts.join("; ")),
        ));
    }
    let named = pairs.iter().map(|(s, _)| *s);
    let names = targets.iter().filter(|t| by_name.contains_key(t.name.as_str())).map(|t| t.name.as_str());
    if let Some((name, count)) = first_non_finite(names.zip(named))? {
        return Err(Error::format(path, format!("tensor '{name}' holds {count} NaN or infinite value(s)")));
    }
    {
        let _guard = tch::no_grad_guard();
        for (source, target) in &pairs {
            let source = source.f_to_device(target.device())?;
            target.shallow_clone().f_copy_(&source)?;
        }
    }
    let mut meta = CheckpointMeta::new(&spec, in_channels, num_classes, options.image_size, options.precision);
    meta.normalization = options.normalization.clone();
    meta.data = options.data.clone();
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    meta.extra = BTreeMap::from([
        ("imported_from".to_string(), file_name),
        ("imported_sha256".to_string(), hash::sha256_file(path)?),
    ]);
    let loaded = pairs.len();
    drop(pairs);
    drop(targets);
    Ok(Imported { model, meta, stripped_prefix, counters_filled, loaded })
}

/// Removes the `module.` prefix of `nn.DataParallel` from every key that has it; refuses a file
/// where that would make two keys equal.
fn strip_prefix(tensors: Vec<(String, Tensor)>, path: &Path) -> Result<(Vec<(String, Tensor)>, bool)> {
    let stripped = tensors.iter().any(|(n, _)| n.starts_with(DATA_PARALLEL_PREFIX));
    if !stripped {
        return Ok((tensors, false));
    }
    let mut seen = HashMap::new();
    let mut out = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let short = name.strip_prefix(DATA_PARALLEL_PREFIX).unwrap_or(&name).to_string();
        if let Some(other) = seen.insert(short.clone(), name.clone()) {
            return Err(Error::format(
                path,
                format!("keys '{other}' and '{name}' both mean '{short}' once the '{DATA_PARALLEL_PREFIX}' prefix is removed"),
            ));
        }
        out.push((short, t));
    }
    Ok((out, true))
}

/// The built-in architecture whose names and shapes a state dict's tensors suggest, if any:
/// ResNets by their blocks per stage, width and shortcuts, VGG-9 by its `features.` keys.
pub fn guess_spec(tensors: &[(String, Tensor)]) -> Option<ModelSpec> {
    let get = |name: &str| tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t.size());
    if get("features.0.weight").is_some() && get("classifier.weight").is_some() {
        return Some(ModelSpec::vgg9());
    }
    let stem = get("conv1.weight")?;
    let width = u32::try_from(*stem.first()? / 16).ok().filter(|w| *w >= 1)?;
    let blocks = (0..).take_while(|i| get(&format!("layer1.{i}.conv1.weight")).is_some()).count() as u32;
    let shortcuts = tensors.iter().any(|(n, _)| n.contains(".shortcut."));
    ModelSpec::resnet(6 * blocks + 2, width, shortcuts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::save_tensors;
    use crate::zoo::{build, BuildSpec};

    fn state_dict(model: &dyn Model, prefix: &str, skip: impl Fn(&str) -> bool) -> Vec<(String, Tensor)> {
        model
            .named_tensors()
            .into_iter()
            .filter(|t| !skip(&t.name))
            .map(|t| (format!("{prefix}{}", t.name), t.tensor.detach().copy()))
            .collect()
    }

    #[test]
    fn a_data_parallel_state_dict_imports_with_every_value() {
        let spec: ModelSpec = "resnet8".parse().unwrap();
        let model = build(&BuildSpec::new(spec), Device::Cpu, 7).unwrap();
        // Distinct running statistics, so a statistic left behind would show.
        for t in model.named_tensors().iter().filter(|t| t.role.is_bn_statistic()) {
            let _g = tch::no_grad_guard();
            t.tensor.shallow_clone().copy_(&(Tensor::rand_like(&t.tensor) + 0.5));
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sd.safetensors");
        // An old (pre-0.4.1) state dict: no num_batches_tracked.
        let tensors = state_dict(model.as_ref(), "module.", |n| n.ends_with("num_batches_tracked"));
        save_tensors(&tensors, &BTreeMap::new(), &file).unwrap();
        let imported = import_state_dict(&file, &ImportOptions::cifar10(spec), Device::Cpu).unwrap();
        assert!(imported.stripped_prefix);
        assert_eq!(imported.counters_filled, 9, "BN counters: the stem, two per block of three, two projections");
        for (a, b) in model.named_tensors().iter().zip(imported.model.named_tensors()) {
            assert_eq!(a.name, b.name);
            if a.role != Role::BnNumBatchesTracked {
                assert!(a.tensor.equal(&b.tensor), "{} differs", a.name);
            }
        }
        assert_eq!(imported.meta.normalization.as_ref().unwrap().mean[0], 125.3 / 255.0);
    }

    #[test]
    fn every_misfit_is_named_and_the_architecture_guessed() {
        let spec: ModelSpec = "resnet14".parse().unwrap();
        let model = build(&BuildSpec::new(spec), Device::Cpu, 1).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sd.safetensors");
        let mut tensors = state_dict(model.as_ref(), "", |n| n == "layer2.1.bn1.weight");
        tensors.push(("extra.weight".into(), Tensor::zeros([2], (tch::Kind::Float, Device::Cpu))));
        for (n, t) in tensors.iter_mut() {
            if n == "linear.bias" {
                *t = Tensor::zeros([11], (tch::Kind::Float, Device::Cpu));
            }
        }
        save_tensors(&tensors, &BTreeMap::new(), &file).unwrap();
        let err = import_state_dict(&file, &ImportOptions::cifar10(spec), Device::Cpu).unwrap_err().to_string();
        assert!(err.contains("1 missing: layer2.1.bn1.weight [32]"), "{err}");
        assert!(err.contains("1 extra: extra.weight [2]"), "{err}");
        assert!(err.contains("1 mis-shaped: linear.bias is [11] in the file, [10] in resnet14"), "{err}");

        // The right file for another depth: the error says which.
        let other = build(&BuildSpec::new("resnet20-noshort".parse().unwrap()), Device::Cpu, 1).unwrap();
        save_tensors(&state_dict(other.as_ref(), "", |_| false), &BTreeMap::new(), &file).unwrap();
        let err = import_state_dict(&file, &ImportOptions::cifar10(spec), Device::Cpu).unwrap_err().to_string();
        assert!(err.contains("look like resnet20-noshort"), "{err}");
    }

    #[test]
    fn nan_values_and_colliding_prefixes_are_refused() {
        let spec: ModelSpec = "resnet8".parse().unwrap();
        let model = build(&BuildSpec::new(spec), Device::Cpu, 1).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sd.safetensors");
        let tensors = state_dict(model.as_ref(), "", |_| false);
        let _ = tensors[0].1.get(0).get(0).get(0).get(0).fill_(f64::NAN);
        save_tensors(&tensors, &BTreeMap::new(), &file).unwrap();
        let err = import_state_dict(&file, &ImportOptions::cifar10(spec), Device::Cpu).unwrap_err().to_string();
        assert!(err.contains("'conv1.weight' holds 1 NaN"), "{err}");

        let mut tensors = state_dict(model.as_ref(), "", |_| false);
        tensors.push(("module.linear.bias".into(), Tensor::zeros([10], (tch::Kind::Float, Device::Cpu))));
        save_tensors(&tensors, &BTreeMap::new(), &file).unwrap();
        let err = import_state_dict(&file, &ImportOptions::cifar10(spec), Device::Cpu).unwrap_err().to_string();
        assert!(err.contains("both mean 'linear.bias'"), "{err}");
    }
}
