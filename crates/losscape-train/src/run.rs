//! The run folder: where a training run keeps its configuration, checkpoints, metrics log, resume
//! state and run record, and the types of those files (documented in docs/formats.md, "Run
//! folders"). Every file is written atomically (temporary name, then rename).
//!
//! ```text
//! RUN/
//!   config.json                     the TrainConfig and its hash (written once)
//!   run.json                        RunFile: status, checkpoints, LR-decay epochs, final metrics
//!   metrics.jsonl                   one EpochMetrics per line, epoch 0 (initialization) first
//!   state.safetensors               resume state: weights, BN statistics, momentum buffers, epoch
//!   checkpoints/epoch-NNNN.safetensors   model checkpoints (losscape-models format)
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use losscape_core::fsio;
use losscape_data::Normalization;
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::error::{Error, Result};

/// Format name in `config.json` and `run.json`.
pub const RUN_FORMAT: &str = "losscape-run";
/// Version of the run folder layout.
pub const RUN_FORMAT_VERSION: u32 = 1;
/// Format name in the resume state's metadata.
pub const STATE_FORMAT: &str = "losscape-train-state";

/// Paths of a run folder's files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunFolder {
    root: PathBuf,
}

impl RunFolder {
    /// The run folder at `root` (nothing is created or read).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `config.json`.
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.json")
    }

    /// `run.json`.
    pub fn record_path(&self) -> PathBuf {
        self.root.join("run.json")
    }

    /// `metrics.jsonl`.
    pub fn metrics_path(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }

    /// `state.safetensors`.
    pub fn state_path(&self) -> PathBuf {
        self.root.join("state.safetensors")
    }

    /// `checkpoints/`.
    pub fn checkpoints_dir(&self) -> PathBuf {
        self.root.join("checkpoints")
    }

    /// The checkpoint file name of `epoch` relative to the run folder:
    /// `checkpoints/epoch-NNNN.safetensors` (at least four digits).
    pub fn checkpoint_relative(epoch: u64) -> String {
        format!("checkpoints/epoch-{epoch:04}.safetensors")
    }

    /// The checkpoint path of `epoch`.
    pub fn checkpoint_path(&self, epoch: u64) -> PathBuf {
        self.root.join(Self::checkpoint_relative(epoch))
    }

    /// Whether any file that a run writes is present.
    pub fn has_run_files(&self) -> bool {
        [self.config_path(), self.record_path(), self.metrics_path(), self.state_path(), self.checkpoints_dir()]
            .iter()
            .any(|p| p.exists())
    }

    /// Deletes the files a run writes (config, record, metrics, state, `epoch-*.safetensors`
    /// checkpoints) and nothing else; other files in the folder are left alone.
    pub fn remove_run_files(&self) -> Result<()> {
        for path in [self.config_path(), self.record_path(), self.metrics_path(), self.state_path()] {
            remove_if_present(&path)?;
        }
        let dir = self.checkpoints_dir();
        if dir.is_dir() {
            for entry in fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
                let path = entry.map_err(|e| Error::io(&dir, e))?.path();
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if name.starts_with("epoch-") && name.ends_with(".safetensors") {
                    remove_if_present(&path)?;
                }
            }
            // Removed only when empty: a user's own files there stay.
            let _ = fs::remove_dir(&dir);
        }
        Ok(())
    }

    /// Reads `config.json`.
    pub fn read_config(&self) -> Result<ConfigFile> {
        read_json(&self.config_path())
    }

    /// Reads `run.json`.
    pub fn read_record(&self) -> Result<RunFile> {
        read_json(&self.record_path())
    }

    /// Reads `metrics.jsonl` (every line must parse).
    pub fn read_metrics(&self) -> Result<Vec<EpochMetrics>> {
        let path = self.metrics_path();
        let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l)
                    .map_err(|e| Error::run_folder(&path, format!("line {}: not a metrics record: {e}", i + 1)))
            })
            .collect()
    }

    pub(crate) fn write_config(&self, file: &ConfigFile) -> Result<()> {
        write_json(&self.config_path(), file)
    }

    pub(crate) fn write_record(&self, record: &RunFile) -> Result<()> {
        write_json(&self.record_path(), record)
    }

    pub(crate) fn write_metrics(&self, metrics: &[EpochMetrics]) -> Result<()> {
        let mut text = String::new();
        for m in metrics {
            text.push_str(&serde_json::to_string(m).map_err(|e| Error::Config(e.to_string()))?);
            text.push('\n');
        }
        fsio::write_atomic(&self.metrics_path(), text.as_bytes())?;
        Ok(())
    }
}

/// `config.json`: the configuration with its hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigFile {
    /// Always [`RUN_FORMAT`].
    pub format: String,
    /// [`RUN_FORMAT_VERSION`].
    pub version: u32,
    /// [`TrainConfig::hash`] of `config`.
    pub config_hash: String,
    /// The configuration.
    pub config: TrainConfig,
}

