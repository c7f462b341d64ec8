//! The figure families of `cargo xtask figures` (issue 8, a-g; issue 20, h): which models are trained, which
//! surfaces, Hessian maps and trajectories are computed from them, and the numbers gathered for
//! the report ([`Findings`]).

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::figures::{args, Pipeline, Preset, Table};
use crate::findings::{eval_note, resnet_depth, EigenPlane, Findings, Run, SpectrumResult, WidthResult};
use crate::measures::{convexity, GridValues};

/// How a model is trained.
struct TrainSpec<'a> {
    model: &'a str,
    batch: usize,
    weight_decay: f64,
    epochs: u64,
    decay: &'a str,
    train_per_class: Option<usize>,
    /// Base learning rate (None: the train command's default, 0.1).
    lr: Option<f64>,
    /// Random crops and flips.
    augment: bool,
}

/// Trains (or reuses) one run; runs are named by their settings, so equal settings share a run.
fn train(p: &mut Pipeline, spec: &TrainSpec<'_>) -> Result<Run> {
    let subset = spec.train_per_class.map_or(String::new(), |k| format!("-pc{k}"));
    let lr = spec.lr.map_or(String::new(), |lr| format!("-lr{lr}"));
    let aug = if spec.augment { "" } else { "-noaug" };
    let name = format!("{}-b{}-wd{}-e{}{subset}{lr}{aug}", spec.model, spec.batch, spec.weight_decay, spec.epochs);
    let mut a = args(["train", "--model", spec.model, "--epochs"]);
    a.push(spec.epochs.to_string());
    if let Some(lr) = spec.lr {
        a.extend(["--lr".to_owned(), lr.to_string()]);
    }
    a.extend(args(["--lr-decay-epochs", spec.decay, "--batch-size"]));
    a.push(spec.batch.to_string());
    a.push("--weight-decay".into());
    a.push(spec.weight_decay.to_string());
    if !spec.augment {
        a.extend(args(["--crop-padding", "0", "--no-flip"]));
    }
    a.extend(args(["--save-every", "1", "--seed", "0", "--dataset"]));
    a.push(p.preset.data.clone());
    if let Some(k) = spec.train_per_class {
        a.push("--train-per-class".into());
        a.push(k.to_string());
    }
    if let Some(k) = p.preset.test_per_class {
        a.push("--test-per-class".into());
        a.push(k.to_string());
    }
    a.push("--threads".into());
    a.push(p.threads());
    // The folder name carries a digest of the settings: a changed setting trains a new run
    // instead of meeting the refusal to resume a run made with other settings.
    let digest = crate::figures::short_digest(&a.join(" "));
    let dir = p.cache(&format!("runs/{name}-{digest}"));
    a.push("--out".into());
    a.push(dir.display().to_string());
    let record = dir.join("run.json");
    p.stage(&format!("train-{name}-{digest}"), &a, &[], &[&record])?;
    let v: Value = serde_json::from_slice(&fs::read(&record)?).context("run.json")?;
    let last = &v["last_metrics"];
    let checkpoint = dir.join(v["final_checkpoint"].as_str().context("run.json has no final checkpoint")?);
    Ok(Run {
        name,
        model: spec.model.to_owned(),
        dir,
        checkpoint,
        test_acc: last["test_acc"].as_f64().unwrap_or(f64::NAN),
        train_acc: last["train_eval_acc"].as_f64().unwrap_or(f64::NAN),
        train_loss: last["train_eval_loss"].as_f64().unwrap_or(f64::NAN),
        batch: spec.batch,
        epochs: spec.epochs,
        train_per_class: spec.train_per_class,
        weight_decay: spec.weight_decay,
        wall_seconds: v["wall_seconds"].as_f64().unwrap_or(f64::NAN),
    })
}

/// Options of one `losscape surface` stage.
struct SurfaceSpec<'a> {
    x: String,
    y: Option<String>,
    norm: &'a str,
    seed: u64,
    splits: &'a str,
    per_class: Option<usize>,
    extra: Vec<String>,
}

/// Computes (or reuses) a surface in the cache and its CSV export; returns the surface path.
fn surface(p: &mut Pipeline, name: &str, run: &Run, s: &SurfaceSpec<'_>) -> Result<PathBuf> {
    let path = p.cache(&format!("surfaces/{name}.surface"));
    let mut a = vec!["surface".to_owned(), "--checkpoint".into(), run.checkpoint.display().to_string()];
    a.extend(["--x".to_owned(), s.x.clone()]);
    if let Some(y) = &s.y {
        a.extend(["--y".to_owned(), y.clone()]);
    }
    a.extend(["--norm".to_owned(), s.norm.into(), "--seed".into(), s.seed.to_string(), "--splits".into(), s.splits.into()]);
    if let Some(k) = s.per_class {
        a.extend(["--per-class".to_owned(), k.to_string()]);
    }
    a.extend(s.extra.iter().cloned());
    a.extend(["--threads".to_owned(), p.threads(), "--out".into(), path.display().to_string()]);
    p.stage(&format!("surface-{name}"), &a, &[&run.checkpoint], &[&path])?;
    export_csv(p, name, &path)?;
    Ok(path)
}

