//! 3D surface renderings: the grid refined by bicubic interpolation, one shaded facet per fine
//! cell coloured by its height, painted back to front, cut off at the top of the range, with a
//! colour bar.

use std::path::Path;

use ndarray::Array2;
use plotters::coord::ranged3d::Cartesian3d;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{Error, Result};
use crate::frame::{note, AxisSpec};
use crate::grid::{finite_min_max, widen, ValueGrid};
use crate::heatmap::{draw_colorbar, ColorScale};
use crate::output::{render, Draw};
use crate::style::{Colormap, Rgb, Theme};

/// Options of a 3D surface rendering.
#[derive(Debug, Clone)]
pub struct SurfaceFigure {
    /// Title above the plot (empty: none).
    pub title: String,
    /// Label of the grid's x axis.
    pub x_label: String,
    /// Label of the grid's y axis.
    pub y_label: String,
    /// Label of the vertical (value) axis.
    pub z_label: String,
    /// Vertical range; the surface is cut off where it rises above the top (no plateau: the
    /// part above is not drawn) and values below the bottom are drawn at the bottom. `None`
    /// fits the finite values.
    pub z_range: Option<(f64, f64)>,
    /// Cells per axis to aim for after bicubic interpolation of the grid (a smooth surface from
    /// a coarse grid); 0 draws the grid's own cells. Interpolation never adds cells to a grid
    /// that already has this many, and never crosses a non-finite value.
    pub mesh: usize,
    /// Light the facets (a diffuse light from the upper left) on top of the colour by height.
    pub lighting: bool,
    /// Draw a colour bar for the heights.
    pub colorbar: bool,
    /// Colour by height.
    pub colormap: Colormap,
    /// Rotation about the vertical axis, in radians.
    pub yaw: f64,
    /// Elevation of the viewpoint, in radians.
    pub pitch: f64,
    /// Size in pixels (width, height).
    pub size: (u32, u32),
}

impl Default for SurfaceFigure {
    fn default() -> Self {
        SurfaceFigure {
            title: String::new(),
            x_label: "x".into(),
            y_label: "y".into(),
            z_label: "loss".into(),
            z_range: None,
            mesh: 60,
            lighting: true,
            colorbar: true,
            colormap: Colormap::Coolwarm,
            yaw: 0.7,
            pitch: 0.45,
            size: (800, 600),
        }
    }
}

/// Renders `grid` as a 3D surface coloured by height and writes the figure to `path`
/// (`.png` or `.svg`).
///
/// `z[[ix, iy]]` is the height at `(x[ix], y[iy])`. Cells with a non-finite corner are left
/// out (holes in the surface); heights are clipped to `z_range`.
pub fn surface3d(path: &Path, grid: &ValueGrid<'_>, figure: &SurfaceFigure) -> Result<()> {
    if let Some((lo, hi)) = figure.z_range {
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(Error::invalid(format!(
                "z range {lo}..{hi} is empty or not finite"
            )));
        }
    }
    if !(figure.yaw.is_finite() && figure.pitch.is_finite()) {
        return Err(Error::invalid(format!(
            "view angles must be finite (yaw {}, pitch {})",
            figure.yaw, figure.pitch
        )));
    }
    render(path, figure.size, &SurfaceDraw { grid, figure })
}

