//! The grid driver: computes some metrics of a model at `theta* + a d1 (+ b d2)` for every
//! pending point of a surface (or of one shard of it), saving the surface file as it goes so that
//! a killed run resumes where it stopped and recomputes nothing already done.
//!
//! What is computed at a point is a [`PointMetrics`]: [`LossMetrics`] (loss and accuracy on the
//! training and/or test split) here, Hessian eigenvalues in losscape-curvature.
//!
//! [`run_grid`] computes the points in this process. Its two halves are public for runs that
//! compute elsewhere: [`run_grid_with`] keeps the file (resume, run records, periodic atomic
//! saves) and takes each point's values from a [`Dispatch`], and a [`PointComputer`] computes
//! one point, the same way in every process (the `losscape` command's MPI runs use both).

use std::path::Path;
use std::time::{Duration, Instant};

use losscape_core::Progress;
use losscape_data::Dataset;
use losscape_directions::{Anchor, Direction, Scope, BN_VAR_FLOORED, BN_VAR_KEY};
use losscape_models::Model;

use crate::error::{Error, Result};
use crate::evaluate::Evaluator;
use crate::fast::{FastForward, Layout};
use crate::grid::{Grid, Shard};
use crate::sampled::evaluate_sampled;
use crate::surface::{Surface, SurfaceHeader};
use losscape_surface::Sampling;

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
/// `test_loss`, `test_acc` (those of the splits given); with [`sampling`](Self::sampling), each
/// split's followed by its standard errors and count ([`Sampling::arrays`]).
pub struct LossMetrics<'a> {
    pub evaluator: Evaluator,
    pub train: Option<&'a Dataset>,
    pub test: Option<&'a Dataset>,
    /// The inference plan of the job's model, built once per job ([`LossMetrics::new`]) and
    /// folded at every point; `None` evaluates through [`crate::EvalPath::Auto`] at each call.
    pub plan: Option<FastForward>,
    /// Stop each split early once its mean loss is known well enough (evaluating the splits in
    /// their stored order: see [`crate::sampled`]); `None` evaluates every example.
    pub sampling: Option<Sampling>,
}

impl<'a> LossMetrics<'a> {
    /// Metrics for `model` (the model the grid moves), with its inference plan built once here.
    pub fn new(model: &dyn Model, evaluator: Evaluator, train: Option<&'a Dataset>, test: Option<&'a Dataset>) -> Self {
        LossMetrics { evaluator, train, test, plan: FastForward::new(model, Layout::ChannelsLast), sampling: None }
    }

    /// These metrics with early stopping (`Some`) or on every example (`None`).
    pub fn with_sampling(self, sampling: Option<Sampling>) -> Self {
        LossMetrics { sampling, ..self }
    }
}

impl PointMetrics for LossMetrics<'_> {
    fn names(&self) -> Vec<String> {
        let names = metric_names(self.train.is_some(), self.test.is_some());
        if self.sampling.is_some() {
            return Sampling::arrays(&names);
        }
        names
    }

    fn compute(&mut self, model: &dyn Model) -> Result<Vec<f64>> {
        let mut values = Vec::with_capacity(4);
        for split in [self.train, self.test].into_iter().flatten() {
            if let Some(sampling) = &self.sampling {
                // Without a plan, the model's own forward as it is (like `EvalPath::Auto`'s fallback).
                let m = evaluate_sampled(&self.evaluator, model, self.plan.as_ref(), Layout::Contiguous, split, sampling)?;
                values.extend(m.values());
                continue;
            }
            let m = match &self.plan {
                Some(plan) => self.evaluator.evaluate_planned(model, Some(plan), Layout::Contiguous, split)?,
                None => self.evaluator.evaluate(model, split)?,
            };
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
    let mut metrics = LossMetrics::new(job.model, job.evaluator.clone(), job.train, job.test);
    run_grid(&grid_job, &mut metrics, path, header, progress)
}

/// Computes `metrics` at the pending points of `job.shard` into the surface file at `path`,
/// creating it with `header` or resuming it (a file made from other inputs is refused).
/// `header.arrays` must equal `metrics.names()`. Progress: one task with a step per point.
///
/// This is [`run_grid_with`] with the points computed here, in ascending order, by a
/// [`PointComputer`].
pub fn run_grid(
    job: &GridJob<'_>,
    metrics: &mut dyn PointMetrics,
    path: &Path,
    header: SurfaceHeader,
    progress: &dyn Progress,
) -> Result<RunReport> {
    let mut computer = PointComputer::new(job.model, job.directions, metrics, &header)?;
    let settings = RunSettings { shard: job.shard, save_interval: job.save_interval };
    let result = run_grid_with(&mut computer, path, header, settings, progress);
    // Whatever happened, the model goes back to its base weights.
    let restored = computer.restore();
    let report = result?;
    restored?;
    Ok(report)
}

/// Computes the metrics of single grid points: moves the model to `theta* + a d1 (+ b d2)` and
/// asks the [`PointMetrics`]. The model goes back to its base weights with
/// [`restore`](PointComputer::restore), which reports a failure, and in any case when the
/// computer is dropped: it is a guard, so a run that returns early or panics (one rank of a
/// distributed run, a metric that fails) never leaves the caller's model at a grid point.
///
/// Every process of a distributed run computes its points through this type, so a point's
/// values do not depend on which process computed it, nor on the order of the points (the
/// weights are always formed from the base, never by accumulating steps).
pub struct PointComputer<'a> {
    model: &'a dyn Model,
    directions: &'a [Direction],
    metrics: &'a mut dyn PointMetrics,
    anchor: Anchor,
    /// Whether a point whose BN running variances had to be floored is evaluated anyway (the
    /// header says so with `bn_running_var: floored at 0`) or recorded as undefined (NaN).
    evaluate_floored: bool,
}

