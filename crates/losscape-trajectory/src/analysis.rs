//! The whole trajectory analysis: the streaming PCA of a path, its projection onto the two
//! principal directions, and the two baselines that fail (a random plane, and the plane of the
//! init -> final direction and a random one), each with the share of the path's variation it
//! captures.

use std::path::Path;

use losscape_core::{hash, Progress};
use losscape_directions::{Direction, DirectionSet, Ignore, Norm, Origin, RandomSpec, Scope};
use losscape_models::{Model, ModelSource};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::path::Trajectory;
use crate::pca::{pca_from_gram, rows_of, Pca};
use crate::plane::fit_plane;
use crate::stream::{StreamLayout, StreamStats, Streamer};

/// Default working-set bound of the streaming passes: `4 Mi` f64 values (32 MiB) per block.
pub const DEFAULT_CHUNK_ELEMENTS: usize = 1 << 22;

/// How a path is analysed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// `weights` (trainable parameters) or `states` (also the BN running statistics).
    pub scope: Scope,
    /// `biasbn`: tensors of dim <= 1 are left out of the rows (zero in every direction), as the
    /// paper's plots do; `none`: they are part of the rows.
    pub ignore: Ignore,
    /// Seed of the random baseline directions: the random plane uses `seed` and `seed + 1`, the
    /// init -> final plane's random direction `seed + 2`.
    pub seed: u64,
    /// Bound on the f64 values held per streaming block (`checkpoints x slice`); see
    /// [`crate::stream`].
    pub chunk_elements: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self { scope: Scope::Weights, ignore: Ignore::BiasBn, seed: 1, chunk_elements: DEFAULT_CHUNK_ELEMENTS }
    }
}

impl Options {
    /// Checks the values.
    pub fn check(&self) -> Result<()> {
        if self.chunk_elements == 0 {
            return Err(Error::Invalid("chunk_elements must be at least 1".into()));
        }
        if self.seed > u64::MAX - 2 {
            return Err(Error::Invalid(format!("seed {} is too large (seed + 2 must fit in 64 bits)", self.seed)));
        }
        Ok(())
    }

    /// The spec of the random baseline directions: filter-normalized Gaussian (the paper's
    /// random directions, and what `losscape direction` makes by default), with this scope and
    /// ignore rule.
    pub fn random_spec(&self, seed: u64) -> RandomSpec {
        RandomSpec { norm: Norm::Filter, ignore: self.ignore, scope: self.scope, seed }
    }
}

/// One plane through the final model with the path seen in it.
#[derive(Clone, Debug)]
pub struct Plane {
    /// Short name: `pca`, `random` or `init_random`.
    pub name: String,
    /// How its directions were made, in words.
    pub description: String,
    /// The two directions, ready to save (in the model's kind; usable by `losscape surface`).
    pub directions: DirectionSet,
    /// Coordinates of every checkpoint in the plane's directions (final model at the origin).
    pub coords: Vec<[f64; 2]>,
    /// Share (0..1) of the total variance of the centred path that lies in the plane.
    pub captured_share: f64,
}

/// The result of [`analyze`].
#[derive(Debug)]
pub struct Analysis {
    /// The path analysed.
    pub trajectory: Trajectory,
    /// The options used.
    pub options: Options,
    /// The final model's spec.
    pub model_spec: String,
    /// SHA-256 of the final checkpoint file (recorded in the direction files), or the hash set
    /// by [`Analysis::set_final_model`].
    pub final_checkpoint_hash: String,
    /// Where the final model comes from, when not from the final checkpoint file alone (see
    /// [`Analysis::set_final_model`]).
    pub final_model: Option<ModelSource>,
    /// Entries of one row (elements of the analysed tensors).
    pub parameters: usize,
    /// Explained-variance ratio of every principal component, descending (`n - 1` for `n`
    /// checkpoints).
    pub explained_variance_ratio: Vec<f64>,
    /// Sample variance along every component (`lambda / (n - 1)`).
    pub explained_variance: Vec<f64>,
    /// Total sum of squares of the centred rows.
    pub total_sum_of_squares: f64,
    /// The principal plane: unit directions `pc1, pc2`, coordinates `<theta_i - theta_final, pc_k>`.
    pub pca: Plane,
    /// Two random filter-normalized directions (seeds `seed`, `seed + 1`).
    pub random: Plane,
    /// `theta_first - theta_final` (the init direction) and a random filter-normalized direction
    /// (seed `seed + 2`).
    pub init_random: Plane,
    /// What the streaming passes read and held.
    pub stats: StreamStats,
}

