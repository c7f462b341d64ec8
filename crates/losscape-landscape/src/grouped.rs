//! Loss surfaces with several grid points per forward pass: the pending points are taken `K` at a
//! time; each is written into the model and the job's inference plan folded there
//! (`FastForward::fold_owned`), the `K` folded networks are stacked into one
//! (`losscape_models::inference::GroupedForward`: grouped convolutions, batched linear layers)
//! and every batch of the data goes through it once for all `K` points. Each point's loss and
//! accuracy are summed exactly as the one-point loop sums them ([`LossKind::batch_sum`] per batch,
//! in f64), so they equal the one-point values up to the f32 rounding of the grouped
//! convolutions (tested at 1e-5 relative).
//!
//! The bookkeeping (surface file, resume, run records, periodic saves) is the one grid driver's
//! ([`run_grid_with`]); only the computing differs. It needs the plan of a built-in f32 network;
//! other models are refused.

use std::path::Path;

use losscape_core::Progress;
use losscape_data::Dataset;
use losscape_directions::{Anchor, Direction, Scope, BN_VAR_FLOORED, BN_VAR_KEY};
use losscape_models::inference::GroupedForward;
use losscape_models::Model;
use tch::Kind;

use crate::error::{Error, Result};
use crate::evaluate::Evaluator;
use crate::fast::FastForward;
use crate::grid::Grid;
use crate::run::{run_grid_with, Dispatch, GridJob, LossMetrics, PointMetrics, RunReport, RunSettings};
use crate::surface::SurfaceHeader;

/// [`run_grid`](crate::run::run_grid) for a loss job with `points_per_pass` grid points per
/// forward pass (see the module docs); `points_per_pass` 1 is the plain run.
pub fn run_grid_grouped(
    job: &GridJob<'_>,
    metrics: &mut LossMetrics<'_>,
    points_per_pass: usize,
    path: &Path,
    header: SurfaceHeader,
    progress: &dyn Progress,
) -> Result<RunReport> {
    if points_per_pass == 0 {
        return Err(Error::Invalid("at least one grid point per forward pass is needed".into()));
    }
    if points_per_pass == 1 {
        return crate::run::run_grid(job, metrics, path, header, progress);
    }
    let Some(plan) = metrics.plan.as_ref() else {
        return Err(Error::Invalid(format!(
            "several grid points per forward pass need an inference plan (a built-in f32 network); {} has none",
            job.model.spec()
        )));
    };
    if plan.kind().is_some_and(|k| k != job.model.kind()) {
        // The stacked network has no casts between its layers (the bf16 plan keeps its pooling
        // and head in f32): grouping runs in the model's own precision only.
        return Err(Error::Invalid(format!(
            "several grid points per forward pass compute in the model's precision ({:?}), not in {:?}; evaluate one point per pass in that precision",
            job.model.kind(),
            plan.kind().unwrap_or(job.model.kind())
        )));
    }
    let dims = if header.grid.y.is_some() { 2 } else { 1 };
    if job.directions.len() != dims {
        return Err(Error::Invalid(format!("a {dims}D grid needs {dims} direction(s), got {}", job.directions.len())));
    }
    if header.arrays != metrics.names() {
        return Err(Error::Invalid(format!("header arrays {:?} do not match the metrics {:?}", header.arrays, metrics.names())));
    }
    for d in job.directions {
        d.check_fits(job.model)?;
    }
    let scope = if job.directions.iter().any(|d| d.scope == Scope::States) { Scope::States } else { Scope::Weights };
    let mut points = GroupedPoints {
        model: job.model,
        directions: job.directions,
        anchor: Anchor::new(job.model, scope)?,
        evaluate_floored: header.extra.get(BN_VAR_KEY).map(String::as_str) == Some(BN_VAR_FLOORED),
        evaluator: &metrics.evaluator,
        splits: [metrics.train, metrics.test].into_iter().flatten().collect(),
        plan,
        per_pass: points_per_pass,
        arrays: header.arrays.len(),
    };
    let settings = RunSettings { shard: job.shard, save_interval: job.save_interval };
    let result = run_grid_with(&mut points, path, header, settings, progress);
    let restored = points.anchor.restore();
    let report = result?;
    restored?;
    Ok(report)
}

