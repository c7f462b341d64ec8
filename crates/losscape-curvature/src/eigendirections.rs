//! Hessian eigenvectors as directions: the top two eigenvectors (or those of `lambda_max` and
//! `lambda_min`) written as a losscape direction set, so every surface, map and plot works along
//! them instead of along random directions (random planes rarely show the saddles that eigenvector
//! planes do).
//!
//! An eigenvector covers the Hessian's parameter set; the direction covers every trainable
//! parameter (scope `weights`), with zeros on the tensors outside the set (biases and BN when the
//! set is `weights`). Its sign is fixed so that its entry of largest magnitude is positive, so a
//! seed gives the same file on every run. Optionally each tensor is then normalized against the
//! weights like a random direction (`filter`: every filter gets its weight filter's norm); the
//! normalized directions are no longer eigenvectors or orthogonal, only the plane's axes scaled as
//! the paper scales random ones.

use losscape_core::Progress;
use losscape_data::Dataset;
use losscape_directions::{
    normalize, scoped_tensors, Direction, DirectionSet, Ignore, Norm, Origin, Scope,
};
use losscape_models::Model;
use tch::{Device, Kind, Tensor};

use crate::eigenpairs::{eigenpairs, fresh_residual, EigenOptions, Eigenpair};
use crate::error::{Error, Result};
use crate::hvp::{HessianOperator, HvpOptions};

/// Which eigenvectors become directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// The eigenvectors of the largest `k` eigenvalues (1 or 2: a direction set holds at most 2).
    Top(usize),
    /// Those of `lambda_max` and `lambda_min`.
    Extremes,
}

/// One direction's eigenpair.
#[derive(Clone, Debug, PartialEq)]
pub struct DirectionEigenpair {
    /// `lambda_max`, `lambda_2`, ... or `lambda_min`.
    pub label: String,
    /// The eigenvalue.
    pub value: f64,
    /// The Ritz residual `||H v - lambda v||` from the recurrence.
    pub ritz_residual: f64,
    /// The same residual from a fresh product.
    pub residual: f64,
}

/// The outcome of [`eigendirections`].
pub struct EigenDirections {
    /// The direction set (scope `weights`), ready to save.
    pub set: DirectionSet,
    /// The eigenpair behind each direction, in order.
    pub pairs: Vec<DirectionEigenpair>,
    /// Products used (Lanczos plus one fresh check per direction).
    pub hvps: usize,
    /// Whether Lanczos converged.
    pub converged: bool,
}

/// Eigenvectors of the Hessian of `model`'s mean loss over `data` as a direction set (see the
/// module docs). `norm = None` keeps unit eigenvectors; `Some((norm, ignore))` normalizes each
/// tensor as random directions are. `checkpoint_hash` is recorded in the set.
#[allow(clippy::too_many_arguments)]
pub fn eigendirections(
    model: &dyn Model,
    data: &Dataset,
    hvp: HvpOptions,
    which: Which,
    options: &EigenOptions,
    norm: Option<(Norm, Ignore)>,
    checkpoint_hash: &str,
    progress: &dyn Progress,
) -> Result<EigenDirections> {
    let (top, bottom) = match which {
        Which::Top(k) if (1..=2).contains(&k) => (k, 0),
        Which::Top(k) => {
            return Err(Error::Invalid(format!(
                "a direction set holds 1 or 2 directions, not {k} eigenvectors"
            )))
        }
        Which::Extremes => (1, 1),
    };
    let mut op = HessianOperator::new(model, data, hvp)?;
    let found = eigenpairs(
        &mut op,
        &EigenOptions {
            top,
            bottom,
            ..*options
        },
        progress,
    )?;
    let labels: Vec<String> = match which {
        Which::Top(k) => (1..=k)
            .map(|i| {
                if i == 1 {
                    "lambda_max".to_owned()
                } else {
                    format!("lambda_{i}")
                }
            })
            .collect(),
        Which::Extremes => vec!["lambda_max".into(), "lambda_min".into()],
    };
    let chosen: Vec<&Eigenpair> = found.top.iter().chain(&found.bottom).collect();
    let mut pairs = Vec::new();
    let mut directions = Vec::new();
    for (label, pair) in labels.iter().zip(&chosen) {
        let residual = fresh_residual(&mut op, pair)?;
        pairs.push(DirectionEigenpair {
            label: label.clone(),
            value: pair.value,
            ritz_residual: pair.ritz_residual,
            residual,
        });
        directions.push(to_direction(model, op.names(), &pair.vector, norm)?);
    }
    let values: Vec<String> = pairs
        .iter()
        .map(|p| format!("{} = {:.6e}", p.label, p.value))
        .collect();
    let normalization = match norm {
        Some((n, i)) => format!("normalization {n} (ignore {i})"),
        None => "unit eigenvectors, not normalized".to_owned(),
    };
    let description = format!(
        "Hessian eigenvectors ({}) of the mean {} loss over {} ({} examples), parameters {}, {normalization}",
        values.join(", "),
        hvp.loss,
        data.name,
        data.len(),
        hvp.params
    );
    let set = DirectionSet::new(
        directions,
        model.spec(),
        checkpoint_hash.to_owned(),
        Origin::Other { description },
    )?;
    Ok(EigenDirections {
        set,
        pairs,
        hvps: op.hvps(),
        converged: found.converged,
    })
}

/// A flat eigenvector over the tensors `names` (in canonical order) as a direction over every
/// trainable parameter, sign fixed, optionally normalized.
fn to_direction(
    model: &dyn Model,
    names: &[String],
    vector: &Tensor,
    norm: Option<(Norm, Ignore)>,
) -> Result<Direction> {
    let v = vector.f_to_device(Device::Cpu)?.f_to_kind(Kind::Double)?;
    let largest = v.f_abs()?.f_argmax(0, false)?.f_int64_value(&[])?;
    let v = if v.f_double_value(&[largest])? < 0.0 {
        v.f_neg()?
    } else {
        v
    };
    let mut offset = 0i64;
    let mut tensors = Vec::new();
    for t in scoped_tensors(model, Scope::Weights) {
        let shape = t.tensor.size();
        let numel = t.tensor.numel() as i64;
        let d = if names.contains(&t.name) {
            let part = v.f_narrow(0, offset, numel)?.f_reshape(&shape)?;
            offset += numel;
            part
        } else {
            Tensor::f_zeros(&shape, (Kind::Double, Device::Cpu))?
        };
        let d = match norm {
            Some((n, i)) => {
                let theta = t
                    .tensor
                    .f_detach()?
                    .f_to_device(Device::Cpu)?
                    .f_to_kind(Kind::Double)?;
                normalize(d, &theta, n, i)?
            }
            None => d,
        };
        tensors.push((
            t.name,
            d.f_to_kind(model.kind())?.f_to_device(model.device())?,
        ));
    }
    if offset != v.size()[0] {
        return Err(Error::Invalid(format!(
            "the eigenvector has {} entries but the model's tensors of the set hold {offset}",
            v.size()[0]
        )));
    }
    Ok(Direction {
        scope: Scope::Weights,
        tensors,
    })
}
