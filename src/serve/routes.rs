//! The routes file of `runbook serve`: which alerts start which runbook, with which vars, and
//! how its actions are decided. Every problem is reported as `FILE:LINE:COL: message` before
//! the server listens (exit 2), so a route never fails for the first time in the middle of an
//! incident.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value as Json};

use crate::diagnostic::Diagnostic;
use crate::notify::{Format, Target};
use crate::yaml::{self, Key, Node, Pos, Value};

/// The token's env var when the file names none.
pub const DEFAULT_TOKEN_ENV: &str = "RUNBOOK_SERVE_TOKEN";
/// How long an action waits for approvals when the route says nothing.
pub const DEFAULT_APPROVAL_TIMEOUT: Duration = Duration::from_secs(30 * 60);

const TOP_KEYS: &[&str] = &["token_env", "routes"];
const ROUTE_KEYS: &[&str] = &[
    "name",
    "match",
    "match_re",
    "runbook",
    "vars",
    "vars_files",
    "mode",
    "approvals",
    "approval_timeout",
    "max_runs_per_hour",
    "notify",
];
const NOTIFY_KEYS: &[&str] = &["webhook", "format"];

/// A parsed routes file.
#[derive(Debug)]
pub struct Routes {
    pub token_env: String,
    pub routes: Vec<Route>,
}

/// How a served run decides its actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Actions wait for approvals (`runbook approve`, or `POST /v1/runs/{id}/approve`).
    Diagnose,
    /// Actions run as with `--yes`.
    Auto,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Diagnose => "diagnose",
            Mode::Auto => "auto",
        }
    }
}

/// One route: the alerts it takes, and the run each of them starts.
#[derive(Debug)]
pub struct Route {
    /// `name`, or the runbook file's stem: in logs and metrics.
    pub name: String,
    /// Labels that must be equal.
    pub equal: Vec<(String, String)>,
    /// Labels that must match, anchored at both ends as Alertmanager anchors its regexes.
    pub regex: Vec<(String, regex::Regex)>,
    /// The runbook file (relative to the routes file's directory, see [`resolve`]).
    pub runbook: PathBuf,
    pub vars: Map<String, Json>,
    pub vars_files: Vec<PathBuf>,
    pub mode: Mode,
    pub approvals: u32,
    pub approval_timeout: Duration,
    pub max_runs_per_hour: Option<u32>,
    pub notify: Vec<Target>,
}

impl Route {
    /// Whether an alert with these labels is this route's: every `match` label equal, every
    /// `match_re` label matching. A label the alert lacks is the empty string, as in
    /// Alertmanager (so `match_re: {team: ".*"}` also takes alerts without `team`).
    pub fn matches(&self, labels: &Map<String, Json>) -> bool {
        let label = |name: &str| labels.get(name).and_then(Json::as_str).unwrap_or_default();
        self.equal.iter().all(|(name, value)| label(name) == value)
            && self.regex.iter().all(|(name, re)| re.is_match(label(name)))
    }
}

/// Reads and checks a routes file. `Err` holds every problem, rendered.
pub fn load(path: &Path) -> Result<Routes, String> {
    let shown = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{shown}: {}", crate::io_message(&e)))?;
    let root = yaml::parse(&text).map_err(|e| Diagnostic::syntax(&shown, &e).render(&text))?;
    let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut reader = Reader {
        file: &shown,
        base,
        problems: Vec::new(),
    };
    let routes = reader.routes(&root);
    if reader.problems.is_empty() {
        Ok(routes)
    } else {
        let rendered: Vec<String> = reader.problems.iter().map(|d| d.render(&text)).collect();
        Err(rendered.join("\n"))
    }
}

/// A path written in the routes file: relative to the file's directory (where a ConfigMap
/// mounts routes and runbooks together); when nothing is there but the path exists relative
/// to the working directory, that one (a routes file kept apart from a checkout of runbooks).
pub fn resolve(base: &Path, written: &str) -> PathBuf {
    let written = Path::new(written);
    if written.is_absolute() {
        return written.to_path_buf();
    }
    let beside = base.join(written);
    if beside.exists() || !written.exists() {
        beside
    } else {
        written.to_path_buf()
    }
}

struct Reader<'a> {
    file: &'a str,
    base: PathBuf,
    problems: Vec<Diagnostic>,
}

