//! One line per finished step on stdout: outcome, id, title, summary (and what failed),
//! duration. Colour only when stdout is a terminal and `NO_COLOR` is unset.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use console::Style;

use super::progress::LiveLine;
use crate::engine::Observer;
use crate::redact::Redactor;
use crate::timeline::{Event, Outcome, Record};

pub struct Console {
    redactor: Arc<Redactor>,
    colour: bool,
    /// The live line on stderr, when it is a terminal (see [`Console::with_live`]).
    live: Option<Arc<LiveLine>>,
    /// The timeline, shell-quoted, for the `runbook approve` command shown while an action
    /// waits for approvals.
    timeline: Option<String>,
}

impl Console {
    pub fn new(redactor: Arc<Redactor>) -> Self {
        Console {
            redactor,
            colour: console::colors_enabled() && std::env::var_os("NO_COLOR").is_none(),
            live: None,
            timeline: None,
        }
    }

    /// Names the timeline in the command that approves a waiting action.
    pub fn with_timeline(mut self, path: &std::path::Path) -> Self {
        self.timeline = Some(crate::expr::escape::shell_quote(
            &path.display().to_string(),
        ));
        self
    }

    /// Shares the live line the run's progress is drawn on, so each printed line goes above
    /// it rather than through it.
    pub fn with_live(mut self, live: Arc<LiveLine>) -> Self {
        self.live = Some(live);
        self
    }

    /// Writes `text` to stdout wrapped to the terminal's width (whole when stdout is a pipe or
    /// a file), continuation lines under the text after the label (`hang` columns), with the
    /// live line out of the way.
    fn print(&self, text: &str, hang: usize) {
        let width = super::layout::terminal_width(&console::Term::stdout());
        let write = || {
            let mut out = std::io::stdout().lock();
            let lines = match width {
                Some(width) => super::layout::wrap_hanging(text, width, hang),
                None => vec![text.to_string()],
            };
            for line in lines {
                let _ = writeln!(out, "{line}");
            }
            let _ = out.flush();
        };
        match &self.live {
            Some(live) => live.suspend(write),
            None => write(),
        }
    }

    fn style(&self, outcome: Outcome) -> Style {
        if self.colour {
            outcome_style(outcome)
        } else {
            Style::new()
        }
    }
}

/// The width of the outcome label column (`PASSED     `).
const LABEL_WIDTH: usize = 11;

/// The colour of an outcome, the same in every view.
pub fn outcome_style(outcome: Outcome) -> Style {
    match outcome {
        Outcome::Passed => Style::new().green().bold(),
        Outcome::Failed | Outcome::Error | Outcome::Interrupted => Style::new().red().bold(),
        Outcome::Blocked => Style::new().magenta().bold(),
        Outcome::Skipped | Outcome::DryRun => Style::new().yellow(),
    }
}

/// The label of an outcome as printed: `PASSED`, `DRY-RUN`.
pub fn label(outcome: Outcome) -> String {
    outcome.as_str().replace('_', "-").to_ascii_uppercase()
}

impl Observer for Console {
    fn on_record(&mut self, record: &Record) {
        match &record.event {
            Event::StepFinished {
                step,
                title,
                outcome,
                duration_ms,
                summary,
                failures,
                attempt,
                ..
            } => {
                let mut line = format!("{step}  {title}: {summary}");
                let extra: Vec<&String> = failures.iter().filter(|f| *f != summary).collect();
                if !extra.is_empty() {
                    line.push_str(" — ");
                    line.push_str(
                        &extra
                            .iter()
                            .map(|f| f.as_str())
                            .collect::<Vec<_>>()
                            .join("; "),
                    );
                }
                if *attempt > 1 {
                    line.push_str(&format!(" [attempt {attempt}]"));
                }
                line.push_str(&format!(
                    " ({})",
                    crate::duration::human(Duration::from_millis(*duration_ms))
                ));
                // Escaped after masking (a secret is masked as it was written), and apart from
                // the label: its colour is ours, any other escape sequence is the system's.
                let line = self.redactor.redact(&line);
                if let Some(live) = &self.live {
                    live.clear();
                }
                self.print(
                    &format!(
                        "{} {}",
                        self.style(*outcome)
                            .apply_to(format!("{:<11}", label(*outcome))),
                        crate::escape::controls(&line)
                    ),
                    LABEL_WIDTH + 1,
                );
            }
            Event::StepAttempt {
                step,
                attempt,
                attempts,
                outcome,
                summary,
                failures,
                ..
            } => {
                // Printed before the wait for the next attempt, so a log shows why it waits.
                let line = format!(
                    "{step}  {}",
                    super::progress::attempt_line(*attempt, *attempts, *outcome, summary, failures)
                );
                let line = self.redactor.redact(&line);
                self.print(
                    &format!(
                        "{} {}",
                        self.style(*outcome).apply_to(format!("{:<11}", "RETRYING")),
                        crate::escape::controls(&line)
                    ),
                    LABEL_WIDTH + 1,
                );
            }
            Event::Milestone {
                milestone,
                step,
                retracted,
                ..
            } => {
                let at = step
                    .as_ref()
                    .map(|s| format!(" at `{s}`"))
                    .unwrap_or_default();
                let at = if *retracted {
                    format!(" retracted{at}")
                } else {
                    at
                };
                // Not `eprintln!`: after SIGHUP the terminal may be gone (see cli::say).
                let write = || {
                    let _ = writeln!(
                        std::io::stderr(),
                        "runbook: milestone {}{at}",
                        milestone.to_ascii_uppercase()
                    );
                };
                match &self.live {
                    Some(live) => live.suspend(write),
                    None => write(),
                }
            }
            Event::ApprovalRequested {
                step,
                needed,
                deadline,
                ..
            } => {
                let s = if *needed == 1 { "" } else { "s" };
                let timeline = self.timeline.as_deref().unwrap_or("TIMELINE");
                let write = || {
                    let _ = writeln!(
                        std::io::stderr(),
                        "runbook: `{}` awaits {needed} approval{s} until {deadline}: \
                         runbook approve {timeline} --step {} (or runbook deny ... --reason TEXT)",
                        crate::escape::controls(step),
                        crate::escape::controls(step),
                    );
                };
                match &self.live {
                    Some(live) => live.suspend(write),
                    None => write(),
                }
            }
            _ => {}
        }
    }
}
