//! A guided run whose terminal hung up (SIGHUP: the terminal closed, the ssh session dropped)
//! has nobody left to ask. From then on the questions go to the non-interactive policy, as if
//! the run had been started unattended with the same `--yes`: the interrupted step is not
//! retried, `finally` runs without waiting for a key, and an action in it runs only with
//! `--yes` (otherwise it is `blocked`, as in CI). Without this, the run would wait for a key
//! that never comes, or read an error from the dead terminal as `abort`.

use std::sync::Arc;

use crate::engine::{
    ActionDecision, ActionPrompt, AfterFailure, Annotation, Decider, FailurePrompt, ManualDecision,
    ManualPrompt, NonInteractive, StepGate, StepIntro,
};

/// The person's decider until a hangup, the policy after it.
pub(crate) struct UntilHangup {
    person: Arc<dyn Decider>,
    policy: NonInteractive,
}

impl UntilHangup {
    /// `resume_command` as [`NonInteractive::resume_command`]: a block after the hangup names
    /// how to continue.
    pub(crate) fn new(person: Arc<dyn Decider>, yes: bool, resume_command: Option<String>) -> Self {
        let actor = person.actor();
        UntilHangup {
            person,
            policy: NonInteractive {
                yes,
                answers: Default::default(),
                actor,
                answers_file: None,
                resume_command,
            },
        }
    }

    fn current(&self) -> &dyn Decider {
        if crate::exit::hung_up() {
            &self.policy
        } else {
            self.person.as_ref()
        }
    }
}

impl Decider for UntilHangup {
    fn confirm_action(&self, prompt: &ActionPrompt) -> ActionDecision {
        self.current().confirm_action(prompt)
    }

    fn manual(&self, prompt: &ManualPrompt) -> ManualDecision {
        self.current().manual(prompt)
    }

    fn actor(&self) -> String {
        self.person.actor()
    }

    fn before_step(&self, intro: &StepIntro) -> StepGate {
        self.current().before_step(intro)
    }

    fn after_failure(&self, failure: &FailurePrompt) -> AfterFailure {
        self.current().after_failure(failure)
    }

    fn take_annotations(&self) -> Vec<Annotation> {
        self.person.take_annotations()
    }

    fn answers_at_once(&self) -> bool {
        self.current().answers_at_once()
    }

    fn stop_waiting(&self) {
        self.person.stop_waiting()
    }
}
