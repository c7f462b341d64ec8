//! `losscape surface --samples auto`: early stopping with error bars end to end: the surface
//! records its sampling and per-point counts, the same seed gives the same values, a resume with
//! other settings is refused in one line, the exports carry the standard errors, and `plot`
//! draws their heat map and the loss contours with a ± 2 SE band.

mod support;

use std::process::Stdio;

use losscape::landscape::Surface;
use support::{losscape, run_ok, write_checkpoint};

/// `losscape surface` over a 3 x 3 grid on 30 training images per class (300), with
/// early stopping at 5% after at least 64 examples in batches of 32.
fn auto_args(checkpoint: &std::path::Path, out: &std::path::Path, rel: &str) -> Vec<String> {
    let mut args: Vec<String> = vec!["surface".into(), "--checkpoint".into(), checkpoint.display().to_string()];
    for a in ["--x", "-1:1:3", "--y", "-1:1:3", "--per-class", "30", "--splits", "train", "--batch-size", "32"] {
        args.push(a.into());
    }
    for a in ["--threads", "1", "--seed", "3", "--samples", "auto", "--rel-error", rel, "--min-samples", "64", "--sample-seed", "4"] {
        args.push(a.into());
    }
    args.push("--out".into());
    args.push(out.display().to_string());
    args
}

/// Runs `losscape` with `args`, expecting failure; returns its stderr.
fn run_err(args: &[&str]) -> String {
    let out = losscape().args(args).stdout(Stdio::null()).stderr(Stdio::piped()).output().unwrap();
    assert!(!out.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn auto_sampled_surfaces_record_counts_and_errors_and_resume_only_with_the_same_sampling() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("model.safetensors");
    write_checkpoint(&ckpt);
    let (one, two) = (dir.path().join("one.surface"), dir.path().join("two.surface"));
    let said = run_ok(losscape().args(auto_args(&ckpt, &one, "0.05")));
    assert!(said.contains("examples per point on average"), "{said}");
    run_ok(losscape().args(auto_args(&ckpt, &two, "0.05")));
    let (a, b) = (Surface::load(&one).unwrap(), Surface::load(&two).unwrap());
    support::assert_bit_equal(&a, &b, "same seed");
    let sampling = a.header().sampling.expect("recorded");
    assert_eq!((sampling.rel_error, sampling.min_samples, sampling.seed), (0.05, 64, 4));
    assert_eq!(a.header().arrays, ["train_loss", "train_acc", "train_loss_se", "train_acc_se", "train_count"]);
    let counts = a.array("train_count").unwrap();
    assert!(counts.iter().all(|&c| c == 300.0 || (c >= 64.0 && c % 32.0 == 0.0)), "{counts:?}");
    assert!(counts.iter().any(|&c| c < 300.0), "some point stops early: {counts:?}");
    let (loss, se) = (a.array("train_loss").unwrap(), a.array("train_loss_se").unwrap());
    for i in 0..a.len() {
        assert!(counts[i] == 300.0 || se[i] <= 0.05 * loss[i], "point {i}");
    }

    // A rerun with other sampling is refused in one line; so is a rerun without it.
    let mut other = auto_args(&ckpt, &one, "0.1");
    let err = run_err(&other.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("error:") && err.contains("relative standard error 0.05") && err.contains("0.1"), "{err}");
    other.retain(|a| !["--samples", "auto", "--rel-error", "0.1", "--min-samples", "64", "--sample-seed", "4"].contains(&a.as_str()));
    let err = run_err(&other.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(err.contains("every example"), "{err}");
    // Sampling settings without --samples auto are refused.
    let c = ckpt.display().to_string();
    let err = run_err(&["surface", "--checkpoint", &c, "--rel-error", "0.1", "--out", "x.surface"]);
    assert!(err.contains("need --samples auto"), "{err}");
    let err = run_err(&["surface", "--checkpoint", &c, "--samples", "auto", "--rel-error", "0", "--out", "x.surface"]);
    assert!(err.contains("above 0"), "{err}");

    // Exports and figures.
    let csv = dir.path().join("one.csv");
    run_ok(losscape().args(["export", "--format", "csv"]).arg(&one).arg("--out").arg(&csv));
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().next().unwrap(), "x,y,train_loss,train_acc,train_loss_se,train_acc_se,train_count,done");
    let band = dir.path().join("band.png");
    run_ok(losscape().args(["plot", "--kind", "contour", "--error-band", "2", "--levels", "auto", "--out"]).arg(&band).arg(&one));
    let heat = dir.path().join("se.png");
    run_ok(losscape().args(["plot", "--kind", "heatmap", "--array", "train_loss_se", "--out"]).arg(&heat).arg(&one));
    assert!(std::fs::metadata(&band).unwrap().len() > 1000 && std::fs::metadata(&heat).unwrap().len() > 1000);
    let plain = dir.path().join("plain.surface");
    other.pop();
    other.push(plain.display().to_string());
    run_ok(losscape().args(&other));
    let err = run_err(&["plot", "--kind", "contour", "--error-band", "2", "--out", "b.png", &plain.display().to_string()]);
    assert!(err.contains("early stopping"), "{err}");
}
