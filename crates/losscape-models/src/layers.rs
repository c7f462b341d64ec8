//! The building blocks of the built-in networks: convolution, batch normalization and linear
//! layers over plain tensors, the seeded initialization of the original code, and the
//! [`Network`] wrapper that gives every architecture the same [`Model`] implementation.
//!
//! Tensors are created in construction order and registered under their canonical name in the
//! same step, so the canonical order is the order of construction (PyTorch `state_dict` order).

use tch::{Device, Kind, Tensor};

use losscape_data::rng::{derive_seed, SplitMix64};

use crate::error::{Error, Result};
use crate::inference::{AffineBn, Bn, FastForward, Graph, Layout};
use crate::model::{Model, NamedTensor};
use crate::role::Role;
use crate::spec::ModelSpec;

/// Batch-norm momentum for the running statistics (PyTorch's default).
pub const BN_MOMENTUM: f64 = 0.1;
/// Batch-norm epsilon (PyTorch's default).
pub const BN_EPS: f64 = 1e-5;
/// Standard deviation of the normal initialization of Linear weights (the original's `init_params`).
pub const LINEAR_INIT_STD: f64 = 1e-3;

/// How the tensors of a new network are filled.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Init {
    /// The original initialization, drawn from SplitMix64 streams derived from this seed.
    Seeded(u64),
    /// Zeros (running variance 1): for networks whose values are loaded right after.
    Blank,
}

/// Registers tensors in canonical order while a network is constructed.
pub(crate) struct Builder {
    entries: Vec<(String, Role, Tensor)>,
    kind: Kind,
    device: Device,
    init: Init,
}

/// How one tensor's initial values are drawn.
enum Fill {
    Normal(f64),
    Constant(f64),
}

impl Builder {
    pub(crate) fn new(kind: Kind, device: Device, init: Init) -> Self {
        Self {
            entries: Vec::new(),
            kind,
            device,
            init,
        }
    }

    /// Creates and registers one floating-point tensor.
    fn add(&mut self, name: &str, role: Role, shape: &[i64], fill: Fill) -> Result<Tensor> {
        if self.entries.iter().any(|(n, _, _)| n == name) {
            return Err(Error::Invalid(format!("duplicate tensor name '{name}'")));
        }
        let index = self.entries.len() as u64;
        let numel: i64 = shape.iter().product();
        let options = (self.kind, self.device);
        let tensor = match (fill, self.init) {
            (Fill::Normal(std), Init::Seeded(seed)) => {
                // Drawn in f64 on the host, then rounded to the model's kind: the same seed gives
                // the same weights on every device, and f32 weights are the f64 ones rounded.
                let values = normal_values(derive_seed(seed, index), numel as usize, std);
                Tensor::f_from_slice(&values)?
                    .f_reshape(shape)?
                    .f_to_kind(self.kind)?
                    .f_to_device(self.device)?
            }
            (Fill::Normal(_), Init::Blank) => Tensor::f_zeros(shape, options)?,
            (Fill::Constant(value), _) => Tensor::f_full(shape, value, options)?,
        };
        let tensor = if role.is_parameter() {
            tensor.f_set_requires_grad(true)?
        } else {
            tensor
        };
        self.entries.push((name.to_string(), role, tensor.shallow_clone()));
        Ok(tensor)
    }

    /// A convolution `[out, in, k, k]` (Kaiming-normal, fan-in) with an optional zero bias.
    pub(crate) fn conv(&mut self, name: &str, cin: i64, cout: i64, k: i64, stride: i64, bias: bool) -> Result<Conv2d> {
        let std = (2.0 / (cin * k * k) as f64).sqrt();
        let weight = self.add(
            &format!("{name}.weight"),
            Role::ConvWeight,
            &[cout, cin, k, k],
            Fill::Normal(std),
        )?;
        let bias = if bias {
            Some(self.add(&format!("{name}.bias"), Role::Bias, &[cout], Fill::Constant(0.0))?)
        } else {
            None
        };
        Ok(Conv2d {
            weight,
            bias,
            stride,
            padding: k / 2,
        })
    }

