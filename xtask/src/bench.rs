//! `cargo xtask bench` (the criterion benchmarks) and `cargo xtask bench-compare` (the same grid
//! evaluated by `losscape surface` and by PyTorch in several configurations, side by side).
//!
//! bench-compare builds one fixed problem in `target/bench-compare/<model>/`: 2,000 (`--images`)
//! seeded synthetic 3x32x32 images as a CIFAR-10 binary folder (written by
//! `benches/reference/compare.py data`, read byte for byte by both sides), a ResNet-20 or ResNet-56
//! (`--model`) trained for one tiny epoch on it (`losscape train`, so the BN running statistics are
//! not the defaults) and two filter-normalized random directions (`losscape direction`). Ours is
//! timed in several variants ([`ours`]: f32, bf16, and auto-sampling where the binary offers it),
//! each as `losscape surface` processes: the grid time the process reports for a 5-point grid minus
//! that of a 1-point grid, divided by 4, is the time of one grid point (write the weights, one pass
//! over the images) without process start, data loading, the first point's warm-up or bf16's check
//! against f32; the median of three such pairs is reported. The Python side times each grid point
//! after one untimed warm-up and reports the median of the five points. Each precision is compared
//! with its own kind: PyTorch's f32 configurations with ours in f32, its bf16 ones with ours in bf16.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};

use crate::libtorch::{cache_dir, TORCH_VERSION};

/// libtorch threads on both sides.
const THREADS: usize = 2;
/// Images evaluated at each grid point (default of `--images`).
pub const IMAGES: usize = 2000;
/// The timed grid: x axis `min:max:num` and the fixed y coordinate.
const X_AXIS: (f64, f64, usize) = (-0.4, 0.4, 5);
const Y: f64 = 0.2;
/// Pairs of (5-point, 1-point) `losscape surface` runs; the median is reported.
const REPEATS: usize = 3;
/// Largest accepted relative difference of an f32 configuration's loss from ours in f32.
const LOSS_RTOL: f64 = 1e-4;
/// Largest accepted relative difference of a bf16 configuration's loss from ours in bf16: each
/// side rounds weights and activations to 8 significant bits its own way (PyTorch's frozen bf16
/// module even folds BN in bf16), so they agree to about 1e-3, not to f32 rounding.
const BF16_LOSS_RTOL: f64 = 3e-2;
/// The Python packages of the comparison environment.
const PACKAGES: [&str; 3] = ["numpy", "safetensors", "torch==2.11.0"];
/// Written into the environment last, holding the package list: a complete environment.
const READY: &str = ".losscape-bench-ready";

/// One variant of ours: its name in the table, the flags it adds to `losscape surface`, and its
/// precision (the PyTorch configurations it is compared with).
#[derive(Clone, Debug, PartialEq)]
pub struct Ours {
    pub name: &'static str,
    pub flags: Vec<&'static str>,
    pub precision: &'static str,
}

/// Our variants, f32 first (the reference of every f32 row): the default settings, and bf16 on
/// CPUs with native bf16. Auto-sampling joins where `losscape surface --help` offers `--samples
/// auto` (`surface_help`).
pub fn ours(surface_help: &str, native_bf16: bool) -> Vec<Ours> {
    let mut list = vec![Ours { name: "losscape", flags: vec![], precision: "f32" }];
    if native_bf16 && surface_help.contains("bf16") {
        list.push(Ours { name: "losscape-bf16", flags: vec!["--precision", "bf16"], precision: "bf16" });
    }
    if offers_auto_samples(surface_help) {
        list.push(Ours { name: "losscape-auto", flags: vec!["--samples", "auto", "--rel-error", "0.01"], precision: "f32" });
    }
    list
}

/// Whether a `--help` text's `--samples` option (its line and the description lines under it, up
/// to the next option) mentions `auto`.
fn offers_auto_samples(help: &str) -> bool {
    let mut lines = help.lines().skip_while(|l| !l.trim_start().starts_with("--samples"));
    let Some(first) = lines.next() else {
        return false;
    };
    std::iter::once(first).chain(lines.take_while(|l| !l.trim_start().starts_with('-'))).any(|l| l.contains("auto"))
}

/// The model of the fixed problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchModel {
    ResNet20,
    ResNet56,
}

