//! Loss surfaces in bf16: the fast path's folded network computing in bf16 (weights and
//! activations; logits back in f32, losses summed in f64 as for f32), and the check every bf16
//! surface gets: the centre and the corners of its grid recomputed in f32, the largest relative
//! loss deviation and the largest accuracy difference recorded in the header (under
//! [`REPORT_PREFIX`] keys, which a resume neither compares nor overwrites).
//!
//! bf16 keeps f32's exponent range with 8 significant bits, so each weight and activation carries
//! a relative rounding error of at most 2^-9 (about 2e-3). On a trained ResNet-20's 21x21 surface
//! the median relative loss deviation was 2.3e-3, but near the minimum, where the loss is 0.01-0.1,
//! bf16's absolute error (about 1e-2) is a large relative one (up to 1.3e-1): the check below
//! includes the centre for that reason (numbers in the crate README).
//! It is an evaluation precision only: models stay in f32, and curvature (Hessian-vector products
//! by double backward, Lanczos) refuses it.

use std::fmt;

use losscape_core::Precision;
use losscape_models::Model;
use tch::{Device, Kind};

use crate::error::{Error, Result};
use crate::fast::{FastForward, Layout};
use crate::grid::Grid;
use crate::run::{GridJob, LossMetrics, PointComputer};
use crate::surface::{SurfaceHeader, REPORT_PREFIX};

/// Header key: the largest relative loss deviation of bf16 from f32 at the checked points.
pub const LOSS_DEVIATION_KEY: &str = "report.bf16_max_rel_loss_deviation";
/// Header key: the largest accuracy difference (percentage points) of bf16 from f32.
pub const ACCURACY_DIFFERENCE_KEY: &str = "report.bf16_max_acc_difference";
/// Header key: the grid indices checked, comma-separated.
pub const CHECK_POINTS_KEY: &str = "report.bf16_check_points";

/// The inference plan of `model` evaluating in `precision`: the model's own plan for its own
/// precision (`None` where it has none: the plain forward), the plan in bf16 for bf16 (refused
/// for a model without a plan, which bf16 cannot reach).
pub fn plan_in(model: &dyn Model, precision: Precision) -> Result<Option<FastForward>> {
    let plan = FastForward::new(model, Layout::ChannelsLast);
    match precision {
        Precision::Bf16 => match plan {
            Some(plan) => Ok(Some(plan.with_kind(Kind::BFloat16))),
            None => Err(Error::invalid(format!(
                "bf16 evaluation runs on the fast path of the built-in networks in f32 (ResNets, VGG-9), and this {} model has none",
                model.spec()
            ))),
        },
        _ => Ok(plan),
    }
}

/// A note for the user when bf16 runs on a CPU without native bf16 instructions (emulated with
/// f32 instructions and conversions: likely slower than f32); `None` elsewhere.
pub fn emulation_note(precision: Precision, device: Device) -> Option<String> {
    (precision == Precision::Bf16 && device == Device::Cpu && losscape_core::precision::cpu_has_native_bf16() == Some(false))
        .then(|| "this CPU has no native bf16 instructions (avx512_bf16 or amx_bf16): bf16 is emulated and likely slower than f32".to_string())
}

/// The grid indices a bf16 surface is checked at: the centre point (middle index of each axis;
/// (0, 0) on a symmetric odd grid) and the corners (the ends of a 1D grid), each once.
pub fn check_points(grid: &Grid) -> Vec<usize> {
    let (nx, ny) = grid.shape();
    let mut points = vec![grid.index(nx / 2, ny / 2)];
    for ix in [0, nx - 1] {
        for iy in [0, ny - 1] {
            points.push(grid.index(ix, iy));
        }
    }
    points.sort_unstable();
    points.dedup();
    points
}

/// bf16 against f32 at a few grid points.
#[derive(Clone, Debug, PartialEq)]
pub struct PrecisionCheck {
    /// The grid indices compared.
    pub points: Vec<usize>,
    /// max |loss_bf16 - loss_f32| / |loss_f32| over the points and the loss arrays (infinite
    /// where exactly one of the two is NaN).
    pub max_rel_loss_deviation: f64,
    /// max |acc_bf16 - acc_f32| in percentage points (NaN when no point has an accuracy).
    pub max_acc_difference: f64,
}

impl PrecisionCheck {
    /// Compares `bf16` with `f32` values (one row per point, in the order of `names`): names
    /// ending in `_loss` by relative deviation, `_acc` by difference. Points undefined in both
    /// (NaN: a BN variance out of range) are skipped.
    pub fn compare(points: Vec<usize>, names: &[String], bf16: &[Vec<f64>], f32: &[Vec<f64>]) -> Self {
        let (mut loss, mut acc) = (0.0f64, f64::NAN);
        for (low, high) in bf16.iter().zip(f32) {
            for ((name, &b), &f) in names.iter().zip(low).zip(high) {
                if b.is_nan() && f.is_nan() {
                    continue;
                }
                if name.ends_with("_loss") {
                    let dev = if b.is_nan() || f.is_nan() { f64::INFINITY } else { (b - f).abs() / f.abs().max(f64::MIN_POSITIVE) };
                    loss = loss.max(dev);
                } else if name.ends_with("_acc") {
                    let diff = if b.is_nan() || f.is_nan() { f64::INFINITY } else { (b - f).abs() };
                    acc = if acc.is_nan() { diff } else { acc.max(diff) };
                }
            }
        }
        PrecisionCheck { points, max_rel_loss_deviation: loss, max_acc_difference: acc }
    }

