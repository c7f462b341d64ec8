//! `cargo xtask figures`: the paper's figure families regenerated on the embedded data by driving
//! the `losscape` binary stage by stage.
//!
//! Every stage (a training run, a surface, a Hessian map, a trajectory, a plot) is one `losscape`
//! command. A stage is skipped when its outputs exist and its key (the command line plus the
//! SHA-256 of every input file) equals the key stored after its last successful run, so a second
//! run with nothing changed finishes in seconds. An interrupted stage resumes, because the commands
//! themselves resume (training from its last epoch, surfaces from their done-mask). Stamps, run
//! folders, surfaces and timings live in a cache folder outside docs/; only figures, captions,
//! REPORT.md and index.html go to the output folder.
//!
//! With `jobs > 1` the families run in independent groups on worker threads, each stage a
//! single-threaded `losscape` process by default: on a small CPU, two one-thread processes
//! finish sooner than one two-thread process (libtorch's per-operation threading has little work
//! per convolution at these sizes). A stage two groups share (the same training run) runs once:
//! the second group waits for it and then finds it cached. A last pass with everything cached
//! gathers the numbers that the caller writes into the report.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

/// Sizes of one preset.
#[derive(Clone, Debug)]
pub struct Preset {
    pub name: &'static str,
    /// Data source for every run (`fashion-mnist-mini`, or `cifar10:DIR` for the paper preset).
    pub data: String,
    /// Training epochs and the epochs of LR decay (x0.1) of the main runs.
    pub epochs: u64,
    pub decay: &'static str,
    /// Epochs and LR decay epochs of the large-batch runs: a large batch takes fewer steps per
    /// epoch, so it gets more epochs to reach a minimizer of its training data too.
    pub large_epochs: u64,
    pub large_decay: &'static str,
    /// Epochs and LR decay epochs of the depth study's networks other than the batch study's own
    /// (ResNet-56 with and without shortcuts, the plain ResNet-20): they fit their data far more
    /// slowly than ResNet-20 (at 30 epochs ResNet-56 reached 78% train accuracy in a trial).
    pub deep_epochs: u64,
    pub deep_decay: &'static str,
    /// Epochs and LR decay epochs of the plain (noshort) networks deeper than the shallowest
    /// depth: ResNet-56 without shortcuts reached only 94% train accuracy in the deep schedule
    /// (still climbing at lr 0.01 when it decayed again) and 98.6% with 25 epochs at 0.01, so it
    /// keeps lr 0.01 for 45 epochs.
    pub deep_plain_epochs: u64,
    pub deep_plain_decay: &'static str,
    /// Random crops and flips while training (the paper's recipe). Without them a small
    /// training subset is fitted to a minimizer (>= 99% train accuracy) in far fewer epochs.
    pub augment: bool,
    /// Training examples per class of the main runs (None: all).
    pub train_per_class: Option<usize>,
    /// Test examples per class evaluated after each epoch (None: all).
    pub test_per_class: Option<usize>,
    /// The small and the large batch of the batch-size study.
    pub small_batch: usize,
    pub large_batch: usize,
    /// Model of the batch-size / weight-decay study.
    pub study_model: &'static str,
    /// Depths of the depth study (ResNet-d with and without shortcuts).
    pub depths: Vec<u32>,
    /// Further depths trained without shortcuts only (the deepest, most chaotic case).
    pub noshort_depths: Vec<u32>,
    /// Widths of the width study (WRN-d-k with and without shortcuts, d = wide_depth) and their
    /// training size.
    pub widths: Vec<u32>,
    pub wide_depth: u32,
    pub wide_epochs: u64,
    pub wide_decay: &'static str,
    pub wide_train_per_class: Option<usize>,
    /// Base learning rate of the width study (None: the train command's 0.1). The widest networks
    /// with shortcuts blow up in their first epoch at 0.1 when trained this briefly.
    pub wide_lr: Option<f64>,
    /// Points per axis of 2D surfaces and of 1D lines.
    pub grid: usize,
    pub line: usize,
    /// Training examples per class used to evaluate surfaces (None: all), and for wide networks.
    pub eval_per_class: Option<usize>,
    pub wide_eval_per_class: Option<usize>,
    /// Half-width of the zoomed-out surface's range.
    pub zoom: f64,
    /// Height at which 3D renderings clip the loss.
    pub clip: f64,
    /// Hessian maps: points per axis, samples, tolerance, iteration cap.
    pub hessian_grid: usize,
    pub hessian_samples: usize,
    pub hessian_tol: f64,
    pub hessian_max_iter: usize,
    /// Family h: random starts and Lanczos steps per start of the spectral densities (on
    /// `hessian_samples` examples), and the eigenpairs' residual tolerance.
    pub spectrum_starts: usize,
    pub spectrum_steps: usize,
    pub spectrum_tol: f64,
    /// Family h: points per axis of the eigenvector plane and of the random plane beside it.
    pub spectrum_grid: usize,
    /// Seeds of the sharpness measure.
    pub sharpness_seeds: u64,
    /// Draw the path on a random plane too (the paper's failure case), beside the PCA plane.
    pub random_plane: bool,
    /// Normalizations of the 1D lines and the sharpness measure (the paper contrasts filter
    /// normalization with none; layer normalization is its middle ground).
    pub norms: Vec<&'static str>,
    /// libtorch threads per command.
    pub threads: usize,
    /// `--device` of the stages that compute on tensors (train, surface, hessian); the
    /// trajectory stage (streaming PCA of checkpoint files) runs on the CPU.
    pub device: String,
}

