//! The grid driver: evaluates a model at `theta* + a d1 (+ b d2)` for every pending point of a
//! surface (or of one shard of it), saving the surface file as it goes so that a killed run
//! resumes where it stopped and recomputes nothing already done.

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

/// Everything one surface computation needs.
pub struct SurfaceJob<'a> {
    /// The model at its base weights `theta*`; restored to them when the job ends.
    pub model: &'a dyn Model,
    /// One direction (1D) or two (2D), on the model's device and kind.
    pub directions: &'a [Direction],
    /// The training split to evaluate, if any (on the model's device).
    pub train: Option<&'a Dataset>,
    /// The test split to evaluate, if any.
    pub test: Option<&'a Dataset>,
    pub evaluator: Evaluator,
    /// Which points this run computes.
    pub shard: Shard,
    /// Save the surface file at least this often (and always at the end).
    pub save_interval: Duration,
}

/// Summary of one run of [`run_surface`].
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

/// Computes the pending points of `job.shard` into the surface file at `path`, creating it with
/// `header` or resuming it (a file made from other inputs is refused). Progress: one task with a
/// step per point.
pub fn run_surface(
    job: &SurfaceJob<'_>,
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
    let expected = metric_names(job.train.is_some(), job.test.is_some());
    if header.arrays != expected {
        return Err(Error::Invalid(format!(
            "header arrays {:?} do not match the splits {:?}",
            header.arrays, expected
        )));
    }
    for d in job.directions {
        d.check_fits(job.model)?;
    }
    let scope = if job.directions.iter().any(|d| d.scope == Scope::States) {
        Scope::States
    } else {
        Scope::Weights
    };
    let anchor = Anchor::new(job.model, scope)?;

    let mut surface = Surface::open_or_create(path, header)?;
    let pending = surface.pending(job.shard);
    let in_shard = (0..surface.grid().len())
        .filter(|i| job.shard.contains(*i))
        .count();
    let run_id = surface.begin_run(job.shard);
    surface.save(path)?;

    let start = Instant::now();
    progress.begin("surface", pending.len() as u64);
    let result = compute(job, &anchor, &mut surface, &pending, run_id, path, progress);
    progress.end();
    // Whatever happened, the model goes back to its base weights and finished points are kept.
    let restored = anchor.restore();
    let saved = surface.save(path);
    let computed = result?;
    restored?;
    saved?;
    Ok(RunReport {
        computed,
        skipped: in_shard - pending.len(),
        seconds: start.elapsed().as_secs_f64(),
        run_id,
    })
}

fn compute(
    job: &SurfaceJob<'_>,
    anchor: &Anchor,
    surface: &mut Surface,
    pending: &[usize],
    run_id: u32,
    path: &Path,
    progress: &dyn Progress,
) -> Result<usize> {
    let mut last_save = Instant::now();
    let mut computed = 0;
    let started = Instant::now();
    for &index in pending {
        let (a, b) = surface.grid().point(index);
        let coeffs = [a, b];
        let steps: Vec<(&Direction, f64)> = job
            .directions
            .iter()
            .zip(coeffs)
            .map(|(d, c)| (d, c))
            .collect();
        anchor.set(&steps)?;
        let mut values = Vec::with_capacity(4);
        for split in [job.train, job.test].into_iter().flatten() {
            let m = job.evaluator.evaluate(job.model, split)?;
            values.push(m.loss);
            values.push(m.accuracy);
        }
        surface.set_point(index, &values, run_id)?;
        computed += 1;
        progress.advance(1);
        let rate = computed as f64 / started.elapsed().as_secs_f64().max(1e-9);
        progress.message(&format!(
            "({a:.3}, {b:.3}) loss {:.4} | {rate:.2} points/s",
            values[0]
        ));
        if last_save.elapsed() >= job.save_interval {
            surface.save(path)?;
            last_save = Instant::now();
        }
    }
    Ok(computed)
}
