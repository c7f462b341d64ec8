//! `--device` and `losscape device` on a machine without CUDA, as a user meets them: the report
//! says why CUDA is not loaded; `--device cuda` against a CPU-only, wrong-version or broken
//! libtorch (named by LOSSCAPE_TORCH_DIR) fails with one line and exit code 1 before any work;
//! `--device auto` falls back to the CPU with a note and computes; `data synthetic` writes a data
//! set that a surface evaluates.

use std::path::Path;
use std::process::Command;

fn losscape(args: &[&str], torch_dir: Option<&Path>) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_losscape"));
    cmd.args(args).env_remove("LOSSCAPE_TORCH_DIR");
    if let Some(dir) = torch_dir {
        cmd.env("LOSSCAPE_TORCH_DIR", dir);
    }
    let out = cmd.output().expect("the binary runs");
    let text = |b: Vec<u8>| String::from_utf8(b).expect("utf-8 output");
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

/// A folder shaped like a libtorch: `lib/`, an optional version file and an optional
/// `lib/libtorch_cuda.so` with the given bytes.
fn fake_torch(root: &Path, name: &str, version: Option<(&str, &str)>, cuda: Option<&[u8]>) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    if let Some((file, text)) = version {
        std::fs::write(dir.join(file), text).unwrap();
    }
    if let Some(bytes) = cuda {
        std::fs::write(dir.join("lib/libtorch_cuda.so"), bytes).unwrap();
    }
    dir
}

#[test]
fn report_says_no_cuda_and_why() {
    let (code, out, err) = losscape(&["device", "--threads", "1"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("version      2.11.0"), "{out}");
    assert!(out.contains("cuda         not loaded: libtorch at ") && out.contains("is CPU-only"), "{out}");
    assert!(out.contains("cpu features avx2 "), "{out}");
    assert!(out.contains("threads      1 libtorch thread(s)"), "{out}");
    let dir = tempfile::tempdir().unwrap();
    let bogus = fake_torch(dir.path(), "bogus", Some(("build-version", "2.11.0+cu130\n")), Some(b"\x7fELF but not really"));
    let (code, out, _) = losscape(&["device"], Some(&bogus));
    assert_eq!(code, 0);
    assert!(out.contains("(from LOSSCAPE_TORCH_DIR)") && out.contains("version      2.11.0+cu130"), "{out}");
    assert!(out.contains("cuda         not loaded: cannot load "), "{out}");
}

#[test]
fn cuda_requests_fail_with_one_line_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let cpu = fake_torch(dir.path(), "cpu", Some(("build-version", "2.11.0\n")), None);
    let old = fake_torch(dir.path(), "old", Some(("version.py", "__version__ = '2.10.0+cu128'\n")), Some(b""));
    let bogus = fake_torch(dir.path(), "bogus", Some(("version.txt", "2.11.0\n")), Some(b"not a library"));
    let unversioned = fake_torch(dir.path(), "unversioned", None, Some(b""));
    let out = dir.path().join("run");
    let out = out.to_str().unwrap();
    let cases: [(&Path, &str, &str); 4] = [
        (&cpu, "cuda", "is CPU-only (no lib/libtorch_cuda.so)"),
        (&old, "cuda:1", "is version 2.10.0+cu128, but losscape is built against 2.11.0"),
        (&bogus, "gpu", "cannot load "),
        (&unversioned, "CUDA:0", "cannot tell the version of libtorch"),
    ];
    for (torch, device, expected) in cases {
        let (code, stdout, err) =
            losscape(&["train", "--model", "resnet8", "--preset", "tiny", "--device", device, "--out", out], Some(torch));
        assert_eq!(code, 1, "{device}: {stdout}{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: ") && err.contains(expected), "{device}: {err}");
        assert!(!Path::new(out).exists(), "nothing may be written before the device is known");
    }
    // The provisioned libtorch of this workspace is CPU-only too.
    let (code, _, err) = losscape(&["train", "--model", "resnet8", "--preset", "tiny", "--device", "cuda", "--out", out], None);
    assert_eq!(code, 1);
    assert!(err.contains("is CPU-only"), "{err}");
    let (code, _, err) = losscape(&["train", "--model", "resnet8", "--device", "tpu", "--out", out], None);
    assert_eq!(code, 1);
    assert!(err.contains("unknown device 'tpu'"), "{err}");
}

/// A library that loads (the running libc10.so, under the name libtorch_cuda.so) takes the
/// success path of the loader, and then meets a machine without GPUs.
#[test]
fn a_loadable_library_without_a_gpu_is_refused_and_reported() {
    let libc10 = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.libtorch/lib/libc10.so").canonicalize().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let torch = fake_torch(dir.path(), "loads", Some(("build-version", "2.11.0+cu130\n")), None);
    std::os::unix::fs::symlink(&libc10, torch.join("lib/libtorch_cuda.so")).unwrap();
    let out = dir.path().join("run");
    let out = out.to_str().unwrap();
    let (code, _, err) = losscape(&["train", "--model", "resnet8", "--preset", "tiny", "--device", "cuda", "--out", out], Some(&torch));
    assert_eq!(code, 1);
    assert!(err.contains("CUDA kernels loaded from ") && err.contains("but no GPU is visible"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let (code, stdout, err) = losscape(&["device"], Some(&torch));
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("cuda         kernels loaded from ") && stdout.contains("gpus         none visible"), "{stdout}");
    // The kernels' folder is not the running libtorch_cpu.so's: the report says so.
    assert!(stdout.contains("note         CUDA kernels from "), "{stdout}");
}

#[test]
fn auto_falls_back_to_the_cpu_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("synthetic.npz");
    let data_arg = format!("npz:{}", data.display());
    let (code, _, err) = losscape(
        &["data", "synthetic", "--train", "40", "--test", "20", "--shape", "3x8x8", "--classes", "4", "--out", data.to_str().unwrap()],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = losscape(&["data", "info", "--dataset", &data_arg], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.split_whitespace().collect::<Vec<_>>().windows(4).any(|w| w == ["train", "40", "3x8x8", "4"]), "{out}");

    let run = dir.path().join("run");
    let bogus = fake_torch(dir.path(), "bogus", Some(("build-version", "2.11.0\n")), Some(b"junk"));
    let (code, _, err) = losscape(
        &["train", "--model", "resnet8", "--preset", "tiny", "--epochs", "1", "--stop-after", "0", "--dataset", &data_arg,
          "--threads", "1", "--device", "auto", "--out", run.to_str().unwrap()],
        Some(&bogus),
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("note: --device auto: using the CPU (cannot load "), "{err}");
    let checkpoint = run.join("checkpoints/epoch-0000.safetensors");
    let surface = dir.path().join("line.surface");
    let (code, _, err) = losscape(
        &["surface", "--checkpoint", checkpoint.to_str().unwrap(), "--x", "-1:1:3", "--threads", "1", "--device", "AUTO",
          "--out", surface.to_str().unwrap()],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("note: --device auto: using the CPU (libtorch at ") && err.contains("CPU-only"), "{err}");
    assert!(err.contains("computed 3 point(s)"), "{err}");
}
