//! Hessian-vector products of a model's mean training loss by double backward through libtorch.
//!
//! For a data set of `N` examples and the parameters `theta` of a chosen [`ParamSet`], the loss is
//! `L(theta) = (1/N) sum_n l(f(x_n; theta), y_n)` with the network in evaluation mode (batch
//! normalization uses its running statistics, so `L` is a fixed function of `theta`). For each
//! batch, the summed loss is built with a differentiable graph, its gradient is taken with
//! `create_graph`, the inner product of that gradient with `v` is differentiated once more, and the
//! batch's `H_batch v` is added to a running sum in f64; the sum is divided by `N` at the end. Only
//! one batch's graph is alive at a time, so memory is bounded by the batch size, not the data set.

use std::fmt;
use std::str::FromStr;

use losscape_data::Dataset;
use losscape_landscape::LossKind;
use losscape_models::Model;
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::operator::{check_finite, check_vector, SymmetricOperator};

/// Which parameters the Hessian is taken with respect to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ParamSet {
    /// The weight tensors of dim > 1 (convolution filter banks and linear weights), as in the
    /// paper's Hessian maps; biases and BN parameters are held fixed.
    #[default]
    Weights,
    /// Every trainable parameter (weights, biases, BN scale and shift).
    All,
}

impl ParamSet {
    /// The name used on the command line and in files: `weights` or `all`.
    pub fn name(self) -> &'static str {
        match self {
            ParamSet::Weights => "weights",
            ParamSet::All => "all",
        }
    }

    /// Whether a tensor of this role is in the set.
    pub fn contains(self, role: losscape_models::Role) -> bool {
        match self {
            ParamSet::Weights => role.is_weight_bank(),
            ParamSet::All => role.is_parameter(),
        }
    }
}

impl fmt::Display for ParamSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ParamSet {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "weights" => Ok(ParamSet::Weights),
            "all" => Ok(ParamSet::All),
            _ => Err(Error::Invalid(format!(
                "unknown parameter set '{s}': use weights or all"
            ))),
        }
    }
}

/// How Hessian-vector products are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HvpOptions {
    /// The parameters the Hessian is taken with respect to.
    pub params: ParamSet,
    /// The loss: landscape's [`LossKind`], built in f64 from the logits by
    /// [`LossKind::batch_loss`], the same function the evaluator uses.
    pub loss: LossKind,
    /// Examples per batch: the largest double-backward graph alive at once.
    pub batch_size: usize,
}

impl Default for HvpOptions {
    /// The paper's setting: weights of dim > 1, cross-entropy, batches of 128.
    fn default() -> Self {
        Self {
            params: ParamSet::Weights,
            loss: LossKind::CrossEntropy,
            batch_size: 128,
        }
    }
}

/// The Hessian of a model's mean loss over a data set, as an operator on flat f64 vectors.
///
/// The model's parameters of the chosen [`ParamSet`] are read where they are at each product (the
/// operator holds shallow clones sharing storage with the model), so a model moved by a
/// `losscape_directions::Anchor` gives that point's Hessian. Vectors are laid out as the
/// parameters in the model's canonical order, each flattened; see [`names`](Self::names).
pub struct HessianOperator<'a> {
    model: &'a dyn Model,
    data: &'a Dataset,
    options: HvpOptions,
    names: Vec<String>,
    params: Vec<Tensor>,
    shapes: Vec<Vec<i64>>,
    numels: Vec<i64>,
    dim: i64,
    count: usize,
}

