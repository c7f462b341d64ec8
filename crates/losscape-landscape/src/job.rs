//! Grid jobs as requests: where the model comes from ([`ModelSource`]), where its directions
//! come from ([`DirectionSource`]), which data, and which metrics. A request resolves all of it
//! (loading the model once, hashing it once) into a prepared job that fills its own
//! [`SurfaceHeader`] and runs through [`run_grid`] or any other dispatcher of a [`GridJob`].
//! Loss surfaces are [`SurfaceRequest`]s; the Hessian map (losscape-curvature) is the same
//! [`GridRequest`] with other metrics.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use losscape_core::{hash, Precision, Progress};
use losscape_data::{DataSource, Dataset, Splits};
use losscape_directions::{
    Direction, DirectionSet, Origin, RandomSpec, Scope, BN_VAR_FLOORED, BN_VAR_KEY, BN_VAR_UNDEFINED,
};
use losscape_models::torchscript::TORCHSCRIPT_SPEC;
use losscape_models::{check_input_file, CheckpointMeta, Model, ModelSource};
use tch::Device;

use crate::error::{Error, Result};
use crate::evaluate::{Evaluator, LossKind};
use crate::grid::{Grid, Shard};
use crate::run::{metric_names, run_grid, GridJob, LossMetrics, RunReport};
use crate::sampled::permuted;
use crate::surface::SurfaceHeader;
use losscape_surface::Sampling;

/// An input a job refuses because of what the model can do; the caller knows which of its
/// options would change it (the message says what is needed in words).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// A direction file made between models whose BN running statistics cannot move, used
    /// without batch statistics.
    DirectionsNeedBatchStats { file: PathBuf },
    /// The states scope for a model whose BN statistics cannot be reached (`reason` says why).
    StatesScopeUnreachable { reason: String },
    /// A direction between two models whose BN statistics cannot be reached, without batch
    /// statistics.
    TargetNeedsBatchStats { reason: String },
    /// A TorchScript module, which records no data set, and no data set given.
    NoDataSet,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::DirectionsNeedBatchStats { file } => write!(
                f,
                "{} runs between models whose BN running statistics cannot move (it was made with batch statistics): \
                 evaluate with batch statistics too, so each point is evaluated with its own batch statistics",
                file.display()
            ),
            Refusal::StatesScopeUnreachable { reason } => write!(
                f,
                "the states scope also moves the BN running statistics, but {reason}: use the weights scope"
            ),
            Refusal::TargetNeedsBatchStats { reason } => write!(
                f,
                "a direction between two models moves their BN running statistics too, but {reason}: evaluate batch \
                 normalization with the statistics of each evaluated batch"
            ),
            Refusal::NoDataSet => write!(f, "a TorchScript module records no data set: give one (e.g. npz:data.npz)"),
        }
    }
}

impl std::error::Error for Refusal {}

/// Where a job's directions come from.
#[derive(Clone, Debug, PartialEq)]
pub enum DirectionSource {
    /// A direction file (made by a direction job, or a trajectory's PCA).
    File(PathBuf),
    /// Seeded random directions (the second uses seed + 1), drawn from the model in its stored
    /// precision on the CPU, so their hash is the same for every job over them.
    Random(RandomSpec),
    /// The direction from the model to this one (a 1D interpolation, `a = 1` at the far model).
    Interpolation(PathBuf),
    /// The plane through the model and two others: the directions to each.
    Plane(PathBuf, PathBuf),
}

/// A job's directions, resolved against its model.
pub struct ResolvedDirections {
    /// The directions the grid uses, on the model's device and kind.
    pub directions: Vec<Direction>,
    /// Their hash as a surface records it.
    pub hash: String,
    /// How they were made, in words (the surface's `method`).
    pub method: String,
    /// Things the caller may want to tell the user (e.g. a direction file made for another model).
    pub notes: Vec<String>,
}

