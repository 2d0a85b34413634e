//! The approvals decider: in a run nobody watches, an action waits for N people other than the
//! run's initiator to approve it (`runbook approve`) instead of being blocked; a denial skips
//! it; no approvals by the deadline blocks it. Approvals are events in the timeline the run
//! writes, read back by polling the file: any terminal (or `runbook serve`) can append them
//! under the timeline's lock, and a resumed run finds them where they were.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::decider::{
    ActionDecision, ActionPrompt, ApprovalRequest, Decider, ManualDecision, ManualPrompt,
    NonInteractive,
};
use crate::timeline::approval::{self, Pending};
use crate::timeline::reader;

/// How often the waiting run reads its timeline again: an approval shows within this.
const POLL: Duration = Duration::from_millis(200);

/// Actions wait for approvals; everything else is the non-interactive policy.
pub struct Approvals {
    /// Distinct approvers each action needs.
    pub needed: u32,
    pub timeout: Duration,
    /// The timeline the run writes, where approvals arrive.
    pub timeline: PathBuf,
    /// Whose approvals do not count. `None`: the `run_started` actor of the timeline (the
    /// user who ran `runbook run`); `runbook serve` names the alert.
    pub initiator: Option<String>,
    /// Manual steps, notes and the actor, as in any non-interactive run (`yes` is false).
    pub policy: NonInteractive,
    /// Set by [`Decider::stop_waiting`], cleared by the next request: the wait of the action
    /// being asked about ends as interrupted (also when the signal came before the waiting
    /// thread started).
    stopped: AtomicBool,
}

impl Approvals {
    pub fn new(
        needed: u32,
        timeout: Duration,
        timeline: PathBuf,
        initiator: Option<String>,
        policy: NonInteractive,
    ) -> Self {
        Approvals {
            needed,
            timeout,
            timeline,
            initiator,
            policy,
            stopped: AtomicBool::new(false),
        }
    }

    /// The open request of `step`, as the timeline holds it now.
    fn pending(&self, step: &str) -> Result<Option<Pending>, String> {
        let parsed = reader::read(&self.timeline)?;
        let initiator = self.initiator_in(&parsed.records);
        Ok(approval::pending(&parsed.records, &initiator)
            .into_iter()
            .find(|p| p.step == step))
    }

    fn initiator_in(&self, records: &[crate::timeline::Record]) -> String {
        self.initiator
            .clone()
            .or_else(|| approval::initiator(records))
            .unwrap_or_else(|| self.policy.actor.clone())
    }
}

impl Decider for Approvals {
    fn approval_request(&self, prompt: &ActionPrompt) -> Option<ApprovalRequest> {
        // The engine asks this on its own thread right before the wait: a new question.
        self.stopped.store(false, Ordering::SeqCst);
        let parsed = reader::read(&self.timeline).ok();
        let records = parsed.map(|p| p.records).unwrap_or_default();
        let initiator = self.initiator_in(&records);
        // A resumed run whose action was already waiting keeps that request and its deadline.
        if approval::pending(&records, &initiator)
            .iter()
            .any(|p| p.step == prompt.step_id)
        {
            return None;
        }
        let timeout =
            jiff::SignedDuration::try_from(self.timeout).unwrap_or(jiff::SignedDuration::MAX);
        let deadline = jiff::Timestamp::now()
            .checked_add(timeout)
            .unwrap_or(jiff::Timestamp::MAX);
        Some(ApprovalRequest {
            needed: self.needed,
            deadline: format!("{deadline:.3}"),
            requested_by: initiator,
        })
    }

    fn confirm_action(&self, prompt: &ActionPrompt) -> ActionDecision {
        loop {
            let pending = match self.pending(&prompt.step_id) {
                Ok(Some(p)) => p,
                Ok(None) => {
                    return ActionDecision::Block {
                        reason: format!(
                            "action `{}` has no open approval request in the timeline",
                            prompt.step_id
                        ),
                    };
                }
                Err(e) => return ActionDecision::Block { reason: e },
            };
            if let Some((by, reason)) = pending.denial {
                return ActionDecision::Deny { by, reason };
            }
            if pending.approved() {
                return ActionDecision::Run {
                    by: pending.approvers.join(", "),
                };
            }
            let deadline: jiff::Timestamp = pending
                .deadline
                .parse()
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            let left = deadline.duration_since(jiff::Timestamp::now());
            if left.is_negative() || left.is_zero() {
                let approvers = if pending.approvers.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", pending.approvers.join(", "))
                };
                return ActionDecision::Block {
                    reason: format!(
                        "action `{}` was not approved by {}: {} of {} approvals{approvers}",
                        prompt.step_id,
                        pending.deadline,
                        pending.approvers.len(),
                        pending.needed
                    ),
                };
            }
            if self.stopped.load(Ordering::SeqCst) {
                return ActionDecision::Interrupt;
            }
            let left = Duration::try_from(left).unwrap_or(POLL);
            std::thread::sleep(left.min(POLL));
            if self.stopped.load(Ordering::SeqCst) {
                return ActionDecision::Interrupt;
            }
        }
    }

    fn stop_waiting(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }

    fn manual(&self, prompt: &ManualPrompt) -> ManualDecision {
        self.policy.manual(prompt)
    }

    fn actor(&self) -> String {
        self.policy.actor()
    }
}
