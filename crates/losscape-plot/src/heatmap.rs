//! Heat maps and filled contour maps with a colour bar (the Hessian eigenvalue-ratio map is one,
//! with the paper's fixed colour range 0..0.5).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::contour::draw_contours;
use crate::error::{Error, Result};
use crate::frame::{cross, hatch, note, patch_key, plane_frame, plot_rect, AxisSpec, Sample};
use crate::grid::{finite_min_max, widen, ValueGrid};
use crate::levels::{LevelSet, Levels};
use crate::output::{render, Draw};
use crate::style::{Colormap, Rgb, Theme};

/// How a heat map fills the plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shading {
    /// One flat rectangle per grid point, reaching half-way to its neighbours (an honest view
    /// of coarse grids such as 9x9 Hessian maps).
    Cells,
    /// Filled contours: the values interpolated bilinearly between grid points and coloured in
    /// this many equal bands (2..=256) of the colour range.
    Bands(usize),
}

/// Options of a heat map.
#[derive(Debug, Clone)]
pub struct HeatmapFigure {
    /// Title above the plot (empty: none).
    pub title: String,
    /// Label of the horizontal axis (the grid's x coordinates).
    pub x_label: String,
    /// Label of the vertical axis (the grid's y coordinates).
    pub y_label: String,
    /// Label of the colour bar.
    pub colorbar_label: String,
    /// Fixed colour range (values outside take the end colours); `None` fits the finite values.
    pub range: Option<(f64, f64)>,
    /// Colours by log10 of the value. Values <= 0 take the lowest colour.
    pub log_scale: bool,
    /// The colour map.
    pub colormap: Colormap,
    /// Cells or filled contour bands.
    pub shading: Shading,
    /// Hatch the values above the colour range (over the top colour) and name them in a key
    /// ("> hi"), so that a clipped value is not read as the top of the range.
    pub mark_over: bool,
    /// Size in pixels (width, height).
    pub size: (u32, u32),
}

impl Default for HeatmapFigure {
    fn default() -> Self {
        HeatmapFigure {
            title: String::new(),
            x_label: "x".into(),
            y_label: "y".into(),
            colorbar_label: "loss".into(),
            range: None,
            log_scale: false,
            colormap: Colormap::Viridis,
            shading: Shading::Bands(24),
            mark_over: true,
            size: (800, 600),
        }
    }
}

impl HeatmapFigure {
    /// The paper's Hessian map: |lambda_min / lambda_max| per grid point, colour range 0..0.5
    /// (dark: convex-looking, light: strong negative curvature), one cell per point.
    pub fn eigenvalue_ratio() -> HeatmapFigure {
        HeatmapFigure {
            colorbar_label: "|λmin / λmax|".into(),
            range: Some((0.0, 0.5)),
            shading: Shading::Cells,
            ..HeatmapFigure::default()
        }
    }
}

/// What a heat map may carry on top of its colours.
#[derive(Debug, Clone, Default)]
pub struct HeatmapOverlay<'a> {
    /// Contour lines of another grid over the same plane (for example the loss over a Hessian
    /// map), drawn in white with labelled levels; it may have other coordinates than the map.
    pub contours: Option<ValueGrid<'a>>,
    /// The levels of those contour lines (chosen from its values inside the map's extent).
    pub contour_levels: Levels,
    /// The key of the contour lines (empty: no key), e.g. "train loss".
    pub contour_label: String,
    /// Grid points `(ix, iy)` of the map to mark with a small cross (for example the points
    /// where the eigenvalue solver did not converge).
    pub marked: Vec<(usize, usize)>,
    /// The key of the crosses, e.g. "not converged".
    pub marked_label: String,
}

/// Draws `grid` as a heat map (or filled contours) with a colour bar and writes the figure to
/// `path` (`.png` or `.svg`).
///
/// The horizontal axis is the grid's x, the vertical its y, and `z[[ix, iy]]` lies at
/// `(x[ix], y[iy])`. Non-finite values are left light grey and named in a "no value" key; with
/// [`HeatmapFigure::mark_over`], values above a fixed range are hatched and named in a key. A
/// square domain gets a square plot area.
pub fn heatmap(path: &Path, grid: &ValueGrid<'_>, figure: &HeatmapFigure) -> Result<()> {
    heatmap_with(path, grid, figure, &HeatmapOverlay::default())
}

