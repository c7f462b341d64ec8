//! TorchScript modules and safetensors state dicts, on the tiny fixtures made once with PyTorch
//! (tests/fixtures/torchscript, made by losscape-cli/tests/fixtures/own-model/make_fixtures.py).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use losscape_core::Precision;
use losscape_models::torchscript::is_torchscript_file;
use losscape_models::{
    build, checkpoint, BuildSpec, load_state_dict, BnMode, Model, ModelSpec, Role, TorchScriptModel, TorchScriptOptions,
};
use tch::{Device, Kind, Tensor};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torchscript").join(name)
}

fn load(name: &str, options: &TorchScriptOptions) -> TorchScriptModel {
    tch::set_num_threads(1);
    TorchScriptModel::load(&fixture(name), Device::Cpu, options).unwrap()
}

fn input() -> Tensor {
    Tensor::arange(2 * 64, (Kind::Float, Device::Cpu)).view([2, 1, 8, 8]).f_div_scalar(128.0).unwrap()
}

#[test]
fn a_module_lists_its_parameters_with_inferred_roles() {
    let model = load("net.pt", &TorchScriptOptions::default());
    assert!(is_torchscript_file(&fixture("net.pt")));
    assert!(!is_torchscript_file(&fixture("weights.safetensors")));
    let listed: Vec<(String, Role)> = model.named_tensors().into_iter().map(|t| (t.name, t.role)).collect();
    let expected = [
        ("conv.weight", Role::ConvWeight),
        ("conv.bias", Role::Bias),
        ("bn.weight", Role::BnWeight),
        ("bn.bias", Role::BnBias),
        ("fc.weight", Role::LinearWeight),
        ("fc.bias", Role::Bias),
    ];
    assert_eq!(listed, expected.map(|(n, r)| (n.to_string(), r)));
    assert_eq!(model.num_parameters(), 243);
    assert_eq!((model.spec().as_str(), model.kind()), ("torchscript", Kind::Float));
    assert_eq!((model.inferred_in_channels(), model.inferred_outputs()), (Some(1), Some(3)));
    let reason = model.unlisted_state().expect("BN statistics are hidden");
    assert!(reason.contains("running statistics"), "{reason}");
}

#[test]
fn writes_into_named_tensors_move_the_module_and_f64_works() {
    let model = load("net.pt", &TorchScriptOptions::default());
    let x = input();
    let before = tch::no_grad(|| model.f_forward_t(&x, false)).unwrap();
    assert_eq!(before.size(), [2, 3]);
    let fc_bias = model.named_tensors().pop().unwrap();
    let _ = tch::no_grad(|| fc_bias.tensor.shallow_clone().f_add_scalar_(1.0)).unwrap();
    let after = tch::no_grad(|| model.f_forward_t(&x, false)).unwrap();
    let shift = (after - &before).f_sub_scalar(1.0).unwrap().abs().max().double_value(&[]);
    assert!(shift < 1e-5, "the bias moved the logits by 1 (off by {shift})");

    let options = TorchScriptOptions { kind: Some(Kind::Double), ..Default::default() };
    let double = load("net.pt", &options);
    assert_eq!(double.kind(), Kind::Double);
    let y = tch::no_grad(|| double.f_forward_t(&x.to_kind(Kind::Double), false)).unwrap();
    let gap = (y.to_kind(Kind::Float) - before).abs().max().double_value(&[]);
    assert!(gap < 1e-4, "f64 and f32 forwards differ by {gap}");
}

#[test]
fn a_moved_module_saves_and_loads_back_with_its_new_parameters() {
    let model = load("net.pt", &TorchScriptOptions::default());
    let x = input();
    let fc_weight = model.named_tensors().into_iter().find(|t| t.name == "fc.weight").unwrap();
    let _ = tch::no_grad(|| fc_weight.tensor.shallow_clone().f_mul_scalar_(1.5)).unwrap();
    let moved = tch::no_grad(|| model.f_forward_t(&x, false)).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/moved.pt");
    model.save(&path).unwrap();
    assert!(is_torchscript_file(&path));
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["moved.pt"], "no temporary file is left behind");
    let back = TorchScriptModel::load(&path, Device::Cpu, &TorchScriptOptions::default()).unwrap();
    for (a, b) in model.named_tensors().iter().zip(back.named_tensors()) {
        assert_eq!(a.name, b.name);
        assert!(a.tensor.equal(&b.tensor), "{} differs after the round trip", a.name);
    }
    let again = tch::no_grad(|| back.f_forward_t(&x, false)).unwrap();
    assert!(again.equal(&moved), "the reloaded module computes something else");

    // A folder that cannot be made is an error naming the path, not a panic.
    let blocked = dir.path().join("file");
    std::fs::write(&blocked, b"x").unwrap();
    let err = model.save(&blocked.join("m.pt")).unwrap_err().to_string();
    assert!(err.contains("file"), "{err}");
}