impl BenchModel {
    fn depth(self) -> u64 {
        match self {
            BenchModel::ResNet20 => 20,
            BenchModel::ResNet56 => 56,
        }
    }

    fn spec(self) -> String {
        format!("resnet{}", self.depth())
    }
}

impl std::str::FromStr for BenchModel {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "resnet20" => Ok(BenchModel::ResNet20),
            "resnet56" => Ok(BenchModel::ResNet56),
            _ => bail!("unknown bench model {s:?}: use resnet20 or resnet56"),
        }
    }
}

/// `cargo xtask bench`: runs the criterion benchmarks (every bench target of the root package,
/// benches/README.md), passing `args` to criterion (e.g. a filter such as `resnet20`).
pub fn bench(root: &Path, args: &[String]) -> Result<()> {
    crate::cargo(root, &["bench", "-p", "losscape", "--bench", "*"], args)
}

/// What `cargo xtask bench-compare` compares.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    pub python: Option<PathBuf>,
    /// Only these PyTorch configurations (comma-separated).
    pub configs: Option<String>,
    pub model: BenchModel,
    pub images: usize,
    /// Sizes of the matrix-multiply probe (default: the script's, 4096).
    pub matmul_sizes: Option<String>,
}

/// `cargo xtask bench-compare`: see the module documentation.
pub fn compare(root: &Path, options: &CompareOptions) -> Result<()> {
    let python = match &options.python {
        Some(p) => p.clone(),
        None => bench_venv()?,
    };
    crate::cargo(root, &["build", "--release", "--quiet", "-p", "losscape-cli"], &[])?;
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let bin = target.join("release").join("losscape");
    let model = options.model;
    let work = root.join("target").join("bench-compare").join(model.spec());
    fs::create_dir_all(&work)?;
    let script = root.join("benches").join("reference").join("compare.py");
    let data = work.join(format!("data-{}", options.images));

    eprintln!("xtask: making the fixed problem in {}", work.display());
    run(Command::new(&python).arg(&script).args(["data", "--out"]).arg(&data).args(["--images", &options.images.to_string()]))?;
    let source = format!("cifar10:{}", data.display());
    let run_dir = work.join(format!("run-{}", options.images));
    // Deterministic: a rerun finds the finished run and leaves it as it is.
    run(Command::new(&bin).args(["train", "--model", &model.spec(), "--preset", "tiny", "--epochs", "1"])
        .args(["--dataset", &source, "--threads", &THREADS.to_string(), "--out"])
        .arg(&run_dir))?;
    let checkpoint = run_dir.join("checkpoints").join("epoch-0001.safetensors");
    let directions = work.join(format!("directions-{}.safetensors", options.images));
    if !directions.exists() {
        run(Command::new(&bin).args(["direction", "--two", "--seed", "1", "--checkpoint"]).arg(&checkpoint).arg("--out").arg(&directions))?;
    }

    let help = output(Command::new(&bin).args(["surface", "--help"]))?;
    let native = std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|t| cpu_has_native_bf16(&t));
    if !native {
        eprintln!("xtask: this CPU has no native bf16 (avx512_bf16, amx_bf16): ours in bf16 is left out");
    }
    let variants = ours(&help, native);
    let surface = |out: &Path, x: &str, flags: &[&str]| -> Result<f64> {
        if out.exists() {
            fs::remove_file(out)?; // an existing file would be resumed, not recomputed
        }
        let text = stderr_of(Command::new(&bin).arg("surface").arg("--checkpoint").arg(&checkpoint).arg("--direction-file").arg(&directions)
            .args(["--dataset", &source, "--splits", "train", "--x", x, "--y", &format!("{Y}:{Y}:1")])
            .args(["--threads", &THREADS.to_string(), "--save-every", "1000000"]).args(flags).arg("--out")
            .arg(out))?;
        grid_seconds(&text)
    };
    let (lo, hi, num) = X_AXIS;
    let mut measured = Vec::new();
    for v in &variants {
        let grid_surface = work.join(format!("{}.surface", v.name));
        let mut per_point = Vec::new();
        for rep in 0..REPEATS {
            eprintln!("xtask: timing {} ({}/{REPEATS})", v.name, rep + 1);
            let one = surface(&work.join("one.surface"), &format!("{lo}:{lo}:1"), &v.flags)?;
            let all = surface(&grid_surface, &format!("{lo}:{hi}:{num}"), &v.flags)?;
            per_point.push((all - one) / (num - 1) as f64);
        }
        let csv = work.join(format!("{}.csv", v.name));
        if csv.exists() {
            fs::remove_file(&csv)?;
        }
        run(Command::new(&bin).args(["export", "--format", "csv", "--out"]).arg(&csv).arg(&grid_surface))?;
        let points = parse_surface_csv(&fs::read_to_string(&csv)?)?;
        ensure!(points.len() == num, "{} holds {} points, expected {num}", csv.display(), points.len());
        measured.push((v.clone(), points, per_point));
    }

    eprintln!("xtask: running the PyTorch reference (every configuration; a few minutes)");
    let points: Vec<String> = measured[0].1.iter().map(|p| format!("{},{}", p.x, p.y)).collect();
    let py_json = work.join("pytorch.json");
    let only: Vec<String> = options.configs.as_ref().map(|c| format!("--only={c}")).into_iter().collect();
    let sizes: Vec<String> = options.matmul_sizes.as_ref().map(|c| format!("--matmul-sizes={c}")).into_iter().collect();
    run(Command::new(&python).arg(&script).arg("run").arg("--checkpoint").arg(&checkpoint).arg("--directions").arg(&directions)
        .arg("--data").arg(&data).arg(format!("--points={}", points.join(";")))
        .args(["--threads", &THREADS.to_string()]).args(&only).args(&sizes).arg("--out").arg(&py_json))?;
    let reference: Value = serde_json::from_str(&fs::read_to_string(&py_json)?)
        .with_context(|| format!("parsing {}", py_json.display()))?;

    let flops = resnet_conv_flops(model.depth(), 1, true, 3, 32);
    let report = Report::new(&reference, &measured, flops, model)?;
    println!("{}", report.table());
    println!("{}", report.summary());
    let result = work.join("result.json");
    fs::write(&result, serde_json::to_string_pretty(&report.json(&reference))? + "\n")?;
    eprintln!("xtask: wrote {}", result.display());
    if !report.disagreements.is_empty() {
        bail!("losses differ from ours of the same precision by more than {LOSS_RTOL:e} (f32) or {BF16_LOSS_RTOL:e} (bf16), relative: {}", report.disagreements.join("; "));
    }
    Ok(())
}

