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

fn pad(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    let (lo, hi) = widen(lo, hi);
    let d = (hi - lo) * frac;
    (lo - d, hi + d)
}

impl Draw for LinesDraw<'_, '_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let fig = self.figure;
        let theme = Theme::for_size(root.dim_in_pixel());
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
        let (main, strip) = split_legend(root, &entries, &theme);

        let xs = self
            .curves
            .iter()
            .flat_map(|c| self.runs(c).into_iter().flatten().map(|p| p.0));
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
}
