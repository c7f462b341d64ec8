//! Networks for losscape behind one [`Model`] trait, and self-describing checkpoints.
//!
//! The paper's networks are built from a spec string ([`ModelSpec`]): CIFAR ResNets of depth
//! 6n+2 (`resnet20`, `resnet56`, `resnet110`, ...) with or without shortcut connections
//! (`resnet56-noshort`), Wide-ResNets (`wrn56-4`, `wrn56-4-noshort`) and VGG-9 (`vgg9`).
//! [`build`] makes one for the data's channels, classes and image size, in f32 or f64, on any
//! device, initialized as the original code from a seed (same seed, same weights everywhere).
//!
//! Higher layers see only the [`Model`] trait: forward in train or eval mode, and the canonical
//! list of every tensor ([`NamedTensor`]: PyTorch `state_dict` names such as
//! `layer2.0.shortcut.0.weight`, in construction order) with its [`Role`] (conv/linear weight,
//! bias, BN weight/bias, BN running mean/var, BN counter). Those tensors share storage with the
//! model, so writing into them under `no_grad` moves the model.
//!
//! A user's PyTorch model enters as a [`TorchScriptModel`] (a module saved with `torch.jit.save`;
//! roles inferred from parameter names and shapes) and weights as a safetensors state dict
//! ([`load_state_dict`], which names every tensor that does not fit). A state dict of one of the
//! built-in architectures, such as a model trained with the original Python code, becomes a
//! checkpoint through [`import_state_dict`] (the [`import`] module).
//!
//! [`checkpoint`] stores all of them in a safetensors file together with a [`CheckpointMeta`]
//! (spec, input shape, precision, data normalization, epoch, learning rate, metrics), so a
//! checkpoint alone rebuilds its model ([`load`]); [`load_into`] refuses a checkpoint of another
//! shape with the name of the first tensor that does not fit.
//!
//! ```
//! use losscape_core::Precision;
//! use losscape_models::{build, checkpoint, BuildSpec, CheckpointMeta, ModelSpec};
//! use tch::{Device, Kind, Tensor};
//!
//! let spec: ModelSpec = "resnet20".parse()?;
//! let model = build(&BuildSpec { in_channels: 1, image_size: [28, 28], ..BuildSpec::new(spec) }, Device::Cpu, 0)?;
//! assert_eq!(model.num_parameters(), 272_474 - 288); // one input channel
//!
//! let images = Tensor::zeros([4, 1, 28, 28], (Kind::Float, Device::Cpu));
//! let logits = tch::no_grad(|| model.f_forward_t(&images, false))?;
//! assert_eq!(logits.size(), [4, 10]);
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("resnet20.safetensors");
//! let mut meta = CheckpointMeta::new(&spec, 1, 10, [28, 28], Precision::F32);
//! meta.epoch = Some(0);
//! checkpoint::save(model.as_ref(), &meta, &path)?;
//!
//! let (loaded, loaded_meta) = checkpoint::load(&path, Device::Cpu)?;
//! assert_eq!((loaded.spec().as_str(), loaded_meta.epoch), ("resnet20", Some(0)));
//! let again = tch::no_grad(|| loaded.f_forward_t(&images, false))?;
//! assert!(again.equal(&logits));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod checkpoint;
pub mod error;
pub mod import;
pub mod inference;
mod layers;
pub mod loss;
pub mod model;
mod resnet;
pub mod role;
pub mod source;
pub mod spec;
pub mod state_dict;
pub mod tensor_file;
pub mod torchscript;
mod vgg;
mod zoo;

pub use checkpoint::{
    load, load_as, load_into, read_meta, read_metadata, read_tensor_file, read_tensors, save, save_tensors,
    CheckpointMeta, TensorsAndMetadata,
};
pub use error::{Error, Result};
pub use import::{import_state_dict, ImportOptions, Imported, CIFAR10_MEAN, CIFAR10_STD};
pub use inference::{FastForward, FoldedForward, Layout};
pub use layers::{BN_EPS, BN_MOMENTUM, LINEAR_INIT_STD};
pub use loss::{Accumulation, Evaluation, LossKind};
pub use model::{Model, NamedTensor};
pub use role::Role;
pub use source::{check_input_file, ModelSource};
pub use spec::{Family, ModelSpec};
pub use state_dict::load_state_dict;
pub use torchscript::{BnMode, TorchScriptModel, TorchScriptOptions};
pub use zoo::{build, BuildSpec};
