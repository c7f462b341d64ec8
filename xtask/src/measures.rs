//! Numbers computed from a surface for the report: how non-convex a 2D loss surface is near the
//! minimizer (discrete Hessians of the grid) and how many local extrema it has.
//!
//! The paper judges convexity by eye (and by Hessian-ratio maps); the report needs a number. For
//! each interior grid point `(a, b)` with `a^2 + b^2 <= radius^2`, the 2x2 Hessian of the surface
//! is estimated by central differences,
//!
//! ```text
//! L_aa = (L[i+1,j] - 2 L[i,j] + L[i-1,j]) / h_a^2
//! L_bb = (L[i,j+1] - 2 L[i,j] + L[i,j-1]) / h_b^2
//! L_ab = (L[i+1,j+1] - L[i+1,j-1] - L[i-1,j+1] + L[i-1,j-1]) / (4 h_a h_b)
//! ```
//!
//! and its eigenvalues `lambda_min <= lambda_max` taken. A point is *non-convex* when
//! `lambda_min < -REL_TOL * |lambda_max|` (a relative tolerance, so rounding on a flat plateau
//! does not count). The share of such points is the non-convexity number; the mean of
//! `max(0, -lambda_min) / |lambda_max|` over the same points is the surface analogue of the
//! Hessian map's `|lambda_min / lambda_max|`.

use std::path::Path;

use losscape_surface::Surface;

/// Relative tolerance on the smaller eigenvalue (see the module documentation).
pub const REL_TOL: f64 = 0.01;

/// Non-convexity of a 2D surface within a radius of the origin.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Convexity {
    /// Interior points within the radius whose 3x3 neighbourhood is finite.
    pub points: usize,
    /// Of those, the points with `lambda_min < -REL_TOL * |lambda_max|`.
    pub non_convex: usize,
    /// Mean of `max(0, -lambda_min) / |lambda_max|` over the points.
    pub mean_neg_ratio: f64,
    /// Strict local minima and maxima among all interior points (each lower / higher than its
    /// eight neighbours), anywhere on the grid.
    pub local_minima: usize,
    pub local_maxima: usize,
}

impl Convexity {
    /// The share of non-convex points, in percent (NaN without points).
    pub fn share(&self) -> f64 {
        if self.points == 0 {
            f64::NAN
        } else {
            100.0 * self.non_convex as f64 / self.points as f64
        }
    }
}

/// A 2D surface on a uniform grid: `values[i][j]` at `(xs[i], ys[j])`.
pub struct GridValues {
    pub xs: Vec<f64>,
    pub ys: Vec<f64>,
    pub values: Vec<Vec<f64>>,
}

impl GridValues {
    /// The array `name` of the surface file `path` (read with losscape-surface, no libtorch) as a
    /// grid, points not computed as NaN; None when the file cannot be read, lacks the array or
    /// is not a 2D grid of at least 3 x 3 points.
    pub fn from_surface(path: &Path, name: &str) -> Option<Self> {
        let m = Surface::load(path).ok()?.masked(name)?;
        let (nx, ny) = m.shape();
        if nx < 3 || ny < 3 || m.done.len() != nx * ny {
            return None;
        }
        let filled = m.filled(f64::NAN);
        let values = filled.chunks(ny).map(<[f64]>::to_vec).collect();
        Some(Self { xs: m.x, ys: m.y, values })
    }

    /// Samples `f` on an `n x n` grid over `[-half, half]^2` (for tests).
    #[cfg(test)]
    pub fn sample(n: usize, half: f64, f: impl Fn(f64, f64) -> f64) -> Self {
        let axis: Vec<f64> = (0..n).map(|i| -half + 2.0 * half * i as f64 / (n - 1) as f64).collect();
        let values = axis.iter().map(|&a| axis.iter().map(|&b| f(a, b)).collect()).collect();
        Self { xs: axis.clone(), ys: axis, values }
    }
}

/// The eigenvalues (min, max) of the symmetric 2x2 matrix [[p, r], [r, q]].
fn eig2(p: f64, q: f64, r: f64) -> (f64, f64) {
    let mid = 0.5 * (p + q);
    let rad = (0.25 * (p - q) * (p - q) + r * r).sqrt();
    (mid - rad, mid + rad)
}

