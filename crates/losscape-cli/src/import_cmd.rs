//! `losscape import`: a PyTorch state dict of a built-in architecture (such as a model trained with
//! the original loss-landscape code, converted to safetensors) written as a losscape checkpoint.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use losscape::core::Precision;
use losscape::data::{DataSource, Normalization};
use losscape::models::{checkpoint, import_state_dict, ImportOptions, ModelSpec, CIFAR10_MEAN, CIFAR10_STD};

use losscape::models::check_input_file;

/// `losscape import`: turn a state dict into a self-describing checkpoint.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The architecture (resnet56, resnet56-noshort, wrn56-4, vgg9, ...): the original's
    /// `--model` names with `-` for `_` (resnet56_noshort becomes resnet56-noshort, wrn56_4 wrn56-4).
    #[arg(long)]
    model: ModelSpec,
    /// The state dict as a safetensors file (from `torch.load(f)['state_dict']`; see
    /// docs/coming-from-loss-landscape.md). A `module.` prefix (DataParallel) is removed.
    #[arg(long)]
    state_dict: PathBuf,
    /// Output checkpoint (.safetensors).
    #[arg(long)]
    out: PathBuf,
    /// Per-channel mean of the training normalization, comma-separated (default: the
    /// original's CIFAR-10 values, 125.3,123.0,113.9 / 255).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    mean: Option<Vec<f64>>,
    /// Per-channel standard deviation, comma-separated (default: the original's CIFAR-10
    /// values, 63.0,62.1,66.7 / 255).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    std: Option<Vec<f64>>,
    /// The model was trained on raw 0..1 images (the original's --raw_data): no normalization.
    #[arg(long, conflicts_with_all = ["mean", "std"])]
    raw_data: bool,
    /// Input image size, N or HxW (the original's CIFAR-10 models: 32).
    #[arg(long, default_value = "32", value_parser = parse_size)]
    image_size: [i64; 2],
    /// Precision of the checkpoint: f32 or f64.
    #[arg(long, default_value = "f32")]
    precision: Precision,
    /// Data source to record, e.g. cifar10:DIR (then `surface` and `hessian` need no --dataset).
    #[arg(long)]
    dataset: Option<DataSource>,
}

/// `N` or `HxW`, each at least 1.
fn parse_size(text: &str) -> Result<[i64; 2], String> {
    let parse = |s: &str| s.trim().parse::<i64>().ok().filter(|v| *v >= 1);
    let size = match text.split_once('x') {
        Some((h, w)) => parse(h).zip(parse(w)).map(|(h, w)| [h, w]),
        None => parse(text).map(|n| [n, n]),
    };
    size.ok_or_else(|| format!("'{text}' is not an image size: give N or HxW, e.g. 32 or 28x28"))
}

pub fn run(args: ImportArgs) -> Result<()> {
    check_input_file(&args.state_dict, "state dict")?;
    crate::guard::refuse_overwrite(&args.out, [args.state_dict.as_path()])?;
    let mut options = ImportOptions::cifar10(args.model);
    options.image_size = args.image_size;
    options.precision = args.precision;
    options.data = args.dataset.as_ref().map(ToString::to_string);
    options.normalization = if args.raw_data {
        None
    } else {
        Some(Normalization {
            mean: args.mean.clone().unwrap_or_else(|| CIFAR10_MEAN.to_vec()),
            std: args.std.clone().unwrap_or_else(|| CIFAR10_STD.to_vec()),
        })
    };
    // The library's errors name the file already.
    let imported = import_state_dict(&args.state_dict, &options, tch::Device::Cpu)?;
    checkpoint::save(imported.model.as_ref(), &imported.meta, &args.out)?;
    let mut notes = Vec::new();
    if imported.stripped_prefix {
        notes.push("removed the 'module.' prefix".to_string());
    }
    if imported.counters_filled > 0 {
        notes.push(format!("{} num_batches_tracked counter(s) absent, set to 0", imported.counters_filled));
    }
    let notes = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join("; ")) };
    eprintln!(
        "wrote {} ({}, {} tensors, {} input channel(s), {} classes){notes}",
        args.out.display(),
        imported.meta.spec,
        imported.loaded,
        imported.meta.in_channels,
        imported.meta.num_classes
    );
    Ok(())
}
