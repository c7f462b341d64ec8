//! `losscape`: the command-line front end, one subcommand per stage (data, direction, surface,
//! export, merge, plot, hessian, train, trajectory; README.md lists them). It owns
//! presentation: printing, progress and exit codes; the library crates only report.
//!
//! Adding a stage is one variant in [`Command`], one arm in [`run`] and a `<stage>_cmd.rs` module
//! with its `clap::Args` and a `run` function returning `anyhow::Result<()>`.

mod data_cmd;
mod device_cmd;
mod guard;
mod h5_cmd;
mod hessian_cmd;
mod hints;
mod import_cmd;
mod landscape_cmd;
mod model_load;
mod mpi_run;
mod plot_cmd;
mod progress;
mod spectrum_cmd;
mod train_cmd;
mod trajectory_cmd;

use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// The whole command line.
#[derive(Parser)]
#[command(name = "losscape", version, about = "Loss landscapes of neural networks (Li et al., 2018) on libtorch")]
struct Cli {
    /// When stderr is not a terminal (a log file, a batch job): write a progress line (done/total,
    /// rate, ETA) every this many seconds; 0 turns them off. Also LOSSCAPE_PROGRESS_EVERY.
    #[arg(long, global = true, value_name = "SECS", value_parser = losscape::core::progress_log::parse_interval)]
    progress_every: Option<std::time::Duration>,
    #[command(subcommand)]
    command: Command,
}

/// The stages.
#[derive(Subcommand)]
enum Command {
    /// Inspect data sets (the embedded Fashion-MNIST subset, IDX or CIFAR-10 folders).
    Data(data_cmd::DataArgs),
    /// The libtorch in use, its CUDA kernels and GPUs (with memory), CPU features and threads.
    Device(device_cmd::DeviceArgs),
    /// Make directions (random, filter-normalized, target) for a checkpoint and save them.
    Direction(landscape_cmd::DirectionArgs),
    /// Compute a 1D or 2D loss/accuracy surface (resumable; shardable with --shard i/n).
    Surface(landscape_cmd::SurfaceArgs),
    /// Export a surface as .npz (numpy), .csv, .vtp (ParaView) or .h5 (the original loss-landscape code's).
    Export(landscape_cmd::ExportArgs),
    /// Merge the shard files of one surface.
    Merge(landscape_cmd::MergeArgs),
    /// Draw figures (PNG/SVG, or an interactive 3D view as .html) from surfaces, Hessian maps,
    /// trajectories and training runs.
    Plot(plot_cmd::PlotArgs),
    /// Hessian eigenvalues (lambda_max, lambda_min, trace) at a checkpoint, or the
    /// |lambda_min/lambda_max| map over a 1D/2D grid (resumable; shardable with --shard i/n).
    Hessian(hessian_cmd::HessianArgs),
    /// Turn a PyTorch state dict of a built-in architecture (e.g. from the original
    /// loss-landscape code) into a losscape checkpoint.
    Import(import_cmd::ImportArgs),
    /// The whole Hessian spectrum at a checkpoint: SLQ density, top/bottom eigenpairs with
    /// residuals, Hutchinson/Hutch++ trace, per-layer curvature, repeats over disjoint subsets.
    Spectrum(spectrum_cmd::SpectrumArgs),
    /// Train a network with SGD into a run folder (checkpoints, metrics; rerun to resume).
    Train(train_cmd::TrainArgs),
    /// PCA of a run's optimization path: PCA directions, projected path, random baselines.
    Trajectory(trajectory_cmd::TrajectoryArgs),
}

/// Runs one parsed command.
fn run(cli: Cli) -> anyhow::Result<()> {
    progress::set_log_interval(log_interval(cli.progress_every)?);
    // Only grid runs and the spectrum's starts and repeats are spread over MPI ranks; anything
    // else would run once per rank.
    if !matches!(cli.command, Command::Surface(_) | Command::Hessian(_) | Command::Spectrum(_)) {
        mpi_run::require_one_rank("this command")?;
    }
    match cli.command {
        Command::Data(args) => data_cmd::run(args),
        Command::Device(args) => device_cmd::run(args),
        Command::Direction(args) => landscape_cmd::direction(args),
        Command::Surface(args) => landscape_cmd::surface(args),
        Command::Export(args) => landscape_cmd::export(args),
        Command::Merge(args) => landscape_cmd::merge(args),
        Command::Plot(args) => plot_cmd::run(args),
        Command::Hessian(args) => hessian_cmd::run(args),
        Command::Import(args) => import_cmd::run(args),
        Command::Spectrum(args) => spectrum_cmd::run(args),
        Command::Train(args) => train_cmd::run(args),
        Command::Trajectory(args) => trajectory_cmd::run(args),
    }
}

