//! The fast evaluation path: an inference-only forward pass of the built-in networks with every
//! batch normalization folded into the convolution or linear layer before it, rebuilt from the
//! model's current weights at each grid point.
//!
//! In evaluation mode a BN layer is an affine map per channel, `y = s * x + t` with
//! `s = gamma / sqrt(var + eps)` and `t = beta - mean * s`, so `BN(conv(x, W, b)) =
//! conv(x, s * W, s * b + t)`. Folding costs one pass over the weights (about 0.3 M numbers for
//! ResNet-20, microseconds) and removes every BN pass over the activations. The grid driver
//! changes the weights at each point, so [`FastForward::fold`] is called once per evaluation, never
//! cached across points.
//!
//! The plan is read from the model's canonical tensor names (the PyTorch `state_dict` names of
//! the CIFAR ResNets, Wide-ResNets and VGG-9 of losscape-models) and its spec; a model whose
//! tensors do not match one of those layouts exactly (an imported module, an f64 model used for
//! exact checks) gets no plan and is evaluated by the plain path.

use std::collections::HashMap;

use losscape_models::{Family, Model, ModelSpec, Role, BN_EPS};
use tch::{Kind, Tensor};

use crate::error::Result;

/// Memory layout of the activations and folded weights of the fast path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    /// Plain NCHW (contiguous) tensors.
    #[default]
    Contiguous,
    /// NHWC strides behind NCHW shapes (PyTorch's `channels_last`), which oneDNN convolutions
    /// run on without reordering.
    ChannelsLast,
}

impl Layout {
    /// `t` (4D) in this layout; other ranks are returned unchanged.
    pub fn apply(self, t: &Tensor) -> Result<Tensor> {
        if self == Layout::ChannelsLast && t.dim() == 4 {
            Ok(t.f_permute([0, 2, 3, 1])?.f_contiguous()?.f_permute([0, 3, 1, 2])?)
        } else {
            Ok(t.shallow_clone())
        }
    }
}

/// A batch normalization's tensors (shared with the model).
struct Bn {
    weight: Tensor,
    bias: Tensor,
    mean: Tensor,
    var: Tensor,
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
struct AffineBn {
    weight: Tensor,
    bias: Option<Tensor>,
    bn: Bn,
    stride: i64,
    padding: i64,
}

/// An [`AffineBn`] with the BN folded in.
struct Folded {
    weight: Tensor,
    bias: Tensor,
    stride: i64,
    padding: i64,
}

impl AffineBn {
    fn fold(&self, layout: Layout) -> Result<Folded> {
        let (scale, shift) = self.bn.scale_shift()?;
        let mut shape = vec![-1i64];
        shape.resize(self.weight.dim(), 1);
        let weight = layout.apply(&self.weight.f_mul(&scale.f_reshape(&shape)?)?)?;
        let bias = match &self.bias {
            Some(b) => b.f_mul(&scale)?.f_add(&shift)?,
            None => shift,
        };
        Ok(Folded { weight, bias, stride: self.stride, padding: self.padding })
    }
}

impl Folded {
    fn conv(&self, xs: &Tensor) -> Result<Tensor> {
        let (s, p) = (self.stride, self.padding);
        Ok(xs.f_conv2d(&self.weight, Some(&self.bias), [s, s], [p, p], [1, 1], 1)?)
    }

    fn conv_relu(&self, xs: &Tensor) -> Result<Tensor> {
        Ok(self.conv(xs)?.f_relu_()?)
    }
}

/// What a residual block adds to its branch.
enum Shortcut<T> {
    None,
    Identity,
    Projection(T),
}

/// One residual block: conv-BN-ReLU-conv-BN, plus the shortcut, then ReLU.
struct Block<T> {
    conv1: T,
    conv2: T,
    shortcut: Shortcut<T>,
}

/// The layer graph of a supported network, over unfolded (`AffineBn`) or folded layers.
enum Graph<T> {
    ResNet { stem: T, blocks: Vec<Block<T>>, linear: (Tensor, Tensor) },
    Vgg { features: Vec<(T, bool)>, fc: T, classifier: (Tensor, Tensor) },
}

/// The fast forward pass of one model: its layer graph over the model's own tensors (shared
/// storage), ready to be folded at the model's current weights.
pub struct FastForward {
    graph: Graph<AffineBn>,
    layout: Layout,
}

/// A [`FastForward`] folded at one set of weights: an inference-only network.
pub struct FoldedForward {
    graph: Graph<Folded>,
    layout: Layout,
}

/// The model's tensors by name, with the names not yet used by the plan.
struct Tensors {
    by_name: HashMap<String, Tensor>,
}

impl Tensors {
    fn take(&mut self, name: &str) -> Option<Tensor> {
        self.by_name.remove(name)
    }

