//! Trains ResNet-8 with the `tiny` preset, enlarged to 5 epochs on 1,000 training images of the
//! embedded Fashion-MNIST subset, into a run folder, printing each epoch's metrics; rerunning it
//! with the same folder finds the finished run and does nothing.
//!
//! ```sh
//! cargo run --release -p losscape-train --example train_tiny -- [RUN_DIR]
//! ```
//!
//! Expected: 10-40 seconds; test accuracy about 60% on the 100-image test subset (use the `cpu`
//! preset with ResNet-20 for about 89% on the full test split).

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
    let dir =
        std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| std::env::temp_dir().join("losscape-train-tiny"));
    let mut config = Preset::Tiny.config("resnet8".parse()?);
    config.train_per_class = Some(100);
    config.epochs = 5;
    config.lr_decay_epochs = vec![3];
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
