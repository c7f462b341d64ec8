//! 1D curves: loss on the left axis (optionally log scale), accuracy on a right twin axis,
//! several curves with a legend below the plot.

use std::path::Path;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::frame::{
    build_chart, draw_axes, legend, note, split_legend, AxisSpec, FrameSpec, LegendEntry, Sample,
};
use crate::grid::{finite_min_max, widen};
use crate::output::{render, Draw};
use crate::style::{Rgb, Theme};

/// Which vertical axis a curve is drawn against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum YAxis {
    /// The left axis (loss; log scale when [`LinesFigure::log_loss`] is set).
    #[default]
    Loss,
    /// The right twin axis (accuracy in percent, or any second quantity).
    Accuracy,
}

/// One curve: `y[i]` at `x[i]`. Non-finite points (and, on a log axis, values <= 0) are gaps.
#[derive(Debug, Clone, Default)]
pub struct Curve<'a> {
    /// Legend text (an empty label leaves the curve out of the legend).
    pub label: String,
    /// Abscissae.
    pub x: &'a [f64],
    /// Values, as many as `x`.
    pub y: &'a [f64],
    /// The axis the curve belongs to.
    pub axis: YAxis,
    /// Dashed instead of solid (the convention: train solid, test dashed).
    pub dashed: bool,
    /// A dot at every point (for sparse data such as one value per epoch).
    pub markers: bool,
    /// The colour; `None` takes the palette colour of the curve's position in the list.
    pub color: Option<Rgb>,
}

impl<'a> Curve<'a> {
    /// A solid loss curve with the automatic colour.
    pub fn new(label: impl Into<String>, x: &'a [f64], y: &'a [f64]) -> Curve<'a> {
        Curve {
            label: label.into(),
            x,
            y,
            ..Curve::default()
        }
    }
}

/// Options of a 1D figure.
#[derive(Debug, Clone)]
pub struct LinesFigure {
    /// Title above the plot (empty: none).
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the left axis.
    pub loss_label: String,
    /// Label of the right axis (drawn only when some curve uses it).
    pub accuracy_label: String,
    /// Log scale for the left axis.
    pub log_loss: bool,
    /// Fixed range of the right axis; `None` fits the data (within 0..100 when the data are).
    pub accuracy_range: Option<(f64, f64)>,
    /// Size in pixels (width, height).
    pub size: (u32, u32),
}

impl Default for LinesFigure {
    fn default() -> Self {
        LinesFigure {
            title: String::new(),
            x_label: "alpha".into(),
            loss_label: "loss".into(),
            accuracy_label: "accuracy (%)".into(),
            log_loss: false,
            accuracy_range: None,
            size: (800, 600),
        }
    }
}

/// Draws curves against a loss axis and an accuracy twin axis and writes the figure to `path`
/// (`.png` or `.svg`).
///
/// Every curve must have as many `y` values as `x` values. Points with a non-finite coordinate
/// are gaps; with `log_loss`, loss values <= 0 are gaps too. Values outside a fixed
/// `accuracy_range` are clamped to its ends.
pub fn lines(path: &Path, curves: &[Curve<'_>], figure: &LinesFigure) -> Result<()> {
    for (i, c) in curves.iter().enumerate() {
        if c.x.len() != c.y.len() {
            return Err(Error::invalid(format!(
                "curve {i} ({:?}) has {} x values but {} y values",
                c.label,
                c.x.len(),
                c.y.len()
            )));
        }
    }
    if let Some((lo, hi)) = figure.accuracy_range {
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(Error::invalid(format!(
                "accuracy range {lo}..{hi} is empty or not finite"
            )));
        }
    }
    render(path, figure.size, &LinesDraw { curves, figure })
}

struct LinesDraw<'c, 'a> {
    curves: &'c [Curve<'a>],
    figure: &'c LinesFigure,
}