    fn has(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    fn bn(&mut self, name: &str) -> Option<Bn> {
        Some(Bn {
            weight: self.take(&format!("{name}.weight"))?,
            bias: self.take(&format!("{name}.bias"))?,
            mean: self.take(&format!("{name}.running_mean"))?,
            var: self.take(&format!("{name}.running_var"))?,
        })
    }

    /// Convolution or linear layer `layer` (with bias when `bias`) followed by BN `bn`.
    fn affine_bn(&mut self, layer: &str, bn: &str, stride: i64, bias: bool) -> Option<AffineBn> {
        let weight = self.take(&format!("{layer}.weight"))?;
        let bias = if bias { Some(self.take(&format!("{layer}.bias"))?) } else { None };
        let padding = if weight.dim() == 4 { weight.size()[2] / 2 } else { 0 };
        Some(AffineBn { weight, bias, bn: self.bn(bn)?, stride, padding })
    }

    fn linear(&mut self, name: &str) -> Option<(Tensor, Tensor)> {
        Some((self.take(&format!("{name}.weight"))?, self.take(&format!("{name}.bias"))?))
    }
}

impl FastForward {
    /// The fast path for `model` with activations in `layout`, or `None` when the model is not
    /// one of the built-in f32 architectures whose tensors match their canonical layout exactly.
    pub fn new(model: &dyn Model, layout: Layout) -> Option<Self> {
        if model.kind() != Kind::Float {
            return None;
        }
        let spec: ModelSpec = model.spec().parse().ok()?;
        let mut tensors = Tensors {
            by_name: model
                .named_tensors()
                .into_iter()
                .filter(|t| t.role != Role::BnNumBatchesTracked)
                .map(|t| (t.name, t.tensor))
                .collect(),
        };
        let graph = match spec.family() {
            Family::ResNet => resnet_graph(&mut tensors, spec.shortcuts())?,
            Family::Vgg9 => vgg_graph(&mut tensors)?,
        };
        // Every tensor must belong to the plan, or the model is not what the plan assumes.
        tensors.by_name.is_empty().then_some(Self { graph, layout })
    }

    /// The layout of the activations.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Folds every BN at the model's current weights (call it after each weight change).
    pub fn fold(&self) -> Result<FoldedForward> {
        let _guard = tch::no_grad_guard();
        let l = self.layout;
        let graph = match &self.graph {
            Graph::ResNet { stem, blocks, linear } => Graph::ResNet {
                stem: stem.fold(l)?,
                blocks: blocks
                    .iter()
                    .map(|b| {
                        Ok(Block {
                            conv1: b.conv1.fold(l)?,
                            conv2: b.conv2.fold(l)?,
                            shortcut: match &b.shortcut {
                                Shortcut::None => Shortcut::None,
                                Shortcut::Identity => Shortcut::Identity,
                                Shortcut::Projection(p) => Shortcut::Projection(p.fold(l)?),
                            },
                        })
                    })
                    .collect::<Result<_>>()?,
                linear: (linear.0.shallow_clone(), linear.1.shallow_clone()),
            },
            Graph::Vgg { features, fc, classifier } => Graph::Vgg {
                features: features.iter().map(|(c, pool)| Ok((c.fold(l)?, *pool))).collect::<Result<_>>()?,
                fc: fc.fold(l)?,
                classifier: (classifier.0.shallow_clone(), classifier.1.shallow_clone()),
            },
        };
        Ok(FoldedForward { graph, layout: self.layout })
    }
}

fn resnet_graph(t: &mut Tensors, shortcuts: bool) -> Option<Graph<AffineBn>> {
    let stem = t.affine_bn("conv1", "bn1", 1, false)?;
    let mut blocks = Vec::new();
    for stage in 1..=3 {
        let mut i = 0;
        while t.has(&format!("layer{stage}.{i}.conv1.weight")) {
            let name = format!("layer{stage}.{i}");
            let stride = if stage > 1 && i == 0 { 2 } else { 1 };
            let conv1 = t.affine_bn(&format!("{name}.conv1"), &format!("{name}.bn1"), stride, false)?;
            let conv2 = t.affine_bn(&format!("{name}.conv2"), &format!("{name}.bn2"), 1, false)?;
            let shortcut = if t.has(&format!("{name}.shortcut.0.weight")) {
                let sc = format!("{name}.shortcut");
                Shortcut::Projection(t.affine_bn(&format!("{sc}.0"), &format!("{sc}.1"), stride, false)?)
            } else if shortcuts {
                Shortcut::Identity
            } else {
                Shortcut::None
            };
            blocks.push(Block { conv1, conv2, shortcut });
            i += 1;
        }
    }
    let linear = t.linear("linear")?;
    Some(Graph::ResNet { stem, blocks, linear })
}

fn vgg_graph(t: &mut Tensors) -> Option<Graph<AffineBn>> {
    // features.{k} conv (with bias), features.{k+1} BN, features.{k+2} ReLU, then features.{k+3}
    // a 2x2 max pooling when the next convolution is at k+4 or this is the last one.
    let mut features = Vec::new();
    let mut k = 0;
    while t.has(&format!("features.{k}.weight")) {
        let conv = t.affine_bn(&format!("features.{k}"), &format!("features.{}", k + 1), 1, true)?;
        let next_direct = t.has(&format!("features.{}.weight", k + 3));
        features.push((conv, !next_direct));
        k += if next_direct { 3 } else { 4 };
    }
    let fc = t.affine_bn("fc.0", "fc.1", 0, true)?;
    let classifier = t.linear("classifier")?;
    Some(Graph::Vgg { features, fc, classifier })
}

impl FoldedForward {
    /// Logits for a batch of images `[N, C, H, W]` (evaluation mode; call under `no_grad`).
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
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
                let flat = out.f_flatten(1, -1)?;
                let hidden = flat.f_linear(&fc.weight, Some(&fc.bias))?.f_relu_()?;
                Ok(hidden.f_linear(&classifier.0, Some(&classifier.1))?)
            }
        }
    }
}
