//! An indefinite problem of known spectrum through the whole product path: the origin of a deep
//! linear network with a linear skip (see `common::SaddleNet`) under the mean squared error.

mod common;

use common::{exact_hessian, random_data, SaddleNet};
use losscape_core::progress::Silent;
use losscape_curvature::operator::symmetric_eigenvalues;
use losscape_curvature::{
    extremes_by_power, lanczos, HessianOperator, HvpOptions, LanczosOptions, ParamSet, PowerOptions,
};
use losscape_landscape::LossKind;
use tch::{Kind, Tensor};

const INPUTS: i64 = 6;
const HIDDEN: i64 = 3;
const CLASSES: i64 = 4;

/// The predicted extremes: `(2/C) * (max eig(Sxx), sigma_max(P))` and `-(2/C) sigma_max(P)`.
fn predicted(data: &losscape_data::Dataset) -> (f64, f64) {
    let n = data.len() as f64;
    let x = data.images.flatten(1, -1);
    let t = data.labels.one_hot(CLASSES).to_kind(Kind::Double);
    let sxx = x.tr().matmul(&x) / n;
    let p = t.tr().matmul(&x) / n; // C x d
    let sxx_max = *symmetric_eigenvalues(&sxx).unwrap().last().unwrap();
    let sigma_max = symmetric_eigenvalues(&p.matmul(&p.tr()))
        .unwrap()
        .last()
        .unwrap()
        .sqrt();
    let c = 2.0 / CLASSES as f64;
    (-c * sigma_max, c * sxx_max.max(sigma_max))
}

#[test]
fn lanczos_finds_the_negative_curvature_of_a_saddle() {
    common::one_thread();
    // Inputs with a non-zero mean, so the saddle's sigma_max(P) is large against Sxx.
    let data = random_data(50, [INPUTS, 1, 1], CLASSES, 4);
    let data = losscape_data::Dataset {
        images: data.images * 0.3 + 1.0,
        ..data
    };
    let model = SaddleNet::new(INPUTS, HIDDEN, CLASSES);
    let opts = HvpOptions {
        params: ParamSet::Weights,
        loss: LossKind::Mse,
        batch_size: 20,
    };
    let mut op = HessianOperator::new(&model, &data, opts).unwrap();
    assert_eq!(
        op.dim(),
        CLASSES * INPUTS + HIDDEN * INPUTS + CLASSES * HIDDEN
    );

    let (lo, hi) = predicted(&data);
    assert!(
        lo < 0.0 && (lo.abs() - hi).abs() > 0.05 * hi,
        "want an asymmetric saddle: [{lo}, {hi}]"
    );
    // The whole spectrum from the exact Hessian agrees with the prediction at both ends.
    let exact = symmetric_eigenvalues(&exact_hessian(&mut op)).unwrap();
    assert!(
        (exact[0] - lo).abs() < 1e-10 * hi && (exact[exact.len() - 1] - hi).abs() < 1e-10 * hi,
        "{exact:?}"
    );
    // lambda_min appears HIDDEN times (once per hidden unit).
    assert_eq!(
        exact.iter().filter(|e| (*e - lo).abs() < 1e-9 * hi).count(),
        HIDDEN as usize
    );

    let r = lanczos(
        &mut op,
        &LanczosOptions {
            tol: 1e-9,
            max_iter: 60,
            ..Default::default()
        },
        &Silent,
    )
    .unwrap();
    assert!(r.converged);
    assert!(r.min.value < 0.0);
    assert!(
        (r.min.value - lo).abs() < 1e-6 * lo.abs(),
        "lambda_min {} vs {lo}",
        r.min.value
    );
    assert!(
        (r.max.value - hi).abs() < 1e-6 * hi,
        "lambda_max {} vs {hi}",
        r.max.value
    );
    assert!((r.abs_ratio() - (lo / hi).abs()).abs() < 1e-6);

    // Power iteration with the shift trick agrees.
    let p = extremes_by_power(
        &mut op,
        &PowerOptions {
            tol: 1e-9,
            max_iter: 5000,
            ..Default::default()
        },
        &Silent,
    )
    .unwrap();
    assert!(p.resolved);
    assert!(
        (p.min - lo).abs() < 1e-6 * lo.abs() && (p.max - hi).abs() < 1e-6 * hi,
        "power [{}, {}]",
        p.min,
        p.max
    );
}

#[test]
fn the_cross_entropy_hessian_of_a_linear_layer_matches_its_closed_form() {
    common::one_thread();
    // With fc1 and fc2 at zero the logits are the skip layer's, so the skip block of the
    // cross-entropy Hessian is that of multinomial logistic regression.
    let data = random_data(30, [INPUTS, 1, 1], CLASSES, 2);
    let model = SaddleNet::new(INPUTS, HIDDEN, CLASSES);
    let opts = HvpOptions {
        params: ParamSet::Weights,
        loss: LossKind::CrossEntropy,
        batch_size: 7,
    };
    let mut op = HessianOperator::new(&model, &data, opts).unwrap();
    let h = exact_hessian(&mut op);
    // The skip block: (1/N) sum_n (diag(p) - p p^T) (x) x x^T with p uniform at zero weights.
    let n = data.len() as f64;
    let x = data.images.flatten(1, -1);
    let pvec = Tensor::full(
        [CLASSES],
        1.0 / CLASSES as f64,
        (Kind::Double, tch::Device::Cpu),
    );
    let s = pvec.diag(0) - pvec.outer(&pvec);
    let expected = s.kron(&(x.tr().matmul(&x) / n));
    let k = CLASSES * INPUTS;
    let block = h.narrow(0, 0, k).narrow(1, 0, k);
    let diff = (&block - &expected).abs().max().double_value(&[]);
    assert!(diff < 1e-12, "skip block differs by {diff:e}");
}
