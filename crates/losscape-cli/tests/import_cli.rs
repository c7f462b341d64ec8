//! `losscape import`: a checkpoint's tensors exported as a PyTorch-style state dict (DataParallel
//! `module.` prefix, no `num_batches_tracked`, as the original's models were saved) import into a
//! checkpoint whose surfaces, in the `states` scope too, equal the original checkpoint's bit for
//! bit; misfitting state dicts are refused with one line that names every problem.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;

use losscape::landscape::Surface;
use losscape::models::{checkpoint, Role};
use support::{assert_bit_equal, losscape, run_ok, write_checkpoint};

/// Writes the model of `ckpt` as a state dict: keys `module.<name>`, BN running statistics
/// moved off their initial values (so a statistic left behind would change the surface), BN
/// counters left out; `skip` drops more tensors, `reshape` replaces one by zeros of another shape.
fn write_state_dict(ckpt: &Path, out: &Path, skip: &[&str], reshape: Option<(&str, &[i64])>) {
    let (model, _) = checkpoint::load(ckpt, tch::Device::Cpu).unwrap();
    let mut tensors = Vec::new();
    for (k, t) in model.named_tensors().into_iter().enumerate() {
        if t.role == Role::BnNumBatchesTracked || skip.contains(&t.name.as_str()) {
            continue;
        }
        let mut value = t.tensor.detach().copy();
        if t.role == Role::BnRunningMean {
            value = tch::Tensor::full(value.size(), 0.01 * k as f64, (tch::Kind::Float, tch::Device::Cpu));
        } else if t.role == Role::BnRunningVar {
            value = tch::Tensor::full(value.size(), 1.0 + 0.02 * k as f64, (tch::Kind::Float, tch::Device::Cpu));
        }
        if let Some((_, shape)) = reshape.filter(|(n, _)| *n == t.name) {
            value = tch::Tensor::zeros(shape, (tch::Kind::Float, tch::Device::Cpu));
        }
        tensors.push((format!("module.{}", t.name), value));
    }
    checkpoint::save_tensors(&tensors, &BTreeMap::new(), out).unwrap();
}

fn import_cmd(sd: &Path, out: &Path, more: &[&str]) -> std::process::Command {
    let mut cmd = losscape();
    cmd.args(["import", "--model", "resnet8", "--state-dict"]).arg(sd).arg("--out").arg(out);
    cmd.args(more);
    cmd
}

