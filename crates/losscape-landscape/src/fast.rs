//! The fast evaluation path: the built-in networks' inference plans with every batch
//! normalization folded into the layer before it. The plans are a capability of the models
//! (`losscape_models::inference`, built by resnet.rs and vgg.rs from their own layers); they are
//! re-exported here at their old paths. [`LossMetrics`](crate::run::LossMetrics) builds a job's
//! plan once and folds it at every grid point.

pub use losscape_models::inference::{FastForward, FoldedForward, Layout};
