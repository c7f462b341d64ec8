//! Per-layer curvature: for every parameter tensor of the set, `lambda_max`, `lambda_min` and the
//! trace of its diagonal Hessian block `d^2 L / d theta_b^2` (the products restricted to that
//! tensor by [`HessianOperator::restricted_to`]).
//!
//! The blocks' traces add up to the trace of the whole Hessian (the trace only sees diagonal
//! blocks); their extreme eigenvalues lie within the whole Hessian's (Cauchy interlacing).

use losscape_core::Progress;
use losscape_data::Dataset;
use losscape_models::Model;

use crate::error::Result;
use crate::hutchpp::{choose, TraceOptions};
use crate::hvp::{HessianOperator, HvpOptions};
use crate::lanczos::{lanczos, LanczosOptions};

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
/// Lanczos (`lanczos_options`) and one trace estimate (`trace`; 0 products skips it, leaving NaN). A block of one scalar is exact in one
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
        let eig = lanczos(&mut op, lanczos_options, progress)?;
        let (value, trace_std_error) = if trace.products == 0 {
            (f64::NAN, f64::NAN)
        } else if op.dim() == 1 {
            (eig.max.value, 0.0)
        } else {
            let t = choose(&mut op, trace, progress)?;
            (t.value, t.std_error)
        };
        out.push(TensorCurvature {
            name,
            numel: op.dim(),
            lambda_max: eig.max.value,
            lambda_min: eig.min.value,
            converged: eig.converged,
            trace: value,
            trace_std_error,
            hvps: op.hvps(),
        });
    }
    Ok(out)
}
