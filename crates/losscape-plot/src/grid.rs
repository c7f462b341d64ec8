//! A 2D grid of values to draw: coordinates along each axis and one value per grid point.

use ndarray::ArrayView2;

use crate::error::{Error, Result};

/// Values on a rectangular grid: `z[[ix, iy]]` is the value at `(x[ix], y[iy])`.
///
/// The grid need not be square, and non-finite values (NaN, ±inf: diverged points) are allowed;
/// every plot shows them as gaps. Coordinates must be finite and strictly increasing.
#[derive(Debug, Clone, Copy)]
pub struct ValueGrid<'a> {
    x: &'a [f64],
    y: &'a [f64],
    z: ArrayView2<'a, f64>,
}

impl<'a> ValueGrid<'a> {
    /// Checks the shapes and coordinates and wraps them.
    pub fn new(x: &'a [f64], y: &'a [f64], z: ArrayView2<'a, f64>) -> Result<ValueGrid<'a>> {
        if x.is_empty() || y.is_empty() {
            return Err(Error::invalid(format!(
                "empty grid: {} x coordinates and {} y coordinates",
                x.len(),
                y.len()
            )));
        }
        if z.dim() != (x.len(), y.len()) {
            return Err(Error::invalid(format!(
                "grid values have shape {:?} but the coordinates need ({}, {}) (z[[ix, iy]] at (x[ix], y[iy]))",
                z.dim(),
                x.len(),
                y.len()
            )));
        }
        check_axis("x", x)?;
        check_axis("y", y)?;
        Ok(ValueGrid { x, y, z })
    }

    /// The x coordinates (one per row of `z`).
    pub fn x(&self) -> &'a [f64] {
        self.x
    }

    /// The y coordinates (one per column of `z`).
    pub fn y(&self) -> &'a [f64] {
        self.y
    }

    /// The values, shape `(x.len(), y.len())`.
    pub fn z(&self) -> ArrayView2<'a, f64> {
        self.z
    }

    /// Number of x coordinates.
    pub fn nx(&self) -> usize {
        self.x.len()
    }

    /// Number of y coordinates.
    pub fn ny(&self) -> usize {
        self.y.len()
    }

    /// The value at grid point `(ix, iy)`.
    pub(crate) fn at(&self, ix: usize, iy: usize) -> f64 {
        self.z[[ix, iy]]
    }

    /// All finite values.
    pub(crate) fn finite_values(&self) -> Vec<f64> {
        self.z.iter().copied().filter(|v| v.is_finite()).collect()
    }

    /// Whether any value is not finite.
    pub(crate) fn has_gaps(&self) -> bool {
        self.z.iter().any(|v| !v.is_finite())
    }

    /// The x extent (first, last coordinate).
    pub(crate) fn x_extent(&self) -> (f64, f64) {
        (self.x[0], self.x[self.x.len() - 1])
    }

    /// The y extent (first, last coordinate).
    pub(crate) fn y_extent(&self) -> (f64, f64) {
        (self.y[0], self.y[self.y.len() - 1])
    }
}

fn check_axis(name: &str, c: &[f64]) -> Result<()> {
    if let Some(i) = c.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(format!(
            "{name} coordinate {i} is {} (coordinates must be finite)",
            c[i]
        )));
    }
    if let Some(i) = c.windows(2).position(|w| w[1] <= w[0]) {
        return Err(Error::invalid(format!(
            "{name} coordinates must increase strictly, but {name}[{}] = {} follows {name}[{i}] = {}",
            i + 1,
            c[i + 1],
            c[i]
        )));
    }
    Ok(())
}

/// Minimum and maximum of the finite values, if any.
pub(crate) fn finite_min_max(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// The `q`-quantile (0..=1) of finite values by nearest rank; `None` when there are none.
pub(crate) fn quantile(values: &[f64], q: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    Some(v[i])
}

/// A plotting range around [lo, hi] that is never empty: a single value gets a unit-wide (or
/// 10 % wide) range around it.
pub(crate) fn widen(lo: f64, hi: f64) -> (f64, f64) {
    if hi > lo {
        (lo, hi)
    } else {
        let d = if lo == 0.0 { 0.5 } else { lo.abs() * 0.1 };
        (lo - d, hi + d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn checks_shapes_and_coordinates() {
        let z = Array2::<f64>::zeros((3, 2));
        assert!(ValueGrid::new(&[0.0, 1.0, 2.0], &[0.0, 1.0], z.view()).is_ok());
        let e = ValueGrid::new(&[0.0, 1.0], &[0.0, 1.0, 2.0], z.view()).unwrap_err();
        assert!(e.to_string().contains("shape (3, 2)"), "{e}");
        let e = ValueGrid::new(&[0.0, 0.0, 2.0], &[0.0, 1.0], z.view()).unwrap_err();
        assert!(e.to_string().contains("increase"), "{e}");
        let e = ValueGrid::new(&[0.0, f64::NAN, 2.0], &[0.0, 1.0], z.view()).unwrap_err();
        assert!(e.to_string().contains("finite"), "{e}");
        let empty = Array2::<f64>::zeros((0, 2));
        assert!(ValueGrid::new(&[], &[0.0, 1.0], empty.view()).is_err());
    }

    #[test]
    fn quantiles_and_ranges() {
        assert_eq!(quantile(&[3.0, f64::NAN, 1.0, 2.0], 0.5), Some(2.0));
        assert_eq!(quantile(&[f64::NAN], 0.5), None);
        assert_eq!(
            finite_min_max([f64::INFINITY, 2.0, -1.0]),
            Some((-1.0, 2.0))
        );
        assert_eq!(widen(0.0, 0.0), (-0.5, 0.5));
        assert_eq!(widen(1.0, 3.0), (1.0, 3.0));
    }
}
