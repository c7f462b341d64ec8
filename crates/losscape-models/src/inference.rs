//! The inference plan of the built-in networks: a forward pass with every batch normalization
//! folded into the convolution or linear layer before it, for evaluation only.
//!
//! In evaluation mode a BN layer is an affine map per channel, `y = s * x + t` with
//! `s = gamma / sqrt(var + eps)` and `t = beta - mean * s`, so `BN(conv(x, W, b)) =
//! conv(x, s * W, s * b + t)`. Each built-in architecture (resnet.rs, vgg.rs) gives its plan from
//! its own layers ([`Model::inference_plan`]): the plan holds the model's tensors (shared storage),
//! so it is built once per job and follows every weight change made in place; [`FastForward::fold`]
//! folds it at the current weights (one pass over the weights, microseconds for ResNet-20) before
//! each evaluation. Models without a plan (TorchScript modules, f64 models kept for exact checks)
//! are evaluated by their own forward.
//!
//! A plan may compute in another floating kind than the model's ([`FastForward::with_kind`]: bf16
//! on CPUs with native bf16, or on GPUs): the weights are folded in the model's kind and then
//! cast, the images are cast at the input, and the logits come back in f32, so losses and
//! accuracies are summed as for an f32 plan. A ResNet's pooling and linear head run in f32 (a
//! few FLOPs; on a trained ResNet-20 it lowered the largest relative loss deviation from f32
//! slightly, 1.43e-1 to 1.31e-1 at a point of loss 0.09: the body's rounding dominates).

use tch::{Kind, Tensor};

use crate::error::Result;
use crate::layers::BN_EPS;
use crate::model::Model;

#[path = "inference_grouped.rs"]
mod grouped;
pub use grouped::GroupedForward;

/// Memory layout of the activations and folded weights of the fast path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    /// Plain NCHW (contiguous) tensors.
    #[default]
    Contiguous,
    /// NHWC strides behind NCHW shapes (PyTorch's `channels_last`), which oneDNN convolutions
    /// run on without reordering.
    ChannelsLast,
    /// oneDNN's own blocked layout (`to_mkldnn`), with the convolution weights reordered once per
    /// fold (`mkldnn_reorder_conv2d_weight`) and activations kept in it until the pooling (CPU
    /// only; an experiment, see the crate README).
    Mkldnn,
}

impl Layout {
    /// `t` (4D) in this layout; other ranks are returned unchanged.
    pub fn apply(self, t: &Tensor) -> Result<Tensor> {
        if self == Layout::Mkldnn && t.dim() == 4 {
            return Ok(t.f_contiguous()?.f_to_mkldnn(None)?);
        }
        if self == Layout::ChannelsLast && t.dim() == 4 {
            Ok(t.f_permute([0, 2, 3, 1])?.f_contiguous()?.f_permute([0, 3, 1, 2])?)
        } else {
            Ok(t.shallow_clone())
        }
    }
}

/// A batch normalization's tensors (shared with the model).
pub(crate) struct Bn {
    pub(crate) weight: Tensor,
    pub(crate) bias: Tensor,
    pub(crate) mean: Tensor,
    pub(crate) var: Tensor,
}

impl Bn {
    /// The per-channel scale and shift of the evaluation-mode BN.
    fn scale_shift(&self) -> Result<(Tensor, Tensor)> {
        let scale = self.weight.f_div(&self.var.f_add_scalar(BN_EPS)?.f_sqrt()?)?;
        let shift = self.bias.f_sub(&self.mean.f_mul(&scale)?)?;
        Ok((scale, shift))
    }
}

/// A convolution (or a linear layer, with `stride` 0) followed by a BN.
pub(crate) struct AffineBn {
    pub(crate) weight: Tensor,
    pub(crate) bias: Option<Tensor>,
    pub(crate) bn: Bn,
    pub(crate) stride: i64,
    pub(crate) padding: i64,
}

/// An [`AffineBn`] with the BN folded in.
pub(crate) struct Folded {
    weight: Tensor,
    bias: Tensor,
    stride: i64,
    padding: i64,
    /// Weights reordered for oneDNN, inputs in its layout ([`Layout::Mkldnn`]).
    mkldnn: bool,
}

