//! The surface file: metric arrays over a grid with an explicit done-mask, the inputs' hashes and a
//! per-point record of which run computed each point, so runs resume, shard and merge safely.
//!
//! A [`Surface`] is created empty (every value NaN, nothing done), filled point by point with
//! [`Surface::set_point`] and saved atomically with [`Surface::save`]. A NaN loss that was computed
//! is a result and stays marked done; only the done-mask says what is still missing.
//! [`Surface::open_or_create`] resumes an existing file only if it was made from the same inputs
//! and refuses otherwise, naming every field that differs, so a stale file is never silently reused.
//!
//! On disk (docs/formats.md, "Surface files"): the 8 magic bytes `LSCPSURF`, the format version as a
//! little-endian u32, the body length as a little-endian u64, the body (bincode 1.x with fixed-width
//! little-endian integers), and the SHA-256 of the body (32 bytes).
//!
//! ```
//! use losscape_surface::export::write_csv;
//! use losscape_surface::{Grid, Shard, Surface, SurfaceHeader};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("bowl.surface");
//! let grid = Grid::new("-1:1:3".parse()?, Some("0:1:2".parse()?))?;
//! let header = SurfaceHeader::new(grid, vec!["train_loss".into(), "train_acc".into()]);
//! let mut surface = Surface::open_or_create(&path, header.clone())?;
//! let run = surface.begin_run(Shard::all());
//! for index in surface.pending(Shard::all()) {
//!     let (a, b) = surface.grid().point(index);
//!     surface.set_point(index, &[a * a + b * b, 100.0 - a.abs() * 10.0], run)?;
//! }
//! surface.save(&path)?;
//!
//! let loaded = Surface::load(&path)?;
//! assert!(loaded.is_complete());
//! assert_eq!(loaded.array2("train_loss").unwrap(), vec![vec![1.0, 2.0], vec![0.0, 1.0], vec![1.0, 2.0]]);
//! // Opening it again with the same inputs resumes it: nothing is left to compute.
//! assert!(Surface::open_or_create(&path, header)?.pending(Shard::all()).is_empty());
//!
//! let csv = dir.path().join("bowl.csv");
//! write_csv(&loaded, &csv)?;
//! let text = std::fs::read_to_string(&csv)?;
//! assert_eq!(text.lines().next(), Some("x,y,train_loss,train_acc,done"));
//! assert_eq!(text.lines().count(), 1 + 6);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use bincode::Options;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::grid::{Grid, Shard};
use losscape_core::Precision;
use crate::sampling::Sampling;

/// The first 8 bytes of every surface file.
pub const MAGIC: [u8; 8] = *b"LSCPSURF";

/// The surface file format version this build writes; it reads this one and version 1 (which
/// had no [`SurfaceHeader::sampling`]: such files read as evaluated on every example).
pub const VERSION: u32 = 2;

/// Bytes before the body: magic, version (u32), body length (u64).
const PREFIX_LEN: usize = 8 + 4 + 8;

/// Bytes after the body: its SHA-256.
const CHECKSUM_LEN: usize = 32;

/// Names the exports reserve for their own arrays; metric arrays may not use them.
pub const RESERVED_NAMES: [&str; 3] = ["xcoordinates", "ycoordinates", "done"];

/// `extra` keys that start with this describe what a run measured (e.g. bf16's deviation from
/// f32), not an input: they are not compared, and a resumed file keeps its own.
pub const REPORT_PREFIX: &str = "report.";

