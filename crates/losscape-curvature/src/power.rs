//! Power iteration, the baseline that Lanczos is measured against, and the original code's shift
//! trick for the other end of the spectrum: a second run on `H - 0.51 lambda_dominant I`.
//!
//! Each step multiplies the current unit vector `v` by the operator once, which also gives the
//! Rayleigh quotient `mu = v . Av` and the exact residual `||Av - mu v||`; the run stops when that
//! residual is at most `max(tol * |mu|, atol)`, the same test as [`crate::lanczos()`], so the two
//! methods' product counts compare like for like. In the shifted run of [`extremes_by_power`] the
//! residual is that of `A` at `(mu + sigma, v)` and the test is taken relative to `|mu + sigma|`,
//! the eigenvalue of `A` being estimated (the original code's ARPACK call tests relative to the
//! shifted value `|mu|`, a looser test on `lambda_min`). Power iteration converges to the eigenvalue of
//! largest magnitude at the rate `|lambda_2 / lambda_1|`; after the shift that ratio is close to 1
//! when `lambda_min` is small, which is why it needs many more products than Lanczos.

use losscape_core::Progress;
use tch::Tensor;

use crate::error::{Error, Result};
use crate::lanczos::check_tolerances;
use crate::operator::{check_vector, dot, gaussian_unit, norm, Shifted, SymmetricOperator};

/// The shift factor of the original code: the second run is on `A - 0.51 mu_1 I`.
pub const SHIFT_FACTOR: f64 = 0.51;

/// Settings of a power-iteration run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PowerOptions {
    /// Relative residual tolerance: stop when `||Av - mu v|| <= max(tol * |mu|, atol)`.
    pub tol: f64,
    /// Absolute floor of the residual test.
    pub atol: f64,
    /// The most products to spend (per run).
    pub max_iter: usize,
    /// Seed of the start vector (as for Lanczos, so both start from the same vector).
    pub seed: u64,
}

impl Default for PowerOptions {
    /// `tol` 1e-3, no absolute floor, at most 1000 products, seed 0.
    fn default() -> Self {
        Self {
            tol: 1e-3,
            atol: 0.0,
            max_iter: 1000,
            seed: 0,
        }
    }
}

/// The outcome of one power-iteration run.
#[derive(Debug)]
pub struct PowerResult {
    /// The Rayleigh quotient of the last vector: the estimate of the dominant eigenvalue.
    pub value: f64,
    /// The exact residual `||Av - value v||` of the last vector.
    pub residual: f64,
    /// The last unit vector (flat f64 on the operator's device).
    pub vector: Tensor,
    /// Products used.
    pub hvps: usize,
    /// Whether the residual test passed before `max_iter` ran out.
    pub converged: bool,
}

/// The eigenvalue of largest magnitude of `op` by power iteration. `progress` gets one task,
/// `power iteration`, with a step per product.
pub fn power_iteration(
    op: &mut dyn SymmetricOperator,
    options: &PowerOptions,
    progress: &dyn Progress,
) -> Result<PowerResult> {
    iterate(op, options, 0.0, progress)
}

/// Power iteration whose residual test is taken relative to `|mu + offset|`: for a run on
/// `A - offset I`, that is the eigenvalue of `A` being estimated.
fn iterate(
    op: &mut dyn SymmetricOperator,
    options: &PowerOptions,
    offset: f64,
    progress: &dyn Progress,
) -> Result<PowerResult> {
    check_tolerances(options.tol, options.atol, options.max_iter)?;
    let n = op.dim();
    let device = op.device();
    let mut v = gaussian_unit(n, options.seed, device)?;
    progress.begin("power iteration", options.max_iter as u64);
    let outcome = (|| -> Result<PowerResult> {
        let mut hvps = 0;
        loop {
            let w = op.apply(&v)?;
            check_vector(&w, n, device)?;
            hvps += 1;
            let mu = dot(&v, &w)?;
            let residual = norm(&w.f_sub(&v.f_mul_scalar(mu)?)?)?;
            if !(mu.is_finite() && residual.is_finite()) {
                return Err(Error::NotFinite(format!(
                    "the operator gave a non-finite value at power step {hvps}"
                )));
            }
            progress.advance(1);
            progress.message(&format!("mu {mu:.6e} residual {residual:.3e}"));
            let len = norm(&w)?;
            let converged =
                residual <= (options.tol * (mu + offset).abs()).max(options.atol) || len == 0.0;
            if converged || hvps >= options.max_iter {
                return Ok(PowerResult {
                    value: mu,
                    residual,
                    vector: v,
                    hvps,
                    converged,
                });
            }
            v = w.f_div_scalar(len)?;
        }
    })();
    progress.end();
    outcome
}

