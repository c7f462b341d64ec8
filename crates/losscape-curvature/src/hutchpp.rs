//! Hutch++ (Meyer, Musco, Musco & Woodruff 2021): the trace from `m` products as the exact trace
//! of a rank-`m/3` sketch of the dominant eigenspace plus Hutchinson's estimate of what is left.
//!
//! With Rademacher matrices `S` (`n x s`) and `G` (`n x g`), `s = floor(m / 3)`,
//! `g = m - 2 s`: `Q = orth(A S)` (`s` products), `tr(Q^T A Q)` exactly (`s` products), and
//! `(1/g) tr(G^T (I - Q Q^T) A (I - Q Q^T) G)` (`g` products). Unbiased like Hutchinson's
//! estimator, but the top of the spectrum, which dominates `||A||_F` for a Hessian, no longer
//! contributes variance; [`choose`] picks between the two methods by name.

use std::fmt;
use std::str::FromStr;

use losscape_core::Progress;
use losscape_data::rng::SplitMix64;
use tch::{Kind, Tensor};

use crate::density::std_error;
use crate::error::{Error, Result};
use crate::operator::{check_vector, rademacher, SymmetricOperator};
use crate::trace::hutchinson;

/// A Hutch++ estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct HutchPlusPlus {
    /// The estimate of `tr(A)`: `low_rank + remainder`.
    pub trace: f64,
    /// `tr(Q^T A Q)`, the trace captured by the sketch.
    pub low_rank: f64,
    /// The Hutchinson estimate of the trace of the deflated operator.
    pub remainder: f64,
    /// The standard error of `remainder` from its probes' spread (NaN for one probe). The sketch
    /// itself is random too, so this understates the spread of `trace` over seeds.
    pub remainder_std_error: f64,
    /// Columns of the sketch `Q`.
    pub rank: usize,
    /// Products used.
    pub hvps: usize,
}

/// The trace of `op` by Hutch++ with `products` products (at least 3), probes from `SplitMix64`
/// seeded with `seed`. `progress` gets one task, `hutch++`, with a step per product.
pub fn hutch_plus_plus(
    op: &mut dyn SymmetricOperator,
    products: usize,
    seed: u64,
    progress: &dyn Progress,
) -> Result<HutchPlusPlus> {
    if products < 3 {
        return Err(Error::Invalid(format!(
            "Hutch++ needs at least 3 products, got {products}"
        )));
    }
    let n = op.dim();
    let device = op.device();
    let s = (products / 3).min(n as usize);
    let g = products - 2 * s;
    let mut rng = SplitMix64::new(seed);
    let mut signs = |count: usize| -> Result<Tensor> {
        Ok(
            Tensor::from_slice(&rademacher(&mut rng, n as usize * count))
                .f_reshape([count as i64, n])?
                .f_to_kind(Kind::Double)?
                .f_to_device(device)?,
        )
    };
    let sketch = signs(s)?;
    let probes = signs(g)?;
    progress.begin("hutch++", (2 * s + g) as u64);
    let outcome = (|| -> Result<HutchPlusPlus> {
        let mut apply_rows = |rows: &Tensor| -> Result<Tensor> {
            let mut out = Vec::new();
            for i in 0..rows.size()[0] {
                let v = rows.f_get(i)?;
                let av = op.apply(&v)?;
                check_vector(&av, n, device)?;
                out.push(av);
                progress.advance(1);
            }
            Ok(Tensor::f_stack(&out, 0)?)
        };
        // Q: orthonormal columns spanning A S (reduced QR of the n x s matrix).
        let a_s = apply_rows(&sketch)?;
        let (q, _) = Tensor::f_linalg_qr(&a_s.f_tr()?, "reduced")?;
        let q_rows = q.f_tr()?.f_contiguous()?; // s x n
        let aq = apply_rows(&q_rows)?;
        let low_rank = q_rows
            .f_mul(&aq)?
            .f_sum(Kind::Double)?
            .f_double_value(&[])?;
        // Deflated probes (I - Q Q^T) g.
        let deflated = probes.f_sub(&probes.f_matmul(&q)?.f_matmul(&q_rows)?)?;
        let a_d = apply_rows(&deflated)?;
        let samples = Vec::<f64>::try_from(deflated.f_mul(&a_d)?.f_sum_dim_intlist(
            [1i64].as_slice(),
            false,
            Kind::Double,
        )?)?;
        let remainder = samples.iter().sum::<f64>() / g as f64;
        Ok(HutchPlusPlus {
            trace: low_rank + remainder,
            low_rank,
            remainder,
            remainder_std_error: std_error(&samples),
            rank: s,
            hvps: 2 * s + g,
        })
    })();
    progress.end();
    outcome
}

