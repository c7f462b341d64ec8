//! Contour-line maps with labelled levels, and optimization paths drawn over them.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{Error, Result};
use crate::frame::{legend, note, plane_frame, split_legend, Chart2d, LegendEntry, Sample};
use crate::grid::{finite_min_max, widen, ValueGrid};
use crate::levels::{LevelSet, Levels};
use crate::marching::contour_lines;
use crate::output::{render, Draw};
use crate::style::{Colormap, Rgb, Theme};
use crate::ticks::{format_levels, format_value};

/// Options of a contour-line map.
#[derive(Debug, Clone)]
pub struct ContourFigure {
    /// Title above the plot (empty: none).
    pub title: String,
    /// Label of the horizontal axis (the grid's x coordinates).
    pub x_label: String,
    /// Label of the vertical axis (the grid's y coordinates).
    pub y_label: String,
    /// Which levels get a line.
    pub levels: Levels,
    /// Write each level's value on its lines.
    pub label_levels: bool,
    /// Only values in this range choose levels, and no level lies outside it (`--vmin/--vmax`).
    pub range: Option<(f64, f64)>,
    /// Size in pixels (width, height).
    pub size: (u32, u32),
}

impl Default for ContourFigure {
    fn default() -> Self {
        ContourFigure {
            title: String::new(),
            x_label: "x".into(),
            y_label: "y".into(),
            levels: Levels::default(),
            label_levels: true,
            range: None,
            size: (800, 600),
        }
    }
}

/// Draws the contour lines of `grid` and writes the figure to `path` (`.png` or `.svg`).
///
/// The horizontal axis is the grid's x, the vertical its y, and `z[[ix, iy]]` lies at
/// `(x[ix], y[iy])`. Levels are computed from the finite values only (see
/// [`Levels::resolve_for_view`]: fixed levels that would cross the values fewer than three times
/// give way to automatic ones); lines stop at the grid border and around non-finite values.
/// Linear levels are coloured from dark to light, the log-spaced high levels are dark grey, and
/// all labels share one number format. A square domain gets a square plot area.
pub fn contour(path: &Path, grid: &ValueGrid<'_>, figure: &ContourFigure) -> Result<()> {
    let levels = figure
        .levels
        .resolve_for_view(&grid.finite_values(), figure.range)?;
    render(
        path,
        figure.size,
        &ContourDraw {
            grid,
            figure,
            levels,
        },
    )
}

struct ContourDraw<'g, 'a> {
    grid: &'g ValueGrid<'a>,
    figure: &'g ContourFigure,
    levels: LevelSet,
}

impl Draw for ContourDraw<'_, '_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let fig = self.figure;
        let theme = Theme::for_size(root.dim_in_pixel());
        let chart = contour_frame(root, self.grid, fig, &theme)?;
        let drawn = draw_contours(
            &chart,
            self.grid,
            &self.levels,
            fig.label_levels,
            None,
            &theme,
        )?;
        if drawn == 0 {
            let text = if self.grid.finite_values().is_empty() {
                "no finite values"
            } else if self.grid.nx() < 2 || self.grid.ny() < 2 {
                "too few grid points for contour lines"
            } else {
                "no contour line in the range of the values"
            };
            note(&chart.plotting_area().strip_coord_spec(), text, &theme)?;
        }
        Ok(())
    }
}
/// The axes of a contour figure over `grid`: linear ticks on its (widened) extents, the figure's
/// title and labels, drawn in a square plotting area when the extents are equal.
pub(crate) fn contour_frame<'a, DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    grid: &ValueGrid<'_>,
    fig: &ContourFigure,
    theme: &Theme,
) -> Result<Chart2d<'a, DB>> {
    plane_frame(root, widen_extent(grid.x_extent()), widen_extent(grid.y_extent()), [&fig.title, &fig.x_label, &fig.y_label], theme)
}


/// A grid extent, widened when the grid has a single coordinate along an axis.
fn widen_extent((lo, hi): (f64, f64)) -> (f64, f64) {
    widen(lo, hi)
}

/// The colour of linear level `i` of `n`: viridis from dark to a green that still reads on white.
pub(crate) fn level_color(i: usize, n: usize) -> Rgb {
    let t = if n > 1 {
        i as f64 / (n - 1) as f64
    } else {
        0.0
    };
    Colormap::Viridis.at(0.8 * t)
}

