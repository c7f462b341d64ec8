//! The spectrum report: what `losscape spectrum` measured, as `PREFIX.json` (every number, with
//! the settings that produced it, and the broadened density that `losscape plot --kind density`
//! draws) and `PREFIX.npz` (the arrays for numpy and plots), both written
//! atomically. No timings are stored, so the same inputs and seeds give the same bytes.
//!
//! npz arrays (float64): `nodes` and `weights` `(starts, steps)` (NaN where a start's Lanczos run
//! ended early on an invariant subspace), `grid` and `density` (the broadened density),
//! `moments` `(4,)` (estimates of `(1/n) tr(H^k)`, k = 1..4), `top_values` and `top_residuals`
//! (fresh `||H v - lambda v||`) when eigenpairs were asked for; each only when computed.

use std::path::{Path, PathBuf};

use losscape_landscape::export::write_npz_arrays;
use losscape_models::LossKind;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::density::{Broadened, SpectralDensity};
use crate::error::{Error, Result};
use crate::hutchpp::TraceMethod;
use crate::hvp::ParamSet;
use crate::layers::TensorCurvature;
use crate::repeats::Repeats;

/// Enums a report holds are written as their names (the strings the command line takes), so a
/// report's bytes are those of the names.
macro_rules! by_name {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.name())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
                String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}
by_name!(ParamSet, TraceMethod);

/// The `format` value of spectrum reports.
pub const FORMAT: &str = "losscape-spectrum";

/// Where the spectrum was measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Subject {
    /// The checkpoint's path as given.
    pub checkpoint: String,
    /// Its SHA-256.
    pub checkpoint_hash: String,
    /// The model spec.
    pub model: String,
    /// The data description.
    pub data: String,
    /// Examples the loss is averaged over (per subset with repeats).
    pub samples: usize,
    /// The parameter set (written `weights` or `all`).
    pub params: ParamSet,
    /// Its number of scalars: the Hessian's dimension.
    pub dimension: i64,
    /// The loss (written by its name, e.g. `cross_entropy`).
    pub loss: LossKind,
    /// Precision of the products.
    pub precision: String,
}

/// The density section.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DensitySection {
    /// Random starts.
    pub starts: usize,
    /// Lanczos steps per start.
    pub steps: usize,
    /// Seed of the starts.
    pub seed: u64,
    /// Products used.
    pub hvps: usize,
    /// Width of the broadening Gaussians.
    pub sigma: f64,
    /// Smallest and largest Ritz node.
    pub node_range: (f64, f64),
    /// Moments 1..4 of the spectrum and their standard errors over the starts.
    pub moments: Vec<f64>,
    /// Standard errors of `moments`.
    pub moment_std_errors: Vec<f64>,
    /// Fraction of the spectrum clearly below 0: at nodes below `-0.01 max |node|` (the bulk
    /// near 0 is left out, since its nodes fall on either side of 0 by chance).
    pub negative_mass: f64,
    /// Per start: nodes and weights.
    pub quadratures: Vec<crate::density::Quadrature>,
}

/// One eigenpair line.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EigenLine {
    /// The eigenvalue.
    pub value: f64,
    /// `||H v - lambda v||` from the recurrence.
    pub ritz_residual: f64,
    /// The same from a fresh product.
    pub residual: f64,
}

/// The top/bottom eigenpairs section.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EigenSection {
    /// The largest eigenvalues, descending.
    pub top: Vec<EigenLine>,
    /// The smallest, ascending.
    pub bottom: Vec<EigenLine>,
    /// Residual tolerance of the run.
    pub tol: f64,
    /// Products used (with the fresh checks).
    pub hvps: usize,
    /// Whether every pair passed the test.
    pub converged: bool,
}

/// The trace section.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceSection {
    /// The estimator (written `hutchinson` or `hutch++`).
    pub method: TraceMethod,
    /// The estimate.
    pub value: f64,
    /// Its standard error (Hutch++: of the remainder term).
    pub std_error: f64,
    /// Products used.
    pub hvps: usize,
    /// Seed of the probes.
    pub seed: u64,
}

