//! Several grid points in one forward pass: the folded networks of `K` points (the inference plan
//! folded at `K` sets of weights) stacked into one network whose every convolution is a grouped
//! one (`groups = K`: group `k` holds point `k`'s filters) and whose linear layers are batched
//! matrix products. The images go in once, repeated `K` times along the channels, and the logits
//! of all `K` points come out together (`[K, N, classes]`), each equal to its own point's
//! [`FoldedForward::forward`] up to f32 rounding.
//!
//! On a GPU one wide pass fills the device better than `K` narrow ones for small networks
//! (ResNet-20/56 at batch sizes that leave it idle between kernels); on a CPU the work is the same
//! and only the per-layer overheads are shared. Whether it pays is measured (the crate README,
//! `scripts/gpu-check.sh`), not assumed.
//!
//! [`FastForward::largest_activation`] gives the largest activation one image makes in the plan,
//! from which a GPU's batch size is sized to its free memory (losscape-landscape's `batch_size`).

use tch::Tensor;

use super::{AffineBn, Block, FastForward, Folded, FoldedForward, Graph, Layout, Shortcut};
use crate::error::{Error, Result};

/// The folded networks of several grid points stacked into one (see the module docs).
pub struct GroupedForward {
    graph: Graph<Folded>,
    points: i64,
    layout: Layout,
}

impl FastForward {
    /// [`fold`](FastForward::fold) with every tensor owned by the result: the layers the fold
    /// leaves shared with the model (the linear classifier's) are copied, so the result keeps
    /// these weights after the model moves on to another point (as [`GroupedForward::stack`]
    /// needs).
    pub fn fold_owned(&self) -> Result<FoldedForward> {
        let _guard = tch::no_grad_guard();
        let mut folded = self.fold()?;
        let copy = |(w, b): &(Tensor, Tensor)| -> Result<(Tensor, Tensor)> { Ok((w.copy(), b.copy())) };
        match &mut folded.graph {
            Graph::ResNet { linear, .. } => *linear = copy(linear)?,
            Graph::Vgg { classifier, .. } => *classifier = copy(classifier)?,
        }
        Ok(folded)
    }
}

impl FastForward {
    /// The number of values of the largest activation (a layer's output) that one image of shape
    /// `[C, H, W]` makes in this plan, from the layers' shapes alone (no forward pass). Errors when
    /// the image does not fit the first layer or shrinks to nothing.
    pub fn largest_activation(&self, image: [i64; 3]) -> Result<i64> {
        let out = |layer: &AffineBn, [c, h, w]: [i64; 3]| -> Result<[i64; 3]> {
            let s = layer.weight.size();
            if s.len() != 4 || s[1] != c {
                return Err(Error::Invalid(format!("an image of shape [{c}, {h}, {w}] does not fit a layer of shape {s:?}")));
            }
            let (st, p) = (layer.stride.max(1), layer.padding);
            let next = [s[0], (h + 2 * p - s[2]) / st + 1, (w + 2 * p - s[3]) / st + 1];
            if next[1] < 1 || next[2] < 1 {
                return Err(Error::Invalid(format!("an image of shape {image:?} shrinks to nothing in this network")));
            }
            Ok(next)
        };
        let numel = |[c, h, w]: [i64; 3]| c * h * w;
        let mut largest = numel(image);
        match &self.graph {
            Graph::ResNet { stem, blocks, .. } => {
                let mut x = out(stem, image)?;
                largest = largest.max(numel(x));
                for b in blocks {
                    let a = out(&b.conv1, x)?;
                    let y = out(&b.conv2, a)?;
                    largest = largest.max(numel(a)).max(numel(y));
                    if let Shortcut::Projection(p) = &b.shortcut {
                        largest = largest.max(numel(out(p, x)?));
                    }
                    x = y;
                }
            }
            Graph::Vgg { features, .. } => {
                let mut x = image;
                for (conv, pool) in features {
                    x = out(conv, x)?;
                    largest = largest.max(numel(x));
                    if *pool {
                        x = [x[0], (x[1] + 1) / 2, (x[2] + 1) / 2];
                    }
                }
            }
        }
        Ok(largest)
    }
}

/// `K` convolutions (each `[Cout, Cin, kh, kw]`) as one grouped convolution's `[K Cout, Cin, kh,
/// kw]` weight (in `layout`) and `[K Cout]` bias; linear layers (stride 0, 2D weights) as
/// `[K, out, in]` and `[K, out]` for batched products.
fn stack_layers(parts: &[&Folded], layout: Layout) -> Result<Folded> {
    let first = parts[0];
    if parts.iter().any(|f| f.mkldnn) {
        return Err(Error::Invalid("grid points per pass need the contiguous or channels-last layout, not oneDNN's blocked one".into()));
    }
    let weights: Vec<&Tensor> = parts.iter().map(|f| &f.weight).collect();
    let biases: Vec<&Tensor> = parts.iter().map(|f| &f.bias).collect();
    let (weight, bias) = if first.weight.dim() == 2 {
        (Tensor::f_stack(&weights, 0)?, Tensor::f_stack(&biases, 0)?)
    } else {
        (layout.apply(&Tensor::f_cat(&weights, 0)?)?, Tensor::f_cat(&biases, 0)?)
    };
    Ok(Folded { weight, bias, stride: first.stride, padding: first.padding, mkldnn: false })
}

fn stack_linear(parts: &[&(Tensor, Tensor)]) -> Result<(Tensor, Tensor)> {
    let w: Vec<&Tensor> = parts.iter().map(|p| &p.0).collect();
    let b: Vec<&Tensor> = parts.iter().map(|p| &p.1).collect();
    Ok((Tensor::f_stack(&w, 0)?, Tensor::f_stack(&b, 0)?))
}

