//! GPU checks, compiled only with the `cuda` feature (they need a CUDA build of libtorch and a
//! GPU): the fast path on CUDA gives the CPU's plain losses, a grid point there moves the
//! loss like on the CPU, several points per pass give each point's own loss, and the free memory
//! is queried and gives a batch. Unverified on this project's CI, which has no GPU.

#![cfg(feature = "cuda")]

mod common;

use common::nets::{data, rel, trained_like};
use losscape_landscape::{EvalPath, Evaluator, LossKind};
use losscape_core::Precision;
use losscape_models::{checkpoint, CheckpointMeta, Model};
use tch::{Device, Kind};

/// The model (through a checkpoint) and data on the first GPU (the test fails without one: the
/// feature promises it).
fn on_gpu(model: &dyn Model) -> (Box<dyn Model>, losscape_data::Dataset) {
    // The CUDA kernels are loaded at run time (docs/gpu.md), before libtorch is asked for GPUs.
    if let Err(e) = losscape_core::cuda::ensure_cuda() {
        panic!("the cuda feature needs a CUDA libtorch: {e}");
    }
    assert!(tch::Cuda::is_available(), "the cuda feature needs a GPU that libtorch can see");
    let device = Device::Cuda(0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let meta = CheckpointMeta::new(&model.spec().parse().unwrap(), 3, 10, [32, 32], Precision::F32);
    checkpoint::save(model, &meta, &path).unwrap();
    let (gpu, _) = checkpoint::load(&path, device).unwrap();
    (gpu, data(200, 32, Kind::Float).to_device(device).unwrap())
}

#[test]
fn fast_path_on_cuda_equals_the_cpu_plain_forward() {
    for spec in ["resnet20", "resnet20-noshort"] {
        let cpu_model = trained_like(spec, 32, Kind::Float);
        let cpu_data = data(200, 32, Kind::Float);
        let cpu = Evaluator { batch_size: 64, loss: LossKind::CrossEntropy };
        let expected = cpu.evaluate_with(cpu_model.as_ref(), &cpu_data, EvalPath::Plain).unwrap();
        let (gpu_model, gpu_data) = on_gpu(cpu_model.as_ref());
        assert_eq!(gpu_model.device(), Device::Cuda(0));
        let gpu = Evaluator::new(Device::Cuda(0), LossKind::CrossEntropy);
        for path in [EvalPath::Auto, EvalPath::Plain] {
            let got = gpu.evaluate_with(gpu_model.as_ref(), &gpu_data, path).unwrap();
            // cuDNN may use TF32 or other algorithms than the CPU: a looser bound than on the CPU.
            assert!(rel(got.loss, expected.loss) <= 1e-3, "{spec} {path:?}: {} vs {}", got.loss, expected.loss);
        }
    }
}

#[test]
fn grouped_points_on_cuda_equal_one_at_a_time_and_the_memory_gives_a_batch() {
    use losscape_landscape::batch_size::{activation_bytes_per_image, batch_for_memory};
    use losscape_landscape::grouped::evaluate_grouped;
    use losscape_landscape::{FastForward, Layout};
    use losscape_models::inference::GroupedForward;

    let cpu_model = trained_like("resnet20", 32, Kind::Float);
    let (gpu_model, gpu_data) = on_gpu(cpu_model.as_ref());
    let evaluator = Evaluator::new(Device::Cuda(0), LossKind::CrossEntropy);
    let single = evaluator.evaluate_with(gpu_model.as_ref(), &gpu_data, EvalPath::Folded(Layout::ChannelsLast)).unwrap();
    let plan = FastForward::new(gpu_model.as_ref(), Layout::ChannelsLast).unwrap();
    let parts: Vec<_> = (0..4).map(|_| plan.fold_owned().unwrap()).collect();
    let grouped = GroupedForward::stack(&parts).unwrap();
    let values = evaluate_grouped(&evaluator, Kind::Float, &grouped, &[&gpu_data]).unwrap();
    for v in &values {
        assert!(rel(v[0], single.loss) <= 1e-5, "{} vs {}", v[0], single.loss);
    }

    let (free, total) = losscape_core::cuda::gpu_memory(0).expect("cudaMemGetInfo answers once the kernels are loaded");
    assert!(free > 0 && free <= total);
    let per_image = activation_bytes_per_image(gpu_model.as_ref(), [3, 32, 32], 4).unwrap().unwrap();
    assert!(batch_for_memory(free, per_image).unwrap() >= 1);
}
