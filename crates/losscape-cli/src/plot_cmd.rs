//! `losscape plot`: figures from surface files (1D curves, contours, heat maps, 3D surfaces,
//! trajectories over contours) and from training runs' metrics logs, through losscape-plot.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use losscape::landscape::Surface;
use losscape::plot::{
    contour, heatmap, lines, surface3d, trajectory, ContourFigure, Curve, Grid, HeatmapFigure, Levels, LinesFigure,
    SurfaceFigure, Trajectory, TrajectoryFigure, YAxis,
};
use ndarray::Array2;
use serde_json::Value;

/// Kinds of figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// 1D: loss (left axis) and accuracy (right axis) of one or more line surfaces.
    Line,
    /// 2D: labelled contour lines (with --path: the trajectory over them).
    Contour,
    /// 2D: filled heat map with a colour bar.
    Heatmap,
    /// 2D: 3D surface rendering.
    Surface3d,
}

/// How contour levels are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LevelChoice {
    Original,
    Auto,
}

/// `losscape plot`.
#[derive(Args, Debug)]
pub struct PlotArgs {
    /// Surface files (several for --kind line), or metrics.jsonl files / run folders with --runs.
    inputs: Vec<PathBuf>,
    /// The figure kind (default: line for 1D surfaces, contour for 2D).
    #[arg(long, value_enum)]
    kind: Option<Kind>,
    /// Output file: .png or .svg.
    #[arg(long)]
    out: PathBuf,
    /// The array to draw for 2D kinds (default: train_loss, or abs_ratio for Hessian maps).
    #[arg(long)]
    array: Option<String>,
    /// Title of the figure.
    #[arg(long, default_value = "")]
    title: String,
    /// Legend labels, comma-separated, one per input (default: file names).
    #[arg(long)]
    labels: Option<String>,
    /// Log scale (loss axis of line plots, colours of heat maps).
    #[arg(long)]
    log: bool,
    /// Lower end of the colour range (heat map) or of the height (3D).
    #[arg(long, allow_hyphen_values = true)]
    vmin: Option<f64>,
    /// Upper end of the colour range (heat map) or of the height (3D; higher values are clipped).
    #[arg(long, allow_hyphen_values = true)]
    vmax: Option<f64>,
    /// Contour levels: original (0.1 to 10 in steps of 0.5, then decades, as the original code;
    /// the default for losses) or auto (about ten levels over the data's range).
    #[arg(long, value_enum)]
    levels: Option<LevelChoice>,
    /// A trajectory projection (JSON written by `losscape trajectory`) to draw over the contours.
    #[arg(long)]
    path: Option<PathBuf>,
    /// Inputs are training runs (folders or their metrics.jsonl): plot --metric per epoch.
    #[arg(long)]
    runs: bool,
    /// With --runs: the metrics.jsonl field to plot (weight_norm, test_acc, train_loss, ...).
    #[arg(long, default_value = "weight_norm")]
    metric: String,
}

pub fn run(args: PlotArgs) -> Result<()> {
    if args.inputs.is_empty() {
        bail!("give at least one surface file (or run folder with --runs)");
    }
    if args.runs {
        return plot_runs(&args);
    }
    let surfaces = args
        .inputs
        .iter()
        .map(|p| Surface::load(p).with_context(|| format!("reading {}", p.display())))
        .collect::<Result<Vec<_>>>()?;
    let is_2d = surfaces[0].grid().is_2d();
    let kind = args.kind.unwrap_or(if is_2d { Kind::Contour } else { Kind::Line });
    match kind {
        Kind::Line => plot_lines(&args, &surfaces)?,
        _ => {
            if surfaces.len() != 1 {
                bail!("a {kind:?} figure draws one surface, got {}", surfaces.len());
            }
            plot_2d(&args, &surfaces[0], kind)?;
        }
    }
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

fn labels(args: &PlotArgs) -> Vec<String> {
    match &args.labels {
        Some(l) => l.split(',').map(|s| s.trim().to_owned()).collect(),
        None => args
            .inputs
            .iter()
            .map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default())
            .collect(),
    }
}

fn plot_lines(args: &PlotArgs, surfaces: &[Surface]) -> Result<()> {
    let labels = labels(args);
    let mut xs = Vec::new();
    for s in surfaces {
        if s.grid().is_2d() {
            bail!("--kind line needs 1D surfaces; use contour, heatmap or surface3d for 2D ones");
        }
        xs.push(s.grid().x.coordinates());
    }
    let mut curves = Vec::new();
    let several = surfaces.len() > 1;
    for (i, s) in surfaces.iter().enumerate() {
        let label = labels.get(i).cloned().unwrap_or_default();
        for (split, dashed) in [("train", false), ("test", true)] {
            for (metric, axis) in [("loss", YAxis::Loss), ("acc", YAxis::Accuracy)] {
                if let Some(values) = s.array(&format!("{split}_{metric}")) {
                    let name = match (several, metric) {
                        (true, "loss") => format!("{label} {split} loss"),
                        (true, _) => format!("{label} {split} acc"),
                        (false, "loss") => format!("{split} loss"),
                        (false, _) => format!("{split} accuracy"),
                    };
                    let palette = losscape::plot::Rgb::palette(i * 2 + usize::from(axis == YAxis::Accuracy));
                    curves.push(Curve { label: name, x: &xs[i], y: values, axis, dashed, markers: false, color: Some(palette) });
                }
            }
        }
    }
    if curves.is_empty() {
        bail!("the surfaces hold no train/test loss or accuracy arrays");
    }
    let figure = LinesFigure { title: args.title.clone(), log_loss: args.log, ..LinesFigure::default() };
    lines(&args.out, &curves, &figure)?;
    Ok(())
}

