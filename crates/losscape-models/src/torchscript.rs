//! A user's TorchScript module (saved from PyTorch with `torch.jit.script` or `torch.jit.trace`
//! and `torch.jit.save`) as a [`Model`]: its named parameters with roles inferred from names and
//! shapes (overridable), train/eval mode, and a forward pass on our data.
//!
//! libtorch's C API as bound by `tch` exposes a module's parameters but not its buffers, so a
//! module's batch-norm running statistics cannot be listed, read or moved: such a model reports
//! them through [`Model::unlisted_state`], and callers refuse the `states` scope for it. For
//! interpolations between two modules, [`BnMode::BatchStats`] evaluates batch normalization with
//! the statistics of the evaluated batch instead (with the whole data set as one batch, exactly the
//! statistics a re-estimation pass would compute), as mode-connectivity work re-estimates them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tch::{CModule, Device, IValue, Kind, Tensor};

use crate::error::{Error, Result};
use crate::model::{Model, NamedTensor};
use crate::role::Role;

/// The spec string of every TorchScript model.
pub const TORCHSCRIPT_SPEC: &str = "torchscript";

/// How batch normalization inside a TorchScript module is evaluated in eval-mode forwards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BnMode {
    /// The module's running statistics (ordinary evaluation mode).
    #[default]
    RunningStats,
    /// The statistics of each evaluated batch: the module runs in training mode for every forward
    /// (which also updates its hidden running statistics, and would make dropout active).
    BatchStats,
}

impl std::str::FromStr for BnMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "running" => Ok(BnMode::RunningStats),
            "batch" => Ok(BnMode::BatchStats),
            _ => Err(Error::Invalid(format!("unknown batch-norm mode '{s}': use running or batch"))),
        }
    }
}

/// Options for [`TorchScriptModel::load`].
#[derive(Clone, Debug, Default)]
pub struct TorchScriptOptions {
    /// Roles that replace the inferred ones, by parameter name.
    pub roles: BTreeMap<String, Role>,
    /// Batch-norm evaluation mode.
    pub bn: BnMode,
    /// Convert the parameters to this floating-point kind (default: as saved).
    pub kind: Option<Kind>,
}

/// A TorchScript module behind the [`Model`] trait.
#[derive(Debug)]
pub struct TorchScriptModel {
    /// The module and the mode it is in (`true` = training mode).
    module: Mutex<(CModule, bool)>,
    /// Parameters in the module's order, with their roles (sharing storage with the module).
    params: Vec<(String, Role, Tensor)>,
    path: PathBuf,
    device: Device,
    kind: Kind,
    bn: BnMode,
}

impl TorchScriptModel {
    /// Loads a saved TorchScript module onto `device`.
    ///
    /// Turns libtorch's graph-executor optimization off (a process-wide setting): the optimized
    /// executor may build graphs that cannot be differentiated twice, which Hessian-vector
    /// products need. Fails when the file is not a TorchScript archive, the module has no
    /// floating-point parameters, or a role override names a parameter it does not have.
    pub fn load(path: &Path, device: Device, options: &TorchScriptOptions) -> Result<Self> {
        tch::jit::f_set_graph_executor_optimize(false)?;
        let mut module = CModule::load_on_device(path, device)
            .map_err(|e| Error::format(path, format!("not a loadable TorchScript module: {e}")))?;
        let raw = module.named_parameters()?;
        let first = raw
            .iter()
            .map(|(_, t)| t.kind())
            .find(|k| matches!(k, Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16))
            .ok_or_else(|| Error::format(path, "the TorchScript module has no floating-point parameters"))?;
        let kind = options.kind.unwrap_or(first);
        if raw.iter().any(|(_, t)| t.kind() != kind) {
            module.to(device, kind, false);
        }
        module.f_set_eval()?;
        let raw = module.named_parameters()?;
        let shapes: Vec<(String, Vec<i64>)> = raw.iter().map(|(n, t)| (n.clone(), t.size())).collect();
        for name in options.roles.keys() {
            if !shapes.iter().any(|(n, _)| n == name) {
                let known: Vec<&str> = shapes.iter().map(|(n, _)| n.as_str()).collect();
                return Err(Error::Invalid(format!(
                    "role override for '{name}': the module has no such parameter (it has {})",
                    known.join(", ")
                )));
            }
        }
        let mut params = Vec::with_capacity(raw.len());
        for (name, tensor) in raw {
            let role = match options.roles.get(&name) {
                Some(&role) if role.is_parameter() => role,
                Some(role) => {
                    return Err(Error::Invalid(format!(
                        "role override {name}={role:?}: a parameter's role must be one of {}",
                        PARAMETER_ROLES.join(", ")
                    )))
                }
                None => infer_role(&name, &tensor.size(), &shapes),
            };
            let tensor = if tensor.requires_grad() { tensor } else { tensor.f_set_requires_grad(true)? };
            params.push((name, role, tensor));
        }
        Ok(Self { module: Mutex::new((module, false)), params, path: path.to_path_buf(), device, kind, bn: options.bn })
    }

