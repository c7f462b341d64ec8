//! Hutchinson's stochastic trace estimator with Rademacher probes: `tr(A) ~ (1/m) sum_k z_k^T A z_k`
//! for independent vectors `z_k` of random signs.
//!
//! Each probe costs one product and is unbiased; its variance is `2 (||A||_F^2 - sum_i A_ii^2)`
//! (the diagonal contributes nothing, unlike Gaussian probes, whose variance is `2 ||A||_F^2`),
//! so the mean of `m` probes has standard deviation `sqrt(2 (||A||_F^2 - sum_i A_ii^2) / m)`. The
//! probes come from `SplitMix64` ([`crate::operator::rademacher`]), so an estimate is fixed by its
//! seed and the same on every device.

use losscape_core::Progress;
use losscape_data::rng::SplitMix64;
use tch::{Kind, Tensor};

use crate::error::{Error, Result};
use crate::operator::{check_vector, dot, rademacher, SymmetricOperator};

/// A trace estimate and its spread.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceEstimate {
    /// The mean of the probes' `z^T A z`: the estimate of `tr(A)`.
    pub mean: f64,
    /// The standard error of the mean, from the probes' sample variance (NaN for one probe).
    pub std_error: f64,
    /// Each probe's `z^T A z`, in order.
    pub samples: Vec<f64>,
    /// Products used (one per probe).
    pub hvps: usize,
}

/// Estimates `tr(op)` from `probes` Rademacher vectors drawn from `SplitMix64` seeded with
/// `seed`. `progress` gets one task, `trace`, with a step per probe.
pub fn hutchinson(
    op: &mut dyn SymmetricOperator,
    probes: usize,
    seed: u64,
    progress: &dyn Progress,
) -> Result<TraceEstimate> {
    if probes == 0 {
        return Err(Error::Invalid(
            "a trace estimate needs at least one probe".into(),
        ));
    }
    let n = op.dim();
    let device = op.device();
    let mut rng = SplitMix64::new(seed);
    let mut samples = Vec::with_capacity(probes);
    progress.begin("trace", probes as u64);
    let outcome = (|| -> Result<()> {
        for _ in 0..probes {
            let z = Tensor::from_slice(&rademacher(&mut rng, n as usize))
                .f_to_kind(Kind::Double)?
                .f_to_device(device)?;
            let az = op.apply(&z)?;
            check_vector(&az, n, device)?;
            samples.push(dot(&z, &az)?);
            progress.advance(1);
        }
        Ok(())
    })();
    progress.end();
    outcome?;
    let m = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / m;
    let std_error = if samples.len() > 1 {
        let var = samples.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (m - 1.0);
        (var / m).sqrt()
    } else {
        f64::NAN
    };
    Ok(TraceEstimate {
        mean,
        std_error,
        samples,
        hvps: probes,
    })
}

/// The variance of one Rademacher probe `z^T A z` for an explicit symmetric matrix:
/// `2 (||A||_F^2 - sum_i A_ii^2)`.
pub fn rademacher_variance(matrix: &Tensor) -> Result<f64> {
    let m = matrix.f_to_kind(Kind::Double)?;
    let frob = m.f_square()?.f_sum(Kind::Double)?.f_double_value(&[])?;
    let diag = m
        .f_diagonal(0, 0, 1)?
        .f_square()?
        .f_sum(Kind::Double)?
        .f_double_value(&[])?;
    Ok(2.0 * (frob - diag))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::DenseOperator;
    use losscape_core::progress::Silent;

    #[test]
    fn a_diagonal_matrix_has_an_exact_estimate() {
        // Zero variance: every probe gives the trace exactly.
        let m = Tensor::from_slice(&[1.0f64, -2.0, 7.5]).diag(0);
        let mut op = DenseOperator::new(&m).unwrap();
        let t = hutchinson(&mut op, 4, 9, &Silent).unwrap();
        assert!(
            t.samples.iter().all(|s| (s - 6.5).abs() < 1e-12),
            "{:?}",
            t.samples
        );
        assert_eq!(t.hvps, 4);
        assert_eq!(rademacher_variance(&m).unwrap(), 0.0);
        assert!(hutchinson(&mut op, 0, 9, &Silent).is_err());
    }
}
