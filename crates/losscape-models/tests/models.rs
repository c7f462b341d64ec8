//! Architecture tests: exact parameter counts of the paper's networks, tensor roles and names,
//! forward shapes and kinds, seeding, batch-norm statistics and shared storage.

use losscape_core::Precision;
use losscape_models::{build, BuildSpec, Model, ModelSpec, Role};
use tch::{Device, Kind, Tensor};

fn model(spec: &str, channels: i64, size: i64, precision: Precision, seed: u64) -> Box<dyn Model> {
    let spec: ModelSpec = spec.parse().unwrap();
    build(&BuildSpec { in_channels: channels, image_size: [size, size], precision, ..BuildSpec::new(spec) }, Device::Cpu, seed).unwrap()
}

fn count(spec: &str, channels: i64) -> i64 {
    model(spec, channels, 32, Precision::F32, 0).num_parameters()
}

#[test]
fn parameter_counts_match_the_paper_networks() {
    let expected = [
        ("resnet20", 272_474),
        ("resnet56", 855_770),
        ("resnet110", 1_730_714),
        ("resnet20-noshort", 269_722),
        ("resnet56-noshort", 853_018),
        ("resnet110-noshort", 1_727_962),
    ];
    for (spec, params) in expected {
        assert_eq!(count(spec, 3), params, "{spec}, 3 input channels");
    }
    // One input channel: the first convolution loses 16 * 2 * 3 * 3 = 288 weights.
    for (spec, params) in [("resnet20", 272_474), ("resnet56-noshort", 853_018)] {
        assert_eq!(count(spec, 1), params - 288, "{spec}, 1 input channel");
    }
}

#[test]
fn wide_resnet_and_vgg_counts_follow_from_their_layers() {
    // WRN-20-2: conv1 3*32*9 + BN, stages of 32/64/128 channels, two projections, Linear 128*10+10.
    let conv = |cin: i64, cout: i64, k: i64| cin * cout * k * k;
    let stage = |cin: i64, cout: i64, n: i64, proj: bool| {
        let first =
            conv(cin, cout, 3) + conv(cout, cout, 3) + 4 * cout + if proj { conv(cin, cout, 1) + 2 * cout } else { 0 };
        first + (n - 1) * (2 * conv(cout, cout, 3) + 4 * cout)
    };
    let wrn20_2 = conv(3, 32, 3)
        + 64
        + stage(32, 32, 3, false)
        + stage(32, 64, 3, true)
        + stage(64, 128, 3, true)
        + 128 * 10
        + 10;
    assert_eq!(count("wrn20-2", 3), wrn20_2);
    // VGG-9 (convs with bias), 32x32 -> 4x4 feature maps.
    let features = [
        (3, 64),
        (64, 64),
        (64, 128),
        (128, 128),
        (128, 256),
        (256, 256),
        (256, 256),
    ]
    .iter()
    .map(|&(i, o)| conv(i, o, 3) + o + 2 * o)
    .sum::<i64>();
    let vgg = features + (256 * 16 * 256 + 256) + 2 * 256 + (256 * 10 + 10);
    assert_eq!(count("vgg9", 3), vgg);
    // 28x28 single-channel images also end at 4x4 (ceil-mode pooling).
    assert_eq!(
        model("vgg9", 1, 28, Precision::F32, 0).num_parameters(),
        vgg - 64 * 2 * 9
    );
}

#[test]
fn roles_shapes_and_names_are_consistent() {
    for spec in ["resnet20", "resnet20-noshort", "wrn14-2", "vgg9"] {
        let m = model(spec, 3, 32, Precision::F32, 1);
        let tensors = m.named_tensors();
        let mut names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), tensors.len(), "{spec}: names must be unique");
        for t in &tensors {
            let dim = t.tensor.dim();
            let expected_dim = match t.role {
                Role::ConvWeight => 4,
                Role::LinearWeight => 2,
                Role::Bias | Role::BnWeight | Role::BnBias | Role::BnRunningMean | Role::BnRunningVar => 1,
                Role::BnNumBatchesTracked => 0,
                other => panic!("{spec}: unexpected role {other:?} for {}", t.name),
            };
            assert_eq!(dim, expected_dim, "{spec}: {} ({:?})", t.name, t.role);
            assert_eq!(t.tensor.requires_grad(), t.role.is_parameter(), "{spec}: {}", t.name);
            let kind = if t.role == Role::BnNumBatchesTracked {
                Kind::Int64
            } else {
                Kind::Float
            };
            assert_eq!(t.tensor.kind(), kind, "{spec}: {}", t.name);
            let suffix = match t.role {
                Role::ConvWeight | Role::LinearWeight | Role::BnWeight => ".weight",
                Role::Bias | Role::BnBias => ".bias",
                Role::BnRunningMean => ".running_mean",
                Role::BnRunningVar => ".running_var",
                _ => ".num_batches_tracked",
            };
            assert!(t.name.ends_with(suffix), "{spec}: {} as {:?}", t.name, t.role);
        }
        assert_eq!(
            m.parameters().len(),
            tensors.iter().filter(|t| t.role.is_parameter()).count()
        );
    }
}

