//! Tick positions and number formatting for axes, colour bars and contour labels.

/// A "nice" step (1, 2 or 5 times a power of ten) that splits `span` into about `target` parts.
pub(crate) fn nice_step(span: f64, target: usize) -> f64 {
    let target = target.max(1) as f64;
    if !(span.is_finite() && span > 0.0) {
        return 1.0;
    }
    let raw = span / target;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let k = if norm < 1.5 {
        1.0
    } else if norm < 3.5 {
        2.0
    } else if norm < 7.5 {
        5.0
    } else {
        10.0
    };
    k * mag
}

/// Multiples of a nice step inside [lo, hi] (about `target` of them), with near-zeros snapped to 0.
pub(crate) fn linear_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
    let step = nice_step(hi - lo, target);
    let mut ticks = Vec::new();
    if !(lo.is_finite() && hi.is_finite()) || hi < lo {
        return (ticks, step);
    }
    let eps = step * 1e-9;
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    for k in first..=last.min(first + 1000) {
        let v = k as f64 * step;
        let v = if v.abs() < eps { 0.0 } else { v };
        ticks.push(v);
    }
    (ticks, step)
}

/// Decade exponents k with 10^k inside [10^lo_exp, 10^hi_exp] (log10 units in, exponents out),
/// and the minor positions log10(m * 10^k) for m = 2..9 inside the range.
pub(crate) fn log_ticks(lo_exp: f64, hi_exp: f64) -> (Vec<f64>, Vec<f64>) {
    let mut major = Vec::new();
    let mut minor = Vec::new();
    if !(lo_exp.is_finite() && hi_exp.is_finite()) || hi_exp < lo_exp {
        return (major, minor);
    }
    let first = lo_exp.floor() as i64;
    let last = hi_exp.ceil() as i64;
    let decades = last - first;
    // With many decades, label every second (or third, ...) one to keep the labels apart.
    let every = ((decades as f64) / 8.0).ceil().max(1.0) as i64;
    for k in first..=last.min(first + 400) {
        let kf = k as f64;
        if kf >= lo_exp - 1e-9 && kf <= hi_exp + 1e-9 && k.rem_euclid(every) == 0 {
            major.push(kf);
        }
        if decades <= 6 {
            for m in 2..10 {
                let p = kf + (m as f64).log10();
                if p >= lo_exp && p <= hi_exp {
                    minor.push(p);
                }
            }
        }
    }
    (major, minor)
}

/// Formats a tick value on an axis whose ticks are `step` apart.
pub(crate) fn format_tick(v: f64, step: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if a >= 1e5 || (step > 0.0 && step < 1e-4) {
        return format_sci(v);
    }
    let decimals = if step > 0.0 {
        (-step.log10().floor()).max(0.0) as usize
    } else {
        2
    };
    format!("{v:.decimals$}")
}

/// Formats 10^exp for a log axis: plain decimals from 0.001 to 1000, else 1e{exp}.
pub(crate) fn format_power(exp: f64) -> String {
    let k = exp.round() as i32;
    if (-3..=3).contains(&k) {
        let v = 10f64.powi(k);
        let decimals = (-k).max(0) as usize;
        format!("{v:.decimals$}")
    } else {
        format!("1e{k}")
    }
}

/// Formats a value with at most three significant digits (contour labels, colour-bar ends).
pub(crate) fn format_value(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        return format_sci(v);
    }
    let digits = a.log10().floor() as i32;
    let decimals = (2 - digits).max(0) as usize;
    let s = format!("{v:.decimals$}");
    trim_zeros(&s)
}