/// Whether a `/proc/cpuinfo` text's first `flags` line names avx512_bf16 or amx_bf16.
fn cpu_has_native_bf16(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.trim() == "flags").map(|(_, v)| v))
        .is_some_and(|f| f.split_whitespace().any(|w| w == "avx512_bf16" || w == "amx_bf16"))
}

/// The grid time `losscape surface` reports on stderr: "…: computed N point(s) in S s (…".
fn grid_seconds(stderr: &str) -> Result<f64> {
    stderr
        .lines()
        .rev()
        .find_map(|l| l.split_once(" point(s) in ").and_then(|(_, rest)| rest.split_once(" s (")).map(|(secs, _)| secs.trim().to_owned()))
        .with_context(|| format!("losscape surface reported no grid time in:\n{stderr}"))?
        .parse()
        .context("losscape surface's grid time is not a number")
}

/// The Python interpreter of the comparison environment, created in the cache folder (outside the
/// checkout) with torch 2.11.0, numpy and safetensors when it is missing or incomplete.
fn bench_venv() -> Result<PathBuf> {
    let dir = cache_dir()?.join("bench-venv");
    let python = dir.join("bin").join("python");
    let wanted = PACKAGES.join("\n");
    if fs::read_to_string(dir.join(READY)).is_ok_and(|s| s == wanted) && python.exists() {
        return Ok(python);
    }
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("removing the incomplete {}", dir.display()))?;
    }
    eprintln!("xtask: creating the Python environment {} (torch {TORCH_VERSION}: a few GB, once)", dir.display());
    run(Command::new("python3").args(["-m", "venv"]).arg(&dir))
        .context("python3 -m venv failed (on Debian/Ubuntu install python3-venv)")?;
    run(Command::new(&python).args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"]).args(PACKAGES))?;
    fs::write(dir.join(READY), wanted)?;
    Ok(python)
}

