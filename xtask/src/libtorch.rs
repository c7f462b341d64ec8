//! Provisioning of libtorch 2.11.0, the version tch 0.24 expects, through the Python package
//! client (ARCHITECTURE.md, "Key decisions": libtorch provisioning).
//!
//! `pip download --no-deps` fetches the torch wheel and the two CUDA runtime wheels whose
//! libraries libtorch_cpu.so needs at load time; the CPU libraries, headers and CMake files are
//! extracted, each checked against the wheel's RECORD hash, into a temporary folder that is renamed
//! into the cache when complete. The workspace link `.libtorch` points at the result.
//!
//! `setup --cuda` ([`setup_cuda`]) provisions the CUDA build from the same torch wheel plus the
//! `nvidia-*` wheels its METADATA requires on this platform ([`crate::wheel_deps`]), laid out as
//! Python's site-packages (`torch/` beside `nvidia/`) so torch's own `$ORIGIN` run paths find the
//! CUDA libraries; `.libtorch` then points at its `torch/` folder (several GB, never in tests).

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use base64::Engine;
use sha2::{Digest, Sha256};

/// The libtorch version tch 0.24 expects.
pub const TORCH_VERSION: &str = "2.11.0";
/// CUDA runtime wheels pinned by torch 2.11.0 (through cuda-toolkit 13.0.2).
const RUNTIME_WHEELS: [(&str, &str); 2] =
    [("nvidia-cuda-runtime", "13.0.96"), ("nvidia-cuda-cupti", "13.0.85")];
/// Shared libraries taken from the torch wheel's torch/lib (the CUDA kernels are left out).
const TORCH_LIBS: [&str; 4] = ["libtorch_cpu.so", "libtorch.so", "libc10.so", "libgomp.so.1"];
/// Shared libraries taken from the runtime wheels' nvidia/cu13/lib.
const RUNTIME_LIBS: [&str; 2] = ["libcudart.so.13", "libcupti.so.13"];
/// Written last into a complete extraction: one `size path` line per file.
const MANIFEST: &str = ".losscape-manifest";

const HELP: &str = "losscape needs libtorch 2.11.0. `cargo xtask setup` fetches it with \
`python3 -m pip download`, so it needs python3 with pip and access to the Python package index. \
Alternatively install libtorch 2.11.0 yourself (for example `pip install torch==2.11.0`, whose \
torch/ folder is a libtorch) and set LIBTORCH to that folder (the one holding lib/ and include/) \
before running `cargo xtask setup` again.";

/// Makes `<root>/.libtorch` point at a verified libtorch 2.11.0 and returns its path. A link to
/// a complete CUDA provision (`setup --cuda`) is kept.
pub fn setup(root: &Path) -> Result<PathBuf> {
    // `.cargo/config.toml` sets LIBTORCH to the workspace link itself; only another value is the
    // user's own libtorch.
    let user = std::env::var_os("LIBTORCH").map(PathBuf::from).filter(|d| d != &root.join(".libtorch"));
    let libtorch = match user {
        Some(dir) => {
            check_user_libtorch(&dir)?;
            eprintln!("xtask: using LIBTORCH={}", dir.display());
            dir
        }
        None => match linked_cuda_provision(root) {
            Some(torch) => {
                eprintln!("xtask: keeping the CUDA libtorch {} (from `setup --cuda`)", torch.display());
                torch
            }
            None => cached_or_provisioned()?,
        },
    };
    link_workspace(root, &libtorch)?;
    Ok(libtorch)
}

/// The cache folder of the CUDA provision (`torch/` and `nvidia/` inside).
fn cuda_target() -> Result<PathBuf> {
    Ok(cache_dir()?.join(format!("libtorch-{TORCH_VERSION}-cuda")))
}

/// The `torch/` folder of a complete CUDA provision that `.libtorch` points at, if it does.
fn linked_cuda_provision(root: &Path) -> Option<PathBuf> {
    let target = cuda_target().ok()?;
    let torch = target.join("torch");
    (fs::read_link(root.join(".libtorch")).ok()? == torch && verify_manifest(&target).is_ok()).then_some(torch)
}

