//! `losscape train`: train a network on the embedded data (or CIFAR-10 / IDX folders) into a run
//! folder with per-epoch checkpoints and a metrics log; rerunning the same command resumes.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use clap::Args;
use losscape::core::{Precision, Progress};
use losscape::models::ModelSpec;
use losscape::train::{train, Outcome, Preset, RunOptions, TrainConfig, TrainSummary};

use crate::data_cmd::SourceArgs;
use crate::progress::ProgressBar;

/// `losscape train`: the preset gives every value; explicit flags override it.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Model spec: resnet{D} (D = 6n+2), resnet{D}-noshort, wrn{D}-{k}[-noshort], vgg9.
    #[arg(long)]
    model: ModelSpec,
    /// Width multiplier k (channels 16k/32k/64k; turns resnet56 into wrn56-k).
    #[arg(long, value_name = "K")]
    width: Option<u32>,
    /// Remove every shortcut connection (the paper's "noshort" networks).
    #[arg(long)]
    no_shortcut: bool,
    /// Training recipe: cpu (20 epochs, the default), paper (the original's 300), tiny (tests).
    #[arg(long, default_value = "cpu")]
    preset: Preset,
    /// Examples per SGD step.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Base learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Momentum factor.
    #[arg(long)]
    momentum: Option<f64>,
    /// Plain momentum instead of Nesterov momentum.
    #[arg(long)]
    no_nesterov: bool,
    /// Coupled weight decay on every trainable parameter.
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Number of epochs.
    #[arg(long)]
    epochs: Option<u64>,
    /// Epochs after which the learning rate is multiplied by --lr-decay: "a,b,c" or "none".
    #[arg(long, value_name = "EPOCHS", value_parser = parse_epochs)]
    lr_decay_epochs: Option<EpochList>,
    /// Learning-rate multiplier at each decay epoch.
    #[arg(long)]
    lr_decay: Option<f64>,
    /// Checkpoint every k epochs (plus epoch 0, the decay epochs and the last epoch).
    #[arg(long, value_name = "K")]
    save_every: Option<u64>,
    /// Seed of the initialization, shuffling and augmentation.
    #[arg(long)]
    seed: Option<u64>,
    /// Random-crop padding in pixels (0: no crops).
    #[arg(long)]
    crop_padding: Option<i64>,
    /// No random horizontal flips.
    #[arg(long)]
    no_flip: bool,
    /// Train on the first N examples of each class only.
    #[arg(long, value_name = "N")]
    train_per_class: Option<usize>,
    /// Evaluate on the first N test examples of each class only.
    #[arg(long, value_name = "N")]
    test_per_class: Option<usize>,
    /// Model precision: f32 or f64.
    #[arg(long)]
    precision: Option<Precision>,
    #[command(flatten)]
    source: SourceArgs,
    /// libtorch threads (default: all cores; on a busy machine 1 is often faster). Bit-exact
    /// resume needs the same count.
    #[arg(long, value_parser = crate::guard::positive)]
    threads: Option<usize>,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Run folder (created if missing; rerunning the same command resumes there).
    #[arg(long)]
    out: PathBuf,
    /// Delete a previous run's files in --out and start over (also when its configuration differs).
    #[arg(long, alias = "force")]
    fresh: bool,
    /// Stop after this epoch is saved, leaving the run resumable.
    #[arg(long, value_name = "EPOCH")]
    stop_after: Option<u64>,
    /// When another process is training in --out, wait for it to finish instead of stopping.
    #[arg(long)]
    wait: bool,
}

/// A list of epochs from the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
struct EpochList(Vec<u64>);

fn parse_epochs(text: &str) -> Result<EpochList, String> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("none") {
        return Ok(EpochList(Vec::new()));
    }
    text.split(',')
        .map(|s| s.trim().parse::<u64>().map_err(|_| format!("'{s}' is not an epoch number (use a,b,c or none)")))
        .collect::<Result<_, _>>()
        .map(EpochList)
}

