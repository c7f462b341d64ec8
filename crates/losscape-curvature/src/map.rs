//! The eigenvalue-ratio map of the paper: `lambda_min`, `lambda_max` and `|lambda_min /
//! lambda_max|` of the loss Hessian at every point of a 1D or 2D grid, as a
//! [`PointMetrics`] for landscape's resumable, shardable grid driver
//! ([`losscape_landscape::run_grid`]), so the map lives in an ordinary surface file and exports like
//! a loss surface.
//!
//! Every point runs Lanczos from the same seeded start vector, so a point's values do not depend
//! on which shard computed it or on the order of the points, and a resumed map equals an
//! uninterrupted one.

use std::collections::BTreeMap;

use losscape_core::progress::Silent;
use losscape_core::{Precision, Progress};
use losscape_data::Dataset;
use losscape_landscape::{Grid, PointMetrics, SurfaceHeader};
use losscape_models::Model;

use crate::error::{Error, Result};
use crate::hvp::{HessianOperator, HvpOptions};
use crate::lanczos::{lanczos, LanczosOptions, LanczosResult};

/// The arrays of a Hessian map, in order: the two extreme eigenvalues, `|min_eig / max_eig|`, the
/// Hessian-vector products spent at the point, and 1 or 0 for whether Lanczos converged there.
pub const MAP_ARRAYS: [&str; 5] = ["min_eig", "max_eig", "abs_ratio", "hvps", "converged"];

/// The extreme eigenvalues of the Hessian of `model`'s mean loss over `data`, by one Lanczos run.
pub fn extreme_eigenvalues(
    model: &dyn Model,
    data: &Dataset,
    hvp: HvpOptions,
    options: &LanczosOptions,
    progress: &dyn Progress,
) -> Result<LanczosResult> {
    let mut op = HessianOperator::new(model, data, hvp)?;
    lanczos(&mut op, options, progress)
}

/// Hessian eigenvalues at each grid point (see the module docs), for
/// [`losscape_landscape::run_grid`].
pub struct EigenMetrics<'a> {
    /// The data the loss is averaged over, on the model's device.
    pub data: &'a Dataset,
    /// How the Hessian-vector products are taken.
    pub hvp: HvpOptions,
    /// The Lanczos settings used at every point (Ritz vectors are never kept).
    pub lanczos: LanczosOptions,
    hvps: usize,
}

impl<'a> EigenMetrics<'a> {
    /// A map over `data` with these settings.
    pub fn new(data: &'a Dataset, hvp: HvpOptions, lanczos: LanczosOptions) -> Self {
        Self {
            data,
            hvp,
            lanczos: LanczosOptions {
                ritz_vectors: false,
                ..lanczos
            },
            hvps: 0,
        }
    }

    /// Hessian-vector products spent by this value so far (over all points it computed).
    pub fn total_hvps(&self) -> usize {
        self.hvps
    }

    /// The settings a resumed map must share, for [`SurfaceHeader::extra`]: the parameter set,
    /// tolerances, step limit and start seed, under keys `hessian.*`.
    pub fn header_extra(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("hessian.params".to_owned(), self.hvp.params.to_string()),
            ("hessian.tol".to_owned(), self.lanczos.tol.to_string()),
            ("hessian.atol".to_owned(), self.lanczos.atol.to_string()),
            (
                "hessian.max_iter".to_owned(),
                self.lanczos.max_iter.to_string(),
            ),
            ("hessian.seed".to_owned(), self.lanczos.seed.to_string()),
        ])
    }

    /// A surface header for a map over `grid` of a model of precision `precision`: arrays
    /// [`MAP_ARRAYS`], the loss, batch size, data name, dtype and [`header_extra`](Self::header_extra)
    /// filled in; the caller adds the checkpoint and direction fields.
    pub fn header(&self, grid: Grid, precision: Precision) -> SurfaceHeader {
        let mut header =
            SurfaceHeader::new(grid, MAP_ARRAYS.iter().map(|s| s.to_string()).collect());
        header.loss = self.hvp.loss.to_string();
        header.batch_size = self.hvp.batch_size;
        header.data = self.data.name.clone();
        header.dtype = precision;
        header.extra = self.header_extra();
        header
    }
}

impl PointMetrics for EigenMetrics<'_> {
    fn names(&self) -> Vec<String> {
        MAP_ARRAYS.iter().map(|s| s.to_string()).collect()
    }

    /// Runs Lanczos at the model's current weights. A point whose loss or curvature is not finite
    /// (far out on a diverging surface) is a result, stored as NaN values and `converged` 0,
    /// rather than an error that stops the map.
    fn compute(&mut self, model: &dyn Model) -> losscape_landscape::Result<Vec<f64>> {
        let mut op = HessianOperator::new(model, self.data, self.hvp)?;
        let outcome = lanczos(&mut op, &self.lanczos, &Silent);
        self.hvps += op.hvps();
        match outcome {
            Ok(r) => Ok(vec![
                r.min.value,
                r.max.value,
                r.abs_ratio(),
                r.hvps as f64,
                if r.converged { 1.0 } else { 0.0 },
            ]),
            Err(Error::NotFinite(_)) => {
                Ok(vec![f64::NAN, f64::NAN, f64::NAN, op.hvps() as f64, 0.0])
            }
            Err(e) => Err(e.into()),
        }
    }
}
