//! Runtime loading of libtorch's CUDA kernels, so one binary linked against a CPU-only libtorch
//! can use a GPU where a CUDA libtorch 2.11 is installed.
//!
//! The linker drops `libtorch_cuda.so` (nothing in losscape references it by name), so a CUDA
//! libtorch registers its CUDA backend only if the library is loaded: [`ensure_cuda`] finds the
//! libtorch in use ([`locate_torch`]: `LOSSCAPE_TORCH_DIR`, then `LIBTORCH`, then the folder of
//! the `libtorch_cpu.so` this process runs with), checks its version against
//! [`TORCH_VERSION`] and that it has CUDA kernels at all, and `dlopen`s `lib/libtorch_cuda.so`
//! with `RTLD_NOW | RTLD_GLOBAL` once per process, before the first CUDA call.
//! [`select_device`] turns `cpu`, `cuda`, `cuda:N` or `auto` into a device: an explicit CUDA
//! request fails with one line saying why (CPU-only libtorch, version mismatch, a library that
//! does not load, no visible GPU), `auto` falls back to the CPU with a note saying why.

use std::ffi::{CStr, CString, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tch::Device;

use crate::error::{Error, Result};

/// The libtorch version losscape is built against (tch 0.24); a CUDA libtorch must match it.
pub const TORCH_VERSION: &str = "2.11.0";
/// Environment variable naming a Python torch install (the folder holding `lib/` and
/// `version.py`, as `os.path.dirname(torch.__file__)` prints) or a libtorch folder.
pub const TORCH_DIR_ENV: &str = "LOSSCAPE_TORCH_DIR";

/// A libtorch folder and how it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorchDir {
    /// The folder holding `lib/`.
    pub path: PathBuf,
    /// Where the folder came from: `LOSSCAPE_TORCH_DIR`, `LIBTORCH` or `the loaded libtorch_cpu.so`.
    pub origin: &'static str,
}

/// Finds the libtorch whose CUDA kernels a run would load, reading the environment through
/// `env`: `LOSSCAPE_TORCH_DIR`, else `LIBTORCH`, else the folder above the `lib/` of the
/// `libtorch_cpu.so` mapped into this process (the provisioned `.libtorch` for a binary built
/// here).
pub fn locate_torch_with(env: &dyn Fn(&str) -> Option<OsString>) -> Result<TorchDir> {
    for (var, origin) in [(TORCH_DIR_ENV, "LOSSCAPE_TORCH_DIR"), ("LIBTORCH", "LIBTORCH")] {
        if let Some(value) = env(var).filter(|v| !v.is_empty()) {
            return Ok(TorchDir { path: PathBuf::from(value), origin });
        }
    }
    let loaded = loaded_libtorch_cpu().ok_or_else(|| {
        Error::Invalid(format!(
            "cannot tell which libtorch is in use (no libtorch_cpu.so mapped and neither {TORCH_DIR_ENV} nor LIBTORCH set)"
        ))
    })?;
    let root = loaded.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
    Ok(TorchDir { path: root, origin: "the loaded libtorch_cpu.so" })
}

/// [`locate_torch_with`] on this process's environment.
pub fn locate_torch() -> Result<TorchDir> {
    locate_torch_with(&|name| std::env::var_os(name))
}

/// The path of the `libtorch_cpu.so` mapped into this process, from `/proc/self/maps`.
pub fn loaded_libtorch_cpu() -> Option<PathBuf> {
    let maps = fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|path| path.ends_with("/libtorch_cpu.so"))
        .map(PathBuf::from)
}

