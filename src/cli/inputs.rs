//! The inputs of a run besides the runbook: vars files, `--var KEY=VALUE`, answers files.
//! Each problem is reported as `FILE:LINE:COL: message` (exit 2).

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value as Json};

use crate::diagnostic::{Diagnostic, suggest};
use crate::runbook::{Executor, Runbook};
use crate::yaml::{self, Node, Pos, Value};

/// How a diagnostic about an input file is shown.
#[derive(Clone, Copy)]
enum Shown {
    /// With the source line and a caret under the problem.
    WithSource,
    /// Only `FILE:LINE:COL: message`: the file may hold secret answers, on any line and under
    /// any (misspelt) name, and its lines are not shown before anything knows which they are.
    Headline,
}

impl Shown {
    fn render(self, diagnostic: &Diagnostic, text: &str) -> String {
        match self {
            Shown::WithSource => diagnostic.render(text),
            Shown::Headline => format!(
                "{}\n  (the line is not shown: this answers file may hold secret answers)",
                diagnostic.headline()
            ),
        }
    }
}

/// Reads a file as a YAML tree, with located errors.
fn read_tree(path: &Path, shown: Shown) -> Result<(String, Node), String> {
    let display = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{display}: {}", crate::io_message(&e)))?;
    let root = yaml::parse(&text).map_err(|e| {
        let diagnostic = Diagnostic::syntax(&display, &e);
        shown.render(&diagnostic, &text)
    })?;
    Ok((text, root))
}

/// A vars file: a YAML map of names to values.
pub fn vars_file(path: &Path) -> Result<Map<String, Json>, String> {
    let (text, root) = read_tree(path, Shown::WithSource)?;
    let display = path.display().to_string();
    match &root.value {
        Value::Map(entries) => Ok(entries
            .iter()
            .map(|(k, v)| (k.name.clone(), v.to_json()))
            .collect()),
        Value::Null => Ok(Map::new()),
        _ => Err(Diagnostic::new(
            &display,
            root.pos,
            format!(
                "a vars file must be a mapping of names to values, found {}",
                root.kind()
            ),
        )
        .render(&text)),
    }
}

/// `KEY=VALUE`, the value read as YAML (`0.05` is a number, `[a, b]` a list, `x` a string).
pub fn var_arg(arg: &str) -> Result<(String, Json), String> {
    let Some((key, value)) = arg.split_once('=') else {
        return Err(format!("--var `{arg}`: expected KEY=VALUE"));
    };
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("--var `{arg}`: the key is empty"));
    }
    let parsed = if value.trim().is_empty() {
        Json::String(String::new())
    } else {
        match yaml::parse(value) {
            Ok(node) => node.to_json(),
            // Not YAML (e.g. `a: b: c`): take it as the text it is.
            Err(_) => Json::String(value.to_string()),
        }
    };
    Ok((key.to_string(), parsed))
}

/// An answers file: `step_id: {field: value}`, checked against the runbook's `ask` fields.
pub fn answers_file(
    path: &Path,
    runbook: &Runbook,
) -> Result<HashMap<String, Map<String, Json>>, String> {
    let asks_secrets = runbook.all_steps().any(|s| match &s.executor {
        Executor::Manual(m) => m.ask.iter().any(|a| a.secret),
        _ => false,
    });
    let shown = if asks_secrets {
        Shown::Headline
    } else {
        Shown::WithSource
    };
    let (text, root) = read_tree(path, shown)?;
    let display = path.display().to_string();
    let mut problems = Vec::new();
    let mut answers = HashMap::new();
    let manual_steps: Vec<(&str, Vec<&str>)> = runbook
        .all_steps()
        .filter_map(|s| match &s.executor {
            Executor::Manual(m) => Some((
                s.id.as_str(),
                m.ask.iter().map(|a| a.name.as_str()).collect(),
            )),
            _ => None,
        })
        .collect();
    let mut problem = |pos: Pos, width: usize, message: String| {
        problems.push(Diagnostic::new(&display, pos, message).with_width(width));
    };
    match &root.value {
        Value::Null => {}
        Value::Map(entries) => {
            for (key, value) in entries {
                let Some((_, fields)) = manual_steps.iter().find(|(id, _)| *id == key.name) else {
                    let ids = manual_steps.iter().map(|(id, _)| *id);
                    let hint = suggest(&key.name, ids)
                        .map(|c| format!(" (did you mean `{c}`?)"))
                        .unwrap_or_default();
                    problem(
                        key.pos,
                        key.name.len(),
                        format!("no manual step with `ask` has id `{}`{hint}", key.name),
                    );
                    continue;
                };
                let Some(given) = value.as_map() else {
                    problem(
                        value.pos,
                        1,
                        format!(
                            "answers for `{}` must be a mapping of field to value, found {}",
                            key.name,
                            value.kind()
                        ),
                    );
                    continue;
                };
                let mut map = Map::new();
                for (field, v) in given {
                    if !fields.contains(&field.name.as_str()) {
                        let hint = suggest(&field.name, fields.iter().copied())
                            .map(|c| format!(" (did you mean `{c}`?)"))
                            .unwrap_or_default();
                        problem(
                            field.pos,
                            field.name.len(),
                            format!(
                                "step `{}` does not ask for `{}`{hint}",
                                key.name, field.name
                            ),
                        );
                        continue;
                    }
                    map.insert(field.name.clone(), v.to_json());
                }
                answers.insert(key.name.clone(), map);
            }
        }
        _ => problem(
            root.pos,
            1,
            format!(
                "an answers file must be a mapping `step_id: {{field: value}}`, found {}",
                root.kind()
            ),
        ),
    }
    if problems.is_empty() {
        Ok(answers)
    } else {
        Err(problems
            .iter()
            .map(|d| shown.render(d, &text))
            .collect::<Vec<_>>()
            .join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn var_values_are_yaml() {
        assert_eq!(var_arg("rate=0.05").unwrap(), ("rate".into(), json!(0.05)));
        assert_eq!(var_arg("n=3").unwrap(), ("n".into(), json!(3)));
        assert_eq!(
            var_arg("lb=http://x:80/a").unwrap(),
            ("lb".into(), json!("http://x:80/a"))
        );
        assert_eq!(
            var_arg("l=[a, b]").unwrap(),
            ("l".into(), json!(["a", "b"]))
        );
        assert_eq!(var_arg("e=").unwrap(), ("e".into(), json!("")));
        assert!(var_arg("novalue").is_err());
    }
}
