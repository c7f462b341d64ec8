//! `losscape direction`, `losscape surface`, `losscape export` and `losscape merge`: directions
//! for a checkpoint, 1D/2D loss surfaces over them (resumable, shardable), and their exports.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use losscape::core::Precision;
use losscape::data::DataSource;
use losscape::directions::{Direction, Ignore, Norm, RandomSpec, Scope};
use losscape::landscape::evaluate::LossKind;
use losscape::landscape::export::{write_csv, write_npz, write_vtp, ExportFormat, VtpOptions};
use losscape::landscape::job::{self, DirectionSource, GridRequest, SplitChoice, SurfaceRequest};
use losscape::landscape::{sampling, Axis, Grid, Sampling, Shard, Surface};
use losscape::models::ModelSource;

use crate::model_load::ModelArgs;
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
    /// Take the x (and y) axis from a surface .h5 file of the original loss-landscape code.
    #[arg(long, conflicts_with_all = ["x", "y"])]
    grid_from: Option<PathBuf>,
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
    /// Examples per forward pass (default: 32 on the CPU; on CUDA the largest power of two whose
    /// activations fit in half the GPU's free memory, at most 8192, else 1024).
    #[arg(long, value_parser = crate::guard::positive)]
    batch_size: Option<usize>,
    /// Precision of the evaluation: f32 | f64 | bf16 (default: the checkpoint's). bf16 runs the
    /// built-in networks' fast path in bf16 and checks the grid's centre and corners in f32
    /// (recorded in the surface).
    #[arg(long)]
    precision: Option<Precision>,
    #[command(flatten)]
    sampling: SamplingArgs,
    /// libtorch threads (default: all cores; under mpirun, the cores per rank on each machine).
    #[arg(long, value_parser = crate::guard::positive)]
    threads: Option<usize>,
    /// Grid points evaluated together in one forward pass (stacked weights as grouped
    /// convolutions; built-in f32 networks only; one process).
    #[arg(long, default_value_t = 1, value_parser = crate::guard::positive)]
    points_per_pass: usize,
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

/// How many examples each point evaluates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Samples {
    /// Every example of the split.
    All,
    /// A seeded permutation of the split, batch by batch, until the standard error of the mean
    /// loss is at most --rel-error times the mean (and at least --min-samples are seen).
    Auto,
}

/// Early stopping with error bars (`--samples auto`).
#[derive(Args, Clone, Debug)]
struct SamplingArgs {
    /// all = every example at every point; auto = stop each point early and store its standard
    /// errors and example count beside the values.
    #[arg(long, value_enum, default_value = "all")]
    samples: Samples,
    /// With --samples auto: stop once the standard error of the mean loss is at most this
    /// fraction of the mean [default: 0.01].
    #[arg(long)]
    rel_error: Option<f64>,
    /// With --samples auto: evaluate at least this many examples per point (whole batches)
    /// [default: 256].
    #[arg(long)]
    min_samples: Option<usize>,
    /// With --samples auto: seed of the permutation of each split [default: 0].
    #[arg(long)]
    sample_seed: Option<u64>,
}

