//! The two streaming passes over a path's checkpoints, tensor by tensor and slice by slice, so
//! that the `checkpoints x parameters` matrix of rows `theta_i - theta_final` is never held:
//!
//! 1. [`Streamer::gram`] accumulates the `n x n` Gram matrix `G = R R^T` of the rows and the dot
//!    products `R D^T` of the rows with a few given directions (the random baselines);
//! 2. [`Streamer::combine`] forms directions `sum_i c_i (theta_i - theta_final)` from coefficient
//!    vectors (the principal directions, the init direction).
//!
//! Each step reads one slice of one tensor from every checkpoint into an `n x len` block in f64,
//! with `len = max(1, chunk_elements / n)` (a tensor smaller than that is read whole). Memory is
//! therefore bounded by `chunk_elements` f64 values for the block plus the `n x n` Gram matrix
//! (and the directions being formed in pass 2), whatever the number of checkpoints or the size of
//! the model; [`StreamStats::peak_block_elements`] records the largest block.

use losscape_core::Progress;
use losscape_directions::{in_scope, Direction, Ignore, Scope};
use losscape_models::Model;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use losscape_models::tensor_file::TensorFile;

/// One model tensor of the rows: its name and shape, and whether it is read (`active`) or is
/// zero in every row (a tensor of dim <= 1 under [`Ignore::BiasBn`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Slot {
    /// Canonical tensor name.
    pub name: String,
    /// Shape in the model.
    pub shape: Vec<i64>,
    /// Number of elements.
    pub numel: usize,
    /// Whether the rows hold this tensor's differences (else zeros).
    pub active: bool,
}

/// The tensors a path's rows cover, in the model's canonical order: those of `scope`, with the
/// tensors of dim <= 1 zeroed under [`Ignore::BiasBn`] (as the original masks its difference
/// vectors before PCA).
#[derive(Clone, Debug, PartialEq)]
pub struct StreamLayout {
    /// The tensors, in canonical order.
    pub slots: Vec<Slot>,
    /// The scope the slots come from.
    pub scope: Scope,
    /// Every tensor name of the model (all roles): a checkpoint must hold exactly these.
    pub model_tensors: Vec<String>,
    /// The model's spec, for messages.
    pub model_spec: String,
}

impl StreamLayout {
    /// The layout of `model`'s tensors for a scope and an ignore rule.
    pub fn new(model: &dyn Model, scope: Scope, ignore: Ignore) -> Result<Self> {
        let all = model.named_tensors();
        let model_tensors = all.iter().map(|t| t.name.clone()).collect();
        let slots: Vec<Slot> = all
            .into_iter()
            .filter(|t| in_scope(t.role, scope))
            .map(|t| {
                let shape = t.tensor.size();
                let active = !(ignore == Ignore::BiasBn && shape.len() <= 1);
                Slot { name: t.name, numel: t.tensor.numel(), shape, active }
            })
            .collect();
        if !slots.iter().any(|s| s.active && s.numel > 0) {
            return Err(Error::Invalid(format!(
                "model {} has no tensors to analyse in scope {scope} with ignore {ignore}",
                model.spec()
            )));
        }
        Ok(Self { slots, scope, model_tensors, model_spec: model.spec() })
    }

    /// Number of entries of one row (elements of the active tensors).
    pub fn active_elements(&self) -> usize {
        self.slots.iter().filter(|s| s.active).map(|s| s.numel).sum()
    }

    /// Checks that a direction covers exactly these tensors (names and shapes, in order).
    pub fn check_direction(&self, d: &Direction) -> Result<()> {
        let fits = d.tensors.len() == self.slots.len()
            && d.tensors.iter().zip(&self.slots).all(|((n, t), s)| n == &s.name && t.size() == s.shape);
        if fits {
            Ok(())
        } else {
            Err(Error::Invalid("a direction does not cover the tensors of the path's layout".into()))
        }
    }
}

