//! Figures for losscape from plain arrays: 1D loss/accuracy curves, contour maps, heat maps with
//! colour bars, 3D surfaces and optimization paths, written as PNG or SVG.
//!
//! This crate's one job is drawing. It takes slices and [`ndarray`] views (no tensors, no
//! libtorch) and writes one figure file per call; the output format follows the file extension
//! (`.png` or `.svg`). Drawing uses `plotters` with pure-Rust backends only and an embedded font
//! (DejaVu Sans, see `fonts/LICENSE-DejaVu.txt`), so nothing needs fontconfig or a system font.
//! PNGs are drawn at twice their size and averaged down, which smooths lines and text.
//!
//! The figure kinds, each a function with a `*Figure` options struct (public fields with
//! defaults; sizes in pixels, 800x600 by default):
//! - [`lines`]: several [`Curve`]s, loss on the left axis (log scale optional), accuracy on a right
//!   twin axis, train solid / test dashed, the legend in a strip below the plot; non-finite
//!   points are grey bands with a mark on the axis and a "k points not finite (gap)" key.
//! - [`contour`]: contour lines of a [`ValueGrid`] with labelled [`Levels`] (linear levels like the
//!   original's `arange(vmin, vmax, vlevel)`, plus decades above them), chosen from the values in
//!   view ([`Levels::resolve_for_view`]), all labels in one number format; [`contour_band`] adds
//!   dashed contours of value ± k standard errors at the same levels (surfaces with error bars).
//! - [`heatmap`]: cells or filled contour bands with a colour bar, an optional fixed range
//!   (values above it hatched, with a key; [`HeatmapFigure::eigenvalue_ratio`] is the paper's
//!   |lambda_min/lambda_max| map, 0..0.5) and an optional log scale; [`heatmap_with`] adds
//!   another grid's contour lines and marked points ([`HeatmapOverlay`]).
//! - [`surface3d`]: the grid as a smooth 3D surface (bicubic refinement, lit facets) coloured by
//!   height, cut off above its range, with a colour bar.
//! - [`html`]: the grid as an interactive 3D view in a self-contained HTML page (rotate, zoom,
//!   hover for values, log-scale toggle; its own small canvas viewer, no library, no network).
//! - [`trajectory`]: an optimization path over contour lines, a dot per checkpoint, learning-rate
//!   decays in red, axes labelled with [`explained_variance_label`].
//!
//! A [`ValueGrid`] holds `x` (nx coordinates), `y` (ny coordinates) and `z` of shape `(nx, ny)`, with
//! `z[[ix, iy]]` drawn at `(x[ix], y[iy])`: x is horizontal, y vertical, and the grid need not be
//! square; a square domain (equal x and y ranges) gets a square plot area. Non-finite values
//! (diverged points) are gaps in every kind of figure; levels and colour ranges come from the
//! finite values, and a grid without any gets an empty plot with a note, never a panic. Files are written whole (a temporary file renamed over the target).
//!
//! # Example
//!
//! ```
//! use losscape_plot::{contour, lines, ContourFigure, Curve, ValueGrid, Levels, LinesFigure, YAxis};
//! use ndarray::Array2;
//!
//! let dir = tempfile::tempdir()?;
//!
//! // A 1D interpolation: loss and accuracy against the interpolation coefficient.
//! let a: Vec<f64> = (0..=40).map(|i| -0.5 + i as f64 / 20.0).collect();
//! let loss: Vec<f64> = a.iter().map(|t| 0.1 + (t * (1.0 - t)).powi(2)).collect();
//! let acc: Vec<f64> = loss.iter().map(|l| 100.0 * (-l).exp()).collect();
//! let curves = [
//!     Curve::new("train loss", &a, &loss),
//!     Curve { axis: YAxis::Accuracy, ..Curve::new("train accuracy", &a, &acc) },
//! ];
//! let fig = LinesFigure { title: "interpolation".into(), log_loss: true, ..LinesFigure::default() };
//! lines(&dir.path().join("line.png"), &curves, &fig)?;
//!
//! // A 2D surface on a 21 x 15 grid with a diverged point.
//! let x: Vec<f64> = (0..21).map(|i| -1.0 + i as f64 / 10.0).collect();
//! let y: Vec<f64> = (0..15).map(|j| -0.7 + j as f64 / 10.0).collect();
//! let mut z = Array2::from_shape_fn((21, 15), |(i, j)| 0.1 + x[i] * x[i] + 3.0 * y[j] * y[j]);
//! z[[3, 4]] = f64::NAN;
//! let grid = ValueGrid::new(&x, &y, z.view())?;
//! let fig = ContourFigure {
//!     levels: Levels::Linear { min: 0.1, max: 3.0, step: 0.25, log_above: true },
//!     ..ContourFigure::default()
//! };
//! contour(&dir.path().join("contour.svg"), &grid, &fig)?;
//! assert!(std::fs::read_to_string(dir.path().join("contour.svg"))?.starts_with("<svg"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod band;
mod contour;
mod error;
mod frame;
mod from_surface;
mod grid;
mod heatmap;
pub mod html;
mod levels;
mod lines;
mod marching;
mod output;
mod spectrum;
mod style;
mod surface;
mod ticks;

pub use band::contour_band;
pub use contour::{
    contour, explained_variance_label, trajectory, ContourFigure, PlanePath, TrajectoryFigure,
};
pub use error::{Error, Result};
pub use from_surface::{error_band, surface_values, SurfaceValues};
pub use grid::ValueGrid;
/// The surface files the figures read (losscape-surface, no libtorch).
pub use losscape_surface;
pub use heatmap::{heatmap, heatmap_with, HeatmapFigure, HeatmapOverlay, Shading};
pub use html::{html, HtmlFigure};
pub use levels::{LevelSet, Levels};
pub use lines::{lines, Curve, LinesFigure, YAxis};
pub use output::Format;
pub use spectrum::{bars, density, Density};
pub use style::{Colormap, Rgb};
pub use surface::{surface3d, SurfaceFigure};

/// The `ndarray` version this crate takes grids from.
pub use ndarray;
