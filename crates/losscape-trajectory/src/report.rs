//! What `losscape trajectory` writes: the three direction files, the projected path as CSV, and
//! `trajectory.json` (the variance report, every checkpoint's coordinates in each plane with its
//! epoch and LR-decay flag, and the suggested grid for the surface under the path). The layout is
//! documented in docs/formats.md, "Trajectories".

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use losscape_core::fsio;
use losscape_directions::{Ignore, Scope};
use serde::{Deserialize, Serialize};

use crate::analysis::Analysis;
use crate::error::{Error, Result};
use crate::stream::StreamStats;

/// The `format` value of `trajectory.json`.
pub const FORMAT: &str = "losscape-trajectory";
/// The version of the `trajectory.json` layout.
pub const VERSION: u32 = 1;
/// File name of the report.
pub const REPORT_FILE: &str = "trajectory.json";
/// File name of the projected path.
pub const PROJECTION_FILE: &str = "projection.csv";

/// Fraction of the projected path's extent added on each side of the suggested surface grid.
pub const MARGIN: f64 = 0.2;

/// `trajectory.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// The run folder, if the path came from one.
    pub run: Option<String>,
    /// Whether the run had finished (else its last checkpoint plays the final model).
    pub run_finished: bool,
    /// The final model's spec.
    pub model_spec: String,
    /// The final checkpoint (the origin of every plane).
    pub final_checkpoint: String,
    /// SHA-256 of the final checkpoint file.
    pub final_checkpoint_hash: String,
    /// `weights` or `states`.
    pub scope: Scope,
    /// `biasbn` or `none`.
    pub ignore: Ignore,
    /// Seed of the random baselines.
    pub seed: u64,
    /// Entries of one row (elements of the analysed tensors).
    pub parameters: usize,
    /// Explained-variance ratio of every principal component, descending.
    pub explained_variance_ratio: Vec<f64>,
    /// Sample variance along every component.
    pub explained_variance: Vec<f64>,
    /// Sum of the first two ratios.
    pub first_two_share: f64,
    /// Total sum of squares of the centred rows.
    pub total_sum_of_squares: f64,
    /// Axis label of pc1 with its explained variance, as the paper's plots (`1st PC: 85.52 %`).
    pub x_label: String,
    /// Axis label of pc2 (`2nd PC: 10.67 %`).
    pub y_label: String,
    /// The PCA plane and the baselines, in that order.
    pub planes: Vec<PlaneReport>,
    /// Every checkpoint with its coordinates in each plane.
    pub points: Vec<PointReport>,
    /// The grid to compute the loss surface under the path on.
    pub surface: SurfaceSuggestion,
    /// What the streaming passes read and held.
    pub streaming: StreamStats,
}

/// One plane in the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlaneReport {
    /// `pca`, `random_plane` or `init_final_random`.
    pub name: String,
    /// Its direction file, relative to the output folder.
    pub file: String,
    /// How its directions were made.
    pub description: String,
    /// Share (0..1) of the total variance of the centred path lying in the plane.
    pub captured_share: f64,
}

/// One checkpoint in the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointReport {
    /// Epoch (0 = initialization).
    pub epoch: u64,
    /// The checkpoint file.
    pub file: String,
    /// Whether the learning rate was decayed after this epoch.
    pub lr_decay: bool,
    /// Coordinate along pc1, `<theta - theta_final, pc1>`.
    pub x: f64,
    /// Coordinate along pc2.
    pub y: f64,
    /// `[a, b]` in the random plane.
    pub random_plane: [f64; 2],
    /// `[a, b]` in the init -> final + random plane.
    pub init_final_random: [f64; 2],
}

/// The suggested surface under the projected path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SurfaceSuggestion {
    /// The base checkpoint (the final model).
    pub checkpoint: String,
    /// The PCA direction file.
    pub direction_file: String,
    /// `min:max:num` of the x axis (pc1).
    pub x: String,
    /// `min:max:num` of the y axis (pc2).
    pub y: String,
    /// The whole `losscape surface` command line.
    pub command: String,
}

/// The files [`save`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Written {
    /// `trajectory.json`.
    pub report: PathBuf,
    /// `projection.csv`.
    pub projection: PathBuf,
    /// The direction files, one per plane (PCA first).
    pub directions: Vec<PathBuf>,
}

/// The direction file name of a plane.
pub fn direction_file_name(plane: &str) -> String {
    format!("{}.safetensors", plane.replace('_', "-"))
}