impl Preset {
    pub fn named(name: &str, cifar: Option<&str>) -> Result<Self> {
        let quick = Preset {
            name: "quick",
            data: "fashion-mnist-mini".into(),
            epochs: 30,
            decay: "15,22,27",
            large_epochs: 40,
            large_decay: "20,30,36",
            deep_epochs: 75,
            deep_decay: "60,68,72",
            deep_plain_epochs: 120,
            deep_plain_decay: "60,105,115",
            augment: false,
            train_per_class: Some(50),
            test_per_class: None,
            small_batch: 64,
            large_batch: 250,
            study_model: "resnet20",
            depths: vec![20, 56],
            noshort_depths: vec![],
            widths: vec![],
            wide_depth: 20,
            wide_epochs: 30,
            wide_decay: "15,22,27",
            wide_train_per_class: Some(50),
            wide_lr: None,
            grid: 25,
            line: 25,
            eval_per_class: Some(50),
            wide_eval_per_class: Some(50),
            zoom: 4.0,
            clip: 10.0,
            hessian_grid: 5,
            hessian_samples: 200,
            hessian_tol: 1e-2,
            hessian_max_iter: 14,
            spectrum_starts: 3,
            // 20 steps resolve the top of the spectrum and the bulk's moments; with 15x15 planes
            // they keep family h to about 6 minutes of stage time, inside the hour.
            spectrum_steps: 20,
            spectrum_tol: 1e-3,
            spectrum_grid: 15,
            sharpness_seeds: 3,
            norms: vec!["filter", "none"],
            random_plane: false,
            threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            device: "cpu".into(),
        };
        Ok(match name {
            "quick" => quick,
            "smoke" => Preset {
                name: "smoke",
                epochs: 2,
                decay: "1",
                large_epochs: 3,
                large_decay: "2",
                deep_epochs: 2,
                deep_decay: "1",
                deep_plain_epochs: 2,
                deep_plain_decay: "1",
                augment: true,
                train_per_class: Some(20),
                test_per_class: Some(10),
                small_batch: 32,
                large_batch: 100,
                study_model: "resnet8",
                depths: vec![8, 14],
                noshort_depths: vec![],
                widths: vec![1, 2],
                wide_depth: 8,
                wide_lr: Some(0.05),
                wide_epochs: 2,
                wide_decay: "1",
                wide_train_per_class: Some(10),
                grid: 5,
                line: 7,
                eval_per_class: Some(5),
                wide_eval_per_class: Some(5),
                hessian_grid: 3,
                hessian_samples: 20,
                hessian_max_iter: 10,
                spectrum_starts: 2,
                spectrum_steps: 8,
                spectrum_tol: 1e-2,
                spectrum_grid: 5,
                sharpness_seeds: 1,
                norms: vec!["filter", "layer", "none"],
                random_plane: true,
                ..quick
            },
            "paper" => Preset {
                name: "paper",
                data: match cifar {
                    Some(dir) => format!("cifar10:{dir}"),
                    None => bail!("the paper preset needs CIFAR-10: pass --cifar DIR (cifar-10-batches-bin)"),
                },
                epochs: 300,
                decay: "150,225,275",
                large_epochs: 300,
                large_decay: "150,225,275",
                deep_epochs: 300,
                deep_decay: "150,225,275",
                deep_plain_epochs: 300,
                deep_plain_decay: "150,225,275",
                augment: true,
                small_batch: 128,
                large_batch: 8192,
                train_per_class: None,
                study_model: "vgg9",
                depths: vec![20, 56, 110],
                noshort_depths: vec![],
                widths: vec![1, 2, 4, 8],
                wide_epochs: 300,
                wide_decay: "150,225,275",
                wide_train_per_class: None,
                wide_lr: None,
                grid: 51,
                line: 51,
                eval_per_class: None,
                wide_eval_per_class: None,
                zoom: 5.0,
                hessian_grid: 21,
                hessian_samples: 5000,
                hessian_max_iter: 100,
                spectrum_starts: 10,
                spectrum_steps: 100,
                spectrum_tol: 1e-4,
                spectrum_grid: 51,
                norms: vec!["filter", "layer", "none"],
                random_plane: true,
                ..quick
            },
            other => bail!("unknown preset '{other}': use smoke, quick or paper"),
        })
    }
}