impl Reader<'_> {
    fn problem(&mut self, pos: Pos, message: impl Into<String>) {
        self.problems.push(Diagnostic::new(self.file, pos, message));
    }

    /// Reports keys not in `known`, with the closest known one.
    fn unknown_keys(&mut self, entries: &[(Key, Node)], known: &[&str], what: &str) {
        for (key, _) in entries {
            if !known.contains(&key.name.as_str()) {
                let message = crate::diagnostic::unknown_key(&key.name, known, what);
                self.problem(key.pos, message);
            }
        }
    }

    fn routes(&mut self, root: &Node) -> Routes {
        let mut routes = Routes {
            token_env: DEFAULT_TOKEN_ENV.into(),
            routes: Vec::new(),
        };
        let Some(entries) = root.as_map() else {
            self.problem(
                root.pos,
                format!(
                    "a routes file is a mapping with `routes:` (and `token_env:`), found {}",
                    root.kind()
                ),
            );
            return routes;
        };
        self.unknown_keys(entries, TOP_KEYS, "the routes file");
        if let Some(node) = root.get("token_env") {
            match node.as_str().map(str::trim).filter(|s| !s.is_empty()) {
                Some(name) => routes.token_env = name.to_string(),
                None => self.problem(
                    node.pos,
                    format!(
                        "`token_env` names the env var holding the bearer token, found {}",
                        node.kind()
                    ),
                ),
            }
        }
        match root.get("routes") {
            None => self.problem(root.pos, "the routes file has no `routes:` list"),
            Some(node) => match node.as_seq() {
                Some([]) => self.problem(node.pos, "`routes` is empty: no alert would start a run"),
                Some(items) => {
                    for (index, item) in items.iter().enumerate() {
                        if let Some(route) = self.route(index, item) {
                            routes.routes.push(route);
                        }
                    }
                }
                None => self.problem(
                    node.pos,
                    format!("`routes` is a list of routes, found {}", node.kind()),
                ),
            },
        }
        routes
    }

    fn route(&mut self, index: usize, node: &Node) -> Option<Route> {
        let what = format!("route {}", index + 1);
        let Some(entries) = node.as_map() else {
            self.problem(
                node.pos,
                format!(
                    "{what} is a mapping (match, runbook, ...), found {}",
                    node.kind()
                ),
            );
            return None;
        };
        let before = self.problems.len();
        self.unknown_keys(entries, ROUTE_KEYS, &what);
        let equal = self.labels(node.get("match"), "match", &what);
        let regex = self
            .labels(node.get("match_re"), "match_re", &what)
            .into_iter()
            .filter_map(|(name, pattern, pos)| {
                match regex::Regex::new(&format!("^(?:{pattern})$")) {
                    Ok(re) => Some((name, re)),
                    Err(e) => {
                        let error = e.to_string();
                        let last = error.lines().last().unwrap_or_default().trim().to_string();
                        self.problem(pos, format!("`match_re.{name}` is not a regex: {last}"));
                        None
                    }
                }
            })
            .collect::<Vec<_>>();
        let equal: Vec<(String, String)> = equal
            .into_iter()
            .map(|(name, value, _)| (name, value))
            .collect();
        let runbook = match node.get("runbook") {
            Some(n) => match n.as_str().filter(|s| !s.trim().is_empty()) {
                Some(file) => {
                    let path = resolve(&self.base, file);
                    if !path.is_file() {
                        self.problem(
                            n.pos,
                            format!("runbook `{file}` not found ({})", path.display()),
                        );
                    }
                    path
                }
                None => {
                    self.problem(
                        n.pos,
                        format!("`runbook` is a file path, found {}", n.kind()),
                    );
                    PathBuf::new()
                }
            },
            None => {
                self.problem(node.pos, format!("{what} has no `runbook:`"));
                PathBuf::new()
            }
        };
        let vars = match node.get("vars") {
            None => Map::new(),
            Some(n) => match &n.value {
                Value::Map(entries) => entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
                Value::Null => Map::new(),
                _ => {
                    self.problem(
                        n.pos,
                        format!("`vars` is a mapping of names to values, found {}", n.kind()),
                    );
                    Map::new()
                }
            },
        };
        let vars_files = self.paths(node.get("vars_files"));
        let mode = match node.get("mode") {
            None => Mode::Diagnose,
            Some(n) => match n.as_str() {
                Some("diagnose") => Mode::Diagnose,
                Some("auto") => Mode::Auto,
                _ => {
                    self.problem(
                        n.pos,
                        format!(
                            "`mode` is `diagnose` (actions wait for approval) or `auto` (actions run as with --yes), found {}",
                            shown_value(n)
                        ),
                    );
                    Mode::Diagnose
                }
            },
        };
        let approvals = self
            .count(node.get("approvals"), "approvals", 1)
            .unwrap_or(1);
        let max_runs_per_hour = self.count(node.get("max_runs_per_hour"), "max_runs_per_hour", 1);
        let approval_timeout = match node.get("approval_timeout") {
            None => DEFAULT_APPROVAL_TIMEOUT,
            Some(n) => match n.as_str().map(crate::duration::parse) {
                Some(Ok(d)) if !d.is_zero() => d,
                Some(Ok(_)) => {
                    self.problem(n.pos, "`approval_timeout` must be longer than 0s");
                    DEFAULT_APPROVAL_TIMEOUT
                }
                Some(Err(e)) => {
                    self.problem(n.pos, format!("`approval_timeout`: {e}"));
                    DEFAULT_APPROVAL_TIMEOUT
                }
                None => {
                    self.problem(
                        n.pos,
                        format!(
                            "`approval_timeout` is a duration such as `30m`, found {}",
                            n.kind()
                        ),
                    );
                    DEFAULT_APPROVAL_TIMEOUT
                }
            },
        };
        let notify = self.notify(node.get("notify"));
        let name = match node.get("name") {
            Some(n) => match n.as_str().filter(|s| !s.trim().is_empty()) {
                Some(name) => name.to_string(),
                None => {
                    self.problem(n.pos, format!("`name` is a string, found {}", n.kind()));
                    String::new()
                }
            },
            None => runbook
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| what.clone()),
        };
        (self.problems.len() == before).then_some(Route {
            name,
            equal,
            regex,
            runbook,
            vars,
            vars_files,
            mode,
            approvals,
            approval_timeout,
            max_runs_per_hour,
            notify,
        })
    }

    /// `match` or `match_re`: label names to strings.
    fn labels(&mut self, node: Option<&Node>, key: &str, what: &str) -> Vec<(String, String, Pos)> {
        let Some(node) = node else {
            return Vec::new();
        };
        let Some(entries) = node.as_map() else {
            if !matches!(node.value, Value::Null) {
                self.problem(
                    node.pos,
                    format!(
                        "`{key}` of {what} maps label names to values, found {}",
                        node.kind()
                    ),
                );
            }
            return Vec::new();
        };
        let mut out = Vec::new();
        for (label, value) in entries {
            match scalar_text(value) {
                Some(text) => out.push((label.name.clone(), text, value.pos)),
                None => self.problem(
                    value.pos,
                    format!(
                        "`{key}.{}` is a label value (a string), found {}",
                        label.name,
                        value.kind()
                    ),
                ),
            }
        }
        out
    }

    fn paths(&mut self, node: Option<&Node>) -> Vec<PathBuf> {
        let Some(node) = node else {
            return Vec::new();
        };
        let items: Vec<&Node> = match &node.value {
            Value::Seq(items) => items.iter().collect(),
            Value::Str(_) => vec![node],
            Value::Null => Vec::new(),
            _ => {
                self.problem(
                    node.pos,
                    format!("`vars_files` is a list of files, found {}", node.kind()),
                );
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for item in items {
            match item.as_str() {
                Some(file) => {
                    // Its contents are read and checked with the route's runbook
                    // (serve::check_routes), located in the vars file itself.
                    let path = resolve(&self.base, file);
                    if path.is_file() {
                        out.push(path);
                    } else {
                        self.problem(
                            item.pos,
                            format!("vars file `{file}` not found ({})", path.display()),
                        );
                    }
                }
                None => self.problem(
                    item.pos,
                    format!("a vars file is a path, found {}", item.kind()),
                ),
            }
        }
        out
    }

    /// A whole number of at least `min`.
    fn count(&mut self, node: Option<&Node>, key: &str, min: i64) -> Option<u32> {
        let node = node?;
        match node.value {
            Value::Int(n) if n >= min && n <= i64::from(u32::MAX) => Some(n as u32),
            _ => {
                self.problem(
                    node.pos,
                    format!(
                        "`{key}` is a whole number of at least {min}, found {}",
                        shown_value(node)
                    ),
                );
                None
            }
        }
    }

    fn notify(&mut self, node: Option<&Node>) -> Vec<Target> {
        let Some(node) = node else {
            return Vec::new();
        };
        let Some(items) = node.as_seq() else {
            if !matches!(node.value, Value::Null) {
                self.problem(
                    node.pos,
                    format!(
                        "`notify` is a list of {{webhook: URL, format: slack|json}}, found {}",
                        node.kind()
                    ),
                );
            }
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let Some(entries) = item.as_map() else {
                self.problem(
                    item.pos,
                    format!(
                        "a `notify` entry is {{webhook: URL, format: slack|json}}, found {}",
                        item.kind()
                    ),
                );
                continue;
            };
            self.unknown_keys(entries, NOTIFY_KEYS, "a `notify` entry");
            let format = match item.get("format") {
                None => Format::Json,
                Some(n) => match n.as_str() {
                    Some("json") => Format::Json,
                    Some("slack") => Format::Slack,
                    _ => {
                        self.problem(
                            n.pos,
                            format!("`format` is `slack` or `json`, found {}", shown_value(n)),
                        );
                        continue;
                    }
                },
            };
            match item.get("webhook") {
                Some(n) => match n.as_str().map(crate::notify::parse_url) {
                    Some(Ok(url)) => out.push(Target { url, format }),
                    Some(Err(e)) => self.problem(n.pos, format!("`webhook`: {e}")),
                    None => self.problem(n.pos, format!("`webhook` is a URL, found {}", n.kind())),
                },
                None => self.problem(item.pos, "a `notify` entry has no `webhook:` URL"),
            }
        }
        out
    }
}

/// A label value as Alertmanager compares it: text (a number written bare is its text).
fn scalar_text(node: &Node) -> Option<String> {
    match &node.value {
        Value::Str(s) => Some(s.clone()),
        Value::Int(n) => Some(n.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A scalar as written, or what kind of node it is.
fn shown_value(node: &Node) -> String {
    match scalar_text(node) {
        Some(text) => format!("`{}`", crate::escape::controls(&text)),
        None => node.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load_text(text: &str) -> Result<Routes, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rb.yaml"), "name: x\n").unwrap();
        let path = dir.path().join("routes.yaml");
        std::fs::write(&path, text).unwrap();
        load(&path).map_err(|e| e.replace(&path.display().to_string(), "routes.yaml"))
    }

    #[test]
    fn a_full_route_is_read() {
        let routes = load_text(
            "token_env: MY_TOKEN\nroutes:\n  - match: {alertname: LoadBalancer502}\n    match_re: {severity: \"page|critical\"}\n    runbook: rb.yaml\n    vars: {lb: \"https://x\"}\n    mode: auto\n    approvals: 2\n    approval_timeout: 5m\n    max_runs_per_hour: 4\n    notify: [{webhook: \"https://hooks.example.com/T0/B0\", format: slack}]\n",
        )
        .unwrap();
        assert_eq!(routes.token_env, "MY_TOKEN");
        let route = &routes.routes[0];
        assert_eq!(route.name, "rb");
        assert_eq!(route.mode, Mode::Auto);
        assert_eq!(route.approvals, 2);
        assert_eq!(route.approval_timeout, Duration::from_secs(300));
        assert_eq!(route.max_runs_per_hour, Some(4));
        assert_eq!(route.notify[0].format, Format::Slack);
        assert_eq!(route.vars["lb"], json!("https://x"));
        let labels = |v: Json| v.as_object().unwrap().clone();
        assert!(route.matches(&labels(
            json!({"alertname": "LoadBalancer502", "severity": "page"})
        )));
        assert!(!route.matches(&labels(
            json!({"alertname": "LoadBalancer502", "severity": "pager"})
        )));
        assert!(!route.matches(&labels(json!({"alertname": "Other", "severity": "page"}))));
    }

    #[test]
    fn defaults_are_diagnose_one_approval_thirty_minutes() {
        let routes = load_text("routes:\n  - runbook: rb.yaml\n").unwrap();
        assert_eq!(routes.token_env, DEFAULT_TOKEN_ENV);
        let route = &routes.routes[0];
        assert_eq!(route.mode, Mode::Diagnose);
        assert_eq!(route.approvals, 1);
        assert_eq!(route.approval_timeout, DEFAULT_APPROVAL_TIMEOUT);
        assert_eq!(route.max_runs_per_hour, None);
    }

    #[test]
    fn problems_are_located() {
        let err = load_text(
            "routes:\n  - runbok: rb.yaml\n  - runbook: missing.yaml\n    mode: yolo\n    approvals: 0\n    match_re: {a: \"(\"}\n",
        )
        .unwrap_err();
        assert!(
            err.contains(
                "routes.yaml:2:5: unknown key `runbok` in route 1 (did you mean `runbook`?)"
            ),
            "{err}"
        );
        assert!(
            err.contains("routes.yaml:2:5: route 1 has no `runbook:`")
                || err.contains("route 1 has no `runbook:`"),
            "{err}"
        );
        assert!(
            err.contains("routes.yaml:3:14: runbook `missing.yaml` not found"),
            "{err}"
        );
        assert!(
            err.contains("routes.yaml:4:11: `mode` is `diagnose`"),
            "{err}"
        );
        assert!(
            err.contains(
                "routes.yaml:5:16: `approvals` is a whole number of at least 1, found `0`"
            ),
            "{err}"
        );
        assert!(err.contains("`match_re.a` is not a regex"), "{err}");
    }
}
