//! `losscape trajectory`: the PCA of a training run's path, its projection onto the two principal
//! directions, the random baselines that miss it, and the `losscape surface` command that computes
//! the loss surface under the path.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use losscape::directions::{Ignore, Scope};
use losscape::models::ModelSource;
use losscape::trajectory::{analyze, analyze_run, report, Options, DEFAULT_CHUNK_ELEMENTS};

use crate::progress::ProgressBar;

/// `losscape trajectory`: PCA directions, projected path and variance report of a run folder.
#[derive(Args, Debug)]
pub struct TrajectoryArgs {
    /// Run folder written by `losscape train` (its run.json lists the checkpoints and LR decays).
    #[arg(long, required_unless_present_any = ["weights_dir", "modules_dir"], conflicts_with_all = ["weights_dir", "modules_dir"])]
    run: Option<PathBuf>,
    /// Instead of a run folder: a folder of safetensors weight files (state dicts, one per epoch,
    /// in file-name order) of the model given with --model (e.g. a TorchScript module).
    #[arg(long, requires = "model", conflicts_with = "modules_dir")]
    weights_dir: Option<PathBuf>,
    /// With --weights-dir: the model whose tensors the weight files hold.
    #[arg(long, requires = "weights_dir")]
    model: Option<PathBuf>,
    /// Instead of a run folder: a folder of TorchScript modules saved along training (one per
    /// epoch, in file-name order; the last is the final model). Their parameters are written to
    /// OUT/module-weights/ as safetensors files, which the streaming PCA reads.
    #[arg(long)]
    modules_dir: Option<PathBuf>,
    /// Output folder: direction files (pca, random, init-random .safetensors), the path projected
    /// onto each plane (projection-PLANE.json, for `losscape plot --path`), projection.csv and
    /// trajectory.json.
    #[arg(long)]
    out: PathBuf,
    /// weights = trainable parameters only; states = also BN running mean/var.
    #[arg(long, default_value = "weights")]
    scope: Scope,
    /// biasbn = leave biases and BN parameters (tensors of dim <= 1) out of the PCA; none = keep them.
    #[arg(long, default_value = "biasbn")]
    ignore: Ignore,
    /// Seed of the random baseline directions (random plane: seed, seed + 1; init plane: seed + 2).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Points per axis of the suggested surface grid under the path.
    #[arg(long, default_value_t = 51)]
    grid_points: usize,
    /// Memory bound of the streaming passes, in f64 values per block (checkpoints x slice).
    #[arg(long, default_value_t = DEFAULT_CHUNK_ELEMENTS)]
    chunk_elements: usize,
    /// libtorch threads (default: all cores).
    #[arg(long, value_parser = crate::guard::positive)]
    threads: Option<usize>,
}

