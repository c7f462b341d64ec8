//! [`build`]: a model from its [`BuildSpec`] (network, input shape, class count, precision), a
//! device and a seed.

use tch::Device;

use losscape_core::Precision;

use crate::error::{Error, Result};
use crate::layers::{Builder, Init, Network};
use crate::model::Model;
use crate::resnet::ResNet;
use crate::spec::{Family, ModelSpec};
use crate::vgg::Vgg9;

/// What [`build`] makes: the network and the data it is built for.
///
/// ```
/// use losscape_core::Precision;
/// use losscape_models::BuildSpec;
///
/// // CIFAR-10's shape in f32 unless said otherwise.
/// let spec = BuildSpec { in_channels: 1, image_size: [28, 28], ..BuildSpec::new("resnet20".parse()?) };
/// assert_eq!((spec.num_classes, spec.precision), (10, Precision::F32));
/// # Ok::<(), losscape_models::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildSpec {
    /// The network.
    pub model: ModelSpec,
    /// Channels of the input images.
    pub in_channels: i64,
    /// Number of classes (outputs).
    pub num_classes: i64,
    /// `[height, width]` of the input images (VGG-9's first Linear layer depends on it).
    pub image_size: [i64; 2],
    /// f32 or f64.
    pub precision: Precision,
}

impl BuildSpec {
    /// `model` for CIFAR-10's images and classes (3 x 32 x 32, 10 classes) in f32; set the
    /// fields that differ with struct update syntax.
    pub fn new(model: ModelSpec) -> Self {
        BuildSpec { model, in_channels: 3, num_classes: 10, image_size: [32, 32], precision: Precision::F32 }
    }
}

/// Builds the network of `spec` on `device`, initialized as the original code does:
///
/// - convolution weights Kaiming-normal with fan-in and gain sqrt(2): std = sqrt(2 / (in*kh*kw));
/// - convolution biases (VGG-9 only) 0; BN gamma 1, beta 0, running mean 0, running variance 1;
/// - Linear weights normal with std 1e-3 ([`LINEAR_INIT_STD`](crate::LINEAR_INIT_STD)), biases 0
///   (the original's `init_params`, which overrides PyTorch's default uniform Linear init).
///
/// Random values come from SplitMix64 streams, one per tensor, derived from `seed` and the
/// tensor's index in canonical order; they are drawn in f64 on the host and then rounded to the
/// model's kind and moved to the device. So the same seed gives the same weights on every device
/// and thread count, and an f32 model equals the f64 model of the same seed rounded to f32.
/// libtorch's global generator is not used.
///
/// ResNets accept any image size (global average pooling); VGG-9 requires the size it was built
/// for (its first Linear layer's width depends on it; at least 5x5).
pub fn build(spec: &BuildSpec, device: Device, seed: u64) -> Result<Box<dyn Model>> {
    build_with(spec, device, Init::Seeded(seed))
}

/// [`build`] with an explicit initialization (checkpoint loading uses [`Init::Blank`]).
pub(crate) fn build_with(build: &BuildSpec, device: Device, init: Init) -> Result<Box<dyn Model>> {
    let BuildSpec { model: ref spec, in_channels, num_classes, image_size, precision } = *build;
    if !(1..=4096).contains(&in_channels) {
        return Err(Error::Invalid(format!(
            "{spec}: input channels must be between 1 and 4096, got {in_channels}"
        )));
    }
    if !(1..=1_000_000).contains(&num_classes) {
        return Err(Error::Invalid(format!(
            "{spec}: class count must be between 1 and 1000000, got {num_classes}"
        )));
    }
    if image_size.iter().any(|&s| !(1..=65_536).contains(&s)) {
        return Err(Error::Invalid(format!(
            "{spec}: image size must be between 1 and 65536 pixels per side, got {}x{}",
            image_size[0], image_size[1]
        )));
    }
    if !precision.is_model_precision() {
        return Err(Error::Invalid(format!(
            "{spec}: models are held in f32 or f64; {precision} is an evaluation precision (of the fast path's folded weights)"
        )));
    }
    let kind = precision.kind();
    let mut builder = Builder::new(kind, device, init);
    let model: Box<dyn Model> = match spec.family() {
        Family::ResNet => {
            let arch = ResNet::new(&mut builder, spec, in_channels, num_classes)?;
            Box::new(Network {
                spec: *spec,
                in_channels,
                fixed_size: None,
                kind,
                device,
                tensors: builder.finish(),
                arch,
            })
        }
        Family::Vgg9 => {
            let arch = Vgg9::new(&mut builder, in_channels, num_classes, image_size)?;
            Box::new(Network {
                spec: *spec,
                in_channels,
                fixed_size: Some(image_size),
                kind,
                device,
                tensors: builder.finish(),
                arch,
            })
        }
    };
    Ok(model)
}
