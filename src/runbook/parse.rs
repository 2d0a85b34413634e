//! From a YAML tree to a [`Runbook`], collecting every problem in the file rather than stopping
//! at the first: unknown keys (with the closest known key), wrong types, missing keys, bad ids,
//! bad durations, and expressions or templates that do not parse. Cross-step checks live in
//! [`super::validate`].

use std::time::Duration;

use serde_json::Map;

use super::model::*;
use crate::diagnostic::{Diagnostic, suggest};
use crate::yaml::{Key, Node, Pos, Value};
use crate::{duration, expr};

mod executors;
use executors::executor;

pub(crate) const TOP_KEYS: &[&str] = &[
    "name",
    "title",
    "description",
    "vars",
    "secrets",
    "defaults",
    "steps",
    "finally",
];
pub(crate) const EXECUTORS: &[&str] = &[
    "http",
    "prometheus",
    "statuspage",
    "tcp",
    "command",
    "manual",
    "wait",
];
pub(crate) const CONTROL_KEYS: &[&str] = &[
    "id",
    "title",
    "description",
    "when",
    "expect",
    "retry",
    "on_fail",
    "action",
    "loop",
    "parallel",
    "milestone",
    "timeout",
    "ask",
];
pub(crate) const DEFAULTS_KEYS: &[&str] = &["timeout", "retry"];
pub(crate) const RETRY_KEYS: &[&str] = &["attempts", "delay"];
pub(crate) const HTTP_KEYS: &[&str] = &[
    "url",
    "method",
    "headers",
    "body",
    "json",
    "samples",
    "concurrency",
    "timeout",
    "insecure",
    "follow_redirects",
];
pub(crate) const PROMETHEUS_KEYS: &[&str] = &[
    "url",
    "query",
    "headers",
    "bearer",
    "basic_auth",
    "range",
    "step",
    "end",
    "time",
    "timeout",
];
pub(crate) const BASIC_AUTH_KEYS: &[&str] = &["username", "password"];
pub(crate) const STATUSPAGE_KEYS: &[&str] = &["url", "headers", "timeout"];
pub(crate) const TCP_KEYS: &[&str] = &["address", "timeout"];
pub(crate) const COMMAND_KEYS: &[&str] = &["argv", "shell", "env", "cwd", "timeout"];
pub(crate) const MANUAL_KEYS: &[&str] = &["instructions", "ask"];
pub(crate) const ASK_KEYS: &[&str] = &["name", "prompt", "secret"];
pub(crate) const ON_FAIL_KEYS: &[&str] = &["goto"];

