//! Contour levels: linear levels like the original's `arange(vmin, vmax, vlevel)`, plus
//! log-spaced decades above them for the high-loss regions.

use crate::error::{Error, Result};
use crate::grid::{finite_min_max, quantile};
use crate::ticks::nice_step;

/// Most contour levels a figure may have (more would be unreadable, and guards against a tiny step).
const MAX_LEVELS: usize = 200;

/// Most log-spaced high levels.
const MAX_DECADES: usize = 12;

/// How contour levels are chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum Levels {
    /// About `count` nice linear levels from the smallest to the largest finite value; when the
    /// values are heavy-tailed (the largest is more than three times as far from the smallest as
    /// the 90th percentile is), the linear levels stop at the 90th percentile and decades
    /// (10, 100, ...) follow up to the largest value.
    Auto {
        /// Target number of linear levels.
        count: usize,
    },
    /// `min, min + step, ...` below `max` (as the original's `arange(vmin, vmax, vlevel)`,
    /// `max` excluded); with `log_above`, the decades 10^k above the last linear level up to the
    /// largest finite value (as the original's `logspace` levels).
    Linear {
        /// First level.
        min: f64,
        /// Levels stay below this value.
        max: f64,
        /// Distance between levels (> 0).
        step: f64,
        /// Add decades above the linear levels where the data reach them.
        log_above: bool,
    },
    /// Exactly these levels (sorted and deduplicated before use).
    Explicit(Vec<f64>),
}

impl Default for Levels {
    fn default() -> Self {
        Levels::Auto { count: 12 }
    }
}

impl Levels {
    /// The original's defaults: 0.1 to 10 in steps of 0.5, then decades above.
    pub fn original() -> Levels {
        Levels::Linear {
            min: 0.1,
            max: 10.0,
            step: 0.5,
            log_above: true,
        }
    }

    /// The levels for the given data (non-finite values are ignored): linear levels first,
    /// then the log-spaced high levels.
    pub fn resolve(&self, values: &[f64]) -> Result<LevelSet> {
        let range = finite_min_max(values.iter().copied());
        match self {
            Levels::Auto { count } => {
                let Some((lo, hi)) = range else {
                    return Ok(LevelSet::default());
                };
                if hi <= lo {
                    return Ok(LevelSet {
                        linear: vec![lo],
                        log: vec![],
                    });
                }
                // Heavy-tailed values (a basin amid much higher losses) get linear levels up to
                // their 90th percentile and decades above; others linear levels throughout.
                let q90 = quantile(values, 0.9).unwrap_or(hi);
                let top = if q90 > lo && hi - lo > 3.0 * (q90 - lo) {
                    q90
                } else {
                    hi
                };
                let step = nice_step(top - lo, (*count).max(2));
                let first = (lo / step).floor() * step + step;
                let mut linear = Vec::new();
                let mut v = first;
                while v <= top + step * 1e-9 && linear.len() < MAX_LEVELS {
                    linear.push(clean(v, step));
                    v = first + step * linear.len() as f64;
                }
                if linear.is_empty() {
                    linear.push(clean(first, step));
                }
                let log = decades_above(*linear.last().unwrap_or(&top), hi);
                Ok(LevelSet { linear, log })
            }
            Levels::Linear {
                min,
                max,
                step,
                log_above,
            } => {
                if !(min.is_finite() && max.is_finite() && step.is_finite())
                    || *step <= 0.0
                    || max <= min
                {
                    return Err(Error::invalid(format!(
                        "contour levels need finite min < max and step > 0 (got min {min}, max {max}, step {step})"
                    )));
                }
                let n = ((max - min) / step - 1e-9).ceil().max(1.0);
                if n > MAX_LEVELS as f64 {
                    return Err(Error::invalid(format!(
                        "contour levels from {min} to {max} in steps of {step} would make {n} levels (at most {MAX_LEVELS})"
                    )));
                }
                let linear: Vec<f64> = (0..n as usize)
                    .map(|i| clean(min + step * i as f64, *step))
                    .collect();
                let log = match (log_above, range) {
                    (true, Some((_, hi))) => decades_above(*linear.last().unwrap_or(min), hi),
                    _ => vec![],
                };
                Ok(LevelSet { linear, log })
            }
            Levels::Explicit(levels) => {
                if let Some(v) = levels.iter().find(|v| !v.is_finite()) {
                    return Err(Error::invalid(format!("contour level {v} is not finite")));
                }
                if levels.len() > MAX_LEVELS {
                    return Err(Error::invalid(format!(
                        "{} contour levels given (at most {MAX_LEVELS})",
                        levels.len()
                    )));
                }
                let mut linear = levels.clone();
                linear.sort_by(f64::total_cmp);
                linear.dedup();
                Ok(LevelSet {
                    linear,
                    log: vec![],
                })
            }
        }
    }
}

