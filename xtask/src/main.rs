//! `cargo xtask`: the project's own tasks (setup, test, figures, data), so a fresh clone needs
//! nothing installed by hand beyond Rust and python3 with pip.

mod bench;
mod browser;
mod data;
mod families;
mod figures;
mod findings;
mod install;
#[cfg(test)]
mod layers;
mod libtorch;
mod measures;
#[cfg(test)]
mod names;
mod page;
mod report;
mod wheel_deps;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "losscape project tasks")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Provision libtorch 2.11.0 (cached outside the checkout) and link it as `.libtorch`.
    Setup {
        /// The CUDA build instead: the torch wheel's CUDA kernels plus the nvidia wheels its
        /// metadata requires (several GB; docs/gpu.md).
        #[arg(long)]
        cuda: bool,
    },
    /// Setup, then build and run the whole test suite.
    Test {
        /// Extra arguments passed to `cargo test` (after `--`).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Train, compute landscapes and write the figure set and REPORT.md (cached, resumable).
    Figures {
        /// smoke (toy sizes, minutes), quick (the default, under an hour on 2 cores) or paper
        /// (the paper's scales, for a GPU and CIFAR-10).
        #[arg(long, default_value = "quick")]
        preset: String,
        /// Only these families (comma-separated letters a-h; the report covers what ran).
        #[arg(long)]
        only: Option<String>,
        /// Output folder for figures, REPORT.md and index.html.
        #[arg(long, default_value = "docs/figures")]
        out: PathBuf,
        /// CIFAR-10 folder (cifar-10-batches-bin) for the paper preset.
        #[arg(long)]
        cifar: Option<String>,
        /// libtorch threads per stage (default: the machine's cores divided by --jobs). On a
        /// machine shared with other work, 1 avoids OpenMP threads waiting on each other.
        #[arg(long)]
        threads: Option<usize>,
        /// Groups of families run side by side (default: the cores, at most 6, for smoke and
        /// quick; 1 for paper, which is meant for one GPU, and for any --device other than cpu).
        #[arg(long)]
        jobs: Option<usize>,
        /// Device of the train, surface and hessian stages: cpu (default), cuda, cuda:N or auto
        /// (docs/gpu.md).
        #[arg(long, default_value = "cpu")]
        device: String,
        /// Drive the stages with this `losscape` binary instead of building the release one
        /// (e.g. a copy kept stable while the workspace is rebuilt).
        #[arg(long)]
        bin: Option<PathBuf>,
    },
    /// Rebuild only the figure page (index.html, viewer.js, data/) of a figure folder from its
    /// captions.tsv, REPORT.md and surface values, without rerunning the pipeline; values not yet
    /// in data/ are read from the CSV exports in --surfaces (a figures cache) when it exists.
    Page {
        /// The figure folder.
        #[arg(long, default_value = "docs/figures")]
        dir: PathBuf,
        /// A folder of surface CSV exports (default: the quick preset's cache, if present).
        #[arg(long)]
        surfaces: Option<PathBuf>,
        /// The 3D views' initial cut-off (the 3D figures' own).
        #[arg(long, default_value_t = 10.0)]
        clip: f64,
    },
    /// Install the `losscape` binary and its libtorch side by side (PREFIX/bin/losscape,
    /// PREFIX/lib/losscape/), so it runs from anywhere and on other machines of the same OS.
    Install {
        /// Where to install (bin/ and lib/losscape/ below it).
        #[arg(long, default_value = "~/.local")]
        prefix: String,
        /// Install the debug build instead of building the release one.
        #[arg(long)]
        debug: bool,
        /// Build with the `mpi` feature (mpirun across ranks and hosts; docs/scaling.md).
        #[arg(long)]
        mpi: bool,
    },
    /// The figure page's browser test alone (headless Chromium; part of `test`).
    BrowserTest {
        /// The figure folder.
        #[arg(long, default_value = "docs/figures")]
        dir: PathBuf,
        /// Where to keep the screenshot.
        #[arg(long, default_value = "target/page.png")]
        screenshot: PathBuf,
    },
    /// Run the criterion benchmarks (benches/); extra arguments go to criterion.
    Bench {
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Time one grid against PyTorch 2.11 in several configurations (docs/benchmarks.md).
    BenchCompare {
        /// A Python with torch 2.11.0, numpy and safetensors (default: a venv in the cache).
        #[arg(long)]
        python: Option<PathBuf>,
        /// Only these PyTorch configurations (comma-separated names, e.g. original,plain-b128).
        #[arg(long)]
        configs: Option<String>,
        /// The model: resnet20 or resnet56 (each in its own folder of target/bench-compare/).
        #[arg(long, default_value = "resnet20")]
        model: bench::BenchModel,
        /// Images per grid point (smaller for a quick check of the command).
        #[arg(long, default_value_t = bench::IMAGES)]
        images: usize,
        /// Sizes of the matrix-multiply probe, comma-separated (default 4096).
        #[arg(long)]
        matmul_sizes: Option<String>,
    },
    /// Rebuild the embedded Fashion-MNIST subset from Debian's `dataset-fashion-mnist` package.
    Data {
        /// Rebuild into a temporary folder and compare with the committed files' SHA-256.
        #[arg(long)]
        check: bool,
    },
}

fn main() {
    if let Err(err) = run() {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let root = workspace_root();
    match cli.command {
        Task::Setup { cuda: false } => {
            libtorch::setup(&root)?;
        }
        Task::Setup { cuda: true } => {
            libtorch::setup_cuda(&root)?;
        }
        Task::Test { args } => {
            libtorch::setup(&root)?;
            cargo(&root, &["test", "--workspace"], &args)?;
            // The whole figure pipeline at toy size, so it cannot silently break.
            let out = root.join("target").join("figures-smoke-out");
            figures(&root, "smoke", None, &out, None, None, None, "cpu", Profile::Debug)?;
            hdf5_tests(&root, &args)?;
            // The committed figure page and the one the smoke run just built, in a browser.
            browser::test(&root.join("docs").join("figures"), 10, &root.join("target").join("page.png"))?;
            browser::test(&out, 1, &root.join("target").join("page-smoke.png"))?;
            // The install: the debug binary and libtorch into a temporary prefix, run from there.
            let prefix = std::env::temp_dir().join(format!("losscape-install-test-{}", std::process::id()));
            let installed = install::install(&target_dir(&root).join("debug").join("losscape"), &libtorch_lib(&root), &prefix)?;
            let version = install::check(&installed);
            let _ = std::fs::remove_dir_all(&prefix);
            eprintln!("xtask: installed to a temporary prefix and ran: {}", version?);
            // Last: its build of the binary with the `mpi` feature replaces the plain one.
            mpi_tests(&root, &args)?;
        }
        Task::Figures { preset, only, out, cifar, threads, jobs, device, bin } => {
            libtorch::setup(&root)?;
            let out = if out.is_absolute() { out } else { root.join(out) };
            let profile = bin.map_or(Profile::Release, Profile::Given);
            figures(&root, &preset, only, &out, cifar.as_deref(), threads, jobs, &device, profile)?;
        }
        Task::Data { check } => data::build(&root, check)?,
        Task::Install { prefix, debug, mpi } => {
            libtorch::setup(&root)?;
            let prefix = match prefix.strip_prefix("~/") {
                Some(rest) => PathBuf::from(std::env::var_os("HOME").context("HOME is not set: give --prefix")?).join(rest),
                None => PathBuf::from(prefix),
            };
            let profile = if debug { "debug" } else { "release" };
            let mut args = vec!["build", "--quiet", "-p", "losscape-cli"];
            if !debug {
                args.push("--release");
            }
            if mpi {
                args.extend(["--features", "mpi"]);
            }
            cargo(&root, &args, &[])?;
            let installed = install::install(&target_dir(&root).join(profile).join("losscape"), &libtorch_lib(&root), &prefix)?;
            let version = install::check(&installed)?;
            eprintln!("xtask: installed {} ({version}) with libtorch in {}", installed.display(), prefix.join("lib").join("losscape").display());
        }
        Task::BrowserTest { dir, screenshot } => {
            let dir = if dir.is_absolute() { dir } else { root.join(dir) };
            let screenshot = if screenshot.is_absolute() { screenshot } else { root.join(screenshot) };
            browser::test(&dir, 1, &screenshot)?;
        }
        Task::Page { dir, surfaces, clip } => {
            let dir = if dir.is_absolute() { dir } else { root.join(dir) };
            let default = root.join("target").join("figures-cache").join("quick").join("surfaces");
            let surfaces = surfaces.or_else(|| default.is_dir().then_some(default));
            let s = page::build(&dir, surfaces.as_deref(), Some(clip))?;
            eprintln!(
                "xtask: {} with {} figures, {} interactive views ({} value files written){}",
                dir.join("index.html").display(),
                s.figures,
                s.views,
                s.data_written,
                if s.without_view.is_empty() { String::new() } else { format!("; no surface values for {}", s.without_view.join(", ")) }
            );
        }
        Task::Bench { args } => {
            libtorch::setup(&root)?;
            bench::bench(&root, &args)?;
        }
        Task::BenchCompare { python, configs, model, images, matmul_sizes } => {
            libtorch::setup(&root)?;
            bench::compare(&root, &bench::CompareOptions { python, configs, model, images, matmul_sizes })?;
        }
    }
    Ok(())
}

/// The MPI tests (`mpirun -n 2` and `-n 3` surfaces, a Hessian map and spectra, docs/scaling.md): they
/// need the `mpi` feature of losscape-cli, so they build and run separately. Without `mpirun` on
/// the PATH they are skipped with a note, except in CI (`CI=true`), where a missing MPI fails the
/// run: `.ci/run` installs it, and a skipped test must not pass for a passed one.
fn mpi_tests(root: &Path, args: &[String]) -> Result<()> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("mpirun").is_file()));
    if !found {
        if ci {
            bail!("CI=true but mpirun is not on the PATH, so the MPI tests cannot run: install libopenmpi-dev openmpi-bin libclang-dev (.ci/run does)");
        }
        eprintln!("xtask: mpirun not found: skipping the MPI tests (install libopenmpi-dev openmpi-bin libclang-dev to run them)");
        return Ok(());
    }
    cargo(root, &["test", "-p", "losscape-cli", "--features", "mpi", "--test", "mpi"], args)
}

