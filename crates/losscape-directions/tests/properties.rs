//! Property tests of directions: normalization, ignore rules, scopes, seeding, moving a model.

use losscape_directions::{testing::TinyNet, Anchor, Direction, Ignore, Norm, RandomSpec, Scope};
use losscape_models::{Model, Role};
use tch::{Kind, Tensor};

fn spec(norm: Norm, ignore: Ignore, scope: Scope, seed: u64) -> RandomSpec {
    RandomSpec { norm, ignore, scope, seed }
}

fn row_norms(t: &Tensor) -> Vec<f64> {
    let rows = t.size()[0];
    Vec::<f64>::try_from(&t.to_kind(Kind::Double).reshape([rows, -1]).norm_scalaropt_dim(2, [1i64].as_slice(), false)).unwrap()
}

fn model_tensor(model: &dyn Model, name: &str) -> Tensor {
    model.named_tensors().into_iter().find(|t| t.name == name).unwrap().tensor.detach().copy()
}

#[test]
fn filter_normalized_filters_have_the_weights_norms() {
    let model = TinyNet::new(2, 3, Kind::Float, 4);
    let d = Direction::random(&model, &spec(Norm::Filter, Ignore::BiasBn, Scope::Weights, 7)).unwrap();
    for name in ["conv.weight", "fc.weight"] {
        let dt = &d.tensors.iter().find(|(n, _)| n == name).unwrap().1;
        let got = row_norms(dt);
        let want = row_norms(&model_tensor(&model, name));
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-5 * w.max(1.0), "{name}: {g} vs {w}");
        }
    }
}

#[test]
fn layer_normalized_tensors_have_the_weights_norms() {
    let model = TinyNet::new(2, 3, Kind::Double, 4);
    let d = Direction::random(&model, &spec(Norm::Layer, Ignore::BiasBn, Scope::Weights, 7)).unwrap();
    for (name, dt) in &d.tensors {
        let w = model_tensor(&model, name);
        if w.dim() > 1 {
            let (g, w) = (dt.norm().double_value(&[]), w.norm().double_value(&[]));
            assert!((g - w).abs() <= 1e-9 * w, "{name}: {g} vs {w}");
        }
    }
}

#[test]
fn ignore_rules_for_bias_and_bn() {
    let model = TinyNet::new(1, 3, Kind::Float, 1);
    let zero = Direction::random(&model, &spec(Norm::Filter, Ignore::BiasBn, Scope::Weights, 3)).unwrap();
    let keep = Direction::random(&model, &spec(Norm::Filter, Ignore::None, Scope::Weights, 3)).unwrap();
    for ((name, z), (_, k)) in zero.tensors.iter().zip(&keep.tensors) {
        if z.dim() <= 1 {
            assert_eq!(z.abs().max().double_value(&[]), 0.0, "{name} must be zero under biasbn");
            assert!(k.equal(&model_tensor(&model, name)), "{name} must equal theta under none");
        } else {
            assert!(z.equal(k), "{name}: the rule must not change weight banks");
        }
    }
}

#[test]
fn weights_scope_leaves_bn_statistics_and_states_moves_them() {
    let model = TinyNet::new(1, 3, Kind::Float, 1);
    let stats = |m: &dyn Model| -> Vec<Tensor> {
        m.named_tensors().into_iter().filter(|t| t.role.is_bn_statistic()).map(|t| t.tensor.copy()).collect()
    };
    let before = stats(&model);
    let w = Direction::random(&model, &spec(Norm::Filter, Ignore::None, Scope::Weights, 5)).unwrap();
    assert!(w.tensors.iter().all(|(n, _)| !n.contains("running")));
    let anchor = Anchor::new(&model, Scope::Weights).unwrap();
    anchor.set(&[(&w, 0.7)]).unwrap();
    assert!(stats(&model).iter().zip(&before).all(|(a, b)| a.equal(b)));
    anchor.restore().unwrap();

    let s = Direction::random(&model, &spec(Norm::Filter, Ignore::None, Scope::States, 5)).unwrap();
    assert!(s.tensors.iter().any(|(n, _)| n == "bn.running_var"));
    assert!(s.tensors.iter().all(|(n, _)| !n.contains("num_batches")), "the counter is never perturbed");
    let anchor = Anchor::new(&model, Scope::States).unwrap();
    anchor.set(&[(&s, 0.7)]).unwrap();
    assert!(stats(&model).iter().zip(&before).all(|(a, b)| !a.equal(b)));
    anchor.restore().unwrap();
    assert!(stats(&model).iter().zip(&before).all(|(a, b)| a.equal(b)));
    // A states direction cannot be applied through a weights anchor.
    assert!(Anchor::new(&model, Scope::Weights).unwrap().set(&[(&s, 1.0)]).is_err());
}

