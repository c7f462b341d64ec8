//! The one loss definition of losscape: training's SGD steps and evaluations, landscapes'
//! evaluator and curvature's Hessian-vector products all compute their loss here.
//!
//! A [`LossKind`] names the loss; [`LossKind::loss`] builds it from a batch's outputs as a
//! differentiable scalar, in the outputs' own kind ([`Accumulation::Native`], what training uses:
//! cross-entropy as `log_softmax` + `nll_loss`, the very operators libtorch's fused
//! `cross_entropy` runs, so a checkpoint's bytes do not depend on which of the two is called) or
//! in f64 ([`Accumulation::F64`], what landscapes and Hessians use, so an f32 model's loss is
//! summed without f32 rounding). An evaluation over a whole split returns an [`Evaluation`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::error::{Error, Result};

/// The loss of a model's outputs against labels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Cross-entropy of the logits against the class labels (the paper's loss).
    #[default]
    CrossEntropy,
    /// Mean squared error between softmax(outputs) and one-hot labels (the original code's `mse`
    /// option), averaged over samples and outputs like PyTorch's `MSELoss`.
    MseSoftmax,
    /// Mean squared error between the raw outputs and one-hot labels (or regression targets:
    /// float labels `[N]` or `[N, K]`), averaged over samples and outputs: exactly quadratic in the
    /// weights of a linear model.
    Mse,
}

/// The kind a loss is computed and summed in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Accumulation {
    /// The outputs' own kind (f32 for f32 models): training's SGD steps and evaluations.
    Native,
    /// f64 whatever the outputs' kind: landscapes and Hessian-vector products.
    #[default]
    F64,
}

/// How the per-sample losses of a batch are combined.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reduction {
    /// Their sum (evaluations divide the split's total by its size once, at the end).
    #[default]
    Sum,
    /// Their mean over the batch (an SGD step).
    Mean,
}

impl LossKind {
    /// Every loss, in the order the help texts list them.
    pub const ALL: [LossKind; 3] = [LossKind::CrossEntropy, LossKind::MseSoftmax, LossKind::Mse];

    /// The name files record and flags take: `cross_entropy`, `mse_softmax` or `mse`.
    pub fn name(self) -> &'static str {
        match self {
            LossKind::CrossEntropy => "cross_entropy",
            LossKind::MseSoftmax => "mse_softmax",
            LossKind::Mse => "mse",
        }
    }

    /// The loss of one batch as a differentiable scalar tensor, computed in `accumulation`'s kind
    /// and combined by `reduction`: cross-entropy as `log_softmax` + `nll_loss` (exactly the
    /// operators of libtorch's fused `cross_entropy`), the MSE variants as the mean squared error
    /// over each sample's outputs against one-hot labels, summed or averaged over the samples.
    /// Float labels are regression targets, which only [`LossKind::Mse`] accepts.
    pub fn loss(self, outputs: &Tensor, labels: &Tensor, accumulation: Accumulation, reduction: Reduction) -> Result<Tensor> {
        let kind = match accumulation {
            Accumulation::Native => outputs.kind(),
            Accumulation::F64 => Kind::Double,
        };
        let converted;
        let outputs = if outputs.kind() == kind {
            outputs
        } else {
            converted = outputs.f_to_kind(kind)?;
            &converted
        };
        if labels.f_is_floating_point()? {
            let sum = self.regression_sum(outputs, labels, kind)?;
            return reduce_sum(sum, outputs, reduction);
        }
        Ok(match self {
            LossKind::CrossEntropy => {
                let reduction = match reduction {
                    Reduction::Sum => tch::Reduction::Sum,
                    Reduction::Mean => tch::Reduction::Mean,
                };
                outputs.f_log_softmax(-1, kind)?.f_nll_loss(labels, None::<&Tensor>, reduction, -100)?
            }
            LossKind::MseSoftmax | LossKind::Mse => {
                let classes = outputs.size()[1];
                let onehot = labels.f_one_hot(classes)?.f_to_kind(kind)?;
                let softmax;
                let pred = if self == LossKind::MseSoftmax {
                    softmax = outputs.f_softmax(-1, kind)?;
                    &softmax
                } else {
                    outputs
                };
                let sum = pred.f_sub(&onehot)?.f_square()?.f_sum(kind)?.f_div_scalar(classes as f64)?;
                reduce_sum(sum, outputs, reduction)?
            }
        })
    }

    /// The summed (not averaged) loss of one batch as a differentiable f64 scalar tensor:
    /// [`loss`](LossKind::loss) with [`Accumulation::F64`] and [`Reduction::Sum`].
    pub fn batch_loss(self, outputs: &Tensor, labels: &Tensor) -> Result<Tensor> {
        self.loss(outputs, labels, Accumulation::F64, Reduction::Sum)
    }

    /// The summed (not averaged) loss of one batch, in f64.
    pub fn batch_sum(self, outputs: &Tensor, labels: &Tensor) -> Result<f64> {
        Ok(self.batch_loss(outputs, labels)?.f_double_value(&[])?)
    }

    /// The summed loss against regression targets (float labels with as many values per sample as
    /// there are outputs): plain MSE only.
    fn regression_sum(self, outputs: &Tensor, targets: &Tensor, kind: Kind) -> Result<Tensor> {
        if self != LossKind::Mse {
            return Err(Error::Invalid(format!("regression targets (float labels) need the mse loss, not {self}")));
        }
        if targets.numel() != outputs.numel() {
            return Err(Error::Invalid(format!(
                "regression targets of shape {:?} do not match outputs of shape {:?}",
                targets.size(),
                outputs.size()
            )));
        }
        let targets = targets.f_to_kind(kind)?.f_view_as(outputs)?;
        let per_sample = outputs.size().get(1).copied().unwrap_or(1) as f64;
        Ok(outputs.f_sub(&targets)?.f_square()?.f_sum(kind)?.f_div_scalar(per_sample)?)
    }
}

