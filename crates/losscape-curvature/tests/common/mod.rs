//! Shared fixtures of the curvature tests: small seeded data sets, a deep linear network with a
//! saddle of known spectrum at the origin, and an exact Hessian built from products.

#![allow(dead_code)]

use losscape_curvature::{HessianOperator, SymmetricOperator};
use losscape_data::Dataset;
use losscape_models::{Model, NamedTensor, Role};
use tch::{Device, Kind, Tensor};

/// One libtorch thread for these tiny tensors: with two, OpenMP synchronization dominates each
/// operation and, on a shared machine, makes a product up to a hundred times slower.
pub fn one_thread() {
    tch::set_num_threads(1);
}

/// `n` seeded standard-normal images `[n, c, h, w]` in f64 with labels cycling through `classes`.
pub fn random_data(n: i64, shape: [i64; 3], classes: i64, seed: i64) -> Dataset {
    // Our own generator: libtorch's global one is shared with tests running in parallel.
    let seed = seed as u64;
    let images =
        losscape_data::rng::normal_tensor(seed, &[n, shape[0], shape[1], shape[2]], Kind::Double);
    let labels = losscape_data::rng::int_tensor(seed ^ 0x5eed, n as usize, classes);
    Dataset::new(images, labels, classes, "random").unwrap()
}

/// The exact Hessian, column by column from unit-vector products.
pub fn exact_hessian(op: &mut HessianOperator<'_>) -> Tensor {
    let n = op.dim();
    let columns: Vec<Tensor> = (0..n)
        .map(|i| {
            let e = Tensor::zeros([n], (Kind::Double, Device::Cpu));
            let _ = e.narrow(0, i, 1).fill_(1.0);
            op.apply(&e).unwrap()
        })
        .collect();
    Tensor::stack(&columns, 1)
}

/// `y = W0 x + W2 W1 x` on flattened inputs, all weights zero: at the origin the mean squared
/// error `(1/(N C)) sum_n ||y_n - t_n||^2` has Hessian blocks `(2/C) Sxx (x) I_C` for `W0` and
/// `[[0, -(2/C) P^T], [-(2/C) P, 0]]` for each hidden unit's `(W1 row, W2 column)`, with
/// `Sxx = (1/N) sum x x^T` and `P = (1/N) sum t x^T`: eigenvalues `(2/C) eig(Sxx)` and
/// `+-(2/C) sigma(P)`, so a saddle with a known, asymmetric spectrum.
pub struct SaddleNet {
    tensors: Vec<(String, Tensor)>,
}

impl SaddleNet {
    pub fn new(inputs: i64, hidden: i64, classes: i64) -> Self {
        let z = |shape: [i64; 2]| {
            Tensor::zeros(shape, (Kind::Double, Device::Cpu)).set_requires_grad(true)
        };
        Self {
            tensors: vec![
                ("skip.weight".into(), z([classes, inputs])),
                ("fc1.weight".into(), z([hidden, inputs])),
                ("fc2.weight".into(), z([classes, hidden])),
            ],
        }
    }
}

impl Model for SaddleNet {
    fn spec(&self) -> String {
        "saddlenet".into()
    }
    fn forward_t(&self, xs: &Tensor, _train: bool) -> Tensor {
        let x = xs.flatten(1, -1);
        let skip = x.linear::<Tensor>(&self.tensors[0].1, None);
        let deep = x
            .linear::<Tensor>(&self.tensors[1].1, None)
            .linear::<Tensor>(&self.tensors[2].1, None);
        skip + deep
    }
    fn named_tensors(&self) -> Vec<NamedTensor> {
        self.tensors
            .iter()
            .map(|(name, t)| NamedTensor {
                name: name.clone(),
                role: Role::LinearWeight,
                tensor: t.shallow_clone(),
            })
            .collect()
    }
    fn device(&self) -> Device {
        Device::Cpu
    }
    fn kind(&self) -> Kind {
        Kind::Double
    }
}