/// Sets the view angles and then the scale and centre so that the whole box, with room for
/// tick labels and axis titles, fits the plotting area whatever the angles.
fn fit_projection<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian3d<AxisSpec, AxisSpec, AxisSpec>>,
    yaw: f64,
    pitch: f64,
    [(x0, x1), (y0, y1), (z0, z1)]: [(f64, f64); 3],
    theme: &Theme,
) {
    // A box less tall than wide, as the paper's figures.
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let side = (xr.end - xr.start).min(yr.end - yr.start).max(10);
    chart.set_3d_pixel_range((side, side * 3 / 5, side));
    chart.with_projection(|mut pb| {
        pb.yaw = yaw;
        pb.pitch = pitch;
        pb.into_matrix()
    });
    let centre = (
        (xr.start + xr.end) as f64 / 2.0,
        (yr.start + yr.end) as f64 / 2.0,
    );
    let mut bbox = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for x in [x0, x1] {
        for y in [y0, y1] {
            for z in [z0, z1] {
                let (px, py) = chart.plotting_area().map_coordinate(&(x, y, z));
                bbox = (
                    bbox.0.min(px as f64),
                    bbox.1.min(py as f64),
                    bbox.2.max(px as f64),
                    bbox.3.max(py as f64),
                );
            }
        }
    }
    // Room for the vertical axis title and tick labels on the left, the horizontal axes' tick
    // labels and titles below and at the sides.
    let (left, right, top, bottom) = (
        theme.px(95.0) as f64,
        theme.px(70.0) as f64,
        theme.px(10.0) as f64,
        theme.px(70.0) as f64,
    );
    let avail_w = ((xr.end - xr.start) as f64 - left - right).max(10.0);
    let avail_h = ((yr.end - yr.start) as f64 - top - bottom).max(10.0);
    let (bw, bh) = ((bbox.2 - bbox.0).max(1.0), (bbox.3 - bbox.1).max(1.0));
    let scale = (avail_w / bw).min(avail_h / bh);
    let target = (
        xr.start as f64 + left + avail_w / 2.0,
        yr.start as f64 + top + avail_h / 2.0,
    );
    let bc = ((bbox.0 + bbox.2) / 2.0, (bbox.1 + bbox.3) / 2.0);
    let after = (
        (target.0 - scale * (bc.0 - centre.0)) as i32,
        (target.1 - scale * (bc.1 - centre.1)) as i32,
    );
    let top_corner = chart.as_coord_spec().map_3d(&x1, &y1, &z1);
    let before = (top_corner.0 / 2, top_corner.1 / 2, top_corner.2 / 2);
    chart.with_projection(|mut pb| {
        pb.yaw = yaw;
        pb.pitch = pitch;
        pb.scale = scale;
        pb.set_pivot(before, after);
        pb.into_matrix()
    });
}

struct SurfaceDraw<'g, 'a> {
    grid: &'g ValueGrid<'a>,
    figure: &'g SurfaceFigure,
}