/// Collects located problems while walking the tree.
pub(crate) struct Checker<'a> {
    pub file: &'a str,
    /// The file's text, to point at a name inside an expression; empty when not known.
    pub text: &'a str,
    /// The vars the runbook declares, once read; `None` where nothing can be said.
    pub vars: Option<Vec<String>>,
    pub diagnostics: Vec<Diagnostic>,
    /// Problems that do not make the runbook invalid.
    pub warnings: Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    pub fn new(file: &'a str) -> Self {
        Checker {
            file,
            text: "",
            vars: None,
            warnings: Vec::new(),
            diagnostics: Vec::new(),
        }
    }

    /// An error at `pos`, underlining the whole token written there (when the text is known).
    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        let width = if self.text.is_empty() {
            1
        } else {
            crate::yaml::token::width(self.text, pos)
        };
        self.diagnostics
            .push(Diagnostic::new(self.file, pos, message).with_width(width));
    }

    pub fn error_at_key(&mut self, key: &Key, message: impl Into<String>) {
        self.diagnostics.push(
            Diagnostic::new(self.file, key.pos, message).with_width(key.name.chars().count()),
        );
    }

    /// Requires a mapping and reports every key not in `known`, suggesting the closest.
    /// `also` names keys that belong elsewhere, with a hint where they go.
    pub fn mapping<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        known: &[&str],
    ) -> Option<&'n [(Key, Node)]> {
        let Some(entries) = node.as_map() else {
            self.error(
                node.pos,
                format!("{what} must be a mapping, found {}", node.kind()),
            );
            return None;
        };
        for (key, _) in entries {
            if !known.contains(&key.name.as_str()) {
                let message = crate::diagnostic::unknown_key(&key.name, known, what);
                self.error_at_key(key, message);
            }
        }
        Some(entries)
    }

    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            _ => {
                self.error(
                    node.pos,
                    format!("{what} must be a string, found {}", node.kind()),
                );
                None
            }
        }
    }

    pub fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                self.error(
                    node.pos,
                    format!("{what} must be true or false, found {}", node.kind()),
                );
                None
            }
        }
    }

    pub fn count(&mut self, node: &Node, what: &str, min: i64, max: i64) -> Option<u32> {
        match node.value {
            Value::Int(n) if (min..=max).contains(&n) => u32::try_from(n).ok(),
            Value::Int(n) => {
                self.error(
                    node.pos,
                    format!("{what} must be between {min} and {max}, found {n}"),
                );
                None
            }
            _ => {
                self.error(
                    node.pos,
                    format!("{what} must be a whole number, found {}", node.kind()),
                );
                None
            }
        }
    }

    pub fn duration(&mut self, node: &Node, what: &str) -> Option<Duration> {
        match &node.value {
            Value::Str(s) => match duration::parse(s) {
                Ok(d) => Some(d),
                Err(e) => {
                    self.error(node.pos, format!("{what}: {e}"));
                    None
                }
            },
            Value::Int(n) => {
                self.error(
                    node.pos,
                    format!("{what}: `{n}` has no unit: write `{n}s` or `{n}ms`"),
                );
                None
            }
            _ => {
                self.error(
                    node.pos,
                    format!(
                        "{what} must be a duration such as `500ms`, `2s` or `5m`, found {}",
                        node.kind()
                    ),
                );
                None
            }
        }
    }

    /// A string that may hold `{{ }}` templates: checked to parse now, rendered at run time.
    pub fn template(&mut self, node: &Node, what: &str) -> Option<Template> {
        let source = match &node.value {
            Value::Str(s) => s.clone(),
            // Numbers and booleans are fine where text is expected (`port: 8080`).
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                self.error(
                    node.pos,
                    format!("{what} must be a string, found {}", node.kind()),
                );
                return None;
            }
        };
        let reads = match expr::check_template(&source) {
            Ok(reads) => reads,
            Err(e) => {
                self.error(node.pos, format!("{what}: template does not parse: {e}"));
                return None;
            }
        };
        let scan = expr::names::scan_template(&source);
        self.names(node, what, &source, &scan);
        let safe = scan
            .safe
            .iter()
            .map(|s| {
                (
                    self.locate(node, &source, s.offset, "safe"),
                    s.roots.clone(),
                )
            })
            .collect();
        Some(Template {
            source,
            pos: node.pos,
            reads,
            safe,
        })
    }

    pub fn expression(&mut self, node: &Node, what: &str) -> Option<Expr> {
        let source = match &node.value {
            Value::Str(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            _ => {
                self.error(
                    node.pos,
                    format!("{what} must be an expression string, found {}", node.kind()),
                );
                return None;
            }
        };
        if source.trim().is_empty() {
            self.error(node.pos, format!("{what} is empty"));
            return None;
        }
        let reads = match expr::check_expression(&source) {
            Ok(reads) => reads,
            Err(e) => {
                self.error(node.pos, format!("{what}: expression does not parse: {e}"));
                return None;
            }
        };
        self.names(node, what, &source, &expr::names::scan_expression(&source));
        Some(Expr {
            source,
            pos: node.pos,
            reads,
        })
    }

    pub fn template_value(&mut self, node: &Node, what: &str) -> Option<TemplateValue> {
        Some(match &node.value {
            Value::Null => TemplateValue::Null,
            Value::Bool(b) => TemplateValue::Bool(*b),
            Value::Int(i) => TemplateValue::Number((*i).into()),
            Value::Float(f) => match serde_json::Number::from_f64(*f) {
                Some(n) => TemplateValue::Number(n),
                None => {
                    self.error(node.pos, format!("{what}: {f} cannot be sent as JSON"));
                    return None;
                }
            },
            Value::Str(_) => TemplateValue::Str(self.template(node, what)?),
            Value::Seq(items) => {
                let mut out = Vec::new();
                for item in items {
                    out.push(self.template_value(item, what)?);
                }
                TemplateValue::Seq(out)
            }
            Value::Map(entries) => {
                let mut out = Vec::new();
                for (k, v) in entries {
                    out.push((k.name.clone(), self.template_value(v, what)?));
                }
                TemplateValue::Map(out)
            }
        })
    }

    fn string_map(&mut self, node: &Node, what: &str) -> Vec<(String, Template)> {
        let Some(entries) = node.as_map() else {
            if !matches!(node.value, Value::Null) {
                self.error(
                    node.pos,
                    format!(
                        "{what} must be a mapping of names to strings, found {}",
                        node.kind()
                    ),
                );
            }
            return Vec::new();
        };
        entries
            .iter()
            .filter_map(|(k, v)| {
                let t = self.template(v, &format!("{what} `{}`", k.name))?;
                Some((k.name.clone(), t))
            })
            .collect()
    }

    fn retry(&mut self, node: &Node, what: &str) -> Option<Retry> {
        let entries = self.mapping(node, what, RETRY_KEYS)?;
        let mut retry = Retry {
            attempts: 3,
            delay: Duration::from_secs(1),
        };
        let mut ok = true;
        for (k, v) in entries {
            match k.name.as_str() {
                "attempts" => match self.count(v, "retry attempts", 1, 10_000) {
                    Some(n) => retry.attempts = n,
                    None => ok = false,
                },
                "delay" => match self.duration(v, "retry delay") {
                    Some(d) => retry.delay = d,
                    None => ok = false,
                },
                _ => {}
            }
        }
        ok.then_some(retry)
    }
}

