//! Grid runs spread over MPI ranks (cargo feature `mpi`): every rank of an MPI job (started by
//! `mpirun -n N program ...`) prepares the same job, and [`run_grid`] computes its pending points
//! together into one surface file. The `losscape` command's `surface` and `hessian` maps run
//! through here; any other program can do the same with a [`Session`] held for its lifetime.
//!
//! Rank 0 is the only writer and the coordinator. It opens or resumes the surface file through
//! [`run_grid_with`](crate::run::run_grid_with), so the file, its run records and its periodic
//! atomic saves behave exactly as in a single process, and hands out the pending point indices
//! dynamically: every other rank (a worker) holds at most `DEPTH` points at a time and is sent
//! the next one whenever it returns a result, so slow points (a chaotic region's Hessian) do not
//! hold up the rest. Rank 0 computes points too between messages, so no core idles on a machine
//! with one rank per core. Every rank computes its points through the same
//! [`PointComputer`](crate::run::PointComputer), so a point's values are the single process's bit
//! for bit when each rank uses the single run's thread count. The computer is a guard: however a
//! rank leaves [`run_grid`] (an error, a panic), the model is back at its base weights.
//!
//! A killed job loses only the points in flight and those recorded since the last save; run it
//! again with any rank count (or none) and it computes the missing points only. Ranks whose
//! launcher was killed (their parent process changed) stop instead of computing on. A rank that
//! fails reports to rank 0 (through [`Session::finish`]), which saves, stops the others and
//! returns the error.
//!
//! Messages (all on `MPI_COMM_WORLD`, between rank 0 and one worker): `WORK` (one point index,
//! as `u64`), `RESULT` (the index, then the values' bits, as `u64`), `FAILED` (the worker's
//! error text, as bytes), `STOP` (no more work; the worker returns) and, for [`map_items`], `DONE`
//! (every item of this call is done; the worker returns and waits in the next call). Work that is
//! not a grid (the spectrum's SLQ starts and repeat subsets) goes through [`map_items`]: the same
//! queue, with item indices instead of point indices and the values returned to the caller. Waits poll with short
//! sleeps instead of blocking in MPI, whose blocking calls spin a core each at full speed.
//!
//! Without the feature, or when the process was not started by an MPI launcher, or with one rank,
//! everything here is the plain single-process run ([`run::run_grid`](crate::run::run_grid)).

use std::path::Path;

use losscape_core::Progress;

use crate::error::Result;
use crate::run::{run_grid as run_local, GridJob, PointMetrics, RunReport};
use crate::surface::SurfaceHeader;

/// How many points a worker holds at once: the one it computes and the next, so that it never
/// waits for rank 0 (busy with a point of its own) between two points.
#[cfg(feature = "mpi")]
pub const DEPTH: usize = 2;
/// Rank 0 to a worker: compute this point index.
#[cfg(feature = "mpi")]
pub const WORK: i32 = 1;
/// A worker to rank 0: the index and the values of a computed point.
#[cfg(feature = "mpi")]
pub const RESULT: i32 = 2;
/// A worker to rank 0: this rank failed, with the error text.
#[cfg(feature = "mpi")]
pub const FAILED: i32 = 3;
/// Rank 0 to a worker: no more work; return.
#[cfg(feature = "mpi")]
pub const STOP: i32 = 4;
/// Rank 0 to a worker: every item of this [`map_items`] call is done; wait for the next call.
#[cfg(feature = "mpi")]
pub const DONE: i32 = 5;

/// The MPI environment of this process, held by the program (its `main`) for its whole run:
/// initialized when the `mpi` feature is built and an MPI launcher started the process,
/// finalized by [`Session::finish`]. Without a session every function here sees one rank.
pub struct Session {
    #[cfg(feature = "mpi")]
    universe: Option<::mpi::environment::Universe>,
}

impl Session {
    /// Joins the MPI job when one launched this process (and works out each rank's share of
    /// the cores); a no-op otherwise.
    pub fn start() -> Self {
        #[cfg(feature = "mpi")]
        {
            Session { universe: cluster::start() }
        }
        #[cfg(not(feature = "mpi"))]
        {
            Session {}
        }
    }

