//! Grids of coordinates (a, b) over one or two directions, and shards that split a grid's points
//! between independent runs.
//!
//! An [`Axis`] is written `min:max:num` (`-1:1:51`, `0:1:11`, `-0.5:1.5:41`); a [`Grid`] is one
//! axis (a 1D line) or two (a 2D surface, not necessarily square). Points are numbered row-major
//! with x slowest: `index = ix * ny + iy`, so arrays over the grid have shape `(nx, ny)` in C order,
//! like the original code's arrays of shape `(len(x), len(y))`. A [`Shard`] `i/n` owns the points
//! whose index leaves remainder `i` when divided by `n`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The largest number of points a grid may have (4096 x 4096): enough for any figure, small
/// enough that a typo such as `-1:1:51000` is refused instead of allocating gigabytes.
pub const MAX_POINTS: usize = 1 << 24;

/// Evenly spaced coordinates from `min` to `max` inclusive, `num` of them.
///
/// Valid axes have finite ends, `num >= 1`, and `min < max` when `num >= 2`; `num == 1` is the
/// single coordinate `min` and requires `min == max` (write it `0:0:1`). Build axes through
/// [`Axis::new`] or [`str::parse`], which check this; [`Axis::validate`] checks an axis built
/// field by field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Axis {
    /// The first coordinate.
    pub min: f64,
    /// The last coordinate.
    pub max: f64,
    /// How many coordinates.
    pub num: usize,
}

impl Axis {
    /// A checked axis.
    pub fn new(min: f64, max: f64, num: usize) -> Result<Self> {
        let axis = Axis { min, max, num };
        axis.validate()?;
        Ok(axis)
    }

    /// Checks the rules stated on [`Axis`].
    pub fn validate(&self) -> Result<()> {
        let Axis { min, max, num } = *self;
        if !min.is_finite() || !max.is_finite() {
            return Err(Error::invalid(format!(
                "axis {self}: the ends must be finite numbers"
            )));
        }
        match num {
            0 => Err(Error::invalid(format!(
                "axis {self}: the number of points must be at least 1"
            ))),
            1 if min != max => Err(Error::invalid(format!(
                "axis {self}: a single point needs min == max (write {min}:{min}:1)"
            ))),
            1 => Ok(()),
            _ if min >= max => Err(Error::invalid(format!(
                "axis {self}: min must be below max (write the smaller end first)"
            ))),
            _ if num > MAX_POINTS => Err(Error::invalid(format!(
                "axis {self}: more than {MAX_POINTS} points"
            ))),
            _ => Ok(()),
        }
    }

    /// The `i`-th coordinate, `(min * (num-1-i) + max * i) / (num-1)`.
    ///
    /// The ends are exactly `min` and `max`, the coordinates of a range symmetric about 0 are
    /// exactly symmetric, and a grid that contains 0 (such as `-1:1:51` or `-0.5:1.5:41`) has
    /// exactly 0.0 there, so the base model itself is one of the points evaluated.
    pub fn coordinate(&self, i: usize) -> f64 {
        if self.num <= 1 || i == 0 {
            return self.min;
        }
        let last = self.num - 1;
        if i >= last {
            return self.max;
        }
        (self.min * (last - i) as f64 + self.max * i as f64) / last as f64
    }

    /// All `num` coordinates in order (a linspace with exact ends).
    pub fn coordinates(&self) -> Vec<f64> {
        (0..self.num).map(|i| self.coordinate(i)).collect()
    }
}

impl FromStr for Axis {
    type Err = Error;

    /// Parses `min:max:num`, e.g. `-1:1:51`, `0:1:11`, `-0.5:1.5:41`, `0:0:1`.
    fn from_str(s: &str) -> Result<Self> {
        let usage = "expected min:max:num, e.g. -1:1:51";
        let parts: Vec<&str> = s.trim().split(':').map(str::trim).collect();
        let [min, max, num] = parts[..] else {
            return Err(Error::invalid(format!("axis '{s}': {usage}")));
        };
        let number = |what: &str, text: &str| {
            text.parse::<f64>().map_err(|_| {
                Error::invalid(format!(
                    "axis '{s}': {what} '{text}' is not a number ({usage})"
                ))
            })
        };
        let (min, max) = (number("min", min)?, number("max", max)?);
        let num = num.parse::<usize>().map_err(|_| {
            Error::invalid(format!(
                "axis '{s}': num '{num}' is not a whole number of points ({usage})"
            ))
        })?;
        Axis::new(min, max, num)
    }
}

impl fmt::Display for Axis {
    /// `min:max:num`; parsing the output gives back the same axis (f64 printing round-trips).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.min, self.max, self.num)
    }
}

/// The coordinates at which a landscape is evaluated: a line (`y` is `None`) or a plane.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    /// Coordinates along the first direction.
    pub x: Axis,
    /// Coordinates along the second direction; `None` for a 1D line or interpolation.
    pub y: Option<Axis>,
}

impl Grid {
    /// A checked grid (both axes valid, at most [`MAX_POINTS`] points).
    pub fn new(x: Axis, y: Option<Axis>) -> Result<Self> {
        let grid = Grid { x, y };
        grid.validate()?;
        Ok(grid)
    }