impl DirectionSource {
    /// The full direction set (`count` directions where the source makes them) for `model`,
    /// loaded from `source` whose identity hash is `checkpoint_hash`.
    pub fn direction_set(
        &self,
        model: &dyn Model,
        meta: &CheckpointMeta,
        source: &ModelSource,
        checkpoint_hash: &str,
        count: usize,
    ) -> Result<DirectionSet> {
        let targets = |paths: &[&PathBuf]| -> Result<DirectionSet> {
            let mut dirs = Vec::new();
            let mut hashes = Vec::new();
            for t in paths {
                dirs.push(target_direction(model, source, t)?);
                hashes.push(hash::sha256_file(t)?);
            }
            let mut set = DirectionSet::new(dirs, meta.spec.clone(), checkpoint_hash.into(), Origin::Target { targets: hashes })?;
            // Between models whose running statistics stay behind, only batch statistics are
            // right along the path: the set says so, and jobs over a saved copy check it.
            set.meta.batch_stats = model.unlisted_state().is_some() && source.batch_stats();
            Ok(set)
        };
        match self {
            DirectionSource::File(file) if crate::h5::is_hdf5_file(file) => read_h5_directions(file, model),
            DirectionSource::File(file) => load_directions(file, source),
            DirectionSource::Random(spec) => {
                check_scope(model, spec.scope)?;
                if model.device() == Device::Cpu && Precision::from_kind(model.kind()) == meta.precision()? {
                    Ok(DirectionSet::random(model, spec, count, checkpoint_hash)?)
                } else {
                    let (stored, _) = source.load(Device::Cpu, None)?;
                    Ok(DirectionSet::random(stored.as_ref(), spec, count, checkpoint_hash)?)
                }
            }
            DirectionSource::Interpolation(target) => targets(&[target]),
            DirectionSource::Plane(first, second) => targets(&[first, second]),
        }
    }

    /// The first `dims` directions for `model` on its device and kind, their hash and method;
    /// `what` names the job in errors ("surface", "map").
    pub fn resolve(
        &self,
        model: &dyn Model,
        meta: &CheckpointMeta,
        source: &ModelSource,
        checkpoint_hash: &str,
        dims: usize,
        what: &str,
    ) -> Result<ResolvedDirections> {
        let set = self.direction_set(model, meta, source, checkpoint_hash, dims)?;
        set.check_fits(model)?;
        let mut notes = Vec::new();
        if let DirectionSource::File(file) = self {
            if !set.meta.checkpoint_hash.is_empty() && set.meta.checkpoint_hash != checkpoint_hash {
                notes.push(format!("{} was made for another checkpoint (hash differs); using it anyway", file.display()));
            }
        }
        let (hash, method) = match self {
            DirectionSource::File(file) => (set.hash()?, format!("direction file {}", file.display())),
            DirectionSource::Random(spec) => (set.hash()?, spec.to_string()),
            DirectionSource::Interpolation(target) => (
                format!("interpolation to {}", hash::sha256_file(target)?),
                format!("interpolate to {}", target.display()),
            ),
            DirectionSource::Plane(first, second) => {
                (set.hash()?, format!("plane through {} and {}", first.display(), second.display()))
            }
        };
        if set.directions.len() < dims {
            return Err(Error::invalid(format!(
                "a {dims}D {what} needs {dims} directions but only {} are available",
                set.directions.len()
            )));
        }
        let directions = set.to(model.device(), model.kind())?.into_iter().take(dims).collect();
        Ok(ResolvedDirections { directions, hash, method, notes })
    }
}

/// Reads a direction file, refusing one made between models whose BN running statistics cannot
/// move (it records `batch_stats`) unless `source` evaluates with batch statistics: along it,
/// the first model's hidden running statistics would otherwise be used at every point.
pub fn load_directions(file: &Path, source: &ModelSource) -> Result<DirectionSet> {
    check_input_file(file, "direction file")?;
    let set = DirectionSet::load(file).map_err(|e| Error::from(e).context(format!("reading directions {}", file.display())))?;
    if set.meta.batch_stats && !source.batch_stats() {
        return Err(Refusal::DirectionsNeedBatchStats { file: file.to_path_buf() }.into());
    }
    Ok(set)
}

/// The original loss-landscape code's direction file (HDF5), its positional tensors matched to
/// `model`'s parameters or state dict; refused when this build has no HDF5 support.
fn read_h5_directions(file: &Path, model: &dyn Model) -> Result<DirectionSet> {
    check_input_file(file, "direction file")?;
    #[cfg(feature = "hdf5")]
    {
        crate::h5::read_directions(file, model)
            .map_err(|e| e.context(format!("reading the original loss-landscape direction file {}", file.display())))
    }
    #[cfg(not(feature = "hdf5"))]
    {
        let _ = model;
        Err(Error::invalid(format!(
            "{} is an HDF5 file (the original loss-landscape code's), but this build has no HDF5 support (the cargo feature `hdf5`)",
            file.display()
        )))
    }
}

