//! Where the approvals of a run stand, read from its timeline: the waiting run, `runbook
//! approve` and `runbook deny` (and later `runbook serve`) all decide from the same records, so
//! an approval given from another terminal is simply a line the run reads back.

use std::path::Path;

use super::event::{Event, Outcome, Record};

/// An action's request for approvals that no decision has closed yet.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    pub step: String,
    /// The `seq` of its `approval_requested`: only approvals after it count.
    pub seq: u64,
    pub needed: u32,
    /// RFC 3339 UTC.
    pub deadline: String,
    pub requested_by: String,
    /// Distinct approvers that count, in the order they approved (never the initiator).
    pub approvers: Vec<String>,
    /// The first denial after the request: (actor, reason).
    pub denial: Option<(String, Option<String>)>,
}

impl Pending {
    pub fn approved(&self) -> bool {
        self.approvers.len() as u32 >= self.needed
    }
}

/// Who started the run (its `run_started` actor): their own approvals do not count.
pub fn initiator(records: &[Record]) -> Option<String> {
    records.iter().find_map(|r| match &r.event {
        Event::RunStarted { actor, .. } => Some(actor.clone()),
        _ => None,
    })
}

/// The requests still open, oldest first. A request is closed by a later `step_finished` of
/// its step that is not `interrupted`: an interrupted wait (a signal, a crash) stays open, so a
/// resumed run keeps waiting with the approvals and the deadline it already had.
pub fn pending(records: &[Record], initiator: &str) -> Vec<Pending> {
    let mut open: Vec<Pending> = Vec::new();
    for record in records {
        match &record.event {
            Event::ApprovalRequested {
                step,
                needed,
                deadline,
                actor,
            } => {
                open.retain(|p| &p.step != step);
                open.push(Pending {
                    step: step.clone(),
                    seq: record.seq,
                    needed: *needed,
                    deadline: deadline.clone(),
                    requested_by: actor.clone(),
                    approvers: Vec::new(),
                    denial: None,
                });
            }
            Event::Approval { step, actor } => {
                if let Some(p) = open.iter_mut().find(|p| &p.step == step)
                    && actor != initiator
                    && !p.approvers.contains(actor)
                {
                    p.approvers.push(actor.clone());
                }
            }
            Event::Denial {
                step,
                actor,
                reason,
            } => {
                if let Some(p) = open.iter_mut().find(|p| &p.step == step)
                    && p.denial.is_none()
                {
                    p.denial = Some((actor.clone(), reason.clone()));
                }
            }
            Event::StepFinished { step, outcome, .. } if *outcome != Outcome::Interrupted => {
                open.retain(|p| &p.step != step);
            }
            _ => {}
        }
    }
    open
}

/// A person's decision on an action awaiting approval.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    Approve,
    Deny { reason: Option<String> },
}

/// What [`record`] wrote.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub record: Record,
    pub step: String,
    /// Why an approval was written but does not count (the initiator's own, a repeated one).
    pub not_counted: Option<String>,
}

/// Records `actor`'s decision on `step` (default: the step awaiting approval) in the timeline at
/// `path`, checking under its lock that the step awaits approval: `runbook approve`/`deny` and
/// `runbook serve`'s endpoints. `Ok(Err(why))`: nothing awaits approval, nothing was written.
pub fn record(
    path: &Path,
    actor: &str,
    step: Option<&str>,
    decision: Decision,
) -> std::io::Result<Result<Recorded, String>> {
    let shown = path.display().to_string();
    let mut found_step = String::new();
    let mut not_counted = None;
    let written = super::append_event_checked(
        path,
        &crate::redact::Redactor::new(),
        |records: &[Record]| {
            let initiator = initiator(records).unwrap_or_default();
            let open = pending(records, &initiator);
            let found = match step {
                Some(step) => open
                    .iter()
                    .find(|p| p.step == step)
                    .ok_or_else(|| format!("step `{step}` of {shown} is not awaiting approval"))?,
                None => open
                    .last()
                    .ok_or_else(|| format!("no step of {shown} is awaiting approval"))?,
            };
            found_step = found.step.clone();
            Ok(match decision {
                Decision::Approve => {
                    if actor == initiator {
                        not_counted = Some(format!(
                            "{actor} started the run: their approval does not count"
                        ));
                    } else if found.approvers.iter().any(|a| a == actor) {
                        not_counted = Some(format!("{actor} already approved `{}`", found.step));
                    }
                    Event::Approval {
                        step: found.step.clone(),
                        actor: actor.to_string(),
                    }
                }
                Decision::Deny { reason } => Event::Denial {
                    step: found.step.clone(),
                    actor: actor.to_string(),
                    reason,
                },
            })
        },
    )?;
    Ok(written.map(|record| Recorded {
        record,
        step: found_step,
        not_counted,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: u64, event: Event) -> Record {
        Record {
            seq,
            ts: "2026-01-01T00:00:00.000Z".into(),
            run_id: "r".into(),
            event,
        }
    }

    fn approval(step: &str, actor: &str) -> Event {
        Event::Approval {
            step: step.into(),
            actor: actor.into(),
        }
    }

    /// The initiator's approval and a repeated one do not count; approvals before the request
    /// (of an earlier entry of the step) neither.
    #[test]
    fn distinct_approvers_other_than_the_initiator_count() {
        let records = vec![
            rec(1, approval("a", "bob")),
            rec(
                2,
                Event::ApprovalRequested {
                    step: "a".into(),
                    needed: 2,
                    deadline: "d".into(),
                    actor: "me".into(),
                },
            ),
            rec(3, approval("a", "me")),
            rec(4, approval("a", "bob")),
            rec(5, approval("a", "bob")),
        ];
        let open = pending(&records, "me");
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].approvers, vec!["bob".to_string()]);
        assert!(!open[0].approved());
    }
}