/// [`heatmap`] with contour lines of a second grid and marked points drawn over it.
pub fn heatmap_with(
    path: &Path,
    grid: &ValueGrid<'_>,
    figure: &HeatmapFigure,
    overlay: &HeatmapOverlay<'_>,
) -> Result<()> {
    if let Some(&(ix, iy)) = overlay
        .marked
        .iter()
        .find(|(ix, iy)| *ix >= grid.nx() || *iy >= grid.ny())
    {
        return Err(Error::invalid(format!(
            "marked point ({ix}, {iy}) is outside the {} x {} grid",
            grid.nx(),
            grid.ny()
        )));
    }
    if let Some((lo, hi)) = figure.range {
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(Error::invalid(format!(
                "colour range {lo}..{hi} is empty or not finite"
            )));
        }
        if figure.log_scale && lo <= 0.0 {
            return Err(Error::invalid(format!(
                "a log colour scale needs a positive range (got {lo}..{hi})"
            )));
        }
    }
    if let Shading::Bands(n) = figure.shading {
        if !(2..=256).contains(&n) {
            return Err(Error::invalid(format!(
                "{n} colour bands requested (2..=256)"
            )));
        }
    }
    // Bands need two points per axis to interpolate between; otherwise the map shows cells.
    let mut scale = ColorScale::fit(grid, figure);
    if grid.nx() < 2 || grid.ny() < 2 {
        scale.bands = None;
    }
    let contour_levels = match &overlay.contours {
        Some(c) => {
            let (x0, x1) = grid.x_extent();
            let (y0, y1) = grid.y_extent();
            let mut values = Vec::new();
            for (ix, x) in c.x().iter().enumerate() {
                for (iy, y) in c.y().iter().enumerate() {
                    if (x0..=x1).contains(x) && (y0..=y1).contains(y) {
                        values.push(c.z()[[ix, iy]]);
                    }
                }
            }
            if values.iter().all(|v| !v.is_finite()) {
                values = c.finite_values();
            }
            overlay.contour_levels.resolve_for_view(&values, None)?
        }
        None => LevelSet::default(),
    };
    render(
        path,
        figure.size,
        &HeatmapDraw {
            grid,
            figure,
            scale,
            overlay,
            contour_levels,
        },
    )
}

/// Maps values to colours.
#[derive(Debug, Clone)]
pub(crate) struct ColorScale {
    /// Range in value units.
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
    pub bands: Option<usize>,
    pub colormap: Colormap,
    /// True when the data gave no usable value (the range is a placeholder).
    pub empty: bool,
}

impl ColorScale {
    fn fit(grid: &ValueGrid<'_>, fig: &HeatmapFigure) -> ColorScale {
        let bands = match fig.shading {
            Shading::Bands(n) => Some(n),
            Shading::Cells => None,
        };
        let values = grid.finite_values();
        let (range, empty) = match fig.range {
            Some(r) => (r, values.is_empty()),
            None if fig.log_scale => {
                match finite_min_max(values.iter().copied().filter(|v| *v > 0.0)) {
                    Some((lo, hi)) if hi > lo => ((lo, hi), false),
                    Some((v, _)) => ((v / 10f64.sqrt(), v * 10f64.sqrt()), false),
                    None => ((1.0, 10.0), true),
                }
            }
            None => match finite_min_max(values.iter().copied()) {
                Some((lo, hi)) => (widen(lo, hi), false),
                None => ((0.0, 1.0), true),
            },
        };
        ColorScale {
            lo: range.0,
            hi: range.1,
            log: fig.log_scale,
            bands,
            colormap: fig.colormap,
            empty,
        }
    }

