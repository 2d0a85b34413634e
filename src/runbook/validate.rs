//! Loading a runbook file and the checks that span steps: unique ids, `goto` targets,
//! `steps.X` references, declared secrets, and the names each expression reads.

use std::collections::HashMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::model::*;
use super::parse::{self, Checker};
use crate::diagnostic::{Diagnostic, suggest};
use crate::yaml::{self, Node, Pos, Value};

/// Why a runbook could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read.
    Io { path: String, message: String },
    /// The file was read but is not a valid runbook: every problem found, in file order.
    Invalid {
        source: String,
        diagnostics: Vec<Diagnostic>,
    },
}

impl LoadError {
    /// The error as printed: every diagnostic with its source line.
    pub fn render(&self) -> String {
        match self {
            LoadError::Io { path, message } => format!("{path}: {message}"),
            LoadError::Invalid {
                source,
                diagnostics,
            } => diagnostics
                .iter()
                .map(|d| d.render(source))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// Reads, parses and validates a runbook file.
pub fn load(path: &Path) -> Result<Runbook, LoadError> {
    let display = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| LoadError::Io {
        path: display.clone(),
        message: crate::io_message(&e),
    })?;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            return Err(not_utf8(
                &display,
                e.as_bytes(),
                e.utf8_error().valid_up_to(),
            ));
        }
    };
    from_text(&display, text)
}

