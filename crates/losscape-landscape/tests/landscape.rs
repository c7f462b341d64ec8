//! End-to-end checks of the evaluator and the grid driver against independent computations.

use std::time::Duration;

use approx::relative_eq;
use losscape_core::Silent;
use losscape_data::Dataset;
use losscape_directions::{Anchor, Direction, RandomSpec, Scope};
use losscape_landscape::evaluate::{Evaluator, LossKind};
use losscape_landscape::run::{metric_names, run_surface, SurfaceJob};
use losscape_landscape::{Grid, Shard, Surface, SurfaceHeader};
use losscape_models::{checkpoint, Model, ModelSpec, NamedTensor, Role};
use losscape_core::Precision;
use tch::{Device, Kind, Tensor};

fn toy_data(n: i64, channels: i64, size: i64, classes: i64, seed: i64, kind: Kind) -> Dataset {
    tch::manual_seed(seed);
    let images = Tensor::randn([n, channels, size, size], (kind, Device::Cpu));
    let labels = Tensor::randint(classes, [n], (Kind::Int64, Device::Cpu));
    Dataset::new(images, labels, classes, "toy").unwrap()
}

fn header(grid: Grid, arrays: Vec<String>, loss: LossKind) -> SurfaceHeader {
    SurfaceHeader { loss: loss.name().into(), ..SurfaceHeader::new(grid, arrays) }
}

#[test]
fn resnet_surface_matches_fresh_models_and_keeps_the_base() {
    let dir = tempfile::tempdir().unwrap();
    let spec: ModelSpec = "resnet8".parse().unwrap();
    let model = losscape_models::build(&losscape_models::BuildSpec { in_channels: 1, image_size: [12, 12], ..losscape_models::BuildSpec::new(spec) }, Device::Cpu, 3).unwrap();
    let data = toy_data(48, 1, 12, 10, 5, Kind::Float);
    let eval = Evaluator { batch_size: 16, loss: LossKind::CrossEntropy };
    let d1 = Direction::random(model.as_ref(), &RandomSpec { seed: 1, ..Default::default() }).unwrap();
    let d2 = Direction::random(model.as_ref(), &RandomSpec { seed: 2, ..Default::default() }).unwrap();
    let dirs = vec![d1, d2];
    let anchor = Anchor::new(model.as_ref(), Scope::States).unwrap();
    let base_hash = anchor.base_hash().unwrap();
    let own = eval.evaluate(model.as_ref(), &data).unwrap();

    let grid = Grid::new("-1:1:5".parse().unwrap(), Some("-0.5:0.5:3".parse().unwrap())).unwrap();
    let path = dir.path().join("s.surface");
    let job = SurfaceJob {
        model: model.as_ref(),
        directions: &dirs,
        train: Some(&data),
        test: None,
        evaluator: eval.clone(),
        shard: Shard::all(),
        save_interval: Duration::from_secs(60),
    };
    let report = run_surface(&job, &path, header(grid.clone(), metric_names(true, false), eval.loss), &Silent).unwrap();
    assert_eq!(report.computed, 15);
    assert_eq!(anchor.live_hash().unwrap(), base_hash, "the base weights must be restored");
    let surface = Surface::load(&path).unwrap();
    assert!(surface.is_complete());
    let loss = surface.array("train_loss").unwrap();
    let center = (0..grid.len()).find(|&i| grid.point(i) == (0.0, 0.0)).unwrap();
    assert!(relative_eq!(loss[center], own.loss, max_relative = 1e-6), "{} vs {}", loss[center], own.loss);

    // Interior points equal a fresh model loaded from a checkpoint written at that point.
    let meta = checkpoint::CheckpointMeta::new(&spec, 1, 10, [12, 12], Precision::F32);
    for index in [1, 7, 11] {
        let (a, b) = grid.point(index);
        anchor.set(&[(&dirs[0], a), (&dirs[1], b)]).unwrap();
        let file = dir.path().join(format!("p{index}.safetensors"));
        checkpoint::save(model.as_ref(), &meta, &file).unwrap();
        anchor.restore().unwrap();
        let (fresh, _) = checkpoint::load(&file, Device::Cpu).unwrap();
        let m = eval.evaluate(fresh.as_ref(), &data).unwrap();
        assert!(relative_eq!(loss[index], m.loss, max_relative = 1e-6), "point {index}: {} vs {}", loss[index], m.loss);
    }
}