/// The version a libtorch folder declares: `build-version` or `version.txt` (libtorch
/// distributions, `cargo xtask setup`) or `version.py` (a Python torch install,
/// `__version__ = '2.11.0+cu130'`). `None` when none of them exists.
pub fn read_version(dir: &Path) -> Result<Option<String>> {
    for name in ["build-version", "version.txt"] {
        let path = dir.join(name);
        if path.is_file() {
            let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            let version = text.lines().next().unwrap_or_default().trim().to_owned();
            if version.is_empty() {
                return Err(Error::Invalid(format!("{} is empty", path.display())));
            }
            return Ok(Some(version));
        }
    }
    let path = dir.join("version.py");
    if path.is_file() {
        let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        for line in text.lines() {
            if let Some(rest) = line.trim().strip_prefix("__version__") {
                let value = rest.trim_start().trim_start_matches(':').trim_start();
                let value = value.split_once('=').map_or(value, |(_, v)| v);
                let value = value.trim().trim_matches(|c| c == '\'' || c == '"').to_owned();
                if !value.is_empty() {
                    return Ok(Some(value));
                }
            }
        }
        return Err(Error::Invalid(format!("{} has no __version__ line", path.display())));
    }
    Ok(None)
}

/// Whether `version` (`2.11.0`, `2.11.0+cu130`) is the libtorch losscape is built against.
pub fn version_matches(version: &str) -> bool {
    version.split('+').next().map(str::trim) == Some(TORCH_VERSION)
}

/// Checks that `dir` is a libtorch [`TORCH_VERSION`] with CUDA kernels and returns the path of
/// its `lib/libtorch_cuda.so`, without loading anything.
pub fn cuda_library(dir: &Path) -> Result<PathBuf> {
    if !dir.join("lib").is_dir() {
        return Err(Error::Invalid(format!("{} is not a libtorch folder (it has no lib/)", dir.display())));
    }
    match read_version(dir)? {
        Some(v) if version_matches(&v) => {}
        Some(v) => {
            return Err(Error::Invalid(format!(
                "libtorch at {} is version {v}, but losscape is built against {TORCH_VERSION}: point {TORCH_DIR_ENV} at a torch {TORCH_VERSION} install",
                dir.display()
            )))
        }
        None => {
            return Err(Error::Invalid(format!(
                "cannot tell the version of libtorch at {} (no build-version, version.txt or version.py)",
                dir.display()
            )))
        }
    }
    let library = dir.join("lib").join("libtorch_cuda.so");
    if !library.exists() {
        return Err(Error::Invalid(format!(
            "libtorch at {} is CPU-only (no lib/libtorch_cuda.so): run `cargo xtask setup --cuda`, or set {TORCH_DIR_ENV} to a CUDA torch {TORCH_VERSION} install (docs/gpu.md)",
            dir.display()
        )));
    }
    Ok(library)
}

/// `dlopen(path, RTLD_NOW | RTLD_GLOBAL)`; the handle is kept for the life of the process. The
/// error is `dlerror()`'s text.
pub fn dlopen_global(path: &Path) -> Result<()> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::Invalid(format!("{} contains a NUL byte", path.display())))?;
    // SAFETY: a valid NUL-terminated path; the handle is intentionally never closed.
    let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
    if handle.is_null() {
        return Err(Error::Invalid(format!("cannot load {}: {}", path.display(), dlerror())));
    }
    Ok(())
}

fn dlerror() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string owned by the loader.
    let msg = unsafe { libc::dlerror() };
    if msg.is_null() {
        "unknown dynamic loader error".to_owned()
    } else {
        // SAFETY: checked non-null above.
        let text = unsafe { CStr::from_ptr(msg) }.to_string_lossy().into_owned();
        text.lines().next().unwrap_or_default().to_owned()
    }
}

/// A libtorch whose CUDA kernels are loaded into this process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CudaKernels {
    /// Where the libtorch was found.
    pub torch: TorchDir,
    /// Its declared version.
    pub version: String,
    /// The `libtorch_cuda.so` that was loaded.
    pub library: PathBuf,
}

/// Checks `torch` ([`cuda_library`]) and loads its CUDA kernels. Not cached: each call
/// `dlopen`s again (the loader then only counts a reference).
pub fn load_cuda_kernels(torch: &TorchDir) -> Result<CudaKernels> {
    let library = cuda_library(&torch.path)?;
    let version = read_version(&torch.path)?.unwrap_or_default();
    dlopen_global(&library)?;
    Ok(CudaKernels { torch: torch.clone(), version, library })
}