/// What a surface was made from and how: everything a resume or a merge must agree on.
///
/// [`SurfaceHeader::differences`] compares two headers. Every field must match except two that
/// describe a run rather than the result: `checkpoint` (the path as given; the checkpoint's
/// identity is `checkpoint_hash`) and `threads` (a thread count may change between runs; each
/// [`RunRecord`] keeps its own). `extra` is compared too, so put in it only what must match, or
/// measurements under keys starting with [`REPORT_PREFIX`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SurfaceHeader {
    /// The coordinates evaluated.
    pub grid: Grid,
    /// The checkpoint's path as given (informational; not compared).
    pub checkpoint: String,
    /// SHA-256 of the checkpoint's tensors or file.
    pub checkpoint_hash: String,
    /// SHA-256 of the direction tensors (or a description such as `"interpolation to <hash>"`).
    pub directions_hash: String,
    /// How the directions were made, e.g. "random filter biasbn weights seed=1" or "interpolate".
    pub method: String,
    /// The data source and the subset evaluated.
    pub data: String,
    /// The loss function, e.g. "cross_entropy" or "mse".
    pub loss: String,
    /// The evaluation batch size (it changes the rounding of the per-batch sums).
    pub batch_size: usize,
    /// The thread count of the latest run (not compared; every run records its own).
    pub threads: usize,
    /// The precision of the evaluation (stored as its name: "f32", "f64" or "bf16").
    #[serde(with = "crate::precision_text")]
    pub dtype: Precision,
    /// The metric names, in the order [`Surface::set_point`] takes their values, e.g.
    /// `["train_loss", "train_acc", "test_loss", "test_acc"]`.
    pub arrays: Vec<String>,
    /// Further settings that must match for a resume (compared key by key).
    pub extra: BTreeMap<String, String>,
    /// How each point was evaluated: on every example (`None`), or stopping early with error bars
    /// (the arrays then include [`Sampling::arrays`]). Compared on resume and merge; since format
    /// version 2.
    pub sampling: Option<Sampling>,
}

impl SurfaceHeader {
    /// A header over `grid` with the metric `arrays` and every other field empty (0 for numbers);
    /// fill in the rest with struct update syntax or field assignments.
    pub fn new(grid: Grid, arrays: Vec<String>) -> Self {
        SurfaceHeader {
            grid,
            checkpoint: String::new(),
            checkpoint_hash: String::new(),
            directions_hash: String::new(),
            method: String::new(),
            data: String::new(),
            loss: String::new(),
            batch_size: 0,
            threads: 0,
            dtype: Precision::F32,
            arrays,
            extra: BTreeMap::new(),
            sampling: None,
        }
    }

    /// Checks the grid and the metric names: at least one, each made of ASCII letters, digits and
    /// `_`, unique, and none of [`RESERVED_NAMES`].
    pub fn validate(&self) -> Result<()> {
        self.grid.validate()?;
        if self.arrays.is_empty() {
            return Err(Error::invalid("a surface needs at least one metric array"));
        }
        let mut seen = BTreeSet::new();
        for name in &self.arrays {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(Error::invalid(format!(
                    "metric name {name:?}: use ASCII letters, digits and '_' only"
                )));
            }
            if RESERVED_NAMES.contains(&name.as_str()) {
                return Err(Error::invalid(format!(
                    "metric name {name:?} is reserved for the exports' own arrays"
                )));
            }
            if !seen.insert(name) {
                return Err(Error::invalid(format!(
                    "metric name {name:?} appears twice"
                )));
            }
        }
        Ok(())
    }

    /// Every field that must match and does not, one line each: `"field: <self>, <other>"` with
    /// the two values labelled `this_label` and `other_label` (e.g. "file has", "this run has").
    /// Empty when the headers agree.
    pub fn differences(
        &self,
        other: &SurfaceHeader,
        this_label: &str,
        other_label: &str,
    ) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |field: &str, a: String, b: String| {
            if a != b {
                out.push(format!("{field}: {this_label} {a}, {other_label} {b}"));
            }
        };
        check("grid", self.grid.to_string(), other.grid.to_string());
        check(
            "checkpoint_hash",
            quoted(&self.checkpoint_hash),
            quoted(&other.checkpoint_hash),
        );
        check(
            "directions_hash",
            quoted(&self.directions_hash),
            quoted(&other.directions_hash),
        );
        check("method", quoted(&self.method), quoted(&other.method));
        check("data", quoted(&self.data), quoted(&other.data));
        check("loss", quoted(&self.loss), quoted(&other.loss));
        check(
            "batch_size",
            self.batch_size.to_string(),
            other.batch_size.to_string(),
        );
        check("dtype", quoted(self.dtype.name()), quoted(other.dtype.name()));
        check(
            "arrays",
            format!("{:?}", self.arrays),
            format!("{:?}", other.arrays),
        );
        check("sampling", describe_sampling(self.sampling), describe_sampling(other.sampling));
        let keys: BTreeSet<&String> = self
            .extra
            .keys()
            .chain(other.extra.keys())
            .filter(|k| !k.starts_with(REPORT_PREFIX))
            .collect();
        for key in keys {
            let value = |h: &SurfaceHeader| {
                h.extra
                    .get(key)
                    .map_or_else(|| "(absent)".to_string(), |v| quoted(v))
            };
            check(&format!("extra.{key}"), value(self), value(other));
        }
        out
    }
}

