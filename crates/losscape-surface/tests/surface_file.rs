//! The surface file: exact round trips, clear errors for damaged files, refused resumes, resume
//! bookkeeping, and shard merges.

mod common;

use std::fs;

use common::{assert_same_values, compute, grid1, grid2, header, metrics};
use losscape_surface::surface::{MAGIC, VERSION};
use losscape_surface::{Error, Shard, Surface};

#[test]
fn save_and_load_round_trip_exactly_with_nan_results_done() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.surface");
    let mut surface = Surface::new(header(grid2("-1:1:5", "-1:1:4"))).unwrap();
    compute(&mut surface, Shard::all(), Some(13));
    // The NaN loss at (1, -1) is a result: computed, done, and kept as NaN.
    let nan_point = surface.grid().index(4, 0);
    let run = surface.begin_run(Shard::all());
    surface
        .set_point(nan_point, &metrics(1.0, -1.0), run)
        .unwrap();
    surface
        .set_point(
            19,
            &[-0.0, f64::NEG_INFINITY, f64::MIN_POSITIVE, 1e300],
            run,
        )
        .unwrap();
    surface.save(&path).unwrap();

    let loaded = Surface::load(&path).unwrap();
    assert_eq!(loaded.header(), surface.header());
    assert_same_values(&loaded, &surface);
    assert_eq!(loaded.computed_by(), surface.computed_by());
    assert_eq!(loaded.runs(), surface.runs());
    assert_eq!(loaded.done_count(), 15);
    assert!(loaded.done()[nan_point]);
    assert!(loaded.array("train_loss").unwrap()[nan_point].is_nan());
    assert!(
        loaded.array("train_loss").unwrap()[14].is_nan() && !loaded.done()[14],
        "not computed: NaN, not done"
    );
    assert_eq!(
        loaded.array("train_loss").unwrap()[19].to_bits(),
        (-0.0f64).to_bits()
    );
    assert_eq!(loaded.runs()[0].points, 13);
    assert_eq!(loaded.runs()[1].points, 2);
    assert!(!loaded.runs()[0].host.is_empty());
    assert_eq!(loaded.runs()[0].threads, 2);

    // Saving again writes the same bytes, and leaves no temporary file behind.
    let first = fs::read(&path).unwrap();
    loaded.save(&path).unwrap();
    assert_eq!(fs::read(&path).unwrap(), first);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    assert_eq!(&first[..8], &MAGIC);
    assert_eq!(
        u32::from_le_bytes(first[8..12].try_into().unwrap()),
        VERSION
    );
}

