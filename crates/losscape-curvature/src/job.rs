//! The Hessian map as a grid request: the same [`GridRequest`] as a loss surface (model source,
//! directions, data, device, shard), with Lanczos eigenvalue metrics over a training subset
//! instead of loss and accuracy, optionally over the grid of an existing loss surface (whose
//! model and directions it must share, checked by hash).

use std::path::{Path, PathBuf};

use losscape_core::{Precision, Progress};
use losscape_data::{DataSource, Dataset};
use losscape_directions::Direction;
use losscape_landscape::job::{load_data, prepare_splits, GridRequest};
use losscape_landscape::run::{run_grid, GridJob, RunReport};
use losscape_landscape::{Grid, Surface, SurfaceHeader};
use losscape_models::{CheckpointMeta, Model, ModelSource};
use tch::Device;

use crate::error::{Error, Result};
use crate::hvp::HvpOptions;
use crate::lanczos::LanczosOptions;
use crate::map::EigenMetrics;

/// The grid of a Hessian map.
#[derive(Clone, Debug)]
pub enum MapGrid {
    /// These axes.
    Axes(Grid),
    /// The grid of the loss surface in this file; the map must be over the same model and
    /// directions (checked by hash), so it lies exactly under the surface.
    Under(PathBuf),
}

/// A Hessian eigenvalue map: Lanczos at every point of the grid.
#[derive(Clone, Debug)]
pub struct HessianMapRequest {
    pub job: GridRequest,
    pub grid: MapGrid,
    /// Examples the loss is averaged over (see [`training_subset`]).
    pub samples: usize,
    pub hvp: HvpOptions,
    pub lanczos: LanczosOptions,
    /// Precision of the products (default: the checkpoint's).
    pub precision: Option<Precision>,
}

/// A Hessian map ready to run.
pub struct PreparedMap {
    pub model: Box<dyn Model>,
    pub meta: CheckpointMeta,
    pub directions: Vec<Direction>,
    /// The training subset, on the device in the model's kind.
    pub data: Dataset,
    pub hvp: HvpOptions,
    pub lanczos: LanczosOptions,
    pub header: SurfaceHeader,
    job: GridJobSettings,
    /// Things to tell the user (e.g. a direction file made for another model).
    pub notes: Vec<String>,
}

struct GridJobSettings {
    shard: losscape_landscape::Shard,
    save_interval: std::time::Duration,
}

/// The first `ceil(samples / classes)` examples of each class of the training split, normalized
/// as the checkpoint's training did, on `device` in `kind`; and a description of the subset.
pub fn training_subset(
    data: Option<&DataSource>,
    meta: &CheckpointMeta,
    samples: usize,
    kind: tch::Kind,
    device: Device,
) -> Result<(Dataset, String)> {
    if samples == 0 {
        return Err(Error::Invalid("the loss must be averaged over at least 1 sample".into()));
    }
    let (source, splits) = load_data(data, meta)?;
    let per_class = samples.div_ceil(meta.num_classes.max(1) as usize);
    let (train, _) = prepare_splits(&splits, meta, Some(per_class), kind, device)?;
    let name = if train.labels.is_floating_point() {
        format!("{source} train, first {} examples (regression targets)", train.len())
    } else {
        format!("{source} train, first {per_class} per class ({} examples)", train.len())
    };
    Ok((train, name))
}

/// Refuses bf16 for curvature: Hessian-vector products by double backward in bf16 carry about
/// 3 significant digits, which Lanczos (which needs orthogonal vectors to many more digits) and
/// the small curvatures near a minimum (differences of large gradient terms) do not survive.
/// bf16 is for loss surfaces only.
pub fn check_precision(precision: Option<Precision>) -> Result<()> {
    match precision {
        Some(p) if p == Precision::Bf16 => Err(Error::Invalid(
            "Hessian-vector products are computed in f32 or f64: bf16 keeps about 3 significant digits, too few for Lanczos and for the small curvatures near a minimum (bf16 is for loss surfaces)".into(),
        )),
        _ => Ok(()),
    }
}

/// The model of a single-point Hessian job and its training subset (see [`training_subset`]);
/// bf16 is refused ([`check_precision`]).
pub fn load_model_and_subset(
    model: &ModelSource,
    device: Device,
    precision: Option<Precision>,
    data: Option<&DataSource>,
    samples: usize,
) -> Result<(Box<dyn Model>, CheckpointMeta, Dataset, String)> {
    check_precision(precision)?;
    let (m, meta) = model.load(device, precision)?;
    let (subset, name) = training_subset(data, &meta, samples, m.kind(), device)?;
    Ok((m, meta, subset, name))
}