/// The sampling of a header in words.
fn describe_sampling(sampling: Option<Sampling>) -> String {
    sampling.map_or_else(|| "every example".to_string(), |s| s.to_string())
}

fn quoted(s: &str) -> String {
    format!("{s:?}")
}

/// One run that computed points of a surface (a first run, a resume, or a merged shard's run).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's number, from 1; [`Surface::computed_by`] refers to it (0 means not computed).
    pub id: u32,
    /// When the run began, in seconds since the Unix epoch.
    pub started_unix: u64,
    /// The shard the run was asked to compute.
    pub shard: Shard,
    /// The host name of the machine ("unknown" when it cannot be read).
    pub host: String,
    /// How many of the surface's points are attributed to this run.
    pub points: usize,
    /// The thread count of the run (the header's `threads` when the run began).
    pub threads: usize,
}

/// Metric arrays over a grid, with the done-mask and the record of which run computed each point.
///
/// Arrays are indexed by point index (`ix * ny + iy`, see [`Grid`]); values of points not yet done
/// are NaN. Values are compared bit for bit where it matters (merges), so NaN results merge fine.
#[derive(Clone, Debug)]
pub struct Surface {
    header: SurfaceHeader,
    arrays: BTreeMap<String, Vec<f64>>,
    done: Vec<bool>,
    computed_by: Vec<u32>,
    runs: Vec<RunRecord>,
}

impl Surface {
    /// An empty surface: every value NaN, no point done, no run yet. Fails if the header's grid or
    /// metric names are invalid ([`SurfaceHeader::validate`]).
    pub fn new(header: SurfaceHeader) -> Result<Self> {
        header.validate()?;
        let len = header.grid.len();
        let arrays = header
            .arrays
            .iter()
            .map(|name| (name.clone(), vec![f64::NAN; len]))
            .collect();
        Ok(Surface {
            header,
            arrays,
            done: vec![false; len],
            computed_by: vec![0; len],
            runs: Vec::new(),
        })
    }