/// Refuses the `states` scope for a model whose BN statistics cannot be reached.
pub fn check_scope(model: &dyn Model, scope: Scope) -> Result<()> {
    if let (Scope::States, Some(reason)) = (scope, model.unlisted_state()) {
        return Err(Refusal::StatesScopeUnreachable { reason: reason.to_string() }.into());
    }
    Ok(())
}

/// The scope of model-to-model directions: `states` (parameters and BN statistics), or `weights`
/// for a model whose BN statistics cannot be reached, which then must evaluate with batch
/// statistics: its hidden running statistics would stay those of the first model.
pub fn target_scope(model: &dyn Model, source: &ModelSource) -> Result<Scope> {
    match model.unlisted_state() {
        None => Ok(Scope::States),
        Some(_) if source.batch_stats() => Ok(Scope::Weights),
        Some(reason) => Err(Refusal::TargetNeedsBatchStats { reason: reason.to_string() }.into()),
    }
}

/// The direction from `model` to the model in `target`, loaded as `source` loads its model, on
/// the same device and in the same precision.
pub fn target_direction(model: &dyn Model, source: &ModelSource, target: &Path) -> Result<Direction> {
    let scope = target_scope(model, source)?;
    let (other, _) = source.with_checkpoint(target).load(model.device(), Some(Precision::from_kind(model.kind())))?;
    Direction::between(model, other.as_ref(), scope)
        .map_err(|e| Error::from(e).context(format!("making the direction towards {}", target.display())))
}

/// The given data source, else the one the checkpoint records (the embedded set when it records
/// none), and its splits. A TorchScript module records none, so it needs one given.
pub fn load_data(given: Option<&DataSource>, meta: &CheckpointMeta) -> Result<(DataSource, Splits)> {
    if meta.spec == TORCHSCRIPT_SPEC && given.is_none() {
        return Err(Refusal::NoDataSet.into());
    }
    let source = match given {
        Some(s) => s.clone(),
        None => meta
            .data
            .as_deref()
            .unwrap_or("fashion-mnist-mini")
            .parse()
            .map_err(|e| Error::from(e).context("the checkpoint's recorded data source"))?,
    };
    let splits = source.load().map_err(|e| Error::from(e).context(format!("loading data {source}")))?;
    Ok((source, splits))
}

/// Normalizes both splits as the checkpoint's training did, optionally keeps the first
/// `per_class` examples of each class, and moves them to the device in the model's kind, once
/// for the whole job.
pub fn prepare_splits(
    splits: &Splits,
    meta: &CheckpointMeta,
    per_class: Option<usize>,
    kind: tch::Kind,
    device: Device,
) -> Result<(Dataset, Dataset)> {
    let mut out = Vec::new();
    for d in [&splits.train, &splits.test] {
        let d = match per_class {
            Some(k) => d.first_per_class(k)?,
            None => d.clone(),
        };
        let d = match &meta.normalization {
            Some(n) => d.normalized(n)?,
            None => d,
        };
        // 0 = unknown (a TorchScript module without a convolution or linear layer to read it off).
        let fits = |have: i64, want: i64| want == 0 || have == want;
        if !fits(d.channels(), meta.in_channels) || !fits(d.num_classes, meta.num_classes) {
            return Err(Error::invalid(format!(
                "{} has {} channel(s) and {} classes, but the checkpoint's model expects {} and {}",
                d.name,
                d.channels(),
                d.num_classes,
                meta.in_channels,
                meta.num_classes
            )));
        }
        out.push(d.to_kind(kind)?.to_device(device)?);
    }
    let test = out.pop().expect("two splits");
    let train = out.pop().expect("two splits");
    Ok((train, test))
}

/// What every grid job needs whatever it computes: the model, its directions, the data set
/// (default: the checkpoint's), the device, and which points to compute how often saved.
#[derive(Clone, Debug)]
pub struct GridRequest {
    pub model: ModelSource,
    pub directions: DirectionSource,
    pub data: Option<DataSource>,
    pub device: Device,
    pub shard: Shard,
    pub save_interval: Duration,
}

/// A [`GridRequest`]'s model loaded and its directions resolved, with the header fields that
/// every grid job records filled.
pub struct Resolved {
    pub model: Box<dyn Model>,
    pub meta: CheckpointMeta,
    pub directions: ResolvedDirections,
}

impl GridRequest {
    /// A request for the model in `checkpoint` with random filter-normalized directions, the
    /// checkpoint's data, on the CPU, every point, saved every 10 s.
    pub fn new(model: ModelSource, directions: DirectionSource) -> Self {
        GridRequest {
            model,
            directions,
            data: None,
            device: Device::Cpu,
            shard: Shard::default(),
            save_interval: Duration::from_secs(10),
        }
    }

