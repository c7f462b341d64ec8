//! The step learning-rate schedule: a base rate multiplied by a factor after given epochs.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Step schedule: training epoch `e` (counted from 1) runs at `base_lr * factor^k`, where `k` is the
/// number of decay epochs strictly before `e`.
///
/// This is the original code's convention: with decay epochs 150, 225, 275 the learning rate is
/// multiplied by the factor *after* epoch 150 has finished, so epochs 1..=150 run at the base rate
/// and epoch 151 is the first at the decayed rate. The checkpoint of a decay epoch is therefore
/// the last one taken at the old rate.
///
/// ```
/// use losscape_train::StepSchedule;
/// let s = StepSchedule { base_lr: 0.1, factor: 0.1, decay_epochs: vec![2, 4] };
/// let lrs: Vec<f64> = (1..=5).map(|e| s.lr_at(e)).collect();
/// assert_eq!(lrs, vec![0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1, 0.1 * 0.1 * 0.1]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepSchedule {
    /// Learning rate of the first epochs.
    pub base_lr: f64,
    /// Multiplier applied at each decay epoch (e.g. 0.1).
    pub factor: f64,
    /// Epochs after which the rate is multiplied by `factor`, strictly increasing.
    pub decay_epochs: Vec<u64>,
}

impl StepSchedule {
    /// The learning rate used during training epoch `epoch` (1-based; epoch 0, the
    /// initialization, reports the base rate). The rate is formed by repeated multiplication,
    /// exactly as a running `lr *= factor` would.
    pub fn lr_at(&self, epoch: u64) -> f64 {
        let mut lr = self.base_lr;
        for _ in self.decay_epochs.iter().filter(|&&d| d < epoch) {
            lr *= self.factor;
        }
        lr
    }

    /// Checks the values: positive finite rate, factor in `(0, 1]`, decay epochs strictly
    /// increasing, at least 1 and below `epochs` (a decay at or after the last epoch would never
    /// take effect).
    pub fn check(&self, epochs: u64) -> Result<()> {
        if !(self.base_lr.is_finite() && self.base_lr > 0.0) {
            return Err(Error::Config(format!("learning rate must be positive, got {}", self.base_lr)));
        }
        if !(self.factor.is_finite() && self.factor > 0.0 && self.factor <= 1.0) {
            return Err(Error::Config(format!("lr decay factor must be in (0, 1], got {}", self.factor)));
        }
        if self.decay_epochs.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::Config(format!(
                "lr decay epochs must be strictly increasing, got {:?}",
                self.decay_epochs
            )));
        }
        if let Some(&bad) = self.decay_epochs.iter().find(|&&d| d == 0 || d >= epochs) {
            return Err(Error::Config(format!(
                "lr decay epoch {bad} is outside 1..{epochs} (the run has {epochs} epochs)"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_schedule() {
        let s = StepSchedule { base_lr: 0.1, factor: 0.1, decay_epochs: vec![150, 225, 275] };
        s.check(300).unwrap();
        assert_eq!(s.lr_at(0), 0.1);
        assert_eq!(s.lr_at(150), 0.1);
        assert_eq!(s.lr_at(151), 0.1 * 0.1);
        assert_eq!(s.lr_at(225), 0.1 * 0.1);
        assert_eq!(s.lr_at(226), 0.1 * 0.1 * 0.1);
        assert_eq!(s.lr_at(276), 0.1 * 0.1 * 0.1 * 0.1);
        assert_eq!(s.lr_at(300), s.lr_at(276));
    }

    #[test]
    fn rejects_bad_schedules() {
        let ok = StepSchedule { base_lr: 0.1, factor: 0.1, decay_epochs: vec![5, 8] };
        ok.check(10).unwrap();
        let cases = [
            StepSchedule { base_lr: 0.0, ..ok.clone() },
            StepSchedule { factor: 1.5, ..ok.clone() },
            StepSchedule { decay_epochs: vec![8, 5], ..ok.clone() },
            StepSchedule { decay_epochs: vec![5, 5], ..ok.clone() },
            StepSchedule { decay_epochs: vec![0], ..ok.clone() },
        ];
        for c in cases {
            assert!(c.check(10).is_err(), "{c:?}");
        }
        assert!(ok.check(8).unwrap_err().to_string().contains("decay epoch 8"));
    }
}
