//! What a scenario's references may name.
//!
//! A load balancer names its node group, a fault its load balancer, a criterion either. When a
//! definition has an error of its own (`nodes: two`), it is left out of the scenario, but a
//! reference to it is not a second error: one bad value gives one error, the one to fix.

use std::collections::BTreeMap;

use crate::diagnostic::suggest;
use crate::runbook::parse::Checker;
use crate::yaml::Node;

/// One section of named things (`load_balancers`, `node_groups`, `status_pages`).
pub(crate) struct Section<'s, T> {
    /// The things read without error.
    pub valid: &'s BTreeMap<String, T>,
    /// Every name written under the section, valid or not; `None` when the section itself is
    /// not a mapping (already reported), so no name can be said to be unknown.
    pub written: Option<Vec<String>>,
    /// What one of them is called in messages: `load balancer`.
    pub kind: &'static str,
}

impl<T> Section<'_, T> {
    /// The name `node` refers to, if it names a valid thing. An unknown name is reported with
    /// the closest written one; a name whose definition has its own error is not.
    pub fn resolve(&self, c: &mut Checker, node: &Node, what: &str) -> Option<String> {
        let name = c.string(node, what)?;
        if self.valid.contains_key(&name) {
            return Some(name);
        }
        let written = self.written.as_ref()?;
        if written.contains(&name) {
            return None;
        }
        let hint = suggest(&name, written.iter().map(String::as_str))
            .map(|close| format!(" (did you mean `{close}`?)"))
            .unwrap_or_default();
        c.error(node.pos, format!("no {} named `{name}`{hint}", self.kind));
        None
    }
}

/// The sections references point into.
pub(crate) struct Refs<'s, L, G, P> {
    pub lbs: Section<'s, L>,
    pub groups: Section<'s, G>,
    pub pages: Section<'s, P>,
}
