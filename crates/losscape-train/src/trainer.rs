//! The training loop: [`train`] runs (or resumes) a configuration in a run folder, epoch by
//! epoch, saving checkpoints, the metrics log, the run record and the resume state.
//!
//! Resume state is saved atomically after every epoch (weights, BN statistics, momentum buffers,
//! epoch), so an interruption costs at most the epoch in progress. Each epoch's shuffling and
//! augmentation come from seeds derived from `(seed, epoch)`, so a resumed run needs no generator
//! state and ends with the same weights, bit for bit, as an uninterrupted one (same device, same
//! thread count).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use losscape_core::Progress;
use losscape_data::rng::derive_seed;
use losscape_data::{Dataset, Normalization};
use losscape_models::loss::{self, Accumulation, LossKind};
use losscape_models::{checkpoint, BuildSpec, Model};
use tch::{Device, Tensor};

use crate::config::TrainConfig;
use crate::error::{Error, Result};
use crate::eval::{count_correct, evaluate, weight_norm};
use crate::run::{
    CheckpointEntry, ConfigFile, EpochMetrics, RunFolder, RunFile, RunStatus, RunSession, RUN_FORMAT,
    RUN_FORMAT_VERSION, STATE_FORMAT,
};
use crate::sgd::Sgd;

/// Batch size of the test evaluations (memory only; results do not depend on it beyond rounding).
pub const EVAL_BATCH_SIZE: usize = 500;

/// How [`train`] runs, beyond the configuration: things that do not change the result.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOptions {
    /// Where the model and data live.
    pub device: Device,
    /// Delete an existing run's files in the folder and start over (otherwise a different
    /// configuration in the folder is an error and the same one is resumed).
    pub fresh: bool,
    /// Return after this epoch is done and saved, leaving the run resumable (a controlled
    /// interruption; `None` runs to the end).
    pub stop_after: Option<u64>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self { device: Device::Cpu, fresh: false, stop_after: None }
    }
}

/// How a call to [`train`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// All epochs are done (in this call, possibly after resuming).
    Finished,
    /// The run was already finished: nothing was trained or written.
    AlreadyFinished,
    /// Stopped early at [`RunOptions::stop_after`]; rerunning resumes.
    Stopped,
}

/// What [`train`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainSummary {
    /// The run folder.
    pub run_dir: PathBuf,
    /// How the call ended.
    pub outcome: Outcome,
    /// The saved epoch this call resumed from (`None` for a fresh start).
    pub resumed_from: Option<u64>,
    /// Last completed epoch.
    pub completed_epochs: u64,
    /// The last completed epoch's metrics (test loss and accuracy, weight norm, ...).
    pub last: EpochMetrics,
    /// Wall-clock seconds of this call.
    pub wall_seconds: f64,
    /// Wall-clock seconds of all epochs over every session of the run.
    pub total_wall_seconds: f64,
    /// Every checkpoint saved so far, ascending by epoch.
    pub checkpoints: Vec<PathBuf>,
    /// The final checkpoint once the run is finished.
    pub final_checkpoint: Option<PathBuf>,
    /// Epochs after which the learning rate was decayed.
    pub lr_decay_epochs: Vec<u64>,
}

/// The data of a run, prepared as training uses it.
#[derive(Debug)]
pub struct PreparedData {
    /// Training split (or its per-class subset), normalized, in the model's kind, on the device.
    pub train: Dataset,
    /// Test split (or its subset), normalized with the training split's statistics.
    pub test: Dataset,
    /// The normalization fitted on the training split.
    pub normalization: Normalization,
}

