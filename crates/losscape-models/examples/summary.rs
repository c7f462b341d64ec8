//! Prints the tensor table of a model spec: canonical name, role, shape and element count, then
//! the number of trainable parameters.
//!
//! ```text
//! cargo run -p losscape-models --example summary -- resnet20            # 3x32x32, 10 classes
//! cargo run -p losscape-models --example summary -- vgg9 1 28           # 1x28x28
//! cargo run -p losscape-models --example summary -- resnet56 3 32 out.safetensors   # also save
//! ```
//!
//! Expected: `resnet20` ends with "trainable parameters: 272474", `resnet56-noshort` with 853018.

use std::path::Path;
use std::process::ExitCode;

use losscape_core::Precision;
use losscape_models::{build, BuildSpec, checkpoint, CheckpointMeta, ModelSpec};
use tch::Device;

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let spec: ModelSpec = args.first().map(String::as_str).unwrap_or("resnet20").parse()?;
    let channels: i64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(3);
    let size: i64 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(32);
    let model = build(&BuildSpec { in_channels: channels, image_size: [size, size], ..BuildSpec::new(spec) }, Device::Cpu, 0)?;

    println!("{spec} for {channels}x{size}x{size} images, 10 classes");
    println!("{:<40} {:<24} {:<18} {:>10}", "name", "role", "shape", "count");
    for t in model.named_tensors() {
        let shape = format!("{:?}", t.tensor.size());
        println!(
            "{:<40} {:<24} {:<18} {:>10}",
            t.name,
            format!("{:?}", t.role),
            shape,
            t.tensor.numel()
        );
    }
    println!("trainable parameters: {}", model.num_parameters());

    if let Some(path) = args.get(3) {
        let meta = CheckpointMeta::new(&spec, channels, 10, [size, size], Precision::F32);
        checkpoint::save(model.as_ref(), &meta, Path::new(path))?;
        println!("saved {path}");
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