/// Counters of a streaming pass, to show what it read and how much it held at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamStats {
    /// Passes over the checkpoints made.
    pub passes: u32,
    /// `n x len` blocks read (over all passes).
    pub blocks: u64,
    /// The largest block in elements (`n * len`), the f64 working set of a pass.
    pub peak_block_elements: u64,
    /// Bytes of tensor data read from checkpoint files (over all passes).
    pub bytes_read: u64,
}

/// Reads the rows `theta_i - theta_final` of a path block by block.
pub struct Streamer<'a> {
    files: Vec<TensorFile>,
    layout: &'a StreamLayout,
    chunk_elements: usize,
    stats: StreamStats,
}

impl<'a> Streamer<'a> {
    /// Opens the checkpoints (headers only; the last is the final model) and checks that each
    /// holds every tensor of `layout` with the same shape and a floating-point kind.
    pub fn new(paths: &[&std::path::Path], layout: &'a StreamLayout, chunk_elements: usize) -> Result<Self> {
        if chunk_elements == 0 {
            return Err(Error::Invalid("the chunk size must be at least one element".into()));
        }
        if paths.is_empty() {
            return Err(Error::Invalid("no checkpoints to read".into()));
        }
        let files = paths.iter().map(|p| TensorFile::open(p)).collect::<losscape_models::Result<Vec<_>>>()?;
        let known: std::collections::HashSet<&str> = layout.model_tensors.iter().map(String::as_str).collect();
        for file in &files {
            if let Some(extra) = file.names().find(|n| !known.contains(n)) {
                return Err(Error::mismatch(
                    file.path(),
                    format!("has tensor '{extra}' that model {} does not have (another architecture?)", layout.model_spec),
                ));
            }
            for slot in &layout.slots {
                let entry = file.entry(&slot.name).ok_or_else(|| {
                    Error::mismatch(file.path(), format!("has no tensor '{}' (shape {:?})", slot.name, slot.shape))
                })?;
                if entry.shape != slot.shape {
                    return Err(Error::mismatch(
                        file.path(),
                        format!("tensor '{}' has shape {:?} where the model has {:?}", slot.name, entry.shape, slot.shape),
                    ));
                }
                if !matches!(entry.kind, Kind::Half | Kind::BFloat16 | Kind::Float | Kind::Double) {
                    return Err(Error::mismatch(
                        file.path(),
                        format!("tensor '{}' is {:?}, not floating point", slot.name, entry.kind),
                    ));
                }
            }
        }
        Ok(Self { files, layout, chunk_elements, stats: StreamStats::default() })
    }

    /// Number of checkpoints (rows).
    pub fn rows(&self) -> usize {
        self.files.len()
    }

    /// What the passes so far read and held.
    pub fn stats(&self) -> StreamStats {
        self.stats
    }

    /// Elements per slice of a tensor: `chunk_elements / rows`, at least one.
    pub fn slice_len(&self) -> usize {
        (self.chunk_elements / self.rows()).max(1)
    }

    /// The `(slot, start, len)` slices of one pass, in order.
    fn slices(&self) -> Vec<(usize, usize, usize)> {
        let step = self.slice_len();
        let mut out = Vec::new();
        for (k, slot) in self.layout.slots.iter().enumerate().filter(|(_, s)| s.active) {
            let mut start = 0;
            while start < slot.numel {
                let len = step.min(slot.numel - start);
                out.push((k, start, len));
                start += len;
            }
        }
        out
    }

    /// The `rows x len` f64 block of elements `start..start+len` of tensor `slot`, each row minus
    /// the final checkpoint's row (so the last row is zero).
    fn block(&mut self, slot: usize, start: usize, len: usize) -> Result<Tensor> {
        let name = &self.layout.slots[slot].name;
        let n = self.rows();
        let last = self.files[n - 1].read_range(name, start, len)?;
        let final_row = last.f_to_kind(Kind::Double)?;
        let block = Tensor::f_zeros([n as i64, len as i64], (Kind::Double, Device::Cpu))?;
        for (i, file) in self.files.iter().enumerate() {
            let row = if i == n - 1 { last.shallow_clone() } else { file.read_range(name, start, len)? };
            self.stats.bytes_read += (len * row.kind().elt_size_in_bytes()) as u64;
            let mut target = block.f_get(i as i64)?;
            target.f_copy_(&row)?;
            let _ = target.f_sub_(&final_row)?;
        }
        self.stats.blocks += 1;
        self.stats.peak_block_elements = self.stats.peak_block_elements.max((n * len) as u64);
        Ok(block)
    }

