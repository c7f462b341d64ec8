//! Shared helpers of the trajectory tests: planted paths written as checkpoints of a small ResNet,
//! and the dense `checkpoints x parameters` matrix that the streaming route must reproduce.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use losscape_core::Precision;
use losscape_directions::{in_scope, Direction, Ignore, Scope};
use losscape_models::{build, BuildSpec, checkpoint, CheckpointMeta, Model, ModelSpec};
use tch::{Device, Kind, Tensor};

/// A seeded ResNet-8 for 1-channel images with 10 classes.
pub fn resnet8(precision: Precision) -> Box<dyn Model> {
    build(&BuildSpec { in_channels: 1, image_size: [8, 8], precision: precision, ..BuildSpec::new("resnet8".parse().unwrap()) }, Device::Cpu, 0).unwrap()
}

pub fn meta(model: &dyn Model) -> CheckpointMeta {
    let spec: ModelSpec = model.spec().parse().unwrap();
    CheckpointMeta::new(&spec, 1, 10, [8, 8], Precision::from_kind(model.kind()))
}

/// Whether a tensor is an entry of the rows under (scope, ignore).
pub fn active(role: losscape_models::Role, dim: usize, scope: Scope, ignore: Ignore) -> bool {
    in_scope(role, scope) && !(ignore == Ignore::BiasBn && dim <= 1)
}

/// The model's active tensors flattened into one f64 vector.
pub fn flatten_model(model: &dyn Model, scope: Scope, ignore: Ignore) -> Tensor {
    let parts: Vec<Tensor> = model
        .named_tensors()
        .into_iter()
        .filter(|t| active(t.role, t.tensor.dim(), scope, ignore))
        .map(|t| t.tensor.detach().to_kind(Kind::Double).reshape([-1]))
        .collect();
    Tensor::cat(&parts, 0)
}

/// A direction's active tensors (those of `model` that are active) flattened in f64.
pub fn flatten_direction(d: &Direction, model: &dyn Model, scope: Scope, ignore: Ignore) -> Tensor {
    let names: Vec<String> = model
        .named_tensors()
        .into_iter()
        .filter(|t| active(t.role, t.tensor.dim(), scope, ignore))
        .map(|t| t.name)
        .collect();
    let parts: Vec<Tensor> = names
        .iter()
        .map(|n| d.tensors.iter().find(|(m, _)| m == n).unwrap().1.to_kind(Kind::Double).reshape([-1]))
        .collect();
    Tensor::cat(&parts, 0)
}

/// Writes `values` (flattened active entries) into the model's active tensors.
pub fn set_flat(model: &dyn Model, flat: &Tensor, scope: Scope, ignore: Ignore) {
    let _guard = tch::no_grad_guard();
    let mut offset = 0;
    for t in model.named_tensors() {
        if active(t.role, t.tensor.dim(), scope, ignore) {
            let n = t.tensor.numel() as i64;
            let part = flat.narrow(0, offset, n).reshape(t.tensor.size()).to_kind(t.tensor.kind());
            t.tensor.shallow_clone().copy_(&part);
            offset += n;
        }
    }
}

/// The dense matrix of rows `theta_i - theta_final` read back from the checkpoint files.
pub fn dense_rows(files: &[PathBuf], model: &dyn Model, scope: Scope, ignore: Ignore) -> Tensor {
    let rows: Vec<Tensor> = files
        .iter()
        .map(|f| {
            checkpoint::load_into(model, f).unwrap();
            flatten_model(model, scope, ignore)
        })
        .collect();
    let m = Tensor::stack(&rows, 0);
    let last = m.get(m.size()[0] - 1);
    m - last
}

/// A unit vector orthogonal to the others (Gram-Schmidt), from a seeded Gaussian.
pub fn orthonormal(p: i64, count: usize, seed: i64) -> Vec<Tensor> {
    tch::manual_seed(seed);
    let mut out: Vec<Tensor> = Vec::new();
    for _ in 0..count {
        let mut v = Tensor::randn([p], (Kind::Double, Device::Cpu));
        for u in &out {
            let c = v.dot(u);
            v -= u * c;
        }
        let n = v.norm();
        out.push(v / n);
    }
    out
}

/// A planted path: `theta_i = theta_final + s_i u + t_i w + noise_i` over the active entries
/// (the final point exactly theta_final), with `|s|` up to 3 and `|t|` up to 1, and the inactive
/// float tensors (biases, BN) moved by large random amounts so that ignoring them matters.
/// Returns the checkpoint files (epochs 0..n) and `(u, w)`.
pub fn planted_path(
    model: &dyn Model,
    dir: &Path,
    n: usize,
    noise: f64,
    scope: Scope,
    ignore: Ignore,
) -> (Vec<PathBuf>, Tensor, Tensor) {
    let theta_final = flatten_model(model, scope, ignore);
    let p = theta_final.size()[0];
    let basis = orthonormal(p, 2, 11);
    let (u, w) = (basis[0].shallow_clone(), basis[1].shallow_clone());
    let meta = meta(model);
    let mut files = Vec::new();
    tch::manual_seed(5);
    for i in 0..n {
        let f = 1.0 - i as f64 / (n - 1) as f64; // 1 at the start, 0 at the end
        let s = 3.0 * f;
        let t = (std::f64::consts::PI * f).sin();
        let eps = if i + 1 == n { Tensor::zeros([p], (Kind::Double, Device::Cpu)) } else {
            Tensor::randn([p], (Kind::Double, Device::Cpu)) * (noise / (p as f64).sqrt())
        };
        let point = &theta_final + &u * s + &w * t + eps;
        set_flat(model, &point, scope, ignore);
        if i + 1 < n {
            // Large moves of the tensors the rows leave out.
            let _guard = tch::no_grad_guard();
            for x in model.named_tensors() {
                if x.tensor.is_floating_point() && !active(x.role, x.tensor.dim(), scope, ignore) {
                    let r = Tensor::randn(x.tensor.size(), (x.tensor.kind(), Device::Cpu)).abs() * 5.0;
                    x.tensor.shallow_clone().copy_(&(r + 0.5));
                }
            }
        }
        let path = dir.join(format!("epoch-{i:04}.safetensors"));
        let mut m = meta.clone();
        m.epoch = Some(i as u64);
        checkpoint::save(model, &m, &path).unwrap();
        files.push(path);
    }
    (files, u, w)
}

/// `|cos|` of two vectors.
pub fn abs_cos(a: &Tensor, b: &Tensor) -> f64 {
    (a.dot(b).double_value(&[]) / (a.norm().double_value(&[]) * b.norm().double_value(&[]))).abs()
}