pub(crate) const LOG_LEVEL_COLOR: Rgb = Rgb(90, 90, 90);

/// The contour lines of one level, in data coordinates.
struct LevelLines {
    label: String,
    color: Rgb,
    lines: Vec<Vec<(f64, f64)>>,
}

/// Draws the contour lines of every level on a chart, then their labels (one number format for
/// all linear levels). `color` draws every line in one colour (contours over a heat map).
/// Returns the number of polylines drawn.
pub(crate) fn draw_contours<DB: DrawingBackend>(
    chart: &Chart2d<'_, DB>,
    grid: &ValueGrid<'_>,
    levels: &LevelSet,
    label_levels: bool,
    color: Option<Rgb>,
    theme: &Theme,
) -> Result<usize> {
    let area = chart.plotting_area();
    let n = levels.linear.len();
    let mut all: Vec<LevelLines> = Vec::new();
    let linear_labels = format_levels(&levels.linear);
    for (i, (&level, label)) in levels.linear.iter().zip(linear_labels).enumerate() {
        all.push(LevelLines {
            label,
            color: color.unwrap_or_else(|| level_color(i, n)),
            lines: contour_lines(grid, level),
        });
    }
    for &level in &levels.log {
        all.push(LevelLines {
            label: format_value(level),
            color: color.unwrap_or(LOG_LEVEL_COLOR),
            lines: contour_lines(grid, level),
        });
    }
    let mut count = 0;
    for l in &all {
        let style = l.color.to_plotters().stroke_width(theme.px(1.75));
        for line in &l.lines {
            area.draw(&PathElement::new(line.clone(), style))?;
            count += 1;
        }
    }
    if label_levels {
        place_labels(chart, &all, theme)?;
    }
    Ok(count)
}

/// Writes level values on the lines (at most two labels per level, one per line, on the
/// longest lines first), each on a white box, never overlapping another label or the border.
fn place_labels<DB: DrawingBackend>(
    chart: &Chart2d<'_, DB>,
    all: &[LevelLines],
    theme: &Theme,
) -> Result<()> {
    let area = chart.plotting_area().strip_coord_spec();
    let (bx, by) = area.get_base_pixel();
    let (w, h) = area.dim_in_pixel();
    let style = theme.small();
    let pad = theme.px(2.0) as i32;
    let mut placed: Vec<(i32, i32, i32, i32)> = Vec::new();
    for LevelLines {
        label,
        color,
        lines,
    } in all
    {
        let text = label.clone();
        let (tw, th) = area.estimate_text_size(&text, &style).unwrap_or((0, 0));
        let (tw, th) = (tw as i32 + 2 * pad, th as i32 + 2 * pad);
        // Lines in pixels, longest first.
        let mut pix: Vec<(f64, Vec<(f64, f64)>)> = lines
            .iter()
            .map(|l| {
                let p: Vec<(f64, f64)> = l
                    .iter()
                    .map(|pt| {
                        let (px, py) = chart.backend_coord(pt);
                        ((px - bx) as f64, (py - by) as f64)
                    })
                    .collect();
                (path_length(&p), p)
            })
            .collect();
        pix.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut on_level = 0;
        for (len, p) in pix {
            if on_level >= 2 || len < 2.5 * tw as f64 {
                break;
            }
            for frac in [0.5, 0.3, 0.7, 0.15, 0.85] {
                let (cx, cy) = point_at(&p, len * frac);
                let rect = (
                    cx as i32 - tw / 2,
                    cy as i32 - th / 2,
                    cx as i32 + tw / 2,
                    cy as i32 + th / 2,
                );
                let inside =
                    rect.0 >= 1 && rect.1 >= 1 && rect.2 < w as i32 - 1 && rect.3 < h as i32 - 1;
                let free = placed.iter().all(|r| !overlaps(r, &rect, pad));
                if inside && free {
                    area.draw(&Rectangle::new(
                        [(rect.0, rect.1), (rect.2, rect.3)],
                        WHITE.filled(),
                    ))?;
                    // Light lines (over a heat map) get dark text.
                    let light = color.0 as u32 + color.1 as u32 + color.2 as u32 > 600;
                    let text_color = if light {
                        RGBColor(40, 40, 40)
                    } else {
                        color.darken(0.25).to_plotters()
                    };
                    let ts = style
                        .clone()
                        .color(&text_color)
                        .pos(Pos::new(HPos::Center, VPos::Center));
                    area.draw(&Text::new(
                        text.clone(),
                        ((rect.0 + rect.2) / 2, (rect.1 + rect.3) / 2),
                        ts,
                    ))?;
                    placed.push(rect);
                    on_level += 1;
                    break;
                }
            }
        }
    }
    Ok(())
}

