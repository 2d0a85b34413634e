//! The one live line under a running step, in both views: a spinner while a step runs, the
//! counts and phase of a sampled probe (`12/60 done, 4 in flight, 3 failed · waiting for
//! headers`), the countdown to a retry or through a `wait`. Lines printed meanwhile go above
//! it, and it is erased (never left half-drawn) when the step ends or is interrupted.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use console::Term;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::exec::{Progress, ProgressUpdate, RequestPhase};
use crate::timeline::Outcome;

/// What the line shows now: a new kind of update replaces the bar, the same kind updates it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Spinner,
    Samples,
    Countdown,
}

/// The live line on one terminal.
pub struct LiveLine {
    term: Term,
    bar: Mutex<Option<(ProgressBar, Kind)>>,
}

impl LiveLine {
    pub fn new(term: Term) -> Arc<Self> {
        Arc::new(LiveLine {
            term,
            bar: Mutex::new(None),
        })
    }

    /// The progress sink the engine and executors report to.
    pub fn sink(self: &Arc<Self>) -> Progress {
        let live = Arc::clone(self);
        Arc::new(move |update| live.show(update))
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<(ProgressBar, Kind)>> {
        self.bar.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Prints `text` (already wrapped) above the live line.
    pub fn println(&self, text: &str) {
        let slot = self.slot();
        match slot.as_ref() {
            Some((bar, _)) => bar.println(text),
            None => {
                let _ = self.term.write_line(text);
            }
        }
    }

    /// Runs `f` (which writes elsewhere, e.g. stdout) with the live line off the screen.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        let slot = self.slot();
        match slot.as_ref() {
            Some((bar, _)) => bar.suspend(f),
            None => f(),
        }
    }

    /// Erases the live line.
    pub fn clear(&self) {
        if let Some((bar, _)) = self.slot().take() {
            bar.finish_and_clear();
        }
    }

    fn width(&self) -> usize {
        super::layout::width(&self.term)
    }

    fn replace(&self, bar: ProgressBar, kind: Kind) {
        let mut slot = self.slot();
        if let Some((old, _)) = slot.take() {
            old.finish_and_clear();
        }
        *slot = Some((bar, kind));
    }

    fn current(&self, kind: Kind) -> Option<ProgressBar> {
        self.slot()
            .as_ref()
            .filter(|(_, k)| *k == kind)
            .map(|(bar, _)| bar.clone())
    }

    fn target(&self) -> ProgressDrawTarget {
        if self.term.is_term() {
            ProgressDrawTarget::term(self.term.clone(), 10)
        } else {
            ProgressDrawTarget::hidden()
        }
    }

    fn bar(&self, template: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(None, self.target());
        bar.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar
    }

    /// Shows an update from the engine or an executor.
    pub fn show(&self, update: ProgressUpdate) {
        let width = self.width();
        match update {
            ProgressUpdate::Running {
                step,
                kind,
                attempt,
                attempts,
            } => {
                // Every attempt starts afresh: nothing of the last attempt's counts stays.
                let message = if attempts > 1 {
                    format!("{step}: {kind}, attempt {attempt}/{attempts}")
                } else {
                    format!("{step}: {kind}")
                };
                let bar = self.bar("{spinner} {msg} {elapsed}");
                bar.set_message(fit(&message, width.saturating_sub(8)));
                bar.enable_steady_tick(Duration::from_millis(120));
                self.replace(bar, Kind::Spinner);
            }
            ProgressUpdate::Samples {
                done,
                total,
                in_flight,
                failed,
                phase,
                rate_5xx,
                p95_ms,
            } => {
                let bar = self.current(Kind::Samples).unwrap_or_else(|| {
                    let bar = self.bar("  {spinner} {msg}");
                    bar.enable_steady_tick(Duration::from_millis(120));
                    self.replace(bar.clone(), Kind::Samples);
                    bar
                });
                let room = width.saturating_sub(5);
                let mut text = samples_text(done, total, in_flight, failed, phase);
                // The rates are extra: shown where the line has room for them.
                let p95 = p95_ms.map_or("-".into(), crate::duration::human_ms);
                let rates = format!(" · 5xx {:.1}%  p95 {p95}", rate_5xx * 100.0);
                if console::measure_text_width(&text) + rates.len() <= room {
                    text.push_str(&rates);
                }
                bar.set_message(fit(&text, room));
            }
            ProgressUpdate::Retrying {
                step,
                attempt,
                attempts,
                delay,
            } => {
                let bar = self.bar("  {msg}");
                self.replace(bar.clone(), Kind::Countdown);
                let prefix = format!("{step}: attempt {attempt}/{attempts} did not pass;");
                countdown(bar, delay, width, move |left| {
                    format!("{prefix} next attempt in {left}")
                });
            }
            ProgressUpdate::Waiting { duration } => {
                let bar = self.bar("  {msg}");
                self.replace(bar.clone(), Kind::Countdown);
                countdown(bar, duration, width, |left| format!("waiting, {left} left"));
            }
        }
    }
}

/// `12/60 done, 4 in flight, 3 failed · waiting for headers`; counts of nothing are left out
/// (`0/60 done, 10 in flight · waiting for headers`), and so is the phase with nothing in
/// flight.
pub fn samples_text(
    done: u32,
    total: u32,
    in_flight: u32,
    failed: u32,
    phase: Option<RequestPhase>,
) -> String {
    let mut text = format!("{done}/{total} done");
    if in_flight > 0 {
        text.push_str(&format!(", {in_flight} in flight"));
    }
    if failed > 0 {
        text.push_str(&format!(", {failed} failed"));
    }
    if let Some(phase) = phase.filter(|_| in_flight > 0) {
        text.push_str(" · ");
        text.push_str(phase.label());
    }
    text
}

/// The result of an attempt that will be retried, printed before the countdown to the next:
/// `attempt 1 of 3 failed: expected rate_error < 0.02, got rate_error = 0.38`.
pub fn attempt_line(
    attempt: u32,
    attempts: Option<u32>,
    outcome: Outcome,
    summary: &str,
    failures: &[String],
) -> String {
    let of = attempts.map(|n| format!(" of {n}")).unwrap_or_default();
    let verb = if outcome == Outcome::Error {
        "could not run"
    } else {
        "failed"
    };
    let what = if failures.is_empty() {
        summary.to_string()
    } else {
        failures.join("; ")
    };
    format!("attempt {attempt}{of} {verb}: {what}")
}

/// Time left, in whole seconds rounded up: `3s`, `1m 5s`. Rounded up, so it reads `1s` until
/// the wait is over, and it never shows a number below the one before.
fn seconds_left(left: Duration) -> String {
    let secs = left.as_millis().div_ceil(1000) as u64;
    if secs >= 60 {
        format!("{}m {}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// Counts `total` down on `bar` from its own clock, until the bar is replaced or cleared.
fn countdown(
    bar: ProgressBar,
    total: Duration,
    width: usize,
    text: impl Fn(&str) -> String + Send + 'static,
) {
    bar.set_message(fit(&text(&seconds_left(total)), width.saturating_sub(3)));
    std::thread::spawn(move || {
        let start = Instant::now();
        while !bar.is_finished() {
            let left = total.saturating_sub(start.elapsed());
            if left.is_zero() {
                break;
            }
            bar.set_message(fit(&text(&seconds_left(left)), width.saturating_sub(3)));
            bar.tick();
            std::thread::sleep(Duration::from_millis(100));
        }
    });
}

/// `text` cut to `width` columns: the live line must stay one line, or erasing it would leave
/// its first part behind.
fn fit(text: &str, width: usize) -> String {
    console::truncate_str(text, width.max(10), "…").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_of_nothing_are_left_out() {
        assert_eq!(
            samples_text(12, 60, 4, 3, Some(RequestPhase::Headers)),
            "12/60 done, 4 in flight, 3 failed · waiting for headers"
        );
        assert_eq!(
            samples_text(0, 60, 10, 0, Some(RequestPhase::Headers)),
            "0/60 done, 10 in flight · waiting for headers"
        );
        assert_eq!(
            samples_text(5, 60, 1, 0, Some(RequestPhase::Connecting)),
            "5/60 done, 1 in flight · connecting"
        );
        assert_eq!(
            samples_text(60, 60, 0, 2, Some(RequestPhase::Body)),
            "60/60 done, 2 failed"
        );
    }

    #[test]
    fn countdowns_round_up_and_only_go_down() {
        let shown: Vec<String> = (0..=30)
            .rev()
            .map(|tenths| seconds_left(Duration::from_millis(tenths * 100)))
            .collect();
        assert_eq!(shown.first().unwrap(), "3s");
        assert_eq!(shown[shown.len() - 2], "1s");
        let numbers: Vec<u64> = shown
            .iter()
            .map(|s| s.trim_end_matches('s').parse().unwrap())
            .collect();
        assert!(numbers.windows(2).all(|w| w[0] >= w[1]), "{shown:?}");
        assert_eq!(seconds_left(Duration::from_secs(90)), "1m 30s");
    }

    #[test]
    fn the_attempt_line_names_what_failed() {
        let failures = vec!["expected rate_error < 0.02, got rate_error = 0.38".to_string()];
        assert_eq!(
            attempt_line(1, Some(3), Outcome::Failed, "failed 38%", &failures),
            "attempt 1 of 3 failed: expected rate_error < 0.02, got rate_error = 0.38"
        );
        assert_eq!(
            attempt_line(2, Some(3), Outcome::Failed, "502 Bad Gateway in 3 ms", &[]),
            "attempt 2 of 3 failed: 502 Bad Gateway in 3 ms"
        );
    }
}
