//! What this machine offers a run: the libtorch in use and its version, whether CUDA kernels are
//! loaded (and why not), each visible GPU with its memory, the CPU features that decide CPU
//! speed, and thread counts. `losscape device` prints a [`MachineReport`].

use std::fmt;
use std::path::PathBuf;

use crate::cuda;

/// CPU flags (as `/proc/cpuinfo` names them) that matter for libtorch's CPU kernels.
pub const SPEED_FEATURES: [&str; 6] = ["avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16"];

/// One visible GPU.
#[derive(Clone, Debug, PartialEq)]
pub struct Gpu {
    pub index: usize,
    /// Free and total memory in bytes (`None`: unknown, the CUDA runtime could not be asked).
    pub memory: Option<(u64, u64)>,
    /// Compute capability (major, minor), when known.
    pub capability: Option<(i32, i32)>,
}

/// The CUDA state of this process.
#[derive(Clone, Debug, PartialEq)]
pub enum CudaState {
    /// CUDA kernels are loaded from `library`; `gpus` lists the devices libtorch sees.
    Loaded { library: PathBuf, cudart_version: Option<i32>, gpus: Vec<Gpu> },
    /// No CUDA, and why.
    Unavailable(String),
}

/// A summary of the libtorch, CUDA, CPU and threads of this process.
#[derive(Clone, Debug, PartialEq)]
pub struct MachineReport {
    /// The libtorch folder and how it was found (or why it could not be).
    pub torch: Result<cuda::TorchDir, String>,
    /// Its declared version, if readable.
    pub version: Option<String>,
    /// The `libtorch_cpu.so` this process runs with.
    pub libtorch_cpu: Option<PathBuf>,
    pub cuda: CudaState,
    /// Which of [`SPEED_FEATURES`] the CPU has (`None` when `/proc/cpuinfo` is unreadable).
    pub cpu_features: Option<Vec<(&'static str, bool)>>,
    /// The CPU model name from `/proc/cpuinfo`.
    pub cpu_model: Option<String>,
    /// libtorch's intra-op threads.
    pub threads: i32,
    /// Logical cores available to this process.
    pub cores: usize,
}

impl MachineReport {
    /// Gathers the report, loading the CUDA kernels of the libtorch in use if it has them (as a
    /// CUDA run would).
    pub fn gather() -> Self {
        let torch = cuda::locate_torch().map_err(|e| e.to_string());
        let version = torch.as_ref().ok().and_then(|t| cuda::read_version(&t.path).ok().flatten());
        let cuda = match cuda::ensure_cuda() {
            Err(e) => CudaState::Unavailable(e.to_string()),
            Ok(kernels) => {
                let count = tch::Cuda::device_count().max(0) as usize;
                let gpus = (0..count)
                    .map(|index| Gpu { index, memory: cuda::gpu_memory(index), capability: cuda::compute_capability(index) })
                    .collect();
                let cudart_version = cuda::runtime_version();
                CudaState::Loaded { library: kernels.library.clone(), cudart_version, gpus }
            }
        };
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok();
        MachineReport {
            torch,
            version,
            libtorch_cpu: cuda::loaded_libtorch_cpu(),
            cuda,
            cpu_features: cpuinfo.as_deref().map(cpu_features),
            cpu_model: cpuinfo.as_deref().and_then(cpu_model),
            threads: tch::get_num_threads(),
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        }
    }
}

/// Which of [`SPEED_FEATURES`] appear in the first `flags` line of a `/proc/cpuinfo` text.
pub fn cpu_features(cpuinfo: &str) -> Vec<(&'static str, bool)> {
    let flags: Vec<&str> = cpuinfo
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.trim() == "flags").map(|(_, v)| v))
        .map(|v| v.split_whitespace().collect())
        .unwrap_or_default();
    SPEED_FEATURES.iter().map(|f| (*f, flags.contains(f))).collect()
}