fn entry<'n>(entries: &'n [(Key, Node)], name: &str) -> Option<&'n Node> {
    entries.iter().find(|(k, _)| k.name == name).map(|(_, v)| v)
}

fn key<'n>(entries: &'n [(Key, Node)], name: &str) -> Option<&'n Key> {
    entries.iter().find(|(k, _)| k.name == name).map(|(k, _)| k)
}

pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

pub(crate) fn is_valid_step_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

pub(crate) fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses a runbook tree. Unless the document is not a mapping at all, returns the runbook as
/// far as it could be read, steps with problems left out, so the cross-step checks still run:
/// it is valid only if `checker` holds no diagnostics.
pub(crate) fn runbook(checker: &mut Checker, root: &Node, source: Source) -> Option<Runbook> {
    if matches!(root.value, Value::Null) {
        checker.error(
            root.pos,
            "the file is empty: a runbook needs `name`, `title` and `steps`",
        );
        return None;
    }
    let entries = checker.mapping(root, "the runbook", TOP_KEYS)?;

    let name = match entry(entries, "name") {
        Some(node) => checker.string(node, "`name`").and_then(|n| {
            if is_valid_name(&n) {
                Some(n)
            } else {
                checker.error(
                    node.pos,
                    format!(
                        "`name` must be lowercase letters, digits and dashes ([a-z0-9-]+), found `{n}`"
                    ),
                );
                None
            }
        }),
        None => {
            checker.error(root.pos, "missing required key `name`");
            None
        }
    };
    let title = match entry(entries, "title") {
        Some(node) => checker.string(node, "`title`"),
        None => {
            checker.error(root.pos, "missing required key `title`");
            None
        }
    };
    let description =
        entry(entries, "description").and_then(|n| checker.string(n, "`description`"));

    let mut vars = Map::new();
    let mut required_vars = Vec::new();
    // Without `vars:`, none is declared and every `vars.X` read is an error.
    checker.vars = Some(Vec::new());
    if let Some(node) = entry(entries, "vars") {
        match &node.value {
            Value::Map(pairs) => {
                for (k, v) in pairs {
                    vars.insert(k.name.clone(), v.to_json());
                    if matches!(v.value, Value::Null) {
                        required_vars.push((k.name.clone(), k.pos));
                    }
                }
                checker.vars = Some(pairs.iter().map(|(k, _)| k.name.clone()).collect());
            }
            Value::Null => {}
            _ => {
                checker.vars = None;
                checker.error(
                    node.pos,
                    format!(
                        "`vars` must be a mapping of names to values, found {}",
                        node.kind()
                    ),
                );
            }
        }
    }

    let mut secrets = Vec::new();
    if let Some(node) = entry(entries, "secrets") {
        match &node.value {
            Value::Seq(items) => {
                for item in items {
                    let Some(name) = checker.string(item, "a secret") else {
                        continue;
                    };
                    if !is_env_name(&name) {
                        checker.error(
                            item.pos,
                            format!("secret `{name}` is not an environment variable name"),
                        );
                    } else if secrets.contains(&name) {
                        checker.error(item.pos, format!("secret `{name}` is listed twice"));
                    } else {
                        secrets.push(name);
                    }
                }
            }
            Value::Null => {}
            _ => checker.error(
                node.pos,
                format!(
                    "`secrets` must be a list of environment variable names, found {}",
                    node.kind()
                ),
            ),
        }
    }

    let mut defaults = Defaults::default();
    if let Some(node) = entry(entries, "defaults")
        && let Some(pairs) = checker.mapping(node, "`defaults`", DEFAULTS_KEYS)
    {
        for (k, v) in pairs {
            match k.name.as_str() {
                "timeout" => defaults.timeout = checker.duration(v, "default timeout"),
                "retry" => defaults.retry = checker.retry(v, "`defaults.retry`"),
                _ => {}
            }
        }
    }

    let steps = match entry(entries, "steps") {
        Some(node) => step_list(checker, node, "steps"),
        None => {
            checker.error(root.pos, "missing required key `steps`");
            Vec::new()
        }
    };
    if let Some(node) = entry(entries, "steps")
        && (node.as_seq().is_some_and(|s| s.is_empty()) || matches!(node.value, Value::Null))
    {
        checker.error(
            node.pos,
            "`steps` is empty: a runbook needs at least one step",
        );
    }
    let finally = entry(entries, "finally")
        .map(|n| step_list(checker, n, "finally"))
        .unwrap_or_default();

    Some(Runbook {
        name: name.unwrap_or_default(),
        title: title.unwrap_or_default(),
        description,
        vars,
        required_vars,
        secrets,
        defaults,
        steps,
        finally,
        source,
        warnings: Vec::new(),
    })
}

