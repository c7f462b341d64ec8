//! Per-layer curvature: for every parameter tensor of the set, `lambda_max`, `lambda_min` and the
//! trace of its diagonal Hessian block `d^2 L / d theta_b^2` (the products restricted to that
//! tensor by [`HessianOperator::restricted_to`]).
//!
//! The blocks' traces add up to the trace of the whole Hessian (the trace only sees diagonal
//! blocks); their extreme eigenvalues lie within the whole Hessian's (Cauchy interlacing).

use losscape_core::Progress;
use losscape_data::Dataset;
use losscape_models::Model;

use crate::eigenpairs::{eigenpairs, EigenOptions};
use crate::error::Result;
use crate::hutchpp::{choose, TraceOptions};
use crate::hvp::{HessianOperator, HvpOptions};
use crate::lanczos::LanczosOptions;
use crate::operator::SymmetricOperator;

/// The curvature of one tensor's diagonal block.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TensorCurvature {
    /// The tensor's canonical name.
    pub name: String,
    /// Its number of scalars (the block's dimension).
    pub numel: i64,
    /// The block's largest eigenvalue (Lanczos).
    pub lambda_max: f64,
    /// The block's smallest eigenvalue (Lanczos).
    pub lambda_min: f64,
    /// Whether that Lanczos run converged.
    pub converged: bool,
    /// The block's trace estimate.
    pub trace: f64,
    /// Its standard error (see [`crate::hutchpp::Trace`]).
    pub trace_std_error: f64,
    /// Products spent on this tensor.
    pub hvps: usize,
}

/// [`TensorCurvature`] for every tensor of `hvp.params`, in canonical order. Each block runs one
/// Lanczos (`lanczos_options`; both ends tested relative to the block's largest `|eigenvalue|`,
/// see [`block_extremes`]) and one trace estimate (`trace`; 0 products skips it, leaving NaN). A block of one scalar is exact in one
/// product.
pub fn per_tensor(
    model: &dyn Model,
    data: &Dataset,
    hvp: HvpOptions,
    lanczos_options: &LanczosOptions,
    trace: &TraceOptions,
    progress: &dyn Progress,
) -> Result<Vec<TensorCurvature>> {
    let names = HessianOperator::new(model, data, hvp)?.names().to_vec();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let mut op = HessianOperator::new(model, data, hvp)?.restricted_to(&name)?;
        let eig = block_extremes(&mut op, lanczos_options, progress)?;
        let (value, trace_std_error) = if trace.products == 0 {
            (f64::NAN, f64::NAN)
        } else if op.dim() == 1 {
            (eig.max, 0.0)
        } else {
            let t = choose(&mut op, trace, progress)?;
            (t.value, t.std_error)
        };
        out.push(TensorCurvature {
            name,
            numel: op.dim(),
            lambda_max: eig.max,
            lambda_min: eig.min,
            converged: eig.converged,
            trace: value,
            trace_std_error,
            hvps: op.hvps(),
        });
    }
    Ok(out)
}

/// Both ends of an operator's spectrum by one Lanczos run whose residual test is relative to the
/// largest `|Ritz value|` (`EigenOptions::norm_relative`): a block's smallest eigenvalue is often
/// near 0, where a test relative to itself would never pass.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Extremes {
    /// The largest eigenvalue.
    pub max: f64,
    /// The smallest eigenvalue.
    pub min: f64,
    /// Whether both passed the test.
    pub converged: bool,
}

/// [`Extremes`] of `op` with the tolerances, step limit and seed of `options`.
pub fn block_extremes(
    op: &mut dyn SymmetricOperator,
    options: &LanczosOptions,
    progress: &dyn Progress,
) -> Result<Extremes> {
    if op.dim() == 1 {
        let one = tch::Tensor::from_slice(&[1.0f64]).f_to_device(op.device())?;
        let v = op.apply(&one)?.f_double_value(&[0])?;
        return Ok(Extremes {
            max: v,
            min: v,
            converged: true,
        });
    }
    let r = eigenpairs(
        op,
        &EigenOptions {
            top: 1,
            bottom: 1,
            tol: options.tol,
            atol: options.atol,
            max_iter: options.max_iter,
            seed: options.seed,
            norm_relative: true,
        },
        progress,
    )?;
    Ok(Extremes {
        max: r.top[0].value,
        min: r.bottom[0].value,
        converged: r.converged,
    })
}
