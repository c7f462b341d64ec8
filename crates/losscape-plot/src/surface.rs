//! 3D surface renderings: one coloured quadrilateral per grid cell, painted back to front.

use std::path::Path;

use plotters::coord::ranged3d::Cartesian3d;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{Error, Result};
use crate::frame::{note, AxisSpec};
use crate::grid::{finite_min_max, widen, Grid};
use crate::output::{render, Draw};
use crate::style::{Colormap, Theme};

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
    /// Vertical range; values above are clipped to its top (flat plateaus), values below to its
    /// bottom. `None` fits the finite values.
    pub z_range: Option<(f64, f64)>,
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
pub fn surface3d(path: &Path, grid: &Grid<'_>, figure: &SurfaceFigure) -> Result<()> {
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
    grid: &'g Grid<'a>,
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

        let mut builder = ChartBuilder::on(root);
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

        // Cells with four finite corners, each with its clipped corner heights.
        let clip = |v: f64| v.clamp(z_lo, z_hi);
        // (projected depth, corners as (x, height, y), mean height)
        type Cell = (i32, [(f64, f64, f64); 4], f64);
        let mut cells: Vec<Cell> = Vec::new();
        let coord = chart.as_coord_spec();
        for ix in 0..g.nx().saturating_sub(1) {
            for iy in 0..g.ny().saturating_sub(1) {
                let v = [
                    g.at(ix, iy),
                    g.at(ix + 1, iy),
                    g.at(ix + 1, iy + 1),
                    g.at(ix, iy + 1),
                ];
                if v.iter().any(|v| !v.is_finite()) {
                    continue;
                }
                let (x0, x1, y0, y1) = (g.x()[ix], g.x()[ix + 1], g.y()[iy], g.y()[iy + 1]);
                let c = v.map(clip);
                let quad = [
                    (x0, c[0], y0),
                    (x1, c[1], y0),
                    (x1, c[2], y1),
                    (x0, c[3], y1),
                ];
                let mean = (c[0] + c[1] + c[2] + c[3]) / 4.0;
                let depth = coord.projected_depth(&((x0 + x1) / 2.0), &mean, &((y0 + y1) / 2.0));
                cells.push((depth, quad, mean));
            }
        }
        // Painter's algorithm: the farthest cells first.
        cells.sort_by_key(|c| std::cmp::Reverse(c.0));
        let outline = g.nx() <= 41 && g.ny() <= 41;
        for (_, quad, mean) in &cells {
            let t = (mean - z_lo) / (z_hi - z_lo);
            let color = fig.colormap.at(t);
            chart.draw_series(std::iter::once(Polygon::new(
                quad.to_vec(),
                color.to_plotters().filled(),
            )))?;
            if outline {
                let mut ring = quad.to_vec();
                ring.push(quad[0]);
                chart.draw_series(std::iter::once(PathElement::new(
                    ring,
                    color.darken(0.3).to_plotters().mix(0.6),
                )))?;
            }
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
                    run.push((x, clip(v), y));
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
        // to the edge on screen.
        let beside = |a: (i32, i32), b: (i32, i32), dist: f64| {
            let mid = ((a.0 + b.0) as f64 / 2.0, (a.1 + b.1) as f64 / 2.0);
            let (dx, dy) = ((b.0 - a.0) as f64, (b.1 - a.1) as f64);
            let n = dx.hypot(dy).max(1.0);
            let (mut nx, mut ny) = (-dy / n, dx / n);
            if nx * (mid.0 - centre.0 as f64) + ny * (mid.1 - centre.1 as f64) < 0.0 {
                nx = -nx;
                ny = -ny;
            }
            ((mid.0 + nx * dist) as i32, (mid.1 + ny * dist) as i32)
        };
        let style = theme.axis_label().pos(Pos::new(HPos::Center, VPos::Center));
        let off = theme.px(50.0) as f64;
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
            beside(xe[0], xe[1], off),
            style.clone(),
        ))?;
        root.draw(&Text::new(
            fig.y_label.clone(),
            beside(ye[0], ye[1], off),
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

        if finite.is_none() {
            note(root, "no finite values", &theme)?;
        }
        Ok(())
    }
}
