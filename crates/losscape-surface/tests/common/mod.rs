//! Helpers shared by the integration tests: a realistic header and a synthetic metric function.

#![allow(dead_code)]


use losscape_surface::{Grid, Shard, Surface, SurfaceHeader};

/// The four metrics of the original code.
pub const METRICS: [&str; 4] = ["train_loss", "train_acc", "test_loss", "test_acc"];

/// A header with every field filled, over `grid`.
pub fn header(grid: Grid) -> SurfaceHeader {
    let mut header = SurfaceHeader::new(grid, METRICS.iter().map(|s| s.to_string()).collect());
    header.checkpoint = "runs/resnet20/final.safetensors".into();
    header.checkpoint_hash = "c0ffee".repeat(10);
    header.directions_hash = "d1rec7".repeat(10);
    header.method = "random filter biasbn weights seed=1".into();
    header.data = "fashion-mnist-mini train[0..1000] test[0..500]".into();
    header.loss = "cross_entropy".into();
    header.batch_size = 128;
    header.threads = 2;
    header.dtype = losscape_surface::Precision::F32;
    header.extra.insert("device".into(), "cpu".into());
    header
}

/// A 2D grid from two axis strings.
pub fn grid2(x: &str, y: &str) -> Grid {
    Grid::new(x.parse().unwrap(), Some(y.parse().unwrap())).unwrap()
}

/// A 1D grid from an axis string.
pub fn grid1(x: &str) -> Grid {
    Grid::new(x.parse().unwrap(), None).unwrap()
}

/// Synthetic metric values at `(a, b)`: a bowl, with a NaN loss (a diverged point, a result) at
/// `a > 0.9, b < -0.9` and an infinite test loss at `a < -0.9, b > 0.9`.
pub fn metrics(a: f64, b: f64) -> [f64; 4] {
    let loss = if a > 0.9 && b < -0.9 {
        f64::NAN
    } else {
        0.1 + a * a + 0.5 * b * b
    };
    let test_loss = if a < -0.9 && b > 0.9 {
        f64::INFINITY
    } else {
        loss + 0.05 * a
    };
    [
        loss,
        100.0 / (1.0 + loss),
        test_loss,
        90.0 / (1.0 + a.abs()),
    ]
}

/// Computes the pending points of `shard` in a new run; returns the run id.
pub fn compute(surface: &mut Surface, shard: Shard, limit: Option<usize>) -> u32 {
    let run = surface.begin_run(shard);
    let pending = surface.pending(shard);
    for index in pending.into_iter().take(limit.unwrap_or(usize::MAX)) {
        let (a, b) = surface.grid().point(index);
        surface.set_point(index, &metrics(a, b), run).unwrap();
    }
    run
}

/// Asserts two surfaces hold the same values bit for bit and the same done-mask.
pub fn assert_same_values(a: &Surface, b: &Surface) {
    assert_eq!(a.header().arrays, b.header().arrays);
    for name in &a.header().arrays {
        let bits = |s: &Surface| {
            s.array(name)
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(a), bits(b), "array {name}");
    }
    assert_eq!(a.done(), b.done());
}
