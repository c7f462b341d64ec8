//! Progress reporting for long work. Libraries call a [`Progress`] they are given and never print;
//! front ends (the CLI's progress bars, a log, a test recorder) implement it.

/// Receives progress events. Every method has an empty default, so implementors pick what they need.
///
/// A task is announced with [`begin`](Progress::begin) and its total number of steps, advanced
/// step by step, and closed with [`end`](Progress::end). Tasks do not nest.
pub trait Progress: Send + Sync {
    /// A task named `task` with `total` steps starts (0 when the total is unknown).
    fn begin(&self, _task: &str, _total: u64) {}
    /// `steps` more steps are done.
    fn advance(&self, _steps: u64) {}
    /// A short status line for the running task (for example the latest loss).
    fn message(&self, _message: &str) {}
    /// The running task is finished.
    fn end(&self) {}
}

/// Ignores every event.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {}

impl<P: Progress + ?Sized> Progress for &P {
    fn begin(&self, task: &str, total: u64) {
        (**self).begin(task, total)
    }
    fn advance(&self, steps: u64) {
        (**self).advance(steps)
    }
    fn message(&self, message: &str) {
        (**self).message(message)
    }
    fn end(&self) {
        (**self).end()
    }
}
