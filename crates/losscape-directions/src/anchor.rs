//! Moving a model along directions: an [`Anchor`] keeps a copy of the base weights `theta*` and
//! writes `theta* + sum_k c_k d_k` into the model from that copy every time (never by accumulating
//! steps, so there is no rounding drift), and restores the base afterwards.
//!
//! BN running variances (scope `states`) are floored at 0 at every point: an extrapolated
//! interpolation (a > 1 or a < 0) can push `(1-a) v + a v'` below zero, where batch normalization
//! would take the square root of a negative number and every loss would turn NaN silently.
//! [`Anchor::set`] returns how many entries it floored, so the caller can tell such a point
//! (which is no longer a network on the segment) from the others: the grid driver marks it
//! undefined, or evaluates the floored network, as the surface's header says
//! ([`BN_VAR_KEY`], [`BN_VAR_UNDEFINED`], [`BN_VAR_FLOORED`]).

use losscape_core::hash::TensorHasher;
use losscape_models::{Model, Role};
use tch::Tensor;

use crate::direction::{scoped_tensors, Direction};
use crate::error::{Error, Result};
use crate::options::Scope;

/// One model tensor under an anchor: the model's own (shared-storage) tensor and its base value.
struct Slot {
    name: String,
    role: Role,
    live: Tensor,
    base: Tensor,
}

/// The base weights of a model and the means to move it to `theta* + sum_k c_k d_k`.
pub struct Anchor {
    scope: Scope,
    slots: Vec<Slot>,
}

/// The surface header key (in `extra`) that records what a grid did where a point's BN running
/// variance would be negative.
pub const BN_VAR_KEY: &str = "bn_running_var";
/// [`BN_VAR_KEY`]'s value when such points are not evaluated (their metrics are NaN).
pub const BN_VAR_UNDEFINED: &str = "undefined where negative";
/// [`BN_VAR_KEY`]'s value when such points evaluate the network with the variances floored at 0.
pub const BN_VAR_FLOORED: &str = "floored at 0";

impl Anchor {
    /// Snapshots the model's tensors in `scope` (use [`Scope::States`] when any direction in use
    /// moves BN statistics; a [`Scope::Weights`] direction simply leaves them at the base).
    pub fn new(model: &dyn Model, scope: Scope) -> Result<Self> {
        let slots = tch::no_grad(|| {
            scoped_tensors(model, scope)
                .into_iter()
                .map(|t| Ok(Slot { base: t.tensor.f_detach()?.copy(), name: t.name, role: t.role, live: t.tensor }))
                .collect::<Result<Vec<_>>>()
        })?;
        Ok(Self { scope, slots })
    }

    /// The scope of tensors this anchor controls.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// Writes `theta* + sum_k c_k d_k` into the model. The sum is formed in a fixed order (base,
    /// then each direction in turn) in the model's precision, so equal inputs give equal weights.
    /// Tensors a direction does not cover stay at their base value. BN running variances are
    /// floored at 0 (see the module documentation); between two valid models they never go below
    /// it, so the floor only acts where a line extrapolates. Returns the number of entries
    /// floored (0 for every point of a `weights` anchor).
    pub fn set(&self, steps: &[(&Direction, f64)]) -> Result<usize> {
        for (d, _) in steps {
            if d.scope == Scope::States && self.scope == Scope::Weights {
                return Err(Error::Mismatch(
                    "a direction in scope states needs an anchor in scope states".into(),
                ));
            }
        }
        // Map each direction's tensors onto slots by position: both follow canonical order.
        let lookups: Vec<Vec<Option<&Tensor>>> = steps.iter().map(|(d, _)| self.align(d)).collect::<Result<_>>()?;
        tch::no_grad(|| -> Result<usize> {
            let mut floored = 0;
            for (i, slot) in self.slots.iter().enumerate() {
                let mut value = slot.base.copy();
                for (k, (_, coeff)) in steps.iter().enumerate() {
                    if let Some(d) = lookups[k][i] {
                        if *coeff != 0.0 {
                            value = value.f_add(&d.f_mul_scalar(*coeff)?)?;
                        }
                    }
                }
                if slot.role == Role::BnRunningVar && !steps.is_empty() {
                    floored += value.f_lt(0.0)?.f_sum(tch::Kind::Int64)?.f_int64_value(&[])? as usize;
                    value = value.f_clamp_min(0.0)?;
                }
                slot.live.shallow_clone().f_copy_(&value)?;
            }
            Ok(floored)
        })
    }

    /// Puts the base weights back into the model.
    pub fn restore(&self) -> Result<()> {
        tch::no_grad(|| -> Result<()> {
            for slot in &self.slots {
                slot.live.shallow_clone().f_copy_(&slot.base)?;
            }
            Ok(())
        })
    }

    /// SHA-256 of the base weights (names, shapes and values).
    pub fn base_hash(&self) -> Result<String> {
        let mut h = TensorHasher::new();
        for s in &self.slots {
            h.update(&s.name, &s.base)?;
        }
        Ok(h.finish())
    }

    /// SHA-256 of the model's current weights in this anchor's scope.
    pub fn live_hash(&self) -> Result<String> {
        let mut h = TensorHasher::new();
        for s in &self.slots {
            h.update(&s.name, &s.live)?;
        }
        Ok(h.finish())
    }

    /// For each slot, the direction's tensor with the same name, if the direction covers it.
    fn align<'a>(&self, d: &'a Direction) -> Result<Vec<Option<&'a Tensor>>> {
        let mut out = Vec::with_capacity(self.slots.len());
        let mut next = 0;
        for slot in &self.slots {
            match d.tensors.get(next) {
                Some((name, t)) if name == &slot.name => {
                    if t.size() != slot.base.size() {
                        return Err(Error::Mismatch(format!(
                            "direction tensor {name} has shape {:?}, the model's has {:?}",
                            t.size(),
                            slot.base.size()
                        )));
                    }
                    out.push(Some(t));
                    next += 1;
                }
                _ => out.push(None),
            }
        }
        if next != d.tensors.len() {
            return Err(Error::Mismatch(format!(
                "direction tensor {} does not fit the model",
                d.tensors[next].0
            )));
        }
        Ok(out)
    }
}