/// flatten -> linear (no bias): outputs are linear in the weights, so MSE is an exact quadratic.
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

#[test]
fn linear_mse_surface_is_the_analytic_quadratic() {
    let dir = tempfile::tempdir().unwrap();
    let data = toy_data(40, 1, 3, 4, 9, Kind::Double);
    tch::manual_seed(1);
    let model = Linear { w: Tensor::randn([4, 9], (Kind::Double, Device::Cpu)).set_requires_grad(true) };
    let spec = RandomSpec { seed: 3, ..Default::default() };
    let d1 = Direction::random(&model, &spec).unwrap();
    let d2 = Direction::random(&model, &RandomSpec { seed: 4, ..spec }).unwrap();
    // L(a, b) = mean over samples and outputs of (r0 + a u + b v)^2.
    let x = data.images.flatten(1, -1);
    let y = data.labels.one_hot(4).to_kind(Kind::Double);
    let r0 = x.matmul(&model.w.detach().tr()) - &y;
    let u = x.matmul(&d1.tensors[0].1.tr());
    let v = x.matmul(&d2.tensors[0].1.tr());
    let m = |p: &Tensor, q: &Tensor| (p * q).mean(Kind::Double).double_value(&[]);
    let (c0, cu, cv, cuu, cuv, cvv) = (m(&r0, &r0), m(&r0, &u), m(&r0, &v), m(&u, &u), m(&u, &v), m(&v, &v));
    let analytic = |a: f64, b: f64| c0 + 2.0 * a * cu + 2.0 * b * cv + a * a * cuu + 2.0 * a * b * cuv + b * b * cvv;

    let dirs = vec![d1, d2];
    let grid = Grid::new("-2:0:6".parse().unwrap(), Some("0:1.5:4".parse().unwrap())).unwrap();
    let eval = Evaluator { batch_size: 7, loss: LossKind::Mse };
    let job = SurfaceJob {
        model: &model,
        directions: &dirs,
        train: Some(&data),
        test: None,
        evaluator: eval.clone(),
        shard: Shard::all(),
        save_interval: Duration::from_secs(60),
    };
    let path = dir.path().join("q.surface");
    run_surface(&job, &path, header(grid.clone(), metric_names(true, false), eval.loss), &Silent).unwrap();
    let surface = Surface::load(&path).unwrap();
    for (i, value) in surface.array("train_loss").unwrap().iter().enumerate() {
        let (a, b) = grid.point(i);
        assert!(relative_eq!(*value, analytic(a, b), max_relative = 1e-5), "({a}, {b}): {value} vs {}", analytic(a, b));
    }
}

#[test]
fn interpolation_ends_equal_the_two_models_and_shards_resume() {
    let dir = tempfile::tempdir().unwrap();
    let spec: ModelSpec = "resnet8".parse().unwrap();
    let a = losscape_models::build(&losscape_models::BuildSpec { in_channels: 1, image_size: [8, 8], ..losscape_models::BuildSpec::new(spec) }, Device::Cpu, 1).unwrap();
    let b = losscape_models::build(&losscape_models::BuildSpec { in_channels: 1, image_size: [8, 8], ..losscape_models::BuildSpec::new(spec) }, Device::Cpu, 2).unwrap();
    // Give b different BN statistics too, so "states" matters.
    let data = toy_data(32, 1, 8, 10, 2, Kind::Float);
    let _ = tch::no_grad(|| b.forward_t(&data.images, true));
    let eval = Evaluator { batch_size: 32, loss: LossKind::CrossEntropy };
    let (la, lb) = (eval.evaluate(a.as_ref(), &data).unwrap(), eval.evaluate(b.as_ref(), &data).unwrap());
    let dirs = vec![Direction::between(a.as_ref(), b.as_ref(), Scope::States).unwrap()];
    let grid = Grid::new("-0.5:1.5:9".parse().unwrap(), None).unwrap();
    let path = dir.path().join("i.surface");
    let h = header(grid.clone(), metric_names(true, false), eval.loss);
    // Two shards, each into its own file as two job-array tasks would, then merged; a shard
    // into a file that holds another shard's points is refused.
    let shard_job = |shard: &str| SurfaceJob {
        model: a.as_ref(),
        directions: &dirs,
        train: Some(&data),
        test: None,
        evaluator: eval.clone(),
        shard: shard.parse().unwrap(),
        save_interval: Duration::from_secs(60),
    };
    let part = |k: usize| dir.path().join(format!("i.part{k}.surface"));
    for (k, shard) in ["1/2", "0/2"].into_iter().enumerate() {
        run_surface(&shard_job(shard), &part(k), h.clone(), &Silent).unwrap();
    }
    let err = run_surface(&shard_job("0/2"), &part(0), h.clone(), &Silent).unwrap_err().to_string();
    assert!(err.contains("each shard needs its own file"), "{err}");
    let mut merged = Surface::load(&part(0)).unwrap();
    merged.merge(&Surface::load(&part(1)).unwrap()).unwrap();
    merged.save(&path).unwrap();
    let s = Surface::load(&path).unwrap();
    assert!(s.is_complete());
    let loss = s.array("train_loss").unwrap();
    assert!(relative_eq!(loss[2], la.loss, max_relative = 1e-6), "a=0: {} vs {}", loss[2], la.loss);
    assert!(relative_eq!(loss[6], lb.loss, max_relative = 1e-5), "a=1: {} vs {}", loss[6], lb.loss);
    // A rerun computes nothing; another grid is refused.
    let job = SurfaceJob {
        model: a.as_ref(),
        directions: &dirs,
        train: Some(&data),
        test: None,
        evaluator: eval.clone(),
        shard: Shard::all(),
        save_interval: Duration::from_secs(60),
    };
    assert_eq!(run_surface(&job, &path, h.clone(), &Silent).unwrap().computed, 0);
    let other = header(Grid::new("-0.5:1.5:11".parse().unwrap(), None).unwrap(), metric_names(true, false), eval.loss);
    assert!(run_surface(&job, &path, other, &Silent).is_err());
}

