//! The whole Hessian spectrum by stochastic Lanczos quadrature (SLQ): the spectral density
//! `phi(t) = (1/n) sum_i delta(t - lambda_i)` of a symmetric operator, estimated from a few seeded
//! random starts as Ghorbani, Krishnan & Xiao (2019) and PyHessian do.
//!
//! For a unit start `v` drawn uniformly on the sphere (normalized Gaussian draws from
//! `SplitMix64`), `m` Lanczos steps with full reorthogonalization give the tridiagonal `T_m`, whose
//! eigenpairs `(theta_i, s_i)` are the nodes and weights `w_i = s_i[0]^2` of the Gauss quadrature
//! of the measure `mu_v = sum_j (v . u_j)^2 delta(t - lambda_j)`: `v^T f(A) v = sum_i w_i
//! f(theta_i)` exactly for polynomials `f` of degree below `2m`. `E[mu_v]` is the spectral density,
//! so the average of the starts' quadratures estimates it; each start's weights sum to 1. The
//! moments `int t^k phi(t) dt = (1/n) tr(A^k)` are estimated without bias once `2m > k`.
//!
//! A plottable curve replaces each node by a Gaussian of width `sigma` (the broadening of
//! PyHessian's `density_generate`) on an even grid; see [`SpectralDensity::broadened`].

use losscape_core::Progress;
use losscape_data::rng::derive_seed;
use tch::Tensor;

use crate::error::{Error, Result};
use crate::lanczos::{tridiagonal, Krylov};
use crate::operator::{gaussian_unit, norm, symmetric_eigh, SymmetricOperator};

/// Settings of an SLQ run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlqOptions {
    /// Independent random starts (the density is their average).
    pub starts: usize,
    /// Lanczos steps (operator products) per start; capped at the operator's dimension.
    pub steps: usize,
    /// Seed of the starts: start `j` draws from `SplitMix64` seeded with `derive_seed(seed, j)`.
    pub seed: u64,
    /// Orthogonalize each start against the earlier ones (a random orthonormal set instead of
    /// independent vectors). Still unbiased, with less variance; with `starts` equal to the
    /// dimension the moments become exact (`sum_j v_j^T f(A) v_j = tr f(A)` over an orthonormal
    /// basis). Keeps the starts in memory.
    pub orthogonal: bool,
}

impl Default for SlqOptions {
    /// PyHessian's defaults: 1 start of 100 steps; we default to 4 starts, seed 0.
    fn default() -> Self {
        Self {
            starts: 4,
            steps: 100,
            seed: 0,
            orthogonal: false,
        }
    }
}

/// One start's Gauss quadrature: nodes ascending, weights summing to 1.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Quadrature {
    /// The seed its start vector was drawn with.
    pub seed: u64,
    /// Ritz values of its tridiagonal, ascending.
    pub nodes: Vec<f64>,
    /// Squared first components of the tridiagonal's eigenvectors (sum 1).
    pub weights: Vec<f64>,
}

impl Quadrature {
    /// `sum_i w_i theta_i^k`, this start's estimate of `(1/n) tr(A^k)`.
    pub fn moment(&self, k: u32) -> f64 {
        self.nodes
            .iter()
            .zip(&self.weights)
            .map(|(t, w)| w * t.powi(k as i32))
            .sum()
    }
}

/// The estimated spectral density: the starts' quadratures.
#[derive(Clone, Debug, PartialEq)]
pub struct SpectralDensity {
    /// Dimension of the operator (number of eigenvalues the density describes).
    pub dim: i64,
    /// One quadrature per start, in start order.
    pub starts: Vec<Quadrature>,
    /// Operator products used in all.
    pub hvps: usize,
}

/// A Gaussian-broadened density on an even grid.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Broadened {
    /// The grid points, ascending and evenly spaced.
    pub grid: Vec<f64>,
    /// The density at each grid point (integrates to about 1 over the grid).
    pub density: Vec<f64>,
    /// The width of the Gaussians.
    pub sigma: f64,
}

impl SpectralDensity {
    /// The average over starts of `sum_i w_i theta_i^k`: the estimate of the `k`-th moment of the
    /// spectrum, `(1/n) tr(A^k)` (unbiased when `2 * steps > k`).
    pub fn moment(&self, k: u32) -> f64 {
        mean(self.starts.iter().map(|q| q.moment(k)))
    }

    /// The standard error of [`moment`](Self::moment) from the spread of the starts (NaN for one
    /// start).
    pub fn moment_std_error(&self, k: u32) -> f64 {
        let xs: Vec<f64> = self.starts.iter().map(|q| q.moment(k)).collect();
        std_error(&xs)
    }

