//! The evaluator: loss and accuracy of a model on a whole data split, in evaluation mode (BN
//! running statistics), without autograd, on data already resident on the model's device.

use std::fmt;
use std::str::FromStr;

use losscape_data::Dataset;
use losscape_models::Model;
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

/// The loss evaluated at each point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LossKind {
    /// Cross-entropy of the logits against the class labels (the paper's loss).
    #[default]
    CrossEntropy,
    /// Mean squared error between softmax(outputs) and one-hot labels (the original code's `mse`
    /// option), averaged over samples and outputs like PyTorch's `MSELoss`.
    MseSoftmax,
    /// Mean squared error between the raw outputs and one-hot labels, averaged over samples and
    /// outputs: exactly quadratic in the weights of a linear model.
    Mse,
}

impl LossKind {
    pub fn name(self) -> &'static str {
        match self {
            LossKind::CrossEntropy => "cross_entropy",
            LossKind::MseSoftmax => "mse_softmax",
            LossKind::Mse => "mse",
        }
    }

    /// The summed (not averaged) loss of one batch as a differentiable f64 scalar tensor:
    /// cross-entropy as `log_softmax` + `nll_loss` in f64 (exact in f64 tests, where libtorch's
    /// fused cross-entropy would compute in f32), the MSE variants as the sum over samples of the
    /// mean squared error over outputs against one-hot labels.
    pub fn batch_loss(self, outputs: &Tensor, labels: &Tensor) -> Result<Tensor> {
        let outputs = outputs.f_to_kind(Kind::Double)?;
        Ok(match self {
            LossKind::CrossEntropy => outputs
                .f_log_softmax(-1, Kind::Double)?
                .f_nll_loss(labels, None::<&Tensor>, tch::Reduction::Sum, -100)?,
            LossKind::MseSoftmax | LossKind::Mse => {
                let classes = outputs.size()[1];
                let onehot = labels.f_one_hot(classes)?.f_to_kind(Kind::Double)?;
                let pred = if self == LossKind::MseSoftmax { outputs.f_softmax(-1, Kind::Double)? } else { outputs };
                pred.f_sub(&onehot)?.f_square()?.f_sum(Kind::Double)?.f_div_scalar(classes as f64)?
            }
        })
    }

    /// The summed (not averaged) loss of one batch, in f64.
    pub fn batch_sum(self, outputs: &Tensor, labels: &Tensor) -> Result<f64> {
        Ok(self.batch_loss(outputs, labels)?.f_double_value(&[])?)
    }
}

impl fmt::Display for LossKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LossKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "cross_entropy" | "ce" | "crossentropy" => Ok(LossKind::CrossEntropy),
            "mse_softmax" => Ok(LossKind::MseSoftmax),
            "mse" => Ok(LossKind::Mse),
            _ => Err(Error::Invalid(format!(
                "unknown loss '{s}': use cross_entropy, mse_softmax or mse"
            ))),
        }
    }
}

/// Loss (sample-weighted mean over the split) and accuracy (percent) of one evaluation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metrics {
    pub loss: f64,
    pub accuracy: f64,
}

/// Evaluates a model on whole data splits.
#[derive(Clone, Debug)]
pub struct Evaluator {
    /// Examples per forward pass.
    pub batch_size: usize,
    /// The loss.
    pub loss: LossKind,
}

impl Evaluator {
    /// An evaluator with the default batch size for `device` (128 on the CPU, where cache-sized
    /// batches are fastest; 1024 on CUDA).
    pub fn new(device: Device, loss: LossKind) -> Self {
        let batch_size = if device.is_cuda() { 1024 } else { 128 };
        Self { batch_size, loss }
    }

    /// Loss and accuracy of `model` on all of `data`, in evaluation mode and without autograd.
    /// `data` must be on the model's device with the model's floating kind.
    pub fn evaluate(&self, model: &dyn Model, data: &Dataset) -> Result<Metrics> {
        if data.is_empty() {
            return Err(Error::Invalid(format!(
                "{}: cannot evaluate on an empty data set",
                data.name
            )));
        }
        if data.device() != model.device() {
            return Err(Error::Invalid(format!(
                "{} is on {:?} but the model is on {:?}",
                data.name,
                data.device(),
                model.device()
            )));
        }
        tch::no_grad(|| {
            let mut loss_sum = 0.0;
            let mut correct = 0i64;
            for (xs, ys) in data.batches(self.batch_size, None)? {
                let xs = if xs.kind() == model.kind() {
                    xs
                } else {
                    xs.f_to_kind(model.kind())?
                };
                let out = model.forward_t(&xs, false);
                loss_sum += self.loss.batch_sum(&out, &ys)?;
                correct += out
                    .f_argmax(-1, false)?
                    .f_eq_tensor(&ys)?
                    .f_sum(Kind::Int64)?
                    .f_int64_value(&[])?;
            }
            let n = data.len() as f64;
            Ok(Metrics {
                loss: loss_sum / n,
                accuracy: 100.0 * correct as f64 / n,
            })
        })
    }
}
