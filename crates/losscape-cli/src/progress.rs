//! Terminal progress bars: an indicatif bar behind the libraries' `Progress` callback trait.

use std::sync::Mutex;

use indicatif::{ProgressBar as Bar, ProgressDrawTarget, ProgressStyle};
use losscape::core::Progress;

/// Shows each task the libraries announce as a bar with its name, position, rate, time left and
/// the latest status message. Draws on stderr, and nothing when stderr is not a terminal.
pub struct ProgressBar {
    bar: Mutex<Option<Bar>>,
}

impl ProgressBar {
    pub fn new() -> Self {
        Self { bar: Mutex::new(None) }
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
        self.with(|b| b.inc(steps));
    }

    fn message(&self, message: &str) {
        let message = message.to_owned();
        self.with(|b| b.set_message(message));
    }

    fn end(&self) {
        if let Ok(mut guard) = self.bar.lock() {
            if let Some(bar) = guard.take() {
                bar.finish_and_clear();
            }
        }
    }
}
