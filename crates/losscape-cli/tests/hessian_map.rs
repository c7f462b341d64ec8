//! `losscape hessian` end to end: the single-point report, and a 3x3 ratio map that is killed
//! with SIGKILL after some points, rerun to completion (equal to an uninterrupted run bit for
//! bit), refused over other directions, and exported to .npz.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use losscape::landscape::Surface;

mod support;
use support::{losscape, write_checkpoint};

fn map_cmd(checkpoint: &Path, out: &Path, seed: &str) -> Command {
    let mut cmd = losscape();
    cmd.args(["hessian", "--checkpoint"])
        .arg(checkpoint)
        .args(["--x", "-0.5:0.5:3", "--y", "-0.5:0.5:3", "--samples", "10", "--tol", "1e-2", "--max-iter", "8"])
        .args(["--batch-size", "10", "--threads", "1", "--save-every", "0", "--seed", seed, "--out"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

fn run_ok(mut cmd: Command) -> String {
    let out = cmd.output().expect("runs losscape");
    assert!(out.status.success(), "losscape failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn single_point_prints_the_extremes_trace_and_product_counts() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("model.safetensors");
    write_checkpoint(&ckpt);
    let mut cmd = losscape();
    cmd.args(["hessian", "--checkpoint"])
        .arg(&ckpt)
        .args(["--samples", "20", "--tol", "1e-2", "--max-iter", "40", "--trace-probes", "3", "--check", "--threads", "1"])
        .stderr(Stdio::piped());
    let text = run_ok(cmd);
    let value = |key: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("no {key} line in:\n{text}"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let (max, min) = (value("lambda_max"), value("lambda_min"));
    assert!(max > 0.0 && min < max, "{text}");
    assert!((value("abs_ratio") - (min / max).abs()).abs() <= 1e-6 * (min / max).abs() + 1e-12, "{text}");
    assert!(value("trace").is_finite());
    assert!(text.contains("data         fashion-mnist-mini train, first 2 per class (20 examples)"), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("check ")).count(), 2, "{text}");

    // Map-only options without a grid are refused in one line.
    let out = losscape().args(["hessian", "--checkpoint"]).arg(&ckpt).args(["--out", "x.surface"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("map mode"));
}

#[test]
fn killed_map_resumes_matches_an_uninterrupted_run_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("model.safetensors");
    write_checkpoint(&ckpt);

    let reference = dir.path().join("reference.surface");
    run_ok(map_cmd(&ckpt, &reference, "3"));
    let reference = Surface::load(&reference).unwrap();
    assert!(reference.is_complete());
    assert_eq!(reference.header().arrays, ["min_eig", "max_eig", "abs_ratio", "hvps", "converged"]);

    // Kill the same job once some (but not all) points are saved.
    let path = dir.path().join("map.surface");
    let mut child = map_cmd(&ckpt, &path, "3").stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    let mut killed = false;
    while start.elapsed() < Duration::from_secs(120) {
        if let Ok(s) = Surface::load(&path) {
            if s.done_count() >= 2 {
                child.kill().unwrap();
                killed = true;
                break;
            }
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait().unwrap();
    assert!(killed, "the map finished before it could be killed; make the job bigger");
    let partial = Surface::load(&path).unwrap();
    let done_before = partial.done_count();
    assert!((2..9).contains(&done_before), "{done_before} of 9");

    run_ok(map_cmd(&ckpt, &path, "3"));
    let resumed = Surface::load(&path).unwrap();
    assert!(resumed.is_complete());
    let second = resumed.runs().last().unwrap().id;
    assert_eq!(resumed.computed_by().iter().filter(|&&r| r == second).count(), 9 - done_before);
    for name in ["min_eig", "max_eig", "abs_ratio", "hvps", "converged"] {
        let (a, b) = (resumed.array(name).unwrap(), reference.array(name).unwrap());
        assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()), "{name} differs from the uninterrupted run");
    }

    // A map over other directions into the same file is refused.
    let out = map_cmd(&ckpt, &path, "4").output().unwrap();
    assert!(!out.status.success());
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("directions_hash") && msg.trim().lines().count() == 1, "{msg}");

    // --surface takes a loss surface's grid and insists on its directions.
    let loss_surface = dir.path().join("loss.surface");
    let out = losscape()
        .args(["surface", "--checkpoint"])
        .arg(&ckpt)
        .args(["--x", "-0.5:0.5:3", "--y", "-0.5:0.5:3", "--per-class", "1", "--splits", "train", "--seed", "3", "--out"])
        .arg(&loss_surface)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let from_surface = dir.path().join("from-surface.surface");
    let mut cmd = losscape();
    cmd.args(["hessian", "--checkpoint"]).arg(&ckpt).arg("--surface").arg(&loss_surface);
    cmd.args(["--samples", "10", "--tol", "1e-2", "--max-iter", "8", "--batch-size", "10", "--threads", "1", "--seed", "3"]);
    cmd.arg("--out").arg(&from_surface).stdout(Stdio::null()).stderr(Stdio::piped());
    run_ok(cmd);
    let again = Surface::load(&from_surface).unwrap();
    assert_eq!(again.array("max_eig").unwrap(), reference.array("max_eig").unwrap());
    let out = losscape()
        .args(["hessian", "--checkpoint"])
        .arg(&ckpt)
        .arg("--surface")
        .arg(&loss_surface)
        .args(["--seed", "9", "--out"])
        .arg(dir.path().join("bad.surface"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("other directions"), "{msg}");

    // The map exports like a loss surface.
    let npz = dir.path().join("map.npz");
    let out = losscape().arg("export").arg(&path).args(["--format", "npz", "--out"]).arg(&npz).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&npz).unwrap();
    for name in ["min_eig.npy", "max_eig.npy", "abs_ratio.npy"] {
        assert!(bytes.windows(name.len()).any(|w| w == name.as_bytes()), "{name} missing from the npz");
    }
}
