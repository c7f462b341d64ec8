//! bf16 evaluation: the fast path in bf16 stays within a stated tolerance of f32 on trained-like
//! networks (and differs from it, so bf16 did run); a bf16 surface records its precision and its
//! check against f32, whose value equals an independent f32 surface's deviation at the same
//! points; resuming it in f32 is refused; models refuse bf16 (curvature: its own unit test).

mod common;

use common::nets::{data, rel, trained_like};
use losscape_core::{Precision, Silent};
use losscape_directions::RandomSpec;
use losscape_landscape::evaluate::{Evaluator, LossKind};
use losscape_landscape::job::{BnExtrapolation, DirectionSource, GridRequest, SplitChoice, SurfaceRequest};
use losscape_landscape::precision::{check_points, PrecisionCheck, CHECK_POINTS_KEY, LOSS_DEVIATION_KEY};
use losscape_landscape::{FastForward, Grid, Layout, Surface};
use losscape_models::{checkpoint, CheckpointMeta, ModelSource, ModelSpec};
use tch::{Device, Kind};

/// The stated tolerance of a bf16 mean loss against f32 on a few hundred examples, for losses
/// of order 1 (trained-like nets here, loss above 0.5): 8 significant bits give a rounding error
/// up to 2^-9 per weight and activation; over a ResNet-20's 19 layers it stays under 1% relative.
/// Near a well-fit minimum (loss 0.01) the relative deviation is larger (crate README).
const BF16_LOSS_TOLERANCE: f64 = 1e-2;

#[test]
fn bf16_losses_stay_within_the_tolerance_of_f32_and_the_logits_within_bf16_rounding() {
    tch::set_num_threads(1);
    for spec in ["resnet20", "vgg9"] {
        let model = trained_like(spec, 16, Kind::Float);
        let images = data(256, 16, Kind::Float);
        let eval = Evaluator { batch_size: 64, loss: LossKind::CrossEntropy };
        let f32_plan = FastForward::new(model.as_ref(), Layout::ChannelsLast).unwrap();
        let bf16_plan = FastForward::new(model.as_ref(), Layout::ChannelsLast).unwrap().with_kind(Kind::BFloat16);
        assert_eq!(bf16_plan.kind(), Some(Kind::BFloat16));
        let high = eval.evaluate_planned(model.as_ref(), Some(&f32_plan), Layout::Contiguous, &images).unwrap();
        let low = eval.evaluate_planned(model.as_ref(), Some(&bf16_plan), Layout::Contiguous, &images).unwrap();
        assert!(high.loss > 0.5, "{spec}: a loss this small would hide differences: {}", high.loss);
        let dev = rel(low.loss, high.loss);
        assert!(dev <= BF16_LOSS_TOLERANCE, "{spec}: bf16 loss {} vs f32 {} (relative {dev:.2e})", low.loss, high.loss);
        assert!(dev > 0.0, "{spec}: bf16 gave f32's loss exactly: did it run in bf16?");
        assert!((low.accuracy - high.accuracy).abs() <= 5.0, "{spec}: accuracy {} vs {}", low.accuracy, high.accuracy);

        // The logits come back in f32, each within a few bf16 roundings of the f32 network's.
        let xs = images.images.narrow(0, 0, 32);
        let (a, b) = tch::no_grad(|| (f32_plan.fold().unwrap().forward(&xs).unwrap(), bf16_plan.fold().unwrap().forward(&xs).unwrap()));
        assert_eq!(b.kind(), Kind::Float);
        let err = (&b - &a).abs().max().double_value(&[]);
        let scale = a.abs().max().double_value(&[]);
        assert!(err > 0.0 && err <= 0.05 * scale, "{spec}: logits differ by {err} (scale {scale})");
    }
}

fn save_model(path: &std::path::Path) {
    let spec: ModelSpec = "resnet8".parse().unwrap();
    let model = losscape_models::build(&losscape_models::BuildSpec { in_channels: 1, image_size: [28, 28], ..losscape_models::BuildSpec::new(spec) }, Device::Cpu, 3).unwrap();
    let meta = CheckpointMeta::with_spec("resnet8".into(), 1, 10, [28, 28], Precision::F32);
    checkpoint::save(model.as_ref(), &meta, path).unwrap();
}

