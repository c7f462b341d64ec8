//! Progress on stderr: an indicatif bar on a terminal, otherwise losscape-core's `LogProgress`
//! (a line every `--progress-every` seconds), behind the libraries' `Progress` callback trait.

use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use indicatif::{ProgressBar as Bar, ProgressDrawTarget, ProgressStyle};
use losscape::core::progress_log::DEFAULT_INTERVAL;
use losscape::core::{LogProgress, Progress};

/// The log interval set once from `--progress-every` / `LOSSCAPE_PROGRESS_EVERY` by `main`.
static LOG_INTERVAL: OnceLock<Duration> = OnceLock::new();

/// Sets the interval of log lines when stderr is not a terminal (first call wins).
pub fn set_log_interval(every: Duration) {
    let _ = LOG_INTERVAL.set(every);
}

/// Shows each task the libraries announce as a bar with its name, position, rate, time left and
/// the latest status message when stderr is a terminal; otherwise writes a log line (done/total,
/// rate, ETA, message) every `--progress-every` seconds.
pub struct ProgressBar {
    bar: Mutex<Option<Bar>>,
    log: Option<LogProgress<std::io::Stderr>>,
}

impl ProgressBar {
    pub fn new() -> Self {
        let log = if std::io::stderr().is_terminal() {
            None
        } else {
            Some(LogProgress::new(std::io::stderr(), LOG_INTERVAL.get().copied().unwrap_or(DEFAULT_INTERVAL)))
        };
        Self { bar: Mutex::new(None), log }
    }

    fn with(&self, f: impl FnOnce(&Bar)) {
        if let Ok(guard) = self.bar.lock() {
            if let Some(bar) = guard.as_ref() {
                f(bar);
            }
        }
    }
}

impl Default for ProgressBar {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for ProgressBar {
    fn begin(&self, task: &str, total: u64) {
        if let Some(log) = &self.log {
            return log.begin(task, total);
        }
        let bar = if total > 0 { Bar::new(total) } else { Bar::new_spinner() };
        bar.set_draw_target(ProgressDrawTarget::stderr());
        let template = if total > 0 {
            "{prefix:>12} [{bar:30}] {pos}/{len} ({per_sec}, {eta} left) {msg}"
        } else {
            "{prefix:>12} {spinner} {pos} {msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(task.to_owned());
        if let Ok(mut guard) = self.bar.lock() {
            if let Some(old) = guard.replace(bar) {
                old.finish_and_clear();
            }
        }
    }

    fn advance(&self, steps: u64) {
        if let Some(log) = &self.log {
            return log.advance(steps);
        }
        self.with(|b| b.inc(steps));
    }

    fn message(&self, message: &str) {
        if let Some(log) = &self.log {
            return log.message(message);
        }
        let message = message.to_owned();
        self.with(|b| b.set_message(message));
    }

    fn end(&self) {
        if let Some(log) = &self.log {
            return log.end();
        }
        if let Ok(mut guard) = self.bar.lock() {
            if let Some(bar) = guard.take() {
                bar.finish_and_clear();
            }
        }
    }
}
