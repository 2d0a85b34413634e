//! Claims of README.md that no other test backed (issue 11: "the README states nothing that no
//! test or benchmark backs"), grouped by the README's sections. Each test quotes the claim it
//! backs; the table of every claim and its test is in the report.

use std::collections::BTreeSet;

use serde_json::Value as Json;

/// The keys of a JSON object, sorted.
fn keys(event: &Json) -> BTreeSet<String> {
    event
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {event}"))
        .keys()
        .cloned()
        .collect()
}

/// `names` as a sorted set, to compare with [`keys`].
fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

mod commands;
mod format;
mod guided;
mod simulator;
mod timeline;
