//! What a YAML file is, read from its top-level keys: a runbook, a scenario, or something else
//! (a vars file, an answers file, a CI config). `validate` checks a scenario as a scenario
//! rather than reporting it as a broken runbook, and `list` skips what is not a runbook.

use crate::yaml::{self, Value};

/// Keys only a scenario has at its top level, the most telling first (every scenario has load
/// balancers and success criteria).
const SCENARIO_KEYS: &[&str] = &[
    "load_balancers",
    "success",
    "node_groups",
    "faults",
    "status_pages",
    "reference_sites",
    "latency",
    "delays",
];

#[derive(Debug, PartialEq)]
pub(crate) enum FileKind {
    /// A runbook, or a file that cannot be told apart from a broken one (it does not parse,
    /// or has `steps`, or has neither steps nor any scenario key but a runbook's `name` and
    /// `title`): checked as a runbook, so its problems are reported as such.
    Runbook,
    /// No `steps`, and keys only a scenario has (the two most telling, for the note).
    Scenario { keys: Vec<String> },
    /// Neither: why it is not a runbook, in words.
    Other { reason: String },
}

/// Reads the kind of the YAML `text`.
pub(crate) fn detect(text: &str) -> FileKind {
    match yaml::parse(text) {
        Ok(root) => of_tree(&root),
        Err(_) => FileKind::Runbook,
    }
}

/// The kind of a file already parsed.
pub(crate) fn of_tree(root: &yaml::Node) -> FileKind {
    let entries = match &root.value {
        Value::Map(entries) => entries,
        Value::Null => {
            return FileKind::Other {
                reason: "not a runbook: empty".into(),
            };
        }
        _ => {
            return FileKind::Other {
                reason: format!("not a runbook: {}, not a mapping", root.kind()),
            };
        }
    };
    let has = |key: &str| entries.iter().any(|(k, _)| k.name == key);
    if has("steps") || has("finally") {
        return FileKind::Runbook;
    }
    let keys: Vec<String> = SCENARIO_KEYS
        .iter()
        .filter(|k| has(k))
        .take(2)
        .map(|k| k.to_string())
        .collect();
    if !keys.is_empty() {
        return FileKind::Scenario { keys };
    }
    if has("name") && has("title") {
        return FileKind::Runbook;
    }
    FileKind::Other {
        reason: "not a runbook: no steps".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_keys() {
        assert_eq!(detect("name: a\ntitle: b\nsteps: []\n"), FileKind::Runbook);
        assert_eq!(detect("name: a\ntitle: b\n"), FileKind::Runbook);
        assert_eq!(detect("steps: [\n"), FileKind::Runbook);
        assert_eq!(
            detect("name: a\nsuccess: []\nfaults: []\nload_balancers: {}\n"),
            FileKind::Scenario {
                keys: vec!["load_balancers".into(), "success".into()]
            }
        );
        assert_eq!(
            detect("lb: http://x\nmax_5xx_rate: 0.02\n"),
            FileKind::Other {
                reason: "not a runbook: no steps".into()
            }
        );
        assert_eq!(
            detect("- a\n"),
            FileKind::Other {
                reason: "not a runbook: a list, not a mapping".into()
            }
        );
    }
}