fn overlaps(a: &(i32, i32, i32, i32), b: &(i32, i32, i32, i32), gap: i32) -> bool {
    a.0 - gap < b.2 && b.0 - gap < a.2 && a.1 - gap < b.3 && b.1 - gap < a.3
}

fn path_length(p: &[(f64, f64)]) -> f64 {
    p.windows(2)
        .map(|w| (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1))
        .sum()
}

/// The point at arc length `s` along a polyline.
fn point_at(p: &[(f64, f64)], s: f64) -> (f64, f64) {
    let mut left = s;
    for w in p.windows(2) {
        let d = (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1);
        if d > 0.0 && left <= d {
            let t = left / d;
            return (
                w[0].0 + t * (w[1].0 - w[0].0),
                w[0].1 + t * (w[1].1 - w[0].1),
            );
        }
        left -= d;
    }
    p.last().copied().unwrap_or((0.0, 0.0))
}

/// An optimization path in a plane: point `i` at `(x[i], y[i])`, one point per checkpoint.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanePath<'a> {
    /// First coordinate of each point (for example the projection on the first PCA direction).
    pub x: &'a [f64],
    /// Second coordinate of each point.
    pub y: &'a [f64],
    /// Indices of the points where the learning rate was decayed (drawn as red dots).
    pub lr_decay: &'a [usize],
}

/// Options of a trajectory figure.
#[derive(Debug, Clone)]
pub struct TrajectoryFigure {
    /// Title above the plot (empty: none).
    pub title: String,
    /// Label of the horizontal axis, e.g. from [`explained_variance_label`].
    pub x_label: String,
    /// Label of the vertical axis.
    pub y_label: String,
    /// Contour levels of the surface under the path (chosen from the values in view, see
    /// [`Levels::resolve_for_view`]).
    pub levels: Levels,
    /// Write each level's value on its lines.
    pub label_levels: bool,
    /// Only values in this range choose levels, and no level lies outside it.
    pub range: Option<(f64, f64)>,
    /// Size in pixels (width, height).
    pub size: (u32, u32),
}

impl Default for TrajectoryFigure {
    fn default() -> Self {
        TrajectoryFigure {
            title: String::new(),
            x_label: "1st PC".into(),
            y_label: "2nd PC".into(),
            levels: Levels::default(),
            label_levels: true,
            range: None,
            size: (800, 600),
        }
    }
}

/// An axis label with a component's share of the explained variance, as the paper writes it:
/// `explained_variance_label(1, 0.7231)` is `"1st PC: 72.31 %"`.
pub fn explained_variance_label(component: usize, ratio: f64) -> String {
    let suffix = match (component % 10, component % 100) {
        (1, r) if r != 11 => "st",
        (2, r) if r != 12 => "nd",
        (3, r) if r != 13 => "rd",
        _ => "th",
    };
    format!("{component}{suffix} PC: {:.2} %", ratio * 100.0)
}