/// Labels for a set of increasing levels in one format: the same number of decimals for all
/// (the fewest that tell neighbouring levels apart, at least those of their spacing), or
/// scientific notation with one mantissa precision for all when the values are very small or
/// very large.
pub(crate) fn format_levels(levels: &[f64]) -> Vec<String> {
    if levels.len() < 2 {
        return levels.iter().map(|v| format_value(*v)).collect();
    }
    let spacing = levels
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .filter(|d| *d > 0.0)
        .fold(f64::INFINITY, f64::min);
    let biggest = levels.iter().fold(0f64, |m, v| m.max(v.abs()));
    let distinct = |labels: &[String]| labels.windows(2).all(|w| w[0] != w[1]);
    if biggest >= 1e5 || biggest < 1e-3 || !spacing.is_finite() {
        for digits in 0..=12 {
            let labels: Vec<String> = levels.iter().map(|v| format!("{v:.digits$e}")).collect();
            if distinct(&labels) || digits == 12 {
                return labels;
            }
        }
    }
    let first = (-spacing.log10().floor()).max(0.0) as usize;
    for decimals in first..=first + 8 {
        let labels: Vec<String> = levels
            .iter()
            .map(|v| {
                let s = format!("{v:.decimals$}");
                // "-0.0" reads as a level below zero.
                if s.trim_start_matches('-')
                    .chars()
                    .all(|c| c == '0' || c == '.')
                {
                    s.trim_start_matches('-').to_string()
                } else {
                    s
                }
            })
            .collect();
        if distinct(&labels) {
            return labels;
        }
    }
    levels.iter().map(|v| format_value(*v)).collect()
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

fn format_sci(v: f64) -> String {
    let s = format!("{v:.2e}");
    // "1.50e3" -> "1.5e3"
    match s.split_once('e') {
        Some((m, e)) => format!("{}e{}", trim_zeros(m), e),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(10.0, 5), 2.0);
        assert_eq!(nice_step(1.0, 10), 0.1);
        assert_eq!(nice_step(0.03, 6), 0.005);
        assert_eq!(nice_step(700.0, 7), 100.0);
    }

    #[test]
    fn linear_ticks_cover_the_range() {
        let (t, step) = linear_ticks(-1.0, 1.0, 8);
        assert_eq!(step, 0.2);
        assert_eq!(t.len(), 11);
        assert_eq!(t[0], -1.0);
        assert_eq!(t[5], 0.0);
        assert!((t[10] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn log_ticks_pick_decades() {
        let (major, minor) = log_ticks(-1.0, 2.0);
        assert_eq!(major, vec![-1.0, 0.0, 1.0, 2.0]);
        assert_eq!(minor.len(), 24);
        let (major, _) = log_ticks(0.0, 40.0);
        assert!(major.len() <= 9, "{major:?}");
    }

    #[test]
    fn formats() {
        assert_eq!(format_tick(0.5, 0.1), "0.5");
        assert_eq!(format_tick(2.0, 1.0), "2");
        assert_eq!(format_tick(0.25, 0.05), "0.25");
        assert_eq!(format_tick(2e6, 1e6), "2e6");
        assert_eq!(format_value(0.1), "0.1");
        assert_eq!(format_value(12.345), "12.3");
        assert_eq!(format_value(1000.0), "1000");
        assert_eq!(format_value(1e8), "1e8");
        assert_eq!(format_value(-0.0123), "-0.0123");
        assert_eq!(format_power(-2.0), "0.01");
        assert_eq!(format_power(3.0), "1000");
        assert_eq!(format_power(4.0), "1e4");
        assert_eq!(format_power(-4.0), "1e-4");
    }

    #[test]
    fn level_labels_share_one_format() {
        assert_eq!(
            format_levels(&[0.1, 0.6, 1.1, 1.6]),
            vec!["0.1", "0.6", "1.1", "1.6"]
        );
        assert_eq!(
            format_levels(&[0.05, 0.1, 0.15]),
            vec!["0.05", "0.10", "0.15"]
        );
        assert_eq!(format_levels(&[1.0, 2.0, 3.0]), vec!["1", "2", "3"]);
        assert_eq!(format_levels(&[-0.5, 0.0, 0.5]), vec!["-0.5", "0.0", "0.5"]);
        // A tiny range of high values (a path's neighbourhood): enough decimals to differ.
        assert_eq!(
            format_levels(&[0.45125, 0.4513, 0.45135]),
            vec!["0.45125", "0.45130", "0.45135"]
        );
        let sci = format_levels(&[1e5, 2e5, 3e5]);
        assert_eq!(sci, vec!["1e5", "2e5", "3e5"]);
        assert_eq!(format_levels(&[2.5]), vec!["2.5"]);
    }
}