/// One figure of the set: its file (relative to the output folder) and a one-line caption.
#[derive(Clone, Debug)]
pub struct Figure {
    pub family: &'static str,
    pub file: String,
    pub caption: String,
    /// The 2D loss surface drawn (its name in the cache's `surfaces/`), for the page's 3D view.
    pub surface: Option<String>,
}

/// The families in groups that share no stage except training runs and planes, in the order
/// workers take them: the costliest first (in the quick preset: the depths with their ResNet-56
/// planes, the batch study, the Hessian maps, the widths, the spectra, the trajectories), so the workers
/// finish close together.
pub const GROUPS: [&str; 6] = ["d", "a,b,c", "f", "e", "h", "g"];

/// Names of the stages running now, shared by the workers of one invocation.
#[derive(Default)]
struct Running {
    names: Mutex<BTreeSet<String>>,
    done: Condvar,
}

impl Running {
    /// Waits until no other worker runs stage `name`, then claims it until the guard drops.
    fn claim(self: &Arc<Self>, name: &str) -> Claim {
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        while names.contains(name) {
            names = self.done.wait(names).unwrap_or_else(|e| e.into_inner());
        }
        names.insert(name.to_owned());
        Claim { running: Arc::clone(self), name: name.to_owned() }
    }
}

struct Claim {
    running: Arc<Running>,
    name: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut names = self.running.names.lock().unwrap_or_else(|e| e.into_inner());
        names.remove(&self.name);
        self.running.done.notify_all();
    }
}

/// The state of one `cargo xtask figures` invocation (or of one worker of it).
pub struct Pipeline {
    bin: PathBuf,
    cache: PathBuf,
    out: PathBuf,
    pub preset: Preset,
    only: Option<String>,
    /// Whether this pipeline writes REPORT.md (workers do not; the last pass does).
    pub report: bool,
    running: Arc<Running>,
    /// Stage name -> (seconds of its last real run, whether this invocation reused it).
    pub timings: BTreeMap<String, (f64, bool)>,
    pub figures: Vec<Figure>,
}

impl Pipeline {
    pub fn new(bin: PathBuf, cache: PathBuf, out: PathBuf, preset: Preset, only: Option<String>) -> Result<Self> {
        fs::create_dir_all(cache.join("stamps"))?;
        fs::create_dir_all(&out)?;
        Ok(Self {
            bin,
            cache,
            out,
            preset,
            only,
            report: true,
            running: Arc::default(),
            timings: BTreeMap::new(),
            figures: Vec::new(),
        })
    }

