//! The original loss-landscape code's HDF5 files (fixtures written by
//! tests/fixtures/original-h5/make_fixtures.py with h5py, committed): its direction files give the
//! same surfaces as losscape direction files holding the same values (weights and states
//! layouts), `surface --grid-from` takes its grid, and `export --format h5` writes its surface
//! layout value for value, orientation included. Built without the `hdf5` feature, only the test
//! that HDF5 inputs are refused with the way to build them runs (`cargo xtask test` runs these
//! with the feature where HDF5 is installed, and always in CI).

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use support::{losscape, write_checkpoint};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/original-h5").join(name)
}

/// Runs a command expected to fail and returns its one-line error.
fn refused(cmd: &mut std::process::Command) -> String {
    let out = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert!(!out.status.success(), "accepted: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

#[cfg(not(feature = "hdf5"))]
#[test]
fn without_the_feature_hdf5_files_are_refused_saying_how_to_build() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("model.safetensors");
    write_checkpoint(&ckpt);
    let err = refused(
        losscape()
            .args(["surface", "--checkpoint"])
            .arg(&ckpt)
            .arg("--direction-file")
            .arg(fixture("directions-weights.h5"))
            .arg("--out")
            .arg(dir.path().join("s.surface")),
    );
    assert!(err.contains("is an HDF5 file") && err.contains("--features hdf5"), "{err}");
    eprintln!("note: built without the hdf5 feature: the HDF5 interop tests of tests/h5.rs were not built");
}

#[cfg(feature = "hdf5")]
mod with_hdf5 {
    use super::*;

    use losscape::directions::{Direction, DirectionSet, Origin, Scope};
    use losscape::landscape::h5::hdf5;
    use losscape::landscape::{Grid, Shard, Surface, SurfaceHeader};
    use losscape::models::{checkpoint, Model, Role};
    use support::{assert_bit_equal, run_ok};
    use tch::Tensor;

    /// The fixture script's value formula for entry j of tensor k of direction `which`.
    fn values(k: usize, numel: usize, which: usize) -> Vec<f32> {
        (0..numel).map(|j| ((k * 7 + j * 3 + which * 5) % 11) as f32 - 5.0).map(|v| v / 64.0).collect()
    }

    /// The directions the fixture holds, as a losscape direction file: positions over the
    /// parameters (weights) or the whole state dict with counters (states), names from the model.
    fn same_values_as_losscape_file(model: &dyn Model, scope: Scope, count: usize, out: &Path) {
        let named = model.named_tensors();
        let mut dirs = Vec::new();
        for which in 0..count {
            let positional: Vec<_> = match scope {
                Scope::Weights => named.iter().filter(|t| t.role.is_parameter()).collect(),
                Scope::States => named.iter().collect(),
            };
            let mut tensors = Vec::new();
            for (k, t) in positional.into_iter().enumerate() {
                if t.role.is_parameter() || t.role.is_bn_statistic() {
                    let v = Tensor::from_slice(&values(k, t.tensor.numel(), which)).reshape(t.tensor.size());
                    tensors.push((t.name.clone(), v));
                }
            }
            dirs.push(Direction { scope, tensors });
        }
        let set = DirectionSet::new(dirs, model.spec(), String::new(), Origin::Other { description: "test".into() }).unwrap();
        set.save(out).unwrap();
    }

    fn surface(ckpt: &Path, dirs: &Path, grid: &[&str], out: &Path) -> Surface {
        let mut cmd = losscape();
        cmd.args(["surface", "--checkpoint"]).arg(ckpt).arg("--direction-file").arg(dirs);
        cmd.args(grid).args(["--per-class", "5", "--splits", "train", "--threads", "1", "--out"]).arg(out);
        run_ok(&mut cmd);
        Surface::load(out).unwrap()
    }

    #[test]
    fn the_fixtures_name_the_tensors_as_our_networks_do() {
        let dir = tempfile::tempdir().unwrap();
        let ckpt = dir.path().join("model.safetensors");
        write_checkpoint(&ckpt);
        let (model, _) = checkpoint::load(&ckpt, tch::Device::Cpu).unwrap();
        let order = std::fs::read_to_string(fixture("order.txt")).unwrap();
        let ours: Vec<String> = model
            .named_tensors()
            .iter()
            .map(|t| {
                let shape = t.tensor.size().iter().map(i64::to_string).collect::<Vec<_>>().join("x");
                let kind = if t.role.is_parameter() { "param" } else { "buffer" };
                format!("{} {kind} {}", t.name, if shape.is_empty() { "scalar".into() } else { shape })
            })
            .collect();
        assert_eq!(order.lines().collect::<Vec<_>>(), ours);
        assert!(model.named_tensors().iter().any(|t| t.role == Role::BnNumBatchesTracked));
    }

    #[test]
    fn original_direction_files_give_the_surfaces_of_the_same_values() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        write_checkpoint(&p("model.safetensors"));
        let (model, _) = checkpoint::load(&p("model.safetensors"), tch::Device::Cpu).unwrap();

        // A plane in the weights scope, its grid taken from the original's surface file.
        same_values_as_losscape_file(model.as_ref(), Scope::Weights, 2, &p("weights.safetensors"));
        let grid_file = fixture("surface-5x3.h5");
        let grid = ["--grid-from", grid_file.to_str().unwrap()];
        let theirs = surface(&p("model.safetensors"), &fixture("directions-weights.h5"), &grid, &p("theirs.surface"));
        let ours = surface(&p("model.safetensors"), &p("weights.safetensors"), &["--x", "-1:1:5", "--y", "-0.5:0.5:3"], &p("ours.surface"));
        assert_eq!(theirs.grid(), &Grid::new("-1:1:5".parse().unwrap(), Some("-0.5:0.5:3".parse().unwrap())).unwrap());
        assert_bit_equal(&theirs, &ours, "weights plane");
        let loss = ours.array("train_loss").unwrap();
        assert!(loss.iter().all(|v| v.is_finite()) && loss[0] != loss[14], "{loss:?}");

        // A line in the states scope: the state dict with num_batches_tracked, counters skipped.
        same_values_as_losscape_file(model.as_ref(), Scope::States, 1, &p("states.safetensors"));
        let line = ["--x", "-1:1:3"];
        let theirs = surface(&p("model.safetensors"), &fixture("directions-states.h5"), &line, &p("theirs-states.surface"));
        let ours = surface(&p("model.safetensors"), &p("states.safetensors"), &line, &p("ours-states.surface"));
        assert_bit_equal(&theirs, &ours, "states line");

        // A direction file of another network is refused, saying what it holds.
        let other = p("resnet14.safetensors");
        let spec: losscape::models::ModelSpec = "resnet14".parse().unwrap();
        let m = losscape::models::build(&losscape::models::BuildSpec { in_channels: 1, image_size: [28, 28], ..losscape::models::BuildSpec::new(spec) }, tch::Device::Cpu, 5).unwrap();
        let meta = checkpoint::read_meta(&p("model.safetensors")).unwrap();
        let meta = losscape::models::CheckpointMeta { spec: "resnet14".into(), ..meta };
        checkpoint::save(m.as_ref(), &meta, &other).unwrap();
        let err = refused(
            losscape()
                .args(["surface", "--checkpoint"])
                .arg(&other)
                .arg("--direction-file")
                .arg(fixture("directions-weights.h5"))
                .args(["--x", "-1:1:3", "--y", "-1:1:3", "--out"])
                .arg(p("bad.surface")),
        );
        assert!(err.contains("'xdirection' holds 29 tensors, but model resnet14 has 47 parameters"), "{err}");
    }

    #[test]
    fn exported_h5_surfaces_have_the_originals_layout_and_orientation() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        // The fixture's surface, x + 10 y on a 5 x 3 plane, made here point by point.
        let grid = Grid::new("-1:1:5".parse().unwrap(), Some("-0.5:0.5:3".parse().unwrap())).unwrap();
        let mut header = SurfaceHeader::new(grid, vec!["train_loss".into(), "train_acc".into()]);
        header.method = "direction file dirs.h5".into();
        let mut s = Surface::new(header).unwrap();
        let run = s.begin_run(Shard::all());
        for index in 0..s.len() {
            let (x, y) = s.grid().point(index);
            s.set_point(index, &[x + 10.0 * y, 50.0], run).unwrap();
        }
        s.save(&p("plane.surface")).unwrap();
        run_ok(losscape().arg("export").arg(p("plane.surface")).args(["--format", "h5"]));

        let ours = hdf5::File::open(p("plane.h5")).unwrap();
        let theirs = hdf5::File::open(fixture("surface-5x3.h5")).unwrap();
        for name in ["xcoordinates", "ycoordinates", "train_loss"] {
            let (a, b) = (ours.dataset(name).unwrap(), theirs.dataset(name).unwrap());
            assert_eq!(a.shape(), b.shape(), "{name}");
            assert_eq!(a.read_raw::<f64>().unwrap(), b.read_raw::<f64>().unwrap(), "{name}");
        }
        assert_eq!(ours.dataset("train_loss").unwrap().shape(), vec![5, 3]);
        let dir_file: hdf5::types::VarLenUnicode = ours.dataset("dir_file").unwrap().read_scalar().unwrap();
        assert_eq!(dir_file.as_str(), "dirs.h5");

        // A line, one point not computed: the original's -1 there.
        let grid = Grid::new("0:1:3".parse().unwrap(), None).unwrap();
        let mut s = Surface::new(SurfaceHeader::new(grid, vec!["test_loss".into()])).unwrap();
        let run = s.begin_run(Shard::all());
        s.set_point(0, &[0.25], run).unwrap();
        s.set_point(2, &[0.75], run).unwrap();
        s.save(&p("line.surface")).unwrap();
        run_ok(losscape().arg("export").arg(p("line.surface")).args(["--format", "h5", "--out"]).arg(p("l.h5")));
        let line = hdf5::File::open(p("l.h5")).unwrap();
        let values = line.dataset("test_loss").unwrap();
        assert_eq!((values.shape(), values.read_raw::<f64>().unwrap()), (vec![3], vec![0.25, -1.0, 0.75]));
        assert!(!line.link_exists("ycoordinates"));

        // A surface file whose coordinates are not evenly spaced cannot give a grid.
        let bad = hdf5::File::create(p("uneven.h5")).unwrap();
        bad.new_dataset::<f64>().shape(3).create("xcoordinates").unwrap().write_raw(&[0.0, 0.1, 1.0]).unwrap();
        drop(bad);
        let ckpt = p("model.safetensors");
        write_checkpoint(&ckpt);
        let err = refused(losscape().args(["surface", "--checkpoint"]).arg(&ckpt).arg("--grid-from").arg(p("uneven.h5")).arg("--out").arg(p("u.surface")));
        assert!(err.contains("'xcoordinates' is not evenly spaced"), "{err}");
        // Nor is the grid's file an output.
        std::fs::copy(fixture("surface-5x3.h5"), p("grid.h5")).unwrap();
        let err = refused(losscape().args(["surface", "--checkpoint"]).arg(&ckpt).arg("--grid-from").arg(p("grid.h5")).arg("--out").arg(p("grid.h5")));
        assert!(err.contains("refusing to overwrite an input"), "{err}");
    }
}
