//! One metric of a surface as a masked array: the values in C order of shape `(nx, ny)` beside
//! the done-mask, with the axes' coordinates, for readers that draw or analyse a surface (plots,
//! reports) and must not mistake a point not computed for a computed NaN.

use crate::surface::Surface;

/// One metric over the grid with its done-mask.
#[derive(Clone, Debug, PartialEq)]
pub struct MaskedArray {
    /// The x coordinates (`nx`).
    pub x: Vec<f64>,
    /// The y coordinates (`ny`); `[0.0]` on a line.
    pub y: Vec<f64>,
    /// The values, index `ix * ny + iy`; a point not computed holds NaN here.
    pub values: Vec<f64>,
    /// Whether each point was computed.
    pub done: Vec<bool>,
}

impl MaskedArray {
    /// `(nx, ny)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.x.len(), self.y.len())
    }

    /// The value at `(ix, iy)`, `None` where the point was not computed (a computed NaN is
    /// `Some(NaN)`).
    pub fn get(&self, ix: usize, iy: usize) -> Option<f64> {
        let i = ix * self.y.len() + iy;
        self.done.get(i).copied().filter(|&d| d).map(|_| self.values[i])
    }

    /// The values with the points not computed set to `fill`.
    pub fn filled(&self, fill: f64) -> Vec<f64> {
        self.values.iter().zip(&self.done).map(|(&v, &d)| if d { v } else { fill }).collect()
    }
}

impl Surface {
    /// The metric `name` as a [`MaskedArray`], or `None` if the surface has no such array.
    pub fn masked(&self, name: &str) -> Option<MaskedArray> {
        let values = self.array(name)?.to_vec();
        let grid = self.grid();
        let y = grid.y.as_ref().map(|a| a.coordinates()).unwrap_or_else(|| vec![0.0]);
        Some(MaskedArray { x: grid.x.coordinates(), y, values, done: self.done().to_vec() })
    }
}

#[cfg(test)]
mod tests {
    use crate::{Grid, Shard, Surface, SurfaceHeader};

    #[test]
    fn masked_tells_missing_points_from_computed_nans() {
        let grid = Grid::new("-1:1:3".parse().unwrap(), Some("0:1:2".parse().unwrap())).unwrap();
        let mut s = Surface::new(SurfaceHeader::new(grid, vec!["loss".into()])).unwrap();
        let run = s.begin_run(Shard::all());
        s.set_point(0, &[f64::NAN], run).unwrap();
        s.set_point(3, &[2.5], run).unwrap();
        let m = s.masked("loss").unwrap();
        assert_eq!(m.shape(), (3, 2));
        assert_eq!((m.x.clone(), m.y.clone()), (vec![-1.0, 0.0, 1.0], vec![0.0, 1.0]));
        assert!(m.get(0, 0).unwrap().is_nan(), "computed NaN");
        assert_eq!(m.get(0, 1), None, "not computed");
        assert_eq!(m.get(1, 1), Some(2.5));
        assert_eq!(m.filled(-1.0)[1..4], [-1.0, -1.0, 2.5]);
        assert!(s.masked("nope").is_none());
    }
}
