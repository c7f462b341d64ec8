//! Networks for losscape behind one [`Model`] trait (architectures are being added).

pub mod model;
pub mod role;

pub use model::{Model, NamedTensor};
pub use role::Role;