    /// Writes the check into `header.extra` (under [`REPORT_PREFIX`] keys).
    pub fn record(&self, header: &mut SurfaceHeader) {
        debug_assert!(LOSS_DEVIATION_KEY.starts_with(REPORT_PREFIX));
        header.extra.insert(LOSS_DEVIATION_KEY.into(), format!("{:.3e}", self.max_rel_loss_deviation));
        header.extra.insert(ACCURACY_DIFFERENCE_KEY.into(), format!("{:.3e}", self.max_acc_difference));
        let points: Vec<String> = self.points.iter().map(usize::to_string).collect();
        header.extra.insert(CHECK_POINTS_KEY.into(), points.join(","));
    }

    /// The check a header records, if any (as recorded: 4 significant digits).
    pub fn from_header(header: &SurfaceHeader) -> Option<Self> {
        let number = |key: &str| header.extra.get(key)?.parse::<f64>().ok();
        let points = header.extra.get(CHECK_POINTS_KEY)?.split(',').map(|p| p.parse().ok()).collect::<Option<Vec<usize>>>()?;
        Some(PrecisionCheck {
            points,
            max_rel_loss_deviation: number(LOSS_DEVIATION_KEY)?,
            max_acc_difference: number(ACCURACY_DIFFERENCE_KEY)?,
        })
    }
}

impl fmt::Display for PrecisionCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bf16 against f32 at {} point(s) (centre and corners): largest relative loss deviation {:.2e}, largest accuracy difference {:.2} percentage points",
            self.points.len(),
            self.max_rel_loss_deviation,
            self.max_acc_difference
        )
    }
}

/// Computes `bf16` and `f32` (the same metrics through an f32 plan) at the [`check_points`] of
/// `grid` that `job.shard` holds, or at all of them when the shard holds none, and compares them.
/// The model is back at its base weights afterwards, whatever happens.
pub fn check_bf16(job: &GridJob<'_>, bf16: &mut LossMetrics<'_>, f32: &mut LossMetrics<'_>, header: &SurfaceHeader) -> Result<PrecisionCheck> {
    let grid = &header.grid;
    let all = check_points(grid);
    let mine: Vec<usize> = all.iter().copied().filter(|&i| job.shard.contains(i)).collect();
    let points = if mine.is_empty() { all } else { mine };
    let values = |metrics: &mut LossMetrics<'_>| -> Result<Vec<Vec<f64>>> {
        let mut computer = PointComputer::new(job.model, job.directions, metrics, header)?;
        let rows = points.iter().map(|&i| computer.compute(grid, i)).collect::<Result<Vec<_>>>();
        let restored = computer.restore();
        let rows = rows?;
        restored?;
        Ok(rows)
    };
    let low = values(bf16)?;
    let high = values(f32)?;
    Ok(PrecisionCheck::compare(points, &header.arrays, &low, &high))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_points_are_the_centre_and_the_corners_once_each() {
        let g = |x: &str, y: Option<&str>| Grid::new(x.parse().unwrap(), y.map(|y| y.parse().unwrap())).unwrap();
        // 21x21: corners 0, 20, 420, 440 and the centre (10, 10) = 220.
        assert_eq!(check_points(&g("-1:1:21", Some("-1:1:21"))), vec![0, 20, 220, 420, 440]);
        assert_eq!(check_points(&g("-1:1:5", None)), vec![0, 2, 4]);
        assert_eq!(check_points(&g("0:1:2", Some("0:0:1"))), vec![0, 1]);
        assert_eq!(check_points(&g("0:0:1", None)), vec![0]);
    }

    #[test]
    fn compare_takes_relative_loss_and_absolute_accuracy_maxima() {
        let names: Vec<String> = ["train_loss", "train_acc"].iter().map(|s| s.to_string()).collect();
        let bf16 = vec![vec![1.001, 90.0], vec![2.0, 80.5], vec![f64::NAN, f64::NAN]];
        let f32 = vec![vec![1.0, 90.0], vec![2.004, 80.0], vec![f64::NAN, f64::NAN]];
        let check = PrecisionCheck::compare(vec![0, 1, 2], &names, &bf16, &f32);
        assert!((check.max_rel_loss_deviation - 0.004 / 2.004).abs() < 1e-12);
        assert!((check.max_acc_difference - 0.5).abs() < 1e-12);
        // A NaN on one side only is an infinite deviation, never a silent skip.
        let broken = PrecisionCheck::compare(vec![0], &names, &[vec![f64::NAN, 90.0]], &[vec![1.0, 90.0]]);
        assert_eq!(broken.max_rel_loss_deviation, f64::INFINITY);

        let mut header = SurfaceHeader::new(Grid::new("0:1:3".parse().unwrap(), None).unwrap(), names);
        check.record(&mut header);
        let back = PrecisionCheck::from_header(&header).unwrap();
        assert_eq!(back.points, vec![0, 1, 2]);
        assert!((back.max_rel_loss_deviation / check.max_rel_loss_deviation - 1.0).abs() < 1e-3);
        assert_eq!(back.max_acc_difference, 0.5);
    }
}