/// The HDF5 interop tests (tests/h5.rs, and docs/coming-from-loss-landscape.md run whole, its
/// `.h5` commands included): they need the `hdf5` feature, which links the system HDF5 library, so
/// they build and run separately. Without HDF5 (no `pkg-config hdf5` and no
/// `HDF5_DIR`) they are skipped with a note, except in CI (`CI=true`), where that fails the run:
/// `.ci/run` installs libhdf5-dev.
fn hdf5_tests(root: &Path, args: &[String]) -> Result<()> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let pkg_config = Command::new("pkg-config").args(["--exists", "hdf5"]).status().is_ok_and(|s| s.success());
    if !pkg_config && std::env::var_os("HDF5_DIR").is_none() {
        if ci {
            bail!("CI=true but the HDF5 library is not found (pkg-config hdf5, HDF5_DIR), so the HDF5 tests cannot run: install libhdf5-dev pkg-config (.ci/run does)");
        }
        eprintln!("xtask: HDF5 not found: skipping the HDF5 interop tests (install libhdf5-dev and pkg-config to run them)");
        return Ok(());
    }
    cargo(root, &["test", "-p", "losscape-cli", "--features", "hdf5", "--test", "h5", "--test", "coming_from"], args)
}

/// The libtorch libraries the build links: `$LIBTORCH/lib` when set, else the `.libtorch` link.
fn libtorch_lib(root: &Path) -> PathBuf {
    std::env::var_os("LIBTORCH").map_or_else(|| root.join(".libtorch"), PathBuf::from).join("lib")
}