impl Levels {
    /// The levels for the values in view, within an optional value `range` (values outside it
    /// are left out and so are levels outside it). When these levels would draw fewer than three
    /// lines across the values in view (fixed levels such as [`Levels::original`] over a
    /// neighbourhood where the loss varies by 1e-4), about ten automatic levels over those
    /// values are taken instead, so a map always shows its shape. Explicit levels are kept as
    /// given.
    pub fn resolve_for_view(&self, values: &[f64], range: Option<(f64, f64)>) -> Result<LevelSet> {
        if let Some((lo, hi)) = range {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return Err(Error::invalid(format!(
                    "level range {lo}..{hi} is empty or not finite"
                )));
            }
        }
        let in_range = |v: &f64| v.is_finite() && range.is_none_or(|(lo, hi)| *v >= lo && *v <= hi);
        let values: Vec<f64> = values.iter().copied().filter(in_range).collect();
        let keep = |set: &mut LevelSet| {
            set.linear.retain(in_range);
            set.log.retain(in_range);
        };
        let mut set = self.resolve(&values)?;
        keep(&mut set);
        if matches!(self, Levels::Explicit(_)) {
            return Ok(set);
        }
        let Some((lo, hi)) = finite_min_max(values.iter().copied()) else {
            return Ok(set);
        };
        let crossing = |s: &LevelSet| {
            s.linear
                .iter()
                .chain(&s.log)
                .filter(|v| **v > lo && **v < hi)
                .count()
        };
        if crossing(&set) < 3 {
            let mut auto = Levels::Auto { count: 10 }.resolve(&values)?;
            keep(&mut auto);
            if crossing(&auto) > crossing(&set) {
                set = auto;
            }
        }
        Ok(set)
    }
}

/// Resolved contour levels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LevelSet {
    /// The linear levels, increasing.
    pub linear: Vec<f64>,
    /// The log-spaced high levels (decades), increasing, all above the linear ones.
    pub log: Vec<f64>,
}

impl LevelSet {
    /// Whether there is no level at all.
    pub fn is_empty(&self) -> bool {
        self.linear.is_empty() && self.log.is_empty()
    }
}

/// Decades 10^k strictly above `above` and at most `hi`.
fn decades_above(above: f64, hi: f64) -> Vec<f64> {
    let mut out = Vec::new();
    if !(hi.is_finite() && above.is_finite()) || hi <= above || hi <= 0.0 {
        return out;
    }
    let start = if above > 0.0 {
        above.log10().floor() as i32
    } else {
        hi.log10().floor() as i32 - 8
    };
    for k in start..=(hi.log10().floor() as i32) {
        let v = 10f64.powi(k);
        if v > above * (1.0 + 1e-12) && v <= hi {
            out.push(v);
        }
    }
    // Values spanning very many decades (a diverged run reaching 1e30): keep about a dozen.
    let every = out.len().div_ceil(MAX_DECADES).max(1);
    out.into_iter().step_by(every).collect()
}

