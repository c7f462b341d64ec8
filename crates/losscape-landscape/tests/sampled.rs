//! Early stopping with error bars (`Sampling`): the stopping rule against an independent
//! computation on losses of known variance, the per-example losses against the batch sums, the
//! statistical property of the estimates over a synthetic surface (within 3 standard errors of
//! the full evaluation at >= 99% of the points), determinism, resume, merge and the exports.

use std::collections::BTreeMap;
use std::time::Duration;

use losscape_core::Silent;
use losscape_data::rng::{int_tensor, normal_tensor, SplitMix64};
use losscape_data::Dataset;
use losscape_directions::{Direction, RandomSpec};
use losscape_landscape::evaluate::{Evaluator, LossKind};
use losscape_landscape::export::{write_csv, write_npz, write_vtp, VtpOptions};
use losscape_landscape::run::{metric_names, run_grid, GridJob, LossMetrics, PointMetrics};
use losscape_landscape::sampled::{evaluate_sampled, example_losses, permuted};
use losscape_landscape::{Grid, Layout, Sampling, Shard, Surface, SurfaceHeader};
use losscape_models::{Model, NamedTensor, Role};
use tch::{Device, Kind, Tensor};

/// flatten -> linear (no bias), in f64.
struct Linear {
    w: Tensor,
}

impl Model for Linear {
    fn spec(&self) -> String {
        "linear".into()
    }
    fn forward_t(&self, xs: &Tensor, _train: bool) -> Tensor {
        xs.flatten(1, -1).matmul(&self.w.tr())
    }
    fn named_tensors(&self) -> Vec<NamedTensor> {
        vec![NamedTensor { name: "fc.weight".into(), role: Role::LinearWeight, tensor: self.w.shallow_clone() }]
    }
    fn device(&self) -> Device {
        Device::Cpu
    }
    fn kind(&self) -> Kind {
        Kind::Double
    }
}

