//! Picking a recorded run up again: the results of finished steps come back as `steps.<id>`,
//! and the run continues after the last finished step. A step that started and never finished
//! runs again; if it is an action, the decider is asked again (interactive) or `--yes` is
//! needed (non-interactive): an action is never repeated silently.

use serde_json::{Map, Value as Json, json};

use super::{History, Phase, StartPoint};
use crate::runbook::{OnFail, Runbook};

use super::answer_names;
use crate::timeline::{Event, Outcome, Record, RunOutcome};

/// What a timeline says about the run it records.
#[derive(Debug)]
pub struct Recorded {
    pub run_id: String,
    pub last_seq: u64,
    pub sha256: String,
    pub runbook: String,
    /// The run was started with `--dry-run`.
    pub dry_run: bool,
    pub vars: Map<String, Json>,
    /// The alert that started a served run, restored for expressions reading `alert`.
    pub alert: Option<Json>,
    pub history: History,
    /// Where to continue, or `None` when the run already completed.
    pub start: Option<StartPoint>,
    pub finished: Option<RunOutcome>,
}

/// Reads a run's state from its records.
pub fn recorded(records: &[Record], runbook: &Runbook) -> Result<Recorded, String> {
    let Some(first) = records.first() else {
        return Err("the timeline has no events".into());
    };
    let (sha256, name, dry_run, mut vars, alert) = records
        .iter()
        .find_map(|r| match &r.event {
            Event::RunStarted {
                sha256,
                runbook,
                vars,
                dry_run,
                alert,
                ..
            } => Some((
                sha256.clone(),
                runbook.clone(),
                *dry_run,
                vars.clone(),
                alert.clone(),
            )),
            _ => None,
        })
        .ok_or("the timeline has no run_started event")?;
    let mut history = History::default();
    // Per phase: the last step that started without finishing, and the last that finished.
    let mut main = PhaseState::default();
    let mut fin = PhaseState::default();
    let mut finished = None;
    for record in records {
        match &record.event {
            Event::RunResumed { vars: v, .. } => {
                vars = v.clone();
                finished = None;
                fin = PhaseState::default();
            }
            Event::StepStarted { step, phase, .. } => {
                *history.entries.entry(step.clone()).or_insert(0) += 1;
                let state = if phase_of(phase) == Phase::Finally {
                    &mut fin
                } else {
                    &mut main
                };
                state.open = Some(step.clone());
            }
            Event::StepFinished {
                step,
                outcome,
                data,
                summary,
                duration_ms,
                attempt,
                phase,
                ..
            } => {
                let mut fields = data.clone();
                fields.insert("outcome".into(), json!(outcome.as_str()));
                fields.insert("passed".into(), json!(*outcome == Outcome::Passed));
                fields.insert("summary".into(), json!(summary));
                fields.insert("duration_ms".into(), json!(duration_ms));
                fields.insert("attempt".into(), json!(attempt));
                history.record(step, &fields, &answer_names(runbook.step(step)));
                let state = if phase_of(phase) == Phase::Finally {
                    &mut fin
                } else {
                    &mut main
                };
                state.open = None;
                state.last = Some((step.clone(), *outcome));
            }
            Event::RunFinished { outcome, .. } => finished = Some(*outcome),
            _ => {}
        }
    }
    let last_seq = records.iter().map(|r| r.seq).max().unwrap_or(0);
    let start = if finished == Some(RunOutcome::Completed) {
        None
    } else {
        let in_finally = finished.is_none() && (fin.open.is_some() || fin.last.is_some());
        Some(if in_finally {
            start_point(runbook, Phase::Finally, &fin)
        } else {
            start_point(runbook, Phase::Steps, &main)
        })
    };
    Ok(Recorded {
        run_id: first.run_id.clone(),
        last_seq,
        sha256,
        runbook: name,
        dry_run,
        vars,
        alert,
        history,
        start,
        finished,
    })
}

fn phase_of(name: &str) -> Phase {
    if name == "finally" {
        Phase::Finally
    } else {
        Phase::Steps
    }
}

/// What the timeline says about one phase (`steps` or `finally`).
#[derive(Default)]
struct PhaseState {
    open: Option<String>,
    last: Option<(String, Outcome)>,
}

fn start_point(runbook: &Runbook, phase: Phase, state: &PhaseState) -> StartPoint {
    let list = match phase {
        Phase::Steps => &runbook.steps,
        Phase::Finally => &runbook.finally,
    };
    let position = |id: &str| list.iter().position(|s| s.id == id);
    // A step that started and never finished: run it again.
    if let Some(id) = &state.open
        && let Some(index) = position(id)
    {
        let action = list[index].action;
        return StartPoint {
            phase,
            index,
            interrupted_action: action.then(|| id.clone()),
        };
    }
    let Some((id, outcome)) = &state.last else {
        return StartPoint {
            phase,
            index: 0,
            interrupted_action: None,
        };
    };
    let Some(index) = position(id) else {
        return StartPoint::beginning();
    };
    // Where the run stopped at a step (blocked, failed with `stop`, interrupted), resuming
    // tries that step again; otherwise the run goes on as it would have.
    let stopped_here = match outcome {
        Outcome::Passed | Outcome::Skipped | Outcome::DryRun => false,
        Outcome::Blocked | Outcome::Interrupted => true,
        Outcome::Failed | Outcome::Error => match &list[index].on_fail {
            OnFail::Continue => false,
            OnFail::Goto { step: target, .. } => {
                if let Some(t) = position(target) {
                    return StartPoint {
                        phase,
                        index: t,
                        interrupted_action: None,
                    };
                }
                false
            }
            OnFail::Stop => true,
        },
    };
    StartPoint {
        phase,
        index: if stopped_here { index } else { index + 1 },
        interrupted_action: None,
    }
}