    /// Reads a surface file, checking its magic bytes, version, length, checksum and internal
    /// consistency; every failure names the file and says what is wrong.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes).map_err(|message| Error::format(path, message))
    }

    /// Writes the surface file atomically (temporary name, then rename): a reader or a crash never
    /// sees half a file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes()?;
        losscape_core::fsio::write_atomic(path, &bytes)?;
        Ok(())
    }

    /// Resumes the surface file at `path` if it exists, else starts an empty surface (not written
    /// until [`Surface::save`]).
    ///
    /// An existing file must have been made from the same inputs: every field compared by
    /// [`SurfaceHeader::differences`] must match, else an [`Error::Mismatch`] lists each differing
    /// field with both values. On success the file's `checkpoint` path and `threads` are updated
    /// to the given ones (they describe the latest run).
    pub fn open_or_create(path: &Path, header: SurfaceHeader) -> Result<Self> {
        header.validate()?;
        if !path.exists() {
            return Surface::new(header);
        }
        let mut surface = Surface::load(path)?;
        if surface.header.dtype != header.dtype {
            return Err(Error::invalid(format!(
                "cannot resume {}: its points were computed in {}, and this run computes in {}; a surface holds one precision (resume it in {}, or write to another file)",
                path.display(),
                surface.header.dtype,
                header.dtype,
                surface.header.dtype
            )));
        }
        if surface.header.sampling != header.sampling {
            // One line: the values and their errors would mix two stopping rules.
            return Err(Error::invalid(format!(
                "cannot resume {}: its points were evaluated with sampling {}, this run asks for {}; use the same sampling, or another file",
                path.display(),
                describe_sampling(surface.header.sampling),
                describe_sampling(header.sampling)
            )));
        }
        let details = surface
            .header
            .differences(&header, "file has", "this run has");
        if !details.is_empty() {
            return Err(Error::Mismatch {
                subject: format!(
                    "cannot resume {}: the existing surface file was made with different inputs",
                    path.display()
                ),
                details,
                hint: "write to another file, or delete this one to start over".into(),
            });
        }
        surface.header.checkpoint = header.checkpoint;
        surface.header.threads = header.threads;
        Ok(surface)
    }

    /// Starts a run over `shard`: appends a [`RunRecord`] (time, host, the header's thread count)
    /// and returns its id for [`Surface::set_point`].
    pub fn begin_run(&mut self, shard: Shard) -> u32 {
        let started_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let id = self.next_run_id();
        self.runs.push(RunRecord {
            id,
            started_unix,
            shard,
            host: host_name(),
            points: 0,
            threads: self.header.threads,
        });
        id
    }

    /// The point indices of `shard` that are not done, ascending.
    pub fn pending(&self, shard: Shard) -> Vec<usize> {
        shard
            .indices(self.len())
            .filter(|&i| !self.done[i])
            .collect()
    }

    /// Records the values of point `index` (in the order of the header's `arrays`), computed by run
    /// `run`, and marks it done. NaN values are results like any other. Setting a point again
    /// replaces its values and its attribution.
    pub fn set_point(&mut self, index: usize, values: &[f64], run: u32) -> Result<()> {
        if index >= self.len() {
            return Err(Error::invalid(format!(
                "point {index} is outside the grid {} ({} points)",
                self.header.grid,
                self.len()
            )));
        }
        if values.len() != self.header.arrays.len() {
            return Err(Error::invalid(format!(
                "point {index}: got {} values for the {} arrays {:?}",
                values.len(),
                self.header.arrays.len(),
                self.header.arrays
            )));
        }
        if run == 0 || run as usize > self.runs.len() {
            return Err(Error::invalid(format!(
                "run {run} does not exist (this surface has runs 1 to {}): call begin_run first",
                self.runs.len()
            )));
        }
        for (name, &value) in self.header.arrays.iter().zip(values) {
            if let Some(array) = self.arrays.get_mut(name) {
                array[index] = value;
            }
        }
        let previous = self.computed_by[index];
        if previous != 0 {
            self.runs[previous as usize - 1].points -= 1;
        }
        self.runs[run as usize - 1].points += 1;
        self.computed_by[index] = run;
        self.done[index] = true;
        Ok(())
    }

    /// The header (grid, input hashes, settings).
    pub fn header(&self) -> &SurfaceHeader {
        &self.header
    }

    /// The grid the surface covers.
    pub fn grid(&self) -> &Grid {
        &self.header.grid
    }

    /// Number of grid points.
    pub fn len(&self) -> usize {
        self.done.len()
    }

    /// Whether the grid has no points (never true for a valid surface).
    pub fn is_empty(&self) -> bool {
        self.done.is_empty()
    }

    /// The values of one metric by point index (NaN where not done), or `None` for an unknown name.
    pub fn array(&self, name: &str) -> Option<&[f64]> {
        self.arrays.get(name).map(Vec::as_slice)
    }

    /// One metric as rows `[ix][iy]` (shape `(nx, ny)`; `ny = 1` on a line).
    pub fn array2(&self, name: &str) -> Option<Vec<Vec<f64>>> {
        let ny = self.header.grid.shape().1;
        self.array(name)
            .map(|values| values.chunks(ny).map(<[f64]>::to_vec).collect())
    }

    /// The values of point `index` in the order of the header's `arrays`.
    pub fn point_values(&self, index: usize) -> Option<Vec<f64>> {
        (index < self.len()).then(|| {
            self.header
                .arrays
                .iter()
                .map(|name| self.arrays[name][index])
                .collect()
        })
    }

    /// The done-mask by point index.
    pub fn done(&self) -> &[bool] {
        &self.done
    }

    /// The id of the run that computed each point (0 where not done).
    pub fn computed_by(&self) -> &[u32] {
        &self.computed_by
    }

    /// Every run that computed points of this surface, in order (`runs()[k].id == k + 1`).
    pub fn runs(&self) -> &[RunRecord] {
        &self.runs
    }

    /// Whether every point is done.
    pub fn is_complete(&self) -> bool {
        self.done.iter().all(|&d| d)
    }

    /// How many points are done.
    pub fn done_count(&self) -> usize {
        self.done.iter().filter(|&&d| d).count()
    }

    /// Takes `other`'s done points into this surface (shards of one job, or a partial copy of it).
    ///
    /// The headers must agree as for a resume. A point done in both must hold the same values bit
    /// for bit (NaN equals NaN), else the merge is refused and nothing changes. `other`'s runs that
    /// contribute at least one point are appended with new ids; the rest are not copied.
    pub fn merge(&mut self, other: &Surface) -> Result<()> {
        let details = self
            .header
            .differences(&other.header, "this surface has", "the other has");
        if !details.is_empty() {
            return Err(Error::Mismatch {
                subject: "cannot merge surfaces: they were made with different inputs".into(),
                details,
                hint: "merge only shards of one job (the same inputs apart from the shard)".into(),
            });
        }
        let mut conflicts = Vec::new();
        let mut taken = Vec::new();
        for index in (0..self.len()).filter(|&i| other.done[i]) {
            if !self.done[index] {
                taken.push(index);
                continue;
            }
            let mine = self.point_values(index).unwrap_or_default();
            let theirs = other.point_values(index).unwrap_or_default();
            if mine
                .iter()
                .zip(&theirs)
                .any(|(a, b)| a.to_bits() != b.to_bits() && !(a.is_nan() && b.is_nan()))
            {
                conflicts.push(index);
            }
        }
        if !conflicts.is_empty() {
            let details = conflicts
                .iter()
                .take(5)
                .map(|&i| {
                    format!(
                        "point {i} at {:?}: this surface has {:?}, the other has {:?}",
                        self.header.grid.point(i),
                        self.point_values(i).unwrap_or_default(),
                        other.point_values(i).unwrap_or_default()
                    )
                })
                .collect();
            return Err(Error::Mismatch {
                subject: format!(
                    "cannot merge surfaces: {} points were computed by both with different values",
                    conflicts.len()
                ),
                details,
                hint:
                    "the surfaces come from different computations; recompute the conflicting shard"
                        .into(),
            });
        }
        // Other's contributing runs get new ids, in the order of their old ids.
        let contributing: BTreeSet<u32> = taken.iter().map(|&i| other.computed_by[i]).collect();
        let mut new_ids = BTreeMap::new();
        for old in contributing {
            let id = self.next_run_id();
            self.runs.push(RunRecord {
                id,
                points: 0,
                ..other.runs[old as usize - 1].clone()
            });
            new_ids.insert(old, id);
        }
        for &index in &taken {
            for (name, array) in &mut self.arrays {
                array[index] = other.arrays[name][index];
            }
            self.done[index] = true;
            self.computed_by[index] = new_ids[&other.computed_by[index]];
        }
        self.recount_run_points();
        Ok(())
    }

    fn next_run_id(&self) -> u32 {
        self.runs.len() as u32 + 1
    }

    fn recount_run_points(&mut self) {
        for run in &mut self.runs {
            run.points = 0;
        }
        for &id in &self.computed_by {
            if id != 0 {
                self.runs[id as usize - 1].points += 1;
            }
        }
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        let body = BodyRef {
            header: &self.header,
            arrays: &self.arrays,
            done: &self.done,
            computed_by: &self.computed_by,
            runs: &self.runs,
        };
        let body = codec()
            .serialize(&body)
            .map_err(|e| Error::invalid(format!("cannot encode the surface: {e}")))?;
        let mut bytes = Vec::with_capacity(PREFIX_LEN + body.len() + CHECKSUM_LEN);
        bytes.extend_from_slice(&MAGIC);
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&body);
        bytes.extend_from_slice(&Sha256::digest(&body));
        Ok(bytes)
    }

    fn from_bytes(bytes: &[u8]) -> std::result::Result<Self, String> {
        if bytes.len() < MAGIC.len() && MAGIC.starts_with(bytes) {
            return Err(format!(
                "truncated surface file: only {} bytes",
                bytes.len()
            ));
        }
        if bytes.len() < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC {
            return Err(format!(
                "not a losscape surface file (it does not start with the magic bytes {:?})",
                String::from_utf8_lossy(&MAGIC)
            ));
        }
        if bytes.len() < PREFIX_LEN {
            return Err(format!(
                "truncated surface file: {} bytes, shorter than its {PREFIX_LEN}-byte prefix",
                bytes.len()
            ));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if version > VERSION {
            return Err(format!(
                "surface file format version {version} is newer than this build reads (version {VERSION}): update losscape"
            ));
        }
        if version != VERSION && version != 1 {
            return Err(format!("unsupported surface file format version {version} (this build reads versions 1 to {VERSION})"));
        }
        let body_len = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
        let expected = (PREFIX_LEN as u64)
            .checked_add(body_len)
            .and_then(|n| n.checked_add(CHECKSUM_LEN as u64));
        match expected {
            Some(n) if n == bytes.len() as u64 => {}
            Some(n) if n > bytes.len() as u64 => {
                return Err(format!(
                    "truncated surface file: {} bytes, its prefix announces {n}",
                    bytes.len()
                ))
            }
            Some(n) => {
                return Err(format!(
                    "{} unexpected bytes after the end of the surface file",
                    bytes.len() as u64 - n
                ))
            }
            None => {
                return Err(format!(
                    "corrupt surface file: impossible body length {body_len}"
                ))
            }
        }
        let body = &bytes[PREFIX_LEN..bytes.len() - CHECKSUM_LEN];
        if Sha256::digest(body).as_slice() != &bytes[bytes.len() - CHECKSUM_LEN..] {
            return Err("corrupt surface file: the checksum of its content does not match".into());
        }
        let decode_error = |e: bincode::Error| format!("corrupt surface file: cannot decode its content: {e}");
        let body: Body = match version {
            1 => codec().with_limit(body.len() as u64).deserialize::<BodyV1>(body).map_err(decode_error)?.into(),
            _ => codec().with_limit(body.len() as u64).deserialize(body).map_err(decode_error)?,
        };
        let surface = Surface {
            header: body.header,
            arrays: body.arrays,
            done: body.done,
            computed_by: body.computed_by,
            runs: body.runs,
        };
        surface
            .check_consistency()
            .map_err(|e| format!("inconsistent surface file: {e}"))?;
        Ok(surface)
    }

    /// Checks the invariants that the methods maintain, for data read from a file.
    fn check_consistency(&self) -> std::result::Result<(), String> {
        self.header.validate().map_err(|e| e.to_string())?;
        let len = self.header.grid.len();
        let names: BTreeSet<&String> = self.header.arrays.iter().collect();
        if self.arrays.keys().collect::<BTreeSet<_>>() != names {
            return Err(format!(
                "the arrays {:?} do not match the header's {:?}",
                self.arrays.keys().collect::<Vec<_>>(),
                self.header.arrays
            ));
        }
        if let Some((name, a)) = self.arrays.iter().find(|(_, a)| a.len() != len) {
            return Err(format!(
                "array {name} has {} values for {len} grid points",
                a.len()
            ));
        }
        if self.done.len() != len || self.computed_by.len() != len {
            return Err(format!(
                "the done-mask ({}) and run record ({}) do not cover the {len} grid points",
                self.done.len(),
                self.computed_by.len()
            ));
        }
        if let Some((k, run)) = self
            .runs
            .iter()
            .enumerate()
            .find(|(k, run)| run.id as usize != k + 1)
        {
            return Err(format!(
                "run number {} is stored at position {}",
                run.id,
                k + 1
            ));
        }
        for (index, (&done, &run)) in self.done.iter().zip(&self.computed_by).enumerate() {
            if run as usize > self.runs.len() {
                return Err(format!(
                    "point {index} names run {run}, which does not exist"
                ));
            }
            if done != (run != 0) {
                return Err(format!(
                    "point {index}: the done-mask and the run record disagree"
                ));
            }
        }
        let mut counted = vec![0usize; self.runs.len()];
        for &run in self.computed_by.iter().filter(|&&r| r != 0) {
            counted[run as usize - 1] += 1;
        }
        if let Some(run) = self
            .runs
            .iter()
            .find(|run| run.points != counted[run.id as usize - 1])
        {
            return Err(format!(
                "run {} records {} points but computed {}",
                run.id,
                run.points,
                counted[run.id as usize - 1]
            ));
        }
        Ok(())
    }
}

