//! The prepared device check, scripts/gpu-check.sh, at toy size on the CPU (`--device cpu
//! --toy`), so the script that runs on borrowed GPU machines cannot rot: it must finish, and its
//! JSON must hold the numbers its own logs hold, with the extrapolation and the points-per-pass
//! speed-up recomputed here.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

#[test]
fn toy_check_on_the_cpu_writes_a_consistent_report() {
    if Command::new("python3").arg("--version").output().is_err() {
        panic!("python3 is needed by scripts/gpu-check.sh (standard library only)");
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let (work, json) = (dir.path().join("work"), dir.path().join("check.json"));
    let out = Command::new("bash")
        .arg(root.join("scripts/gpu-check.sh"))
        .args(["--device", "cpu", "--toy", "--bin", env!("CARGO_BIN_EXE_losscape")])
        .arg("--work")
        .arg(&work)
        .arg("--out")
        .arg(&json)
        .env_remove("LOSSCAPE_TORCH_DIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();

    assert_eq!(r["device"], "cpu");
    assert_eq!(r["model"], "resnet8");
    let report: Vec<&str> = r["device_report"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert!(report.iter().any(|l| l.starts_with("cuda         not loaded:")), "{report:?}");

    // CPU against CPU: the same computation, so the same numbers; and they match the surface
    // file's own CSV export.
    let check = &r["check"];
    let cpu: Vec<f64> = check["cpu_train_loss"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(cpu.len(), 5);
    assert_eq!(check["device_train_loss"], check["cpu_train_loss"]);
    assert_eq!(check["max_relative_difference"].as_f64(), Some(0.0));
    assert_eq!(check["passed"], true);
    let csv = std::fs::read_to_string(work.join("check-cpu.csv")).unwrap();
    let from_csv: Vec<f64> = csv.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect();
    assert_eq!(from_csv, cpu);
    // Untrained 10-class network on random images: losses near ln 10, never NaN.
    assert!(cpu.iter().all(|l| l.is_finite() && *l > 1.0 && *l < 10.0), "{cpu:?}");

    let t = &r["timing"];
    let (images, points, seconds) =
        (t["images"].as_f64().unwrap(), t["points"].as_f64().unwrap(), t["seconds"].as_f64().unwrap());
    assert_eq!((images, points), (200.0, 4.0));
    assert!(seconds > 0.0);
    let per_point = t["seconds_per_point"].as_f64().unwrap();
    assert!((per_point - seconds / points).abs() <= 1e-12 * per_point);
    let paper = t["paper_surface_51x51_50000_images_seconds"].as_f64().unwrap();
    assert!((paper - per_point * 2601.0 * 50_000.0 / images).abs() <= 1e-9 * paper);
    assert!(stdout.contains(&format!("{:.1} min", paper / 60.0)), "{stdout}");

    // K=4 points per pass against K=1: the same losses (here, on the CPU, equal), the speed-up
    // recomputed from the two timings.
    let pp = &r["points_per_pass"];
    assert_eq!((pp["images"].as_f64(), pp["points"].as_f64()), (Some(50.0), Some(4.0)));
    let secs: Vec<f64> = pp["seconds"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(secs.len() == 2 && secs.iter().all(|s| *s > 0.0), "{secs:?}");
    let speedup = pp["speedup_k4_over_k1"].as_f64().unwrap();
    assert!((speedup - secs[0] / secs[1]).abs() <= 1e-12 * speedup);
    assert!(pp["max_relative_difference"].as_f64().unwrap() <= 1e-5);
    assert_eq!(pp["passed"], true);
    assert!(stdout.contains(&format!("K=4 {speedup:.2}x the speed of K=1")), "{stdout}");
    let one = std::fs::read_to_string(work.join("pp1.csv")).unwrap();
    assert_eq!(one.lines().count(), 5, "{one}");

    let hvp = &r["hvp"];
    assert_eq!(hvp["products"], 3);
    assert!(hvp["seconds_per_product"].as_f64().unwrap() > 0.0);
    // bf16: the same grid timed in bf16; its deviation is the one the surface file records.
    let bf16 = &r["bf16"];
    assert_eq!(bf16["points"], 4, "{bf16}");
    assert!(bf16["seconds_per_point"].as_f64().unwrap() > 0.0 && bf16["speedup_over_f32"].as_f64().unwrap() > 0.0);
    let deviation = bf16["max_rel_loss_deviation_from_f32"].as_f64().unwrap();
    let surface = losscape::landscape::Surface::load(&work.join("time-bf16.surface")).unwrap();
    assert_eq!(surface.header().dtype, losscape::core::Precision::Bf16);
    let recorded = losscape::landscape::precision::PrecisionCheck::from_header(surface.header()).unwrap();
    assert!(deviation > 0.0 && deviation < 5e-2, "{deviation}");
    assert!((deviation / recorded.max_rel_loss_deviation - 1.0).abs() < 1e-2, "{deviation} vs {}", recorded.max_rel_loss_deviation);
    assert!(stdout.contains("largest relative loss deviation from f32"), "{stdout}");
}