/// A summed loss as `reduction` asks: as it is, or divided by the batch's number of samples.
fn reduce_sum(sum: Tensor, outputs: &Tensor, reduction: Reduction) -> Result<Tensor> {
    Ok(match reduction {
        Reduction::Sum => sum,
        Reduction::Mean => sum.f_div_scalar(outputs.size().first().copied().unwrap_or(1).max(1) as f64)?,
    })
}

/// Loss and accuracy of a model over a whole split: what an evaluation (training's after each
/// epoch, a landscape's at each grid point) returns.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Sample-weighted mean loss over the split.
    pub loss: f64,
    /// Accuracy in percent (NaN for regression targets, which have none).
    pub accuracy: f64,
    /// Number of examples.
    pub examples: usize,
}

/// Number of samples whose largest output is at their label (classification accuracy's count).
pub fn count_correct(outputs: &Tensor, labels: &Tensor) -> Result<i64> {
    Ok(outputs.f_argmax(-1, false)?.f_eq_tensor(labels)?.f_sum(Kind::Int64)?.f_int64_value(&[])?)
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
            _ => Err(Error::Invalid(format!("unknown loss '{s}': use cross_entropy, mse_softmax or mse"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(kind: Kind) -> (Tensor, Tensor) {
        let logits = Tensor::from_slice(&[0.3f64, -1.2, 2.0, 0.5, 0.1, -0.4, 1.5, 1.2, -2.0])
            .view([3, 3])
            .to_kind(kind);
        (logits, Tensor::from_slice(&[2i64, 0, 1]))
    }

    /// Cross-entropy by hand: -sum_i (z_{i,y_i} - log sum_j exp z_{i,j}).
    fn by_hand() -> f64 {
        let z = [[0.3f64, -1.2, 2.0], [0.5, 0.1, -0.4], [1.5, 1.2, -2.0]];
        let y = [2usize, 0, 1];
        z.iter().zip(y).map(|(row, y)| row.iter().map(|v| v.exp()).sum::<f64>().ln() - row[y]).sum()
    }

    #[test]
    fn cross_entropy_matches_its_definition_in_f64() {
        let (logits, labels) = batch(Kind::Float);
        let sum = LossKind::CrossEntropy.batch_sum(&logits, &labels).unwrap();
        // The f32 logits are rounded before the f64 sum: agreement to f32's precision of the inputs.
        assert!((sum - by_hand()).abs() < 1e-6, "{sum} vs {}", by_hand());
        let (logits, labels) = batch(Kind::Double);
        let sum = LossKind::CrossEntropy.batch_sum(&logits, &labels).unwrap();
        assert!((sum - by_hand()).abs() < 1e-14, "{sum} vs {}", by_hand());
    }

    /// Native accumulation is libtorch's fused cross-entropy bit for bit, forward and backward:
    /// training's checkpoints stay the same bytes as before the definition moved here.
    #[test]
    fn native_cross_entropy_is_the_fused_one_bit_for_bit() {
        for reduction in [Reduction::Sum, Reduction::Mean] {
            let (logits, labels) = batch(Kind::Float);
            let a = logits.set_requires_grad(true);
            let b = logits.detach().copy().set_requires_grad(true);
            let ours = LossKind::CrossEntropy.loss(&a, &labels, Accumulation::Native, reduction).unwrap();
            let tch_reduction = if reduction == Reduction::Sum { tch::Reduction::Sum } else { tch::Reduction::Mean };
            let fused = b.cross_entropy_loss::<Tensor>(&labels, None, tch_reduction, -100, 0.0);
            assert_eq!(ours.kind(), Kind::Float);
            assert_eq!(ours.double_value(&[]).to_bits(), fused.double_value(&[]).to_bits());
            ours.backward();
            fused.backward();
            assert!(a.grad().equal(&b.grad()), "{reduction:?}: gradients differ");
        }
    }

    #[test]
    fn mean_is_the_sum_over_the_batch_size() {
        let (logits, labels) = batch(Kind::Double);
        for loss in LossKind::ALL {
            let sum = loss.loss(&logits, &labels, Accumulation::F64, Reduction::Sum).unwrap().double_value(&[]);
            let mean = loss.loss(&logits, &labels, Accumulation::F64, Reduction::Mean).unwrap().double_value(&[]);
            assert!((mean * 3.0 - sum).abs() < 1e-14 * sum.abs(), "{loss}: {mean} vs {sum}");
        }
        // Mse by hand on the same batch: sum over samples of the mean over outputs.
        let z = [[0.3f64, -1.2, 2.0], [0.5, 0.1, -0.4], [1.5, 1.2, -2.0]];
        let onehot = [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]];
        let expected: f64 = (0..3).map(|i| (0..3).map(|j| (z[i][j] - onehot[i][j]).powi(2)).sum::<f64>() / 3.0).sum();
        let got = LossKind::Mse.batch_sum(&logits, &labels).unwrap();
        assert!((got - expected).abs() < 1e-14, "{got} vs {expected}");
    }

    #[test]
    fn names_parse_serialize_and_count() {
        for loss in LossKind::ALL {
            assert_eq!(loss.name().parse::<LossKind>().unwrap(), loss);
            assert_eq!(serde_json::to_string(&loss).unwrap(), format!("\"{}\"", loss.name()));
        }
        assert!("hinge".parse::<LossKind>().unwrap_err().to_string().contains("unknown loss 'hinge'"));
        let (logits, labels) = batch(Kind::Double);
        assert_eq!(count_correct(&logits, &labels).unwrap(), 2);
    }
}
