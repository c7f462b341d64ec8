//! The acceptance checks on a tiny network in f64 (203 parameters): the exact Hessian built from
//! products is symmetric, products agree with finite differences of the gradient, Lanczos finds
//! its extreme eigenvalues to 1e-6 relative, power iteration agrees, and Hutchinson estimates are
//! unbiased with the Rademacher variance.

mod common;

use approx::relative_eq;
use common::{exact_hessian, random_data};
use losscape_core::progress::Silent;
use losscape_curvature::operator::{gaussian_unit, symmetric_eigenvalues};
use losscape_curvature::{
    extremes_by_power, hutchinson, lanczos, rademacher_variance, residual_check, DenseOperator,
    HessianOperator, HvpOptions, LanczosOptions, ParamSet, PowerOptions,
};
use losscape_data::Dataset;
use losscape_directions::testing::TinyNet;
use losscape_landscape::{Evaluator, LossKind};
use losscape_models::Model;
use tch::{Kind, Tensor};

/// TinyNet with 5 input channels: conv 4x5x3x3 (180), BN 4 + 4, linear 3x4 (12) + 3 = 203.
fn setup() -> (TinyNet, Dataset) {
    (
        TinyNet::new(5, 3, Kind::Double, 3),
        random_data(40, [5, 6, 6], 3, 11),
    )
}

fn options(params: ParamSet) -> HvpOptions {
    // 40 examples in batches of 16: two full batches and a partial one.
    HvpOptions {
        params,
        loss: LossKind::CrossEntropy,
        batch_size: 16,
    }
}

#[test]
fn parameter_sets_select_the_right_tensors() {
    common::one_thread();
    let (model, data) = setup();
    let all = HessianOperator::new(&model, &data, options(ParamSet::All)).unwrap();
    assert_eq!(all.dim(), 203);
    assert_eq!(all.dim(), model.num_parameters());
    let weights = HessianOperator::new(&model, &data, options(ParamSet::Weights)).unwrap();
    assert_eq!(weights.names(), ["conv.weight", "fc.weight"]);
    assert_eq!(weights.dim(), 180 + 12);
    // The loss behind the products is the evaluator's, for every loss kind.
    for loss in [LossKind::CrossEntropy, LossKind::MseSoftmax, LossKind::Mse] {
        let op = HessianOperator::new(
            &model,
            &data,
            HvpOptions {
                loss,
                ..options(ParamSet::All)
            },
        )
        .unwrap();
        let (value, _) = op.gradient().unwrap();
        let expected = Evaluator {
            batch_size: 7,
            loss,
        }
        .evaluate(&model, &data)
        .unwrap()
        .loss;
        assert!(
            relative_eq!(value, expected, max_relative = 1e-13),
            "{loss}: {value} vs {expected}"
        );
    }
}

#[test]
fn exact_hessian_is_symmetric_and_lanczos_finds_its_extremes() {
    common::one_thread();
    let (model, data) = setup();
    let mut op = HessianOperator::new(&model, &data, options(ParamSet::All)).unwrap();
    let h = exact_hessian(&mut op);
    assert_eq!(op.hvps(), 203);
    let scale = h.abs().max().double_value(&[]);
    let asym = (&h - h.tr()).abs().max().double_value(&[]);
    assert!(
        asym <= 1e-12 * scale,
        "largest |H - H^T| {asym:e} against |H| {scale:e}"
    );

    let exact = symmetric_eigenvalues(&((&h + h.tr()) / 2.0)).unwrap();
    let (lo, hi) = (exact[0], exact[exact.len() - 1]);
    // A meaningful test: the network is not at a minimum, so the Hessian is indefinite.
    assert!(lo < -1e-3 * hi && hi > 0.0, "spectrum [{lo}, {hi}]");

    let opts = LanczosOptions {
        tol: 1e-8,
        max_iter: 203,
        seed: 5,
        ritz_vectors: true,
        ..Default::default()
    };
    let r = lanczos(&mut op, &opts, &Silent).unwrap();
    assert!(r.converged, "not converged after {} products", r.hvps);
    assert!(
        relative_eq!(r.max.value, hi, max_relative = 1e-6),
        "lambda_max {} vs exact {hi}",
        r.max.value
    );
    assert!(
        relative_eq!(r.min.value, lo, max_relative = 1e-6),
        "lambda_min {} vs exact {lo}",
        r.min.value
    );
    assert!(
        r.hvps < 203,
        "Lanczos used {} products, as many as the dimension",
        r.hvps
    );
    // The recurrence's residuals are the true ones: check with fresh products.
    for pair in [&r.min, &r.max] {
        let fresh = residual_check(&mut op, pair.value, pair.vector.as_ref().unwrap()).unwrap();
        assert!(
            fresh < 1e-6,
            "fresh relative residual {fresh:e} for {}",
            pair.value
        );
    }
    // The same seed gives the same result.
    let again = lanczos(&mut op, &opts, &Silent).unwrap();
    assert_eq!(
        (again.min.value, again.max.value, again.hvps),
        (r.min.value, r.max.value, r.hvps)
    );

    // Power iteration with the shift trick finds the same ends, with more products.
    let p = extremes_by_power(
        &mut op,
        &PowerOptions {
            tol: 1e-8,
            max_iter: 20_000,
            seed: 5,
            ..Default::default()
        },
        &Silent,
    )
    .unwrap();
    assert!(p.resolved && p.dominant.converged && p.shifted.converged);
    assert!(
        relative_eq!(p.max, hi, max_relative = 1e-6) && relative_eq!(p.min, lo, max_relative = 1e-5),
        "power: [{}, {}] vs [{lo}, {hi}]",
        p.min,
        p.max
    );
    assert!(
        p.hvps > r.hvps,
        "power {} vs Lanczos {} products",
        p.hvps,
        r.hvps
    );
}