impl LinesDraw<'_, '_> {
    /// The drawable value of a curve point on its axis, or `None` for a gap.
    fn value(&self, c: &Curve<'_>, y: f64) -> Option<f64> {
        if !y.is_finite() {
            return None;
        }
        match c.axis {
            YAxis::Loss if self.figure.log_loss => (y > 0.0).then(|| y.log10()),
            YAxis::Loss => Some(y),
            YAxis::Accuracy => Some(match self.figure.accuracy_range {
                Some((lo, hi)) => y.clamp(lo, hi),
                None => y,
            }),
        }
    }

    /// Runs of consecutive drawable points of a curve.
    fn runs(&self, c: &Curve<'_>) -> Vec<Vec<(f64, f64)>> {
        let mut runs = Vec::new();
        let mut run = Vec::new();
        for (&x, &y) in c.x.iter().zip(c.y) {
            match (x.is_finite(), self.value(c, y)) {
                (true, Some(v)) => run.push((x, v)),
                _ => {
                    if !run.is_empty() {
                        runs.push(std::mem::take(&mut run));
                    }
                }
            }
        }
        if !run.is_empty() {
            runs.push(run);
        }
        runs
    }

    /// The abscissae (sorted, distinct) where some curve has a non-finite value: drawn as grey
    /// bands with a mark on the horizontal axis and counted in the legend, never joined.
    fn not_finite(&self) -> Vec<f64> {
        let mut xs: Vec<f64> = self
            .curves
            .iter()
            .flat_map(|c| c.x.iter().zip(c.y))
            .filter(|(x, y)| x.is_finite() && !y.is_finite())
            .map(|(x, _)| *x)
            .collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        xs
    }

    /// The bands `(from, to)` that cover the non-finite abscissae: each reaches half-way to the
    /// neighbouring abscissae of any curve (at the ends, to the end), and touching bands are
    /// merged.
    fn gap_bands(&self) -> Vec<(f64, f64)> {
        let gaps = self.not_finite();
        let mut all: Vec<f64> = self
            .curves
            .iter()
            .flat_map(|c| c.x.iter().copied())
            .filter(|x| x.is_finite())
            .collect();
        all.sort_by(f64::total_cmp);
        all.dedup();
        let mut bands: Vec<(f64, f64)> = Vec::new();
        for g in gaps {
            let i = all.partition_point(|&v| v < g);
            let lo = if i > 0 { (all[i - 1] + g) / 2.0 } else { g };
            let hi = match all.get(i + 1) {
                Some(&n) => (g + n) / 2.0,
                None => g,
            };
            match bands.last_mut() {
                Some(last) if lo <= last.1 + 1e-12 * (1.0 + lo.abs()) => last.1 = last.1.max(hi),
                _ => bands.push((lo, hi)),
            }
        }
        bands
    }

    fn color(&self, i: usize) -> Rgb {
        self.curves[i].color.unwrap_or_else(|| Rgb::palette(i))
    }

    fn axis_range(&self, axis: YAxis) -> Option<(f64, f64)> {
        let values = self
            .curves
            .iter()
            .filter(|c| c.axis == axis)
            .flat_map(|c| self.runs(c).into_iter().flatten().map(|p| p.1));
        finite_min_max(values)
    }
}

/// The band behind non-finite points and its mark on the axis.
const GAP_BAND: Rgb = Rgb(225, 225, 225);
const GAP_MARK: Rgb = Rgb(110, 110, 110);

fn pad(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    let (lo, hi) = widen(lo, hi);
    let d = (hi - lo) * frac;
    (lo - d, hi + d)
}