impl Analysis {
    /// The share of the first two components together.
    pub fn first_two_share(&self) -> f64 {
        self.explained_variance_ratio.iter().take(2).sum()
    }

    /// For a path whose checkpoint files are bare state dicts (a folder of weight files, or of
    /// parameters taken from TorchScript modules): the final model is `model` (e.g. a module
    /// with the last weight file loaded over it), which the suggested surface uses; its identity
    /// hash ([`ModelSource::identity_hash`], the one every surface records) goes into the report
    /// and the three planes' direction files (so a surface finds its directions made for it).
    pub fn set_final_model(&mut self, model: ModelSource) -> Result<()> {
        let hash = model.identity_hash()?;
        for plane in [&mut self.pca, &mut self.random, &mut self.init_random] {
            plane.directions.meta.checkpoint_hash = hash.clone();
        }
        self.final_checkpoint_hash = hash;
        self.final_model = Some(model);
        Ok(())
    }

    /// The three planes: PCA first, then the two baselines.
    pub fn planes(&self) -> [&Plane; 3] {
        [&self.pca, &self.random, &self.init_random]
    }
}

/// Analyses a run folder written by `losscape train`: reads its checkpoints and LR-decay epochs,
/// rebuilds the final model from its checkpoint (model zoo architectures) and calls [`analyze`].
pub fn analyze_run(run: &Path, options: &Options, progress: &dyn Progress) -> Result<Analysis> {
    let trajectory = Trajectory::from_run(run)?;
    let (model, _) = trajectory.load_final_model(Device::Cpu)?;
    analyze(&trajectory, model.as_ref(), options, progress)
}