    /// Ends this rank's part of the job. After a failure (`error` holds its one-line text) a
    /// worker reports it to rank 0 unless it already has, and waits until rank 0 has saved and
    /// says stop; rank 0 stops every worker that is still waiting for work.
    pub fn finish(self, error: Option<&str>) {
        #[cfg(feature = "mpi")]
        if let Some(universe) = self.universe {
            if cluster::launcher_alive() {
                cluster::finish(error);
                drop(universe);
            } else {
                // Finalizing needs the launcher; an orphan just exits.
                std::mem::forget(universe);
            }
        }
        #[cfg(not(feature = "mpi"))]
        let _ = error;
    }
}

/// `(rank, ranks)` of this process: `(0, 1)` outside an MPI job.
pub fn world() -> (usize, usize) {
    #[cfg(feature = "mpi")]
    if let Some(&w) = cluster::WORLD.get() {
        return w;
    }
    (0, 1)
}

/// Sets libtorch's thread count: `explicit` if given; else, in a job of several ranks, this
/// rank's share of the cores it may run on (those cores divided by the ranks on this machine
/// that share them, at least 1); else libtorch's default (all cores).
pub fn set_threads(explicit: Option<usize>) {
    #[cfg(feature = "mpi")]
    let explicit = explicit.or_else(|| cluster::THREAD_SHARE.get().copied());
    if let Some(t) = explicit {
        tch::set_num_threads(t.max(1) as i32);
    }
}

/// Computes the pending points of `job.shard` into the surface file at `path` across the ranks
/// of the job (see the module docs), or in this process alone outside a job of several ranks.
/// Every rank calls it with the same job, metrics and header. Returns the run's report on rank 0
/// and `None` on the other ranks, which write nothing; progress (one step per point) is reported
/// on rank 0. The model is at its base weights again when it returns or unwinds.
pub fn run_grid(
    job: &GridJob<'_>,
    metrics: &mut dyn PointMetrics,
    path: &Path,
    header: SurfaceHeader,
    progress: &dyn Progress,
) -> Result<Option<RunReport>> {
    #[cfg(feature = "mpi")]
    if world().1 > 1 {
        return cluster::run_grid(job, metrics, path, header, progress);
    }
    Ok(Some(run_local(job, metrics, path, header, progress)?))
}

/// Computes `count` independent work items across the ranks of the job, each by `compute(index)`
/// on whichever rank rank 0 hands it to, and returns all their values in index order on rank 0
/// (`None` on the other ranks). Items are handed out like grid points (see the module docs), so
/// an item's values are those of a single process whatever the rank count, provided each item
/// depends on its index alone (its own seed, its own data). `received(index, values)` is called
/// on rank 0 for each item another rank computed (progress; items computed on rank 0 report
/// their own). Every rank calls it with the same `count`, as often and in the same order as the
/// others; outside a job of several ranks it is a plain loop.
///
/// A rank whose `compute` fails reports it to rank 0, whose call returns that error; ranks told
/// to stop by a failed rank 0 return `None` from this and every later call.
pub fn map_items<E>(
    count: usize,
    compute: &mut dyn FnMut(usize) -> std::result::Result<Vec<f64>, E>,
    received: &mut dyn FnMut(usize, &[f64]),
) -> std::result::Result<Option<Vec<Vec<f64>>>, E>
where
    E: From<crate::error::Error> + std::fmt::Display,
{
    #[cfg(feature = "mpi")]
    if world().1 > 1 {
        return cluster::map_items(count, compute, received);
    }
    let _ = &received;
    (0..count).map(&mut *compute).collect::<std::result::Result<Vec<_>, E>>().map(Some)
}

#[cfg(feature = "mpi")]
mod cluster {
    //! The MPI side: start-up, rank 0's dispatcher, the workers' loop and the shutdown protocol.

    use std::collections::VecDeque;
    use std::hash::{Hash, Hasher};
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::OnceLock;
    use std::time::Duration;

    use ::mpi::environment::Universe;
    use ::mpi::point_to_point::{Destination, MatchedReceiveVec, Message, Source, Status};
    use ::mpi::topology::{Communicator, SimpleCommunicator};
    use ::mpi::traits::CommunicatorCollectives;
    use losscape_core::Progress;

    use super::{DEPTH, DONE, FAILED, RESULT, STOP, WORK};
    use crate::error::{Error, Result};
    use crate::grid::Grid;
    use crate::run::{run_grid_with, Dispatch, GridJob, PointComputer, PointMetrics, RunReport, RunSettings};
    use crate::surface::SurfaceHeader;