    /// Pass 1: the Gram matrix `G[i][j] = <r_i, r_j>` (`rows x rows`) and the dot products
    /// `D[i][k] = <r_i, directions[k]>` (`rows x directions`), both f64, where
    /// `r_i = theta_i - theta_final` over the active tensors.
    pub fn gram(&mut self, directions: &[&Direction], progress: &dyn Progress) -> Result<(Tensor, Tensor)> {
        for d in directions {
            self.layout.check_direction(d)?;
        }
        let n = self.rows() as i64;
        let cpu = (Kind::Double, Device::Cpu);
        let mut gram = Tensor::f_zeros([n, n], cpu)?;
        let mut dots = Tensor::f_zeros([n, directions.len() as i64], cpu)?;
        let slices = self.slices();
        progress.begin("gram", slices.len() as u64);
        for (slot, start, len) in slices {
            let block = self.block(slot, start, len)?;
            gram = gram.f_add(&block.f_mm(&block.f_tr()?)?)?;
            if !directions.is_empty() {
                let rows = directions
                    .iter()
                    .map(|d| {
                        let t = &d.tensors[slot].1;
                        t.f_to_device(Device::Cpu)?
                            .f_reshape([-1])?
                            .f_narrow(0, start as i64, len as i64)?
                            .f_to_kind(Kind::Double)
                    })
                    .collect::<Result<Vec<_>, tch::TchError>>()?;
                let d = Tensor::f_stack(&rows, 0)?;
                dots = dots.f_add(&block.f_mm(&d.f_tr()?)?)?;
            }
            progress.advance(1);
        }
        progress.end();
        self.stats.passes += 1;
        Ok((gram, dots))
    }

    /// Pass 2: for each row `c` of `coefficients` (`m x rows`, f64), the direction
    /// `sum_i c[i] r_i`, as f64 CPU tensors shaped like the model's (zero on inactive tensors).
    pub fn combine(&mut self, coefficients: &Tensor, progress: &dyn Progress) -> Result<Vec<Direction>> {
        let size = coefficients.size();
        if size.len() != 2 || size[1] != self.rows() as i64 {
            return Err(Error::Invalid(format!(
                "coefficients of shape {size:?} do not fit {} checkpoints",
                self.rows()
            )));
        }
        let coefficients = coefficients.f_to_kind(Kind::Double)?.f_to_device(Device::Cpu)?;
        let m = size[0] as usize;
        let cpu = (Kind::Double, Device::Cpu);
        let mut out: Vec<Vec<Tensor>> = (0..m)
            .map(|_| self.layout.slots.iter().map(|s| Tensor::f_zeros([s.numel as i64], cpu)).collect())
            .collect::<Result<_, tch::TchError>>()?;
        let slices = self.slices();
        progress.begin("directions", slices.len() as u64);
        for (slot, start, len) in slices {
            let block = self.block(slot, start, len)?;
            let combined = coefficients.f_mm(&block)?;
            for (j, tensors) in out.iter_mut().enumerate() {
                tensors[slot].f_narrow(0, start as i64, len as i64)?.f_copy_(&combined.f_get(j as i64)?)?;
            }
            progress.advance(1);
        }
        progress.end();
        self.stats.passes += 1;
        out.into_iter()
            .map(|tensors| {
                let tensors = tensors
                    .into_iter()
                    .zip(&self.layout.slots)
                    .map(|(t, s)| Ok((s.name.clone(), t.f_reshape(s.shape.as_slice())?)))
                    .collect::<Result<Vec<_>>>()?;
                Ok(Direction { scope: self.layout.scope, tensors })
            })
            .collect()
    }
}
