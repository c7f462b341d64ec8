//! Trains ResNet-8 with the `tiny` preset (3 epochs on 200 training images of the embedded
//! Fashion-MNIST subset) into a run folder, printing each epoch's metrics; rerunning it with the
//! same folder finds the finished run and does nothing.
//!
//! ```sh
//! cargo run --release -p losscape-train --example train_tiny -- [RUN_DIR]
//! ```
//!
//! Expected: a few seconds; test accuracy about 55-65% on the 100-image test subset (the tiny
//! preset is for tests, not for accuracy: use the `cpu` preset with ResNet-20 for about 89%).

use std::path::PathBuf;
use std::sync::Mutex;

use losscape_core::Progress;
use losscape_train::{train, Preset, RunOptions};

/// Prints the closing message of every epoch.
#[derive(Default)]
struct EpochLines {
    last: Mutex<String>,
}

impl Progress for EpochLines {
    fn message(&self, message: &str) {
        *self.last.lock().unwrap() = message.to_string();
    }
    fn end(&self) {
        println!("{}", self.last.lock().unwrap());
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| std::env::temp_dir().join("losscape-train-tiny"));
    let config = Preset::Tiny.config("resnet8".parse()?);
    let summary = train(&config, &dir, &RunOptions::default(), &EpochLines::default())?;
    println!(
        "{:?} in {:.1} s: test accuracy {:.1}%, final checkpoint {}",
        summary.outcome,
        summary.wall_seconds,
        summary.last.test_acc,
        summary.final_checkpoint.map(|p| p.display().to_string()).unwrap_or_default()
    );
    Ok(())
}
