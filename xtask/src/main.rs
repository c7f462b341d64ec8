//! `cargo xtask`: the project's own tasks (setup, test, figures, data), so a fresh clone needs
//! nothing installed by hand beyond Rust and python3 with pip.

mod data;
mod libtorch;

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
    Setup,
    /// Setup, then build and run the whole test suite.
    Test {
        /// Extra arguments passed to `cargo test` (after `--`).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Regenerate the figure set on the embedded data.
    Figures,
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
        Task::Setup => {
            libtorch::setup(&root)?;
        }
        Task::Test { args } => {
            libtorch::setup(&root)?;
            cargo(&root, &["test", "--workspace"], &args)?;
        }
        Task::Figures => {
            libtorch::setup(&root)?;
            figures(&root)?;
        }
        Task::Data { check } => data::build(&root, check)?,
    }
    Ok(())
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

/// The figure pipeline as far as it exists today: it reports on the embedded data set.
fn figures(root: &Path) -> Result<()> {
    cargo(
        root,
        &["run", "--release", "--quiet", "-p", "losscape-cli", "--", "data", "info"],
        &[],
    )?;
    eprintln!(
        "xtask: the landscape figures (1D/2D surfaces, Hessian maps, trajectories) come with the \
         models, landscape, curvature, trajectory and plot crates; only the data report exists yet"
    );
    Ok(())
}
