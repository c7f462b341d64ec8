//! Early stopping with error bars: the settings of an evaluation that stops, at each grid point,
//! once the standard error of the mean loss is small enough ([`Sampling`]), the running
//! estimate of a mean and its standard error ([`MeanEstimate`]), and the names of the arrays that
//! such a surface adds per split (`<split>_loss_se`, `<split>_acc_se`, `<split>_count`).
//!
//! The evaluation walks a fixed, seeded permutation of the split batch by batch (the same order
//! at every point) and stops after the first batch at which at least
//! [`min_samples`](Sampling::min_samples) examples are seen and the standard error of the mean
//! loss is at most [`rel_error`](Sampling::rel_error) times `|mean|`, or when the split runs out.
//! The standard error is that of the mean of `n` examples drawn from the data's distribution,
//! `sqrt(s^2 / n)` with the sample variance `s^2`; the mean over the whole split is closer to the
//! estimate than that, by the factor `sqrt(1 - n/N)` (sampling without replacement).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::surface::Surface;

/// The default floor on the examples evaluated at a point: 256 (8 batches of 32 on the CPU), so
/// the sample variance that the stopping rule trusts rests on enough examples.
pub const DEFAULT_MIN_SAMPLES: usize = 256;

/// How a surface evaluates each point: every example (no `Sampling`), or a seeded prefix of a
/// permutation that stops once the mean loss is known to `rel_error`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// Stop once `standard error <= rel_error * |mean loss|` (a finite number > 0).
    pub rel_error: f64,
    /// Evaluate at least this many examples (or the whole split when it is smaller).
    pub min_samples: usize,
    /// Seed of the permutation of each split (the same at every point).
    pub seed: u64,
}

impl Sampling {
    /// Checked settings: `rel_error` finite and > 0, `min_samples` >= 2 (a variance needs two
    /// examples).
    pub fn new(rel_error: f64, min_samples: usize, seed: u64) -> Result<Self> {
        if !(rel_error.is_finite() && rel_error > 0.0) {
            return Err(Error::invalid(format!(
                "the relative standard error to stop at must be a finite number above 0, not {rel_error}"
            )));
        }
        if min_samples < 2 {
            return Err(Error::invalid(format!(
                "the floor on the examples per point must be at least 2 (a standard error needs two), not {min_samples}"
            )));
        }
        Ok(Sampling { rel_error, min_samples, seed })
    }

    /// Whether an evaluation whose loss estimate is `loss`, out of `total` examples, stops here.
    pub fn stops(&self, loss: &MeanEstimate, total: usize) -> bool {
        loss.count() >= total
            || (loss.count() >= self.min_samples && loss.standard_error() <= self.rel_error * loss.mean().abs())
    }

    /// The arrays a sampled surface holds for the metric arrays `metrics` (such as
    /// `["train_loss", "train_acc"]`): after each split's `<split>_acc`, its `<split>_loss_se`,
    /// `<split>_acc_se` and `<split>_count`.
    pub fn arrays(metrics: &[String]) -> Vec<String> {
        let mut out = Vec::with_capacity(metrics.len() * 5 / 2);
        for name in metrics {
            out.push(name.clone());
            if let Some(split) = name.strip_suffix("_acc") {
                out.extend([se_array(&format!("{split}_loss")), se_array(name), count_array(split)]);
            }
        }
        out
    }
}

/// The name of the standard-error array of metric `name` (`train_loss` -> `train_loss_se`).
pub fn se_array(name: &str) -> String {
    format!("{name}_se")
}

/// The name of the array of examples evaluated per point on `split` (`train` -> `train_count`).
pub fn count_array(split: &str) -> String {
    format!("{split}_count")
}

/// The mean of `split`'s example counts over the done points of a sampled surface (`None` when
/// it has no `<split>_count` array or no point is done).
pub fn mean_count(surface: &Surface, split: &str) -> Option<f64> {
    let counts = surface.array(&count_array(split))?;
    let done: Vec<f64> = counts.iter().zip(surface.done()).filter(|(_, &d)| d).map(|(&c, _)| c).collect();
    (!done.is_empty()).then(|| done.iter().sum::<f64>() / done.len() as f64)
}

impl fmt::Display for Sampling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "auto (relative standard error {}, at least {} examples, permutation seed {})",
            self.rel_error, self.min_samples, self.seed
        )
    }
}

/// A running mean with its standard error: count, sum and sum of squares in f64, added in order
/// (so the same values in the same order give the same bits).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MeanEstimate {
    count: usize,
    sum: f64,
    sum_sq: f64,
}

impl MeanEstimate {
    /// Adds one value.
    pub fn push(&mut self, x: f64) {
        self.count += 1;
        self.sum += x;
        self.sum_sq += x * x;
    }

    /// Adds `count` values whose sum is `sum` and sum of squares `sum_sq` (0/1 outcomes: both are
    /// the number of ones).
    pub fn push_sums(&mut self, count: usize, sum: f64, sum_sq: f64) {
        self.count += count;
        self.sum += sum;
        self.sum_sq += sum_sq;
    }

    /// Values added.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Their mean (NaN before the first).
    pub fn mean(&self) -> f64 {
        self.sum / self.count as f64
    }

    /// The standard error of the mean, `sqrt(s^2 / n)` with the unbiased sample variance `s^2`
    /// (clamped at 0 against rounding); NaN below two values.
    pub fn standard_error(&self) -> f64 {
        if self.count < 2 {
            return f64::NAN;
        }
        let n = self.count as f64;
        let var = ((self.sum_sq - self.sum * self.sum / n) / (n - 1.0)).max(0.0);
        (var / n).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_matches_the_textbook_formulas() {
        let xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let mut m = MeanEstimate::default();
        xs.iter().for_each(|&x| m.push(x));
        assert_eq!(m.mean(), 5.0);
        // Sum of squared deviations 32, s^2 = 32/7, SE = sqrt(32/7/8).
        assert!((m.standard_error() - (32.0f64 / 7.0 / 8.0).sqrt()).abs() < 1e-15);
        let mut one = MeanEstimate::default();
        one.push(1.0);
        assert!(one.standard_error().is_nan());
    }

    #[test]
    fn the_rule_waits_for_the_floor_and_the_error() {
        let s = Sampling::new(0.1, 4, 0).unwrap();
        let mut m = MeanEstimate::default();
        for x in [1.0, 1.0, 1.0] {
            m.push(x);
        }
        assert!(!s.stops(&m, 100), "below the floor");
        assert!(s.stops(&m, 3), "the data ran out");
        m.push(1.0);
        assert!(s.stops(&m, 100), "SE 0 at the floor");
        m.push(100.0);
        assert!(!s.stops(&m, 100), "a large SE: {}", m.standard_error());
    }

    #[test]
    fn bad_settings_are_refused_and_arrays_follow_each_split() {
        assert!(Sampling::new(0.0, 10, 0).is_err());
        assert!(Sampling::new(f64::NAN, 10, 0).is_err());
        assert!(Sampling::new(0.01, 1, 0).is_err());
        let names = ["train_loss", "train_acc", "test_loss", "test_acc"].map(String::from);
        assert_eq!(
            Sampling::arrays(&names),
            [
                "train_loss", "train_acc", "train_loss_se", "train_acc_se", "train_count",
                "test_loss", "test_acc", "test_loss_se", "test_acc_se", "test_count"
            ]
        );
    }
}