fn export_csv(p: &mut Pipeline, name: &str, surface: &std::path::Path) -> Result<PathBuf> {
    let csv = surface.with_extension("csv");
    let a = vec!["export".to_owned(), surface.display().to_string(), "--format".into(), "csv".into(), "--out".into(), csv.display().to_string()];
    p.stage(&format!("export-{name}"), &a, &[surface], &[&csv])?;
    Ok(csv)
}

/// Renders a figure with `losscape plot` into the output folder and registers it.
fn plot(p: &mut Pipeline, family: &'static str, file: &str, inputs: &[PathBuf], extra: &[String], caption: String) -> Result<()> {
    let out = p.out(file);
    let mut a = vec!["plot".to_owned()];
    a.extend(inputs.iter().map(|i| i.display().to_string()));
    a.extend(extra.iter().cloned());
    // Every figure also as SVG (X.png and X.svg from the same drawing).
    a.extend(["--svg".to_owned(), "--out".to_owned(), out.display().to_string()]);
    let mut refs: Vec<&std::path::Path> = inputs.iter().map(PathBuf::as_path).filter(|p| p.is_file()).collect();
    // Files named by flags (--contours-from, --path) are inputs too.
    let flagged: Vec<PathBuf> = extra.iter().map(PathBuf::from).filter(|p| p.is_file()).collect();
    refs.extend(flagged.iter().map(PathBuf::as_path));
    // A plot is cheap: redraw it whenever the binary changed, so figure fixes reach the set.
    let bin = p.bin().to_path_buf();
    refs.push(&bin);
    p.stage(&format!("plot-{file}"), &a, &refs, &[&out])?;
    // A 2D loss surface drawn as contours or in 3D gets an interactive view on the page.
    let two_d = extra.windows(2).any(|w| w[0] == "--kind" && (w[1] == "contour" || w[1] == "surface3d"));
    let surface = inputs
        .first()
        .filter(|_| two_d && inputs.len() == 1)
        .filter(|i| i.extension().is_some_and(|e| e == "surface"))
        .and_then(|i| i.file_stem())
        .map(|s| s.to_string_lossy().into_owned());
    p.figure(family, file, caption, surface);
    Ok(())
}

fn s(v: &str) -> String {
    v.to_owned()
}

fn axis(min: f64, max: f64, n: usize) -> String {
    format!("{min}:{max}:{n}")
}

/// The mean of `L(a, b) - L(0, 0)` over the grid points with |a|, |b| <= 0.5 of a 2D surface's
/// CSV export: how steeply the loss rises around the minimizer, robust to the blow-ups at the
/// plane's corners. NaN when the centre or the inner points are missing.
pub fn inner_rise(t: &Table) -> f64 {
    let (Some(x), Some(y), Some(loss)) = (t.column("x"), t.column("y"), t.column("train_loss")) else {
        return f64::NAN;
    };
    let centre = origin(&x, &y).map(|i| loss[i]);
    let inner: Vec<f64> = (0..loss.len()).filter(|&i| x[i].abs() <= 0.5 + 1e-9 && y[i].abs() <= 0.5 + 1e-9).map(|i| loss[i]).collect();
    match centre {
        Some(c) if c.is_finite() && !inner.is_empty() => inner.iter().map(|v| v - c).sum::<f64>() / inner.len() as f64,
        _ => f64::NAN,
    }
}

/// The mean of `L(a, b) - L(0, 0)` over all points of a 2D surface's CSV export (NaN without the
/// centre).
pub fn mean_rise(t: &Table) -> f64 {
    let (Some(x), Some(y), Some(loss)) = (t.column("x"), t.column("y"), t.column("train_loss")) else {
        return f64::NAN;
    };
    match origin(&x, &y).map(|i| loss[i]) {
        Some(c) if c.is_finite() && !loss.is_empty() => loss.iter().map(|v| v - c).sum::<f64>() / loss.len() as f64,
        _ => f64::NAN,
    }
}

/// The row of a grid export at (0, 0), the minimizer.
fn origin(x: &[f64], y: &[f64]) -> Option<usize> {
    x.iter().zip(y).position(|(a, b)| a.abs() < 1e-9 && b.abs() < 1e-9)
}

