//! `losscape hessian`: the extreme eigenvalues of the loss Hessian of a checkpoint, either at the
//! checkpoint itself (printed, with a trace estimate and optionally the power-iteration baseline
//! and fresh residual checks) or at every point of a 1D/2D grid over directions (the paper's
//! `|lambda_min / lambda_max|` map, in a resumable, shardable surface file).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use losscape::core::Precision;
use losscape::curvature::job::load_model_and_subset;
use losscape::curvature::{
    extremes_by_power, hutchinson, lanczos, residual_check, HessianMapRequest, HessianOperator, HvpOptions, LanczosOptions,
    MapGrid, ParamSet, PowerOptions, PreparedMap,
};
use losscape::data::{DataSource, Dataset};
use losscape::landscape::evaluate::{LossKind, CUDA_BATCH_SIZE};
use losscape::landscape::job::DirectionSource;
use losscape::landscape::{Axis, Grid, Shard};
use losscape::models::{CheckpointMeta, Model};

use crate::landscape_cmd::{grid_request, RandomArgs};
use crate::model_load::ModelArgs;
use crate::progress::ProgressBar;

/// The Hessian's data and products, shared by `losscape hessian` and `losscape spectrum`: data set,
/// samples, loss, parameters, batch, precision, threads, device.
#[derive(Args, Debug, Clone)]
pub struct HessianData {
    /// Data set; by default the one recorded in the checkpoint. The training split is used.
    #[arg(long)]
    pub(crate) dataset: Option<DataSource>,
    /// Examples the loss is averaged over: the first ceil(N / classes) of each class of the
    /// training split, in file order (N = 500 on 10 classes: 50 per class; with `spectrum
    /// --repeats R`, that many per subset).
    #[arg(long, default_value_t = 500, value_parser = crate::guard::positive)]
    pub(crate) samples: usize,
    /// Loss: cross_entropy | mse_softmax | mse.
    #[arg(long, default_value = "cross_entropy")]
    pub(crate) loss: LossKind,
    /// Parameters of the Hessian: weights (tensors of dim > 1, the paper's choice) | all.
    #[arg(long, default_value = "weights")]
    pub(crate) params: ParamSet,
    /// Examples per double-backward batch (default: 128 on the CPU, 1024 on CUDA).
    #[arg(long, value_parser = crate::guard::positive)]
    pub(crate) batch_size: Option<usize>,
    /// Precision of the products: f32 | f64 (default: the checkpoint's).
    #[arg(long)]
    pub(crate) precision: Option<Precision>,
    /// libtorch threads (default: all cores; under mpirun, the cores per rank on each machine).
    #[arg(long, value_parser = crate::guard::positive)]
    pub(crate) threads: Option<usize>,
    /// cpu | cuda | cuda:N | auto.
    #[arg(long, default_value = "cpu")]
    pub(crate) device: String,
}

/// `losscape hessian`: Hessian eigenvalues at a checkpoint or over a grid.
#[derive(Args, Debug)]
pub struct HessianArgs {
    /// The checkpoint theta* (the grid's origin), or a TorchScript module.
    #[arg(long)]
    checkpoint: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    /// Map mode: directions from a file made by `losscape direction` (default: random directions
    /// from the options below, the same as `losscape surface` draws).
    #[arg(long)]
    direction_file: Option<PathBuf>,
    #[command(flatten)]
    random: RandomArgs,
    /// Map mode over the grid of this loss surface; its directions must be the ones given here
    /// (checked by hash), so the map lies exactly under the surface.
    #[arg(long, conflicts_with_all = ["x", "y"])]
    surface: Option<PathBuf>,
    /// Map mode: x axis as min:max:num (without --x or --surface: one point, the checkpoint).
    #[arg(long, allow_hyphen_values = true)]
    x: Option<Axis>,
    /// Map mode: y axis as min:max:num; omit for a 1D line.
    #[arg(long, requires = "x", allow_hyphen_values = true)]
    y: Option<Axis>,
    /// Map mode: output surface file (arrays min_eig, max_eig, abs_ratio, hvps, converged); an
    /// existing file made with the same inputs is resumed.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Map mode: compute only shard i of n (0-based i); merge the parts with `losscape merge`.
    #[arg(long, default_value = "0/1")]
    shard: Shard,
    /// Map mode: save progress at least every this many seconds.
    #[arg(long, default_value_t = 10.0, value_parser = crate::guard::non_negative_f64)]
    save_every: f64,
    /// Map mode: when another process is writing --out, wait for it to finish instead of stopping.
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    on: HessianData,
    /// Relative tolerance on the Ritz residuals: ||H y - theta y|| <= max(tol |theta|, atol).
    #[arg(long, default_value_t = 1e-3, value_parser = crate::guard::positive_f64)]
    tol: f64,
    /// Absolute floor of the residual test.
    #[arg(long, default_value_t = 0.0, value_parser = crate::guard::non_negative_f64)]
    atol: f64,
    /// The most Hessian-vector products per Lanczos run (per point).
    #[arg(long, default_value_t = 100, value_parser = crate::guard::positive)]
    max_iter: usize,
    /// Seed of the Lanczos start vector (the same at every point).
    #[arg(long, default_value_t = 0)]
    lanczos_seed: u64,
    /// Single point: Hutchinson probes for the trace estimate (0 skips it).
    #[arg(long, default_value_t = 10)]
    trace_probes: usize,
    /// Single point: also run power iteration with the shift trick at the same tolerance (at most
    /// --power-max-iter products per run), for comparison.
    #[arg(long)]
    power: bool,
    /// Single point: the most products per power-iteration run.
    #[arg(long, default_value_t = 1000)]
    power_max_iter: usize,
    /// Single point: check both Ritz pairs with a fresh product, ||H y - lambda y|| / |lambda|.
    #[arg(long)]
    check: bool,
}

