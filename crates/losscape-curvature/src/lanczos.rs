//! The Lanczos eigensolver for the two ends of a symmetric operator's spectrum at once, with full
//! reorthogonalization and a convergence test on the Ritz residuals.
//!
//! After `k` products `A q_j`, the Lanczos vectors `q_1 .. q_k` (orthonormal; every new vector is
//! orthogonalized against all earlier ones, twice, by classical Gram-Schmidt) and the tridiagonal
//! `T_k = Q_k^T A Q_k` give Ritz pairs `(theta_i, Q_k s_i)` from the eigenpairs `(theta_i, s_i)`
//! of `T_k`. Their residual norms are `||A y_i - theta_i y_i|| = beta_k |s_i[k]|` without any
//! further product. The smallest and largest Ritz values approach `lambda_min` and `lambda_max`
//! from inside; the run stops when both residuals are at most `max(tol * |theta|, atol)` (the
//! criterion ARPACK uses, with an optional absolute floor), when the Krylov space is invariant
//! (`beta_k` vanishes: the Ritz values are exact), or after `max_iter` products.
//!
//! The small eigenproblems are solved by libtorch's `linalg_eigh` in f64. Memory: the basis holds
//! up to `max_iter + 1` vectors of the operator's length in f64.

use losscape_core::Progress;
use tch::{Kind, Tensor};

use crate::error::{Error, Result};
use crate::operator::{check_vector, dot, gaussian_unit, norm, symmetric_eigh, SymmetricOperator};

/// The Krylov basis of a Lanczos run with full reorthogonalization, shared by every Lanczos
/// driver of this crate (extremes here, top/bottom eigenpairs, the SLQ density's quadrature):
/// `product` applies the operator to the newest basis vector and records its Rayleigh quotient
/// `alpha`; `residual` makes the next direction (three-term recurrence, then reorthogonalized
/// against the whole basis twice: "twice is enough", Parlett, so the residual estimates stay
/// true) and returns its norm `beta`; `extend` appends it to the basis.
pub(crate) struct Krylov {
    pub(crate) basis: Vec<Tensor>,
    pub(crate) alphas: Vec<f64>,
    pub(crate) betas: Vec<f64>,
    n: i64,
    device: tch::Device,
    pending: Option<Tensor>,
}

impl Krylov {
    /// A basis that starts at the unit vector `start` in an operator space of dimension `n`.
    pub(crate) fn new(start: Tensor, n: i64, device: tch::Device) -> Self {
        Krylov { basis: vec![start], alphas: Vec::new(), betas: Vec::new(), n, device, pending: None }
    }

    /// One operator product on the newest basis vector; returns its Rayleigh quotient.
    pub(crate) fn product(&mut self, op: &mut dyn SymmetricOperator) -> Result<f64> {
        let j = self.alphas.len();
        let q = &self.basis[j];
        let w = op.apply(q)?;
        check_vector(&w, self.n, self.device)?;
        let alpha = dot(q, &w)?;
        if !alpha.is_finite() {
            return Err(Error::NotFinite(format!(
                "the operator gave a non-finite Rayleigh quotient at Lanczos step {}",
                j + 1
            )));
        }
        self.alphas.push(alpha);
        self.pending = Some(w);
        Ok(alpha)
    }

    /// The next direction after the last [`Krylov::product`], orthogonal to the whole basis;
    /// returns its norm.
    pub(crate) fn residual(&mut self) -> Result<f64> {
        let j = self.alphas.len() - 1;
        let mut w = self.pending.take().ok_or_else(|| Error::Invalid("Lanczos: residual before product".into()))?;
        w = w.f_sub(&self.basis[j].f_mul_scalar(self.alphas[j])?)?;
        if j > 0 {
            w = w.f_sub(&self.basis[j - 1].f_mul_scalar(self.betas[j - 1])?)?;
        }
        let q_mat = Tensor::f_stack(&self.basis, 0)?;
        for _ in 0..2 {
            let coeffs = q_mat.f_mv(&w)?;
            w = w.f_sub(&q_mat.f_tr()?.f_mv(&coeffs)?)?;
        }
        let beta = norm(&w)?;
        self.pending = Some(w);
        Ok(beta)
    }