#[test]
fn same_seed_same_direction_other_seed_other() {
    let model = TinyNet::new(1, 3, Kind::Float, 1);
    let a = Direction::random(&model, &RandomSpec { seed: 11, ..Default::default() }).unwrap();
    let b = Direction::random(&model, &RandomSpec { seed: 11, ..Default::default() }).unwrap();
    let c = Direction::random(&model, &RandomSpec { seed: 12, ..Default::default() }).unwrap();
    assert!(a.tensors.iter().zip(&b.tensors).all(|((_, x), (_, y))| x.equal(y)));
    assert!(!a.tensors[0].1.equal(&c.tensors[0].1));
}

#[test]
fn gaussian_samples_have_unit_moments() {
    let mut rng = losscape_data::rng::SplitMix64::new(99);
    let x = losscape_directions::gaussian(&mut rng, 200_001);
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.01, "mean {mean} var {var}");
}

#[test]
fn anchor_moves_exactly_and_restores() {
    let model = TinyNet::new(1, 3, Kind::Double, 2);
    let d1 = Direction::random(&model, &spec(Norm::Filter, Ignore::BiasBn, Scope::Weights, 1)).unwrap();
    let d2 = Direction::random(&model, &spec(Norm::Layer, Ignore::None, Scope::Weights, 2)).unwrap();
    let anchor = Anchor::new(&model, Scope::Weights).unwrap();
    let base = anchor.base_hash().unwrap();
    let w0 = model_tensor(&model, "conv.weight");
    anchor.set(&[(&d1, 0.25), (&d2, -1.5)]).unwrap();
    let want = &w0 + &d1.tensors[0].1 * 0.25 + &d2.tensors[0].1 * -1.5;
    let got = model_tensor(&model, "conv.weight");
    assert!(got.allclose(&want, 1e-12, 1e-12, false));
    // No drift: moving again from the base gives identical weights.
    anchor.set(&[(&d1, 0.3)]).unwrap();
    anchor.set(&[(&d1, 0.25), (&d2, -1.5)]).unwrap();
    assert!(model_tensor(&model, "conv.weight").equal(&got));
    anchor.restore().unwrap();
    assert_eq!(anchor.live_hash().unwrap(), base);
    assert_eq!(anchor.base_hash().unwrap(), base);
}

#[test]
fn target_direction_and_orthogonalization() {
    let a = TinyNet::new(1, 3, Kind::Double, 1);
    let b = TinyNet::new(1, 3, Kind::Double, 2);
    let d = Direction::between(&a, &b, Scope::States).unwrap();
    let anchor = Anchor::new(&a, Scope::States).unwrap();
    anchor.set(&[(&d, 1.0)]).unwrap();
    for (ta, tb) in a.named_tensors().iter().zip(b.named_tensors()) {
        if ta.role != Role::BnNumBatchesTracked {
            assert!(ta.tensor.allclose(&tb.tensor, 1e-12, 1e-12, false), "{}", ta.name);
        }
    }
    anchor.restore().unwrap();
    let mut r = Direction::random(&a, &spec(Norm::None, Ignore::None, Scope::States, 3)).unwrap();
    assert!(r.dot(&d).unwrap().abs() > 1e-6);
    r.orthogonalize_against(&d).unwrap();
    assert!(r.dot(&d).unwrap().abs() < 1e-9 * r.norm().unwrap() * d.norm().unwrap());
    // Directions from different architectures are refused.
    let c = TinyNet::new(2, 3, Kind::Double, 1);
    let err = Direction::between(&a, &c, Scope::Weights).unwrap_err().to_string();
    assert!(err.contains("conv.weight"), "{err}");
    assert!(d.check_fits(&c).is_err());
    d.check_fits(&b).unwrap();
}

