//! GPU checks of the curvature path, compiled only with the `cuda` feature (they need a CUDA
//! build of libtorch and a GPU; unverified on this project's CI, which has no GPU): with the model
//! and the data on the GPU, every vector of a Lanczos run and of an SLQ start stays on the GPU
//! (each product is checked by an operator that records the devices it sees), and the products
//! equal the CPU's (1e-4 relative: cuDNN may choose other algorithms).

#![cfg(feature = "cuda")]

mod common;

use common::random_data;
use losscape_core::progress::Silent;
use losscape_curvature::{lanczos, slq_start, HessianOperator, HvpOptions, LanczosOptions, SlqOptions, SymmetricOperator};
use losscape_models::{build, BuildSpec, ModelSpec};
use tch::{Device, Kind, Tensor};

/// A [`HessianOperator`] that records the device of every vector it is given and returns.
struct Watched<'a> {
    inner: HessianOperator<'a>,
    seen: Vec<Device>,
}

impl SymmetricOperator for Watched<'_> {
    fn dim(&self) -> i64 {
        self.inner.dim()
    }
    fn device(&self) -> Device {
        self.inner.device()
    }
    fn apply(&mut self, v: &Tensor) -> losscape_curvature::Result<Tensor> {
        self.seen.push(v.device());
        let out = self.inner.apply(v)?;
        self.seen.push(out.device());
        Ok(out)
    }
}

#[test]
fn hessian_products_stay_on_the_gpu_and_equal_the_cpus() {
    if let Err(e) = losscape_core::cuda::ensure_cuda() {
        panic!("the cuda feature needs a CUDA libtorch: {e}");
    }
    assert!(tch::Cuda::is_available(), "the cuda feature needs a GPU that libtorch can see");
    let gpu = Device::Cuda(0);
    let spec: ModelSpec = "resnet8".parse().unwrap();
    let cpu_model = build(&BuildSpec { image_size: [16, 16], ..BuildSpec::new(spec) }, Device::Cpu, 3).unwrap();
    let gpu_model = build(&BuildSpec { image_size: [16, 16], ..BuildSpec::new(spec) }, gpu, 3).unwrap();
    let cpu_data = random_data(64, [3, 16, 16], 10, 1);
    let gpu_data = cpu_data.to_device(gpu).unwrap();
    let options = HvpOptions { batch_size: 32, ..HvpOptions::default() };

    let mut watched = Watched { inner: HessianOperator::new(gpu_model.as_ref(), &gpu_data, options).unwrap(), seen: Vec::new() };
    let opts = LanczosOptions { max_iter: 8, ..LanczosOptions::default() };
    let found = lanczos(&mut watched, &opts, &Silent).unwrap();
    let q = slq_start(&mut watched, &SlqOptions { starts: 1, steps: 4, seed: 0, orthogonal: false }, 0, &Silent).unwrap();
    assert!(found.max.value.is_finite() && q.nodes.len() == 4);
    assert!(!watched.seen.is_empty() && watched.seen.iter().all(|d| *d == gpu), "{:?}", watched.seen);

    let mut cpu_op = HessianOperator::new(cpu_model.as_ref(), &cpu_data, options).unwrap();
    let v = losscape_data::rng::normal_tensor(9, &[cpu_op.dim()], Kind::Double);
    let expected = cpu_op.hvp(&v).unwrap();
    let got = watched.inner.hvp(&v.to_device(gpu)).unwrap().to_device(Device::Cpu);
    let scale = expected.abs().max().double_value(&[]);
    let diff = (&got - &expected).abs().max().double_value(&[]);
    assert!(diff <= 1e-4 * scale, "{diff} vs {scale}");
}