/// `cargo xtask setup --cuda`: the CUDA libtorch 2.11.0 (the torch wheel's libraries with their
/// CUDA kernels, plus every `nvidia-*` wheel its metadata requires here), cached and linked as
/// `.libtorch`. Returns the `torch/` folder.
pub fn setup_cuda(root: &Path) -> Result<PathBuf> {
    let cache = cache_dir()?;
    let target = cuda_target()?;
    if verify_manifest(&target).is_ok() {
        eprintln!("xtask: CUDA libtorch {TORCH_VERSION} found in {}", target.display());
    } else {
        provision_cuda(&cache, &target)?;
    }
    let torch = target.join("torch");
    link_workspace(root, &torch)?;
    eprintln!("xtask: rebuild (cargo build --release) so torch-sys links against it; `losscape device` shows the GPUs");
    Ok(torch)
}

fn provision_cuda(cache: &Path, target: &Path) -> Result<()> {
    fs::create_dir_all(cache).with_context(|| format!("cannot create {}", cache.display()))?;
    remove_stale_temporaries(cache)?;
    eprintln!("xtask: provisioning the CUDA libtorch {TORCH_VERSION} into {} (several GB)", target.display());
    let downloads = cache.join("downloads-cuda");
    fs::create_dir_all(&downloads)?;
    let torch_wheel = pip_download(&downloads, "torch", TORCH_VERSION)?;
    let env = crate::wheel_deps::Env::linux(std::env::consts::ARCH, &python_version()?);
    let mut wheels: Vec<PathBuf> = Vec::new();
    let needed = crate::wheel_deps::resolve(&wheel_metadata(&torch_wheel)?, &env, |req| {
        let dir = downloads.join(&req.name);
        fs::create_dir_all(&dir)?;
        let wheel = pip_download_spec(&dir, &req.pip_spec())?;
        let meta = wheel_metadata(&wheel)?;
        if !wheels.contains(&wheel) {
            wheels.push(wheel);
        }
        Ok(meta)
    })?;
    eprintln!("xtask: torch {TORCH_VERSION} needs {} native wheel(s): {}", needed.len(), needed.iter().map(|r| r.pip_spec()).collect::<Vec<_>>().join(" "));

    let temp = cache.join(format!("libtorch-{TORCH_VERSION}-cuda.tmp-{}", std::process::id()));
    let written = assemble_cuda(&torch_wheel, &wheels, &temp)?;
    if target.exists() {
        fs::remove_dir_all(target).with_context(|| format!("cannot replace the incomplete {}", target.display()))?;
    }
    fs::rename(&temp, target).with_context(|| format!("cannot move {} into place", temp.display()))?;
    let _ = fs::remove_dir_all(&downloads);
    eprintln!("xtask: CUDA libtorch {TORCH_VERSION} ready ({} files)", written.len());
    Ok(())
}

/// Extracts the CUDA libtorch into `temp` (replaced if present): the torch wheel's `torch/lib`,
/// `include`, `share` and `version.py`, and every `nvidia/**/lib/` file of `wheels`, at their
/// site-packages paths, each checked against its wheel's RECORD; then `torch/build-version` and
/// the manifest. Returns the files written.
fn assemble_cuda(torch_wheel: &Path, wheels: &[PathBuf], temp: &Path) -> Result<Vec<String>> {
    if temp.exists() {
        fs::remove_dir_all(temp)?;
    }
    fs::create_dir_all(temp.join("torch").join("lib"))?;
    let mut written = Vec::new();
    extract(torch_wheel, temp, &mut written, |name| {
        let rest = name.strip_prefix("torch/")?;
        let keep = rest.starts_with("lib/") || rest.starts_with("include/") || rest.starts_with("share/") || rest == "version.py";
        keep.then(|| name.to_owned())
    })?;
    for wheel in wheels {
        extract(wheel, temp, &mut written, |name| {
            (name.starts_with("nvidia/") && name.contains("/lib/")).then(|| name.to_owned())
        })?;
    }
    for lib in ["libtorch_cuda.so", "libc10_cuda.so", "libtorch_cpu.so", "libc10.so"] {
        if !temp.join("torch/lib").join(lib).exists() {
            bail!("the torch wheel did not contain torch/lib/{lib}: it is not a CUDA build. {HELP}");
        }
    }
    fs::write(temp.join("torch/build-version"), format!("{TORCH_VERSION}\n"))?;
    written.push("torch/build-version".to_owned());
    write_manifest(temp, &written)?;
    Ok(written)
}

