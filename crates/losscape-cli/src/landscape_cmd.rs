//! `losscape direction`, `losscape surface`, `losscape export` and `losscape merge`: directions
//! for a checkpoint, 1D/2D loss surfaces over them (resumable, shardable), and their exports.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use losscape::core::{hash, parse_device, Precision};
use losscape::data::{DataSource, Dataset, Splits};
use losscape::directions::{Direction, DirectionSet, Ignore, Norm, Origin, RandomSpec, Scope, BN_VAR_FLOORED, BN_VAR_KEY, BN_VAR_UNDEFINED};
use losscape::landscape::evaluate::{Evaluator, LossKind};
use losscape::landscape::export::{write_csv, write_npz, write_vtp, VtpOptions};
use losscape::landscape::run::{metric_names, GridJob, LossMetrics};
use losscape::landscape::{Axis, Grid, Shard, Surface, SurfaceHeader};
use losscape::models::{CheckpointMeta, Model};

use crate::model_load::{check_scope, load_directions, load_model, model_hash, require_dataset, target_scope, ModelArgs};
use crate::progress::ProgressBar;

/// How random directions are made (shared by `direction` and `surface`).
#[derive(Args, Clone, Debug)]
pub struct RandomArgs {
    /// Normalization of random directions: filter | layer | weight | none.
    #[arg(long, default_value = "filter")]
    norm: Norm,
    /// Tensors of dim <= 1 (biases, BN): biasbn = zero there; none = the original's d = theta.
    #[arg(long, default_value = "biasbn")]
    ignore: Ignore,
    /// weights = trainable parameters only; states = also BN running mean/var.
    #[arg(long, default_value = "weights")]
    scope: Scope,
    /// Seed of the first direction (the second uses seed + 1).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

impl RandomArgs {
    pub(crate) fn spec(&self) -> RandomSpec {
        RandomSpec { norm: self.norm, ignore: self.ignore, scope: self.scope, seed: self.seed }
    }
}

/// `losscape direction`: make directions for a checkpoint and save them.
#[derive(Args, Debug)]
pub struct DirectionArgs {
    /// The base checkpoint theta* (or a TorchScript module).
    #[arg(long)]
    checkpoint: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    random: RandomArgs,
    /// Target direction: `TARGET - CHECKPOINT` (used as is, never normalized).
    #[arg(long)]
    target: Option<PathBuf>,
    /// With --target: a second target, giving the plane through three checkpoints.
    #[arg(long, requires = "target")]
    target2: Option<PathBuf>,
    /// Make two directions (a plane) instead of one.
    #[arg(long)]
    two: bool,
    /// Orthogonalize the second direction against the first.
    #[arg(long)]
    orthogonalize: bool,
    /// Output direction file (.safetensors).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    hessian: crate::spectrum_cmd::HessianDirectionArgs,
}

/// `losscape surface`: loss and accuracy over a 1D or 2D grid.
#[derive(Args, Debug)]
pub struct SurfaceArgs {
    /// The base checkpoint theta* (the grid's origin), or a TorchScript module.
    #[arg(long)]
    checkpoint: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    /// Directions from a file made by `losscape direction` (or a trajectory's PCA).
    #[arg(long, conflicts_with = "interpolate_to")]
    direction_file: Option<PathBuf>,
    /// 1D interpolation from the checkpoint (a=0) to this one (a=1), in the states scope.
    #[arg(long)]
    interpolate_to: Option<PathBuf>,
    /// States-scope surfaces (interpolations): where a point would need a negative BN running
    /// variance (extrapolating past either model), record it as undefined (NaN, drawn as a gap)
    /// or evaluate it with the variance floored at 0 (the network then scales that channel by
    /// 1/sqrt(eps) and its loss is usually astronomical). Recorded in the surface's header.
    #[arg(long, value_enum, default_value = "undefined")]
    bn_extrapolation: BnExtrapolation,
    #[command(flatten)]
    random: RandomArgs,
    /// x axis as min:max:num (e.g. -1:1:51; 0 may be an end point).
    #[arg(long, default_value = "-1:1:51", allow_hyphen_values = true)]
    x: Axis,
    /// y axis as min:max:num; omit for a 1D line.
    #[arg(long, allow_hyphen_values = true)]
    y: Option<Axis>,
    /// Data set to evaluate on; by default the one recorded in the checkpoint.
    #[arg(long)]
    dataset: Option<DataSource>,
    /// Which splits to evaluate.
    #[arg(long, value_enum, default_value = "both")]
    splits: Splits_,
    /// Evaluate on the first K examples of each class only (faster; recorded in the surface).
    #[arg(long, value_parser = crate::guard::positive)]
    per_class: Option<usize>,
    /// Loss: cross_entropy | mse_softmax | mse.
    #[arg(long, default_value = "cross_entropy")]
    loss: LossKind,
    /// Examples per forward pass (default: 32 on the CPU, 1024 on CUDA).
    #[arg(long, value_parser = crate::guard::positive)]
    batch_size: Option<usize>,
    /// libtorch threads (default: all cores; under mpirun, the cores per rank on each machine).
    #[arg(long, value_parser = crate::guard::positive)]
    threads: Option<usize>,
    /// cpu | cuda | cuda:N | auto.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Compute only shard i of n (0-based i), e.g. 0/4; merge the parts with `losscape merge`.
    #[arg(long, default_value = "0/1")]
    shard: Shard,
    /// Save progress at least every this many seconds.
    #[arg(long, default_value_t = 10.0, value_parser = crate::guard::non_negative_f64)]
    save_every: f64,
    /// Output surface file; an existing file with the same inputs is resumed.
    #[arg(long)]
    out: PathBuf,
    /// When another process is writing --out, wait for it to finish instead of stopping.
    #[arg(long)]
    wait: bool,
}

/// What a states-scope surface does where a BN running variance would be negative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BnExtrapolation {
    /// The point is recorded as computed with NaN metrics.
    Undefined,
    /// The point is evaluated with the negative entries floored at 0.
    Floor,
}