/// `t` in `kind` (`None`: as it is).
fn cast(t: Tensor, kind: Option<Kind>) -> Result<Tensor> {
    match kind {
        Some(k) if t.kind() != k => Ok(t.f_to_kind(k)?),
        _ => Ok(t),
    }
}

impl AffineBn {
    fn fold(&self, layout: Layout, kind: Option<Kind>) -> Result<Folded> {
        let (scale, shift) = self.bn.scale_shift()?;
        let mut shape = vec![-1i64];
        shape.resize(self.weight.dim(), 1);
        let (s, p) = (self.stride, self.padding);
        let weight = cast(self.weight.f_mul(&scale.f_reshape(&shape)?)?, kind)?;
        let bias = cast(
            match &self.bias {
                Some(b) => b.f_mul(&scale)?.f_add(&shift)?,
                None => shift,
            },
            kind,
        )?;
        if layout == Layout::Mkldnn && weight.dim() == 4 {
            let weight = weight.f_contiguous()?.f_to_mkldnn(None)?.f_mkldnn_reorder_conv2d_weight([p, p], [s, s], [1, 1], 1, None::<&[i64]>)?;
            let bias = bias.f_contiguous()?.f_to_mkldnn(None)?;
            return Ok(Folded { weight, bias, stride: s, padding: p, mkldnn: true });
        }
        let weight = layout.apply(&weight)?;
        Ok(Folded { weight, bias, stride: self.stride, padding: self.padding, mkldnn: false })
    }
}

impl Folded {
    fn conv(&self, xs: &Tensor) -> Result<Tensor> {
        let (s, p) = (self.stride, self.padding);
        if self.mkldnn {
            return Ok(xs.f_mkldnn_convolution(&self.weight, Some(&self.bias), [p, p], [s, s], [1, 1], 1)?);
        }
        Ok(xs.f_conv2d(&self.weight, Some(&self.bias), [s, s], [p, p], [1, 1], 1)?)
    }

    fn conv_relu(&self, xs: &Tensor) -> Result<Tensor> {
        Ok(self.conv(xs)?.f_relu_()?)
    }
}

/// What a residual block adds to its branch.
pub(crate) enum Shortcut<T> {
    None,
    Identity,
    Projection(T),
}

/// One residual block: conv-BN-ReLU-conv-BN, plus the shortcut, then ReLU.
pub(crate) struct Block<T> {
    pub(crate) conv1: T,
    pub(crate) conv2: T,
    pub(crate) shortcut: Shortcut<T>,
}

/// The layer graph of a supported network, over unfolded (`AffineBn`) or folded layers.
pub(crate) enum Graph<T> {
    ResNet { stem: T, blocks: Vec<Block<T>>, linear: (Tensor, Tensor) },
    Vgg { features: Vec<(T, bool)>, fc: T, classifier: (Tensor, Tensor) },
}

/// The fast forward pass of one model: its layer graph over the model's own tensors (shared
/// storage), ready to be folded at the model's current weights.
pub struct FastForward {
    graph: Graph<AffineBn>,
    layout: Layout,
    /// The kind the folded network computes in (`None`: the model's).
    kind: Option<Kind>,
}

/// A [`FastForward`] folded at one set of weights: an inference-only network.
pub struct FoldedForward {
    graph: Graph<Folded>,
    layout: Layout,
    kind: Option<Kind>,
}

impl FastForward {
    /// The fast path for `model` with activations in `layout`: the plan its architecture gives
    /// ([`Model::inference_plan`]), or `None` for a model without one (a TorchScript module, a
    /// wrapper, an f64 model kept for exact checks).
    pub fn new(model: &dyn Model, layout: Layout) -> Option<Self> {
        model.inference_plan(layout)
    }

    /// The plan over `graph`, built by a built-in architecture from its own layers.
    pub(crate) fn from_graph(graph: Graph<AffineBn>, layout: Layout) -> Self {
        Self { graph, layout, kind: None }
    }