    /// Position of a value in [0, 1] along the colour range, or `None` for a non-finite value.
    pub fn t(&self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            return None;
        }
        let t = if self.log {
            if v <= 0.0 {
                0.0
            } else {
                (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
            }
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        Some(t.clamp(0.0, 1.0))
    }

    /// The band of a value (with bands) or its position scaled to 1024 steps.
    fn bin(&self, v: f64) -> Option<usize> {
        let t = self.t(v)?;
        let n = self.bands.unwrap_or(1024);
        Some(((t * n as f64).floor() as usize).min(n - 1))
    }

    fn bin_color(&self, bin: usize) -> Rgb {
        let n = self.bands.unwrap_or(1024);
        self.colormap.at((bin as f64 + 0.5) / n as f64)
    }

    /// Whether a value lies above the colour range (drawn hatched when asked).
    pub fn is_over(&self, v: f64) -> bool {
        v.is_finite() && v > self.hi * (1.0 + 1e-12) + 1e-300
    }

    /// The colour of a value, or `None` for a non-finite value.
    pub fn color(&self, v: f64) -> Option<Rgb> {
        self.bin(v).map(|b| self.bin_color(b))
    }

    /// The colour-bar axis: linear, or log10 units.
    fn axis(&self) -> AxisSpec {
        if self.log {
            AxisSpec::log10(self.lo.log10(), self.hi.log10())
        } else {
            AxisSpec::linear(self.lo, self.hi, 6)
        }
    }
}

struct HeatmapDraw<'g, 'a, 'o> {
    grid: &'g ValueGrid<'a>,
    figure: &'g HeatmapFigure,
    scale: ColorScale,
    overlay: &'g HeatmapOverlay<'o>,
    contour_levels: LevelSet,
}

/// The colour of the contour lines drawn over a heat map.
const OVERLAY_COLOR: Rgb = Rgb(255, 255, 255);

const GAP_COLOR: Rgb = Rgb(215, 215, 215);

/// Cell edges around coordinates: half-way between neighbours, half a step beyond the ends.
fn cell_edges(c: &[f64]) -> Vec<f64> {
    let n = c.len();
    if n == 1 {
        let d = if c[0] == 0.0 { 0.5 } else { c[0].abs() * 0.1 };
        return vec![c[0] - d, c[0] + d];
    }
    let mut e = Vec::with_capacity(n + 1);
    e.push(c[0] - (c[1] - c[0]) / 2.0);
    for w in c.windows(2) {
        e.push((w[0] + w[1]) / 2.0);
    }
    e.push(c[n - 1] + (c[n - 1] - c[n - 2]) / 2.0);
    e
}

/// Index i with c[i] <= v <= c[i + 1] and the fraction of the way, for increasing `c` (len >= 2).
fn locate(c: &[f64], v: f64) -> (usize, f64) {
    let i = c
        .partition_point(|&ci| ci <= v)
        .saturating_sub(1)
        .min(c.len() - 2);
    let f = ((v - c[i]) / (c[i + 1] - c[i])).clamp(0.0, 1.0);
    (i, f)
}

impl HeatmapDraw<'_, '_, '_> {
    /// The value at a point inside the grid: bilinear where the four surrounding values are
    /// finite, else the nearest grid value (which may be a gap).
    fn sample(&self, (ix, fx): (usize, f64), (iy, fy): (usize, f64)) -> f64 {
        let g = self.grid;
        let v00 = g.at(ix, iy);
        let v10 = g.at(ix + 1, iy);
        let v01 = g.at(ix, iy + 1);
        let v11 = g.at(ix + 1, iy + 1);
        if v00.is_finite() && v10.is_finite() && v01.is_finite() && v11.is_finite() {
            let a = v00 + (v10 - v00) * fx;
            let b = v01 + (v11 - v01) * fx;
            a + (b - a) * fy
        } else {
            g.at(ix + (fx >= 0.5) as usize, iy + (fy >= 0.5) as usize)
        }
    }
}