/// Which data splits a surface evaluates.
#[derive(Clone, Copy, Debug, ValueEnum)]
#[allow(non_camel_case_types)]
enum Splits_ {
    Train,
    Test,
    Both,
}

/// Export formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Npz,
    Csv,
    Vtp,
}

/// `losscape export`: write a surface as .npz, .csv or .vtp.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The surface file.
    surface: PathBuf,
    #[arg(long, value_enum)]
    format: Format,
    /// Output file (default: the surface's path with the format's extension).
    #[arg(long)]
    out: Option<PathBuf>,
    /// vtp: the array used as height.
    #[arg(long, default_value = "train_loss")]
    array: String,
    /// vtp: log10 of the height.
    #[arg(long)]
    log: bool,
    /// vtp: clip the height at this value.
    #[arg(long)]
    clip: Option<f64>,
    /// vtp: scale of the height axis.
    #[arg(long, default_value_t = 1.0)]
    z_scale: f64,
}

/// `losscape merge`: combine the shards of one surface into one file.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Shard files of one surface (same inputs).
    #[arg(required = true)]
    parts: Vec<PathBuf>,
    #[arg(long)]
    out: PathBuf,
}

pub fn direction(args: DirectionArgs) -> Result<()> {
    let inputs = [Some(&args.checkpoint), args.target.as_ref(), args.target2.as_ref(), args.model.weights()];
    crate::guard::refuse_overwrite(&args.out, inputs.into_iter().flatten().map(PathBuf::as_path))?;
    if args.hessian.requested() {
        let (spec, ortho) = (args.random.spec(), args.orthogonalize);
        return crate::spectrum_cmd::hessian_direction(&args.checkpoint, &args.model, &spec, ortho, &args.hessian, &args.out);
    }
    let (model, meta) = load_model(&args.checkpoint, tch::Device::Cpu, None, &args.model)?;
    let checkpoint_hash = model_hash(&args.checkpoint, &args.model)?;
    let mut set = match &args.target {
        Some(target) => {
            let mut dirs = vec![target_direction(model.as_ref(), target, &args.model)?];
            if let Some(t2) = &args.target2 {
                dirs.push(target_direction(model.as_ref(), t2, &args.model)?);
            }
            let mut targets = Vec::new();
            for t in [Some(target), args.target2.as_ref()].into_iter().flatten() {
                targets.push(hash::sha256_file(t)?);
            }
            if args.two && dirs.len() == 1 {
                // Target plus one random direction (the init->final + random figure).
                let spec = RandomSpec { scope: dirs[0].scope, ..args.random.spec() };
                dirs.push(Direction::random(model.as_ref(), &spec)?);
            }
            let mut set = DirectionSet::new(dirs, meta.spec.clone(), checkpoint_hash, Origin::Target { targets })?;
            // Between models whose running statistics stay behind, only batch statistics are
            // right along the path: the file says so, and surfaces check it.
            set.meta.batch_stats = model.unlisted_state().is_some() && args.model.batch_stats();
            set
        }
        None => {
            check_scope(model.as_ref(), args.random.scope)?;
            let count = if args.two { 2 } else { 1 };
            DirectionSet::random(model.as_ref(), &args.random.spec(), count, &checkpoint_hash)?
        }
    };
    if args.orthogonalize {
        set.orthogonalize()?;
    }
    set.save(&args.out)?;
    eprintln!(
        "wrote {} direction(s) ({:?}) for {} to {}",
        set.directions.len(),
        set.meta.origin,
        meta.spec,
        args.out.display()
    );
    Ok(())
}

