//! `mpirun -n N losscape surface|hessian` (feature `mpi`; needs OpenMPI's `mpirun` on the PATH):
//! the ranks' surface equals the single process's bit for bit with one libtorch thread per rank
//! (within 1e-6 where a rank's default share of the cores is more threads), ranks default to
//! their share of the cores, a job killed mid-way resumes with another rank count and computes
//! only the missing points, a rank that fails stops the job with its message (and the points
//! saved by then resume), a Hessian map over two ranks equals the single map, a spectrum's
//! density starts and repeats over two and three ranks give the single process's report byte for
//! byte (a failing rank stops such a job with its message, nothing written), and commands that
//! are not spread refuse to run once per rank.

#![cfg(feature = "mpi")]

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use approx::relative_eq;
use losscape::landscape::Surface;
use support::{assert_bit_equal, losscape, run_ok, single_run, write_checkpoint, SingleRun};

/// `mpirun` with `ranks` processes of this build's `losscape` (as root, as CI runs, and with
/// more ranks than cores).
fn mpirun(ranks: usize, args: &[String]) -> Command {
    let mut cmd = Command::new("mpirun");
    cmd.args(["--allow-run-as-root", "--oversubscribe", "-n", &ranks.to_string()])
        .arg(env!("CARGO_BIN_EXE_losscape"))
        .args(args);
    cmd
}

/// The pids of the running children of process `parent`.
fn children(parent: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        if status.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["PPid:", &parent.to_string()]) && running(pid) {
            pids.push(pid);
        }
    }
    pids
}

/// Whether process `pid` exists and is not a zombie.
fn running(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().any(|l| l.starts_with("State:") && !l.contains("zombie"))
}

/// Asserts that two complete surfaces agree within `tol`, relative or (near zero) absolute: other
/// thread counts round reductions differently.
fn assert_close(a: &Surface, b: &Surface, tol: f64) {
    for name in &a.header().arrays {
        for (p, q) in a.array(name).unwrap().iter().zip(b.array(name).unwrap()) {
            assert!(relative_eq!(*p, *q, epsilon = tol, max_relative = tol), "{name}: {p} vs {q}");
        }
    }
}

fn with_out(mut args: Vec<String>, out: &Path) -> Vec<String> {
    args.push("--out".into());
    args.push(out.display().to_string());
    args
}