/// Rounds away the binary noise of `min + step * i` (0.1 + 0.5 * 3 = 1.6000000000000001).
fn clean(v: f64, step: f64) -> f64 {
    let scale = 10f64.powi((-step.log10().floor() as i32 + 6).clamp(0, 15));
    (v * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_levels_match_arange() {
        let set = Levels::Linear {
            min: 0.1,
            max: 10.0,
            step: 0.5,
            log_above: false,
        }
        .resolve(&[0.0, 5.0])
        .unwrap();
        assert_eq!(set.linear.len(), 20);
        assert_eq!(set.linear[0], 0.1);
        assert_eq!(set.linear[3], 1.6);
        assert_eq!(*set.linear.last().unwrap(), 9.6);
        assert!(set.log.is_empty());
    }

    #[test]
    fn log_levels_only_where_the_data_reach() {
        let set = Levels::original()
            .resolve(&[0.05, 3.0, 2500.0, f64::NAN, f64::INFINITY])
            .unwrap();
        assert_eq!(set.log, vec![10.0, 100.0, 1000.0]);
        let set = Levels::original().resolve(&[0.05, 3.0]).unwrap();
        assert!(set.log.is_empty());
    }

    #[test]
    fn auto_levels_from_finite_values_only() {
        let mut values: Vec<f64> = (0..100).map(|i| i as f64 / 10.0).collect();
        values.push(f64::NAN);
        values.push(5000.0);
        let set = Levels::Auto { count: 10 }.resolve(&values).unwrap();
        assert!(set.linear.len() >= 5 && set.linear.len() <= 20, "{set:?}");
        assert!(
            set.linear.iter().all(|v| *v > 0.0 && *v <= 9.0 + 1e-9),
            "{set:?}"
        );
        assert_eq!(set.log, vec![10.0, 100.0, 1000.0]);
        assert!(Levels::default()
            .resolve(&[f64::NAN, f64::NAN])
            .unwrap()
            .is_empty());
        assert_eq!(
            Levels::default().resolve(&[2.0, 2.0]).unwrap().linear,
            vec![2.0]
        );
    }

    #[test]
    fn levels_follow_the_values_in_view() {
        // A neighbourhood where the loss varies by 3e-4: the original levels cross nothing, so
        // automatic levels over the values are drawn instead.
        let values: Vec<f64> = (0..50).map(|i| 0.4512 + 3e-4 * i as f64 / 49.0).collect();
        let set = Levels::original().resolve_for_view(&values, None).unwrap();
        assert!(set.linear.len() >= 5, "{set:?}");
        assert!(
            set.linear.iter().all(|v| *v > 0.4511 && *v < 0.4516),
            "{set:?}"
        );
        // Over a wide range the original levels stay.
        let wide: Vec<f64> = (0..50).map(|i| 0.1 + 5.0 * i as f64 / 49.0).collect();
        let set = Levels::original().resolve_for_view(&wide, None).unwrap();
        assert_eq!(set.linear[0], 0.1);
        // A range keeps levels and values inside it.
        let set = Levels::original()
            .resolve_for_view(&wide, Some((1.0, 3.0)))
            .unwrap();
        assert!(
            set.linear.iter().all(|v| (1.0..=3.0).contains(v)),
            "{set:?}"
        );
        assert!(Levels::original()
            .resolve_for_view(&wide, Some((3.0, 1.0)))
            .is_err());
    }

    #[test]
    fn decades_are_thinned_over_huge_ranges() {
        let set = Levels::original().resolve(&[0.1, 1e300]).unwrap();
        assert!(
            set.log.len() <= MAX_DECADES && set.log.len() >= 6,
            "{:?}",
            set.log
        );
        assert_eq!(set.log[0], 10.0);
    }

    #[test]
    fn bad_levels_are_errors() {
        assert!(Levels::Linear {
            min: 1.0,
            max: 0.0,
            step: 0.1,
            log_above: false
        }
        .resolve(&[])
        .is_err());
        assert!(Levels::Linear {
            min: 0.0,
            max: 1.0,
            step: 0.0,
            log_above: false
        }
        .resolve(&[])
        .is_err());
        assert!(Levels::Linear {
            min: 0.0,
            max: 1.0,
            step: 1e-9,
            log_above: false
        }
        .resolve(&[])
        .is_err());
        assert!(Levels::Explicit(vec![1.0, f64::NAN]).resolve(&[]).is_err());
        assert_eq!(
            Levels::Explicit(vec![2.0, 1.0, 2.0])
                .resolve(&[])
                .unwrap()
                .linear,
            vec![1.0, 2.0]
        );
    }
}