impl HessianMapRequest {
    /// Loads the model and its training subset, checks the Lanczos options, resolves the grid
    /// and the directions (refusing a base surface made from another model or over other
    /// directions), and fills the header.
    pub fn prepare(&self) -> Result<PreparedMap> {
        let job = &self.job;
        let (model, meta, data, data_name) =
            load_model_and_subset(&job.model, job.device, self.precision, job.data.as_ref(), self.samples)?;
        self.lanczos.check()?;
        // The model's identity as a loss surface records it (checkpoint and state dict).
        let checkpoint_hash = job.model.identity_hash()?;
        let base = match &self.grid {
            MapGrid::Under(path) => Some((
                path,
                Surface::load(path).map_err(|e| losscape_landscape::Error::from(e).context(format!("reading surface {}", path.display())))?,
            )),
            MapGrid::Axes(_) => None,
        };
        let grid = match (&self.grid, &base) {
            (MapGrid::Axes(g), _) => g.clone(),
            (MapGrid::Under(_), Some((_, s))) => s.grid().clone(),
            (MapGrid::Under(_), None) => unreachable!("the base surface is loaded above"),
        };
        let dims = if grid.is_2d() { 2 } else { 1 };
        let resolved = job.directions.resolve(model.as_ref(), &meta, &job.model, &checkpoint_hash, dims, "map")?;
        if let Some((path, s)) = &base {
            check_base(path, s.header(), &job.model.checkpoint, &checkpoint_hash, &resolved.hash)?;
        }
        let metrics = EigenMetrics::new(&data, self.hvp, self.lanczos);
        let mut header = metrics.header(grid, Precision::from_kind(model.kind()));
        job.fill_header(&mut header, checkpoint_hash, &resolved);
        header.data = data_name;
        let lanczos = metrics.lanczos;
        Ok(PreparedMap {
            model,
            meta,
            directions: resolved.directions,
            data,
            hvp: self.hvp,
            lanczos,
            header,
            job: GridJobSettings { shard: job.shard, save_interval: job.save_interval },
            notes: resolved.notes,
        })
    }
}

/// Refuses a base surface made from another model or over other directions.
fn check_base(path: &Path, h: &SurfaceHeader, checkpoint: &Path, checkpoint_hash: &str, directions_hash: &str) -> Result<()> {
    if h.checkpoint_hash != checkpoint_hash {
        return Err(Error::Invalid(format!(
            "{} was made from another checkpoint (hash {}), not {}",
            path.display(),
            h.checkpoint_hash,
            checkpoint.display()
        )));
    }
    if h.directions_hash != directions_hash {
        return Err(Error::Invalid(format!(
            "{} was made over other directions (hash {}, these are {directions_hash}): use the same direction file or \
             random-direction settings as the surface",
            path.display(),
            h.directions_hash
        )));
    }
    Ok(())
}

impl PreparedMap {
    /// The grid job (model, directions, shard, save interval) for a dispatcher.
    pub fn job(&self) -> GridJob<'_> {
        GridJob {
            model: self.model.as_ref(),
            directions: &self.directions,
            shard: self.job.shard,
            save_interval: self.job.save_interval,
        }
    }

    /// The eigenvalue metrics over the prepared subset.
    pub fn metrics(&self) -> EigenMetrics<'_> {
        EigenMetrics::new(&self.data, self.hvp, self.lanczos)
    }

    /// Computes the pending points of the shard into the map file at `path` in this process.
    pub fn run(&self, path: &Path, progress: &dyn Progress) -> Result<RunReport> {
        Ok(run_grid(&self.job(), &mut self.metrics(), path, self.header.clone(), progress)?)
    }

    /// The Hessian-vector products spent by the run `run_id` over the map in `path` (the map
    /// records them per point, wherever the points were computed).
    pub fn products_of_run(path: &Path, run_id: u32) -> Result<u64> {
        let written = Surface::load(path).map_err(losscape_landscape::Error::from)?;
        let hvps: f64 = written
            .array("hvps")
            .unwrap_or_default()
            .iter()
            .zip(written.computed_by())
            .filter(|&(_, &run)| run == run_id)
            .map(|(&n, _)| n)
            .sum();
        Ok(hvps as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curvature_refuses_bf16_and_takes_the_model_precisions() {
        let err = check_precision(Some(Precision::Bf16)).unwrap_err().to_string();
        assert!(err.contains("f32 or f64") && err.contains("Lanczos"), "{err}");
        for p in [None, Some(Precision::F32), Some(Precision::F64)] {
            assert!(check_precision(p).is_ok());
        }
        // Before anything is loaded: the checkpoint need not exist.
        let source = ModelSource::new(std::path::Path::new("/nonexistent.safetensors"));
        let err = load_model_and_subset(&source, Device::Cpu, Some(Precision::Bf16), None, 10).err().unwrap().to_string();
        assert!(err.contains("Lanczos"), "{err}");
    }
}
