//! `runbook approve TIMELINE` and `runbook deny TIMELINE`: a person's decision on the action a
//! run is waiting on, appended to its timeline under the lock from any terminal. The check
//! that the step awaits approval and the line are one locked step (no decision of the run can
//! slip between them).

use std::path::PathBuf;

use clap::Args;

use super::{actor, error};
use crate::exit::Exit;
use crate::timeline::approval;
use crate::timeline::{Event, Record};

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The timeline of the waiting run.
    #[arg(value_name = "TIMELINE")]
    pub timeline: PathBuf,
    /// The step to approve [default: the one awaiting approval].
    #[arg(long, value_name = "ID")]
    pub step: Option<String>,
    /// Who approves [default: user@host, or `ci` under CI].
    #[arg(long = "as", value_name = "NAME")]
    pub actor: Option<String>,
}

#[derive(Debug, Args)]
pub struct DenyArgs {
    #[command(flatten)]
    pub who: ApproveArgs,
    /// Why, recorded in the step's summary: `denied by NAME: REASON`.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

pub fn approve(args: ApproveArgs) -> Exit {
    decide(&args, None)
}

pub fn deny(args: DenyArgs) -> Exit {
    decide(&args.who, Some(args.reason))
}

/// `denial`: `Some(reason)` (the reason itself optional).
fn decide(args: &ApproveArgs, denial: Option<Option<String>>) -> Exit {
    if let Err(e) = crate::timeline::reader::read(&args.timeline) {
        error(e);
        return Exit::Usage;
    }
    let who = args
        .actor
        .clone()
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(actor);
    let path = args.timeline.display().to_string();
    let mut not_counted = None;
    let written = crate::timeline::append_event_checked(
        &args.timeline,
        &crate::redact::Redactor::new(),
        |records: &[Record]| {
            let initiator = approval::initiator(records).unwrap_or_default();
            let open = approval::pending(records, &initiator);
            let found = match &args.step {
                Some(step) => open
                    .iter()
                    .find(|p| &p.step == step)
                    .ok_or_else(|| format!("step `{step}` of {path} is not awaiting approval"))?,
                None => open
                    .last()
                    .ok_or_else(|| format!("no step of {path} is awaiting approval"))?,
            };
            if denial.is_none() && who == initiator {
                not_counted = Some(format!(
                    "{who} started the run: their approval does not count"
                ));
            } else if denial.is_none() && found.approvers.contains(&who) {
                not_counted = Some(format!("{who} already approved `{}`", found.step));
            }
            Ok(match &denial {
                None => Event::Approval {
                    step: found.step.clone(),
                    actor: who.clone(),
                },
                Some(reason) => Event::Denial {
                    step: found.step.clone(),
                    actor: who.clone(),
                    reason: reason.clone(),
                },
            })
        },
    );
    match written {
        Ok(Ok(record)) => {
            let step = match &record.event {
                Event::Approval { step, .. } | Event::Denial { step, .. } => step.as_str(),
                _ => "",
            };
            eprintln!(
                "runbook: recorded {} of `{step}` by {who} #{} in {path}",
                record.event.name(),
                record.seq
            );
            if let Some(why) = not_counted {
                eprintln!("runbook: note: {why}");
            }
            Exit::Ok
        }
        Ok(Err(why)) => {
            error(why);
            Exit::Usage
        }
        Err(e) => {
            error(format!(
                "cannot append to {path}: {}",
                crate::io_message(&e)
            ));
            Exit::Usage
        }
    }
}