impl HeatmapDraw<'_, '_, '_> {
    /// The keys under the colour bar: (label, colour, sample).
    fn keys(&self) -> Vec<(String, Rgb, Sample)> {
        let g = self.grid;
        let mut keys = Vec::new();
        if g.has_gaps() {
            keys.push((
                "no value".to_string(),
                GAP_COLOR,
                Sample::Patch { hatched: false },
            ));
        }
        let fixed = self.figure.range.is_some();
        if self.figure.mark_over && fixed && g.z().iter().any(|v| self.scale.is_over(*v)) {
            let hi = self.scale.axis().label(if self.scale.log {
                self.scale.hi.log10()
            } else {
                self.scale.hi
            });
            let label = format!("> {hi}");
            keys.push((
                label,
                self.scale.colormap.at(1.0),
                Sample::Patch { hatched: true },
            ));
        }
        if !self.overlay.marked.is_empty() {
            let n = self.overlay.marked.len();
            let label = if self.overlay.marked_label.is_empty() {
                format!("marked ({n})")
            } else {
                format!("{} ({n})", self.overlay.marked_label)
            };
            keys.push((label, Rgb(0, 0, 0), Sample::Cross));
        }
        if self.overlay.contours.is_some() && !self.overlay.contour_label.is_empty() {
            let sample = Sample::Line {
                dashed: false,
                dot: false,
            };
            keys.push((self.overlay.contour_label.clone(), Rgb(90, 90, 90), sample));
        }
        keys
    }

    fn hatch_over(&self) -> bool {
        self.figure.mark_over && self.figure.range.is_some()
    }
}

