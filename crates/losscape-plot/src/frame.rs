//! Pieces shared by the 2D figures: axes with our own tick positions, the chart frame, a bottom
//! legend strip that never covers data, and notes written inside an empty plot.

use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::Result;
use crate::style::{Rgb, Theme};
use crate::ticks::{format_power, format_tick, linear_ticks, log_ticks};

/// A 2D chart with our axes.
pub(crate) type Chart2d<'a, DB> = ChartContext<'a, DB, Cartesian2d<AxisSpec, AxisSpec>>;

/// A linear axis whose tick positions and labels we choose (plotters' own f64 axis picks its
/// ticks and labels itself). Log axes are linear axes over log10 values with power labels.
#[derive(Debug, Clone)]
pub(crate) struct AxisSpec {
    pub lo: f64,
    pub hi: f64,
    pub ticks: Vec<f64>,
    pub minor: Vec<f64>,
    /// Linear: the tick step (for formatting). Log: values are log10 and labels are powers of 10.
    pub kind: AxisKind,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum AxisKind {
    Linear { step: f64 },
    Log10,
}

impl AxisSpec {
    /// A linear axis over [lo, hi] with about `target` nice ticks.
    pub fn linear(lo: f64, hi: f64, target: usize) -> AxisSpec {
        let (ticks, step) = linear_ticks(lo, hi, target);
        AxisSpec {
            lo,
            hi,
            ticks,
            minor: vec![],
            kind: AxisKind::Linear { step },
        }
    }

    /// A log axis over [10^lo_exp, 10^hi_exp] (the chart works in log10 units).
    pub fn log10(lo_exp: f64, hi_exp: f64) -> AxisSpec {
        let (mut ticks, minor) = log_ticks(lo_exp, hi_exp);
        if ticks.len() < 3 {
            // Two decades or less: label 2x and 5x too.
            let extra = minor.iter().copied().filter(|p| {
                let m = 10f64.powf(p - p.floor());
                (m - 2.0).abs() < 1e-6 || (m - 5.0).abs() < 1e-6
            });
            ticks.extend(extra);
            ticks.sort_by(f64::total_cmp);
        }
        if ticks.len() < 2 {
            // Less than a decade with no 1x, 2x or 5x inside: nice linear ticks of the values,
            // placed at their logs.
            let (lin, _) = linear_ticks(10f64.powf(lo_exp), 10f64.powf(hi_exp), 4);
            ticks = lin
                .into_iter()
                .filter(|v| *v > 0.0)
                .map(f64::log10)
                .collect();
        }
        AxisSpec {
            lo: lo_exp,
            hi: hi_exp,
            ticks,
            minor,
            kind: AxisKind::Log10,
        }
    }

    pub fn coord(&self) -> AxisSpec {
        self.clone()
    }

    pub fn label(&self, v: f64) -> String {
        match self.kind {
            AxisKind::Linear { step } => format_tick(v, step),
            AxisKind::Log10 => {
                if (v - v.round()).abs() < 1e-9 {
                    format_power(v)
                } else {
                    crate::ticks::format_value(10f64.powf(v))
                }
            }
        }
    }

    /// Widest tick label in pixels.
    pub fn label_width<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        style: &TextStyle,
    ) -> u32 {
        self.ticks
            .iter()
            .map(|v| {
                root.estimate_text_size(&self.label(*v), style)
                    .map(|s| s.0)
                    .unwrap_or(0)
            })
            .max()
            .unwrap_or(0)
    }
}

impl Ranged for AxisSpec {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        let pixels = limit.1 - limit.0;
        if span == 0.0 || pixels == 0 {
            return (limit.0 + limit.1) / 2;
        }
        let t = (v - self.lo) / span;
        // Far-away points (a path leaving the plot) must not overflow the pixel type.
        let t = if t.is_nan() { 0.0 } else { t.clamp(-1e4, 1e4) };
        if pixels > 0 {
            limit.0 + (pixels as f64 * t + 1e-3).floor() as i32
        } else {
            limit.0 + (pixels as f64 * t - 1e-3).ceil() as i32
        }
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

impl ValueFormatter<f64> for AxisSpec {
    fn format(v: &f64) -> String {
        format!("{v}")
    }

