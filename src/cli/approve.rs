//! `runbook approve TIMELINE` and `runbook deny TIMELINE`: a person's decision on the action a
//! run is waiting on, appended to its timeline under the lock from any terminal (see
//! `timeline::approval::record`, which `runbook serve` shares).

use std::path::PathBuf;

use clap::Args;

use super::{actor, error};
use crate::exit::Exit;
use crate::timeline::approval::{self, Decision};

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
    decide(&args, Decision::Approve)
}

pub fn deny(args: DenyArgs) -> Exit {
    decide(
        &args.who,
        Decision::Deny {
            reason: args.reason,
        },
    )
}

fn decide(args: &ApproveArgs, decision: Decision) -> Exit {
    if let Err(e) = crate::timeline::reader::read(&args.timeline) {
        error(e);
        return Exit::Usage;
    }
    let who = args
        .actor
        .clone()
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(actor);
    let path = args.timeline.display();
    match approval::record(&args.timeline, &who, args.step.as_deref(), decision) {
        Ok(Ok(done)) => {
            eprintln!(
                "runbook: recorded {} of `{}` by {} #{} in {path}",
                done.record.event.name(),
                crate::escape::controls(&done.step),
                crate::escape::controls(&who),
                done.record.seq
            );
            if let Some(why) = done.not_counted {
                eprintln!("runbook: note: {}", crate::escape::controls(&why));
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