/// A file that is not text is an invalid runbook like any other: located at its first bad byte.
fn not_utf8(file: &str, bytes: &[u8], valid_up_to: usize) -> LoadError {
    let before = std::str::from_utf8(&bytes[..valid_up_to]).unwrap_or_default();
    let pos = super::names::position(before, before.len());
    LoadError::Invalid {
        diagnostics: vec![Diagnostic::new(
            file,
            pos,
            format!(
                "not UTF-8 text (byte 0x{:02x} at offset {valid_up_to}): a runbook is a YAML text file",
                bytes[valid_up_to]
            ),
        )],
        source: String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Parses and validates runbook text; `file` names it in messages.
pub fn from_text(file: &str, text: String) -> Result<Runbook, LoadError> {
    match yaml::parse(&text) {
        Ok(root) => from_tree(file, text, &root),
        Err(e) => Err(LoadError::Invalid {
            diagnostics: vec![Diagnostic::syntax(file, &e)],
            source: text,
        }),
    }
}

/// [`from_text`] of text already parsed into `root` (`validate` reads each file's tree once to
/// tell a scenario from a runbook, and does not parse it again).
pub fn from_tree(file: &str, text: String, root: &yaml::Node) -> Result<Runbook, LoadError> {
    let sha256 = hex_sha256(text.as_bytes());
    let mut checker = Checker::new(file);
    checker.text = &text;
    let source = Source {
        path: file.to_string(),
        text: String::new(),
        sha256,
    };
    let parsed = parse::runbook(&mut checker, root, source);
    if let Some(runbook) = &parsed {
        cross_check(&mut checker, runbook, &Written::from(root));
    }
    if !checker.diagnostics.is_empty() || parsed.is_none() {
        let mut diagnostics = checker.diagnostics;
        diagnostics.sort_by_key(|d| d.pos);
        diagnostics.dedup();
        return Err(LoadError::Invalid {
            source: text,
            diagnostics,
        });
    }
    let mut runbook = parsed.expect("checked above");
    runbook.warnings = checker.warnings;
    runbook.source.text = text;
    Ok(runbook)
}

pub fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Fields each executor produces, for checking the names `expect` and `steps.X.field` read.
pub fn executor_fields(executor: &Executor) -> Vec<&str> {
    let fixed: &[&str] = match executor {
        Executor::Http(_) => &[
            "status",
            "count",
            "responses",
            "not_sent",
            "cut_off",
            "status_counts",
            "error_count",
            "errors",
            "rate_5xx",
            "rate_error",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "max_ms",
            "body",
            "body_truncated",
            "json",
            "headers",
            "url",
            "method",
        ],
        Executor::Prometheus(_) => &[
            "value",
            "values",
            "series",
            "string",
            "result_type",
            "error",
        ],
        Executor::Statuspage(_) => &[
            "indicator",
            "description",
            "components",
            "maintenances",
            "incidents",
            "page",
            "error",
        ],
        Executor::Tcp(_) => &["connected", "connect_ms", "address", "error"],
        Executor::Command(_) => &[
            "exit_code",
            "stdout",
            "stderr",
            "stdout_truncated",
            "stderr_truncated",
            "json",
            "timed_out",
            "signal",
            "duration_ms",
        ],
        Executor::Manual(m) => return m.ask.iter().map(|a| a.name.as_str()).collect(),
        Executor::Wait(_) => &["waited_ms"],
    };
    fixed.to_vec()
}

/// Fields every finished step has besides its executor's.
pub const COMMON_FIELDS: &[&str] = &["outcome", "passed", "summary", "duration_ms", "attempt"];
/// Fields a step with `loop` has.
pub const LOOP_FIELDS: &[&str] = &["items", "passed_count", "failed_count"];
/// MiniJinja's global functions, which expressions may call.
const GLOBALS: &[&str] = &["range", "dict", "namespace", "debug"];

/// Where an expression or template stands, which decides the names it may read.
#[derive(Clone, Copy, PartialEq)]
enum Scope {
    /// `when`, `loop`: before the step runs.
    Before,
    /// Templates of the executor: `item` inside loops.
    Template,
    /// `expect`: the step's own fields at top level.
    Expect,
}

/// What the file says, read from the tree rather than the runbook: the runbook leaves out the
/// steps that have problems, and a reference to such a step is not a second error.
struct Written<'a> {
    /// Each step id written, with its list and where.
    ids: Vec<(&'static str, &'a str, Pos)>,
    /// Each `on_fail: {goto: ID}`, with its list and where the id is written.
    gotos: Vec<(&'static str, &'a str, Pos)>,
    /// The declared secrets; `None` when `secrets:` is not a list, so nothing can be said.
    secrets: Option<Vec<&'a str>>,
}

impl<'a> Written<'a> {
    fn from(root: &'a Node) -> Self {
        let (mut ids, mut gotos) = (Vec::new(), Vec::new());
        for list in ["steps", "finally"] {
            for step in root.get(list).and_then(Node::as_seq).unwrap_or_default() {
                if let Some(id) = step.get("id")
                    && let Some(name) = id.as_str()
                {
                    ids.push((list, name, id.pos));
                }
                if let Some(target) = step.get("on_fail").and_then(|n| n.get("goto"))
                    && let Some(name) = target.as_str()
                {
                    gotos.push((list, name, target.pos));
                }
            }
        }
        let secrets = match root.get("secrets") {
            None => Some(Vec::new()),
            Some(node) => match &node.value {
                Value::Null => Some(Vec::new()),
                Value::Seq(items) => Some(items.iter().filter_map(Node::as_str).collect()),
                _ => None,
            },
        };
        Written {
            ids,
            gotos,
            secrets,
        }
    }
}

fn cross_check(checker: &mut Checker, runbook: &Runbook, written: &Written) {
    let mut first_at: HashMap<&str, Pos> = HashMap::new();
    for &(_, id, pos) in &written.ids {
        match first_at.get(id) {
            Some(first) => checker.error(
                pos,
                format!(
                    "duplicate step id `{id}` (first used on line {})",
                    first.line
                ),
            ),
            None => {
                first_at.insert(id, pos);
            }
        }
    }
    let ids: Vec<&str> = written.ids.iter().map(|&(_, id, _)| id).collect();
    for &(list, target, pos) in &written.gotos {
        if written
            .ids
            .iter()
            .any(|&(l, id, _)| l == list && id == target)
        {
            continue;
        }
        let message = if ids.contains(&target) {
            format!("`goto: {target}` leaves `{list}`: a goto must stay within its list")
        } else {
            unknown_step(&format!("`goto: {target}`"), target, &ids)
        };
        checker.error(pos, message);
    }
    for step in runbook.all_steps() {
        let mut checks: Vec<(Scope, Pos, &[String])> = Vec::new();
        if let Some(w) = &step.when {
            checks.push((Scope::Before, w.pos, &w.reads));
        }
        if let Some(LoopSource::Expr(l)) = &step.loop_over {
            checks.push((Scope::Before, l.pos, &l.reads));
        }
        for e in &step.expect {
            checks.push((Scope::Expect, e.pos, &e.reads));
        }
        for t in step_templates(step) {
            checks.push((Scope::Template, t.pos, &t.reads));
            warn_safe(checker, step, t);
        }
        for (scope, pos, names) in checks {
            for name in names {
                if let Some(message) = check_name(runbook, written, step, scope, name, &ids) {
                    checker.error(pos, message);
                }
            }
        }
    }
}

/// Warns of each `| safe` applied to data read from a system: it writes that data unescaped
/// into a shell command or a URL (src/expr/escape.rs). Deliberate, so not an error.
fn warn_safe(checker: &mut Checker, step: &Step, template: &Template) {
    let items_from_steps = match &step.loop_over {
        Some(LoopSource::Expr(e)) => e.reads.iter().any(|r| is_step_data(r)),
        _ => false,
    };
    for (pos, roots) in &template.safe {
        let untrusted = roots
            .iter()
            .find(|root| is_step_data(root) || (root.as_str() == "item" && items_from_steps));
        if let Some(root) = untrusted {
            let what = if root == "item" {
                "`item`, which comes from a step's result,"
            } else if root.starts_with("alert") {
                "`alert`"
            } else {
                "`steps`"
            };
            checker.warnings.push(
                Diagnostic::new(
                    checker.file,
                    *pos,
                    format!(
                        "`| safe` on {what} in step `{}` writes data read from a system \
                         unescaped; drop `| safe` to have it escaped for where it lands",
                        step.id
                    ),
                )
                .with_width(4),
            );
        }
    }
}

/// Data read from a system: a step's result, or the alert that started the run.
fn is_step_data(name: &str) -> bool {
    let root = name.split('.').next().unwrap_or_default();
    root == "steps" || root == "alert"
}

/// What an Alertmanager webhook says of one alert, as `alert` holds it (`runbook serve`).
pub const ALERT_FIELDS: &[&str] = &[
    "labels",
    "annotations",
    "status",
    "startsAt",
    "endsAt",
    "fingerprint",
    "generatorURL",
];

fn unknown_step(what: &str, target: &str, ids: &[&str]) -> String {
    match suggest(target, ids.iter().copied()) {
        Some(close) => format!("{what}: no step has id `{target}` (did you mean `{close}`?)"),
        None => format!("{what}: no step has id `{target}`"),
    }
}

/// Checks one name an expression reads; returns the problem, if any.
fn check_name(
    runbook: &Runbook,
    written: &Written,
    step: &Step,
    scope: Scope,
    name: &str,
    ids: &[&str],
) -> Option<String> {
    let mut parts = name.split('.');
    let head = parts.next().unwrap_or_default();
    match head {
        "vars" => None,
        "secrets" => {
            let secret = parts.next()?;
            if written.secrets.as_ref().is_none_or(|s| s.contains(&secret)) {
                None
            } else {
                Some(format!(
                    "`secrets.{secret}` is not declared: add `{secret}` to the runbook's `secrets:` list"
                ))
            }
        }
        "steps" => {
            let id = parts.next()?;
            let Some(target) = runbook.step(id) else {
                // A step written but left out for its own problems has been reported already.
                return (!ids.contains(&id))
                    .then(|| unknown_step(&format!("`steps.{id}`"), id, ids));
            };
            let field = parts.next()?;
            let mut known = executor_fields(&target.executor);
            known.extend_from_slice(COMMON_FIELDS);
            if target.loop_over.is_some() {
                known.extend_from_slice(LOOP_FIELDS);
            }
            if known.contains(&field) {
                return None;
            }
            Some(match suggest(field, known.iter().copied()) {
                Some(close) => format!(
                    "`steps.{id}.{field}`: step `{id}` has no field `{field}` (did you mean `{close}`?)"
                ),
                None => format!(
                    "`steps.{id}.{field}`: step `{id}` has no field `{field}` (its fields: {})",
                    known.join(", ")
                ),
            })
        }
        "alert" => {
            // Undefined outside a served run, where reading it fails closed at run time.
            let field = parts.next()?;
            if ALERT_FIELDS.contains(&field) {
                return None;
            }
            Some(match suggest(field, ALERT_FIELDS.iter().copied()) {
                Some(close) => {
                    format!(
                        "`alert.{field}`: an alert has no field `{field}` (did you mean `{close}`?)"
                    )
                }
                None => format!(
                    "`alert.{field}`: an alert has no field `{field}` (its fields: {})",
                    ALERT_FIELDS.join(", ")
                ),
            })
        }
        "item" if step.loop_over.is_some() && scope != Scope::Before => None,
        "item" => Some(if step.loop_over.is_some() {
            "`item` is not defined here: `when` and `loop` are evaluated once, before the items"
                .into()
        } else {
            "`item` is only defined in a step with `loop`".into()
        }),
        _ if GLOBALS.contains(&head) => None,
        _ if scope == Scope::Expect => {
            let known = executor_fields(&step.executor);
            if known.contains(&head) {
                return None;
            }
            let mut candidates = known.clone();
            candidates.extend(["vars", "secrets", "steps"]);
            Some(match suggest(head, candidates.iter().copied()) {
                Some(close) => format!(
                    "`expect` reads `{head}`, which this {} step does not produce (did you mean `{close}`?)",
                    step.executor.kind()
                ),
                None => format!(
                    "`expect` reads `{head}`, which this {} step does not produce (its fields: {})",
                    step.executor.kind(),
                    known.join(", ")
                ),
            })
        }
        _ => {
            let roots = ["vars", "secrets", "steps", "item", "alert"];
            Some(match suggest(head, roots) {
                Some(close) => format!("unknown name `{head}` (did you mean `{close}`?)"),
                None => format!(
                    "unknown name `{head}`: expressions read `vars`, `secrets`, `steps`, in loops \
                     `item` and, in runs started by an alert, `alert`"
                ),
            })
        }
    }
}

/// Every template an executor renders.
pub fn step_templates(step: &Step) -> Vec<&Template> {
    let mut out = Vec::new();
    match &step.executor {
        Executor::Http(h) => {
            out.push(&h.url);
            out.extend(h.headers.iter().map(|(_, t)| t));
            match &h.body {
                Some(HttpBody::Text(t)) => out.push(t),
                Some(HttpBody::Json(v)) => collect_value_templates(v, &mut out),
                None => {}
            }
        }
        Executor::Prometheus(p) => {
            out.push(&p.url);
            out.push(&p.query);
            out.extend(p.headers.iter().map(|(_, t)| t));
            out.extend(p.bearer.iter());
            if let Some(basic) = &p.basic_auth {
                out.push(&basic.username);
                out.push(&basic.password);
            }
            out.extend(p.range.iter().filter_map(|r| r.end.as_ref()));
            out.extend(p.time.iter());
        }
        Executor::Statuspage(s) => {
            out.push(&s.url);
            out.extend(s.headers.iter().map(|(_, t)| t));
        }
        Executor::Tcp(t) => out.push(&t.address),
        Executor::Command(c) => {
            match &c.program {
                CommandProgram::Argv(argv) => out.extend(argv.iter()),
                CommandProgram::Shell(s) => out.push(s),
            }
            out.extend(c.env.iter().map(|(_, t)| t));
            out.extend(c.cwd.iter());
        }
        Executor::Manual(m) => out.push(&m.instructions),
        Executor::Wait(_) => {}
    }
    out
}

fn collect_value_templates<'a>(value: &'a TemplateValue, out: &mut Vec<&'a Template>) {
    match value {
        TemplateValue::Str(t) => out.push(t),
        TemplateValue::Seq(items) => items.iter().for_each(|v| collect_value_templates(v, out)),
        TemplateValue::Map(entries) => entries
            .iter()
            .for_each(|(_, v)| collect_value_templates(v, out)),
        _ => {}
    }
}