static LOADED: OnceLock<std::result::Result<CudaKernels, String>> = OnceLock::new();

/// Loads the CUDA kernels of the libtorch in use ([`locate_torch`]) once per process; later
/// calls return the first outcome.
pub fn ensure_cuda() -> Result<&'static CudaKernels> {
    LOADED
        .get_or_init(|| locate_torch().and_then(|t| load_cuda_kernels(&t)).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::Invalid(e.clone()))
}

/// The kernels [`ensure_cuda`] loaded, if it was called and succeeded.
pub fn loaded_kernels() -> Option<&'static CudaKernels> {
    LOADED.get().and_then(|r| r.as_ref().ok())
}

/// A device chosen from its name, with a note for the user when `auto` fell back to the CPU.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceChoice {
    pub device: Device,
    /// For the front end to print: why `auto` chose the CPU, or that the CUDA kernels and the
    /// running CPU library come from different folders.
    pub note: Option<String>,
}

/// What a device name asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceRequest {
    Cpu,
    /// CUDA device N (`cuda`, `gpu` = 0).
    Cuda(usize),
    /// CUDA device 0 if it can be used, else the CPU.
    Auto,
}

/// Parses `cpu`, `cuda`, `gpu`, `cuda:N` or `auto` (any case) without touching libtorch.
pub fn parse_request(name: &str) -> Result<DeviceRequest> {
    let lower = name.trim().to_ascii_lowercase();
    Ok(match lower.as_str() {
        "cpu" => DeviceRequest::Cpu,
        "auto" => DeviceRequest::Auto,
        "cuda" | "gpu" => DeviceRequest::Cuda(0),
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(index)) => DeviceRequest::Cuda(index),
            _ => return Err(Error::Invalid(format!("unknown device '{name}': use cpu, cuda, cuda:N or auto"))),
        },
    })
}

/// Resolves `name` with `load` (which loads CUDA kernels, or says why not) and `count` (the
/// CUDA devices libtorch then sees). [`select_device`] passes [`ensure_cuda`] and
/// `tch::Cuda::device_count`; tests pass their own.
pub fn select_device_with(
    name: &str,
    load: impl FnOnce() -> Result<String>,
    count: impl FnOnce() -> i64,
) -> Result<DeviceChoice> {
    let request = parse_request(name)?;
    let (index, auto) = match request {
        DeviceRequest::Cpu => return Ok(DeviceChoice { device: Device::Cpu, note: None }),
        DeviceRequest::Cuda(i) => (i, false),
        DeviceRequest::Auto => (0, true),
    };
    let reason = match load() {
        Err(e) => e.to_string(),
        Ok(from) => {
            let available = count();
            if (index as i64) < available {
                return Ok(DeviceChoice { device: Device::Cuda(index), note: None });
            }
            if available == 0 {
                format!(
                    "CUDA kernels loaded from {from}, but no GPU is visible (no NVIDIA driver, or CUDA_VISIBLE_DEVICES hides them)"
                )
            } else {
                format!("device '{name}' requested but libtorch sees {available} CUDA device(s)")
            }
        }
    };
    if auto {
        Ok(DeviceChoice { device: Device::Cpu, note: Some(format!("--device auto: using the CPU ({reason})")) })
    } else {
        Err(Error::Invalid(reason))
    }
}

/// Resolves a device name for this process: CUDA requests load the kernels first
/// ([`ensure_cuda`]). No CUDA query may come before this: libtorch settles its CUDA backend at
/// the first one, and a query made before the kernels are loaded disables CUDA for the process.
/// When the kernels come from another folder than the running `libtorch_cpu.so`, the choice
/// carries a note saying so ([`mixed_libraries_note`]).
pub fn select_device(name: &str) -> Result<DeviceChoice> {
    let mut choice = select_device_with(
        name,
        || ensure_cuda().map(|k| k.library.display().to_string()),
        tch::Cuda::device_count,
    )?;
    if choice.device.is_cuda() {
        if let Some(kernels) = loaded_kernels() {
            choice.note = mixed_libraries_note(&kernels.library, loaded_libtorch_cpu().as_deref());
        }
    }
    Ok(choice)
}

