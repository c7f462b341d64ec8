//! [`LogProgress`]: progress as plain log lines every N seconds, for runs whose stderr is a file
//! (a batch scheduler, `nohup`), where a redrawn progress bar would print nothing or garbage.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::progress::Progress;

/// The environment variable front ends read for the interval in seconds (0 turns lines off).
pub const INTERVAL_ENV: &str = "LOSSCAPE_PROGRESS_EVERY";

/// The interval used when none is given: one line every 30 seconds.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);

/// Writes one line per running task at most every `every`:
/// `grid points: 120/625 (19.2%), 4.10/s, ETA 2m03s | (0.250, -0.500) loss 2.3026`.
///
/// A task that reports messages gets its line on the first message after the interval has
/// passed (so the line shows the newest message, not the one before the last step); a task
/// without messages gets it on the step itself. A task that ran at least one interval ends with
/// a closing line (`grid points: done 625/625 in 2m31s, 4.14/s`). An interval of zero writes
/// nothing. Write errors are ignored: progress must never stop the work.
pub struct LogProgress<W: Write + Send> {
    every: Duration,
    state: Mutex<State<W>>,
}

struct State<W> {
    out: W,
    task: Option<Task>,
}

struct Task {
    name: String,
    total: u64,
    done: u64,
    started: Instant,
    last_line: Instant,
    message: Option<String>,
    lines: u64,
}

impl<W: Write + Send> LogProgress<W> {
    /// Lines go to `out`, at most one per `every` and task.
    pub fn new(out: W, every: Duration) -> Self {
        Self { every, state: Mutex::new(State { out, task: None }) }
    }

    /// The interval between lines.
    pub fn every(&self) -> Duration {
        self.every
    }

    /// Gives the writer back (for tests and for flushing a buffer).
    pub fn into_inner(self) -> W {
        match self.state.into_inner() {
            Ok(state) => state.out,
            Err(poisoned) => poisoned.into_inner().out,
        }
    }

    /// [`Progress::begin`] at time `now`.
    pub fn begin_at(&self, task: &str, total: u64, now: Instant) {
        self.with(|state| {
            state.task = Some(Task {
                name: task.to_owned(),
                total,
                done: 0,
                started: now,
                last_line: now,
                message: None,
                lines: 0,
            })
        });
    }

    /// [`Progress::advance`] at time `now`.
    pub fn advance_at(&self, steps: u64, now: Instant) {
        let every = self.every;
        self.with(|state| {
            let State { out, task } = state;
            if let Some(task) = task.as_mut() {
                task.done += steps;
                if task.message.is_none() && due(task, every, now) {
                    task.write_line(out, now);
                }
            }
        });
    }

    /// [`Progress::message`] at time `now`.
    pub fn message_at(&self, message: &str, now: Instant) {
        let every = self.every;
        self.with(|state| {
            let State { out, task } = state;
            if let Some(task) = task.as_mut() {
                task.message = Some(message.to_owned());
                if due(task, every, now) {
                    task.write_line(out, now);
                }
            }
        });
    }

    /// [`Progress::end`] at time `now`.
    pub fn end_at(&self, now: Instant) {
        let every = self.every;
        self.with(|state| {
            if let Some(task) = state.task.take() {
                let elapsed = now.saturating_duration_since(task.started);
                if !every.is_zero() && (task.lines > 0 || elapsed >= every) {
                    let total = if task.total > 0 { format!("/{}", task.total) } else { String::new() };
                    let _ = writeln!(
                        state.out,
                        "{}: done {}{total} in {}, {}/s",
                        task.name,
                        task.done,
                        format_duration(elapsed),
                        format_rate(task.done as f64 / elapsed.as_secs_f64().max(1e-9)),
                    );
                    let _ = state.out.flush();
                }
            }
        });
    }

    fn with(&self, f: impl FnOnce(&mut State<W>)) {
        let mut guard = match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard);
    }
}

fn due(task: &Task, every: Duration, now: Instant) -> bool {
    !every.is_zero() && now.saturating_duration_since(task.last_line) >= every
}

impl Task {
    fn write_line<W: Write>(&mut self, out: &mut W, now: Instant) {
        let elapsed = now.saturating_duration_since(self.started).as_secs_f64();
        let rate = self.done as f64 / elapsed.max(1e-9);
        let mut line = format!("{}: {}", self.name, self.done);
        if self.total > 0 {
            let percent = 100.0 * self.done as f64 / self.total as f64;
            line.push_str(&format!("/{} ({percent:.1}%)", self.total));
        }
        line.push_str(&format!(", {}/s", format_rate(rate)));
        if self.total > 0 {
            let left = self.total.saturating_sub(self.done);
            if left == 0 {
                line.push_str(", ETA 0s");
            } else if self.done > 0 && rate > 0.0 {
                line.push_str(&format!(", ETA {}", format_duration(Duration::from_secs_f64(left as f64 / rate))));
            } else {
                line.push_str(", ETA unknown");
            }
        }
        if let Some(message) = &self.message {
            line.push_str(" | ");
            line.push_str(message);
        }
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
        self.last_line = now;
        self.lines += 1;
    }
}

