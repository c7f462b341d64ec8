//! Several eigenpairs at each end of the spectrum (the top `k` and the bottom `j`) by one Lanczos
//! run with full reorthogonalization, stopping when every requested Ritz pair passes the residual
//! test of [`crate::lanczos()`], and a fresh check of each pair with one product.
//!
//! Lanczos from one start finds one vector per distinct eigenvalue; a repeated eigenvalue is found
//! once (its other copies only through rounding), as in every single-vector Krylov method. The
//! eigenvectors are the Ritz vectors `Q_k s_i`, unit norm, flat f64 in the operator's layout
//! (the parameters in the model's canonical order; see [`crate::HessianOperator::names`]).

use losscape_core::Progress;
use tch::{Kind, Tensor};

use crate::error::{Error, Result};
use crate::lanczos::{check_tolerances, tridiagonal, Krylov};
use crate::operator::{check_vector, gaussian_unit, norm, symmetric_eigh, SymmetricOperator};

/// Settings of [`eigenpairs`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EigenOptions {
    /// How many of the largest eigenvalues (algebraically: the most positive).
    pub top: usize,
    /// How many of the smallest eigenvalues (the most negative).
    pub bottom: usize,
    /// Relative residual tolerance: `||A y - theta y|| <= max(tol |theta|, atol)`.
    pub tol: f64,
    /// Absolute floor of the residual test.
    pub atol: f64,
    /// The most products.
    pub max_iter: usize,
    /// Seed of the start vector.
    pub seed: u64,
    /// Take the relative test against the largest `|theta|` of the run (the operator's norm)
    /// instead of each pair's own `|theta|`: `||A y - theta y|| <= tol max_i |theta_i|`. The
    /// right test for eigenvalues near 0 (the small end of a nearly semi-definite block), which a
    /// test relative to themselves would chase for ever.
    pub norm_relative: bool,
}

impl Default for EigenOptions {
    /// The top 5, none from the bottom, `tol` 1e-3 relative to each value, at most 200
    /// products, seed 0.
    fn default() -> Self {
        Self {
            top: 5,
            bottom: 0,
            tol: 1e-3,
            atol: 0.0,
            max_iter: 200,
            seed: 0,
            norm_relative: false,
        }
    }
}

/// One eigenpair estimate.
#[derive(Debug)]
pub struct Eigenpair {
    /// The Ritz value.
    pub value: f64,
    /// The unit Ritz vector (flat f64 on the operator's device).
    pub vector: Tensor,
    /// `||A y - value y||` read off the recurrence (no product).
    pub ritz_residual: f64,
}

/// The outcome of [`eigenpairs`].
#[derive(Debug)]
pub struct Eigenpairs {
    /// The largest eigenvalues, descending.
    pub top: Vec<Eigenpair>,
    /// The smallest eigenvalues, ascending.
    pub bottom: Vec<Eigenpair>,
    /// Products used.
    pub hvps: usize,
    /// Whether every requested pair passed the residual test (or the Krylov space became
    /// invariant) before `max_iter` ran out.
    pub converged: bool,
}

