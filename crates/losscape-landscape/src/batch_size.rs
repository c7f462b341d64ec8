//! Batches sized to a GPU's free memory: when a loss surface runs on CUDA and no batch size was
//! asked for, the batch is the largest power of two whose activations fit in half of the
//! device's free memory (queried through the CUDA runtime's `cudaMemGetInfo`,
//! `losscape_core::cuda::gpu_memory`, after the model and the data are on the device), at most
//! [`MAX_BATCH`].
//!
//! An image's activation memory is estimated from the inference plan's layer shapes
//! (`FastForward::largest_activation`): [`LIVE_ACTIVATIONS`] tensors of the largest layer output
//! (a residual block holds its input, its branch's two outputs and a shortcut's), times the
//! element size, times the grid points per forward pass. Half of the free memory leaves room for
//! libtorch's workspaces and the caching allocator's rounding. Powers of two keep the batch the
//! same from one run to the next on one GPU (the surface header records it, and a resumed file
//! must be computed with its recorded batch: [`PreparedSurface::fit_batch_to_memory`] takes it
//! from the file when there is one).

use std::path::Path;

use losscape_models::Model;
use tch::Device;

use crate::error::{Error, Result};
use crate::evaluate::CUDA_BATCH_SIZE;
use crate::fast::{FastForward, Layout};
use crate::job::PreparedSurface;
use crate::surface::Surface;

/// The share of the free memory the activations of one batch may use.
pub const MEMORY_FRACTION: f64 = 0.5;
/// The largest batch chosen from memory (beyond it a GPU is busy anyway, and the last batch of a
/// split would be mostly empty).
pub const MAX_BATCH: usize = 8192;
/// Activation tensors of the largest size alive at once per image.
pub const LIVE_ACTIVATIONS: u64 = 4;

/// The batch for `free_bytes` of free device memory and `per_image_bytes` of activations per
/// image: the largest power of two not above `MEMORY_FRACTION * free_bytes / per_image_bytes`
/// nor [`MAX_BATCH`]. Errors when not one image fits.
pub fn batch_for_memory(free_bytes: u64, per_image_bytes: u64) -> Result<usize> {
    if per_image_bytes == 0 {
        return Err(Error::Invalid("an image's activation memory must be positive".into()));
    }
    let budget = (free_bytes as f64 * MEMORY_FRACTION) as u64;
    let fit = (budget / per_image_bytes).min(MAX_BATCH as u64) as usize;
    if fit == 0 {
        return Err(Error::Invalid(format!(
            "{free_bytes} bytes of free device memory cannot hold the activations of one image ({per_image_bytes} bytes) in {}% of it",
            MEMORY_FRACTION * 100.0
        )));
    }
    Ok(1 << fit.ilog2())
}

/// The activation bytes of one image of shape `[C, H, W]` in `model`'s inference plan with
/// `points_per_pass` grid points per pass; `None` for a model without a plan.
pub fn activation_bytes_per_image(model: &dyn Model, image: [i64; 3], points_per_pass: usize) -> Result<Option<u64>> {
    let Some(plan) = FastForward::new(model, Layout::ChannelsLast) else { return Ok(None) };
    let elems = plan.largest_activation(image)? as u64;
    let elem_bytes = model.kind().elt_size_in_bytes() as u64;
    Ok(Some(LIVE_ACTIVATIONS * elems * elem_bytes * points_per_pass.max(1) as u64))
}

impl PreparedSurface {
    /// On a CUDA device, sizes the evaluator's batch (and the header's record of it) to the
    /// device's free memory for `points_per_pass` grid points per pass (see the module docs); a
    /// surface file at `resumed` keeps the batch it records. Call it only when no batch size was
    /// asked for. Returns what was chosen and why, for the user; `None` (nothing changed) on the
    /// CPU, for a model without an inference plan, or when the memory cannot be queried (then
    /// the default [`CUDA_BATCH_SIZE`] stays).
    pub fn fit_batch_to_memory(&mut self, points_per_pass: usize, resumed: Option<&Path>) -> Result<Option<String>> {
        let Device::Cuda(index) = self.model.device() else { return Ok(None) };
        if let Some(path) = resumed.filter(|p| p.exists()) {
            let recorded = Surface::load(path)?.header().batch_size;
            self.set_batch(recorded);
            return Ok(Some(format!("batch size {recorded}, as recorded in {}", path.display())));
        }
        let Some(data) = self.train.as_ref().or(self.test.as_ref()) else { return Ok(None) };
        let size = data.images.size();
        let &[_, c, h, w] = size.as_slice() else { return Ok(None) };
        let Some(per_image) = activation_bytes_per_image(self.model.as_ref(), [c, h, w], points_per_pass)? else {
            return Ok(None);
        };
        let Some((free, total)) = losscape_core::cuda::gpu_memory(index) else {
            return Ok(Some(format!("batch size {CUDA_BATCH_SIZE}: the free memory of cuda:{index} cannot be queried")));
        };
        let batch = batch_for_memory(free, per_image)?;
        self.set_batch(batch);
        Ok(Some(format!(
            "batch size {batch} from cuda:{index}'s free memory ({:.1} of {:.1} GiB free, about {:.0} KiB of activations per image)",
            free as f64 / (1u64 << 30) as f64,
            total as f64 / (1u64 << 30) as f64,
            per_image as f64 / 1024.0
        )))
    }

    fn set_batch(&mut self, batch: usize) {
        self.evaluator.batch_size = batch;
        self.header.batch_size = batch;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batch_is_the_largest_power_of_two_that_fits_half_the_free_memory() {
        const MIB: u64 = 1 << 20;
        // 1 GiB free, 1 MiB per image: 512 images fit in half.
        assert_eq!(batch_for_memory(1 << 30, MIB).unwrap(), 512);
        // 10 MiB free: 5 fit in half, rounded down to 4.
        assert_eq!(batch_for_memory(10 * MIB, MIB).unwrap(), 4);
        assert_eq!(batch_for_memory(3 * MIB, MIB).unwrap(), 1);
        // An H100's 80 GB and ResNet-56's 256 KiB per image: capped.
        assert_eq!(batch_for_memory(80_000_000_000, 4 * 16 * 32 * 32 * 4).unwrap(), MAX_BATCH);
        assert!(batch_for_memory(MIB, 2 * MIB).is_err());
        assert!(batch_for_memory(MIB, 0).is_err());
    }

    #[test]
    fn activation_bytes_follow_the_plan_the_kind_and_the_points_per_pass() {
        let spec: losscape_models::ModelSpec = "resnet20".parse().unwrap();
        let build = |p| losscape_models::build(&losscape_models::BuildSpec { precision: p, ..losscape_models::BuildSpec::new(spec) }, Device::Cpu, 0).unwrap();
        let f32_model = build(losscape_core::Precision::F32);
        let one = activation_bytes_per_image(f32_model.as_ref(), [3, 32, 32], 1).unwrap().unwrap();
        assert_eq!(one, LIVE_ACTIVATIONS * 16 * 32 * 32 * 4);
        let four = activation_bytes_per_image(f32_model.as_ref(), [3, 32, 32], 4).unwrap().unwrap();
        assert_eq!(four, 4 * one);
        // f64 models have no plan: no estimate, the default batch stays.
        let f64_model = build(losscape_core::Precision::F64);
        assert_eq!(activation_bytes_per_image(f64_model.as_ref(), [3, 32, 32], 1).unwrap(), None);
    }
}
