//! Job arrays without MPI: `losscape surface --shard i/n` computes shards into files of their
//! own, `losscape merge` combines them into the single-process surface bit for bit, and refuses,
//! in one line naming the differing input, a shard of another job.

mod support;

use losscape::landscape::Surface;
use support::{assert_bit_equal, losscape, run_ok, single_run, SingleRun};

#[test]
fn merged_shards_equal_the_single_run_and_foreign_shards_are_refused() {
    let SingleRun { dir, args, single } = single_run();

    let mut parts = Vec::new();
    for i in 0..3 {
        let part = dir.path().join(format!("part{i}.surface"));
        run_ok(losscape().args(&args).args(["--shard", &format!("{i}/3"), "--out"]).arg(&part));
        let loaded = Surface::load(&part).unwrap();
        assert_eq!(loaded.done_count(), 10, "shard {i}/3 of 30 points");
        parts.push(part);
    }
    let merged = dir.path().join("merged.surface");
    let stderr = run_ok(losscape().arg("merge").args(&parts).arg("--out").arg(&merged));
    assert!(stderr.contains("30 of 30 points done"), "{stderr}");
    let merged = Surface::load(&merged).unwrap();
    assert_bit_equal(&merged, &single, "merged shards");
    assert_eq!(merged.runs().len(), 3);
    for (point, &run) in merged.computed_by().iter().enumerate() {
        assert_eq!(merged.runs()[run as usize - 1].shard.to_string(), format!("{}/3", point % 3));
    }

    // A shard over other directions (another seed) does not belong to this job.
    let foreign = dir.path().join("foreign.surface");
    let mut other = args.clone();
    let seed = other.iter().position(|a| a == "--seed").unwrap();
    other[seed + 1] = "4".into();
    run_ok(losscape().args(&other).args(["--shard", "1/3", "--out"]).arg(&foreign));
    let refused = dir.path().join("refused.surface");
    let out = losscape().arg("merge").arg(&parts[0]).arg(&foreign).arg(&parts[2]).arg("--out").arg(&refused).output().unwrap();
    assert!(!out.status.success());
    let msg = String::from_utf8_lossy(&out.stderr);
    assert_eq!(msg.trim().lines().count(), 1, "one-line error expected: {msg}");
    for needle in ["foreign.surface", "cannot merge surfaces", "different inputs", "directions_hash", "only shards of one job"] {
        assert!(msg.contains(needle), "{needle}: {msg}");
    }
    assert!(!refused.exists(), "a refused merge writes nothing");
}