    fn format_ext(&self, v: &f64) -> String {
        self.label(*v)
    }
}

/// How a 2D frame is drawn.
pub(crate) struct FrameSpec<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub x: &'a AxisSpec,
    pub y: &'a AxisSpec,
    /// Grid lines at the ticks (line plots) or none (maps, where they would hide the data).
    pub grid_lines: bool,
    /// Room on the right for a twin axis (its tick labels and title), in pixels.
    pub right_area: u32,
}

/// Builds a 2D chart on `area` (axes not drawn yet: see [`draw_axes`]).
pub(crate) fn build_chart<'a, DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    spec: &FrameSpec<'_>,
    theme: &Theme,
) -> Result<Chart2d<'a, DB>> {
    let y_area = spec.y.label_width(area, &theme.tick()) + theme.px(48.0);
    let mut builder = ChartBuilder::on(area);
    builder
        .margin_top(theme.px(if spec.title.is_empty() { 10.0 } else { 16.0 }))
        .margin_right(theme.px(if spec.right_area > 0 { 6.0 } else { 24.0 }))
        .margin_left(theme.px(8.0))
        .x_label_area_size(theme.px(58.0))
        .y_label_area_size(y_area);
    if spec.right_area > 0 {
        builder.right_y_label_area_size(spec.right_area);
    }
    if !spec.title.is_empty() {
        builder.caption(spec.title, theme.title());
    }
    Ok(builder.build_cartesian_2d(spec.x.coord(), spec.y.coord())?)
}

/// Whether two axis spans are equal (a square domain such as -1..1 by -1..1), so that the plot
/// area should be square.
pub(crate) fn is_square((x0, x1): (f64, f64), (y0, y1): (f64, f64)) -> bool {
    let (a, b) = ((x1 - x0).abs(), (y1 - y0).abs());
    a > 0.0 && (a - b).abs() <= 1e-9 * a.max(b)
}

/// The axes of a figure over a plane `[x.0, x.1] x [y.0, y.1]` (contours, heat maps, paths):
/// 8 linear ticks on each, the given title and labels, no grid lines, and a square plotting area
/// when the two extents are equal.
pub(crate) fn plane_frame<'a, DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x_lo, x_hi): (f64, f64),
    (y_lo, y_hi): (f64, f64),
    [title, x_label, y_label]: [&str; 3],
    theme: &Theme,
) -> Result<Chart2d<'a, DB>> {
    let x_axis = AxisSpec::linear(x_lo, x_hi, 8);
    let y_axis = AxisSpec::linear(y_lo, y_hi, 8);
    let spec = FrameSpec { title, x_label, y_label, x: &x_axis, y: &y_axis, grid_lines: false, right_area: 0 };
    let area = if is_square((x_lo, x_hi), (y_lo, y_hi)) { square_area(area, &spec, theme)? } else { area.clone() };
    frame(&area, &spec, theme)
}

/// The part of `area` on which a chart built with `spec` gets a square plot area: the chart is
/// laid out once on a throwaway SVG of the same size (labels, title and margins depend only on
/// the fonts), and the longer side of its plot area is taken back as equal margins.
pub(crate) fn square_area<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    spec: &FrameSpec<'_>,
    theme: &Theme,
) -> Result<DrawingArea<DB, Shift>> {
    let (w, h) = area.dim_in_pixel();
    let mut sink = String::new();
    let (pw, ph) = {
        let probe = SVGBackend::with_string(&mut sink, (w, h)).into_drawing_area();
        let chart = build_chart(&probe, spec, theme)?;
        let (xr, yr) = chart.plotting_area().get_pixel_range();
        (xr.end - xr.start, yr.end - yr.start)
    };
    let (top, bottom, left, right) = square_margins(pw, ph);
    Ok(area.margin(top, bottom, left, right))
}

/// Margins (top, bottom, left, right) that make a `pw` x `ph` plot area square.
pub(crate) fn square_margins(pw: i32, ph: i32) -> (i32, i32, i32, i32) {
    let d = (pw - ph).abs();
    if pw > ph {
        (0, 0, d / 2, d - d / 2)
    } else {
        (d / 2, d - d / 2, 0, 0)
    }
}