impl Draw for SurfaceDraw<'_, '_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let fig = self.figure;
        let theme = Theme::for_size(root.dim_in_pixel());
        let g = self.grid;
        let finite = finite_min_max(g.z().iter().copied());
        let (z_lo, z_hi) = match (fig.z_range, finite) {
            (Some(r), _) => r,
            (None, Some((lo, hi))) => widen(lo, hi),
            (None, None) => (0.0, 1.0),
        };
        let (x_lo, x_hi) = widen(g.x_extent().0, g.x_extent().1);
        let (y_lo, y_hi) = widen(g.y_extent().0, g.y_extent().1);
        let x_axis = AxisSpec::linear(x_lo, x_hi, 4);
        let y_axis = AxisSpec::linear(y_lo, y_hi, 4);
        let z_axis = AxisSpec::linear(z_lo, z_hi, 5);

        // The colour bar takes a strip on the right.
        let scale = ColorScale {
            lo: z_lo,
            hi: z_hi,
            log: false,
            bands: None,
            colormap: fig.colormap,
            empty: finite.is_none(),
        };
        let (w, _) = root.dim_in_pixel();
        let cbar_w = z_axis.label_width(root, &theme.tick()) + theme.px(22.0 + 40.0);
        let (plot_root, side) = if fig.colorbar && w > 3 * cbar_w {
            let (a, b) = root.split_horizontally(w - cbar_w);
            (a, Some(b))
        } else {
            (root.clone(), None)
        };

        let mut builder = ChartBuilder::on(&plot_root);
        builder.margin(theme.px(20.0));
        if !fig.title.is_empty() {
            builder.caption(&fig.title, theme.title());
        }
        // plotters' 3D charts are (x, vertical, depth): our grid y is the depth axis.
        let mut chart =
            builder.build_cartesian_3d(x_axis.clone(), z_axis.clone(), y_axis.clone())?;
        fit_projection(
            &mut chart,
            fig.yaw,
            fig.pitch,
            [(x_lo, x_hi), (z_lo, z_hi), (y_lo, y_hi)],
            &theme,
        );
        let fx = |v: &f64| x_axis.label(*v);
        let fy = |v: &f64| z_axis.label(*v);
        let fz = |v: &f64| y_axis.label(*v);
        chart
            .configure_axes()
            .label_style(theme.small())
            .x_formatter(&fx)
            .y_formatter(&fy)
            .z_formatter(&fz)
            .tick_size(theme.px(6.0) as i32)
            .light_grid_style(BLACK.mix(0.0))
            .bold_grid_style(BLACK.mix(0.12))
            .axis_panel_style(RGBColor(235, 235, 240).filled())
            .draw()?;

        // Facets of the refined grid with four finite corners, cut at the top of the range.
        // Values far above the cut are brought down to just above it first: a loss of 50 next
        // to one of 2 would make the interpolation ring along the cut edge.
        let headroom = z_hi + 0.2 * (z_hi - z_lo);
        let tamed = g
            .z()
            .mapv(|v| if v.is_finite() { v.min(headroom) } else { v });
        let tamed_grid = ValueGrid::new(g.x(), g.y(), tamed.view())?;
        let (rx, ry, rz) = refine(&tamed_grid, fig.mesh);
        let box_of = |p: (f64, f64, f64)| {
            (
                (p.0 - x_lo) / (x_hi - x_lo),
                0.6 * (p.1 - z_lo) / (z_hi - z_lo),
                (p.2 - y_lo) / (y_hi - y_lo),
            )
        };
        // (projected depth, polygon as (x, height, y), colour)
        let mut facets: Vec<(i32, Vec<(f64, f64, f64)>, Rgb)> = Vec::new();
        let coord = chart.as_coord_spec();
        for ix in 0..rx.len().saturating_sub(1) {
            for iy in 0..ry.len().saturating_sub(1) {
                let v = [
                    rz[[ix, iy]],
                    rz[[ix + 1, iy]],
                    rz[[ix + 1, iy + 1]],
                    rz[[ix, iy + 1]],
                ];
                if v.iter().any(|v| !v.is_finite()) {
                    continue;
                }
                let h = v.map(|v| v.max(z_lo));
                let (x0, x1, y0, y1) = (rx[ix], rx[ix + 1], ry[iy], ry[iy + 1]);
                let quad = [
                    (x0, h[0], y0),
                    (x1, h[1], y0),
                    (x1, h[2], y1),
                    (x0, h[3], y1),
                ];
                let poly = clip_below(&quad, z_hi);
                if poly.len() < 3 {
                    continue;
                }
                let shade_of = if fig.lighting {
                    shade(Rgb(255, 255, 255), quad.map(box_of)).0 as f64 / 255.0
                } else {
                    1.0
                };
                // A height field seen from above is painted correctly in the order of its cells'
                // footprints on the floor; the depth of the facet's own centroid is not (tall
                // facets of a steep wall would overlap their neighbours out of order).
                let depth = coord.projected_depth(&((x0 + x1) / 2.0), &z_lo, &((y0 + y1) / 2.0));
                // One colour per height band: a facet of a steep wall spans many colours, so it
                // is sliced along the bands (the surface reads like filled contours).
                for slice in height_bands(&poly, z_lo, z_hi, COLOR_BANDS) {
                    let n = slice.len() as f64;
                    let h = slice.iter().map(|p| p.1).sum::<f64>() / n;
                    let color = dim(fig.colormap.at((h - z_lo) / (z_hi - z_lo)), shade_of);
                    facets.push((depth, slice, color));
                }
            }
        }
        // Painter's algorithm: the farthest facets first. Each facet is outlined in its own
        // colour so that no background shows through the seams between facets.
        facets.sort_by_key(|f| std::cmp::Reverse(f.0));
        for (_, poly, color) in &facets {
            let c = color.to_plotters();
            chart.draw_series(std::iter::once(Polygon::new(poly.clone(), c.filled())))?;
            let mut ring = poly.clone();
            ring.push(poly[0]);
            chart.draw_series(std::iter::once(PathElement::new(ring, c.stroke_width(1))))?;
        }
        // Grids with one row or column have no cells: draw their values as a line.
        if g.nx() == 1 || g.ny() == 1 {
            let pts: Vec<(f64, f64, f64)> = (0..g.nx())
                .flat_map(|ix| (0..g.ny()).map(move |iy| (ix, iy)))
                .map(|(ix, iy)| (g.x()[ix], g.at(ix, iy), g.y()[iy]))
                .collect();
            let mut run = Vec::new();
            for (x, v, y) in pts {
                if v.is_finite() {
                    run.push((x, v.clamp(z_lo, z_hi), y));
                } else if !run.is_empty() {
                    chart.draw_series(std::iter::once(PathElement::new(
                        std::mem::take(&mut run),
                        BLACK.stroke_width(2),
                    )))?;
                }
            }
            if !run.is_empty() {
                chart.draw_series(std::iter::once(PathElement::new(
                    run,
                    BLACK.stroke_width(2),
                )))?;
            }
        }

        // Axis titles: beside the middle of the lowest front edge of each horizontal axis, and
        // left of the vertical axis.
        let area = chart.plotting_area();
        let px = |p: (f64, f64, f64)| area.map_coordinate(&p);
        let centre = px(((x_lo + x_hi) / 2.0, z_lo, (y_lo + y_hi) / 2.0));
        // Beside the middle of an edge from a to b, away from the floor's centre, perpendicular
        // to the edge on screen, far enough that a text box `size` wide and high clears the edge
        // and its tick labels.
        let beside = |a: (i32, i32), b: (i32, i32), dist: f64, size: (f64, f64)| {
            let mid = ((a.0 + b.0) as f64 / 2.0, (a.1 + b.1) as f64 / 2.0);
            let (dx, dy) = ((b.0 - a.0) as f64, (b.1 - a.1) as f64);
            let n = dx.hypot(dy).max(1.0);
            let (mut nx, mut ny) = (-dy / n, dx / n);
            if nx * (mid.0 - centre.0 as f64) + ny * (mid.1 - centre.1 as f64) < 0.0 {
                nx = -nx;
                ny = -ny;
            }
            let dist = dist + size.0 / 2.0 * nx.abs() + size.1 / 2.0 * ny.abs();
            ((mid.0 + nx * dist) as i32, (mid.1 + ny * dist) as i32)
        };
        let style = theme.tick().pos(Pos::new(HPos::Center, VPos::Center));
        let off = theme.px(34.0) as f64;
        let size_of = |t: &str| {
            root.estimate_text_size(t, &theme.tick())
                .map(|(w, h)| (w as f64, h as f64))
                .unwrap_or((0.0, 0.0))
        };
        // Of the two floor edges along each horizontal axis, the one lower on screen (in front).
        let front = |a: [(i32, i32); 2], b: [(i32, i32); 2]| {
            if a[0].1 + a[1].1 >= b[0].1 + b[1].1 {
                a
            } else {
                b
            }
        };
        let xe = front(
            [px((x_lo, z_lo, y_lo)), px((x_hi, z_lo, y_lo))],
            [px((x_lo, z_lo, y_hi)), px((x_hi, z_lo, y_hi))],
        );
        let ye = front(
            [px((x_lo, z_lo, y_lo)), px((x_lo, z_lo, y_hi))],
            [px((x_hi, z_lo, y_lo)), px((x_hi, z_lo, y_hi))],
        );
        root.draw(&Text::new(
            fig.x_label.clone(),
            beside(xe[0], xe[1], off, size_of(&fig.x_label)),
            style.clone(),
        ))?;
        root.draw(&Text::new(
            fig.y_label.clone(),
            beside(ye[0], ye[1], off, size_of(&fig.y_label)),
            style.clone(),
        ))?;
        // The vertical axis: the corner farthest to the left on screen.
        let corners = [(x_lo, y_lo), (x_lo, y_hi), (x_hi, y_lo), (x_hi, y_hi)];
        let left = corners
            .iter()
            .map(|&(x, y)| px((x, (z_lo + z_hi) / 2.0, y)))
            .min_by_key(|p| p.0)
            .unwrap_or(centre);
        let zstyle = theme
            .axis_label()
            .transform(FontTransform::Rotate270)
            .pos(Pos::new(HPos::Center, VPos::Center));
        root.draw(&Text::new(
            fig.z_label.clone(),
            (left.0 - theme.px(62.0) as i32, left.1),
            zstyle,
        ))?;

        if let Some(side) = side {
            let (_, h) = root.dim_in_pixel();
            let (sx, _) = side.get_base_pixel();
            let x0 = sx + theme.px(8.0) as i32;
            let (top, bottom) = (h as i32 / 6, h as i32 * 5 / 6);
            draw_colorbar(
                root,
                &scale,
                &z_axis,
                (x0, top, x0 + theme.px(20.0) as i32, bottom),
                "",
                &theme,
            )?;
            let over = g.z().iter().any(|v| v.is_finite() && *v > z_hi);
            if over {
                let style = theme.small().pos(Pos::new(HPos::Left, VPos::Top));
                root.draw(&Text::new(
                    format!("cut above {}", z_axis.label(z_hi)),
                    (x0 - theme.px(4.0) as i32, bottom + theme.px(10.0) as i32),
                    style,
                ))?;
            }
        }
        if finite.is_none() {
            note(root, "no finite values", &theme)?;
        }
        Ok(())
    }
}