    /// `(rank, ranks)`, set once MPI is initialized.
    pub static WORLD: OnceLock<(usize, usize)> = OnceLock::new();
    /// The default libtorch threads of this rank, set when the job has several ranks.
    pub static THREAD_SHARE: OnceLock<usize> = OnceLock::new();
    /// Rank 0 has sent every worker `STOP`.
    static STOP_SENT: AtomicBool = AtomicBool::new(false);
    /// This worker has received `STOP`.
    static STOP_SEEN: AtomicBool = AtomicBool::new(false);
    /// This worker has sent `FAILED`.
    static FAILURE_SENT: AtomicBool = AtomicBool::new(false);

    /// The process that started this rank (mpirun, orted, slurmstepd, a Hydra proxy).
    static LAUNCHER: OnceLock<u32> = OnceLock::new();

    /// How long a wait sleeps between two looks for a message.
    const POLL: Duration = Duration::from_millis(1);

    /// Environment variables that MPI launchers (OpenMPI, MPICH/Hydra, PMIx, Slurm's PMI) set.
    const LAUNCHER_VARS: [&str; 5] = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMI_RANK", "PMIX_RANK", "MPI_LOCALNRANKS"];

    /// Initializes MPI if a launcher started this process. The only collective calls of a run
    /// happen here, where every rank is sure to arrive: the per-machine thread share.
    pub fn start() -> Option<Universe> {
        if !LAUNCHER_VARS.iter().any(|v| std::env::var_os(v).is_some()) {
            return None;
        }
        let _ = LAUNCHER.set(std::os::unix::process::parent_id());
        let universe = ::mpi::initialize()?;
        let world = universe.world();
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        let _ = WORLD.set((rank, size));
        if size > 1 {
            let _ = THREAD_SHARE.set(thread_share(&world));
        }
        Some(universe)
    }

