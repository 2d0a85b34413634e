//! The one live line under a running step, in both views: a spinner while a step runs, the
//! counts and phase of a sampled probe (`12/60 done, 4 in flight, 3 failed · waiting for
//! headers`), the countdown to a retry or through a `wait`. Lines printed meanwhile go above
//! it, and it is erased (never left half-drawn) when the step ends or is interrupted.

use std::sync::{Arc, Mutex};
use std::time::Duration;

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

    /// Prints `text` (already wrapped) above the live line. Not `ProgressBar::println`: it
    /// pads the line to the width indicatif is given and relies on the terminal wrapping
    /// there, which the live line's narrower width (see [`Narrower`]) does not do.
    pub fn println(&self, text: &str) {
        self.suspend(|| {
            let _ = self.term.write_line(text);
        });
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

    /// Erases the line shown, then shows `bar` (made hidden, so that nothing of it is drawn
    /// before the old line is gone).
    fn replace(&self, bar: ProgressBar, kind: Kind) {
        let mut slot = self.slot();
        if let Some((old, _)) = slot.take() {
            old.finish_and_clear();
        }
        bar.set_draw_target(self.target());
        // Drawn now, not when the ticker's thread first runs: a short attempt would otherwise
        // never be seen on a busy machine. (Once the ticker runs, `tick` does nothing.)
        bar.tick();
        bar.enable_steady_tick(Duration::from_millis(120));
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
            ProgressDrawTarget::term_like_with_hz(
                Box::new(Narrower {
                    term: self.term.clone(),
                    width: self.width(),
                }),
                10,
            )
        } else {
            ProgressDrawTarget::hidden()
        }
    }

    fn bar(&self, template: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar
    }

    /// A bar counting `total` down: `{left}` in `template` is the time left, computed from
    /// the bar's own clock at each draw, so it can only go down (no thread racing the bar).
    fn countdown(&self, template: &str, total: Duration) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .with_key(
                "left",
                move |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = w.write_str(&seconds_left(total.saturating_sub(state.elapsed())));
                },
            );
        bar.set_style(style);
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
                bar.set_message(fit(&message, width.saturating_sub(12)));
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
                let current = self.current(Kind::Samples);
                let room = width.saturating_sub(4 + ECHO_ROOM);
                let mut text = samples_text(done, total, in_flight, failed, phase);
                // The rates are extra: shown where the line has room for them.
                let p95 = p95_ms.map_or("-".into(), crate::duration::human_ms);
                let rates = format!(" · 5xx {:.1}%  p95 {p95}", rate_5xx * 100.0);
                if console::measure_text_width(&text) + rates.len() <= room {
                    text.push_str(&rates);
                }
                let text = fit(&text, room);
                match current {
                    Some(bar) => bar.set_message(text),
                    None => {
                        let bar = self.bar("  {spinner} {msg}");
                        bar.set_message(text);
                        self.replace(bar, Kind::Samples);
                    }
                }
            }
            ProgressUpdate::Retrying {
                step,
                attempt,
                attempts,
                delay,
            } => {
                let text = format!("{step}: attempt {attempt}/{attempts} did not pass;");
                let text = fit(&text, width.saturating_sub(26 + ECHO_ROOM));
                let bar = self.countdown("  {msg} next attempt in {left}", delay);
                bar.set_message(text);
                self.replace(bar, Kind::Countdown);
            }
            ProgressUpdate::Waiting { duration } => {
                let bar = self.countdown("  waiting, {left} left", duration);
                self.replace(bar, Kind::Countdown);
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
/// the wait is over (and still `1s` in the moment before the line is replaced, never `0s`),
/// and it never shows a number below the one before.
fn seconds_left(left: Duration) -> String {
    let secs = (left.as_millis().div_ceil(1000) as u64).max(1);
    if secs >= 60 {
        format!("{}m {}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// The terminal as the live line sees it: a few columns narrower than it is. indicatif pads
/// the line to the width it is given; at the full width the cursor would wait in the last
/// column, and the `^C` the terminal echoes on Ctrl-C would wrap onto a row of its own, so
/// that erasing "the live line" erased that row and left the line above on the screen.
#[derive(Debug)]
struct Narrower {
    term: Term,
    width: usize,
}

/// Room kept at the right of the live line for the terminal's `^C`.
const ECHO_ROOM: usize = 3;

impl indicatif::TermLike for Narrower {
    fn width(&self) -> u16 {
        let real = usize::from(self.term.size().1);
        u16::try_from(self.width.min(real).saturating_sub(ECHO_ROOM).max(10)).unwrap_or(u16::MAX)
    }
    fn height(&self) -> u16 {
        self.term.size().0
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        self.term.move_cursor_up(n)
    }
    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        self.term.move_cursor_down(n)
    }
    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        self.term.move_cursor_right(n)
    }
    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        self.term.move_cursor_left(n)
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.term.write_line(s)
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.term.write_str(s)
    }
    fn clear_line(&self) -> std::io::Result<()> {
        self.term.clear_line()
    }
    fn flush(&self) -> std::io::Result<()> {
        self.term.flush()
    }
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
        assert_eq!(shown.last().unwrap(), "1s");
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
