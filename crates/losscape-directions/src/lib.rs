//! Directions in a model's parameter space, as in Li et al. (2018): seeded Gaussian directions
//! with filter, layer, weight or no normalization, target (model-to-model) directions, and an
//! [`Anchor`] that moves a model to `theta* + a d1 + b d2` and back.
//!
//! ```
//! use losscape_directions::{Anchor, Direction, RandomSpec, Scope, testing::TinyNet};
//! use losscape_models::Model;
//!
//! let model = TinyNet::new(1, 3, tch::Kind::Float, 0);
//! // A filter-normalized direction, zero on biases and BN parameters (the paper's setting).
//! let d1 = Direction::random(&model, &RandomSpec { seed: 1, ..Default::default() })?;
//! let d2 = Direction::random(&model, &RandomSpec { seed: 2, ..Default::default() })?;
//! let anchor = Anchor::new(&model, Scope::Weights)?;
//! let before = anchor.live_hash()?;
//! anchor.set(&[(&d1, 0.5), (&d2, -0.25)])?; // the model now holds theta* + 0.5 d1 - 0.25 d2
//! assert_ne!(anchor.live_hash()?, before);
//! anchor.restore()?;
//! assert_eq!(anchor.live_hash()?, before);
//! # Ok::<(), losscape_directions::Error>(())
//! ```

pub mod anchor;
pub mod direction;
pub mod error;
pub mod file;
pub mod options;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use anchor::{Anchor, BN_VAR_FLOORED, BN_VAR_KEY, BN_VAR_UNDEFINED};
pub use direction::{gaussian, in_scope, normalize, scoped_tensors, Direction};
pub use error::{Error, Result};
pub use file::{DirectionMeta, DirectionSet, Origin};
pub use options::{Ignore, Norm, RandomSpec, Scope};
