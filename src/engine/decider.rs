//! The decider: who says yes to an action, answers a manual step, or chooses what happens after
//! a failure. The engine asks; a human (guided mode) or the non-interactive policy answers. Both
//! run through the same engine, so a drill in CI means what a guided run means.

use serde_json::{Map, Value as Json};

use crate::runbook::{AskField, Step};

/// What the engine shows before an action.
#[derive(Clone, Debug)]
pub struct ActionPrompt {
    pub step_id: String,
    pub title: String,
    /// The resolved request or command, secrets masked: `POST http://…/refresh`.
    pub preview: String,
    /// The run crashed while this action was running: it may already have taken effect.
    pub was_interrupted: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ActionDecision {
    /// Go ahead; `by` is who confirmed it (an actor name or `--yes`).
    Run {
        by: String,
    },
    /// Do not run it; the step is recorded as skipped.
    Skip {
        by: String,
    },
    Abort,
    /// Nobody could confirm it (non-interactive without `--yes`).
    Block {
        reason: String,
    },
    /// Ctrl-C at the prompt.
    Interrupt,
    /// A person refused it (`runbook deny`): recorded as skipped, `denied by NAME: reason`.
    Deny {
        by: String,
        reason: Option<String>,
    },
}

/// An action's request for approvals, recorded as `approval_requested` before the engine
/// asks [`Decider::confirm_action`].
#[derive(Clone, Debug, PartialEq)]
pub struct ApprovalRequest {
    pub needed: u32,
    /// RFC 3339 UTC.
    pub deadline: String,
    pub requested_by: String,
}

/// What the engine shows for a manual step.
#[derive(Clone, Debug)]
pub struct ManualPrompt {
    pub step_id: String,
    pub title: String,
    pub instructions: String,
    pub ask: Vec<AskField>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ManualDecision {
    Done {
        answers: Map<String, Json>,
        by: String,
    },
    Skip {
        by: String,
    },
    Abort,
    Block {
        reason: String,
    },
    /// Ctrl-C at the prompt.
    Interrupt,
}

/// Answers the engine's questions.
pub trait Decider: Send + Sync {
    fn confirm_action(&self, prompt: &ActionPrompt) -> ActionDecision;
    fn manual(&self, prompt: &ManualPrompt) -> ManualDecision;
    /// Who this decider acts as, for notes and milestones.
    fn actor(&self) -> String;

    /// Before each step runs (after `when`): show it, and in `--step` mode ask.
    fn before_step(&self, _intro: &StepIntro) -> StepGate {
        StepGate::Run
    }

    /// After a step failed where `on_fail` would stop the run, or was interrupted.
    /// The non-interactive policy stops; a person may retry, skip, jump or abort.
    fn after_failure(&self, _failure: &FailurePrompt) -> AfterFailure {
        AfterFailure::Stop
    }

    /// Notes and milestones the person added at prompts since the last call.
    fn take_annotations(&self) -> Vec<Annotation> {
        Vec::new()
    }

    /// Whether every answer comes at once (a policy, not a person). The engine then asks on
    /// its own thread instead of a blocking one: a hand-off per step would cost more than
    /// a trivial step itself.
    fn answers_at_once(&self) -> bool {
        false
    }

    /// Before [`Decider::confirm_action`]: the approvals to request, which the engine records.
    /// `None` when the action needs none, or when a request is already open (a resumed run).
    fn approval_request(&self, _prompt: &ActionPrompt) -> Option<ApprovalRequest> {
        None
    }

    /// A signal interrupted the question being asked: a decider that waits on something other
    /// than a person's keys (approvals) stops waiting.
    fn stop_waiting(&self) {}
}

/// What the engine shows before a step.
#[derive(Clone, Debug)]
pub struct StepIntro {
    pub step_id: String,
    pub title: String,
    /// 1-based position and the length of its list.
    pub number: usize,
    pub total: usize,
    pub phase: &'static str,
    pub action: bool,
    /// A `manual` step: shown as `manual`, not `check`.
    pub manual: bool,
    /// What the step will do, templates resolved, secrets masked.
    pub preview: String,
    /// Steps of the same list a jump may go to: (id, title).
    pub steps: Vec<(String, String)>,
    /// For each of `steps` that reads steps with no result yet, their ids (see
    /// [`super::not_run_message`]): a jump there runs it without that evidence.
    pub not_run: std::collections::HashMap<String, Vec<String>>,
}

/// The answer to [`Decider::before_step`].
#[derive(Clone, Debug, PartialEq)]
pub enum StepGate {
    Run,
    /// Do not run it; recorded as skipped by `by`.
    Skip {
        by: String,
    },
    /// Go to another step of the same list.
    Jump(String),
    Abort,
    /// Ctrl-C at the prompt.
    Interrupt,
}

/// What the engine shows after a failure.
#[derive(Clone, Debug)]
pub struct FailurePrompt {
    pub step_id: String,
    pub title: String,
    pub summary: String,
    pub failures: Vec<String>,
    /// The step was cut short by Ctrl-C rather than failing.
    pub interrupted: bool,
    pub steps: Vec<(String, String)>,
    /// As [`StepIntro::not_run`].
    pub not_run: std::collections::HashMap<String, Vec<String>>,
}

/// The answer to [`Decider::after_failure`].
#[derive(Clone, Debug, PartialEq)]
pub enum AfterFailure {
    /// Do what the runbook says (`on_fail: stop` ends the run).
    Stop,
    Retry,
    /// Go on with the next step as if `on_fail: continue`.
    Skip,
    Jump(String),
    Abort,
    /// End the run as interrupted (a second Ctrl-C).
    Interrupt,
}

/// Something the person recorded at a prompt.
#[derive(Clone, Debug, PartialEq)]
pub enum Annotation {
    Note(String),
    Milestone(String),
    /// Withdraws the latest milestone of this word (as recorded), e.g. a mistyped one.
    Retract(String),
}

/// Who acknowledged a manual step that no person saw: recorded as the step's `decided_by` and
/// as its summary, so no report credits someone who was not there.
pub const AUTO_ACKNOWLEDGED: &str = "auto-acknowledged (non-interactive)";

/// The policy of unattended runs: actions only with `--yes`, answers only from `--answers`.
pub struct NonInteractive {
    pub yes: bool,
    pub answers: std::collections::HashMap<String, Map<String, Json>>,
    pub actor: String,
    /// The answers file as given on the command line: its answers were written by a person in
    /// advance, and are recorded as decided by `answers file FILE`.
    pub answers_file: Option<String>,
    /// `runbook run FILE --resume TIMELINE`, shell-quoted: how to continue this run, named in
    /// the reason of a block. `None` where there is no such command (a drill's built-in
    /// runbook).
    pub resume_command: Option<String>,
}

impl NonInteractive {
    /// `continue with `runbook run FILE --resume TIMELINE --yes``, or the old advice when the
    /// run cannot be resumed by a command of its own.
    fn continue_with(&self, flags: &str) -> Option<String> {
        self.resume_command
            .as_ref()
            .map(|command| format!("continue with `{command}{flags}`"))
    }
}

impl Decider for NonInteractive {
    fn answers_at_once(&self) -> bool {
        true
    }