/// Runs a command to completion, its output on stderr (stdout carries only the table), failing
/// with its command line if it fails.
fn run(cmd: &mut Command) -> Result<()> {
    let line = format!("{cmd:?}");
    let status = cmd.stdout(std::io::stderr())
        .status().with_context(|| format!("could not start {line}"))?;
    if !status.success() {
        bail!("{line} failed ({status})");
    }
    Ok(())
}

/// Runs a command to completion and returns its stdout.
fn output(cmd: &mut Command) -> Result<String> {
    let line = format!("{cmd:?}");
    let out = cmd.stderr(Stdio::inherit()).output().with_context(|| format!("could not start {line}"))?;
    if !out.status.success() {
        bail!("{line} failed ({})", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a command to completion, its stdout on stderr, and returns its stderr (also copied to
/// stderr), failing with its command line and stderr if it fails.
fn stderr_of(cmd: &mut Command) -> Result<String> {
    let line = format!("{cmd:?}");
    let out = cmd.stdout(std::io::stderr()).stderr(Stdio::piped()).output().with_context(|| format!("could not start {line}"))?;
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    eprint!("{text}");
    if !out.status.success() {
        bail!("{line} failed ({})", out.status);
    }
    Ok(text)
}

/// FLOPs (two per multiply-add) of the convolutions of one forward pass of one `size`x`size`
/// image through a CIFAR ResNet of `depth` = 6n+2, width multiplier `width`, with projection
/// shortcuts (1x1 convolutions) where the shape changes if `shortcuts` (the layers of
/// crates/losscape-models/src/resnet.rs). BN, ReLU, pooling and the linear head are not counted.
pub fn resnet_conv_flops(depth: u64, width: u64, shortcuts: bool, in_channels: u64, size: u64) -> u64 {
    let conv = |cin: u64, cout: u64, k: u64, out: u64| 2 * cin * cout * k * k * out * out;
    let n = (depth - 2) / 6;
    let base = 16 * width;
    let mut flops = conv(in_channels, base, 3, size);
    let (mut cin, mut res) = (base, size);
    for stage in 0..3 {
        let cout = base << stage;
        for i in 0..n {
            let stride = if stage > 0 && i == 0 { 2 } else { 1 };
            let out = res.div_ceil(stride);
            flops += conv(cin, cout, 3, out) + conv(cout, cout, 3, out);
            if shortcuts && (stride != 1 || cin != cout) {
                flops += conv(cin, cout, 1, out);
            }
            (cin, res) = (cout, out);
        }
    }
    flops
}

/// One point of our surface: its coordinates and training loss.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Point {
    x: f64,
    y: f64,
    loss: f64,
}

/// The points of a `losscape export --format csv` file of a 2D surface, in index order.
fn parse_surface_csv(text: &str) -> Result<Vec<Point>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().context("empty surface CSV")?.split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).with_context(|| format!("surface CSV has no `{name}` column"));
    let (x, y, loss) = (col("x")?, col("y")?, col("train_loss")?);
    lines
        .filter(|l| !l.is_empty())
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            let num = |i: usize| -> Result<f64> {
                cells.get(i).context("short CSV row")?.parse().with_context(|| format!("bad number in CSV row `{line}`"))
            };
            Ok(Point { x: num(x)?, y: num(y)?, loss: num(loss)? })
        })
        .collect()
}

/// Largest relative difference of `theirs` against `ours`, pointwise; NaN if any is NaN.
fn max_rel_diff(ours: &[f64], theirs: &[f64]) -> f64 {
    ours.iter()
        .zip(theirs)
        .map(|(a, b)| (a - b).abs() / a.abs().max(f64::MIN_POSITIVE))
        .fold(0.0, |m, d| if d.is_nan() || d > m { d } else { m })
}

/// Median of a non-empty list.
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) }
}

/// One row of the table.
#[derive(Debug)]
struct Row {
    name: String,
    setup: String,
    /// `f32` or `bf16`.
    precision: String,
    /// Ours (else a PyTorch configuration).
    ours: bool,
    seconds: f64,
    /// Against ours in the same precision (0 for ours).
    max_rel_diff: f64,
}

/// The comparison: every row, the machine's matrix-multiply rates and the FLOP count.
#[derive(Debug)]
struct Report {
    model: BenchModel,
    rows: Vec<Row>,
    images: usize,
    flops_per_image: u64,
    /// Peak matrix-multiply GFLOP/s per precision (the largest median over the probe's sizes).
    matmul_gflops: Vec<(String, f64)>,
    disagreements: Vec<String>,
}

