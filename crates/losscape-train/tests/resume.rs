//! Resume and determinism: an interrupted and resumed run ends with the same weights, bit for
//! bit, as an uninterrupted one; the same seed gives the same weights; run folders refuse a
//! different configuration and leave a finished run alone.

use std::fs;
use std::path::Path;

use losscape_core::{hash, Silent};
use losscape_models::checkpoint;
use losscape_train::{train, EpochMetrics, Error, Outcome, Preset, RunFolder, RunOptions, RunStatus, TrainConfig};

/// ResNet-8 on 20 training and 10 test images per class, 3 epochs, augmentation on, LR decay
/// after epoch 2, a checkpoint every epoch: a few seconds per run.
fn tiny() -> TrainConfig {
    Preset::Tiny.config("resnet8".parse().unwrap())
}

fn run(config: &TrainConfig, dir: &Path, stop_after: Option<u64>) -> losscape_train::TrainSummary {
    let options = RunOptions { stop_after, ..RunOptions::default() };
    train(config, dir, &options, &Silent).unwrap()
}

/// Hash of every tensor of a safetensors file (names, shapes, kinds and values).
fn file_hash(path: &Path) -> String {
    let tensors = checkpoint::read_tensors(path).unwrap();
    hash::hash_tensors(tensors.iter().map(|(n, t)| (n.as_str(), t))).unwrap()
}

/// Metrics without the wall times, which differ between runs.
fn metrics_without_time(dir: &Path) -> Vec<EpochMetrics> {
    let mut m = RunFolder::new(dir).read_metrics().unwrap();
    m.iter_mut().for_each(|m| m.wall_seconds = 0.0);
    m
}

#[test]
fn interrupted_and_resumed_run_matches_uninterrupted_bit_for_bit() {
    let config = tiny();
    let root = tempfile::tempdir().unwrap();
    let (whole, parts) = (root.path().join("whole"), root.path().join("parts"));

    let uninterrupted = run(&config, &whole, None);
    assert_eq!(uninterrupted.outcome, Outcome::Finished);
    assert_eq!(uninterrupted.resumed_from, None);
    assert_eq!(uninterrupted.checkpoints.len(), 4);

    // Stop after epoch 1, then simulate a crash in epoch 2 after its metrics line was written
    // but before its state was: the stray line must be dropped on resume.
    let stopped = run(&config, &parts, Some(1));
    assert_eq!((stopped.outcome, stopped.completed_epochs), (Outcome::Stopped, 1));
    assert_eq!(stopped.final_checkpoint, None);
    let folder = RunFolder::new(&parts);
    assert_eq!(folder.read_record().unwrap().status, RunStatus::Running);
    let mut stray = folder.read_metrics().unwrap()[1].clone();
    stray.epoch = 2;
    stray.test_acc = -1.0;
    let mut text = fs::read_to_string(folder.metrics_path()).unwrap();
    text.push_str(&serde_json::to_string(&stray).unwrap());
    text.push('\n');
    fs::write(folder.metrics_path(), text).unwrap();

    let resumed = run(&config, &parts, None);
    assert_eq!((resumed.outcome, resumed.resumed_from), (Outcome::Finished, Some(1)));

    let final_whole = uninterrupted.final_checkpoint.as_ref().unwrap();
    let final_parts = resumed.final_checkpoint.as_ref().unwrap();
    assert_eq!(final_whole.file_name(), final_parts.file_name());
    assert_eq!(file_hash(final_whole), file_hash(final_parts), "final weights differ after resume");
    // The momentum buffers too, and every checkpoint along the way.
    assert_eq!(
        file_hash(&RunFolder::new(&whole).state_path()),
        file_hash(&folder.state_path()),
        "resume states (weights and momentum) differ"
    );
    for (a, b) in uninterrupted.checkpoints.iter().zip(&resumed.checkpoints) {
        assert_eq!(file_hash(a), file_hash(b), "{} differs", a.display());
    }
    assert_eq!(metrics_without_time(&whole), metrics_without_time(&parts));
    let record = folder.read_record().unwrap();
    assert_eq!(record.status, RunStatus::Finished);
    assert_eq!(record.sessions.iter().map(|s| s.from_epoch).collect::<Vec<_>>(), vec![0, 1]);
    assert_eq!(record.lr_decay_epochs, vec![2]);

    // A checkpoint reloads as a model with its metadata.
    let meta = checkpoint::read_meta(final_parts).unwrap();
    assert_eq!(meta.epoch, Some(3));
    assert_eq!(meta.lr, Some(0.05 * 0.1));
    assert_eq!(meta.data.as_deref(), Some("fashion-mnist-mini"));
    assert_eq!(meta.extra.get("lr_decay_epochs").map(String::as_str), Some("2"));
    assert!(meta.normalization.is_some() && meta.metrics.contains_key("test_acc"));
}

