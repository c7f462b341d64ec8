//! A `Progress` implementation that logs to stderr, driven by a simulated long task, and an
//! atomic write of its result.

use std::sync::atomic::{AtomicU64, Ordering};

use losscape_core::{fsio, hash, Progress};

/// Prints one line per event, counting steps.
#[derive(Default)]
struct Log {
    done: AtomicU64,
}

impl Progress for Log {
    fn begin(&self, task: &str, total: u64) {
        eprintln!("begin {task}: {total} steps");
    }
    fn advance(&self, steps: u64) {
        self.done.fetch_add(steps, Ordering::Relaxed);
    }
    fn message(&self, message: &str) {
        eprintln!("  {} done, {message}", self.done.load(Ordering::Relaxed));
    }
    fn end(&self) {
        eprintln!("end");
    }
}

/// A library-style function: reports through the trait, never prints.
fn sum_of_squares(n: u64, progress: &dyn Progress) -> u64 {
    progress.begin("sum of squares", n);
    let mut total = 0;
    for i in 1..=n {
        total += i * i;
        progress.advance(1);
        if i % 25 == 0 {
            progress.message(&format!("partial sum {total}"));
        }
    }
    progress.end();
    total
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total = sum_of_squares(100, &Log::default());
    let path = std::env::temp_dir().join("losscape-core-example.txt");
    fsio::write_atomic(&path, format!("{total}\n").as_bytes())?;
    println!("{total} written to {} (sha256 {})", path.display(), hash::sha256_file(&path)?);
    Ok(())
}