#[test]
fn resnet_names_follow_the_original_state_dict() {
    let names: Vec<String> = model("resnet20", 3, 32, Precision::F32, 0)
        .named_tensors()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(
        names[..8],
        [
            "conv1.weight",
            "bn1.weight",
            "bn1.bias",
            "bn1.running_mean",
            "bn1.running_var",
            "bn1.num_batches_tracked",
            "layer1.0.conv1.weight",
            "layer1.0.bn1.weight"
        ]
    );
    assert!(names.contains(&"layer2.0.shortcut.0.weight".to_string()));
    assert!(names.contains(&"layer3.0.shortcut.1.running_var".to_string()));
    assert!(
        !names.iter().any(|n| n.starts_with("layer1.") && n.contains("shortcut")),
        "stage 1 keeps identity shortcuts"
    );
    assert_eq!(names[names.len() - 2..], ["linear.weight", "linear.bias"]);
    let noshort: Vec<String> = model("resnet20-noshort", 3, 32, Precision::F32, 0)
        .named_tensors()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert!(!noshort.iter().any(|n| n.contains("shortcut")));
    let vgg: Vec<String> = model("vgg9", 3, 32, Precision::F32, 0)
        .named_tensors()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(vgg[..3], ["features.0.weight", "features.0.bias", "features.1.weight"]);
    assert!(vgg.contains(&"features.20.weight".to_string()) && vgg.contains(&"features.21.running_mean".to_string()));
    assert_eq!(
        vgg[vgg.len() - 9..vgg.len() - 2].first().map(String::as_str),
        Some("fc.0.weight")
    );
    assert_eq!(vgg[vgg.len() - 2..], ["classifier.weight", "classifier.bias"]);
}

#[test]
fn forward_gives_one_row_of_logits_per_image() {
    for spec in ["resnet8", "resnet8-noshort", "wrn8-2", "wrn8-2-noshort", "vgg9"] {
        for (channels, size) in [(1, 28), (3, 32)] {
            let m = model(spec, channels, size, Precision::F32, 2);
            let xs = Tensor::randn([3, channels, size, size], (Kind::Float, Device::Cpu));
            for train in [true, false] {
                let ys = m.f_forward_t(&xs, train).unwrap();
                assert_eq!(ys.size(), [3, 10], "{spec} {channels}x{size}x{size} train={train}");
                assert_eq!(ys.kind(), Kind::Float);
            }
        }
    }
}

#[test]
fn f64_models_compute_in_double() {
    let m = model("resnet8", 1, 28, Precision::F64, 3);
    assert_eq!(m.kind(), Kind::Double);
    let ys = m.forward_t(&Tensor::randn([2, 1, 28, 28], (Kind::Double, Device::Cpu)), false);
    assert_eq!(ys.kind(), Kind::Double);
    // The f32 model of the same seed holds the same weights rounded to f32.
    let single = model("resnet8", 1, 28, Precision::F32, 3);
    for (a, b) in m.named_tensors().iter().zip(single.named_tensors()) {
        if b.tensor.is_floating_point() {
            assert!(a.tensor.to_kind(Kind::Float).equal(&b.tensor), "{}", a.name);
        }
    }
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let m = model("resnet8", 3, 32, Precision::F32, 0);
    let err = m
        .f_forward_t(&Tensor::zeros([2, 1, 32, 32], (Kind::Float, Device::Cpu)), false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("3 input channel"), "{err}");
    let err = m
        .f_forward_t(&Tensor::zeros([2, 3, 32, 32], (Kind::Double, Device::Cpu)), false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("Double"), "{err}");
    assert!(m
        .f_forward_t(&Tensor::zeros([3, 32, 32], (Kind::Float, Device::Cpu)), false)
        .is_err());
    let vgg = model("vgg9", 1, 28, Precision::F32, 0);
    let err = vgg
        .f_forward_t(&Tensor::zeros([2, 1, 32, 32], (Kind::Float, Device::Cpu)), false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("28x28"), "{err}");
    let spec: ModelSpec = "resnet20".parse().unwrap();
    assert!(build(&BuildSpec { in_channels: 0, ..BuildSpec::new(spec) }, Device::Cpu, 0).is_err());
    assert!(build(&BuildSpec { num_classes: 0, ..BuildSpec::new(spec) }, Device::Cpu, 0).is_err());
    let vgg9 = ModelSpec::vgg9();
    assert!(build(&BuildSpec { image_size: [4, 4], ..BuildSpec::new(vgg9) }, Device::Cpu, 0)
        .unwrap_err()
        .to_string()
        .contains("5x5"));
}

fn weights(m: &dyn Model) -> Vec<Tensor> {
    m.named_tensors()
        .into_iter()
        .map(|t| t.tensor.detach().copy())
        .collect()
}

