//! Curvature of loss landscapes: Hessian-vector products, the extreme Hessian eigenvalues, the
//! Hessian trace, and the paper's `|lambda_min / lambda_max|` map over a grid.
//!
//! Li et al. (2018) check that a surface that looks convex in a 2D plot really is: at every grid
//! point they compute the most negative and the most positive eigenvalue of the Hessian of the
//! training loss with respect to the weights, and show `|lambda_min / lambda_max|` as a heat map
//! (near 0 where the landscape is convex). This crate does that in four layers:
//!
//! - [`hvp`]: [`HessianOperator`], `H v` for the mean loss over a data set by double backward
//!   through libtorch, batch by batch (memory bounded by one batch's graph), in evaluation mode,
//!   with respect to the weight tensors of dim > 1 ([`ParamSet::Weights`], the paper's choice) or
//!   all trainable parameters ([`ParamSet::All`]).
//! - [`operator`]: the [`SymmetricOperator`] trait the solvers work on (the Hessian, an explicit
//!   [`DenseOperator`], a [`Shifted`] one), flat f64 vectors, seeded start and probe vectors.
//! - Solvers: [`lanczos()`] (both ends of the spectrum from one run, full reorthogonalization,
//!   stopping on the Ritz residuals, optional Ritz vectors, [`residual_check`] with a fresh
//!   product), [`power_iteration`] and [`extremes_by_power`] (the original code's shift trick, as
//!   a baseline), and [`hutchinson`] (Rademacher trace estimates).
//! - The whole spectrum: [`spectral_density`] (stochastic Lanczos quadrature from seeded starts,
//!   Gaussian-broadened on a grid), [`eigenpairs`] (the top `k` and bottom `j` eigenpairs with
//!   residuals), [`hutch_plus_plus`] beside Hutchinson, [`per_tensor`] (each parameter tensor's
//!   diagonal block) and [`repeats`] over [`disjoint_subsets`] of the data (mean and spread).
//! - [`map`]: [`EigenMetrics`], a [`losscape_landscape::PointMetrics`] giving `min_eig`,
//!   `max_eig`, `abs_ratio`, `hvps` and `converged` at every point of a grid, stored in
//!   landscape's resumable, shardable surface file and exported with its export functions.
//!
//! Small dense eigenproblems (the Lanczos tridiagonals) use libtorch's `linalg_eigh` in f64. All
//! random vectors come from `SplitMix64`, so results are fixed by their seeds on every device.
//!
//! ```
//! use losscape_core::progress::Silent;
//! use losscape_curvature::{hutchinson, lanczos, HessianOperator, HvpOptions, LanczosOptions, ParamSet};
//! use losscape_data::Dataset;
//! use losscape_directions::testing::TinyNet;
//! use tch::{Device, Kind, Tensor};
//!
//! // A tiny conv-BN-linear network in f64 and 24 random 1x6x6 images of 3 classes.
//! let model = TinyNet::new(1, 3, Kind::Double, 0);
//! let images = losscape_data::rng::normal_tensor(1, &[24, 1, 6, 6], Kind::Double);
//! let labels = Tensor::arange(24, (Kind::Int64, Device::Cpu)).remainder(3);
//! let data = Dataset::new(images, labels, 3, "toy")?;
//!
//! let options = HvpOptions { params: ParamSet::All, batch_size: 10, ..Default::default() };
//! let mut hessian = HessianOperator::new(&model, &data, options)?;
//! assert_eq!(hessian.names(), ["conv.weight", "bn.weight", "bn.bias", "fc.weight", "fc.bias"]);
//!
//! let eig = lanczos(&mut hessian, &LanczosOptions { tol: 1e-8, ..Default::default() }, &Silent)?;
//! assert!(eig.converged && eig.min.value < eig.max.value);
//! // The loss is invariant to adding a constant to all logits: fc.bias has a flat direction,
//! // so lambda_min <= 0 <= lambda_max.
//! assert!(eig.min.value <= 1e-9 && eig.max.value > 0.0);
//!
//! // Hutchinson's estimate of the trace, which lies between n lambda_min and n lambda_max.
//! let n = hessian.dim() as f64; // 59 parameters
//! let trace = hutchinson(&mut hessian, 20, 7, &Silent)?;
//! assert!(trace.mean > n * eig.min.value && trace.mean < n * eig.max.value);
//! assert_eq!(hessian.hvps(), eig.hvps + 20);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod density;
pub mod eigendirections;
pub mod eigenpairs;
pub mod error;
pub mod hutchpp;
pub mod hvp;
pub mod job;
pub mod lanczos;
pub mod layers;
pub mod map;
pub mod operator;
pub mod power;
pub mod repeats;
pub mod spectrum_file;
pub mod spread;
pub mod trace;

pub use density::{slq_start, spectral_density, Broadened, Quadrature, SlqOptions, SpectralDensity};
pub use eigendirections::{eigendirections, DirectionEigenpair, EigenDirections, Which};
pub use eigenpairs::{eigenpairs, fresh_residual, EigenOptions, Eigenpair, Eigenpairs};
pub use error::{Error, Result};
pub use hutchpp::{hutch_plus_plus, HutchPlusPlus, Trace, TraceMethod, TraceOptions};
pub use hvp::{HessianOperator, HvpOptions, ParamSet};
pub use job::{HessianMapRequest, MapGrid, PreparedMap};
pub use lanczos::{lanczos, residual_check, LanczosOptions, LanczosResult, RitzPair};
pub use layers::{block_extremes, per_tensor, Extremes, TensorCurvature};
pub use map::{extreme_eigenvalues, EigenMetrics, MAP_ARRAYS};
pub use operator::{DenseOperator, Shifted, SymmetricOperator};
pub use power::{
    extremes_by_power, power_iteration, PowerExtremes, PowerOptions, PowerResult, SHIFT_FACTOR,
};
pub use repeats::{disjoint_subsets, repeats, subset_curvature, Repeats, Spread, SubsetCurvature};
pub use spectrum_file::SpectrumReport;
pub use spread::{repeats_spread, spectral_density_spread};
pub use trace::{hutchinson, rademacher_variance, TraceEstimate};
