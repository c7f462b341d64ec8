//! Progress in logs: with stderr going to a file (not a terminal), surface, Hessian-map and
//! training runs write `task: done/total (pct%), rate/s, ETA ...` lines every
//! `--progress-every` seconds (or `LOSSCAPE_PROGRESS_EVERY`), and none with 0.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};

use losscape::core::Precision;
use losscape::data::Normalization;
use losscape::models::{checkpoint, CheckpointMeta, ModelSpec};

fn losscape() -> Command {
    Command::new(env!("CARGO_BIN_EXE_losscape"))
}

fn tiny_checkpoint(dir: &Path) -> std::path::PathBuf {
    let spec: ModelSpec = "resnet8".parse().unwrap();
    let model = losscape::models::build(&losscape::models::BuildSpec { in_channels: 1, image_size: [28, 28], ..losscape::models::BuildSpec::new(spec) }, tch::Device::Cpu, 5).unwrap();
    let mut meta = CheckpointMeta::new(&spec, 1, 10, [28, 28], Precision::F32);
    meta.data = Some("fashion-mnist-mini".into());
    meta.normalization = Some(Normalization { mean: vec![0.286], std: vec![0.353] });
    let ckpt = dir.join("model.safetensors");
    checkpoint::save(model.as_ref(), &meta, &ckpt).unwrap();
    ckpt
}

/// Runs `cmd` with stderr redirected to a file (as `2> log` would) and returns the file's text.
fn run_logged(mut cmd: Command, log: &Path) -> String {
    let status = cmd.stdout(Stdio::null()).stderr(File::create(log).unwrap()).status().unwrap();
    let text = std::fs::read_to_string(log).unwrap();
    assert!(status.success(), "losscape failed: {text}");
    text
}

/// The `done/total` counts of the progress lines of `task`, checking each line's shape.
fn counts(text: &str, task: &str, total: u64) -> Vec<u64> {
    let prefix = format!("{task}: ");
    let mut out = Vec::new();
    // Progress lines go on with a count (a run's own summary lines, `epoch 1/2: lr ...`, do not).
    let progress_lines = text.lines().filter(|l| l.strip_prefix(&prefix).is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit())));
    for line in progress_lines {
        let rest = &line[prefix.len()..];
        let (done, rest) = rest.split_once('/').unwrap_or_else(|| panic!("no done/total in {line:?}"));
        let done: u64 = done.parse().unwrap_or_else(|_| panic!("bad count in {line:?}"));
        assert!(rest.starts_with(&format!("{total} (")), "wrong total in {line:?}");
        assert!(rest.contains("/s, ETA "), "no rate or ETA in {line:?}");
        // With a microsecond interval a step's line and its message's line can repeat a count.
        if out.last() != Some(&done) {
            out.push(done);
        }
    }
    out
}

#[test]
fn surface_and_hessian_runs_log_progress_lines_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = tiny_checkpoint(dir.path());

    let mut cmd = losscape();
    cmd.args(["surface", "--checkpoint"]).arg(&ckpt);
    cmd.args(["--x", "-1:1:5", "--y", "-1:1:5", "--per-class", "5", "--splits", "train", "--threads", "1"]);
    cmd.args(["--progress-every", "0.000001", "--out"]).arg(dir.path().join("s.surface"));
    let text = run_logged(cmd, &dir.path().join("surface.log"));
    let done = counts(&text, "grid points", 25);
    // A line after every point (the interval is a microsecond), counting up to the total.
    assert_eq!(done, (1..=25).collect::<Vec<_>>(), "{text}");
    assert!(text.contains("| (1.000, 1.000) train_loss "), "lines carry the latest point: {text}");
    assert!(text.lines().any(|l| l.starts_with("grid points: done 25/25 in ")), "{text}");
    assert!(!text.contains('\r') && !text.contains('\x1b'), "no terminal control characters in a log: {text:?}");

    // The environment variable works too, and 0 turns the lines off.
    let mut cmd = losscape();
    cmd.args(["hessian", "--checkpoint"]).arg(&ckpt);
    cmd.args(["--x", "-0.5:0.5:3", "--samples", "10", "--tol", "1e-2", "--max-iter", "6", "--threads", "1"]);
    cmd.env("LOSSCAPE_PROGRESS_EVERY", "0.000001").arg("--out").arg(dir.path().join("h.surface"));
    let text = run_logged(cmd, &dir.path().join("hessian.log"));
    assert_eq!(counts(&text, "grid points", 3), [1, 2, 3], "{text}");

    let mut cmd = losscape();
    cmd.args(["surface", "--checkpoint"]).arg(&ckpt);
    cmd.args(["--x", "-1:1:3", "--per-class", "2", "--splits", "train", "--threads", "1", "--progress-every", "0"]);
    cmd.env("LOSSCAPE_PROGRESS_EVERY", "0.000001").arg("--out").arg(dir.path().join("quiet.surface"));
    let text = run_logged(cmd, &dir.path().join("quiet.log"));
    assert!(!text.contains("grid points"), "the flag beats the variable, and 0 is silent: {text}");

    let out = losscape().args(["surface", "--progress-every", "soon"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("'soon' is not a number of seconds"));
}

#[test]
fn training_logs_progress_lines_per_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = losscape();
    cmd.args(["train", "--model", "resnet8", "--preset", "tiny", "--epochs", "2", "--lr-decay-epochs", "none"]);
    cmd.args(["--train-per-class", "10", "--batch-size", "20", "--threads", "1", "--seed", "1"]);
    cmd.args(["--progress-every", "0.000001", "--out"]).arg(dir.path().join("run"));
    let text = run_logged(cmd, &dir.path().join("train.log"));
    // 100 images in batches of 20: 5 steps per epoch.
    assert_eq!(counts(&text, "epoch 1/2", 5), [1, 2, 3, 4, 5], "{text}");
    assert_eq!(counts(&text, "epoch 2/2", 5), [1, 2, 3, 4, 5], "{text}");
    assert!(text.contains("| loss "), "lines carry the running loss: {text}");
}
