//! `cargo xtask bench` (the criterion benchmarks) and `cargo xtask bench-compare` (the same grid
//! evaluated by `losscape surface` and by PyTorch in several configurations, side by side).
//!
//! bench-compare builds one fixed problem in `target/bench-compare/`: 2,000 seeded synthetic
//! 3x32x32 images as a CIFAR-10 binary folder (written by `benches/reference/compare.py data`,
//! read byte for byte by both sides), a ResNet-20 trained for one tiny epoch on it (`losscape
//! train`, so the BN running statistics are not the defaults) and two filter-normalized random
//! directions (`losscape direction`). Ours is timed as whole `losscape surface` processes: the
//! wall time of a 5-point grid minus that of a 1-point grid, divided by 4, is the time of one grid
//! point (write the weights, one pass over the images) without process start, data loading or the
//! first point's warm-up; the median of three such pairs is reported. The Python side times each
//! grid point after one untimed warm-up and reports the median of the five points.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};

use crate::libtorch::{cache_dir, TORCH_VERSION};

/// libtorch threads on both sides.
const THREADS: usize = 2;
/// Images evaluated at each grid point.
const IMAGES: usize = 2000;
/// The timed grid: x axis `min:max:num` and the fixed y coordinate.
const X_AXIS: (f64, f64, usize) = (-0.4, 0.4, 5);
const Y: f64 = 0.2;
/// Pairs of (5-point, 1-point) `losscape surface` runs; the median is reported.
const REPEATS: usize = 3;
/// Largest accepted relative difference of a loss against ours.
const LOSS_RTOL: f64 = 1e-4;
/// The Python packages of the comparison environment.
const PACKAGES: [&str; 3] = ["numpy", "safetensors", "torch==2.11.0"];
/// Written into the environment last, holding the package list: a complete environment.
const READY: &str = ".losscape-bench-ready";

/// `cargo xtask bench`: runs the criterion benchmarks (every bench target of the root package,
/// benches/README.md), passing `args` to criterion (e.g. a filter such as `resnet20`).
pub fn bench(root: &Path, args: &[String]) -> Result<()> {
    crate::cargo(root, &["bench", "-p", "losscape", "--bench", "*"], args)
}