impl<'a> PointComputer<'a> {
    /// Checks that `directions` match the dimension of `header.grid`, that they fit the model
    /// and that `header.arrays` equal `metrics.names()`, then snapshots the model's base weights.
    pub fn new(
        model: &'a dyn Model,
        directions: &'a [Direction],
        metrics: &'a mut dyn PointMetrics,
        header: &SurfaceHeader,
    ) -> Result<Self> {
        let dims = if header.grid.y.is_some() { 2 } else { 1 };
        if directions.len() != dims {
            return Err(Error::Invalid(format!(
                "a {dims}D grid needs {dims} direction(s), got {}",
                directions.len()
            )));
        }
        let expected = metrics.names();
        if header.arrays != expected {
            return Err(Error::Invalid(format!(
                "header arrays {:?} do not match the metrics {:?}",
                header.arrays, expected
            )));
        }
        for d in directions {
            d.check_fits(model)?;
        }
        let scope = if directions.iter().any(|d| d.scope == Scope::States) { Scope::States } else { Scope::Weights };
        let anchor = Anchor::new(model, scope)?;
        let evaluate_floored = header.extra.get(BN_VAR_KEY).map(String::as_str) == Some(BN_VAR_FLOORED);
        Ok(PointComputer { model, directions, metrics, anchor, evaluate_floored })
    }

    /// The metrics' values at point `index` of `grid` (the grid the computer was made for).
    pub fn compute(&mut self, grid: &Grid, index: usize) -> Result<Vec<f64>> {
        if index >= grid.len() {
            return Err(Error::Invalid(format!("point {index} is outside the grid {grid} ({} points)", grid.len())));
        }
        let (a, b) = grid.point(index);
        let steps: Vec<(&Direction, f64)> = self.directions.iter().zip([a, b]).collect();
        let floored = self.anchor.set(&steps)?;
        if floored > 0 && !self.evaluate_floored {
            // Not a network on the line: a running variance would be negative. NaN marks the
            // point as computed and undefined (the done-mask tells it from "not computed").
            return Ok(vec![f64::NAN; self.metrics.names().len()]);
        }
        self.metrics.compute(self.model)
    }

    /// Puts the base weights back into the model.
    pub fn restore(&self) -> Result<()> {
        Ok(self.anchor.restore()?)
    }
}

impl Drop for PointComputer<'_> {
    /// Puts the base weights back (again, after an explicit [`restore`](PointComputer::restore):
    /// it writes the same values). A failure here cannot be reported; `restore` reports it.
    fn drop(&mut self) {
        let _ = self.anchor.restore();
    }
}

/// How the points of a grid run get computed: here, one after another ([`PointComputer`]), or
/// handed out to other processes (the MPI ranks of [`mpi::run_grid`](crate::mpi::run_grid)).
pub trait Dispatch {
    /// Computes every point of `pending` (indices into `grid`) and passes each one's values to
    /// `record` as soon as they are known, in any order, once per point. Returns the first
    /// error, of a computation or of `record`, after which no further point need be recorded.
    fn dispatch(&mut self, grid: &Grid, pending: &[usize], record: &mut dyn FnMut(usize, &[f64]) -> Result<()>) -> Result<()>;
}

