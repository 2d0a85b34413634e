//! `runbook milestone TIMELINE WORD` and `runbook milestone TIMELINE --retract WORD`.

use std::path::Path;

use super::{actor, annotate, error};
use crate::exit::Exit;
use crate::timeline::Event;

/// Records `word`, or withdraws the latest standing milestone `retract` names. A retraction of
/// a milestone the timeline does not hold is refused (exit 2) and writes nothing.
pub fn milestone(timeline: &Path, word: Option<String>, retract: Option<String>) -> Exit {
    let Some(retract) = retract else {
        return annotate(
            timeline,
            Event::Milestone {
                milestone: word.unwrap_or_default(),
                step: None,
                actor: actor(),
                retracted: false,
            },
        );
    };
    let records = match crate::timeline::reader::read(timeline) {
        Ok(parsed) => parsed.records,
        Err(e) => {
            error(e);
            return Exit::Usage;
        }
    };
    match crate::timeline::retract::target(records.iter().map(|r| &r.event), &retract) {
        Ok(found) => annotate(
            timeline,
            Event::Milestone {
                milestone: found,
                step: None,
                actor: actor(),
                retracted: true,
            },
        ),
        Err(why) => {
            error(format!("{why} in {}", timeline.display()));
            Exit::Usage
        }
    }
}
