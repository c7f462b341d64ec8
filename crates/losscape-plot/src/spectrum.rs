//! Hessian spectra: spectral densities on a log scale (one curve per density, drawn by
//! [`lines`](crate::lines())) and a per-layer bar chart (one bar per parameter tensor, log scale).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::frame::{build_chart, draw_axes, note, AxisSpec, FrameSpec};
use crate::lines::{lines, Curve, LinesFigure};
use crate::output::{render, Draw};
use crate::style::{Rgb, Theme};

/// One spectral density: `density[i]` at `grid[i]`.
#[derive(Debug, Clone)]
pub struct Density<'a> {
    /// Legend text.
    pub label: String,
    /// Eigenvalue grid.
    pub grid: &'a [f64],
    /// Density values.
    pub density: &'a [f64],
}

/// Draws densities on a log scale (as PyHessian's density plots do). Values below `floor` times
/// the largest density are raised to that floor, so the Gaussian tails do not stretch the axis
/// over hundreds of decades; `floor` must lie in (0, 1).
pub fn density(path: &Path, densities: &[Density<'_>], title: &str, floor: f64) -> Result<()> {
    if !(floor > 0.0 && floor < 1.0) {
        return Err(Error::invalid(format!(
            "the density floor must lie between 0 and 1, got {floor}"
        )));
    }
    let peak = densities
        .iter()
        .flat_map(|d| d.density.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    if peak <= 0.0 {
        return Err(Error::invalid("the densities hold no positive value"));
    }
    let raised: Vec<Vec<f64>> = densities
        .iter()
        .map(|d| {
            d.density
                .iter()
                .map(|v| {
                    if v.is_finite() {
                        v.max(floor * peak)
                    } else {
                        *v
                    }
                })
                .collect()
        })
        .collect();
    let curves: Vec<Curve<'_>> = densities
        .iter()
        .zip(&raised)
        .map(|(d, y)| Curve::new(d.label.clone(), d.grid, y))
        .collect();
    let figure = LinesFigure {
        title: title.to_owned(),
        x_label: "eigenvalue".into(),
        loss_label: "density (log scale)".into(),
        log_loss: true,
        ..LinesFigure::default()
    };
    lines(path, &curves, &figure)
}

/// Draws one bar per label (`values[i]` for `labels[i]`) on a log scale, labels under the bars
/// turned vertical; values <= 0 or not finite get no bar and a mark under the axis. For
/// per-layer `lambda_max` or traces.
pub fn bars(
    path: &Path,
    labels: &[String],
    values: &[f64],
    title: &str,
    y_label: &str,
) -> Result<()> {
    if labels.len() != values.len() || labels.is_empty() {
        return Err(Error::invalid(format!(
            "a bar chart needs as many values as labels (at least one), got {} and {}",
            values.len(),
            labels.len()
        )));
    }
    let height = 600 + 7 * labels.iter().map(|l| l.len()).max().unwrap_or(0) as u32;
    let width = (160 + 28 * labels.len() as u32).max(800);
    render(
        path,
        (width, height),
        &Bars {
            labels,
            values,
            title,
            y_label,
        },
    )
}

struct Bars<'a> {
    labels: &'a [String],
    values: &'a [f64],
    title: &'a str,
    y_label: &'a str,
}

const BAR: Rgb = Rgb(55, 110, 180);

impl Draw for Bars<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let theme = Theme::for_size(root.dim_in_pixel());
        let logs: Vec<Option<f64>> = self
            .values
            .iter()
            .map(|v| (v.is_finite() && *v > 0.0).then(|| v.log10()))
            .collect();
        let (lo, hi) = logs
            .iter()
            .flatten()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(*v), b.max(*v))
            });
        let (lo, hi) = if lo.is_finite() {
            (lo.floor() - 0.2, hi.ceil() + 0.2)
        } else {
            (-1.0, 1.0)
        };
        let n = self.labels.len() as f64;
        // Room under the plot for the vertical tensor names.
        let longest = self.labels.iter().map(|l| l.len()).max().unwrap_or(0) as f64;
        let (w, h) = root.dim_in_pixel();
        let names_px = (longest * theme.px(7.0) as f64) as u32;
        let (main, below) = root.split_vertically(h.saturating_sub(names_px.min(h / 2)));
        let x_axis = AxisSpec::linear(-0.5, n - 0.5, 1);
        let x_axis = AxisSpec {
            ticks: Vec::new(),
            minor: Vec::new(),
            ..x_axis
        };
        let y_axis = AxisSpec::log10(lo, hi);
        let spec = FrameSpec {
            title: self.title,
            x_label: "",
            y_label: self.y_label,
            x: &x_axis,
            y: &y_axis,
            grid_lines: true,
            right_area: 0,
        };
        let mut chart = build_chart(&main, &spec, &theme)?;
        draw_axes(&mut chart, &spec, &theme)?;
        let area = chart.plotting_area();
        for (i, v) in logs.iter().enumerate() {
            if let Some(v) = v {
                let x = i as f64;
                area.draw(&Rectangle::new(
                    [(x - 0.35, lo), (x + 0.35, *v)],
                    BAR.to_plotters().filled(),
                ))?;
            }
        }
        if logs.iter().all(Option::is_none) {
            note(&area.strip_coord_spec(), "no positive values", &theme)?;
        }
        // Tensor names, vertical, under each bar.
        let style = theme.small().transform(FontTransform::Rotate90);
        let (bx, _) = below.get_base_pixel();
        for (i, label) in self.labels.iter().enumerate() {
            let (px, _) = chart.backend_coord(&(i as f64, lo));
            let mark = if logs[i].is_none() { " (<= 0)" } else { "" };
            below.draw(&Text::new(
                format!("{label}{mark}"),
                (px - bx + theme.px(4.0) as i32, theme.px(4.0) as i32),
                style.clone(),
            ))?;
        }
        let _ = w;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn densities_and_bars_draw_and_refuse_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let grid: Vec<f64> = (0..200).map(|i| -1.0 + 0.05 * i as f64).collect();
        let dens: Vec<f64> = grid.iter().map(|x| (-x * x * 4.0).exp() + 1e-30).collect();
        let d = [Density {
            label: "a".into(),
            grid: &grid,
            density: &dens,
        }];
        let svg = dir.path().join("d.svg");
        density(&svg, &d, "t", 1e-6).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.contains("eigenvalue") && text.contains("density (log scale)"));
        assert!(density(&svg, &d, "t", 0.0).is_err());
        let zeros = vec![0.0; grid.len()];
        let z = [Density {
            label: "z".into(),
            grid: &grid,
            density: &zeros,
        }];
        assert!(density(&svg, &z, "t", 1e-6).is_err());

        let labels: Vec<String> = ["conv1.weight", "fc.weight", "flat"]
            .map(String::from)
            .to_vec();
        let bars_svg = dir.path().join("b.svg");
        bars(&bars_svg, &labels, &[1e-3, 20.0, 0.0], "t", "lambda_max").unwrap();
        let text = std::fs::read_to_string(&bars_svg).unwrap();
        assert!(
            text.contains("fc.weight")
                && (text.contains("flat (&lt;= 0)") || text.contains("flat (<= 0)")),
            "{}",
            &text[..200]
        );
        assert!(bars(&bars_svg, &labels, &[1.0], "t", "y").is_err());
    }
}