    /// Saves the module with its current parameters (e.g. after a move along a direction) as a
    /// TorchScript file that PyTorch's `torch.jit.load` and [`TorchScriptModel::load`] read, in
    /// evaluation mode. Its BN running statistics are saved as they are now: forwards in training
    /// mode or with [`BnMode::BatchStats`] have updated them. Written whole or not at all: to a
    /// temporary file beside `path`, flushed to disk, then renamed over it.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut restore = Ok(());
        losscape_core::fsio::write_atomic_via(path, |temp| {
            let mut guard = self.module.lock().unwrap_or_else(|e| e.into_inner());
            let (module, training) = &mut *guard;
            let result = module.f_set_eval().and_then(|()| module.save(temp));
            if *training {
                restore = module.f_set_train();
            }
            result.map_err(|e| std::io::Error::other(format!("could not save the TorchScript module: {e}")))
        })?;
        Ok(restore?)
    }

    /// The file the module was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How batch normalization is evaluated in eval-mode forwards.
    pub fn bn_mode(&self) -> BnMode {
        self.bn
    }

    /// Sets how batch normalization is evaluated in eval-mode forwards.
    pub fn set_bn_mode(&mut self, bn: BnMode) {
        self.bn = bn;
    }

    /// Whether some parameter has a batch-norm role (so hidden running statistics exist).
    pub fn has_batch_norm(&self) -> bool {
        self.params.iter().any(|(_, r, _)| matches!(r, Role::BnWeight | Role::BnBias))
    }

    /// Input channels, read off the first convolution filter bank (`[out, in, ...]`), if any.
    pub fn inferred_in_channels(&self) -> Option<i64> {
        self.params.iter().find(|(_, r, _)| *r == Role::ConvWeight).map(|(_, _, t)| t.size()[1])
    }

    /// Number of outputs, read off the last weight bank (`[out, ...]`), if any.
    pub fn inferred_outputs(&self) -> Option<i64> {
        self.params.iter().rev().find(|(_, r, _)| r.is_weight_bank()).map(|(_, _, t)| t.size()[0])
    }
}

/// The roles a parameter may be given, in their override spelling.
const PARAMETER_ROLES: [&str; 6] = ["conv_weight", "linear_weight", "bias", "bn_weight", "bn_bias", "other_parameter"];

/// The role of a module parameter from its name and shape: weights of dim >= 3 are filter banks,
/// of dim 2 linear layers, of dim 1 normalization scales; a bias of dim 1 is a batch-norm shift
/// when its layer's weight has dim 1, else a layer bias; anything else is
/// [`Role::OtherParameter`]. `all` holds every parameter's name and shape (to find the sibling).
pub fn infer_role(name: &str, shape: &[i64], all: &[(String, Vec<i64>)]) -> Role {
    let (prefix, leaf) = name.rsplit_once('.').unwrap_or(("", name));
    match (leaf, shape.len()) {
        ("weight", d) if d >= 3 => Role::ConvWeight,
        ("weight", 2) => Role::LinearWeight,
        ("weight", 1) => Role::BnWeight,
        ("bias", 1) => {
            let sibling = if prefix.is_empty() { "weight".to_string() } else { format!("{prefix}.weight") };
            match all.iter().find(|(n, _)| *n == sibling) {
                Some((_, s)) if s.len() == 1 => Role::BnBias,
                _ => Role::Bias,
            }
        }
        _ => Role::OtherParameter,
    }
}

/// Parses role overrides `NAME=ROLE,NAME=ROLE,...` (roles: conv_weight, linear_weight, bias,
/// bn_weight, bn_bias, other_parameter).
pub fn parse_roles(text: &str) -> Result<BTreeMap<String, Role>> {
    let mut roles = BTreeMap::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, role) = item
            .split_once('=')
            .ok_or_else(|| Error::Invalid(format!("role override '{item}' is not NAME=ROLE")))?;
        let role: Role = serde_json::from_value(serde_json::Value::String(role.trim().to_string())).map_err(|_| {
            Error::Invalid(format!("unknown role '{}' in '{item}': use one of {}", role.trim(), PARAMETER_ROLES.join(", ")))
        })?;
        roles.insert(name.trim().to_string(), role);
    }
    Ok(roles)
}