impl<'a> HessianOperator<'a> {
    /// The Hessian of `model`'s mean loss over all of `data` (which must be on the model's device;
    /// images of another floating kind are converted batch by batch).
    pub fn new(model: &'a dyn Model, data: &'a Dataset, options: HvpOptions) -> Result<Self> {
        if data.is_empty() {
            return Err(Error::Invalid(format!(
                "{}: cannot take a Hessian over an empty data set",
                data.name
            )));
        }
        if options.batch_size == 0 {
            return Err(Error::Invalid("the batch size must be at least 1".into()));
        }
        if data.device() != model.device() {
            return Err(Error::Invalid(format!(
                "{} is on {:?} but the model is on {:?}",
                data.name,
                data.device(),
                model.device()
            )));
        }
        let mut names = Vec::new();
        let mut params = Vec::new();
        for t in model.named_tensors() {
            if options.params.contains(t.role) {
                if !t.tensor.requires_grad() {
                    return Err(Error::Invalid(format!(
                        "parameter {} of model {} does not require gradients",
                        t.name,
                        model.spec()
                    )));
                }
                names.push(t.name);
                params.push(t.tensor);
            }
        }
        if params.is_empty() {
            return Err(Error::Invalid(format!(
                "model {} has no parameters in the set '{}'",
                model.spec(),
                options.params
            )));
        }
        let shapes: Vec<Vec<i64>> = params.iter().map(Tensor::size).collect();
        let numels: Vec<i64> = params.iter().map(|p| p.numel() as i64).collect();
        let dim = numels.iter().sum();
        Ok(Self {
            model,
            data,
            options,
            names,
            params,
            shapes,
            numels,
            dim,
            count: 0,
        })
    }

    /// The same Hessian restricted to one parameter tensor of the set: the diagonal block
    /// `d^2 L / d theta_b^2` of tensor `name`, with gradients taken with respect to that tensor
    /// only (cheaper than a full product). Errors if the set has no tensor of that name.
    pub fn restricted_to(mut self, name: &str) -> Result<Self> {
        let Some(i) = self.names.iter().position(|n| n == name) else {
            return Err(Error::Invalid(format!(
                "the parameter set '{}' of model {} has no tensor named '{name}'",
                self.options.params,
                self.model.spec()
            )));
        };
        self.names = vec![self.names.swap_remove(i)];
        self.params = vec![self.params.swap_remove(i)];
        self.shapes = vec![self.shapes.swap_remove(i)];
        self.numels = vec![self.numels.swap_remove(i)];
        self.dim = self.numels[0];
        Ok(self)
    }

    /// Length of the flat vectors: the number of scalars in the parameter set.
    pub fn dim(&self) -> i64 {
        self.dim
    }

    /// The names of the parameters, in the order their entries appear in the flat vectors.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The options the operator was made with.
    pub fn options(&self) -> HvpOptions {
        self.options
    }

    /// Number of examples the loss is averaged over.
    pub fn samples(&self) -> usize {
        self.data.len()
    }

    /// Hessian-vector products computed so far by this operator.
    pub fn hvps(&self) -> usize {
        self.count
    }

    /// `H v`: the Hessian of the mean loss times `v` (flat f64, length [`dim`](SymmetricOperator::dim),
    /// on the model's device). One forward and two backward passes per batch.
    pub fn hvp(&mut self, v: &Tensor) -> Result<Tensor> {
        check_vector(v, self.dim, self.model.device())?;
        let kind = self.model.kind();
        let parts = self.unflatten(v, kind)?;
        let mut sum = Tensor::f_zeros([self.dim], (Kind::Double, self.model.device()))?;
        tch::with_grad(|| -> Result<()> {
            for (xs, ys) in self.data.batches(self.options.batch_size, None)? {
                let loss = self.batch_loss(&xs, &ys)?;
                let grads = Tensor::f_run_backward(&[&loss], &self.params, true, true)?;
                let mut inner: Option<Tensor> = None;
                for (g, p) in grads.iter().zip(&parts) {
                    if g.defined() && g.requires_grad() {
                        let term = g.f_mul(p)?.f_sum(Kind::Double)?;
                        inner = Some(match inner {
                            Some(acc) => acc.f_add(&term)?,
                            None => term,
                        });
                    }
                }
                // A gradient that does not depend on the parameters (a model linear in them)
                // contributes no curvature.
                if let Some(inner) = inner {
                    let hv = Tensor::f_run_backward(&[&inner], &self.params, false, false)?;
                    sum = sum.f_add(&self.flatten(&hv)?)?;
                }
            }
            Ok(())
        })?;
        self.count += 1;
        let hv = sum.f_div_scalar(self.data.len() as f64)?;
        check_finite(&hv, "the Hessian-vector product")?;
        Ok(hv)
    }

