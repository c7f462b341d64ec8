//! Contour lines by marching squares, stitched into polylines.
//!
//! Written here rather than taken from the `contour` crate (ARCHITECTURE.md, "Key decisions"):
//! that crate ports d3-contour, which pads the grid with values below every threshold, so it
//! returns closed rings that run along the border of the grid, counts NaN as "below" (rings around every
//! diverged region) and its smoothing interpolates with NaN. Loss surfaces need open lines that
//! stop at the grid edge and at cells with a non-finite corner, which is what this module does.

use std::collections::HashMap;

use crate::grid::ValueGrid;

/// Where a contour crosses a grid edge: the edge from point (ix, iy) to its right neighbour
/// (`horizontal`, along x) or to its upper neighbour (along y).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct EdgeKey {
    ix: usize,
    iy: usize,
    horizontal: bool,
}

/// The contour lines of `grid` at `level` as polylines of (x, y) points in data coordinates.
///
/// A cell (the square between four neighbouring grid points) contributes only when all four
/// values are finite, so lines end at the grid border and at diverged points. Saddle cells are
/// split by the mean of their four corners.
pub(crate) fn contour_lines(grid: &ValueGrid<'_>, level: f64) -> Vec<Vec<(f64, f64)>> {
    let (nx, ny) = (grid.nx(), grid.ny());
    if nx < 2 || ny < 2 || !level.is_finite() {
        return Vec::new();
    }
    let mut segments: Vec<(EdgeKey, EdgeKey)> = Vec::new();
    for ix in 0..nx - 1 {
        for iy in 0..ny - 1 {
            let v00 = grid.at(ix, iy);
            let v10 = grid.at(ix + 1, iy);
            let v11 = grid.at(ix + 1, iy + 1);
            let v01 = grid.at(ix, iy + 1);
            if !(v00.is_finite() && v10.is_finite() && v11.is_finite() && v01.is_finite()) {
                continue;
            }
            let above = |v: f64| v >= level;
            let case = above(v00) as u8
                | (above(v10) as u8) << 1
                | (above(v11) as u8) << 2
                | (above(v01) as u8) << 3;
            let bottom = EdgeKey {
                ix,
                iy,
                horizontal: true,
            };
            let top = EdgeKey {
                ix,
                iy: iy + 1,
                horizontal: true,
            };
            let left = EdgeKey {
                ix,
                iy,
                horizontal: false,
            };
            let right = EdgeKey {
                ix: ix + 1,
                iy,
                horizontal: false,
            };
            match case {
                0 | 15 => {}
                1 | 14 => segments.push((bottom, left)),
                2 | 13 => segments.push((bottom, right)),
                3 | 12 => segments.push((left, right)),
                4 | 11 => segments.push((right, top)),
                6 | 9 => segments.push((bottom, top)),
                7 | 8 => segments.push((left, top)),
                5 | 10 => {
                    // Saddle: the two "above" corners are joined through the centre or not.
                    let centre_above = (v00 + v10 + v11 + v01) / 4.0 >= level;
                    // For case 5 (corners 00 and 11 above) joined above means the lines cut off
                    // the corners 10 and 01; for case 10 joined above means cutting off 00 and 11.
                    let cut_10_and_01 = (case == 5) == centre_above;
                    if cut_10_and_01 {
                        segments.push((bottom, right));
                        segments.push((left, top));
                    } else {
                        segments.push((bottom, left));
                        segments.push((right, top));
                    }
                }
                _ => unreachable!("a cell case has four bits"),
            }
        }
    }
    stitch(&segments)
        .into_iter()
        .map(|keys| keys.into_iter().map(|k| crossing(grid, level, k)).collect())
        .collect()
}

/// The point where the contour crosses an edge, by linear interpolation along it.
fn crossing(grid: &ValueGrid<'_>, level: f64, k: EdgeKey) -> (f64, f64) {
    let (x, y) = (grid.x(), grid.y());
    let va = grid.at(k.ix, k.iy);
    if k.horizontal {
        let vb = grid.at(k.ix + 1, k.iy);
        let t = fraction(va, vb, level);
        (x[k.ix] + t * (x[k.ix + 1] - x[k.ix]), y[k.iy])
    } else {
        let vb = grid.at(k.ix, k.iy + 1);
        let t = fraction(va, vb, level);
        (x[k.ix], y[k.iy] + t * (y[k.iy + 1] - y[k.iy]))
    }
}

fn fraction(va: f64, vb: f64, level: f64) -> f64 {
    let d = vb - va;
    if d == 0.0 {
        0.5
    } else {
        ((level - va) / d).clamp(0.0, 1.0)
    }
}