/// Streaming PCA of `trajectory` and its projections.
///
/// `model` must hold the final checkpoint's weights: it gives the tensor names, shapes and roles
/// (scope and ignore rule) and the weights that the random baselines are filter-normalized
/// against. The checkpoints themselves are read slice by slice (see [`crate::stream`]); two
/// passes over them are made.
pub fn analyze(trajectory: &Trajectory, model: &dyn Model, options: &Options, progress: &dyn Progress) -> Result<Analysis> {
    options.check()?;
    let final_file = &trajectory.final_point().file;
    let final_checkpoint_hash = hash::sha256_file(final_file)?;
    let model_spec = model.spec();
    let layout = StreamLayout::new(model, options.scope, options.ignore)?;
    let paths: Vec<&Path> = trajectory.points().iter().map(|p| p.file.as_path()).collect();
    let mut streamer = Streamer::new(&paths, &layout, options.chunk_elements)?;
    let n = paths.len();

    // The random baselines, drawn against the final weights (one model's worth each).
    let random_set = DirectionSet::random(model, &options.random_spec(options.seed), 2, &final_checkpoint_hash)?;
    let third_spec = options.random_spec(options.seed + 2);
    let third = Direction::random(model, &third_spec)?;
    let [r1, r2] = [&random_set.directions[0], &random_set.directions[1]];

    // Pass 1: the Gram matrix and the rows' dot products with the random directions (converted to
    // f64 slice by slice).
    let (gram, dots) = streamer.gram(&[r1, r2, &third], progress)?;
    let pca: Pca = pca_from_gram(&gram).map_err(|e| match e {
        Error::Invalid(m) => Error::Invalid(format!("{}: {m}", describe(trajectory))),
        other => other,
    })?;
    let gram_rows = rows_of(&gram)?;
    let dot_rows = rows_of(&dots)?;

    // Pass 2: pc1, pc2 and the init direction r_0 = theta_first - theta_final.
    let first = Tensor::f_zeros([1, n as i64], (Kind::Double, Device::Cpu))?;
    let _ = first.f_narrow(1, 0, 1)?.f_fill_(1.0)?;
    let coefficients = Tensor::f_cat(&[pca.coefficients.shallow_clone(), first], 0)?;
    let mut formed = streamer.combine(&coefficients, progress)?;
    let init_dir = formed.pop().expect("three directions were formed");
    let mut pcs = formed;
    // The coefficients give unit directions up to rounding; make them exactly unit.
    let mut norms = [0f64; 2];
    for (k, pc) in pcs.iter_mut().enumerate() {
        norms[k] = pc.norm()?;
        if norms[k].is_nan() || norms[k] <= 0.0 {
            return Err(Error::Invalid("a principal direction came out zero".into()));
        }
        for (_, t) in pc.tensors.iter_mut() {
            *t = t.f_div_scalar(norms[k])?;
        }
    }

    // The PCA plane: x_i = <r_i, pc_k> (the original's projection; final model at the origin).
    let pca_coords: Vec<[f64; 2]> = pca.coords.iter().map(|c| [c[0] / norms[0], c[1] / norms[1]]).collect();
    let pc_cross = pcs[0].dot(&pcs[1])?;
    let pca_fit = fit_plane(&pca_coords, [[1.0, pc_cross], [pc_cross, 1.0]], pca.total)?;
    let ratios = pca.explained_variance_ratio();
    let kind = model.kind();
    let pca_dirs = pcs.iter().map(|d| d.to(Device::Cpu, kind)).collect::<std::result::Result<Vec<_>, _>>()?;
    let pca_set = DirectionSet::new(
        pca_dirs,
        model_spec.clone(),
        final_checkpoint_hash.clone(),
        Origin::Pca { explained_variance_ratio: ratios[..2].to_vec() },
    )?;
    let first_epoch = trajectory.first_point().epoch;
    let final_epoch = trajectory.final_point().epoch;
    let pca_plane = Plane {
        name: "pca".into(),
        description: format!(
            "first two principal components of the centred rows theta_epoch - theta_final over {n} checkpoints (unit length)"
        ),
        directions: pca_set,
        coords: pca_coords,
        captured_share: pca_fit.captured_share,
    };

    // The random plane.
    let random_dots: Vec<[f64; 2]> = dot_rows.iter().map(|r| [r[0], r[1]]).collect();
    let r12 = r1.dot(r2)?;
    let random_gram = [[r1.dot(r1)?, r12], [r12, r2.dot(r2)?]];
    let random_fit = fit_plane(&random_dots, random_gram, pca.total)?;
    let random = Plane {
        name: "random".into(),
        description: format!(
            "two random Gaussian directions, filter-normalized to the final weights (seeds {} and {}, ignore {})",
            options.seed,
            options.seed + 1,
            options.ignore
        ),
        directions: random_set,
        coords: random_fit.coords,
        captured_share: random_fit.captured_share,
    };

    // The init -> final direction (as a direction from the final model: theta_first - theta_final)
    // and one random direction.
    let init_dots: Vec<[f64; 2]> = (0..n).map(|i| [gram_rows[i][0], dot_rows[i][2]]).collect();
    let init_gram = [[gram_rows[0][0], dot_rows[0][2]], [dot_rows[0][2], third.dot(&third)?]];
    let init_fit = fit_plane(&init_dots, init_gram, pca.total)
        .map_err(|e| Error::Invalid(format!("the init -> final plane: {e}")))?;
    let description = format!(
        "d1 = theta(epoch {first_epoch}) - theta(epoch {final_epoch}) (the init -> final direction, final model at 0, first checkpoint at a = 1); d2 = random Gaussian, filter-normalized to the final weights (seed {}, ignore {})",
        options.seed + 2,
        options.ignore
    );
    let init_set = DirectionSet::new(
        vec![init_dir.to(Device::Cpu, kind)?, third],
        model_spec.clone(),
        final_checkpoint_hash.clone(),
        Origin::Other { description: description.clone() },
    )?;
    let init_random = Plane {
        name: "init_random".into(),
        description,
        directions: init_set,
        coords: init_fit.coords,
        captured_share: init_fit.captured_share,
    };

    Ok(Analysis {
        trajectory: trajectory.clone(),
        options: *options,
        model_spec,
        final_checkpoint_hash,
        final_model: None,
        parameters: layout.active_elements(),
        explained_variance_ratio: ratios,
        explained_variance: pca.explained_variance(),
        total_sum_of_squares: pca.total,
        pca: pca_plane,
        random,
        init_random,
        stats: streamer.stats(),
    })
}

/// The path in words, for error messages.
fn describe(trajectory: &Trajectory) -> String {
    match trajectory.run() {
        Some(run) => format!("run {}", run.display()),
        None => format!("the path ending at {}", trajectory.final_point().file.display()),
    }
}