    /// The cores this rank may run on, divided by the ranks on this machine that may run on the
    /// same set (all of them when the launcher did not bind ranks to cores; none when it bound
    /// each rank to cores of its own), at least 1.
    fn thread_share(world: &SimpleCommunicator) -> usize {
        let node = world.split_shared(world.rank());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let allowed = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| s.lines().find(|l| l.starts_with("Cpus_allowed_list:")).map(str::to_owned))
            .unwrap_or_default();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        allowed.hash(&mut hasher);
        let key = hasher.finish();
        let mut keys = vec![0u64; node.size() as usize];
        node.all_gather_into(&key, &mut keys[..]);
        let sharing = keys.iter().filter(|&&k| k == key).count().max(1);
        (cores / sharing).max(1)
    }

    fn world() -> SimpleCommunicator {
        SimpleCommunicator::world()
    }

    /// Whether the launcher that started this rank still runs. When mpirun is killed its ranks
    /// live on as orphans; they notice here and stop instead of computing (and writing) on.
    pub fn launcher_alive() -> bool {
        LAUNCHER.get().is_none_or(|&pid| std::os::unix::process::parent_id() == pid)
    }

    fn launcher_gone() -> Error {
        Error::Remote("the MPI launcher has gone (was mpirun killed?): stopping; run the job again to resume it".into())
    }

    /// Waits for the next message from `source`, polling; `None` if the launcher dies first.
    fn wait_for<S: Source>(source: &S) -> Option<(Message, Status)> {
        loop {
            if let Some(found) = source.immediate_matched_probe() {
                return Some(found);
            }
            if !launcher_alive() {
                return None;
            }
            std::thread::sleep(POLL);
        }
    }

    /// Rank 0: tells every worker to stop (once).
    fn stop_workers() {
        if STOP_SENT.swap(true, Ordering::SeqCst) {
            return;
        }
        let world = world();
        for w in 1..world.size() {
            world.process_at_rank(w).send_with_tag(&[0u64][..], STOP);
        }
    }
    /// A worker's RESULT message: the index of its point or item, then its values as f64 bits.
    fn result_message(index: usize, values: &[f64]) -> Vec<u64> {
        let mut reply = Vec::with_capacity(1 + values.len());
        reply.push(index as u64);
        reply.extend(values.iter().map(|v| v.to_bits()));
        reply
    }


    /// A worker: reports a failure to rank 0 (once).
    fn report_failure(text: &str) {
        if !FAILURE_SENT.swap(true, Ordering::SeqCst) {
            world().process_at_rank(0).send_with_tag(text.as_bytes(), FAILED);
        }
    }

    /// A worker: receives and drops messages until `STOP`.
    fn wait_for_stop() {
        let world = world();
        let root = world.process_at_rank(0);
        while !STOP_SEEN.load(Ordering::SeqCst) {
            let Some((message, status)) = wait_for(&root) else { return };
            let tag = status.tag();
            let _ = (message, status).matched_receive_vec::<u64>();
            if tag == STOP {
                STOP_SEEN.store(true, Ordering::SeqCst);
            }
        }
    }

    /// See [`super::Session::finish`].
    pub fn finish(error: Option<&str>) {
        let (rank, size) = super::world();
        if size <= 1 {
            return;
        }
        if rank == 0 {
            stop_workers();
        } else if let Some(text) = error {
            report_failure(text);
            wait_for_stop();
        }
    }

    /// See [`super::run_grid`]: rank 0 coordinates and writes, the others compute.
    pub fn run_grid(
        job: &GridJob<'_>,
        metrics: &mut dyn PointMetrics,
        path: &Path,
        header: SurfaceHeader,
        progress: &dyn Progress,
    ) -> Result<Option<RunReport>> {
        let world = world();
        let mut computer = PointComputer::new(job.model, job.directions, metrics, &header)?;
        let result = if world.rank() == 0 {
            let settings = RunSettings { shard: job.shard, save_interval: job.save_interval };
            let arrays = header.arrays.len();
            let mut coordinator = Coordinator { computer: &mut computer, world: &world, arrays };
            let report = run_grid_with(&mut coordinator, path, header, settings, progress);
            // The file is saved: now the workers may go.
            stop_workers();
            report.map(Some)
        } else {
            work(&world, &mut computer, &header.grid).map(|()| None)
        };
        // Dropping the computer would restore too; here a failed restore is reported.
        let restored = computer.restore();
        let report = result?;
        restored?;
        Ok(report)
    }

    /// Rank 0's [`Dispatch`]: hands out points, computes some itself, records every result.
    struct Coordinator<'c, 'a> {
        computer: &'c mut PointComputer<'a>,
        world: &'c SimpleCommunicator,
        /// How many values a point has.
        arrays: usize,
    }

    impl Dispatch for Coordinator<'_, '_> {
        fn dispatch(
            &mut self,
            grid: &Grid,
            pending: &[usize],
            record: &mut dyn FnMut(usize, &[f64]) -> Result<()>,
        ) -> Result<()> {
            let mut queue: VecDeque<usize> = pending.iter().copied().collect();
            let size = self.world.size() as usize;
            let mut held = vec![0usize; size];
            for _ in 0..DEPTH {
                for (worker, count) in held.iter_mut().enumerate().skip(1) {
                    if let Some(index) = queue.pop_front() {
                        self.send_work(worker, index);
                        *count += 1;
                    }
                }
            }
            loop {
                // Answer every worker that is waiting, then compute a point here.
                while let Some((message, status)) = self.world.any_process().immediate_matched_probe() {
                    self.receive(message, status, grid, &mut queue, &mut held, record)?;
                }
                if !launcher_alive() {
                    return Err(launcher_gone());
                }
                if let Some(index) = queue.pop_front() {
                    let values = self.computer.compute(grid, index)?;
                    record(index, &values)?;
                } else if held.iter().all(|&n| n == 0) {
                    return Ok(());
                } else {
                    let Some((message, status)) = wait_for(&self.world.any_process()) else {
                        return Err(launcher_gone());
                    };
                    self.receive(message, status, grid, &mut queue, &mut held, record)?;
                }
            }
        }
    }

    impl Coordinator<'_, '_> {
        fn send_work(&self, worker: usize, index: usize) {
            self.world.process_at_rank(worker as i32).send_with_tag(&[index as u64][..], WORK);
        }

        /// Takes one message from a worker: a result (recorded; the worker gets the next point
        /// first) or a failure (the run stops with it).
        fn receive(
            &self,
            message: Message,
            status: Status,
            grid: &Grid,
            queue: &mut VecDeque<usize>,
            held: &mut [usize],
            record: &mut dyn FnMut(usize, &[f64]) -> Result<()>,
        ) -> Result<()> {
            let worker = status.source_rank() as usize;
            match status.tag() {
                RESULT => {
                    let (words, _) = (message, status).matched_receive_vec::<u64>();
                    let index = words.first().map_or(usize::MAX, |&i| i as usize);
                    if index >= grid.len() || words.len() != 1 + self.arrays || held[worker] == 0 {
                        return Err(Error::Remote(format!(
                            "rank {worker} sent a malformed result ({} words for point {index})",
                            words.len()
                        )));
                    }
                    held[worker] -= 1;
                    if let Some(next) = queue.pop_front() {
                        self.send_work(worker, next);
                        held[worker] += 1;
                    }
                    let values: Vec<f64> = words[1..].iter().map(|&w| f64::from_bits(w)).collect();
                    record(index, &values)
                }
                FAILED => {
                    let (bytes, _) = (message, status).matched_receive_vec::<u8>();
                    Err(Error::Remote(format!("rank {worker} failed: {}", String::from_utf8_lossy(&bytes))))
                }
                tag => {
                    let _ = (message, status).matched_receive_vec::<u8>();
                    Err(Error::Remote(format!("rank {worker} sent an unexpected message (tag {tag})")))
                }
            }
        }
    }

    /// A worker's loop: compute each point rank 0 sends until it says stop. A failed point is
    /// reported to rank 0 and ends the loop with the error.
    fn work(world: &SimpleCommunicator, computer: &mut PointComputer<'_>, grid: &Grid) -> Result<()> {
        let root = world.process_at_rank(0);
        loop {
            let Some((message, status)) = wait_for(&root) else {
                return Err(launcher_gone());
            };
            let tag = status.tag();
            let (words, _) = (message, status).matched_receive_vec::<u64>();
            match tag {
                STOP => {
                    STOP_SEEN.store(true, Ordering::SeqCst);
                    return Ok(());
                }
                WORK => {
                    // Rank 0 has stopped the run (a failure elsewhere): skip what is left.
                    if root.immediate_probe_with_tag(STOP).is_some() {
                        continue;
                    }
                    let index = words.first().map_or(usize::MAX, |&i| i as usize);
                    match computer.compute(grid, index) {
                        Ok(values) => {
                            root.send_with_tag(&result_message(index, &values)[..], RESULT);
                        }
                        Err(err) => {
                            let (a, b) = if index < grid.len() { grid.point(index) } else { (f64::NAN, f64::NAN) };
                            let err = err.context(format!("point {index} at ({a}, {b})"));
                            report_failure(&chain(&err));
                            return Err(err);
                        }
                    }
                }
                tag => return Err(Error::Remote(format!("unexpected message (tag {tag}) from rank 0"))),
            }
        }
    }

    /// See [`super::map_items`]: rank 0 hands out item indices (computing some itself) and
    /// gathers the results; the others compute until rank 0 says `DONE` (or `STOP`).
    pub fn map_items<E>(
        count: usize,
        compute: &mut dyn FnMut(usize) -> std::result::Result<Vec<f64>, E>,
        received: &mut dyn FnMut(usize, &[f64]),
    ) -> std::result::Result<Option<Vec<Vec<f64>>>, E>
    where
        E: From<Error> + std::fmt::Display,
    {
        let world = world();
        if world.rank() != 0 {
            return work_items(&world, count, compute).map(|()| None);
        }
        if STOP_SENT.load(Ordering::SeqCst) {
            return Err(Error::Remote("the job was stopped".into()).into());
        }
        let size = world.size() as usize;
        let mut results: Vec<Option<Vec<f64>>> = vec![None; count];
        let mut queue: VecDeque<usize> = (0..count).collect();
        let mut held = vec![0usize; size];
        let send = |worker: usize, index: usize| world.process_at_rank(worker as i32).send_with_tag(&[index as u64][..], WORK);
        for _ in 0..DEPTH {
            for (worker, n) in held.iter_mut().enumerate().skip(1) {
                if let Some(index) = queue.pop_front() {
                    send(worker, index);
                    *n += 1;
                }
            }
        }
        // One message from a worker: a result (the worker gets its next item first) or a failure.
        let take = |message: Message, status: Status, queue: &mut VecDeque<usize>, held: &mut [usize], results: &[Option<Vec<f64>>]| -> std::result::Result<(usize, Vec<f64>), E> {
            let worker = status.source_rank() as usize;
            match status.tag() {
                RESULT => {
                    let (words, _) = (message, status).matched_receive_vec::<u64>();
                    let index = words.first().map_or(usize::MAX, |&i| i as usize);
                    if index >= count || held[worker] == 0 || results[index].is_some() {
                        return Err(Error::Remote(format!("rank {worker} sent a malformed result (item {index} of {count})")).into());
                    }
                    held[worker] -= 1;
                    if let Some(next) = queue.pop_front() {
                        send(worker, next);
                        held[worker] += 1;
                    }
                    Ok((index, words[1..].iter().map(|&w| f64::from_bits(w)).collect()))
                }
                FAILED => {
                    let (bytes, _) = (message, status).matched_receive_vec::<u8>();
                    Err(Error::Remote(format!("rank {worker} failed: {}", String::from_utf8_lossy(&bytes))).into())
                }
                tag => {
                    let _ = (message, status).matched_receive_vec::<u8>();
                    Err(Error::Remote(format!("rank {worker} sent an unexpected message (tag {tag})")).into())
                }
            }
        };
        loop {
            while let Some((message, status)) = world.any_process().immediate_matched_probe() {
                let (index, values) = take(message, status, &mut queue, &mut held, &results)?;
                received(index, &values);
                results[index] = Some(values);
            }
            if !launcher_alive() {
                return Err(launcher_gone().into());
            }
            if let Some(index) = queue.pop_front() {
                let values = compute(index)?;
                results[index] = Some(values);
            } else if held.iter().all(|&n| n == 0) {
                break;
            } else {
                let Some((message, status)) = wait_for(&world.any_process()) else {
                    return Err(launcher_gone().into());
                };
                let (index, values) = take(message, status, &mut queue, &mut held, &results)?;
                received(index, &values);
                results[index] = Some(values);
            }
        }
        for w in 1..world.size() {
            world.process_at_rank(w).send_with_tag(&[0u64][..], DONE);
        }
        let all = results.into_iter().collect::<Option<Vec<_>>>();
        all.map(Some).ok_or_else(|| Error::Remote("an item was never computed".into()).into())
    }

    /// A worker's side of [`map_items`]: compute each item rank 0 sends until `DONE`; after a
    /// `STOP` (rank 0 failed) return at once, now and in every later call.
    fn work_items<E>(
        world: &SimpleCommunicator,
        count: usize,
        compute: &mut dyn FnMut(usize) -> std::result::Result<Vec<f64>, E>,
    ) -> std::result::Result<(), E>
    where
        E: From<Error> + std::fmt::Display,
    {
        let root = world.process_at_rank(0);
        while !STOP_SEEN.load(Ordering::SeqCst) {
            let Some((message, status)) = wait_for(&root) else {
                return Err(launcher_gone().into());
            };
            let tag = status.tag();
            let (words, _) = (message, status).matched_receive_vec::<u64>();
            match tag {
                STOP => STOP_SEEN.store(true, Ordering::SeqCst),
                DONE => return Ok(()),
                WORK => {
                    if root.immediate_probe_with_tag(STOP).is_some() {
                        continue;
                    }
                    let index = words.first().map_or(usize::MAX, |&i| i as usize);
                    if index >= count {
                        let err = Error::Remote(format!("rank 0 sent item {index} of {count}"));
                        report_failure(&err.to_string());
                        return Err(err.into());
                    }
                    match compute(index) {
                        Ok(values) => {
                            root.send_with_tag(&result_message(index, &values)[..], RESULT);
                        }
                        Err(err) => {
                            report_failure(&format!("item {index}: {err}"));
                            return Err(err);
                        }
                    }
                }
                tag => return Err(Error::Remote(format!("unexpected message (tag {tag}) from rank 0")).into()),
            }
        }
        Ok(())
    }

    /// An error and its causes, `outer: inner: ...` (the receiver makes one line of it).
    fn chain(err: &Error) -> String {
        let mut line = err.to_string();
        let mut cause = std::error::Error::source(err);
        while let Some(c) = cause {
            line = format!("{line}: {c}");
            cause = c.source();
        }
        line
    }
}
