//! ResNet-20 learns the embedded Fashion-MNIST subset: a short training run, then the saved final
//! checkpoint reloaded into a fresh model (architecture and normalization from its metadata alone)
//! reaches at least 75% test accuracy on the full 1,000-image test split.

use losscape_core::Silent;
use losscape_models::checkpoint;
use losscape_train::{evaluate, train, Outcome, Preset, RunOptions, TrainConfig};
use tch::Device;

#[test]
fn resnet20_reloaded_checkpoint_reaches_75_percent() {
    // One libtorch thread: on a 2-core machine shared with other work, two spinning OpenMP
    // threads ran this test in 71 s, one thread in 19 s (the result is deterministic for a given
    // thread count).
    tch::set_num_threads(1);
    // All 5,000 training images, 2 epochs at batch 32 (lr 0.05, then 0.005), no augmentation:
    // measured 82.4% test accuracy in about 19 s.
    let config = TrainConfig {
        epochs: 2,
        batch_size: 32,
        lr: 0.05,
        lr_decay_epochs: vec![1],
        crop_padding: 0,
        horizontal_flip: false,
        save_every: 2,
        save_epochs: vec![],
        ..Preset::Cpu.config("resnet20".parse().unwrap())
    };
    let dir = tempfile::tempdir().unwrap();
    let summary = train(&config, dir.path(), &RunOptions::default(), &Silent).unwrap();
    assert_eq!(summary.outcome, Outcome::Finished);
    let path = summary.final_checkpoint.unwrap();

    let (model, meta) = checkpoint::load(&path, Device::Cpu).unwrap();
    assert_eq!(model.spec(), "resnet20");
    let splits = losscape_data::fashion_mnist_mini().unwrap();
    let test = splits.test.normalized(meta.normalization.as_ref().unwrap()).unwrap();
    assert_eq!(test.len(), 1000);
    let eval = evaluate(&*model, &test, 500).unwrap();
    assert!(eval.accuracy >= 75.0, "test accuracy {:.2}% from the reloaded checkpoint", eval.accuracy);
    // The reload sees what training measured.
    assert!((eval.accuracy - summary.last.test_acc).abs() < 1e-9);
    assert!((eval.loss - summary.last.test_loss).abs() < 1e-4);
}
