//! A [`Direction`]: one tensor per perturbed model tensor, in the model's canonical order, and the
//! ways to make one (seeded Gaussian with normalization, model-to-model target) and combine them.

use losscape_data::rng::SplitMix64;
use losscape_models::{Model, NamedTensor, Role};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::options::{Ignore, Norm, RandomSpec, Scope};

/// Added to a direction's norm before dividing, as the original does, so zero slices stay zero.
pub const NORM_EPS: f64 = 1e-10;

/// A direction in parameter space: for each tensor in its scope, a tensor of the same shape.
#[derive(Debug)]
pub struct Direction {
    /// Which tensors of the model it moves.
    pub scope: Scope,
    /// `(canonical name, direction tensor)` in the model's canonical order.
    pub tensors: Vec<(String, Tensor)>,
}

impl Clone for Direction {
    fn clone(&self) -> Self {
        Self {
            scope: self.scope,
            tensors: self.tensors.iter().map(|(n, t)| (n.clone(), t.copy())).collect(),
        }
    }
}

/// Whether a tensor of this role belongs to a scope.
pub fn in_scope(role: Role, scope: Scope) -> bool {
    match scope {
        Scope::Weights => role.is_parameter(),
        Scope::States => role.is_parameter() || role.is_bn_statistic(),
    }
}

/// The model's tensors that a direction of this scope covers, in canonical order.
pub fn scoped_tensors(model: &dyn Model, scope: Scope) -> Vec<NamedTensor> {
    model.named_tensors().into_iter().filter(|t| in_scope(t.role, scope)).collect()
}

pub use losscape_data::rng::gaussian;

impl Direction {
    /// A seeded random direction for `model`, normalized as `spec` says.
    ///
    /// Values are drawn on the CPU with [`SplitMix64`] seeded by `spec.seed` and the Box-Muller
    /// transform ([`gaussian`]), for every tensor in scope in canonical order (also those that the
    /// ignore rule then replaces), so the same seed gives the same direction on every device and
    /// with every libtorch build. Normalization then follows the paper (docs/formats.md, "Random
    /// directions"): tensors of dim <= 1 follow the [`Ignore`] rule, the others the [`Norm`]. The
    /// result has the model's kind and device.
    pub fn random(model: &dyn Model, spec: &RandomSpec) -> Result<Self> {
        let mut rng = SplitMix64::new(spec.seed);
        let kind = model.kind();
        let mut tensors = Vec::new();
        for t in scoped_tensors(model, spec.scope) {
            let shape = t.tensor.size();
            let values = gaussian(&mut rng, t.tensor.numel());
            let theta = t.tensor.f_detach()?.f_to_device(Device::Cpu)?.f_to_kind(Kind::Double)?;
            let d = Tensor::from_slice(&values).f_reshape(&shape)?;
            let d = normalize(d, &theta, spec.norm, spec.ignore)?;
            tensors.push((t.name, d.f_to_kind(kind)?.f_to_device(model.device())?));
        }
        if tensors.is_empty() {
            return Err(Error::Invalid(format!("model {} has no tensors in scope {}", model.spec(), spec.scope)));
        }
        Ok(Self { scope: spec.scope, tensors })
    }

    /// The target direction `b - a` between two models of the same architecture (1D
    /// interpolation: `theta(t) = a + t (b - a)`). Used as it is, never normalized.
    pub fn between(a: &dyn Model, b: &dyn Model, scope: Scope) -> Result<Self> {
        let ta = scoped_tensors(a, scope);
        let tb = scoped_tensors(b, scope);
        if ta.len() != tb.len() {
            return Err(Error::Mismatch(format!(
                "models differ: {} has {} tensors in scope {scope}, {} has {}",
                a.spec(),
                ta.len(),
                b.spec(),
                tb.len()
            )));
        }
        let mut tensors = Vec::with_capacity(ta.len());
        for (x, y) in ta.iter().zip(&tb) {
            if x.name != y.name || x.tensor.size() != y.tensor.size() {
                return Err(Error::Mismatch(format!(
                    "models differ at tensor {} {:?} vs {} {:?}",
                    x.name,
                    x.tensor.size(),
                    y.name,
                    y.tensor.size()
                )));
            }
            let d = y.tensor.f_detach()?.f_to_device(a.device())?.f_sub(&x.tensor.f_detach()?)?;
            tensors.push((x.name.clone(), d));
        }
        Ok(Self { scope, tensors })
    }

