//! Measures the evaluator's forward-pass variants side by side on synthetic CIFAR-sized data:
//! points per second (one point = one evaluation of the whole set) of the plain eval-mode forward
//! and of the BN-folded fast path, in every memory layout (oneDNN's blocked one with reordered
//! weights included), in f32 and bf16, and at several batch sizes, as the median of interleaved rounds (the ratios are what matter on a shared machine). The weights are
//! a fresh initialization: timings do not depend on them (equality is tested in
//! `tests/fast_path.rs`).
//!
//! `cargo run --release -p losscape-landscape --example fast_eval -- [spec] [images] [threads] [rounds] [only]`
//! (defaults: resnet20 2000 2 3; `only`: comma-separated substrings of the variant names to keep,
//! the first variant kept is the reference of the ratios).

use std::time::Instant;

use losscape_data::rng::{int_tensor, normal_tensor};
use losscape_data::Dataset;
use losscape_landscape::{EvalPath, Evaluator, FastForward, Layout, LossKind};
use losscape_models::{build, BuildSpec};
use tch::{Device, Kind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let spec = args.first().map(String::as_str).unwrap_or("resnet20").parse()?;
    let images: i64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(2000);
    let threads: i32 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(2);
    let rounds: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(3);
    tch::set_num_threads(threads);

    let model = build(&BuildSpec::new(spec), Device::Cpu, 1)?;
    let xs = normal_tensor(3, &[images, 3, 32, 32], Kind::Float);
    let ys = int_tensor(4, images as usize, 10);
    let data = Dataset::new(xs, ys, 10, "synthetic")?;

    // Plain(ChannelsLast): the model's own forward on channels-last images (BN not folded).
    let mut variants: Vec<(String, usize, EvalPath)> = [
        (128, EvalPath::Plain),
        (32, EvalPath::Plain),
        (32, EvalPath::PlainLayout(Layout::ChannelsLast)),
        (128, EvalPath::Folded(Layout::Contiguous)),
        (32, EvalPath::Folded(Layout::Contiguous)),
        (128, EvalPath::Folded(Layout::ChannelsLast)),
        (64, EvalPath::Folded(Layout::ChannelsLast)),
        (32, EvalPath::Folded(Layout::ChannelsLast)),
        (16, EvalPath::Folded(Layout::ChannelsLast)),
    ]
    .into_iter()
    .map(|(b, p)| (format!("{p:?} batch {b}"), b, p))
    .collect();
    // The fast path over oneDNN's layout (weights reordered at each fold) and in bf16.
    let plans: Vec<(String, usize, FastForward)> = [
        (32, Layout::Mkldnn, None),
        (64, Layout::Mkldnn, None),
        (32, Layout::ChannelsLast, Some(Kind::BFloat16)),
        (64, Layout::ChannelsLast, Some(Kind::BFloat16)),
    ]
    .into_iter()
    .filter_map(|(b, layout, kind)| {
        let plan = FastForward::new(model.as_ref(), layout)?;
        let plan = match kind {
            Some(k) => plan.with_kind(k),
            None => plan,
        };
        Some((format!("Folded({layout:?}) {} batch {b}", if kind.is_some() { "bf16" } else { "f32" }), b, plan))
    })
    .collect();
    let first_plan = variants.len();
    for (name, b, _) in &plans {
        variants.push((name.clone(), *b, EvalPath::Auto));
    }
    let only: Vec<String> = args.get(4).map(|s| s.split(',').map(str::to_owned).collect()).unwrap_or_default();
    let keep: Vec<bool> = variants.iter().map(|(name, _, _)| only.is_empty() || only.iter().any(|o| name.contains(o.as_str()))).collect();

    let mut times = vec![Vec::new(); variants.len()];
    let mut losses = vec![0.0; variants.len()];
    for round in 0..=rounds {
        for (i, (_, batch_size, path)) in variants.iter().enumerate() {
            if !keep[i] {
                continue;
            }
            let eval = Evaluator { batch_size: *batch_size, loss: LossKind::CrossEntropy };
            let start = Instant::now();
            losses[i] = match i.checked_sub(first_plan) {
                Some(k) => eval.evaluate_planned(model.as_ref(), Some(&plans[k].2), Layout::Contiguous, &data)?.loss,
                None => eval.evaluate_with(model.as_ref(), &data, *path)?.loss,
            };
            if round > 0 {
                times[i].push(start.elapsed().as_secs_f64()); // round 0 is the warm-up
            }
        }
    }
    println!("{spec}, {images} images, {threads} thread(s), median of {rounds} rounds");
    let first = keep.iter().position(|k| *k).ok_or("no variant matches")?;
    let base = median(&mut times[first].clone());
    for (i, (name, _, _)) in variants.iter().enumerate() {
        if !keep[i] {
            continue;
        }
        let t = median(&mut times[i]);
        let rel = (losses[i] - losses[first]).abs() / losses[first].abs();
        println!("{name:<40} {:7.3} points/s  x{:5.2}  loss {:.7} (rel {rel:.1e})", 1.0 / t, base / t, losses[i]);
    }
    Ok(())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
