//! `losscape data info`: a data set's sizes, example shape (images, features or token ids),
//! classes, class balance and per-channel pixel (or per-feature) statistics. [`SourceArgs`] is the shared `--dataset | --cifar | --idx` choice that other
//! subcommands can flatten into their own arguments.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use losscape::data::{write_synthetic_npz, DataSource, Dataset, InputKind, Normalization, Splits, SyntheticSpec};

/// `losscape data ...`
#[derive(Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Subcommand)]
enum DataCommand {
    /// Print counts, image shape, classes, class balance and pixel statistics of both splits.
    Info(InfoArgs),
    /// Write a synthetic data set (seeded uniform random uint8 images, round-robin labels) as an
    /// .npz for timing and device checks; use it with --dataset npz:FILE.
    Synthetic(SyntheticArgs),
}

#[derive(Args)]
struct SyntheticArgs {
    /// Training images.
    #[arg(long, default_value_t = 10_000)]
    train: usize,
    /// Test images.
    #[arg(long, default_value_t = 1_000)]
    test: usize,
    /// Image shape CxHxW.
    #[arg(long, default_value = "3x32x32", value_parser = parse_shape)]
    shape: [usize; 3],
    /// Number of classes.
    #[arg(long, default_value_t = 10)]
    classes: usize,
    /// Seed of the pixels.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output .npz file.
    #[arg(long)]
    out: PathBuf,
}

/// `CxHxW`, e.g. `3x32x32`.
fn parse_shape(text: &str) -> Result<[usize; 3], String> {
    let dims: Vec<usize> = text.split('x').map(|d| d.trim().parse::<usize>()).collect::<Result<_, _>>()
        .map_err(|_| format!("'{text}' is not a shape CxHxW such as 3x32x32"))?;
    <[usize; 3]>::try_from(dims).map_err(|_| format!("'{text}' is not a shape CxHxW such as 3x32x32"))
}

#[derive(Args)]
struct InfoArgs {
    #[command(flatten)]
    source: SourceArgs,
}

/// Which data set to use: `--dataset SOURCE`, or `--cifar DIR` / `--idx DIR` as shorthands.
/// Without any of them, the embedded `fashion-mnist-mini`.
#[derive(Args, Clone, Debug, Default)]
pub struct SourceArgs {
    /// Data set: fashion-mnist-mini (embedded, the default), idx:DIR, cifar10:DIR, npz:FILE or
    /// npy:DIR (NumPy arrays x_train, y_train, x_test, y_test: images, or for own TorchScript
    /// models N x D float features or N x T integer token ids; see docs/formats.md).
    #[arg(long, value_name = "SOURCE", group = "data_source")]
    pub dataset: Option<DataSource>,
    /// A CIFAR-10 binary folder (data_batch_1.bin .. data_batch_5.bin, test_batch.bin).
    #[arg(long, value_name = "DIR", group = "data_source")]
    pub cifar: Option<PathBuf>,
    /// An MNIST-style IDX folder (train-images-idx3-ubyte[.gz], t10k-images-idx3-ubyte[.gz], ...).
    #[arg(long, value_name = "DIR", group = "data_source")]
    pub idx: Option<PathBuf>,
}

impl SourceArgs {
    /// The chosen data source.
    pub fn source(&self) -> DataSource {
        match (&self.dataset, &self.cifar, &self.idx) {
            (Some(source), _, _) => source.clone(),
            (_, Some(dir), _) => DataSource::Cifar10(dir.clone()),
            (_, _, Some(dir)) => DataSource::Idx(dir.clone()),
            _ => DataSource::FashionMnistMini,
        }
    }
}

/// Runs a `data` subcommand.
pub fn run(args: DataArgs) -> Result<()> {
    match args.command {
        DataCommand::Info(info) => {
            let source = info.source.source();
            let splits = source.load()?;
            print!("{}", report(&source, &splits)?);
            Ok(())
        }
        DataCommand::Synthetic(a) => {
            let spec = SyntheticSpec { train: a.train, test: a.test, shape: a.shape, classes: a.classes, seed: a.seed };
            write_synthetic_npz(&spec, &a.out)?;
            eprintln!("wrote {} ({} + {} images of {:?}, {} classes)", a.out.display(), a.train, a.test, a.shape, a.classes);
            Ok(())
        }
    }
}

