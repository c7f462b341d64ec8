//! Sampled evaluation with error bars: the loss and accuracy of a model on a prefix of a split,
//! batch by batch, stopping once the standard error of the mean loss is small enough
//! ([`Sampling`], from losscape-surface, holds the rule). The split is evaluated in its stored
//! order, so a job permutes it once ([`permuted`]) and every grid point sees the same examples
//! in the same order: the values are deterministic, and neighbouring points share their sample.
//!
//! Per-example losses come back to the host in f64 and are summed there in order (sum and sum
//! of squares); accuracy's standard error is that of the 0/1 outcomes.

use losscape_data::rng::SplitMix64;
use losscape_data::Dataset;
use losscape_models::Model;
use losscape_surface::{MeanEstimate, Sampling};
use tch::{Kind, Tensor};

use crate::error::{Error, Result};
use crate::evaluate::{Evaluator, LossKind};
use crate::fast::{FastForward, Layout};

/// Loss and accuracy (percent; NaN for regression targets) over the examples evaluated, their
/// standard errors, and how many examples that was.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampledMetrics {
    pub loss: f64,
    pub accuracy: f64,
    /// Standard error of `loss` (NaN below two examples).
    pub loss_se: f64,
    /// Standard error of `accuracy`, in percentage points (NaN for regression targets).
    pub accuracy_se: f64,
    /// Examples evaluated.
    pub count: usize,
}

impl SampledMetrics {
    /// The values in the order of [`Sampling::arrays`]: loss, accuracy, loss SE, accuracy SE,
    /// count.
    pub fn values(&self) -> [f64; 5] {
        [self.loss, self.accuracy, self.loss_se, self.accuracy_se, self.count as f64]
    }
}

/// `data` in the seeded order a sampled evaluation walks: the permutation of `SplitMix64(seed)`.
pub fn permuted(data: &Dataset, seed: u64) -> Result<Dataset> {
    let order = SplitMix64::new(seed).permutation(data.len());
    Ok(data.select(&order, data.name.clone())?)
}

/// The loss of each example of a batch (`[B]`, f64): the per-example terms whose sum is
/// [`LossKind::batch_loss`].
pub fn example_losses(loss: LossKind, outputs: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let outputs = outputs.f_to_kind(Kind::Double)?;
    let rows = outputs.size()[0];
    if labels.f_is_floating_point()? {
        if loss != LossKind::Mse {
            return Err(Error::Invalid(format!("regression targets (float labels) need the mse loss, not {loss}")));
        }
        if labels.numel() != outputs.numel() {
            return Err(Error::Invalid(format!(
                "regression targets of shape {:?} do not match outputs of shape {:?}",
                labels.size(),
                outputs.size()
            )));
        }
        let outputs = outputs.f_reshape([rows, -1])?;
        let targets = labels.f_to_kind(Kind::Double)?.f_view_as(&outputs)?;
        return Ok(outputs.f_sub(&targets)?.f_square()?.f_mean_dim(1, false, Kind::Double)?);
    }
    Ok(match loss {
        LossKind::CrossEntropy => outputs.f_log_softmax(-1, Kind::Double)?.f_nll_loss(
            labels,
            None::<&Tensor>,
            tch::Reduction::None,
            -100,
        )?,
        LossKind::MseSoftmax | LossKind::Mse => {
            let classes = outputs.size()[1];
            let onehot = labels.f_one_hot(classes)?.f_to_kind(Kind::Double)?;
            let pred = if loss == LossKind::MseSoftmax { outputs.f_softmax(-1, Kind::Double)? } else { outputs };
            pred.f_sub(&onehot)?.f_square()?.f_mean_dim(1, false, Kind::Double)?
        }
    })
}

/// Evaluates `model` on `data` in its stored order, in batches of `evaluator.batch_size`, until
/// `sampling` stops (or the data run out), through the inference plan `plan` if given (folded
/// here at the model's current weights), else the model's own eval-mode forward on inputs in
/// `plain_layout`. `data` must be on the model's device.
pub fn evaluate_sampled(
    evaluator: &Evaluator,
    model: &dyn Model,
    plan: Option<&FastForward>,
    plain_layout: Layout,
    data: &Dataset,
    sampling: &Sampling,
) -> Result<SampledMetrics> {
    evaluator.check(model, data)?;
    let kind = model.kind();
    tch::no_grad(|| {
        let folded = plan.map(FastForward::fold).transpose()?;
        let forward = |xs: &Tensor| -> Result<Tensor> {
            Ok(match &folded {
                Some(f) => f.forward(xs)?,
                None => model.f_forward_t(&plain_layout.apply(xs)?, false)?,
            })
        };
        let regression = data.labels.f_is_floating_point()?;
        let mut loss = MeanEstimate::default();
        let mut correct = MeanEstimate::default();
        for (xs, ys) in data.batches(evaluator.batch_size, None)? {
            let xs = if xs.kind() == kind || !xs.is_floating_point() { xs } else { xs.f_to_kind(kind)? };
            let out = forward(&xs)?;
            let losses = Vec::<f64>::try_from(example_losses(evaluator.loss, &out, &ys)?)?;
            losses.iter().for_each(|&l| loss.push(l));
            if !regression {
                let hits = out.f_argmax(-1, false)?.f_eq_tensor(&ys)?.f_sum(Kind::Int64)?.f_int64_value(&[])? as f64;
                correct.push_sums(losses.len(), hits, hits);
            }
            if sampling.stops(&loss, data.len()) {
                break;
            }
        }
        let (accuracy, accuracy_se) = if regression {
            (f64::NAN, f64::NAN)
        } else {
            (100.0 * correct.mean(), 100.0 * correct.standard_error())
        };
        Ok(SampledMetrics { loss: loss.mean(), accuracy, loss_se: loss.standard_error(), accuracy_se, count: loss.count() })
    })
}