    /// Loads the model (in `precision`, default: as saved) and the model's identity hash.
    pub fn load_model(&self, precision: Option<Precision>) -> Result<(Box<dyn Model>, CheckpointMeta, String)> {
        let (model, meta) = self.model.load(self.device, precision)?;
        let hash = self.model.identity_hash()?;
        Ok((model, meta, hash))
    }

    /// Fills the fields of `header` that name the model and the directions.
    pub fn fill_header(&self, header: &mut SurfaceHeader, checkpoint_hash: String, directions: &ResolvedDirections) {
        header.checkpoint = self.model.checkpoint.display().to_string();
        header.checkpoint_hash = checkpoint_hash;
        header.directions_hash = directions.hash.clone();
        header.method = directions.method.clone();
        header.threads = tch::get_num_threads().max(1) as usize;
    }
}

/// Which data splits a loss surface evaluates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SplitChoice {
    Train,
    Test,
    #[default]
    Both,
}

/// What a states-scope surface does where a BN running variance would be negative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BnExtrapolation {
    /// The point is recorded as computed with NaN metrics.
    #[default]
    Undefined,
    /// The point is evaluated with the negative entries floored at 0.
    Floor,
}

/// A loss surface: loss and accuracy over `grid` on the chosen splits.
#[derive(Clone, Debug)]
pub struct SurfaceRequest {
    pub job: GridRequest,
    pub grid: Grid,
    pub splits: SplitChoice,
    /// Evaluate on the first `k` examples of each class only (recorded in the header).
    pub per_class: Option<usize>,
    pub loss: LossKind,
    /// Examples per forward pass (default: the evaluator's for the device).
    pub batch_size: Option<usize>,
    pub bn_extrapolation: BnExtrapolation,
    /// The evaluation's precision (default: the checkpoint's). bf16 evaluates an f32 model
    /// through its fast path in bf16 ([`crate::precision`]).
    pub precision: Option<Precision>,
    /// Stop each point early with error bars (recorded in the header; see [`crate::sampled`]);
    /// `None` evaluates every example.
    pub sampling: Option<Sampling>,
}

/// A loss surface ready to run: the loaded model, its directions, the data on the device, the
/// evaluator and the filled header.
pub struct PreparedSurface {
    pub model: Box<dyn Model>,
    pub meta: CheckpointMeta,
    pub directions: Vec<Direction>,
    pub train: Option<Dataset>,
    pub test: Option<Dataset>,
    pub evaluator: Evaluator,
    pub header: SurfaceHeader,
    pub shard: Shard,
    pub save_interval: Duration,
    /// Things to tell the user (see [`ResolvedDirections::notes`]).
    pub notes: Vec<String>,
    /// The precision the points are evaluated in (the header's `dtype`).
    pub precision: Precision,
    /// The request's sampling; with it, `train` and `test` are in its seeded order.
    pub sampling: Option<Sampling>,
}