/// Joins segments that share edge crossings into chains: open chains first (from an end that
/// belongs to one segment only), then closed loops.
fn stitch(segments: &[(EdgeKey, EdgeKey)]) -> Vec<Vec<EdgeKey>> {
    let mut by_key: HashMap<EdgeKey, Vec<usize>> = HashMap::new();
    for (i, (a, b)) in segments.iter().enumerate() {
        by_key.entry(*a).or_default().push(i);
        by_key.entry(*b).or_default().push(i);
    }
    let mut used = vec![false; segments.len()];
    let mut chains = Vec::new();
    let walk = |start_seg: usize, start_key: EdgeKey, used: &mut Vec<bool>| {
        let mut chain = vec![start_key];
        let mut seg = start_seg;
        let mut key = start_key;
        loop {
            used[seg] = true;
            let (a, b) = segments[seg];
            let next = if a == key { b } else { a };
            chain.push(next);
            key = next;
            match by_key[&key].iter().copied().find(|&s| !used[s]) {
                Some(s) => seg = s,
                None => break,
            }
        }
        chain
    };
    // Open chains start at a crossing that only one segment touches (the grid border or a gap).
    let mut ends: Vec<(EdgeKey, usize)> = by_key
        .iter()
        .filter(|(_, segs)| segs.len() == 1)
        .map(|(k, segs)| (*k, segs[0]))
        .collect();
    // Deterministic order (the map's is not).
    ends.sort_by_key(|(k, _)| (k.ix, k.iy, k.horizontal));
    for (key, seg) in ends {
        if !used[seg] {
            chains.push(walk(seg, key, &mut used));
        }
    }
    for seg in 0..segments.len() {
        if !used[seg] {
            let key = segments[seg].0;
            chains.push(walk(seg, key, &mut used));
        }
    }
    chains
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn coords(n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n)
            .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
            .collect()
    }

    #[test]
    fn a_plane_gives_one_straight_line_at_the_right_place() {
        // z = x: the level 0.3 is the vertical line x = 0.3 across the whole y range.
        let x = coords(11, 0.0, 1.0);
        let y = coords(7, -2.0, 2.0);
        let z = Array2::from_shape_fn((11, 7), |(ix, _)| x[ix]);
        let g = ValueGrid::new(&x, &y, z.view()).unwrap();
        let lines = contour_lines(&g, 0.3);
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert_eq!(line.len(), 7);
        for (px, _) in line {
            assert!((px - 0.3).abs() < 1e-12);
        }
        let mut ys: Vec<f64> = line.iter().map(|p| p.1).collect();
        ys.sort_by(f64::total_cmp);
        assert_eq!(ys, y, "the line crosses every row of cells once");
    }

    #[test]
    fn a_bowl_gives_a_closed_ring_at_the_right_radius() {
        let x = coords(41, -1.0, 1.0);
        let y = coords(31, -1.0, 1.0);
        let z = Array2::from_shape_fn((41, 31), |(i, j)| x[i] * x[i] + y[j] * y[j]);
        let g = ValueGrid::new(&x, &y, z.view()).unwrap();
        let lines = contour_lines(&g, 0.25);
        assert_eq!(lines.len(), 1);
        let ring = &lines[0];
        assert_eq!(ring.first(), ring.last(), "closed");
        for (px, py) in ring {
            let r = (px * px + py * py).sqrt();
            assert!((r - 0.5).abs() < 0.02, "radius {r}");
        }
    }

    #[test]
    fn lines_stop_at_nan_cells() {
        let x = coords(11, 0.0, 1.0);
        let y = coords(11, 0.0, 1.0);
        let mut z = Array2::from_shape_fn((11, 11), |(ix, _)| x[ix]);
        z[[3, 5]] = f64::NAN;
        let g = ValueGrid::new(&x, &y, z.view()).unwrap();
        let lines = contour_lines(&g, 0.25);
        // The NaN point removes the four cells around it, so the line x = 0.25 is cut in two.
        assert_eq!(lines.len(), 2);
        for line in &lines {
            assert!(line.iter().all(|p| p.0.is_finite() && p.1.is_finite()));
            assert!(line
                .iter()
                .all(|p| p.1 <= 0.4 + 1e-12 || p.1 >= 0.6 - 1e-12));
        }
        let all_nan = Array2::from_elem((11, 11), f64::NAN);
        let g = ValueGrid::new(&x, &y, all_nan.view()).unwrap();
        assert!(contour_lines(&g, 0.5).is_empty());
    }

    #[test]
    fn degenerate_grids_have_no_lines() {
        let z = Array2::from_shape_fn((1, 5), |(_, j)| j as f64);
        let g = ValueGrid::new(&[0.0], &[0.0, 1.0, 2.0, 3.0, 4.0], z.view()).unwrap();
        assert!(contour_lines(&g, 2.5).is_empty());
    }

    #[test]
    fn orientation_follows_z_ix_iy() {
        // z = 10 x + y on a non-square grid: level 4 crosses where 10 x + y = 4.
        let x = coords(6, 0.0, 0.5);
        let y = coords(3, 0.0, 2.0);
        let z = Array2::from_shape_fn((6, 3), |(i, j)| 10.0 * x[i] + y[j]);
        let g = ValueGrid::new(&x, &y, z.view()).unwrap();
        for line in contour_lines(&g, 4.0) {
            for (px, py) in line {
                assert!((10.0 * px + py - 4.0).abs() < 1e-9, "({px}, {py})");
            }
        }
    }
}
