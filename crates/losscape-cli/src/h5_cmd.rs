//! The original loss-landscape code's HDF5 files on the command line: its direction files for
//! `--direction-file`, its surface files' grids for `surface --grid-from`, and `export --format
//! h5`. Built with the cargo feature `hdf5` (the system HDF5 library); without it, an HDF5 input or
//! output is refused with a line saying how to build it.

use std::path::Path;

use anyhow::Result;
#[cfg(feature = "hdf5")]
use anyhow::Context;
#[cfg(not(feature = "hdf5"))]
use losscape::landscape::h5::is_hdf5_file;
use losscape::landscape::{Axis, Surface};

use losscape::models::check_input_file;

/// What to do without the feature.
#[cfg(not(feature = "hdf5"))]
const NO_HDF5: &str = "this losscape was built without HDF5 support: build it with `cargo build --release -p losscape-cli \
     --features hdf5` (needs the system HDF5 library, e.g. Debian's libhdf5-dev)";

/// Refuses an HDF5 direction file (the original code's) when this build has no HDF5 support,
/// saying how to build it; the libraries read such files when it has.
pub(crate) fn check_supported(file: &Path) -> Result<()> {
    #[cfg(not(feature = "hdf5"))]
    if is_hdf5_file(file) {
        anyhow::bail!("{} is an HDF5 file, but {NO_HDF5}", file.display());
    }
    let _ = file;
    Ok(())
}

/// The x and y axes of the original code's surface file `file` (`xcoordinates`, `ycoordinates`).
pub(crate) fn read_axes(file: &Path) -> Result<(Axis, Option<Axis>)> {
    check_input_file(file, "surface file")?;
    #[cfg(feature = "hdf5")]
    {
        let grid = losscape::landscape::h5::read_grid(file).with_context(|| format!("reading the grid of {}", file.display()))?;
        Ok((grid.x, grid.y))
    }
    #[cfg(not(feature = "hdf5"))]
    {
        anyhow::bail!("--grid-from reads an HDF5 file, but {NO_HDF5}")
    }
}

/// Writes `surface` as the original code's surface file; its `dir_file` is the direction file the
/// surface was computed along, or the surface's method when it was not a file.
pub(crate) fn export(surface: &Surface, out: &Path) -> Result<()> {
    let method = &surface.header().method;
    let dir_file = method.strip_prefix("direction file ").unwrap_or(method);
    #[cfg(feature = "hdf5")]
    {
        losscape::landscape::h5::write_surface(surface, dir_file, out)?;
        Ok(())
    }
    #[cfg(not(feature = "hdf5"))]
    {
        let _ = (dir_file, out);
        anyhow::bail!("--format h5 writes an HDF5 file, but {NO_HDF5}")
    }
}
