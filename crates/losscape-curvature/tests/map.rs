//! The eigenvalue-ratio map through landscape's grid driver on a tiny model: values equal direct
//! Lanczos runs at the same weights, a run stopped halfway resumes to the uninterrupted result
//! bit for bit, and the map exports like a loss surface.

mod common;

use std::time::Duration;

use common::random_data;
use losscape_core::progress::Silent;
use losscape_core::Precision;
use losscape_curvature::{
    extreme_eigenvalues, EigenMetrics, HvpOptions, LanczosOptions, ParamSet, MAP_ARRAYS,
};
use losscape_directions::testing::TinyNet;
use losscape_directions::{Anchor, Direction, RandomSpec, Scope};
use losscape_landscape::export::{write_csv, write_npz};
use losscape_landscape::{run_grid, Grid, GridJob, PointMetrics, Shard, Surface};
use losscape_models::Model;
use tch::Kind;

fn settings() -> (HvpOptions, LanczosOptions) {
    (
        HvpOptions {
            params: ParamSet::Weights,
            batch_size: 16,
            ..Default::default()
        },
        LanczosOptions {
            tol: 1e-6,
            max_iter: 80,
            seed: 3,
            ..Default::default()
        },
    )
}

/// Fails after `limit` points, like a run killed halfway (the driver keeps what was finished).
struct StopAfter<'a> {
    inner: EigenMetrics<'a>,
    limit: usize,
}

impl PointMetrics for StopAfter<'_> {
    fn names(&self) -> Vec<String> {
        self.inner.names()
    }
    fn compute(&mut self, model: &dyn Model) -> losscape_landscape::Result<Vec<f64>> {
        if self.limit == 0 {
            return Err(losscape_landscape::Error::Invalid(
                "stopped on purpose".into(),
            ));
        }
        self.limit -= 1;
        self.inner.compute(model)
    }
}