/// Loads `config.data`, keeps the configured per-class subsets, fits the normalization on the
/// training split and applies it to both splits, converts to the precision's kind and moves to
/// `device`. This is exactly the data [`train`] uses, so a reloaded checkpoint can be evaluated
/// on the same test split.
pub fn prepare_data(config: &TrainConfig, device: Device) -> Result<PreparedData> {
    let splits = config.data.load()?;
    let (mut train, mut test) = (splits.train, splits.test);
    if let Some(k) = config.train_per_class {
        train = train.first_per_class(k)?;
    }
    if let Some(k) = config.test_per_class {
        test = test.first_per_class(k)?;
    }
    if train.len() < 2 || test.is_empty() {
        return Err(Error::Config(format!(
            "{}: {} training and {} test examples are too few to train",
            config.data,
            train.len(),
            test.len()
        )));
    }
    let normalization = Normalization::fit(&train)?;
    let kind = config.precision.kind();
    let train = train.normalized(&normalization)?.to_kind(kind)?.to_device(device)?;
    let test = test.normalized(&normalization)?.to_kind(kind)?.to_device(device)?;
    Ok(PreparedData { train, test, normalization })
}

/// Trains `config` in the run folder `run_dir`, or resumes it there.
///
/// - A new (or empty) folder starts at epoch 0: the initialization is evaluated and saved.
/// - A folder holding the same configuration (equal [hash](TrainConfig::hash)) resumes from its
///   saved state; a finished one returns [`Outcome::AlreadyFinished`] and writes nothing.
/// - A folder holding another configuration is an [`Error::ConfigMismatch`] naming the fields
///   that differ, unless [`RunOptions::fresh`] is set, which deletes the old run's files first.
///
/// Progress: one task per epoch (`begin` with the number of batches, `advance` per batch, a
/// message with the running loss and accuracy, a closing message with the epoch's metrics);
/// messages outside a task announce a resume.
pub fn train(
    config: &TrainConfig,
    run_dir: &Path,
    options: &RunOptions,
    progress: &dyn Progress,
) -> Result<TrainSummary> {
    let created = !run_dir.exists();
    let result = train_in(config, run_dir, options, progress);
    // A run that fails before its first saved state leaves no folder behind that it made itself
    // (a full disk, bad data): the corrected rerun then starts clean.
    if result.is_err() && created && !RunFolder::new(run_dir).state_path().exists() {
        let _ = std::fs::remove_dir_all(run_dir);
    }
    result
}

fn train_in(config: &TrainConfig, run_dir: &Path, options: &RunOptions, progress: &dyn Progress) -> Result<TrainSummary> {
    let started = Instant::now();
    config.check()?;
    let folder = RunFolder::new(run_dir);
    let hash = config.hash()?;
    if options.fresh {
        folder.remove_run_files()?;
    }
    if folder.config_path().exists() {
        let existing = folder.read_config()?;
        if existing.config_hash != hash || existing.config != *config {
            return Err(Error::ConfigMismatch {
                path: run_dir.to_path_buf(),
                differences: existing.config.differences(config),
            });
        }
    } else if folder.has_run_files() {
        return Err(Error::IncompleteRun { path: run_dir.to_path_buf() });
    }
    // The data and the model are checked before anything is written, so a run refused for bad
    // data leaves no config.json that would refuse the corrected rerun.
    let data = prepare_data(config, options.device)?;
    let kind = data.train.input_kind();
    if kind != losscape_data::InputKind::Images {
        return Err(Error::Config(format!(
            "{}: the built-in networks train on images [N, C, H, W], and this data set holds {kind} {:?}",
            data.train.name,
            data.train.example_shape()
        )));
    }
    let [channels, height, width] = data.train.image_shape();
    let num_classes = data.train.num_classes;
    let build = BuildSpec {
        in_channels: channels,
        num_classes,
        image_size: [height, width],
        precision: config.precision,
        ..BuildSpec::new(config.model)
    };
    let model = losscape_models::build(&build, options.device, config.seed)?;
    let params = model.parameters();
    let mut sgd = Sgd::new(config.sgd(), &params)?;
    if !folder.config_path().exists() {
        let file = ConfigFile {
            format: RUN_FORMAT.into(),
            version: RUN_FORMAT_VERSION,
            config_hash: hash.clone(),
            config: config.clone(),
        };
        folder.write_config(&file)?;
    }
    let mut run = RunState {
        config,
        hash,
        folder,
        data,
        model,
        channels,
        num_classes,
        image_size: [height, width],
        metrics: Vec::new(),
        sessions: Vec::new(),
        wall_total: 0.0,
    };

    // Resume from the saved state, if any.
    let resumed_from = if run.folder.state_path().exists() {
        let saved = run.load_state(&mut sgd)?;
        let mut metrics = run.folder.read_metrics()?;
        metrics.retain(|m| m.epoch <= saved.epoch);
        if metrics.iter().map(|m| m.epoch).ne(0..=saved.epoch) {
            return Err(Error::run_folder(
                run.folder.metrics_path(),
                format!("does not hold one line for each epoch 0..={} of the saved state", saved.epoch),
            ));
        }
        run.metrics = metrics;
        run.wall_total = saved.wall_seconds;
        run.sessions = run.folder.read_record().map(|r| r.sessions).unwrap_or_default();
        Some(saved.epoch)
    } else {
        None
    };

    if resumed_from == Some(config.epochs) {
        // Finished before: report, and repair only a run record left behind by a crash.
        let record = run.record(RunStatus::Finished)?;
        if run.folder.read_record().ok().as_ref() != Some(&record) {
            run.folder.write_record(&record)?;
        }
        return run.summary(Outcome::AlreadyFinished, resumed_from, started);
    }

    run.sessions.push(RunSession {
        from_epoch: resumed_from.unwrap_or(0),
        device: device_name(options.device),
        threads: tch::get_num_threads() as i64,
    });
    let mut epoch = match resumed_from {
        Some(e) => {
            progress.message(&format!("resuming {} from saved epoch {e} of {}", run_dir.display(), config.epochs));
            e
        }
        None => {
            run.initial_epoch(&sgd, progress)?;
            0
        }
    };
    while epoch < config.epochs {
        if options.stop_after.is_some_and(|stop| epoch >= stop) {
            return run.summary(Outcome::Stopped, resumed_from, started);
        }
        epoch += 1;
        run.train_epoch(epoch, &params, &mut sgd, progress)?;
    }
    run.summary(Outcome::Finished, resumed_from, started)
}