/// The [`Dispatch`] of [`run_grid_grouped`]. Dropping it puts the base weights back.
struct GroupedPoints<'a> {
    model: &'a dyn Model,
    directions: &'a [Direction],
    anchor: Anchor,
    evaluate_floored: bool,
    evaluator: &'a Evaluator,
    splits: Vec<&'a Dataset>,
    plan: &'a FastForward,
    per_pass: usize,
    arrays: usize,
}

impl Drop for GroupedPoints<'_> {
    fn drop(&mut self) {
        let _ = self.anchor.restore();
    }
}

impl Dispatch for GroupedPoints<'_> {
    fn dispatch(&mut self, grid: &Grid, pending: &[usize], record: &mut dyn FnMut(usize, &[f64]) -> Result<()>) -> Result<()> {
        for chunk in pending.chunks(self.per_pass) {
            let mut folded = Vec::with_capacity(chunk.len());
            let mut indices = Vec::with_capacity(chunk.len());
            for &index in chunk {
                if index >= grid.len() {
                    return Err(Error::Invalid(format!("point {index} is outside the grid {grid} ({} points)", grid.len())));
                }
                let (a, b) = grid.point(index);
                let steps: Vec<(&Direction, f64)> = self.directions.iter().zip([a, b]).collect();
                let floored = self.anchor.set(&steps)?;
                if floored > 0 && !self.evaluate_floored {
                    // Undefined, as in the one-point loop (run::PointComputer).
                    record(index, &vec![f64::NAN; self.arrays])?;
                    continue;
                }
                folded.push(self.plan.fold_owned()?);
                indices.push(index);
            }
            if folded.is_empty() {
                continue;
            }
            let values = evaluate_grouped(self.evaluator, self.model.kind(), &GroupedForward::stack(&folded)?, &self.splits)?;
            for (index, v) in indices.into_iter().zip(values) {
                record(index, &v)?;
            }
        }
        Ok(())
    }
}

/// Loss and accuracy of every point of `grouped` on each split, in the order of
/// [`LossMetrics`] (`loss`, `accuracy` per split), one `Vec` per point.
pub fn evaluate_grouped(evaluator: &Evaluator, kind: Kind, grouped: &GroupedForward, splits: &[&Dataset]) -> Result<Vec<Vec<f64>>> {
    let k = grouped.points();
    let mut values = vec![Vec::with_capacity(2 * splits.len()); k];
    tch::no_grad(|| -> Result<()> {
        for data in splits {
            if data.is_empty() {
                return Err(Error::Invalid(format!("{}: cannot evaluate on an empty data set", data.name)));
            }
            let regression = data.labels.f_is_floating_point()?;
            let mut loss_sums = vec![0.0f64; k];
            let mut correct = vec![0i64; k];
            for (xs, ys) in data.batches(evaluator.batch_size, None)? {
                let xs = if xs.kind() == kind || !xs.is_floating_point() { xs } else { xs.f_to_kind(kind)? };
                let out = grouped.forward(&xs)?;
                for (p, sum) in loss_sums.iter_mut().enumerate() {
                    *sum += evaluator.loss.batch_sum(&out.f_select(0, p as i64)?, &ys)?;
                }
                if !regression {
                    let hits = out.f_argmax(-1, false)?.f_eq_tensor(&ys.f_unsqueeze(0)?)?.f_sum_dim_intlist([1i64].as_slice(), false, Kind::Int64)?;
                    for (c, h) in correct.iter_mut().zip(Vec::<i64>::try_from(&hits.f_to_device(tch::Device::Cpu)?)?) {
                        *c += h;
                    }
                }
            }
            let n = data.len() as f64;
            for (p, v) in values.iter_mut().enumerate() {
                v.push(loss_sums[p] / n);
                v.push(if regression { f64::NAN } else { 100.0 * correct[p] as f64 / n });
            }
        }
        Ok(())
    })?;
    Ok(values)
}