/// Draws the left and bottom axes of a chart: ticks, tick labels, axis labels, optional grid
/// lines and a frame around the plotting area.
pub(crate) fn draw_axes<DB: DrawingBackend>(
    chart: &mut Chart2d<'_, DB>,
    spec: &FrameSpec<'_>,
    theme: &Theme,
) -> Result<()> {
    let mut mesh = chart.configure_mesh();
    mesh.label_style(theme.tick())
        .axis_desc_style(theme.axis_label())
        .set_all_tick_mark_size(theme.px(5.0))
        .bold_line_style(RGBColor(0, 0, 0).mix(0.12))
        .light_line_style(RGBColor(0, 0, 0).mix(0.05))
        .axis_style(BLACK.stroke_width(theme.px(1.0)));
    if !spec.x_label.is_empty() {
        mesh.x_desc(spec.x_label);
    }
    if !spec.y_label.is_empty() {
        mesh.y_desc(spec.y_label);
    }
    if !spec.grid_lines {
        mesh.disable_mesh();
    }
    mesh.draw()?;
    outline(chart, theme)
}

/// Builds a 2D chart and draws its axes.
pub(crate) fn frame<'a, DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    spec: &FrameSpec<'_>,
    theme: &Theme,
) -> Result<Chart2d<'a, DB>> {
    let mut chart = build_chart(area, spec, theme)?;
    draw_axes(&mut chart, spec, theme)?;
    Ok(chart)
}

/// Draws a frame around the plotting area (the mesh draws only the left and bottom axes).
pub(crate) fn outline<DB: DrawingBackend>(chart: &Chart2d<'_, DB>, theme: &Theme) -> Result<()> {
    let area = chart.plotting_area().strip_coord_spec();
    let (w, h) = area.dim_in_pixel();
    area.draw(&Rectangle::new(
        [(0, 0), (w as i32 - 1, h as i32 - 1)],
        BLACK.stroke_width(theme.px(1.0)),
    ))?;
    Ok(())
}

/// Writes a short note in the middle of an area (for example "no finite values").
pub(crate) fn note<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    theme: &Theme,
) -> Result<()> {
    let (w, h) = area.dim_in_pixel();
    let style = theme
        .axis_label()
        .color(&RGBColor(90, 90, 90))
        .pos(Pos::new(HPos::Center, VPos::Center));
    area.draw(&Text::new(
        text.to_string(),
        (w as i32 / 2, h as i32 / 2),
        style,
    ))?;
    Ok(())
}

/// How a legend entry's sample is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Sample {
    /// A line, solid or dashed, optionally with a dot in its middle.
    Line { dashed: bool, dot: bool },
    /// A filled dot.
    Dot,
    /// A filled square of the entry's colour, optionally hatched (regions such as gaps, or
    /// values above a colour range).
    Patch { hatched: bool },
    /// A small cross (marked points, such as unconverged ones).
    Cross,
}

/// One entry of a legend strip.
#[derive(Debug, Clone)]
pub(crate) struct LegendEntry {
    pub label: String,
    pub color: Rgb,
    pub sample: Sample,
}

const SAMPLE_LEN: f64 = 36.0;

/// The entry layout: (row, x offset) per entry, and the number of rows, for a strip `width` wide.
fn legend_layout<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    width: u32,
    theme: &Theme,
) -> (Vec<(u32, u32)>, u32) {
    let style = theme.tick();
    let gap = theme.px(22.0);
    let mut pos = Vec::with_capacity(entries.len());
    let (mut row, mut x) = (0u32, gap);
    for e in entries {
        let text_w = root
            .estimate_text_size(&e.label, &style)
            .map(|s| s.0)
            .unwrap_or(0);
        let w = theme.px(SAMPLE_LEN + 8.0) + text_w;
        if x > gap && x + w > width {
            row += 1;
            x = gap;
        }
        pos.push((row, x));
        x += w + gap;
    }
    let rows = if entries.is_empty() { 0 } else { row + 1 };
    (pos, rows)
}

