//! Loss-surface files without libtorch: [`Grid`]s over one or two directions and their
//! [`Shard`]s, the resumable, shardable, mergeable [`Surface`] file with its [`SurfaceHeader`]
//! (the binary codec with its checksum), the early-stopping settings and error bars of sampled
//! surfaces ([`sampling`]), exports to .npz, .csv and .vtp ([`export`]), and
//! [`MaskedArray`]s for readers. Whoever only reads or converts surfaces (plots, reports, another
//! Rust program) depends on this crate and links no libtorch; losscape-landscape computes surfaces
//! and re-exports everything here at its old paths.

pub mod error;
pub mod export;
pub mod grid;
pub mod masked;
mod precision_text;
pub mod sampling;
pub mod surface;

pub use error::{Error, Result};
pub use export::{write_csv, write_npz, write_vtp, ExportFormat, VtpOptions};
pub use grid::{Axis, Grid, Shard};
pub use losscape_core::Precision;
pub use masked::MaskedArray;
pub use sampling::{MeanEstimate, Sampling};
pub use surface::{RunRecord, Surface, SurfaceHeader};