/// The part of a planar polygon (corners as (x, height, y)) at or below `top`: the
/// Sutherland-Hodgman step for one plane, the cut edge at exactly `top`.
fn clip_below(poly: &[(f64, f64, f64)], top: f64) -> Vec<(f64, f64, f64)> {
    let mut out = Vec::with_capacity(poly.len() + 2);
    for (i, &a) in poly.iter().enumerate() {
        let b = poly[(i + 1) % poly.len()];
        let (ina, inb) = (a.1 <= top, b.1 <= top);
        if ina {
            out.push(a);
        }
        if ina != inb {
            let t = (top - a.1) / (b.1 - a.1);
            out.push((a.0 + t * (b.0 - a.0), top, a.2 + t * (b.2 - a.2)));
        }
    }
    out
}

/// Height bands of the colour of a 3D surface (more than the eye tells apart).
const COLOR_BANDS: usize = 64;

/// The slices of a polygon (corners as (x, height, y)) between the heights
/// `lo + k (hi - lo) / bands`, each at most one band high.
fn height_bands(
    poly: &[(f64, f64, f64)],
    lo: f64,
    hi: f64,
    bands: usize,
) -> Vec<Vec<(f64, f64, f64)>> {
    let dz = (hi - lo) / bands as f64;
    let (min, max) = poly
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.1), b.max(p.1))
        });
    if !(dz > 0.0 && min.is_finite() && max.is_finite()) {
        return vec![poly.to_vec()];
    }
    let first = ((min - lo) / dz).floor().max(0.0) as usize;
    let last = (((max - lo) / dz).ceil() as usize).clamp(first + 1, bands.max(first + 1));
    if last - first <= 1 {
        return vec![poly.to_vec()];
    }
    let mut out = Vec::with_capacity(last - first);
    for k in first..last {
        let (a, b) = (lo + dz * k as f64, lo + dz * (k + 1) as f64);
        let a = if k == first { f64::NEG_INFINITY } else { a };
        let b = if k + 1 == last { f64::INFINITY } else { b };
        let slice = clip_above(&clip_below(poly, b), a);
        if slice.len() >= 3 {
            out.push(slice);
        }
    }
    out
}