/// The peak of one precision's probe: `{"4096": rate, ...}` -> the largest rate.
fn peak(rates: &Value) -> Option<f64> {
    let rates = rates.as_object()?;
    let best = rates.values().filter_map(Value::as_f64).fold(f64::NAN, f64::max);
    (!best.is_nan()).then_some(best)
}

impl Report {
    /// Reads the Python side's JSON, checks its image count, FLOP count and losses against ours
    /// of the same precision (`measured`: each of our variants with its points and per-point times).
    fn new(reference: &Value, measured: &[(Ours, Vec<Point>, Vec<f64>)], flops_per_image: u64, model: BenchModel) -> Result<Self> {
        let images = reference["images"].as_u64().context("reference JSON: no `images`")? as usize;
        let counted = reference["conv_flops_per_image"].as_u64().context("reference JSON: no `conv_flops_per_image`")?;
        ensure!(counted == flops_per_image, "the PyTorch model's convolutions count {counted} FLOPs per image, the analytic count is {flops_per_image}: the models differ");
        let probe = reference["matmul_gflops"].as_object().context("reference JSON: no `matmul_gflops`")?;
        let matmul_gflops: Vec<(String, f64)> = probe.iter().filter_map(|(p, rates)| Some((p.clone(), peak(rates)?))).collect();
        ensure!(matmul_gflops.iter().any(|(p, _)| p == "f32"), "reference JSON: no f32 matrix-multiply rate");
        ensure!(!measured.is_empty() && measured[0].0.precision == "f32", "the first of our variants must be f32");
        let mut rows = Vec::new();
        let mut disagreements = Vec::new();
        for (v, points, seconds) in measured {
            // Our variants agree with ours in f32 like PyTorch's of their precision.
            let diff = max_rel_diff(&losses(&measured[0].1), &losses(points));
            let tol = if v.precision == "bf16" { BF16_LOSS_RTOL } else { LOSS_RTOL };
            if v.name != measured[0].0.name && (diff.is_nan() || diff > tol) && !v.flags.contains(&"--samples") {
                disagreements.push(format!("{}: {diff:.2e} from ours in f32", v.name));
            }
            let flags = if v.flags.is_empty() { String::new() } else { format!(" {}", v.flags.join(" ")) };
            rows.push(Row {
                name: v.name.into(),
                setup: format!("losscape surface --threads {THREADS}{flags}, its default evaluation settings otherwise"),
                precision: v.precision.into(),
                ours: true,
                seconds: median(seconds),
                max_rel_diff: diff,
            });
        }
        for c in reference["configs"].as_array().context("reference JSON: no `configs`")? {
            let name = c["name"].as_str().context("config without a name")?.to_owned();
            let precision = c["precision"].as_str().unwrap_or("f32").to_owned();
            let losses_of: Vec<f64> = c["losses"].as_array().context("config without losses")?.iter().filter_map(Value::as_f64).collect();
            let Some((v, ours_points, _)) = measured.iter().find(|(v, _, _)| v.precision == precision && !v.flags.contains(&"--samples")) else {
                eprintln!("xtask: {name} ({precision}) has none of ours to compare with; left out");
                continue;
            };
            ensure!(losses_of.len() == ours_points.len(), "{name}: {} losses for {} points", losses_of.len(), ours_points.len());
            let diff = max_rel_diff(&losses(ours_points), &losses_of);
            let tol = if precision == "bf16" { BF16_LOSS_RTOL } else { LOSS_RTOL };
            // NaN (a loss that is not a number) disagrees too.
            if diff.is_nan() || diff > tol {
                disagreements.push(format!("{name}: {diff:.2e} from {}", v.name));
            }
            rows.push(Row {
                setup: c["setup"].as_str().unwrap_or("").to_owned(),
                seconds: c["median_seconds"].as_f64().context("config without median_seconds")?,
                max_rel_diff: diff,
                precision,
                ours: false,
                name,
            });
        }
        Ok(Self { model, rows, images, flops_per_image, matmul_gflops, disagreements })
    }