    /// Appends the last [`Krylov::residual`], divided by its norm `beta`, to the basis.
    pub(crate) fn extend(&mut self, beta: f64) -> Result<()> {
        let w = self.pending.take().ok_or_else(|| Error::Invalid("Lanczos: extend before residual".into()))?;
        self.basis.push(w.f_div_scalar(beta)?);
        self.betas.push(beta);
        Ok(())
    }
}

/// Settings of a Lanczos run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LanczosOptions {
    /// Relative tolerance on the Ritz residuals: a Ritz pair has converged when
    /// `||A y - theta y|| <= max(tol * |theta|, atol)`.
    pub tol: f64,
    /// Absolute floor of the residual test (0 for a purely relative test). Useful when
    /// `lambda_min` may be close to 0, where a relative test asks for many more products.
    pub atol: f64,
    /// The most operator products (Lanczos steps) to spend.
    pub max_iter: usize,
    /// Seed of the start vector (standard normal draws from `SplitMix64`, normalized).
    pub seed: u64,
    /// Also return the Ritz vectors of the two extreme Ritz values.
    pub ritz_vectors: bool,
}

impl Default for LanczosOptions {
    /// `tol` 1e-3, no absolute floor, at most 100 products, seed 0, no Ritz vectors.
    fn default() -> Self {
        Self {
            tol: 1e-3,
            atol: 0.0,
            max_iter: 100,
            seed: 0,
            ritz_vectors: false,
        }
    }
}

impl LanczosOptions {
    /// Checks the settings: tolerances finite and non-negative, at least one of them positive,
    /// and at least one step.
    pub fn check(&self) -> Result<()> {
        check_tolerances(self.tol, self.atol, self.max_iter)
    }
}

pub(crate) fn check_tolerances(tol: f64, atol: f64, max_iter: usize) -> Result<()> {
    if !(tol.is_finite() && tol >= 0.0 && atol.is_finite() && atol >= 0.0) {
        return Err(Error::Invalid(format!(
            "tolerances must be finite and non-negative, got tol {tol}, atol {atol}"
        )));
    }
    if tol == 0.0 && atol == 0.0 {
        return Err(Error::Invalid(
            "tol and atol are both 0: the residual test could never pass".into(),
        ));
    }
    if max_iter == 0 {
        return Err(Error::Invalid("max_iter must be at least 1".into()));
    }
    Ok(())
}

/// One end of the spectrum as Lanczos found it.
#[derive(Debug)]
pub struct RitzPair {
    /// The Ritz value (the eigenvalue estimate).
    pub value: f64,
    /// The residual norm `||A y - value y||` for the unit Ritz vector `y` (from the recurrence).
    pub residual: f64,
    /// The unit Ritz vector `y` (flat f64 on the operator's device), when requested.
    pub vector: Option<Tensor>,
}

impl RitzPair {
    /// The residual relative to the value, `residual / |value|` (infinite when the value is 0).
    pub fn relative_residual(&self) -> f64 {
        self.residual / self.value.abs()
    }
}

/// The outcome of [`lanczos`].
#[derive(Debug)]
pub struct LanczosResult {
    /// The smallest Ritz value: the estimate of `lambda_min`.
    pub min: RitzPair,
    /// The largest Ritz value: the estimate of `lambda_max`.
    pub max: RitzPair,
    /// All Ritz values of the last step, ascending.
    pub ritz_values: Vec<f64>,
    /// Operator products used (one per Lanczos step).
    pub hvps: usize,
    /// Whether both extreme Ritz pairs passed the residual test (or the Krylov space became
    /// invariant, which makes the Ritz values exact). False when `max_iter` ran out first.
    pub converged: bool,
}

