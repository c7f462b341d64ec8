//! The streaming PCA against dense linear algebra on planted paths: recovered components, variance
//! ratios, projections and the baselines' captured shares, plus the errors on unusable paths.

mod common;

use common::*;
use losscape_core::{Precision, Silent};
use losscape_directions::{DirectionSet, Ignore, Origin, Scope};
use losscape_models::checkpoint;
use losscape_trajectory::stream::{StreamLayout, Streamer};
use losscape_trajectory::{analyze, report, Options, Trajectory};
use tch::{Kind, Tensor};

fn trajectory(files: &[std::path::PathBuf], decay: &[u64]) -> Trajectory {
    Trajectory::from_checkpoints(files.iter().enumerate().map(|(i, f)| (i as u64, f.clone())).collect(), decay).unwrap()
}

/// Dense PCA of the centred rows by SVD: (ratios of all components, right singular vectors).
fn dense_pca(rows: &Tensor) -> (Vec<f64>, Tensor) {
    let centred = rows - rows.mean_dim([0i64].as_slice(), true, Kind::Double);
    let (_, s, v) = centred.svd(true, true);
    let s2 = &s * &s;
    let total = s2.sum(Kind::Double).double_value(&[]);
    let ratios = (0..s.size()[0]).map(|k| s2.double_value(&[k]) / total).collect();
    (ratios, v)
}

/// The share of the centred rows' variance in the span of the columns of `d` (`p x 2`).
fn dense_share(rows: &Tensor, d: &Tensor) -> f64 {
    let centred = rows - rows.mean_dim([0i64].as_slice(), true, Kind::Double);
    let (q, _) = Tensor::linalg_qr(d, "reduced");
    let inside = centred.mm(&q).square().sum(Kind::Double).double_value(&[]);
    inside / centred.square().sum(Kind::Double).double_value(&[])
}