    fn gflops(&self, row: &Row) -> f64 {
        (self.flops_per_image * self.images as u64) as f64 / row.seconds / 1e9
    }

    /// The matrix-multiply peak of a precision (f32's where the probe lacks it).
    fn matmul(&self, precision: &str) -> f64 {
        let of = |p: &str| self.matmul_gflops.iter().find(|(q, _)| q == p).map(|(_, r)| *r);
        of(precision).or_else(|| of("f32")).unwrap_or(f64::NAN)
    }

    /// Ours in `precision` (the plain variant, not auto-sampling).
    fn ours_in(&self, precision: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.ours && r.precision == precision && !r.setup.contains("--samples"))
    }

    /// The fastest PyTorch configuration of `precision`.
    fn best_pytorch(&self, precision: &str) -> Option<&Row> {
        self.rows.iter().filter(|r| !r.ours && r.precision == precision).min_by(|a, b| a.seconds.total_cmp(&b.seconds))
    }

    /// The full table: `ours/it` and `loss diff` against ours in the row's precision, `% matmul`
    /// of the matrix-multiply peak in the row's precision.
    fn table(&self) -> String {
        let rates: Vec<String> = self.matmul_gflops.iter().map(|(p, r)| format!("{p} {r:.0}")).collect();
        let mut s = format!(
            "grid point = write weights + one pass over {} images ({}, {:.1} MFLOP of convolutions each); {THREADS} threads; matmul peak GFLOP/s: {}\n",
            self.images,
            self.model.spec(),
            self.flops_per_image as f64 / 1e6,
            rates.join(", ")
        );
        let _ = writeln!(s, "{:<24} {:>5} {:>9} {:>9} {:>8} {:>10} {:>8} {:>10}", "config", "prec", "points/s", "images/s", "ours/it", "conv GF/s", "% matmul", "loss diff");
        for r in &self.rows {
            let gf = self.gflops(r);
            let ours = self.ours_in(&r.precision).map_or(f64::NAN, |o| o.seconds);
            let _ = writeln!(
                s,
                "{:<24} {:>5} {:>9.3} {:>9.0} {:>8.2} {:>10.1} {:>7.1}% {:>10.1e}",
                r.name,
                r.precision,
                1.0 / r.seconds,
                self.images as f64 / r.seconds,
                r.seconds / ours,
                gf,
                100.0 * gf / self.matmul(&r.precision),
                r.max_rel_diff
            );
        }
        s
    }

    /// The summary as a Markdown table (docs/benchmarks.md): our variants and the best PyTorch
    /// configuration of each precision, with the ratios the targets name.
    fn summary(&self) -> String {
        let f32_ours = self.ours_in("f32").map_or(f64::NAN, |r| r.seconds);
        let mut s = format!("| {} | points/s | vs ours f32 | vs best PyTorch of its precision |\n|---|---|---|---|\n", self.model.spec());
        let mut lines: Vec<&Row> = self.rows.iter().filter(|r| r.ours).collect();
        let best: Vec<&Row> = ["f32", "bf16"].iter().filter_map(|p| self.best_pytorch(p)).collect();
        lines.extend(best.iter().copied());
        for r in lines {
            let versus = match (r.ours, self.best_pytorch(&r.precision)) {
                (true, Some(b)) => format!("{:.2}x ({})", b.seconds / r.seconds, b.name),
                (true, None) => "-".into(),
                (false, _) => "1.00x".into(),
            };
            let label = if r.ours { format!("ours: {}", r.name) } else { format!("best PyTorch {}: {}", r.precision, r.name) };
            let _ = writeln!(s, "| {label} | {:.3} | {:.2}x | {versus} |", 1.0 / r.seconds, f32_ours / r.seconds);
        }
        s
    }

    /// The result as JSON (target/bench-compare/<model>/result.json).
    fn json(&self, reference: &Value) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                let ours = self.ours_in(&r.precision).map_or(f64::NAN, |o| o.seconds);
                json!({
                    "config": r.name, "precision": r.precision, "ours": r.ours, "setup": r.setup, "seconds_per_point": r.seconds,
                    "points_per_second": 1.0 / r.seconds, "images_per_second": self.images as f64 / r.seconds,
                    "ours_speedup": r.seconds / ours, "conv_gflops": self.gflops(r),
                    "share_of_matmul": self.gflops(r) / self.matmul(&r.precision), "max_rel_loss_diff": r.max_rel_diff,
                })
            })
            .collect();
        json!({
            "model": self.model.spec(), "images": self.images, "threads": THREADS, "conv_flops_per_image": self.flops_per_image,
            "matmul_gflops": reference["matmul_gflops"], "torch": reference["torch"], "points": reference["points"],
            "loss_rtol": LOSS_RTOL, "bf16_loss_rtol": BF16_LOSS_RTOL, "rows": rows,
        })
    }
}