fn load_error(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.surface");
    fs::write(&path, bytes).unwrap();
    let err = Surface::load(&path).unwrap_err();
    assert!(matches!(err, Error::Format { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("bad.surface"),
        "the error names the file: {message}"
    );
    message
}

#[test]
fn damaged_files_give_clear_errors() {
    let mut surface = Surface::new(header(grid2("-1:1:3", "0:1:3"))).unwrap();
    compute(&mut surface, Shard::all(), None);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("good.surface");
    surface.save(&path).unwrap();
    let good = fs::read(&path).unwrap();

    let mut bad_magic = good.clone();
    bad_magic[0] = b'X';
    assert!(load_error(&bad_magic).contains("not a losscape surface file"));
    assert!(load_error(b"{\"json\": true}\n").contains("not a losscape surface file"));

    let mut newer = good.clone();
    newer[8..12].copy_from_slice(&(VERSION + 1).to_le_bytes());
    let message = load_error(&newer);
    assert!(
        message.contains(&format!("version {}", VERSION + 1)) && message.contains("newer"),
        "{message}"
    );
    let mut older = good.clone();
    older[8..12].copy_from_slice(&0u32.to_le_bytes());
    assert!(load_error(&older).contains("unsupported surface file format version 0"));

    for cut in [good.len() - 1, good.len() / 2, 21, 19, 10, 8, 3, 0] {
        let message = load_error(&good[..cut]);
        assert!(message.contains("truncated"), "cut at {cut}: {message}");
    }

    let mut flipped = good.clone();
    let middle = good.len() / 2;
    flipped[middle] ^= 0x40;
    assert!(load_error(&flipped).contains("checksum"));

    let mut longer = good.clone();
    longer.extend_from_slice(b"junk");
    assert!(load_error(&longer).contains("4 unexpected bytes"));

    let missing = Surface::load(&dir.path().join("absent.surface")).unwrap_err();
    assert!(matches!(missing, Error::Io { .. }) && missing.to_string().contains("absent.surface"));
}

#[test]
fn resume_with_different_inputs_is_refused_naming_each_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.surface");
    let original = header(grid2("-1:1:5", "-1:1:5"));
    let mut surface = Surface::open_or_create(&path, original.clone()).unwrap();
    compute(&mut surface, Shard::all(), Some(7));
    surface.save(&path).unwrap();
    let before = fs::read(&path).unwrap();

    let mut changed = original.clone();
    changed.grid = grid2("-1:1:5", "-1:1:7");
    changed.batch_size = 256;
    changed.checkpoint_hash = "beef".into();
    changed.extra.insert("device".into(), "cuda".into());
    changed.extra.insert("note".into(), "x".into());
    let err = Surface::open_or_create(&path, changed).unwrap_err();
    assert!(matches!(err, Error::Mismatch { .. }));
    let message = err.to_string();
    for needle in [
        "cannot resume",
        "s.surface",
        "grid: file has x=-1:1:5 y=-1:1:5, this run has x=-1:1:5 y=-1:1:7",
        "batch_size: file has 128, this run has 256",
        "checkpoint_hash: file has \"c0ffee",
        "this run has \"beef\"",
        "extra.device: file has \"cpu\", this run has \"cuda\"",
        "extra.note: file has (absent), this run has \"x\"",
        "write to another file, or delete this one",
    ] {
        assert!(message.contains(needle), "missing {needle:?} in: {message}");
    }
    for unchanged in ["method", "dtype", "loss:", "arrays"] {
        assert!(
            !message.contains(unchanged),
            "{unchanged} did not change: {message}"
        );
    }
    assert_eq!(
        fs::read(&path).unwrap(),
        before,
        "a refused resume leaves the file alone"
    );

    for field in ["method", "data", "loss", "directions_hash"] {
        let mut h = original.clone();
        match field {
            "method" => h.method.push('!'),
            "data" => h.data.push('!'),
            "loss" => h.loss = "mse".into(),
            _ => h.directions_hash.push('!'),
        }
        let message = Surface::open_or_create(&path, h).unwrap_err().to_string();
        assert!(
            message.contains(&format!("{field}: file has")),
            "{field}: {message}"
        );
    }
    let mut h = original.clone();
    h.arrays.pop();
    assert!(Surface::open_or_create(&path, h)
        .unwrap_err()
        .to_string()
        .contains("arrays: file has"));

    // The checkpoint's path and the thread count may change; the file then records the new ones.
    let mut moved = original.clone();
    moved.checkpoint = "elsewhere/final.safetensors".into();
    moved.threads = 8;
    let resumed = Surface::open_or_create(&path, moved).unwrap();
    assert_eq!(resumed.header().checkpoint, "elsewhere/final.safetensors");
    assert_eq!(resumed.header().threads, 8);
    assert_eq!(resumed.done_count(), 7);
}

#[test]
fn open_or_create_refuses_a_file_that_is_not_a_surface() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    fs::write(&path, "my notes").unwrap();
    let err = Surface::open_or_create(&path, header(grid1("0:1:3"))).unwrap_err();
    assert!(
        err.to_string().contains("not a losscape surface file"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), "my notes");
}

#[test]
fn resume_computes_only_the_missing_points() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.surface");
    let h = header(grid2("-1:1:4", "-1:1:4"));

    let mut first = Surface::open_or_create(&path, h.clone()).unwrap();
    assert_eq!(first.pending(Shard::all()), (0..16).collect::<Vec<_>>());
    let run1 = compute(&mut first, Shard::all(), Some(9));
    assert_eq!(run1, 1);
    first.save(&path).unwrap();

    let mut second = Surface::open_or_create(&path, h.clone()).unwrap();
    assert_eq!(second.pending(Shard::all()), (9..16).collect::<Vec<_>>());
    assert_eq!(second.pending("1/2".parse().unwrap()), vec![9, 11, 13, 15]);
    let run2 = compute(&mut second, Shard::all(), None);
    assert_eq!(run2, 2);
    assert!(second.is_complete());
    assert!(second.pending(Shard::all()).is_empty());
    let expected: Vec<u32> = (0..16).map(|i| if i < 9 { 1 } else { 2 }).collect();
    assert_eq!(second.computed_by(), expected.as_slice());
    assert_eq!(
        second.runs().iter().map(|r| r.points).collect::<Vec<_>>(),
        vec![9, 7]
    );
    second.save(&path).unwrap();

    let mut uninterrupted = Surface::new(h).unwrap();
    compute(&mut uninterrupted, Shard::all(), None);
    assert_same_values(&Surface::load(&path).unwrap(), &uninterrupted);

    // Setting a point again moves its attribution.
    let run3 = second.begin_run(Shard::all());
    second.set_point(0, &[1.0, 2.0, 3.0, 4.0], run3).unwrap();
    assert_eq!(
        second.runs().iter().map(|r| r.points).collect::<Vec<_>>(),
        vec![8, 7, 1]
    );
    assert_eq!(second.point_values(0), Some(vec![1.0, 2.0, 3.0, 4.0]));
}