/// Everything one `losscape spectrum` run measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpectrumReport {
    /// [`FORMAT`].
    pub format: String,
    /// Layout version (1).
    pub version: u32,
    /// Where.
    pub subject: Subject,
    /// The density, if asked for.
    pub density: Option<DensitySection>,
    /// Eigenpairs, if asked for.
    pub eigenpairs: Option<EigenSection>,
    /// The trace, if asked for.
    pub trace: Option<TraceSection>,
    /// Per-tensor curvature, if asked for.
    pub per_layer: Option<Vec<TensorCurvature>>,
    /// Repeats over disjoint subsets, if asked for.
    pub repeats: Option<Repeats>,
    /// The broadened density (`grid`, `density`, `sigma`), if a density was computed.
    pub broadened: Option<Broadened>,
}

impl DensitySection {
    /// The section for a density and its broadened curve.
    pub fn new(d: &SpectralDensity, steps: usize, seed: u64, broadened: &Broadened) -> Self {
        Self {
            starts: d.starts.len(),
            steps,
            seed,
            hvps: d.hvps,
            sigma: broadened.sigma,
            node_range: d.range(),
            moments: (1..=4).map(|k| d.moment(k)).collect(),
            moment_std_errors: (1..=4).map(|k| d.moment_std_error(k)).collect(),
            negative_mass: {
                let (lo, hi) = d.range();
                d.mass(f64::NEG_INFINITY, -0.01 * lo.abs().max(hi.abs()))
            },
            quadratures: d.starts.clone(),
        }
    }
}

impl SpectrumReport {
    /// `PREFIX.json` and `PREFIX.npz` for a prefix (an extension of `.json` or `.npz` is dropped).
    pub fn paths(prefix: &Path) -> (PathBuf, PathBuf) {
        let base = match prefix.extension().and_then(|e| e.to_str()) {
            Some("json") | Some("npz") => prefix.with_extension(""),
            _ => prefix.to_path_buf(),
        };
        let name = base
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (
            base.with_file_name(format!("{name}.json")),
            base.with_file_name(format!("{name}.npz")),
        )
    }

    /// Writes `PREFIX.json` and `PREFIX.npz` (see the module docs); returns their paths.
    pub fn write(&self, prefix: &Path) -> Result<(PathBuf, PathBuf)> {
        let (json, npz) = Self::paths(prefix);
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::Invalid(format!("serializing the spectrum report: {e}")))?;
        losscape_core::fsio::write_atomic(&json, format!("{text}\n").as_bytes())
            .map_err(|e| Error::Invalid(format!("writing {}: {e}", json.display())))?;

        let mut arrays: Vec<(&str, Vec<usize>, Vec<f64>)> = Vec::new();
        if let Some(d) = &self.density {
            let width = d
                .quadratures
                .iter()
                .map(|q| q.nodes.len())
                .max()
                .unwrap_or(0);
            let pad = |f: fn(&crate::density::Quadrature) -> &Vec<f64>| -> Vec<f64> {
                d.quadratures
                    .iter()
                    .flat_map(|q| {
                        let row = f(q);
                        row.iter()
                            .copied()
                            .chain(std::iter::repeat_n(f64::NAN, width - row.len()))
                    })
                    .collect()
            };
            let shape = vec![d.quadratures.len(), width];
            arrays.push(("nodes", shape.clone(), pad(|q| &q.nodes)));
            arrays.push(("weights", shape, pad(|q| &q.weights)));
            arrays.push(("moments", vec![4], d.moments.clone()));
        }
        if let Some(b) = &self.broadened {
            arrays.push(("grid", vec![b.grid.len()], b.grid.clone()));
            arrays.push(("density", vec![b.density.len()], b.density.clone()));
        }
        if let Some(e) = &self.eigenpairs {
            if !e.top.is_empty() {
                arrays.push((
                    "top_values",
                    vec![e.top.len()],
                    e.top.iter().map(|l| l.value).collect(),
                ));
                arrays.push((
                    "top_residuals",
                    vec![e.top.len()],
                    e.top.iter().map(|l| l.residual).collect(),
                ));
            }
            if !e.bottom.is_empty() {
                arrays.push((
                    "bottom_values",
                    vec![e.bottom.len()],
                    e.bottom.iter().map(|l| l.value).collect(),
                ));
                arrays.push((
                    "bottom_residuals",
                    vec![e.bottom.len()],
                    e.bottom.iter().map(|l| l.residual).collect(),
                ));
            }
        }
        if !arrays.is_empty() {
            let refs: Vec<(&str, Vec<usize>, &[f64])> = arrays
                .iter()
                .map(|(n, s, v)| (*n, s.clone(), v.as_slice()))
                .collect();
            write_npz_arrays(&npz, &refs).map_err(losscape_landscape::Error::from)?;
        }
        Ok((json, npz))
    }
}