    /// Euclidean inner product over all tensors (computed in f64).
    pub fn dot(&self, other: &Direction) -> Result<f64> {
        self.check_same_layout(other)?;
        let mut sum = 0.0;
        for ((_, x), (_, y)) in self.tensors.iter().zip(&other.tensors) {
            let x = x.f_to_kind(Kind::Double)?;
            let y = y.f_to_device(x.device())?.f_to_kind(Kind::Double)?;
            sum += x.f_mul(&y)?.f_sum(Kind::Double)?.f_double_value(&[])?;
        }
        Ok(sum)
    }

    /// Euclidean norm over all tensors.
    pub fn norm(&self) -> Result<f64> {
        Ok(self.dot(self)?.sqrt())
    }

    /// Removes from `self` its component along `other` (Gram-Schmidt), so the two are orthogonal.
    pub fn orthogonalize_against(&mut self, other: &Direction) -> Result<()> {
        let oo = other.dot(other)?;
        if oo == 0.0 {
            return Err(Error::Invalid("cannot orthogonalize against a zero direction".into()));
        }
        let coeff = self.dot(other)? / oo;
        for ((_, x), (_, y)) in self.tensors.iter_mut().zip(&other.tensors) {
            let y = y.f_to_device(x.device())?.f_to_kind(x.kind())?;
            *x = x.f_sub(&y.f_mul_scalar(coeff)?)?;
        }
        Ok(())
    }

    /// Checks that this direction fits `model`: same tensor names and shapes, in scope order.
    pub fn check_fits(&self, model: &dyn Model) -> Result<()> {
        let expected = scoped_tensors(model, self.scope);
        if expected.len() != self.tensors.len() {
            return Err(Error::Mismatch(format!(
                "direction has {} tensors but model {} has {} in scope {}",
                self.tensors.len(),
                model.spec(),
                expected.len(),
                self.scope
            )));
        }
        for (want, (name, d)) in expected.iter().zip(&self.tensors) {
            if &want.name != name || want.tensor.size() != d.size() {
                return Err(Error::Mismatch(format!(
                    "direction does not fit model {}: tensor {name} {:?} where the model has {} {:?}",
                    model.spec(),
                    d.size(),
                    want.name,
                    want.tensor.size()
                )));
            }
        }
        Ok(())
    }

    /// A copy on `device` with floating kind `kind`.
    pub fn to(&self, device: Device, kind: Kind) -> Result<Self> {
        let tensors = self
            .tensors
            .iter()
            .map(|(n, t)| Ok((n.clone(), t.f_to_device(device)?.f_to_kind(kind)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { scope: self.scope, tensors })
    }

    fn check_same_layout(&self, other: &Direction) -> Result<()> {
        let same = self.tensors.len() == other.tensors.len()
            && self.tensors.iter().zip(&other.tensors).all(|((a, x), (b, y))| a == b && x.size() == y.size());
        if same {
            Ok(())
        } else {
            Err(Error::Mismatch("the two directions cover different tensors".into()))
        }
    }
}

/// Normalizes one direction tensor `d` against the weights `theta` (both f64 on the CPU).
pub fn normalize(d: Tensor, theta: &Tensor, norm: Norm, ignore: Ignore) -> Result<Tensor> {
    if d.dim() <= 1 {
        return Ok(match ignore {
            Ignore::BiasBn => d.f_zeros_like()?,
            Ignore::None => theta.f_to_kind(d.kind())?,
        });
    }
    Ok(match norm {
        Norm::None => d,
        Norm::Weight => d.f_mul(theta)?,
        Norm::Layer => {
            let scale = theta.f_norm()?.f_double_value(&[])? / (d.f_norm()?.f_double_value(&[])? + NORM_EPS);
            d.f_mul_scalar(scale)?
        }
        Norm::Filter => {
            let filters = d.size()[0];
            let flat_d = d.f_reshape([filters, -1])?;
            let flat_t = theta.f_reshape([filters, -1])?;
            let dn = flat_d.f_norm_scalaropt_dim(2, [1i64].as_slice(), true)?;
            let tn = flat_t.f_norm_scalaropt_dim(2, [1i64].as_slice(), true)?;
            flat_d.f_div(&dn.f_add_scalar(NORM_EPS)?)?.f_mul(&tn)?.f_reshape(d.size())?
        }
    })
}