/// The first `model name` of a `/proc/cpuinfo` text.
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.trim() == "model name").map(|(_, v)| v.trim().to_owned()))
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

impl fmt::Display for MachineReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.torch {
            Ok(t) => writeln!(f, "libtorch     {} (from {})", t.path.display(), t.origin)?,
            Err(e) => writeln!(f, "libtorch     unknown ({e})")?,
        }
        writeln!(
            f,
            "version      {} (losscape is built against {})",
            self.version.as_deref().unwrap_or("unknown"),
            cuda::TORCH_VERSION
        )?;
        if let Some(p) = &self.libtorch_cpu {
            writeln!(f, "cpu library  {}", p.display())?;
        }
        match &self.cuda {
            CudaState::Unavailable(why) => writeln!(f, "cuda         not loaded: {why}")?,
            CudaState::Loaded { library, cudart_version, gpus } => {
                let rt = cudart_version.map(|v| format!(", CUDA runtime {}.{}", v / 1000, (v % 1000) / 10)).unwrap_or_default();
                writeln!(f, "cuda         kernels loaded from {}{rt}", library.display())?;
                if let Some(note) = cuda::mixed_libraries_note(library, self.libtorch_cpu.as_deref()) {
                    writeln!(f, "note         {note}")?;
                }
                if gpus.is_empty() {
                    writeln!(f, "gpus         none visible (no NVIDIA driver, or CUDA_VISIBLE_DEVICES hides them)")?;
                }
                for g in gpus {
                    let mem = g.memory.map_or("memory unknown".to_owned(), |(free, total)| format!("{} total, {} free", gib(total), gib(free)));
                    let cc = g.capability.map(|(a, b)| format!(", compute capability {a}.{b}")).unwrap_or_default();
                    writeln!(f, "gpu          cuda:{}: {mem}{cc}", g.index)?;
                }
            }
        }
        if let Some(model) = &self.cpu_model {
            writeln!(f, "cpu          {model}")?;
        }
        match &self.cpu_features {
            Some(list) => {
                let text: Vec<String> = list.iter().map(|(name, on)| format!("{name} {}", if *on { "yes" } else { "no" })).collect();
                writeln!(f, "cpu features {}", text.join(", "))?;
            }
            None => writeln!(f, "cpu features unknown (/proc/cpuinfo unreadable)")?,
        }
        write!(f, "threads      {} libtorch thread(s), {} core(s) available", self.threads, self.cores)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_flags_and_model_from_cpuinfo() {
        let text = "processor\t: 0\nmodel name\t: Some CPU @ 2.0GHz\nflags\t\t: fpu sse avx2 fma avx512f avx512_bf16\n\nprocessor\t: 1\nflags\t: fpu\n";
        let f = cpu_features(text);
        let on: Vec<&str> = f.iter().filter(|(_, on)| *on).map(|(n, _)| *n).collect();
        assert_eq!(on, ["avx2", "fma", "avx512f", "avx512_bf16"]);
        assert_eq!(cpu_model(text).as_deref(), Some("Some CPU @ 2.0GHz"));
        // "avx512f" must not match "avx512fp16" or a prefix of another flag.
        let f = cpu_features("flags : avx512fp16 avx2x\n");
        assert!(f.iter().all(|(_, on)| !on));
        assert!(cpu_features("").iter().all(|(_, on)| !on));
    }

    #[test]
    fn this_cpu_machine_reports_no_cuda_and_why() {
        let report = MachineReport::gather();
        let CudaState::Unavailable(why) = &report.cuda else { panic!("unexpected CUDA: {:?}", report.cuda) };
        assert!(why.contains("CPU-only"), "{why}");
        let text = report.to_string();
        assert!(text.contains("cuda         not loaded: libtorch at"), "{text}");
        assert!(text.contains(&format!("built against {}", cuda::TORCH_VERSION)));
        assert!(report.threads >= 1 && report.cores >= 1);
    }
}
