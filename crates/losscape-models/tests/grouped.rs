//! Several grid points per forward pass (`inference::GroupedForward`): the stacked network's
//! logits for each point equal that point's own folded network's (1e-5 relative), for a ResNet
//! with projection shortcuts and for VGG-9, and a network folded with `fold_owned` keeps its
//! weights after the model moves on.

use losscape_models::inference::{FastForward, GroupedForward, Layout};
use losscape_models::{build, BuildSpec, Model, ModelSpec};
use tch::{Device, Kind, Tensor};

/// Moves every tensor of `m` (weights, biases, BN statistics) by a seeded relative amount that
/// keeps the running variances positive.
fn perturb(m: &dyn Model, seed: i64) {
    tch::manual_seed(seed);
    tch::no_grad(|| {
        for mut t in m.named_tensors().into_iter().map(|n| n.tensor) {
            if t.is_floating_point() {
                let noise = Tensor::rand(t.size(), (Kind::Float, Device::Cpu)).f_mul_scalar(0.4).unwrap().f_add_scalar(0.8).unwrap();
                let _ = t.f_mul_(&noise).unwrap();
            }
        }
    });
}

fn check(spec: &str, layout: Layout) {
    let spec: ModelSpec = spec.parse().unwrap();
    let m = build(&BuildSpec { image_size: [16, 16], ..BuildSpec::new(spec) }, Device::Cpu, 4).unwrap();
    let plan = FastForward::new(m.as_ref(), layout).unwrap();
    tch::manual_seed(1);
    let xs = Tensor::randn([5, 3, 16, 16], (Kind::Float, Device::Cpu));
    let mut parts = Vec::new();
    let mut expected = Vec::new();
    for p in 0..3 {
        perturb(m.as_ref(), 10 + p);
        let folded = plan.fold_owned().unwrap();
        expected.push(tch::no_grad(|| folded.forward(&xs)).unwrap());
        parts.push(folded);
    }
    // The first point's network still computes its own logits after the model moved twice.
    let again = tch::no_grad(|| parts[0].forward(&xs)).unwrap();
    assert!(again.equal(&expected[0]), "fold_owned shares a tensor with the model");
    let grouped = GroupedForward::stack(&parts).unwrap();
    assert_eq!(grouped.points(), 3);
    let out = tch::no_grad(|| grouped.forward(&xs)).unwrap();
    assert_eq!(out.size(), vec![3, 5, 10]);
    for (p, e) in expected.iter().enumerate() {
        let got = out.select(0, p as i64);
        let scale = e.abs().max().double_value(&[]);
        let diff = (&got - e).abs().max().double_value(&[]);
        assert!(diff <= 1e-5 * scale, "{spec} point {p}: {diff} vs scale {scale}");
    }
    // The points really differ (the test would pass trivially otherwise).
    let spread = (&expected[0] - &expected[2]).abs().max().double_value(&[]);
    let scale = expected[0].abs().max().double_value(&[]);
    assert!(spread > 1e-2 * scale, "{spread} vs scale {scale}");
}

#[test]
fn grouped_resnet_logits_equal_each_points_own() {
    check("resnet14", Layout::ChannelsLast);
    check("resnet8", Layout::Contiguous);
}

#[test]
fn grouped_vgg_logits_equal_each_points_own() {
    check("vgg9", Layout::ChannelsLast);
}

#[test]
fn stacking_nothing_or_different_graphs_is_an_error() {
    assert!(GroupedForward::stack(&[]).is_err());
    let r: ModelSpec = "resnet8".parse().unwrap();
    let v: ModelSpec = "vgg9".parse().unwrap();
    let a = build(&BuildSpec { image_size: [16, 16], ..BuildSpec::new(r) }, Device::Cpu, 1).unwrap();
    let b = build(&BuildSpec { image_size: [16, 16], ..BuildSpec::new(v) }, Device::Cpu, 1).unwrap();
    let fa = FastForward::new(a.as_ref(), Layout::Contiguous).unwrap().fold_owned().unwrap();
    let fb = FastForward::new(b.as_ref(), Layout::Contiguous).unwrap().fold_owned().unwrap();
    assert!(GroupedForward::stack(&[fa, fb]).is_err());
}

#[test]
fn the_largest_activation_follows_from_the_layer_shapes() {
    let plan = |spec: &str, size: [i64; 2]| {
        let spec: ModelSpec = spec.parse().unwrap();
        let m = build(&BuildSpec { image_size: size, ..BuildSpec::new(spec) }, Device::Cpu, 1).unwrap();
        FastForward::new(m.as_ref(), Layout::ChannelsLast).unwrap()
    };
    // ResNet-20: the stem and the first stage keep 16 channels at full resolution.
    let r = plan("resnet20", [32, 32]);
    assert_eq!(r.largest_activation([3, 32, 32]).unwrap(), 16 * 32 * 32);
    assert_eq!(r.largest_activation([3, 20, 12]).unwrap(), 16 * 20 * 12);
    // A Wide-ResNet's first stage has 16 x 4 channels at full resolution.
    let wide = plan("wrn8-4", [32, 32]);
    assert_eq!(wide.largest_activation([3, 32, 32]).unwrap(), 64 * 32 * 32);
    assert!(r.largest_activation([1, 32, 32]).is_err(), "wrong channel count");
    // VGG-9's first convolution (64 channels) at full resolution is its largest output.
    let v = plan("vgg9", [32, 32]);
    assert_eq!(v.largest_activation([3, 32, 32]).unwrap(), 64 * 32 * 32);
}