fn target_direction(model: &dyn Model, target: &Path, args: &ModelArgs) -> Result<Direction> {
    let scope = target_scope(model, args)?;
    let (other, _) = load_model(target, model.device(), Some(Precision::from_kind(model.kind())), args)?;
    Direction::between(model, other.as_ref(), scope)
        .with_context(|| format!("making the direction towards {}", target.display()))
}

pub fn surface(args: SurfaceArgs) -> Result<()> {
    let device = parse_device(&args.device)?;
    let inputs = [Some(&args.checkpoint), args.direction_file.as_ref(), args.interpolate_to.as_ref(), args.model.weights()];
    crate::guard::refuse_overwrite(&args.out, inputs.into_iter().flatten().map(PathBuf::as_path))?;
    crate::guard::refuse_overwrite(&args.out, args.dataset.iter().filter_map(DataSource::path))?;
    // One writer per surface file; under mpirun only rank 0 writes, and it alone locks.
    let _lock = match crate::mpi_run::world().0 {
        0 => Some(crate::guard::lock(&args.out, args.wait)?),
        _ => None,
    };
    crate::mpi_run::set_threads(args.threads);
    let threads = tch::get_num_threads().max(1) as usize;
    let (model, meta) = load_model(&args.checkpoint, device, None, &args.model)?;
    let checkpoint_hash = model_hash(&args.checkpoint, &args.model)?;

    let (directions, directions_hash, method) = if let Some(target) = &args.interpolate_to {
        let d = target_direction(model.as_ref(), target, &args.model)?;
        let h = format!("interpolation to {}", hash::sha256_file(target)?);
        (vec![d], h, format!("interpolate to {}", target.display()))
    } else if let Some(file) = &args.direction_file {
        let set = load_directions(file, &args.model)?;
        set.check_fits(model.as_ref())?;
        if !set.meta.checkpoint_hash.is_empty() && set.meta.checkpoint_hash != checkpoint_hash {
            eprintln!("note: {} was made for another checkpoint (hash differs); using it anyway", file.display());
        }
        let h = set.hash()?;
        (set.to(device, model.kind())?, h, format!("direction file {}", file.display()))
    } else {
        let count = if args.y.is_some() { 2 } else { 1 };
        check_scope(model.as_ref(), args.random.scope)?;
        let set = DirectionSet::random(model.as_ref(), &args.random.spec(), count, &checkpoint_hash)?;
        let h = set.hash()?;
        (set.directions, h, args.random.spec().to_string())
    };
    let dims = if args.y.is_some() { 2 } else { 1 };
    if directions.len() < dims {
        bail!("a {dims}D surface needs {dims} directions but only {} are available", directions.len());
    }
    let directions: Vec<Direction> = directions.into_iter().take(dims).collect();

    let (source, splits) = load_data(args.dataset.as_ref(), &meta)?;
    let (train, test) = prepare(&splits, &meta, args.per_class, model.kind(), device)?;
    let (train, test) = match args.splits {
        Splits_::Train => (Some(train), None),
        Splits_::Test => (None, Some(test)),
        Splits_::Both => (Some(train), Some(test)),
    };
    let mut evaluator = Evaluator::new(device, args.loss);
    if let Some(b) = args.batch_size {
        evaluator.batch_size = b;
    }
    let grid = Grid::new(args.x.clone(), args.y.clone())?;
    let mut header = SurfaceHeader::new(grid, metric_names(train.is_some(), test.is_some()));
    header.checkpoint = args.checkpoint.display().to_string();
    header.checkpoint_hash = checkpoint_hash;
    header.directions_hash = directions_hash;
    header.method = method;
    header.data = match args.per_class {
        Some(k) => format!("{source} (first {k} per class)"),
        None => source.to_string(),
    };
    header.loss = args.loss.to_string();
    header.batch_size = evaluator.batch_size;
    header.threads = threads;
    header.dtype = Precision::from_kind(model.kind()).to_string();
    if directions.iter().any(|d| d.scope == Scope::States) {
        // Where an extrapolated BN running variance would be negative the point is no network on
        // the line: undefined (NaN) by default, or evaluated with the variance floored at 0.
        let policy = match args.bn_extrapolation {
            BnExtrapolation::Undefined => BN_VAR_UNDEFINED,
            BnExtrapolation::Floor => BN_VAR_FLOORED,
        };
        header.extra.insert(BN_VAR_KEY.into(), policy.into());
    }

    let job = GridJob {
        model: model.as_ref(),
        directions: &directions,
        shard: args.shard,
        save_interval: Duration::from_secs_f64(args.save_every.max(0.0)),
    };
    let mut metrics = LossMetrics { evaluator, train: train.as_ref(), test: test.as_ref() };
    let bar = ProgressBar::new();
    // Spread over the ranks of an MPI job, if any; only rank 0 writes and reports.
    let Some(report) = crate::mpi_run::run_grid(&job, &mut metrics, &args.out, header, &bar)? else {
        return Ok(());
    };
    drop(bar);
    eprintln!(
        "{}: computed {} point(s) in {:.1} s ({:.2} points/s), {} already done",
        args.out.display(),
        report.computed,
        report.seconds,
        report.points_per_second(),
        report.skipped
    );
    Ok(())
}

