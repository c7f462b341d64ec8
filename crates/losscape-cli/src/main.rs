//! `losscape`: the command-line front end, one subcommand per stage (today `data`). It owns
//! presentation: printing, progress and exit codes; the library crates only report.
//!
//! Adding a stage is one variant in [`Command`], one arm in [`run`] and a `<stage>_cmd.rs` module
//! with its `clap::Args` and a `run` function returning `anyhow::Result<()>`.

mod data_cmd;
mod guard;
mod hessian_cmd;
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
    #[command(subcommand)]
    command: Command,
}

/// The stages.
#[derive(Subcommand)]
enum Command {
    /// Inspect data sets (the embedded Fashion-MNIST subset, IDX or CIFAR-10 folders).
    Data(data_cmd::DataArgs),
    /// Make directions (random, filter-normalized, target) for a checkpoint and save them.
    Direction(landscape_cmd::DirectionArgs),
    /// Compute a 1D or 2D loss/accuracy surface (resumable; shardable with --shard i/n).
    Surface(landscape_cmd::SurfaceArgs),
    /// Export a surface as .npz (numpy), .csv or .vtp (ParaView).
    Export(landscape_cmd::ExportArgs),
    /// Merge the shard files of one surface.
    Merge(landscape_cmd::MergeArgs),
    /// Draw figures (PNG/SVG) from surfaces, Hessian maps, trajectories and training runs.
    Plot(plot_cmd::PlotArgs),
    /// Hessian eigenvalues (lambda_max, lambda_min, trace) at a checkpoint, or the
    /// |lambda_min/lambda_max| map over a 1D/2D grid (resumable; shardable with --shard i/n).
    Hessian(hessian_cmd::HessianArgs),
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
    // Only grid runs are spread over MPI ranks; anything else would run once per rank.
    if !matches!(cli.command, Command::Surface(_) | Command::Hessian(_)) {
        mpi_run::require_one_rank("this command")?;
    }
    match cli.command {
        Command::Data(args) => data_cmd::run(args),
        Command::Direction(args) => landscape_cmd::direction(args),
        Command::Surface(args) => landscape_cmd::surface(args),
        Command::Export(args) => landscape_cmd::export(args),
        Command::Merge(args) => landscape_cmd::merge(args),
        Command::Plot(args) => plot_cmd::run(args),
        Command::Hessian(args) => hessian_cmd::run(args),
        Command::Spectrum(args) => spectrum_cmd::run(args),
        Command::Train(args) => train_cmd::run(args),
        Command::Trajectory(args) => trajectory_cmd::run(args),
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
            let line = one_line(&err);
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
