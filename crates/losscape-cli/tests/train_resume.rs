//! `losscape train` killed with SIGKILL in the middle of a run and rerun with the same command:
//! it resumes from the last saved epoch and ends with final weights (and momentum buffers) equal,
//! bit for bit, to an uninterrupted run's. Also: a finished run rerun is a no-op, and a changed
//! configuration in the same folder is refused.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use losscape::core::hash;
use losscape::models::checkpoint;
use losscape::train::{RunFolder, RunStatus};

/// ResNet-8, 4 epochs on 40 training and 10 test images per class, one thread.
fn train_cmd(out: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_losscape"));
    cmd.args(["train", "--model", "resnet8", "--preset", "tiny", "--epochs", "4", "--lr-decay-epochs", "2"])
        .args(["--train-per-class", "40", "--threads", "1", "--seed", "11", "--out"])
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn run_ok(mut cmd: Command) -> Output {
    let out = cmd.output().expect("runs losscape");
    assert!(out.status.success(), "losscape failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn tensors_hash(path: &Path) -> String {
    let tensors = checkpoint::read_tensors(path).unwrap();
    hash::hash_tensors(tensors.iter().map(|(n, t)| (n.as_str(), t))).unwrap()
}

#[test]
fn killed_training_resumes_and_matches_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference");
    run_ok(train_cmd(&reference));

    // Kill the same command once epoch 1 is saved (epoch 2 is then in progress).
    let killed = dir.path().join("killed");
    let folder = RunFolder::new(&killed);
    let mut child = train_cmd(&killed).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    let mut saved_at_kill = None;
    while start.elapsed() < Duration::from_secs(120) {
        if let Ok(record) = folder.read_record() {
            if record.completed_epochs >= 1 {
                child.kill().unwrap(); // SIGKILL on Unix
                saved_at_kill = Some(record.completed_epochs);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait().unwrap();
    let saved_at_kill = saved_at_kill.expect("the run saved epoch 1 within 120 s");
    let record = folder.read_record().unwrap();
    assert_eq!(record.status, RunStatus::Running, "killed before the end");
    assert!(record.completed_epochs < 4);

    let out = run_ok(train_cmd(&killed));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let resumed_from = folder.read_record().unwrap().sessions[1].from_epoch;
    assert!(resumed_from >= saved_at_kill, "resumed from {resumed_from}, saved {saved_at_kill} at the kill");
    assert!(stdout.contains(&format!("resumed from epoch {resumed_from}")), "{stdout}");

    let final_name = RunFolder::checkpoint_relative(4);
    assert_eq!(
        tensors_hash(&reference.join(&final_name)),
        tensors_hash(&killed.join(&final_name)),
        "final weights differ from the uninterrupted run"
    );
    let (a, b) = (RunFolder::new(&reference).state_path(), folder.state_path());
    assert_eq!(tensors_hash(&a), tensors_hash(&b), "momentum buffers differ");

    // Rerunning the finished run does nothing and says so.
    let again = run_ok(train_cmd(&killed));
    assert!(String::from_utf8_lossy(&again.stdout).contains("already finished"));

    // Another configuration in the same folder is refused, naming the difference.
    let mut other = train_cmd(&killed);
    other.args(["--weight-decay", "0"]);
    let out = other.output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("different configuration") && stderr.contains("weight_decay"), "{stderr}");
}
