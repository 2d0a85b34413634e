//! Jumps: the steps a person may go to, and for each, the steps it reads that have not run.
//! A jump past the steps whose results a later step reads leaves that step without its
//! evidence; the decider says so before the jump, and the step, if run anyway, fails closed
//! with the same words instead of a bare `undefined value`.

use std::collections::HashMap;

use super::Engine;
use super::scope::StepResults;
use crate::runbook::Step;

impl Engine {
    /// What a decider is told about jumping from a step of `list`: for a person, which
    /// targets read steps that have not run. The unattended policy never jumps, and a long
    /// runbook would pay for this at every step, so it is told nothing.
    pub(super) fn not_run_for_jumps(&self, list: &[Step]) -> HashMap<String, Vec<String>> {
        if self.decider.answers_at_once() {
            HashMap::new()
        } else {
            not_run_by_step(list, &self.history.steps)
        }
    }
}

/// The steps of a list a person may jump to: (id, title).
pub(super) fn targets(list: &[Step]) -> Vec<(String, String)> {
    list.iter()
        .map(|s| (s.id.clone(), s.title.clone()))
        .collect()
}

/// For each step of `list` that reads steps which have not run, those steps' ids.
fn not_run_by_step(list: &[Step], results: &StepResults) -> HashMap<String, Vec<String>> {
    list.iter()
        .filter_map(|step| {
            let missing = not_run(step, results);
            (!missing.is_empty()).then(|| (step.id.clone(), missing))
        })
        .collect()
}

/// The steps `step` reads that have not run (no result, or skipped), in the order it reads
/// them.
pub(super) fn not_run(step: &Step, results: &StepResults) -> Vec<String> {
    step.steps_read()
        .into_iter()
        .filter(|id| !results.ran(id))
        .collect()
}

/// `refresh_api_lb reads steps.check_cpu, which has not run`; with several,
/// `refresh_api_lb reads steps.a, steps.b, which have not run`.
pub fn not_run_message(step_id: &str, missing: &[String]) -> String {
    let names = missing
        .iter()
        .map(|id| format!("steps.{id}"))
        .collect::<Vec<_>>()
        .join(", ");
    let verb = if missing.len() == 1 { "has" } else { "have" };
    format!("{step_id} reads {names}, which {verb} not run")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_each_step_that_has_not_run() {
        assert_eq!(
            not_run_message("refresh_api_lb", &["check_cpu".into()]),
            "refresh_api_lb reads steps.check_cpu, which has not run"
        );
        assert_eq!(
            not_run_message("fix", &["a".into(), "b".into()]),
            "fix reads steps.a, steps.b, which have not run"
        );
    }
}