    /// Batch normalization over `channels` (gamma 1, beta 0, mean 0, variance 1, counter 0).
    pub(crate) fn batch_norm(&mut self, name: &str, channels: i64) -> Result<BatchNorm> {
        let weight = self.add(
            &format!("{name}.weight"),
            Role::BnWeight,
            &[channels],
            Fill::Constant(1.0),
        )?;
        let bias = self.add(&format!("{name}.bias"), Role::BnBias, &[channels], Fill::Constant(0.0))?;
        let running_mean = self.add(
            &format!("{name}.running_mean"),
            Role::BnRunningMean,
            &[channels],
            Fill::Constant(0.0),
        )?;
        let running_var = self.add(
            &format!("{name}.running_var"),
            Role::BnRunningVar,
            &[channels],
            Fill::Constant(1.0),
        )?;
        let counter_name = format!("{name}.num_batches_tracked");
        let num_batches_tracked = Tensor::f_zeros([], (Kind::Int64, self.device))?;
        self.entries.push((
            counter_name,
            Role::BnNumBatchesTracked,
            num_batches_tracked.shallow_clone(),
        ));
        Ok(BatchNorm {
            weight,
            bias,
            running_mean,
            running_var,
            num_batches_tracked,
        })
    }

    /// A fully connected layer `[out, in]` (normal with std 1e-3) with a zero bias.
    pub(crate) fn linear(&mut self, name: &str, inputs: i64, outputs: i64) -> Result<Linear> {
        let weight = self.add(
            &format!("{name}.weight"),
            Role::LinearWeight,
            &[outputs, inputs],
            Fill::Normal(LINEAR_INIT_STD),
        )?;
        let bias = self.add(&format!("{name}.bias"), Role::Bias, &[outputs], Fill::Constant(0.0))?;
        Ok(Linear { weight, bias })
    }

    /// The registered tensors, in canonical order.
    pub(crate) fn finish(self) -> Vec<(String, Role, Tensor)> {
        self.entries
    }
}

/// `n` normal values with standard deviation `std` from a SplitMix64 stream (Box-Muller, both
/// outputs of each pair used in turn).
pub(crate) fn normal_values(seed: u64, n: usize, std: f64) -> Vec<f64> {
    let mut rng = SplitMix64::new(seed);
    let mut values = Vec::with_capacity(n);
    while values.len() < n {
        let u1 = 1.0 - rng.next_f64(); // in (0, 1], so the logarithm is finite
        let u2 = rng.next_f64();
        let radius = (-2.0 * u1.ln()).sqrt();
        let angle = 2.0 * std::f64::consts::PI * u2;
        values.push(std * radius * angle.cos());
        if values.len() < n {
            values.push(std * radius * angle.sin());
        }
    }
    values
}

/// A 2D convolution with "same" padding for odd kernels.
pub(crate) struct Conv2d {
    weight: Tensor,
    bias: Option<Tensor>,
    stride: i64,
    padding: i64,
}

impl Conv2d {
    /// This convolution followed by `bn`, for the inference plan.
    pub(crate) fn then_bn(&self, bn: &BatchNorm) -> AffineBn {
        AffineBn {
            weight: self.weight.shallow_clone(),
            bias: self.bias.as_ref().map(Tensor::shallow_clone),
            bn: bn.plan(),
            stride: self.stride,
            padding: self.padding,
        }
    }

    pub(crate) fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let s = self.stride;
        let p = self.padding;
        Ok(xs.f_conv2d(&self.weight, self.bias.as_ref(), [s, s], [p, p], [1, 1], 1)?)
    }
}

/// Batch normalization (2D or 1D: libtorch's batch_norm handles both) with running statistics
/// and a step counter.
pub(crate) struct BatchNorm {
    weight: Tensor,
    bias: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
    num_batches_tracked: Tensor,
}

impl BatchNorm {
    /// Its tensors for the inference plan (shared storage).
    fn plan(&self) -> Bn {
        Bn {
            weight: self.weight.shallow_clone(),
            bias: self.bias.shallow_clone(),
            mean: self.running_mean.shallow_clone(),
            var: self.running_var.shallow_clone(),
        }
    }

    /// In train mode: normalizes with batch statistics, updates the running statistics in place
    /// (momentum 0.1) and adds one to the counter. In eval mode: uses the running statistics.
    pub(crate) fn forward(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let ys = xs.f_batch_norm(
            Some(&self.weight),
            Some(&self.bias),
            Some(&self.running_mean),
            Some(&self.running_var),
            train,
            BN_MOMENTUM,
            BN_EPS,
            true,
        )?;
        if train {
            let _guard = tch::no_grad_guard();
            let mut counter = self.num_batches_tracked.shallow_clone();
            let _ = counter.f_add_scalar_(1)?;
        }
        Ok(ys)
    }
}

