//! The hostile-input suite: bad, damaged, lying and unusual inputs against the `losscape` binary,
//! each case asserting its exit code, one clear `error:` line (never a panic, a libtorch backtrace
//! or an "internal error"), and that nothing is left behind (no output, temporary or lock file)
//! when a command is refused. Also: locks against a second writer, stale temporaries of killed
//! saves, a full disk (a small `ulimit -f`), kills at random moments with byte-for-byte resumes,
//! and deterministic files.
//!
//! Cases are table-driven and share their fixtures (one untrained ResNet-8 checkpoint, direction
//! files, a small surface, hand-made NumPy files) so the whole suite stays small: tiny models,
//! tiny grids, one thread. `cases_total` below counts them.

mod support;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use losscape::core::fsio::FileLock;
use losscape::directions::DirectionSet;
use losscape::landscape::Surface;
use losscape::models::checkpoint;
use support::losscape;

/// How long any one command may run before the suite calls it hung.
const TIMEOUT: Duration = Duration::from_secs(180);

/// Files every case may read: written once per test binary.
struct Fixtures {
    root: PathBuf,
    ckpt: PathBuf,
    /// A ResNet-14 checkpoint (directions of ResNet-8 do not fit it).
    other: PathBuf,
    d1: PathBuf,
    d2: PathBuf,
    surface: PathBuf,
    nan_ckpt: PathBuf,
    inf_ckpt: PathBuf,
    nan_dirs: PathBuf,
    inf_dirs: PathBuf,
    good_npz: PathBuf,
}

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("hostile-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        let ckpt = root.join("model.safetensors");
        support::write_checkpoint(&ckpt);
        let other = root.join("resnet14.safetensors");
        {
            use losscape::core::Precision;
            let spec: losscape::models::ModelSpec = "resnet14".parse().unwrap();
            let model = losscape::models::build(&losscape::models::BuildSpec { in_channels: 1, image_size: [28, 28], ..losscape::models::BuildSpec::new(spec) }, tch::Device::Cpu, 5).unwrap();
            let meta = losscape::models::CheckpointMeta::new(&spec, 1, 10, [28, 28], Precision::F32);
            checkpoint::save(model.as_ref(), &meta, &other).unwrap();
        }
        let d1 = root.join("d1.safetensors");
        let d2 = root.join("d2.safetensors");
        expect_ok(&run(&["direction", "--checkpoint", s(&ckpt), "--out", s(&d1)]));
        expect_ok(&run(&["direction", "--checkpoint", s(&ckpt), "--two", "--out", s(&d2)]));
        let surface = root.join("small.surface");
        expect_ok(&run(&[&surface_args(&ckpt)[..], &["--out", s(&surface)]].concat()));

        let poisoned = |value: f64, name: &str| {
            let mut tensors = checkpoint::read_tensors(&ckpt).unwrap();
            let metadata = checkpoint::read_metadata(&ckpt).unwrap();
            let t = tensors.iter_mut().find(|(n, _)| n.ends_with("conv1.weight")).unwrap();
            let _ = t.1.narrow(0, 0, 1).fill_(value);
            let path = root.join(name);
            checkpoint::save_tensors(&tensors, &metadata, &path).unwrap();
            path
        };
        let nan_ckpt = poisoned(f64::NAN, "nan.safetensors");
        let inf_ckpt = poisoned(f64::INFINITY, "inf.safetensors");
        let bad_dirs = |value: f64, name: &str| {
            let set = DirectionSet::load(&d2).unwrap();
            let _ = set.directions[1].tensors[0].1.narrow(0, 0, 1).fill_(value);
            let path = root.join(name);
            set.save(&path).unwrap();
            path
        };
        let nan_dirs = bad_dirs(f64::NAN, "nan-dirs.safetensors");
        let inf_dirs = bad_dirs(f64::NEG_INFINITY, "inf-dirs.safetensors");
        let good_npz = root.join("good.npz");
        write_npz(&good_npz, &good_arrays(20, 10));
        Fixtures { root, ckpt, other, d1, d2, surface, nan_ckpt, inf_ckpt, nan_dirs, inf_dirs, good_npz }
    })
}