/// `major.minor` of the Python that pip runs under (markers such as `python_version < '3.14'`).
fn python_version() -> Result<String> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let out = Command::new(&python)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .with_context(|| format!("cannot run {python}. {HELP}"))?;
    if !out.status.success() {
        bail!("{python} failed to report its version. {HELP}");
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The `*.dist-info/METADATA` text of a wheel.
fn wheel_metadata(wheel: &Path) -> Result<String> {
    let file = fs::File::open(wheel).with_context(|| format!("cannot open {}", wheel.display()))?;
    let mut archive = zip::ZipArchive::new(io::BufReader::new(file))
        .with_context(|| format!("{} is not a valid wheel", wheel.display()))?;
    let name = archive
        .file_names()
        .find(|n| n.ends_with(".dist-info/METADATA") && n.matches('/').count() == 1)
        .with_context(|| format!("{} has no .dist-info/METADATA", wheel.display()))?
        .to_owned();
    let mut text = String::new();
    archive.by_name(&name)?.read_to_string(&mut text)?;
    Ok(text)
}

/// The cache folder: $LOSSCAPE_CACHE_DIR, else $XDG_CACHE_HOME/losscape, else ~/.cache/losscape.
pub fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("LOSSCAPE_CACHE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(dir).join("losscape"));
    }
    let home = std::env::var_os("HOME")
        .context("neither LOSSCAPE_CACHE_DIR, XDG_CACHE_HOME nor HOME is set")?;
    Ok(PathBuf::from(home).join(".cache").join("losscape"))
}

fn check_user_libtorch(dir: &Path) -> Result<()> {
    let lib = dir.join("lib");
    for name in ["libtorch_cpu.so", "libc10.so"] {
        if !lib.join(name).exists() {
            bail!("LIBTORCH={} has no lib/{name}; it must point at a libtorch {TORCH_VERSION} folder (with lib/ and include/)", dir.display());
        }
    }
    if let Ok(version) = fs::read_to_string(dir.join("build-version")) {
        let version = version.trim();
        if version.split('+').next() != Some(TORCH_VERSION) {
            bail!("LIBTORCH={} is libtorch {version}, but losscape (tch 0.24) needs {TORCH_VERSION}", dir.display());
        }
    }
    Ok(())
}