#[test]
fn extrapolated_bn_running_variances_are_floored_at_zero() {
    // Interpolating past b, where b's running variance is below a's, would give (1-t) v_a + t v_b
    // < 0 for large t: BN would take the square root of a negative number and every loss turn NaN.
    let a = TinyNet::new(1, 3, Kind::Double, 1);
    let b = TinyNet::new(1, 3, Kind::Double, 2);
    let var = |m: &TinyNet| model_tensor(m, "bn.running_var");
    let live = |m: &TinyNet| m.named_tensors().into_iter().find(|t| t.name == "bn.running_var").unwrap().tensor;
    tch::no_grad(|| {
        live(&a).copy_(&Tensor::from_slice(&[1.0f64, 2.0, 0.5, 1.0]));
        live(&b).copy_(&Tensor::from_slice(&[0.5f64, 3.0, 0.25, 1.0]));
    });
    let d = Direction::between(&a, &b, Scope::States).unwrap();
    let anchor = Anchor::new(&a, Scope::States).unwrap();
    // t = 3: 1 - 3 * 0.5 = -0.5 -> 0; 2 + 3 * 1 = 5 stays; 0.5 - 3 * 0.25 = -0.25 -> 0.
    assert_eq!(anchor.set(&[(&d, 3.0)]).unwrap(), 2);
    assert_eq!(Vec::<f64>::try_from(var(&a)).unwrap(), vec![0.0, 5.0, 0.0, 1.0]);
    // Inside [0, 1] nothing is floored.
    assert_eq!(anchor.set(&[(&d, 0.5)]).unwrap(), 0);
    assert_eq!(Vec::<f64>::try_from(var(&a)).unwrap(), vec![0.75, 2.5, 0.375, 1.0]);
    anchor.restore().unwrap();
    assert_eq!(Vec::<f64>::try_from(var(&a)).unwrap(), vec![1.0, 2.0, 0.5, 1.0]);
}

#[test]
fn direction_files_round_trip_and_refuse_misfits() {
    use losscape_directions::DirectionSet;
    let dir = tempfile::tempdir().unwrap();
    let model = TinyNet::new(1, 3, Kind::Float, 1);
    let mut set = DirectionSet::random(&model, &RandomSpec { seed: 4, ..Default::default() }, 2, "abc").unwrap();
    set.orthogonalize().unwrap();
    let path = dir.path().join("dirs.safetensors");
    set.save(&path).unwrap();
    let back = DirectionSet::load(&path).unwrap();
    assert_eq!(back.meta, set.meta);
    assert_eq!(back.hash().unwrap(), set.hash().unwrap());
    back.check_fits(&model).unwrap();
    // The 1D set of a seed is the first direction of the 2D set of that seed.
    let one = DirectionSet::random(&model, &RandomSpec { seed: 4, ..Default::default() }, 1, "abc").unwrap();
    assert!(one.directions[0].tensors.iter().zip(&set.directions[0].tensors).all(|((_, a), (_, b))| a.equal(b)));
    let other = TinyNet::new(2, 3, Kind::Float, 1);
    let err = back.check_fits(&other).unwrap_err().to_string();
    assert!(err.contains("conv.weight"), "{err}");
    std::fs::write(&path, b"not a safetensors file").unwrap();
    assert!(DirectionSet::load(&path).is_err());
}