/// Height in pixels of a legend strip holding `entries` across `width` pixels.
pub(crate) fn legend_height<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    width: u32,
    theme: &Theme,
) -> u32 {
    let (_, rows) = legend_layout(root, entries, width, theme);
    if rows == 0 {
        0
    } else {
        rows * theme.px(26.0) + theme.px(10.0)
    }
}

/// Draws a legend strip (entries left to right, wrapping into rows) on `area`.
pub(crate) fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    theme: &Theme,
) -> Result<()> {
    let (w, _) = area.dim_in_pixel();
    let (pos, _) = legend_layout(area, entries, w, theme);
    let row_h = theme.px(26.0) as i32;
    let text_style = theme.tick().pos(Pos::new(HPos::Left, VPos::Center));
    for (e, (row, x)) in entries.iter().zip(pos) {
        let cy = theme.px(5.0) as i32 + row as i32 * row_h + row_h / 2;
        let x0 = x as i32;
        let x1 = x0 + theme.px(SAMPLE_LEN) as i32;
        let color = e.color.to_plotters();
        match e.sample {
            Sample::Line { dashed, dot } => {
                let style = color.stroke_width(theme.line_width());
                if dashed {
                    area.draw(&DashedPathElement::new(
                        vec![(x0, cy), (x1, cy)],
                        theme.px(8.0),
                        theme.px(5.0),
                        style,
                    ))?;
                } else {
                    area.draw(&PathElement::new(vec![(x0, cy), (x1, cy)], style))?;
                }
                if dot {
                    area.draw(&Circle::new(
                        ((x0 + x1) / 2, cy),
                        theme.px(3.5),
                        color.filled(),
                    ))?;
                }
            }
            Sample::Dot => {
                area.draw(&Circle::new(
                    ((x0 + x1) / 2, cy),
                    theme.px(5.0),
                    color.filled(),
                ))?;
            }
            Sample::Patch { hatched } => {
                let r = theme.px(8.0) as i32;
                let cx = (x0 + x1) / 2;
                patch_key(
                    area,
                    (cx - r, cy - r, cx + r, cy + r),
                    e.color,
                    hatched,
                    theme,
                )?;
            }
            Sample::Cross => {
                cross(area, ((x0 + x1) / 2, cy), theme.px(5.0) as i32, theme)?;
            }
        }
        area.draw(&Text::new(
            e.label.clone(),
            (x1 + theme.px(8.0) as i32, cy),
            text_style.clone(),
        ))?;
    }
    Ok(())
}

/// Splits `root` into a main area and a legend strip at the bottom sized for `entries`.
pub(crate) fn split_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    theme: &Theme,
) -> (DrawingArea<DB, Shift>, Option<DrawingArea<DB, Shift>>) {
    let (w, h) = root.dim_in_pixel();
    let lh = legend_height(root, entries, w, theme);
    if lh == 0 || lh >= h / 2 {
        return (root.clone(), None);
    }
    let (main, strip) = root.split_vertically(h - lh);
    (main, Some(strip))
}

/// The plot-area pixel rectangle of a chart, in `root` coordinates: (left, top, right, bottom).
pub(crate) fn plot_rect<DB: DrawingBackend>(chart: &Chart2d<'_, DB>) -> (i32, i32, i32, i32) {
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    (xr.start, yr.start, xr.end, yr.end)
}

/// A key square in pixel coordinates `(left, top, right, bottom)`: filled with `color`, hatched
/// when asked, outlined in black.
pub(crate) fn patch_key<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (l, t, r, b): (i32, i32, i32, i32),
    color: Rgb,
    hatched: bool,
    theme: &Theme,
) -> Result<()> {
    area.draw(&Rectangle::new(
        [(l, t), (r, b)],
        color.to_plotters().filled(),
    ))?;
    if hatched {
        hatch(area, (l, t, r, b), theme)?;
    }
    area.draw(&Rectangle::new([(l, t), (r, b)], BLACK.stroke_width(1)))?;
    Ok(())
}