/// The body of a surface file as written (borrowing the surface's fields).
#[derive(Serialize)]
struct BodyRef<'a> {
    header: &'a SurfaceHeader,
    arrays: &'a BTreeMap<String, Vec<f64>>,
    done: &'a [bool],
    computed_by: &'a [u32],
    runs: &'a [RunRecord],
}

/// The body of a surface file as read, checked before it becomes a [`Surface`].
#[derive(Deserialize)]
struct Body {
    header: SurfaceHeader,
    arrays: BTreeMap<String, Vec<f64>>,
    done: Vec<bool>,
    computed_by: Vec<u32>,
    runs: Vec<RunRecord>,
}

/// The body of a format-version-1 file: its header has no `sampling`.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct BodyV1 {
    header: HeaderV1,
    arrays: BTreeMap<String, Vec<f64>>,
    done: Vec<bool>,
    computed_by: Vec<u32>,
    runs: Vec<RunRecord>,
}

/// [`SurfaceHeader`] as format version 1 wrote it.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct HeaderV1 {
    grid: Grid,
    checkpoint: String,
    checkpoint_hash: String,
    directions_hash: String,
    method: String,
    data: String,
    loss: String,
    batch_size: usize,
    threads: usize,
    #[serde(with = "crate::precision_text")]
    dtype: Precision,
    arrays: Vec<String>,
    extra: BTreeMap<String, String>,
}