#[test]
fn same_seed_same_weights_and_different_seed_different_weights() {
    let a = weights(model("resnet20", 3, 32, Precision::F32, 42).as_ref());
    let b = weights(model("resnet20", 3, 32, Precision::F32, 42).as_ref());
    let c = weights(model("resnet20", 3, 32, Precision::F32, 43).as_ref());
    assert!(a.iter().zip(&b).all(|(x, y)| x.equal(y)));
    let conv = model("resnet20", 3, 32, Precision::F32, 42).named_tensors();
    let differing = a
        .iter()
        .zip(&c)
        .zip(&conv)
        .filter(|((x, y), t)| t.role.is_weight_bank() && !x.equal(y))
        .count();
    assert_eq!(
        differing,
        conv.iter().filter(|t| t.role.is_weight_bank()).count(),
        "every weight bank must change with the seed"
    );
}

#[test]
fn initialization_follows_the_original() {
    let m = model("resnet20", 3, 32, Precision::F64, 5);
    for t in m.named_tensors() {
        let v = &t.tensor;
        match t.role {
            Role::ConvWeight => {
                let size = v.size();
                let fan_in = (size[1] * size[2] * size[3]) as f64;
                let std = v.std(true).double_value(&[]);
                let expected = (2.0 / fan_in).sqrt();
                // Relative tolerance from the sample size (at least 432 values).
                let tolerance = 4.0 * expected / (2.0 * v.numel() as f64).sqrt();
                assert!(
                    (std - expected).abs() < tolerance,
                    "{}: std {std} vs {expected}",
                    t.name
                );
            }
            Role::LinearWeight => {
                let std = v.std(true).double_value(&[]);
                assert!((std - 1e-3).abs() < 2e-4, "{}: std {std}", t.name);
            }
            Role::BnWeight | Role::BnRunningVar => assert!(v.eq(1.0).all().int64_value(&[]) == 1, "{}", t.name),
            Role::Bias | Role::BnBias | Role::BnRunningMean | Role::BnNumBatchesTracked => {
                assert!(v.eq(0.0).all().int64_value(&[]) == 1, "{}", t.name)
            }
            _ => unreachable!(),
        }
    }
}

#[test]
fn train_forward_updates_running_statistics_and_eval_does_not() {
    let m = model("resnet8", 1, 16, Precision::F32, 7);
    let xs = Tensor::randn([4, 1, 16, 16], (Kind::Float, Device::Cpu)) * 3.0 + 1.0;
    let stats = |m: &dyn Model| -> Vec<Tensor> {
        m.named_tensors()
            .into_iter()
            .filter(|t| !t.role.is_parameter())
            .map(|t| t.tensor.copy())
            .collect()
    };
    let before = stats(m.as_ref());
    let _ = tch::no_grad(|| m.forward_t(&xs, false));
    let after_eval = stats(m.as_ref());
    assert!(
        before.iter().zip(&after_eval).all(|(a, b)| a.equal(b)),
        "eval mode must not touch buffers"
    );
    let _ = m.forward_t(&xs, true);
    let _ = m.forward_t(&xs, true);
    let tensors = m.named_tensors();
    for (t, old) in tensors.iter().filter(|t| !t.role.is_parameter()).zip(&before) {
        match t.role {
            Role::BnNumBatchesTracked => assert_eq!(t.tensor.int64_value(&[]), 2, "{}", t.name),
            _ => assert!(!t.tensor.equal(old), "{} must change in train mode", t.name),
        }
    }
    // The first BN's running mean moved towards the batch mean of conv1's output (momentum 0.1).
    let conv1 = &tensors[0].tensor;
    let batch_mean = tch::no_grad(|| {
        xs.conv2d(conv1, None::<Tensor>, [1, 1], [1, 1], [1, 1], 1)
            .mean_dim([0i64, 2, 3].as_slice(), false, None)
    });
    let expected = &batch_mean * 0.1 + &batch_mean * (0.9 * 0.1);
    let running_mean = tensors.iter().find(|t| t.name == "bn1.running_mean").unwrap();
    assert!(running_mean.tensor.allclose(&expected, 1e-5, 1e-5, false));
}

#[test]
fn writing_a_named_tensor_changes_the_model() {
    let m = model("resnet8", 1, 16, Precision::F32, 9);
    let xs = Tensor::randn([2, 1, 16, 16], (Kind::Float, Device::Cpu));
    let before = tch::no_grad(|| m.forward_t(&xs, false));
    let mut linear_bias = m
        .named_tensors()
        .into_iter()
        .find(|t| t.name == "linear.bias")
        .unwrap()
        .tensor;
    tch::no_grad(|| {
        linear_bias.copy_(&Tensor::ones([10], (Kind::Float, Device::Cpu)));
    });
    let after = tch::no_grad(|| m.forward_t(&xs, false));
    assert!(after.allclose(&(before + 1.0), 1e-6, 1e-6, false));
}

#[test]
fn gradients_reach_every_parameter() {
    let m = model("resnet8", 1, 16, Precision::F32, 11);
    let xs = Tensor::randn([4, 1, 16, 16], (Kind::Float, Device::Cpu));
    let labels = Tensor::from_slice(&[0i64, 1, 2, 3]);
    m.forward_t(&xs, true).cross_entropy_for_logits(&labels).backward();
    for t in m.named_tensors().into_iter().filter(|t| t.role.is_parameter()) {
        assert!(t.tensor.grad().defined(), "{} has no gradient", t.name);
    }
}