/// Cargo's target folder: `CARGO_TARGET_DIR` when set, else `target/` in the workspace.
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        Some(t) if t.is_absolute() => t,
        Some(t) => root.join(t),
        None => root.join("target"),
    }
}

/// The workspace root: the parent of this crate's folder.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Runs `cargo <args> [-- <extra>]` in the workspace root, failing if it fails.
fn cargo(root: &Path, args: &[&str], extra: &[String]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root).args(args);
    if !extra.is_empty() {
        cmd.arg("--").args(extra);
    }
    eprintln!("xtask: running cargo {}", args.join(" "));
    let status = cmd.status().context("could not start cargo")?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Builds the `losscape` binary (release) and runs the figure pipeline of a preset.
/// Which build of the `losscape` binary drives the pipeline.
#[derive(Clone)]
enum Profile {
    /// The test suite's own build (no second compilation of the workspace).
    Debug,
    Release,
    /// A binary named on the command line.
    Given(PathBuf),
}

fn figures(
    root: &Path,
    preset: &str,
    only: Option<String>,
    out: &Path,
    cifar: Option<&str>,
    threads: Option<usize>,
    jobs: Option<usize>,
    device: &str,
    profile: Profile,
) -> Result<()> {
    let mut preset = figures::Preset::named(preset, cifar)?;
    preset.device = device.to_owned();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let default_jobs = if preset.name == "paper" || device != "cpu" { 1 } else { cores.min(figures::GROUPS.len()) };
    let jobs = jobs.unwrap_or(default_jobs).max(1);
    preset.threads = threads.unwrap_or(cores / jobs).max(1);
    let bin = match profile {
        Profile::Debug => {
            cargo(root, &["build", "--quiet", "-p", "losscape-cli"], &[])?;
            target_dir(root).join("debug").join("losscape")
        }
        Profile::Release => {
            cargo(root, &["build", "--release", "--quiet", "-p", "losscape-cli"], &[])?;
            target_dir(root).join("release").join("losscape")
        }
        Profile::Given(path) => {
            if !path.is_file() {
                bail!("--bin {}: no such file", path.display());
            }
            path
        }
    };
    let cache = root.join("target").join("figures-cache").join(preset.name);
    eprintln!("xtask: {jobs} job(s) of {} libtorch thread(s) each", preset.threads);
    let mut pipeline = figures::Pipeline::new(bin, cache, out.to_path_buf(), preset, only)?;
    let (wall, findings) = pipeline.run_parallel(jobs, families::run_all)?;
    if pipeline.report {
        report::write(&pipeline, &findings)?;
    }
    eprintln!("xtask: {} figures and REPORT.md in {} ({wall:.0} s)", pipeline.figures.len(), out.display());
    Ok(())
}
