//! HDF5 files of the original Python code (tomgoldstein/loss-landscape): its direction files read
//! as a [`DirectionSet`], its surface files written from a [`Surface`], and the grid of its
//! surface files read as a [`Grid`]. The reading and writing need the cargo feature `hdf5` (the
//! system HDF5 library); [`is_hdf5_file`] and [`original_order`] do not.
//!
//! The original's layouts (its `h5_util.py`, `net_plotter.py`, `plot_surface.py`):
//!
//! - direction file: groups `xdirection` and (for a plane) `ydirection`, each holding datasets
//!   `"0"`, `"1"`, ... in the model's `parameters()` order (`--dir_type weights`) or its
//!   `state_dict()` order (`--dir_type states`, BN running statistics included, and the
//!   `num_batches_tracked` counters when the model was saved by PyTorch 0.4.1 or later);
//!   a PCA direction file (`plot_trajectory.py`) also holds `explained_variance_ratio_`.
//! - surface file: `dir_file` (a string), `xcoordinates` `(nx,)`, `ycoordinates` `(ny,)` on a
//!   plane, and per metric (`train_loss`, `train_acc`, `test_loss`, `test_acc`; accuracies in
//!   percent) a float64 array of shape `(nx, ny)`, `(nx,)` on a line. Its points are filled
//!   through `meshgrid(x, y).ravel()`, so flat index `iy * nx + ix` holds the point
//!   `(x[ix], y[iy])` whatever the declared shape: for a square grid `Z[iy, ix]`, the transpose
//!   of losscape's `[ix, iy]`, which is what its plots (`contour(X, Y, Z)` with
//!   `X, Y = meshgrid(x, y)`) expect. Points not computed hold -1 there (the original's marker).

use std::path::Path;

use crate::surface::Surface;

/// The 8 bytes every HDF5 file begins with (at offset 0 when there is no user block).
pub const HDF5_SIGNATURE: [u8; 8] = *b"\x89HDF\r\n\x1a\n";

/// Whether the file at `path` begins with the HDF5 signature.
pub fn is_hdf5_file(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 8];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && head == HDF5_SIGNATURE
}

/// The values of array `name` of `surface` in the original's order: flat index `iy * nx + ix`
/// holds point `(ix, iy)`; points not computed are -1. `None` for an unknown array.
pub fn original_order(surface: &Surface, name: &str) -> Option<Vec<f64>> {
    let values = surface.array(name)?;
    let grid = surface.grid();
    let (nx, ny) = grid.shape();
    let mut out = vec![-1.0; nx * ny];
    for (index, (&v, &done)) in values.iter().zip(surface.done()).enumerate() {
        let (ix, iy) = grid.position(index);
        if done {
            out[iy * nx + ix] = v;
        }
    }
    Some(out)
}

#[cfg(feature = "hdf5")]
pub use with_hdf5::{read_directions, read_grid, write_surface};
/// The HDF5 bindings used here (hdf5-metno), for reading the files back in tests and tools.
#[cfg(feature = "hdf5")]
pub use hdf5;

#[cfg(feature = "hdf5")]
mod with_hdf5 {
    use std::path::Path;
    use std::str::FromStr;

    use hdf5::types::VarLenUnicode;
    use losscape_directions::{in_scope, Direction, DirectionSet, Origin, Scope};
    use losscape_models::{Model, Role};
    use tch::Tensor;

    use super::original_order;
    use crate::error::{Error, Result};
    use crate::grid::{Axis, Grid};
    use crate::surface::Surface;

