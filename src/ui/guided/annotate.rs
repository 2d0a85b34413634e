//! What a person may say at any prompt besides its own keys: the confirmation before an
//! abort (`a` sits next to `s`), and the retraction of a milestone typed by mistake.

use super::Guided;
use crate::engine::Annotation;
use crate::timeline::Event;

/// The question before an abort; only `y` or `yes` aborts.
pub(super) const ABORT_QUESTION: &str = "abort the run? [y/N]";

impl Guided {
    /// Whether the person confirms the abort. No terminal to read from: as at the prompt
    /// itself, end of input aborts.
    pub(super) fn confirm_abort(&self) -> bool {
        let _ = self.screen.term.write_str(&format!("{ABORT_QUESTION} "));
        match self.screen.term.read_line() {
            Ok(answer) => matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"),
            Err(_) => true,
        }
    }

    /// Records the retraction of the latest milestone `word` still standing, if there is one:
    /// in the timeline so far, or typed at a prompt and not yet written.
    pub(super) fn retract_milestone(&self, word: &str) {
        let mut events: Vec<Event> = self
            .screen
            .timeline()
            .and_then(|path| crate::timeline::reader::read(&path).ok())
            .map(|parsed| parsed.records.into_iter().map(|r| r.event).collect())
            .unwrap_or_default();
        let mut pending = self.annotations.lock().unwrap_or_else(|e| e.into_inner());
        events.extend(pending.iter().filter_map(|a| {
            let (milestone, retracted) = match a {
                Annotation::Milestone(m) => (m.clone(), false),
                Annotation::Retract(m) => (m.clone(), true),
                Annotation::Note(_) => return None,
            };
            Some(Event::Milestone {
                milestone,
                step: None,
                actor: String::new(),
                retracted,
            })
        }));
        match crate::timeline::retract::target(&events, word) {
            Ok(found) => {
                pending.push(Annotation::Retract(found.clone()));
                drop(pending);
                self.screen.line(&format!(
                    "  milestone {} retracted.",
                    found.to_ascii_uppercase()
                ));
            }
            Err(why) => {
                drop(pending);
                self.screen
                    .line(&format!("  {}", crate::escape::controls(&why)));
            }
        }
    }
}