/// Draws an optimization path (one dot per checkpoint, learning-rate decays as red dots) over
/// the contour lines of `surface` (if given) and writes the figure to `path`.
///
/// Points with a non-finite coordinate are gaps in the path. The axes cover both the surface's
/// grid and the whole path.
pub fn trajectory(
    path: &Path,
    surface: Option<&ValueGrid<'_>>,
    traj: &PlanePath<'_>,
    figure: &TrajectoryFigure,
) -> Result<()> {
    if traj.x.len() != traj.y.len() {
        return Err(Error::invalid(format!(
            "trajectory has {} x coordinates but {} y coordinates",
            traj.x.len(),
            traj.y.len()
        )));
    }
    if let Some(&i) = traj.lr_decay.iter().find(|&&i| i >= traj.x.len()) {
        return Err(Error::invalid(format!(
            "learning-rate decay index {i} is past the path's {} points",
            traj.x.len()
        )));
    }
    let levels = match surface {
        Some(g) => {
            let (xr, yr) = view(Some(g), traj);
            // The grid points in view, and one more cell around it.
            let near = |c: &[f64], (lo, hi): (f64, f64)| -> Vec<bool> {
                let step = c.windows(2).map(|w| w[1] - w[0]).fold(0f64, f64::max);
                c.iter()
                    .map(|v| *v >= lo - step && *v <= hi + step)
                    .collect()
            };
            let (nx, ny) = (near(g.x(), xr), near(g.y(), yr));
            let mut values: Vec<f64> = Vec::new();
            for (ix, inx) in nx.iter().enumerate() {
                for (iy, iny) in ny.iter().enumerate() {
                    if *inx && *iny {
                        values.push(g.z()[[ix, iy]]);
                    }
                }
            }
            if values.iter().all(|v| !v.is_finite()) {
                values = g.finite_values();
            }
            figure.levels.resolve_for_view(&values, figure.range)?
        }
        None => LevelSet::default(),
    };
    render(
        path,
        figure.size,
        &TrajectoryDraw {
            surface,
            traj,
            figure,
            levels,
        },
    )
}

struct TrajectoryDraw<'g, 'a, 'b> {
    surface: Option<&'g ValueGrid<'a>>,
    traj: &'g PlanePath<'b>,
    figure: &'g TrajectoryFigure,
    levels: LevelSet,
}

