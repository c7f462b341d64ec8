//! What a training run is: the [`TrainConfig`] (model, data, optimizer, schedule, augmentation,
//! checkpoint schedule, seed), its named [`Preset`]s, validation and the configuration hash that
//! ties a run folder to one configuration.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use losscape_core::{hash, Precision};
use losscape_data::{Augmentation, DataSource};
use losscape_models::ModelSpec;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::schedule::StepSchedule;
use crate::sgd::SgdConfig;

/// Everything that determines a run's result (with the device and the thread count, which only
/// change rounding). Serialized to the run folder's `config.json`; its [hash](TrainConfig::hash)
/// decides whether a rerun into the same folder resumes or is refused.
///
/// Build one from a [`Preset`] and override fields; [`check`](TrainConfig::check) validates it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Architecture spec (e.g. `resnet20`, `resnet56-noshort`, `wrn56-4`).
    pub model: ModelSpec,
    /// Where the data comes from (the embedded Fashion-MNIST subset by default).
    pub data: DataSource,
    /// Train on the first `k` examples of each class only (a quick, deterministic subset).
    pub train_per_class: Option<usize>,
    /// Evaluate on the first `k` test examples of each class only.
    pub test_per_class: Option<usize>,
    /// Floating-point precision of the model (`f32` unless exactness is needed).
    #[serde(with = "as_string")]
    pub precision: Precision,
    /// Number of training epochs (epoch 0 is the initialization).
    pub epochs: u64,
    /// Examples per SGD step (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Base learning rate.
    pub lr: f64,
    /// Learning-rate multiplier applied after each of `lr_decay_epochs`.
    pub lr_decay: f64,
    /// Epochs after which the learning rate is multiplied by `lr_decay` (see [`StepSchedule`]).
    pub lr_decay_epochs: Vec<u64>,
    /// Momentum factor.
    pub momentum: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// Coupled weight decay, applied to every trainable parameter.
    pub weight_decay: f64,
    /// Random-crop padding of the training images in pixels (0: no cropping).
    pub crop_padding: i64,
    /// Random horizontal flips of the training images.
    pub horizontal_flip: bool,
    /// Save a checkpoint every `save_every` epochs (1: every epoch).
    pub save_every: u64,
    /// Further epochs to checkpoint (the paper's recipe also saves epoch 1).
    pub save_epochs: Vec<u64>,
    /// Seed of the initialization, the shuffling and the augmentation.
    pub seed: u64,
}

/// Named training recipes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Preset {
    /// The original code's CIFAR-10 recipe: lr 0.1, Nesterov momentum 0.9, weight decay 5e-4,
    /// batch 128, 300 epochs, lr x0.1 after epochs 150, 225 and 275, checkpoints at epochs 0, 1
    /// and every 10, random crops with 4 pixels of padding and horizontal flips.
    Paper,
    /// The paper's recipe scaled down for a CPU: 20 epochs with the same shape of schedule
    /// (x0.1 after epochs 10, 15 and 18, i.e. at 50%, 75% and 90%), batch 64, checkpoints every 2
    /// epochs plus epoch 1, crop padding 2 (for 28x28 images) and flips. Measured on the embedded
    /// Fashion-MNIST subset on 2 cores: ResNet-20 89.6% test accuracy (98 s on an idle machine),
    /// ResNet-20-noshort 86.2%, ResNet-56-noshort 77.3%.
    Cpu,
    /// A few seconds of training for tests and examples: 3 epochs on 20 training and 10 test
    /// images per class, batch 32, lr 0.05 x0.1 after epoch 2, checkpoints every epoch.
    Tiny,
}

impl Preset {
    /// All presets, for help texts.
    pub const ALL: [Preset; 3] = [Preset::Paper, Preset::Cpu, Preset::Tiny];