#[test]
fn surfaces_over_ranks_equal_the_single_process_and_a_killed_job_resumes_with_other_ranks() {
    let SingleRun { dir, args, single } = single_run();

    // 2 ranks with their default thread count (their share of the cores), 3 with one thread.
    let threads_at = args.iter().position(|a| a == "--threads").unwrap();
    let mut default_threads = args.clone();
    default_threads.drain(threads_at..threads_at + 2);
    for (ranks, args) in [(2, &default_threads), (3, &args)] {
        let path = dir.path().join(format!("ranks{ranks}.surface"));
        let stderr = run_ok(&mut mpirun(ranks, &with_out(args.clone(), &path)));
        // Only rank 0 reports (and writes).
        assert_eq!(stderr.matches("computed 30 point(s)").count(), 1, "{stderr}");
        let spread = Surface::load(&path).unwrap();
        let threads = spread.header().threads;
        let cores = std::thread::available_parallelism().unwrap().get();
        assert!((1..=(cores / ranks).max(1)).contains(&threads), "{threads} threads per rank on {cores} cores");
        if threads == 1 {
            assert_bit_equal(&spread, &single, &format!("{ranks} ranks"));
        } else {
            assert_close(&spread, &single, 1e-6);
        }
        assert_eq!(spread.runs().len(), 1);
        assert!(spread.computed_by().iter().all(|&r| r == 1));
    }

    // SIGKILL mpirun of a 3-rank job once some points are saved: its ranks, orphaned, notice
    // and stop. Then finish the job with 2 ranks: only the missing points are computed.
    let path = dir.path().join("killed.surface");
    let mut child = mpirun(3, &with_out(args.clone(), &path)).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    let mut ranks = Vec::new();
    while start.elapsed() < Duration::from_secs(60) {
        if Surface::load(&path).is_ok_and(|s| s.done_count() >= 6) {
            ranks = children(child.id());
            child.kill().unwrap();
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.wait().unwrap();
    assert_eq!(ranks.len(), 3, "the job finished before it could be killed; make the grid bigger");
    let start = Instant::now();
    while ranks.iter().any(|&pid| running(pid)) {
        assert!(start.elapsed() < Duration::from_secs(30), "the orphaned ranks did not stop");
        std::thread::sleep(Duration::from_millis(10));
    }
    let partial = Surface::load(&path).unwrap();
    let done_before = partial.done_count();
    assert!((6..30).contains(&done_before), "{done_before} of 30 points: the orphaned ranks must not finish the job");

    run_ok(&mut mpirun(2, &with_out(args.clone(), &path)));
    let resumed = Surface::load(&path).unwrap();
    let second = resumed.runs().last().unwrap().id;
    assert_eq!(second, 2);
    let by_second = resumed.computed_by().iter().filter(|&&r| r == second).count();
    assert_eq!(by_second, 30 - done_before, "the resumed job must compute exactly the missing points");
    for (i, &was_done) in partial.done().iter().enumerate() {
        if was_done {
            assert_eq!(resumed.computed_by()[i], 1, "point {i} was recomputed");
        }
    }
    assert_bit_equal(&resumed, &single, "killed and resumed");
}

#[test]
fn a_failing_rank_stops_the_job_with_its_message_and_the_saved_points_resume() {
    let SingleRun { dir, args, single } = single_run();
    let path = dir.path().join("failed.surface");
    // Rank 1 is given a checkpoint that does not exist: it fails before computing anything,
    // while rank 0 has handed it points and waits for them.
    let missing = dir.path().join("missing.safetensors");
    let mut broken = with_out(args.clone(), &path);
    let at = broken.iter().position(|a| a == "--checkpoint").unwrap() + 1;
    broken[at] = missing.display().to_string();
    let out = Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-n", "1"])
        .arg(env!("CARGO_BIN_EXE_losscape"))
        .args(with_out(args.clone(), &path))
        .args([":", "-n", "1"])
        .arg(env!("CARGO_BIN_EXE_losscape"))
        .args(&broken)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    // Rank 0 exits with rank 1's error, received over MPI; no rank reports success.
    let expected = format!("error: rank 0: rank 1 failed: {}: no such checkpoint", missing.display());
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(!stderr.contains("computed"), "{stderr}");
    // What rank 0 computed itself was saved: a rerun in one process computes the rest only,
    // and the result is the single process's.
    let saved = Surface::load(&path).map_or(0, |s| s.done_count());
    let report = run_ok(losscape().args(with_out(args.clone(), &path)));
    assert!(report.contains(&format!("computed {} point(s)", 30 - saved)), "{saved} saved: {report}");
    assert_bit_equal(&Surface::load(&path).unwrap(), &single, "failed and resumed");
}

#[test]
fn a_surface_with_early_stopping_over_two_ranks_equals_the_single_process() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("model.safetensors");
    write_checkpoint(&ckpt);
    let mut args = support::surface_args(&ckpt);
    args.retain(|a| !["--batch-size", "50", "--per-class", "10"].contains(&a.as_str()));
    for a in ["--batch-size", "16", "--per-class", "20", "--samples", "auto", "--rel-error", "0.05", "--min-samples", "32"] {
        args.push(a.into());
    }
    let single = dir.path().join("single.surface");
    run_ok(losscape().args(with_out(args.clone(), &single)));
    let path = dir.path().join("ranks2.surface");
    run_ok(&mut mpirun(2, &with_out(args.clone(), &path)));
    let (single, spread) = (Surface::load(&single).unwrap(), Surface::load(&path).unwrap());
    assert!(single.array("train_count").unwrap().iter().any(|&c| c < 200.0), "some points stop early");
    assert_bit_equal(&spread, &single, "sampled surface on 2 ranks");
}

#[test]
fn a_hessian_map_over_two_ranks_equals_the_single_map() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("model.safetensors");
    write_checkpoint(&ckpt);
    let mut args: Vec<String> = vec!["hessian".into(), "--checkpoint".into(), ckpt.display().to_string()];
    for a in ["--x", "-0.5:0.5:3", "--y", "-0.5:0.5:2", "--samples", "10", "--tol", "1e-2", "--max-iter", "8"] {
        args.push(a.into());
    }
    for a in ["--batch-size", "10", "--threads", "1", "--save-every", "0", "--seed", "3"] {
        args.push(a.into());
    }

    let single = dir.path().join("single.surface");
    let single_report = run_ok(losscape().args(with_out(args.clone(), &single)));
    let path = dir.path().join("ranks2.surface");
    let spread_report = run_ok(&mut mpirun(2, &with_out(args.clone(), &path)));
    assert_bit_equal(&Surface::load(&path).unwrap(), &Surface::load(&single).unwrap(), "Hessian map on 2 ranks");
    // Rank 0 reports the products of every rank's points: the same count as the single run.
    let products = |report: &str| -> String {
        let line = report.lines().find(|l| l.contains("Hessian-vector products")).unwrap_or_default().to_owned();
        line.split(" in ").nth(1).and_then(|s| s.split('(').nth(1)).unwrap_or_default().split(' ').next().unwrap_or_default().to_owned()
    };
    assert!(!products(&single_report).is_empty(), "{single_report}");
    assert_eq!(products(&spread_report), products(&single_report), "{spread_report}");

    // Commands that are not grid runs refuse to run once per rank, in one line per rank.
    let single_point: Vec<String> = vec!["hessian".into(), "--checkpoint".into(), ckpt.display().to_string()];
    let out = mpirun(2, &single_point).stdout(Stdio::null()).stderr(Stdio::piped()).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rank 1: the single-point report runs in one process"), "{stderr}");
}