fn plot_2d(args: &PlotArgs, surface: &Surface, kind: Kind) -> Result<()> {
    let grid = surface.grid();
    let Some(y_axis) = grid.y.as_ref() else {
        bail!("a {kind:?} figure needs a 2D surface; use --kind line for 1D ones");
    };
    let default_array = if surface.array("abs_ratio").is_some() { "abs_ratio" } else { "train_loss" };
    let name = args.array.as_deref().unwrap_or(default_array);
    let values = surface.array(name).with_context(|| {
        format!("the surface has no array '{name}' (it has {})", surface.header().arrays.join(", "))
    })?;
    let (x, y) = (grid.x.coordinates(), y_axis.coordinates());
    // Points not computed yet are gaps, like diverged ones.
    let z = Array2::from_shape_fn((x.len(), y.len()), |(ix, iy)| {
        let i = ix * y.len() + iy;
        if surface.done()[i] {
            values[i]
        } else {
            f64::NAN
        }
    });
    let g = Grid::new(&x, &y, z.view())?;
    let levels = match args.levels.unwrap_or(if name.contains("loss") { LevelChoice::Original } else { LevelChoice::Auto }) {
        LevelChoice::Original => Levels::original(),
        LevelChoice::Auto => Levels::default(),
    };
    let range = match (args.vmin, args.vmax) {
        (Some(a), Some(b)) => Some((a, b)),
        (None, None) => None,
        _ => bail!("give both --vmin and --vmax, or neither"),
    };
    match kind {
        Kind::Contour => match &args.path {
            Some(path) => {
                let proj = Projection::read(path)?;
                let traj = Trajectory { x: &proj.x, y: &proj.y, lr_decay: &proj.lr_decay };
                let figure = TrajectoryFigure {
                    title: args.title.clone(),
                    x_label: proj.x_label.clone(),
                    y_label: proj.y_label.clone(),
                    levels,
                    ..TrajectoryFigure::default()
                };
                trajectory(&args.out, Some(&g), &traj, &figure)?;
            }
            None => {
                let figure = ContourFigure { title: args.title.clone(), levels, ..ContourFigure::default() };
                contour(&args.out, &g, &figure)?;
            }
        },
        Kind::Heatmap => {
            let base = if name == "abs_ratio" { HeatmapFigure::eigenvalue_ratio() } else { HeatmapFigure::default() };
            let figure = HeatmapFigure {
                title: args.title.clone(),
                colorbar_label: if name == "abs_ratio" { base.colorbar_label.clone() } else { name.replace('_', " ") },
                range: range.or(base.range),
                log_scale: args.log,
                ..base
            };
            heatmap(&args.out, &g, &figure)?;
        }
        Kind::Surface3d => {
            let figure = SurfaceFigure {
                title: args.title.clone(),
                z_label: name.replace('_', " "),
                z_range: range,
                ..SurfaceFigure::default()
            };
            surface3d(&args.out, &g, &figure)?;
        }
        Kind::Line => unreachable!("handled by plot_lines"),
    }
    Ok(())
}

/// A projected optimization path as `losscape trajectory` writes it.
struct Projection {
    x: Vec<f64>,
    y: Vec<f64>,
    lr_decay: Vec<usize>,
    x_label: String,
    y_label: String,
}

impl Projection {
    fn read(path: &Path) -> Result<Self> {
        let v: Value = serde_json::from_slice(&fs::read(path).with_context(|| format!("reading {}", path.display()))?)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let points = v["points"].as_array().with_context(|| format!("{}: no 'points' list", path.display()))?;
        let mut p = Projection {
            x: Vec::new(),
            y: Vec::new(),
            lr_decay: Vec::new(),
            x_label: v["x_label"].as_str().unwrap_or("direction 1").to_owned(),
            y_label: v["y_label"].as_str().unwrap_or("direction 2").to_owned(),
        };
        for (i, pt) in points.iter().enumerate() {
            p.x.push(pt["x"].as_f64().context("a point without x")?);
            p.y.push(pt["y"].as_f64().context("a point without y")?);
            if pt["lr_decay"].as_bool().unwrap_or(false) {
                p.lr_decay.push(i);
            }
        }
        Ok(p)
    }
}

/// `--runs`: one curve per run of a metrics.jsonl field over epochs.
fn plot_runs(args: &PlotArgs) -> Result<()> {
    let labels = labels(args);
    let mut series = Vec::new();
    for input in &args.inputs {
        let file = if input.is_dir() { input.join("metrics.jsonl") } else { input.clone() };
        let text = fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).with_context(|| format!("{}: bad line", file.display()))?;
            xs.push(v["epoch"].as_f64().unwrap_or(f64::NAN));
            ys.push(v[&args.metric].as_f64().unwrap_or(f64::NAN));
        }
        series.push((xs, ys));
    }
    let curves: Vec<Curve> = series
        .iter()
        .enumerate()
        .map(|(i, (x, y))| Curve { markers: true, ..Curve::new(labels.get(i).cloned().unwrap_or_default(), x, y) })
        .collect();
    let figure = LinesFigure {
        title: args.title.clone(),
        x_label: "epoch".into(),
        loss_label: args.metric.replace('_', " "),
        log_loss: args.log,
        ..LinesFigure::default()
    };
    lines(&args.out, &curves, &figure)?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}
