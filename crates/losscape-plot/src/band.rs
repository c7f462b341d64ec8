//! Contour lines with error bands: the labelled contours of a sampled surface's values, and at
//! the same levels thin dashed contours of `value - k SE` and `value + k SE` (from surfaces
//! evaluated with early stopping, whose points carry standard errors). Where the dashed pair of
//! a level lies far apart, that contour is uncertain; where they hug the solid line, it is not.

use std::path::Path;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use crate::contour::{contour_frame, draw_contours, level_color, ContourFigure, LOG_LEVEL_COLOR};
use crate::error::{Error, Result};
use crate::frame::{legend, note, split_legend, LegendEntry, Sample};
use crate::grid::ValueGrid;
use crate::levels::LevelSet;
use crate::marching::contour_lines;
use crate::output::{render, Draw};
use crate::style::{Rgb, Theme};

/// Draws the contours of `grid` with, at each level, dashed contours of `lower` and `upper`
/// (the values minus and plus `k` standard errors, over the same coordinates), and a key that
/// names the solid lines `value_label` (e.g. "train loss") and the dashed ones `band_label`
/// (e.g. "± 2 SE"); writes `.png` or `.svg`. Levels are those
/// [`contour`](crate::contour) would choose for `grid`.
pub fn contour_band<'a>(
    path: &Path,
    grid: &ValueGrid<'a>,
    lower: &ValueGrid<'a>,
    upper: &ValueGrid<'a>,
    (value_label, band_label): (&str, &str),
    figure: &ContourFigure,
) -> Result<()> {
    for band in [lower, upper] {
        if band.x() != grid.x() || band.y() != grid.y() {
            return Err(Error::invalid("the error band must lie on the same grid as the values"));
        }
    }
    let levels = figure.levels.resolve_for_view(&grid.finite_values(), figure.range)?;
    render(path, figure.size, &BandDraw { grid, lower, upper, value_label, band_label, figure, levels })
}

struct BandDraw<'g, 'a> {
    grid: &'g ValueGrid<'a>,
    lower: &'g ValueGrid<'a>,
    upper: &'g ValueGrid<'a>,
    value_label: &'g str,
    band_label: &'g str,
    figure: &'g ContourFigure,
    levels: LevelSet,
}

impl Draw for BandDraw<'_, '_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let fig = self.figure;
        let theme = Theme::for_size(root.dim_in_pixel());
        let entries = [
            LegendEntry { label: self.value_label.into(), color: Rgb(60, 60, 60), sample: Sample::Line { dashed: false, dot: false } },
            LegendEntry { label: self.band_label.into(), color: Rgb(60, 60, 60), sample: Sample::Line { dashed: true, dot: false } },
        ];
        let (main, strip) = split_legend(root, &entries, &theme);
        let chart = contour_frame(&main, self.grid, fig, &theme)?;
        let plot = chart.plotting_area();
        let n = self.levels.linear.len();
        let colored = self.levels.linear.iter().enumerate().map(|(i, &l)| (l, level_color(i, n)));
        let colored = colored.chain(self.levels.log.iter().map(|&l| (l, LOG_LEVEL_COLOR)));
        for (level, color) in colored {
            let style = color.to_plotters().stroke_width(theme.px(1.0));
            for band in [self.lower, self.upper] {
                for line in contour_lines(band, level) {
                    plot.draw(&DashedPathElement::new(line, theme.px(5.0), theme.px(4.0), style))?;
                }
            }
        }
        let drawn = draw_contours(&chart, self.grid, &self.levels, fig.label_levels, None, &theme)?;
        if drawn == 0 {
            note(&plot.strip_coord_spec(), "no contour line in the range of the values", &theme)?;
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
    use ndarray::Array2;

    fn bowl(shift: f64) -> (Vec<f64>, Array2<f64>) {
        let x: Vec<f64> = (0..21).map(|i| -1.0 + 0.1 * i as f64).collect();
        let z = Array2::from_shape_fn((21, 21), |(i, j)| x[i] * x[i] + x[j] * x[j] + shift);
        (x, z)
    }

    /// Segments drawn in an SVG (plotters writes each dash as its own element).
    fn elements(path: &Path) -> usize {
        let text = std::fs::read_to_string(path).unwrap();
        text.matches("<polyline").count() + text.matches("<path").count() + text.matches("<line").count()
    }

    #[test]
    fn the_band_adds_dashed_lines_at_the_same_levels_and_needs_the_same_grid() {
        let dir = tempfile::tempdir().unwrap();
        let ((x, z), (_, lo), (_, hi)) = (bowl(0.0), bowl(-0.05), bowl(0.05));
        let grid = ValueGrid::new(&x, &x, z.view()).unwrap();
        let (lower, upper) = (ValueGrid::new(&x, &x, lo.view()).unwrap(), ValueGrid::new(&x, &x, hi.view()).unwrap());
        let fig = ContourFigure::default();
        let plain = dir.path().join("plain.svg");
        crate::contour(&plain, &grid, &fig).unwrap();
        let band = dir.path().join("band.svg");
        contour_band(&band, &grid, &lower, &upper, ("loss", "± 2 SE"), &fig).unwrap();
        let text = std::fs::read_to_string(&band).unwrap();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        assert!(lines.contains(&"loss") && lines.contains(&"± 2 SE"), "the key names the solid and the dashed lines");
        assert!(elements(&band) > 2 * elements(&plain), "{} vs {}", elements(&band), elements(&plain));
        let short: Vec<f64> = x[..20].to_vec();
        let other = Array2::zeros((20, 21));
        let wrong = ValueGrid::new(&short, &x, other.view()).unwrap();
        let err = contour_band(&band, &grid, &wrong, &upper, ("a", "b"), &fig).unwrap_err();
        assert!(err.to_string().contains("same grid"), "{err}");
    }
}