/// `cargo xtask bench-compare`: see the module documentation.
pub fn compare(root: &Path, python: Option<PathBuf>, configs: Option<&str>) -> Result<()> {
    let python = match python {
        Some(p) => p,
        None => bench_venv()?,
    };
    crate::cargo(root, &["build", "--release", "--quiet", "-p", "losscape-cli"], &[])?;
    let bin = root.join("target").join("release").join("losscape");
    let work = root.join("target").join("bench-compare");
    fs::create_dir_all(&work)?;
    let script = root.join("benches").join("reference").join("compare.py");
    let data = work.join("data");

    eprintln!("xtask: making the fixed problem in {}", work.display());
    run(Command::new(&python).arg(&script).args(["data", "--out"]).arg(&data).args(["--images", &IMAGES.to_string()]))?;
    let source = format!("cifar10:{}", data.display());
    let run_dir = work.join("run");
    // Deterministic: a rerun finds the finished run and leaves it as it is.
    run(Command::new(&bin).args(["train", "--model", "resnet20", "--preset", "tiny", "--epochs", "1"])
        .args(["--dataset", &source, "--threads", &THREADS.to_string(), "--out"])
        .arg(&run_dir))?;
    let checkpoint = run_dir.join("checkpoints").join("epoch-0001.safetensors");
    let directions = work.join("directions.safetensors");
    run(Command::new(&bin).args(["direction", "--two", "--seed", "1", "--checkpoint"]).arg(&checkpoint).arg("--out").arg(&directions))?;

    let surface = |out: &Path, x: &str| -> Result<f64> {
        if out.exists() {
            fs::remove_file(out)?; // an existing file would be resumed, not recomputed
        }
        let start = Instant::now();
        run(Command::new(&bin).arg("surface").arg("--checkpoint").arg(&checkpoint).arg("--direction-file").arg(&directions)
            .args(["--dataset", &source, "--splits", "train", "--x", x, "--y", &format!("{Y}:{Y}:1")])
            .args(["--threads", &THREADS.to_string(), "--save-every", "1000000", "--out"])
            .arg(out))?;
        Ok(start.elapsed().as_secs_f64())
    };
    let (lo, hi, num) = X_AXIS;
    let grid_surface = work.join("grid.surface");
    let mut per_point = Vec::new();
    for rep in 0..REPEATS {
        eprintln!("xtask: timing losscape surface ({}/{REPEATS})", rep + 1);
        let one = surface(&work.join("one.surface"), &format!("{lo}:{lo}:1"))?;
        let all = surface(&grid_surface, &format!("{lo}:{hi}:{num}"))?;
        per_point.push((all - one) / (num - 1) as f64);
    }
    let csv = work.join("grid.csv");
    run(Command::new(&bin).args(["export", "--format", "csv", "--out"]).arg(&csv).arg(&grid_surface))?;
    let ours = parse_surface_csv(&fs::read_to_string(&csv)?)?;
    ensure!(ours.len() == num, "{} holds {} points, expected {num}", csv.display(), ours.len());

    eprintln!("xtask: running the PyTorch reference (every configuration; a few minutes)");
    let points: Vec<String> = ours.iter().map(|p| format!("{},{}", p.x, p.y)).collect();
    let py_json = work.join("pytorch.json");
    let only: Vec<String> = configs.map(|c| format!("--only={c}")).into_iter().collect();
    run(Command::new(&python).arg(&script).arg("run").arg("--checkpoint").arg(&checkpoint).arg("--directions").arg(&directions)
        .arg("--data").arg(&data).arg(format!("--points={}", points.join(";")))
        .args(["--threads", &THREADS.to_string()]).args(&only).arg("--out").arg(&py_json))?;
    let reference: Value = serde_json::from_str(&fs::read_to_string(&py_json)?)
        .with_context(|| format!("parsing {}", py_json.display()))?;

    let flops = resnet_conv_flops(20, 1, true, 3, 32);
    let report = Report::new(&reference, &ours, &per_point, flops)?;
    let text = report.table();
    println!("{text}");
    let result = work.join("result.json");
    fs::write(&result, serde_json::to_string_pretty(&report.json(&reference))? + "\n")?;
    eprintln!("xtask: wrote {}", result.display());
    if !report.disagreements.is_empty() {
        bail!("losses differ from ours by more than {LOSS_RTOL:e} (relative): {}", report.disagreements.join("; "));
    }
    Ok(())
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
    seconds: f64,
    max_rel_diff: f64,
}

/// The comparison: every row, the machine's matrix-multiply rate and the FLOP count.
#[derive(Debug)]
struct Report {
    rows: Vec<Row>,
    images: usize,
    flops_per_image: u64,
    matmul_gflops: f64,
    disagreements: Vec<String>,
}

impl Report {
    /// Reads the Python side's JSON, checks its image count, FLOP count and losses against ours.
    fn new(reference: &Value, ours: &[Point], our_seconds: &[f64], flops_per_image: u64) -> Result<Self> {
        let images = reference["images"].as_u64().context("reference JSON: no `images`")? as usize;
        let counted = reference["conv_flops_per_image"].as_u64().context("reference JSON: no `conv_flops_per_image`")?;
        ensure!(counted == flops_per_image, "the PyTorch model's convolutions count {counted} FLOPs per image, the analytic count is {flops_per_image}: the models differ");
        let matmul_gflops = reference["matmul_gflops"]
            .as_object()
            .context("reference JSON: no `matmul_gflops`")?
            .values()
            .filter_map(Value::as_f64)
            .fold(0.0, f64::max);
        let our_losses: Vec<f64> = ours.iter().map(|p| p.loss).collect();
        let mut rows = vec![Row {
            name: "losscape".into(),
            setup: "losscape surface --threads 2, its default evaluation settings".into(),
            seconds: median(our_seconds),
            max_rel_diff: 0.0,
        }];
        let mut disagreements = Vec::new();
        for c in reference["configs"].as_array().context("reference JSON: no `configs`")? {
            let name = c["name"].as_str().context("config without a name")?.to_owned();
            let losses: Vec<f64> = c["losses"].as_array().context("config without losses")?.iter().filter_map(Value::as_f64).collect();
            ensure!(losses.len() == ours.len(), "{name}: {} losses for {} points", losses.len(), ours.len());
            let diff = max_rel_diff(&our_losses, &losses);
            // NaN (a loss that is not a number) disagrees too.
            if diff.is_nan() || diff > LOSS_RTOL {
                disagreements.push(format!("{name}: {diff:.2e}"));
            }
            rows.push(Row {
                setup: c["setup"].as_str().unwrap_or("").to_owned(),
                seconds: c["median_seconds"].as_f64().context("config without median_seconds")?,
                max_rel_diff: diff,
                name,
            });
        }
        Ok(Self { rows, images, flops_per_image, matmul_gflops, disagreements })
    }