pub fn run(args: HessianArgs) -> Result<()> {
    let device = crate::device_cmd::resolve(&args.on.device)?;
    crate::mpi_run::set_threads(args.on.threads);
    let map_mode = args.x.is_some() || args.surface.is_some();
    if !map_mode {
        if args.direction_file.is_some() || args.out.is_some() {
            bail!("--direction-file and --out belong to map mode: give a grid with --x (and --y) or --surface");
        }
        crate::mpi_run::require_one_rank("the single-point report")?;
    } else if args.out.is_none() {
        bail!("map mode needs --out FILE for the map's surface file");
    }
    let hvp = HvpOptions {
        params: args.on.params,
        loss: args.on.loss,
        // The curvature crate's own default, not the evaluator's: forward-only evaluation is fastest
        // at cache-sized batches of 32, double backward measured ~5-10% faster at 128 here.
        batch_size: args.on.batch_size.unwrap_or(if device.is_cuda() { CUDA_BATCH_SIZE } else { HvpOptions::default().batch_size }),
    };
    let lanczos_options =
        LanczosOptions { tol: args.tol, atol: args.atol, max_iter: args.max_iter, seed: args.lanczos_seed, ritz_vectors: false };
    if map_mode {
        return map(&args, device, hvp, lanczos_options);
    }
    let source = args.model.source(&args.checkpoint);
    let (model, meta, data, data_name) =
        load_model_and_subset(&source, device, args.on.precision, args.on.dataset.as_ref(), args.on.samples)?;
    lanczos_options.check()?;
    single_point(&args, model.as_ref(), &meta, &data, &data_name, hvp, lanczos_options)
}

