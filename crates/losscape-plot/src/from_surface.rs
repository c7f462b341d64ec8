//! Figure input read straight from a surface file's arrays (losscape-surface, no libtorch): one
//! metric of a 2D surface as the `(x, y, z)` a contour, heat map or 3D figure draws, with the
//! points not computed yet as NaN (drawn as gaps), never as values.

use losscape_surface::Surface;
use ndarray::Array2;

use crate::error::{Error, Result};

/// One metric of a 2D surface: the axes' coordinates and the values as an `(nx, ny)` array.
#[derive(Clone, Debug)]
pub struct SurfaceValues {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub z: Array2<f64>,
}

/// The metric `name` of a 2D `surface`; points not computed are NaN.
pub fn surface_values(surface: &Surface, name: &str) -> Result<SurfaceValues> {
    if !surface.grid().is_2d() {
        return Err(Error::invalid("a 2D figure needs a 2D surface"));
    }
    let m = surface.masked(name).ok_or_else(|| {
        Error::invalid(format!("the surface has no array '{name}' (it has {})", surface.header().arrays.join(", ")))
    })?;
    let z = Array2::from_shape_vec(m.shape(), m.filled(f64::NAN)).map_err(|e| Error::invalid(e.to_string()))?;
    Ok(SurfaceValues { x: m.x, y: m.y, z })
}

#[cfg(test)]
mod tests {
    use super::*;
    use losscape_surface::{Grid, Shard, SurfaceHeader};

    #[test]
    fn values_are_indexed_x_then_y_with_gaps_as_nan() {
        let grid = Grid::new("0:2:3".parse().unwrap(), Some("0:1:2".parse().unwrap())).unwrap();
        let mut s = Surface::new(SurfaceHeader::new(grid, vec!["loss".into()])).unwrap();
        let run = s.begin_run(Shard::all());
        for i in 0..5 {
            let (a, b) = s.grid().point(i);
            s.set_point(i, &[10.0 * a + b], run).unwrap();
        }
        let v = surface_values(&s, "loss").unwrap();
        assert_eq!(v.z.dim(), (3, 2));
        assert_eq!((v.z[[1, 0]], v.z[[1, 1]], v.z[[2, 0]]), (10.0, 11.0, 20.0));
        assert!(v.z[[2, 1]].is_nan(), "not computed");
        assert!(surface_values(&s, "acc").unwrap_err().to_string().contains("has no array 'acc'"));
        let line = Surface::new(SurfaceHeader::new(Grid::new("0:1:2".parse().unwrap(), None).unwrap(), vec!["l".into()])).unwrap();
        assert!(surface_values(&line, "l").is_err());
    }
}
