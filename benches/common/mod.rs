//! Set-up shared by the criterion benchmarks: the device and thread count from the environment,
//! seeded synthetic CIFAR-sized data and models, all built outside the timed parts.

#![allow(dead_code)]

use losscape::data::rng::{int_tensor, normal_tensor};
use losscape::data::Dataset;
use losscape::models::{build, BuildSpec, Model};
use tch::{Device, Kind};

/// Seed of the model weights.
pub const MODEL_SEED: u64 = 1;
/// Seed of the synthetic images (labels use the next one).
pub const DATA_SEED: u64 = 3;

/// The devices to benchmark: the CPU, and with the `cuda` feature the first GPU when libtorch
/// sees one.
pub fn devices() -> Vec<Device> {
    let mut devices = vec![Device::Cpu];
    // The CUDA kernels are loaded at run time (docs/gpu.md) before libtorch is asked for GPUs.
    if cfg!(feature = "cuda") && losscape::core::cuda::ensure_cuda().is_ok() && tch::Cuda::is_available() {
        devices.push(Device::Cuda(0));
    }
    devices
}

/// Sets libtorch's threads from `LOSSCAPE_BENCH_THREADS` (default: libtorch's own, all cores)
/// and returns the count in effect.
pub fn threads() -> i32 {
    if let Some(t) = env_number("LOSSCAPE_BENCH_THREADS") {
        tch::set_num_threads(t as i32);
    }
    tch::get_num_threads()
}

/// A positive integer from the environment variable `name`.
pub fn env_number(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.trim().parse().ok().filter(|n| *n > 0)
}

/// The device's name in benchmark ids, with the CPU thread count: `cpu-t2`, `cuda0`.
pub fn device_name(device: Device, threads: i32) -> String {
    match device {
        Device::Cuda(i) => format!("cuda{i}"),
        _ => format!("cpu-t{threads}"),
    }
}

/// `images` seeded N(0, 1) images of 3x32x32 with 10 seeded classes, on `device`.
pub fn synthetic_data(images: i64, device: Device) -> Dataset {
    let xs = normal_tensor(DATA_SEED, &[images, 3, 32, 32], Kind::Float);
    let ys = int_tensor(DATA_SEED + 1, images as usize, 10);
    Dataset::new(xs, ys, 10, "synthetic").and_then(|d| d.to_device(device)).expect("synthetic data")
}

/// The f32 network `spec` for 3x32x32 images of 10 classes, seeded, on `device`.
pub fn model(spec: &str, device: Device) -> Box<dyn Model> {
    let spec = spec.parse().expect("a valid model spec");
    build(&BuildSpec::new(spec), device, MODEL_SEED).expect("a built model")
}
