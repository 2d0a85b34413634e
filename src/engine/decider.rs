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
}

/// Answers the engine's questions.
pub trait Decider: Send + Sync {
    fn confirm_action(&self, prompt: &ActionPrompt) -> ActionDecision;
    fn manual(&self, prompt: &ManualPrompt) -> ManualDecision;
    /// Who this decider acts as, for notes and milestones.
    fn actor(&self) -> String;
}

/// The policy of unattended runs: actions only with `--yes`, answers only from `--answers`.
pub struct NonInteractive {
    pub yes: bool,
    pub answers: std::collections::HashMap<String, Map<String, Json>>,
    pub actor: String,
}

impl Decider for NonInteractive {
    fn confirm_action(&self, prompt: &ActionPrompt) -> ActionDecision {
        if self.yes {
            ActionDecision::Run { by: "--yes".into() }
        } else {
            let why = if prompt.was_interrupted {
                "it was started before the run stopped and may already have taken effect; "
            } else {
                ""
            };
            ActionDecision::Block {
                reason: format!(
                    "action `{}` needs confirmation: {why}run again with --yes to allow actions",
                    prompt.step_id
                ),
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
            return ManualDecision::Block {
                reason: format!(
                    "manual step `{}` asks for {} but no answer was given: pass --answers FILE with `{}: {{{}: ...}}`",
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
        ManualDecision::Done {
            answers,
            by: self.actor.clone(),
        }
    }

    fn actor(&self) -> String {
        self.actor.clone()
    }
}

/// The secret answers of a manual step, for redaction.
pub fn secret_answers<'a>(step: &'a Step, answers: &'a Map<String, Json>) -> Vec<String> {
    let crate::runbook::Executor::Manual(m) = &step.executor else {
        return Vec::new();
    };
    m.ask
        .iter()
        .filter(|a| a.secret)
        .filter_map(|a| answers.get(&a.name))
        .map(|v| match v {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}