impl SurfaceRequest {
    /// Loads the model, resolves the directions, loads and prepares the data, and fills the header.
    pub fn prepare(&self) -> Result<PreparedSurface> {
        let job = &self.job;
        // bf16 evaluates an f32 model through its plan in bf16.
        let load_as = match self.precision {
            Some(Precision::Bf16) => Some(Precision::F32),
            other => other,
        };
        let (model, meta, checkpoint_hash) = job.load_model(load_as)?;
        let precision = self.precision.unwrap_or_else(|| Precision::from_kind(model.kind()));
        crate::precision::plan_in(model.as_ref(), precision)?;
        let dims = if self.grid.is_2d() { 2 } else { 1 };
        let resolved = job.directions.resolve(model.as_ref(), &meta, &job.model, &checkpoint_hash, dims, "surface")?;
        let (source, splits) = load_data(job.data.as_ref(), &meta)?;
        let (train, test) = prepare_splits(&splits, &meta, self.per_class, model.kind(), job.device)?;
        let (train, test) = match self.splits {
            SplitChoice::Train => (Some(train), None),
            SplitChoice::Test => (None, Some(test)),
            SplitChoice::Both => (Some(train), Some(test)),
        };
        // A sampled evaluation walks each split in one seeded order, the same at every point.
        let order = |d: Option<Dataset>| -> Result<Option<Dataset>> {
            match (d, &self.sampling) {
                (Some(d), Some(s)) => Ok(Some(permuted(&d, s.seed)?)),
                (d, _) => Ok(d),
            }
        };
        let (train, test) = (order(train)?, order(test)?);
        let mut evaluator = Evaluator::new(job.device, self.loss);
        if let Some(b) = self.batch_size {
            evaluator.batch_size = b;
        }
        let mut names = metric_names(train.is_some(), test.is_some());
        if self.sampling.is_some() {
            names = Sampling::arrays(&names);
        }
        let mut header = SurfaceHeader::new(self.grid.clone(), names);
        header.sampling = self.sampling;
        job.fill_header(&mut header, checkpoint_hash, &resolved);
        header.data = match self.per_class {
            Some(k) => format!("{source} (first {k} per class)"),
            None => source.to_string(),
        };
        header.loss = self.loss.to_string();
        header.batch_size = evaluator.batch_size;
        header.dtype = precision;
        if resolved.directions.iter().any(|d| d.scope == Scope::States) {
            // Where an extrapolated BN running variance would be negative the point is no network
            // on the line: undefined (NaN) by default, or evaluated with the variance floored at 0.
            let policy = match self.bn_extrapolation {
                BnExtrapolation::Undefined => BN_VAR_UNDEFINED,
                BnExtrapolation::Floor => BN_VAR_FLOORED,
            };
            header.extra.insert(BN_VAR_KEY.into(), policy.into());
        }
        Ok(PreparedSurface {
            model,
            meta,
            directions: resolved.directions,
            train,
            test,
            evaluator,
            header,
            shard: job.shard,
            save_interval: job.save_interval,
            notes: resolved.notes.into_iter().chain(crate::precision::emulation_note(precision, job.device)).collect(),
            precision,
            sampling: self.sampling,
        })
    }
}

impl PreparedSurface {
    /// The grid job (model, directions, shard, save interval) for a dispatcher.
    pub fn job(&self) -> GridJob<'_> {
        GridJob {
            model: self.model.as_ref(),
            directions: &self.directions,
            shard: self.shard,
            save_interval: self.save_interval,
        }
    }

    /// The loss metrics over the prepared splits, in the surface's precision.
    pub fn metrics(&self) -> LossMetrics<'_> {
        self.metrics_in(self.precision)
    }

    fn metrics_in(&self, precision: Precision) -> LossMetrics<'_> {
        let mut metrics = LossMetrics::new(self.model.as_ref(), self.evaluator.clone(), self.train.as_ref(), self.test.as_ref())
            .with_sampling(self.sampling);
        // `prepare` checked that the plan exists in the surface's precision.
        if let Ok(plan) = crate::precision::plan_in(self.model.as_ref(), precision) {
            metrics.plan = plan;
        }
        metrics
    }

    /// For a bf16 surface, recomputes the centre and the corners of the grid in f32, records the
    /// comparison in the header (see [`crate::precision`]) and returns it; `None` in other
    /// precisions. [`run`](PreparedSurface::run) does it when the header lacks it. A surface file
    /// at `out` that this job could not resume is refused first, before anything is computed.
    pub fn check_precision(&mut self, out: &Path) -> Result<Option<crate::precision::PrecisionCheck>> {
        if self.precision == Precision::Bf16 && out.exists() {
            crate::surface::Surface::open_or_create(out, self.header.clone())?;
        }
        let check = self.compute_check()?;
        if let Some(check) = &check {
            check.record(&mut self.header);
        }
        Ok(check)
    }

    fn compute_check(&self) -> Result<Option<crate::precision::PrecisionCheck>> {
        if self.precision != Precision::Bf16 {
            return Ok(None);
        }
        let check = crate::precision::check_bf16(&self.job(), &mut self.metrics(), &mut self.metrics_in(Precision::F32), &self.header)?;
        Ok(Some(check))
    }

    /// Computes the pending points of the shard into the surface file at `path` in this process
    /// (a bf16 surface first gets its check against f32, as [`check_precision`](Self::check_precision)
    /// makes it, unless its header has it).
    pub fn run(&self, path: &Path, progress: &dyn Progress) -> Result<RunReport> {
        let mut header = self.header.clone();
        if self.precision == Precision::Bf16 && crate::precision::PrecisionCheck::from_header(&header).is_none() {
            if path.exists() {
                crate::surface::Surface::open_or_create(path, header.clone())?;
            }
            if let Some(check) = self.compute_check()? {
                check.record(&mut header);
            }
        }
        run_grid(&self.job(), &mut self.metrics(), path, header, progress)
    }
}
