//! `cargo xtask data`: rebuilds the embedded Fashion-MNIST subset from Debian's
//! `dataset-fashion-mnist` package, so the provenance of the committed files is reproducible.
//!
//! The subset takes, in file order, the first 500 training and the first 100 test images of each
//! of the 10 classes (5,000 + 1,000 images), keeps file order, and writes IDX files gzip-compressed
//! with a fixed header (no name, mtime 0) so that the bytes, and their SHA-256, are reproducible.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};
use sha2::{Digest, Sha256};

const PACKAGE: &str = "dataset-fashion-mnist";
const PACKAGE_DIR: &str = "usr/share/datasets/fashion-mnist";
const TRAIN_PER_CLASS: usize = 500;
const TEST_PER_CLASS: usize = 100;
const CLASSES: usize = 10;
/// Where the embedded files live, relative to the workspace root.
pub const EMBEDDED_DIR: &str = "crates/losscape-data/data/fashion-mnist-mini";
const SUMS: &str = "SHA256SUMS";

/// Output file name, source split name, images per class.
const SPLITS: [(&str, &str, usize); 2] = [("train", "train", TRAIN_PER_CLASS), ("test", "t10k", TEST_PER_CLASS)];

pub fn build(root: &Path, check: bool) -> Result<()> {
    let work = std::env::temp_dir().join(format!("losscape-data-{}", std::process::id()));
    fs::create_dir_all(&work)?;
    let result = build_in(root, &work, check);
    let _ = fs::remove_dir_all(&work);
    result
}

fn build_in(root: &Path, work: &Path, check: bool) -> Result<()> {
    let source = fetch_package(work)?;
    let out_dir = if check { work.join("out") } else { root.join(EMBEDDED_DIR) };
    fs::create_dir_all(&out_dir)?;
    let mut sums = String::new();
    for (split, source_name, per_class) in SPLITS {
        let images = read_idx(&source.join(format!("{source_name}-images-idx3-ubyte.gz")))?;
        let labels = read_idx(&source.join(format!("{source_name}-labels-idx1-ubyte.gz")))?;
        let (img_out, lab_out) = subset(&images, &labels, per_class)?;
        for (kind, idx) in [("images-idx3", img_out), ("labels-idx1", lab_out)] {
            let name = format!("{split}-{kind}-ubyte.gz");
            let bytes = gzip(&idx)?;
            sums.push_str(&format!("{}  {name}\n", hex_sha256(&bytes)));
            write_atomic(&out_dir.join(&name), &bytes)?;
        }
    }
    if check {
        let committed = fs::read_to_string(root.join(EMBEDDED_DIR).join(SUMS))
            .context("no committed SHA256SUMS to check against")?;
        if committed != sums {
            bail!("the rebuilt subset differs from the committed one:\ncommitted:\n{committed}rebuilt:\n{sums}");
        }
        for line in committed.lines() {
            let (hash, name) = line.split_once("  ").context("bad SHA256SUMS line")?;
            let bytes = fs::read(root.join(EMBEDDED_DIR).join(name))?;
            ensure!(hex_sha256(&bytes) == hash, "committed {name} does not match SHA256SUMS");
        }
        eprintln!("xtask: the embedded data set matches its rebuild from {PACKAGE}");
    } else {
        write_atomic(&out_dir.join(SUMS), sums.as_bytes())?;
        eprintln!("xtask: wrote the embedded data set to {}", out_dir.display());
    }
    Ok(())
}

/// Uses the installed package if present, else `apt-get download` + `dpkg-deb -x` into `work`.
fn fetch_package(work: &Path) -> Result<PathBuf> {
    let installed = Path::new("/").join(PACKAGE_DIR);
    if installed.join("train-images-idx3-ubyte.gz").exists() {
        return Ok(installed);
    }
    eprintln!("xtask: apt-get download {PACKAGE}");
    let status = Command::new("apt-get")
        .args(["download", PACKAGE])
        .current_dir(work)
        .status()
        .context("cannot run apt-get (this task needs a Debian-based system)")?;
    if !status.success() {
        bail!("`apt-get download {PACKAGE}` failed; run `apt-get update` first, or install the package");
    }
    let deb = fs::read_dir(work)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .context("apt-get download produced no .deb")?;
    let extract = work.join("pkg");
    let status = Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&extract).status()?;
    ensure!(status.success(), "dpkg-deb -x {} failed", deb.display());
    Ok(extract.join(PACKAGE_DIR))
}

/// A parsed IDX file: its dimensions and its raw u8 payload.
struct Idx {
    dims: Vec<usize>,
    data: Vec<u8>,
}

fn read_idx(path: &Path) -> Result<Idx> {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?)
        .read_to_end(&mut raw)
        .with_context(|| format!("cannot decompress {}", path.display()))?;
    ensure!(raw.len() >= 4 && raw[0] == 0 && raw[1] == 0 && raw[2] == 0x08, "{} is not a u8 IDX file", path.display());
    let ndim = raw[3] as usize;
    ensure!(raw.len() >= 4 + 4 * ndim, "{} has a truncated header", path.display());
    let mut dims = Vec::with_capacity(ndim);
    for d in 0..ndim {
        let at = 4 + 4 * d;
        dims.push(u32::from_be_bytes(raw[at..at + 4].try_into()?) as usize);
    }
    let header = 4 + 4 * ndim;
    ensure!(raw.len() == header + dims.iter().product::<usize>(), "{} has the wrong length", path.display());
    Ok(Idx { dims, data: raw[header..].to_vec() })
}

fn write_idx(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&(*d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// The first `per_class` examples of each class, in file order.
fn subset(images: &Idx, labels: &Idx, per_class: usize) -> Result<(Vec<u8>, Vec<u8>)> {
    ensure!(labels.dims.len() == 1 && images.dims.len() == 3, "expected 1-D labels and 3-D images");
    let n = labels.dims[0];
    ensure!(images.dims[0] == n, "image and label counts differ");
    let pixels: usize = images.dims[1..].iter().product();
    let mut counts = [0usize; CLASSES];
    let (mut img, mut lab) = (Vec::new(), Vec::new());
    for (i, &label) in labels.data.iter().enumerate() {
        let c = label as usize;
        ensure!(c < CLASSES, "label {c} out of range");
        if counts[c] < per_class {
            counts[c] += 1;
            lab.push(label);
            img.extend_from_slice(&images.data[i * pixels..(i + 1) * pixels]);
        }
    }
    ensure!(counts.iter().all(|&c| c == per_class), "the source has too few images of some class");
    let mut dims = images.dims.clone();
    dims[0] = lab.len();
    Ok((write_idx(&dims, &img), write_idx(&[lab.len()], &lab)))
}

fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut enc = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::best());
    enc.write_all(data)?;
    Ok(enc.finish()?)
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let temp = path.with_extension("tmp");
    fs::write(&temp, bytes)?;
    fs::rename(&temp, path)?;
    Ok(())
}