/// Runs every selected family and returns the numbers gathered for the report.
pub fn run_all(p: &mut Pipeline) -> Result<Findings> {
    let mut f = Findings::default();
    let pre = p.preset.clone();
    let n = pre.grid;

    // The batch-size / weight-decay study (families a, b, c, g and the sharpness table).
    let mut study = Vec::new();
    if ["a", "b", "c", "g", "h"].iter().any(|x| p.selected(x)) {
        for wd in [0.0, 5e-4] {
            for batch in [pre.small_batch, pre.large_batch] {
                let large = batch == pre.large_batch;
                let spec = TrainSpec {
                    model: pre.study_model,
                    batch,
                    weight_decay: wd,
                    epochs: if large { pre.large_epochs } else { pre.epochs },
                    decay: if large { pre.large_decay } else { pre.decay },
                    train_per_class: pre.train_per_class,
                    lr: None,
                    augment: pre.augment,
                };
                let run = train(p, &spec)?;
                f.runs.insert(run.name.clone(), run.clone());
                study.push(run);
            }
        }
    }
    let label = |r: &Run| format!("batch {} wd {}", r.batch, r.weight_decay);
    let eval_note = eval_note(pre.eval_per_class);

    if p.selected("a") {
        for pair in study.chunks(2) {
            let (small, large) = (&pair[0], &pair[1]);
            let name = format!("a-interp-wd{}", small.weight_decay);
            let spec = SurfaceSpec {
                x: axis(-0.5, 1.5, pre.line),
                y: None,
                norm: "filter",
                seed: 1,
                splits: "both",
                per_class: pre.eval_per_class,
                extra: vec![s("--interpolate-to"), large.checkpoint.display().to_string(), s("--bn-extrapolation"), s("undefined")],
            };
            let surf = surface(p, &name, small, &spec)?;
            plot(
                p,
                "a",
                &format!("{name}.png"),
                &[surf],
                &[s("--kind"), s("line"), s("--log"), s("--title"), format!("interpolation: batch {} (a=0) to {} (a=1), wd {}", small.batch, large.batch, small.weight_decay)],
                format!(
                    "1D linear interpolation of all weights and BN statistics from the small-batch (a=0, batch {}) to the large-batch (a=1, batch {}) minimizer of {}, weight decay {}; train solid, test dashed; {eval_note} and the whole test split. Where extrapolation would make a BN running variance negative the point is no network and is left undefined (a grey gap).",
                    small.batch, large.batch, pre.study_model, small.weight_decay
                ),
            )?;
        }
    }

    if p.selected("b") {
        for &norm in &pre.norms {
            for pair in study.chunks(2) {
                let mut surfs = Vec::new();
                for run in pair {
                    let spec = SurfaceSpec { x: axis(-1.0, 1.0, pre.line), y: None, norm, seed: 1, splits: "both", per_class: pre.eval_per_class, extra: vec![] };
                    surfs.push(surface(p, &format!("b-1d-{norm}-{}", run.name), run, &spec)?);
                }
                let labels = pair.iter().map(label).collect::<Vec<_>>().join(",");
                let file = format!("b-1d-{norm}-wd{}.png", pair[0].weight_decay);
                plot(
                    p,
                    "b",
                    &file,
                    &surfs,
                    &[s("--kind"), s("line"), s("--log"), s("--labels"), labels, s("--title"), format!("{norm}-normalized direction, wd {}", pair[0].weight_decay)],
                    format!(
                        "1D loss and accuracy along a random {norm}-normalized direction (seed 1) around the small- and large-batch minimizers, weight decay {}; {eval_note} and the whole test split.",
                        pair[0].weight_decay,
                    ),
                )?;
            }
        }
        for run in &study {
            let surf = plane(p, run, pre.eval_per_class, &mut f)?;
            plot(
                p,
                "b",
                &format!("b-2d-filter-{}.png", run.name),
                &[surf],
                &[s("--kind"), s("contour"), s("--title"), format!("{}: {} (test error {:.2}%)", pre.study_model, label(run), run.test_error())],
                format!(
                    "2D training-loss contours around the {} minimizer ({}) along two filter-normalized directions, {n}x{n} points; {eval_note}.",
                    pre.study_model,
                    label(run),
                ),
            )?;
        }
        sharpness(p, &study, &mut f)?;
    }

    if p.selected("c") {
        let dirs: Vec<PathBuf> = study.iter().map(|r| r.dir.clone()).collect();
        let labels = study.iter().map(label).collect::<Vec<_>>().join(",");
        let extra = vec![s("--runs"), s("--metric"), s("weight_norm"), s("--labels"), labels, s("--title"), s("weight norm during training")];
        let records: Vec<PathBuf> = dirs.iter().map(|d| d.join("metrics.jsonl")).collect();
        plot(p, "c", "c-weight-norm.png", &records, &extra, format!(
            "L2 norm of all trainable weights per epoch of {} for batch {} and {} with weight decay 0 and 5e-4: without weight decay the norm grows, which changes the scale of unnormalized directions.",
            pre.study_model, pre.small_batch, pre.large_batch
        ))?;
    }

    // Depth (d) and width (e), with and without shortcuts.
    let mut depth_models: Vec<String> = Vec::new();
    if p.selected("d") {
        // Deepest first: the shallow networks' runs and planes are shared with families b and f,
        // which run beside this group and may well compute them first.
        depth_models.extend(pre.noshort_depths.iter().rev().map(|d| format!("resnet{d}-noshort")));
        for &d in pre.depths.iter().rev() {
            depth_models.push(format!("resnet{d}"));
            depth_models.push(format!("resnet{d}-noshort"));
        }
    } else if p.selected("f") {
        // The Hessian maps use the shallowest depth only.
        if let Some(d) = pre.depths.first() {
            depth_models.push(format!("resnet{d}"));
            depth_models.push(format!("resnet{d}-noshort"));
        }
    }
    let mut depth_runs = Vec::new();
    for model in &depth_models {
        let run = train(p, &depth_spec(&pre, model))?;
        f.runs.insert(run.name.clone(), run.clone());
        depth_runs.push(run);
    }
    if p.selected("d") {
        for run in &depth_runs {
            let surf = plane(p, run, pre.eval_per_class, &mut f)?;
            f.depth.push(run.name.clone());
            let title = format!("{} (test error {:.2}%)", run.model, run.test_error());
            plot(p, "d", &format!("d-{}-contour.png", run.model), &[surf.clone()], &[s("--kind"), s("contour"), s("--title"), title.clone()], format!(
                "2D training-loss contours of {} (train accuracy {:.1}%) along filter-normalized directions, {n}x{n} points; {eval_note}.", run.model, run.train_acc))?;
            plot(p, "d", &format!("d-{}-3d.png", run.model), &[surf], &[s("--kind"), s("surface3d"), s("--vmin"), s("0"), s("--vmax"), pre.clip.to_string(), s("--title"), title], format!(
                "The same surface of {} as a 3D rendering, cut off at loss {}.", run.model, pre.clip))?;
        }
        // The zoomed-out view of the shallowest network without shortcuts (the cheapest to evaluate).
        if let Some(run) = depth_runs.iter().rev().find(|r| r.model.ends_with("noshort")) {
            let z = pre.zoom;
            let spec = SurfaceSpec { x: axis(-z, z, n), y: Some(axis(-z, z, n)), norm: "filter", seed: 1, splits: "train", per_class: pre.eval_per_class, extra: vec![] };
            let surf = surface(p, &format!("d-zoom-{}", run.name), run, &spec)?;
            plot(p, "d", &format!("d-zoom-{}.png", run.model), &[surf.clone()], &[s("--kind"), s("contour"), s("--title"), format!("{} zoomed out (-{z}..{z})", run.model)], format!(
                "Zoomed-out training-loss surface of {} over -{z}..{z} (several times the usual range): a low-loss basin around the minimizer amid high-loss regions; {eval_note}.", run.model))?;
            plot(p, "d", &format!("d-zoom-{}-3d.png", run.model), &[surf], &[s("--kind"), s("surface3d"), s("--vmin"), s("0"), s("--vmax"), pre.clip.to_string(), s("--title"), format!("{} zoomed out", run.model)], format!(
                "The zoomed-out surface of {} in 3D, cut off at loss {}.", run.model, pre.clip))?;
        }
    }

    if p.selected("e") {
        for &k in &pre.widths {
            for short in [true, false] {
                let d = pre.wide_depth;
                let model = if k == 1 { format!("resnet{d}{}", if short { "" } else { "-noshort" }) } else { format!("wrn{d}-{k}{}", if short { "" } else { "-noshort" }) };
                let spec = TrainSpec {
                    model: &model,
                    batch: pre.small_batch,
                    weight_decay: 5e-4,
                    epochs: pre.wide_epochs,
                    decay: pre.wide_decay,
                    train_per_class: pre.wide_train_per_class,
                    lr: pre.wide_lr,
                    augment: pre.augment,
                };
                let run = train(p, &spec)?;
                f.runs.insert(run.name.clone(), run.clone());
                let surf = plane(p, &run, pre.wide_eval_per_class, &mut f)?;
                let rise = Table::read(&surf.with_extension("csv")).map(|t| inner_rise(&t)).unwrap_or(f64::NAN);
                f.widths.push(WidthResult { width: k, shortcuts: short, run: run.clone(), inner_rise: rise });
                plot(p, "e", &format!("e-width{k}-{}.png", if short { "short" } else { "noshort" }), &[surf], &[s("--kind"), s("contour"), s("--title"), format!("{model} (test error {:.2}%)", run.test_error())], format!(
                    "2D training-loss contours of {model} (width x{k}, {}, train accuracy {:.1}%), trained on {} images per class for {} epochs{}; {}.",
                    if short { "with shortcuts" } else { "without shortcuts" },
                    run.train_acc,
                    pre.wide_train_per_class.map_or("all".into(), |c| c.to_string()),
                    pre.wide_epochs,
                    pre.wide_lr.map_or(String::new(), |lr| format!(" at learning rate {lr}")),
                    crate::findings::eval_note(pre.wide_eval_per_class)))?;
            }
        }
    }

    if p.selected("f") {
        let first = pre.depths.first().map(|d| format!("resnet{d}")).unwrap_or_default();
        for run in depth_runs.iter().filter(|r| r.model == first || r.model == format!("{first}-noshort")) {
            let h = pre.hessian_grid;
            let path = p.cache(&format!("surfaces/f-{}.surface", run.name));
            let mut a = args(["hessian", "--checkpoint"]);
            a.push(run.checkpoint.display().to_string());
            a.extend(["--x".to_owned(), axis(-1.0, 1.0, h), "--y".into(), axis(-1.0, 1.0, h)]);
            a.extend(["--seed".to_owned(), "1".into(), "--samples".into(), pre.hessian_samples.to_string()]);
            a.extend(["--tol".to_owned(), pre.hessian_tol.to_string(), "--max-iter".into(), pre.hessian_max_iter.to_string()]);
            a.extend(["--threads".to_owned(), p.threads(), "--out".into(), path.display().to_string()]);
            p.stage(&format!("hessian-{}", run.name), &a, &[&run.checkpoint], &[&path])?;
            let csv = export_csv(p, &format!("f-{}", run.name), &path)?;
            let table = Table::read(&csv)?;
            if let (Some(x), Some(y), Some(r)) = (table.column("x"), table.column("y"), table.column("abs_ratio")) {
                if let Some(i) = origin(&x, &y) {
                    f.ratio_centre.push((run.model.clone(), r[i]));
                }
            }
            if let Some(c) = table.column("converged") {
                f.ratio_converged.push((run.model.clone(), c.iter().filter(|&&v| v > 0.0).count(), c.len()));
            }
            if let Some(mut r) = table.column("abs_ratio") {
                r.retain(|v| v.is_finite());
                r.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
                if !r.is_empty() {
                    let mean = r.iter().sum::<f64>() / r.len() as f64;
                    f.ratio_stats.push((run.model.clone(), mean, r[r.len() / 2], r[r.len() - 1]));
                }
            }
            // The loss contours of the same plane (same seed, same directions) over the map.
            let loss_plane = plane(p, run, pre.eval_per_class, &mut f)?;
            plot(p, "f", &format!("f-ratio-{}.png", run.model), &[path], &[s("--kind"), s("heatmap"), s("--array"), s("abs_ratio"), s("--vmin"), s("0"), s("--vmax"), s("0.5"), s("--contours-from"), loss_plane.display().to_string(), s("--title"), format!("|lambda_min / lambda_max|, {}", run.model)], format!(
                "|lambda_min/lambda_max| of the training-loss Hessian (weights of dim > 1, {} samples, Lanczos tol {}) over a {h}x{h} grid of the filter-normalized plane of {}, with the training-loss contours of the same plane over it: small (blue) where the surface is convex-looking; values above 0.5 and points whose Lanczos run did not converge are marked.",
                pre.hessian_samples, pre.hessian_tol, run.model))?;
        }
    }

    if p.selected("g") {
        // The small-batch path without weight decay (the paper's Figure 9 shows several; each
        // plane costs as much as a depth-study plane, so the quick preset draws one).
        let settings: Vec<Run> = study.iter().filter(|r| r.batch == pre.small_batch && r.weight_decay == 0.0).cloned().collect();
        for (i, run) in settings.iter().enumerate() {
            let tdir = p.cache(&format!("trajectories/{}", run.name));
            let report = tdir.join("trajectory.json");
            let mut a = args(["trajectory", "--run"]);
            a.push(run.dir.display().to_string());
            a.extend(["--seed".to_owned(), "1".into(), "--out".into(), tdir.display().to_string()]);
            p.stage(&format!("trajectory-{}", run.name), &a, &[&run.dir.join("run.json")], &[&report])?;
            let info: Value = serde_json::from_slice(&fs::read(&report)?)?;
            f.pca.push((run.name.clone(), info.clone()));
            // The PCA plane of every path, the random plane of the first where the preset affords
            // it: the paper's point that a random plane misses the path (the shares of the random
            // and init->final + random planes are in the report's table either way).
            let kinds: Vec<(&str, &str)> = if i == 0 && pre.random_plane { vec![("pca", "PCA directions"), ("random", "a random plane")] } else { vec![("pca", "PCA directions")] };
            for (kind, what) in kinds {
                let entry = &info["planes"][kind];
                let dfile = tdir.join(entry["directions"].as_str().context("trajectory.json: no directions")?);
                let proj = tdir.join(entry["projection"].as_str().context("trajectory.json: no projection")?);
                let xr = entry["suggested_x"].as_str().unwrap_or("-1:1:21");
                let yr = entry["suggested_y"].as_str().unwrap_or("-1:1:21");
                let relabel = |r: &str| -> String {
                    let mut parts: Vec<&str> = r.split(':').collect();
                    let nn = n.to_string();
                    if parts.len() == 3 { parts[2] = &nn; parts.join(":") } else { r.to_owned() }
                };
                let spec = SurfaceSpec { x: relabel(xr), y: Some(relabel(yr)), norm: "filter", seed: 1, splits: "train", per_class: pre.eval_per_class, extra: vec![s("--direction-file"), dfile.display().to_string()] };
                let name = format!("g-{kind}-{}", run.name);
                let surf = surface(p, &name, run, &spec)?;
                let share = entry["captured_share"].as_f64().unwrap_or(f64::NAN) * 100.0;
                plot(p, "g", &format!("{name}.png"), &[surf], &[s("--kind"), s("contour"), s("--path"), proj.display().to_string(), s("--title"), format!("{}: path on {what}", label(run))], format!(
                    "Optimization path of {} ({}) projected on {what}, over the training-loss contours of that plane ({n}x{n} points; {eval_note}); the plane captures {share:.1}% of the path's variation; LR-decay epochs in red.",
                    pre.study_model, label(run)))?;
            }
        }
    }

    if p.selected("h") {
        spectra(p, &study, &mut f)?;
    }

    Ok(f)
}

