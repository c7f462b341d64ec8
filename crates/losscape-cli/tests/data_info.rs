//! `losscape data info` as a user runs it: the embedded set's report, a CIFAR-10 folder, and a
//! missing folder (one-line error, exit code 1).

use std::process::Command;

use losscape::data::cifar::{encode_cifar, CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES};

fn losscape(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_losscape")).args(args).output().expect("the binary runs");
    let text = |b: Vec<u8>| String::from_utf8(b).expect("utf-8 output");
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

/// The lines of a report with runs of spaces collapsed, so checks do not depend on column widths.
fn squeeze(report: &str) -> String {
    report.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("\n")
}

#[test]
fn embedded_set_report() {
    let (code, out, err) = losscape(&["data", "info", "--dataset", "fashion-mnist-mini"]);
    assert_eq!(code, 0, "{err}");
    let full = out.clone();
    let out = squeeze(&out);
    assert!(out.contains("train 5,000 1x28x28 10"), "{out}");
    assert!(out.contains("test 1,000 1x28x28 10"), "{out}");
    assert!(out.contains("9 Ankle boot 500 100"), "{out}");
    assert!(out.contains("train: balanced (500 per class)") && out.contains("test: balanced (100 per class)"), "{out}");
    assert!(out.contains("train grey 0.2873 0.3544 0.0000 1.0000"), "{out}");
    // The default is the embedded set.
    assert_eq!(losscape(&["data", "info"]).1, full);
}

#[test]
fn cifar_folder_report() {
    let dir = tempfile::tempdir().unwrap();
    // Two images per file; every red byte 51 (0.2), green 102 (0.4), blue 153 (0.6).
    let pixels: Vec<u8> = (0..2).flat_map(|_| [51u8, 102, 153].into_iter().flat_map(|v| vec![v; 1024])).collect();
    for name in CIFAR10_TRAIN_FILES.iter().chain([&CIFAR10_TEST_FILE]) {
        std::fs::write(dir.path().join(name), encode_cifar(&pixels, &[3, 5]).unwrap()).unwrap();
    }
    let (code, out, err) = losscape(&["data", "info", "--cifar", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let out = squeeze(&out);
    assert!(out.contains("train 10 3x32x32 10"), "{out}");
    assert!(out.contains("3 cat 5 1"), "{out}");
    assert!(out.contains("train: unbalanced (0 to 5 per class)"), "{out}");
    assert!(out.contains("train blue 0.6000 0.0000 0.6000 0.6000"), "{out}");
}

#[test]
fn missing_folder_is_one_line_and_exit_code_1() {
    for args in [["data", "info", "--cifar", "/nonexistent"], ["data", "info", "--dataset", "idx:/nonexistent"]] {
        let (code, out, err) = losscape(&args);
        assert_eq!(code, 1);
        assert!(out.is_empty());
        assert_eq!(err, "error: /nonexistent: no such folder\n");
    }
}