    fn gflops(&self, row: &Row) -> f64 {
        (self.flops_per_image * self.images as u64) as f64 / row.seconds / 1e9
    }

    /// The table as printed.
    fn table(&self) -> String {
        let ours = self.rows[0].seconds;
        let mut s = format!(
            "grid point = write weights + one pass over {} images (ResNet-20, {:.1} MFLOP of convolutions each); {THREADS} threads; matmul rate {:.0} GFLOP/s\n",
            self.images,
            self.flops_per_image as f64 / 1e6,
            self.matmul_gflops
        );
        let _ = writeln!(s, "{:<20} {:>9} {:>9} {:>8} {:>10} {:>8} {:>10}", "config", "points/s", "images/s", "ours/it", "conv GF/s", "% matmul", "loss diff");
        for r in &self.rows {
            let gf = self.gflops(r);
            let _ = writeln!(
                s,
                "{:<20} {:>9.3} {:>9.0} {:>8.2} {:>10.1} {:>7.1}% {:>10.1e}",
                r.name,
                1.0 / r.seconds,
                self.images as f64 / r.seconds,
                r.seconds / ours,
                gf,
                100.0 * gf / self.matmul_gflops,
                r.max_rel_diff
            );
        }
        s
    }

    /// The result as JSON (target/bench-compare/result.json).
    fn json(&self, reference: &Value) -> Value {
        let ours = self.rows[0].seconds;
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                json!({
                    "config": r.name, "setup": r.setup, "seconds_per_point": r.seconds,
                    "points_per_second": 1.0 / r.seconds, "images_per_second": self.images as f64 / r.seconds,
                    "ours_speedup": r.seconds / ours, "conv_gflops": self.gflops(r),
                    "share_of_matmul": self.gflops(r) / self.matmul_gflops, "max_rel_loss_diff": r.max_rel_diff,
                })
            })
            .collect();
        json!({
            "images": self.images, "threads": THREADS, "conv_flops_per_image": self.flops_per_image,
            "matmul_gflops": reference["matmul_gflops"], "torch": reference["torch"], "points": reference["points"],
            "loss_rtol": LOSS_RTOL, "rows": rows,
        })
    }
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

    fn reference(losses: Value) -> Value {
        json!({
            "images": 2000, "conv_flops_per_image": 81_625_088u64, "torch": "2.11.0", "points": [],
            "matmul_gflops": {"1024": 250.0, "2048": 300.0},
            "configs": [{"name": "plain-b128", "setup": "s", "median_seconds": 2.0, "losses": losses}],
        })
    }

    #[test]
    fn report_checks_losses_and_rates() {
        let ours = [Point { x: 0.0, y: 0.0, loss: 2.0 }, Point { x: 1.0, y: 0.0, loss: 4.0 }];
        let r = Report::new(&reference(json!([2.0001, 4.0])), &ours, &[1.0, 0.5, 3.0], 81_625_088).unwrap();
        assert_eq!(r.matmul_gflops, 300.0);
        assert_eq!(r.rows[0].seconds, 1.0);
        assert!((r.rows[1].max_rel_diff - 5e-5).abs() < 1e-9);
        assert!(r.disagreements.is_empty());
        // 2000 images x 81.6 MFLOP in 1 s = 163.25 GFLOP/s, 54% of 300.
        assert!((r.gflops(&r.rows[0]) - 163.250176).abs() < 1e-6);
        let table = r.table();
        assert!(table.contains("plain-b128") && table.contains("54.4%"), "{table}");
        let bad = Report::new(&reference(json!([2.001, 4.0])), &ours, &[1.0], 81_625_088).unwrap();
        assert_eq!(bad.disagreements.len(), 1);
        let nan = Report::new(&reference(json!([null, 4.0])), &ours, &[1.0], 81_625_088);
        assert!(nan.is_err(), "a missing loss is an error");
        assert!(Report::new(&reference(json!([2.0, 4.0])), &ours, &[1.0], 1).is_err(), "FLOP counts must match");
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(max_rel_diff(&[1.0, 2.0], &[f64::NAN, 2.0]).is_nan());
        assert_eq!(max_rel_diff(&[1.0, 2.0], &[1.5, 2.0]), 0.5);
    }
}