/// The `data info` report as text.
fn report(source: &DataSource, splits: &Splits) -> Result<String> {
    let parts = [("train", &splits.train), ("test", &splits.test)];
    let mut out = String::new();
    writeln!(out, "data set {source}")?;
    let kind = splits.train.input_kind();
    let (count, shape) = match kind {
        InputKind::Images => ("images", "image shape"),
        InputKind::Features => ("examples", "features"),
        InputKind::Tokens => ("examples", "token ids"),
    };
    writeln!(out, "{:<6} {:>8}  {:<12} {:>7}", "split", count, shape, "classes")?;
    for (split, d) in parts {
        let dims: Vec<String> = d.example_shape().iter().map(|n| n.to_string()).collect();
        writeln!(out, "{split:<6} {:>8}  {:<12} {:>7}", thousands(d.len()), dims.join("x"), d.num_classes)?;
    }
    if d_is_regression(splits) {
        writeln!(out, "\nregression targets: {} value(s) per example (no classes)", splits.train.num_classes)?;
        return Ok(out);
    }

    writeln!(out, "\nclass balance ({count} per class)")?;
    let names = source.class_names();
    let counts = [splits.train.class_counts(), splits.test.class_counts()];
    let classes = counts[0].len().max(counts[1].len());
    let label = |k: usize| match names.and_then(|n| n.get(k)) {
        Some(name) => format!("{k} {name}"),
        None => k.to_string(),
    };
    let width = (0..classes).map(|k| label(k).len()).max().unwrap_or(5).max(5);
    writeln!(out, "{:<width$} {:>8} {:>8}", "class", "train", "test")?;
    for k in 0..classes {
        let get = |c: &Vec<usize>| c.get(k).copied().unwrap_or(0);
        writeln!(out, "{:<width$} {:>8} {:>8}", label(k), thousands(get(&counts[0])), thousands(get(&counts[1])))?;
    }
    for ((split, _), c) in parts.iter().zip(&counts) {
        writeln!(out, "{split}: {}", balance(c))?;
    }

    if kind == InputKind::Tokens {
        writeln!(out, "\ntoken ids")?;
        for (split, d) in parts {
            if d.is_empty() {
                continue;
            }
            let (lo, hi) = (d.images.f_min()?.f_int64_value(&[])?, d.images.f_max()?.f_int64_value(&[])?);
            writeln!(out, "{split:<6} min {lo}  max {hi}  (an embedding needs at least {} rows)", hi + 1)?;
        }
        return Ok(out);
    }
    match kind {
        InputKind::Images => writeln!(out, "\npixel statistics per channel (as stored: 0..1 scale unless normalized)")?,
        _ => writeln!(out, "\nfeature statistics (as stored)")?,
    }
    let column = if kind == InputKind::Images { "channel" } else { "feature" };
    writeln!(out, "{:<6} {:<8} {:>8} {:>8} {:>8} {:>8}", "split", column, "mean", "std", "min", "max")?;
    for (split, d) in parts {
        if d.is_empty() {
            writeln!(out, "{split:<6} (no images)")?;
            continue;
        }
        let stats = Normalization::fit(d)?;
        let (lo, hi) = range(d)?;
        let channels = stats.channels();
        // Many features: the first 16 stand for them.
        let shown = if kind == InputKind::Images { channels } else { channels.min(16) };
        for k in 0..shown {
            let name = if kind == InputKind::Images { channel_name(k, channels) } else { k.to_string() };
            writeln!(
                out,
                "{split:<6} {:<8} {:>8.4} {:>8.4} {:>8.4} {:>8.4}",
                name,
                stats.mean[k],
                stats.std[k],
                lo[k],
                hi[k]
            )?;
        }
        if shown < channels {
            writeln!(out, "{split:<6} ... ({} more features)", channels - shown)?;
        }
    }
    Ok(out)
}

/// Whether the labels are regression targets (floating point).
fn d_is_regression(splits: &Splits) -> bool {
    splits.train.labels.is_floating_point()
}

/// Per-channel minimum and maximum.
fn range(d: &Dataset) -> Result<(Vec<f64>, Vec<f64>)> {
    let dims: Vec<i64> = (0..d.images.dim() as i64).filter(|&k| k != 1).collect();
    let lo = d.images.f_amin(dims.as_slice(), false)?.f_to_kind(tch::Kind::Double)?;
    let hi = d.images.f_amax(dims.as_slice(), false)?.f_to_kind(tch::Kind::Double)?;
    Ok((Vec::<f64>::try_from(&lo)?, Vec::<f64>::try_from(&hi)?))
}

/// `balanced (500 per class)` or `unbalanced (12 to 500 per class)`.
fn balance(counts: &[usize]) -> String {
    let (lo, hi) = (counts.iter().min().copied().unwrap_or(0), counts.iter().max().copied().unwrap_or(0));
    if lo == hi {
        format!("balanced ({} per class)", thousands(lo))
    } else {
        format!("unbalanced ({} to {} per class)", thousands(lo), thousands(hi))
    }
}

fn channel_name(k: usize, channels: usize) -> String {
    match (channels, k) {
        (1, 0) => "grey".into(),
        (3, 0) => "red".into(),
        (3, 1) => "green".into(),
        (3, 2) => "blue".into(),
        _ => k.to_string(),
    }
}

/// `5000` -> `5,000`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Tensor;

    #[test]
    fn numbers_and_balance_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(5000), "5,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(balance(&[3, 3]), "balanced (3 per class)");
        assert_eq!(balance(&[1, 3]), "unbalanced (1 to 3 per class)");
    }

    #[test]
    fn source_flags_map_to_sources() {
        let mut a = SourceArgs::default();
        assert_eq!(a.source(), DataSource::FashionMnistMini);
        a.cifar = Some("c".into());
        assert_eq!(a.source(), DataSource::Cifar10("c".into()));
        a = SourceArgs { idx: Some("i".into()), ..Default::default() };
        assert_eq!(a.source(), DataSource::Idx("i".into()));
    }

    #[test]
    fn report_shows_counts_balance_and_statistics() {
        // Three RGB images: two of class 0, one of class 1; channel values 0.25, 0.5, 0.75.
        let images = Tensor::from_slice(&[0.25f32, 0.5, 0.75]).view([1, 3, 1, 1]).expand([3, 3, 2, 2], false).contiguous();
        let labels = Tensor::from_slice(&[0i64, 0, 1]);
        let train = Dataset::new(images, labels, 2, "toy/train").unwrap();
        let test = train.select(&[0, 2], "toy/test").unwrap();
        let text = report(&DataSource::Cifar10("x".into()), &Splits { train, test }).unwrap();
        assert!(text.contains("data set cifar10:x"), "{text}");
        assert!(text.contains("train         3  3x2x2              2"), "{text}");
        assert!(text.contains("0 airplane"), "{text}");
        assert!(text.contains("train: unbalanced (1 to 2 per class)"), "{text}");
        assert!(text.contains("test: balanced (1 per class)"), "{text}");
        assert!(text.contains("train  green      0.5000   0.0000   0.5000   0.5000"), "{text}");
    }
}