impl TrainArgs {
    /// The preset's configuration with the explicit flags applied.
    fn config(&self) -> Result<TrainConfig> {
        let mut spec = self.model;
        if let Some(k) = self.width {
            spec = spec.with_width(k)?;
        }
        if self.no_shortcut {
            spec = spec.without_shortcuts();
        }
        let mut c = self.preset.config(spec);
        c.data = self.source.source();
        macro_rules! set {
            ($($field:ident),*) => { $(if let Some(v) = self.$field { c.$field = v; })* };
        }
        set!(batch_size, lr, momentum, weight_decay, epochs, lr_decay, save_every, seed, crop_padding, precision);
        if let Some(list) = &self.lr_decay_epochs {
            c.lr_decay_epochs = list.0.clone();
        }
        if self.no_nesterov {
            c.nesterov = false;
        }
        if self.no_flip {
            c.horizontal_flip = false;
        }
        if self.train_per_class.is_some() {
            c.train_per_class = self.train_per_class;
        }
        if self.test_per_class.is_some() {
            c.test_per_class = self.test_per_class;
        }
        // Fewer epochs than the preset: drop its decay epochs and extra saves that no longer fit,
        // unless they were given explicitly (then a misfit is an error from check()).
        if self.epochs.is_some() && self.lr_decay_epochs.is_none() {
            c.lr_decay_epochs.retain(|&e| e < c.epochs);
        }
        c.save_epochs.retain(|&e| e <= c.epochs);
        c.check()?;
        Ok(c)
    }
}

/// Runs `losscape train`.
pub fn run(args: TrainArgs) -> Result<()> {
    let device = crate::device_cmd::resolve(&args.device)?;
    if let Some(t) = args.threads {
        tch::set_num_threads(t as i32);
    }
    let config = args.config()?;
    let decay = match config.lr_decay_epochs.as_slice() {
        [] => "no decay".to_string(),
        list => format!("x{} after {}", config.lr_decay, list.iter().map(u64::to_string).collect::<Vec<_>>().join(",")),
    };
    eprintln!(
        "training {} on {} ({} preset{}): {} epochs, batch {}, lr {} ({decay}), momentum {}{}, weight decay {}, seed {}, {} thread(s) -> {}",
        config.model,
        config.data,
        args.preset,
        if args_override(&args) { " with overrides" } else { "" },
        config.epochs,
        config.batch_size,
        config.lr,
        config.momentum,
        if config.nesterov { " (nesterov)" } else { "" },
        config.weight_decay,
        config.seed,
        tch::get_num_threads(),
        args.out.display()
    );
    if args.out.exists() && !args.out.is_dir() {
        bail!("{} is not a folder; a training run needs a folder (new or an earlier run's)", args.out.display());
    }
    // One writer per run folder: a second training into it is refused (or waits, with --wait).
    let _lock = crate::guard::lock_folder(&args.out, args.wait)?;
    let options = RunOptions { device, fresh: args.fresh, stop_after: args.stop_after };
    let progress = EpochLog::new();
    let summary = train(&config, &args.out, &options, &progress)
        .with_context(|| format!("training in {}", args.out.display()))?;
    print!("{}", report(&summary));
    Ok(())
}

/// Whether any flag beyond the model, data and run options was given.
fn args_override(a: &TrainArgs) -> bool {
    a.batch_size.is_some()
        || a.lr.is_some()
        || a.momentum.is_some()
        || a.no_nesterov
        || a.weight_decay.is_some()
        || a.epochs.is_some()
        || a.lr_decay_epochs.is_some()
        || a.lr_decay.is_some()
        || a.save_every.is_some()
        || a.seed.is_some()
        || a.crop_padding.is_some()
        || a.no_flip
        || a.train_per_class.is_some()
        || a.test_per_class.is_some()
        || a.precision.is_some()
}

