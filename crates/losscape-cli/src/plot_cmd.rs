//! `losscape plot`: figures from surface files (1D curves, contours, heat maps, 3D surfaces,
//! trajectories over contours) and from training runs' metrics logs, through losscape-plot.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use losscape::directions::{DirectionSet, Origin};
use losscape::landscape::Surface;
use losscape::plot::{
    contour, contour_band, error_band, heatmap_with, html, lines, surface3d, trajectory, ContourFigure, Curve, ValueGrid, HeatmapFigure, HeatmapOverlay,
    HtmlFigure, Levels, LinesFigure, SurfaceFigure, PlanePath, TrajectoryFigure, YAxis,
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
    /// 2D: an interactive 3D view in a self-contained .html file (rotate, zoom, hover for
    /// values, log-scale toggle; no network needed). The default for an --out ending in .html.
    Html,
    /// Spectral densities on a log scale, from `losscape spectrum --density` reports (.json);
    /// several reports are broadened again with one width, the largest of theirs.
    Density,
    /// Per-layer lambda_max (and trace) bars, from a `losscape spectrum --per-layer` report.
    Layers,
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
    /// Output file: .png or .svg (or .html with --kind html).
    #[arg(long)]
    out: PathBuf,
    /// Figure width in pixels (text and lines scale with the smaller of width/800 and height/600).
    #[arg(long, default_value_t = 800, value_parser = clap::value_parser!(u32).range(64..=8192))]
    width: u32,
    /// Figure height in pixels.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u32).range(64..=8192))]
    height: u32,
    /// PNG only: draw at this many times the width and height, everything scaled alike (like a
    /// higher dpi); 1 to 4.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// 3D (surface3d, html): rotation about the vertical axis, in degrees (the original's azim).
    #[arg(long, allow_hyphen_values = true)]
    azimuth: Option<f64>,
    /// 3D (surface3d, html): elevation of the viewpoint, in degrees (the original's elev).
    #[arg(long, allow_hyphen_values = true)]
    elevation: Option<f64>,
    /// Contours: distance between levels, from --vmin (default 0.1) to below --vmax (default
    /// 10, then decades above), as the original's arange(vmin, vmax, vlevel).
    #[arg(long)]
    vlevel: Option<f64>,
    /// Also write the figure as SVG beside a .png --out (X.png and X.svg, from the same drawing).
    #[arg(long)]
    svg: bool,
    /// Label of the horizontal axis (default: named from the surface's directions, e.g.
    /// "filter-normalized direction 1", "PCA component 1 (72.3%)", "interpolation coefficient α").
    #[arg(long)]
    xlabel: Option<String>,
    /// Label of the vertical axis of 2D figures (default: named from the surface's directions).
    #[arg(long)]
    ylabel: Option<String>,
    /// Heat maps: draw the contour lines of this surface file's --contour-array over the map
    /// (for example the loss surface over a Hessian-ratio map of the same plane).
    #[arg(long)]
    contours_from: Option<PathBuf>,
    /// Heat maps: draw the contour lines of this file's own --contour-array over the map.
    #[arg(long, conflicts_with = "contours_from")]
    own_contours: bool,
    /// The array whose contours --contours-from / --own-contours draw.
    #[arg(long, default_value = "train_loss")]
    contour_array: String,
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
    /// Lower end of the colour range (heat map), of the height (3D) or of the contour levels.
    #[arg(long, allow_hyphen_values = true)]
    vmin: Option<f64>,
    /// Upper end of the colour range (heat map; higher values are hatched), of the height (3D;
    /// the surface is cut off above it) or of the contour levels.
    #[arg(long, allow_hyphen_values = true)]
    vmax: Option<f64>,
    /// Contour levels: original (0.1 to 10 in steps of 0.5, then decades, as the original code;
    /// the default for losses) or auto (about ten levels over the data's range).
    #[arg(long, value_enum)]
    levels: Option<LevelChoice>,
    /// A trajectory projection (JSON written by `losscape trajectory`) to draw over the contours.
    #[arg(long)]
    path: Option<PathBuf>,
    /// Contours of a surface made with --samples auto: also draw, dashed, the same levels of
    /// the array minus and plus this many standard errors (e.g. 2). Its heat map of standard
    /// errors: --kind heatmap --array train_loss_se.
    #[arg(long, conflicts_with = "path")]
    error_band: Option<f64>,
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
    if let Some(kind @ (Kind::Density | Kind::Layers)) = args.kind {
        let labels = args.labels.as_ref().map(|l| l.split(',').map(str::to_owned).collect::<Vec<_>>());
        return crate::spectrum_cmd::plot(&args.inputs, kind == Kind::Density, &outputs(&args)?, &args.title, labels);
    }
    let surfaces = args
        .inputs
        .iter()
        .map(|p| Surface::load(p).with_context(|| format!("reading {}", p.display())))
        .collect::<Result<Vec<_>>>()?;
    let is_2d = surfaces[0].grid().is_2d();
    let html_out = args.out.extension().is_some_and(|e| e.eq_ignore_ascii_case("html"));
    let kind = args.kind.unwrap_or(if html_out { Kind::Html } else if is_2d { Kind::Contour } else { Kind::Line });
    let outputs = outputs(&args)?;
    if kind != Kind::Line && surfaces.len() != 1 {
        bail!("a {kind:?} figure draws one surface, got {}", surfaces.len());
    }
    for out in &outputs {
        match kind {
            Kind::Line => plot_lines(&args, &surfaces, out)?,
            _ => plot_2d(&args, &surfaces[0], kind, out)?,
        }
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}

/// The files to write: --out, and with --svg its .svg twin (drawn by the same code).
fn outputs(args: &PlotArgs) -> Result<Vec<PathBuf>> {
    let ext = args.out.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let html_kind = args.kind == Some(Kind::Html) || (args.kind.is_none() && ext.as_deref() == Some("html"));
    if html_kind {
        if ext.as_deref() != Some("html") || args.svg {
            bail!("{}: an html view is written to a file ending in .html (and has no --svg twin)", args.out.display());
        }
        return Ok(vec![args.out.clone()]);
    }
    match ext.as_deref() {
        Some("png") if args.svg => Ok(vec![args.out.clone(), args.out.with_extension("svg")]),
        Some("png") | Some("svg") => Ok(vec![args.out.clone()]),
        _ => bail!("{}: the figure file name must end in .png or .svg (or .html with --kind html)", args.out.display()),
    }
}

/// The pixel size of a figure written to `out`: --width x --height, times --scale for PNG.
fn figure_size(args: &PlotArgs, out: &Path) -> Result<(u32, u32)> {
    if !(1.0..=4.0).contains(&args.scale) {
        bail!("--scale {} is out of range (1 to 4)", args.scale);
    }
    let png = out.extension().is_some_and(|e| e.eq_ignore_ascii_case("png"));
    let k = if png { args.scale } else { 1.0 };
    let side = |v: u32| -> Result<u32> {
        let scaled = (v as f64 * k).round();
        if scaled > 8192.0 {
            bail!("the figure would be {scaled} pixels wide or high with --scale {}; 8192 at most", args.scale);
        }
        Ok(scaled as u32)
    };
    Ok((side(args.width)?, side(args.height)?))
}

/// Names for a surface's directions, from its header: `filter-normalized direction 1` for
/// random directions (by their normalization), `PCA component 1 (72.3%)` for PCA directions
/// whose file is still readable, `interpolation coefficient α` for a 1D interpolation, and
/// `direction 1` when the header does not tell. The second value says whether the names are
/// informative (not the `direction k` fallback).
pub(crate) fn direction_names(surface: &Surface, surface_path: &Path) -> ([String; 2], bool) {
    let method = surface.header().method.as_str();
    let dims = if surface.grid().is_2d() { 2 } else { 1 };
    let numbered = |stem: &str| -> [String; 2] {
        if dims == 1 {
            [stem.to_owned(), format!("{stem} 2")]
        } else {
            [format!("{stem} 1"), format!("{stem} 2")]
        }
    };
    let by_norm = |norm: &str| -> String {
        match norm {
            "filter" => "filter-normalized direction".into(),
            "layer" => "layer-normalized direction".into(),
            "weight" => "weight-normalized direction".into(),
            _ => "random direction".into(),
        }
    };
    if method.starts_with("interpolate") {
        return (["interpolation coefficient α".into(), "direction 2".into()], true);
    }
    if let Some(rest) = method.strip_prefix("random ") {
        if let Some(norm) = rest.split_whitespace().find_map(|w| w.strip_prefix("norm=")) {
            return (numbered(&by_norm(norm)), true);
        }
    }
    if let Some(file) = method.strip_prefix("direction file ") {
        let file = Path::new(file);
        let candidates = [file.to_path_buf(), surface_path.parent().unwrap_or(Path::new(".")).join(file)];
        if let Some(set) = candidates.iter().filter(|p| p.is_file()).find_map(|p| DirectionSet::load(p).ok()) {
            match &set.meta.origin {
                Origin::Pca { explained_variance_ratio: r } => {
                    let name = |k: usize| match r.get(k) {
                        Some(v) if v.is_finite() => format!("PCA component {} ({:.1}%)", k + 1, v * 100.0),
                        _ => format!("PCA component {}", k + 1),
                    };
                    return ([name(0), name(1)], true);
                }
                Origin::Random { specs } if !specs.is_empty() => {
                    let norm = specs[0].norm.to_string();
                    return (numbered(&by_norm(&norm)), true);
                }
                _ => {}
            }
        }
    }
    (numbered("direction"), false)
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

fn plot_lines(args: &PlotArgs, surfaces: &[Surface], out: &Path) -> Result<()> {
    let labels = labels(args);
    let mut xs = Vec::new();
    for s in surfaces {
        if s.grid().is_2d() {
            bail!("--kind line needs 1D surfaces; use contour, heatmap or surface3d for 2D ones");
        }
        xs.push(s.grid().x.coordinates());
    }
    // A point whose loss is not finite has no meaningful accuracy (a network that outputs NaN
    // "predicts" class 0, which reads as 10%): its accuracy is a gap too.
    let mut masked = std::collections::HashMap::new();
    for (i, s) in surfaces.iter().enumerate() {
        for split in ["train", "test"] {
            let loss = s.array(&format!("{split}_loss"));
            if let Some(l) = loss {
                masked.insert((i, split, "loss"), l.to_vec());
            }
            // Regression targets have no accuracy (all NaN): no accuracy curve then.
            if let Some(a) = s.array(&format!("{split}_acc")).filter(|a| !a.iter().all(|v| v.is_nan())) {
                let a: Vec<f64> = a
                    .iter()
                    .enumerate()
                    .map(|(k, v)| if loss.is_some_and(|l| !l[k].is_finite()) { f64::NAN } else { *v })
                    .collect();
                masked.insert((i, split, "acc"), a);
            }
        }
    }
    let mut curves = Vec::new();
    let several = surfaces.len() > 1;
    for i in 0..surfaces.len() {
        let label = labels.get(i).cloned().unwrap_or_default();
        for (split, dashed) in [("train", false), ("test", true)] {
            for (metric, axis) in [("loss", YAxis::Loss), ("acc", YAxis::Accuracy)] {
                if let Some(values) = masked.get(&(i, split, metric)) {
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
    let x_label = match &args.xlabel {
        Some(l) => l.clone(),
        None => {
            // One name when every surface agrees on it, else the neutral default.
            let names: Vec<String> =
                surfaces.iter().zip(&args.inputs).map(|(s, p)| direction_names(s, p).0[0].clone()).collect();
            if names.windows(2).all(|w| w[0] == w[1]) {
                names[0].clone()
            } else {
                "alpha".into()
            }
        }
    };
    let figure =
        LinesFigure { title: args.title.clone(), log_loss: args.log, x_label, size: figure_size(args, out)?, ..LinesFigure::default() };
    lines(out, &curves, &figure)?;
    Ok(())
}

/// The values of a 2D surface's array as a (nx, ny) array; points not computed yet are NaN.
fn grid_values(surface: &Surface, name: &str) -> Result<(Vec<f64>, Vec<f64>, Array2<f64>)> {
    if !surface.grid().is_2d() {
        bail!("a 2D figure needs a 2D surface; use --kind line for 1D ones");
    }
    let v = losscape::plot::surface_values(surface, name)?;
    Ok((v.x, v.y, v.z))
}

fn plot_2d(args: &PlotArgs, surface: &Surface, kind: Kind, out: &Path) -> Result<()> {
    if !surface.grid().is_2d() {
        bail!("a {kind:?} figure needs a 2D surface; use --kind line for 1D ones");
    }
    let default_array = if surface.array("abs_ratio").is_some() { "abs_ratio" } else { "train_loss" };
    let name = args.array.as_deref().unwrap_or(default_array);
    let (x, y, z) = grid_values(surface, name)?;
    let g = ValueGrid::new(&x, &y, z.view())?;
    let ([auto_x, auto_y], informative) = direction_names(surface, &args.inputs[0]);
    let x_label = args.xlabel.clone().unwrap_or_else(|| auto_x.clone());
    let y_label = args.ylabel.clone().unwrap_or_else(|| auto_y.clone());
    let levels = match (args.vlevel, args.levels.unwrap_or(if name.contains("loss") { LevelChoice::Original } else { LevelChoice::Auto })) {
        (Some(step), _) => {
            if !(step > 0.0 && step.is_finite()) {
                bail!("--vlevel {step} must be a positive number");
            }
            let (min, max) = (args.vmin.unwrap_or(0.1), args.vmax.unwrap_or(10.0));
            if !(min < max) || (max - min) / step > 1000.0 {
                bail!("--vlevel {step} from {min} to {max} gives no levels or over 1000 of them");
            }
            Levels::Linear { min, max, step, log_above: args.vmax.is_none() }
        }
        (None, LevelChoice::Original) => Levels::original(),
        (None, LevelChoice::Auto) => Levels::default(),
    };
    let size = figure_size(args, out)?;
    if (args.azimuth.is_some() || args.elevation.is_some()) && !matches!(kind, Kind::Surface3d | Kind::Html) {
        bail!("--azimuth and --elevation turn 3D figures (--kind surface3d or html)");
    }
    if args.error_band.is_some() && kind != Kind::Contour {
        bail!("--error-band draws contours (--kind contour)");
    }
    if args.vlevel.is_some() && !matches!(kind, Kind::Contour) {
        bail!("--vlevel spaces contour levels (--kind contour)");
    }
    let range = match (args.vmin, args.vmax) {
        (Some(a), Some(b)) if a < b && a.is_finite() && b.is_finite() => Some((a, b)),
        (Some(a), Some(b)) => bail!("--vmin {a} must be below --vmax {b}"),
        (None, None) => None,
        // The html view takes --vmax alone as its initial cut-off.
        (None, Some(_)) if kind == Kind::Html => None,
        _ => bail!("give both --vmin and --vmax, or neither"),
    };
    match kind {
        Kind::Contour => match &args.path {
            Some(path) => {
                let proj = Projection::read(path)?;
                let traj = PlanePath { x: &proj.x, y: &proj.y, lr_decay: &proj.lr_decay };
                // The surface's own names when it knows them, else the projection's.
                let pick = |given: &Option<String>, auto: &str, proj: &str| match given {
                    Some(l) => l.clone(),
                    None if informative => auto.to_owned(),
                    None => proj.to_owned(),
                };
                let figure = TrajectoryFigure {
                    title: args.title.clone(),
                    x_label: pick(&args.xlabel, &auto_x, &proj.x_label),
                    y_label: pick(&args.ylabel, &auto_y, &proj.y_label),
                    levels,
                    range,
                    size,
                    ..TrajectoryFigure::default()
                };
                trajectory(out, Some(&g), &traj, &figure)?;
            }
            None => {
                let figure =
                    ContourFigure { title: args.title.clone(), levels, x_label, y_label, range, size, ..ContourFigure::default() };
                match args.error_band {
                    Some(k) => {
                        let (lo, hi) = error_band(surface, name, k)?;
                        let (lower, upper) = (ValueGrid::new(&lo.x, &lo.y, lo.z.view())?, ValueGrid::new(&hi.x, &hi.y, hi.z.view())?);
                        let (value, band) = (name.replace('_', " "), format!("± {k} standard errors"));
                        contour_band(out, &g, &lower, &upper, (&value, &band), &figure)?;
                    }
                    None => contour(out, &g, &figure)?,
                }
            }
        },
        Kind::Heatmap => {
            let base = if name == "abs_ratio" { HeatmapFigure::eigenvalue_ratio() } else { HeatmapFigure::default() };
            let figure = HeatmapFigure {
                title: args.title.clone(),
                x_label,
                y_label,
                colorbar_label: if name == "abs_ratio" { base.colorbar_label.clone() } else { name.replace('_', " ") },
                range: range.or(base.range),
                log_scale: args.log,
                size,
                ..base
            };
            // Contours of a loss surface over the map, from another file or this one.
            let other = match &args.contours_from {
                Some(p) => Some(Surface::load(p).with_context(|| format!("reading {}", p.display()))?),
                None => None,
            };
            let source = if args.own_contours { Some(surface) } else { other.as_ref() };
            let contour_data = match source {
                Some(s) => Some(grid_values(s, &args.contour_array)?),
                None => None,
            };
            let contours = match &contour_data {
                Some((cx, cy, cz)) => Some(ValueGrid::new(cx, cy, cz.view())?),
                None => None,
            };
            // Points where the eigenvalue solver did not converge (Hessian maps record it).
            // A point without a value is a gap already, not an unconverged solve.
            let mut marked = unconverged(surface);
            marked.retain(|&(ix, iy)| z[[ix, iy]].is_finite());
            let overlay = HeatmapOverlay {
                contours,
                // Few levels: the lines must not hide the colours under them.
                contour_levels: Levels::Auto { count: 8 },
                contour_label: if source.is_some() { args.contour_array.replace('_', " ") } else { String::new() },
                marked,
                marked_label: "not converged".into(),
            };
            heatmap_with(out, &g, &figure, &overlay)?;
        }
        Kind::Surface3d => {
            let base = SurfaceFigure::default();
            let figure = SurfaceFigure {
                title: args.title.clone(),
                x_label,
                y_label,
                z_label: name.replace('_', " "),
                z_range: range,
                yaw: args.azimuth.map_or(base.yaw, f64::to_radians),
                pitch: args.elevation.map_or(base.pitch, f64::to_radians),
                size,
                ..base
            };
            surface3d(out, &g, &figure)?;
        }
        Kind::Html => {
            let title = if args.title.is_empty() { args.inputs[0].display().to_string() } else { args.title.clone() };
            let view = (args.azimuth.is_some() || args.elevation.is_some())
                .then(|| (args.azimuth.unwrap_or(35.0), args.elevation.unwrap_or(30.0)));
            let figure = HtmlFigure { title, label: name.to_owned(), vmax: args.vmax, size, view };
            html(out, &g, &figure)?;
        }
        Kind::Line | Kind::Density | Kind::Layers => unreachable!("handled before"),
    }
    Ok(())
}

/// The grid points `(ix, iy)` computed but not converged, from a Hessian map's `converged`
/// array (empty for surfaces without one).
fn unconverged(surface: &Surface) -> Vec<(usize, usize)> {
    let (Some(conv), Some(y)) = (surface.array("converged"), surface.grid().y.as_ref()) else {
        return Vec::new();
    };
    let ny = y.coordinates().len();
    conv.iter()
        .enumerate()
        .filter(|(i, c)| surface.done()[*i] && **c < 0.5)
        .map(|(i, _)| (i / ny, i % ny))
        .collect()
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
    for out in outputs(args)? {
        lines(&out, &curves, &figure)?;
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}
