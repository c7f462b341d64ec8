//! Grid-evaluation throughput: one iteration is one grid point (the weights written to
//! `theta* + a d1 + b d2` by an `Anchor`, then loss and accuracy over the whole synthetic set),
//! for ResNet-20 and ResNet-56 with and without shortcuts, comparing the evaluator's fast path
//! (BN folded, channels-last, cache-sized batches) with a straightforward loop (the model's plain
//! eval-mode forward at batch 128), the fast path in bf16 (`fast-bf16-b*`, the plan of
//! `--precision bf16`; left out on CPUs without native bf16, where it is emulated), and the fast
//! path with early stopping (`auto-0.01`: `--samples auto --rel-error 0.01`, which stops at a
//! point once the mean loss's standard error is 1% of it, at least 256 images). Time per
//! iteration is seconds per point; the throughput line is images of a full evaluation per second.
//!
//! Environment: `LOSSCAPE_BENCH_IMAGES` (default 512), `LOSSCAPE_BENCH_THREADS` (default all
//! cores); with `--features cuda`, also the first GPU.

mod common;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use losscape::directions::{Anchor, Direction, RandomSpec, Scope};
use losscape::core::Precision;
use losscape::landscape::sampled::{evaluate_sampled, permuted};
use losscape::landscape::{precision, sampling, EvalPath, Evaluator, FastForward, Layout, LossKind, Sampling};

const MODELS: [&str; 4] = ["resnet20", "resnet20-noshort", "resnet56", "resnet56-noshort"];
/// The grid points visited in turn (a 3 x 3 patch of a [-1, 1]^2 plane).
const POINTS: [(f64, f64); 9] =
    [(-0.5, -0.5), (-0.5, 0.0), (-0.5, 0.5), (0.0, -0.5), (0.0, 0.0), (0.0, 0.5), (0.5, -0.5), (0.5, 0.0), (0.5, 0.5)];

fn grid_eval(c: &mut Criterion) {
    let threads = common::threads();
    let images = common::env_number("LOSSCAPE_BENCH_IMAGES").unwrap_or(512);
    for device in common::devices() {
        let data = common::synthetic_data(images as i64, device);
        let fast = Evaluator::new(device, LossKind::CrossEntropy);
        let plain = Evaluator { batch_size: 128, loss: LossKind::CrossEntropy };
        let variants = [(format!("fast-b{}", fast.batch_size), fast.clone(), EvalPath::Auto), ("plain-b128".to_string(), plain, EvalPath::Plain)];
        let bf16 = device != tch::Device::Cpu || losscape::core::precision::cpu_has_native_bf16() == Some(true);
        let mut group = c.benchmark_group(format!("grid_eval/{}/{images}img", common::device_name(device, threads)));
        group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
        group.throughput(Throughput::Elements(images as u64));
        for spec in MODELS {
            let model = common::model(spec, device);
            let directions: Vec<Direction> = (0..2)
                .map(|k| Direction::random(model.as_ref(), &RandomSpec { seed: 10 + k, ..RandomSpec::default() }))
                .collect::<Result<_, _>>()
                .expect("random directions");
            let anchor = Anchor::new(model.as_ref(), Scope::Weights).expect("an anchor");
            for (name, evaluator, path) in &variants {
                let mut next = 0;
                group.bench_function(BenchmarkId::new(spec, name), |b| {
                    b.iter(|| {
                        let (x, y) = POINTS[next % POINTS.len()];
                        next += 1;
                        anchor.set(&[(&directions[0], x), (&directions[1], y)]).expect("weights written");
                        evaluator.evaluate_with(model.as_ref(), &data, *path).expect("an evaluation")
                    })
                });
            }
            if bf16 {
                let plan = precision::plan_in(model.as_ref(), Precision::Bf16).expect("a bf16 plan");
                let mut next = 0;
                group.bench_function(BenchmarkId::new(spec, format!("fast-bf16-b{}", fast.batch_size)), |b| {
                    b.iter(|| {
                        let (x, y) = POINTS[next % POINTS.len()];
                        next += 1;
                        anchor.set(&[(&directions[0], x), (&directions[1], y)]).expect("weights written");
                        fast.evaluate_planned(model.as_ref(), plan.as_ref(), Layout::Contiguous, &data).expect("an evaluation")
                    })
                });
            }
            let sampling = Sampling::new(0.01, sampling::DEFAULT_MIN_SAMPLES, 0).expect("sampling settings");
            let (ordered, plan) = (permuted(&data, sampling.seed).expect("a permutation"), FastForward::new(model.as_ref(), Layout::ChannelsLast));
            let mut next = 0;
            group.bench_function(BenchmarkId::new(spec, "auto-0.01"), |b| {
                b.iter(|| {
                    let (x, y) = POINTS[next % POINTS.len()];
                    next += 1;
                    anchor.set(&[(&directions[0], x), (&directions[1], y)]).expect("weights written");
                    evaluate_sampled(&variants[0].1, model.as_ref(), plan.as_ref(), Layout::Contiguous, &ordered, &sampling).expect("an evaluation")
                })
            });
            anchor.restore().expect("weights restored");
        }
        group.finish();
    }
}

criterion_group!(benches, grid_eval);
criterion_main!(benches);