fn step_list(checker: &mut Checker, node: &Node, list: &str) -> Vec<Step> {
    match &node.value {
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| step(checker, item, list, i + 1))
            .collect(),
        // An empty `steps:` is reported by the caller; an empty `finally:` is fine.
        Value::Null => Vec::new(),
        _ => {
            checker.error(
                node.pos,
                format!("`{list}` must be a list of steps, found {}", node.kind()),
            );
            Vec::new()
        }
    }
}

fn step(checker: &mut Checker, node: &Node, list: &str, number: usize) -> Option<Step> {
    let known: Vec<&str> = CONTROL_KEYS.iter().chain(EXECUTORS).copied().collect();
    let what = format!("step {number} of `{list}`");
    // Name the step by its id in messages when it has a readable one.
    let shown = match node.get("id").and_then(Node::as_str) {
        Some(id) if is_valid_step_id(id) => format!("step `{id}`"),
        _ => what.clone(),
    };
    let entries = checker.mapping(node, &shown, &known)?;

    let id = match entry(entries, "id") {
        Some(n) => checker.string(n, "step `id`").and_then(|id| {
            if is_valid_step_id(&id) {
                Some(id)
            } else {
                checker.error(
                    n.pos,
                    format!(
                        "step id `{id}` must start with a lowercase letter and use only a-z, 0-9 and _ ([a-z][a-z0-9_]*)"
                    ),
                );
                None
            }
        }),
        None => {
            checker.error(node.pos, format!("{what} is missing required key `id`"));
            None
        }
    };
    let label = id
        .as_deref()
        .map_or_else(|| what.clone(), |id| format!("step `{id}`"));
    let title = match entry(entries, "title") {
        Some(n) => checker.string(n, "step `title`"),
        None => {
            checker.error(node.pos, format!("{label} is missing required key `title`"));
            None
        }
    };
    let description =
        entry(entries, "description").and_then(|n| checker.string(n, "step `description`"));

    let executor_keys: Vec<&Key> = entries
        .iter()
        .map(|(k, _)| k)
        .filter(|k| EXECUTORS.contains(&k.name.as_str()))
        .collect();
    // `htp:` is already reported as an unknown key "(did you mean `http`?)": that is the one
    // error to fix, not also a missing executor.
    let misspelt_executor = entries.iter().any(|(k, _)| {
        !known.contains(&k.name.as_str())
            && suggest(&k.name, known.iter().copied()).is_some_and(|s| EXECUTORS.contains(&s))
    });
    let executor = match executor_keys.as_slice() {
        [] if misspelt_executor => None,
        [] => {
            checker.error(
                node.pos,
                format!(
                    "{label} has no executor: add exactly one of {}",
                    EXECUTORS.join(", ")
                ),
            );
            None
        }
        [one] => {
            let value = entry(entries, &one.name).expect("key exists");
            executor(checker, &one.name, value, entries, &label)
        }
        [first, second, ..] => {
            checker.error_at_key(
                second,
                format!(
                    "{label} has two executors (`{}` and `{}`): a step has exactly one; split it into two steps",
                    first.name, second.name
                ),
            );
            None
        }
    };
    if let Some(ask_key) = key(entries, "ask")
        && let [only] = executor_keys.as_slice()
        && only.name != "manual"
    {
        checker.error_at_key(
            ask_key,
            format!("`ask` belongs to `manual` steps, but {label} is not one"),
        );
    }

    let when = entry(entries, "when").and_then(|n| checker.expression(n, "`when`"));
    let mut expect = Vec::new();
    if let Some(n) = entry(entries, "expect") {
        match &n.value {
            Value::Seq(items) => {
                if items.is_empty() {
                    checker.error(n.pos, "`expect` is an empty list");
                }
                for item in items {
                    if let Some(e) = checker.expression(item, "`expect`") {
                        expect.push(e);
                    }
                }
            }
            _ => {
                if let Some(e) = checker.expression(n, "`expect`") {
                    expect.push(e);
                }
            }
        }
    }
    let retry = entry(entries, "retry").and_then(|n| checker.retry(n, "`retry`"));
    let on_fail = match entry(entries, "on_fail") {
        None => OnFail::Stop,
        Some(n) => on_fail(checker, n).unwrap_or(OnFail::Stop),
    };
    let explicit_action = entry(entries, "action").and_then(|n| checker.boolean(n, "`action`"));
    let loop_over = entry(entries, "loop").and_then(|n| match &n.value {
        Value::Seq(items) => Some(LoopSource::Items(items.iter().map(Node::to_json).collect())),
        _ => checker.expression(n, "`loop`").map(LoopSource::Expr),
    });
    let parallel = match entry(entries, "parallel") {
        Some(n) => {
            if loop_over.is_none() && entry(entries, "loop").is_none() {
                checker.error(n.pos, "`parallel` only applies to a step with `loop`");
            }
            checker.count(n, "`parallel`", 1, 10_000).unwrap_or(1) as usize
        }
        None => 1,
    };
    let milestone = entry(entries, "milestone").and_then(|n| {
        let m = checker.string(n, "`milestone`")?;
        if m.trim().is_empty() {
            checker.error(n.pos, "`milestone` is empty");
            return None;
        }
        Some(m)
    });
    let timeout = entry(entries, "timeout").and_then(|n| checker.duration(n, "step `timeout`"));

    // A step with problems is still returned when its id and executor could be read, so the
    // cross-step checks see its references (the runbook is invalid anyway). Without its `loop`,
    // every `item` it reads would look undefined: such a step is left out.
    if entry(entries, "loop").is_some() && loop_over.is_none() {
        return None;
    }
    let executor = executor?;
    let action = explicit_action.unwrap_or_else(|| default_action(&executor));
    Some(Step {
        id: id?,
        title: title.unwrap_or_default(),
        description,
        pos: node.pos,
        executor,
        when,
        expect,
        retry,
        on_fail,
        action,
        loop_over,
        parallel,
        milestone,
        timeout,
    })
}

