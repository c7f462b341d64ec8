//! Loss landscapes of neural networks: metric values over a grid of points `theta* + a*d1 + b*d2`,
//! stored in a resumable, shardable surface file and exported for numpy, spreadsheets and ParaView.
//!
//! - [`evaluate`]: the [`Evaluator`] (loss and accuracy over a whole split, eval mode, no
//!   autograd) with its [`EvalPath`]s; by default the built-in f32 networks go through the fast path
//!   ([`FastForward`], the models' inference plans):
//!   every BN folded into the convolution before it at the current weights, channels-last
//!   activations, batches of 32 on the CPU, equal to the plain forward to f32 rounding.
//! - [`run`]: the resumable grid driver ([`run_grid`], [`run_surface`]).
//! - [`sampled`]: early stopping with error bars ([`Sampling`]): each point evaluated over a
//!   seeded permutation of the split until the standard error of the mean loss is small enough.
//! - [`grid`]: [`Axis`] (`min:max:num`), [`Grid`] (a line or a plane, row-major with x slowest) and
//!   [`Shard`] (`i/n`, the points whose index is `i` modulo `n`).
//! - [`surface`]: [`Surface`], the metric arrays with an explicit done-mask and a per-point record
//!   of the run that computed each point, and its [`SurfaceHeader`] (grid, input hashes,
//!   settings); a versioned, checksummed bincode file written atomically, resumed only when its
//!   inputs match, merged from shards.
//! - [`export`]: `.npz` (arrays named like the original code's), `.csv` and `.vtp`.
//! - [`h5`]: the original Python code's HDF5 files: its direction files read, its surface files
//!   written, their grids read (cargo feature `hdf5`; the system HDF5 library).
//! - [`error`]: the crate's [`Error`] and [`Result`].
//!
//! ```
//! use losscape_landscape::export::{write_npz, write_vtp, VtpOptions};
//! use losscape_landscape::{Grid, Shard, Surface, SurfaceHeader};
//!
//! // A 5 x 3 grid split into two shards, computed separately and merged.
//! let grid = Grid::new("-1:1:5".parse()?, Some("-0.5:0.5:3".parse()?))?;
//! let header = SurfaceHeader { loss: "mse".into(), ..SurfaceHeader::new(grid, vec!["train_loss".into()]) };
//! let mut parts = Vec::new();
//! for shard in ["0/2".parse::<Shard>()?, "1/2".parse()?] {
//!     let mut part = Surface::new(header.clone())?;
//!     let run = part.begin_run(shard);
//!     for index in part.pending(shard) {
//!         let (a, b) = part.grid().point(index);
//!         part.set_point(index, &[a * a + 2.0 * b * b], run)?;
//!     }
//!     parts.push(part);
//! }
//! let mut surface = parts.remove(0);
//! surface.merge(&parts[0])?;
//! assert!(surface.is_complete());
//! assert_eq!(surface.array("train_loss").unwrap()[surface.grid().index(2, 1)], 0.0);
//!
//! let dir = tempfile::tempdir()?;
//! write_npz(&surface, &dir.path().join("bowl.npz"))?;
//! write_vtp(&surface, &VtpOptions::default(), &dir.path().join("bowl.vtp"))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod batch_size;
pub mod error;
// The libtorch-free surface files, at their old paths (`losscape_landscape::grid::Grid`, ...).
pub use losscape_surface::{export, grid, masked, surface};
pub mod evaluate;
// The fast path's types live in losscape-models; they are re-exported below.
mod fast;
pub mod grouped;
pub mod h5;
pub mod job;
pub mod mpi;
pub mod precision;
pub mod run;
pub mod sampled;

pub use error::{Error, Result};
pub use evaluate::{EvalPath, Evaluation, Evaluator, LossKind};
pub use fast::{FastForward, FoldedForward, Layout};
pub use grid::{Axis, Grid, Shard};
pub use job::{DirectionSource, GridRequest, PreparedSurface, Refusal, SurfaceRequest};
pub use run::{run_grid, run_surface, GridJob, LossMetrics, PointMetrics, RunReport, SurfaceJob};
pub use surface::{RunRecord, Surface, SurfaceHeader};
pub use losscape_surface::sampling::{self, Sampling};