/// Family h: the Hessian spectral densities (SLQ) and top-5 eigenvalues of the study's small- and
/// large-batch minimizers with weight decay 5e-4, and the small-batch minimizer's plane along its
/// top two Hessian eigenvectors beside its random filter-normalized plane.
fn spectra(p: &mut Pipeline, study: &[Run], f: &mut Findings) -> Result<()> {
    let pre = p.preset.clone();
    let n = pre.spectrum_grid;
    let pair: Vec<&Run> = study.iter().filter(|r| r.weight_decay > 0.0).collect();
    let mut reports = Vec::new();
    for run in &pair {
        let prefix = p.cache(&format!("spectra/h-{}", run.name));
        let json = prefix.with_file_name(format!("h-{}.json", run.name));
        let mut a = args(["spectrum", "--checkpoint"]);
        a.push(run.checkpoint.display().to_string());
        a.extend(args(["--density", "--top", "5", "--samples"]));
        a.push(pre.hessian_samples.to_string());
        a.extend(["--starts".to_owned(), pre.spectrum_starts.to_string(), "--steps".into(), pre.spectrum_steps.to_string()]);
        a.extend(["--tol".to_owned(), pre.spectrum_tol.to_string(), "--max-iter".into(), "300".into()]);
        a.extend(["--threads".to_owned(), p.threads(), "--out".into(), prefix.display().to_string()]);
        p.stage(&format!("spectrum-{}", run.name), &a, &[&run.checkpoint], &[&json])?;
        let v: Value = serde_json::from_slice(&fs::read(&json)?).with_context(|| format!("reading {}", json.display()))?;
        let numbers = |x: &Value| -> Vec<f64> { x.as_array().map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default() };
        let top_lines = v["eigenpairs"]["top"].as_array().cloned().unwrap_or_default();
        let top: Vec<f64> = top_lines.iter().filter_map(|l| l["value"].as_f64()).collect();
        let rel: Vec<f64> = top_lines.iter().filter_map(|l| Some(l["residual"].as_f64()? / l["value"].as_f64()?.abs())).collect();
        let d = &v["density"];
        let range = numbers(&d["node_range"]);
        f.spectra.push(SpectrumResult {
            run: run.name.clone(),
            samples: v["subject"]["samples"].as_u64().unwrap_or(0) as usize,
            dimension: v["subject"]["dimension"].as_i64().unwrap_or(0),
            top,
            top_rel_residuals: rel,
            converged: v["eigenpairs"]["converged"].as_bool().unwrap_or(false),
            starts: d["starts"].as_u64().unwrap_or(0) as usize,
            steps: d["steps"].as_u64().unwrap_or(0) as usize,
            node_range: (range.first().copied().unwrap_or(f64::NAN), range.get(1).copied().unwrap_or(f64::NAN)),
            moments: numbers(&d["moments"]),
            negative_mass: d["negative_mass"].as_f64().unwrap_or(f64::NAN),
        });
        reports.push(json);
    }
    if !reports.is_empty() {
        let labels = pair.iter().map(|r| format!("batch {}", r.batch)).collect::<Vec<_>>().join(",");
        plot(p, "h", "h-density.png", &reports, &[s("--kind"), s("density"), s("--labels"), labels, s("--title"), format!("Hessian spectral density, {} (wd 5e-4)", pre.study_model)], format!(
            "Spectral density of the training-loss Hessian (weights of dim > 1, the first {} training images) of the small- and large-batch {} minimizers with weight decay 5e-4, by stochastic Lanczos quadrature ({} seeded starts x {} Lanczos steps, full reorthogonalization) broadened by Gaussians of one width for both (1% of the wider spectrum's range, so the curves differ only by their spectra), on a log scale.",
            pre.hessian_samples, pre.study_model, pre.spectrum_starts, pre.spectrum_steps))?;
    }
    // The plane of the small-batch minimizer's top two unit eigenvectors beside a plane of two
    // random directions of the same length. Filter-normalizing an eigenvector gives every filter
    // its weights' norm, and at the usual -1..1 that plane's loss reaches 1e17 on ResNet-20 (a
    // trial run): so both planes use unit-length directions over +-R, R = 3 / sqrt(lambda_max),
    // where the quadratic model rises by 4.5 along the top eigenvector.
    if let Some(run) = pair.iter().find(|r| r.batch == pre.small_batch) {
        let Some(sp) = f.spectra.iter().find(|x| x.run == run.name).cloned() else {
            return Ok(());
        };
        let lambda = sp.top.first().copied().unwrap_or(f64::NAN);
        if !(lambda > 0.0 && sp.dimension > 0) {
            f.notes.push(format!("Family h: no eigenvector plane for {}: its lambda_max is {lambda}.", run.name));
            return Ok(());
        }
        // Rounded to 4 significant digits so the command line (the stage key) stays short.
        let round = |v: f64| format!("{v:.4e}").parse::<f64>().unwrap_or(v);
        let r = round(3.0 / lambda.sqrt());
        // A random direction with --norm none has N(0, 1) entries on the weights of dim > 1 (the
        // Hessian's parameters): its length is sqrt(dimension) to within 0.2% at this size.
        let r_random = round(r / (sp.dimension as f64).sqrt());
        let dfile = p.cache(&format!("directions/h-eig-{}.safetensors", run.name));
        let mut a = args(["direction", "--checkpoint"]);
        a.push(run.checkpoint.display().to_string());
        a.extend(args(["--hessian-top", "2", "--norm", "none", "--hessian-samples"]));
        a.push(pre.hessian_samples.to_string());
        a.extend(["--hessian-tol".to_owned(), pre.spectrum_tol.to_string(), "--hessian-max-iter".into(), "300".into()]);
        a.extend(["--hessian-threads".to_owned(), p.threads(), "--out".into(), dfile.display().to_string()]);
        p.stage(&format!("direction-h-eig-{}", run.name), &a, &[&run.checkpoint], &[&dfile])?;
        let spec = SurfaceSpec { x: axis(-r, r, n), y: Some(axis(-r, r, n)), norm: "none", seed: 1, splits: "train", per_class: pre.eval_per_class, extra: vec![s("--direction-file"), dfile.display().to_string()] };
        let eig = surface(p, &format!("h-eigplane-{}", run.name), run, &spec)?;
        let spec = SurfaceSpec { x: axis(-r_random, r_random, n), y: Some(axis(-r_random, r_random, n)), norm: "none", seed: 1, splits: "train", per_class: pre.eval_per_class, extra: vec![] };
        let random = surface(p, &format!("h-randomplane-{}", run.name), run, &spec)?;
        let table = |path: &PathBuf| Table::read(&path.with_extension("csv")).ok();
        let (te, tr) = (table(&eig), table(&random));
        if let (Some(ge), Some(gr)) = (GridValues::from_surface(&eig, "train_loss"), GridValues::from_surface(&random, "train_loss")) {
            f.eigen_planes.push(EigenPlane {
                run: run.name.clone(),
                range: r,
                lambda_max: lambda,
                rise_eigen: te.as_ref().map_or(f64::NAN, mean_rise),
                rise_random: tr.as_ref().map_or(f64::NAN, mean_rise),
                convexity_eigen: convexity(&ge, r),
                convexity_random: convexity(&gr, r_random),
            });
        }
        let top2 = sp.top.iter().take(2).map(|v| format!("{v:.3e}")).collect::<Vec<_>>().join(" and ");
        plot(p, "h", &format!("h-eigplane-{}.png", run.name), &[eig], &[s("--kind"), s("contour"), s("--levels"), s("auto"), s("--xlabel"), s("unit Hessian eigenvector 1"), s("--ylabel"), s("unit Hessian eigenvector 2"), s("--title"), format!("{}: top-2 Hessian eigenvector plane", label_of(run))], format!(
            "Training-loss contours of the {} minimizer ({}) along its top two unit Hessian eigenvectors (eigenvalues {top2}, {} training images) over +-{r} = 3/sqrt(lambda_max), {n}x{n} points; {}.",
            pre.study_model, label_of(run), pre.hessian_samples, eval_note(pre.eval_per_class)))?;
        plot(p, "h", &format!("h-randomplane-{}.png", run.name), &[random], &[s("--kind"), s("contour"), s("--levels"), s("auto"), s("--title"), format!("{}: random plane, same step length", label_of(run))], format!(
            "The same minimizer's training loss along two random Gaussian directions (seed 1, not normalized) over +-{r_random}, i.e. steps of the same length as the eigenvector plane's, same grid and data: what a random plane sees at that scale.",
        ))?;
    }
    Ok(())
}