/// The part of a planar polygon at or above `bottom` (see [`clip_below`]).
fn clip_above(poly: &[(f64, f64, f64)], bottom: f64) -> Vec<(f64, f64, f64)> {
    let flipped: Vec<(f64, f64, f64)> = poly.iter().map(|p| (p.0, -p.1, p.2)).collect();
    clip_below(&flipped, -bottom)
        .into_iter()
        .map(|p| (p.0, -p.1, p.2))
        .collect()
}

/// A colour scaled by `f` (0..1).
fn dim(color: Rgb, f: f64) -> Rgb {
    let m = |c: u8| (c as f64 * f).round().clamp(0.0, 255.0) as u8;
    Rgb(m(color.0), m(color.1), m(color.2))
}

/// A facet's colour under a diffuse light from above and to the upper left: the colour scaled
/// by 0.55 + 0.45 |n . l| for the facet's unit normal n (corners in box units, height second).
fn shade(color: Rgb, q: [(f64, f64, f64); 4]) -> Rgb {
    let a = (q[2].0 - q[0].0, q[2].1 - q[0].1, q[2].2 - q[0].2);
    let b = (q[3].0 - q[1].0, q[3].1 - q[1].1, q[3].2 - q[1].2);
    let n = (
        a.1 * b.2 - a.2 * b.1,
        a.2 * b.0 - a.0 * b.2,
        a.0 * b.1 - a.1 * b.0,
    );
    let len = (n.0 * n.0 + n.1 * n.1 + n.2 * n.2).sqrt();
    if !(len > 0.0 && len.is_finite()) {
        return color;
    }
    let l: (f64, f64, f64) = (-0.35, 0.85, -0.4);
    let ll = (l.0 * l.0 + l.1 * l.1 + l.2 * l.2).sqrt();
    let d = ((n.0 * l.0 + n.1 * l.1 + n.2 * l.2) / (len * ll)).abs();
    let f = 0.55 + 0.45 * d;
    let m = |c: u8| (c as f64 * f).round().clamp(0.0, 255.0) as u8;
    Rgb(m(color.0), m(color.1), m(color.2))
}