/// The state of a run in progress.
struct RunState<'a> {
    config: &'a TrainConfig,
    hash: String,
    folder: RunFolder,
    data: PreparedData,
    model: Box<dyn Model>,
    channels: i64,
    num_classes: i64,
    image_size: [i64; 2],
    metrics: Vec<EpochMetrics>,
    sessions: Vec<RunSession>,
    wall_total: f64,
}

/// What the resume state file says besides its tensors.
struct SavedState {
    epoch: u64,
    wall_seconds: f64,
}

impl RunState<'_> {
    /// Epoch 0: evaluate and save the initialization.
    fn initial_epoch(&mut self, sgd: &Sgd, progress: &dyn Progress) -> Result<()> {
        let start = Instant::now();
        progress.begin(&format!("epoch 0/{} (initialization)", self.config.epochs), 0);
        let test = evaluate(&*self.model, &self.data.test, EVAL_BATCH_SIZE)?;
        let metrics = EpochMetrics {
            epoch: 0,
            lr: self.config.lr,
            train_loss: None,
            train_acc: None,
            train_eval_loss: None,
            train_eval_acc: None,
            test_loss: test.loss,
            test_acc: test.accuracy,
            weight_norm: weight_norm(&*self.model)?,
            wall_seconds: start.elapsed().as_secs_f64(),
            checkpoint: None,
        };
        progress.message(&format!(
            "epoch 0/{}: test loss {:.4} acc {:.2}% (initialization)",
            self.config.epochs, metrics.test_loss, metrics.test_acc
        ));
        self.finish_epoch(metrics, sgd)?;
        progress.end();
        Ok(())
    }

    /// One training epoch, its evaluation and its saves.
    fn train_epoch(&mut self, epoch: u64, params: &[Tensor], sgd: &mut Sgd, progress: &dyn Progress) -> Result<()> {
        let start = Instant::now();
        let config = self.config;
        let lr = config.schedule().lr_at(epoch);
        let epoch_seed = derive_seed(config.seed, epoch);
        let (shuffle_seed, augment_seed) = (derive_seed(epoch_seed, 0), derive_seed(epoch_seed, 1));
        let augmentation = config.augmentation();
        let batches = self.data.train.batches(config.batch_size, Some(shuffle_seed))?;
        progress.begin(&format!("epoch {epoch}/{}", config.epochs), batches.num_batches() as u64);
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0i64, 0usize);
        for (batch, (xs, ys)) in batches.enumerate() {
            let n = xs.size()[0] as usize;
            if n < 2 {
                // Batch normalization cannot train on a single example: a last batch of one is
                // skipped (only possible when the split size is 1 modulo the batch size).
                progress.advance(1);
                continue;
            }
            let xs = augmentation.apply_normalized(
                &xs,
                Some(&self.data.normalization),
                derive_seed(augment_seed, batch as u64),
            )?;
            Sgd::zero_grad(params);
            let logits = self.model.forward_t(&xs, true);
            let loss = LossKind::CrossEntropy.loss(&logits, &ys, Accumulation::Native, loss::Reduction::Mean)?;
            loss.f_backward()?;
            let loss_value = loss.f_double_value(&[])?;
            if !loss_value.is_finite() {
                progress.end();
                return Err(Error::Diverged { epoch, batch, loss: loss_value });
            }
            sgd.step(params, lr)?;
            loss_sum += loss_value * n as f64;
            correct += count_correct(&logits.detach(), &ys)?;
            seen += n;
            progress.advance(1);
            progress.message(&format!(
                "loss {:.4} acc {:.2}%",
                loss_sum / seen as f64,
                100.0 * correct as f64 / seen as f64
            ));
        }
        Sgd::zero_grad(params);
        progress.message("evaluating");
        let test = evaluate(&*self.model, &self.data.test, EVAL_BATCH_SIZE)?;
        // After the last epoch: is this a minimizer of its training data? Eval mode, no
        // augmentation, every training example (the on-the-fly numbers above are neither).
        let train_eval = if epoch == config.epochs {
            progress.message("evaluating the training split");
            Some(evaluate(&*self.model, &self.data.train, EVAL_BATCH_SIZE)?)
        } else {
            None
        };
        let metrics = EpochMetrics {
            epoch,
            lr,
            train_loss: Some(loss_sum / seen.max(1) as f64),
            train_acc: Some(100.0 * correct as f64 / seen.max(1) as f64),
            train_eval_loss: train_eval.map(|e| e.loss),
            train_eval_acc: train_eval.map(|e| e.accuracy),
            test_loss: test.loss,
            test_acc: test.accuracy,
            weight_norm: weight_norm(&*self.model)?,
            wall_seconds: start.elapsed().as_secs_f64(),
            checkpoint: None,
        };
        progress.message(&format!(
            "epoch {epoch}/{}: lr {lr:.3e} | train loss {:.4} acc {:.2}% | test loss {:.4} acc {:.2}%",
            config.epochs,
            metrics.train_loss.unwrap_or(f64::NAN),
            metrics.train_acc.unwrap_or(f64::NAN),
            metrics.test_loss,
            metrics.test_acc
        ));
        if let Some(e) = train_eval {
            progress.message(&format!(
                "epoch {epoch}/{}: whole training split in eval mode: loss {:.4} acc {:.2}%",
                config.epochs, e.loss, e.accuracy
            ));
        }
        self.finish_epoch(metrics, sgd)?;
        progress.end();
        Ok(())
    }

    /// Saves what an epoch produced, in crash-safe order: the checkpoint (if due), the metrics
    /// log, the resume state and then the run record. A crash in between leaves a state that
    /// points at the previous epoch, which is then redone and rewritten identically.
    fn finish_epoch(&mut self, mut metrics: EpochMetrics, sgd: &Sgd) -> Result<()> {
        let epoch = metrics.epoch;
        if self.config.checkpoint_epochs().contains(&epoch) {
            metrics.checkpoint = Some(RunFolder::checkpoint_relative(epoch));
            self.save_checkpoint(&metrics)?;
        }
        self.wall_total += metrics.wall_seconds;
        self.metrics.push(metrics);
        self.folder.write_metrics(&self.metrics)?;
        self.save_state(epoch, sgd)?;
        let status = if epoch == self.config.epochs { RunStatus::Finished } else { RunStatus::Running };
        self.folder.write_record(&self.record(status)?)?;
        Ok(())
    }

    fn save_checkpoint(&self, metrics: &EpochMetrics) -> Result<()> {
        let config = self.config;
        let mut meta = checkpoint::CheckpointMeta::new(
            &config.model,
            self.channels,
            self.num_classes,
            self.image_size,
            config.precision,
        );
        meta.normalization = Some(self.data.normalization.clone());
        meta.data = Some(config.data.to_string());
        meta.epoch = Some(metrics.epoch);
        meta.lr = Some(metrics.lr);
        let mut values = BTreeMap::from([
            ("test_loss".to_string(), metrics.test_loss),
            ("test_acc".to_string(), metrics.test_acc),
            ("weight_norm".to_string(), metrics.weight_norm),
        ]);
        if let (Some(loss), Some(acc)) = (metrics.train_loss, metrics.train_acc) {
            values.insert("train_loss".into(), loss);
            values.insert("train_acc".into(), acc);
        }
        if let (Some(loss), Some(acc)) = (metrics.train_eval_loss, metrics.train_eval_acc) {
            values.insert("train_eval_loss".into(), loss);
            values.insert("train_eval_acc".into(), acc);
        }
        meta.metrics = values;
        let decay: Vec<String> = config.lr_decay_epochs.iter().map(u64::to_string).collect();
        meta.extra.insert("lr_decay_epochs".into(), decay.join(","));
        meta.extra.insert("lr_decay".into(), config.lr_decay.to_string());
        meta.extra.insert("epochs".into(), config.epochs.to_string());
        meta.extra.insert("seed".into(), config.seed.to_string());
        meta.extra.insert("config_hash".into(), self.hash.clone());
        checkpoint::save(&*self.model, &meta, &self.folder.checkpoint_path(metrics.epoch))?;
        Ok(())
    }

    /// Writes `state.safetensors`: `model/<name>` for every tensor of the model (BN statistics
    /// included), `momentum/<name>` for every trainable parameter, and the epoch, config hash and
    /// accumulated wall time in the metadata.
    fn save_state(&self, epoch: u64, sgd: &Sgd) -> Result<()> {
        let named = self.model.named_tensors();
        let mut tensors: Vec<(String, Tensor)> =
            named.iter().map(|t| (format!("model/{}", t.name), t.tensor.shallow_clone())).collect();
        let param_names = named.iter().filter(|t| t.role.is_parameter()).map(|t| &t.name);
        for (name, buf) in param_names.zip(sgd.buffers()) {
            tensors.push((format!("momentum/{name}"), buf.shallow_clone()));
        }
        let meta = BTreeMap::from([
            ("format".to_string(), STATE_FORMAT.to_string()),
            ("version".to_string(), RUN_FORMAT_VERSION.to_string()),
            ("epoch".to_string(), epoch.to_string()),
            ("config_hash".to_string(), self.hash.clone()),
            ("wall_seconds".to_string(), self.wall_total.to_string()),
        ]);
        checkpoint::save_tensors(&tensors, &meta, &self.folder.state_path())?;
        Ok(())
    }

    /// Reads `state.safetensors` into the model and the optimizer.
    fn load_state(&mut self, sgd: &mut Sgd) -> Result<SavedState> {
        let path = self.folder.state_path();
        let (tensors, meta) = checkpoint::read_tensor_file(&path)?;
        let field = |key: &str| {
            meta.get(key).ok_or_else(|| Error::run_folder(&path, format!("resume state lacks '{key}' in its metadata")))
        };
        if field("format")? != STATE_FORMAT {
            return Err(Error::run_folder(&path, "not a losscape resume state"));
        }
        if *field("config_hash")? != self.hash {
            return Err(Error::run_folder(&path, "resume state belongs to another configuration"));
        }
        let epoch: u64 =
            field("epoch")?.parse().map_err(|_| Error::run_folder(&path, "resume state has an unreadable epoch"))?;
        let wall_seconds: f64 = field("wall_seconds")?.parse().unwrap_or(0.0);
        if epoch > self.config.epochs {
            return Err(Error::run_folder(&path, format!("resume state is at epoch {epoch}, after the last epoch")));
        }
        let mut by_name: BTreeMap<String, Tensor> = tensors.into_iter().collect();
        let mut take = |name: String| {
            by_name.remove(&name).ok_or_else(|| Error::run_folder(&path, format!("resume state lacks tensor '{name}'")))
        };
        let named = self.model.named_tensors();
        let mut buffers = Vec::new();
        {
            let _guard = tch::no_grad_guard();
            for t in &named {
                let value = take(format!("model/{}", t.name))?;
                if value.size() != t.tensor.size() {
                    return Err(Error::run_folder(
                        &path,
                        format!(
                            "tensor 'model/{}' has shape {:?}, the model has {:?}",
                            t.name,
                            value.size(),
                            t.tensor.size()
                        ),
                    ));
                }
                let mut target = t.tensor.shallow_clone();
                target.f_copy_(&value)?;
                if t.role.is_parameter() {
                    buffers.push(take(format!("momentum/{}", t.name))?.f_to_device(self.model.device())?);
                }
            }
        }
        if let Some(extra) = by_name.keys().next() {
            return Err(Error::run_folder(&path, format!("resume state has an unexpected tensor '{extra}'")));
        }
        sgd.load_buffers(&buffers)?;
        Ok(SavedState { epoch, wall_seconds })
    }

    fn record(&self, status: RunStatus) -> Result<RunFile> {
        let completed = self.metrics.last().map_or(0, |m| m.epoch);
        let checkpoints: Vec<CheckpointEntry> = self
            .metrics
            .iter()
            .filter_map(|m| {
                m.checkpoint.as_ref().map(|file| CheckpointEntry {
                    epoch: m.epoch,
                    file: file.clone(),
                    lr: m.lr,
                    test_acc: m.test_acc,
                })
            })
            .collect();
        let final_checkpoint = match status {
            RunStatus::Finished => checkpoints.last().map(|c| c.file.clone()),
            RunStatus::Running => None,
        };
        Ok(RunFile {
            format: RUN_FORMAT.into(),
            version: RUN_FORMAT_VERSION,
            status,
            config_hash: self.hash.clone(),
            model: self.config.model.to_string(),
            data: self.config.data.to_string(),
            epochs: self.config.epochs,
            completed_epochs: completed,
            lr_decay_epochs: self.config.lr_decay_epochs.clone(),
            lr_decay: self.config.lr_decay,
            normalization: self.data.normalization.clone(),
            train_examples: self.data.train.len(),
            test_examples: self.data.test.len(),
            checkpoints,
            final_checkpoint,
            last_metrics: self.metrics.last().cloned(),
            wall_seconds: self.wall_total,
            sessions: self.sessions.clone(),
        })
    }

    fn summary(&self, outcome: Outcome, resumed_from: Option<u64>, started: Instant) -> Result<TrainSummary> {
        let last = self
            .metrics
            .last()
            .cloned()
            .ok_or_else(|| Error::run_folder(self.folder.metrics_path(), "no epoch recorded"))?;
        let checkpoints: Vec<PathBuf> =
            self.metrics.iter().filter_map(|m| m.checkpoint.as_ref().map(|f| self.folder.root().join(f))).collect();
        let finished = last.epoch == self.config.epochs;
        Ok(TrainSummary {
            run_dir: self.folder.root().to_path_buf(),
            outcome,
            resumed_from,
            completed_epochs: last.epoch,
            final_checkpoint: if finished { checkpoints.last().cloned() } else { None },
            last,
            wall_seconds: started.elapsed().as_secs_f64(),
            total_wall_seconds: self.wall_total,
            checkpoints,
            lr_decay_epochs: self.config.lr_decay_epochs.clone(),
        })
    }
}

fn device_name(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}