/// The axes' ranges of a trajectory figure: the surface's extent kept exactly, the path with a
/// margin only where it leaves the surface.
fn view(surface: Option<&ValueGrid<'_>>, t: &PlanePath<'_>) -> ((f64, f64), (f64, f64)) {
    let finite: Vec<(f64, f64)> =
        t.x.iter()
            .zip(t.y)
            .filter(|(a, b)| a.is_finite() && b.is_finite())
            .map(|(a, b)| (*a, *b))
            .collect();
    let path_x = finite_min_max(finite.iter().map(|p| p.0));
    let path_y = finite_min_max(finite.iter().map(|p| p.1));
    let padded = |r: Option<(f64, f64)>| {
        r.map(|(lo, hi)| {
            let (lo, hi) = widen(lo, hi);
            let d = (hi - lo) * 0.06;
            (lo - d, hi + d)
        })
    };
    let union = |a: Option<(f64, f64)>, b: Option<(f64, f64)>| match (a, b) {
        (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
        (a, b) => a.or(b),
    };
    let grid_x = surface.map(|g| g.x_extent());
    let grid_y = surface.map(|g| g.y_extent());
    // The surface's extent is kept exactly; the path gets a margin only where it leaves it.
    let x_range = match (grid_x, padded(path_x)) {
        (Some(g), Some(p)) if p.0 >= g.0 && p.1 <= g.1 => Some(g),
        (g, p) => union(g, p),
    };
    let y_range = match (grid_y, padded(path_y)) {
        (Some(g), Some(p)) if p.0 >= g.0 && p.1 <= g.1 => Some(g),
        (g, p) => union(g, p),
    };
    let (x_lo, x_hi) = x_range.map(|(a, b)| widen(a, b)).unwrap_or((-1.0, 1.0));
    let (y_lo, y_hi) = y_range.map(|(a, b)| widen(a, b)).unwrap_or((-1.0, 1.0));
    ((x_lo, x_hi), (y_lo, y_hi))
}

const PATH_COLOR: Rgb = Rgb(31, 60, 140);
const DECAY_COLOR: Rgb = Rgb(220, 20, 20);

impl Draw for TrajectoryDraw<'_, '_, '_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let fig = self.figure;
        let theme = Theme::for_size(root.dim_in_pixel());
        let t = self.traj;
        let finite: Vec<(f64, f64)> =
            t.x.iter()
                .zip(t.y)
                .filter(|(a, b)| a.is_finite() && b.is_finite())
                .map(|(a, b)| (*a, *b))
                .collect();

        let mut entries = vec![LegendEntry {
            label: "path (a dot per checkpoint)".into(),
            color: PATH_COLOR,
            sample: Sample::Line {
                dashed: false,
                dot: true,
            },
        }];
        if !t.lr_decay.is_empty() {
            entries.push(LegendEntry {
                label: "learning-rate decay".into(),
                color: DECAY_COLOR,
                sample: Sample::Dot,
            });
        }
        let (main, strip) = split_legend(root, &entries, &theme);

        let ((x_lo, x_hi), (y_lo, y_hi)) = view(self.surface, t);
        let chart = plane_frame(&main, (x_lo, x_hi), (y_lo, y_hi), [&fig.title, &fig.x_label, &fig.y_label], &theme)?;
        if let Some(g) = self.surface {
            let drawn = draw_contours(&chart, g, &self.levels, fig.label_levels, None, &theme)?;
            if drawn == 0 && !finite.is_empty() {
                let style = theme
                    .small()
                    .color(&RGBColor(90, 90, 90))
                    .pos(Pos::new(HPos::Right, VPos::Top));
                let plain = chart.plotting_area().strip_coord_spec();
                let (w, _) = plain.dim_in_pixel();
                plain.draw(&Text::new(
                    "no contour line in view",
                    (w as i32 - theme.px(6.0) as i32, theme.px(6.0) as i32),
                    style,
                ))?;
            }
        }
        let area = chart.plotting_area();
        let line_style = PATH_COLOR.to_plotters().stroke_width(theme.px(2.0));
        let mut run: Vec<(f64, f64)> = Vec::new();
        let mut runs = Vec::new();
        for (&x, &y) in t.x.iter().zip(t.y) {
            if x.is_finite() && y.is_finite() {
                run.push((x, y));
            } else if !run.is_empty() {
                runs.push(std::mem::take(&mut run));
            }
        }
        if !run.is_empty() {
            runs.push(run);
        }
        for r in &runs {
            area.draw(&PathElement::new(r.clone(), line_style))?;
        }
        for p in &finite {
            area.draw(&Circle::new(
                *p,
                theme.px(3.5),
                PATH_COLOR.to_plotters().filled(),
            ))?;
        }
        for &i in t.lr_decay {
            let p = (t.x[i], t.y[i]);
            if p.0.is_finite() && p.1.is_finite() {
                area.draw(&Circle::new(
                    p,
                    theme.px(6.0),
                    DECAY_COLOR.to_plotters().filled(),
                ))?;
                area.draw(&Circle::new(p, theme.px(6.0), WHITE.stroke_width(1)))?;
            }
        }
        if let Some(first) = finite.first() {
            // "start" beside the first point, on the side away from the path's first step.
            let base = chart.plotting_area().get_base_pixel();
            let p0 = chart.backend_coord(first);
            let p1 = finite
                .get(1)
                .map(|p| chart.backend_coord(p))
                .unwrap_or((p0.0 + 1, p0.1));
            let (dx, dy) = ((p1.0 - p0.0) as f64, (p1.1 - p0.1) as f64);
            let n = dx.hypot(dy).max(1.0);
            let off = theme.px(9.0) as f64;
            let at = (
                (p0.0 - base.0) as f64 - dx / n * off,
                (p0.1 - base.1) as f64 - dy / n * off,
            );
            let h = if dx > 0.0 { HPos::Right } else { HPos::Left };
            let v = if dy > 0.0 { VPos::Bottom } else { VPos::Top };
            let path_color = PATH_COLOR.to_plotters();
            let style = theme.tick().color(&path_color).pos(Pos::new(h, v));
            let shifted = chart.plotting_area().strip_coord_spec();
            shifted.draw(&Text::new("start", (at.0 as i32, at.1 as i32), style))?;
        } else {
            note(
                &chart.plotting_area().strip_coord_spec(),
                "no finite path points",
                &theme,
            )?;
        }
        if let Some(strip) = strip {
            legend(&strip, &entries, &theme)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variance_labels() {
        assert_eq!(explained_variance_label(1, 0.7231), "1st PC: 72.31 %");
        assert_eq!(explained_variance_label(2, 0.1), "2nd PC: 10.00 %");
        assert_eq!(explained_variance_label(3, 0.05), "3rd PC: 5.00 %");
        assert_eq!(explained_variance_label(11, 0.05), "11th PC: 5.00 %");
    }

    #[test]
    fn arc_length_points() {
        let p = [(0.0, 0.0), (2.0, 0.0), (2.0, 2.0)];
        assert_eq!(path_length(&p), 4.0);
        assert_eq!(point_at(&p, 1.0), (1.0, 0.0));
        assert_eq!(point_at(&p, 3.0), (2.0, 1.0));
        assert_eq!(point_at(&p, 9.0), (2.0, 2.0));
    }
}