/// The grid refined to about `mesh` cells per axis: `k` sub-cells per cell (the same `k` for both
/// axes, 1 when `mesh` is 0 or the grid is fine already), values by Catmull-Rom bicubic
/// interpolation where the 4x4 neighbourhood is finite, bilinear where only the cell's corners
/// are, and NaN in cells with a non-finite corner.
fn refine(g: &ValueGrid<'_>, mesh: usize) -> (Vec<f64>, Vec<f64>, Array2<f64>) {
    let cells = (g.nx().max(g.ny())).saturating_sub(1).max(1);
    let k = if mesh == 0 {
        1
    } else {
        ((mesh as f64 / cells as f64).round() as usize).clamp(1, 16)
    };
    let sub = |c: &[f64]| -> Vec<f64> {
        let mut out = Vec::with_capacity((c.len() - 1) * k + 1);
        for w in c.windows(2) {
            for s in 0..k {
                out.push(w[0] + (w[1] - w[0]) * s as f64 / k as f64);
            }
        }
        out.push(c[c.len() - 1]);
        out
    };
    let (rx, ry) = (sub(g.x()), sub(g.y()));
    let (nx, ny) = (g.nx(), g.ny());
    let z = g.z();
    let at = |i: isize, j: isize| extended(&z, i, j);
    let rz = Array2::from_shape_fn((rx.len(), ry.len()), |(a, b)| {
        let (i, si) = ((a / k).min(nx.saturating_sub(2)), a as f64 / k as f64);
        let (j, sj) = ((b / k).min(ny.saturating_sub(2)), b as f64 / k as f64);
        if nx < 2 || ny < 2 {
            return z[[a.min(nx - 1), b.min(ny - 1)]];
        }
        let (tx, ty) = (si - i as f64, sj - j as f64);
        let (i, j) = (i as isize, j as isize);
        let corners = [at(i, j), at(i + 1, j), at(i, j + 1), at(i + 1, j + 1)];
        if corners.iter().any(|v| !v.is_finite()) {
            return f64::NAN;
        }
        let mut p = [[0.0; 4]; 4];
        let mut all = true;
        for (u, row) in p.iter_mut().enumerate() {
            for (v, cell) in row.iter_mut().enumerate() {
                *cell = at(i - 1 + u as isize, j - 1 + v as isize);
                all &= cell.is_finite();
            }
        }
        if all {
            let cols: Vec<f64> = p.iter().map(|row| catmull_rom(*row, ty)).collect();
            catmull_rom([cols[0], cols[1], cols[2], cols[3]], tx)
        } else {
            let a = corners[0] + (corners[1] - corners[0]) * tx;
            let b = corners[2] + (corners[3] - corners[2]) * tx;
            a + (b - a) * ty
        }
    });
    (rx, ry, rz)
}

/// `z[[i, j]]`, continued linearly one point past each border (a plane stays a plane).
/// Needs at least two points per axis.
fn extended(z: &ndarray::ArrayView2<'_, f64>, i: isize, j: isize) -> f64 {
    let (nx, ny) = (z.nrows() as isize, z.ncols() as isize);
    if j < 0 {
        2.0 * extended(z, i, 0) - extended(z, i, 1)
    } else if j >= ny {
        2.0 * extended(z, i, ny - 1) - extended(z, i, ny - 2)
    } else if i < 0 {
        2.0 * z[[0, j as usize]] - z[[1, j as usize]]
    } else if i >= nx {
        2.0 * z[[nx as usize - 1, j as usize]] - z[[nx as usize - 2, j as usize]]
    } else {
        z[[i as usize, j as usize]]
    }
}

