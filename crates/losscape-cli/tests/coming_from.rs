//! docs/coming-from-loss-landscape.md runs as written, at toy size: every `losscape` command of its
//! `sh` blocks, in order, in a folder holding what its Python step would make (state dicts of the
//! original's networks as safetensors, some with DataParallel's `module.` prefix and without
//! `num_batches_tracked`, as the original's models were saved) and a tiny binary CIFAR-10 folder.
//! Toy size means: every axis of more than 5 points runs with 3 points, and the Hessian map on a
//! 2 x 2 grid, 10 images, at most 3 products per point. Built without the `hdf5` feature, the commands that
//! read or write `.h5` files are skipped with a note (tests/h5.rs covers them with the feature).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use losscape::models::{build, BuildSpec, checkpoint, ModelSpec, Role};

/// The fenced blocks of a markdown text: (info string, lines).
fn blocks(markdown: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in markdown.lines() {
        if let Some(info) = line.strip_prefix("```") {
            match current.take() {
                Some(block) => out.push(block),
                None => current = Some((info.trim().to_string(), Vec::new())),
            }
        } else if let Some((_, lines)) = current.as_mut() {
            lines.push(line.to_string());
        }
    }
    out
}

/// A state dict of `spec` (3-channel 32x32 images, 10 classes) from `seed`, as the original's
/// code saves one, converted to safetensors: with `data_parallel`, keys `module.<name>` and no BN
/// counters (a pre-0.4.1 DataParallel model).
fn write_state_dict(dir: &Path, file: &str, spec: &str, seed: u64, data_parallel: bool) {
    let spec: ModelSpec = spec.parse().unwrap();
    let model = build(&BuildSpec::new(spec), tch::Device::Cpu, seed).unwrap();
    let mut tensors = Vec::new();
    for t in model.named_tensors() {
        if data_parallel && t.role == Role::BnNumBatchesTracked {
            continue;
        }
        let name = if data_parallel { format!("module.{}", t.name) } else { t.name.clone() };
        tensors.push((name, t.tensor.detach().copy()));
    }
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    checkpoint::save_tensors(&tensors, &BTreeMap::new(), &path).unwrap();
}

/// A CIFAR-10 binary folder of 10 training images (two per file) and 10 test images, one of
/// each class (pixels from a fixed LCG).
fn write_tiny_cifar(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let mut state: u32 = 12345;
    let names = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"];
    for (k, name) in names.into_iter().enumerate() {
        let labels: Vec<u8> = if k < 5 { vec![2 * k as u8, 2 * k as u8 + 1] } else { (0..10).collect() };
        let mut bytes = Vec::new();
        for label in labels {
            bytes.push(label);
            for _ in 0..3072 {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                bytes.push((state >> 24) as u8);
            }
        }
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// The toy-size version of one command's words (without the leading `losscape`).
fn toy(words: &[&str]) -> Vec<String> {
    let hessian = words.first() == Some(&"hessian");
    let points = if hessian { 2 } else { 3 };
    let mut out: Vec<String> = words
        .iter()
        .map(|w| match w.parse::<losscape::landscape::Axis>() {
            Ok(axis) if axis.num > 5 => format!("{}:{}:{points}", axis.min, axis.max),
            _ => w.to_string(),
        })
        .collect();
    if hessian {
        out.extend(["--samples", "10", "--max-iter", "3"].map(String::from));
    }
    out
}

#[test]
fn the_coming_from_loss_landscape_commands_run_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let markdown = std::fs::read_to_string(root.join("../../docs/coming-from-loss-landscape.md")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_tiny_cifar(&d.join("cifar-10-batches-bin"));
    write_state_dict(d, "vgg9_bs128/model_300.safetensors", "vgg9", 1, true);
    write_state_dict(d, "vgg9_bs8192/model_300.safetensors", "vgg9", 2, false);
    write_state_dict(d, "resnet56/model_0.safetensors", "resnet56", 4, false);
    write_state_dict(d, "resnet56/model_150.safetensors", "resnet56", 5, true);
    write_state_dict(d, "resnet56/model_300.safetensors", "resnet56", 3, false);

    let (mut commands, mut skipped) = (0, 0);
    for (info, lines) in blocks(&markdown) {
        if info != "sh" {
            continue;
        }
        for line in lines.iter().filter(|l| !l.trim().is_empty()) {
            let words: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(words[0], "losscape", "the guide's shell blocks hold losscape commands only: {line}");
            if !cfg!(feature = "hdf5") && words.iter().any(|w| *w == "h5" || w.ends_with(".h5")) {
                eprintln!("note: built without the hdf5 feature: skipping `{line}`");
                skipped += 1;
                continue;
            }
            let args = toy(&words[1..]);
            let start = std::time::Instant::now();
            let out = Command::new(env!("CARGO_BIN_EXE_losscape")).args(&args).current_dir(d).env("OMP_NUM_THREADS", "1").output().unwrap();
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success(), "`losscape {}` failed:\n{text}", args.join(" "));
            commands += 1;
            eprintln!("{:6.1} s  losscape {}", start.elapsed().as_secs_f64(), args.join(" "));
        }
    }
    assert!(commands + skipped >= 20, "{commands} commands run, {skipped} skipped");
    for made in [
        "vgg9-interp.png",
        "vgg9-1d.png",
        "resnet56-2d-contour.png",
        "resnet56-2d-heat.png",
        "resnet56-2d-3d.png",
        "resnet56-2d.vtp",
        "resnet56-traj/pca.safetensors",
        "resnet56-path.png",
        "resnet56-ratio.png",
    ] {
        assert!(d.join(made).is_file(), "{made} was not made");
    }
    // The imports recorded the original's normalization and the data, and kept the values.
    let meta = checkpoint::read_meta(&d.join("resnet56.safetensors")).unwrap();
    let norm = meta.normalization.unwrap();
    assert_eq!((norm.mean[0], norm.std[2]), (125.3 / 255.0, 66.7 / 255.0));
    assert_eq!(meta.data.as_deref(), Some("cifar10:cifar-10-batches-bin"));
    let (a, _) = checkpoint::read_tensor_file(&d.join("vgg9_bs128.safetensors")).unwrap();
    let (b, _) = checkpoint::read_tensor_file(&d.join("vgg9_bs128/model_300.safetensors")).unwrap();
    let weight = |ts: &[(String, tch::Tensor)], n: &str| ts.iter().find(|(k, _)| k == n).unwrap().1.shallow_clone();
    assert!(weight(&a, "features.0.weight").equal(&weight(&b, "module.features.0.weight")));
    if cfg!(feature = "hdf5") {
        assert!(d.join("resnet56-same-grid.surface").is_file());
    }
}