fn request(ckpt: &std::path::Path, precision: Option<Precision>) -> SurfaceRequest {
    SurfaceRequest {
        job: GridRequest::new(ModelSource::new(ckpt), DirectionSource::Random(RandomSpec { seed: 5, ..RandomSpec::default() })),
        grid: Grid::new("-1:1:3".parse().unwrap(), Some("-1:1:3".parse().unwrap())).unwrap(),
        splits: SplitChoice::Both,
        per_class: Some(3),
        loss: LossKind::CrossEntropy,
        batch_size: Some(8),
        bn_extrapolation: BnExtrapolation::Undefined,
        precision,
        sampling: None,
    }
}

#[test]
fn a_bf16_surface_records_its_check_which_matches_an_f32_surface_and_refuses_an_f32_resume() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("a.safetensors");
    save_model(&ckpt);

    let low_path = dir.path().join("bf16.surface");
    let mut prepared = request(&ckpt, Some(Precision::Bf16)).prepare().unwrap();
    assert_eq!(prepared.header.dtype, Precision::Bf16);
    assert_eq!(prepared.model.kind(), Kind::Float, "bf16 evaluates an f32 model");
    let check = prepared.check_precision(&low_path).unwrap().expect("a bf16 surface is checked");
    assert_eq!(check.points, vec![0, 2, 4, 6, 8]);
    assert_eq!(prepared.run(&low_path, &Silent).unwrap().computed, 9);
    let low = Surface::load(&low_path).unwrap();
    assert_eq!(low.header().dtype, Precision::Bf16);
    let recorded = PrecisionCheck::from_header(low.header()).expect("the file records the check");
    assert_eq!(low.header().extra[CHECK_POINTS_KEY], "0,2,4,6,8");

    // An independent f32 surface over the same inputs gives the same deviation at those points.
    let high_path = dir.path().join("f32.surface");
    request(&ckpt, None).prepare().unwrap().run(&high_path, &Silent).unwrap();
    let high = Surface::load(&high_path).unwrap();
    assert_eq!(high.header().dtype, Precision::F32);
    assert!(!high.header().extra.contains_key(LOSS_DEVIATION_KEY), "f32 surfaces are not checked");
    let mut dev = 0.0f64;
    for name in ["train_loss", "test_loss"] {
        for &i in &check_points(low.grid()) {
            dev = dev.max(rel(low.array(name).unwrap()[i], high.array(name).unwrap()[i]));
        }
    }
    assert!(dev > 0.0 && dev <= BF16_LOSS_TOLERANCE * 10.0, "{dev}");
    assert!(rel(recorded.max_rel_loss_deviation, dev) < 1e-3, "recorded {} vs independent {dev}", recorded.max_rel_loss_deviation);

    // Resuming the bf16 file in f32 is refused in one line, before anything is computed.
    let err = request(&ckpt, None).prepare().unwrap().run(&low_path, &Silent).unwrap_err().to_string();
    assert!(err.contains("computed in bf16, and this run computes in f32") && !err.contains('\n'), "{err}");
    let err = request(&ckpt, Some(Precision::Bf16)).prepare().unwrap().check_precision(&high_path).unwrap_err().to_string();
    assert!(err.contains("computed in f32, and this run computes in bf16"), "{err}");
    // The same precision resumes, keeping the file's check.
    assert_eq!(request(&ckpt, Some(Precision::Bf16)).prepare().unwrap().run(&low_path, &Silent).unwrap().computed, 0);
}

#[test]
fn models_refuse_bf16() {
    let spec: ModelSpec = "resnet8".parse().unwrap();
    let err = losscape_models::build(&losscape_models::BuildSpec { in_channels: 1, image_size: [8, 8], precision: Precision::Bf16, ..losscape_models::BuildSpec::new(spec) }, Device::Cpu, 1).err().unwrap().to_string();
    assert!(err.contains("f32 or f64"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("a.safetensors");
    save_model(&ckpt);
    let err = ModelSource::new(&ckpt).load(Device::Cpu, Some(Precision::Bf16)).err().unwrap().to_string();
    assert!(err.contains("evaluation precision"), "{err}");
}
