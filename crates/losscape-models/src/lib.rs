//! Networks for losscape behind one [`Model`] trait, and self-describing checkpoints.

pub mod checkpoint;
pub mod error;
mod layers;
pub mod model;
mod resnet;
pub mod role;
pub mod spec;
mod vgg;
mod zoo;

pub use checkpoint::{
    load, load_as, load_into, read_meta, read_metadata, read_tensor_file, read_tensors, save, save_tensors, CheckpointMeta,
};
pub use error::{Error, Result};
pub use layers::{BN_EPS, BN_MOMENTUM, LINEAR_INIT_STD};
pub use model::{Model, NamedTensor};
pub use role::Role;
pub use spec::{Family, ModelSpec};
pub use zoo::build;
