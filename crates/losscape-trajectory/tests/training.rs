//! A real (short) training run: its path lies mostly in the plane of its first two principal
//! components, which hold far more of its variation than a random plane.

use losscape_core::Silent;
use losscape_directions::DirectionSet;
use losscape_train::{train, Outcome, Preset, RunOptions};
use losscape_trajectory::{analyze_run, report, Options, Trajectory};

#[test]
fn a_short_training_run_is_nearly_two_dimensional_and_random_planes_miss_it() {
    // ResNet-8, 5 epochs on 10 training images per class, checkpoints every epoch, lr x0.1 after
    // epoch 3: a few seconds.
    let mut config = Preset::Tiny.config("resnet8".parse().unwrap());
    config.epochs = 5;
    config.lr_decay_epochs = vec![3];
    config.train_per_class = Some(10);
    config.test_per_class = Some(5);
    config.save_every = 1;
    let dir = tempfile::tempdir().unwrap();
    let summary = train(&config, dir.path(), &RunOptions::default(), &Silent).unwrap();
    assert_eq!(summary.outcome, Outcome::Finished);

    let path = Trajectory::from_run(dir.path()).unwrap();
    assert_eq!(path.points().iter().map(|p| p.epoch).collect::<Vec<_>>(), (0..=5).collect::<Vec<u64>>());
    assert_eq!(path.points().iter().filter(|p| p.lr_decay).map(|p| p.epoch).collect::<Vec<_>>(), vec![3]);
    assert!(path.finished());

    let analysis = analyze_run(dir.path(), &Options::default(), &Silent).unwrap();
    let pca = analysis.first_two_share();
    let random = analysis.random.captured_share;
    let init = analysis.init_random.captured_share;
    assert!(pca > 10.0 * random, "first two components {pca} vs random plane {random}");
    assert!(pca > 0.5 && pca <= 1.0 + 1e-9, "{pca}");
    // The init -> final direction alone holds a good part of the motion, but less than PCA.
    assert!(init < pca + 1e-9, "init plane {init} vs PCA {pca}");
    let ratios = &analysis.explained_variance_ratio;
    assert!(ratios.windows(2).all(|w| w[0] >= w[1]) && (ratios.iter().sum::<f64>() - 1.0).abs() < 1e-9);

    // The PCA directions fit the final model, as `losscape surface --direction-file` needs.
    let out = dir.path().join("trajectory");
    let (report, written) = report::save(&analysis, &out, 21).unwrap();
    let (model, _) = path.load_final_model(tch::Device::Cpu).unwrap();
    DirectionSet::load(&written.directions[0]).unwrap().check_fits(model.as_ref()).unwrap();
    assert_eq!(report.points.len(), 6);
    assert_eq!(report.run.as_deref(), Some(dir.path().to_str().unwrap()));
}