    /// Checks both axes and the total number of points.
    pub fn validate(&self) -> Result<()> {
        self.x.validate()?;
        if let Some(y) = &self.y {
            y.validate()?;
        }
        let (nx, ny) = self.shape();
        match nx.checked_mul(ny) {
            Some(n) if n <= MAX_POINTS => Ok(()),
            _ => Err(Error::invalid(format!(
                "grid {self}: more than {MAX_POINTS} points"
            ))),
        }
    }

    /// Whether the grid has a second axis.
    pub fn is_2d(&self) -> bool {
        self.y.is_some()
    }

    /// Number of points, `nx * ny` (`ny = 1` for a line).
    pub fn len(&self) -> usize {
        let (nx, ny) = self.shape();
        nx * ny
    }

    /// Whether the grid has no points (only possible for an axis that failed validation).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(nx, ny)`, with `ny = 1` for a line.
    pub fn shape(&self) -> (usize, usize) {
        (self.x.num, self.y.as_ref().map_or(1, |y| y.num))
    }

    /// The point index of grid position `(ix, iy)`: `ix * ny + iy`.
    pub fn index(&self, ix: usize, iy: usize) -> usize {
        ix * self.shape().1 + iy
    }

    /// The grid position `(ix, iy)` of a point index (the inverse of [`Grid::index`]).
    pub fn position(&self, index: usize) -> (usize, usize) {
        let ny = self.shape().1;
        (index / ny, index % ny)
    }

    /// The coordinates `(a, b)` of point `index`; `b = 0.0` on a line.
    ///
    /// # Panics
    /// If `index >= self.len()`, like slice indexing.
    pub fn point(&self, index: usize) -> (f64, f64) {
        assert!(
            index < self.len(),
            "grid point {index} out of range: the grid {self} has {} points",
            self.len()
        );
        let (ix, iy) = self.position(index);
        (
            self.x.coordinate(ix),
            self.y.as_ref().map_or(0.0, |y| y.coordinate(iy)),
        )
    }
}

impl fmt::Display for Grid {
    /// `x=-1:1:51` or `x=-1:1:51 y=-1:1:21`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "x={}", self.x)?;
        if let Some(y) = &self.y {
            write!(f, " y={y}")?;
        }
        Ok(())
    }
}

/// Shard `index` of `count` (numbered from 0): the points `p` with `p % count == index`.
///
/// Written `i/n`, e.g. `0/4` ... `3/4`; the shards `0/n` ... `(n-1)/n` together cover every point
/// exactly once, and interleaving keeps their work balanced even when some regions of the grid are
/// slower than others.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shard {
    /// Which shard, from 0 to `count - 1`.
    pub index: usize,
    /// How many shards the grid is split into (at least 1).
    pub count: usize,
}

impl Shard {
    /// A checked shard (`count >= 1`, `index < count`).
    pub fn new(index: usize, count: usize) -> Result<Self> {
        if count == 0 {
            return Err(Error::invalid(format!(
                "shard {index}/{count}: the count must be at least 1"
            )));
        }
        if index >= count {
            return Err(Error::invalid(format!(
                "shard {index}/{count}: the index must be below the count (shards are numbered 0/{count} to {}/{count})",
                count - 1
            )));
        }
        Ok(Shard { index, count })
    }

    /// The single shard `0/1` that holds every point.
    pub fn all() -> Self {
        Shard { index: 0, count: 1 }
    }

    /// Whether this shard holds every point.
    pub fn is_all(&self) -> bool {
        self.count == 1
    }

    /// Whether point index `point` belongs to this shard.
    pub fn contains(&self, point: usize) -> bool {
        point % self.count == self.index
    }

    /// The point indices below `len` that belong to this shard, ascending.
    pub fn indices(&self, len: usize) -> impl Iterator<Item = usize> {
        (self.index..len).step_by(self.count.max(1))
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard::all()
    }
}

impl FromStr for Shard {
    type Err = Error;

