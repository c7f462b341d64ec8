//! Helpers shared by the integration tests: losscape-surface's (a realistic header and a
//! synthetic metric function, over the same types re-exported here) and the networks in `nets`.

#![allow(dead_code)]

pub mod nets;

#[path = "../../../losscape-surface/tests/common/mod.rs"]
mod surface;

#[allow(unused_imports)]
pub use surface::*;
