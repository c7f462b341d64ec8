//! `losscape spectrum`: the whole Hessian spectrum at a checkpoint (the SLQ spectral density, top
//! and bottom eigenpairs with residuals, Hutchinson or Hutch++ traces, per-tensor curvature and
//! repeats over disjoint sample subsets), printed and saved as a report (json + npz); and the
//! Hessian eigenvectors as a direction file for `losscape direction --hessian-top/--hessian-extremes`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use losscape::core::Precision;
use losscape::curvature::spectrum_file::{DensitySection, EigenLine, EigenSection, Subject, TraceSection, FORMAT};
use losscape::curvature::{
    disjoint_subsets, eigendirections, eigenpairs, fresh_residual, per_tensor, repeats_spread, spectral_density_spread, EigenOptions,
    HessianOperator, HvpOptions, LanczosOptions, ParamSet, Quadrature, SlqOptions, SpectralDensity, SpectrumReport, TraceMethod,
    TraceOptions, Which,
};
use losscape::data::{DataSource, Dataset};
use losscape::directions::{Norm, RandomSpec, Scope};
use losscape::landscape::evaluate::{LossKind, CUDA_BATCH_SIZE};
use losscape::models::{CheckpointMeta, Model};

use losscape::landscape::job::{load_data, prepare_splits};

use crate::hessian_cmd::HessianData;
use crate::model_load::{load_model, ModelArgs};
use crate::progress::ProgressBar;

/// Where the Hessian is taken (data, loss, parameters, precision, device: as for `hessian`) and
/// the Lanczos settings of the spectrum.
#[derive(Args, Debug, Clone)]
pub struct HessianSource {
    #[command(flatten)]
    on: HessianData,
    /// Lanczos: relative residual tolerance ||H v - lambda v|| <= tol |lambda|.
    #[arg(long, default_value_t = 1e-3, value_parser = crate::guard::positive_f64)]
    tol: f64,
    /// Lanczos: the most products per run.
    #[arg(long, default_value_t = 200, value_parser = crate::guard::positive)]
    max_iter: usize,
    /// Lanczos: seed of the start vector.
    #[arg(long, default_value_t = 0)]
    lanczos_seed: u64,
}

