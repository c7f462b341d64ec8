//! Direction-generation throughput (losscape-directions): one iteration draws one seeded random
//! Gaussian direction over the weights and filter-normalizes it (the paper's default), for
//! ResNet-20 and ResNet-56. The throughput line is parameters per second.
//!
//! Environment: `LOSSCAPE_BENCH_THREADS` (default all cores); with `--features cuda`, also the
//! first GPU.

mod common;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use losscape::directions::{Direction, RandomSpec};

fn directions(c: &mut Criterion) {
    let threads = common::threads();
    for device in common::devices() {
        let mut group = c.benchmark_group(format!("directions/{}", common::device_name(device, threads)));
        group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
        for spec in ["resnet20", "resnet56"] {
            let model = common::model(spec, device);
            group.throughput(Throughput::Elements(model.num_parameters() as u64));
            let mut seed = 0;
            group.bench_function(format!("{spec}/filter-norm"), |b| {
                b.iter(|| {
                    seed += 1;
                    Direction::random(model.as_ref(), &RandomSpec { seed, ..RandomSpec::default() }).expect("a direction")
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, directions);
criterion_main!(benches);