/// Measures the non-convexity of `g` within `radius` of the origin (see the module docs).
pub fn convexity(g: &GridValues, radius: f64) -> Convexity {
    let (nx, ny) = (g.xs.len(), g.ys.len());
    let mut out = Convexity { points: 0, non_convex: 0, mean_neg_ratio: f64::NAN, local_minima: 0, local_maxima: 0 };
    if nx < 3 || ny < 3 {
        return out;
    }
    let v = &g.values;
    let mut ratio_sum = 0.0;
    for i in 1..nx - 1 {
        for j in 1..ny - 1 {
            let hood: Vec<f64> = (i - 1..=i + 1).flat_map(|a| (j - 1..=j + 1).map(move |b| v[a][b])).collect();
            if hood.iter().any(|x| !x.is_finite()) {
                continue;
            }
            let c = v[i][j];
            let others = hood.iter().enumerate().filter(|(k, _)| *k != 4).map(|(_, x)| *x);
            if others.clone().all(|x| x > c) {
                out.local_minima += 1;
            }
            if others.clone().all(|x| x < c) {
                out.local_maxima += 1;
            }
            let (a, b) = (g.xs[i], g.ys[j]);
            if a * a + b * b > radius * radius + 1e-9 {
                continue;
            }
            let (ha0, ha1) = (g.xs[i] - g.xs[i - 1], g.xs[i + 1] - g.xs[i]);
            let (hb0, hb1) = (g.ys[j] - g.ys[j - 1], g.ys[j + 1] - g.ys[j]);
            // Second differences on a possibly non-uniform grid (uniform in practice).
            let laa = 2.0 * (ha0 * v[i + 1][j] - (ha0 + ha1) * c + ha1 * v[i - 1][j]) / (ha0 * ha1 * (ha0 + ha1));
            let lbb = 2.0 * (hb0 * v[i][j + 1] - (hb0 + hb1) * c + hb1 * v[i][j - 1]) / (hb0 * hb1 * (hb0 + hb1));
            let lab = (v[i + 1][j + 1] - v[i + 1][j - 1] - v[i - 1][j + 1] + v[i - 1][j - 1]) / ((ha0 + ha1) * (hb0 + hb1));
            let (lo, hi) = eig2(laa, lbb, lab);
            let scale = hi.abs().max(lo.abs());
            out.points += 1;
            if scale > 0.0 {
                if lo < -REL_TOL * hi.abs() {
                    out.non_convex += 1;
                }
                ratio_sum += (-lo).max(0.0) / hi.abs().max(f64::MIN_POSITIVE);
            }
        }
    }
    if out.points > 0 {
        out.mean_neg_ratio = ratio_sum / out.points as f64;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_surface_file_reads_as_the_grid_it_samples() {
        use losscape_surface::{Grid, Shard, SurfaceHeader};
        let f = |a: f64, b: f64| 0.3 + a * a - 2.0 * b * b + 0.5 * a * b;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.surface");
        let grid = Grid::new("-1:1:5".parse().unwrap(), Some("-1:1:5".parse().unwrap())).unwrap();
        let mut s = Surface::new(SurfaceHeader::new(grid, vec!["train_loss".into()])).unwrap();
        let run = s.begin_run(Shard::all());
        for i in 0..24 {
            let (a, b) = s.grid().point(i);
            s.set_point(i, &[f(a, b)], run).unwrap();
        }
        s.save(&path).unwrap();
        let g = GridValues::from_surface(&path, "train_loss").unwrap();
        let want = GridValues::sample(5, 1.0, f);
        assert_eq!((&g.xs, &g.ys), (&want.xs, &want.ys));
        for ix in 0..5 {
            for iy in 0..5 {
                if (ix, iy) == (4, 4) {
                    assert!(g.values[ix][iy].is_nan(), "the point not computed");
                } else {
                    assert_eq!(g.values[ix][iy], want.values[ix][iy], "({ix}, {iy})");
                }
            }
        }
        assert!(GridValues::from_surface(&path, "test_loss").is_none());
    }

    #[test]
    fn a_bowl_is_convex_everywhere() {
        let g = GridValues::sample(25, 1.0, |a, b| 0.3 + a * a + 2.0 * b * b + 0.5 * a * b);
        let c = convexity(&g, 1.0);
        assert!(c.points > 300, "{c:?}");
        assert_eq!(c.non_convex, 0);
        assert_eq!(c.share(), 0.0);
        assert!(c.mean_neg_ratio.abs() < 1e-9);
        assert_eq!((c.local_minima, c.local_maxima), (1, 0));
    }

    #[test]
    fn a_saddle_is_non_convex_everywhere() {
        let g = GridValues::sample(25, 1.0, |a, b| a * a - b * b);
        let c = convexity(&g, 1.0);
        assert_eq!(c.non_convex, c.points);
        assert!((c.mean_neg_ratio - 1.0).abs() < 1e-6, "{c:?}");
        assert_eq!((c.local_minima, c.local_maxima), (0, 0));
    }

    #[test]
    fn a_sine_landscape_matches_its_analytic_share() {
        // L = sin(3a) sin(3b): Hessian 9 * [[-s s, c c], [c c, -s s]] with s = sin, c = cos, so
        // lambda_min = -9 (sin 3a sin 3b + |cos 3a cos 3b|), lambda_max = -9 (sin sin - |cos cos|).
        let k = 3.0;
        let f = |a: f64, b: f64| (k * a).sin() * (k * b).sin();
        let g = GridValues::sample(41, 1.0, f);
        let c = convexity(&g, 1.0);
        let (mut expected, mut n) = (0usize, 0usize);
        for i in 1..40 {
            for j in 1..40 {
                let (a, b) = (g.xs[i], g.ys[j]);
                if a * a + b * b > 1.0 + 1e-9 {
                    continue;
                }
                let (ss, cc) = ((k * a).sin() * (k * b).sin(), (k * a).cos() * (k * b).cos());
                let (lo, hi) = (-k * k * (ss + cc.abs()), -k * k * (ss - cc.abs()));
                n += 1;
                if lo < -REL_TOL * hi.abs() {
                    expected += 1;
                }
            }
        }
        assert_eq!(c.points, n);
        let share = 100.0 * expected as f64 / n as f64;
        assert!(share > 20.0 && share < 95.0, "analytic share {share}");
        // Finite differences on a 0.05 grid differ from the analytic Hessian only near the
        // boundary between the two regions.
        assert!((c.share() - share).abs() < 4.0, "measured {} analytic {share}", c.share());
        // sin(3a) sin(3b) over [-1, 1]^2 has extrema at (+-pi/6, +-pi/6): two minima, two maxima.
        assert_eq!((c.local_minima, c.local_maxima), (2, 2), "{c:?}");
    }

    #[test]
    fn non_finite_neighbourhoods_are_skipped() {
        let mut g = GridValues::sample(5, 1.0, |a, b| a * a + b * b);
        g.values[2][2] = f64::NAN;
        let c = convexity(&g, 1.0);
        // Every interior point of a 5x5 grid touches the centre.
        assert_eq!(c.points, 0);
        assert!(c.share().is_nan());
    }
}
