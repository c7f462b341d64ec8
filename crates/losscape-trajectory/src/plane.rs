//! A plane of two directions through the final model, and how much of a path it captures: the
//! path's coordinates in the plane (least squares, in the plane's own directions, so they are the
//! `(a, b)` of a surface computed with those directions) and the share of the total variance of
//! the centred rows that lies in the plane (after orthonormalizing its two directions).
//!
//! Everything here works on small matrices: the rows' dot products with the two directions and
//! the directions' own 2 x 2 Gram matrix, both computed by the streaming pass.

use crate::error::{Error, Result};

/// A path seen in a plane.
#[derive(Clone, Debug, PartialEq)]
pub struct PlaneFit {
    /// Least-squares coordinates `(a, b)` of every row: `r_i ~ a d1 + b d2`.
    pub coords: Vec<[f64; 2]>,
    /// Share (0..1) of the total variance of the centred rows that lies in the plane.
    pub captured_share: f64,
}

/// Fits rows to the plane of `d1, d2`.
///
/// `dots[i] = [<r_i, d1>, <r_i, d2>]`, `dgram = [[<d1,d1>, <d1,d2>], [<d2,d1>, <d2,d2>]]`,
/// `total` = sum of squares of the centred rows. With the Cholesky factor `L` of `dgram`, the
/// coordinates in an orthonormal basis of the plane are `z_i = L^-1 dots[i]`; the captured share
/// is `sum_i |z_i - mean z|^2 / total`. Fails when the directions are zero or parallel.
pub fn fit_plane(dots: &[[f64; 2]], dgram: [[f64; 2]; 2], total: f64) -> Result<PlaneFit> {
    let [[a, b], [b2, c]] = dgram;
    let b = 0.5 * (b + b2);
    if !(a > 0.0 && c > 0.0 && a.is_finite() && b.is_finite() && c.is_finite()) {
        return Err(Error::Invalid("a plane direction is zero or not finite".into()));
    }
    let l11 = a.sqrt();
    let l21 = b / l11;
    let rest = c - l21 * l21;
    if rest <= c * 1e-12 {
        return Err(Error::Invalid("the two plane directions are parallel".into()));
    }
    let l22 = rest.sqrt();
    let det = a * c - b * b;
    let n = dots.len().max(1) as f64;
    let mut z = Vec::with_capacity(dots.len());
    let mut coords = Vec::with_capacity(dots.len());
    for &[x1, x2] in dots {
        let z1 = x1 / l11;
        z.push([z1, (x2 - l21 * z1) / l22]);
        coords.push([(c * x1 - b * x2) / det, (a * x2 - b * x1) / det]);
    }
    let mean = [z.iter().map(|p| p[0]).sum::<f64>() / n, z.iter().map(|p| p[1]).sum::<f64>() / n];
    let captured: f64 = z.iter().map(|p| (p[0] - mean[0]).powi(2) + (p[1] - mean[1]).powi(2)).sum();
    if total.is_nan() || total <= 0.0 {
        return Err(Error::Invalid("the path has no variance to capture".into()));
    }
    Ok(PlaneFit { coords, captured_share: captured / total })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows in 3-D: the plane of e1 and e1 + e2 holds the first two coordinates.
    #[test]
    fn captured_share_and_coordinates_in_a_skewed_basis() {
        let rows = [[1.0, 2.0, 3.0], [-1.0, 0.5, -3.0], [0.0, 0.0, 0.0], [2.0, -1.0, 1.0]];
        let (d1, d2) = ([1.0, 0.0, 0.0], [1.0, 1.0, 0.0]);
        let dot = |x: &[f64; 3], y: &[f64; 3]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
        let dots: Vec<[f64; 2]> = rows.iter().map(|r| [dot(r, &d1), dot(r, &d2)]).collect();
        let dgram = [[dot(&d1, &d1), dot(&d1, &d2)], [dot(&d2, &d1), dot(&d2, &d2)]];
        let mean: Vec<f64> = (0..3).map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / 4.0).collect();
        let var = |j: usize| rows.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>();
        let total = var(0) + var(1) + var(2);
        let fit = fit_plane(&dots, dgram, total).unwrap();
        assert!((fit.captured_share - (var(0) + var(1)) / total).abs() < 1e-12);
        // r = a d1 + b d2 in the plane: b = r[1], a = r[0] - r[1].
        for (r, c) in rows.iter().zip(&fit.coords) {
            assert!((c[0] - (r[0] - r[1])).abs() < 1e-12 && (c[1] - r[1]).abs() < 1e-12, "{c:?}");
        }
        assert!(fit_plane(&dots, [[1.0, 1.0], [1.0, 1.0]], total).unwrap_err().to_string().contains("parallel"));
        assert!(fit_plane(&dots, [[0.0, 0.0], [0.0, 1.0]], total).is_err());
    }
}
