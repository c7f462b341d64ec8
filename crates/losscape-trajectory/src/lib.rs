//! Optimization paths, as in Li et al. (2018), section 7: the PCA of a training run's checkpoints,
//! the path projected onto the two principal directions (whose loss surface `losscape surface
//! --direction-file` then computes under it), and the baselines that fail to show it (a random
//! plane, and the init -> final direction with a random one).
//!
//! - [`Trajectory`]: the checkpoints of a run folder in epoch order, with the epochs after which
//!   the learning rate was decayed ([`Trajectory::from_run`]), or any checkpoint files.
//! - [`analyze`] / [`analyze_run`]: PCA of the rows `theta_epoch - theta_final` (centred), in the
//!   `weights` or `states` scope, optionally without biases and BN parameters, computed from the
//!   `n x n` Gram matrix accumulated tensor by tensor and slice by slice ([`stream`]), so the
//!   `n x parameters` matrix is never held; the eigendecomposition is libtorch's `linalg_eigh` in
//!   f64 (module `pca`). The result ([`Analysis`]) holds the explained-variance ratios, the two unit
//!   principal directions as a [`DirectionSet`](losscape_directions::DirectionSet) with
//!   `Origin::Pca`, the projected path (`x_i = <theta_i - theta_final, pc1>`, final model at the
//!   origin) and, for each baseline plane, its directions, the path's coordinates in it and the
//!   share of the path's variance it captures (module `plane`).
//! - [`report::save`]: writes the direction files, the path projected onto each plane
//!   (`projection-<plane>.json`, for `losscape plot --path`), `projection.csv` and
//!   `trajectory.json` (with the suggested `--x`/`--y` grids of the surfaces under the path); see
//!   docs/formats.md, "Trajectories".
//!
//! Progress is reported through [`losscape_core::Progress`]; the library never prints.
//!
//! ```
//! use losscape_directions::testing::TinyNet;
//! use losscape_models::{checkpoint, CheckpointMeta, Model};
//! use losscape_trajectory::{analyze, Options, Trajectory};
//! use tch::Kind;
//!
//! // A made-up path of a tiny network: 8 checkpoints moving mostly along two directions.
//! let model = TinyNet::new(1, 3, Kind::Double, 0);
//! let meta = CheckpointMeta {
//!     spec: "tinynet".into(), in_channels: 1, num_classes: 3, image_size: [8, 8],
//!     precision: "f64".into(), normalization: None, data: None, epoch: None, lr: None,
//!     metrics: Default::default(), extra: Default::default(),
//! };
//! let start: Vec<tch::Tensor> = model.named_tensors().iter().map(|t| t.tensor.copy()).collect();
//! let dir = tempfile::tempdir()?;
//! let mut files = Vec::new();
//! for epoch in 0..8u64 {
//!     let s = 1.0 - epoch as f64 / 7.0; // 1 at the start, 0 at the end
//!     tch::no_grad(|| {
//!         for (k, t) in model.named_tensors().into_iter().enumerate() {
//!             if t.tensor.is_floating_point() {
//!                 let wave = (s * 3.0).sin() * 0.3;
//!                 let moved = &start[k] * (1.0 + s) + (&start[k] * &start[k]) * wave;
//!                 t.tensor.shallow_clone().copy_(&moved);
//!             }
//!         }
//!     });
//!     let path = dir.path().join(format!("epoch-{epoch}.safetensors"));
//!     checkpoint::save(&model, &meta, &path)?;
//!     files.push((epoch, path));
//! }
//! let trajectory = Trajectory::from_checkpoints(files, &[4])?;
//! // `model` now holds the final weights, as `analyze` expects.
//! let analysis = analyze(&trajectory, &model, &Options::default(), &losscape_core::Silent)?;
//! assert!(analysis.first_two_share() > 0.999); // the path lies in a plane
//! assert!(analysis.random.captured_share < analysis.first_two_share());
//! assert_eq!(analysis.pca.coords[7], [0.0, 0.0]); // the final model is the origin
//! let (report, _) = losscape_trajectory::report::save(&analysis, dir.path(), 51)?;
//! assert!(report.points[4].lr_decay);
//! println!("surface under the path: {} over {} (x {}, y {})", report.surface.checkpoint, report.surface.direction_file, report.surface.x, report.surface.y);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod analysis;
pub mod error;
pub mod path;
// The PCA of the Gram matrix and the baseline planes' fits are internals of `analyze`.
mod pca;
mod plane;
pub mod report;
pub mod stream;

pub use analysis::{analyze, analyze_run, Analysis, Options, Plane, DEFAULT_CHUNK_ELEMENTS};
pub use error::{Error, Result};
pub use path::{PathPoint, Trajectory, MIN_POINTS};
pub use report::{Report, Written};
pub use stream::StreamStats;