impl<W: Write + Send> Progress for LogProgress<W> {
    fn begin(&self, task: &str, total: u64) {
        self.begin_at(task, total, Instant::now());
    }
    fn advance(&self, steps: u64) {
        self.advance_at(steps, Instant::now());
    }
    fn message(&self, message: &str) {
        self.message_at(message, Instant::now());
    }
    fn end(&self) {
        self.end_at(Instant::now());
    }
}

/// Parses an interval in seconds (`30`, `0.5`; `0` turns lines off).
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text.trim().parse().map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if !seconds.is_finite() || seconds < 0.0 || seconds > 1e9 {
        return Err(format!("'{text}' seconds is out of range (0 to 1e9; 0 turns progress lines off)"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// `2h05m`, `3m07s`, `42s`, `0.4s`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 10.0 {
        return format!("{secs:.1}s");
    }
    let whole = secs.round() as u64;
    let (h, m, s) = (whole / 3600, (whole / 60) % 60, whole % 60);
    if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

/// Three significant figures for rates from 0.001 to millions.
fn format_rate(rate: f64) -> String {
    if rate >= 100.0 {
        format!("{rate:.0}")
    } else if rate >= 10.0 {
        format!("{rate:.1}")
    } else if rate >= 1.0 {
        format!("{rate:.2}")
    } else {
        format!("{rate:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(log: LogProgress<Vec<u8>>) -> String {
        String::from_utf8(log.into_inner()).unwrap()
    }

    #[test]
    fn one_line_per_interval_with_rate_and_eta() {
        let t0 = Instant::now();
        let s = |x: f64| t0 + Duration::from_secs_f64(x);
        let log = LogProgress::new(Vec::new(), Duration::from_secs(30));
        log.begin_at("grid points", 100, t0);
        // 1 step every 2 s: lines after 30 s (15 done) and 60 s (30 done), none in between.
        for i in 1..=30 {
            log.advance_at(1, s(2.0 * i as f64));
        }
        log.end_at(s(61.0));
        let out = text(log);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            [
                "grid points: 15/100 (15.0%), 0.500/s, ETA 2m50s",
                "grid points: 30/100 (30.0%), 0.500/s, ETA 2m20s",
                "grid points: done 30/100 in 1m01s, 0.492/s",
            ]
        );
    }

    #[test]
    fn messages_carry_the_line_and_short_tasks_stay_quiet() {
        let t0 = Instant::now();
        let s = |x: f64| t0 + Duration::from_secs_f64(x);
        let log = LogProgress::new(Vec::new(), Duration::from_secs(10));
        log.begin_at("epoch 1/2", 4, t0);
        for i in 1..=4u64 {
            log.advance_at(1, s(4.0 * i as f64));
            log.message_at(&format!("loss {i}"), s(4.0 * i as f64));
        }
        log.end_at(s(16.0));
        // A task shorter than the interval: no line at all.
        log.begin_at("epoch 2/2", 4, s(16.0));
        log.advance_at(4, s(17.0));
        log.end_at(s(17.0));
        // No total: no percentage and no ETA.
        log.begin_at("gram", 0, s(20.0));
        log.advance_at(50, s(45.0));
        log.end_at(s(45.0));
        assert_eq!(
            text(log),
            "epoch 1/2: 3/4 (75.0%), 0.250/s, ETA 4.0s | loss 3\n\
             epoch 1/2: done 4/4 in 16s, 0.250/s\n\
             gram: 50, 2.00/s\n\
             gram: done 50 in 25s, 2.00/s\n"
        );
    }

    #[test]
    fn zero_interval_is_silent_and_intervals_parse() {
        let log = LogProgress::new(Vec::new(), Duration::ZERO);
        let t0 = Instant::now();
        log.begin_at("x", 3, t0);
        log.advance_at(3, t0 + Duration::from_secs(100));
        log.end_at(t0 + Duration::from_secs(100));
        assert!(text(log).is_empty());
        assert_eq!(parse_interval("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_interval("0.25").unwrap(), Duration::from_millis(250));
        assert!(parse_interval("-1").is_err());
        assert!(parse_interval("soon").is_err());
        assert!(parse_interval("inf").is_err());
        assert_eq!(format_duration(Duration::from_secs(7530)), "2h05m");
    }
}
