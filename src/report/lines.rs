//! The timeline as lines a person reads: one per event worth telling, in a chosen time zone.
//! Markdown, text and HTML render the same lines, each in its own way.

use jiff::tz::TimeZone;

use super::model::{Report, local};
use crate::timeline::{Event, Outcome};

/// What a line tells.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Run,
    Step {
        step: String,
        outcome: Outcome,
        action: bool,
    },
    Attempt {
        step: String,
    },
    Milestone(String),
    Note,
}

/// One line of the timeline.
#[derive(Clone, Debug)]
pub struct Line {
    /// `2020-11-16`
    pub date: String,
    /// `EST`
    pub zone: String,
    /// `08:02`
    pub minute: String,
    /// `08:02:39`
    pub second: String,
    pub kind: Kind,
    /// The words after the time, without markup: `[sample_lb] FAILED 502 rate 38% ...`.
    pub text: String,
    /// Expectations that failed, each with its actual values.
    pub details: Vec<String>,
}

/// The label of a step outcome: `PASSED`, `DRY-RUN`.
pub fn label(outcome: Outcome) -> String {
    crate::ui::console::label(outcome)
}

/// The lines of a report. Steps skipped by `when` are left out (they did not happen); steps
/// a person skipped are kept (that decision is part of the story).
pub fn lines(report: &Report, tz: &TimeZone) -> Vec<Line> {
    let mut out = Vec::new();
    for record in &report.events {
        let Ok(ts) = record.ts.parse::<jiff::Timestamp>() else {
            continue;
        };
        let zoned = local(ts, tz);
        let mut line = Line {
            date: zoned.strftime("%Y-%m-%d").to_string(),
            zone: zoned.strftime("%Z").to_string(),
            minute: zoned.strftime("%H:%M").to_string(),
            second: zoned.strftime("%H:%M:%S").to_string(),
            kind: Kind::Run,
            text: String::new(),
            details: Vec::new(),
        };
        match &record.event {
            Event::RunStarted {
                actor,
                mode,
                runbook,
                ..
            } => {
                line.text = format!("run of `{runbook}` started by {actor} ({mode})");
            }
            Event::RunResumed {
                actor, next_step, ..
            } => {
                let at = next_step
                    .as_ref()
                    .map(|s| format!(" at [{s}]"))
                    .unwrap_or_default();
                line.text = format!("run resumed by {actor}{at}");
            }
            Event::StepFinished {
                step,
                outcome,
                summary,
                failures,
                action,
                decided_by,
                ..
            } => {
                if *outcome == Outcome::Skipped && summary.starts_with("skipped: ") {
                    continue;
                }
                line.kind = Kind::Step {
                    step: step.clone(),
                    outcome: *outcome,
                    action: *action,
                };
                line.text = format!("[{step}] {} {summary}", label(*outcome));
                if *action {
                    match (decided_by, outcome) {
                        (Some(_), Outcome::Skipped) if summary.starts_with("denied by ") => {
                            line.text.push_str(" (action)")
                        }
                        (Some(by), Outcome::Skipped) => {
                            line.text.push_str(&format!(" (action skipped by {by})"))
                        }
                        (Some(by), _) => {
                            line.text.push_str(&format!(" (action confirmed by {by})"))
                        }
                        (None, _) => line.text.push_str(" (action)"),
                    }
                }
                line.details = failures.iter().filter(|f| *f != summary).cloned().collect();
            }
            Event::StepAttempt {
                step,
                attempt,
                summary,
                failures,
                ..
            } => {
                line.kind = Kind::Attempt { step: step.clone() };
                line.text = format!("[{step}] attempt {attempt} did not pass: {summary}");
                line.details = failures.clone();
            }
            Event::Milestone {
                milestone,
                step,
                actor,
                ..
            } => {
                line.kind = Kind::Milestone(milestone.to_ascii_uppercase());
                let at = step
                    .as_ref()
                    .map(|s| format!(" at [{s}]"))
                    .unwrap_or_else(|| format!(" by {actor}"));
                line.text = format!("{}{at}", milestone.to_ascii_uppercase());
            }
            Event::Note { text, actor, .. } => {
                line.kind = Kind::Note;
                line.text = format!("note from {actor}: {text}");
            }
            Event::ApprovalRequested {
                step,
                needed,
                deadline,
                actor,
            } => {
                line.kind = Kind::Note;
                let until = deadline
                    .parse::<jiff::Timestamp>()
                    .map(|d| local(d, tz).strftime("%H:%M:%S %Z").to_string())
                    .unwrap_or_else(|_| deadline.clone());
                let s = if *needed == 1 { "" } else { "s" };
                line.text = format!(
                    "[{step}] awaiting {needed} approval{s} until {until} (requested by {actor})"
                );
            }
            Event::Approval { step, actor } => {
                line.kind = Kind::Note;
                line.text = format!(
                    "[{step}] approved by {actor}{}{}",
                    waited(report, record),
                    not_counted(report, record, step, actor)
                );
            }
            Event::Denial {
                step,
                actor,
                reason,
            } => {
                line.kind = Kind::Note;
                let why = reason
                    .as_ref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                line.text = format!("[{step}] denied by {actor}{why}{}", waited(report, record));
            }
            Event::RunFinished {
                outcome,
                exit_code,
                reason,
                ..
            } => {
                let why = reason
                    .as_ref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                line.text = format!("run {}{why} (exit {exit_code})", outcome.as_str());
            }
            Event::StepStarted { .. } => continue,
        }
        out.push(line);
    }
    out
}

/// ` (not counted: ...)` for an approval the report's model did not count (the initiator's own,
/// or a repeated one): the line must not read as if it let the action run.
fn not_counted(
    report: &Report,
    record: &crate::timeline::Record,
    step: &str,
    actor: &str,
) -> String {
    let Ok(ts) = record.ts.parse::<jiff::Timestamp>() else {
        return String::new();
    };
    let approval = report
        .steps
        .iter()
        .filter(|row| row.run_id == record.run_id && row.step == step)
        .filter_map(|row| row.approval.as_ref())
        .find(|info| {
            info.approvals
                .iter()
                .any(|a| a.actor == actor && a.ts == ts)
        });
    match approval {
        Some(info)
            if info
                .approvals
                .iter()
                .any(|a| a.actor == actor && a.ts == ts && !a.counted) =>
        {
            if info.requested_by == actor {
                " (not counted: they started the run)".into()
            } else {
                " (not counted: approved already)".into()
            }
        }
        _ => String::new(),
    }
}

/// ` after 2m 5s`: how long the approval or denial `record` came after its step's request.
fn waited(report: &Report, record: &crate::timeline::Record) -> String {
    let step = match &record.event {
        Event::Approval { step, .. } | Event::Denial { step, .. } => step,
        _ => return String::new(),
    };
    let requested = report
        .events
        .iter()
        .filter(|r| r.run_id == record.run_id && r.seq < record.seq)
        .filter(|r| matches!(&r.event, Event::ApprovalRequested { step: s, .. } if s == step))
        .filter_map(|r| r.ts.parse::<jiff::Timestamp>().ok())
        .next_back();
    match (requested, record.ts.parse::<jiff::Timestamp>()) {
        (Some(from), Ok(to)) => {
            let ms = to.duration_since(from).as_millis().max(0) as u64;
            format!(
                " after {}",
                crate::duration::human(std::time::Duration::from_millis(ms))
            )
        }
        _ => String::new(),
    }
}