impl LanczosResult {
    /// `|lambda_min / lambda_max|`, the quantity of the paper's Hessian maps (NaN when
    /// `lambda_max` is 0).
    pub fn abs_ratio(&self) -> f64 {
        if self.max.value == 0.0 {
            f64::NAN
        } else {
            (self.min.value / self.max.value).abs()
        }
    }
}

/// The smallest and largest eigenvalues of `op` by one Lanczos run with full reorthogonalization.
///
/// `progress` gets one task, `lanczos`, with a step per product and the current extremes as its
/// message.
pub fn lanczos(
    op: &mut dyn SymmetricOperator,
    options: &LanczosOptions,
    progress: &dyn Progress,
) -> Result<LanczosResult> {
    options.check()?;
    let n = op.dim();
    let device = op.device();
    let steps = options.max_iter.min(n as usize);
    let mut krylov = Krylov::new(gaussian_unit(n, options.seed, device)?, n, device);

    progress.begin("lanczos", steps as u64);
    let outcome = (|| -> Result<(Vec<f64>, Tensor, f64, bool)> {
        loop {
            krylov.product(op)?;
            let beta = krylov.residual()?;
            let (alphas, betas) = (&krylov.alphas, &krylov.betas);
            let (theta, s) = symmetric_eigh(&tridiagonal(alphas, betas)?)?;
            let k = alphas.len();
            let last_row = Vec::<f64>::try_from(s.f_select(0, (k - 1) as i64)?)?;
            let (lo, hi) = (theta[0], theta[k - 1]);
            let (res_lo, res_hi) = (beta * last_row[0].abs(), beta * last_row[k - 1].abs());
            progress.advance(1);
            progress.message(&format!("lambda_min {lo:.6e} lambda_max {hi:.6e}"));

            let passes = |value: f64, residual: f64| {
                residual <= (options.tol * value.abs()).max(options.atol)
            };
            let scale = theta.iter().fold(0.0f64, |m, t| m.max(t.abs()));
            let invariant = beta <= 1e-12 * scale.max(f64::MIN_POSITIVE) || k as i64 == n;
            // One step cannot tell the two ends apart: ask for two unless the space is exhausted.
            let converged = invariant || (k >= 2 && passes(lo, res_lo) && passes(hi, res_hi));
            if converged || k >= steps {
                return Ok((theta, s.f_to_device(device)?, beta, converged));
            }
            krylov.extend(beta)?;
        }
    })();
    progress.end();
    let (theta, s, beta, converged) = outcome?;

    let k = theta.len();
    let q_mat = if options.ritz_vectors {
        Some(Tensor::f_stack(&krylov.basis[..k], 0)?)
    } else {
        None
    };
    let pair = |i: usize| -> Result<RitzPair> {
        let col = s.f_select(1, i as i64)?;
        let last = col.f_double_value(&[(k - 1) as i64])?;
        let vector = match &q_mat {
            Some(q) => {
                let y = q.f_tr()?.f_mv(&col.f_to_kind(Kind::Double)?)?;
                let len = norm(&y)?;
                Some(y.f_div_scalar(len)?)
            }
            None => None,
        };
        Ok(RitzPair {
            value: theta[i],
            residual: beta * last.abs(),
            vector,
        })
    };
    Ok(LanczosResult {
        min: pair(0)?,
        max: pair(k - 1)?,
        ritz_values: theta.clone(),
        hvps: k,
        converged,
    })
}

/// The symmetric tridiagonal matrix with diagonal `alphas` and off-diagonal `betas` (one shorter),
/// dense, f64, on the CPU.
pub(crate) fn tridiagonal(alphas: &[f64], betas: &[f64]) -> Result<Tensor> {
    let k = alphas.len();
    let mut m = vec![0.0; k * k];
    for i in 0..k {
        m[i * k + i] = alphas[i];
        if i + 1 < k {
            m[i * k + i + 1] = betas[i];
            m[(i + 1) * k + i] = betas[i];
        }
    }
    Ok(Tensor::from_slice(&m).f_reshape([k as i64, k as i64])?)
}