pub fn run(args: TrajectoryArgs) -> Result<()> {
    if let Some(t) = args.threads {
        tch::set_num_threads(t as i32);
    }
    if args.out.exists() && !args.out.is_dir() {
        bail!("{} is not a folder; the trajectory's outputs go into a folder", args.out.display());
    }
    if args.chunk_elements == 0 {
        bail!("--chunk-elements must be at least 1");
    }
    if args.grid_points == 0 {
        bail!("--grid-points must be at least 1");
    }
    let options = Options { scope: args.scope, ignore: args.ignore, seed: args.seed, chunk_elements: args.chunk_elements };
    let bar = ProgressBar::new();
    // The checkpoint files of a weights or modules folder are bare state dicts: the suggested
    // surface command (printed and stored in trajectory.json) loads the model they belong to,
    // and the direction files record that model's hash, as `losscape surface` computes it.
    let (analysis, source) = match (&args.run, &args.weights_dir, &args.model, &args.modules_dir) {
        (Some(run), _, _, _) => (
            analyze_run(run, &options, &bar).with_context(|| format!("analysing the path of run {}", run.display()))?,
            run,
        ),
        (None, Some(dir), Some(model), _) => {
            let (trajectory, loaded) = crate::model_load::weights_trajectory(model, dir)?;
            crate::model_load::check_scope(loaded.as_ref(), args.scope)?;
            let mut analysis = analyze(&trajectory, loaded.as_ref(), &options, &bar)
                .with_context(|| format!("analysing the path of the weights in {}", dir.display()))?;
            let last = trajectory.final_point().file.clone();
            analysis.set_final_model(ModelSource { weights: Some(last), ..ModelSource::new(model) })?;
            (analysis, dir)
        }
        (None, None, _, Some(dir)) => {
            let weights = args.out.join("module-weights");
            let (trajectory, model, last) = crate::model_load::modules_trajectory(dir, &weights, args.scope)?;
            let mut analysis = analyze(&trajectory, model.as_ref(), &options, &bar)
                .with_context(|| format!("analysing the path of the modules in {}", dir.display()))?;
            analysis.set_final_model(ModelSource::new(last))?;
            (analysis, dir)
        }
        _ => bail!("give a run folder, --weights-dir with --model, or --modules-dir"),
    };
    drop(bar);
    let (report, written) = report::save_with_command(&analysis, &args.out, args.grid_points, &surface_command)?;
    if !report.run_finished {
        eprintln!("note: the run has not finished; its last checkpoint (epoch {}) plays the final model", last_epoch(&report));
    }

    let t = &analysis.trajectory;
    let decays: Vec<String> = t.lr_decay_epochs().iter().map(u64::to_string).collect();
    println!(
        "trajectory of {} ({}, {} checkpoints, epochs {}..{}{})",
        source.display(),
        report.model_spec,
        report.points.len(),
        t.first_point().epoch,
        t.final_point().epoch,
        if decays.is_empty() { String::new() } else { format!("; lr decayed after epochs {}", decays.join(", ")) }
    );
    println!("  scope {}, ignore {}, {} entries per checkpoint", report.scope, report.ignore, report.parameters);
    let ratios = &report.explained_variance_ratio;
    let rest: Vec<String> = ratios.iter().skip(2).take(4).map(|r| percent(*r)).collect();
    println!(
        "  explained variance: pc1 {}, pc2 {} (first two: {}){}",
        percent(ratios[0]),
        percent(ratios[1]),
        percent(report.first_two_share),
        if rest.is_empty() { String::new() } else { format!("; next {}", rest.join(", ")) }
    );
    println!("  share of the path's variance in each plane:");
    for plane in report.planes.all() {
        println!("    {:<12} {:>9}  {}", plane.name, percent(plane.captured_share), plane.directions);
    }
    println!("  path along pc1, pc2 (final model at the origin; * = lr decayed after this epoch):");
    for p in &report.points {
        println!(
            "    epoch {:>4}{} ({:>10.4}, {:>10.4})",
            p.epoch,
            if p.lr_decay { "*" } else { " " },
            p.x,
            p.y
        );
    }
    println!("  surface under the path (--x {} --y {}):", report.surface.x, report.surface.y);
    println!("    {}", report.surface.command);
    eprintln!(
        "wrote {}, {}, {} direction files and {} projections to {}",
        written.report.display(),
        written.projection.display(),
        written.directions.len(),
        written.projections.len(),
        args.out.display()
    );
    Ok(())
}

fn last_epoch(report: &report::Report) -> u64 {
    report.points.last().map(|p| p.epoch).unwrap_or(0)
}

/// A share as a percentage with enough digits for the tiny shares of random planes.
fn percent(share: f64) -> String {
    let p = 100.0 * share;
    if p >= 1.0 {
        format!("{p:.1}%")
    } else if p >= 0.01 {
        format!("{p:.3}%")
    } else {
        format!("{p:.2e}%")
    }
}

/// The `losscape surface` command line of a trajectory's suggested surface.
fn surface_command(s: &report::SurfaceSuggestion) -> String {
    let weights = s.weights.as_ref().map(|w| format!(" --weights {w}")).unwrap_or_default();
    format!(
        "losscape surface --checkpoint {}{weights} --direction-file {} --x {} --y {} --out {}",
        s.checkpoint, s.direction_file, s.x, s.y, s.out
    )
}
