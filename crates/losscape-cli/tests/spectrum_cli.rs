//! `losscape spectrum` and `losscape direction --hessian-top/--hessian-extremes` end to end on an
//! untrained ResNet-8: the report's numbers agree with each other and with the hessian command,
//! the same seeds give the same bytes, and eigenvector direction files feed `losscape surface`.

use std::path::Path;
use std::process::{Command, Stdio};

mod support;
use support::{losscape, run_ok, write_checkpoint};

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.stderr(Stdio::piped()).output().expect("runs losscape");
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn spectrum(ckpt: &Path) -> Command {
    let mut cmd = losscape();
    cmd.args(["spectrum", "--checkpoint"]).arg(ckpt).args(["--threads", "1", "--tol", "1e-3"]);
    cmd
}

#[test]
fn spectrum_report_is_consistent_and_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("model.safetensors");
    write_checkpoint(&ckpt);
    let out = dir.path().join("spec");
    let args = ["--samples", "20", "--density", "--starts", "2", "--steps", "12", "--top", "2", "--bottom", "1", "--trace-method", "hutch++", "--trace-probes", "9"];
    let text = stdout_of(spectrum(&ckpt).args(args).arg("--out").arg(&out));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("spec.json")).unwrap()).unwrap();
    assert_eq!(json["format"], "losscape-spectrum");
    assert_eq!(json["subject"]["samples"], 20);
    let top: Vec<f64> = json["eigenpairs"]["top"].as_array().unwrap().iter().map(|l| l["value"].as_f64().unwrap()).collect();
    let bottom = json["eigenpairs"]["bottom"][0]["value"].as_f64().unwrap();
    assert!(top[0] >= top[1] && top[1] > bottom, "{top:?} {bottom}");
    for l in json["eigenpairs"]["top"].as_array().unwrap() {
        // The fresh residual is what the tolerance promises (with room for f32 products).
        assert!(l["residual"].as_f64().unwrap() < 1e-2 * l["value"].as_f64().unwrap().abs(), "{l}");
    }
    // The density's nodes lie inside [lambda_min, lambda_max] (Ritz values interlace).
    let range = &json["density"]["node_range"];
    assert!(range[1].as_f64().unwrap() <= top[0] * (1.0 + 1e-3) && range[0].as_f64().unwrap() >= bottom - 1e-3 * bottom.abs());
    assert_eq!(json["density"]["quadratures"].as_array().unwrap().len(), 2);
    assert!(json["trace"]["value"].as_f64().unwrap().is_finite());
    assert_eq!(json["trace"]["method"], "hutch++");
    assert!(text.contains("moment 1"), "{text}");
    let npz = std::fs::read(dir.path().join("spec.npz")).unwrap();
    assert!(npz.starts_with(b"PK"));

    // Same seeds, same bytes.
    let again = dir.path().join("again");
    stdout_of(spectrum(&ckpt).args(args).arg("--out").arg(&again));
    assert_eq!(std::fs::read(dir.path().join("again.json")).unwrap(), std::fs::read(dir.path().join("spec.json")).unwrap());
    assert_eq!(std::fs::read(dir.path().join("again.npz")).unwrap(), npz);

    // lambda_max agrees with `losscape hessian` at the same settings.
    let h = stdout_of(losscape().args(["hessian", "--checkpoint"]).arg(&ckpt).args(["--samples", "20", "--threads", "1", "--tol", "1e-3", "--max-iter", "200", "--trace-probes", "0"]));
    let line = h.lines().find(|l| l.starts_with("lambda_max")).unwrap();
    let hmax: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!((hmax - top[0]).abs() < 3e-3 * top[0].abs(), "{hmax} vs {}", top[0]);

    // A density plot on a log scale.
    let png = dir.path().join("density.png");
    run_ok(losscape().args(["plot", "--kind", "density"]).arg(dir.path().join("spec.json")).arg("--out").arg(&png));
    assert!(std::fs::metadata(&png).unwrap().len() > 1000);

    // Nothing asked: one line.
    let out = spectrum(&ckpt).stderr(Stdio::piped()).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("say what to compute"));
}

#[test]
fn per_layer_and_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("model.safetensors");
    write_checkpoint(&ckpt);
    let out = dir.path().join("layers.json");
    let text = stdout_of(
        spectrum(&ckpt)
            .args(["--samples", "10", "--per-layer", "--trace-method", "hutchinson", "--trace-probes", "4", "--max-iter", "30", "--repeats", "3"])
            .arg("--out")
            .arg(&out),
    );
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let layers = json["per_layer"].as_array().unwrap();
    // resnet8's weight banks: the stem, 3 blocks x 2 convolutions, 2 projection shortcuts, the classifier.
    assert!(layers.len() >= 8, "{}", layers.len());
    for l in layers {
        assert!(l["lambda_max"].as_f64().unwrap() >= l["lambda_min"].as_f64().unwrap());
    }
    let subsets = json["repeats"]["subsets"].as_array().unwrap();
    assert_eq!(subsets.len(), 3);
    for s in subsets {
        assert_eq!(s["samples"], 10);
    }
    let spread = &json["repeats"]["lambda_max"];
    assert!(spread["min"].as_f64().unwrap() <= spread["mean"].as_f64().unwrap() && spread["mean"].as_f64().unwrap() <= spread["max"].as_f64().unwrap());
    assert!(text.contains("repeats      3 disjoint subsets of 10 examples"), "{text}");
    let png = dir.path().join("layers.png");
    run_ok(losscape().args(["plot", "--kind", "layers"]).arg(&out).arg("--out").arg(&png));
    assert!(std::fs::metadata(&png).unwrap().len() > 1000);
}

#[test]
fn hessian_eigenvector_directions_feed_a_surface() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("model.safetensors");
    write_checkpoint(&ckpt);
    let dirs = dir.path().join("eig.safetensors");
    let hess = ["--hessian-samples", "10", "--hessian-tol", "1e-3"];
    run_ok(losscape().args(["direction", "--checkpoint"]).arg(&ckpt).args(["--hessian-top", "2", "--norm", "filter"]).args(hess).arg("--out").arg(&dirs));
    let again = dir.path().join("eig2.safetensors");
    run_ok(losscape().args(["direction", "--checkpoint"]).arg(&ckpt).args(["--hessian-top", "2", "--norm", "filter"]).args(hess).arg("--out").arg(&again));
    assert_eq!(std::fs::read(&dirs).unwrap(), std::fs::read(&again).unwrap());
    let surf = dir.path().join("eig.surface");
    run_ok(
        losscape()
            .args(["surface", "--checkpoint"])
            .arg(&ckpt)
            .arg("--direction-file")
            .arg(&dirs)
            .args(["--x", "-0.5:0.5:3", "--y", "-0.5:0.5:3", "--per-class", "2", "--splits", "train", "--threads", "1", "--out"])
            .arg(&surf),
    );
    let s = losscape::landscape::Surface::load(&surf).unwrap();
    assert!(s.is_complete());
    let extremes = dir.path().join("ext.safetensors");
    let err = run_ok(losscape().args(["direction", "--checkpoint"]).arg(&ckpt).args(["--hessian-extremes", "--norm", "none"]).args(hess).arg("--out").arg(&extremes));
    assert!(err.contains("lambda_min"), "{err}");
    // Three eigenvectors do not fit a direction file.
    let out = losscape().args(["direction", "--checkpoint"]).arg(&ckpt).args(["--hessian-top", "3"]).args(hess).arg("--out").arg(dir.path().join("x.safetensors")).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 or 2"), "{}", String::from_utf8_lossy(&out.stderr));
}
