//! A user's own model and data through the CLI, against values computed once with PyTorch
//! (tests/fixtures/own-model/reference.json, made by make_fixtures.py beside it): a TorchScript
//! module on an .npz data set, its 1D and 2D surfaces along committed directions at non-zero
//! (a, b), the interpolation to a second module (batch statistics), the extreme Hessian
//! eigenvalues, a Hessian map over a surface of the module with --weights, regression targets, a
//! trajectory from a folder of weight files, and the errors for the states scope and for
//! unsupported modules.

use std::path::{Path, PathBuf};
use std::process::Command;

use losscape::landscape::Surface;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/own-model").join(name)
}

fn reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("reference.json")).unwrap()).unwrap()
}

/// Runs `losscape ARGS` on one thread and returns (success, stdout + stderr).
fn losscape(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_losscape")).args(args).env("OMP_NUM_THREADS", "1").output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn run_ok(args: &[&str]) -> String {
    let (ok, text) = losscape(args);
    assert!(ok, "losscape {args:?} failed:\n{text}");
    text
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Compares every point of a surface with the reference points of `key` (matched by (a, b)).
fn check_surface(surface: &Path, key: &str) {
    let surface = Surface::load(surface).unwrap();
    let reference = reference();
    let points = reference[key].as_array().unwrap();
    assert_eq!(surface.len(), points.len(), "{key}");
    for i in 0..surface.len() {
        let (a, b) = surface.grid().point(i);
        let want = points
            .iter()
            .find(|p| p["a"].as_f64() == Some(a) && p["b"].as_f64().unwrap_or(0.0) == b)
            .unwrap_or_else(|| panic!("{key}: no reference point at ({a}, {b})"));
        for (name, scale) in [("train_loss", 1.0), ("test_loss", 1.0), ("train_acc", 100.0), ("test_acc", 100.0)] {
            let ours = surface.array(name).unwrap()[i];
            let theirs = want[name].as_f64().unwrap() * scale;
            let tol = 1e-5 * theirs.abs().max(1e-2);
            assert!((ours - theirs).abs() <= tol, "{key} at ({a}, {b}): {name} {ours} vs PyTorch {theirs}");
        }
    }
}

#[test]
fn surfaces_interpolation_and_hessian_match_pytorch() {
    let dir = tempfile::tempdir().unwrap();
    let (net, data, dirs) = (fixture("net.pt"), format!("npz:{}", path(&fixture("data.npz"))), fixture("directions.safetensors"));
    let common = ["--dataset", &data, "--threads", "1"];
    let line = dir.path().join("line.surf");
    let mut args = vec!["surface", "--checkpoint", path(&net), "--direction-file", path(&dirs), "--x", "-1:1:5"];
    args.extend(common);
    args.extend(["--out", path(&line)]);
    run_ok(&args);
    check_surface(&line, "line");

    let plane = dir.path().join("plane.surf");
    let mut args = vec!["surface", "--checkpoint", path(&net), "--direction-file", path(&dirs)];
    args.extend(["--x", "-1:1:3", "--y", "-1:1:3"]);
    args.extend(common);
    args.extend(["--out", path(&plane)]);
    run_ok(&args);
    check_surface(&plane, "plane");

    let interp = dir.path().join("interp.surf");
    let net2 = fixture("net2.pt");
    let mut args = vec!["surface", "--checkpoint", path(&net), "--interpolate-to", path(&net2)];
    args.extend(["--bn", "batch", "--batch-size", "1000", "--x", "0:1:5"]);
    args.extend(common);
    args.extend(["--out", path(&interp)]);
    run_ok(&args);
    check_surface(&interp, "interpolation_batch_stats");

    // The same path through a direction file: it records that batch statistics are needed, so a
    // surface without --bn batch is refused, and with it matches PyTorch as above.
    let towards = dir.path().join("towards.safetensors");
    run_ok(&["direction", "--checkpoint", path(&net), "--target", path(&net2), "--bn", "batch", "--out", path(&towards)]);
    let through_file = dir.path().join("through-file.surf");
    let mut args = vec!["surface", "--checkpoint", path(&net), "--direction-file", path(&towards)];
    args.extend(["--batch-size", "1000", "--x", "0:1:5"]);
    args.extend(common);
    args.extend(["--out", path(&through_file)]);
    let (ok, text) = losscape(&args);
    assert!(!ok && text.contains("made with --bn batch") && text.contains("add --bn batch"), "{text}");
    args.extend(["--bn", "batch"]);
    run_ok(&args);
    check_surface(&through_file, "interpolation_batch_stats");
    let map = dir.path().join("map.surf");
    let (ok, text) = losscape(&["hessian", "--checkpoint", path(&net), "--direction-file", path(&towards), "--x", "0:1:2"]
        .into_iter()
        .chain(["--dataset", &data, "--threads", "1", "--out", path(&map)])
        .collect::<Vec<_>>());
    assert!(!ok && text.contains("made with --bn batch"), "{text}");

    let mut args = vec!["hessian", "--checkpoint", path(&net), "--precision", "f64", "--tol", "1e-8", "--trace-probes", "0"];
    args.extend(common);
    let text = run_ok(&args);
    let reference = reference();
    for (key, label) in [("lambda_max", "lambda_max"), ("lambda_min", "lambda_min")] {
        let line = text.lines().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("no {label} in:\n{text}"));
        let ours: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        let theirs = reference["hessian"][key].as_f64().unwrap();
        assert!((ours - theirs).abs() <= 1e-6 * theirs.abs(), "{key}: {ours} vs PyTorch {theirs}");
    }
}