/// The sample mean and its standard error by the two-pass formula.
fn two_pass(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

#[test]
fn the_rule_stops_at_the_first_batch_where_the_error_is_small_enough() {
    // A zero model with regression targets y ~ N(0, 1): each example's loss is y^2, a chi-square
    // with one degree of freedom (mean 1, standard deviation sqrt 2), so the count needed for a
    // relative standard error E is about 2 / E^2.
    let n = 20_000;
    let ys = normal_tensor(11, &[n], Kind::Double);
    let raw = Dataset::of_examples(Tensor::zeros([n, 1], (Kind::Double, Device::Cpu)), ys, 1, "chi2").unwrap();
    let model = Linear { w: Tensor::zeros([1, 1], (Kind::Double, Device::Cpu)) };
    let eval = Evaluator { batch_size: 16, loss: LossKind::Mse };
    let sampling = Sampling::new(0.05, 64, 9).unwrap();
    let data = permuted(&raw, sampling.seed).unwrap();
    let got = evaluate_sampled(&eval, &model, None, Layout::Contiguous, &data, &sampling).unwrap();

    // Independently: the permuted targets squared (the labels are stored as f32), batch by batch.
    let order = SplitMix64::new(9).permutation(n as usize);
    let stored: Vec<f64> = Vec::try_from(raw.labels.to_kind(Kind::Double)).unwrap();
    let losses: Vec<f64> = order.iter().map(|&i| stored[i as usize].powi(2)).collect();
    let stop = (16..=n as usize)
        .step_by(16)
        .find(|&k| k >= 64 && { let (m, se) = two_pass(&losses[..k]); se <= 0.05 * m })
        .unwrap();
    assert_eq!(got.count, stop);
    let (mean, se) = two_pass(&losses[..stop]);
    assert!((got.loss - mean).abs() <= 1e-12 * mean, "{} vs {mean}", got.loss);
    assert!((got.loss_se - se).abs() <= 1e-9 * se, "{} vs {se}", got.loss_se);
    assert!(got.loss_se <= 0.05 * got.loss);
    let (m, s) = two_pass(&losses[..stop - 16]);
    assert!(stop - 16 < 64 || s > 0.05 * m, "the batch before would have stopped already");
    // About 2 / 0.05^2 = 800 examples (the estimated variance varies).
    assert!((500..=1300).contains(&got.count), "stopped after {}", got.count);
    assert!(got.accuracy.is_nan() && got.accuracy_se.is_nan(), "regression has no accuracy");

    // The floor holds even when the error is met earlier, and the data may run out first.
    let floor = evaluate_sampled(&eval, &model, None, Layout::Contiguous, &data, &Sampling::new(0.5, 3000, 9).unwrap()).unwrap();
    assert_eq!(floor.count, 3008, "whole batches up to the floor");
    let small = data.select(&(0..100).collect::<Vec<i64>>(), "small").unwrap();
    let all = evaluate_sampled(&eval, &model, None, Layout::Contiguous, &small, &sampling).unwrap();
    assert_eq!(all.count, 100);
    let whole = eval.evaluate(&model, &small).unwrap().loss;
    assert!((all.loss - whole).abs() <= 1e-12 * whole, "{} vs {whole}", all.loss);
}

#[test]
fn per_example_losses_add_up_to_the_batch_loss() {
    let outputs = normal_tensor(3, &[13, 5], Kind::Double) * 3.0;
    let labels = int_tensor(4, 13, 5);
    for loss in [LossKind::CrossEntropy, LossKind::MseSoftmax, LossKind::Mse] {
        let each = example_losses(loss, &outputs, &labels).unwrap();
        assert_eq!(each.size(), vec![13]);
        let sum = each.sum(Kind::Double).double_value(&[]);
        let batch = loss.batch_sum(&outputs, &labels).unwrap();
        assert!((sum - batch).abs() <= 1e-12 * batch.abs(), "{loss}: {sum} vs {batch}");
    }
    let targets = normal_tensor(5, &[13, 5], Kind::Float);
    let each = example_losses(LossKind::Mse, &outputs, &targets).unwrap();
    let batch = LossKind::Mse.batch_sum(&outputs, &targets).unwrap();
    assert!((each.sum(Kind::Double).double_value(&[]) - batch).abs() <= 1e-12 * batch);
    assert!(example_losses(LossKind::CrossEntropy, &outputs, &targets).is_err());
}

/// A seeded 4-class problem on 9 features that a random linear model gets partly right.
fn classes(n: i64) -> (Dataset, Linear) {
    let x = normal_tensor(21, &[n, 9], Kind::Double);
    let truth = normal_tensor(22, &[4, 9], Kind::Double);
    let noise = normal_tensor(23, &[n, 4], Kind::Double) * 2.0;
    let labels = (x.matmul(&truth.tr()) + noise).argmax(-1, false);
    let data = Dataset::of_examples(x.view([n, 1, 3, 3]), labels, 4, "classes").unwrap();
    let model = Linear { w: (truth * 0.3 + normal_tensor(24, &[4, 9], Kind::Double) * 0.2).set_requires_grad(true) };
    (data, model)
}

fn directions(model: &Linear) -> Vec<Direction> {
    (0..2)
        .map(|k| Direction::random(model, &RandomSpec { seed: 40 + k, ..RandomSpec::default() }).unwrap())
        .collect()
}

/// Runs `metrics` over `grid` into `path`.
fn run(model: &Linear, dirs: &[Direction], metrics: &mut dyn PointMetrics, header: &SurfaceHeader, path: &std::path::Path, shard: Shard) {
    let job = GridJob { model, directions: dirs, shard, save_interval: Duration::from_secs(3600) };
    run_grid(&job, metrics, path, header.clone(), &Silent).unwrap();
}

fn sampled_header(grid: &Grid, sampling: Sampling) -> SurfaceHeader {
    let mut header = SurfaceHeader::new(grid.clone(), Sampling::arrays(&metric_names(true, false)));
    header.loss = "cross_entropy".into();
    header.sampling = Some(sampling);
    header
}

/// The property the issue asks for. On one surface every point walks the same permutation
/// (common random numbers: neighbouring points share their sample, so the surface is smooth), so
/// the points' deviations are strongly correlated and one surface is only a few independent
/// trials: at seed 1 on a 21x21 grid, 11 neighbouring points stopped on the same unlucky prefix
/// at 3.0 to 3.2 standard errors. The share is therefore measured over 8 permutation seeds
/// (968 points), together with the calibration of the standard error (the root mean square of
/// deviation / SE; about sqrt(1 - n/N) < 1 when SE is right, far from 1 when it is not).
#[test]
fn sampled_values_are_within_three_standard_errors_of_the_full_evaluation_at_99_percent_of_points() {
    let dir = tempfile::tempdir().unwrap();
    let n = 12_000;
    let (data, model) = classes(n);
    let dirs = directions(&model);
    let grid = Grid::new("-1:1:11".parse().unwrap(), Some("-1:1:11".parse().unwrap())).unwrap();
    let eval = Evaluator { batch_size: 200, loss: LossKind::CrossEntropy };

    let full_path = dir.path().join("full.surface");
    let mut full = LossMetrics::new(&model, eval.clone(), Some(&data), None);
    let mut header = SurfaceHeader::new(grid.clone(), metric_names(true, false));
    header.loss = "cross_entropy".into();
    run(&model, &dirs, &mut full, &header, &full_path, Shard::all());
    let full = Surface::load(&full_path).unwrap();

    let (mut points, mut within, mut squares, mut used) = (0usize, [0usize; 2], 0.0, 0.0);
    for seed in 1..=8 {
        let sampling = Sampling::new(0.02, 256, seed).unwrap();
        let ordered = permuted(&data, sampling.seed).unwrap();
        let auto_path = dir.path().join(format!("auto{seed}.surface"));
        let mut auto = LossMetrics::new(&model, eval.clone(), Some(&ordered), None).with_sampling(Some(sampling));
        run(&model, &dirs, &mut auto, &sampled_header(&grid, sampling), &auto_path, Shard::all());
        let auto = Surface::load(&auto_path).unwrap();
        let (count, loss, se) = (auto.array("train_count").unwrap(), auto.array("train_loss").unwrap(), auto.array("train_loss_se").unwrap());
        for i in 0..grid.len() {
            for (k, metric) in ["train_loss", "train_acc"].into_iter().enumerate() {
                let deviation = (auto.array(metric).unwrap()[i] - full.array(metric).unwrap()[i]).abs();
                let se = auto.array(&format!("{metric}_se")).unwrap()[i];
                within[k] += usize::from(deviation <= 3.0 * se);
                if k == 0 {
                    squares += (deviation / se).powi(2);
                }
            }
            assert!(count[i] == n as f64 || se[i] <= 0.02 * loss[i], "seed {seed}, point {i}");
            assert!(count[i] >= 256.0 && count[i] % 200.0 == 0.0 || count[i] == n as f64, "seed {seed}, point {i}: {}", count[i]);
            used += count[i];
        }
        points += grid.len();
    }
    let share = used / (points as f64 * n as f64);
    let rms = (squares / points as f64).sqrt();
    assert!(within[0] * 100 >= 99 * points, "loss within 3 SE at {} of {points} points", within[0]);
    assert!(within[1] * 100 >= 99 * points, "accuracy within 3 SE at {} of {points} points", within[1]);
    assert!((0.5..=1.5).contains(&rms), "root mean square of deviation / SE: {rms}");
    // The test means something only if points stop early: most do here.
    assert!(share < 0.5, "evaluated {share} of the examples");
}

#[test]
fn sampled_surfaces_are_deterministic_resume_and_merge_and_refuse_other_sampling_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (data, model) = classes(3000);
    let dirs = directions(&model);
    let grid = Grid::new("-1:1:5".parse().unwrap(), Some("-1:1:4".parse().unwrap())).unwrap();
    let eval = Evaluator { batch_size: 64, loss: LossKind::CrossEntropy };
    let sampling = Sampling::new(0.03, 128, 5).unwrap();
    let ordered = permuted(&data, sampling.seed).unwrap();
    let header = sampled_header(&grid, sampling);
    let metrics = || LossMetrics::new(&model, eval.clone(), Some(&ordered), None).with_sampling(Some(sampling));
    let arrays = |s: &Surface| -> BTreeMap<String, Vec<u64>> {
        s.header().arrays.iter().map(|a| (a.clone(), s.array(a).unwrap().iter().map(|v| v.to_bits()).collect())).collect()
    };

    let (one, two) = (dir.path().join("one.surface"), dir.path().join("two.surface"));
    run(&model, &dirs, &mut metrics(), &header, &one, Shard::all());
    run(&model, &dirs, &mut metrics(), &header, &two, Shard::all());
    let reference = Surface::load(&one).unwrap();
    assert_eq!(arrays(&reference), arrays(&Surface::load(&two).unwrap()), "same seed, same values");
    assert!(reference.array("train_count").unwrap().iter().any(|&c| c < 3000.0), "some points stop early");

    // A run that stopped after 7 points resumes and computes the rest, to the same bits.
    let resumed = dir.path().join("resumed.surface");
    let mut partial = Surface::new(header.clone()).unwrap();
    let run_id = partial.begin_run(Shard::all());
    for i in 0..7 {
        partial.set_point(i, &reference.point_values(i).unwrap(), run_id).unwrap();
    }
    partial.save(&resumed).unwrap();
    run(&model, &dirs, &mut metrics(), &header, &resumed, Shard::all());
    let resumed = Surface::load(&resumed).unwrap();
    assert_eq!(resumed.runs().len(), 2);
    assert_eq!(arrays(&resumed), arrays(&reference));

    // Two shards merged equal the single run.
    let parts: Vec<_> = ["0/2", "1/2"].iter().map(|s| dir.path().join(format!("part{}.surface", &s[..1]))).collect();
    for (path, shard) in parts.iter().zip(["0/2", "1/2"]) {
        run(&model, &dirs, &mut metrics(), &header, path, shard.parse().unwrap());
    }
    let mut merged = Surface::load(&parts[0]).unwrap();
    merged.merge(&Surface::load(&parts[1]).unwrap()).unwrap();
    assert_eq!(arrays(&merged), arrays(&reference));

    // Other sampling settings, or none, are refused with one line naming both.
    let other = Sampling::new(0.05, 128, 5).unwrap();
    let job = GridJob { model: &model, directions: &dirs, shard: Shard::all(), save_interval: Duration::from_secs(3600) };
    let mut m = LossMetrics::new(&model, eval.clone(), Some(&ordered), None).with_sampling(Some(other));
    let err = run_grid(&job, &mut m, &one, sampled_header(&grid, other), &Silent).unwrap_err().to_string();
    assert!(!err.contains('\n') && err.contains("relative standard error 0.03") && err.contains("relative standard error 0.05"), "{err}");
    let mut plain = LossMetrics::new(&model, eval.clone(), Some(&ordered), None);
    let mut plain_header = SurfaceHeader::new(grid.clone(), metric_names(true, false));
    plain_header.loss = "cross_entropy".into();
    let err = run_grid(&job, &mut plain, &one, plain_header, &Silent).unwrap_err().to_string();
    assert!(!err.contains('\n') && err.contains("every example"), "{err}");
}