/// Whether a file is a TorchScript archive (a zip file, as `torch.jit.save` writes), judged by its
/// first bytes; safetensors files start with their header length instead.
pub fn is_torchscript_file(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && magic == *b"PK\x03\x04"
}

/// The name of an IValue's variant, for error messages.
fn ivalue_kind(v: &IValue) -> &'static str {
    match v {
        IValue::None => "None",
        IValue::Tuple(_) => "a tuple",
        IValue::GenericList(_) | IValue::TensorList(_) | IValue::DoubleList(_) | IValue::IntList(_) | IValue::BoolList(_) => {
            "a list"
        }
        IValue::GenericDict(_) => "a dict",
        IValue::Tensor(_) => "a tensor",
        _ => "a non-tensor value",
    }
}

impl Model for TorchScriptModel {
    fn spec(&self) -> String {
        TORCHSCRIPT_SPEC.to_string()
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        match self.f_forward_t(xs, train) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        }
    }

    /// Calls the module's `forward` with one tensor and requires one tensor back; any other
    /// signature or result is an error that says what losscape needs.
    fn f_forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let want_train = train || self.bn == BnMode::BatchStats;
        let mut guard = self.module.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (module, training) = &mut *guard;
        if *training != want_train {
            if want_train {
                module.f_set_train()?;
            } else {
                module.f_set_eval()?;
            }
            *training = want_train;
        }
        let needs = "losscape calls forward(x) with one tensor (images [N, C, H, W], features [N, D] or token ids [N, T]) and needs one tensor of outputs [N, K] back";
        let out = module.forward_is(&[IValue::Tensor(xs.shallow_clone())]).map_err(|e| {
            let message = e.to_string();
            let first = message.lines().next().unwrap_or_default();
            Error::Invalid(format!("{}: forward failed ({needs}): {first}", self.path.display()))
        })?;
        match out {
            IValue::Tensor(t) => Ok(t),
            other => Err(Error::Invalid(format!(
                "{}: forward returned {} ({needs}): wrap the module so that forward returns the logits only",
                self.path.display(),
                ivalue_kind(&other)
            ))),
        }
    }

    fn named_tensors(&self) -> Vec<NamedTensor> {
        self.params
            .iter()
            .map(|(name, role, tensor)| NamedTensor { name: name.clone(), role: *role, tensor: tensor.shallow_clone() })
            .collect()
    }

    fn device(&self) -> Device {
        self.device
    }

    fn kind(&self) -> Kind {
        self.kind
    }

    fn unlisted_state(&self) -> Option<String> {
        self.has_batch_norm().then(|| {
            format!(
                "{}: the batch-norm running statistics of a TorchScript module are not reachable (libtorch's C API as \
                 bound by tch lists parameters only), so they cannot be read, moved or saved",
                self.path.display()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes(list: &[(&str, &[i64])]) -> Vec<(String, Vec<i64>)> {
        list.iter().map(|(n, s)| (n.to_string(), s.to_vec())).collect()
    }

    #[test]
    fn roles_follow_names_and_shapes() {
        let all = shapes(&[
            ("conv.weight", &[4, 1, 3, 3]),
            ("conv.bias", &[4]),
            ("bn.weight", &[4]),
            ("bn.bias", &[4]),
            ("fc.weight", &[3, 64]),
            ("fc.bias", &[3]),
            ("scale", &[1]),
            ("emb.pos", &[5, 8]),
        ]);
        let roles: Vec<Role> = all.iter().map(|(n, s)| infer_role(n, s, &all)).collect();
        assert_eq!(
            roles,
            [
                Role::ConvWeight,
                Role::Bias,
                Role::BnWeight,
                Role::BnBias,
                Role::LinearWeight,
                Role::Bias,
                Role::OtherParameter,
                Role::OtherParameter
            ]
        );
    }

    #[test]
    fn role_overrides_parse_and_reject_bad_items() {
        let roles = parse_roles("fc.weight=conv_weight, bn.bias=bias").unwrap();
        assert_eq!(roles["fc.weight"], Role::ConvWeight);
        assert_eq!(roles["bn.bias"], Role::Bias);
        assert!(parse_roles("fc.weight").unwrap_err().to_string().contains("NAME=ROLE"));
        let err = parse_roles("fc.weight=filter").unwrap_err().to_string();
        assert!(err.contains("'filter'") && err.contains("conv_weight"), "{err}");
        assert_eq!("batch".parse::<BnMode>().unwrap(), BnMode::BatchStats);
        assert!("mean".parse::<BnMode>().is_err());
    }
}
