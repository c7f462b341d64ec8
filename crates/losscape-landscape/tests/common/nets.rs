//! Networks and data for the evaluation tests: built-in models with trained-like BN statistics
//! and seeded synthetic images.

use losscape_core::Precision;
use losscape_data::rng::{int_tensor, normal_tensor};
use losscape_data::Dataset;
use losscape_models::{build, BuildSpec, Model, Role};
use tch::{Device, Kind};

/// A model of `spec` with the statistics and scales a trained network has: random BN running
/// statistics and affine parameters, and a head large enough that the loss depends on the input.
pub fn trained_like(spec: &str, side: i64, kind: Kind) -> Box<dyn Model> {
    let precision = if kind == Kind::Double { Precision::F64 } else { Precision::F32 };
    let model = build(&BuildSpec { image_size: [side, side], precision: precision, ..BuildSpec::new(spec.parse().unwrap()) }, Device::Cpu, 7).unwrap();
    let _guard = tch::no_grad_guard();
    for (i, t) in model.named_tensors().into_iter().enumerate() {
        let noise = normal_tensor(100 + i as u64, &t.tensor.size(), kind);
        let value = match t.role {
            Role::BnWeight => noise * 0.3 + 1.0,
            Role::BnBias | Role::BnRunningMean | Role::Bias => noise * 0.2,
            Role::BnRunningVar => (noise * 0.3).exp(),
            Role::LinearWeight => noise * 0.2,
            _ => continue,
        };
        t.tensor.shallow_clone().copy_(&value);
    }
    model
}

/// `n` seeded N(0, 1) images of 3 x side x side with seeded labels of 10 classes.
pub fn data(n: i64, side: i64, kind: Kind) -> Dataset {
    Dataset::new(normal_tensor(5, &[n, 3, side, side], kind), int_tensor(6, n as usize, 10), 10, "synthetic").unwrap()
}

/// Relative difference of `a` from `b`.
pub fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}