fn label_of(r: &Run) -> String {
    format!("batch {} wd {}", r.batch, r.weight_decay)
}

/// How the networks of the depth study are trained (the study's small batch, weight decay 5e-4;
/// all but the batch study's own network for the preset's longer schedule).
fn depth_spec<'a>(pre: &'a Preset, model: &'a str) -> TrainSpec<'a> {
    // The batch study's network keeps its schedule (and so its run); the others are deeper or
    // plain, and slower to fit.
    let depth = resnet_depth(model);
    let shallowest = pre.depths.first().copied().unwrap_or(0);
    let (epochs, decay) = if model == pre.study_model {
        (pre.epochs, pre.decay)
    } else if model.ends_with("-noshort") && depth > shallowest {
        (pre.deep_plain_epochs, pre.deep_plain_decay)
    } else {
        (pre.deep_epochs, pre.deep_decay)
    };
    TrainSpec {
        model,
        batch: pre.small_batch,
        weight_decay: 5e-4,
        epochs,
        decay,
        train_per_class: pre.train_per_class,
        lr: None,
        augment: pre.augment,
    }
}

/// The 2D training-loss surface of a run along two filter-normalized random directions (seed 1)
/// over -1..1, evaluated on `per_class` training images per class. Families b, d, e and f draw
/// the same plane of the same run, so it is computed once (one cache name, shared by every
/// group) and its non-convexity is measured once.
fn plane(p: &mut Pipeline, run: &Run, per_class: Option<usize>, f: &mut Findings) -> Result<PathBuf> {
    let n = p.preset.grid;
    let spec = SurfaceSpec { x: axis(-1.0, 1.0, n), y: Some(axis(-1.0, 1.0, n)), norm: "filter", seed: 1, splits: "train", per_class, extra: vec![] };
    let subset = per_class.map_or(String::new(), |k| format!("-pc{k}"));
    let surf = surface(p, &format!("plane{subset}-{}", run.name), run, &spec)?;
    if let Some(g) = GridValues::from_surface(&surf, "train_loss") {
        f.convexity.insert(run.name.clone(), convexity(&g, 1.0));
    }
    Ok(surf)
}