    /// The preset's configuration for `model` on the embedded data set (seed 0).
    pub fn config(self, model: ModelSpec) -> TrainConfig {
        let paper = TrainConfig {
            model,
            data: DataSource::FashionMnistMini,
            train_per_class: None,
            test_per_class: None,
            precision: Precision::F32,
            epochs: 300,
            batch_size: 128,
            lr: 0.1,
            lr_decay: 0.1,
            lr_decay_epochs: vec![150, 225, 275],
            momentum: 0.9,
            nesterov: true,
            weight_decay: 5e-4,
            crop_padding: 4,
            horizontal_flip: true,
            save_every: 10,
            save_epochs: vec![1],
            seed: 0,
        };
        match self {
            Preset::Paper => paper,
            Preset::Cpu => TrainConfig {
                epochs: 20,
                batch_size: 64,
                lr_decay_epochs: vec![10, 15, 18],
                crop_padding: 2,
                save_every: 2,
                ..paper
            },
            Preset::Tiny => TrainConfig {
                train_per_class: Some(20),
                test_per_class: Some(10),
                epochs: 3,
                batch_size: 32,
                lr: 0.05,
                lr_decay_epochs: vec![2],
                crop_padding: 2,
                save_every: 1,
                save_epochs: vec![],
                ..paper
            },
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Preset::Paper => "paper",
            Preset::Cpu => "cpu",
            Preset::Tiny => "tiny",
        })
    }
}

impl FromStr for Preset {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "paper" => Ok(Preset::Paper),
            "cpu" => Ok(Preset::Cpu),
            "tiny" => Ok(Preset::Tiny),
            _ => Err(Error::Config(format!("unknown preset '{s}': use paper, cpu or tiny"))),
        }
    }
}

impl TrainConfig {
    /// Version of the configuration schema, part of the hash.
    pub const SCHEMA_VERSION: u32 = 1;

    /// The optimizer's hyper-parameters.
    pub fn sgd(&self) -> SgdConfig {
        SgdConfig { momentum: self.momentum, nesterov: self.nesterov, weight_decay: self.weight_decay }
    }

    /// The learning-rate schedule.
    pub fn schedule(&self) -> StepSchedule {
        StepSchedule { base_lr: self.lr, factor: self.lr_decay, decay_epochs: self.lr_decay_epochs.clone() }
    }

    /// The training-batch augmentation.
    pub fn augmentation(&self) -> Augmentation {
        Augmentation { crop_padding: self.crop_padding, horizontal_flip: self.horizontal_flip }
    }

    /// The epochs that get a checkpoint, ascending: 0 (the initialization), every
    /// `save_every`-th epoch, the extra `save_epochs`, the LR-decay epochs (the last epoch at each
    /// rate, so trajectory plots can mark them) and the final epoch.
    pub fn checkpoint_epochs(&self) -> Vec<u64> {
        let mut set = BTreeSet::from([0, self.epochs]);
        if self.save_every > 0 {
            set.extend((self.save_every..=self.epochs).step_by(self.save_every as usize));
        }
        set.extend(self.save_epochs.iter().copied().filter(|&e| e <= self.epochs));
        set.extend(self.lr_decay_epochs.iter().copied().filter(|&e| e <= self.epochs));
        set.into_iter().collect()
    }