impl Draw for HeatmapDraw<'_, '_, '_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let fig = self.figure;
        let theme = Theme::for_size(root.dim_in_pixel());
        let g = self.grid;
        let cbar_axis = self.scale.axis();
        let tick_w = cbar_axis.label_width(root, &theme.tick());
        let bar_w = theme.px(22.0);
        let keys = self.keys();
        let key_w = keys
            .iter()
            .map(|k| {
                root.estimate_text_size(&k.0, &theme.small())
                    .map(|s| s.0)
                    .unwrap_or(0)
            })
            .max()
            .unwrap_or(0)
            + theme.px(40.0);
        let cbar_w = (bar_w + tick_w + theme.px(62.0)).max(key_w + theme.px(16.0));
        let (w, _) = root.dim_in_pixel();
        let (main, side) = root.split_horizontally(w.saturating_sub(cbar_w));

        let bands = self.scale.bands.is_some();
        let (xe, ye) = if bands {
            (
                vec![g.x_extent().0, g.x_extent().1],
                vec![g.y_extent().0, g.y_extent().1],
            )
        } else {
            (cell_edges(g.x()), cell_edges(g.y()))
        };
        let (x_lo, x_hi) = (xe[0], xe[xe.len() - 1]);
        let (y_lo, y_hi) = (ye[0], ye[ye.len() - 1]);
        let chart = plane_frame(&main, (x_lo, x_hi), (y_lo, y_hi), [&fig.title, &fig.x_label, &fig.y_label], &theme)?;
        let area = chart.plotting_area();
        let to_px = |x: f64, y: f64| chart.backend_coord(&(x, y));
        area.draw(&Rectangle::new(
            [(x_lo, y_lo), (x_hi, y_hi)],
            GAP_COLOR.to_plotters().filled(),
        ))?;
        // Pixel rectangles of values above the range, hatched after the fill.
        let mut over: Vec<((i32, i32), (i32, i32))> = Vec::new();
        if bands {
            let (l, t, r, b) = plot_rect(&chart);
            let sx = (((r - l) / 2).max(1) as usize).min(400);
            let sy = (((b - t) / 2).max(1) as usize).min(400);
            let xs: Vec<f64> = (0..=sx)
                .map(|i| x_lo + (x_hi - x_lo) * i as f64 / sx as f64)
                .collect();
            let ys: Vec<f64> = (0..=sy)
                .map(|j| y_lo + (y_hi - y_lo) * j as f64 / sy as f64)
                .collect();
            let xloc: Vec<(usize, f64)> = (0..sx)
                .map(|i| locate(g.x(), (xs[i] + xs[i + 1]) / 2.0))
                .collect();
            for j in 0..sy {
                let yloc = locate(g.y(), (ys[j] + ys[j + 1]) / 2.0);
                // Merge equal neighbours into one rectangle per run.
                let mut i = 0;
                while i < sx {
                    let bin = self.scale.bin(self.sample(xloc[i], yloc));
                    let mut k = i + 1;
                    while k < sx && self.scale.bin(self.sample(xloc[k], yloc)) == bin {
                        k += 1;
                    }
                    if let Some(bin) = bin {
                        let c = self.scale.bin_color(bin).to_plotters();
                        area.draw(&Rectangle::new(
                            [(xs[i], ys[j + 1]), (xs[k], ys[j])],
                            c.filled(),
                        ))?;
                    }
                    // Runs above the range (the top band) are hatched sample by sample.
                    if self.hatch_over() && bin == Some(self.scale.bands.unwrap_or(1024) - 1) {
                        for m in i..k {
                            if self.scale.is_over(self.sample(xloc[m], yloc)) {
                                over.push((to_px(xs[m], ys[j + 1]), to_px(xs[m + 1], ys[j])));
                            }
                        }
                    }
                    i = k;
                }
            }
        } else {
            for ix in 0..g.nx() {
                for iy in 0..g.ny() {
                    if let Some(c) = self.scale.color(g.at(ix, iy)) {
                        area.draw(&Rectangle::new(
                            [(xe[ix], ye[iy + 1]), (xe[ix + 1], ye[iy])],
                            c.to_plotters().filled(),
                        ))?;
                    }
                    if self.hatch_over() && self.scale.is_over(g.at(ix, iy)) {
                        over.push((to_px(xe[ix], ye[iy + 1]), to_px(xe[ix + 1], ye[iy])));
                    }
                }
            }
        }
        // Merge horizontal neighbours so the hatching runs on without seams, then hatch.
        let mut merged: Vec<((i32, i32), (i32, i32))> = Vec::new();
        for r in over {
            match merged.last_mut() {
                Some(last) if last.1 .0 == r.0 .0 && last.0 .1 == r.0 .1 && last.1 .1 == r.1 .1 => {
                    last.1 .0 = r.1 .0
                }
                _ => merged.push(r),
            }
        }
        for (a, b) in merged {
            hatch(root, (a.0, a.1, b.0, b.1), &theme)?;
        }
        if let Some(c) = &self.overlay.contours {
            draw_contours(
                &chart,
                c,
                &self.contour_levels,
                true,
                Some(OVERLAY_COLOR),
                &theme,
            )?;
        }
        for &(ix, iy) in &self.overlay.marked {
            let p = to_px(g.x()[ix], g.y()[iy]);
            cross(root, p, theme.px(4.0) as i32, &theme)?;
        }
        if self.scale.empty {
            let text = if g.finite_values().is_empty() {
                "no finite values"
            } else {
                "no positive values for the log scale"
            };
            note(&area.strip_coord_spec(), text, &theme)?;
        }
        // Redraw the frame over the cells' edges.
        crate::frame::outline(&chart, &theme)?;

        // The colour bar right of the plot area, level with it, shortened for the keys below.
        let (_, top, right, bottom) = plot_rect(&chart);
        let _ = side;
        let x0 = right + theme.px(18.0) as i32;
        let row = theme.px(24.0) as i32;
        let keys_h = if keys.is_empty() {
            0
        } else {
            keys.len() as i32 * row + theme.px(10.0) as i32
        };
        let bar_bottom = (bottom - keys_h).max(top + (bottom - top) / 3);
        draw_colorbar(
            root,
            &self.scale,
            &cbar_axis,
            (x0, top, x0 + bar_w as i32, bar_bottom),
            &fig.colorbar_label,
            &theme,
        )?;
        let r = theme.px(7.0) as i32;
        let style = theme.small().pos(Pos::new(HPos::Left, VPos::Center));
        for (k, (label, color, sample)) in keys.iter().enumerate() {
            let cy = bar_bottom + theme.px(10.0) as i32 + row / 2 + k as i32 * row;
            let cx = x0 + r;
            match *sample {
                Sample::Patch { hatched } => patch_key(
                    root,
                    (cx - r, cy - r, cx + r, cy + r),
                    *color,
                    hatched,
                    &theme,
                )?,
                Sample::Cross => cross(root, (cx, cy), theme.px(4.0) as i32, &theme)?,
                _ => {
                    // A contour-line key: a white line on a mid-grey square.
                    let sq = (cx - r, cy - r, cx + r, cy + r);
                    patch_key(root, sq, *color, false, &theme)?;
                    root.draw(&PathElement::new(
                        vec![(cx - r, cy), (cx + r, cy)],
                        OVERLAY_COLOR.to_plotters().stroke_width(theme.px(2.0)),
                    ))?;
                }
            }
            root.draw(&Text::new(
                label.clone(),
                (cx + r + theme.px(6.0) as i32, cy),
                style.clone(),
            ))?;
        }
        Ok(())
    }
}

