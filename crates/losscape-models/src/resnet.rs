//! The CIFAR ResNet family of the paper: depth 6n+2, width multiplier k, with or without
//! shortcut connections.
//!
//! `conv1` (3x3, 16k channels) + BN + ReLU, then three stages of n BasicBlocks with 16k, 32k
//! and 64k channels (the first block of stages 2 and 3 has stride 2), global average pooling and
//! a Linear head. A BasicBlock is conv3x3-BN-ReLU-conv3x3-BN, plus the shortcut, then ReLU. The
//! shortcut is the identity, or a projection (1x1 conv with the block's stride, no bias, + BN)
//! where the shape changes; `-noshort` networks have no shortcut at all. Convolutions have no
//! bias. Tensor names follow the original PyTorch `state_dict` (`layer2.0.shortcut.0.weight`).

use tch::Tensor;

use crate::error::Result;
use crate::inference::{self, AffineBn, Graph};
use crate::layers::{Architecture, BatchNorm, Builder, Conv2d, Linear};
use crate::spec::ModelSpec;

/// One residual block.
struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    shortcut: Shortcut,
}

/// What a block adds to its residual branch.
enum Shortcut {
    /// No shortcut connection (`-noshort` networks).
    None,
    /// The block's input itself.
    Identity,
    /// 1x1 convolution with stride + BN, where channels or resolution change.
    Projection(Conv2d, BatchNorm),
}

impl BasicBlock {
    fn new(b: &mut Builder, name: &str, cin: i64, cout: i64, stride: i64, shortcuts: bool) -> Result<Self> {
        let conv1 = b.conv(&format!("{name}.conv1"), cin, cout, 3, stride, false)?;
        let bn1 = b.batch_norm(&format!("{name}.bn1"), cout)?;
        let conv2 = b.conv(&format!("{name}.conv2"), cout, cout, 3, 1, false)?;
        let bn2 = b.batch_norm(&format!("{name}.bn2"), cout)?;
        let shortcut = if !shortcuts {
            Shortcut::None
        } else if stride != 1 || cin != cout {
            let conv = b.conv(&format!("{name}.shortcut.0"), cin, cout, 1, stride, false)?;
            let bn = b.batch_norm(&format!("{name}.shortcut.1"), cout)?;
            Shortcut::Projection(conv, bn)
        } else {
            Shortcut::Identity
        };
        Ok(Self {
            conv1,
            bn1,
            conv2,
            bn2,
            shortcut,
        })
    }

    fn forward(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let out = self.bn1.forward(&self.conv1.forward(xs)?, train)?.f_relu()?;
        let out = self.bn2.forward(&self.conv2.forward(&out)?, train)?;
        let out = match &self.shortcut {
            Shortcut::None => out,
            Shortcut::Identity => out.f_add(xs)?,
            Shortcut::Projection(conv, bn) => out.f_add(&bn.forward(&conv.forward(xs)?, train)?)?,
        };
        Ok(out.f_relu()?)
    }
}

/// A CIFAR ResNet's layers.
pub(crate) struct ResNet {
    conv1: Conv2d,
    bn1: BatchNorm,
    blocks: Vec<BasicBlock>,
    linear: Linear,
}

impl ResNet {
    /// Constructs the layers of `spec` (a ResNet spec) in canonical order.
    pub(crate) fn new(b: &mut Builder, spec: &ModelSpec, in_channels: i64, num_classes: i64) -> Result<Self> {
        let n = spec.blocks_per_stage().unwrap_or(1) as i64;
        let base = 16 * spec.width() as i64;
        let conv1 = b.conv("conv1", in_channels, base, 3, 1, false)?;
        let bn1 = b.batch_norm("bn1", base)?;
        let mut blocks = Vec::with_capacity(3 * n as usize);
        let mut cin = base;
        for stage in 0..3 {
            let cout = base << stage;
            for i in 0..n {
                let stride = if stage > 0 && i == 0 { 2 } else { 1 };
                let name = format!("layer{}.{i}", stage + 1);
                blocks.push(BasicBlock::new(b, &name, cin, cout, stride, spec.shortcuts())?);
                cin = cout;
            }
        }
        let linear = b.linear("linear", cin, num_classes)?;
        Ok(Self {
            conv1,
            bn1,
            blocks,
            linear,
        })
    }
}

impl Architecture for ResNet {
    fn forward(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let mut out = self.bn1.forward(&self.conv1.forward(xs)?, train)?.f_relu()?;
        for block in &self.blocks {
            out = block.forward(&out, train)?;
        }
        // Global average pooling: the original's avg_pool2d(8) on 32x32 inputs, for any size.
        let pooled = out.f_mean_dim([2i64, 3].as_slice(), false, None)?;
        self.linear.forward(&pooled)
    }

    /// The same layers as an inference graph: each convolution with the BN after it.
    fn inference_graph(&self) -> Option<Graph<AffineBn>> {
        let blocks = self
            .blocks
            .iter()
            .map(|b| inference::Block {
                conv1: b.conv1.then_bn(&b.bn1),
                conv2: b.conv2.then_bn(&b.bn2),
                shortcut: match &b.shortcut {
                    Shortcut::None => inference::Shortcut::None,
                    Shortcut::Identity => inference::Shortcut::Identity,
                    Shortcut::Projection(conv, bn) => inference::Shortcut::Projection(conv.then_bn(bn)),
                },
            })
            .collect();
        Some(Graph::ResNet { stem: self.conv1.then_bn(&self.bn1), blocks, linear: self.linear.plan() })
    }
}
