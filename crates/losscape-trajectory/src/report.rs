//! What `losscape trajectory` writes: for each of the three planes a direction file and the path
//! projected onto it (`projection-<plane>.json`, what `losscape plot --path` draws), all
//! projections in one `projection.csv`, and `trajectory.json` (the variance report, every
//! checkpoint's coordinates in each plane with its epoch and LR-decay flag, and the suggested
//! grids of the surfaces under the path). The layout is documented in docs/formats.md,
//! "Trajectories".

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use losscape_core::fsio;
use losscape_directions::{Ignore, Scope};
use serde::{Deserialize, Serialize};

use crate::analysis::{Analysis, Plane};
use crate::error::{Error, Result};
use crate::stream::StreamStats;

/// The `format` value of `trajectory.json`.
pub const FORMAT: &str = "losscape-trajectory";
/// The version of the `trajectory.json` layout.
pub const VERSION: u32 = 1;
/// File name of the report.
pub const REPORT_FILE: &str = "trajectory.json";
/// File name of the projected path in all three planes.
pub const PROJECTION_FILE: &str = "projection.csv";
/// The `format` value of the per-plane projection files.
pub const PROJECTION_FORMAT: &str = "losscape-projection";

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
    /// The PCA plane and the two baselines.
    pub planes: Planes,
    /// Every checkpoint with its coordinates in each plane (`x`, `y`: along pc1, pc2).
    pub points: Vec<PointReport>,
    /// The surface under the path along the PCA directions.
    pub surface: SurfaceSuggestion,
    /// What the streaming passes read and held.
    pub streaming: StreamStats,
}

/// The three planes of a report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Planes {
    /// The two principal directions.
    pub pca: PlaneReport,
    /// The random plane.
    pub random: PlaneReport,
    /// The init -> final direction and a random one.
    pub init_random: PlaneReport,
}

impl Planes {
    /// The planes in order: PCA, random, init -> final + random.
    pub fn all(&self) -> [&PlaneReport; 3] {
        [&self.pca, &self.random, &self.init_random]
    }
}

/// One plane in the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlaneReport {
    /// `pca`, `random` or `init_random`.
    pub name: String,
    /// How its directions were made.
    pub description: String,
    /// Share (0..1) of the total variance of the centred path lying in the plane.
    pub captured_share: f64,
    /// Its direction file, relative to the output folder.
    pub directions: String,
    /// Its projected path ([`Projection`] JSON), relative to the output folder.
    pub projection: String,
    /// `min:max:num` x axis of a surface in this plane covering the projected path.
    pub suggested_x: String,
    /// `min:max:num` y axis.
    pub suggested_y: String,
    /// Axis label of the plane's first direction.
    pub x_label: String,
    /// Axis label of the plane's second direction.
    pub y_label: String,
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
    pub random: [f64; 2],
    /// `[a, b]` in the init -> final + random plane.
    pub init_random: [f64; 2],
}

/// A path projected onto one plane (`projection-<plane>.json`): what `losscape plot --path` draws
/// over the contours of a surface computed in that plane.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Projection {
    /// Always [`PROJECTION_FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// The plane's name.
    pub plane: String,
    /// Its direction file, relative to this file's folder.
    pub directions: String,
    /// Axis label of the first direction.
    pub x_label: String,
    /// Axis label of the second direction.
    pub y_label: String,
    /// The checkpoints in epoch order.
    pub points: Vec<ProjectedPoint>,
}

/// One checkpoint of a [`Projection`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectedPoint {
    /// Epoch (0 = initialization).
    pub epoch: u64,
    /// Whether the learning rate was decayed after this epoch.
    pub lr_decay: bool,
    /// Coordinate along the plane's first direction.
    pub x: f64,
    /// Coordinate along the second direction.
    pub y: f64,
}

/// The suggested surface under the projected path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SurfaceSuggestion {
    /// The base checkpoint (the final model), or the model file a state dict is loaded into.
    pub checkpoint: String,
    /// The state dict loaded into `checkpoint` to make the final model, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<String>,
    /// The PCA direction file.
    pub direction_file: String,
    /// `min:max:num` of the x axis (pc1).
    pub x: String,
    /// `min:max:num` of the y axis (pc2).
    pub y: String,
    /// Where the suggested surface file goes (`pca.surface` beside the report).
    #[serde(default)]
    pub out: String,
    /// The same as a command line of the program that wrote the report, if it gave one (see
    /// [`save_with_command`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub command: String,
}

/// The files [`save`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Written {
    /// `trajectory.json`.
    pub report: PathBuf,
    /// `projection.csv`.
    pub projection: PathBuf,
    /// The direction files, one per plane (PCA, random, init -> final + random).
    pub directions: Vec<PathBuf>,
    /// The projection JSON files, one per plane, in the same order.
    pub projections: Vec<PathBuf>,
}

/// The direction file name of a plane: `pca.safetensors`, `random.safetensors`,
/// `init-random.safetensors`.
pub fn direction_file_name(plane: &str) -> String {
    format!("{}.safetensors", plane.replace('_', "-"))
}