/// The same surface for both checkpoints (weights scope and states scope) must be bit-equal.
#[test]
fn an_imported_state_dict_gives_the_original_checkpoints_surfaces() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    write_checkpoint(&p("seed.safetensors"));
    write_state_dict(&p("seed.safetensors"), &p("sd.safetensors"), &[], None);
    // The reference: the same values (moved statistics included) as a losscape checkpoint.
    let (model, meta) = checkpoint::load(&p("seed.safetensors"), tch::Device::Cpu).unwrap();
    losscape::models::load_state_dict(model.as_ref(), &{
        // load_state_dict takes no prefix and wants the counters: write that variant too.
        let (t, _) = checkpoint::read_tensor_file(&p("sd.safetensors")).unwrap();
        let mut t: Vec<_> = t.into_iter().map(|(n, v)| (n["module.".len()..].to_string(), v)).collect();
        for n in model.named_tensors().iter().filter(|n| n.role == Role::BnNumBatchesTracked) {
            t.push((n.name.clone(), n.tensor.copy()));
        }
        checkpoint::save_tensors(&t, &BTreeMap::new(), &p("plain.safetensors")).unwrap();
        p("plain.safetensors")
    })
    .unwrap();
    checkpoint::save(model.as_ref(), &meta, &p("reference.safetensors")).unwrap();

    let said = run_ok(&mut import_cmd(
        &p("sd.safetensors"),
        &p("imported.safetensors"),
        &["--mean", "0.286", "--std", "0.353", "--image-size", "28", "--dataset", "fashion-mnist-mini"],
    ));
    assert!(said.contains("removed the 'module.' prefix") && said.contains("9 num_batches_tracked"), "{said}");
    let imported_meta = checkpoint::read_meta(&p("imported.safetensors")).unwrap();
    assert_eq!((imported_meta.in_channels, imported_meta.num_classes, imported_meta.image_size), (1, 10, [28, 28]));
    assert_eq!(imported_meta.normalization, meta.normalization);

    for scope in ["weights", "states"] {
        let mut surfaces = Vec::new();
        for ckpt in ["reference", "imported"] {
            let out = p(&format!("{ckpt}-{scope}.surface"));
            run_ok(losscape().args(["surface", "--checkpoint"]).arg(p(&format!("{ckpt}.safetensors"))).args([
                "--x", "-1:1:3", "--y", "-1:1:3", "--per-class", "5", "--scope", scope, "--threads", "1", "--seed", "4",
                "--out",
            ]).arg(&out));
            surfaces.push(Surface::load(&out).unwrap());
        }
        assert_bit_equal(&surfaces[0], &surfaces[1], scope);
        let loss = surfaces[1].array("train_loss").unwrap();
        assert!(loss.iter().all(|v| v.is_finite()) && loss[0] != loss[4], "{scope}: {loss:?}");
    }

    // Without --mean/--std the original's CIFAR-10 normalization (3 channels) is assumed: refused
    // for this 1-channel model, saying why.
    let err = refused(&mut import_cmd(&p("sd.safetensors"), &p("default.safetensors"), &[]));
    assert!(err.contains("3 mean(s) and 3 std(s) but the model takes 1 input channel"), "{err}");
    assert!(!p("default.safetensors").exists());
}

/// Runs an import expected to fail and returns its one-line error.
fn refused(cmd: &mut std::process::Command) -> String {
    let out = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert!(!out.status.success(), "accepted: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: "), "{err}");
    err
}

#[test]
fn misfitting_state_dicts_are_refused_naming_each_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    write_checkpoint(&p("seed.safetensors"));
    let flags = ["--mean", "0.286", "--std", "0.353", "--image-size", "28"];
    write_state_dict(
        &p("seed.safetensors"),
        &p("bad.safetensors"),
        &["layer1.0.bn2.bias", "layer3.0.shortcut.1.running_var"],
        Some(("layer2.0.conv1.weight", &[32, 16, 1, 1])),
    );
    let err = refused(&mut import_cmd(&p("bad.safetensors"), &p("out.safetensors"), &flags));
    for part in [
        "2 missing: layer1.0.bn2.bias [16], layer3.0.shortcut.1.running_var [64]",
        "1 mis-shaped: layer2.0.conv1.weight is [32, 16, 1, 1] in the file, [32, 16, 3, 3] in resnet8",
    ] {
        assert!(err.contains(part), "{part} not in {err}");
    }
    assert!(!p("out.safetensors").exists());

    // The file of another architecture: every extra tensor counted, and the right --model named.
    write_state_dict(&p("seed.safetensors"), &p("sd.safetensors"), &[], None);
    let mut cmd = losscape();
    cmd.args(["import", "--model", "resnet8-noshort", "--state-dict"]).arg(p("sd.safetensors"));
    let err = refused(cmd.arg("--out").arg(p("out.safetensors")).args(flags));
    assert!(err.contains("look like resnet8: try --model resnet8") && err.contains("10 extra: layer2.0.shortcut.0.weight"), "{err}");

    // Flags that cannot be right, and a missing file.
    let err = refused(&mut import_cmd(&p("sd.safetensors"), &p("out.safetensors"), &["--mean", "0.2", "--std", "0", "--image-size", "28"]));
    assert!(err.contains("std positive"), "{err}");
    let err = refused(&mut import_cmd(&p("nothing.safetensors"), &p("out.safetensors"), &flags));
    assert!(err.contains("no such state dict"), "{err}");
    let err = refused(&mut import_cmd(&p("sd.safetensors"), &p("sd.safetensors"), &flags));
    assert!(err.contains("sd.safetensors"), "{err}");
}
