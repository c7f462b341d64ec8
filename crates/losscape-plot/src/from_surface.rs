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

/// The metric `name` of a 2D `surface` minus and plus `k` times its standard error (the array
/// `<name>_se` that surfaces evaluated with early stopping hold), for [`contour_band`](crate::contour_band).
pub fn error_band(surface: &Surface, name: &str, k: f64) -> Result<(SurfaceValues, SurfaceValues)> {
    if !(k.is_finite() && k > 0.0) {
        return Err(Error::invalid(format!("the width of an error band must be a positive number of standard errors, not {k}")));
    }
    let se_name = losscape_surface::sampling::se_array(name);
    if surface.array(&se_name).is_none() {
        return Err(Error::invalid(format!(
            "the surface has no standard errors of '{name}' (no array '{se_name}'): only surfaces evaluated with early stopping have them"
        )));
    }
    let values = surface_values(surface, name)?;
    let se = surface_values(surface, &se_name)?;
    let shifted = |sign: f64| SurfaceValues { z: &values.z + &(&se.z * (sign * k)), ..values.clone() };
    Ok((shifted(-1.0), shifted(1.0)))
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

    #[test]
    fn the_band_is_the_values_minus_and_plus_k_standard_errors() {
        let grid = Grid::new("0:1:2".parse().unwrap(), Some("0:1:2".parse().unwrap())).unwrap();
        let mut s = Surface::new(SurfaceHeader::new(grid, vec!["loss".into(), "loss_se".into()])).unwrap();
        let run = s.begin_run(Shard::all());
        for i in 0..3 {
            s.set_point(i, &[i as f64, 0.5 * i as f64], run).unwrap();
        }
        let (lo, hi) = error_band(&s, "loss", 2.0).unwrap();
        assert_eq!((lo.z[[0, 1]], hi.z[[0, 1]]), (0.0, 2.0));
        assert_eq!((lo.z[[1, 0]], hi.z[[1, 0]]), (0.0, 4.0));
        assert!(lo.z[[1, 1]].is_nan() && hi.z[[1, 1]].is_nan(), "not computed");
        assert!(error_band(&s, "loss_se", 2.0).unwrap_err().to_string().contains("early stopping"));
        assert!(error_band(&s, "loss", -1.0).is_err());
    }
}
