//! Hessian-vector-product throughput (losscape-curvature): one iteration is one product `H v`
//! of the mean cross-entropy over the synthetic set with respect to the weights of dim > 1 (the
//! paper's setting), by double backward in batches of 128, for ResNet-20. The throughput line is
//! images per second.
//!
//! Environment: `LOSSCAPE_BENCH_HVP_IMAGES` (default 128), `LOSSCAPE_BENCH_THREADS` (default all
//! cores); with `--features cuda`, also the first GPU.

mod common;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use losscape::curvature::{HessianOperator, HvpOptions};
use losscape::data::rng::normal_tensor;
use tch::Kind;

fn hvp(c: &mut Criterion) {
    let threads = common::threads();
    let images = common::env_number("LOSSCAPE_BENCH_HVP_IMAGES").unwrap_or(128);
    for device in common::devices() {
        let data = common::synthetic_data(images as i64, device);
        let model = common::model("resnet20", device);
        let mut hessian = HessianOperator::new(model.as_ref(), &data, HvpOptions::default()).expect("a Hessian operator");
        let v = normal_tensor(5, &[hessian.dim()], Kind::Double).to_device(device);
        let mut group = c.benchmark_group(format!("hvp/{}/{images}img", common::device_name(device, threads)));
        group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
        group.throughput(Throughput::Elements(images as u64));
        group.bench_function("resnet20", |b| b.iter(|| hessian.hvp(&v).expect("a product")));
        group.finish();
    }
}

criterion_group!(benches, hvp);
criterion_main!(benches);