#[test]
fn planted_plane_is_recovered_and_matches_a_dense_pca() {
    let dir = tempfile::tempdir().unwrap();
    let (scope, ignore) = (Scope::Weights, Ignore::BiasBn);
    let model = resnet8(Precision::F64);
    let (files, u, w) = planted_path(model.as_ref(), dir.path(), 12, 0.01, scope, ignore);
    let path = trajectory(&files, &[5, 8]);
    // A small chunk bound forces slices within tensors and many blocks.
    let options = Options { chunk_elements: 4096, ..Options::default() };
    let analysis = analyze(&path, model.as_ref(), &options, &Silent).unwrap();
    assert_eq!(analysis.stats.passes, 2);
    assert!(analysis.stats.peak_block_elements <= 4096, "{:?}", analysis.stats);

    // The planted directions, to |cosine| > 0.999.
    let pc1 = flatten_direction(&analysis.pca.directions.directions[0], model.as_ref(), scope, ignore);
    let pc2 = flatten_direction(&analysis.pca.directions.directions[1], model.as_ref(), scope, ignore);
    assert!(abs_cos(&pc1, &u) > 0.999 && abs_cos(&pc2, &w) > 0.999, "{} {}", abs_cos(&pc1, &u), abs_cos(&pc2, &w));
    assert!((pc1.norm().double_value(&[]) - 1.0).abs() < 1e-12 && pc1.dot(&pc2).double_value(&[]).abs() < 1e-9);

    // A dense PCA of the same rows (every entry, read back from the files), to 1e-6.
    let rows = dense_rows(&files, model.as_ref(), scope, ignore);
    assert_eq!(rows.size()[1] as usize, analysis.parameters);
    let (ratios, v) = dense_pca(&rows);
    assert_eq!(analysis.explained_variance_ratio.len(), files.len() - 1);
    for (k, (a, b)) in analysis.explained_variance_ratio.iter().zip(&ratios).enumerate() {
        assert!((a - b).abs() < 1e-6, "component {k}: streaming {a} vs dense {b}");
    }
    assert!(abs_cos(&pc1, &v.select(1, 0)) > 1.0 - 1e-6 && abs_cos(&pc2, &v.select(1, 1)) > 1.0 - 1e-6);
    // The projection x_i = <theta_i - theta_final, pc_k>, final model at the origin.
    let x = rows.mv(&pc1);
    let y = rows.mv(&pc2);
    for (i, c) in analysis.pca.coords.iter().enumerate() {
        assert!((c[0] - x.double_value(&[i as i64])).abs() < 1e-6 && (c[1] - y.double_value(&[i as i64])).abs() < 1e-6);
    }
    assert_eq!(*analysis.pca.coords.last().unwrap(), [0.0, 0.0]);
    // Sign convention: along each component the farthest point is on the positive side.
    for k in 0..2 {
        let far = analysis.pca.coords.iter().map(|c| c[k]).max_by(|a, b| a.abs().total_cmp(&b.abs())).unwrap();
        assert!(far > 0.0);
    }
    // The PCA plane captures exactly the first two ratios.
    assert!((analysis.pca.captured_share - analysis.first_two_share()).abs() < 1e-9);
    assert!(analysis.first_two_share() > 0.99);

    // The baselines' shares equal dense computations with the saved directions.
    let d = |set: &DirectionSet, k: usize| flatten_direction(&set.directions[k], model.as_ref(), scope, ignore);
    let random = Tensor::stack(&[d(&analysis.random.directions, 0), d(&analysis.random.directions, 1)], 1);
    let init = Tensor::stack(&[d(&analysis.init_random.directions, 0), d(&analysis.init_random.directions, 1)], 1);
    let dense_random = dense_share(&rows, &random);
    let dense_init = dense_share(&rows, &init);
    assert!((analysis.random.captured_share - dense_random).abs() < 1e-6 * dense_random.max(1e-3), "{dense_random}");
    assert!((analysis.init_random.captured_share - dense_init).abs() < 1e-6, "{dense_init}");
    assert!(analysis.random.captured_share < 1e-3, "{}", analysis.random.captured_share);
    // The init direction is theta_first - theta_final: the first checkpoint sits at (1, 0).
    assert!((analysis.init_random.directions.directions[0].dot(&analysis.init_random.directions.directions[0]).unwrap()
        - rows.get(0).square().sum(Kind::Double).double_value(&[])).abs() < 1e-9);
    let first = analysis.init_random.coords[0];
    assert!((first[0] - 1.0).abs() < 1e-9 && first[1].abs() < 1e-9, "{first:?}");
    // Random-plane coordinates are least squares in the plane's own directions.
    let ab = Tensor::from_slice(&analysis.random.coords[3]);
    let fitted = random.mv(&ab);
    let residual = rows.get(3) - &fitted;
    assert!(random.tr().mv(&residual).abs().max().double_value(&[]) < 1e-8 * rows.get(3).norm().double_value(&[]));

    // Chunking does not change the result.
    let whole = analyze(&path, model.as_ref(), &Options::default(), &Silent).unwrap();
    for (a, b) in whole.explained_variance_ratio.iter().zip(&analysis.explained_variance_ratio) {
        assert!((a - b).abs() < 1e-12);
    }
    assert!(whole.stats.blocks < analysis.stats.blocks);
}

#[test]
fn gram_pass_equals_the_dense_gram_in_both_scopes_and_ignore_rules() {
    let dir = tempfile::tempdir().unwrap();
    let model = resnet8(Precision::F32);
    // Every float tensor moves (the planted path in the widest setting).
    let (files, _, _) = planted_path(model.as_ref(), dir.path(), 5, 0.5, Scope::States, Ignore::None);
    let paths: Vec<&std::path::Path> = files.iter().map(|f| f.as_path()).collect();
    for scope in [Scope::Weights, Scope::States] {
        for ignore in [Ignore::BiasBn, Ignore::None] {
            let layout = StreamLayout::new(model.as_ref(), scope, ignore).unwrap();
            let mut streamer = Streamer::new(&paths, &layout, 777).unwrap();
            let (gram, dots) = streamer.gram(&[], &Silent).unwrap();
            assert_eq!(dots.size(), [5, 0]);
            let rows = dense_rows(&files, model.as_ref(), scope, ignore);
            assert_eq!(rows.size()[1] as usize, layout.active_elements());
            let dense = rows.mm(&rows.tr());
            let err = (&gram - &dense).abs().max().double_value(&[]);
            let scale = dense.abs().max().double_value(&[]);
            assert!(err <= 1e-12 * scale, "{scope} {ignore}: {err} vs {scale}");
        }
    }
    // The states scope holds more entries than weights, and ignoring bias+BN fewer.
    let count = |s, i| StreamLayout::new(model.as_ref(), s, i).unwrap().active_elements();
    assert!(count(Scope::States, Ignore::None) > count(Scope::Weights, Ignore::None));
    assert!(count(Scope::Weights, Ignore::None) > count(Scope::Weights, Ignore::BiasBn));
    assert_eq!(count(Scope::States, Ignore::BiasBn), count(Scope::Weights, Ignore::BiasBn));
}