fn cached_or_provisioned() -> Result<PathBuf> {
    let cache = cache_dir()?;
    let target = cache.join(format!("libtorch-{TORCH_VERSION}"));
    if verify_manifest(&target).is_ok() {
        eprintln!("xtask: libtorch {TORCH_VERSION} found in {}", target.display());
        return Ok(target);
    }
    fs::create_dir_all(&cache).with_context(|| format!("cannot create {}", cache.display()))?;
    remove_stale_temporaries(&cache)?;
    eprintln!("xtask: provisioning libtorch {TORCH_VERSION} into {} (about 0.5 GB)", target.display());
    let downloads = cache.join("downloads");
    fs::create_dir_all(&downloads)?;
    let torch_wheel = pip_download(&downloads, "torch", TORCH_VERSION)?;
    let mut runtime_wheels = Vec::new();
    for (name, version) in RUNTIME_WHEELS {
        runtime_wheels.push(pip_download(&downloads, name, version)?);
    }

    let temp = cache.join(format!("libtorch-{TORCH_VERSION}.tmp-{}", std::process::id()));
    if temp.exists() {
        fs::remove_dir_all(&temp)?;
    }
    fs::create_dir_all(temp.join("lib"))?;
    let mut written = Vec::new();
    extract(&torch_wheel, &temp, &mut written, |name| {
        if let Some(rest) = name.strip_prefix("torch/lib/") {
            return TORCH_LIBS.contains(&rest).then(|| format!("lib/{rest}"));
        }
        for keep in ["include/", "share/"] {
            if let Some(rest) = name.strip_prefix("torch/").filter(|r| r.starts_with(keep)) {
                return Some(rest.to_owned());
            }
        }
        None
    })?;
    for wheel in &runtime_wheels {
        extract(wheel, &temp, &mut written, |name| {
            let file = name.rsplit('/').next()?;
            (name.contains("/lib/") && RUNTIME_LIBS.contains(&file)).then(|| format!("lib/{file}"))
        })?;
    }
    for lib in TORCH_LIBS.iter().chain(RUNTIME_LIBS.iter()) {
        if !temp.join("lib").join(lib).exists() {
            bail!("the downloaded wheels did not contain {lib}; {HELP}");
        }
    }
    // torch-sys checks this file against the version tch expects.
    fs::write(temp.join("build-version"), format!("{TORCH_VERSION}\n"))?;
    written.push("build-version".to_owned());
    write_manifest(&temp, &written)?;

    if target.exists() {
        fs::remove_dir_all(&target)
            .with_context(|| format!("cannot replace the incomplete {}", target.display()))?;
    }
    fs::rename(&temp, &target)
        .with_context(|| format!("cannot move {} into place", temp.display()))?;
    // The wheels are no longer needed (pip keeps its own cache of them).
    let _ = fs::remove_dir_all(&downloads);
    eprintln!("xtask: libtorch {TORCH_VERSION} ready ({} files)", written.len());
    Ok(target)
}

/// Removes half-written extractions left behind by an interrupted setup.
fn remove_stale_temporaries(cache: &Path) -> Result<()> {
    for entry in fs::read_dir(cache)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with("libtorch-") && name.contains(".tmp-") {
            fs::remove_dir_all(&path)
                .with_context(|| format!("cannot remove stale {}", path.display()))?;
        }
    }
    Ok(())
}

/// `python3 -m pip download --no-deps NAME==VERSION` into `dir`; returns the wheel's path.
fn pip_download(dir: &Path, name: &str, version: &str) -> Result<PathBuf> {
    pip_run(dir, &format!("{name}=={version}"))?;
    let prefix = format!("{}-{version}-", name.replace('-', "_"));
    let mut found: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let file = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            file.starts_with(&prefix) && file.ends_with(".whl")
        })
        .collect();
    found.sort();
    found.pop().with_context(|| format!("pip reported success but no {prefix}*.whl is in {}", dir.display()))
}

/// `pip download --no-deps SPEC` into `dir`, a folder of its own; returns its one wheel.
fn pip_download_spec(dir: &Path, spec: &str) -> Result<PathBuf> {
    pip_run(dir, spec)?;
    let wheels: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "whl"))
        .collect();
    match wheels.as_slice() {
        [one] => Ok(one.clone()),
        _ => bail!("expected one wheel for {spec} in {}, found {}", dir.display(), wheels.len()),
    }
}

fn pip_run(dir: &Path, spec: &str) -> Result<()> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let probe = Command::new(&python).args(["-m", "pip", "--version"]).output();
    match probe {
        Ok(out) if out.status.success() => {}
        _ => bail!("`{python} -m pip` is not available. {HELP}"),
    }
    eprintln!("xtask: pip download {spec}");
    let status = Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--progress-bar", "off"])
        .args(["--disable-pip-version-check", "-d"])
        .arg(dir)
        .arg(spec)
        .status()
        .with_context(|| format!("cannot run {python}"))?;
    if !status.success() {
        bail!("`pip download {spec}` failed ({status}). {HELP}");
    }
    Ok(())
}