/// A metric that only counts its calls.
struct Calls(usize);

impl losscape_landscape::run::PointMetrics for Calls {
    fn names(&self) -> Vec<String> {
        vec!["calls".into()]
    }
    fn compute(&mut self, _model: &dyn Model) -> losscape_landscape::Result<Vec<f64>> {
        self.0 += 1;
        Ok(vec![self.0 as f64])
    }
}

#[test]
fn points_that_need_a_negative_bn_variance_are_undefined_unless_the_header_says_floor() {
    use losscape_directions::testing::TinyNet;
    use losscape_directions::{BN_VAR_FLOORED, BN_VAR_KEY, BN_VAR_UNDEFINED};
    use losscape_landscape::run::PointComputer;
    use losscape_landscape::Axis;
    let a = TinyNet::new(1, 3, Kind::Double, 1);
    let b = TinyNet::new(1, 3, Kind::Double, 2);
    let var = |m: &TinyNet| m.named_tensors().into_iter().find(|t| t.name == "bn.running_var").unwrap().tensor;
    tch::no_grad(|| {
        var(&a).copy_(&Tensor::from_slice(&[1.0f64, 2.0, 0.5, 1.0]));
        var(&b).copy_(&Tensor::from_slice(&[0.5f64, 3.0, 0.25, 1.0]));
    });
    let d = Direction::between(&a, &b, Scope::States).unwrap();
    let dirs = [d];
    // a = 0, 1, 2, 3: the first variance reaches 0 at a = 2 and is negative at a = 3 only.
    let grid = Grid::new(Axis::new(0.0, 3.0, 4).unwrap(), None).unwrap();
    let mut header = SurfaceHeader::new(grid.clone(), vec!["calls".into()]);
    for (policy, expect_nan) in [(None, true), (Some(BN_VAR_UNDEFINED), true), (Some(BN_VAR_FLOORED), false)] {
        if let Some(p) = policy {
            header.extra.insert(BN_VAR_KEY.into(), p.into());
        }
        let mut calls = Calls(0);
        let mut pc = PointComputer::new(&a, &dirs, &mut calls, &header).unwrap();
        let values: Vec<f64> = (0..4).map(|i| pc.compute(&grid, i).unwrap()[0]).collect();
        pc.restore().unwrap();
        assert!(values[..3].iter().all(|v| v.is_finite()), "{policy:?}: {values:?}");
        assert_eq!(values[3].is_nan(), expect_nan, "{policy:?}: {values:?}");
    }
    // The base is back.
    assert_eq!(Vec::<f64>::try_from(var(&a)).unwrap(), vec![1.0, 2.0, 0.5, 1.0]);
}
