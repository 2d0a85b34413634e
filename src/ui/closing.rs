//! The closing table of a guided run: every step the run finished, with its number in the
//! runbook, and the milestones. A resumed run is one run: the table is built from the whole
//! timeline (what happened before the crash or the block, then what happens now), so its rows
//! and numbers are the same as if the run had never stopped.

use std::collections::HashMap;
use std::time::Duration;

use crate::timeline::{Event, Outcome, Record};

/// One finished step.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The step's number in the runbook: its position in `steps`, or after them for a step of
    /// `finally`, so no two steps share one.
    pub number: usize,
    pub step: String,
    pub outcome: Outcome,
    pub duration_ms: u64,
}

/// What the closing table shows, gathered from records as they come.
#[derive(Debug, Default)]
pub struct ClosingTable {
    /// How many steps the runbook's `steps` list has: `finally` steps are numbered after them.
    steps_total: usize,
    /// The number of each step as its `step_started` gave it.
    numbers: HashMap<String, usize>,
    pub rows: Vec<Row>,
    /// (milestone, the time it was recorded).
    pub milestones: Vec<(String, String)>,
}

impl ClosingTable {
    pub fn new(steps_total: usize) -> Self {
        ClosingTable {
            steps_total,
            ..ClosingTable::default()
        }
    }

    /// Takes in one record; `clock` turns its timestamp into what the table shows.
    pub fn record(&mut self, record: &Record, clock: impl Fn(&str) -> String) {
        match &record.event {
            Event::StepStarted {
                step, index, phase, ..
            } => {
                let number = if phase == "finally" {
                    self.steps_total + index
                } else {
                    *index
                };
                self.numbers.insert(step.clone(), number);
            }
            Event::StepFinished {
                step,
                outcome,
                duration_ms,
                ..
            } => {
                // A step skipped by `when` has a `step_started` too; 0 only for a timeline
                // without one (written by hand or torn).
                let number = self.numbers.get(step).copied().unwrap_or(0);
                self.rows.push(Row {
                    number,
                    step: step.clone(),
                    outcome: *outcome,
                    duration_ms: *duration_ms,
                });
            }
            // A retraction withdraws the latest standing milestone of that word.
            Event::Milestone {
                milestone,
                retracted: true,
                ..
            } => {
                if let Some(at) = self
                    .milestones
                    .iter()
                    .rposition(|(m, _)| m.eq_ignore_ascii_case(milestone))
                {
                    self.milestones.remove(at);
                }
            }
            Event::Milestone { milestone, .. } => {
                self.milestones.push((milestone.clone(), clock(&record.ts)));
            }
            _ => {}
        }
    }

    /// The table's header line.
    pub fn header() -> String {
        format!("{:<4}{:<24} {:<12} {}", "#", "STEP", "OUTCOME", "DURATION")
    }

    /// The cells of a row, without styles so the caller can colour the outcome: number and
    /// step, the outcome's label padded, the duration.
    pub fn cells(row: &Row) -> (String, String, String) {
        let number = if row.number == 0 {
            "-".to_string()
        } else {
            row.number.to_string()
        };
        (
            format!("{number:<4}{:<24}", row.step),
            format!("{:<12}", super::console::label(row.outcome)),
            crate::duration::human(Duration::from_millis(row.duration_ms)),
        )
    }

    /// `milestones: DETECTED 08:02:39 EST, …`, or nothing when none was recorded.
    pub fn milestones_line(&self) -> Option<String> {
        (!self.milestones.is_empty()).then(|| {
            format!(
                "milestones: {}",
                self.milestones
                    .iter()
                    .map(|(m, t)| format!("{} {t}", m.to_ascii_uppercase()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(event: Event) -> Record {
        Record {
            seq: 1,
            ts: "2026-11-22T19:30:00.000Z".into(),
            run_id: "r".into(),
            event,
        }
    }

    fn started(step: &str, index: usize, phase: &str) -> Record {
        record(Event::StepStarted {
            step: step.into(),
            title: step.into(),
            index,
            phase: phase.into(),
            action: false,
            entry: 1,
        })
    }

    fn finished(step: &str, outcome: Outcome) -> Record {
        record(Event::StepFinished {
            step: step.into(),
            title: step.into(),
            outcome,
            duration_ms: 5,
            summary: String::new(),
            data: Default::default(),
            attempt: 1,
            failures: Vec::new(),
            action: false,
            decided_by: None,
            phase: "steps".into(),
        })
    }

    #[test]
    fn rows_keep_the_runbook_numbers_and_finally_comes_after_the_steps() {
        let mut table = ClosingTable::new(3);
        for r in [
            started("a", 1, "steps"),
            finished("a", Outcome::Passed),
            // A crash during `b`: started, never finished, started again on resume.
            started("b", 2, "steps"),
            started("b", 2, "steps"),
            finished("b", Outcome::Blocked),
            started("b", 2, "steps"),
            finished("b", Outcome::Passed),
            started("c", 3, "steps"),
            finished("c", Outcome::Passed),
            started("tidy", 1, "finally"),
            finished("tidy", Outcome::Passed),
        ] {
            table.record(&r, str::to_string);
        }
        let shown: Vec<(usize, &str, Outcome)> = table
            .rows
            .iter()
            .map(|r| (r.number, r.step.as_str(), r.outcome))
            .collect();
        assert_eq!(
            shown,
            [
                (1, "a", Outcome::Passed),
                (2, "b", Outcome::Blocked),
                (2, "b", Outcome::Passed),
                (3, "c", Outcome::Passed),
                (4, "tidy", Outcome::Passed),
            ]
        );
    }
}