    /// The mean loss and its gradient (flat f64) at the model's current parameters.
    pub fn gradient(&self) -> Result<(f64, Tensor)> {
        let mut total = 0.0;
        let mut sum = Tensor::f_zeros([self.dim], (Kind::Double, self.model.device()))?;
        tch::with_grad(|| -> Result<()> {
            for (xs, ys) in self.data.batches(self.options.batch_size, None)? {
                let loss = self.batch_loss(&xs, &ys)?;
                total += loss.f_double_value(&[])?;
                let grads = Tensor::f_run_backward(&[&loss], &self.params, false, false)?;
                sum = sum.f_add(&self.flatten(&grads)?)?;
            }
            Ok(())
        })?;
        let n = self.data.len() as f64;
        Ok((total / n, sum.f_div_scalar(n)?))
    }

    /// The current values of the parameters as one flat f64 vector.
    pub fn parameter_vector(&self) -> Result<Tensor> {
        tch::no_grad(|| self.flatten(&self.params))
    }

    /// Writes a flat f64 vector into the model's parameters of this set (for finite differences
    /// and line searches; the grid driver moves models with an anchor instead).
    pub fn set_parameter_vector(&self, theta: &Tensor) -> Result<()> {
        check_vector(theta, self.dim, self.model.device())?;
        let parts = self.unflatten(theta, self.model.kind())?;
        tch::no_grad(|| -> Result<()> {
            for (p, value) in self.params.iter().zip(&parts) {
                p.shallow_clone().f_copy_(value)?;
            }
            Ok(())
        })
    }

    fn batch_loss(&self, xs: &Tensor, ys: &Tensor) -> Result<Tensor> {
        // Token ids (integer inputs) go to the model as they are.
        let xs = if xs.kind() == self.model.kind() || !xs.is_floating_point() {
            xs.shallow_clone()
        } else {
            xs.f_to_kind(self.model.kind())?
        };
        let out = self.model.f_forward_t(&xs, false)?;
        Ok(self.options.loss.batch_loss(&out, ys)?)
    }

    /// Per-parameter tensors, each flattened to f64 and concatenated (undefined ones as zeros).
    fn flatten(&self, parts: &[Tensor]) -> Result<Tensor> {
        let mut flat = Vec::with_capacity(parts.len());
        for (t, &n) in parts.iter().zip(&self.numels) {
            flat.push(if t.defined() {
                t.f_detach()?.f_reshape([-1])?.f_to_kind(Kind::Double)?
            } else {
                Tensor::f_zeros([n], (Kind::Double, self.model.device()))?
            });
        }
        Ok(Tensor::f_cat(&flat, 0)?)
    }

    /// A flat vector split into tensors of the parameters' shapes and kind `kind`.
    fn unflatten(&self, v: &Tensor, kind: Kind) -> Result<Vec<Tensor>> {
        let pieces = v.f_split_with_sizes(self.numels.as_slice(), 0)?;
        pieces
            .iter()
            .zip(&self.shapes)
            .map(|(p, s)| Ok(p.f_reshape(s.as_slice())?.f_to_kind(kind)?))
            .collect()
    }
}

impl SymmetricOperator for HessianOperator<'_> {
    fn dim(&self) -> i64 {
        self.dim
    }
    fn device(&self) -> Device {
        self.model.device()
    }
    fn apply(&mut self, v: &Tensor) -> Result<Tensor> {
        self.hvp(v)
    }
}
