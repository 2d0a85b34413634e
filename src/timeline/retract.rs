//! Retracted milestones. A milestone is never rewritten (the timeline only grows): a mistyped
//! one (`ESCALAED`) is withdrawn by a later `milestone` event with `retracted: true` and the
//! same word, which withdraws the latest earlier milestone of that word (case aside) still
//! standing. Reports, the drill's recovery time and the closing table read milestones through
//! here, so a retracted one counts nowhere.

use std::collections::HashSet;

use super::Event;

/// The positions in `events` of the milestones a retraction withdrew, and of the retractions
/// themselves (neither is shown as a milestone).
pub fn withdrawn<'a>(events: impl IntoIterator<Item = &'a Event>) -> HashSet<usize> {
    let mut gone = HashSet::new();
    let mut standing: Vec<(usize, &str)> = Vec::new();
    for (i, event) in events.into_iter().enumerate() {
        let Event::Milestone {
            milestone,
            retracted,
            ..
        } = event
        else {
            continue;
        };
        if *retracted {
            gone.insert(i);
            if let Some(at) = standing
                .iter()
                .rposition(|(_, word)| word.eq_ignore_ascii_case(milestone))
            {
                gone.insert(standing.remove(at).0);
            }
        } else {
            standing.push((i, milestone));
        }
    }
    gone
}

/// The milestones of `events` still standing, as recorded, in order.
pub fn standing<'a>(events: impl IntoIterator<Item = &'a Event> + Clone) -> Vec<String> {
    let gone = withdrawn(events.clone());
    events
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !gone.contains(i))
        .filter_map(|(_, event)| match event {
            Event::Milestone { milestone, .. } => Some(milestone.clone()),
            _ => None,
        })
        .collect()
}

/// The standing milestone that retracting `word` withdraws (as recorded), or why none does:
/// `no milestone ESCALAED to retract (recorded: DETECTED, ESCALATED)`.
pub fn target<'a>(
    events: impl IntoIterator<Item = &'a Event> + Clone,
    word: &str,
) -> Result<String, String> {
    let standing = standing(events);
    if let Some(found) = standing
        .iter()
        .rev()
        .find(|m| m.eq_ignore_ascii_case(word.trim()))
    {
        return Ok(found.clone());
    }
    let recorded = if standing.is_empty() {
        "none is recorded".to_string()
    } else {
        format!(
            "recorded: {}",
            standing
                .iter()
                .map(|m| m.to_ascii_uppercase())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Err(format!(
        "no milestone {} to retract ({recorded})",
        word.trim().to_ascii_uppercase()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn milestone(word: &str, retracted: bool) -> Event {
        Event::Milestone {
            milestone: word.into(),
            step: None,
            actor: "a".into(),
            retracted,
        }
    }

    #[test]
    fn a_retraction_withdraws_the_latest_standing_milestone_of_its_word() {
        let events = [
            milestone("detected", false),
            milestone("escalaed", false),
            milestone("ESCALAED", true),
            milestone("detected", false),
            milestone("detected", true),
        ];
        assert_eq!(withdrawn(&events), HashSet::from([1, 2, 3, 4]));
        assert_eq!(standing(&events), ["detected"]);
        assert_eq!(target(&events, "Detected"), Ok("detected".into()));
        assert_eq!(
            target(&events, "escalaed"),
            Err("no milestone ESCALAED to retract (recorded: DETECTED)".into())
        );
        assert_eq!(
            target(&[], "x"),
            Err("no milestone X to retract (none is recorded)".into())
        );
    }
}
