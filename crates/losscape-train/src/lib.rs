//! SGD training for losscape: produces the trained networks and the per-epoch checkpoints that
//! the loss-landscape, curvature and trajectory layers read.
//!
//! - [`TrainConfig`] says what a run is (model spec, data, SGD hyper-parameters, step learning-rate
//!   schedule, augmentation, checkpoint schedule, seed); [`Preset`] names the paper's recipe
//!   (`paper`), a CPU-sized version of it (`cpu`) and a seconds-long one for tests (`tiny`).
//! - [`train`] runs a configuration in a run folder ([`RunFolder`]: `config.json`, `run.json`,
//!   `metrics.jsonl`, `state.safetensors`, `checkpoints/epoch-NNNN.safetensors`; see
//!   docs/formats.md, "Run folders") and resumes it there after an interruption, bit for bit.
//! - [`Sgd`] is the hand-written optimizer (momentum, Nesterov, coupled weight decay) whose
//!   momentum buffers are saved with the resume state; [`StepSchedule`] the learning-rate steps.
//! - [`evaluate`] and [`weight_norm`] measure a model.
//!
//! Progress is reported through [`losscape_core::Progress`]; the library never prints.
//!
//! ```
//! use losscape_train::{train, Outcome, Preset, RunFolder, RunOptions};
//!
//! // ResNet-8 for two epochs on 10 training and 10 test images per class: a few seconds.
//! let mut config = Preset::Tiny.config("resnet8".parse()?);
//! config.epochs = 2;
//! config.lr_decay_epochs = vec![1];
//! config.train_per_class = Some(10);
//! let dir = tempfile::tempdir()?;
//! let summary = train(&config, dir.path(), &RunOptions::default(), &losscape_core::Silent)?;
//! assert_eq!(summary.outcome, Outcome::Finished);
//! assert_eq!(summary.checkpoints.len(), 3); // epochs 0, 1 and 2
//! let metrics = RunFolder::new(dir.path()).read_metrics()?;
//! assert_eq!(metrics.len(), 3);
//! assert!(metrics[2].test_acc > 0.0);
//!
//! // Running it again finds the finished run and does nothing.
//! let again = train(&config, dir.path(), &RunOptions::default(), &losscape_core::Silent)?;
//! assert_eq!(again.outcome, Outcome::AlreadyFinished);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod config;
pub mod error;
pub mod eval;
pub mod run;
pub mod schedule;
pub mod sgd;
pub mod trainer;

pub use config::{Preset, TrainConfig};
pub use error::{Error, Result};
pub use eval::{evaluate, weight_norm, Evaluation};
pub use run::{CheckpointEntry, ConfigFile, EpochMetrics, RunFolder, RunFile, RunStatus, RunSession};
pub use schedule::StepSchedule;
pub use sgd::{Sgd, SgdConfig};
pub use trainer::{prepare_data, train, Outcome, PreparedData, RunOptions, TrainSummary};