#[test]
fn unreachable_batch_norm_statistics_and_bad_modules_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let data = format!("npz:{}", path(&fixture("data.npz")));
    let out = dir.path().join("x.surf");
    let net = fixture("net.pt");
    let base = ["surface", "--checkpoint", path(&net), "--dataset", &data, "--threads", "1", "--out", path(&out)];

    let (ok, text) = losscape(&[&base[..], &["--scope", "states"]].concat());
    assert!(!ok && text.contains("states scope") && text.contains("use --scope weights"), "{text}");
    let net2 = fixture("net2.pt");
    let (ok, text) = losscape(&[&base[..], &["--interpolate-to", path(&net2)]].concat());
    assert!(!ok && text.contains("add --bn batch"), "{text}");
    let (ok, text) = losscape(&["surface", "--checkpoint", path(&net), "--out", path(&out)]);
    assert!(!ok && text.contains("give one with --dataset"), "{text}");

    let tuple = fixture("tuple_out.pt");
    let (ok, text) = losscape(&["surface", "--checkpoint", path(&tuple), "--dataset", &data, "--x", "0:1:2", "--out", path(&out)]);
    assert!(!ok && text.contains("forward returned a tuple"), "{text}");

    // A state dict with a mis-shaped tensor names it with both shapes.
    let bad = dir.path().join("bad.safetensors");
    let mut tensors = losscape::models::checkpoint::read_tensors(&fixture("weights.safetensors")).unwrap();
    let fc = tensors.iter_mut().find(|(n, _)| n == "fc.weight").unwrap();
    fc.1 = fc.1.narrow(1, 0, 60);
    losscape::models::checkpoint::save_tensors(&tensors, &Default::default(), &bad).unwrap();
    let (ok, text) = losscape(&[&base[..], &["--weights", path(&bad)]].concat());
    assert!(!ok && text.contains("'fc.weight' has shape [3, 60] in the file but [3, 64] in the model"), "{text}");
}

#[test]
fn a_hessian_map_draws_the_same_random_directions_as_the_surface_with_weights_loaded() {
    // The map's random directions are drawn from the checkpoint as loaded with --weights (their
    // filter norms follow the loaded weights), exactly as `losscape surface` draws them.
    let dir = tempfile::tempdir().unwrap();
    let data = format!("npz:{}", path(&fixture("data.npz")));
    let (net, weights) = (fixture("net.pt"), fixture("weights.safetensors"));
    let common = ["--checkpoint", path(&net), "--weights", path(&weights), "--dataset", &data, "--x", "-1:1:2", "--threads", "1"];
    let (surf, map) = (dir.path().join("s.surface"), dir.path().join("h.surface"));
    run_ok(&[&["surface"][..], &common, &["--out", path(&surf)]].concat());
    run_ok(&[&["hessian"][..], &common, &["--samples", "6", "--max-iter", "6", "--out", path(&map)]].concat());
    let (s, h) = (Surface::load(&surf).unwrap(), Surface::load(&map).unwrap());
    assert_eq!(s.header().directions_hash, h.header().directions_hash);
}