#[test]
fn ratio_map_over_a_3x3_grid_resumes_and_exports() {
    common::one_thread();
    let model = TinyNet::new(2, 3, Kind::Double, 1);
    let data = random_data(32, [2, 5, 5], 3, 8);
    let d1 = Direction::random(
        &model,
        &RandomSpec {
            seed: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let d2 = Direction::random(
        &model,
        &RandomSpec {
            seed: 2,
            ..Default::default()
        },
    )
    .unwrap();
    let directions = [d1, d2];
    let anchor = Anchor::new(&model, Scope::Weights).unwrap();
    let base = anchor.live_hash().unwrap();
    let (hvp, lz) = settings();
    let grid = Grid::new(
        "-0.5:0.5:3".parse().unwrap(),
        Some("-0.5:0.5:3".parse().unwrap()),
    )
    .unwrap();
    let header = EigenMetrics::new(&data, hvp, lz).header(grid, Precision::F64);
    assert_eq!(header.arrays, MAP_ARRAYS);
    assert_eq!(header.extra["hessian.params"], "weights");
    let job = GridJob {
        model: &model,
        directions: &directions,
        shard: Shard::all(),
        save_interval: Duration::ZERO,
    };
    let dir = tempfile::tempdir().unwrap();

    // The uninterrupted map.
    let reference_path = dir.path().join("reference.surface");
    let mut metrics = EigenMetrics::new(&data, hvp, lz);
    let report = run_grid(&job, &mut metrics, &reference_path, header.clone(), &Silent).unwrap();
    assert_eq!(report.computed, 9);
    assert_eq!(
        anchor.live_hash().unwrap(),
        base,
        "the model is back at its base weights"
    );
    let reference = Surface::load(&reference_path).unwrap();
    assert!(reference.is_complete());
    let (min, max, ratio) = (
        reference.array("min_eig").unwrap(),
        reference.array("max_eig").unwrap(),
        reference.array("abs_ratio").unwrap(),
    );
    let hvps = reference.array("hvps").unwrap();
    assert_eq!(metrics.total_hvps() as f64, hvps.iter().sum::<f64>());
    assert!(reference
        .array("converged")
        .unwrap()
        .iter()
        .all(|c| *c == 1.0));
    for i in 0..9 {
        assert!(
            min[i] < max[i] && max[i] > 0.0,
            "point {i}: [{}, {}]",
            min[i],
            max[i]
        );
        assert_eq!(ratio[i], (min[i] / max[i]).abs());
    }
    // Each point equals a direct run at the same weights (here the corner (0.5, -0.5)).
    let index = reference.grid().index(2, 0);
    anchor
        .set(&[(&directions[0], 0.5), (&directions[1], -0.5)])
        .unwrap();
    let direct = extreme_eigenvalues(&model, &data, hvp, &lz, &Silent).unwrap();
    anchor.restore().unwrap();
    assert_eq!(
        (direct.min.value, direct.max.value),
        (min[index], max[index])
    );
    // The curvature changes across the grid (the map is not one point repeated).
    assert!(max.iter().any(|m| (m - max[0]).abs() > 1e-3 * max[0].abs()));

    // A run that stops after 4 points keeps them; the rerun computes only the other 5.
    let path = dir.path().join("map.surface");
    let mut stopping = StopAfter {
        inner: EigenMetrics::new(&data, hvp, lz),
        limit: 4,
    };
    let err = run_grid(&job, &mut stopping, &path, header.clone(), &Silent).unwrap_err();
    assert!(err.to_string().contains("stopped on purpose"));
    assert_eq!(anchor.live_hash().unwrap(), base);
    assert_eq!(Surface::load(&path).unwrap().done_count(), 4);
    let report = run_grid(
        &job,
        &mut EigenMetrics::new(&data, hvp, lz),
        &path,
        header.clone(),
        &Silent,
    )
    .unwrap();
    assert_eq!((report.computed, report.skipped), (5, 4));
    let resumed = Surface::load(&path).unwrap();
    for name in MAP_ARRAYS {
        let (a, b) = (resumed.array(name).unwrap(), reference.array(name).unwrap());
        assert!(
            a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{name} differs after the resume"
        );
    }

    // Other Lanczos settings do not resume this file.
    let other = EigenMetrics::new(&data, hvp, LanczosOptions { tol: 1e-3, ..lz });
    let other_header = other.header(reference.grid().clone(), Precision::F64);
    let err = run_grid(
        &job,
        &mut EigenMetrics::new(&data, hvp, other.lanczos),
        &path,
        other_header,
        &Silent,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("extra.hessian.tol"), "{err}");

    // Exports carry the map's arrays.
    let npz = dir.path().join("map.npz");
    write_npz(&resumed, &npz).unwrap();
    let bytes = std::fs::read(&npz).unwrap();
    for name in [
        "min_eig.npy",
        "max_eig.npy",
        "abs_ratio.npy",
        "xcoordinates.npy",
        "done.npy",
    ] {
        assert!(
            bytes.windows(name.len()).any(|w| w == name.as_bytes()),
            "{name} missing from the npz"
        );
    }
    let csv = dir.path().join("map.csv");
    write_csv(&resumed, &csv).unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(
        text.lines().next(),
        Some("x,y,min_eig,max_eig,abs_ratio,hvps,converged,done")
    );
}

#[test]
fn a_one_dimensional_map_works_too() {
    common::one_thread();
    let model = TinyNet::new(1, 3, Kind::Double, 2);
    let data = random_data(20, [1, 4, 4], 3, 5);
    let d = Direction::random(
        &model,
        &RandomSpec {
            seed: 4,
            ..Default::default()
        },
    )
    .unwrap();
    let (hvp, lz) = settings();
    let grid = Grid::new("0:1:3".parse().unwrap(), None).unwrap();
    let mut metrics = EigenMetrics::new(&data, hvp, lz);
    let header = metrics.header(grid, Precision::F64);
    let job = GridJob {
        model: &model,
        directions: std::slice::from_ref(&d),
        shard: Shard::all(),
        save_interval: Duration::ZERO,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("line.surface");
    run_grid(&job, &mut metrics, &path, header, &Silent).unwrap();
    let s = Surface::load(&path).unwrap();
    assert!(s.is_complete());
    // a = 0 is the base model.
    let direct = extreme_eigenvalues(&model, &data, hvp, &lz, &Silent).unwrap();
    assert_eq!(s.array("max_eig").unwrap()[0], direct.max.value);
}

/// A curvature error at a point travels through landscape's grid driver whole: the driver's error
/// is `Metric` holding curvature's own `Invalid` (not its message in landscape's `Invalid`), and
/// curvature's conversion back returns that same variant.
#[test]
fn a_metric_error_keeps_its_type_through_the_grid_driver() {
    common::one_thread();
    let model = TinyNet::new(1, 3, Kind::Double, 2);
    let data = random_data(12, [1, 4, 4], 3, 6);
    let d = Direction::random(&model, &RandomSpec { seed: 4, ..Default::default() }).unwrap();
    let (hvp, lz) = settings();
    // Lanczos refuses zero steps at the first point.
    let mut metrics = EigenMetrics::new(&data, hvp, LanczosOptions { max_iter: 0, ..lz });
    let header = metrics.header(Grid::new("0:1:2".parse().unwrap(), None).unwrap(), Precision::F64);
    let job = GridJob { model: &model, directions: std::slice::from_ref(&d), shard: Shard::all(), save_interval: Duration::ZERO };
    let dir = tempfile::tempdir().unwrap();
    let err = run_grid(&job, &mut metrics, &dir.path().join("refused.surface"), header, &Silent).unwrap_err();
    assert_eq!(err.to_string(), "max_iter must be at least 1");
    let losscape_landscape::Error::Metric(source) = &err else { panic!("not a Metric error: {err:?}") };
    assert!(
        matches!(source.downcast_ref::<losscape_curvature::Error>(), Some(losscape_curvature::Error::Invalid(m)) if m == "max_iter must be at least 1"),
        "{source:?}"
    );
    assert!(matches!(losscape_curvature::Error::from(err), losscape_curvature::Error::Invalid(_)));
    // Errors of the landscape layer itself stay landscape errors on the way back.
    let landscape = losscape_landscape::Error::Invalid("a landscape error".into());
    assert!(matches!(
        losscape_curvature::Error::from(landscape),
        losscape_curvature::Error::Landscape(losscape_landscape::Error::Invalid(_))
    ));
}