/// Draws a vertical colour bar in `rect` (left, top, right, bottom) with ticks and a label.
pub(crate) fn draw_colorbar<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    scale: &ColorScale,
    axis: &AxisSpec,
    (l, t, r, b): (i32, i32, i32, i32),
    label: &str,
    theme: &Theme,
) -> Result<()> {
    let h = (b - t).max(1);
    match scale.bands {
        Some(n) => {
            for k in 0..n {
                let y1 = b - (h as f64 * k as f64 / n as f64).round() as i32;
                let y0 = b - (h as f64 * (k + 1) as f64 / n as f64).round() as i32;
                root.draw(&Rectangle::new(
                    [(l, y0), (r, y1)],
                    scale.bin_color(k).to_plotters().filled(),
                ))?;
            }
        }
        None => {
            for y in t..b {
                let tpos = (b - y) as f64 / h as f64;
                let c = scale.colormap.at(tpos).to_plotters();
                root.draw(&Rectangle::new([(l, y), (r, y + 1)], c.filled()))?;
            }
        }
    }
    root.draw(&Rectangle::new([(l, t), (r, b)], BLACK.stroke_width(1)))?;
    let tick_len = theme.px(5.0) as i32;
    let style = theme.tick().pos(Pos::new(HPos::Left, VPos::Center));
    let span = axis.hi - axis.lo;
    for &v in &axis.ticks {
        let f = if span > 0.0 {
            (v - axis.lo) / span
        } else {
            0.5
        };
        if !(-1e-9..=1.0 + 1e-9).contains(&f) {
            continue;
        }
        let y = b - (f * h as f64).round() as i32;
        root.draw(&PathElement::new(
            vec![(r, y), (r + tick_len, y)],
            BLACK.stroke_width(1),
        ))?;
        root.draw(&Text::new(
            axis.label(v),
            (r + tick_len + theme.px(4.0) as i32, y),
            style.clone(),
        ))?;
    }
    if !label.is_empty() {
        let tick_w = axis.label_width(root, &theme.tick()) as i32;
        let x = r + tick_len + theme.px(12.0) as i32 + tick_w + theme.px(12.0) as i32;
        let style = theme
            .axis_label()
            .transform(FontTransform::Rotate270)
            .pos(Pos::new(HPos::Center, VPos::Center));
        root.draw(&Text::new(label.to_string(), (x, (t + b) / 2), style))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_edges_are_midpoints() {
        assert_eq!(cell_edges(&[0.0, 1.0, 3.0]), vec![-0.5, 0.5, 2.0, 4.0]);
        assert_eq!(cell_edges(&[2.0]), vec![1.8, 2.2]);
    }

    #[test]
    fn locate_finds_the_interval() {
        let c = [0.0, 1.0, 3.0];
        assert_eq!(locate(&c, 0.5), (0, 0.5));
        assert_eq!(locate(&c, 2.0), (1, 0.5));
        assert_eq!(locate(&c, 3.0), (1, 1.0));
        assert_eq!(locate(&c, -1.0), (0, 0.0));
    }

    #[test]
    fn colour_scale_clamps_and_gaps() {
        let s = ColorScale {
            lo: 0.0,
            hi: 0.5,
            log: false,
            bands: None,
            colormap: Colormap::Viridis,
            empty: false,
        };
        assert_eq!(s.t(0.25), Some(0.5));
        assert_eq!(s.t(2.0), Some(1.0));
        assert_eq!(s.t(f64::NAN), None);
        assert_eq!(s.color(-1.0), Some(Colormap::Viridis.at(0.0)));
        let log = ColorScale {
            lo: 0.01,
            hi: 100.0,
            log: true,
            bands: Some(4),
            colormap: Colormap::Viridis,
            empty: false,
        };
        assert_eq!(log.t(1.0), Some(0.5));
        assert_eq!(log.t(0.0), Some(0.0));
        assert_eq!(log.bin(1.0), Some(2));
        assert_eq!(log.bin(100.0), Some(3));
    }
}