    fn confirm_action(&self, prompt: &ActionPrompt) -> ActionDecision {
        if self.yes {
            ActionDecision::Run { by: "--yes".into() }
        } else {
            let why = if prompt.was_interrupted {
                "it was started before the run stopped and may already have taken effect; "
            } else {
                ""
            };
            // Running again with --yes would start over and repeat every step before this one;
            // resuming the timeline continues at this action.
            let how = self
                .continue_with(" --yes")
                .map(|c| format!("{c} to allow actions"))
                .unwrap_or_else(|| "run again with --yes to allow actions".into());
            ActionDecision::Block {
                reason: format!("action `{}` needs confirmation: {why}{how}", prompt.step_id),
            }
        }
    }

    fn manual(&self, prompt: &ManualPrompt) -> ManualDecision {
        let given = self.answers.get(&prompt.step_id);
        let mut answers = Map::new();
        let mut missing = Vec::new();
        for field in &prompt.ask {
            match given.and_then(|g| g.get(&field.name)) {
                Some(v) => {
                    answers.insert(field.name.clone(), v.clone());
                }
                None => missing.push(field.name.as_str()),
            }
        }
        if !missing.is_empty() {
            let file = self
                .answers_file
                .as_deref()
                .map(crate::expr::escape::shell_quote)
                .unwrap_or_else(|| "FILE".into());
            let yes = if self.yes { " --yes" } else { "" };
            let how = self
                .continue_with(&format!("{yes} --answers {file}"))
                .map(|c| format!("; then {c}"))
                .unwrap_or_default();
            return ManualDecision::Block {
                reason: format!(
                    "manual step `{}` asks for {} but no answer was given: pass --answers FILE with `{}: {{{}: ...}}`{how}",
                    prompt.step_id,
                    missing
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    prompt.step_id,
                    missing[0]
                ),
            };
        }
        // Answers (or an empty entry, `step: {}`) written in advance were a person's
        // decision; a step the file does not mention was seen by nobody.
        let by = match (&self.answers_file, given) {
            (Some(file), Some(_)) => format!("answers file {file}"),
            _ => AUTO_ACKNOWLEDGED.to_string(),
        };
        ManualDecision::Done { answers, by }
    }

    fn actor(&self) -> String {
        self.actor.clone()
    }
}

/// The secret answers of a manual step, for redaction: every scalar inside each secret
/// answer (an answers file may give a number, or a list of values, for a secret field), as
/// text.
pub fn secret_answers(step: &Step, answers: &Map<String, Json>) -> Vec<String> {
    secret_answers_by_field(step, answers)
        .into_iter()
        .map(|(_, value)| value)
        .collect()
}

/// [`secret_answers`] with the name of the field each came from.
pub fn secret_answers_by_field<'a>(
    step: &'a Step,
    answers: &Map<String, Json>,
) -> Vec<(&'a str, String)> {
    let crate::runbook::Executor::Manual(m) = &step.executor else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for answer in m.ask.iter().filter(|a| a.secret) {
        if let Some(value) = answers.get(&answer.name) {
            let mut values = Vec::new();
            scalars(value, &mut values);
            found.extend(values.into_iter().map(|v| (answer.name.as_str(), v)));
        }
    }
    found
}

/// Every string, number and boolean inside a JSON value, as text.
fn scalars(value: &Json, found: &mut Vec<String>) {
    match value {
        Json::String(s) => found.push(s.clone()),
        Json::Array(items) => items.iter().for_each(|v| scalars(v, found)),
        Json::Object(map) => map.values().for_each(|v| scalars(v, found)),
        Json::Null => {}
        other => found.push(other.to_string()),
    }
}