/// A fully connected layer `y = x W^T + b`.
pub(crate) struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    /// This layer followed by `bn` (a 1D BN), for the inference plan.
    pub(crate) fn then_bn(&self, bn: &BatchNorm) -> AffineBn {
        AffineBn { weight: self.weight.shallow_clone(), bias: Some(self.bias.shallow_clone()), bn: bn.plan(), stride: 0, padding: 0 }
    }

    /// Weight and bias for the inference plan (shared storage).
    pub(crate) fn plan(&self) -> (Tensor, Tensor) {
        (self.weight.shallow_clone(), self.bias.shallow_clone())
    }

    pub(crate) fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        Ok(xs.f_linear(&self.weight, Some(&self.bias))?)
    }
}

/// The layer graph of one architecture: its forward pass over already validated inputs.
pub(crate) trait Architecture: Send {
    fn forward(&self, xs: &Tensor, train: bool) -> Result<Tensor>;

    /// The layer graph for the fast inference plan (see [`crate::inference`]).
    fn inference_graph(&self) -> Option<Graph<AffineBn>> {
        None
    }
}

/// A built network: the architecture's layers plus the canonical tensor list and what the
/// inputs must look like.
pub(crate) struct Network<A> {
    pub(crate) spec: ModelSpec,
    pub(crate) in_channels: i64,
    /// Input height and width the network requires (None: any size).
    pub(crate) fixed_size: Option<[i64; 2]>,
    pub(crate) kind: Kind,
    pub(crate) device: Device,
    pub(crate) tensors: Vec<(String, Role, Tensor)>,
    pub(crate) arch: A,
}

impl<A: Architecture> Network<A> {
    fn check_input(&self, xs: &Tensor) -> Result<()> {
        let size = xs.size();
        let fail = |what: String| Err(Error::Invalid(format!("{}: {what}", self.spec)));
        if size.len() != 4 {
            return fail(format!(
                "expected a batch of images [N, C, H, W], got a tensor of shape {size:?}"
            ));
        }
        if size[1] != self.in_channels {
            return fail(format!(
                "expected {} input channel(s), got images of shape {size:?}",
                self.in_channels
            ));
        }
        if let Some([h, w]) = self.fixed_size {
            if size[2] != h || size[3] != w {
                return fail(format!("built for {h}x{w} images, got images of shape {size:?}"));
            }
        }
        let kind = xs.kind();
        if kind != self.kind {
            return fail(format!("the model is {:?} but the images are {kind:?}", self.kind));
        }
        Ok(())
    }
}

impl<A: Architecture> Model for Network<A> {
    fn spec(&self) -> String {
        self.spec.to_string()
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        match self.f_forward_t(xs, train) {
            Ok(ys) => ys,
            Err(e) => panic!("forward pass failed: {e}"),
        }
    }

    fn f_forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        self.check_input(xs)?;
        self.arch.forward(xs, train)
    }

    fn named_tensors(&self) -> Vec<NamedTensor> {
        self.tensors
            .iter()
            .map(|(name, role, tensor)| NamedTensor {
                name: name.clone(),
                role: *role,
                tensor: tensor.shallow_clone(),
            })
            .collect()
    }

    fn device(&self) -> Device {
        self.device
    }

    fn kind(&self) -> Kind {
        self.kind
    }

    fn inference_plan(&self, layout: Layout) -> Option<FastForward> {
        // f64 networks keep the plain forward (they serve exact checks).
        if self.kind != Kind::Float {
            return None;
        }
        self.arch.inference_graph().map(|graph| FastForward::from_graph(graph, layout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_values_have_the_requested_moments_and_are_seeded() {
        let n = 200_001;
        let values = normal_values(3, n, 0.5);
        assert_eq!(values.len(), n);
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var.sqrt() - 0.5).abs() < 0.01, "std {}", var.sqrt());
        assert_eq!(values[..10], normal_values(3, 10, 0.5)[..]);
        assert_ne!(values[..10], normal_values(4, 10, 0.5)[..]);
    }
}
