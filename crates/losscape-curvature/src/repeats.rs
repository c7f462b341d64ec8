//! Error bars across data: the same curvature measured on `R` disjoint sample subsets, with the
//! mean and spread of `lambda_max`, `lambda_min` and the trace (how much a Hessian measured on a
//! few hundred examples depends on which ones).
//!
//! [`disjoint_subsets`] deals a data set's examples out class by class, round robin in file order,
//! so every subset has the same class balance and no example is in two subsets.

use losscape_core::Progress;
use losscape_data::Dataset;
use losscape_models::Model;
use tch::Device;

use crate::density::{mean, sample_std};
use crate::error::{Error, Result};
use crate::hutchpp::{choose, TraceOptions};
use crate::hvp::{HessianOperator, HvpOptions};
use crate::lanczos::LanczosOptions;
use crate::layers::block_extremes;

/// `r` disjoint subsets of `data`: within each class the `i`-th example (in file order) goes to
/// subset `i mod r`; a class with fewer than `r` examples leaves some subsets without it.
/// Regression data (floating-point labels) are dealt out by position. Errors when a subset would
/// be empty.
pub fn disjoint_subsets(data: &Dataset, r: usize) -> Result<Vec<Dataset>> {
    if r == 0 {
        return Err(Error::Invalid("at least one subset is needed".into()));
    }
    let mut groups: Vec<Vec<i64>> = vec![Vec::new(); r];
    if data.labels.is_floating_point() {
        for i in 0..data.len() {
            groups[i % r].push(i as i64);
        }
    } else {
        let labels = Vec::<i64>::try_from(&data.labels.f_to_device(Device::Cpu)?)?;
        let mut seen = vec![0usize; data.num_classes.max(1) as usize];
        for (i, l) in labels.iter().enumerate() {
            let slot = &mut seen[*l as usize];
            groups[*slot % r].push(i as i64);
            *slot += 1;
        }
    }
    groups
        .iter()
        .enumerate()
        .map(|(k, idx)| {
            if idx.is_empty() {
                return Err(Error::Invalid(format!(
                    "{}: {} examples cannot make {r} non-empty subsets",
                    data.name,
                    data.len()
                )));
            }
            Ok(data.select(idx, format!("{} (subset {} of {r})", data.name, k + 1))?)
        })
        .collect()
}

/// One subset's measurements.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SubsetCurvature {
    /// Examples in the subset.
    pub samples: usize,
    /// Its Hessian's largest eigenvalue.
    pub lambda_max: f64,
    /// Its smallest eigenvalue.
    pub lambda_min: f64,
    /// Whether Lanczos converged.
    pub converged: bool,
    /// Its trace estimate (NaN when skipped).
    pub trace: f64,
    /// Products spent.
    pub hvps: usize,
}

/// Mean and spread of one quantity over the subsets.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Spread {
    /// The mean.
    pub mean: f64,
    /// The sample standard deviation (NaN for one subset).
    pub std: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
}

impl Spread {
    /// The spread of `xs`.
    pub fn of(xs: &[f64]) -> Self {
        Self {
            mean: mean(xs.iter().copied()),
            std: sample_std(xs),
            min: xs.iter().copied().fold(f64::INFINITY, f64::min),
            max: xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// The outcome of [`repeats`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Repeats {
    /// One entry per subset, in order.
    pub subsets: Vec<SubsetCurvature>,
    /// Spread of `lambda_max`.
    pub lambda_max: Spread,
    /// Spread of `lambda_min`.
    pub lambda_min: Spread,
    /// Spread of the trace (NaN when skipped).
    pub trace: Spread,
}

/// `lambda_max`, `lambda_min` (one Lanczos run per subset, same start seed, both ends tested
/// relative to the largest `|eigenvalue|` as in [`block_extremes`]) and the trace on every
/// subset of `subsets` (from [`disjoint_subsets`]), with their spreads.
pub fn repeats(
    model: &dyn Model,
    subsets: &[Dataset],
    hvp: HvpOptions,
    lanczos_options: &LanczosOptions,
    trace: &TraceOptions,
    progress: &dyn Progress,
) -> Result<Repeats> {
    let out = subsets
        .iter()
        .map(|data| subset_curvature(model, data, hvp, lanczos_options, trace, progress))
        .collect::<Result<Vec<_>>>()?;
    Ok(Repeats::of(out))
}

/// The measurements of [`repeats`] on one subset: they depend on the subset alone, so subsets can
/// be measured anywhere (other processes, [`crate::spread`]).
pub fn subset_curvature(
    model: &dyn Model,
    data: &Dataset,
    hvp: HvpOptions,
    lanczos_options: &LanczosOptions,
    trace: &TraceOptions,
    progress: &dyn Progress,
) -> Result<SubsetCurvature> {
    let mut op = HessianOperator::new(model, data, hvp)?;
    let eig = block_extremes(&mut op, lanczos_options, progress)?;
    let t = if trace.products == 0 {
        f64::NAN
    } else {
        choose(&mut op, trace, progress)?.value
    };
    Ok(SubsetCurvature {
        samples: data.len(),
        lambda_max: eig.max,
        lambda_min: eig.min,
        converged: eig.converged,
        trace: t,
        hvps: op.hvps(),
    })
}

impl Repeats {
    /// The subsets' measurements with their spreads.
    pub fn of(out: Vec<SubsetCurvature>) -> Self {
        let pick = |f: fn(&SubsetCurvature) -> f64| Spread::of(&out.iter().map(f).collect::<Vec<_>>());
        Repeats {
            lambda_max: pick(|s| s.lambda_max),
            lambda_min: pick(|s| s.lambda_min),
            trace: pick(|s| s.trace),
            subsets: out,
        }
    }
}