/// The progress-line interval: the flag, else `LOSSCAPE_PROGRESS_EVERY`, else 30 s.
fn log_interval(flag: Option<std::time::Duration>) -> anyhow::Result<std::time::Duration> {
    use losscape::core::progress_log::{parse_interval, DEFAULT_INTERVAL, INTERVAL_ENV};
    if let Some(every) = flag {
        return Ok(every);
    }
    match std::env::var(INTERVAL_ENV) {
        Ok(text) if !text.trim().is_empty() => parse_interval(&text).map_err(|e| anyhow::anyhow!("{INTERVAL_ENV}: {e}")),
        _ => Ok(DEFAULT_INTERVAL),
    }
}

/// The command line definition with negative numbers accepted as values everywhere (`--lr -1`
/// then reaches the range checks, which say what is allowed, instead of clap's "unexpected
/// argument '-1'").
fn command() -> clap::Command {
    fn allow_negative(cmd: clap::Command) -> clap::Command {
        cmd.allow_negative_numbers(true).mut_subcommands(allow_negative)
    }
    allow_negative(Cli::command())
}

/// Parses `args` like [`Cli::parse`], with [`command`]'s settings.
fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = command().try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

fn main() -> ExitCode {
    let cli = parse_from(std::env::args_os()).unwrap_or_else(|e| e.format(&mut command()).exit());
    let session = mpi_run::Session::start();
    // A panic is a bug, but the user still gets one line and exit code 1, not a backtrace.
    panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let place = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!("error: {}internal error: {}{place}", mpi_run::rank_prefix(), first_line(&what));
    }));
    let (code, error) = match panic::catch_unwind(AssertUnwindSafe(|| run(cli))) {
        Ok(Ok(())) => (ExitCode::SUCCESS, None),
        Ok(Err(err)) => {
            let line = hints::with_flags(&err, one_line(&err));
            eprintln!("error: {}{line}", mpi_run::rank_prefix());
            (ExitCode::FAILURE, Some(line))
        }
        Err(_) => (ExitCode::FAILURE, Some("internal error (a panic)".to_owned())),
    };
    session.finish(error.as_deref());
    code
}

/// An error and its causes on one line, `outer: inner`, skipping a cause whose text the line
/// already holds (our errors often include their source) and keeping only the first line of
/// each (libtorch messages carry a C++ backtrace after it).
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        let text = first_line(&text);
        if text.is_empty() || line.contains(text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(text);
    }
    line
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("").trim_end()
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn errors_print_on_one_line_without_repeats() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let err = anyhow::Error::new(io).context("reading x: gone");
        assert_eq!(one_line(&err), "reading x: gone");
        let err: anyhow::Result<()> = Err(anyhow::anyhow!("libtorch: bad shape\nException raised from ...\n  #0 foo"));
        let err = err.context("evaluating").unwrap_err();
        assert_eq!(one_line(&err), "evaluating: libtorch: bad shape");
    }

    #[test]
    fn command_line_parses() {
        command().debug_assert();
        let Err(err) = parse_from(["losscape", "hessian", "--checkpoint", "c", "--tol", "-1"]) else { panic!("accepted --tol -1") };
        assert!(err.to_string().contains("greater than 0"), "{err}");
        let Err(err) = parse_from(["losscape", "train", "--out", "r", "--threads", "0"]) else { panic!("accepted --threads 0") };
        assert!(err.to_string().contains("at least 1"), "{err}");
        assert!(parse_from(["losscape", "train", "--model", "resnet8", "--out", "r", "--lr", "-1"]).is_ok(), "negative values parse, then train's checks refuse them");
        assert!(Cli::try_parse_from(["losscape", "data", "info", "--cifar", "a", "--idx", "b"]).is_err());
        assert!(Cli::try_parse_from(["losscape", "data", "info", "--dataset", "nonsense"]).is_err());
        assert!(Cli::try_parse_from(["losscape", "data", "info", "--dataset", "idx:d"]).is_ok());
    }
}