/// A note when `cuda_library` and the running `libtorch_cpu.so` lie in different folders: they
/// then come from two installs, which works only if both are the same build.
pub fn mixed_libraries_note(cuda_library: &Path, cpu_library: Option<&Path>) -> Option<String> {
    let canonical = |p: &Path| p.parent().and_then(|d| fs::canonicalize(d).ok());
    let (cuda_dir, cpu_dir) = (canonical(cuda_library)?, canonical(cpu_library?)?);
    (cuda_dir != cpu_dir).then(|| {
        format!(
            "CUDA kernels from {} run with the libtorch_cpu.so of {}; if they are not the same torch build, set LD_LIBRARY_PATH={} (docs/gpu.md)",
            cuda_dir.display(),
            cpu_dir.display(),
            cuda_dir.display()
        )
    })
}

/// Free and total memory of CUDA device `index` in bytes, through `cudaMemGetInfo` of the CUDA
/// runtime already loaded with the kernels (`None` when it is not loaded or the call fails).
pub fn gpu_memory(index: usize) -> Option<(u64, u64)> {
    let rt = cudart()?;
    let mut previous: libc::c_int = 0;
    let (mut free, mut total): (libc::size_t, libc::size_t) = (0, 0);
    // SAFETY: the functions have the CUDA runtime's documented signatures; the pointers are
    // valid for the duration of each call.
    unsafe {
        if (rt.get_device)(&mut previous) != 0 || (rt.set_device)(index as libc::c_int) != 0 {
            return None;
        }
        let status = (rt.mem_get_info)(&mut free, &mut total);
        (rt.set_device)(previous);
        (status == 0).then_some((free as u64, total as u64))
    }
}

/// The compute capability (major, minor) of CUDA device `index`, through
/// `cudaDeviceGetAttribute` (`None` when the runtime is not loaded or the call fails).
pub fn compute_capability(index: usize) -> Option<(i32, i32)> {
    let rt = cudart()?;
    // cudaDevAttrComputeCapabilityMajor = 75, ...Minor = 76 (stable enum values).
    let (mut major, mut minor): (libc::c_int, libc::c_int) = (0, 0);
    // SAFETY: as in gpu_memory.
    unsafe {
        if (rt.attribute)(&mut major, 75, index as libc::c_int) != 0
            || (rt.attribute)(&mut minor, 76, index as libc::c_int) != 0
        {
            return None;
        }
    }
    Some((major, minor))
}

/// The CUDA runtime's version (`cudaRuntimeGetVersion`, e.g. 13000 for 13.0), when loaded.
pub fn runtime_version() -> Option<i32> {
    let rt = cudart()?;
    let mut version: libc::c_int = 0;
    // SAFETY: as in gpu_memory.
    (unsafe { (rt.runtime_version)(&mut version) } == 0).then_some(version)
}

type IntOut = unsafe extern "C" fn(*mut libc::c_int) -> libc::c_int;
type IntIn = unsafe extern "C" fn(libc::c_int) -> libc::c_int;
type MemInfo = unsafe extern "C" fn(*mut libc::size_t, *mut libc::size_t) -> libc::c_int;
type Attribute = unsafe extern "C" fn(*mut libc::c_int, libc::c_int, libc::c_int) -> libc::c_int;

struct Cudart {
    runtime_version: IntOut,
    get_device: IntOut,
    set_device: IntIn,
    mem_get_info: MemInfo,
    attribute: Attribute,
}