    /// A worker for the families in `only`: same binary, cache and output, no report, and the
    /// same record of running stages.
    fn worker(&self, only: String) -> Self {
        Self {
            bin: self.bin.clone(),
            cache: self.cache.clone(),
            out: self.out.clone(),
            preset: self.preset.clone(),
            only: Some(only),
            report: false,
            running: Arc::clone(&self.running),
            timings: BTreeMap::new(),
            figures: Vec::new(),
        }
    }

    /// The groups of families this invocation runs (`--only` intersected with [`GROUPS`]).
    fn groups(&self) -> Vec<String> {
        GROUPS
            .iter()
            .map(|g| g.split(',').filter(|f| self.selected(f)).collect::<Vec<_>>().join(","))
            .filter(|g| !g.is_empty())
            .collect()
    }

    /// Runs the selected families with `jobs` workers taking groups from a queue, then `last`
    /// once more over all of them (a pass in which every stage is cached). Returns the wall
    /// seconds of the whole run (before that last pass) and what the last pass returned.
    pub fn run_parallel<T>(&mut self, jobs: usize, last: fn(&mut Pipeline) -> Result<T>) -> Result<(f64, T)> {
        let start = Instant::now();
        // A run from an empty cache (no stage stamped yet) is the one whose wall time the report
        // quotes; later runs that recompute a few stages are listed stage by stage instead.
        let fresh = fs::read_dir(self.cache.join("stamps"))
            .map(|dir| !dir.flatten().any(|e| e.path().extension().is_some_and(|x| x == "key")))
            .unwrap_or(true);
        let queue = Mutex::new(std::collections::VecDeque::from(self.groups()));
        let this: &Pipeline = self;
        let results: Vec<Result<bool>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..jobs.max(1))
                .map(|_| {
                    scope.spawn(|| -> Result<bool> {
                        let mut computed = false;
                        loop {
                            let Some(group) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front() else {
                                return Ok(computed);
                            };
                            let mut w = this.worker(group);
                            last(&mut w)?;
                            computed |= w.timings.iter().any(|(name, (_, cached))| {
                                !cached && !name.starts_with("plot-") && !name.starts_with("export-")
                            });
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| bail!("a figures worker panicked"))).collect()
        });
        let mut computed = false;
        for r in results {
            computed |= r?;
        }
        let wall = start.elapsed().as_secs_f64();
        if computed && fresh {
            // The wall time of the run from an empty cache, for the report of later runs.
            let record = format!("{wall:.1} {} {}\n", jobs.max(1), self.preset.threads);
            fs::write(self.cache.join("stamps").join("last-run.wall"), record)?;
        }
        let gathered = last(self)?;
        Ok((wall, gathered))
    }

    /// Stages (other than plots and exports) computed after the last run from an empty cache,
    /// by a later run whose inputs or settings changed: name and seconds.
    pub fn later_stages(&self) -> Vec<(String, f64)> {
        let stamps = self.cache.join("stamps");
        let Some(base) = fs::metadata(stamps.join("last-run.wall")).and_then(|m| m.modified()).ok() else {
            return Vec::new();
        };
        self.timings
            .iter()
            .filter(|(name, _)| !name.starts_with("plot-") && !name.starts_with("export-"))
            .filter(|(name, _)| {
                fs::metadata(stamps.join(format!("{name}.seconds"))).and_then(|m| m.modified()).is_ok_and(|t| t > base)
            })
            .map(|(name, (secs, _))| (name.clone(), *secs))
            .collect()
    }

    /// The wall seconds, jobs and threads per job of the last run from an empty cache.
    pub fn last_wall(&self) -> Option<(f64, usize, usize)> {
        let text = fs::read_to_string(self.cache.join("stamps").join("last-run.wall")).ok()?;
        let mut it = text.split_whitespace();
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    }

    /// The `losscape` binary that runs the stages.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// A path in the cache folder.
    pub fn cache(&self, rel: &str) -> PathBuf {
        self.cache.join(rel)
    }

