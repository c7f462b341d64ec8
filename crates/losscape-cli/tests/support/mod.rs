//! Shared by the MPI and shard tests: a tiny checkpoint, the `losscape` command, and bitwise
//! comparison of surfaces.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};

use losscape::core::Precision;
use losscape::data::Normalization;
use losscape::landscape::Surface;
use losscape::models::{checkpoint, CheckpointMeta, ModelSpec};

/// The `losscape` binary of this build.
pub fn losscape() -> Command {
    Command::new(env!("CARGO_BIN_EXE_losscape"))
}

/// Writes an untrained ResNet-8 for the embedded Fashion-MNIST subset (weights from seed 5).
pub fn write_checkpoint(path: &Path) {
    let spec: ModelSpec = "resnet8".parse().unwrap();
    let model = losscape::models::build(&losscape::models::BuildSpec { in_channels: 1, image_size: [28, 28], ..losscape::models::BuildSpec::new(spec) }, tch::Device::Cpu, 5).unwrap();
    let mut meta = CheckpointMeta::new(&spec, 1, 10, [28, 28], Precision::F32);
    meta.data = Some("fashion-mnist-mini".into());
    meta.normalization = Some(Normalization { mean: vec![0.286], std: vec![0.353] });
    checkpoint::save(model.as_ref(), &meta, path).unwrap();
}

/// The arguments of a small 2D loss surface on one thread (after `losscape surface`), without
/// `--out`: a 6 x 5 grid on 10 training images per class, saved after every point.
pub fn surface_args(checkpoint: &Path) -> Vec<String> {
    let mut args: Vec<String> = vec!["surface".into(), "--checkpoint".into(), checkpoint.display().to_string()];
    for a in ["--x", "-1:1:6", "--y", "-1:1:5", "--per-class", "10", "--splits", "train", "--batch-size", "50"] {
        args.push(a.into());
    }
    for a in ["--threads", "1", "--save-every", "0", "--seed", "3"] {
        args.push(a.into());
    }
    args
}

/// A temporary folder holding the tiny checkpoint, the arguments of the small surface over it
/// ([`surface_args`], without `--out`) and that surface as one process computes it.
pub struct SingleRun {
    pub dir: tempfile::TempDir,
    pub args: Vec<String>,
    pub single: Surface,
}

/// Writes the checkpoint and computes the small surface in one process (`single.surface`).
pub fn single_run() -> SingleRun {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("model.safetensors");
    write_checkpoint(&ckpt);
    let args = surface_args(&ckpt);
    let single = dir.path().join("single.surface");
    run_ok(losscape().args(&args).arg("--out").arg(&single));
    SingleRun { single: Surface::load(&single).unwrap(), dir, args }
}

/// Runs `cmd`, failing the test with its stderr if it fails; returns its stderr.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output().expect("starts the command");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{cmd:?} failed: {stderr}");
    stderr
}

/// Asserts that two complete surfaces hold the same arrays bit for bit.
pub fn assert_bit_equal(a: &Surface, b: &Surface, what: &str) {
    assert!(a.is_complete() && b.is_complete(), "{what}: incomplete");
    assert_eq!(a.header().arrays, b.header().arrays, "{what}");
    for name in &a.header().arrays {
        let (x, y) = (a.array(name).unwrap(), b.array(name).unwrap());
        for (i, (p, q)) in x.iter().zip(y).enumerate() {
            assert_eq!(p.to_bits(), q.to_bits(), "{what}: {name} differs at point {i} ({p} vs {q})");
        }
    }
}