/// The `top` largest and `bottom` smallest eigenpairs of `op` (see the module docs). `progress`
/// gets one task, `eigenpairs`, with a step per product.
pub fn eigenpairs(
    op: &mut dyn SymmetricOperator,
    options: &EigenOptions,
    progress: &dyn Progress,
) -> Result<Eigenpairs> {
    check_tolerances(options.tol, options.atol, options.max_iter)?;
    let n = op.dim();
    let wanted = options.top + options.bottom;
    if wanted == 0 {
        return Err(Error::Invalid(
            "ask for at least one eigenpair (top or bottom)".into(),
        ));
    }
    if wanted as i64 > n {
        return Err(Error::Invalid(format!(
            "asked for {wanted} eigenpairs of an operator of dimension {n}"
        )));
    }
    let device = op.device();
    let steps = options.max_iter.max(wanted).min(n as usize);
    let mut krylov = Krylov::new(gaussian_unit(n, options.seed, device)?, n, device);
    progress.begin("eigenpairs", steps as u64);
    let outcome = (|| -> Result<(Vec<f64>, Tensor, f64, bool)> {
        loop {
            krylov.product(op)?;
            let beta = krylov.residual()?;
            progress.advance(1);

            let (alphas, betas) = (&krylov.alphas, &krylov.betas);
            let k = alphas.len();
            let (theta, s) = symmetric_eigh(&tridiagonal(alphas, betas)?)?;
            let last_row = Vec::<f64>::try_from(s.f_select(0, (k - 1) as i64)?)?;
            let scale = theta.iter().fold(0.0f64, |m, t| m.max(t.abs()));
            let invariant = beta <= 1e-12 * scale.max(f64::MIN_POSITIVE) || k as i64 == n;
            let passes = |i: usize| {
                let size = if options.norm_relative {
                    scale
                } else {
                    theta[i].abs()
                };
                beta * last_row[i].abs() <= (options.tol * size).max(options.atol)
            };
            let enough = k > wanted;
            let converged = invariant
                || (enough && (0..options.bottom).all(passes) && (k - options.top..k).all(passes));
            if converged || k >= steps {
                if k < wanted {
                    return Err(Error::Invalid(format!(
                        "the Krylov space closed after {k} steps: the operator has fewer than {wanted} distinct eigenvalues reachable from this start"
                    )));
                }
                return Ok((theta, s, beta, converged));
            }
            krylov.extend(beta)?;
        }
    })();
    progress.end();
    let (theta, s, beta, converged) = outcome?;
    let k = theta.len();
    let q_mat = Tensor::f_stack(&krylov.basis[..k], 0)?;
    let s = s.f_to_device(device)?;
    let pair = |i: usize| -> Result<Eigenpair> {
        let col = s.f_select(1, i as i64)?.f_to_kind(Kind::Double)?;
        let last = col.f_double_value(&[(k - 1) as i64])?;
        let y = q_mat.f_tr()?.f_mv(&col)?;
        let len = norm(&y)?;
        Ok(Eigenpair {
            value: theta[i],
            vector: y.f_div_scalar(len)?,
            ritz_residual: beta * last.abs(),
        })
    };
    let top = (0..options.top)
        .map(|r| pair(k - 1 - r))
        .collect::<Result<_>>()?;
    let bottom = (0..options.bottom).map(pair).collect::<Result<_>>()?;
    Ok(Eigenpairs {
        top,
        bottom,
        hvps: k,
        converged,
    })
}

/// `||A y - value y||` for a unit vector `y`, by one fresh product (absolute; divide by `|value|`
/// for the relative residual).
pub fn fresh_residual(op: &mut dyn SymmetricOperator, pair: &Eigenpair) -> Result<f64> {
    check_vector(&pair.vector, op.dim(), op.device())?;
    let ay = op.apply(&pair.vector)?;
    norm(&ay.f_sub(&pair.vector.f_mul_scalar(pair.value)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::DenseOperator;
    use losscape_core::progress::Silent;

    #[test]
    fn finds_the_top_and_bottom_of_a_diagonal_matrix() {
        let values: Vec<f64> = (0..40).map(|i| (i as f64 - 5.0).powi(3) / 100.0).collect();
        let mut op = DenseOperator::new(&Tensor::from_slice(&values).diag(0)).unwrap();
        let opts = EigenOptions {
            top: 3,
            bottom: 2,
            tol: 1e-10,
            max_iter: 40,
            ..Default::default()
        };
        let r = eigenpairs(&mut op, &opts, &Silent).unwrap();
        assert!(r.converged);
        let top: Vec<f64> = r.top.iter().map(|p| p.value).collect();
        let bottom: Vec<f64> = r.bottom.iter().map(|p| p.value).collect();
        for (got, want) in top.iter().zip([values[39], values[38], values[37]]) {
            assert!((got - want).abs() < 1e-8 * want.abs(), "{top:?}");
        }
        for (got, want) in bottom.iter().zip([values[0], values[1]]) {
            assert!((got - want).abs() < 1e-8 * want.abs(), "{bottom:?}");
        }
        // The top vector is e_39 up to sign.
        let e = r.top[0].vector.abs().double_value(&[39]);
        assert!((e - 1.0).abs() < 1e-8);
        assert!(fresh_residual(&mut op, &r.top[0]).unwrap() < 1e-8);
        let too_many = EigenOptions {
            top: 30,
            bottom: 11,
            ..opts
        };
        assert!(eigenpairs(&mut op, &too_many, &Silent).is_err());
    }
}