impl Dispatch for PointComputer<'_> {
    fn dispatch(&mut self, grid: &Grid, pending: &[usize], record: &mut dyn FnMut(usize, &[f64]) -> Result<()>) -> Result<()> {
        for &index in pending {
            let values = self.compute(grid, index)?;
            record(index, &values)?;
        }
        Ok(())
    }
}

/// The schedule of a grid run: which points, and how often the file is saved.
#[derive(Clone, Copy, Debug)]
pub struct RunSettings {
    /// Which points this run computes.
    pub shard: Shard,
    /// Save the surface file at least this often (and always at the end).
    pub save_interval: Duration,
}

/// The bookkeeping of a grid run, with the computing left to `dispatch`: opens or resumes the
/// surface file at `path` (a file made from other inputs is refused), records a new run, hands
/// the pending points of `settings.shard` to `dispatch`, stores each point's values as they
/// arrive and saves the file atomically at least every `settings.save_interval` and at the end,
/// also when `dispatch` fails (so a killed or failed run loses only the points not yet
/// recorded). Progress: one task with a step per point.
///
/// The values `dispatch` records must be in the order of `header.arrays`.
pub fn run_grid_with(
    dispatch: &mut dyn Dispatch,
    path: &Path,
    header: SurfaceHeader,
    settings: RunSettings,
    progress: &dyn Progress,
) -> Result<RunReport> {
    let created = !path.exists();
    let mut surface = Surface::open_or_create(path, header)?;
    if settings.shard.count > 1 {
        if let Some(other) = surface.runs().iter().map(|r| r.shard).find(|s| *s != settings.shard) {
            return Err(Error::Invalid(format!(
                "{} already holds points of shard {other}, and this run computes shard {}: each shard needs its own file (join them with losscape merge)",
                path.display(),
                settings.shard
            )));
        }
    }
    let pending = surface.pending(settings.shard);
    let in_shard = (0..surface.grid().len()).filter(|i| settings.shard.contains(*i)).count();
    let run_id = surface.begin_run(settings.shard);
    surface.save(path)?;
    let grid = surface.grid().clone();
    let first = surface.header().arrays.first().cloned().unwrap_or_else(|| "value".into());

    let start = Instant::now();
    let mut last_save = Instant::now();
    let mut computed = 0;
    progress.begin("grid points", pending.len() as u64);
    let mut record = |index: usize, values: &[f64]| -> Result<()> {
        surface.set_point(index, values, run_id)?;
        computed += 1;
        progress.advance(1);
        let (a, b) = grid.point(index);
        let rate = computed as f64 / start.elapsed().as_secs_f64().max(1e-9);
        let value = values.first().copied().unwrap_or(f64::NAN);
        progress.message(&format!("({a:.3}, {b:.3}) {first} {value:.4} | {rate:.2} points/s"));
        if last_save.elapsed() >= settings.save_interval {
            surface.save(path)?;
            last_save = Instant::now();
        }
        Ok(())
    };
    let result = dispatch.dispatch(&grid, &pending, &mut record);
    progress.end();
    let result = match result {
        Err(e) if created && computed == 0 && !pending.is_empty() => {
            // Nothing computed in a file this run made (a model that cannot run, bad settings):
            // no empty file is left behind to refuse the corrected rerun.
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
        other => other,
    };
    // Whatever happened, finished points are kept.
    let saved = surface.save(path);
    result?;
    saved?;
    Ok(RunReport { computed, skipped: in_shard - pending.len(), seconds: start.elapsed().as_secs_f64(), run_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computes `a^2 + b^2` at the points in reverse order, like a process that hands points
    /// out elsewhere and gets them back in any order; fails after `fail_after` points if set.
    struct Backwards {
        fail_after: Option<usize>,
    }

    impl Dispatch for Backwards {
        fn dispatch(&mut self, grid: &Grid, pending: &[usize], record: &mut dyn FnMut(usize, &[f64]) -> Result<()>) -> Result<()> {
            for (n, &index) in pending.iter().rev().enumerate() {
                if Some(n) == self.fail_after {
                    return Err(Error::Remote("rank 1 failed: out of memory".into()));
                }
                let (a, b) = grid.point(index);
                record(index, &[a * a + b * b])?;
            }
            Ok(())
        }
    }

    fn header() -> SurfaceHeader {
        let grid = Grid::new("-1:1:5".parse().unwrap(), Some("0:1:3".parse().unwrap())).unwrap();
        SurfaceHeader::new(grid, vec!["train_loss".into()])
    }

    #[test]
    fn run_grid_with_keeps_points_recorded_in_any_order_and_saves_them_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.surface");
        let settings = RunSettings { shard: Shard::all(), save_interval: Duration::from_secs(3600) };
        let silent = losscape_core::progress::Silent;

        let err = run_grid_with(&mut Backwards { fail_after: Some(4) }, &path, header(), settings, &silent).unwrap_err();
        assert!(err.to_string().contains("rank 1 failed"), "{err}");
        let partial = Surface::load(&path).unwrap();
        assert_eq!(partial.done_count(), 4, "the points recorded before the failure are saved");

        let report = run_grid_with(&mut Backwards { fail_after: None }, &path, header(), settings, &silent).unwrap();
        assert_eq!((report.computed, report.skipped, report.run_id), (11, 4, 2));
        let surface = Surface::load(&path).unwrap();
        assert!(surface.is_complete());
        for index in 0..surface.len() {
            let (a, b) = surface.grid().point(index);
            assert_eq!(surface.point_values(index).unwrap(), vec![a * a + b * b]);
        }
    }

    /// The model's tensors' values, by name (weights and BN statistics).
    fn values(model: &dyn Model) -> Vec<(String, Vec<f64>)> {
        model
            .named_tensors()
            .into_iter()
            .map(|t| (t.name, Vec::<f64>::try_from(t.tensor.detach().flatten(0, -1)).unwrap()))
            .collect()
    }

    /// A metric that records the weights it sees, then fails at its `fail_at`-th call: by an
    /// error, or by a panic (a rank that dies mid-run).
    struct Failing {
        calls: usize,
        fail_at: usize,
        panic: bool,
        seen: Vec<Vec<(String, Vec<f64>)>>,
    }

    impl PointMetrics for Failing {
        fn names(&self) -> Vec<String> {
            vec!["x".into()]
        }
        fn compute(&mut self, model: &dyn Model) -> Result<Vec<f64>> {
            self.calls += 1;
            self.seen.push(values(model));
            if self.calls == self.fail_at {
                if self.panic {
                    panic!("a metric panicked (test)");
                }
                return Err(Error::Remote("a metric failed (test)".into()));
            }
            Ok(vec![0.0])
        }
    }

    #[test]
    fn a_dropped_point_computer_puts_the_base_weights_back_after_an_early_return_or_a_panic() {
        use losscape_directions::testing::TinyNet;
        let model = TinyNet::new(1, 3, tch::Kind::Double, 1);
        let other = TinyNet::new(1, 3, tch::Kind::Double, 2);
        let base = values(&model);
        let directions = [Direction::between(&model, &other, Scope::States).unwrap()];
        let grid = Grid::new("0:1:3".parse().unwrap(), None).unwrap();
        let header = SurfaceHeader::new(grid.clone(), vec!["x".into()]);

        for panic in [false, true] {
            let mut metrics = Failing { calls: 0, fail_at: 2, panic, seen: Vec::new() };
            // Points 2 (a = 1: the other model's weights) and 1; the second call fails. No
            // explicit restore: only the guard can put the weights back.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<()> {
                let mut computer = PointComputer::new(&model, &directions, &mut metrics, &header)?;
                computer.compute(&grid, 2)?;
                computer.compute(&grid, 1)?;
                Ok(())
            }));
            match outcome {
                Ok(result) => assert!(!panic && result.is_err(), "the second point fails"),
                Err(_) => assert!(panic, "only the panicking metric panics"),
            }
            // The run did move the model (to the other model at a = 1, up to rounding, and
            // halfway at a = 0.5)...
            assert_eq!(metrics.seen.len(), 2);
            for (seen, a) in metrics.seen.iter().zip([1.0, 0.5]) {
                assert_ne!(seen, &base, "panic: {panic}, a = {a}");
                let (name, moved) = &seen[0];
                let target = &values(&other)[0].1;
                for ((m, t), b) in moved.iter().zip(target).zip(&base[0].1) {
                    assert!((m - (b + a * (t - b))).abs() < 1e-12, "{name} at a = {a}: {m}");
                }
            }
            // ...and the dropped guard put the base back, every tensor bit for bit.
            assert_eq!(values(&model), base, "panic: {panic}");
        }
    }
}