    /// Whether family `name` is selected by `--only`.
    pub fn selected(&self, name: &str) -> bool {
        self.only.as_deref().is_none_or(|o| o.split(',').any(|f| f.trim() == name))
    }

    /// Runs `losscape <args>` unless its outputs exist and its key is unchanged. Returns the
    /// command's stdout (empty when cached).
    pub fn stage(&mut self, name: &str, args: &[String], inputs: &[&Path], outputs: &[&Path]) -> Result<String> {
        let _claim = self.running.claim(name);
        let args = &with_device(args, &self.preset.device);
        let key = stage_key(args, inputs)?;
        let stamp = self.cache.join("stamps").join(format!("{name}.key"));
        let time_file = self.cache.join("stamps").join(format!("{name}.seconds"));
        let fresh = fs::read_to_string(&stamp).ok().as_deref() == Some(key.as_str())
            && outputs.iter().all(|p| p.exists());
        if fresh {
            let secs = fs::read_to_string(&time_file).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0.0);
            self.timings.insert(name.to_owned(), (secs, true));
            eprintln!("figures: [cached] {name}");
            return Ok(String::new());
        }
        // Outputs left by a run with other inputs are removed (they would be refused or wrong);
        // outputs of an interrupted run with these inputs are kept, so the command resumes.
        let running = self.cache.join("stamps").join(format!("{name}.running"));
        let known = [&stamp, &running].iter().filter_map(|f| fs::read_to_string(f).ok()).collect::<Vec<_>>();
        if !known.is_empty() && !known.iter().any(|k| k == &key) {
            for p in outputs.iter().filter(|p| p.is_file()) {
                fs::remove_file(p).with_context(|| format!("cannot remove stale {}", p.display()))?;
            }
        }
        fs::write(&running, &key)?;
        eprintln!("figures: [run] {name}: losscape {}", args.join(" "));
        let start = Instant::now();
        let out = Command::new(&self.bin)
            .args(args)
            .stderr(std::process::Stdio::inherit())
            .output()
            .with_context(|| format!("cannot start {}", self.bin.display()))?;
        let secs = start.elapsed().as_secs_f64();
        if !out.status.success() {
            bail!("stage {name} failed ({}): losscape {}", out.status, args.join(" "));
        }
        for p in outputs {
            if !p.exists() {
                bail!("stage {name} did not write {}", p.display());
            }
        }
        // Stamps are written only after success, so an interrupted stage reruns (and resumes).
        fs::write(&time_file, format!("{secs:.3}\n"))?;
        fs::write(&stamp, &key)?;
        let _ = fs::remove_file(&running);
        self.timings.insert(name.to_owned(), (secs, false));
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Registers a figure written to the output folder.
    pub fn figure(&mut self, family: &'static str, file: &str, caption: String, surface: Option<String>) {
        self.figures.push(Figure { family, file: file.to_owned(), caption, surface });
    }

    /// The cache folder of surfaces (and their CSV exports).
    pub fn surfaces_dir(&self) -> PathBuf {
        self.cache.join("surfaces")
    }

    pub fn out(&self, rel: &str) -> PathBuf {
        self.out.join(rel)
    }

    pub fn threads(&self) -> String {
        self.preset.threads.to_string()
    }
}

/// `args` with `--device DEVICE` added to the commands that take it, unless DEVICE is the CPU
/// (so the CPU's stage keys, and caches, stay as they were).
fn with_device(args: &[String], device: &str) -> Vec<String> {
    let mut out = args.to_vec();
    let takes_device = matches!(args.first().map(String::as_str), Some("train" | "surface" | "hessian"));
    if takes_device && device != "cpu" && !args.iter().any(|a| a == "--device") {
        out.extend(["--device".to_owned(), device.to_owned()]);
    }
    out
}

