//! Prints what losscape sees in a TorchScript module: each parameter's name, inferred role, shape
//! and element count, the input channels and outputs read off its layers, and whether batch-norm
//! statistics are hidden; optionally after loading a safetensors state dict into it.
//!
//! ```text
//! cargo run -p losscape-models --example torchscript -- net.pt
//! cargo run -p losscape-models --example torchscript -- net.pt weights.safetensors
//! ```
//!
//! Expected on the committed fixture (`tests/fixtures/torchscript/net.pt`): six parameters
//! (`conv.weight` conv_weight [4, 1, 3, 3], ..., `fc.bias` bias [3]), "trainable parameters: 243".

use std::path::PathBuf;

use losscape_models::{load_state_dict, Model, TorchScriptModel, TorchScriptOptions};
use tch::Device;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).map(PathBuf::from);
    let default = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torchscript/net.pt");
    let path = args.next().unwrap_or(default);
    let model = TorchScriptModel::load(&path, Device::Cpu, &TorchScriptOptions::default())?;
    if let Some(weights) = args.next() {
        let n = load_state_dict(&model, &weights)?;
        println!("loaded {n} tensors from {}", weights.display());
    }
    println!("{}", path.display());
    println!("{:<40} {:<18} {:<18} {:>10}", "name", "role", "shape", "count");
    for t in model.named_tensors() {
        let role = serde_json::to_value(t.role)?.as_str().unwrap_or_default().to_string();
        println!("{:<40} {role:<18} {:<18} {:>10}", t.name, format!("{:?}", t.tensor.size()), t.tensor.numel());
    }
    println!("trainable parameters: {}", model.num_parameters());
    println!(
        "input channels: {}, outputs: {}",
        model.inferred_in_channels().map_or("unknown".into(), |c| c.to_string()),
        model.inferred_outputs().map_or("unknown".into(), |c| c.to_string())
    );
    if let Some(reason) = model.unlisted_state() {
        println!("note: {reason}");
    }
    Ok(())
}