/// The closing lines on stdout.
fn report(s: &TrainSummary) -> String {
    let m = &s.last;
    let metrics = format!(
        "test accuracy {:.2}% (loss {:.4}), train accuracy {}, weight norm {:.2}",
        m.test_acc,
        m.test_loss,
        m.train_acc.map_or("-".into(), |a| format!("{a:.2}%")),
        m.weight_norm
    );
    let dir = s.run_dir.display();
    match s.outcome {
        Outcome::AlreadyFinished => format!(
            "{dir}: this run already finished at epoch {}; nothing to do (use --fresh to train again)\n{metrics}\n",
            s.completed_epochs
        ),
        Outcome::Stopped => format!(
            "{dir}: stopped after epoch {} as asked; rerun the same command to resume\n{metrics}\n",
            s.completed_epochs
        ),
        Outcome::Finished => format!(
            "{dir}: finished {} epochs{} in {:.1} s (all sessions: {:.1} s)\n{metrics}\nfinal checkpoint: {}\n",
            s.completed_epochs,
            s.resumed_from.map_or(String::new(), |e| format!(" (resumed from epoch {e})")),
            s.wall_seconds,
            s.total_wall_seconds,
            s.final_checkpoint.as_ref().map_or("-".into(), |p| p.display().to_string())
        ),
    }
}

/// The progress bar during each epoch, and one line per finished epoch (its closing message) on
/// stderr; messages outside an epoch (a resume) are printed as lines too.
struct EpochLog {
    bar: ProgressBar,
    last: Mutex<String>,
    in_task: AtomicBool,
}

impl EpochLog {
    fn new() -> Self {
        Self { bar: ProgressBar::new(), last: Mutex::new(String::new()), in_task: AtomicBool::new(false) }
    }
}

impl Progress for EpochLog {
    fn begin(&self, task: &str, total: u64) {
        self.in_task.store(true, Ordering::SeqCst);
        self.bar.begin(task, total);
    }

    fn advance(&self, steps: u64) {
        self.bar.advance(steps);
    }

    fn message(&self, message: &str) {
        if self.in_task.load(Ordering::SeqCst) {
            if let Ok(mut last) = self.last.lock() {
                *last = message.to_owned();
            }
            self.bar.message(message);
        } else {
            eprintln!("{message}");
        }
    }

    fn end(&self) {
        self.bar.end();
        self.in_task.store(false, Ordering::SeqCst);
        if let Ok(last) = self.last.lock() {
            eprintln!("{last}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: TrainArgs,
    }

    fn config(args: &[&str]) -> Result<TrainConfig> {
        let cli = Cli::try_parse_from(std::iter::once("train").chain(args.iter().copied()))?;
        cli.args.config()
    }

    #[test]
    fn flags_override_the_preset() {
        let c = config(&["--model", "resnet56", "--out", "x"]).unwrap();
        assert_eq!(c, Preset::Cpu.config("resnet56".parse().unwrap()));
        let c = config(&[
            "--model",
            "resnet56",
            "--width",
            "4",
            "--no-shortcut",
            "--preset",
            "paper",
            "--lr",
            "0.05",
            "--no-nesterov",
            "--weight-decay",
            "0",
            "--epochs",
            "40",
            "--lr-decay-epochs",
            "20,30",
            "--save-every",
            "5",
            "--seed",
            "7",
            "--idx",
            "somewhere",
            "--out",
            "x",
        ])
        .unwrap();
        assert_eq!(c.model.to_string(), "wrn56-4-noshort");
        assert_eq!((c.lr, c.nesterov, c.weight_decay, c.epochs), (0.05, false, 0.0, 40));
        assert_eq!((c.lr_decay_epochs.clone(), c.save_every, c.seed), (vec![20, 30], 5, 7));
        assert_eq!(c.data.to_string(), "idx:somewhere");
        assert_eq!(c.batch_size, 128, "the paper preset's batch size stays");
    }

    #[test]
    fn shorter_runs_drop_preset_decays_but_not_explicit_ones() {
        let c = config(&["--model", "resnet20", "--epochs", "12", "--out", "x"]).unwrap();
        assert_eq!(c.lr_decay_epochs, vec![10]);
        let c = config(&["--model", "resnet20", "--epochs", "12", "--lr-decay-epochs", "none", "--out", "x"]).unwrap();
        assert!(c.lr_decay_epochs.is_empty());
        let err = config(&["--model", "resnet20", "--epochs", "12", "--lr-decay-epochs", "15", "--out", "x"]);
        assert!(err.unwrap_err().to_string().contains("decay epoch 15"));
        assert!(config(&["--model", "resnet21", "--out", "x"]).is_err());
        assert!(config(&["--model", "resnet20", "--lr-decay-epochs", "a,b", "--out", "x"]).is_err());
    }
}