/// SHA-256 over the command line and the content of every input file.
fn stage_key(args: &[String], inputs: &[&Path]) -> Result<String> {
    let mut h = Sha256::new();
    for a in args {
        h.update(a.as_bytes());
        h.update([0]);
    }
    for p in inputs {
        h.update(file_digest(p)?);
    }
    Ok(h.finalize().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}

/// SHA-256 of a file's content, remembered for the invocation by (path, size, modification
/// time): every plot stage hashes the `losscape` binary, and every pass would read it again.
fn file_digest(path: &Path) -> Result<[u8; 32]> {
    type Seen = BTreeMap<PathBuf, (u64, std::time::SystemTime, [u8; 32])>;
    static SEEN: Mutex<Seen> = Mutex::new(BTreeMap::new());
    let meta = fs::metadata(path).with_context(|| format!("stage input {} is missing", path.display()))?;
    let stamp = (meta.len(), meta.modified()?);
    if let Some(&(len, time, digest)) = SEEN.lock().unwrap_or_else(|e| e.into_inner()).get(path) {
        if (len, time) == stamp {
            return Ok(digest);
        }
    }
    let bytes = fs::read(path).with_context(|| format!("stage input {} is missing", path.display()))?;
    let digest: [u8; 32] = Sha256::digest(&bytes).into();
    SEEN.lock().unwrap_or_else(|e| e.into_inner()).insert(path.to_path_buf(), (stamp.0, stamp.1, digest));
    Ok(digest)
}

/// The first 8 hex digits of the SHA-256 of a text.
pub fn short_digest(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().take(4).fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Turns string literals into an argument vector.
pub fn args<const N: usize>(items: [&str; N]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A parsed CSV export: column names and rows.
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<f64>>,
}

impl Table {
    pub fn read(path: &Path) -> Result<Self> {
        let text = fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut lines = text.lines();
        let columns: Vec<String> = lines.next().unwrap_or_default().split(',').map(str::to_owned).collect();
        let rows = lines
            .filter(|l| !l.is_empty())
            .map(|l| l.split(',').map(|v| v.parse::<f64>().unwrap_or(f64::NAN)).collect())
            .collect();
        Ok(Self { columns, rows })
    }

    pub fn column(&self, name: &str) -> Option<Vec<f64>> {
        let i = self.columns.iter().position(|c| c == name)?;
        Some(self.rows.iter().map(|r| r.get(i).copied().unwrap_or(f64::NAN)).collect())
    }
}

/// Spearman's rank correlation (average ranks for ties).
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    fn ranks(v: &[f64]) -> Vec<f64> {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&a, &b| v[a].partial_cmp(&v[b]).unwrap_or(std::cmp::Ordering::Equal));
        let mut r = vec![0.0; v.len()];
        let mut i = 0;
        while i < idx.len() {
            let mut j = i;
            while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
                j += 1;
            }
            let avg = (i + j) as f64 / 2.0 + 1.0;
            for k in i..=j {
                r[idx[k]] = avg;
            }
            i = j + 1;
        }
        r
    }
    let (rx, ry) = (ranks(x), ranks(y));
    let n = x.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let cov: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = rx.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = ry.iter().map(|b| (b - my).powi(2)).sum();
    cov / (vx * vy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_of_monotone_and_reversed() {
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 25.0, 100.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
    }

    #[test]
    fn the_device_reaches_train_surface_and_hessian_only() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for cmd in ["train", "surface", "hessian"] {
            assert_eq!(with_device(&a(&[cmd, "--x", "1"]), "cuda"), a(&[cmd, "--x", "1", "--device", "cuda"]));
            // The CPU adds nothing, so the CPU's stage keys and caches are unchanged.
            assert_eq!(with_device(&a(&[cmd]), "cpu"), a(&[cmd]));
        }
        for cmd in ["trajectory", "direction", "plot"] {
            assert_eq!(with_device(&a(&[cmd]), "cuda:1"), a(&[cmd]));
        }
        assert_eq!(with_device(&a(&["surface", "--device", "cpu"]), "cuda"), a(&["surface", "--device", "cpu"]));
        assert_eq!(Preset::named("smoke", None).unwrap().device, "cpu");
    }

    #[test]
    fn presets_parse() {
        assert_eq!(Preset::named("quick", None).unwrap().grid, 25);
        assert!(Preset::named("paper", None).is_err());
        assert!(Preset::named("huge", None).is_err());
    }
}