#[test]
fn batch_statistics_mode_and_role_overrides() {
    let x = input();
    let running = load("net.pt", &TorchScriptOptions::default());
    let batch = load("net.pt", &TorchScriptOptions { bn: BnMode::BatchStats, ..Default::default() });
    let a = tch::no_grad(|| running.f_forward_t(&x, false)).unwrap();
    let b = tch::no_grad(|| batch.f_forward_t(&x, false)).unwrap();
    let c = tch::no_grad(|| running.f_forward_t(&x, true)).unwrap();
    assert!(b.allclose(&c, 1e-5, 1e-6, false), "batch mode is the train-mode forward");
    assert!(!a.allclose(&b, 1e-3, 1e-3, false), "running and batch statistics differ on this input");

    let roles = BTreeMap::from([("fc.weight".to_string(), Role::OtherParameter)]);
    let model = load("net.pt", &TorchScriptOptions { roles, ..Default::default() });
    assert_eq!(model.named_tensors()[4].role, Role::OtherParameter);
    let roles = BTreeMap::from([("fc.scale".to_string(), Role::Bias)]);
    let err = TorchScriptModel::load(&fixture("net.pt"), Device::Cpu, &TorchScriptOptions { roles, ..Default::default() })
        .unwrap_err()
        .to_string();
    assert!(err.contains("'fc.scale'") && err.contains("fc.weight"), "{err}");
    let roles = BTreeMap::from([("fc.bias".to_string(), Role::BnRunningMean)]);
    let err = TorchScriptModel::load(&fixture("net.pt"), Device::Cpu, &TorchScriptOptions { roles, ..Default::default() })
        .unwrap_err()
        .to_string();
    assert!(err.contains("fc.bias") && err.contains("bn_bias"), "{err}");
}

#[test]
fn unsupported_signatures_get_clear_errors() {
    let x = input();
    let two = load("two_inputs.pt", &TorchScriptOptions::default());
    let err = tch::no_grad(|| two.f_forward_t(&x, false)).unwrap_err().to_string();
    assert!(err.contains("two_inputs.pt") && err.contains("forward(x) with one tensor") && err.contains("'y'"), "{err}");
    let tuple = load("tuple_out.pt", &TorchScriptOptions::default());
    let err = tch::no_grad(|| tuple.f_forward_t(&x, false)).unwrap_err().to_string();
    assert!(err.contains("forward returned a tuple"), "{err}");
    let err = TorchScriptModel::load(&fixture("weights.safetensors"), Device::Cpu, &TorchScriptOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a loadable TorchScript module"), "{err}");
}

#[test]
fn a_state_dict_loads_into_a_module_and_names_what_does_not_fit() {
    let model = load("net.pt", &TorchScriptOptions::default());
    let x = input();
    let before = tch::no_grad(|| model.f_forward_t(&x, false)).unwrap();
    assert_eq!(load_state_dict(&model, &fixture("weights.safetensors")).unwrap(), 6);
    let after = tch::no_grad(|| model.f_forward_t(&x, false)).unwrap();
    assert!(!before.allclose(&after, 1e-4, 1e-4, false), "the weights changed the outputs");
    let file = checkpoint::read_tensors(&fixture("weights.safetensors")).unwrap();
    let fc = file.iter().find(|(n, _)| n == "fc.weight").unwrap();
    assert!(model.named_tensors()[4].tensor.equal(&fc.1));

    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, tensors: Vec<(String, Tensor)>| {
        let path = dir.path().join(name);
        checkpoint::save_tensors(&tensors, &BTreeMap::new(), &path).unwrap();
        path
    };
    let without_bias: Vec<_> = file.iter().filter(|(n, _)| n != "fc.bias").map(|(n, t)| (n.clone(), t.copy())).collect();
    let err = load_state_dict(&model, &write("missing.safetensors", without_bias)).unwrap_err().to_string();
    assert!(err.contains("missing.safetensors") && err.contains("'fc.bias' (shape [3]) is missing"), "{err}");

    let mut reshaped: Vec<_> = file.iter().filter(|(n, _)| n != "conv.weight").map(|(n, t)| (n.clone(), t.copy())).collect();
    reshaped.push(("conv.weight".into(), Tensor::zeros([4, 1, 5, 5], (Kind::Float, Device::Cpu))));
    reshaped.push(("extra.weight".into(), Tensor::zeros([2], (Kind::Float, Device::Cpu))));
    reshaped.push(("bn.running_mean".into(), Tensor::zeros([4], (Kind::Float, Device::Cpu))));
    let err = load_state_dict(&model, &write("shapes.safetensors", reshaped)).unwrap_err().to_string();
    assert!(err.contains("'conv.weight' has shape [4, 1, 5, 5] in the file but [4, 1, 3, 3]"), "{err}");
    assert!(err.contains("'extra.weight' (shape [2]) is in the file but not in the model"), "{err}");
    assert!(err.contains("'bn.running_mean' is a batch-norm buffer"), "{err}");
    let still = tch::no_grad(|| model.f_forward_t(&x, false)).unwrap();
    assert!(still.equal(&after), "a refused state dict leaves the model unchanged");
}

#[test]
fn a_state_dict_loads_into_a_built_network() {
    tch::set_num_threads(1);
    let spec: ModelSpec = "resnet8".parse().unwrap();
    let source = build(&BuildSpec { in_channels: 1, num_classes: 3, image_size: [8, 8], ..BuildSpec::new(spec) }, Device::Cpu, 1).unwrap();
    let target = build(&BuildSpec { in_channels: 1, num_classes: 3, image_size: [8, 8], precision: Precision::F64, ..BuildSpec::new(spec) }, Device::Cpu, 2).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.safetensors");
    let tensors: Vec<(String, Tensor)> = source.named_tensors().into_iter().map(|t| (t.name, t.tensor)).collect();
    checkpoint::save_tensors(&tensors, &BTreeMap::new(), &path).unwrap();
    assert_eq!(load_state_dict(target.as_ref(), &path).unwrap(), tensors.len());
    for (a, b) in source.named_tensors().iter().zip(target.named_tensors()) {
        assert!(a.tensor.to_kind(Kind::Double).equal(&b.tensor.to_kind(Kind::Double)), "{}", a.name);
    }
    let partial = &tensors[1..];
    checkpoint::save_tensors(partial, &BTreeMap::new(), &path).unwrap();
    let err = load_state_dict(target.as_ref(), &path).unwrap_err().to_string();
    assert!(err.contains(&format!("'{}'", tensors[0].0)) && err.contains("missing"), "{err}");
}
