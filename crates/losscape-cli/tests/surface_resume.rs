//! A 2D surface run killed with SIGKILL halfway and rerun: the second run computes only the
//! missing points and the final arrays equal an uninterrupted run's exactly.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use losscape::core::Precision;
use losscape::data::Normalization;
use losscape::landscape::Surface;
use losscape::models::{checkpoint, CheckpointMeta, ModelSpec};

fn losscape() -> Command {
    Command::new(env!("CARGO_BIN_EXE_losscape"))
}

fn surface_cmd(checkpoint: &Path, out: &Path) -> Command {
    let mut cmd = losscape();
    cmd.args(["surface", "--checkpoint"])
        .arg(checkpoint)
        .args(["--x", "-1:1:7", "--y", "-1:1:7", "--per-class", "30", "--splits", "train"])
        .args(["--batch-size", "50", "--threads", "1", "--save-every", "0", "--seed", "3", "--out"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

fn run_ok(mut cmd: Command) {
    let out = cmd.output().expect("runs losscape");
    assert!(out.status.success(), "losscape failed: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn killed_surface_run_resumes_and_matches_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let spec: ModelSpec = "resnet8".parse().unwrap();
    let model = losscape::models::build(&losscape::models::BuildSpec { in_channels: 1, image_size: [28, 28], ..losscape::models::BuildSpec::new(spec) }, tch::Device::Cpu, 5).unwrap();
    let mut meta = CheckpointMeta::new(&spec, 1, 10, [28, 28], Precision::F32);
    meta.data = Some("fashion-mnist-mini".into());
    meta.normalization = Some(Normalization { mean: vec![0.286], std: vec![0.353] });
    let ckpt = dir.path().join("model.safetensors");
    checkpoint::save(model.as_ref(), &meta, &ckpt).unwrap();

    let reference = dir.path().join("reference.surface");
    run_ok(surface_cmd(&ckpt, &reference));
    let reference = Surface::load(&reference).unwrap();
    assert!(reference.is_complete());

    // Start the same job, kill it once some (but not all) points are saved.
    let path = dir.path().join("killed.surface");
    let mut child = surface_cmd(&ckpt, &path).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    let mut killed = false;
    while start.elapsed() < Duration::from_secs(120) {
        if let Ok(s) = Surface::load(&path) {
            if s.done_count() >= 10 {
                child.kill().unwrap(); // SIGKILL on Unix
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
    assert!(killed, "the run finished before it could be killed; make the job bigger");
    let partial = Surface::load(&path).unwrap();
    let done_before = partial.done_count();
    assert!(done_before >= 10 && done_before < partial.len(), "{done_before} of {}", partial.len());

    // Rerun the same command: only the missing points are computed.
    run_ok(surface_cmd(&ckpt, &path));
    let resumed = Surface::load(&path).unwrap();
    assert!(resumed.is_complete());
    let second_run = resumed.runs().last().unwrap().id;
    let by_second = resumed.computed_by().iter().filter(|&&r| r == second_run).count();
    assert_eq!(by_second, resumed.len() - done_before, "the rerun must compute exactly the missing points");
    for (i, was_done) in partial.done().iter().enumerate() {
        if *was_done {
            assert_eq!(resumed.computed_by()[i], partial.computed_by()[i], "point {i} was recomputed");
        }
    }
    for name in ["train_loss", "train_acc"] {
        let (a, b) = (resumed.array(name).unwrap(), reference.array(name).unwrap());
        assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()), "{name} differs from the uninterrupted run");
    }

    // A run with other inputs into the same file is refused with a clear message.
    let mut other = surface_cmd(&ckpt, &path);
    other.args(["--norm", "layer"]);
    let out = other.output().unwrap();
    assert!(!out.status.success());
    let msg = String::from_utf8_lossy(&out.stderr);
    assert_eq!(msg.trim().lines().count(), 1, "one-line error expected: {msg}");
    assert!(msg.contains("error:"), "{msg}");
}