impl Draw for LinesDraw<'_, '_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let fig = self.figure;
        let theme = Theme::for_size(root.dim_in_pixel());
        let gaps = self.not_finite();
        let bands = self.gap_bands();
        let entries: Vec<LegendEntry> = self
            .curves
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.label.is_empty())
            .map(|(i, c)| LegendEntry {
                label: c.label.clone(),
                color: self.color(i),
                sample: Sample::Line {
                    dashed: c.dashed,
                    dot: c.markers,
                },
            })
            .collect();
        let mut entries = entries;
        if !gaps.is_empty() {
            let n = gaps.len();
            entries.push(LegendEntry {
                label: format!(
                    "{n} point{} not finite (gap)",
                    if n == 1 { "" } else { "s" }
                ),
                color: GAP_BAND,
                sample: Sample::Patch { hatched: false },
            });
        }
        let (main, strip) = split_legend(root, &entries, &theme);

        let xs = self
            .curves
            .iter()
            .flat_map(|c| self.runs(c).into_iter().flatten().map(|p| p.0))
            .chain(bands.iter().flat_map(|b| [b.0, b.1]));
        let (x_lo, x_hi) = finite_min_max(xs)
            .map(|(a, b)| widen(a, b))
            .unwrap_or((0.0, 1.0));
        let x_axis = AxisSpec::linear(x_lo, x_hi, 8);

        let loss_range = self.axis_range(YAxis::Loss);
        let y_axis = match (fig.log_loss, loss_range) {
            (true, Some((lo, hi))) => {
                let (lo, hi) = pad(lo, hi, 0.04);
                AxisSpec::log10(lo, hi)
            }
            (true, None) => AxisSpec::log10(-1.0, 1.0),
            (false, Some((lo, hi))) => {
                let (lo, hi) = pad(lo, hi, 0.05);
                AxisSpec::linear(lo, hi, 7)
            }
            (false, None) => AxisSpec::linear(0.0, 1.0, 5),
        };
        let has_acc = self.curves.iter().any(|c| c.axis == YAxis::Accuracy);
        let acc_axis = has_acc.then(|| {
            let (lo, hi) = match (fig.accuracy_range, self.axis_range(YAxis::Accuracy)) {
                (Some(r), _) => r,
                (None, Some((lo, hi))) => {
                    let (plo, phi) = pad(lo, hi, 0.05);
                    let plo = if lo >= 0.0 { plo.max(0.0) } else { plo };
                    let phi = if hi <= 100.0 { phi.min(100.0) } else { phi };
                    widen(plo, phi)
                }
                (None, None) => (0.0, 100.0),
            };
            AxisSpec::linear(lo, hi, 7)
        });
        let right_area = match &acc_axis {
            Some(a) => a.label_width(root, &theme.tick()) + theme.px(48.0),
            None => 0,
        };

        let spec = FrameSpec {
            title: &fig.title,
            x_label: &fig.x_label,
            y_label: &fig.loss_label,
            x: &x_axis,
            y: &y_axis,
            grid_lines: true,
            right_area,
        };
        // The twin axis takes the right label area, so it is set before the axes are drawn.
        let chart = build_chart(&main, &spec, &theme)?;
        let mut chart = chart.set_secondary_coord(
            x_axis.coord(),
            acc_axis.clone().unwrap_or_else(|| y_axis.clone()),
        );
        draw_axes(&mut chart, &spec, &theme)?;
        if acc_axis.is_some() {
            chart
                .configure_secondary_axes()
                .label_style(theme.tick())
                .axis_desc_style(theme.axis_label())
                .set_all_tick_mark_size(theme.px(5.0))
                .y_desc(fig.accuracy_label.as_str())
                .draw()?;
        }

        // Non-finite points: grey bands behind the curves and a dark bar on the horizontal axis.
        {
            let area = chart.plotting_area();
            let (y0, y1) = (y_axis.lo, y_axis.hi);
            for &(a, b) in &bands {
                let (a, b) = (a.max(x_axis.lo), b.min(x_axis.hi));
                area.draw(&Rectangle::new(
                    [(a, y0), (b, y1)],
                    GAP_BAND.to_plotters().filled(),
                ))?;
            }
            let plain = area.strip_coord_spec();
            let (_, h) = plain.dim_in_pixel();
            let (bx, _) = plain.get_base_pixel();
            let bar = theme.px(5.0) as i32;
            for &(a, b) in &bands {
                let (a, b) = (a.max(x_axis.lo), b.min(x_axis.hi));
                let pa = chart.backend_coord(&(a, y0)).0 - bx;
                let pb = chart.backend_coord(&(b, y0)).0 - bx;
                plain.draw(&Rectangle::new(
                    [(pa, h as i32 - bar), (pb.max(pa + 1), h as i32)],
                    GAP_MARK.to_plotters().filled(),
                ))?;
            }
        }

        let mut drawn = 0usize;
        for (i, c) in self.curves.iter().enumerate() {
            let area = match c.axis {
                YAxis::Loss => chart.plotting_area().clone(),
                YAxis::Accuracy => chart.secondary_plotting_area().clone(),
            };
            let color = self.color(i).to_plotters();
            let style = color.stroke_width(theme.line_width());
            for run in self.runs(c) {
                drawn += run.len();
                if run.len() == 1 {
                    area.draw(&Circle::new(run[0], theme.px(3.0), color.filled()))?;
                } else if c.dashed {
                    area.draw(&DashedPathElement::new(
                        run.clone(),
                        theme.px(8.0),
                        theme.px(5.0),
                        style,
                    ))?;
                } else {
                    area.draw(&PathElement::new(run.clone(), style))?;
                }
                if c.markers {
                    for p in &run {
                        area.draw(&Circle::new(*p, theme.px(3.5), color.filled()))?;
                    }
                }
            }
        }
        if drawn == 0 {
            let text = if self.curves.is_empty() {
                "no curves"
            } else {
                "no finite values"
            };
            note(&chart.plotting_area().strip_coord_spec(), text, &theme)?;
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
    fn gaps_split_curves_into_runs() {
        let x = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [1.0, f64::NAN, 2.0, 0.0, 3.0, 4.0];
        let curves = [Curve::new("c", &x, &y)];
        let linear = LinesFigure::default();
        let d = LinesDraw {
            curves: &curves,
            figure: &linear,
        };
        let runs = d.runs(&curves[0]);
        assert_eq!(
            runs,
            vec![
                vec![(0.0, 1.0)],
                vec![(2.0, 2.0), (3.0, 0.0), (4.0, 3.0), (5.0, 4.0)]
            ]
        );
        // On a log axis the zero is a gap too, and values are log10.
        let log = LinesFigure {
            log_loss: true,
            ..LinesFigure::default()
        };
        let d = LinesDraw {
            curves: &curves,
            figure: &log,
        };
        let runs = d.runs(&curves[0]);
        assert_eq!(runs.len(), 3);
        assert_eq!(runs[1], vec![(2.0, 2f64.log10())]);
        // A fixed accuracy range clamps.
        let acc = [Curve {
            axis: YAxis::Accuracy,
            ..Curve::new("a", &x, &[50.0, 120.0, -5.0, 1.0, 2.0, 3.0])
        }];
        let fixed = LinesFigure {
            accuracy_range: Some((0.0, 100.0)),
            ..LinesFigure::default()
        };
        let d = LinesDraw {
            curves: &acc,
            figure: &fixed,
        };
        assert_eq!(d.runs(&acc[0])[0][1], (1.0, 100.0));
        assert_eq!(d.runs(&acc[0])[0][2], (2.0, 0.0));
    }

    #[test]
    fn a_nan_in_the_middle_makes_two_segments_and_a_band() {
        let x = [0.0, 1.0, 2.0, 3.0, 4.0];
        let y = [1.0, 2.0, f64::NAN, 2.0, 1.0];
        let curves = [Curve::new("c", &x, &y)];
        let fig = LinesFigure::default();
        let d = LinesDraw {
            curves: &curves,
            figure: &fig,
        };
        let runs = d.runs(&curves[0]);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0], vec![(0.0, 1.0), (1.0, 2.0)]);
        assert_eq!(runs[1], vec![(3.0, 2.0), (4.0, 1.0)]);
        assert_eq!(d.not_finite(), vec![2.0]);
        assert_eq!(d.gap_bands(), vec![(1.5, 2.5)]);
        // Trailing non-finite points (an extrapolation that diverged) make one band to the end.
        let y = [1.0, 2.0, 3.0, f64::NAN, f64::INFINITY];
        let curves = [Curve::new("c", &x, &y)];
        let d = LinesDraw {
            curves: &curves,
            figure: &fig,
        };
        assert_eq!(d.not_finite(), vec![3.0, 4.0]);
        assert_eq!(d.gap_bands(), vec![(2.5, 4.0)]);
    }
}