#[test]
fn a_hessian_map_over_a_surface_identifies_the_model_with_its_weights() {
    // A surface records the hash of its model as loaded: the checkpoint and the --weights file.
    // The map over it must compute the same hash, so a surface of the same model is accepted and
    // one of the module without those weights is refused.
    let dir = tempfile::tempdir().unwrap();
    let data = format!("npz:{}", path(&fixture("data.npz")));
    let (net, weights, dirs) = (fixture("net.pt"), fixture("weights.safetensors"), fixture("directions.safetensors"));
    let common = ["--checkpoint", path(&net), "--direction-file", path(&dirs), "--dataset", &data, "--threads", "1"];
    let (with, without) = (dir.path().join("with.surface"), dir.path().join("without.surface"));
    let weighted = ["--weights", path(&weights)];
    run_ok(&[&["surface"][..], &common, &weighted, &["--x", "-1:1:2", "--out", path(&with)]].concat());
    run_ok(&[&["surface"][..], &common, &["--x", "-1:1:2", "--out", path(&without)]].concat());
    let map_args = |surface: &Path, out: &Path| -> Vec<String> {
        [&["hessian"][..], &common, &weighted, &["--samples", "6", "--max-iter", "6"]]
            .concat()
            .into_iter()
            .map(String::from)
            .chain(["--surface", path(surface), "--out", path(out)].map(String::from))
            .collect()
    };
    let map = dir.path().join("map.surface");
    let args = map_args(&with, &map);
    run_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let (s, h) = (Surface::load(&with).unwrap(), Surface::load(&map).unwrap());
    assert_eq!(s.header().checkpoint_hash, h.header().checkpoint_hash);
    assert!(h.is_complete());

    let refused = dir.path().join("refused.surface");
    let args = map_args(&without, &refused);
    let (ok, text) = losscape(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!ok && text.contains("was made from another checkpoint"), "{text}");
}

#[test]
fn regression_targets_give_the_mean_squared_error() {
    use losscape::models::{Model, TorchScriptModel, TorchScriptOptions};
    use tch::{Device, Kind, Tensor};
    tch::set_num_threads(1);
    let dir = tempfile::tempdir().unwrap();
    let images = Tensor::arange(6 * 64, (Kind::Float, Device::Cpu)).view([6, 1, 8, 8]).f_div_scalar(384.0).unwrap();
    let targets = Tensor::arange(18, (Kind::Float, Device::Cpu)).view([6, 3]).f_div_scalar(9.0).unwrap();
    let npz = dir.path().join("reg.npz");
    let arrays = [("x_train", &images), ("y_train", &targets), ("x_test", &images), ("y_test", &targets)];
    Tensor::write_npz(&arrays, &npz).unwrap();
    let out = dir.path().join("reg.surf");
    let data = format!("npz:{}", path(&npz));
    let net = fixture("net.pt");
    let args = ["surface", "--checkpoint", path(&net), "--dataset", &data, "--loss", "mse", "--x", "-1:1:3"];
    run_ok(&[&args[..], &["--threads", "1", "--out", path(&out)]].concat());
    let surface = Surface::load(&out).unwrap();

    let model = TorchScriptModel::load(&net, Device::Cpu, &TorchScriptOptions::default()).unwrap();
    let outputs = tch::no_grad(|| model.f_forward_t(&images, false)).unwrap();
    let expected = (outputs - &targets).square().mean(Kind::Double).double_value(&[]);
    let centre = surface.array("train_loss").unwrap()[1];
    assert!((centre - expected).abs() < 1e-6 * expected, "{centre} vs {expected}");
    assert!(surface.array("test_acc").unwrap().iter().all(|a| a.is_nan()));
    let other = dir.path().join("ce.surf");
    let (ok, text) = losscape(&[&args[..5], &["--x", "0:1:2", "--out", path(&other)]].concat());
    assert!(!ok && text.contains("need the mse loss"), "{text}");
}

#[test]
fn a_folder_of_weight_files_is_a_trajectory() {
    use losscape::models::{checkpoint, Model, TorchScriptModel};
    use tch::Kind;
    tch::set_num_threads(1);
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("weights");
    std::fs::create_dir(&weights).unwrap();
    let net = fixture("net.pt");
    let model = TorchScriptModel::load(&net, tch::Device::Cpu, &Default::default()).unwrap();
    // A path in the plane of two directions: theta + t u + t^2 v, t = 0, 1/4, ..., 1.
    for k in 0..5 {
        let t = k as f64 / 4.0;
        let tensors: Vec<(String, tch::Tensor)> = model
            .named_tensors()
            .into_iter()
            .map(|n| {
                let u = n.tensor.ones_like().f_mul_scalar(0.01).unwrap();
                let v = n.tensor.f_mul_scalar(0.1).unwrap();
                let w = n.tensor.detach() + u * t + v * (t * t);
                (n.name, w.to_kind(Kind::Float))
            })
            .collect();
        checkpoint::save_tensors(&tensors, &Default::default(), &weights.join(format!("epoch-{k:02}.safetensors"))).unwrap();
    }
    let out = dir.path().join("trajectory");
    let text = run_ok(&["trajectory", "--weights-dir", path(&weights), "--model", path(&net), "--ignore", "none"]
        .into_iter()
        .chain(["--grid-points", "3", "--threads", "1", "--out", path(&out)])
        .collect::<Vec<_>>());
    assert!(text.contains("5 checkpoints") && text.contains("(first two: 100.0%)"), "{text}");
    assert!(out.join("trajectory.json").is_file());
    // The suggested surface command loads the module and the last weights.
    let command = text.lines().find(|l| l.trim_start().starts_with("losscape surface")).unwrap().trim();
    assert!(command.contains(&format!("--checkpoint {} --weights ", path(&net))), "{command}");
    let data = format!("npz:{}", path(&fixture("data.npz")));
    let mut args: Vec<&str> = command.split_whitespace().skip(1).collect();
    args.extend(["--dataset", &data, "--threads", "1"]);
    let text = run_ok(&args);
    assert!(!text.contains("made for another checkpoint"), "the directions belong to the suggested model:\n{text}");
}

