//! An optimization path: the checkpoints of a training run in epoch order, with the epochs after
//! which the learning rate was decayed, read from a run folder (`run.json`, see docs/formats.md,
//! "Run folders") or given as files.

use std::path::{Path, PathBuf};

use losscape_models::{checkpoint, CheckpointMeta, Model};
use losscape_train::{RunFolder, RunStatus};
use serde::{Deserialize, Serialize};
use tch::Device;

use crate::error::{Error, Result};

/// One saved point of an optimization path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathPoint {
    /// Training epoch of the checkpoint (0 = initialization).
    pub epoch: u64,
    /// The checkpoint file.
    pub file: PathBuf,
    /// Whether the learning rate was decayed after this epoch (the last checkpoint at the old
    /// rate; the paper's trajectory plots mark these points in red).
    pub lr_decay: bool,
}

/// The checkpoints of one run, ascending by epoch; the last one is the final model (the origin of
/// every projection). Always holds at least [`MIN_POINTS`] checkpoints of distinct epochs.
#[derive(Clone, Debug, PartialEq)]
pub struct Trajectory {
    points: Vec<PathPoint>,
    lr_decay_epochs: Vec<u64>,
    run: Option<PathBuf>,
    finished: bool,
}

/// The fewest checkpoints with which two principal components are defined: the rows are centred,
/// so `n` checkpoints span at most `n - 1` dimensions.
pub const MIN_POINTS: usize = 3;

impl Trajectory {
    /// The checkpoints listed in a run folder's `run.json`, with its LR-decay epochs. A run that
    /// is still going (or was interrupted) is read up to its last saved checkpoint, which then
    /// plays the final model; [`finished`](Trajectory::finished) says which.
    pub fn from_run(dir: &Path) -> Result<Self> {
        let folder = RunFolder::new(dir);
        if !folder.record_path().is_file() {
            return Err(Error::Invalid(format!(
                "{}: no run.json (not a losscape run folder; `losscape train` writes one)",
                dir.display()
            )));
        }
        let record = folder.read_record()?;
        let files = record.checkpoints.iter().map(|c| (c.epoch, dir.join(&c.file))).collect();
        let mut path = Self::from_checkpoints(files, &record.lr_decay_epochs)
            .map_err(|e| Error::Invalid(format!("{}: {e}", folder.record_path().display())))?;
        path.run = Some(dir.to_path_buf());
        path.finished = record.status == RunStatus::Finished;
        Ok(path)
    }

    /// A path from checkpoint files with their epochs (in any order; sorted here) and the epochs
    /// after which the learning rate was decayed. Needs at least [`MIN_POINTS`] distinct epochs,
    /// and every file must exist.
    pub fn from_checkpoints(mut files: Vec<(u64, PathBuf)>, lr_decay_epochs: &[u64]) -> Result<Self> {
        files.sort_by_key(|(epoch, _)| *epoch);
        if let Some(w) = files.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Error::Invalid(format!("epoch {} is listed twice", w[0].0)));
        }
        if files.len() < MIN_POINTS {
            return Err(Error::Invalid(format!(
                "a trajectory needs at least {MIN_POINTS} checkpoints, found {}",
                files.len()
            )));
        }
        if let Some((_, missing)) = files.iter().find(|(_, f)| !f.is_file()) {
            return Err(Error::Invalid(format!("checkpoint {} does not exist", missing.display())));
        }
        let points = files
            .into_iter()
            .map(|(epoch, file)| PathPoint { epoch, file, lr_decay: lr_decay_epochs.contains(&epoch) })
            .collect();
        Ok(Self { points, lr_decay_epochs: lr_decay_epochs.to_vec(), run: None, finished: true })
    }

    /// The checkpoints in epoch order.
    pub fn points(&self) -> &[PathPoint] {
        &self.points
    }

    /// Epochs after which the learning rate was multiplied by the decay factor.
    pub fn lr_decay_epochs(&self) -> &[u64] {
        &self.lr_decay_epochs
    }

    /// The run folder the path was read from, if any.
    pub fn run(&self) -> Option<&Path> {
        self.run.as_deref()
    }

    /// Whether the run had finished (all epochs saved); `true` for paths given as files.
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// The final model's checkpoint (the last point).
    pub fn final_point(&self) -> &PathPoint {
        &self.points[self.points.len() - 1]
    }

    /// The first checkpoint (usually the initialization, epoch 0).
    pub fn first_point(&self) -> &PathPoint {
        &self.points[0]
    }

    /// Rebuilds the final model from its checkpoint (architectures of the model zoo only; for
    /// another [`Model`], load the final checkpoint into it with
    /// [`losscape_models::load_into`]).
    pub fn load_final_model(&self, device: Device) -> Result<(Box<dyn Model>, CheckpointMeta)> {
        Ok(checkpoint::load(&self.final_point().file, device)?)
    }
}