#[test]
fn set_point_checks_its_arguments() {
    let mut surface = Surface::new(header(grid1("0:1:3"))).unwrap();
    let message = surface.set_point(0, &[1.0; 4], 1).unwrap_err().to_string();
    assert!(
        message.contains("run 1 does not exist") && message.contains("begin_run"),
        "{message}"
    );
    let run = surface.begin_run(Shard::all());
    let message = surface
        .set_point(3, &[1.0; 4], run)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("point 3 is outside the grid x=0:1:3 (3 points)"),
        "{message}"
    );
    let message = surface
        .set_point(0, &[1.0; 3], run)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("got 3 values for the 4 arrays"),
        "{message}"
    );
    assert_eq!(surface.done_count(), 0);
    assert_eq!(surface.array2("train_acc").unwrap().len(), 3);
    assert!(surface.array("nope").is_none());
}

#[test]
fn array2_is_indexed_ix_then_iy() {
    let mut surface = Surface::new(header(grid2("0:2:3", "0:10:2"))).unwrap();
    compute(&mut surface, Shard::all(), None);
    let rows = surface.array2("test_acc").unwrap();
    assert_eq!((rows.len(), rows[0].len()), (3, 2));
    for (ix, row) in rows.iter().enumerate() {
        for (iy, &value) in row.iter().enumerate() {
            let (a, b) = (ix as f64, 10.0 * iy as f64);
            assert_eq!(value, metrics(a, b)[3]);
            assert_eq!(surface.grid().point(surface.grid().index(ix, iy)), (a, b));
        }
    }
}

#[test]
fn merged_shards_equal_a_single_run() {
    let h = header(grid2("-1:1:7", "-1:1:5"));
    let mut single = Surface::new(h.clone()).unwrap();
    compute(&mut single, Shard::all(), None);
    let dir = tempfile::tempdir().unwrap();

    for count in 1..=4 {
        // Each shard is its own job writing its own file.
        let mut files = Vec::new();
        for index in 0..count {
            let shard = Shard::new(index, count).unwrap();
            let mut part = Surface::new(h.clone()).unwrap();
            compute(&mut part, shard, None);
            assert_eq!(part.done_count(), shard.indices(35).count());
            let path = dir.path().join(format!("part-{index}-of-{count}.surface"));
            part.save(&path).unwrap();
            files.push(path);
        }
        let mut merged = Surface::load(&files[0]).unwrap();
        for file in &files[1..] {
            merged.merge(&Surface::load(file).unwrap()).unwrap();
        }
        assert!(merged.is_complete(), "{count} shards");
        assert_same_values(&merged, &single);
        assert_eq!(merged.runs().len(), count);
        for (k, run) in merged.runs().iter().enumerate() {
            assert_eq!(run.id as usize, k + 1);
            assert_eq!(run.shard, Shard::new(k, count).unwrap());
            assert_eq!(run.points, run.shard.indices(35).count());
        }
        for (point, &run) in merged.computed_by().iter().enumerate() {
            assert_eq!(merged.runs()[run as usize - 1].shard.index, point % count);
        }
        // Merging a shard again adds nothing and no run.
        merged.merge(&Surface::load(&files[0]).unwrap()).unwrap();
        assert_eq!(merged.runs().len(), count);
        assert_same_values(&merged, &single);
    }
}

#[test]
fn merge_refuses_conflicts_and_other_jobs_without_changing_anything() {
    let h = header(grid2("-1:1:3", "-1:1:3"));
    let mut a = Surface::new(h.clone()).unwrap();
    compute(&mut a, "0/2".parse().unwrap(), None);
    let mut b = Surface::new(h.clone()).unwrap();
    let run = compute(&mut b, Shard::all(), None);
    b.set_point(4, &[9.0, 9.0, 9.0, 9.0], run).unwrap();

    let before: Vec<u64> = a
        .array("train_loss")
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect();
    let err = a.merge(&b).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::Mismatch { .. }));
    assert!(
        message.contains("1 points were computed by both with different values"),
        "{message}"
    );
    assert!(message.contains("point 4 at (0.0, 0.0)"), "{message}");
    let after: Vec<u64> = a
        .array("train_loss")
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect();
    assert_eq!(before, after);
    assert_eq!((a.done_count(), a.runs().len()), (5, 1));

    let mut other_job = h.clone();
    other_job.method = "random layer biasbn weights seed=2".into();
    let c = Surface::new(other_job).unwrap();
    let message = a.merge(&c).unwrap_err().to_string();
    assert!(
        message.contains("cannot merge surfaces") && message.contains("method: this surface has"),
        "{message}"
    );

    // Identical NaN results in both do not conflict.
    let mut d = Surface::new(h).unwrap();
    compute(&mut d, Shard::all(), None);
    let mut e = d.clone();
    e.merge(&d).unwrap();
    assert_same_values(&d, &e);
}
