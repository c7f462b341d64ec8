//! Cross-cutting plumbing for the losscape crates, with no machine-learning logic of its own.
//!
//! - [`progress`]: the small callback trait through which libraries report long work
//!   (they never print); the CLI turns it into progress bars.
//! - [`progress_log`]: [`LogProgress`], the same events as a log line every N seconds, for runs
//!   whose stderr is a file.
//! - [`fsio`]: files written whole or not at all (temporary name, then rename).
//! - [`hash`]: SHA-256 content hashes of files, bytes and tensors, used to tie results to inputs.
//! - [`device`]: parsing of device names, thread settings.
//! - [`precision`]: [`Precision`] (f32, f64, bf16; no libtorch needed) and whether the CPU has
//!   native bf16.
//! - [`cuda`]: runtime loading of a CUDA libtorch's kernels and device selection (`auto`, `cuda:N`).
//! - [`machine`]: the libtorch, GPUs, CPU features and threads of this process (`losscape device`).
//! - [`error`]: the crate's error type and [`Result`] alias.
//!
//! ```
//! use losscape_core::{fsio, hash};
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("numbers.txt");
//! fsio::write_atomic(&path, b"1 2 3\n")?;
//! assert_eq!(hash::sha256_file(&path)?, hash::sha256_hex(b"1 2 3\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "torch")]
pub mod cuda;
#[cfg(feature = "torch")]
pub mod device;
pub mod error;
pub mod fsio;
pub mod hash;
pub mod npy;
pub mod precision;
#[cfg(feature = "torch")]
pub mod machine;
pub mod progress;
pub mod progress_log;

#[cfg(feature = "torch")]
pub use device::parse_device;
pub use precision::Precision;
pub use error::{Error, Result};
pub use progress::{Progress, Silent};
pub use progress_log::LogProgress;
