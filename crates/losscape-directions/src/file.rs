//! Direction files: one or two directions in a safetensors file (tensors named `d1/<name>`,
//! `d2/<name>`), with how they were made and the hash of the checkpoint they belong to in the
//! metadata (key `losscape`, JSON). Readable from Python's safetensors package.

use std::collections::BTreeMap;
use std::path::Path;

use losscape_models::{checkpoint, Model};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind};

use crate::direction::Direction;
use crate::error::{Error, Result};
use crate::options::{RandomSpec, Scope};

/// The `format` value of direction files.
pub const FORMAT: &str = "losscape-directions";
/// The version of the direction file layout.
pub const VERSION: u32 = 1;
const META_KEY: &str = "losscape";

/// How a set of directions was made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// Seeded random directions; `specs[k]` made direction k.
    Random { specs: Vec<RandomSpec> },
    /// Model-to-model directions (`target - base` per direction, listed by checkpoint hash).
    Target { targets: Vec<String> },
    /// Principal directions of an optimization path.
    Pca { explained_variance_ratio: Vec<f64> },
    /// Anything else, described in words.
    Other { description: String },
}

/// Metadata stored with a set of directions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DirectionMeta {
    pub format: String,
    pub version: u32,
    /// The scope all directions share.
    pub scope: Scope,
    /// The model spec of the checkpoint the directions were made for.
    pub model_spec: String,
    /// SHA-256 of the base checkpoint's file (empty if not made from a file).
    pub checkpoint_hash: String,
    /// Whether direction 2 was orthogonalized against direction 1.
    pub orthogonalized: bool,
    pub origin: Origin,
    /// Whether surfaces along these directions must evaluate batch normalization with each
    /// batch's own statistics: set for model-to-model directions between models whose BN running
    /// statistics cannot be moved (TorchScript modules with `--bn batch`). Absent when false, so
    /// files without it read as before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub batch_stats: bool,
}

/// One or two directions with their metadata.
#[derive(Clone, Debug)]
pub struct DirectionSet {
    pub directions: Vec<Direction>,
    pub meta: DirectionMeta,
}

impl DirectionSet {
    /// Seeded random directions for `model`: direction k (0-based) uses `spec` with the seed
    /// `spec.seed + k`, so a 1D direction of seed s is the first direction of the 2D set of seed s.
    pub fn random(model: &dyn Model, spec: &RandomSpec, count: usize, checkpoint_hash: &str) -> Result<Self> {
        if !(1..=2).contains(&count) {
            return Err(Error::Invalid(format!("a direction set holds 1 or 2 directions, not {count}")));
        }
        let specs: Vec<RandomSpec> = (0..count as u64).map(|k| RandomSpec { seed: spec.seed + k, ..*spec }).collect();
        let directions = specs.iter().map(|s| Direction::random(model, s)).collect::<Result<Vec<_>>>()?;
        Ok(Self {
            directions,
            meta: DirectionMeta {
                format: FORMAT.into(),
                version: VERSION,
                scope: spec.scope,
                model_spec: model.spec(),
                checkpoint_hash: checkpoint_hash.into(),
                orthogonalized: false,
                origin: Origin::Random { specs },
                batch_stats: false,
            },
        })
    }

    /// Wraps directions made elsewhere (target, PCA, ...).
    pub fn new(directions: Vec<Direction>, model_spec: String, checkpoint_hash: String, origin: Origin) -> Result<Self> {
        let scope = match directions.first() {
            Some(d) => d.scope,
            None => return Err(Error::Invalid("a direction set needs at least one direction".into())),
        };
        if directions.len() > 2 || directions.iter().any(|d| d.scope != scope) {
            return Err(Error::Invalid("a direction set holds 1 or 2 directions of one scope".into()));
        }
        Ok(Self {
            directions,
            meta: DirectionMeta {
                format: FORMAT.into(),
                version: VERSION,
                scope,
                model_spec,
                checkpoint_hash,
                orthogonalized: false,
                origin,
                batch_stats: false,
            },
        })
    }

