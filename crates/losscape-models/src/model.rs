//! The `Model` trait: what every higher layer (training, directions, landscapes, curvature,
//! trajectories) needs from a network, without knowing its architecture.

use tch::{Device, Kind, Tensor};

use crate::role::Role;

/// One entry of a model's canonical tensor list.
///
/// `tensor` shares storage with the model (a shallow clone): writing into it under
/// `tch::no_grad` (for example with `copy_`) changes the model itself. This is how directions and
/// the evaluator move a model to `theta* + a*d1 + b*d2`.
#[derive(Debug)]
pub struct NamedTensor {
    /// Canonical, stable name (PyTorch state-dict style, e.g. `layer1.0.conv1.weight`).
    pub name: String,
    /// What the tensor is, so directions can treat filters, bias/BN and BN statistics exactly.
    pub role: Role,
    /// The model's tensor itself (shared storage).
    pub tensor: Tensor,
}

/// A network whose tensors can be listed, read and overwritten by name.
///
/// Implemented by the built-in architectures of this crate and designed so that an imported
/// TorchScript module can implement it too.
pub trait Model: Send {
    /// The architecture spec string this model was built from (e.g. `resnet56-noshort`).
    fn spec(&self) -> String;

    /// Logits for a batch `xs` of shape `[N, C, H, W]`. With `train` true, batch normalization
    /// uses batch statistics and updates its running statistics; with `train` false it uses the
    /// running statistics (evaluation mode).
    ///
    /// # Panics
    /// When libtorch refuses the input (wrong shape, kind or device); use
    /// [`f_forward_t`](Model::f_forward_t) for an error instead.
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor;

    /// [`forward_t`](Model::forward_t) that reports bad inputs (shape, channels, kind) and libtorch
    /// failures as an error instead of panicking. The built-in networks check their input; the
    /// default implementation calls `forward_t`.
    fn f_forward_t(&self, xs: &Tensor, train: bool) -> crate::Result<Tensor> {
        Ok(self.forward_t(xs, train))
    }

    /// Every tensor of the model's state in canonical order: trainable parameters and buffers
    /// (BN running mean/var and step counter), each with its role. The order and names are stable
    /// across runs and builds of the same spec.
    fn named_tensors(&self) -> Vec<NamedTensor>;

    /// The device the model's tensors live on.
    fn device(&self) -> Device;

    /// The floating-point kind of the model's parameters (`Kind::Float` or `Kind::Double`).
    fn kind(&self) -> Kind;

    /// The fast inference plan of this model with activations in `layout` (BN folded into the
    /// layer before it, see [`crate::inference`]), built from the model's own layers and sharing
    /// its tensors, or `None` when the model has none (the default: TorchScript modules, wrappers,
    /// f64 models). Built-in f32 networks have one.
    fn inference_plan(&self, layout: crate::inference::Layout) -> Option<crate::inference::FastForward> {
        let _ = layout;
        None
    }

    /// Why some of the model's state is missing from [`named_tensors`](Model::named_tensors)
    /// (buffers that cannot be reached, such as the batch-norm statistics of a TorchScript
    /// module), or `None` when the list is complete. Callers refuse the `states` scope when it is
    /// `Some`, since those tensors could neither be moved nor restored.
    fn unlisted_state(&self) -> Option<String> {
        None
    }

    /// The trainable parameters in canonical order (those whose role
    /// [`is_parameter`](Role::is_parameter)); they require gradients.
    fn parameters(&self) -> Vec<Tensor> {
        self.named_tensors()
            .into_iter()
            .filter(|t| t.role.is_parameter())
            .map(|t| t.tensor)
            .collect()
    }

    /// Number of trainable scalars (BN weight and bias counted, running statistics not).
    fn num_parameters(&self) -> i64 {
        self.parameters().iter().map(|t| t.numel() as i64).sum()
    }
}

impl std::fmt::Debug for dyn Model + '_ {
    /// The spec, kind and device (not the values), so `Result<Box<dyn Model>>` can be debugged.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("spec", &self.spec())
            .field("kind", &self.kind())
            .field("device", &self.device())
            .finish()
    }
}