/// `losscape spectrum`.
#[derive(Args, Debug)]
pub struct SpectrumArgs {
    /// The checkpoint (or a TorchScript module).
    #[arg(long)]
    checkpoint: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    source: HessianSource,
    /// The spectral density by stochastic Lanczos quadrature (Gaussian-broadened on a grid).
    #[arg(long)]
    density: bool,
    /// Density: random starts (averaged).
    #[arg(long, default_value_t = 4, value_parser = crate::guard::positive)]
    starts: usize,
    /// Density: Lanczos steps per start.
    #[arg(long, default_value_t = 80, value_parser = crate::guard::positive)]
    steps: usize,
    /// Density: seed of the starts.
    #[arg(long, default_value_t = 0)]
    density_seed: u64,
    /// Density: grid points of the broadened curve.
    #[arg(long, default_value_t = 1000, value_parser = crate::guard::positive)]
    grid_points: usize,
    /// Density: width of the broadening Gaussians (default: 1% of the nodes' range).
    #[arg(long, value_parser = crate::guard::positive_f64)]
    sigma: Option<f64>,
    /// The K largest eigenvalues and their eigenvectors' residuals ||H v - lambda v||.
    #[arg(long, value_parser = crate::guard::positive)]
    top: Option<usize>,
    /// The J smallest (most negative) eigenvalues, likewise.
    #[arg(long, value_parser = crate::guard::positive)]
    bottom: Option<usize>,
    /// The trace by this method: hutchinson | hutch++.
    #[arg(long)]
    trace_method: Option<TraceMethod>,
    /// Products (probes) per trace estimate (whole Hessian, each tensor, each subset).
    #[arg(long, default_value_t = 30, value_parser = crate::guard::positive)]
    trace_probes: usize,
    /// Seed of the trace probes.
    #[arg(long, default_value_t = 0)]
    trace_seed: u64,
    /// lambda_max, lambda_min and the trace (by --trace-method, default hutchinson) of every
    /// parameter tensor's diagonal Hessian block.
    #[arg(long)]
    per_layer: bool,
    /// lambda_max, lambda_min and the trace (with --trace-method) on R disjoint subsets of
    /// --samples examples each: their mean and spread.
    #[arg(long, value_parser = crate::guard::positive)]
    repeats: Option<usize>,
    /// Write the report as OUT.json and OUT.npz.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The model, the checkpoint's metadata, and the HVP options of a source.
fn open(checkpoint: &Path, model_args: &ModelArgs, source: &HessianSource) -> Result<(Box<dyn Model>, CheckpointMeta, HvpOptions)> {
    let device = crate::device_cmd::resolve(&source.on.device)?;
    crate::mpi_run::set_threads(source.on.threads);
    losscape::curvature::job::check_precision(source.on.precision)?;
    let (model, meta) = load_model(checkpoint, device, source.on.precision, model_args)?;
    let hvp = HvpOptions {
        params: source.on.params,
        loss: source.on.loss,
        batch_size: source.on.batch_size.unwrap_or(if device.is_cuda() { CUDA_BATCH_SIZE } else { HvpOptions::default().batch_size }),
    };
    Ok((model, meta, hvp))
}

/// The first ceil(samples * groups / classes) examples of each class of the training split,
/// prepared as the checkpoint's training did, and a description.
fn training_data(source: &HessianSource, meta: &CheckpointMeta, model: &dyn Model, groups: usize) -> Result<(Dataset, String)> {
    let (data_source, splits) = load_data(source.on.dataset.as_ref(), meta)?;
    let per_class = source.on.samples.div_ceil(meta.num_classes.max(1) as usize) * groups;
    let (train, _) = prepare_splits(&splits, meta, Some(per_class), model.kind(), model.device())?;
    let name = format!("{data_source} train, first {per_class} per class ({} examples)", train.len());
    Ok((train, name))
}

pub fn run(args: SpectrumArgs) -> Result<()> {
    let wants_any = args.density || args.top.is_some() || args.bottom.is_some() || args.trace_method.is_some() || args.per_layer || args.repeats.is_some();
    if !wants_any {
        bail!("say what to compute: --density, --top K, --bottom J, --trace-method M, --per-layer and/or --repeats R");
    }
    if !(args.density || args.repeats.is_some()) {
        crate::mpi_run::require_one_rank("losscape spectrum without --density or --repeats")?;
    }
    if let Some(out) = &args.out {
        let (json, npz) = SpectrumReport::paths(out);
        let inputs = [Some(&args.checkpoint), args.model.weights()];
        for target in [&json, &npz] {
            crate::guard::refuse_overwrite(target, inputs.into_iter().flatten().map(PathBuf::as_path))?;
            crate::guard::refuse_overwrite(target, args.source.on.dataset.iter().filter_map(DataSource::path))?;
        }
    }
    let src = &args.source;
    let (model, meta, hvp) = open(&args.checkpoint, &args.model, src)?;
    let model = model.as_ref();
    let groups = args.repeats.unwrap_or(1);
    let (all_data, data_name) = training_data(src, &meta, model, groups)?;
    let subsets = if groups > 1 { disjoint_subsets(&all_data, groups)? } else { vec![all_data] };
    let smallest = subsets.iter().map(Dataset::len).min().unwrap_or(0);
    if groups > 1 && smallest < src.on.samples {
        bail!(
            "--repeats {groups} needs {groups} disjoint subsets of {} examples, but the training split gives only {} examples in all (the smallest subset has {smallest}): lower --samples or --repeats",
            src.on.samples,
            subsets.iter().map(Dataset::len).sum::<usize>()
        );
    }
    let data = &subsets[0];
    let bar = ProgressBar::new();
    let op = HessianOperator::new(model, data, hvp)?;
    let dimension = op.dim();
    drop(op);
    let subject = Subject {
        checkpoint: args.checkpoint.display().to_string(),
        checkpoint_hash: args.model.source(&args.checkpoint).identity_hash()?,
        model: meta.spec.clone(),
        data: if groups > 1 { format!("{data_name}, dealt into {groups} disjoint subsets") } else { data_name },
        samples: data.len(),
        params: hvp.params,
        dimension,
        loss: hvp.loss,
        precision: Precision::from_kind(model.kind()).to_string(),
    };
    let lanczos_options = LanczosOptions { tol: src.tol, atol: 0.0, max_iter: src.max_iter, seed: src.lanczos_seed, ritz_vectors: false };
    lanczos_options.check()?;
    let trace_options = TraceOptions { method: args.trace_method.unwrap_or_default(), products: args.trace_probes, seed: args.trace_seed };
    // Under mpirun the density's starts and the repeats' subsets are spread over the ranks;
    // the other ranks compute what rank 0 hands them and print and write nothing.
    let slq = SlqOptions { starts: args.starts, steps: args.steps, seed: args.density_seed, orthogonal: false };
    let repeat_trace = TraceOptions { products: if args.trace_method.is_some() { args.trace_probes } else { 0 }, ..trace_options };
    if crate::mpi_run::world().0 > 0 {
        let quiet = losscape::core::progress::Silent;
        if args.density {
            spectral_density_spread(&mut HessianOperator::new(model, data, hvp)?, &slq, &quiet)?;
        }
        if args.repeats.is_some() {
            repeats_spread(model, &subsets, hvp, &lanczos_options, &repeat_trace, &quiet)?;
        }
        return Ok(());
    }
    println!("checkpoint   {} ({}, {})", subject.checkpoint, subject.model, subject.precision);
    println!("data         {} ({} examples per Hessian)", subject.data, subject.samples);
    println!("parameters   {}: {} scalars", subject.params, dimension);

    let mut report = SpectrumReport {
        format: FORMAT.into(),
        version: 1,
        subject,
        density: None,
        eigenpairs: None,
        trace: None,
        per_layer: None,
        repeats: None,
        broadened: None,
    };

    if args.density {
        let start = Instant::now();
        let mut op = HessianOperator::new(model, data, hvp)?;
        let d = spectral_density_spread(&mut op, &slq, &bar)?.context("rank 0 got no density")?;
        let b = d.broadened(args.grid_points, args.sigma)?;
        let section = DensitySection::new(&d, args.steps.min(dimension as usize), args.density_seed, &b);
        let secs = start.elapsed().as_secs_f64();
        println!(
            "density      {} starts x {} steps, {} products, {secs:.1} s; nodes in [{:.6e}, {:.6e}], broadened with sigma {:.3e}",
            section.starts, section.steps, section.hvps, section.node_range.0, section.node_range.1, b.sigma
        );
        for (k, (m, se)) in section.moments.iter().zip(&section.moment_std_errors).enumerate() {
            println!("moment {}     {m:.6e} +- {se:.2e}  ((1/n) tr H^{})", k + 1, k + 1);
        }
        println!("negative     {:.4} of the spectrum below -1% of the largest |node|", section.negative_mass);
        report.density = Some(section);
        report.broadened = Some(b);
    }

    if args.top.is_some() || args.bottom.is_some() {
        let start = Instant::now();
        let opts = EigenOptions {
            top: args.top.unwrap_or(0),
            bottom: args.bottom.unwrap_or(0),
            tol: src.tol,
            atol: 0.0,
            max_iter: src.max_iter,
            seed: src.lanczos_seed,
            norm_relative: false,
        };
        let mut op = HessianOperator::new(model, data, hvp)?;
        let found = eigenpairs(&mut op, &opts, &bar)?;
        let lanczos_s = start.elapsed().as_secs_f64();
        let mut line = |pair: &losscape::curvature::Eigenpair| -> Result<EigenLine> {
            Ok(EigenLine { value: pair.value, ritz_residual: pair.ritz_residual, residual: fresh_residual(&mut op, pair)? })
        };
        let top = found.top.iter().map(&mut line).collect::<Result<Vec<_>>>()?;
        let bottom = found.bottom.iter().map(&mut line).collect::<Result<Vec<_>>>()?;
        let section = EigenSection { top, bottom, tol: src.tol, hvps: op.hvps(), converged: found.converged };
        for (i, l) in section.top.iter().enumerate() {
            println!("top {:<8} {:.6e}  residual ||Hv - lambda v|| {:.3e} ({:.2e} relative)", i + 1, l.value, l.residual, l.residual / l.value.abs());
        }
        for (i, l) in section.bottom.iter().enumerate() {
            println!("bottom {:<5} {:.6e}  residual ||Hv - lambda v|| {:.3e} ({:.2e} relative)", i + 1, l.value, l.residual, l.residual / l.value.abs());
        }
        let status = if found.converged { "converged" } else { "NOT converged" };
        println!(
            "eigenpairs   {} Lanczos products ({status} at tol {:e}) in {lanczos_s:.1} s, {} fresh checks, {:.1} s in all",
            found.hvps,
            src.tol,
            op.hvps() - found.hvps,
            start.elapsed().as_secs_f64()
        );
        report.eigenpairs = Some(section);
    }

    if let Some(method) = args.trace_method {
        let start = Instant::now();
        let mut op = HessianOperator::new(model, data, hvp)?;
        let t = losscape::curvature::hutchpp::choose(&mut op, &trace_options, &bar)?;
        let what = if method == TraceMethod::HutchPlusPlus { "standard error of the remainder term" } else { "standard error" };
        println!("trace        {:.6e} +- {:.2e} ({method}, {} products, {what}, {:.1} s)", t.value, t.std_error, t.hvps, start.elapsed().as_secs_f64());
        report.trace = Some(TraceSection { method, value: t.value, std_error: t.std_error, hvps: t.hvps, seed: args.trace_seed });
    }

    if args.per_layer {
        let start = Instant::now();
        let layers = per_tensor(model, data, hvp, &lanczos_options, &trace_options, &bar)?;
        println!("per-layer    {} tensors, {} trace ({} products each), {:.1} s", layers.len(), trace_options.method, trace_options.products, start.elapsed().as_secs_f64());
        println!("  {:<40} {:>9} {:>13} {:>13} {:>13} {:>6}", "tensor", "scalars", "lambda_max", "lambda_min", "trace", "hvps");
        for l in &layers {
            let mark = if l.converged { "" } else { " (not converged)" };
            println!("  {:<40} {:>9} {:>13.5e} {:>13.5e} {:>13.5e} {:>6}{mark}", l.name, l.numel, l.lambda_max, l.lambda_min, l.trace, l.hvps);
        }
        let total: f64 = layers.iter().map(|l| l.trace).sum();
        println!("  sum of the blocks' traces {total:.6e} (the whole Hessian's trace)");
        report.per_layer = Some(layers);
    }

    if let Some(r) = args.repeats {
        let start = Instant::now();
        let rep = repeats_spread(model, &subsets, hvp, &lanczos_options, &repeat_trace, &bar)?.context("rank 0 got no repeats")?;
        println!("repeats      {r} disjoint subsets of {} examples, {:.1} s", subsets[0].len(), start.elapsed().as_secs_f64());
        for (name, s) in [("lambda_max", &rep.lambda_max), ("lambda_min", &rep.lambda_min), ("trace", &rep.trace)] {
            if s.mean.is_finite() {
                println!(
                    "  {name:<11} mean {:.6e}  std {:.3e} ({:.1}% of |mean|)  range [{:.6e}, {:.6e}]",
                    s.mean,
                    s.std,
                    100.0 * s.std / s.mean.abs(),
                    s.min,
                    s.max
                );
            }
        }
        report.repeats = Some(rep);
    }
    drop(bar);

    if let Some(out) = &args.out {
        let (json, npz) = report.write(out)?;
        eprintln!("wrote {} and {}", json.display(), npz.display());
    }
    Ok(())
}

/// `losscape direction --hessian-top K` / `--hessian-extremes`: what to compute.
#[derive(Args, Debug, Clone, Default)]
pub struct HessianDirectionArgs {
    /// Directions along the Hessian's top K (1 or 2) eigenvectors instead of random ones,
    /// normalized by --norm/--ignore. --norm none keeps unit eigenvectors (then a surface range
    /// of about 3/sqrt(lambda_max) shows the bowl); filter normalization gives every filter its
    /// weights' norm along the sharpest directions, so -1..1 reaches astronomical losses.
    #[arg(long, conflicts_with_all = ["target", "two", "hessian_extremes"])]
    hessian_top: Option<usize>,
    /// Directions along the eigenvectors of lambda_max and lambda_min.
    #[arg(long, conflicts_with_all = ["target", "two"])]
    hessian_extremes: bool,
    /// Examples the Hessian's loss is averaged over (first ceil(N / classes) per class).
    #[arg(long, default_value_t = 500, value_parser = crate::guard::positive)]
    hessian_samples: usize,
    /// Parameters of the Hessian: weights | all.
    #[arg(long, default_value = "weights")]
    hessian_params: ParamSet,
    /// Lanczos relative residual tolerance for the eigenvectors.
    #[arg(long, default_value_t = 1e-4, value_parser = crate::guard::positive_f64)]
    hessian_tol: f64,
    /// The most Lanczos products.
    #[arg(long, default_value_t = 300, value_parser = crate::guard::positive)]
    hessian_max_iter: usize,
    /// Data set for the Hessian; by default the checkpoint's.
    #[arg(long)]
    hessian_dataset: Option<DataSource>,
    /// Precision of the products: f32 | f64 (default: the checkpoint's).
    #[arg(long)]
    hessian_precision: Option<Precision>,
    /// libtorch threads for the products (default: all cores).
    #[arg(long, value_parser = crate::guard::positive)]
    hessian_threads: Option<usize>,
}

impl HessianDirectionArgs {
    /// Whether Hessian directions were asked for.
    pub fn requested(&self) -> bool {
        self.hessian_top.is_some() || self.hessian_extremes
    }
}

/// Writes the Hessian eigenvector directions of `checkpoint` to `out`, normalized by
/// `spec.norm`/`spec.ignore` (`Norm::None`: unit eigenvectors), the second orthogonalized against
/// the first when `orthogonalize` is set.
pub fn hessian_direction(
    checkpoint: &Path,
    model_args: &ModelArgs,
    spec: &RandomSpec,
    orthogonalize: bool,
    args: &HessianDirectionArgs,
    out: &Path,
) -> Result<()> {
    let (norm, ignore) = (spec.norm, spec.ignore);
    if spec.scope != Scope::Weights {
        bail!("Hessian eigenvector directions cover the trainable parameters only: use --scope weights");
    }
    crate::guard::refuse_overwrite(out, args.hessian_dataset.iter().filter_map(DataSource::path))?;
    let which = match (args.hessian_top, args.hessian_extremes) {
        (Some(k), false) => Which::Top(k),
        (None, true) => Which::Extremes,
        _ => bail!("give one of --hessian-top K and --hessian-extremes"),
    };
    let on = HessianData {
        dataset: args.hessian_dataset.clone(),
        samples: args.hessian_samples,
        loss: LossKind::CrossEntropy,
        params: args.hessian_params,
        batch_size: None,
        precision: args.hessian_precision,
        threads: args.hessian_threads,
        device: "cpu".into(),
    };
    let source = HessianSource {
        on,
        tol: args.hessian_tol,
        max_iter: args.hessian_max_iter,
        lanczos_seed: 0,
    };
    let (model, meta, hvp) = open(checkpoint, model_args, &source)?;
    let (data, data_name) = training_data(&source, &meta, model.as_ref(), 1)?;
    let data = Dataset { name: data_name, ..data };
    let options = EigenOptions { top: 0, bottom: 0, tol: source.tol, atol: 0.0, max_iter: source.max_iter, seed: 0, norm_relative: false };
    let normalization = if norm == Norm::None { None } else { Some((norm, ignore)) };
    let hash = model_args.source(checkpoint).identity_hash()?;
    let start = Instant::now();
    let bar = ProgressBar::new();
    let made = eigendirections(model.as_ref(), &data, hvp, which, &options, normalization, &hash, &bar)?;
    drop(bar);
    if !made.converged {
        bail!(
            "Lanczos did not reach --hessian-tol {:e} in {} products: raise --hessian-max-iter or --hessian-tol",
            source.tol,
            source.max_iter
        );
    }
    // The directions are saved in the checkpoint's stored precision, like random ones.
    let stored = match meta.precision.parse::<Precision>() {
        Ok(p) => p.kind(),
        Err(_) => model.kind(),
    };
    let mut set = made.set;
    for d in &mut set.directions {
        *d = d.to(tch::Device::Cpu, stored)?;
    }
    if orthogonalize {
        set.orthogonalize()?;
    }
    set.save(out).with_context(|| format!("writing {}", out.display()))?;
    for p in &made.pairs {
        eprintln!("{:<11} {:.6e}  residual ||Hv - lambda v|| {:.3e} ({:.2e} relative)", p.label, p.value, p.residual, p.residual / p.value.abs());
    }
    eprintln!(
        "wrote {} Hessian eigenvector direction(s) ({}) for {} to {} ({} products, {:.1} s)",
        set.directions.len(),
        if norm == Norm::None { "unit, not normalized".to_string() } else { format!("{norm}-normalized") },
        meta.spec,
        out.display(),
        made.hvps,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The density curves (grid, values) of `reports` (read from `inputs`) for one figure. Each
/// report is broadened by its own width (1% of its own spectrum's range by default), so curves of
/// different reports would differ in smoothness, not only in spectrum: with several reports, each
/// is broadened again from its quadratures with one width, the largest of theirs.
fn density_curves(reports: &[serde_json::Value], inputs: &[PathBuf]) -> Result<Vec<(Vec<f64>, Vec<f64>)>> {
    let numbers = |v: &serde_json::Value, what: &str, p: &Path| -> Result<Vec<f64>> {
        v.as_array()
            .with_context(|| format!("{}: no {what} array", p.display()))?
            .iter()
            .map(|x| x.as_f64().with_context(|| format!("{}: {what} holds a non-number", p.display())))
            .collect()
    };
    let mut own = Vec::new();
    for (v, p) in reports.iter().zip(inputs) {
        if v["broadened"].is_null() || v["density"].is_null() {
            bail!("{}: the report holds no density (run losscape spectrum with --density)", p.display());
        }
        let sigma = v["broadened"]["sigma"].as_f64().with_context(|| format!("{}: no broadening width", p.display()))?;
        let grid = numbers(&v["broadened"]["grid"], "grid", p)?;
        let dens = numbers(&v["broadened"]["density"], "density", p)?;
        let mut starts = Vec::new();
        for q in v["density"]["quadratures"].as_array().with_context(|| format!("{}: no quadratures", p.display()))? {
            let nodes = numbers(&q["nodes"], "nodes", p)?;
            let weights = numbers(&q["weights"], "weights", p)?;
            if nodes.len() != weights.len() {
                bail!("{}: a quadrature has {} nodes and {} weights", p.display(), nodes.len(), weights.len());
            }
            starts.push(Quadrature { seed: q["seed"].as_u64().unwrap_or(0), nodes, weights });
        }
        own.push((sigma, grid, dens, SpectralDensity { dim: 0, starts, hvps: 0 }));
    }
    let common = own.iter().map(|(s, ..)| *s).fold(0.0f64, f64::max);
    let mut curves = Vec::new();
    for ((sigma, grid, dens, slq), p) in own.into_iter().zip(inputs) {
        if sigma == common {
            curves.push((grid, dens));
        } else {
            let b = slq.broadened(grid.len(), Some(common)).with_context(|| format!("broadening {}", p.display()))?;
            curves.push((b.grid, b.density));
        }
    }
    Ok(curves)
}

/// `losscape plot --kind density|layers` over spectrum reports: the broadened densities on a log
/// scale (one curve per report), or one report's per-layer lambda_max and traces as bar charts
/// (`X.png` and `X-trace.png`).
pub fn plot(inputs: &[PathBuf], density: bool, outputs: &[PathBuf], title: &str, labels: Option<Vec<String>>) -> Result<()> {
    let reports = inputs
        .iter()
        .map(|p| -> Result<serde_json::Value> {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            let v: serde_json::Value =
                serde_json::from_slice(&bytes).with_context(|| format!("{}: not a spectrum report (JSON)", p.display()))?;
            if v["format"] != FORMAT {
                bail!("{}: not a spectrum report (no \"format\": \"{FORMAT}\")", p.display());
            }
            Ok(v)
        })
        .collect::<Result<Vec<_>>>()?;
    if let Some(l) = &labels {
        if l.len() != inputs.len() {
            bail!("--labels gives {} labels for {} inputs", l.len(), inputs.len());
        }
    }
    if density {
        let mut curves = Vec::new();
        for (i, ((grid, dens), p)) in density_curves(&reports, inputs)?.into_iter().zip(inputs).enumerate() {
            let label = match &labels {
                Some(l) => l[i].clone(),
                None => p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
            };
            curves.push((label, grid, dens));
        }
        let densities: Vec<losscape::plot::Density<'_>> =
            curves.iter().map(|(l, g, d)| losscape::plot::Density { label: l.clone(), grid: g, density: d }).collect();
        for out in outputs {
            losscape::plot::density(out, &densities, title, 1e-7)?;
            eprintln!("wrote {}", out.display());
        }
        return Ok(());
    }
    if reports.len() != 1 {
        bail!("a layers figure draws one report, got {}", reports.len());
    }
    let (v, p) = (&reports[0], &inputs[0]);
    let layers = v["per_layer"].as_array().with_context(|| format!("{}: the report holds no per-layer table (run with --per-layer)", p.display()))?;
    let names: Vec<String> = layers.iter().map(|l| l["name"].as_str().unwrap_or("?").to_owned()).collect();
    let get = |key: &str| -> Vec<f64> { layers.iter().map(|l| l[key].as_f64().unwrap_or(f64::NAN)).collect() };
    for out in outputs {
        losscape::plot::bars(out, &names, &get("lambda_max"), title, "lambda_max of the tensor's block")?;
        eprintln!("wrote {}", out.display());
        let traces = get("trace");
        if traces.iter().any(|t| t.is_finite()) {
            let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let ext = out.extension().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let trace_out = out.with_file_name(format!("{stem}-trace.{ext}"));
            losscape::plot::bars(&trace_out, &names, &traces, title, "trace of the tensor's block")?;
            eprintln!("wrote {}", trace_out.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(nodes: &[f64], sigma: f64) -> serde_json::Value {
        let q = Quadrature { seed: 0, nodes: nodes.to_vec(), weights: vec![1.0 / nodes.len() as f64; nodes.len()] };
        let slq = SpectralDensity { dim: 0, starts: vec![q.clone()], hvps: 0 };
        let b = slq.broadened(101, Some(sigma)).unwrap();
        serde_json::json!({
            "density": {"quadratures": [{"seed": 0, "nodes": q.nodes, "weights": q.weights}]},
            "broadened": {"grid": b.grid, "density": b.density, "sigma": sigma},
        })
    }

    #[test]
    fn several_densities_are_broadened_with_one_width_the_largest() {
        let (narrow, wide) = (report(&[0.0, 1.0], 0.01), report(&[0.0, 10.0], 0.2));
        let inputs = [PathBuf::from("a.json"), PathBuf::from("b.json")];
        let curves = density_curves(&[narrow.clone(), wide.clone()], &inputs).unwrap();
        // The wide one is drawn as stored; the narrow one again with sigma 0.2: its grid now
        // starts 5 sigma below its lowest node, and its peak is that of N(0, 0.2^2) / 2.
        assert_eq!(curves[1].0, wide["broadened"]["grid"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect::<Vec<_>>());
        assert!((curves[0].0[0] - (0.0 - 5.0 * 0.2)).abs() < 1e-12, "{}", curves[0].0[0]);
        let peak = curves[0].1.iter().copied().fold(0.0f64, f64::max);
        let expected = 0.5 / (0.2 * (2.0 * std::f64::consts::PI).sqrt());
        assert!((peak - expected).abs() < 0.05 * expected, "peak {peak}, expected about {expected}");
        // One report alone keeps its own width.
        let alone = density_curves(&[narrow.clone()], &inputs[..1]).unwrap();
        assert!((alone[0].0[0] - (0.0 - 5.0 * 0.01)).abs() < 1e-12);
    }
}