#[test]
fn a_folder_of_torchscript_modules_is_a_trajectory() {
    use losscape::models::{Model, TorchScriptModel};
    tch::set_num_threads(1);
    let dir = tempfile::tempdir().unwrap();
    let modules = dir.path().join("modules");
    let net = fixture("net.pt");
    // The same curved path as the weight files above, saved as whole modules (as a user's
    // training script would save them with torch.jit.save after each epoch).
    for k in 0..5 {
        let t = k as f64 / 4.0;
        let model = TorchScriptModel::load(&net, tch::Device::Cpu, &Default::default()).unwrap();
        for n in model.named_tensors() {
            let step = n.tensor.ones_like().f_mul_scalar(0.01 * t).unwrap() + n.tensor.f_mul_scalar(0.1 * t * t).unwrap();
            let _ = tch::no_grad(|| n.tensor.shallow_clone().f_add_(&step)).unwrap();
        }
        model.save(&modules.join(format!("epoch-{k:02}.pt"))).unwrap();
    }
    // Files that are not modules, and hidden files (a crashed save's temporary), are passed over.
    std::fs::write(modules.join("notes.txt"), "epochs 0-4").unwrap();
    std::fs::copy(&net, modules.join(".epoch-05.pt.tmp-1")).unwrap();
    let out = dir.path().join("trajectory");
    let text = run_ok(&["trajectory", "--modules-dir", path(&modules), "--ignore", "none"]
        .into_iter()
        .chain(["--grid-points", "3", "--threads", "1", "--out", path(&out)])
        .collect::<Vec<_>>());
    assert!(text.contains("5 checkpoints") && text.contains("(first two: 100.0%)"), "{text}");
    assert_eq!(std::fs::read_dir(out.join("module-weights")).unwrap().count(), 5);
    // The suggested surface command loads the last module, which holds the final weights.
    let command = text.lines().find(|l| l.trim_start().starts_with("losscape surface")).unwrap().trim();
    let last = modules.join("epoch-04.pt");
    assert!(command.contains(&format!("--checkpoint {} --direction-file", path(&last))), "{command}");
    // trajectory.json stores the same command.
    let report: Value = serde_json::from_slice(&std::fs::read(out.join("trajectory.json")).unwrap()).unwrap();
    assert_eq!(report["surface"]["command"].as_str(), Some(command));
    let data = format!("npz:{}", path(&fixture("data.npz")));
    let mut args: Vec<&str> = command.split_whitespace().skip(1).collect();
    args.extend(["--dataset", &data, "--threads", "1"]);
    let text = run_ok(&args);
    assert!(!text.contains("made for another checkpoint"), "the directions belong to the suggested model:\n{text}");

    // A module's BN running statistics are out of reach, so the states scope is refused.
    let refused = dir.path().join("refused");
    let (ok, text) = losscape(&["trajectory", "--modules-dir", path(&modules), "--scope", "states", "--out", path(&refused)]);
    assert!(!ok && text.contains("use --scope weights"), "{text}");
    assert!(!refused.exists(), "nothing is written before the refusal");

    // One module is no path.
    let single = dir.path().join("single");
    std::fs::create_dir(&single).unwrap();
    std::fs::copy(&net, single.join("only.pt")).unwrap();
    let (ok, text) = losscape(&["trajectory", "--modules-dir", path(&single), "--out", path(&dir.path().join("t2"))]);
    assert!(!ok && text.contains("holds 1 TorchScript module(s); a path needs at least 2"), "{text}");
}