/// A fresh check of an eigenpair estimate: `||A y - value y|| / |value|` for the unit vector `y`,
/// at the cost of one product. This does not trust the recurrence, so it also catches a loss of
/// orthogonality or an operator that is not quite symmetric or deterministic.
pub fn residual_check(op: &mut dyn SymmetricOperator, value: f64, vector: &Tensor) -> Result<f64> {
    check_vector(vector, op.dim(), op.device())?;
    let len = norm(vector)?;
    if len == 0.0 {
        return Err(Error::Invalid("cannot check a zero vector".into()));
    }
    let y = vector.f_div_scalar(len)?;
    let ay = op.apply(&y)?;
    Ok(norm(&ay.f_sub(&y.f_mul_scalar(value)?)?)? / value.abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::DenseOperator;
    use losscape_core::progress::Silent;

    /// `Q diag(values) Q^T` for a seeded orthogonal `Q` (from the eigenvectors of a random
    /// symmetric matrix).
    fn with_spectrum(values: &[f64]) -> DenseOperator {
        let n = values.len() as i64;
        let a = losscape_data::rng::normal_tensor(7, &[n, n], Kind::Double);
        let (_, q) = symmetric_eigh(&a.f_add(&a.t_copy()).unwrap()).unwrap();
        let m = q
            .matmul(&Tensor::from_slice(values).diag(0))
            .matmul(&q.t_copy());
        DenseOperator::new(&((&m + m.t_copy()) / 2.0)).unwrap()
    }

    #[test]
    fn finds_both_ends_of_an_indefinite_spectrum() {
        let values: Vec<f64> = (0..60)
            .map(|i| -3.0 + 0.1 * i as f64)
            .chain([10.0])
            .collect();
        let mut op = with_spectrum(&values);
        let opts = LanczosOptions {
            tol: 1e-10,
            max_iter: 61,
            ritz_vectors: true,
            ..Default::default()
        };
        let r = lanczos(&mut op, &opts, &Silent).unwrap();
        assert!(r.converged);
        assert!((r.min.value + 3.0).abs() < 1e-9, "{}", r.min.value);
        assert!((r.max.value - 10.0).abs() < 1e-9, "{}", r.max.value);
        assert!(r.hvps < 61, "{} products", r.hvps);
        let check = residual_check(&mut op, r.max.value, r.max.vector.as_ref().unwrap()).unwrap();
        assert!(check < 1e-8, "{check}");
        assert!((r.abs_ratio() - 0.3).abs() < 1e-9);
    }

    #[test]
    fn stops_at_max_iter_unconverged_and_rejects_bad_options() {
        let values: Vec<f64> = (0..200).map(|i| 1.0 + i as f64 * 0.001).collect();
        let mut op = with_spectrum(&values);
        let opts = LanczosOptions {
            tol: 1e-12,
            max_iter: 5,
            ..Default::default()
        };
        let r = lanczos(&mut op, &opts, &Silent).unwrap();
        assert!(!r.converged);
        assert_eq!(r.hvps, 5);
        assert!(r.max.residual > 0.0);
        let bad = LanczosOptions {
            tol: 0.0,
            atol: 0.0,
            ..Default::default()
        };
        assert!(lanczos(&mut op, &bad, &Silent)
            .unwrap_err()
            .to_string()
            .contains("both 0"));
    }

    #[test]
    fn invariant_subspace_ends_the_run_with_exact_values() {
        // Two distinct eigenvalues: the Krylov space has dimension 2.
        let values: Vec<f64> = (0..30)
            .map(|i| if i % 2 == 0 { -1.0 } else { 4.0 })
            .collect();
        let mut op = with_spectrum(&values);
        let r = lanczos(
            &mut op,
            &LanczosOptions {
                tol: 1e-14,
                ..Default::default()
            },
            &Silent,
        )
        .unwrap();
        assert!(r.converged);
        assert_eq!(r.hvps, 2);
        assert!((r.min.value + 1.0).abs() < 1e-12 && (r.max.value - 4.0).abs() < 1e-12);
    }
}
