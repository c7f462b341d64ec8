//! Moving a model along directions: an [`Anchor`] keeps a copy of the base weights `theta*` and
//! writes `theta* + sum_k c_k d_k` into the model from that copy every time (never by accumulating
//! steps, so there is no rounding drift), and restores the base afterwards.
//!
//! BN running variances (scope `states`) are floored at 0 at every point: an extrapolated
//! interpolation (a > 1 or a < 0) can push `(1-a) v + a v'` below zero, where batch normalization
//! would take the square root of a negative number and every loss would turn NaN. A surface made
//! with a `states` anchor records the floor in its header (see [`Anchor::BN_VAR_FLOOR_NOTE`]).

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

impl Anchor {
    /// What a surface header records (key `bn_running_var`) when its points were set through a
    /// `states` anchor, whose BN running variances are floored at 0.
    pub const BN_VAR_FLOOR_NOTE: &'static str = "floored at 0";

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
    /// floored at 0 (see the module documentation); at a >= 0 combination of valid models they
    /// never go below it, so the floor only acts where the line extrapolates.
    pub fn set(&self, steps: &[(&Direction, f64)]) -> Result<()> {
        for (d, _) in steps {
            if d.scope == Scope::States && self.scope == Scope::Weights {
                return Err(Error::Mismatch(
                    "a direction in scope states needs an anchor in scope states".into(),
                ));
            }
        }
        // Map each direction's tensors onto slots by position: both follow canonical order.
        let lookups: Vec<Vec<Option<&Tensor>>> = steps.iter().map(|(d, _)| self.align(d)).collect::<Result<_>>()?;
        tch::no_grad(|| -> Result<()> {
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
                    value = value.f_clamp_min(0.0)?;
                }
                slot.live.shallow_clone().f_copy_(&value)?;
            }
            Ok(())
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
