//! `losscape trajectory` on a short training run: the variance report, the files it writes, and
//! the loss surface under the path computed with `losscape surface --direction-file` over the
//! suggested range.

use std::path::Path;
use std::process::{Command, Output};

use losscape::trajectory::report::load_report;

fn losscape(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_losscape")).args(args).output().expect("runs losscape")
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "losscape failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn trajectory_of_a_short_run_and_the_surface_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    ok(losscape(&[
        "train", "--model", "resnet8", "--preset", "tiny", "--epochs", "4", "--lr-decay-epochs", "2",
        "--train-per-class", "10", "--threads", "1", "--out", s(&run),
    ]));
    let out = dir.path().join("traj");
    let stdout = ok(losscape(&["trajectory", "--run", s(&run), "--out", s(&out), "--grid-points", "3", "--seed", "5"]));
    assert!(stdout.contains("5 checkpoints") && stdout.contains("first two:") && stdout.contains("random"), "{stdout}");
    assert!(stdout.contains("epoch    2*"), "the decay epoch is marked: {stdout}");
    for f in ["pca.safetensors", "random.safetensors", "init-random.safetensors", "projection.csv", "projection-pca.json"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let report = load_report(&out.join("trajectory.json")).unwrap();
    assert_eq!(report.points.len(), 5);
    assert_eq!((report.points[4].x, report.points[4].y), (0.0, 0.0));
    let (x, y) = (report.surface.x.as_str(), report.surface.y.as_str());
    assert!(x.ends_with(":3") && y.ends_with(":3"));
    let (share, random) = (report.first_two_share, report.planes.random.captured_share);
    assert!(share > 10.0 * random, "{share} vs {random}");

    // The surface under the path, along the PCA directions, over the suggested range.
    let surface = dir.path().join("pca.surface");
    let checkpoint = report.surface.checkpoint.as_str();
    ok(losscape(&[
        "surface", "--checkpoint", checkpoint, "--direction-file", s(&out.join("pca.safetensors")), "--x", x, "--y", y,
        "--per-class", "2", "--splits", "test", "--threads", "1", "--out", s(&surface),
    ]));
    assert!(surface.is_file());

    // A folder that is not a run gets a one-line error.
    let bad = losscape(&["trajectory", "--run", s(dir.path()), "--out", s(&out)]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("run.json") && err.lines().count() == 1, "{err}");
}