    /// Orthogonalizes direction 2 against direction 1 (no-op for a single direction).
    pub fn orthogonalize(&mut self) -> Result<()> {
        if let [d1, d2] = self.directions.as_mut_slice() {
            d2.orthogonalize_against(d1)?;
            self.meta.orthogonalized = true;
        }
        Ok(())
    }

    /// Writes the set atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut tensors = Vec::new();
        for (k, d) in self.directions.iter().enumerate() {
            for (name, t) in &d.tensors {
                tensors.push((format!("d{}/{name}", k + 1), t.f_to_device(Device::Cpu)?));
            }
        }
        let json = serde_json::to_string(&self.meta).map_err(|e| Error::Invalid(e.to_string()))?;
        let metadata = BTreeMap::from([(META_KEY.to_owned(), json)]);
        checkpoint::save_tensors(&tensors, &metadata, path)?;
        Ok(())
    }

    /// Reads a set; tensors stay on the CPU in their stored kind (see [`DirectionSet::to`]).
    pub fn load(path: &Path) -> Result<Self> {
        let format_err = |message: String| Error::Format { path: path.to_path_buf(), message };
        let (tensors, metadata) = checkpoint::read_tensor_file(path)?;
        if let Some(format) = metadata.get("format").filter(|f| *f != FORMAT) {
            return Err(format_err(format!("not a losscape direction file (this is a '{format}' file)")));
        }
        let json = metadata
            .get(META_KEY)
            .ok_or_else(|| format_err("not a losscape direction file (no losscape metadata)".into()))?;
        let meta: DirectionMeta =
            serde_json::from_str(json).map_err(|e| format_err(format!("bad direction metadata: {e}")))?;
        if meta.format != FORMAT {
            return Err(format_err(format!("this is a '{}' file, not a direction file", meta.format)));
        }
        if meta.version != VERSION {
            return Err(format_err(format!("direction file version {} is not supported (expected {VERSION})", meta.version)));
        }
        let mut directions: Vec<Direction> = Vec::new();
        for (full, t) in tensors {
            let (prefix, name) = full
                .split_once('/')
                .ok_or_else(|| format_err(format!("tensor '{full}' is not named d<k>/<name>")))?;
            let k: usize = prefix
                .strip_prefix('d')
                .and_then(|k| k.parse().ok())
                .filter(|k| *k >= 1)
                .ok_or_else(|| format_err(format!("tensor '{full}' is not named d<k>/<name>")))?;
            while directions.len() < k {
                directions.push(Direction { scope: meta.scope, tensors: Vec::new() });
            }
            directions[k - 1].tensors.push((name.to_owned(), t));
        }
        if directions.is_empty() || directions.iter().any(|d| d.tensors.is_empty()) {
            return Err(format_err("the file holds no complete direction".into()));
        }
        for (k, d) in directions.iter().enumerate() {
            let named = d.tensors.iter().map(|(n, t)| (n.as_str(), t));
            if let Some((name, count)) = checkpoint::first_non_finite(named)? {
                return Err(format_err(format!(
                    "direction {} holds {count} NaN or infinite value(s) in tensor '{name}'; refusing to use it",
                    k + 1
                )));
            }
        }
        Ok(Self { directions, meta })
    }

    /// Checks that every direction fits `model` (names, shapes, scope).
    pub fn check_fits(&self, model: &dyn Model) -> Result<()> {
        for d in &self.directions {
            d.check_fits(model)?;
        }
        Ok(())
    }

    /// The directions moved to `device` and converted to `kind`.
    pub fn to(&self, device: Device, kind: Kind) -> Result<Vec<Direction>> {
        self.directions.iter().map(|d| d.to(device, kind)).collect()
    }

    /// SHA-256 over all direction tensors (names, shapes, values): what surfaces record.
    pub fn hash(&self) -> Result<String> {
        let mut h = losscape_core::hash::TensorHasher::new();
        for (k, d) in self.directions.iter().enumerate() {
            for (name, t) in &d.tensors {
                h.update(&format!("d{}/{name}", k + 1), t)?;
            }
        }
        Ok(h.finish())
    }
}
