//! The paper's recipe end to end against PyTorch: two ResNet-20 state dicts written by
//! tests/fixtures/pytorch-resnet20/make_fixture.py (one with DataParallel's `module.` prefix) are
//! imported with the original's CIFAR-10 normalization, the 1D linear interpolation between them
//! (`states` scope) is computed by `losscape surface`, and its losses and accuracies on both splits
//! equal those the script computed in PyTorch (1e-5 relative).

mod support;

use std::path::Path;

use losscape::landscape::Surface;
use support::{losscape, run_ok};

#[test]
fn an_imported_interpolation_equals_pytorchs() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pytorch-resnet20");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for name in ["a.safetensors", "b.safetensors", "data.npz"] {
        std::fs::copy(fixtures.join(name), d.join(name)).unwrap();
    }
    for m in ["a", "b"] {
        run_ok(
            losscape()
                .current_dir(d)
                .args(["import", "--model", "resnet20", "--dataset", "npz:data.npz", "--state-dict"])
                .arg(format!("{m}.safetensors"))
                .arg("--out")
                .arg(format!("{m}-ckpt.safetensors")),
        );
    }
    run_ok(
        losscape()
            .current_dir(d)
            .args(["surface", "--checkpoint", "a-ckpt.safetensors", "--interpolate-to", "b-ckpt.safetensors"])
            .args(["--x", "0:1:5", "--threads", "1", "--out", "ab.surface"]),
    );
    let surface = Surface::load(&d.join("ab.surface")).unwrap();
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures.join("expected.json")).unwrap()).unwrap();
    let ts: Vec<f64> = expected["t"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(surface.grid().x.coordinates(), ts);
    for name in ["train_loss", "train_acc", "test_loss", "test_acc"] {
        let want: Vec<f64> = expected[name].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let have = surface.array(name).unwrap();
        for (i, (h, w)) in have.iter().zip(&want).enumerate() {
            assert!((h - w).abs() <= 1e-5 * w.abs().max(1e-12), "{name} at t = {}: losscape {h}, PyTorch {w}", ts[i]);
        }
    }
    // The two ends differ, so the comparison sees the interpolation move.
    let loss = surface.array("train_loss").unwrap();
    assert!((loss[0] - loss[4]).abs() > 1e-3 * loss[0].abs(), "{loss:?}");
}