/// Both ends of the spectrum by power iteration, as the original code finds them with a
/// largest-magnitude solver: `mu_1` from a run on `A`, then `mu_2 + sigma` from a run on
/// `A - sigma I` with `sigma = 0.51 mu_1`, whose residual test is relative to `|mu_2 + sigma|`
/// (see the module docs).
#[derive(Debug)]
pub struct PowerExtremes {
    /// The estimate of `lambda_max`.
    pub max: f64,
    /// The estimate of `lambda_min` (see [`resolved`](Self::resolved)).
    pub min: f64,
    /// False when the shifted run found the same end of the spectrum again: then every
    /// eigenvalue has the sign of `mu_1` and lies between `0.02 mu_1` and `mu_1`, and `min` (or
    /// `max`, for a negative `mu_1`) only repeats `mu_1` instead of estimating the other end.
    pub resolved: bool,
    /// The run on `A`.
    pub dominant: PowerResult,
    /// The run on `A - shift I`.
    pub shifted: PowerResult,
    /// `0.51 mu_1`.
    pub shift: f64,
    /// Products used by both runs together.
    pub hvps: usize,
}

/// `lambda_max` and `lambda_min` by two power-iteration runs (the shift trick; see
/// [`PowerExtremes`]). Both runs use `options`.
pub fn extremes_by_power(
    op: &mut dyn SymmetricOperator,
    options: &PowerOptions,
    progress: &dyn Progress,
) -> Result<PowerExtremes> {
    let dominant = power_iteration(op, options, progress)?;
    let shift = SHIFT_FACTOR * dominant.value;
    // The residual of A - shift I at (nu, v) is that of A at (nu + shift, v): the shifted run
    // stops on the same test as Lanczos applies to the eigenvalue it estimates.
    let shifted = iterate(
        &mut Shifted {
            inner: &mut *op,
            shift,
        },
        options,
        shift,
        progress,
    )?;
    let other = shifted.value + shift;
    // The shifted run reached the other end when its value has the opposite sign of the shift.
    let resolved = shifted.value * shift < 0.0 || shift == 0.0;
    let (max, min) = if dominant.value >= 0.0 {
        (dominant.value, other)
    } else {
        (other, dominant.value)
    };
    let hvps = dominant.hvps + shifted.hvps;
    Ok(PowerExtremes {
        max,
        min,
        resolved,
        dominant,
        shifted,
        shift,
        hvps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::DenseOperator;
    use losscape_core::progress::Silent;

    #[test]
    fn shift_trick_finds_a_negative_minimum() {
        let m = Tensor::from_slice(&[5.0f64, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, -1.0]).view([3, 3]);
        let mut op = DenseOperator::new(&m).unwrap();
        let opts = PowerOptions {
            tol: 1e-9,
            ..Default::default()
        };
        let r = extremes_by_power(&mut op, &opts, &Silent).unwrap();
        assert!(r.resolved && r.dominant.converged && r.shifted.converged);
        assert!(
            (r.max - 5.0).abs() < 1e-8 && (r.min + 1.0).abs() < 1e-8,
            "{} {}",
            r.max,
            r.min
        );
    }

    #[test]
    fn a_positive_definite_spectrum_is_reported_unresolved() {
        let m = Tensor::from_slice(&[5.0f64, 0.0, 0.0, 4.0]).view([2, 2]);
        let mut op = DenseOperator::new(&m).unwrap();
        let r = extremes_by_power(
            &mut op,
            &PowerOptions {
                tol: 1e-10,
                ..Default::default()
            },
            &Silent,
        )
        .unwrap();
        assert!(!r.resolved);
        assert!((r.max - 5.0).abs() < 1e-8);
    }
}