    /// Validates every field; call before training (the trainer does).
    pub fn check(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(Error::Config("epochs must be at least 1".into()));
        }
        if self.batch_size < 2 {
            return Err(Error::Config(format!(
                "batch size must be at least 2 (batch normalization needs 2 examples), got {}",
                self.batch_size
            )));
        }
        if self.save_every == 0 {
            return Err(Error::Config("save-every must be at least 1".into()));
        }
        if let Some(&bad) = self.save_epochs.iter().find(|&&e| e > self.epochs) {
            return Err(Error::Config(format!("save epoch {bad} is after the last epoch {}", self.epochs)));
        }
        if !(0..=64).contains(&self.crop_padding) {
            return Err(Error::Config(format!("crop padding must be in 0..=64, got {}", self.crop_padding)));
        }
        if self.train_per_class == Some(0) || self.test_per_class == Some(0) {
            return Err(Error::Config("a per-class subset must keep at least 1 example per class".into()));
        }
        self.sgd().check()?;
        self.schedule().check(self.epochs)?;
        Ok(())
    }

    /// Canonical JSON of the configuration (field order fixed by the struct).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| Error::Config(format!("cannot serialize: {e}")))
    }

    /// SHA-256 (hex) of the schema version and the canonical JSON: equal hashes, equal runs.
    pub fn hash(&self) -> Result<String> {
        let json = serde_json::to_string(self).map_err(|e| Error::Config(format!("cannot serialize: {e}")))?;
        Ok(hash::sha256_hex(format!("losscape-train-config/{}\n{json}", Self::SCHEMA_VERSION).as_bytes()))
    }

    /// The names and values of the fields that differ between `self` and `other`, for error
    /// messages ("epochs: 20 -> 30, seed: 0 -> 1").
    pub fn differences(&self, other: &TrainConfig) -> String {
        let (a, b) = (serde_json::to_value(self), serde_json::to_value(other));
        let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) = (a, b) else {
            return "unknown differences".into();
        };
        let diffs: Vec<String> = a
            .iter()
            .filter(|(k, v)| b.get(*k) != Some(v))
            .map(|(k, v)| format!("{k}: {v} -> {}", b.get(k).cloned().unwrap_or(serde_json::Value::Null)))
            .collect();
        if diffs.is_empty() {
            "none".into()
        } else {
            diffs.join(", ")
        }
    }
}

/// Serde through `Display` / `FromStr`, for [`Precision`] (stored as `f32` / `f64`).
mod as_string {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{de, Deserialize, Deserializer, Serializer};

    pub fn serialize<T: Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resnet20() -> ModelSpec {
        "resnet20".parse().unwrap()
    }

    #[test]
    fn presets_are_valid_and_paper_matches_the_original() {
        for p in Preset::ALL {
            p.config(resnet20()).check().unwrap();
            assert_eq!(p.to_string().parse::<Preset>().unwrap(), p);
        }
        let paper = Preset::Paper.config(resnet20());
        assert_eq!((paper.lr, paper.momentum, paper.nesterov, paper.weight_decay), (0.1, 0.9, true, 5e-4));
        assert_eq!((paper.batch_size, paper.epochs), (128, 300));
        let saved = paper.checkpoint_epochs();
        assert_eq!(&saved[..4], &[0, 1, 10, 20]);
        assert!(saved.contains(&275) && saved.contains(&300));
        assert_eq!(saved.len(), 2 + 30 + 2); // 0, 1, 10..=300 by 10, and the decays at 225, 275
        assert!("fast".parse::<Preset>().unwrap_err().to_string().contains("paper, cpu or tiny"));
    }

    #[test]
    fn json_round_trip_and_hash() {
        let c = Preset::Cpu.config(resnet20());
        let back: TrainConfig = serde_json::from_str(&c.to_json().unwrap()).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.hash().unwrap(), c.hash().unwrap());
        let other = TrainConfig { seed: 1, ..c.clone() };
        assert_ne!(other.hash().unwrap(), c.hash().unwrap());
        assert_eq!(c.differences(&other), "seed: 0 -> 1");
    }

    #[test]
    fn rejects_bad_configs() {
        let ok = Preset::Tiny.config(resnet20());
        let bad = [
            TrainConfig { epochs: 0, ..ok.clone() },
            TrainConfig { batch_size: 1, ..ok.clone() },
            TrainConfig { save_every: 0, ..ok.clone() },
            TrainConfig { save_epochs: vec![9], ..ok.clone() },
            TrainConfig { lr: -1.0, ..ok.clone() },
            TrainConfig { lr_decay_epochs: vec![3], ..ok.clone() },
            TrainConfig { nesterov: true, momentum: 0.0, ..ok.clone() },
            TrainConfig { train_per_class: Some(0), ..ok.clone() },
            TrainConfig { crop_padding: -1, ..ok.clone() },
        ];
        for c in bad {
            assert!(c.check().is_err(), "{c:?}");
        }
    }
}