    /// Parses `i/n`, e.g. `0/4`.
    fn from_str(s: &str) -> Result<Self> {
        let parse = |text: &str| text.trim().parse::<usize>().ok();
        match s.split_once('/').map(|(i, n)| (parse(i), parse(n))) {
            Some((Some(i), Some(n))) => Shard::new(i, n),
            _ => Err(Error::invalid(format!(
                "shard '{s}': expected i/n with 0 <= i < n, e.g. 0/4"
            ))),
        }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(s: &str) -> Axis {
        s.parse().unwrap()
    }

    #[test]
    fn axis_parses_and_prints_round_trip() {
        for (text, min, max, num) in [
            ("-1:1:51", -1.0, 1.0, 51),
            ("0:1:11", 0.0, 1.0, 11),
            ("-1:0:5", -1.0, 0.0, 5),
            ("-0.5:1.5:41", -0.5, 1.5, 41),
            ("0:0:1", 0.0, 0.0, 1),
            ("0.1:0.30000000000000004:3", 0.1, 0.30000000000000004, 3),
        ] {
            let a = axis(text);
            assert_eq!(a, Axis { min, max, num }, "{text}");
            assert_eq!(a.to_string(), text);
            assert_eq!(axis(&a.to_string()), a);
        }
        assert_eq!(
            axis(" -2 : 3 : 6 "),
            Axis {
                min: -2.0,
                max: 3.0,
                num: 6
            }
        );
        assert_eq!(axis("-1e-3:1e-3:3").to_string(), "-0.001:0.001:3");
    }

    #[test]
    fn axis_errors_are_clear() {
        for (text, needle) in [
            ("1:0:3", "min must be below max"),
            ("1:1:3", "min must be below max"),
            ("a:b:c", "min 'a' is not a number"),
            ("0:x:3", "max 'x' is not a number"),
            ("0:1:0", "at least 1"),
            ("0:1:2.5", "num '2.5' is not a whole number"),
            ("0:1:-3", "num '-3'"),
            ("0:1:1", "single point needs min == max"),
            ("0:1", "expected min:max:num"),
            ("0:1:3:4", "expected min:max:num"),
            ("", "expected min:max:num"),
            ("0:inf:3", "finite"),
            ("nan:1:3", "finite"),
            ("0:1:100000000", "more than"),
        ] {
            let err = text.parse::<Axis>().unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
            assert!(err.starts_with("axis"), "{text}: {err}");
        }
    }

    #[test]
    fn coordinates_have_exact_ends_and_exact_zero() {
        let c = axis("-1:1:51").coordinates();
        assert_eq!(c.len(), 51);
        assert_eq!((c[0], c[25], c[50]), (-1.0, 0.0, 1.0));
        for i in 0..51 {
            assert_eq!(c[i], -c[50 - i], "symmetric at {i}");
            assert!((c[i] - (-1.0 + 0.04 * i as f64)).abs() < 1e-15);
        }
        let c = axis("-0.5:1.5:41").coordinates();
        assert_eq!((c[0], c[10], c[30], c[40]), (-0.5, 0.0, 1.0, 1.5));
        let c = axis("0:1:11").coordinates();
        assert_eq!(c, (0..11).map(|i| i as f64 / 10.0).collect::<Vec<_>>());
        assert_eq!(
            axis("-1:0:5").coordinates(),
            vec![-1.0, -0.75, -0.5, -0.25, 0.0]
        );
        assert_eq!(axis("0.25:0.25:1").coordinates(), vec![0.25]);
        assert!(c.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn grid_is_row_major_with_x_slowest() {
        let grid = Grid::new(axis("0:2:3"), Some(axis("-1:1:2"))).unwrap();
        assert_eq!(grid.shape(), (3, 2));
        assert_eq!(grid.len(), 6);
        let points: Vec<_> = (0..grid.len()).map(|i| grid.point(i)).collect();
        assert_eq!(
            points,
            vec![
                (0.0, -1.0),
                (0.0, 1.0),
                (1.0, -1.0),
                (1.0, 1.0),
                (2.0, -1.0),
                (2.0, 1.0)
            ]
        );
        for i in 0..grid.len() {
            let (ix, iy) = grid.position(i);
            assert_eq!(grid.index(ix, iy), i);
        }
        assert_eq!(grid.position(5), (2, 1));
        assert_eq!(grid.to_string(), "x=0:2:3 y=-1:1:2");

        let line = Grid::new(axis("-0.5:1.5:5"), None).unwrap();
        assert_eq!((line.shape(), line.len(), line.is_2d()), ((5, 1), 5, false));
        assert_eq!(line.point(4), (1.5, 0.0));
        assert_eq!(line.to_string(), "x=-0.5:1.5:5");
    }

    #[test]
    fn grid_refuses_too_many_points() {
        let err = Grid::new(axis("0:1:5000"), Some(axis("0:1:5000"))).unwrap_err();
        assert!(err.to_string().contains("more than"), "{err}");
    }

    #[test]
    fn shards_partition_every_grid() {
        for len in [1, 5, 6, 7, 51 * 51] {
            for count in 1..=4 {
                let mut owners = vec![0usize; len];
                for index in 0..count {
                    let shard = Shard::new(index, count).unwrap();
                    let listed: Vec<_> = shard.indices(len).collect();
                    let filtered: Vec<_> = (0..len).filter(|&p| shard.contains(p)).collect();
                    assert_eq!(listed, filtered);
                    for p in listed {
                        owners[p] += 1;
                    }
                }
                assert!(owners.iter().all(|&n| n == 1), "len {len}, {count} shards");
            }
        }
    }

    #[test]
    fn shard_parse_and_errors() {
        assert_eq!(
            "2/4".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 4 }
        );
        assert_eq!("0/1".parse::<Shard>().unwrap(), Shard::all());
        assert_eq!(Shard { index: 3, count: 8 }.to_string(), "3/8");
        for (text, needle) in [
            ("4/4", "below the count"),
            ("1/0", "at least 1"),
            ("1", "expected i/n"),
            ("a/2", "expected i/n"),
            ("-1/2", "expected i/n"),
        ] {
            let err = text.parse::<Shard>().unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