/// A `min:max:num` axis covering `values` and 0 with a margin of [`MARGIN`] of their extent on
/// each side, with ends rounded outwards to two significant digits of the extent.
pub fn suggest_axis(values: &[f64], num: usize) -> String {
    let lo = values.iter().copied().fold(0.0f64, f64::min);
    let hi = values.iter().copied().fold(0.0f64, f64::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let step = 10f64.powf(span.log10().floor() - 1.0);
    // The 1e-9 keeps an end that is a whole number of steps (up to rounding) where it is.
    let min = ((lo - MARGIN * span) / step + 1e-9).floor() * step;
    let max = ((hi + MARGIN * span) / step - 1e-9).ceil() * step;
    let digits = (-step.log10().floor()).max(0.0) as usize;
    format!("{min:.digits$}:{max:.digits$}:{num}")
}

/// Builds the report of `analysis` whose files live in `out` (not written).
pub fn report(analysis: &Analysis, out: &Path, grid_points: usize) -> Report {
    let t = &analysis.trajectory;
    let planes = analysis
        .planes()
        .iter()
        .map(|p| PlaneReport {
            name: p.name.clone(),
            file: direction_file_name(&p.name),
            description: p.description.clone(),
            captured_share: p.captured_share,
        })
        .collect();
    let points: Vec<PointReport> = t
        .points()
        .iter()
        .enumerate()
        .map(|(i, p)| PointReport {
            epoch: p.epoch,
            file: p.file.display().to_string(),
            lr_decay: p.lr_decay,
            x: analysis.pca.coords[i][0],
            y: analysis.pca.coords[i][1],
            random_plane: analysis.random_plane.coords[i],
            init_final_random: analysis.init_final_random.coords[i],
        })
        .collect();
    let xs: Vec<f64> = analysis.pca.coords.iter().map(|c| c[0]).collect();
    let ys: Vec<f64> = analysis.pca.coords.iter().map(|c| c[1]).collect();
    let (x, y) = (suggest_axis(&xs, grid_points), suggest_axis(&ys, grid_points));
    let checkpoint = t.final_point().file.display().to_string();
    let direction_file = out.join(direction_file_name(&analysis.pca.name)).display().to_string();
    let command = format!(
        "losscape surface --checkpoint {checkpoint} --direction-file {direction_file} --x {x} --y {y} --out {}",
        out.join("pca-surface.bin").display()
    );
    Report {
        format: FORMAT.into(),
        version: VERSION,
        run: t.run().map(|r| r.display().to_string()),
        run_finished: t.finished(),
        model_spec: analysis.model_spec.clone(),
        final_checkpoint: checkpoint.clone(),
        final_checkpoint_hash: analysis.final_checkpoint_hash.clone(),
        scope: analysis.options.scope,
        ignore: analysis.options.ignore,
        seed: analysis.options.seed,
        parameters: analysis.parameters,
        explained_variance_ratio: analysis.explained_variance_ratio.clone(),
        explained_variance: analysis.explained_variance.clone(),
        first_two_share: analysis.first_two_share(),
        total_sum_of_squares: analysis.total_sum_of_squares,
        x_label: format!("1st PC: {:.2} %", 100.0 * analysis.explained_variance_ratio[0]),
        y_label: format!("2nd PC: {:.2} %", 100.0 * analysis.explained_variance_ratio[1]),
        planes,
        points,
        surface: SurfaceSuggestion { checkpoint, direction_file, x, y, command },
        streaming: analysis.stats,
    }
}

/// The projected path as CSV: `epoch,lr_decay,pca_x,pca_y,random_a,random_b,init_a,init_b`.
pub fn projection_csv(report: &Report) -> String {
    let mut text = String::from("epoch,lr_decay,pca_x,pca_y,random_a,random_b,init_a,init_b\n");
    for p in &report.points {
        let _ = writeln!(
            text,
            "{},{},{:e},{:e},{:e},{:e},{:e},{:e}",
            p.epoch,
            u8::from(p.lr_decay),
            p.x,
            p.y,
            p.random_plane[0],
            p.random_plane[1],
            p.init_final_random[0],
            p.init_final_random[1]
        );
    }
    text
}

/// Writes the three direction files, `projection.csv` and `trajectory.json` into `out` (created
/// if needed; every file written whole or not at all) and returns the report. `grid_points` is
/// the number of points per axis of the suggested surface.
pub fn save(analysis: &Analysis, out: &Path, grid_points: usize) -> Result<(Report, Written)> {
    if grid_points == 0 {
        return Err(Error::Invalid("the suggested grid needs at least one point per axis".into()));
    }
    fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut directions = Vec::new();
    for plane in analysis.planes() {
        let path = out.join(direction_file_name(&plane.name));
        plane.directions.save(&path)?;
        directions.push(path);
    }
    let report = report(analysis, out, grid_points);
    let projection = out.join(PROJECTION_FILE);
    fsio::write_atomic(&projection, projection_csv(&report).as_bytes())?;
    let mut json = serde_json::to_string_pretty(&report)
        .map_err(|e| Error::Invalid(format!("cannot encode the trajectory report: {e}")))?;
    json.push('\n');
    let report_path = out.join(REPORT_FILE);
    fsio::write_atomic(&report_path, json.as_bytes())?;
    Ok((report, Written { report: report_path, projection, directions }))
}

/// Reads a `trajectory.json`.
pub fn load_report(path: &Path) -> Result<Report> {
    let bytes = fsio::read(path)?;
    let report: Report =
        serde_json::from_slice(&bytes).map_err(|e| Error::format(path, format!("not a trajectory report: {e}")))?;
    if report.format != FORMAT || report.version != VERSION {
        return Err(Error::format(
            path,
            format!("is '{}' version {}, not {FORMAT} version {VERSION}", report.format, report.version),
        ));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggested_axes_cover_the_path_and_the_origin_with_a_margin() {
        let axis = suggest_axis(&[0.0, 3.2, 12.5, 41.7], 51);
        let parts: Vec<f64> = axis.split(':').map(|p| p.parse().unwrap()).collect();
        assert!(parts[0] < 0.0 && parts[0] >= -0.2 * 41.7 - 1.0, "{axis}");
        assert!(parts[1] >= 41.7 * 1.2 && parts[1] <= 41.7 * 1.2 + 1.0, "{axis}");
        assert_eq!(parts[2], 51.0);
        let axis = suggest_axis(&[-0.0123, 0.0031], 21);
        let parts: Vec<f64> = axis.split(':').map(|p| p.parse().unwrap()).collect();
        assert!(parts[0] <= -0.0123 - 0.2 * 0.0154 + 1e-12 && parts[1] >= 0.0031 + 0.2 * 0.0154 - 1e-12, "{axis}");
        assert!(axis.len() < 24, "ends are rounded: {axis}");
        // A path that does not move along an axis still gets a usable range.
        assert_eq!(suggest_axis(&[0.0, 0.0], 3), "-0.2:0.2:3");
    }
}
