//! VGG-9 with batch normalization, as in the paper's batch-size and weight-decay experiments.
//!
//! Features: conv 64, 64, M, 128, 128, M, 256, 256, 256, M, where each conv is 3x3 (padding 1,
//! with bias) + BN + ReLU and M is 2x2 max pooling with stride 2 rounding up (ceil mode), so
//! 32x32 and 28x28 inputs both end at 4x4. Then `fc`: Linear(256*h*w -> 256) + BN1d + ReLU,
//! then `classifier`: Linear(256 -> classes). The flattened size h*w follows from the image size
//! given at build time. Tensor names follow the original's `nn.Sequential` indices
//! (`features.0.weight`, `features.1.running_mean`, `fc.0.weight`, `fc.1.weight`,
//! `classifier.weight`).

use tch::Tensor;

use crate::error::{Error, Result};
use crate::inference::{AffineBn, Graph};
use crate::layers::{Architecture, BatchNorm, Builder, Conv2d, Linear};

/// The feature configuration: channel counts, `None` for a max pooling.
const FEATURES: [Option<i64>; 10] = [
    Some(64),
    Some(64),
    None,
    Some(128),
    Some(128),
    None,
    Some(256),
    Some(256),
    Some(256),
    None,
];

/// Width of the hidden fully connected layer (the last feature map count).
const HIDDEN: i64 = 256;

/// One step of the feature extractor.
enum Step {
    Conv(Conv2d, BatchNorm),
    Pool,
}

/// VGG-9's layers.
pub(crate) struct Vgg9 {
    features: Vec<Step>,
    fc: Linear,
    fc_bn: BatchNorm,
    classifier: Linear,
}

/// Output side of a 2x2, stride-2, ceil-mode max pooling (the input side must be at least 2).
fn pooled(side: i64) -> i64 {
    (side + 1) / 2
}

impl Vgg9 {
    /// The feature-map size after the three poolings, or an error when the image is too small.
    pub(crate) fn feature_size(image_size: [i64; 2]) -> Result<[i64; 2]> {
        let mut size = image_size;
        for side in size.iter_mut() {
            for _ in 0..3 {
                if *side < 2 {
                    return Err(Error::Invalid(format!(
                        "vgg9 needs images of at least 5x5 (three 2x2 poolings), got {}x{}",
                        image_size[0], image_size[1]
                    )));
                }
                *side = pooled(*side);
            }
        }
        Ok(size)
    }

    /// Constructs the layers in canonical order.
    pub(crate) fn new(b: &mut Builder, in_channels: i64, num_classes: i64, image_size: [i64; 2]) -> Result<Self> {
        let [h, w] = Self::feature_size(image_size)?;
        let mut features = Vec::with_capacity(FEATURES.len());
        let mut index = 0;
        let mut cin = in_channels;
        for item in FEATURES {
            match item {
                Some(cout) => {
                    let conv = b.conv(&format!("features.{index}"), cin, cout, 3, 1, true)?;
                    let bn = b.batch_norm(&format!("features.{}", index + 1), cout)?;
                    features.push(Step::Conv(conv, bn));
                    index += 3; // conv, BN, ReLU
                    cin = cout;
                }
                None => {
                    features.push(Step::Pool);
                    index += 1;
                }
            }
        }
        let fc = b.linear("fc.0", cin * h * w, HIDDEN)?;
        let fc_bn = b.batch_norm("fc.1", HIDDEN)?;
        let classifier = b.linear("classifier", HIDDEN, num_classes)?;
        Ok(Self {
            features,
            fc,
            fc_bn,
            classifier,
        })
    }
}

impl Architecture for Vgg9 {
    fn forward(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let mut out = xs.shallow_clone();
        for step in &self.features {
            out = match step {
                Step::Conv(conv, bn) => bn.forward(&conv.forward(&out)?, train)?.f_relu()?,
                Step::Pool => out.f_max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], true)?,
            };
        }
        let flat = out.f_flatten(1, -1)?;
        let hidden = self.fc_bn.forward(&self.fc.forward(&flat)?, train)?.f_relu()?;
        self.classifier.forward(&hidden)
    }

    /// The same layers as an inference graph: each convolution with its BN and whether a pooling
    /// follows it, then the hidden layer with its BN.
    fn inference_graph(&self) -> Option<Graph<AffineBn>> {
        let mut features: Vec<(AffineBn, bool)> = Vec::new();
        for step in &self.features {
            match step {
                Step::Conv(conv, bn) => features.push((conv.then_bn(bn), false)),
                Step::Pool => features.last_mut()?.1 = true,
            }
        }
        Some(Graph::Vgg { features, fc: self.fc.then_bn(&self.fc_bn), classifier: self.classifier.plan() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_sizes_follow_ceil_mode_pooling() {
        assert_eq!(Vgg9::feature_size([32, 32]).unwrap(), [4, 4]);
        assert_eq!(Vgg9::feature_size([28, 28]).unwrap(), [4, 4]);
        assert_eq!(Vgg9::feature_size([5, 64]).unwrap(), [1, 8]);
        assert!(Vgg9::feature_size([4, 32])
            .unwrap_err()
            .to_string()
            .contains("at least 5x5"));
    }
}
