//! Evaluation of a model on a whole split (eval mode, no gradients) and the global weight norm.

use losscape_data::Dataset;
use losscape_models::loss::{Accumulation, LossKind, Reduction};
use losscape_models::Model;
use tch::{Kind, Tensor};

use crate::error::{Error, Result};

// Loss and accuracy over a whole split: the one evaluation result, beside the loss definition.
pub use losscape_models::loss::Evaluation;

/// Cross-entropy loss and accuracy of `model` on `data` in eval mode (BN running statistics),
/// without gradients, in batches of `batch_size`. The loss is [`LossKind::CrossEntropy`] summed
/// per batch in the model's own kind ([`Accumulation::Native`], training's numerics since the
/// first checkpoints; landscapes sum the same definition in f64). `data` must already carry the normalization the
/// model was trained with; its images are converted to the model's kind and device.
pub fn evaluate(model: &dyn Model, data: &Dataset, batch_size: usize) -> Result<Evaluation> {
    if data.is_empty() {
        return Err(Error::Config(format!("{}: cannot evaluate on an empty split", data.name)));
    }
    let _guard = tch::no_grad_guard();
    let data = data.to_device(model.device())?.to_kind(model.kind())?;
    let (mut loss_sum, mut correct) = (0.0f64, 0i64);
    for (xs, ys) in data.batches(batch_size, None)? {
        let logits = model.forward_t(&xs, false);
        let loss = LossKind::CrossEntropy.loss(&logits, &ys, Accumulation::Native, Reduction::Sum)?;
        loss_sum += loss.f_double_value(&[])?;
        correct += count_correct(&logits, &ys)?;
    }
    let n = data.len();
    Ok(Evaluation { loss: loss_sum / n as f64, accuracy: 100.0 * correct as f64 / n as f64, examples: n })
}

/// Number of rows of `logits` whose arg-max equals the label ([`losscape_models::loss::count_correct`]).
pub(crate) fn count_correct(logits: &Tensor, labels: &Tensor) -> Result<i64> {
    Ok(losscape_models::loss::count_correct(logits, labels)?)
}

/// L2 norm of all trainable parameters of `model` taken together (computed in f64).
pub fn weight_norm(model: &dyn Model) -> Result<f64> {
    let _guard = tch::no_grad_guard();
    let mut sum = 0.0;
    for p in model.parameters() {
        sum += p.f_to_kind(Kind::Double)?.f_square()?.f_sum(Kind::Double)?.f_double_value(&[])?;
    }
    Ok(sum.sqrt())
}
