//! The numbers the figure families gather and the report reads: training runs, the width study,
//! sharpness, PCA shares, Hessian ratios and non-convexity ([`Findings`]), and the small helpers
//! both format them with.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::Value;

use crate::figures::spearman;
use crate::measures::Convexity;

/// A finished training run.
#[derive(Clone, Debug)]
pub struct Run {
    pub name: String,
    pub model: String,
    pub dir: PathBuf,
    pub checkpoint: PathBuf,
    pub test_acc: f64,
    /// Accuracy and loss on the whole training subset in eval mode after the last epoch (how
    /// close the run is to a minimizer of its training data).
    pub train_acc: f64,
    pub train_loss: f64,
    pub batch: usize,
    pub epochs: u64,
    pub train_per_class: Option<usize>,
    pub weight_decay: f64,
    pub wall_seconds: f64,
}

impl Run {
    pub fn test_error(&self) -> f64 {
        100.0 - self.test_acc
    }
}

/// One network of the width study and how flat its plane is near the minimizer.
#[derive(Clone, Debug)]
pub struct WidthResult {
    pub width: u32,
    pub shortcuts: bool,
    pub run: Run,
    /// Mean training-loss rise over the inner square |a|, |b| <= 0.5 of the filter-normalized
    /// plane above the loss at the minimizer (see `families::inner_rise`).
    pub inner_rise: f64,
}

/// Family h: the Hessian spectrum of one minimizer (from its `losscape spectrum` report).
#[derive(Clone, Debug)]
pub struct SpectrumResult {
    pub run: String,
    /// Examples the loss was averaged over, and the Hessian's dimension.
    pub samples: usize,
    pub dimension: i64,
    /// The top eigenvalues (descending) and their fresh relative residuals.
    pub top: Vec<f64>,
    pub top_rel_residuals: Vec<f64>,
    /// Whether the eigenpairs' Lanczos run converged.
    pub converged: bool,
    /// SLQ: starts, steps, the node range, moments 1..4 ((1/n) tr H^k) and the mass clearly
    /// below 0.
    pub starts: usize,
    pub steps: usize,
    pub node_range: (f64, f64),
    pub moments: Vec<f64>,
    pub negative_mass: f64,
}

/// Family h: a minimizer's plane along its top two unit Hessian eigenvectors over +-`range`
/// beside a plane of two random directions of the same length (same grid and data).
#[derive(Clone, Debug)]
pub struct EigenPlane {
    pub run: String,
    /// Half-width of the eigenvector plane, 3 / sqrt(lambda_max), and that lambda_max.
    pub range: f64,
    pub lambda_max: f64,
    /// Mean loss rise over all points of each plane (see `families::mean_rise`).
    pub rise_eigen: f64,
    pub rise_random: f64,
    /// Non-convexity of each plane within its half-width.
    pub convexity_eigen: Convexity,
    pub convexity_random: Convexity,
}

/// Numbers gathered for the report.
#[derive(Default)]
pub struct Findings {
    pub runs: BTreeMap<String, Run>,
    pub sharpness: Vec<(String, String, f64, f64)>, // (run, norm, sharpness, test error)
    pub pca: Vec<(String, Value)>,
    pub ratio_stats: Vec<(String, f64, f64, f64)>, // (model, mean, median, max of |min/max|)
    pub ratio_centre: Vec<(String, f64)>,          // (model, |min/max| at the map's centre, the minimizer)
    pub ratio_converged: Vec<(String, usize, usize)>, // (model, points whose Lanczos runs converged, points)
    pub widths: Vec<WidthResult>,
    /// Non-convexity of each run's filter-normalized plane (radius 1), by run name.
    pub convexity: BTreeMap<String, Convexity>,
    /// The runs of the depth study, in order.
    pub depth: Vec<String>,
    /// Family h: spectra of the study's minimizers and the eigenvector plane.
    pub spectra: Vec<SpectrumResult>,
    pub eigen_planes: Vec<EigenPlane>,
    pub notes: Vec<String>,
}

/// The depth of a `resnet{d}` or `resnet{d}-noshort` model name (0 for other names).
pub fn resnet_depth(model: &str) -> u32 {
    model.strip_prefix("resnet").map_or(0, |rest| rest.trim_end_matches("-noshort").parse().unwrap_or(0))
}

/// How a surface's evaluation data is described in captions and the report.

pub fn eval_note(k: Option<usize>) -> String {
    match k {
        Some(k) => format!("evaluated on the first {k} training images per class ({} in all)", k * 10),
        None => "evaluated on the whole training split".into(),
    }
}

/// Spearman correlation of sharpness and test error for one normalization.
pub fn sharpness_correlation(f: &Findings, norm: &str) -> f64 {
    let rows: Vec<&(String, String, f64, f64)> = f.sharpness.iter().filter(|r| r.1 == norm).collect();
    let x: Vec<f64> = rows.iter().map(|r| r.2).collect();
    let y: Vec<f64> = rows.iter().map(|r| r.3).collect();
    spearman(&x, &y)
}

/// Formats a number with a fixed number of decimals, or "n/a".
pub fn num(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        let mut s = String::new();
        let _ = write!(s, "{v:.decimals$}");
        s
    } else {
        "n/a".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resnet_depths_are_read_from_model_names() {
        assert_eq!(resnet_depth("resnet56-noshort"), 56);
        assert_eq!(resnet_depth("resnet20"), 20);
        assert_eq!(resnet_depth("wrn20-2"), 0);
        assert_eq!(resnet_depth("vgg9"), 0);
    }
}
