//! The evaluator: loss and accuracy of a model on a whole data split, in evaluation mode (BN
//! running statistics), without autograd, on data already resident on the model's device.

use losscape_data::Dataset;
use losscape_models::Model;
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::fast::{FastForward, Layout};

// The loss evaluated at each point: the one definition of losscape-models, here at its old path.
pub use losscape_models::loss::LossKind;

// Loss (sample-weighted mean over the split), accuracy (percent; NaN for regression targets) and
// examples of one evaluation: the one result type, also training's.
pub use losscape_models::loss::Evaluation;

/// Which forward pass an [`Evaluator`] runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EvalPath {
    /// The fast path where it applies (f32 built-in networks: BN folded into the convolutions,
    /// channels-last layout, see [`FastForward`]), the plain one otherwise.
    #[default]
    Auto,
    /// The model's own eval-mode forward pass.
    Plain,
    /// The model's own eval-mode forward pass on images converted to this layout (BN not
    /// folded; kept to measure what the layout alone brings).
    PlainLayout(Layout),
    /// BN folded into the convolutions at each evaluation, activations in this layout; the plain
    /// path for models it does not apply to.
    Folded(Layout),
}

/// Evaluates a model on whole data splits.
#[derive(Clone, Debug)]
pub struct Evaluator {
    /// Examples per forward pass.
    pub batch_size: usize,
    /// The loss.
    pub loss: LossKind,
}

/// The CPU default batch size: small batches keep a layer's activations in the caches (measured
/// on ResNet-20 with 2 threads, see the crate README).
pub const CPU_BATCH_SIZE: usize = 32;
/// The CUDA default batch size.
pub const CUDA_BATCH_SIZE: usize = 1024;

impl Evaluator {
    /// An evaluator with the default batch size for `device` ([`CPU_BATCH_SIZE`] on the CPU,
    /// where cache-sized batches are fastest; [`CUDA_BATCH_SIZE`] on CUDA).
    pub fn new(device: Device, loss: LossKind) -> Self {
        let batch_size = if device.is_cuda() { CUDA_BATCH_SIZE } else { CPU_BATCH_SIZE };
        Self { batch_size, loss }
    }

    /// Loss and accuracy of `model` on all of `data`, in evaluation mode and without autograd,
    /// through [`EvalPath::Auto`]. `data` must be on the model's device with the model's floating
    /// kind.
    pub fn evaluate(&self, model: &dyn Model, data: &Dataset) -> Result<Evaluation> {
        self.evaluate_with(model, data, EvalPath::Auto)
    }

    /// [`evaluate`](Evaluator::evaluate) through the given forward pass. The fast path's loss
    /// equals the plain one's to f32 rounding (relative differences around 1e-9 on ResNet-20; tested at 1e-5).
    pub fn evaluate_with(&self, model: &dyn Model, data: &Dataset, path: EvalPath) -> Result<Evaluation> {
        let (fold, layout) = match path {
            EvalPath::Auto => (true, Layout::ChannelsLast),
            EvalPath::Plain => (false, Layout::Contiguous),
            EvalPath::PlainLayout(layout) => (false, layout),
            EvalPath::Folded(layout) => (true, layout),
        };
        let plan = fold.then(|| FastForward::new(model, layout)).flatten();
        // The fallback of a folded path is the plain forward as it is.
        let plain_layout = if fold { Layout::Contiguous } else { layout };
        self.evaluate_planned(model, plan.as_ref(), plain_layout, data)
    }

    /// [`evaluate`](Evaluator::evaluate) with an inference plan built beforehand from `model`
    /// (once per job: [`FastForward::new`]), folded here at the model's current weights; without
    /// one, the model's own forward on inputs in `plain_layout`.
    pub fn evaluate_planned(&self, model: &dyn Model, plan: Option<&FastForward>, plain_layout: Layout, data: &Dataset) -> Result<Evaluation> {
        self.check(model, data)?;
        tch::no_grad(|| match plan {
            Some(fast) => {
                let folded = fast.fold()?;
                self.evaluate_fn(model.kind(), data, |xs| Ok(folded.forward(xs)?))
            }
            None => self.evaluate_fn(model.kind(), data, |xs| Ok(model.f_forward_t(&plain_layout.apply(xs)?, false)?)),
        })
    }

    /// Refuses an empty data set or one on another device than the model.
    pub(crate) fn check(&self, model: &dyn Model, data: &Dataset) -> Result<()> {
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
        Ok(())
    }

    /// The evaluation loop over batches of `data` (converted to `kind`) with any forward pass.
    fn evaluate_fn(&self, kind: Kind, data: &Dataset, forward: impl Fn(&Tensor) -> Result<Tensor>) -> Result<Evaluation> {
        let mut loss_sum = 0.0;
        let mut correct = 0i64;
        // Regression targets (float labels) have no accuracy: it is NaN.
        let regression = data.labels.f_is_floating_point()?;
        for (xs, ys) in data.batches(self.batch_size, None)? {
            // Token ids (integer inputs) go to the model as they are.
            let xs = if xs.kind() == kind || !xs.is_floating_point() { xs } else { xs.f_to_kind(kind)? };
            let out = forward(&xs)?;
            loss_sum += self.loss.batch_sum(&out, &ys)?;
            if regression {
                continue;
            }
            correct += out
                .f_argmax(-1, false)?
                .f_eq_tensor(&ys)?
                .f_sum(Kind::Int64)?
                .f_int64_value(&[])?;
        }
        let n = data.len() as f64;
        Ok(Evaluation {
            loss: loss_sum / n,
            accuracy: if regression { f64::NAN } else { 100.0 * correct as f64 / n },
            examples: data.len(),
        })
    }
}