    /// An HDF5 library error as a format error naming the file.
    fn h5err<'a>(path: &'a Path, what: &str) -> impl Fn(hdf5::Error) -> Error + 'a {
        let what = what.to_owned();
        move |e| Error::format(path, format!("{what}: {e}"))
    }

    fn open(path: &Path) -> Result<hdf5::File> {
        if !path.is_file() {
            return Err(Error::io(path, std::io::Error::new(std::io::ErrorKind::NotFound, "no such file")));
        }
        hdf5::File::open(path).map_err(|e| Error::format(path, format!("not a readable HDF5 file: {e}")))
    }

    /// One group's datasets `"0"`, `"1"`, ... as `(shape, values)`.
    fn read_list(file: &hdf5::File, path: &Path, name: &str) -> Result<Vec<(Vec<i64>, Vec<f64>)>> {
        let group = file.group(name).map_err(h5err(path, &format!("group '{name}'")))?;
        let count = group.len() as usize;
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let key = i.to_string();
            if !group.link_exists(&key) {
                return Err(Error::format(
                    path,
                    format!("group '{name}' holds {count} members but no dataset '{key}' (the original numbers them 0, 1, ...)"),
                ));
            }
            let ds = group.dataset(&key).map_err(h5err(path, &format!("{name}/{key}")))?;
            let values: Vec<f64> = ds.read_raw::<f64>().map_err(h5err(path, &format!("{name}/{key} as numbers")))?;
            if let Some(bad) = values.iter().position(|v| !v.is_finite()) {
                return Err(Error::format(
                    path,
                    format!("{name}/{key} holds a NaN or infinite value (entry {bad}); refusing to use it"),
                ));
            }
            out.push((ds.shape().iter().map(|&d| d as i64).collect(), values));
        }
        Ok(out)
    }

    /// Reads a direction file of the original code for `model`: one direction per group
    /// (`xdirection`, then `ydirection` when present). The scope follows from the number of
    /// datasets: the model's parameters (`weights`), or its whole state dict (`states`, with or
    /// without the `num_batches_tracked` counters, which are skipped). Every dataset's shape must
    /// equal that of the model tensor at its position; the error names the first that does not.
    pub fn read_directions(path: &Path, model: &dyn Model) -> Result<DirectionSet> {
        let file = open(path)?;
        let mut groups = vec!["xdirection"];
        if file.link_exists("ydirection") {
            groups.push("ydirection");
        }
        if !file.link_exists("xdirection") {
            return Err(Error::format(path, "no group 'xdirection': not a direction file of the original loss-landscape code"));
        }
        let named = model.named_tensors();
        let params: Vec<_> = named.iter().filter(|t| in_scope(t.role, Scope::Weights)).collect();
        let without_counters: Vec<_> = named.iter().filter(|t| t.role != Role::BnNumBatchesTracked).collect();
        let mut directions = Vec::new();
        for name in groups {
            let list = read_list(&file, path, name)?;
            let (scope, targets) = if list.len() == params.len() {
                (Scope::Weights, params.clone())
            } else if list.len() == named.len() {
                (Scope::States, named.iter().collect())
            } else if list.len() == without_counters.len() {
                (Scope::States, without_counters.clone())
            } else {
                return Err(Error::format(
                    path,
                    format!(
                        "'{name}' holds {} tensors, but model {} has {} parameters (--dir_type weights) and {} state-dict \
                         entries (--dir_type states; {} without num_batches_tracked)",
                        list.len(),
                        model.spec(),
                        params.len(),
                        named.len(),
                        without_counters.len()
                    ),
                ));
            };
            let mut tensors = Vec::new();
            for (k, ((shape, values), target)) in list.into_iter().zip(targets).enumerate() {
                let want = target.tensor.size();
                if shape != want {
                    return Err(Error::format(
                        path,
                        format!(
                            "{name}/{k} has shape {shape:?} but tensor {k} of model {} in the {scope} scope, '{}', is {want:?}",
                            model.spec(),
                            target.name
                        ),
                    ));
                }
                if in_scope(target.role, scope) {
                    tensors.push((target.name.clone(), Tensor::f_from_slice(&values)?.f_reshape(&want)?));
                }
            }
            directions.push(Direction { scope, tensors });
        }
        if directions.len() == 2 && directions[0].scope != directions[1].scope {
            return Err(Error::format(path, "xdirection and ydirection are of different scopes (weights and states)"));
        }
        const PCA_KEY: &str = "explained_variance_ratio_";
        let origin = match file.link_exists(PCA_KEY) {
            true => Origin::Pca {
                explained_variance_ratio: file
                    .dataset(PCA_KEY)
                    .and_then(|ds| ds.read_raw::<f64>())
                    .map_err(h5err(path, PCA_KEY))?,
            },
            false => Origin::Other {
                description: format!(
                    "direction file of the original loss-landscape code ({})",
                    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
                ),
            },
        };
        Ok(DirectionSet::new(directions, model.spec(), String::new(), origin)?)
    }

    /// Writes `surface` as a surface file of the original code (see the module docs), atomically;
    /// `dir_file` is stored as its `dir_file` string.
    pub fn write_surface(surface: &Surface, dir_file: &str, path: &Path) -> Result<()> {
        // HDF5 writes to a path, so the file goes through core's atomic write for such writers;
        // the HDF5 error itself is kept for the message.
        let mut failure: Option<Error> = None;
        let written = losscape_core::fsio::write_atomic_via(path, |temp| {
            write_to(surface, dir_file, temp).map_err(|e| {
                let message = e.to_string();
                failure = Some(e);
                std::io::Error::other(message)
            })
        });
        match written {
            Ok(()) => Ok(()),
            Err(e) => Err(failure.take().unwrap_or_else(|| e.into())),
        }
    }

    fn write_to(surface: &Surface, dir_file: &str, temp: &Path) -> Result<()> {
        let err = |what: &str| {
            let what = what.to_owned();
            move |e: hdf5::Error| Error::format(temp, format!("writing {what}: {e}"))
        };
        let file = hdf5::File::create(temp).map_err(err("the file"))?;
        let grid = surface.grid();
        let (nx, ny) = grid.shape();
        let text = VarLenUnicode::from_str(dir_file).map_err(|e| Error::invalid(format!("dir_file '{dir_file}': {e}")))?;
        file.new_dataset::<VarLenUnicode>().create("dir_file").map_err(err("dir_file"))?.write_scalar(&text).map_err(err("dir_file"))?;
        let mut axes = vec![("xcoordinates", grid.x.coordinates())];
        if let Some(y) = &grid.y {
            axes.push(("ycoordinates", y.coordinates()));
        }
        for (name, values) in axes {
            let ds = file.new_dataset::<f64>().shape(values.len()).create(name).map_err(err(name))?;
            ds.write_raw(&values).map_err(err(name))?;
        }
        let shape: Vec<usize> = if grid.is_2d() { vec![nx, ny] } else { vec![nx] };
        for name in &surface.header().arrays {
            let values = original_order(surface, name).expect("a listed array");
            let ds = file.new_dataset::<f64>().shape(shape.clone()).create(name.as_str()).map_err(err(name))?;
            ds.write_raw(&values).map_err(err(name))?;
        }
        file.close().map_err(err("the file"))?;
        Ok(())
    }

    /// The grid of a surface file of the original code: its `xcoordinates` (and `ycoordinates`),
    /// which must be evenly spaced (`np.linspace`, as the original writes them).
    pub fn read_grid(path: &Path) -> Result<Grid> {
        let file = open(path)?;
        let axis = |name: &str| -> Result<Axis> {
            let ds = file.dataset(name).map_err(h5err(path, &format!("dataset '{name}'")))?;
            if ds.ndim() != 1 {
                return Err(Error::format(path, format!("'{name}' has shape {:?}, not one axis", ds.shape())));
            }
            let values = ds.read_raw::<f64>().map_err(h5err(path, name))?;
            let (Some(&first), Some(&last)) = (values.first(), values.last()) else {
                return Err(Error::format(path, format!("'{name}' is empty")));
            };
            let axis = Axis::new(first, last, values.len()).map_err(|e| Error::format(path, format!("'{name}': {e}")))?;
            let span = (last - first).abs().max(f64::MIN_POSITIVE);
            if let Some(i) = (0..values.len()).find(|&i| (values[i] - axis.coordinate(i)).abs() > 1e-9 * span) {
                return Err(Error::format(
                    path,
                    format!(
                        "'{name}' is not evenly spaced ({} at position {i}, {} expected for {axis}): losscape grids are min:max:num",
                        values[i],
                        axis.coordinate(i)
                    ),
                ));
            }
            Ok(axis)
        };
        if !file.link_exists("xcoordinates") {
            return Err(Error::format(path, "no dataset 'xcoordinates': not a surface file of the original loss-landscape code"));
        }
        let x = axis("xcoordinates")?;
        let y = if file.link_exists("ycoordinates") { Some(axis("ycoordinates")?) } else { None };
        Ok(Grid::new(x, y)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::Grid;
    use crate::surface::SurfaceHeader;

    #[test]
    fn the_original_order_puts_y_slowest_and_marks_missing_points() {
        let grid = Grid::new("0:2:3".parse().unwrap(), Some("0:1:2".parse().unwrap())).unwrap();
        let mut s = Surface::new(SurfaceHeader::new(grid, vec!["train_loss".into()])).unwrap();
        let run = s.begin_run(crate::Shard::all());
        for index in 0..s.len() {
            let (ix, iy) = s.grid().position(index);
            if (ix, iy) != (2, 1) {
                s.set_point(index, &[(10 * ix + iy) as f64], run).unwrap();
            }
        }
        // Flat iy * nx + ix: (0,0) (1,0) (2,0) (0,1) (1,1) and (2,1) not computed.
        assert_eq!(original_order(&s, "train_loss").unwrap(), vec![0.0, 10.0, 20.0, 1.0, 11.0, -1.0]);
        assert!(original_order(&s, "nothing").is_none());
    }

    #[test]
    fn hdf5_files_are_told_by_their_signature() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.h5"), dir.path().join("b.h5"));
        std::fs::write(&a, [&HDF5_SIGNATURE[..], b"rest"].concat()).unwrap();
        std::fs::write(&b, b"\x89HDX\r\n\x1a\nrest").unwrap();
        assert!(is_hdf5_file(&a) && !is_hdf5_file(&b) && !is_hdf5_file(&dir.path().join("none")));
    }
}