#[test]
fn the_exports_carry_the_standard_errors_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let (data, model) = classes(2000);
    let dirs = directions(&model);
    let grid = Grid::new("-1:1:3".parse().unwrap(), Some("-1:1:4".parse().unwrap())).unwrap();
    let eval = Evaluator { batch_size: 50, loss: LossKind::CrossEntropy };
    let sampling = Sampling::new(0.05, 100, 2).unwrap();
    let ordered = permuted(&data, sampling.seed).unwrap();
    let path = dir.path().join("s.surface");
    let mut metrics = LossMetrics::new(&model, eval, Some(&ordered), None).with_sampling(Some(sampling));
    run(&model, &dirs, &mut metrics, &sampled_header(&grid, sampling), &path, Shard::all());
    let surface = Surface::load(&path).unwrap();
    let names = ["train_loss_se", "train_acc_se", "train_count"];

    let npz = dir.path().join("s.npz");
    write_npz(&surface, &npz).unwrap();
    let tensors: BTreeMap<String, Tensor> = Tensor::read_npz(&npz).unwrap().into_iter().collect();
    for name in names {
        assert_eq!(tensors[name].size(), vec![3, 4]);
        let back: Vec<f64> = Vec::try_from(tensors[name].flatten(0, -1)).unwrap();
        assert_eq!(back, surface.array(name).unwrap(), "{name}");
    }

    let csv = dir.path().join("s.csv");
    write_csv(&surface, &csv).unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    let columns: Vec<&str> = lines.next().unwrap().split(',').collect();
    for name in names {
        let k = columns.iter().position(|c| *c == name).unwrap_or_else(|| panic!("{name} in {columns:?}"));
        let back: Vec<f64> = text.lines().skip(1).map(|l| l.split(',').nth(k).unwrap().parse().unwrap()).collect();
        assert_eq!(back, surface.array(name).unwrap(), "{name}");
    }

    let vtp = dir.path().join("s.vtp");
    write_vtp(&surface, &VtpOptions::default(), &vtp).unwrap();
    let xml = std::fs::read_to_string(&vtp).unwrap();
    for name in names {
        assert!(xml.contains(&format!("Name=\"{name}\"")), "{name} in the vtp");
    }
}