/// Commands and writes change systems; reads do not.
fn default_action(executor: &Executor) -> bool {
    match executor {
        Executor::Command(_) => true,
        Executor::Http(h) => !matches!(h.method.as_str(), "GET" | "HEAD"),
        _ => false,
    }
}

fn on_fail(checker: &mut Checker, node: &Node) -> Option<OnFail> {
    match &node.value {
        Value::Str(s) if s == "stop" => Some(OnFail::Stop),
        Value::Str(s) if s == "continue" => Some(OnFail::Continue),
        Value::Str(s) => {
            let hint = suggest(s, ["stop", "continue"])
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            checker.error(
                node.pos,
                format!(
                    "`on_fail` must be `stop`, `continue` or `{{goto: STEP_ID}}`, found `{s}`{hint}"
                ),
            );
            None
        }
        Value::Map(_) => {
            let entries = checker.mapping(node, "`on_fail`", ON_FAIL_KEYS)?;
            let Some(target) = entry(entries, "goto") else {
                checker.error(node.pos, "`on_fail` mapping needs `goto: STEP_ID`");
                return None;
            };
            checker.string(target, "`goto`").map(|step| OnFail::Goto {
                step,
                pos: target.pos,
            })
        }
        _ => {
            checker.error(
                node.pos,
                format!(
                    "`on_fail` must be `stop`, `continue` or `{{goto: STEP_ID}}`, found {}",
                    node.kind()
                ),
            );
            None
        }
    }
}