/// The sharpness measure: mean loss rise at a = +-0.25 along normalized random directions,
/// averaged over seeds, for every minimizer of the study and every normalization.
fn sharpness(p: &mut Pipeline, study: &[Run], f: &mut Findings) -> Result<()> {
    let pre = p.preset.clone();
    for run in study {
        for &norm in &pre.norms {
            let mut rises = Vec::new();
            for seed in 1..=pre.sharpness_seeds {
                let spec = SurfaceSpec { x: axis(-0.25, 0.25, 3), y: None, norm, seed, splits: "train", per_class: pre.eval_per_class, extra: vec![] };
                let name = format!("sharp-{norm}-s{seed}-{}", run.name);
                let surf = surface(p, &name, run, &spec)?;
                let t = Table::read(&surf.with_extension("csv"))?;
                let l = t.column("train_loss").context("no train_loss column")?;
                if l.len() == 3 {
                    rises.push((l[0] + l[2]) / 2.0 - l[1]);
                }
            }
            let mean = rises.iter().sum::<f64>() / rises.len().max(1) as f64;
            f.sharpness.push((run.name.clone(), norm.to_owned(), mean, run.test_error()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 5x5 plane over -1..1 with L = 1 + a^2 + b^2 (the corners blow up to 1e6).
    fn bowl() -> Table {
        let columns = ["x", "y", "train_loss"].map(str::to_owned).to_vec();
        let mut rows = Vec::new();
        for i in 0..5 {
            for j in 0..5 {
                let (a, b) = (-1.0 + 0.5 * i as f64, -1.0 + 0.5 * j as f64);
                let corner = a.abs() == 1.0 && b.abs() == 1.0;
                rows.push(vec![a, b, if corner { 1e6 } else { 1.0 + a * a + b * b }]);
            }
        }
        Table { columns, rows }
    }

    #[test]
    fn inner_rise_averages_the_inner_square_only() {
        // Inner 3x3 points: rises 0 (centre), 0.25 (4 edge midpoints), 0.5 (4 corners) -> 3/9.
        let rise = inner_rise(&bowl());
        assert!((rise - 3.0 / 9.0).abs() < 1e-12, "{rise}");
        let mut no_centre = bowl();
        no_centre.rows.retain(|r| r[0] != 0.0 || r[1] != 0.0);
        assert!(inner_rise(&no_centre).is_nan());
    }
}