/// Extracts the members that `map` renames (wheel path -> path below `dest`), checking each
/// against the SHA-256 that the wheel's RECORD lists for it.
fn extract(
    wheel: &Path,
    dest: &Path,
    written: &mut Vec<String>,
    map: impl Fn(&str) -> Option<String>,
) -> Result<()> {
    let file = fs::File::open(wheel).with_context(|| format!("cannot open {}", wheel.display()))?;
    let mut archive = zip::ZipArchive::new(io::BufReader::new(file))
        .with_context(|| format!("{} is not a valid wheel", wheel.display()))?;
    let record = read_record(&mut archive).with_context(|| format!("reading RECORD of {}", wheel.display()))?;
    for i in 0..archive.len() {
        let mut member = archive.by_index(i)?;
        if member.is_dir() {
            continue;
        }
        let name = member.name().to_owned();
        let Some(rel) = map(&name) else { continue };
        let expected = record
            .get(&name)
            .with_context(|| format!("{name} is not listed in the RECORD of {}", wheel.display()))?;
        let out_path = dest.join(&rel);
        if let Some(parent) = out_path.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut out = io::BufWriter::new(fs::File::create(&out_path)?);
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = member.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])?;
        }
        out.flush()?;
        let digest = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hasher.finalize());
        if &digest != expected {
            bail!("{name} in {} does not match its RECORD hash (corrupt download?)", wheel.display());
        }
        if let Some(mode) = member.unix_mode() {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&out_path, fs::Permissions::from_mode(mode & 0o755 | 0o644))?;
        }
        written.push(rel);
    }
    Ok(())
}

/// Parses `*.dist-info/RECORD` into path -> urlsafe-base64 SHA-256.
fn read_record<R: io::Read + io::Seek>(archive: &mut zip::ZipArchive<R>) -> Result<HashMap<String, String>> {
    let name = archive
        .file_names()
        .find(|n| n.ends_with(".dist-info/RECORD"))
        .context("no .dist-info/RECORD")?
        .to_owned();
    let mut text = String::new();
    archive.by_name(&name)?.read_to_string(&mut text)?;
    let mut map = HashMap::new();
    for line in text.lines() {
        let mut parts = line.rsplitn(3, ',');
        let (_size, hash, path) = (parts.next(), parts.next(), parts.next());
        if let (Some(hash), Some(path)) = (hash, path) {
            if let Some(b64) = hash.strip_prefix("sha256=") {
                map.insert(path.to_owned(), b64.to_owned());
            }
        }
    }
    Ok(map)
}

fn write_manifest(dir: &Path, files: &[String]) -> Result<()> {
    let mut text = String::new();
    for rel in files {
        let size = fs::metadata(dir.join(rel))?.len();
        text.push_str(&format!("{size} {rel}\n"));
    }
    fs::write(dir.join(MANIFEST), text)?;
    Ok(())
}

/// A cached libtorch is used only if its manifest exists and every file has its recorded size.
fn verify_manifest(dir: &Path) -> Result<()> {
    let text = fs::read_to_string(dir.join(MANIFEST))?;
    for line in text.lines() {
        let (size, rel) = line.split_once(' ').context("bad manifest line")?;
        let actual = fs::metadata(dir.join(rel))?.len();
        if actual.to_string() != size {
            bail!("{rel} has size {actual}, expected {size}");
        }
    }
    Ok(())
}