/// A path as the `&str` a command line takes.
fn s(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// A small 2D surface on the test split (3 x 3 points, 5 images per class), one thread.
fn surface_args(ckpt: &Path) -> Vec<&str> {
    let ckpt = Box::leak(ckpt.display().to_string().into_boxed_str());
    vec![
        "surface", "--checkpoint", ckpt, "--x", "-1:1:3", "--y", "-1:1:3", "--per-class", "5", "--splits", "test",
        "--batch-size", "50", "--threads", "1", "--save-every", "0",
    ]
}

/// A fresh folder for the input files of one table (unique per call: a table's cases may be
/// built by two tests at once, `cases_total` and the table's own).
fn scratch(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = fixtures().root.join("scratch").join(format!("{name}-{n}"));
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh, empty folder for one case.
fn case_dir(name: &str) -> PathBuf {
    let dir = fixtures().root.join("cases").join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `losscape` with `args`, failing the test if it runs past [`TIMEOUT`].
fn run(args: &[&str]) -> Output {
    let child = losscape().args(args).env("OMP_NUM_THREADS", "1").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait(child, &args)
}

fn wait(mut child: Child, what: &dyn std::fmt::Debug) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            panic!("{what:?} hung for {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Signs of a crash or a leaked internal message.
fn assert_no_crash(out: &Output, what: &str) {
    let text = stderr(out);
    assert!(out.status.code().is_some(), "{what}: killed by a signal: {text}");
    for bad in ["panicked", "internal error", "Exception raised", "RUST_BACKTRACE", "stack backtrace", "frame #"] {
        assert!(!text.contains(bad), "{what}: stderr shows '{bad}':\n{text}");
    }
}

fn expect_ok(out: &Output) {
    assert_no_crash(out, "a command that must succeed");
    assert!(out.status.success(), "failed: {}", stderr(out));
}

/// A refused command: exit code 1, exactly one `error:` line (short, holding `needle`), as the
/// last line of stderr; or, for a flag clap refuses, exit code 2 with the error first.
fn expect_refused(out: &Output, needle: &str, what: &str) {
    assert_no_crash(out, what);
    let text = stderr(out);
    let code = out.status.code().unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let errors: Vec<&&str> = lines.iter().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{what}: expected one error line, got:\n{text}");
    let line = errors[0];
    match code {
        1 => assert_eq!(lines.last(), Some(line), "{what}: the error is not the last line:\n{text}"),
        2 => assert_eq!(lines.first(), Some(line), "{what}: clap's error is not first:\n{text}"),
        c => panic!("{what}: exit code {c}, expected 1 or 2:\n{text}"),
    }
    // Short, whatever folder the checkout lives in: paths count by their file names only.
    let shown = line.split(' ').map(|w| w.rsplit('/').next().unwrap_or(w)).collect::<Vec<_>>().join(" ");
    assert!(shown.len() < 600, "{what}: error line of {} characters (paths as file names):\n{line}", shown.len());
    assert!(
        line.to_lowercase().contains(&needle.to_lowercase()),
        "{what}: the error does not say '{needle}':\n{text}"
    );
}

/// Every file under `dir`, relative, sorted (hidden ones included).
fn listing(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        if let Ok(entries) = fs::read_dir(dir) {
            for e in entries.flatten() {
                let p = e.path();
                out.push(p.strip_prefix(base).unwrap().display().to_string());
                if p.is_dir() && !p.is_symlink() {
                    walk(base, &p, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// One table row: a command line and what must come of it.
struct Case {
    name: String,
    args: Vec<String>,
    /// `None`: must succeed; `Some(needle)`: must be refused with an error holding `needle`.
    refused: Option<&'static str>,
}

fn case(name: impl Into<String>, args: &[&str], refused: Option<&'static str>) -> Case {
    Case { name: name.into(), args: args.iter().map(|a| a.to_string()).collect(), refused }
}

/// Runs a table: each case in its own folder (`{dir}` in an argument is replaced by it), with
/// the folder's listing unchanged after a refused case.
fn run_table(table: &str, cases: Vec<Case>) {
    for (i, c) in cases.into_iter().enumerate() {
        let dir = case_dir(&format!("{table}-{i}"));
        let args: Vec<String> = c.args.iter().map(|a| a.replace("{dir}", s(&dir))).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let before = listing(&dir);
        let out = run(&args);
        let what = format!("{table}/{} ({args:?})", c.name);
        match c.refused {
            None => expect_ok(&out),
            Some(needle) => {
                expect_refused(&out, needle, &what);
                assert_eq!(listing(&dir), before, "{what}: left files behind");
            }
        }
    }
}

/// `base` (a subcommand, then flag-value pairs) with `extra` appended; a flag of `extra` replaces
/// the same flag of `base` (clap refuses a flag given twice).
fn with_flags(base: &[&str], extra: &[&str]) -> Vec<String> {
    let mut out = vec![base[0].to_string()];
    for pair in base[1..].chunks(2) {
        if !extra.contains(&pair[0]) {
            out.extend(pair.iter().map(|a| a.to_string()));
        }
    }
    out.extend(extra.iter().map(|a| a.to_string()));
    out
}

// ---------------------------------------------------------------------------------------------
// Flags out of range (clap and the commands' own checks).
// ---------------------------------------------------------------------------------------------

#[test]
fn flags_out_of_range() {
    run_table("flags", flag_cases());
}

fn flag_cases() -> Vec<Case> {
    let f = fixtures();
    let ck = s(&f.ckpt);
    let surf = |extra: &[&str]| {
        with_flags(&["surface", "--checkpoint", ck, "--x", "-1:1:3", "--threads", "1", "--out", "{dir}/s.surface"], extra)
    };
    let hes = |extra: &[&str]| with_flags(&["hessian", "--checkpoint", ck, "--threads", "1"], extra);
    let train = |extra: &[&str]| {
        with_flags(&["train", "--model", "resnet8", "--preset", "tiny", "--threads", "1", "--out", "{dir}/run"], extra)
    };
    let c = |name: &str, args: Vec<String>, needle: &'static str| Case { name: name.into(), args, refused: Some(needle) };
    let cases = vec![
        c("surface threads 0", surf(&["--threads", "0"]), "at least 1"),
        c("surface threads -1", surf(&["--threads", "-1"]), "at least 1"),
        c("surface batch 0", surf(&["--batch-size", "0"]), "at least 1"),
        c("surface batch -5", surf(&["--batch-size", "-5"]), "at least 1"),
        c("surface per-class 0", surf(&["--per-class", "0"]), "at least 1"),
        c("surface save-every -1", surf(&["--save-every", "-1"]), "at least 0"),
        c("surface save-every nan", surf(&["--save-every", "nan"]), "at least 0"),
        c("surface axis 0 points", surf(&["--x", "-1:1:0"]), "--x"),
        c("surface axis words", surf(&["--x", "a:b:c"]), "--x"),
        c("surface axis reversed", surf(&["--x", "1:-1:5"]), "--x"),
        c("surface y axis bad", surf(&["--y", "0:1"]), "--y"),
        c("surface shard 2/2", surf(&["--shard", "2/2"]), "--shard"),
        c("surface shard 0/0", surf(&["--shard", "0/0"]), "--shard"),
        c("surface shard words", surf(&["--shard", "half"]), "--shard"),
        c("surface device", surf(&["--device", "gpu9"]), "gpu9"),
        c("surface loss", surf(&["--loss", "hinge"]), "hinge"),
        c("surface norm", surf(&["--norm", "bogus"]), "bogus"),
        c("surface scope", surf(&["--scope", "bogus"]), "bogus"),
        c("surface dataset", surf(&["--dataset", "nonsense:x"]), "nonsense"),
        c("surface splits", surf(&["--splits", "valid"]), "valid"),
        c("surface unknown flag", surf(&["--colour", "red"]), "--colour"),
        c("hessian tol -1", hes(&["--tol", "-1"]), "greater than 0"),
        c("hessian tol 0", hes(&["--tol", "0"]), "greater than 0"),
        c("hessian tol inf", hes(&["--tol", "inf"]), "greater than 0"),
        c("hessian atol -1", hes(&["--atol", "-1"]), "at least 0"),
        c("hessian threads 0", hes(&["--threads", "0"]), "at least 1"),
        c("hessian samples 0", hes(&["--samples", "0"]), "at least 1"),
        c("hessian max-iter 0", hes(&["--max-iter", "0"]), "at least 1"),
        c("hessian batch 0", hes(&["--batch-size", "0"]), "at least 1"),
        c("hessian precision", hes(&["--precision", "f16"]), "f16"),
        c("hessian out without grid", hes(&["--out", "{dir}/m.surface"]), "map mode"),
        c("hessian map without out", hes(&["--x", "-1:1:3"]), "--out"),
        c("train threads 0", train(&["--threads", "0"]), "at least 1"),
        c("train lr -1", train(&["--lr", "-1"]), "learning rate"),
        c("train lr 0", train(&["--lr", "0"]), "learning rate"),
        c("train crop -3", train(&["--crop-padding", "-3"]), "crop padding"),
        c("train momentum -1", train(&["--momentum", "-1"]), "momentum"),
        c("train weight decay -1", train(&["--weight-decay", "-1"]), "decay"),
        c("train epochs 0", train(&["--epochs", "0"]), "epochs"),
        c("train batch 1", train(&["--batch-size", "1"]), "batch size"),
        c("train per-class 0", train(&["--train-per-class", "0"]), "per-class"),
        c("train save-every 0", train(&["--save-every", "0"]), "save-every"),
        c("train model", train(&["--model", "resnet7"]), "resnet7"),
        c("train preset", train(&["--preset", "fast"]), "fast"),
        c("train decay epochs", train(&["--lr-decay-epochs", "a,b"]), "epoch"),
        c(
            "trajectory threads 0",
            ["trajectory", "--run", "{dir}", "--threads", "0", "--out", "{dir}/t"].iter().map(|a| a.to_string()).collect(),
            "at least 1",
        ),
        c(
            "trajectory grid points 0",
            ["trajectory", "--run", "{dir}", "--grid-points", "0", "--out", "{dir}/t"].iter().map(|a| a.to_string()).collect(),
            "grid-points",
        ),
        c(
            "trajectory chunk 0",
            ["trajectory", "--run", "{dir}", "--chunk-elements", "0", "--out", "{dir}/t"].iter().map(|a| a.to_string()).collect(),
            "chunk-elements",
        ),
    ];
    cases
}

// ---------------------------------------------------------------------------------------------
// Checkpoints and direction files that are not what they claim.
// ---------------------------------------------------------------------------------------------

/// Damaged variants of a file, made from its bytes.
fn damaged(original: &Path, into: &Path) -> Vec<(&'static str, PathBuf)> {
    let bytes = fs::read(original).unwrap();
    let mut out = Vec::new();
    let mut put = |name: &'static str, content: Vec<u8>| {
        let p = into.join(format!("{}.bin", name.replace(' ', "-")));
        fs::write(&p, content).unwrap();
        out.push((name, p));
    };
    put("empty", Vec::new());
    put("four bytes", vec![1, 2, 3, 4]);
    put("huge header length", u64::MAX.to_le_bytes().to_vec());
    put("header past end", [&(1000u64.to_le_bytes())[..], b"{}"].concat());
    put("garbage header", [&(8u64.to_le_bytes())[..], b"notjson!"].concat());
    put("half", bytes[..bytes.len() / 2].to_vec());
    put("all but one byte", bytes[..bytes.len() - 1].to_vec());
    put("random", (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect());
    put("text", b"this is not a checkpoint\n".to_vec());
    let mut extra = bytes.clone();
    extra.extend_from_slice(&[0; 16]);
    put("trailing bytes", extra);
    out
}

#[test]
fn damaged_and_wrong_model_inputs() {
    run_table("inputs", input_cases());
}

fn input_cases() -> Vec<Case> {
    let f = fixtures();
    let bad = scratch("damaged");
    fs::create_dir_all(&bad).unwrap();
    let mut cases = Vec::new();
    let ck = s(&f.ckpt);
    for (name, path) in damaged(&f.ckpt, &bad) {
        let p = Box::leak(path.display().to_string().into_boxed_str());
        cases.push(case(format!("checkpoint {name} (surface)"), &["surface", "--checkpoint", p, "--x", "0:1:2", "--out", "{dir}/s.surface"], Some(p)));
        cases.push(case(format!("checkpoint {name} (direction)"), &["direction", "--checkpoint", p, "--out", "{dir}/d.safetensors"], Some(p)));
        cases.push(case(format!("direction file {name}"), &["surface", "--checkpoint", ck, "--direction-file", p, "--x", "0:1:2", "--out", "{dir}/s.surface"], Some(p)));
    }
    let root = s(&f.root);
    let d1 = s(&f.d1);
    let d2 = s(&f.d2);
    let other = s(&f.other);
    let surf = s(&f.surface);
    let grid = ["--x", "0:1:2", "--per-class", "2", "--threads", "1", "--out", "{dir}/s.surface"];
    let with = |head: &[&str]| -> Vec<String> { head.iter().chain(grid.iter()).map(|a| a.to_string()).collect() };
    let more = vec![
        Case { name: "checkpoint is a folder".into(), args: with(&["surface", "--checkpoint", root]), refused: Some("is a folder") },
        Case { name: "checkpoint missing".into(), args: with(&["surface", "--checkpoint", "/nonexistent/x.safetensors"]), refused: Some("no such") },
        Case { name: "checkpoint is /dev/null".into(), args: with(&["surface", "--checkpoint", "/dev/null"]), refused: Some("not a regular file") },
        Case { name: "checkpoint is a direction file".into(), args: with(&["surface", "--checkpoint", d1]), refused: Some(d1) },
        Case { name: "checkpoint is a surface".into(), args: with(&["surface", "--checkpoint", surf]), refused: Some(surf) },
        Case { name: "checkpoint holds NaN".into(), args: with(&["surface", "--checkpoint", s(&f.nan_ckpt)]), refused: Some("NaN or infinite") },
        Case { name: "checkpoint holds inf".into(), args: with(&["surface", "--checkpoint", s(&f.inf_ckpt)]), refused: Some("NaN or infinite") },
        Case { name: "hessian on a NaN checkpoint".into(), args: vec!["hessian".into(), "--checkpoint".into(), s(&f.nan_ckpt).into(), "--threads".into(), "1".into()], refused: Some("NaN or infinite") },
        Case { name: "direction from a NaN checkpoint".into(), args: vec!["direction".into(), "--checkpoint".into(), s(&f.inf_ckpt).into(), "--out".into(), "{dir}/d".into()], refused: Some("NaN or infinite") },
        Case { name: "direction file holds NaN".into(), args: with(&["surface", "--checkpoint", ck, "--direction-file", s(&f.nan_dirs), "--y", "0:1:2"]), refused: Some("NaN or infinite") },
        Case { name: "direction file holds -inf".into(), args: with(&["surface", "--checkpoint", ck, "--direction-file", s(&f.inf_dirs), "--y", "0:1:2"]), refused: Some("NaN or infinite") },
        Case { name: "hessian map with NaN directions".into(), args: vec!["hessian".into(), "--checkpoint".into(), ck.into(), "--direction-file".into(), s(&f.nan_dirs).into(), "--x".into(), "0:1:2".into(), "--out".into(), "{dir}/m.surface".into()], refused: Some("NaN or infinite") },
        Case { name: "direction file is a folder".into(), args: with(&["surface", "--checkpoint", ck, "--direction-file", root]), refused: Some("is a folder") },
        Case { name: "direction file is a checkpoint".into(), args: with(&["surface", "--checkpoint", ck, "--direction-file", ck]), refused: Some("not a losscape direction file") },
        Case { name: "directions of another model".into(), args: with(&["surface", "--checkpoint", other, "--direction-file", d1]), refused: Some("") },
        Case { name: "one direction for a plane".into(), args: with(&["surface", "--checkpoint", ck, "--direction-file", d1, "--y", "0:1:2"]), refused: Some("2 directions") },
        Case { name: "interpolate to another model".into(), args: with(&["surface", "--checkpoint", ck, "--interpolate-to", other]), refused: Some("") },
        Case { name: "interpolate to a folder".into(), args: with(&["surface", "--checkpoint", ck, "--interpolate-to", root]), refused: Some("is a folder") },
        Case { name: "target is a folder".into(), args: vec!["direction".into(), "--checkpoint".into(), ck.into(), "--target".into(), root.into(), "--out".into(), "{dir}/d".into()], refused: Some("is a folder") },
        Case { name: "weights that do not fit".into(), args: with(&["surface", "--checkpoint", ck, "--weights", other]), refused: Some("") },
        Case { name: "roles on a checkpoint".into(), args: with(&["surface", "--checkpoint", ck, "--roles", "conv1.weight=bias"]), refused: Some("TorchScript") },
        Case { name: "states scope plus direction file 2".into(), args: with(&["surface", "--checkpoint", ck, "--direction-file", d2, "--x", "0:1:0"]), refused: Some("--x") },
    ];
    cases.extend(more);
    cases
}

// ---------------------------------------------------------------------------------------------
// NumPy data sets that lie about their size, are cut short or are malformed.
// ---------------------------------------------------------------------------------------------

/// The bytes of a `.npy` file with this header and data.
fn npy(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    npy_raw(&format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"), data)
}

/// The bytes of a `.npy` file with this header dictionary (as text) and data.
fn npy_raw(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut header = dict.to_string();
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn labels(n: usize, classes: usize) -> Vec<u8> {
    (0..n).flat_map(|i| ((i % classes) as i64).to_le_bytes()).collect()
}

/// A valid data set: `n` 8x8 one-channel images per split, labels cycling through `classes`.
fn good_arrays(n: usize, classes: usize) -> Vec<(String, Vec<u8>)> {
    let pixels: Vec<u8> = (0..n * 64).map(|i| (i * 7 % 256) as u8).collect();
    vec![
        ("x_train.npy".into(), npy("|u1", &[n, 1, 8, 8], &pixels)),
        ("y_train.npy".into(), npy("<i8", &[n], &labels(n, classes))),
        ("x_test.npy".into(), npy("|u1", &[n, 1, 8, 8], &pixels)),
        ("y_test.npy".into(), npy("<i8", &[n], &labels(n, classes))),
    ]
}

fn write_npz(path: &Path, members: &[(String, Vec<u8>)]) {
    let mut zip = zip::ZipWriter::new(fs::File::create(path).unwrap());
    let options = zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in members {
        zip.start_file(name.as_str(), options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// `good_arrays` with member `name` replaced.
fn with_member(name: &str, bytes: Vec<u8>) -> Vec<(String, Vec<u8>)> {
    let mut m = good_arrays(20, 10);
    match m.iter_mut().find(|(n, _)| n == name) {
        Some(entry) => entry.1 = bytes,
        None => m.push((name.into(), bytes)),
    }
    m
}

#[test]
fn numpy_data_sets() {
    run_table("numpy", numpy_cases());
}

fn numpy_cases() -> Vec<Case> {
    let f = fixtures();
    let dir = scratch("npz");
    let pixels = |n: usize| vec![7u8; n];
    let variants: Vec<(&str, Vec<(String, Vec<u8>)>, Option<&'static str>)> = vec![
        ("lying 3,000,000 images", with_member("x_train.npy", npy("|u1", &[3_000_000, 1, 28, 28], &pixels(1920))), Some("holds 1920 bytes")),
        ("claims 3000 stores 30", with_member("x_train.npy", npy("|u1", &[3000, 1, 8, 8], &pixels(30 * 64))), Some("holds 1920 bytes")),
        ("truncated member", with_member("x_test.npy", npy("|u1", &[20, 1, 8, 8], &pixels(20 * 64 - 100))), Some("x_test")),
        ("labels short", with_member("y_train.npy", npy("<i8", &[20], &labels(19, 10))), Some("y_train")),
        ("one byte too many", with_member("y_test.npy", npy("<i8", &[20], &[labels(20, 10), vec![0]].concat())), Some("y_test")),
        ("header cut", with_member("x_train.npy", npy("|u1", &[20, 1, 8, 8], &[])[..30].to_vec()), Some("truncated .npy header")),
        ("no magic", with_member("x_train.npy", b"hello world, not numpy".to_vec()), Some("NUMPY signature")),
        ("big endian", with_member("y_train.npy", npy(">i8", &[20], &labels(20, 10))), Some("big-endian")),
        ("fortran order", with_member("y_train.npy", npy_raw("{'descr': '<i8', 'fortran_order': True, 'shape': (20,), }", &labels(20, 10))), Some("Fortran")),
        ("object dtype", with_member("y_train.npy", npy("|O", &[20], &[0; 160])), Some("not supported")),
        ("negative shape", with_member("y_train.npy", npy_raw("{'descr': '<i8', 'fortran_order': False, 'shape': (-20,), }", &labels(20, 10))), Some("bad shape")),
        ("shape overflows", with_member("y_train.npy", npy_raw("{'descr': '<i8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }", &labels(20, 10))), Some("too large")),
        ("no shape", with_member("y_train.npy", npy_raw("{'descr': '<i8', 'fortran_order': False, }", &labels(20, 10))), Some("no 'shape'")),
        ("missing y_test", good_arrays(20, 10).into_iter().filter(|(n, _)| n != "y_test.npy").collect(), Some("missing array")),
        ("float labels of wrong length", with_member("y_test.npy", npy("<f4", &[3], &[0; 12])), Some("regression")),
        ("2-D labels", with_member("y_train.npy", npy("<i8", &[10, 2], &labels(20, 10))), Some("one-dimensional")),
        ("images 5-D", with_member("x_train.npy", npy("|u1", &[20, 1, 1, 8, 8], &pixels(20 * 64))), Some("x_train")),
        ("image sizes differ", with_member("x_test.npy", npy("|u1", &[20, 1, 4, 16], &pixels(20 * 64))), Some("x_test")),
        ("0-d num_classes", with_member("num_classes.npy", npy("<i8", &[], &12i64.to_le_bytes())), None),
        ("1-d num_classes", with_member("num_classes.npy", npy("<i8", &[1], &12i64.to_le_bytes())), None),
        ("float num_classes", with_member("num_classes.npy", npy("<f8", &[], &12f64.to_le_bytes())), Some("num_classes")),
        ("only mean", with_member("mean.npy", npy("<f4", &[1], &0.5f32.to_le_bytes())), Some("both mean and std")),
    ];
    let mut cases = Vec::new();
    for (i, (name, members, refused)) in variants.into_iter().enumerate() {
        let path = dir.join(format!("v{i}.npz"));
        write_npz(&path, &members);
        let source = Box::leak(format!("npz:{}", path.display()).into_boxed_str());
        cases.push(case(format!("npz {name}"), &["data", "info", "--dataset", source], refused));
    }
    // Archives damaged as files.
    let good = fs::read(&f.good_npz).unwrap();
    for (name, bytes, needle) in [
        ("archive cut in half", good[..good.len() / 2].to_vec(), "not a readable .npz"),
        ("archive cut at the end", good[..good.len() - 10].to_vec(), "not a readable .npz"),
        ("empty archive file", Vec::new(), "not a readable .npz"),
        ("text as npz", b"x_train".to_vec(), "not a readable .npz"),
    ] {
        let path = dir.join(format!("{}.npz", name.replace(' ', "-")));
        fs::write(&path, bytes).unwrap();
        let source = Box::leak(format!("npz:{}", path.display()).into_boxed_str());
        cases.push(case(format!("npz {name}"), &["data", "info", "--dataset", source], Some(needle)));
    }
    // A member whose stored bytes were changed after zipping (its CRC no longer matches).
    let mut flipped = good.clone();
    let at = flipped.windows(6).rposition(|w| w == b"\x93NUMPY").unwrap() + 200;
    flipped[at] ^= 0xff;
    let path = dir.join("flipped.npz");
    fs::write(&path, flipped).unwrap();
    let source = Box::leak(format!("npz:{}", path.display()).into_boxed_str());
    cases.push(case("npz member with a bad CRC", &["data", "info", "--dataset", source], Some("damaged or truncated")));
    cases.push(case("npz is a folder", &["data", "info", "--dataset", Box::leak(format!("npz:{}", dir.display()).into_boxed_str())], Some("")));
    cases.push(case("npz missing", &["data", "info", "--dataset", "npz:/nonexistent.npz"], Some("no such")));
    // Folders of .npy files.
    for (name, file, bytes, needle) in [
        ("npy truncated", "x_train.npy", npy("|u1", &[20, 1, 8, 8], &pixels(100)), Some("holds 100 bytes")),
        ("npy lying header", "y_test.npy", npy("<i8", &[3000], &labels(30, 10)), Some("holds 240 bytes")),
        ("npy 0-d num_classes", "num_classes.npy", npy("<i8", &[], &10i64.to_le_bytes()), None),
    ] {
        let folder = dir.join(name.replace(' ', "-"));
        fs::create_dir_all(&folder).unwrap();
        for (n, b) in good_arrays(20, 10) {
            fs::write(folder.join(n), b).unwrap();
        }
        fs::write(folder.join(file), bytes).unwrap();
        let source = Box::leak(format!("npy:{}", folder.display()).into_boxed_str());
        cases.push(case(name, &["data", "info", "--dataset", source], needle));
    }
    cases
}

// ---------------------------------------------------------------------------------------------
// Outputs that would overwrite inputs, special files as targets, symbolic links.
// ---------------------------------------------------------------------------------------------

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo {}", path.display());
}

#[test]
fn outputs_never_replace_inputs_or_special_files() {
    let f = fixtures();
    let dir = case_dir("outputs");
    // Copies the case may damage if a bug lets it.
    let ck = dir.join("model.safetensors");
    fs::copy(&f.ckpt, &ck).unwrap();
    let surf = dir.join("s.csv");
    fs::copy(&f.surface, &surf).unwrap();
    let d1 = dir.join("d1.safetensors");
    fs::copy(&f.d1, &d1).unwrap();
    let fifo = dir.join("fifo");
    mkfifo(&fifo);
    let sub = dir.join("folder");
    fs::create_dir(&sub).unwrap();
    let link = dir.join("link-to-ckpt");
    std::os::unix::fs::symlink(&ck, &link).unwrap();
    let hashes = |paths: &[&Path]| -> Vec<Vec<u8>> { paths.iter().map(|p| fs::read(p).unwrap()).collect() };
    let before = hashes(&[&ck, &surf, &d1]);

    let (c, sf, d) = (s(&ck), s(&surf), s(&d1));
    let grid = ["--x", "0:1:2", "--per-class", "2", "--splits", "test", "--threads", "1"];
    let surface = |out: &str| -> Vec<String> {
        ["surface", "--checkpoint", c].iter().chain(grid.iter()).chain(["--out", out].iter()).map(|a| a.to_string()).collect()
    };
    let mut cases = vec![
        case("export csv onto its own surface", &["export", sf, "--format", "csv"], Some("refusing to overwrite an input")),
        case("export onto its surface by --out", &["export", sf, "--format", "npz", "--out", sf], Some("refusing to overwrite an input")),
        case("direction over its checkpoint", &["direction", "--checkpoint", c, "--out", c], Some("refusing to overwrite an input")),
        case("direction over its checkpoint via a link", &["direction", "--checkpoint", c, "--out", s(&link)], Some("refusing to overwrite an input")),
        case("direction over its target", &["direction", "--checkpoint", c, "--target", d, "--out", d], Some("refusing to overwrite an input")),
        case("merge over a part", &["merge", sf, "--out", sf], Some("refusing to overwrite an input")),
        case("export into a FIFO", &["export", sf, "--format", "csv", "--out", s(&fifo)], Some("is a FIFO")),
        case("export onto a folder", &["export", sf, "--format", "csv", "--out", s(&sub)], Some("is a folder")),
        case("export onto a device", &["export", sf, "--format", "csv", "--out", "/dev/null"], Some("is a device")),
        case("direction into a FIFO", &["direction", "--checkpoint", c, "--out", s(&fifo)], Some("is a FIFO")),
        case("merge into a FIFO", &["merge", sf, "--out", s(&fifo)], Some("is a FIFO")),
        case("train into a file", &["train", "--model", "resnet8", "--preset", "tiny", "--out", c], Some("not a folder")),
        case("trajectory into a file", &["trajectory", "--run", s(&sub), "--out", c], Some("not a folder")),
    ];
    let mut extra = vec![
        Case { name: "surface over its checkpoint".into(), args: surface(c), refused: Some("refusing to overwrite an input") },
        Case { name: "surface over its direction file".into(), args: { let mut a = surface(d); a.extend(["--direction-file".into(), d.into()]); a }, refused: Some("refusing to overwrite an input") },
        Case { name: "surface into a FIFO".into(), args: surface(s(&fifo)), refused: Some("is a FIFO") },
        Case { name: "surface onto a folder".into(), args: surface(s(&sub)), refused: Some("is a folder") },
        Case { name: "surface onto /dev/null".into(), args: surface("/dev/null"), refused: Some("is a device") },
        Case {
            name: "hessian map over its checkpoint".into(),
            args: ["hessian", "--checkpoint", c, "--x", "0:1:2", "--samples", "10", "--threads", "1", "--out", c].iter().map(|a| a.to_string()).collect(),
            refused: Some("refusing to overwrite an input"),
        },
    ];
    cases.append(&mut extra);
    let n = cases.len();
    for c in cases {
        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        let out = run(&args);
        expect_refused(&out, c.refused.unwrap(), &c.name);
    }
    assert_eq!(hashes(&[&ck, &surf, &d1]), before, "an input changed");
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo_like(), "the FIFO was replaced");
    assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    let leftovers: Vec<String> = listing(&dir).into_iter().filter(|n| n.contains(".tmp-") || n.contains(".lock")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Through a symbolic link the file it points to is written, and the link stays.
    let target = dir.join("real.npz");
    let via = dir.join("via.npz");
    std::os::unix::fs::symlink("real.npz", &via).unwrap();
    expect_ok(&run(&["export", sf, "--format", "npz", "--out", s(&via)]));
    assert!(fs::symlink_metadata(&via).unwrap().file_type().is_symlink() && target.is_file());
    // A dangling link: its target is created.
    let dangling = dir.join("dangling.csv");
    std::os::unix::fs::symlink("made-through-link.csv", &dangling).unwrap();
    expect_ok(&run(&["export", sf, "--format", "csv", "--out", s(&dangling)]));
    assert!(dir.join("made-through-link.csv").is_file());
    assert_eq!(n + 2, OUTPUT_CASES, "refused outputs plus the two written through links");
}

/// Cases of the tests that are not tables (kept equal to what each test asserts).
const OUTPUT_CASES: usize = 21;
const CLUMSY_CASES: usize = 5;
const LOCK_CASES: usize = 10;
const KILL_AND_DISK_CASES: usize = 10;
const DETERMINISM_CASES: usize = 2;

/// `FileType::is_fifo` without importing the extension trait at every use.
trait FifoLike {
    fn is_fifo_like(&self) -> bool;
}
impl FifoLike for fs::FileType {
    fn is_fifo_like(&self) -> bool {
        use std::os::unix::fs::FileTypeExt;
        self.is_fifo()
    }
}

// ---------------------------------------------------------------------------------------------
// Damaged surface files and resumes with other inputs.
// ---------------------------------------------------------------------------------------------

#[test]
fn damaged_surfaces_and_mismatched_resumes() {
    run_table("surfaces", surface_cases());
}

fn surface_cases() -> Vec<Case> {
    let dir = scratch("damaged-surfaces");
    let f = fixtures();
    let mut cases = Vec::new();
    let mut variants = damaged(&f.surface, &dir);
    let bytes = fs::read(&f.surface).unwrap();
    for (name, at) in [("flipped byte early", 20), ("flipped byte middle", bytes.len() / 2), ("flipped last byte", bytes.len() - 1)] {
        let mut b = bytes.clone();
        b[at] ^= 0x55;
        let p = dir.join(format!("{}.surface", name.replace(' ', "-")));
        fs::write(&p, b).unwrap();
        variants.push((name, p));
    }
    for (name, path) in &variants {
        let p = Box::leak(path.display().to_string().into_boxed_str());
        cases.push(case(format!("export npz of {name}"), &["export", p, "--format", "npz", "--out", "{dir}/x.npz"], Some(p)));
        cases.push(case(format!("merge of {name}"), &["merge", s(&f.surface), p, "--out", "{dir}/m.surface"], Some(p)));
    }
    let merged_over = scratch("resume-src");
    let ck = s(&f.ckpt);
    // Resumes of the small surface with one input changed: each names the differing field.
    let base: Vec<&str> = surface_args(&f.ckpt);
    let changes: Vec<(&str, Vec<&str>, &'static str)> = vec![
        ("seed", vec!["--seed", "9"], "directions"),
        ("grid", vec!["--x", "-1:1:5"], "grid"),
        ("per-class", vec!["--per-class", "4"], "data"),
        ("batch size", vec!["--batch-size", "20"], "batch_size"),
        ("splits", vec!["--splits", "train"], "arrays"),
        ("loss", vec!["--loss", "mse_softmax"], "loss"),
        ("checkpoint", vec!["--checkpoint", s(&f.other)], "checkpoint_hash"),
        ("norm", vec!["--norm", "layer"], "directions"),
        ("direction file", vec!["--direction-file", s(&f.d2)], "method"),
    ];
    for (name, change, needle) in changes {
        let target = merged_over.join(format!("{}.surface", name.replace(' ', "-")));
        fs::copy(&f.surface, &target).unwrap();
        let mut args = with_flags(&base, &change);
        args.extend(["--out".to_string(), target.display().to_string()]);
        cases.push(Case { name: format!("resume with another {name}"), args, refused: Some(needle) });
    }
    let _ = ck;
    cases
}

// ---------------------------------------------------------------------------------------------
// No file before the inputs are valid; nothing left by a run that computed nothing.
// ---------------------------------------------------------------------------------------------

#[test]
fn refused_runs_leave_nothing_and_the_corrected_rerun_works() {
    let f = fixtures();
    let own = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/own-model");
    let data = format!("npz:{}", own.join("data.npz").display());
    let dir = case_dir("clumsy");
    let out = dir.join("s.surface");
    let mut count = 0;
    for module in ["tuple_out.pt", "two_inputs.pt"] {
        let m = own.join(module);
        let r = run(&["surface", "--checkpoint", s(&m), "--dataset", &data, "--x", "0:1:2", "--threads", "1", "--out", s(&out)]);
        expect_refused(&r, "", module);
        assert!(!out.exists(), "{module}: a surface file was left behind");
        count += 1;
    }
    let r = run(&["surface", "--checkpoint", s(&own.join("net.pt")), "--dataset", &data, "--x", "0:1:2", "--threads", "1", "--out", s(&out)]);
    expect_ok(&r);
    count += 1;
    assert_eq!(listing(&dir), vec!["s.surface".to_string()], "no lock or temporary left");

    // Training refused for bad data leaves no run folder; the corrected run then trains.
    let run_dir = dir.join("run");
    let bad = f.root.join("npz").join("bad-train.npz");
    fs::create_dir_all(bad.parent().unwrap()).unwrap();
    write_npz(&bad, &with_member("x_train.npy", npy("|u1", &[3000, 1, 8, 8], &[1; 64])));
    let bad_source = format!("npz:{}", bad.display());
    let train = |source: &str| {
        run(&["train", "--model", "resnet8", "--preset", "tiny", "--epochs", "1", "--threads", "1", "--dataset", source, "--out", s(&run_dir)])
    };
    expect_refused(&train(&bad_source), "holds 64 bytes", "train on a lying npz");
    assert!(!run_dir.exists(), "a refused training left {}", run_dir.display());
    count += 1;
    let small = f.root.join("npz").join("small-train.npz");
    write_npz(&small, &good_arrays(20, 10));
    // 8x8 images are too small for nothing: ResNet-8 pools globally.
    expect_ok(&train(&format!("npz:{}", small.display())));
    assert!(run_dir.join("config.json").is_file());
    count += 1;
    let leftovers: Vec<String> = listing(&dir).into_iter().filter(|n| n.contains(".tmp-") || n.ends_with(".lock")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_eq!(count, CLUMSY_CASES);
}

// ---------------------------------------------------------------------------------------------
// Locks: one writer per surface, map and run folder; shards need their own files.
// ---------------------------------------------------------------------------------------------

/// Waits until `path` exists (the first process has started writing).
fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < TIMEOUT, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn second_writers_are_refused_or_wait() {
    let f = fixtures();
    let dir = case_dir("locks");
    let out = dir.join("s.surface");
    let lock = dir.join(".s.surface.lock");
    let mut count = 0;

    // A second surface into the same file, with other inputs or the same: refused at once,
    // naming the holder's process id. The holder is this test, so nothing depends on timing.
    let args = surface_args(&f.ckpt);
    let holder = FileLock::acquire(&out, false).unwrap();
    let me = format!("process {}", std::process::id());
    for extra in [&["--seed", "7"][..], &[][..], &["--shard", "1/2"][..]] {
        let second = run(&[&args[..], extra, &["--out", s(&out)]].concat());
        expect_refused(&second, &me, "second writer");
        count += 1;
    }
    // The same from a Hessian map and a merge into the file.
    let r = run(&["hessian", "--checkpoint", s(&f.ckpt), "--x", "0:1:2", "--samples", "10", "--threads", "1", "--out", s(&out)]);
    expect_refused(&r, &me, "hessian into a locked file");
    let r = run(&["merge", s(&f.surface), "--out", s(&out)]);
    expect_refused(&r, &me, "merge into a locked file");
    count += 2;
    assert!(!out.exists(), "no refused writer wrote the file");
    // With --wait, a writer waits for the holder and then runs.
    let mut cmd = losscape();
    cmd.args(&args).args(["--wait", "--out", s(&out)]).env("OMP_NUM_THREADS", "1").stdout(Stdio::null()).stderr(Stdio::piped());
    let mut waiting = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(waiting.try_wait().unwrap().is_none(), "--wait did not wait for the holder");
    drop(holder);
    expect_ok(&wait(waiting, &"waiting writer"));
    support::assert_bit_equal(&Surface::load(&f.surface).unwrap(), &Surface::load(&out).unwrap(), "after waiting");
    count += 1;
    assert!(!lock.exists(), "the lock file is removed with the lock");

    // Shards into one file: the second shard is refused even when run after the first.
    let sharded = dir.join("sharded.surface");
    expect_ok(&run(&[&args[..], &["--shard", "0/2", "--out", s(&sharded)]].concat()));
    let r = run(&[&args[..], &["--shard", "1/2", "--out", s(&sharded)]].concat());
    expect_refused(&r, "each shard needs its own file", "a second shard into one file");
    // ...while the whole grid may complete it.
    expect_ok(&run(&[&args[..], &["--out", s(&sharded)]].concat()));
    count += 2;

    // A lock file left by a killed process is no lock: the next run proceeds.
    let stale = dir.join("stale.surface");
    fs::write(dir.join(".stale.surface.lock"), "999999999\n").unwrap();
    expect_ok(&run(&[&args[..], &["--out", s(&stale)]].concat()));
    assert!(!dir.join(".stale.surface.lock").exists());
    count += 1;

    // Two trainings into one run folder.
    let run_dir = dir.join("run");
    let train = |extra: &[&str]| {
        let mut cmd = losscape();
        cmd.args(["train", "--model", "resnet8", "--preset", "tiny", "--epochs", "2", "--train-per-class", "30", "--threads", "1", "--out"])
            .arg(&run_dir)
            .args(extra)
            .env("OMP_NUM_THREADS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    };
    let first = train(&[]).spawn().unwrap();
    wait_for(&dir.join(".run.lock"));
    let second = wait(train(&["--seed", "3"]).spawn().unwrap(), &"second training");
    expect_refused(&second, &format!("process {}", first.id()), "second training");
    expect_ok(&wait(first, &"first training"));
    count += 1;
    assert_eq!(count, LOCK_CASES);
}

// ---------------------------------------------------------------------------------------------
// Kills at random moments, full disks, stale temporaries.
// ---------------------------------------------------------------------------------------------

fn signal(child: &Child, sig: i32) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, sig) };
}

#[test]
fn kills_resume_byte_for_byte_and_full_disks_damage_nothing() {
    let f = fixtures();
    let dir = case_dir("kills");
    let reference = Surface::load(&f.surface).unwrap();
    let args = surface_args(&f.ckpt);
    let mut count = 0;
    // Kill the small surface at several moments with several signals, then resume.
    let seed = std::process::id() as u64;
    for (k, sig) in [libc::SIGKILL, libc::SIGKILL, libc::SIGTERM, libc::SIGINT, libc::SIGKILL].into_iter().enumerate() {
        let out = dir.join(format!("killed-{k}.surface"));
        let mut cmd = losscape();
        cmd.args(&args).arg("--out").arg(&out).env("OMP_NUM_THREADS", "1").stdout(Stdio::null()).stderr(Stdio::null());
        let child = cmd.spawn().unwrap();
        // A pseudo-random moment between 0.2 s and 2 s.
        let ms = 200 + (seed.wrapping_mul(6364136223846793005).wrapping_add(k as u64 * 1442695040888963407) >> 33) % 1800;
        std::thread::sleep(Duration::from_millis(ms));
        signal(&child, sig);
        let _ = wait(child, &"killed run");
        expect_ok(&run(&[&args[..], &["--out", s(&out)]].concat()));
        let resumed = Surface::load(&out).unwrap();
        support::assert_bit_equal(&reference, &resumed, &format!("resumed after signal {sig} at {ms} ms"));
        count += 1;
    }
    let leftovers: Vec<String> = listing(&dir).into_iter().filter(|n| n.contains(".tmp-") || n.ends_with(".lock")).collect();
    assert!(leftovers.is_empty(), "a resumed run leaves no temporaries of the killed one: {leftovers:?}");

    // A full disk (a small file-size limit, writes failing with EFBIG): refused with one line,
    // the existing file intact, no temporary left.
    let full = dir.join("full.surface");
    fs::copy(&f.surface, &full).unwrap();
    let intact = fs::read(&full).unwrap();
    let limited = |cmd: &str| -> Output {
        let script = format!("trap '' XFSZ; ulimit -f 2; exec \"$0\" {cmd}");
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(env!("CARGO_BIN_EXE_losscape"))
            .env("OMP_NUM_THREADS", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait(child, &cmd)
    };
    let big = dir.join("big.surface");
    let r = limited(&format!(
        "surface --checkpoint {} --x -1:1:41 --y -1:1:41 --per-class 1 --splits test --threads 1 --out {}",
        s(&f.ckpt),
        s(&big)
    ));
    expect_refused(&r, "too large", "surface on a full disk");
    assert!(!big.exists(), "a surface that could not be written at all is not left empty");
    count += 1;
    let r = limited(&format!("export {} --format csv --out {}", s(&full), s(&dir.join("too-big.csv"))));
    // The small surface's csv fits in 2 KiB blocks? If it does, the export succeeds; either way
    // nothing half-written remains.
    assert_no_crash(&r, "export on a full disk");
    count += 1;
    let r = limited(&format!("direction --checkpoint {} --two --out {}", s(&f.ckpt), s(&full)));
    expect_refused(&r, "too large", "direction over an existing file on a full disk");
    assert_eq!(fs::read(&full).unwrap(), intact, "the old file is intact");
    count += 1;
    let run_dir = dir.join("full-run");
    let r = limited(&format!(
        "train --model resnet8 --preset tiny --epochs 1 --train-per-class 20 --threads 1 --out {}",
        s(&run_dir)
    ));
    expect_refused(&r, "too large", "training on a full disk");
    assert!(!run_dir.exists(), "a training that saved nothing leaves no empty run folder");
    count += 1;
    let leftovers: Vec<String> = listing(&dir).into_iter().filter(|n| n.contains(".tmp-") || n.ends_with(".lock")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Temporaries of killed saves (a PID that no longer runs) are removed by the next run.
    let stale = dir.join(".resumed.surface.tmp-999999999");
    fs::write(&stale, vec![0u8; 4096]).unwrap();
    let resumed = dir.join("resumed.surface");
    fs::copy(&f.surface, &resumed).unwrap();
    expect_ok(&run(&[&args[..], &["--out", s(&resumed)]].concat()));
    assert!(!stale.exists(), "the stale temporary is gone");
    count += 1;
    assert_eq!(count, KILL_AND_DISK_CASES);
}

// ---------------------------------------------------------------------------------------------
// Same inputs, same bytes.
// ---------------------------------------------------------------------------------------------

#[test]
fn equal_inputs_give_equal_files() {
    let f = fixtures();
    let dir = case_dir("determinism");
    let mut count = 0;
    // Direction files from two processes.
    let (a, b) = (dir.join("a.safetensors"), dir.join("b.safetensors"));
    for p in [&a, &b] {
        expect_ok(&run(&["direction", "--checkpoint", s(&f.ckpt), "--two", "--seed", "4", "--out", s(p)]));
    }
    assert_eq!(fs::read(&a).unwrap(), fs::read(&b).unwrap(), "direction files differ");
    count += 1;
    // Two uninterrupted trainings: every checkpoint equal byte for byte.
    let runs = [dir.join("r1"), dir.join("r2")];
    for r in &runs {
        expect_ok(&run(&[
            "train", "--model", "resnet8", "--preset", "tiny", "--epochs", "1", "--train-per-class", "10", "--test-per-class", "5",
            "--threads", "1", "--seed", "2", "--out", s(r),
        ]));
    }
    let files = |r: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(r.join("checkpoints")).unwrap().map(|e| e.unwrap().path()).collect();
        v.sort();
        v
    };
    let (one, two) = (files(&runs[0]), files(&runs[1]));
    assert!(!one.is_empty() && one.len() == two.len());
    for (x, y) in one.iter().zip(&two) {
        assert_eq!(fs::read(x).unwrap(), fs::read(y).unwrap(), "{} and {} differ", x.display(), y.display());
    }
    count += 1;
    assert_eq!(count, DETERMINISM_CASES);
}

/// The suite's size: every table row plus the scenario cases (at least 150, issue 15).
#[test]
fn cases_total() {
    let tables = flag_cases().len() + input_cases().len() + numpy_cases().len() + surface_cases().len();
    let total = tables + OUTPUT_CASES + CLUMSY_CASES + LOCK_CASES + KILL_AND_DISK_CASES + DETERMINISM_CASES;
    eprintln!("hostile-input suite: {total} cases ({tables} in tables)");
    assert!(total >= 150, "{total}");
}