/// The data source given on the command line, else the one the checkpoint records (the embedded
/// set when it records none), and its splits.
pub(crate) fn load_data(given: Option<&DataSource>, meta: &CheckpointMeta) -> Result<(DataSource, Splits)> {
    require_dataset(meta, given.is_some())?;
    let source = match given {
        Some(s) => s.clone(),
        None => meta
            .data
            .as_deref()
            .unwrap_or("fashion-mnist-mini")
            .parse()
            .context("the checkpoint's recorded data source")?,
    };
    let splits = source.load().with_context(|| format!("loading data {source}"))?;
    Ok((source, splits))
}

/// Normalizes both splits as the checkpoint's training did, optionally subsets them, and moves
/// them to the device in the model's kind, once for the whole run.
pub(crate) fn prepare(
    splits: &Splits,
    meta: &CheckpointMeta,
    per_class: Option<usize>,
    kind: tch::Kind,
    device: tch::Device,
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
            bail!(
                "{} has {} channel(s) and {} classes, but the checkpoint's model expects {} and {}",
                d.name,
                d.channels(),
                d.num_classes,
                meta.in_channels,
                meta.num_classes
            );
        }
        out.push(d.to_kind(kind)?.to_device(device)?);
    }
    let test = out.pop().expect("two splits");
    let train = out.pop().expect("two splits");
    Ok((train, test))
}

pub fn export(args: ExportArgs) -> Result<()> {
    let surface = Surface::load(&args.surface)?;
    let ext = match args.format {
        Format::Npz => "npz",
        Format::Csv => "csv",
        Format::Vtp => "vtp",
    };
    let out = args.out.clone().unwrap_or_else(|| args.surface.with_extension(ext));
    crate::guard::refuse_overwrite(&out, [args.surface.as_path()])?;
    match args.format {
        Format::Npz => write_npz(&surface, &out)?,
        Format::Csv => write_csv(&surface, &out)?,
        Format::Vtp => {
            let opts = VtpOptions { array: args.array.clone(), log: args.log, clip: args.clip, z_scale: args.z_scale };
            write_vtp(&surface, &opts, &out)?
        }
    }
    if !surface.is_complete() {
        eprintln!("note: {} of {} points are not computed yet", surface.len() - surface.done_count(), surface.len());
    }
    eprintln!("wrote {}", out.display());
    Ok(())
}

pub fn merge(args: MergeArgs) -> Result<()> {
    crate::guard::refuse_overwrite(&args.out, args.parts.iter().map(PathBuf::as_path))?;
    let _lock = crate::guard::lock(&args.out, false)?;
    let mut merged = Surface::load(&args.parts[0])?;
    for part in &args.parts[1..] {
        merged.merge(&Surface::load(part)?).with_context(|| format!("merging {}", part.display()))?;
    }
    merged.save(&args.out)?;
    eprintln!("{}: {} of {} points done", args.out.display(), merged.done_count(), merged.len());
    Ok(())
}