#[test]
fn saved_files_describe_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let model = resnet8(Precision::F32);
    let (files, _, _) = planted_path(model.as_ref(), dir.path(), 6, 0.05, Scope::Weights, Ignore::BiasBn);
    let path = trajectory(&files, &[2]);
    let analysis = analyze(&path, model.as_ref(), &Options { seed: 7, ..Options::default() }, &Silent).unwrap();
    let out = dir.path().join("out");
    let (report, written) = report::save(&analysis, &out, 41).unwrap();

    let pca = DirectionSet::load(&written.directions[0]).unwrap();
    pca.check_fits(model.as_ref()).unwrap();
    assert_eq!(pca.directions[0].tensors[0].1.kind(), Kind::Float);
    match &pca.meta.origin {
        Origin::Pca { explained_variance_ratio } => {
            assert_eq!(explained_variance_ratio.as_slice(), &analysis.explained_variance_ratio[..2])
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(pca.meta.checkpoint_hash, losscape_core::hash::sha256_file(&files[5]).unwrap());
    // Biases and BN entries are present and zero under ignore = biasbn.
    let bn = pca.directions[0].tensors.iter().find(|(n, _)| n == "bn1.weight").unwrap();
    assert_eq!(bn.1.abs().sum(Kind::Double).double_value(&[]), 0.0);
    for file in &written.directions[1..] {
        DirectionSet::load(file).unwrap().check_fits(model.as_ref()).unwrap();
    }
    match DirectionSet::load(&written.directions[1]).unwrap().meta.origin {
        Origin::Random { specs } => assert_eq!((specs[0].seed, specs[1].seed), (7, 8)),
        other => panic!("{other:?}"),
    }

    let axis = |s: &str| -> (f64, f64) {
        let p: Vec<f64> = s.split(':').map(|x| x.parse().unwrap()).collect();
        (p[0], p[1])
    };
    let back = report::load_report(&written.report).unwrap();
    assert_eq!(back, report);
    assert_eq!(report.points.len(), 6);
    assert_eq!(report.points.iter().filter(|p| p.lr_decay).map(|p| p.epoch).collect::<Vec<_>>(), vec![2]);
    let names: Vec<&str> = report.planes.all().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["pca", "random", "init_random"]);
    assert_eq!(report.x_label, format!("1st PC: {:.2} %", 100.0 * analysis.explained_variance_ratio[0]));
    // Each plane's projection file holds the path in that plane, and its suggested axes cover it.
    for (k, plane) in report.planes.all().into_iter().enumerate() {
        assert_eq!(out.join(&plane.directions), written.directions[k]);
        assert_eq!(out.join(&plane.projection), written.projections[k]);
        let proj: report::Projection = serde_json::from_slice(&std::fs::read(&written.projections[k]).unwrap()).unwrap();
        assert_eq!((proj.plane.as_str(), proj.points.len()), (plane.name.as_str(), 6));
        let coords = &analysis.planes()[k].coords;
        assert!(proj.points.iter().zip(coords).all(|(p, c)| p.x == c[0] && p.y == c[1]));
        assert_eq!(proj.points.iter().filter(|p| p.lr_decay).map(|p| p.epoch).collect::<Vec<_>>(), vec![2]);
        let (x0, x1) = axis(&plane.suggested_x);
        let (y0, y1) = axis(&plane.suggested_y);
        assert!(proj.points.iter().all(|p| p.x > x0 && p.x < x1 && p.y > y0 && p.y < y1), "{}", plane.name);
    }
    assert_eq!((report.surface.x.as_str(), report.surface.y.as_str()), (report.planes.pca.suggested_x.as_str(), report.planes.pca.suggested_y.as_str()));
    assert!(report.surface.x.ends_with(":41") && report.surface.direction_file.ends_with(".safetensors"));
    assert!(report.surface.command.is_empty(), "the library writes no command line of its own");

    let csv = std::fs::read_to_string(&written.projection).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "epoch,lr_decay,pca_x,pca_y,random_a,random_b,init_a,init_b");
    assert_eq!(lines.len(), 7);
    let third: Vec<&str> = lines[3].split(',').collect();
    assert_eq!((third[0], third[1]), ("2", "1"));
    assert!((third[2].parse::<f64>().unwrap() - report.points[2].x).abs() <= 1e-12 * report.points[2].x.abs());
}