#[test]
fn same_seed_same_weights_other_seed_other_weights() {
    let config = TrainConfig { epochs: 2, lr_decay_epochs: vec![1], train_per_class: Some(10), ..tiny() };
    let root = tempfile::tempdir().unwrap();
    let a = run(&config, &root.path().join("a"), None);
    let b = run(&config, &root.path().join("b"), None);
    let hash_a = file_hash(a.final_checkpoint.as_ref().unwrap());
    assert_eq!(hash_a, file_hash(b.final_checkpoint.as_ref().unwrap()));
    let other = TrainConfig { seed: 1, ..config };
    let c = run(&other, &root.path().join("c"), None);
    assert_ne!(hash_a, file_hash(c.final_checkpoint.as_ref().unwrap()));
    // The initializations differ too (the seed drives the initialization).
    assert_ne!(file_hash(&a.checkpoints[0]), file_hash(&c.checkpoints[0]));
}

#[test]
fn run_folder_refuses_another_config_and_leaves_finished_runs_alone() {
    let config = TrainConfig { epochs: 1, lr_decay_epochs: vec![], train_per_class: Some(5), ..tiny() };
    let dir = tempfile::tempdir().unwrap();
    let done = run(&config, dir.path(), None);
    assert_eq!(done.outcome, Outcome::Finished);
    let folder = RunFolder::new(dir.path());
    let before = fs::read(folder.record_path()).unwrap();
    let state_before = fs::metadata(folder.state_path()).unwrap().modified().unwrap();

    let again = run(&config, dir.path(), None);
    assert_eq!(again.outcome, Outcome::AlreadyFinished);
    assert_eq!(again.last, done.last);
    assert_eq!(fs::read(folder.record_path()).unwrap(), before);
    assert_eq!(fs::metadata(folder.state_path()).unwrap().modified().unwrap(), state_before);

    let changed = TrainConfig { weight_decay: 0.0, ..config.clone() };
    let err = train(&changed, dir.path(), &RunOptions::default(), &Silent).unwrap_err();
    assert!(matches!(err, Error::ConfigMismatch { .. }), "{err}");
    assert!(err.to_string().contains("weight_decay: 0.0005 -> 0.0"), "{err}");

    let fresh = RunOptions { fresh: true, ..RunOptions::default() };
    let redone = train(&changed, dir.path(), &fresh, &Silent).unwrap();
    assert_eq!((redone.outcome, redone.resumed_from), (Outcome::Finished, None));
    assert_eq!(folder.read_config().unwrap().config, changed);

    // Run files without a config are refused rather than overwritten.
    fs::remove_file(folder.config_path()).unwrap();
    let err = train(&config, dir.path(), &RunOptions::default(), &Silent).unwrap_err();
    assert!(err.to_string().contains("no config.json"), "{err}");
}

#[test]
fn damaged_resume_state_is_a_clear_error() {
    let config = TrainConfig { epochs: 2, lr_decay_epochs: vec![1], train_per_class: Some(5), ..tiny() };
    let dir = tempfile::tempdir().unwrap();
    run(&config, dir.path(), Some(0));
    let folder = RunFolder::new(dir.path());
    fs::write(folder.state_path(), b"not a safetensors file").unwrap();
    let err = train(&config, dir.path(), &RunOptions::default(), &Silent).unwrap_err();
    assert!(err.to_string().contains("state.safetensors"), "{err}");
}