#[test]
fn a_spectrum_with_its_starts_and_repeats_over_ranks_equals_the_single_process_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("model.safetensors");
    write_checkpoint(&ckpt);
    let mut args: Vec<String> = vec!["spectrum".into(), "--checkpoint".into(), ckpt.display().to_string()];
    // 5 density starts and 3 subsets: more items than ranks, and rank 0 computes some too; the
    // trace (rank 0 alone) sits between the two spread sections.
    for a in ["--threads", "1", "--tol", "1e-3", "--samples", "10", "--density", "--starts", "5", "--steps", "8"] {
        args.push(a.into());
    }
    for a in ["--trace-method", "hutchinson", "--trace-probes", "3", "--repeats", "3", "--max-iter", "20"] {
        args.push(a.into());
    }
    let stdout = |cmd: &mut Command| -> String {
        let out = cmd.stderr(Stdio::piped()).stdout(Stdio::piped()).output().unwrap();
        assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let single = dir.path().join("single");
    let report = stdout(losscape().args(with_out(args.clone(), &single)));
    assert!(report.contains("density      5 starts x 8 steps"), "{report}");
    for ranks in [2, 3] {
        let out = dir.path().join(format!("ranks{ranks}"));
        let spread_report = stdout(&mut mpirun(ranks, &with_out(args.clone(), &out)));
        // Only rank 0 prints: one report, with the single process's numbers.
        assert_eq!(spread_report.matches("density ").count(), 1, "{spread_report}");
        for ext in ["json", "npz"] {
            let a = std::fs::read(single.with_extension(ext)).unwrap();
            let b = std::fs::read(out.with_extension(ext)).unwrap();
            assert!(a == b, "{ranks} ranks: the .{ext} report differs from the single process's");
        }
    }
    // Rank 1 really computes items: given another density seed, its starts change the report.
    let mut other_seed = args.clone();
    other_seed.extend(["--density-seed".to_string(), "9".to_string()]);
    let mixed = dir.path().join("mixed");
    let out = Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-n", "1"])
        .arg(env!("CARGO_BIN_EXE_losscape"))
        .args(with_out(args.clone(), &mixed))
        .args([":", "-n", "1"])
        .arg(env!("CARGO_BIN_EXE_losscape"))
        .args(with_out(other_seed, &dir.path().join("unused")))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let quadratures = |path: &Path| -> Vec<serde_json::Value> {
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path.with_extension("json")).unwrap()).unwrap();
        json["density"]["quadratures"].as_array().unwrap().clone()
    };
    let (a, b) = (quadratures(&single), quadratures(&mixed));
    assert_eq!(a.len(), b.len());
    let changed = a.iter().zip(&b).filter(|(p, q)| p != q).count();
    assert!((1..a.len()).contains(&changed), "{changed} of {} starts came from rank 1", a.len());

    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(single.with_extension("json")).unwrap()).unwrap();
    assert_eq!(json["density"]["quadratures"].as_array().unwrap().len(), 5);
    assert_eq!(json["repeats"]["subsets"].as_array().unwrap().len(), 3);

    // A spectrum with nothing to spread refuses to run once per rank.
    let top: Vec<String> = vec!["spectrum".into(), "--checkpoint".into(), ckpt.display().to_string(), "--top".into(), "1".into()];
    let out = mpirun(2, &top).stdout(Stdio::null()).stderr(Stdio::piped()).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("without --density or --repeats runs in one process"), "{stderr}");
}

#[test]
fn a_spectrum_rank_that_fails_stops_the_job_with_its_message_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("model.safetensors");
    write_checkpoint(&ckpt);
    let missing = dir.path().join("missing.safetensors");
    let args = |checkpoint: &Path| -> Vec<String> {
        let mut a: Vec<String> = vec!["spectrum".into(), "--checkpoint".into(), checkpoint.display().to_string()];
        for s in ["--threads", "1", "--samples", "10", "--density", "--starts", "4", "--steps", "6", "--out"] {
            a.push(s.into());
        }
        a.push(dir.path().join("spec").display().to_string());
        a
    };
    let out = Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-n", "1"])
        .arg(env!("CARGO_BIN_EXE_losscape"))
        .args(args(&ckpt))
        .args([":", "-n", "1"])
        .arg(env!("CARGO_BIN_EXE_losscape"))
        .args(args(&missing))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let expected = format!("error: rank 0: rank 1 failed: {}: no such checkpoint", missing.display());
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(!dir.path().join("spec.json").exists() && !dir.path().join("spec.npz").exists());
}