fn losses(points: &[Point]) -> Vec<f64> {
    points.iter().map(|p| p.loss).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resnet20_convolutions() {
        // 40.8 M multiply-adds, the usual figure for ResNet-20 on CIFAR-10.
        assert_eq!(resnet_conv_flops(20, 1, true, 3, 32), 81_625_088);
        // Without shortcuts the two 1x1 projections (2 x 262,144 FLOPs) are gone.
        assert_eq!(resnet_conv_flops(20, 1, false, 3, 32), 81_625_088 - 2 * 262_144);
        // Width 2 quadruples the inner convolutions, doubles the first.
        assert!(resnet_conv_flops(20, 2, true, 3, 32) > 3 * resnet_conv_flops(20, 1, true, 3, 32));
        assert!(resnet_conv_flops(56, 1, true, 3, 32) > resnet_conv_flops(20, 1, true, 3, 32));
    }

    #[test]
    fn surface_csv() {
        let text = "x,y,train_loss,train_acc,done\n-0.4,0.2,3.5,10,1\n0,0.2,2.25,12.5,1\n";
        let points = parse_surface_csv(text).unwrap();
        assert_eq!(points, vec![Point { x: -0.4, y: 0.2, loss: 3.5 }, Point { x: 0.0, y: 0.2, loss: 2.25 }]);
        assert!(parse_surface_csv("x,train_loss\n1,2\n").is_err());
        assert!(parse_surface_csv("x,y,train_loss\n1,2,abc\n").is_err());
    }

    fn reference(losses: Value, bf16_losses: Value) -> Value {
        json!({
            "images": 2000, "conv_flops_per_image": 81_625_088u64, "torch": "2.11.0", "points": [],
            "matmul_gflops": {"f32": {"2048": 250.0, "4096": 300.0}, "bf16": {"4096": 600.0}},
            "configs": [
                {"name": "plain-b128", "precision": "f32", "setup": "s", "median_seconds": 2.0, "losses": losses},
                {"name": "autocast-bf16-cl-b32", "precision": "bf16", "setup": "s", "median_seconds": 0.8, "losses": bf16_losses},
                {"name": "autocast-bf16-cl-b64", "precision": "bf16", "setup": "s", "median_seconds": 0.6, "losses": [2.0, 4.0]},
            ],
        })
    }

    fn measured(bf16: bool) -> Vec<(Ours, Vec<Point>, Vec<f64>)> {
        let variants = ours("--precision <P>  f32 | f64 | bf16", bf16);
        let points = |a: f64| vec![Point { x: 0.0, y: 0.0, loss: 2.0 * a }, Point { x: 1.0, y: 0.0, loss: 4.0 }];
        let mut out = vec![(variants[0].clone(), points(1.0), vec![1.0, 0.5, 3.0])];
        if bf16 {
            out.push((variants[1].clone(), points(1.001), vec![0.5, 0.4, 0.45]));
        }
        out
    }

    #[test]
    fn our_variants_follow_the_binary_and_the_cpu() {
        let names = |v: Vec<Ours>| v.iter().map(|o| o.name).collect::<Vec<_>>();
        assert_eq!(names(ours("--precision f32 | f64", true)), ["losscape"]);
        assert_eq!(names(ours("--precision f32 | f64 | bf16", false)), ["losscape"]);
        assert_eq!(names(ours("--precision f32 | f64 | bf16", true)), ["losscape", "losscape-bf16"]);
        let auto = "--precision f32 | f64 | bf16\n  --samples <N>  a count, or auto with --rel-error";
        assert_eq!(names(ours(auto, true)), ["losscape", "losscape-bf16", "losscape-auto"]);
        assert_eq!(ours(auto, true)[2].flags, ["--samples", "auto", "--rel-error", "0.01"]);
        // Described under the option, as clap's long help does; `auto` elsewhere does not count.
        assert!(offers_auto_samples("  --samples <N>\n          Examples per point, or auto\n  --device <D>\n"));
        assert!(!offers_auto_samples("  --samples <N>\n          Examples per point\n  --device <D>\n          cpu | auto\n"));
        assert!(!offers_auto_samples("  --device <D>\n          cpu | auto\n"));
        assert!(cpu_has_native_bf16("flags : sse avx512_bf16\n") && !cpu_has_native_bf16("flags : avx512_bf16x\n"));
        assert_eq!("resnet56".parse::<BenchModel>().unwrap().depth(), 56);
        assert!("resnet32".parse::<BenchModel>().is_err());
    }

    #[test]
    fn grid_seconds_come_from_the_report_line() {
        let text = "note: x\nbf16 against f32 at 3 point(s) (centre and corners): ...\nout.surface: computed 5 point(s) in 1.250 s (4.00 points/s), 0 already done\n";
        assert_eq!(grid_seconds(text).unwrap(), 1.25);
        assert!(grid_seconds("nothing\n").is_err());
    }

    #[test]
    fn report_compares_each_precision_with_its_own_kind() {
        let r = Report::new(&reference(json!([2.0001, 4.0]), json!([2.003, 4.0])), &measured(true), 81_625_088, BenchModel::ResNet20).unwrap();
        assert_eq!(r.matmul("f32"), 300.0);
        assert_eq!(r.matmul("bf16"), 600.0);
        let row = |name: &str| r.rows.iter().find(|x| x.name == name).unwrap();
        assert_eq!(row("losscape").seconds, 1.0);
        assert_eq!(row("losscape-bf16").seconds, 0.45);
        assert!((row("plain-b128").max_rel_diff - 5e-5).abs() < 1e-9);
        // bf16 rows against ours in bf16 (loss 2.002), not against f32.
        assert!((row("autocast-bf16-cl-b32").max_rel_diff - 0.001 / 2.002).abs() < 1e-9);
        assert!(r.disagreements.is_empty(), "{:?}", r.disagreements);
        assert_eq!(r.best_pytorch("bf16").unwrap().name, "autocast-bf16-cl-b64");
        // 2000 images x 81.6 MFLOP in 1 s = 163.25 GFLOP/s, 54% of 300.
        assert!((r.gflops(row("losscape")) - 163.250176).abs() < 1e-6);
        let table = r.table();
        assert!(table.contains("plain-b128") && table.contains("54.4%"), "{table}");
        let summary = r.summary();
        // ours bf16 0.45 s against the best bf16 0.6 s: 1.33x; against ours f32: 2.22x.
        assert!(summary.contains("| ours: losscape-bf16 | 2.222 | 2.22x | 1.33x (autocast-bf16-cl-b64) |"), "{summary}");
        assert!(summary.contains("| ours: losscape | 1.000 | 1.00x | 2.00x (plain-b128) |"), "{summary}");
        assert!(summary.contains("best PyTorch bf16: autocast-bf16-cl-b64"), "{summary}");

        let bad = Report::new(&reference(json!([2.001, 4.0]), json!([2.2, 4.0])), &measured(true), 81_625_088, BenchModel::ResNet20).unwrap();
        assert_eq!(bad.disagreements.len(), 2, "{:?}", bad.disagreements);
        let nan = Report::new(&reference(json!([null, 4.0]), json!([2.0, 4.0])), &measured(true), 81_625_088, BenchModel::ResNet20);
        assert!(nan.is_err(), "a missing loss is an error");
        assert!(Report::new(&reference(json!([2.0, 4.0]), json!([2.0, 4.0])), &measured(true), 1, BenchModel::ResNet20).is_err(), "FLOP counts must match");
        // Without ours in bf16, the bf16 configurations are left out.
        let f32_only = Report::new(&reference(json!([2.0, 4.0]), json!([2.0, 4.0])), &measured(false), 81_625_088, BenchModel::ResNet20).unwrap();
        assert_eq!(f32_only.rows.len(), 2);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(max_rel_diff(&[1.0, 2.0], &[f64::NAN, 2.0]).is_nan());
        assert_eq!(max_rel_diff(&[1.0, 2.0], &[1.5, 2.0]), 0.5);
    }
}