#[test]
fn unusable_paths_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let model = resnet8(Precision::F32);
    let meta = meta(model.as_ref());
    let save = |name: &str, m: &dyn losscape_models::Model| {
        let p = dir.path().join(name);
        checkpoint::save(m, &meta, &p).unwrap();
        p
    };
    // Too few checkpoints, and a repeated epoch.
    let a = save("a.safetensors", model.as_ref());
    let err = Trajectory::from_checkpoints(vec![(0, a.clone()), (1, a.clone())], &[]).unwrap_err().to_string();
    assert!(err.contains("at least 3 checkpoints"), "{err}");
    let err = Trajectory::from_checkpoints(vec![(0, a.clone()), (0, a.clone()), (1, a.clone())], &[]).unwrap_err();
    assert!(err.to_string().contains("epoch 0 is listed twice"));
    let missing = dir.path().join("nope.safetensors");
    let err = Trajectory::from_checkpoints(vec![(0, a.clone()), (1, a.clone()), (2, missing)], &[]).unwrap_err();
    assert!(err.to_string().contains("nope.safetensors"));

    // Identical checkpoints: no variation.
    let same = Trajectory::from_checkpoints(vec![(0, a.clone()), (1, a.clone()), (2, a.clone())], &[]).unwrap();
    let err = analyze(&same, model.as_ref(), &Options::default(), &Silent).unwrap_err().to_string();
    assert!(err.contains("do not vary"), "{err}");

    // Points on a line: no second component.
    let theta = flatten_model(model.as_ref(), Scope::Weights, Ignore::BiasBn);
    let step = &orthonormal(theta.size()[0], 1, 3)[0];
    let mut line = Vec::new();
    for i in 0..4 {
        set_flat(model.as_ref(), &(&theta + step * (i as f64)), Scope::Weights, Ignore::BiasBn);
        line.push((i as u64, save(&format!("line{i}.safetensors"), model.as_ref())));
    }
    let line = Trajectory::from_checkpoints(line, &[]).unwrap();
    let err = analyze(&line, model.as_ref(), &Options::default(), &Silent).unwrap_err().to_string();
    assert!(err.contains("fewer than two dimensions"), "{err}");

    // A checkpoint of another architecture in the middle is named: a deeper ResNet (extra
    // tensors), and the same ResNet for 5 classes (another shape).
    let deeper = dir.path().join("resnet14.safetensors");
    save_other("resnet14", 10, &deeper);
    let mixed = Trajectory::from_checkpoints(vec![(0, a.clone()), (1, deeper), (2, a.clone())], &[]).unwrap();
    let err = analyze(&mixed, model.as_ref(), &Options::default(), &Silent).unwrap_err().to_string();
    assert!(err.contains("resnet14.safetensors") && err.contains("layer1.1") && err.contains("does not have"), "{err}");
    let five = dir.path().join("five.safetensors");
    save_other("resnet8", 5, &five);
    let mixed = Trajectory::from_checkpoints(vec![(0, a.clone()), (1, five), (2, a.clone())], &[]).unwrap();
    let err = analyze(&mixed, model.as_ref(), &Options::default(), &Silent).unwrap_err().to_string();
    assert!(err.contains("five.safetensors") && err.contains("linear.weight") && err.contains("[5, 64]"), "{err}");
}

fn save_other(spec: &str, classes: i64, path: &std::path::Path) {
    let spec: losscape_models::ModelSpec = spec.parse().unwrap();
    let model = losscape_models::build(&losscape_models::BuildSpec { in_channels: 1, num_classes: classes, image_size: [8, 8], ..losscape_models::BuildSpec::new(spec) }, tch::Device::Cpu, 0).unwrap();
    let meta = losscape_models::CheckpointMeta::new(&spec, 1, classes, [8, 8], Precision::F32);
    checkpoint::save(model.as_ref(), &meta, path).unwrap();
}