/// How the trace is estimated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TraceMethod {
    /// Hutchinson's estimator with Rademacher probes ([`hutchinson`]).
    #[default]
    Hutchinson,
    /// Hutch++ ([`hutch_plus_plus`]).
    HutchPlusPlus,
}

impl TraceMethod {
    /// `hutchinson` or `hutch++`.
    pub fn name(self) -> &'static str {
        match self {
            TraceMethod::Hutchinson => "hutchinson",
            TraceMethod::HutchPlusPlus => "hutch++",
        }
    }
}

impl fmt::Display for TraceMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TraceMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hutchinson" => Ok(TraceMethod::Hutchinson),
            "hutch++" | "hutchpp" => Ok(TraceMethod::HutchPlusPlus),
            _ => Err(Error::Invalid(format!(
                "unknown trace method '{s}': use hutchinson or hutch++"
            ))),
        }
    }
}

/// A trace estimate by either method: the value, a standard error (Hutchinson: of the mean;
/// Hutch++: of its remainder term only) and the products used.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Trace {
    /// The estimate of `tr(A)`.
    pub value: f64,
    /// See the type docs.
    pub std_error: f64,
    /// Products used.
    pub hvps: usize,
}

/// A trace method with its budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceOptions {
    /// The estimator.
    pub method: TraceMethod,
    /// Products (probes) to spend; 0 skips the estimate.
    pub products: usize,
    /// Seed of the probes.
    pub seed: u64,
}

/// The trace of `op` by `options.method` with `options.products` products (probes).
pub fn choose(
    op: &mut dyn SymmetricOperator,
    options: &TraceOptions,
    progress: &dyn Progress,
) -> Result<Trace> {
    let (products, seed) = (options.products, options.seed);
    Ok(match options.method {
        TraceMethod::Hutchinson => {
            let t = hutchinson(op, products, seed, progress)?;
            Trace {
                value: t.mean,
                std_error: t.std_error,
                hvps: t.hvps,
            }
        }
        TraceMethod::HutchPlusPlus => {
            let t = hutch_plus_plus(op, products, seed, progress)?;
            Trace {
                value: t.trace,
                std_error: t.remainder_std_error,
                hvps: t.hvps,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::DenseOperator;
    use losscape_core::progress::Silent;

    #[test]
    fn low_rank_matrices_are_exact() {
        // Rank 2 < products / 3: the sketch captures everything, the remainder is 0.
        let u = Tensor::from_slice(&[1.0f64, 2.0, 0.0, -1.0, 0.5, 3.0]).view([2, 3]);
        let m = u
            .tr()
            .matmul(&Tensor::from_slice(&[4.0f64, -1.5]).diag(0))
            .matmul(&u);
        let exact = m.trace().double_value(&[]);
        let mut op = DenseOperator::new(&m).unwrap();
        let t = hutch_plus_plus(&mut op, 9, 3, &Silent).unwrap();
        assert!((t.trace - exact).abs() < 1e-10, "{} vs {exact}", t.trace);
        assert!(t.remainder.abs() < 1e-10);
        assert_eq!(t.hvps, 9);
        assert!(hutch_plus_plus(&mut op, 2, 3, &Silent).is_err());
        assert_eq!(
            "hutch++".parse::<TraceMethod>().unwrap(),
            TraceMethod::HutchPlusPlus
        );
        assert!("nope".parse::<TraceMethod>().is_err());
    }
}