    /// The same plan computing in `kind` (weights and activations; e.g. `Kind::BFloat16`), its
    /// logits returned in f32. The weights are folded in the model's kind, then cast.
    pub fn with_kind(mut self, kind: Kind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// The kind the folded network computes in (`None`: the model's).
    pub fn kind(&self) -> Option<Kind> {
        self.kind
    }

    /// The layout of the activations.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Folds every BN at the model's current weights (call it after each weight change).
    pub fn fold(&self) -> Result<FoldedForward> {
        let _guard = tch::no_grad_guard();
        let (l, k) = (self.layout, self.kind);
        let graph = match &self.graph {
            Graph::ResNet { stem, blocks, linear } => Graph::ResNet {
                stem: stem.fold(l, k)?,
                blocks: blocks
                    .iter()
                    .map(|b| {
                        Ok(Block {
                            conv1: b.conv1.fold(l, k)?,
                            conv2: b.conv2.fold(l, k)?,
                            shortcut: match &b.shortcut {
                                Shortcut::None => Shortcut::None,
                                Shortcut::Identity => Shortcut::Identity,
                                Shortcut::Projection(p) => Shortcut::Projection(p.fold(l, k)?),
                            },
                        })
                    })
                    .collect::<Result<_>>()?,
                linear: (linear.0.shallow_clone(), linear.1.shallow_clone()),
            },
            Graph::Vgg { features, fc, classifier } => Graph::Vgg {
                features: features.iter().map(|(c, pool)| Ok((c.fold(l, k)?, *pool))).collect::<Result<_>>()?,
                fc: fc.fold(l, k)?,
                classifier: (cast(classifier.0.shallow_clone(), k)?, cast(classifier.1.shallow_clone(), k)?),
            },
        };
        Ok(FoldedForward { graph, layout: self.layout, kind: self.kind })
    }
}

impl FoldedForward {
    /// Logits for a batch of images `[N, C, H, W]` (evaluation mode; call under `no_grad`); in
    /// f32 when the plan computes in another kind than the images'.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let logits = self.forward_in_kind(&cast(xs.shallow_clone(), self.kind)?)?;
        match self.kind {
            Some(k) if k != xs.kind() => Ok(logits.f_to_kind(Kind::Float)?),
            _ => Ok(logits),
        }
    }

    fn forward_in_kind(&self, xs: &Tensor) -> Result<Tensor> {
        let xs = self.layout.apply(xs)?;
        match &self.graph {
            Graph::ResNet { stem, blocks, linear } => {
                let mut out = stem.conv_relu(&xs)?;
                for b in blocks {
                    let mut branch = b.conv2.conv(&b.conv1.conv_relu(&out)?)?;
                    let mut sum = match &b.shortcut {
                        Shortcut::None => branch,
                        Shortcut::Identity => branch.f_add_(&out)?,
                        Shortcut::Projection(p) => branch.f_add_(&p.conv(&out)?)?,
                    };
                    out = sum.f_relu_()?;
                }
                if out.is_mkldnn() {
                    out = out.f_to_dense(None, false)?;
                }
                // The pooling and the head in f32: their few FLOPs decide the logits' rounding.
                if out.kind() == Kind::BFloat16 {
                    out = out.f_to_kind(Kind::Float)?;
                }
                let pooled = out.f_mean_dim([2i64, 3].as_slice(), false, None)?;
                Ok(pooled.f_linear(&linear.0, Some(&linear.1))?)
            }
            Graph::Vgg { features, fc, classifier } => {
                let mut out = xs;
                for (conv, pool) in features {
                    out = conv.conv_relu(&out)?;
                    if *pool {
                        out = out.f_max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], true)?;
                    }
                }
                if out.is_mkldnn() {
                    out = out.f_to_dense(None, false)?;
                }
                let flat = out.f_flatten(1, -1)?;
                let hidden = flat.f_linear(&fc.weight, Some(&fc.bias))?.f_relu_()?;
                Ok(hidden.f_linear(&classifier.0, Some(&classifier.1))?)
            }
        }
    }
}