/// Points `<root>/.libtorch` at `libtorch`, replacing any older link atomically.
fn link_workspace(root: &Path, libtorch: &Path) -> Result<()> {
    let link = root.join(".libtorch");
    if fs::read_link(&link).ok().as_deref() == Some(libtorch) {
        return Ok(());
    }
    if link.exists() && fs::symlink_metadata(&link)?.is_dir() {
        bail!("{} is a real folder, not a link; move it away so setup can link libtorch there", link.display());
    }
    let temp = root.join(format!(".libtorch.tmp-{}", std::process::id()));
    let _ = fs::remove_file(&temp);
    std::os::unix::fs::symlink(libtorch, &temp)?;
    fs::rename(&temp, &link).with_context(|| format!("cannot create {}", link.display()))?;
    eprintln!("xtask: linked {} -> {}", link.display(), libtorch.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wheel holding `files` and a RECORD listing each with its SHA-256 (or a wrong one for
    /// the names in `lie_about`).
    fn wheel(path: &Path, files: &[(&str, &[u8])], lie_about: &[&str]) {
        let mut zip = zip::ZipWriter::new(fs::File::create(path).unwrap());
        let mut record = String::new();
        for (name, bytes) in files {
            zip.start_file(*name, zip::write::FileOptions::default()).unwrap();
            zip.write_all(bytes).unwrap();
            let digest = if lie_about.contains(name) { Sha256::digest(b"other") } else { Sha256::digest(bytes) };
            let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
            record.push_str(&format!("{name},sha256={b64},{}\n", bytes.len()));
        }
        zip.start_file("pkg-1.0.dist-info/METADATA", zip::write::FileOptions::default()).unwrap();
        zip.write_all(b"Name: pkg\nRequires-Dist: nvidia-x==1; extra == 'y'\n").unwrap();
        zip.start_file("pkg-1.0.dist-info/RECORD", zip::write::FileOptions::default()).unwrap();
        zip.write_all(record.as_bytes()).unwrap();
        zip.finish().unwrap();
    }

    #[test]
    fn assembles_the_site_packages_layout_and_checks_every_hash() {
        let dir = tempfile::tempdir().unwrap();
        let torch = dir.path().join("torch.whl");
        let torch_files: [(&str, &[u8]); 7] = [
            ("torch/lib/libtorch_cuda.so", b"cuda kernels"),
            ("torch/lib/libc10_cuda.so", b"c10 cuda"),
            ("torch/lib/libtorch_cpu.so", b"cpu"),
            ("torch/lib/libc10.so", b"c10"),
            ("torch/include/torch/x.h", b"header"),
            ("torch/version.py", b"__version__ = '2.11.0+cu130'\n"),
            ("torch/_C.py", b"python, not needed"),
        ];
        wheel(&torch, &torch_files, &[]);
        let nvidia = dir.path().join("nvidia.whl");
        wheel(&nvidia, &[("nvidia/cu13/lib/libcublas.so.13", b"blas"), ("nvidia/cu13/include/cublas.h", b"h")], &[]);
        assert!(wheel_metadata(&nvidia).unwrap().contains("Requires-Dist: nvidia-x==1"));

        let out = dir.path().join("out");
        let written = assemble_cuda(&torch, std::slice::from_ref(&nvidia), &out).unwrap();
        assert!(written.contains(&"nvidia/cu13/lib/libcublas.so.13".to_owned()));
        assert_eq!(fs::read(out.join("nvidia/cu13/lib/libcublas.so.13")).unwrap(), b"blas");
        assert_eq!(fs::read(out.join("torch/lib/libtorch_cuda.so")).unwrap(), b"cuda kernels");
        assert!(out.join("torch/include/torch/x.h").exists() && out.join("torch/version.py").exists());
        assert!(!out.join("torch/_C.py").exists() && !out.join("nvidia/cu13/include/cublas.h").exists());
        assert_eq!(fs::read_to_string(out.join("torch/build-version")).unwrap().trim(), TORCH_VERSION);
        verify_manifest(&out).unwrap();
        fs::write(out.join("torch/lib/libc10.so"), b"changed size").unwrap();
        assert!(verify_manifest(&out).is_err());

        // A member that does not match its RECORD hash stops the assembly.
        let bad = dir.path().join("bad.whl");
        wheel(&bad, &[("nvidia/cu13/lib/libcudnn.so.9", b"dnn")], &["nvidia/cu13/lib/libcudnn.so.9"]);
        let e = assemble_cuda(&torch, &[nvidia.clone(), bad], &out).unwrap_err().to_string();
        assert!(e.contains("does not match its RECORD hash"), "{e}");
        // A torch wheel without CUDA kernels is refused.
        let cpu = dir.path().join("cpu.whl");
        wheel(&cpu, &torch_files[2..], &[]);
        let e = assemble_cuda(&cpu, &[], &out).unwrap_err().to_string();
        assert!(e.contains("libtorch_cuda.so: it is not a CUDA build"), "{e}");
    }
}