fn single_point(
    args: &HessianArgs,
    model: &dyn Model,
    meta: &CheckpointMeta,
    data: &Dataset,
    data_name: &str,
    hvp: HvpOptions,
    options: LanczosOptions,
) -> Result<()> {
    let bar = ProgressBar::new();
    let mut op = HessianOperator::new(model, data, hvp)?;
    println!("checkpoint   {} ({}, {})", args.checkpoint.display(), meta.spec, Precision::from_kind(model.kind()));
    println!("data         {data_name}");
    println!("parameters   {}: {} scalars in {} tensors", hvp.params, op.dim(), op.names().len());
    println!("loss         {} (batches of {})", hvp.loss, hvp.batch_size);

    let start = Instant::now();
    let eig = lanczos(&mut op, &LanczosOptions { ritz_vectors: args.check, ..options }, &bar)?;
    let lanczos_s = start.elapsed().as_secs_f64();
    let per_product = lanczos_s / eig.hvps as f64;
    let status = if eig.converged { "converged" } else { "NOT converged" };
    println!("lambda_max   {:.6e}  (Ritz residual {:.2e} relative)", eig.max.value, eig.max.relative_residual());
    println!("lambda_min   {:.6e}  (Ritz residual {:.2e} relative)", eig.min.value, eig.min.relative_residual());
    println!("abs_ratio    {:.6e}  |lambda_min / lambda_max|", eig.abs_ratio());
    println!(
        "lanczos      {} products, {status} at tol {:e} (atol {:e}), {lanczos_s:.1} s, {per_product:.3} s per product",
        eig.hvps, options.tol, options.atol
    );
    if args.check {
        for (name, pair) in [("lambda_max", &eig.max), ("lambda_min", &eig.min)] {
            let y = pair.vector.as_ref().context("Lanczos returned no Ritz vector")?;
            let fresh = residual_check(&mut op, pair.value, y)?;
            println!("check        {name}: fresh ||H y - lambda y|| / |lambda| = {fresh:.3e}");
        }
    }
    if args.trace_probes > 0 {
        let start = Instant::now();
        let trace = hutchinson(&mut op, args.trace_probes, args.lanczos_seed, &bar)?;
        println!(
            "trace        {:.6e} +- {:.2e} (Hutchinson, {} Rademacher probes, {:.1} s)",
            trace.mean,
            trace.std_error,
            trace.hvps,
            start.elapsed().as_secs_f64()
        );
    }
    if args.power {
        let start = Instant::now();
        let popts = PowerOptions { tol: options.tol, atol: options.atol, max_iter: args.power_max_iter, seed: options.seed };
        let p = extremes_by_power(&mut op, &popts, &bar)?;
        let conv = |c: bool| if c { "converged" } else { "NOT converged" };
        let (d, sh) = (&p.dominant, &p.shifted);
        println!(
            "power        dominant  {:.6e} after {} products (residual {:.2e} relative, {})",
            d.value,
            d.hvps,
            d.residual / d.value.abs(),
            conv(d.converged)
        );
        println!(
            "power        other end {:.6e} after {} products on H - {:.4e} I (residual {:.2e} relative, {}{})",
            sh.value + p.shift,
            sh.hvps,
            p.shift,
            sh.residual / (sh.value + p.shift).abs(),
            conv(sh.converged),
            if p.resolved { "" } else { "; unresolved: the shifted run found the same end" }
        );
        println!("power        {:.1} s", start.elapsed().as_secs_f64());
        println!("power        {} products in all, against {} for Lanczos", p.hvps, eig.hvps);
    }
    println!("hvps         {} in all", op.hvps());
    Ok(())
}

fn map(args: &HessianArgs, device: tch::Device, hvp: HvpOptions, lanczos: LanczosOptions) -> Result<()> {
    let out = args.out.as_deref().context("map mode needs --out")?;
    let inputs = [Some(&args.checkpoint), args.direction_file.as_ref(), args.surface.as_ref(), args.model.weights()];
    crate::guard::refuse_overwrite(out, inputs.into_iter().flatten().map(PathBuf::as_path))?;
    crate::guard::refuse_overwrite(out, args.on.dataset.iter().filter_map(DataSource::path))?;
    // One writer per map file; under mpirun only rank 0 writes, and it alone locks.
    let _lock = match crate::mpi_run::world().0 {
        0 => Some(crate::guard::lock(out, args.wait)?),
        _ => None,
    };
    let grid = match (&args.surface, &args.x) {
        (Some(path), _) => MapGrid::Under(path.clone()),
        (None, Some(x)) => MapGrid::Axes(Grid::new(x.clone(), args.y.clone())?),
        (None, None) => bail!("map mode needs --x or --surface"),
    };
    let directions = match &args.direction_file {
        Some(file) => {
            crate::h5_cmd::check_supported(file)?;
            DirectionSource::File(file.clone())
        }
        None => DirectionSource::Random(args.random.spec()),
    };
    let request = HessianMapRequest {
        job: grid_request(args.model.source(&args.checkpoint), directions, args.on.dataset.clone(), device, args.shard, args.save_every),
        grid,
        samples: args.on.samples,
        hvp,
        lanczos,
        precision: args.on.precision,
    };
    let prepared = request.prepare()?;
    for note in &prepared.notes {
        eprintln!("note: {note}");
    }
    let bar = ProgressBar::new();
    // Spread over the ranks of an MPI job, if any; only rank 0 writes and reports.
    let report = crate::mpi_run::run_grid(&prepared.job(), &mut prepared.metrics(), out, prepared.header.clone(), &bar)?;
    let Some(report) = report else {
        return Ok(());
    };
    drop(bar);
    let hvps = PreparedMap::products_of_run(out, report.run_id)?;
    eprintln!(
        "{}: computed {} point(s) in {:.1} s ({} Hessian-vector products, {:.2} s per product), {} already done",
        out.display(),
        report.computed,
        report.seconds,
        hvps,
        if hvps > 0 { report.seconds / hvps as f64 } else { 0.0 },
        report.skipped
    );
    Ok(())
}
