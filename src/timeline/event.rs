//! The events of a run, as written to the timeline (one JSON object per line).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

/// One line of the timeline: the envelope every event shares, and the event itself.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub seq: u64,
    /// RFC 3339 UTC with milliseconds, e.g. `2026-11-22T19:30:00.123Z`.
    pub ts: String,
    pub run_id: String,
    #[serde(flatten)]
    pub event: Event,
}

/// What happened.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        runbook: String,
        title: String,
        file: String,
        sha256: String,
        /// `guided` or `non-interactive`.
        mode: String,
        dry_run: bool,
        /// Vars in effect, secrets redacted.
        vars: Map<String, Json>,
        version: String,
        /// `user@host`, or `ci` under CI.
        actor: String,
        /// Where the timeline is, as given.
        timeline: String,
        /// The machine the run ran on (also under CI, where the actor names no host). Absent
        /// in timelines written before it was recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        /// The alert that started the run (`runbook serve`): `labels`, `annotations`,
        /// `status`, `startsAt`, `fingerprint`, `generatorURL`, as Alertmanager sent them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alert: Option<Json>,
    },
    /// A recorded run was picked up again with `--resume`.
    RunResumed {
        actor: String,
        version: String,
        /// The step the run continues at, if any.
        next_step: Option<String>,
        vars: Map<String, Json>,
    },
    StepStarted {
        step: String,
        title: String,
        /// 1-based position in its list.
        index: usize,
        /// `steps` or `finally`.
        phase: String,
        action: bool,
        /// How many times this step has been entered in this run (goto loops).
        entry: u32,
    },
    /// An attempt of a step with `retry` that did not pass and will be tried again.
    StepAttempt {
        step: String,
        attempt: u32,
        outcome: Outcome,
        summary: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        failures: Vec<String>,
        data: Map<String, Json>,
        duration_ms: u64,
        next_delay_ms: u64,
        /// How many attempts `retry` allows in all, the first included (absent in timelines
        /// written before it was recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attempts: Option<u32>,
    },
    StepFinished {
        step: String,
        title: String,
        outcome: Outcome,
        duration_ms: u64,
        summary: String,
        data: Map<String, Json>,
        attempt: u32,
        /// The expectations that did not hold, each with the actual values.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        failures: Vec<String>,
        action: bool,
        /// Who decided: the operator for confirmed or skipped actions, `--yes`, or the policy.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        decided_by: Option<String>,
        phase: String,
    },
    Milestone {
        milestone: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        actor: String,
        /// A retraction: it withdraws the latest earlier milestone of the same word (see
        /// `retract`). Written only when true, so older timelines read as they were.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        retracted: bool,
    },
    Note {
        text: String,
        actor: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
    },
    /// An action waits for approvals (`runbook run --approvals N`) instead of being blocked.
    ApprovalRequested {
        step: String,
        /// How many distinct approvers it needs (the run's initiator does not count).
        needed: u32,
        /// RFC 3339 UTC: without enough approvals by then, the action is `blocked`.
        deadline: String,
        /// Who asked: the run's initiator.
        actor: String,
    },
    /// `runbook approve`: one person's yes to the action awaiting approval.
    Approval { step: String, actor: String },
    /// `runbook deny`: the action is recorded as skipped, and the run goes on.
    Denial {
        step: String,
        actor: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    RunFinished {
        outcome: RunOutcome,
        exit_code: i32,
        duration_ms: u64,
        /// Why the run ended this way, in one line.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        counts: Map<String, Json>,
    },
}

impl Event {
    pub fn name(&self) -> &'static str {
        match self {
            Event::RunStarted { .. } => "run_started",
            Event::RunResumed { .. } => "run_resumed",
            Event::StepStarted { .. } => "step_started",
            Event::StepAttempt { .. } => "step_attempt",
            Event::StepFinished { .. } => "step_finished",
            Event::Milestone { .. } => "milestone",
            Event::Note { .. } => "note",
            Event::ApprovalRequested { .. } => "approval_requested",
            Event::Approval { .. } => "approval",
            Event::Denial { .. } => "denial",
            Event::RunFinished { .. } => "run_finished",
        }
    }
}

/// How a step ended.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed,
    Error,
    Skipped,
    DryRun,
    Blocked,
    Interrupted,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Error => "error",
            Outcome::Skipped => "skipped",
            Outcome::DryRun => "dry_run",
            Outcome::Blocked => "blocked",
            Outcome::Interrupted => "interrupted",
        }
    }

    /// Failed or error: what `on_fail` and `retry` respond to.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Outcome::Failed | Outcome::Error | Outcome::Interrupted
        )
    }
}

/// How a run ended; each maps to one exit code.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    Completed,
    Failed,
    Aborted,
    Blocked,
    Interrupted,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Completed => "completed",
            RunOutcome::Failed => "failed",
            RunOutcome::Aborted => "aborted",
            RunOutcome::Blocked => "blocked",
            RunOutcome::Interrupted => "interrupted",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `name()` is what the timeline writes as `event`, for every kind.
    #[test]
    fn names_are_the_recorded_event_kinds() {
        let lines = [
            r#"{"event":"run_started","runbook":"r","title":"t","file":"f","sha256":"s","mode":"guided","dry_run":false,"vars":{},"version":"v","actor":"a","timeline":"t"}"#,
            r#"{"event":"run_resumed","actor":"a","version":"v","next_step":null,"vars":{}}"#,
            r#"{"event":"step_started","step":"s","title":"t","index":1,"phase":"steps","action":false,"entry":1}"#,
            r#"{"event":"milestone","milestone":"detected","step":null,"actor":"a"}"#,
            r#"{"event":"note","text":"x","actor":"a"}"#,
            r#"{"event":"approval_requested","step":"s","needed":1,"deadline":"d","actor":"a"}"#,
            r#"{"event":"approval","step":"s","actor":"a"}"#,
            r#"{"event":"denial","step":"s","actor":"a","reason":"no"}"#,
        ];
        for line in lines {
            let event: Event = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            let written = serde_json::to_value(&event).unwrap();
            assert_eq!(written["event"], event.name(), "{line}");
        }
    }
}
