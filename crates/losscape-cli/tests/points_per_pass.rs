//! `losscape surface --points-per-pass K`: several grid points per forward pass give the losses
//! of one point at a time (1e-5 relative) and the same accuracies, for K that divides the grid and
//! K that leaves a remainder; a model without an inference plan is refused in one line.

mod support;

use losscape::core::Precision;
use losscape::data::Normalization;
use losscape::landscape::Surface;
use losscape::models::{checkpoint, CheckpointMeta, ModelSpec};
use support::{losscape, run_ok, single_run, SingleRun};

#[test]
fn several_points_per_pass_equal_one_at_a_time() {
    let SingleRun { dir, args, single } = single_run();
    for k in [3usize, 4] {
        let path = dir.path().join(format!("k{k}.surface"));
        let report = run_ok(losscape().args(&args).args(["--points-per-pass", &k.to_string()]).arg("--out").arg(&path));
        assert!(report.contains("computed 30 point(s)"), "{report}");
        let grouped = Surface::load(&path).unwrap();
        assert_eq!(grouped.done_count(), 30);
        let mut largest = 0.0f64;
        for (a, b) in single.array("train_loss").unwrap().iter().zip(grouped.array("train_loss").unwrap()) {
            let rel = (a - b).abs() / a.abs();
            largest = largest.max(rel);
            assert!(rel <= 1e-5, "K={k}: loss {b} vs {a} one at a time");
        }
        assert_eq!(single.array("train_acc").unwrap(), grouped.array("train_acc").unwrap(), "K={k}");
        eprintln!("K={k}: largest relative loss difference {largest:.2e}");
    }
}

#[test]
fn points_per_pass_is_refused_where_it_cannot_work() {
    let SingleRun { dir, args, .. } = single_run();
    let out = losscape().args(&args).args(["--points-per-pass", "0", "--out"]).arg(dir.path().join("zero.surface")).output().unwrap();
    assert!(!out.status.success());
    // An f64 model has no inference plan.
    let ckpt = dir.path().join("f64.safetensors");
    let spec: ModelSpec = "resnet8".parse().unwrap();
    let model = losscape::models::build(&losscape::models::BuildSpec { in_channels: 1, image_size: [28, 28], precision: Precision::F64, ..losscape::models::BuildSpec::new(spec) }, tch::Device::Cpu, 5).unwrap();
    let mut meta = CheckpointMeta::new(&spec, 1, 10, [28, 28], Precision::F64);
    meta.data = Some("fashion-mnist-mini".into());
    meta.normalization = Some(Normalization { mean: vec![0.286], std: vec![0.353] });
    checkpoint::save(model.as_ref(), &meta, &ckpt).unwrap();
    let mut f64_args = args.clone();
    let at = f64_args.iter().position(|a| a == "--checkpoint").unwrap() + 1;
    f64_args[at] = ckpt.display().to_string();
    let path = dir.path().join("f64.surface");
    let out = losscape().args(&f64_args).args(["--points-per-pass", "2", "--out"]).arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("need an inference plan"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    // bf16's plan casts between its layers; the stacked one does not: refused, not a libtorch error.
    let path = dir.path().join("bf16.surface");
    let out = losscape().args(&args).args(["--precision", "bf16", "--points-per-pass", "2", "--out"]).arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("compute in the model's precision"), "{stderr}");
    assert!(!stderr.contains("torch error"), "{stderr}");
}
