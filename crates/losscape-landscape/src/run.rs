//! The grid driver: computes some metrics of a model at `theta* + a d1 (+ b d2)` for every
//! pending point of a surface (or of one shard of it), saving the surface file as it goes so that
//! a killed run resumes where it stopped and recomputes nothing already done.
//!
//! What is computed at a point is a [`PointMetrics`]: [`LossMetrics`] (loss and accuracy on the
//! training and/or test split) here, Hessian eigenvalues in losscape-curvature.

use std::path::Path;
use std::time::{Duration, Instant};

use losscape_core::Progress;
use losscape_data::Dataset;
use losscape_directions::{Anchor, Direction, Scope};
use losscape_models::Model;

use crate::error::{Error, Result};
use crate::evaluate::Evaluator;
use crate::grid::Shard;
use crate::surface::{Surface, SurfaceHeader};

/// What the driver computes at each grid point, with the model already moved there.
pub trait PointMetrics {
    /// Names of the values [`compute`](PointMetrics::compute) returns, in order; they become the
    /// surface's arrays.
    fn names(&self) -> Vec<String>;
    /// The values at the model's current weights.
    fn compute(&mut self, model: &dyn Model) -> Result<Vec<f64>>;
}

/// The metric arrays a surface of these splits holds, in order.
pub fn metric_names(train: bool, test: bool) -> Vec<String> {
    let mut names = Vec::new();
    for (on, split) in [(train, "train"), (test, "test")] {
        if on {
            names.push(format!("{split}_loss"));
            names.push(format!("{split}_acc"));
        }
    }
    names
}

/// Loss and accuracy on the training and/or the test split: `train_loss`, `train_acc`,
/// `test_loss`, `test_acc` (those of the splits given).
pub struct LossMetrics<'a> {
    pub evaluator: Evaluator,
    pub train: Option<&'a Dataset>,
    pub test: Option<&'a Dataset>,
}

impl PointMetrics for LossMetrics<'_> {
    fn names(&self) -> Vec<String> {
        metric_names(self.train.is_some(), self.test.is_some())
    }

    fn compute(&mut self, model: &dyn Model) -> Result<Vec<f64>> {
        let mut values = Vec::with_capacity(4);
        for split in [self.train, self.test].into_iter().flatten() {
            let m = self.evaluator.evaluate(model, split)?;
            values.push(m.loss);
            values.push(m.accuracy);
        }
        Ok(values)
    }
}

/// The model, directions and schedule of one grid computation.
pub struct GridJob<'a> {
    /// The model at its base weights `theta*`; restored to them when the job ends.
    pub model: &'a dyn Model,
    /// One direction (1D) or two (2D), on the model's device and kind.
    pub directions: &'a [Direction],
    /// Which points this run computes.
    pub shard: Shard,
    /// Save the surface file at least this often (and always at the end).
    pub save_interval: Duration,
}

/// A loss-surface job in one struct: a [`GridJob`] plus the [`LossMetrics`] settings.
pub struct SurfaceJob<'a> {
    pub model: &'a dyn Model,
    pub directions: &'a [Direction],
    pub train: Option<&'a Dataset>,
    pub test: Option<&'a Dataset>,
    pub evaluator: Evaluator,
    pub shard: Shard,
    pub save_interval: Duration,
}

/// Summary of one run of [`run_grid`].
#[derive(Clone, Debug)]
pub struct RunReport {
    /// Points computed by this run.
    pub computed: usize,
    /// Points of the shard that were already done and skipped.
    pub skipped: usize,
    pub seconds: f64,
    /// The id this run has in the surface's run records.
    pub run_id: u32,
}

impl RunReport {
    /// Points computed per second by this run.
    pub fn points_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.computed as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// Loss and accuracy over the grid: [`run_grid`] with [`LossMetrics`].
pub fn run_surface(job: &SurfaceJob<'_>, path: &Path, header: SurfaceHeader, progress: &dyn Progress) -> Result<RunReport> {
    let grid_job = GridJob { model: job.model, directions: job.directions, shard: job.shard, save_interval: job.save_interval };
    let mut metrics = LossMetrics { evaluator: job.evaluator.clone(), train: job.train, test: job.test };
    run_grid(&grid_job, &mut metrics, path, header, progress)
}

/// Computes `metrics` at the pending points of `job.shard` into the surface file at `path`,
/// creating it with `header` or resuming it (a file made from other inputs is refused).
/// `header.arrays` must equal `metrics.names()`. Progress: one task with a step per point.
pub fn run_grid(
    job: &GridJob<'_>,
    metrics: &mut dyn PointMetrics,
    path: &Path,
    header: SurfaceHeader,
    progress: &dyn Progress,
) -> Result<RunReport> {
    let dims = if header.grid.y.is_some() { 2 } else { 1 };
    if job.directions.len() != dims {
        return Err(Error::Invalid(format!(
            "a {dims}D grid needs {dims} direction(s), got {}",
            job.directions.len()
        )));
    }
    let expected = metrics.names();
    if header.arrays != expected {
        return Err(Error::Invalid(format!(
            "header arrays {:?} do not match the metrics {:?}",
            header.arrays, expected
        )));
    }
    for d in job.directions {
        d.check_fits(job.model)?;
    }
    let scope = if job.directions.iter().any(|d| d.scope == Scope::States) { Scope::States } else { Scope::Weights };
    let anchor = Anchor::new(job.model, scope)?;

    let mut surface = Surface::open_or_create(path, header)?;
    let pending = surface.pending(job.shard);
    let in_shard = (0..surface.grid().len()).filter(|i| job.shard.contains(*i)).count();
    let run_id = surface.begin_run(job.shard);
    surface.save(path)?;

    let start = Instant::now();
    progress.begin("grid points", pending.len() as u64);
    let result = compute(job, metrics, &anchor, &mut surface, &pending, run_id, path, progress);
    progress.end();
    // Whatever happened, the model goes back to its base weights and finished points are kept.
    let restored = anchor.restore();
    let saved = surface.save(path);
    let computed = result?;
    restored?;
    saved?;
    Ok(RunReport { computed, skipped: in_shard - pending.len(), seconds: start.elapsed().as_secs_f64(), run_id })
}

#[allow(clippy::too_many_arguments)]
fn compute(
    job: &GridJob<'_>,
    metrics: &mut dyn PointMetrics,
    anchor: &Anchor,
    surface: &mut Surface,
    pending: &[usize],
    run_id: u32,
    path: &Path,
    progress: &dyn Progress,
) -> Result<usize> {
    let mut last_save = Instant::now();
    let started = Instant::now();
    let names = metrics.names();
    let mut computed = 0;
    for &index in pending {
        let (a, b) = surface.grid().point(index);
        let steps: Vec<(&Direction, f64)> = job.directions.iter().zip([a, b]).collect();
        anchor.set(&steps)?;
        let values = metrics.compute(job.model)?;
        surface.set_point(index, &values, run_id)?;
        computed += 1;
        progress.advance(1);
        let rate = computed as f64 / started.elapsed().as_secs_f64().max(1e-9);
        let first = names.first().map(String::as_str).unwrap_or("value");
        progress.message(&format!("({a:.3}, {b:.3}) {first} {:.4} | {rate:.2} points/s", values.first().copied().unwrap_or(f64::NAN)));
        if last_save.elapsed() >= job.save_interval {
            surface.save(path)?;
            last_save = Instant::now();
        }
    }
    Ok(computed)
}