#[test]
fn weight_hessian_is_the_sub_block_of_the_full_one() {
    common::one_thread();
    let (model, data) = setup();
    let h_all =
        exact_hessian(&mut HessianOperator::new(&model, &data, options(ParamSet::All)).unwrap());
    let h_w = exact_hessian(
        &mut HessianOperator::new(&model, &data, options(ParamSet::Weights)).unwrap(),
    );
    // conv.weight is entries 0..180 of the full vector, fc.weight 188..200.
    let idx = Tensor::from_slice(&(0..180).chain(188..200).collect::<Vec<i64>>());
    let block = h_all.index_select(0, &idx).index_select(1, &idx);
    let diff = (&block - &h_w).abs().max().double_value(&[]);
    assert!(diff < 1e-12 * h_w.abs().max().double_value(&[]), "{diff:e}");
}

#[test]
fn products_match_finite_differences_of_the_gradient() {
    common::one_thread();
    let (model, data) = setup();
    let mut op = HessianOperator::new(&model, &data, options(ParamSet::All)).unwrap();
    let theta = op.parameter_vector().unwrap();
    for seed in [1u64, 2, 3] {
        let v = gaussian_unit(op.dim(), seed, tch::Device::Cpu).unwrap();
        let hv = op.hvp(&v).unwrap();
        let eps = 1e-5;
        op.set_parameter_vector(&(&theta + &v * eps)).unwrap();
        let (_, g_plus) = op.gradient().unwrap();
        op.set_parameter_vector(&(&theta - &v * eps)).unwrap();
        let (_, g_minus) = op.gradient().unwrap();
        op.set_parameter_vector(&theta).unwrap();
        let fd = (g_plus - g_minus) / (2.0 * eps);
        let err = (&fd - &hv).norm().double_value(&[]) / hv.norm().double_value(&[]);
        assert!(err < 1e-7, "seed {seed}: |FD - Hv| / |Hv| = {err:e}");
    }
    // The parameters are back where they were.
    assert!(op.parameter_vector().unwrap().equal(&theta));
}

#[test]
fn hutchinson_is_unbiased_with_the_rademacher_variance() {
    common::one_thread();
    let (model, data) = setup();
    let mut op = HessianOperator::new(&model, &data, options(ParamSet::All)).unwrap();
    let h = exact_hessian(&mut op);
    let mut dense = DenseOperator::new(&((&h + h.tr()) / 2.0)).unwrap();

    // Through products, the estimates are those of the exact matrix, probe by probe.
    for seed in 0..20u64 {
        let via_hvp = hutchinson(&mut op, 3, seed, &Silent).unwrap();
        let via_matrix = hutchinson(&mut dense, 3, seed, &Silent).unwrap();
        for (a, b) in via_hvp.samples.iter().zip(&via_matrix.samples) {
            assert!(
                (a - b).abs() <= 1e-10 * b.abs().max(1.0),
                "seed {seed}: {a} vs {b}"
            );
        }
    }

    // The statistics need many probes (this Hessian has one dominant direction, so one probe's
    // variance is about the squared trace): they run on the exact matrix, 20 seeds x 2000 probes.
    let trace = h.trace().double_value(&[]);
    let var = rademacher_variance(&h).unwrap();
    let probes = 2000;
    let runs: Vec<_> = (0..20u64)
        .map(|seed| hutchinson(&mut dense, probes, 1000 + seed, &Silent).unwrap())
        .collect();
    let estimates: Vec<f64> = runs.iter().map(|r| r.mean).collect();
    let mean = estimates.iter().sum::<f64>() / 20.0;
    // The test can tell: three standard deviations of the 20-run mean fit inside 2%.
    let sd_of_mean = (var / (probes as f64 * 20.0)).sqrt();
    assert!(
        3.0 * sd_of_mean < 0.02 * trace.abs(),
        "sd of the mean {sd_of_mean} vs trace {trace}"
    );
    assert!(
        relative_eq!(mean, trace, max_relative = 0.02),
        "mean of 20 estimates {mean} vs exact trace {trace}"
    );
    // The spread of the 20 estimates: 19 s^2 / sigma^2 is chi-square with 19 degrees of freedom;
    // its 0.1% and 99.9% quantiles are 5.41 and 43.82.
    let s2 = estimates.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / 19.0;
    let ratio = 19.0 * s2 / (var / probes as f64);
    assert!((5.41..43.82).contains(&ratio), "19 s^2 / sigma^2 = {ratio}");
    // All 40,000 single-probe values: their variance is 2 (||H||_F^2 - sum H_ii^2), not the
    // 2 ||H||_F^2 of Gaussian probes.
    let all: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.samples.iter().copied())
        .collect();
    let m = all.iter().sum::<f64>() / all.len() as f64;
    let pooled = all.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (all.len() - 1) as f64;
    assert!(
        relative_eq!(pooled, var, max_relative = 0.05),
        "single-probe variance {pooled} vs 2(|H|_F^2 - sum H_ii^2) = {var}"
    );
    let gaussian_var = 2.0 * h.square().sum(Kind::Double).double_value(&[]);
    assert!(
        !relative_eq!(pooled, gaussian_var, max_relative = 0.1),
        "{pooled} is too close to the Gaussian-probe variance {gaussian_var}"
    );
    // The reported standard error is the sample one.
    assert!(
        (runs[0].std_error - (var / probes as f64).sqrt()).abs()
            < 0.2 * (var / probes as f64).sqrt()
    );
}
