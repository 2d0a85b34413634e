//! Choosing a step to jump to: by number or id, asked again for one that is no step; a step
//! that reads steps which have not run is named with them, and the person runs it anyway
//! (it then fails closed for want of that evidence), picks another step or cancels.

use std::collections::HashMap;

use super::{Guided, Pressed};

/// The question after a jump target that reads steps which have not run.
pub(super) const NOT_RUN_CHOICES: &str = "[r]un anyway, [p]ick another step, [c]ancel";

impl Guided {
    /// Asks for a step to jump to, by number or id; `None` to stay (an empty answer, cancel).
    pub(super) fn ask_jump(
        &self,
        steps: &[(String, String)],
        not_run: &HashMap<String, Vec<String>>,
    ) -> Option<String> {
        'list: loop {
            for (i, (id, title)) in steps.iter().enumerate() {
                self.screen.line(&format!("  {:>2}. {id}  {title}", i + 1));
            }
            loop {
                let answer = self.read_line("jump to step (number or id)")?;
                let answer = answer.trim();
                if answer.is_empty() {
                    return None;
                }
                let Some(target) = find(steps, answer) else {
                    self.screen.line(&format!(
                        "  no step `{}`; {}",
                        crate::escape::controls(answer),
                        range(steps.len())
                    ));
                    continue;
                };
                let Some(missing) = not_run.get(&target) else {
                    return Some(target);
                };
                self.screen.line(&format!(
                    "  {}",
                    crate::engine::not_run_message(&target, missing)
                ));
                match self.choose(NOT_RUN_CHOICES, &['r', 'p', 'c']) {
                    Pressed::Key('r') => return Some(target),
                    Pressed::Key('p') => continue 'list,
                    _ => return None,
                }
            }
        }
    }
}

/// The id of the step `answer` names: its number in the list, or its id.
fn find(steps: &[(String, String)], answer: &str) -> Option<String> {
    if let Ok(n) = answer.parse::<usize>() {
        return n
            .checked_sub(1)
            .and_then(|i| steps.get(i))
            .map(|(id, _)| id.clone());
    }
    steps
        .iter()
        .find(|(id, _)| id == answer)
        .map(|(id, _)| id.clone())
}

/// `steps are 1-14`, or `the only step is 1`.
fn range(len: usize) -> String {
    if len == 1 {
        "the only step is 1".into()
    } else {
        format!("steps are 1-{len}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_found_by_number_or_id() {
        let steps = [("a".to_string(), "A".to_string()), ("b".into(), "B".into())];
        assert_eq!(find(&steps, "2").as_deref(), Some("b"));
        assert_eq!(find(&steps, "a").as_deref(), Some("a"));
        assert_eq!(find(&steps, "0"), None);
        assert_eq!(find(&steps, "3"), None);
        assert_eq!(find(&steps, "xyz"), None);
        assert_eq!(range(14), "steps are 1-14");
    }
}