/// The projection file name of a plane: `projection-pca.json`, ...
pub fn projection_file_name(plane: &str) -> String {
    format!("projection-{}.json", plane.replace('_', "-"))
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

/// Axis labels of a plane.
fn labels(analysis: &Analysis, plane: &Plane) -> (String, String) {
    match plane.name.as_str() {
        "pca" => (
            format!("1st PC: {:.2} %", 100.0 * analysis.explained_variance_ratio[0]),
            format!("2nd PC: {:.2} %", 100.0 * analysis.explained_variance_ratio[1]),
        ),
        "init_random" => ("init -> final direction".into(), "random direction".into()),
        _ => ("random direction 1".into(), "random direction 2".into()),
    }
}

fn plane_report(analysis: &Analysis, plane: &Plane, grid_points: usize) -> PlaneReport {
    let xs: Vec<f64> = plane.coords.iter().map(|c| c[0]).collect();
    let ys: Vec<f64> = plane.coords.iter().map(|c| c[1]).collect();
    let (x_label, y_label) = labels(analysis, plane);
    PlaneReport {
        name: plane.name.clone(),
        description: plane.description.clone(),
        captured_share: plane.captured_share,
        directions: direction_file_name(&plane.name),
        projection: projection_file_name(&plane.name),
        suggested_x: suggest_axis(&xs, grid_points),
        suggested_y: suggest_axis(&ys, grid_points),
        x_label,
        y_label,
    }
}

/// The projection file of one plane of `analysis`.
pub fn projection(analysis: &Analysis, plane: &Plane) -> Projection {
    let (x_label, y_label) = labels(analysis, plane);
    let points = analysis
        .trajectory
        .points()
        .iter()
        .zip(&plane.coords)
        .map(|(p, c)| ProjectedPoint { epoch: p.epoch, lr_decay: p.lr_decay, x: c[0], y: c[1] })
        .collect();
    Projection {
        format: PROJECTION_FORMAT.into(),
        version: VERSION,
        plane: plane.name.clone(),
        directions: direction_file_name(&plane.name),
        x_label,
        y_label,
        points,
    }
}

/// Builds the report of `analysis` whose files live in `out` (not written).
pub fn report(analysis: &Analysis, out: &Path, grid_points: usize) -> Report {
    let t = &analysis.trajectory;
    let planes = Planes {
        pca: plane_report(analysis, &analysis.pca, grid_points),
        random: plane_report(analysis, &analysis.random, grid_points),
        init_random: plane_report(analysis, &analysis.init_random, grid_points),
    };
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
            random: analysis.random.coords[i],
            init_random: analysis.init_random.coords[i],
        })
        .collect();
    let (x, y) = (planes.pca.suggested_x.clone(), planes.pca.suggested_y.clone());
    let checkpoint = t.final_point().file.display().to_string();
    let direction_file = out.join(&planes.pca.directions).display().to_string();
    let (model, weights) = match &analysis.final_model {
        Some(m) => (m.checkpoint.display().to_string(), m.weights.as_ref().map(|w| w.display().to_string())),
        None => (checkpoint.clone(), None),
    };
    let surface = SurfaceSuggestion {
        checkpoint: model,
        weights,
        direction_file,
        x,
        y,
        out: out.join("pca.surface").display().to_string(),
        command: String::new(),
    };
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
        x_label: planes.pca.x_label.clone(),
        y_label: planes.pca.y_label.clone(),
        planes,
        points,
        surface,
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
            p.random[0],
            p.random[1],
            p.init_random[0],
            p.init_random[1]
        );
    }
    text
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut json = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Invalid(format!("cannot encode {}: {e}", path.display())))?;
    json.push('\n');
    fsio::write_atomic(path, json.as_bytes())?;
    Ok(())
}

/// Writes the three direction files, their projection files, `projection.csv` and
/// `trajectory.json` (last) into `out` (created if needed; every file written whole or not at
/// all) and returns the report. `grid_points` is the number of points per axis of the suggested
/// surfaces.
pub fn save(analysis: &Analysis, out: &Path, grid_points: usize) -> Result<(Report, Written)> {
    save_with_command(analysis, out, grid_points, &|_| String::new())
}

/// [`save`], with the suggested surface also stored as a command line of the calling program:
/// `command` turns the suggestion into it (the `losscape` binary writes its `losscape surface
/// ...` line), and the report records it in `surface.command`.
pub fn save_with_command(
    analysis: &Analysis,
    out: &Path,
    grid_points: usize,
    command: &dyn Fn(&SurfaceSuggestion) -> String,
) -> Result<(Report, Written)> {
    if grid_points == 0 {
        return Err(Error::Invalid("the suggested grid needs at least one point per axis".into()));
    }
    fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut directions = Vec::new();
    let mut projections = Vec::new();
    for plane in analysis.planes() {
        let path = out.join(direction_file_name(&plane.name));
        plane.directions.save(&path)?;
        directions.push(path);
        let path = out.join(projection_file_name(&plane.name));
        write_json(&path, &projection(analysis, plane))?;
        projections.push(path);
    }
    let mut report = report(analysis, out, grid_points);
    report.surface.command = command(&report.surface);
    let csv = out.join(PROJECTION_FILE);
    fsio::write_atomic(&csv, projection_csv(&report).as_bytes())?;
    let report_path = out.join(REPORT_FILE);
    write_json(&report_path, &report)?;
    Ok((report, Written { report: report_path, projection: csv, directions, projections }))
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