/// The CUDA runtime of this process (libcudart.so.13, already mapped by libtorch), by `dlsym`.
fn cudart() -> Option<Cudart> {
    let name = CString::new("libcudart.so.13").ok()?;
    // SAFETY: RTLD_NOLOAD only returns a handle to a library already loaded, never loads one.
    let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD) };
    if handle.is_null() {
        return None;
    }
    let sym = |s: &str| {
        let c = CString::new(s).ok()?;
        // SAFETY: valid handle and symbol name.
        let p = unsafe { libc::dlsym(handle, c.as_ptr()) };
        (!p.is_null()).then_some(p)
    };
    // SAFETY: each symbol is the CUDA runtime function of that name with the signature above.
    unsafe {
        Some(Cudart {
            runtime_version: std::mem::transmute::<*mut libc::c_void, IntOut>(sym("cudaRuntimeGetVersion")?),
            get_device: std::mem::transmute::<*mut libc::c_void, IntOut>(sym("cudaGetDevice")?),
            set_device: std::mem::transmute::<*mut libc::c_void, IntIn>(sym("cudaSetDevice")?),
            mem_get_info: std::mem::transmute::<*mut libc::c_void, MemInfo>(sym("cudaMemGetInfo")?),
            attribute: std::mem::transmute::<*mut libc::c_void, Attribute>(sym("cudaDeviceGetAttribute")?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_torch(version_file: Option<(&str, &str)>, cuda_lib: Option<&[u8]>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("lib")).unwrap();
        if let Some((name, text)) = version_file {
            fs::write(dir.path().join(name), text).unwrap();
        }
        if let Some(bytes) = cuda_lib {
            fs::write(dir.path().join("lib/libtorch_cuda.so"), bytes).unwrap();
        }
        dir
    }

    #[test]
    fn reads_the_three_version_files() {
        let a = fake_torch(Some(("build-version", "2.11.0+cu130\n")), None);
        assert_eq!(read_version(a.path()).unwrap().as_deref(), Some("2.11.0+cu130"));
        let b = fake_torch(Some(("version.txt", "2.10.1\n")), None);
        assert_eq!(read_version(b.path()).unwrap().as_deref(), Some("2.10.1"));
        let py = "from typing import Optional\n\n__all__ = ['__version__']\n__version__ = '2.11.0+cu130'\ndebug = False\ncuda: Optional[str] = '13.0'\n";
        let c = fake_torch(Some(("version.py", py)), None);
        assert_eq!(read_version(c.path()).unwrap().as_deref(), Some("2.11.0+cu130"));
        let d = fake_torch(Some(("version.py", "__version__: str = \"2.11.0\"\n")), None);
        assert_eq!(read_version(d.path()).unwrap().as_deref(), Some("2.11.0"));
        let e = fake_torch(None, None);
        assert_eq!(read_version(e.path()).unwrap(), None);
        assert!(version_matches("2.11.0+cu130") && version_matches("2.11.0"));
        assert!(!version_matches("2.11.1") && !version_matches("2.1.0") && !version_matches(""));
    }

    #[test]
    fn refuses_cpu_only_mismatched_and_unversioned_folders() {
        let cpu = fake_torch(Some(("build-version", "2.11.0\n")), None);
        let e = cuda_library(cpu.path()).unwrap_err().to_string();
        assert!(e.contains("CPU-only") && e.contains("setup --cuda"), "{e}");
        let old = fake_torch(Some(("version.py", "__version__ = '2.10.0+cu128'\n")), Some(b"x"));
        let e = cuda_library(old.path()).unwrap_err().to_string();
        assert!(e.contains("version 2.10.0+cu128") && e.contains(TORCH_VERSION), "{e}");
        let none = fake_torch(None, Some(b"x"));
        assert!(cuda_library(none.path()).unwrap_err().to_string().contains("cannot tell the version"));
        let missing = tempfile::tempdir().unwrap();
        assert!(cuda_library(missing.path()).unwrap_err().to_string().contains("no lib/"));
        let good = fake_torch(Some(("build-version", "2.11.0+cu130\n")), Some(b"x"));
        assert_eq!(cuda_library(good.path()).unwrap(), good.path().join("lib/libtorch_cuda.so"));
    }

    #[test]
    fn a_bogus_library_fails_to_load_with_the_loader_message() {
        let bogus = fake_torch(Some(("build-version", "2.11.0\n")), Some(b"not an ELF file at all"));
        let torch = TorchDir { path: bogus.path().to_path_buf(), origin: "LOSSCAPE_TORCH_DIR" };
        let e = load_cuda_kernels(&torch).unwrap_err().to_string();
        assert!(e.starts_with("cannot load ") && e.contains("libtorch_cuda.so"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn the_provisioned_libtorch_is_found_and_reported_cpu_only() {
        // This test binary runs with the workspace's CPU-only libtorch.
        let env = |_: &str| None;
        let torch = locate_torch_with(&env).unwrap();
        assert_eq!(torch.origin, "the loaded libtorch_cpu.so");
        assert!(torch.path.join("lib/libtorch_cpu.so").exists(), "{}", torch.path.display());
        assert!(read_version(&torch.path).unwrap().is_some_and(|v| version_matches(&v)));
        let e = load_cuda_kernels(&torch).unwrap_err().to_string();
        assert!(e.contains("CPU-only"), "{e}");
        let env = |name: &str| (name == "LIBTORCH").then(|| OsString::from("/x"));
        assert_eq!(locate_torch_with(&env).unwrap(), TorchDir { path: "/x".into(), origin: "LIBTORCH" });
        let env = |name: &str| Some(OsString::from(format!("/{name}")));
        assert_eq!(locate_torch_with(&env).unwrap().origin, "LOSSCAPE_TORCH_DIR");
        // The CUDA runtime is mapped (libtorch_cpu.so needs it) but there is no driver or GPU.
        assert_eq!(gpu_memory(0), None);
    }

    #[test]
    fn notes_kernels_and_cpu_library_from_different_folders() {
        let a = fake_torch(Some(("build-version", "2.11.0\n")), Some(b"x"));
        let b = fake_torch(Some(("build-version", "2.11.0\n")), None);
        let cuda = a.path().join("lib/libtorch_cuda.so");
        assert_eq!(mixed_libraries_note(&cuda, Some(&a.path().join("lib/libtorch_cpu.so"))), None);
        let note = mixed_libraries_note(&cuda, Some(&b.path().join("lib/libtorch_cpu.so"))).unwrap();
        assert!(note.contains("LD_LIBRARY_PATH=") && note.contains(&a.path().canonicalize().unwrap().display().to_string()));
        assert_eq!(mixed_libraries_note(&cuda, None), None);
    }

    #[test]
    fn selects_devices_and_falls_back_for_auto() {
        let never = || -> Result<String> { panic!("cpu must not load CUDA") };
        assert_eq!(select_device_with("CPU", never, || 0).unwrap().device, Device::Cpu);
        assert!(select_device_with("tpu", never, || 0).unwrap_err().to_string().contains("unknown device"));
        assert!(select_device_with("cuda:x", never, || 0).is_err());
        let cpu_only = || Err(Error::Invalid("libtorch at /t is CPU-only (no lib/libtorch_cuda.so)".into()));
        let e = select_device_with("cuda", cpu_only, || 0).unwrap_err().to_string();
        assert!(e.contains("CPU-only"));
        let auto = select_device_with("auto", cpu_only, || 0).unwrap();
        assert_eq!(auto.device, Device::Cpu);
        assert!(auto.note.unwrap().contains("using the CPU (libtorch at /t is CPU-only"));
        let loaded = || Ok("/t/lib/libtorch_cuda.so".to_owned());
        let e = select_device_with("cuda:0", loaded, || 0).unwrap_err().to_string();
        assert!(e.contains("no GPU is visible"), "{e}");
        assert_eq!(select_device_with("cuda:1", loaded, || 2).unwrap().device, Device::Cuda(1));
        assert!(select_device_with("cuda:2", loaded, || 2).unwrap_err().to_string().contains("sees 2 CUDA"));
        let auto = select_device_with("auto", loaded, || 1).unwrap();
        assert_eq!((auto.device, auto.note), (Device::Cuda(0), None));
        assert_eq!(select_device_with("auto", loaded, || 0).unwrap().device, Device::Cpu);
    }
}