impl SamplingArgs {
    fn sampling(&self) -> Result<Option<Sampling>> {
        if self.samples == Samples::All {
            if self.rel_error.is_some() || self.min_samples.is_some() || self.sample_seed.is_some() {
                anyhow::bail!("--rel-error, --min-samples and --sample-seed need --samples auto");
            }
            return Ok(None);
        }
        let min = self.min_samples.unwrap_or(sampling::DEFAULT_MIN_SAMPLES);
        let sampling = Sampling::new(self.rel_error.unwrap_or(0.01), min, self.sample_seed.unwrap_or(0))
            .context("--samples auto (--rel-error, --min-samples)")?;
        Ok(Some(sampling))
    }
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

/// The part of a grid job that `surface` and `hessian`'s map mode share, from their flags.
pub(crate) fn grid_request(
    model: ModelSource,
    directions: DirectionSource,
    data: Option<DataSource>,
    device: tch::Device,
    shard: Shard,
    save_every: f64,
) -> GridRequest {
    GridRequest { data, device, shard, save_interval: Duration::from_secs_f64(save_every.max(0.0)), ..GridRequest::new(model, directions) }
}

/// `losscape export`: write a surface as .npz, .csv, .vtp or the original code's .h5.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The surface file.
    surface: PathBuf,
    /// npz | csv | vtp | h5 (the original loss-landscape code's surface file; needs the `hdf5` feature).
    #[arg(long)]
    format: ExportFormat,
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
    let source = args.model.source(&args.checkpoint);
    let (model, meta) = source.load(tch::Device::Cpu, None)?;
    let checkpoint_hash = source.identity_hash()?;
    let count = if args.two { 2 } else { 1 };
    let directions = match (&args.target, &args.target2) {
        (Some(t), Some(t2)) => DirectionSource::Plane(t.clone(), t2.clone()),
        (Some(t), None) => DirectionSource::Interpolation(t.clone()),
        (None, _) => DirectionSource::Random(args.random.spec()),
    };
    let mut set = directions.direction_set(model.as_ref(), &meta, &source, &checkpoint_hash, count)?;
    if args.target.is_some() && args.target2.is_none() && args.two {
        // Target plus one random direction (the init->final + random figure).
        let spec = RandomSpec { scope: set.directions[0].scope, ..args.random.spec() };
        set.directions.push(Direction::random(model.as_ref(), &spec)?);
    }
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

pub fn surface(mut args: SurfaceArgs) -> Result<()> {
    if let Some(file) = &args.grid_from {
        (args.x, args.y) = crate::h5_cmd::read_axes(file)?;
    }
    if let Some(file) = &args.direction_file {
        crate::h5_cmd::check_supported(file)?;
    }
    let device = crate::device_cmd::resolve(&args.device)?;
    let inputs = [Some(&args.checkpoint), args.direction_file.as_ref(), args.interpolate_to.as_ref(), args.model.weights(), args.grid_from.as_ref()];
    crate::guard::refuse_overwrite(&args.out, inputs.into_iter().flatten().map(PathBuf::as_path))?;
    crate::guard::refuse_overwrite(&args.out, args.dataset.iter().filter_map(DataSource::path))?;
    // One writer per surface file; under mpirun only rank 0 writes, and it alone locks.
    let _lock = match crate::mpi_run::world().0 {
        0 => Some(crate::guard::lock(&args.out, args.wait)?),
        _ => None,
    };
    crate::mpi_run::set_threads(args.threads);
    let directions = match (&args.interpolate_to, &args.direction_file) {
        (Some(target), _) => DirectionSource::Interpolation(target.clone()),
        (None, Some(file)) => DirectionSource::File(file.clone()),
        (None, None) => DirectionSource::Random(args.random.spec()),
    };
    let request = SurfaceRequest {
        job: grid_request(args.model.source(&args.checkpoint), directions, args.dataset.clone(), device, args.shard, args.save_every),
        grid: Grid::new(args.x.clone(), args.y.clone())?,
        splits: match args.splits {
            Splits_::Train => SplitChoice::Train,
            Splits_::Test => SplitChoice::Test,
            Splits_::Both => SplitChoice::Both,
        },
        per_class: args.per_class,
        loss: args.loss,
        batch_size: args.batch_size,
        bn_extrapolation: match args.bn_extrapolation {
            BnExtrapolation::Undefined => job::BnExtrapolation::Undefined,
            BnExtrapolation::Floor => job::BnExtrapolation::Floor,
        },
        precision: args.precision,
        sampling: args.sampling.sampling()?,
    };
    let mut prepared = request.prepare()?;
    for note in &prepared.notes {
        eprintln!("note: {note}");
    }
    if args.batch_size.is_none() {
        // On CUDA: the batch that fits the GPU's free memory (or the one a resumed file records).
        if let Some(note) = prepared.fit_batch_to_memory(args.points_per_pass, Some(&args.out))? {
            eprintln!("note: {note}");
        }
    }
    if crate::mpi_run::world().0 == 0 {
        if let Some(check) = prepared.check_precision(&args.out)? {
            eprintln!("{check}");
        }
    }
    let bar = ProgressBar::new();
    // Spread over the ranks of an MPI job, if any; only rank 0 writes and reports.
    let report = if args.points_per_pass > 1 {
        if crate::mpi_run::world().1 > 1 {
            anyhow::bail!("--points-per-pass above 1 runs in one process, and this job has several MPI ranks: drop it or run without mpirun");
        }
        Some(losscape::landscape::grouped::run_grid_grouped(&prepared.job(), &mut prepared.metrics(), args.points_per_pass, &args.out, prepared.header.clone(), &bar)?)
    } else {
        crate::mpi_run::run_grid(&prepared.job(), &mut prepared.metrics(), &args.out, prepared.header.clone(), &bar)?
    };
    let Some(report) = report else {
        return Ok(());
    };
    drop(bar);
    eprintln!(
        "{}: computed {} point(s) in {:.3} s ({:.2} points/s), {} already done",
        args.out.display(),
        report.computed,
        report.seconds,
        report.points_per_second(),
        report.skipped
    );
    if prepared.sampling.is_some() {
        let surface = Surface::load(&args.out)?;
        for (split, data) in [("train", &prepared.train), ("test", &prepared.test)] {
            if let (Some(mean), Some(data)) = (sampling::mean_count(&surface, split), data) {
                let share = 100.0 * mean / data.len() as f64;
                eprintln!("{split}: {mean:.0} of {} examples per point on average ({share:.1}%)", data.len());
            }
        }
    }
    Ok(())
}

pub fn export(args: ExportArgs) -> Result<()> {
    let surface = Surface::load(&args.surface)?;
    let out = args.out.clone().unwrap_or_else(|| args.surface.with_extension(args.format.extension()));
    crate::guard::refuse_overwrite(&out, [args.surface.as_path()])?;
    match args.format {
        ExportFormat::Npz => write_npz(&surface, &out)?,
        ExportFormat::Csv => write_csv(&surface, &out)?,
        ExportFormat::Vtp => {
            let opts = VtpOptions { array: args.array.clone(), log: args.log, clip: args.clip, z_scale: args.z_scale };
            write_vtp(&surface, &opts, &out)?
        }
        ExportFormat::H5 => crate::h5_cmd::export(&surface, &out)?,
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