/// One line of `metrics.jsonl`: one epoch's measurements.
///
/// Train loss and accuracy are measured on the fly during the epoch (train mode, augmented
/// batches, each batch's loss before its update; sample-weighted means); the test metrics are
/// measured after the epoch in eval mode on the whole test split; after the last epoch the
/// training split is measured the same way (`train_eval_*`). Accuracies are in percent.
/// Epoch 0 is the initialization and has no train metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Epoch (0 = initialization).
    pub epoch: u64,
    /// Learning rate used during the epoch (the base rate at epoch 0).
    pub lr: f64,
    /// Mean training loss over the epoch's batches (`null` at epoch 0).
    pub train_loss: Option<f64>,
    /// Training accuracy in percent over the epoch's batches (`null` at epoch 0).
    pub train_acc: Option<f64>,
    /// Loss over the whole training split (or its subset) in eval mode, without augmentation:
    /// how well the final weights fit the data they were trained on (measured after the last
    /// epoch only; absent elsewhere and in runs made before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_eval_loss: Option<f64>,
    /// Accuracy in percent over the whole training split in eval mode (after the last epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_eval_acc: Option<f64>,
    /// Test loss (eval mode, full test split).
    pub test_loss: f64,
    /// Test accuracy in percent.
    pub test_acc: f64,
    /// L2 norm of all trainable parameters together after the epoch.
    pub weight_norm: f64,
    /// Wall-clock seconds of the epoch (training and evaluation).
    pub wall_seconds: f64,
    /// The checkpoint saved after this epoch, relative to the run folder, if any.
    pub checkpoint: Option<String>,
}

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Not all epochs are done (running, interrupted or stopped early).
    Running,
    /// Every epoch is done and the final checkpoint is saved.
    Finished,
}

/// One saved checkpoint in `run.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointEntry {
    /// Epoch (0 = initialization).
    pub epoch: u64,
    /// Path relative to the run folder.
    pub file: String,
    /// Learning rate used during that epoch.
    pub lr: f64,
    /// Test accuracy in percent after that epoch.
    pub test_acc: f64,
}

/// A (re)start of the run in `run.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSession {
    /// The epoch the session started from (0 for a fresh run, else the saved epoch it resumed).
    pub from_epoch: u64,
    /// Device name (`cpu`, `cuda:0`).
    pub device: String,
    /// libtorch intra-op threads.
    pub threads: i64,
}

/// `run.json`: the run's status and index, rewritten after every epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunFile {
    /// Always [`RUN_FORMAT`].
    pub format: String,
    /// [`RUN_FORMAT_VERSION`].
    pub version: u32,
    /// Running or finished.
    pub status: RunStatus,
    /// Hash of the configuration (as in `config.json`).
    pub config_hash: String,
    /// Model spec.
    pub model: String,
    /// Data source.
    pub data: String,
    /// Epochs of the configuration.
    pub epochs: u64,
    /// Last completed and saved epoch.
    pub completed_epochs: u64,
    /// Epochs after which the learning rate was multiplied by `lr_decay` (trajectory plots mark
    /// the checkpoints of these epochs).
    pub lr_decay_epochs: Vec<u64>,
    /// The decay factor.
    pub lr_decay: f64,
    /// Normalization fitted on the training split and applied to both splits.
    pub normalization: Normalization,
    /// Number of training examples used.
    pub train_examples: usize,
    /// Number of test examples used.
    pub test_examples: usize,
    /// Saved checkpoints, ascending by epoch.
    pub checkpoints: Vec<CheckpointEntry>,
    /// The last epoch's checkpoint once finished.
    pub final_checkpoint: Option<String>,
    /// The last completed epoch's metrics.
    pub last_metrics: Option<EpochMetrics>,
    /// Wall-clock seconds over all sessions (epochs only, not set-up).
    pub wall_seconds: f64,
    /// Every start and resume of the run.
    pub sessions: Vec<RunSession>,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let bytes = fsio::read(path)?;
    serde_json::from_slice(&bytes).map_err(|e| Error::run_folder(path, format!("cannot parse: {e}")))
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| Error::run_folder(path, e.to_string()))?;
    text.push('\n');
    fsio::write_atomic(path, text.as_bytes())?;
    Ok(())
}

fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_names() {
        let run = RunFolder::new("/r");
        assert_eq!(run.checkpoint_path(7), Path::new("/r/checkpoints/epoch-0007.safetensors"));
        assert_eq!(RunFolder::checkpoint_relative(12345), "checkpoints/epoch-12345.safetensors");
        assert_eq!(run.state_path(), Path::new("/r/state.safetensors"));
    }

    #[test]
    fn remove_run_files_keeps_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunFolder::new(dir.path());
        assert!(!run.has_run_files());
        fs::create_dir_all(run.checkpoints_dir()).unwrap();
        fs::write(run.checkpoint_path(0), b"x").unwrap();
        fs::write(run.checkpoints_dir().join("notes.txt"), b"mine").unwrap();
        fs::write(run.metrics_path(), b"").unwrap();
        fs::write(dir.path().join("README"), b"mine").unwrap();
        assert!(run.has_run_files());
        run.remove_run_files().unwrap();
        assert!(!run.checkpoint_path(0).exists() && !run.metrics_path().exists());
        assert!(run.checkpoints_dir().join("notes.txt").exists() && dir.path().join("README").exists());
    }

    #[test]
    fn metrics_round_trip_and_bad_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunFolder::new(dir.path());
        let m = EpochMetrics {
            epoch: 0,
            lr: 0.1,
            train_loss: None,
            train_acc: None,
            train_eval_loss: None,
            train_eval_acc: None,
            test_loss: 2.3,
            test_acc: 10.0,
            weight_norm: 12.5,
            wall_seconds: 0.5,
            checkpoint: Some(RunFolder::checkpoint_relative(0)),
        };
        let m1 = EpochMetrics {
            epoch: 1,
            train_loss: Some(1.0),
            train_acc: Some(60.0),
            train_eval_loss: Some(0.02),
            train_eval_acc: Some(99.5),
            checkpoint: None,
            ..m.clone()
        };
        run.write_metrics(&[m.clone(), m1.clone()]).unwrap();
        assert_eq!(run.read_metrics().unwrap(), vec![m, m1]);
        fs::write(run.metrics_path(), "{\"epoch\": 0}\n").unwrap();
        assert!(run.read_metrics().unwrap_err().to_string().contains("line 1"));
    }
}