    /// The estimated fraction of the eigenvalues in `[lo, hi)`.
    pub fn mass(&self, lo: f64, hi: f64) -> f64 {
        mean(self.starts.iter().map(|q| {
            q.nodes
                .iter()
                .zip(&q.weights)
                .filter(|(t, _)| **t >= lo && **t < hi)
                .map(|(_, w)| w)
                .sum::<f64>()
        }))
    }

    /// The smallest and largest node over all starts (Lanczos approaches the spectrum's ends from
    /// inside, so these are estimates of `lambda_min` and `lambda_max`).
    pub fn range(&self) -> (f64, f64) {
        let nodes = self.starts.iter().flat_map(|q| q.nodes.iter().copied());
        nodes.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), t| {
            (lo.min(t), hi.max(t))
        })
    }

    /// The density broadened by Gaussians of width `sigma` (each node `theta_i` of each start
    /// becomes `w_i N(theta_i, sigma^2)`, averaged over the starts) on `points` even grid points
    /// from `lambda_min - pad` to `lambda_max + pad`, `pad = 5 sigma` (as PyHessian, which adds a
    /// margin around the nodes). `sigma = None` takes 1% of the nodes' range (or 1e-3 when
    /// they all coincide).
    pub fn broadened(&self, points: usize, sigma: Option<f64>) -> Result<Broadened> {
        if points < 2 {
            return Err(Error::Invalid(
                "a density grid needs at least 2 points".into(),
            ));
        }
        let (lo, hi) = self.range();
        if !(lo.is_finite() && hi.is_finite()) {
            return Err(Error::Invalid(
                "the spectral density has no finite nodes".into(),
            ));
        }
        let sigma = match sigma {
            Some(s) if s.is_finite() && s > 0.0 => s,
            Some(s) => {
                return Err(Error::Invalid(format!(
                    "the broadening width must be positive and finite, got {s}"
                )))
            }
            None if hi > lo => 0.01 * (hi - lo),
            None => 1e-3 * hi.abs().max(1.0),
        };
        let (a, b) = (lo - 5.0 * sigma, hi + 5.0 * sigma);
        let step = (b - a) / (points - 1) as f64;
        let grid: Vec<f64> = (0..points).map(|i| a + step * i as f64).collect();
        let norm = 1.0 / (sigma * (2.0 * std::f64::consts::PI).sqrt());
        let starts = self.starts.len() as f64;
        let density = grid
            .iter()
            .map(|x| {
                self.starts
                    .iter()
                    .flat_map(|q| q.nodes.iter().zip(&q.weights))
                    .map(|(t, w)| w * norm * (-0.5 * ((x - t) / sigma).powi(2)).exp())
                    .sum::<f64>()
                    / starts
            })
            .collect();
        Ok(Broadened {
            grid,
            density,
            sigma,
        })
    }
}

/// The spectral density of `op` by SLQ (see the module docs). `progress` gets one task, `density`,
/// with a step per product.
pub fn spectral_density(
    op: &mut dyn SymmetricOperator,
    options: &SlqOptions,
    progress: &dyn Progress,
) -> Result<SpectralDensity> {
    if options.starts == 0 || options.steps == 0 {
        return Err(Error::Invalid(
            "a spectral density needs at least one start and one Lanczos step".into(),
        ));
    }
    let n = op.dim();
    if options.orthogonal && options.starts as i64 > n {
        return Err(Error::Invalid(format!(
            "{} orthogonal starts do not fit in dimension {n}",
            options.starts
        )));
    }
    let steps = options.steps.min(n as usize);
    progress.begin("density", (options.starts * steps) as u64);
    let outcome = (|| -> Result<SpectralDensity> {
        let mut starts = Vec::with_capacity(options.starts);
        let mut earlier: Vec<Tensor> = Vec::new();
        let mut hvps = 0;
        for j in 0..options.starts {
            let seed = derive_seed(options.seed, j as u64);
            let mut v = gaussian_unit(n, seed, op.device())?;
            if options.orthogonal {
                if !earlier.is_empty() {
                    let q = Tensor::f_stack(&earlier, 0)?;
                    for _ in 0..2 {
                        v = v.f_sub(&q.f_tr()?.f_mv(&q.f_mv(&v)?)?)?;
                    }
                    v = v.f_div_scalar(norm(&v)?)?;
                }
                earlier.push(v.shallow_clone());
            }
            let q = quadrature(op, v, seed, steps, progress)?;
            hvps += q.nodes.len();
            starts.push(q);
        }
        Ok(SpectralDensity {
            dim: n,
            starts,
            hvps,
        })
    })();
    progress.end();
    outcome
}