impl From<BodyV1> for Body {
    fn from(v1: BodyV1) -> Body {
        let h = v1.header;
        let header = SurfaceHeader {
            grid: h.grid,
            checkpoint: h.checkpoint,
            checkpoint_hash: h.checkpoint_hash,
            directions_hash: h.directions_hash,
            method: h.method,
            data: h.data,
            loss: h.loss,
            batch_size: h.batch_size,
            threads: h.threads,
            dtype: h.dtype,
            arrays: h.arrays,
            extra: h.extra,
            sampling: None,
        };
        Body { header, arrays: v1.arrays, done: v1.done, computed_by: v1.computed_by, runs: v1.runs }
    }
}

/// The bincode settings of the body: fixed-width little-endian integers, no trailing bytes.
fn codec() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .reject_trailing_bytes()
}

/// This machine's host name, or "unknown".
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Surface {
        let grid = Grid::new("0:1:2".parse().unwrap(), Some("0:1:3".parse().unwrap())).unwrap();
        let mut s = Surface::new(SurfaceHeader::new(grid, vec!["loss".into()])).unwrap();
        let run = s.begin_run(Shard::all());
        s.set_point(1, &[0.5], run).unwrap();
        s
    }

    #[test]
    fn consistent_surface_decodes() {
        let s = small();
        let back = Surface::from_bytes(&s.to_bytes().unwrap()).unwrap();
        assert_eq!(back.computed_by(), s.computed_by());
    }

    #[test]
    fn a_version_1_file_reads_as_evaluated_on_every_example() {
        let s = small();
        let h = s.header.clone();
        let v1 = BodyV1 {
            header: HeaderV1 {
                grid: h.grid.clone(),
                checkpoint: "c.safetensors".into(),
                checkpoint_hash: "ab".into(),
                directions_hash: "cd".into(),
                method: h.method.clone(),
                data: "toy".into(),
                loss: "mse".into(),
                batch_size: 7,
                threads: 2,
                dtype: Precision::F32,
                arrays: h.arrays.clone(),
                extra: BTreeMap::from([("k".to_string(), "v".to_string())]),
            },
            arrays: s.arrays.clone(),
            done: s.done.clone(),
            computed_by: s.computed_by.clone(),
            runs: s.runs.clone(),
        };
        let body = codec().serialize(&v1).unwrap();
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&body);
        bytes.extend_from_slice(&Sha256::digest(&body));
        let back = Surface::from_bytes(&bytes).unwrap();
        assert_eq!(back.header.sampling, None);
        assert_eq!((back.header.batch_size, back.header.loss.as_str(), back.header.extra["k"].as_str()), (7, "mse", "v"));
        assert_eq!(back.point_values(1).unwrap(), vec![0.5]);
        // Saved again, it is a current-version file with the same content.
        let again = Surface::from_bytes(&back.to_bytes().unwrap()).unwrap();
        assert_eq!(again.header, back.header);
        bytes[8..12].copy_from_slice(&3u32.to_le_bytes());
        assert!(Surface::from_bytes(&bytes).unwrap_err().contains("version 3 is newer"));
    }

    #[test]
    fn inconsistent_content_is_refused_even_with_a_valid_checksum() {
        type Breaker = fn(&mut Surface);
        let cases: Vec<(Breaker, &str)> = vec![
            (
                |s| s.done[0] = true,
                "done-mask and the run record disagree",
            ),
            (|s| s.computed_by[2] = 7, "names run 7"),
            (|s| s.runs[0].points = 3, "records 3 points but computed 1"),
            (|s| s.runs[0].id = 2, "run number 2 is stored at position 1"),
            (
                |s| {
                    s.arrays
                        .get_mut("loss")
                        .unwrap()
                        .pop()
                        .map(drop)
                        .unwrap_or(())
                },
                "has 5 values for 6",
            ),
            (|s| s.done.push(false), "do not cover the 6 grid points"),
            (
                |s| drop(s.arrays.insert("other".into(), vec![0.0; 6])),
                "do not match the header",
            ),
            (|s| s.header.grid.x.num = 0, "at least 1"),
        ];
        for (break_it, needle) in cases {
            let mut s = small();
            break_it(&mut s);
            let err = Surface::from_bytes(&s.to_bytes().unwrap()).unwrap_err();
            assert!(
                err.contains("inconsistent surface file") && err.contains(needle),
                "{needle}: {err}"
            );
        }
    }

    #[test]
    fn bad_metric_names_are_refused() {
        let grid = Grid::new("0:1:2".parse().unwrap(), None).unwrap();
        for (arrays, needle) in [
            (vec![], "at least one"),
            (vec!["loss", "loss"], "appears twice"),
            (vec!["done"], "reserved"),
            (vec!["train loss"], "letters, digits"),
            (vec![""], "letters, digits"),
        ] {
            let header =
                SurfaceHeader::new(grid.clone(), arrays.into_iter().map(String::from).collect());
            let err = Surface::new(header).unwrap_err().to_string();
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }
}