/// Diagonal hatching (lines of slope -1 on screen) clipped to a pixel rectangle. The lines lie
/// on one lattice (`x + y` a multiple of the spacing), so neighbouring rectangles hatch as one.
pub(crate) fn hatch<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (l, t, r, b): (i32, i32, i32, i32),
    theme: &Theme,
) -> Result<()> {
    for seg in hatch_segments((l, t, r, b), theme.px(7.0) as i32) {
        area.draw(&PathElement::new(
            vec![seg.0, seg.1],
            RGBColor(30, 30, 30).stroke_width(theme.px(1.0)),
        ))?;
    }
    Ok(())
}

/// The segments of the lines `x + y = k * spacing` inside a pixel rectangle.
pub(crate) fn hatch_segments(
    (l, t, r, b): (i32, i32, i32, i32),
    spacing: i32,
) -> Vec<((i32, i32), (i32, i32))> {
    let spacing = spacing.max(2);
    let (l, r) = (l.min(r), l.max(r));
    let (t, b) = (t.min(b), t.max(b));
    let mut out = Vec::new();
    let first = (l + t).div_euclid(spacing) + 1;
    let last = (r + b).div_euclid(spacing);
    for k in first..=last {
        let c = k * spacing;
        // x + y = c: from the top or left edge to the bottom or right edge.
        let (ax, ay) = if c - t <= r { (c - t, t) } else { (r, c - r) };
        let (bx, by) = if c - b >= l { (c - b, b) } else { (l, c - l) };
        if ax >= l && bx <= r && ay <= b && by >= t {
            out.push(((ax, ay), (bx, by)));
        }
    }
    out
}

/// A small cross of half-size `r` pixels at `c`: white under black, readable on any colour.
pub(crate) fn cross<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (cx, cy): (i32, i32),
    r: i32,
    theme: &Theme,
) -> Result<()> {
    for (color, w) in [(WHITE, theme.px(3.5)), (BLACK, theme.px(1.5))] {
        let style = color.stroke_width(w);
        area.draw(&PathElement::new(
            vec![(cx - r, cy - r), (cx + r, cy + r)],
            style,
        ))?;
        area.draw(&PathElement::new(
            vec![(cx - r, cy + r), (cx + r, cy - r)],
            style,
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_domains_get_square_plots() {
        assert!(is_square((-1.0, 1.0), (-1.0, 1.0)));
        assert!(is_square((-0.5, 1.5), (0.0, 2.0)));
        assert!(!is_square((-1.0, 1.0), (-0.5, 0.5)));
        assert!(!is_square((0.0, 0.0), (0.0, 0.0)));
        // A 600 x 480 plot area loses 120 pixels of width, split between left and right.
        assert_eq!(square_margins(600, 480), (0, 0, 60, 60));
        assert_eq!(square_margins(400, 481), (40, 41, 0, 0));
        // Laid out on a real area, the plot area comes out square.
        let mut svg = String::new();
        let root = SVGBackend::with_string(&mut svg, (800, 600)).into_drawing_area();
        crate::output::ensure_font().unwrap();
        let theme = Theme::for_size((800, 600));
        let axis = AxisSpec::linear(-1.0, 1.0, 8);
        let spec = FrameSpec {
            title: "a title",
            x_label: "direction 1",
            y_label: "direction 2",
            x: &axis,
            y: &axis,
            grid_lines: false,
            right_area: 0,
        };
        let area = square_area(&root, &spec, &theme).unwrap();
        let chart = build_chart(&area, &spec, &theme).unwrap();
        let (xr, yr) = chart.plotting_area().get_pixel_range();
        assert!(
            ((xr.end - xr.start) - (yr.end - yr.start)).abs() <= 1,
            "{xr:?} {yr:?}"
        );
    }

    #[test]
    fn hatch_segments_stay_inside() {
        let rect = (10, 20, 50, 40);
        let segs = hatch_segments(rect, 7);
        assert!(!segs.is_empty());
        for ((ax, ay), (bx, by)) in &segs {
            for (x, y) in [(*ax, *ay), (*bx, *by)] {
                assert!((10..=50).contains(&x) && (20..=40).contains(&y), "{segs:?}");
            }
            // Slope -1: x + y is constant along a segment.
            assert_eq!(ax + ay, bx + by);
            assert_eq!((ax + ay) % 7, 0);
        }
    }
}