/// The Catmull-Rom spline through p1 (t = 0) and p2 (t = 1) with neighbours p0 and p3.
fn catmull_rom([p0, p1, p2, p3]: [f64; 4], t: f64) -> f64 {
    0.5 * (2.0 * p1
        + (p2 - p0) * t
        + (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3) * t * t
        + (3.0 * p1 - p0 - 3.0 * p2 + p3) * t * t * t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_cuts_the_polygon_at_the_top() {
        // A quad rising from 0 to 2 along x, cut at 1: the half below stays, the cut edge at 1.
        let quad = [
            (0.0, 0.0, 0.0),
            (1.0, 2.0, 0.0),
            (1.0, 2.0, 1.0),
            (0.0, 0.0, 1.0),
        ];
        let p = clip_below(&quad, 1.0);
        assert_eq!(p.len(), 4);
        assert!(p.iter().all(|q| q.1 <= 1.0));
        assert!(
            p.contains(&(0.5, 1.0, 0.0)) && p.contains(&(0.5, 1.0, 1.0)),
            "{p:?}"
        );
        // Wholly above: nothing drawn (no plateau); wholly below: unchanged.
        let high = quad.map(|q| (q.0, q.1 + 5.0, q.2));
        assert!(clip_below(&high, 1.0).is_empty());
        assert_eq!(clip_below(&quad, 3.0), quad.to_vec());
    }

    #[test]
    fn refinement_interpolates_and_respects_gaps() {
        let x = [0.0, 1.0, 2.0, 3.0];
        let y = [0.0, 1.0, 2.0];
        let mut z = Array2::from_shape_fn((4, 3), |(i, j)| i as f64 + 10.0 * j as f64);
        let g = ValueGrid::new(&x, &y, z.view()).unwrap();
        let (rx, ry, rz) = refine(&g, 6);
        assert_eq!((rx.len(), ry.len()), (7, 5));
        // A plane is reproduced exactly, grid points are kept.
        for (a, xa) in rx.iter().enumerate() {
            for (b, yb) in ry.iter().enumerate() {
                assert!((rz[[a, b]] - (xa + 10.0 * yb)).abs() < 1e-12);
            }
        }
        z[[1, 1]] = f64::NAN;
        let g = ValueGrid::new(&x, &y, z.view()).unwrap();
        let (_, _, rz) = refine(&g, 6);
        // Every fine point of the four cells around the NaN is a gap; far cells are not.
        assert!(rz[[1, 1]].is_nan() && rz[[3, 3]].is_nan());
        assert!(rz[[6, 0]].is_finite());
        // mesh 0 keeps the grid.
        let (rx, _, _) = refine(&g, 0);
        assert_eq!(rx, x.to_vec());
    }

    #[test]
    fn tall_facets_are_sliced_into_height_bands() {
        let quad = [
            (0.0, 0.0, 0.0),
            (1.0, 1.0, 0.0),
            (1.0, 1.0, 1.0),
            (0.0, 0.0, 1.0),
        ];
        let slices = height_bands(&quad, 0.0, 1.0, 4);
        assert_eq!(slices.len(), 4);
        for (k, s) in slices.iter().enumerate() {
            let (lo, hi) = (k as f64 / 4.0, (k + 1) as f64 / 4.0);
            assert!(
                s.iter().all(|p| p.1 >= lo - 1e-12 && p.1 <= hi + 1e-12),
                "{s:?}"
            );
        }
        // A flat facet stays whole.
        let flat = quad.map(|p| (p.0, 0.3, p.2));
        assert_eq!(height_bands(&flat, 0.0, 1.0, 4), vec![flat.to_vec()]);
    }

    #[test]
    fn light_darkens_steep_facets() {
        let c = Rgb(200, 200, 200);
        let flat = [
            (0.0, 0.0, 0.0),
            (1.0, 0.0, 0.0),
            (1.0, 0.0, 1.0),
            (0.0, 0.0, 1.0),
        ];
        let steep = [
            (0.0, 0.0, 0.0),
            (0.1, 3.0, 0.0),
            (0.1, 3.0, 1.0),
            (0.0, 0.0, 1.0),
        ];
        assert!(shade(c, flat).0 > shade(c, steep).0);
    }
}
