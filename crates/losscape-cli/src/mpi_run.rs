//! The command's side of MPI runs (cargo feature `mpi`, docs/scaling.md): the dispatcher is
//! losscape-landscape's `mpi` module; here are only the messages that name commands and flags.

pub use losscape::landscape::mpi::{run_grid, set_threads, world, Session};

/// `"rank R: "` in a job of several ranks (to prefix messages), else nothing.
pub fn rank_prefix() -> String {
    match world() {
        (rank, size) if size > 1 => format!("rank {rank}: "),
        _ => String::new(),
    }
}

/// Refuses `what` in a job of several ranks (only grid runs are spread over ranks; anything
/// else would run N times over the same files).
pub fn require_one_rank(what: &str) -> anyhow::Result<()> {
    let (_, size) = world();
    if size > 1 {
        anyhow::bail!(
            "{what} runs in one process; only `losscape surface`, `losscape hessian` maps (with --x or --surface) and `losscape spectrum --density/--repeats` are spread over MPI ranks, and this job has {size}"
        );
    }
    Ok(())
}
