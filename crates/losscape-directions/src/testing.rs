//! A tiny hand-made model (conv, batch norm, linear) covering every tensor role, for tests and
//! examples of this crate and of the crates above it.

use losscape_data::rng::{derive_seed, normal_tensor};
use losscape_models::{Model, NamedTensor, Role};
use tch::{Device, Kind, Tensor};

/// conv 3x3 (in -> 4 channels, no bias) -> BN -> ReLU -> global average pool -> linear (-> classes).
pub struct TinyNet {
    tensors: Vec<(String, Role, Tensor)>,
    kind: Kind,
}

impl TinyNet {
    /// A seeded TinyNet for `in_channels` input channels and `classes` outputs.
    /// Values come from SplitMix64 streams derived from `seed`, so they do not depend on
    /// libtorch's global generator (or on other threads using it).
    pub fn new(in_channels: i64, classes: i64, kind: Kind, seed: i64) -> Self {
        let opts = (kind, Device::Cpu);
        let mut stream = 0u64;
        let mut randn = |shape: &[i64]| {
            stream += 1;
            normal_tensor(derive_seed(seed as u64, stream), shape, kind)
        };
        let mk = |t: Tensor, grad: bool| t.set_requires_grad(grad);
        let conv = randn(&[4, in_channels, 3, 3]) * 0.3;
        let gamma = Tensor::ones([4], opts) + randn(&[4]) * 0.1;
        let beta = randn(&[4]) * 0.1;
        let mean = randn(&[4]) * 0.1;
        let var = Tensor::ones([4], opts) + randn(&[4]).abs();
        let fc = randn(&[classes, 4]) * 0.5;
        let bias = randn(&[classes]) * 0.1;
        let tensors = vec![
            ("conv.weight".to_owned(), Role::ConvWeight, mk(conv, true)),
            ("bn.weight".to_owned(), Role::BnWeight, mk(gamma, true)),
            ("bn.bias".to_owned(), Role::BnBias, mk(beta, true)),
            ("bn.running_mean".to_owned(), Role::BnRunningMean, mean),
            ("bn.running_var".to_owned(), Role::BnRunningVar, var),
            ("bn.num_batches_tracked".to_owned(), Role::BnNumBatchesTracked, Tensor::zeros([], (Kind::Int64, Device::Cpu))),
            ("fc.weight".to_owned(), Role::LinearWeight, mk(fc, true)),
            ("fc.bias".to_owned(), Role::Bias, mk(bias, true)),
        ];
        Self { tensors, kind }
    }

    fn get(&self, i: usize) -> &Tensor {
        &self.tensors[i].2
    }
}

impl Model for TinyNet {
    fn spec(&self) -> String {
        "tinynet".into()
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let h = xs.conv2d(self.get(0), None::<&Tensor>, [1, 1], [1, 1], [1, 1], 1);
        let h = h.batch_norm(
            Some(self.get(1)),
            Some(self.get(2)),
            Some(self.get(3)),
            Some(self.get(4)),
            train,
            0.1,
            1e-5,
            false,
        );
        let h = h.relu().mean_dim([2i64, 3].as_slice(), false, self.kind);
        h.linear(self.get(6), Some(self.get(7)))
    }

    fn named_tensors(&self) -> Vec<NamedTensor> {
        self.tensors
            .iter()
            .map(|(name, role, t)| NamedTensor { name: name.clone(), role: *role, tensor: t.shallow_clone() })
            .collect()
    }

    fn device(&self) -> Device {
        Device::Cpu
    }

    fn kind(&self) -> Kind {
        self.kind
    }
}