/// `xs` `[K, N, in]` through `K` linear layers `[K, out, in]`, `[K, out]`: `[K, N, out]`.
fn batched_linear(xs: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    Ok(xs.f_bmm(&weight.f_transpose(1, 2)?)?.f_add(&bias.f_unsqueeze(1)?)?)
}

impl Folded {
    fn grouped_conv(&self, xs: &Tensor, groups: i64) -> Result<Tensor> {
        let (s, p) = (self.stride, self.padding);
        Ok(xs.f_conv2d(&self.weight, Some(&self.bias), [s, s], [p, p], [1, 1], groups)?)
    }
}

impl GroupedForward {
    /// Stacks the folded networks of `parts` (one per point, from [`FastForward::fold_owned`] of
    /// the same plan at each point's weights). Errors on an empty list or networks of different
    /// graphs.
    pub fn stack(parts: &[FoldedForward]) -> Result<Self> {
        let _guard = tch::no_grad_guard();
        let Some(first) = parts.first() else {
            return Err(Error::Invalid("no folded networks to stack".into()));
        };
        let layout = first.layout;
        let mismatch = || Error::Invalid("the folded networks to stack have different layer graphs".into());
        let graph = match &first.graph {
            Graph::ResNet { blocks, .. } => {
                let mut stems = Vec::new();
                let mut linears = Vec::new();
                let mut all_blocks = Vec::new();
                for part in parts {
                    let Graph::ResNet { stem, blocks: b, linear } = &part.graph else { return Err(mismatch()) };
                    if b.len() != blocks.len() || part.layout != layout {
                        return Err(mismatch());
                    }
                    stems.push(stem);
                    linears.push(linear);
                    all_blocks.push(b);
                }
                let mut stacked = Vec::with_capacity(blocks.len());
                for (i, block) in blocks.iter().enumerate() {
                    let conv1: Vec<&Folded> = all_blocks.iter().map(|b| &b[i].conv1).collect();
                    let conv2: Vec<&Folded> = all_blocks.iter().map(|b| &b[i].conv2).collect();
                    let shortcut = match &block.shortcut {
                        Shortcut::None => Shortcut::None,
                        Shortcut::Identity => Shortcut::Identity,
                        Shortcut::Projection(_) => {
                            let mut p = Vec::new();
                            for b in &all_blocks {
                                let Shortcut::Projection(f) = &b[i].shortcut else { return Err(mismatch()) };
                                p.push(f);
                            }
                            Shortcut::Projection(stack_layers(&p, layout)?)
                        }
                    };
                    stacked.push(Block { conv1: stack_layers(&conv1, layout)?, conv2: stack_layers(&conv2, layout)?, shortcut });
                }
                Graph::ResNet { stem: stack_layers(&stems, layout)?, blocks: stacked, linear: stack_linear(&linears)? }
            }
            Graph::Vgg { features, .. } => {
                let mut all = Vec::new();
                let (mut fcs, mut classifiers) = (Vec::new(), Vec::new());
                for part in parts {
                    let Graph::Vgg { features: f, fc, classifier } = &part.graph else { return Err(mismatch()) };
                    if f.len() != features.len() || part.layout != layout {
                        return Err(mismatch());
                    }
                    all.push(f);
                    fcs.push(fc);
                    classifiers.push(classifier);
                }
                let stacked = features
                    .iter()
                    .enumerate()
                    .map(|(i, (_, pool))| {
                        let convs: Vec<&Folded> = all.iter().map(|f| &f[i].0).collect();
                        Ok((stack_layers(&convs, layout)?, *pool))
                    })
                    .collect::<Result<_>>()?;
                Graph::Vgg { features: stacked, fc: stack_layers(&fcs, layout)?, classifier: stack_linear(&classifiers)? }
            }
        };
        Ok(Self { graph, points: parts.len() as i64, layout })
    }

    /// How many points the network evaluates at once.
    pub fn points(&self) -> usize {
        self.points as usize
    }

    /// Logits of every point for a batch of images `[N, C, H, W]`: `[K, N, classes]`
    /// (evaluation mode; call under `no_grad`).
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let k = self.points;
        let n = xs.size()[0];
        let xs = self.layout.apply(&xs.f_repeat([1, k, 1, 1])?)?;
        match &self.graph {
            Graph::ResNet { stem, blocks, linear } => {
                let mut out = stem.grouped_conv(&xs, k)?.f_relu_()?;
                for b in blocks {
                    let mut branch = b.conv2.grouped_conv(&b.conv1.grouped_conv(&out, k)?.f_relu_()?, k)?;
                    let mut sum = match &b.shortcut {
                        Shortcut::None => branch,
                        Shortcut::Identity => branch.f_add_(&out)?,
                        Shortcut::Projection(p) => branch.f_add_(&p.grouped_conv(&out, k)?)?,
                    };
                    out = sum.f_relu_()?;
                }
                let pooled = out.f_mean_dim([2i64, 3].as_slice(), false, None)?;
                let per_point = pooled.f_reshape([n, k, -1])?.f_transpose(0, 1)?;
                batched_linear(&per_point, &linear.0, &linear.1)
            }
            Graph::Vgg { features, fc, classifier } => {
                let mut out = xs;
                for (conv, pool) in features {
                    out = conv.grouped_conv(&out, k)?.f_relu_()?;
                    if *pool {
                        out = out.f_max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], true)?;
                    }
                }
                let flat = out.f_contiguous()?.f_reshape([n, k, -1])?.f_transpose(0, 1)?;
                let hidden = batched_linear(&flat, &fc.weight, &fc.bias)?.f_relu_()?;
                batched_linear(&hidden, &classifier.0, &classifier.1)
            }
        }
    }
}