/// Start `j` of an SLQ run with independent starts (`options.orthogonal` false): its Gauss
/// quadrature from a unit start drawn with `derive_seed(options.seed, j)`. It depends on `j` and
/// the operator alone, so starts can be computed anywhere (other processes,
/// [`crate::spread`]) and give what [`spectral_density`] gives for them.
pub fn slq_start(op: &mut dyn SymmetricOperator, options: &SlqOptions, j: usize, progress: &dyn Progress) -> Result<Quadrature> {
    let seed = derive_seed(options.seed, j as u64);
    let n = op.dim();
    let v = gaussian_unit(n, seed, op.device())?;
    quadrature(op, v, seed, options.steps.min(n as usize), progress)
}

/// The Gauss quadrature of `steps` Lanczos steps from the unit vector `v` (drawn with `seed`).
fn quadrature(op: &mut dyn SymmetricOperator, v: Tensor, seed: u64, steps: usize, progress: &dyn Progress) -> Result<Quadrature> {
    let run = lanczos_tridiagonal(op, v, steps, progress)?;
    let (nodes, s) = symmetric_eigh(&tridiagonal(&run.alphas, &run.betas)?)?;
    let first = Vec::<f64>::try_from(s.f_select(0, 0)?)?;
    let weights = first.iter().map(|x| x * x).collect();
    Ok(Quadrature { seed, nodes, weights })
}

/// The outcome of a plain Lanczos run: the tridiagonal's diagonal and off-diagonal.
pub(crate) struct Tridiagonal {
    pub alphas: Vec<f64>,
    pub betas: Vec<f64>,
}

/// `steps` Lanczos steps from the unit vector `start`, reorthogonalizing every new vector against
/// all earlier ones twice; stops early on an invariant subspace. One progress step per product.
pub(crate) fn lanczos_tridiagonal(
    op: &mut dyn SymmetricOperator,
    start: Tensor,
    steps: usize,
    progress: &dyn Progress,
) -> Result<Tridiagonal> {
    let n = op.dim();
    let device = op.device();
    let mut krylov = Krylov::new(start, n, device);
    loop {
        krylov.product(op)?;
        progress.advance(1);
        if krylov.alphas.len() >= steps {
            break;
        }
        let beta = krylov.residual()?;
        let scale = krylov.alphas.iter().chain(&krylov.betas).fold(0.0f64, |m, x| m.max(x.abs()));
        if beta <= 1e-12 * scale.max(f64::MIN_POSITIVE) {
            break; // invariant subspace: the quadrature is exact
        }
        krylov.extend(beta)?;
    }
    let Krylov { alphas, betas, .. } = krylov;
    Ok(Tridiagonal { alphas, betas })
}

pub(crate) fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = xs.fold((0.0, 0usize), |(s, c), x| (s + x, c + 1));
    sum / count as f64
}

/// Sample standard deviation (n - 1), NaN for fewer than two values.
pub(crate) fn sample_std(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return f64::NAN;
    }
    let m = mean(xs.iter().copied());
    (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64).sqrt()
}

pub(crate) fn std_error(xs: &[f64]) -> f64 {
    sample_std(xs) / (xs.len() as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::DenseOperator;
    use losscape_core::progress::Silent;

    #[test]
    fn a_diagonal_spectrum_is_recovered_with_full_steps() {
        let values: Vec<f64> = (0..12).map(|i| (i as f64 - 3.0) * 0.5).collect();
        let mut op = DenseOperator::new(&Tensor::from_slice(&values).diag(0)).unwrap();
        let opts = SlqOptions {
            starts: 3,
            steps: 50,
            seed: 1,
            orthogonal: false,
        };
        let d = spectral_density(&mut op, &opts, &Silent).unwrap();
        assert_eq!(d.hvps, 36); // capped at the dimension
        for q in &d.starts {
            assert_eq!(q.nodes.len(), 12);
            assert!((q.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            for (t, v) in q.nodes.iter().zip(&values) {
                assert!((t - v).abs() < 1e-10, "{t} vs {v}");
            }
        }
        let (lo, hi) = d.range();
        assert!((lo + 1.5).abs() < 1e-10 && (hi - 4.0).abs() < 1e-10);
        let b = d.broadened(2001, Some(0.05)).unwrap();
        let dx = b.grid[1] - b.grid[0];
        let integral: f64 = b.density.iter().sum::<f64>() * dx;
        assert!((integral - 1.0).abs() < 1e-6, "{integral}");
        assert!(d.broadened(1, None).is_err() && d.broadened(10, Some(-1.0)).is_err());
        assert!(spectral_density(&mut op, &SlqOptions { starts: 0, ..opts }, &Silent).is_err());
    }
}
