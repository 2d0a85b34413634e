//! Scenarios: what the simulated production looks like and what is broken in it, written in
//! YAML and checked like runbooks (every problem, located, with suggestions).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::fault::fault;
pub use super::fault::{Fault, Until};
use super::names::{Refs, Section};
use crate::diagnostic::Diagnostic;
use crate::runbook::parse::Checker;
use crate::timeline::RunOutcome;
use crate::yaml::{self, Key, Node, Pos, Value};

/// A validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub title: String,
    pub description: Option<String>,
    pub load_balancers: BTreeMap<String, LoadBalancer>,
    pub node_groups: BTreeMap<String, NodeGroup>,
    pub latency: Latency,
    pub status_pages: BTreeMap<String, StatusPage>,
    pub reference_sites: BTreeMap<String, Site>,
    pub faults: Vec<Fault>,
    pub delays: Delays,
    pub success: Vec<Criterion>,
}

#[derive(Clone, Debug)]
pub struct LoadBalancer {
    /// The node group it sends requests to.
    pub group: String,
    /// Another load balancer every request also passes through (LaunchPad -> API).
    pub upstream: Option<String>,
}

#[derive(Clone, Debug)]
pub struct NodeGroup {
    pub nodes: u32,
    /// CPU utilization of each node, 0 to 1.
    pub cpu: f64,
}

#[derive(Clone, Copy, Debug)]
pub struct Latency {
    pub base: Duration,
    pub jitter: Duration,
}

#[derive(Clone, Debug)]
pub struct StatusPage {
    pub name: String,
    pub indicator: String,
    pub description: String,
    pub components: BTreeMap<String, String>,
    pub incidents: Vec<Incident>,
}

#[derive(Clone, Debug)]
pub struct Incident {
    pub name: String,
    pub status: String,
    pub impact: String,
}

#[derive(Clone, Debug)]
pub struct Site {
    pub error_rate: f64,
}

/// How long each remediation takes to take effect.
#[derive(Clone, Copy, Debug)]
pub struct Delays {
    pub refresh: Duration,
    pub reprovision: Duration,
    pub scale: Duration,
}

/// A success criterion, checked against the simulator after a drill.
#[derive(Clone, Debug, PartialEq)]
pub enum Criterion {
    /// Every named load balancer (or all) serves less than this share of 502s.
    Lb5xxBelow {
        lb: Option<String>,
        rate: f64,
    },
    NoAdminRequest,
    NoReprovision,
    NoRefresh,
    NoScale,
    Refreshed(String),
    Reprovisioned(String),
    Scaled(String),
    /// The run ended with one of these outcomes (the timeline's `run_finished` outcome). Stated,
    /// it replaces the implicit "the run completed".
    RunOutcome(Vec<RunOutcome>),
}

impl Criterion {
    /// As a person reads it: `all LBs serve < 1% 502`.
    pub fn describe(&self) -> String {
        match self {
            Criterion::Lb5xxBelow { lb, rate } => {
                let pct = format_pct(*rate);
                match lb {
                    Some(lb) => format!("LB {lb} serves < {pct} 502"),
                    None => format!("all LBs serve < {pct} 502"),
                }
            }
            Criterion::NoAdminRequest => "no admin request was made".into(),
            Criterion::NoReprovision => "no reprovision".into(),
            Criterion::NoRefresh => "no LB refresh".into(),
            Criterion::NoScale => "no scaling".into(),
            Criterion::Refreshed(lb) => format!("LB {lb} was refreshed"),
            Criterion::Reprovisioned(g) => format!("node group {g} was reprovisioned"),
            Criterion::Scaled(g) => format!("node group {g} was scaled out"),
            Criterion::RunOutcome(outcomes) => format!(
                "the run ended {}",
                outcomes
                    .iter()
                    .map(|o| o.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        }
    }
}

pub fn format_pct(rate: f64) -> String {
    let pct = rate * 100.0;
    if (pct - pct.round()).abs() < 1e-9 {
        format!("{}%", pct.round() as i64)
    } else {
        format!("{pct:.1}%")
    }
}

/// The sections a scenario's references point into.
pub(super) type ScenarioRefs<'s> = Refs<'s, LoadBalancer, NodeGroup, StatusPage>;

/// The scenarios built into the binary, by name, default first.
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        "classlink-2020",
        include_str!("../../scenarios/classlink-2020.yaml"),
    ),
    (
        "cpu-saturation",
        include_str!("../../scenarios/cpu-saturation.yaml"),
    ),
    ("bad-nodes", include_str!("../../scenarios/bad-nodes.yaml")),
    (
        "provider-outage",
        include_str!("../../scenarios/provider-outage.yaml"),
    ),
    ("healthy", include_str!("../../scenarios/healthy.yaml")),
    ("lb-hang", include_str!("../../scenarios/lb-hang.yaml")),
    (
        "conn-close",
        include_str!("../../scenarios/conn-close.yaml"),
    ),
    (
        "metrics-blind",
        include_str!("../../scenarios/metrics-blind.yaml"),
    ),
];

/// The default scenario of `runbook sim` and `runbook drill`.
pub const DEFAULT: &str = "classlink-2020";

/// Why a scenario could not be loaded: the rendered diagnostics, or an I/O message.
#[derive(Debug)]
pub struct ScenarioError {
    pub message: String,
}

/// A built-in scenario by name, or a scenario file by path.
pub fn resolve(name_or_path: &str) -> Result<Scenario, ScenarioError> {
    if let Some((name, text)) = BUILT_IN.iter().find(|(n, _)| *n == name_or_path) {
        return from_text(&format!("<built-in {name}>"), text);
    }
    let path = Path::new(name_or_path);
    if path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            message: format!("{}: {}", path.display(), crate::io_message(&e)),
        })?;
        return from_text(&path.display().to_string(), &text);
    }
    let names: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
    let hint = crate::diagnostic::suggest(name_or_path, names.iter().copied())
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default();
    Err(ScenarioError {
        message: format!(
            "no built-in scenario or file named `{name_or_path}`{hint}; built-in: {}",
            names.join(", ")
        ),
    })
}

pub(crate) const TOP_KEYS: &[&str] = &[
    "name",
    "title",
    "description",
    "load_balancers",
    "node_groups",
    "latency",
    "status_pages",
    "reference_sites",
    "faults",
    "delays",
    "success",
];
pub(crate) const CRITERIA: &[&str] = &[
    "lb_5xx_below",
    "no_admin_request",
    "no_reprovision",
    "no_refresh",
    "no_scale",
    "refreshed",
    "reprovisioned",
    "scaled",
    "run_outcome",
];

/// Every run outcome a `run_outcome` criterion may name, as the timeline writes them.
fn run_outcomes() -> [RunOutcome; 5] {
    use RunOutcome::*;
    let all = [Completed, Failed, Aborted, Blocked, Interrupted];
    // A new outcome fails to compile here, so the list above is not forgotten.
    for outcome in all {
        match outcome {
            Completed | Failed | Aborted | Blocked | Interrupted => {}
        }
    }
    all
}

/// Parses and validates scenario text.
pub fn from_text(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    check(file, text).map_err(|diagnostics| ScenarioError {
        message: diagnostics
            .iter()
            .map(|d| d.render(text))
            .collect::<Vec<_>>()
            .join("\n"),
    })
}

/// Parses and validates scenario text: the scenario, or every problem in file order.
pub fn check(file: &str, text: &str) -> Result<Scenario, Vec<Diagnostic>> {
    let root = yaml::parse(text).map_err(|e| vec![Diagnostic::syntax(file, &e)])?;
    let mut c = Checker::new(file);
    c.text = text;
    let scenario = scenario(&mut c, &root);
    if !c.diagnostics.is_empty() {
        let mut d = c.diagnostics;
        d.sort_by_key(|d| d.pos);
        d.dedup();
        return Err(d);
    }
    scenario.ok_or_else(|| vec![Diagnostic::new(file, root.pos, "invalid scenario")])
}

pub(super) fn entry<'n>(entries: &'n [(Key, Node)], name: &str) -> Option<&'n Node> {
    entries.iter().find(|(k, _)| k.name == name).map(|(_, v)| v)
}

pub(super) fn fraction(c: &mut Checker, node: &Node, what: &str) -> Option<f64> {
    let v = match node.value {
        Value::Int(i) => i as f64,
        Value::Float(f) => f,
        _ => {
            c.error(
                node.pos,
                format!("{what} must be a number from 0 to 1, found {}", node.kind()),
            );
            return None;
        }
    };
    if !(0.0..=1.0).contains(&v) {
        c.error(node.pos, format!("{what} must be from 0 to 1, found {v}"));
        return None;
    }
    Some(v)
}

pub(super) fn required<'n>(
    c: &mut Checker,
    entries: &'n [(Key, Node)],
    at: Pos,
    what: &str,
    key: &str,
) -> Option<&'n Node> {
    let found = entry(entries, key);
    if found.is_none() {
        c.error(at, format!("{what} is missing required key `{key}`"));
    }
    found
}

/// The named entries of a section; `None` when the section is not a mapping (reported).
fn named_maps<'n>(
    c: &mut Checker,
    node: Option<&'n Node>,
    what: &str,
) -> Option<Vec<(&'n Key, &'n Node)>> {
    let Some(node) = node else {
        return Some(Vec::new());
    };
    match &node.value {
        Value::Map(entries) => Some(entries.iter().map(|(k, v)| (k, v)).collect()),
        Value::Null => Some(Vec::new()),
        _ => {
            c.error(
                node.pos,
                format!("`{what}` must be a mapping of names, found {}", node.kind()),
            );
            None
        }
    }
}

fn names(entries: &Option<Vec<(&Key, &Node)>>) -> Option<Vec<String>> {
    entries
        .as_ref()
        .map(|e| e.iter().map(|(k, _)| k.name.clone()).collect())
}

fn scenario(c: &mut Checker, root: &Node) -> Option<Scenario> {
    let entries = c.mapping(root, "the scenario", TOP_KEYS)?;
    let name =
        required(c, entries, root.pos, "the scenario", "name").and_then(|n| c.string(n, "`name`"));
    let title = required(c, entries, root.pos, "the scenario", "title")
        .and_then(|n| c.string(n, "`title`"));
    let description = entry(entries, "description").and_then(|n| c.string(n, "`description`"));

    let mut node_groups = BTreeMap::new();
    let group_nodes = named_maps(c, entry(entries, "node_groups"), "node_groups");
    for (k, v) in group_nodes.iter().flatten() {
        let Some(fields) = c.mapping(v, &format!("node group `{}`", k.name), &["nodes", "cpu"])
        else {
            continue;
        };
        let nodes = required(c, fields, v.pos, "a node group", "nodes")
            .and_then(|n| c.count(n, "`nodes`", 1, 1000));
        let cpu = match entry(fields, "cpu") {
            Some(n) => fraction(c, n, "`cpu`"),
            None => Some(0.2),
        };
        if let (Some(nodes), Some(cpu)) = (nodes, cpu) {
            node_groups.insert(k.name.clone(), NodeGroup { nodes, cpu });
        }
    }
    if node_groups.is_empty() && entry(entries, "node_groups").is_none() {
        c.error(
            root.pos,
            "the scenario is missing required key `node_groups`",
        );
    }

    let mut load_balancers = BTreeMap::new();
    let lb_section = named_maps(c, entry(entries, "load_balancers"), "load_balancers");
    let groups = Section {
        valid: &node_groups,
        written: names(&group_nodes),
        kind: "node group",
    };
    // A section that is not a mapping is reported as that, not also as empty.
    let lb_nodes = lb_section.clone().unwrap_or_default();
    if lb_section.as_ref().is_some_and(Vec::is_empty) {
        c.error(
            root.pos,
            "the scenario needs at least one load balancer under `load_balancers`",
        );
    }
    let lb_names: Vec<String> = lb_nodes.iter().map(|(k, _)| k.name.clone()).collect();
    for (k, v) in &lb_nodes {
        let Some(fields) = c.mapping(
            v,
            &format!("load balancer `{}`", k.name),
            &["group", "upstream"],
        ) else {
            continue;
        };
        let group = required(c, fields, v.pos, "a load balancer", "group")
            .and_then(|n| groups.resolve(c, n, "`group`"));
        let upstream = entry(fields, "upstream").and_then(|n| {
            let u = c.string(n, "`upstream`")?;
            if !lb_names.contains(&u) || u == k.name {
                c.error(
                    n.pos,
                    format!("`upstream` must name another load balancer, found `{u}`"),
                );
                return None;
            }
            Some(u)
        });
        if let Some(group) = group {
            load_balancers.insert(k.name.clone(), LoadBalancer { group, upstream });
        }
    }

    let mut latency = Latency {
        base: Duration::from_millis(5),
        jitter: Duration::from_millis(5),
    };
    if let Some(n) = entry(entries, "latency")
        && let Some(fields) = c.mapping(n, "`latency`", &["base", "jitter"])
    {
        if let Some(b) = entry(fields, "base").and_then(|v| c.duration(v, "latency `base`")) {
            latency.base = b;
        }
        if let Some(j) = entry(fields, "jitter").and_then(|v| c.duration(v, "latency `jitter`")) {
            latency.jitter = j;
        }
    }

    let mut status_pages = BTreeMap::new();
    let page_nodes = named_maps(c, entry(entries, "status_pages"), "status_pages");
    for (k, v) in page_nodes.iter().flatten() {
        if let Some(page) = status_page(c, &k.name, v) {
            status_pages.insert(k.name.clone(), page);
        }
    }
    let mut reference_sites = BTreeMap::new();
    let site_nodes = named_maps(c, entry(entries, "reference_sites"), "reference_sites");
    for (k, v) in site_nodes.into_iter().flatten() {
        let Some(fields) = c.mapping(v, &format!("reference site `{}`", k.name), &["error_rate"])
        else {
            continue;
        };
        let error_rate =
            entry(fields, "error_rate").map_or(Some(0.0), |n| fraction(c, n, "`error_rate`"));
        if let Some(error_rate) = error_rate {
            reference_sites.insert(k.name.clone(), Site { error_rate });
        }
    }

    let refs = Refs {
        lbs: Section {
            valid: &load_balancers,
            written: names(&lb_section),
            kind: "load balancer",
        },
        groups,
        pages: Section {
            valid: &status_pages,
            written: names(&page_nodes),
            kind: "status page",
        },
    };
    let mut faults = Vec::new();
    if let Some(n) = entry(entries, "faults") {
        match &n.value {
            Value::Seq(items) => {
                for item in items {
                    if let Some(f) = fault(c, item, &refs) {
                        faults.push(f);
                    }
                }
            }
            Value::Null => {}
            _ => c.error(
                n.pos,
                format!("`faults` must be a list, found {}", n.kind()),
            ),
        }
    }

    let mut delays = Delays {
        refresh: Duration::from_millis(500),
        reprovision: Duration::from_secs(1),
        scale: Duration::from_secs(1),
    };
    if let Some(n) = entry(entries, "delays")
        && let Some(fields) = c.mapping(n, "`delays`", &["refresh", "reprovision", "scale"])
    {
        for (k, v) in fields {
            let Some(d) = c.duration(v, &format!("delay `{}`", k.name)) else {
                continue;
            };
            match k.name.as_str() {
                "refresh" => delays.refresh = d,
                "reprovision" => delays.reprovision = d,
                "scale" => delays.scale = d,
                _ => {}
            }
        }
    }

    let mut success = Vec::new();
    match entry(entries, "success") {
        None => c.error(
            root.pos,
            "the scenario is missing required key `success` (its success criteria)",
        ),
        Some(n) => match &n.value {
            Value::Seq(items) if !items.is_empty() => {
                for item in items {
                    if let Some(cr) = criterion(c, item, &refs) {
                        success.push(cr);
                    }
                }
            }
            _ => c.error(n.pos, "`success` must be a non-empty list of criteria"),
        },
    }

    Some(Scenario {
        name: name?,
        title: title?,
        description,
        load_balancers,
        node_groups,
        latency,
        status_pages,
        reference_sites,
        faults,
        delays,
        success,
    })
}

fn status_page(c: &mut Checker, key: &str, node: &Node) -> Option<StatusPage> {
    let fields = c.mapping(
        node,
        &format!("status page `{key}`"),
        &[
            "name",
            "indicator",
            "description",
            "components",
            "incidents",
        ],
    )?;
    let name = entry(fields, "name")
        .and_then(|n| c.string(n, "`name`"))
        .unwrap_or_else(|| key.to_string());
    let indicator = entry(fields, "indicator")
        .and_then(|n| c.string(n, "`indicator`"))
        .unwrap_or_else(|| "none".into());
    let description = entry(fields, "description")
        .and_then(|n| c.string(n, "`description`"))
        .unwrap_or_else(|| "All Systems Operational".into());
    let mut components = BTreeMap::new();
    if let Some(n) = entry(fields, "components") {
        match n.as_map() {
            Some(pairs) => {
                for (k, v) in pairs {
                    if let Some(s) = c.string(v, "a component status") {
                        components.insert(k.name.clone(), s);
                    }
                }
            }
            None => c.error(n.pos, "`components` must map component names to statuses"),
        }
    }
    let mut incidents = Vec::new();
    if let Some(n) = entry(fields, "incidents") {
        let items = match &n.value {
            Value::Seq(items) => items.as_slice(),
            Value::Null => &[],
            _ => {
                c.error(
                    n.pos,
                    format!("`incidents` must be a list, found {}", n.kind()),
                );
                &[]
            }
        };
        for item in items {
            let Some(f) = c.mapping(item, "an incident", &["name", "status", "impact"]) else {
                continue;
            };
            let get = |c: &mut Checker, k: &str, d: &str| {
                entry(f, k)
                    .and_then(|v| c.string(v, &format!("incident `{k}`")))
                    .unwrap_or_else(|| d.to_string())
            };
            incidents.push(Incident {
                name: get(c, "name", "Incident"),
                status: get(c, "status", "investigating"),
                impact: get(c, "impact", "minor"),
            });
        }
    }
    Some(StatusPage {
        name,
        indicator,
        description,
        components,
        incidents,
    })
}

fn criterion(c: &mut Checker, node: &Node, refs: &ScenarioRefs) -> Option<Criterion> {
    let (key_name, key_pos, body) = match &node.value {
        Value::Str(s) => (s.clone(), node.pos, None),
        Value::Map(entries) if entries.len() == 1 => (
            entries[0].0.name.clone(),
            entries[0].0.pos,
            Some(&entries[0].1),
        ),
        _ => {
            c.error(
                node.pos,
                format!("a criterion is one of {}", CRITERIA.join(", ")),
            );
            return None;
        }
    };
    if !CRITERIA.contains(&key_name.as_str()) {
        let hint = crate::diagnostic::suggest(&key_name, CRITERIA.iter().copied())
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_else(|| format!(" (known: {})", CRITERIA.join(", ")));
        c.error(key_pos, format!("unknown criterion `{key_name}`{hint}"));
        return None;
    }
    let name_ref = |c: &mut Checker,
                    section: &dyn Fn(&mut Checker, &Node) -> Option<String>,
                    what: &str|
     -> Option<String> {
        let Some(b) = body else {
            c.error(
                node.pos,
                format!("`{key_name}` needs the name of a {what}: `{key_name}: NAME`"),
            );
            return None;
        };
        section(c, b)
    };
    let what = format!("`{key_name}`");
    let lb = |c: &mut Checker, n: &Node| refs.lbs.resolve(c, n, &what);
    let group = |c: &mut Checker, n: &Node| refs.groups.resolve(c, n, &what);
    match key_name.as_str() {
        "lb_5xx_below" => {
            let Some(b) = body else {
                c.error(
                    node.pos,
                    "`lb_5xx_below` needs `{lb: NAME|all, rate: 0.01}`",
                );
                return None;
            };
            let f = c.mapping(b, "`lb_5xx_below`", &["lb", "rate"])?;
            let lb = match entry(f, "lb") {
                None => None,
                Some(n) if n.as_str() == Some("all") => None,
                Some(n) => Some(refs.lbs.resolve(c, n, "`lb`")?),
            };
            let rate = required(c, f, b.pos, "`lb_5xx_below`", "rate")
                .and_then(|n| fraction(c, n, "`rate`"))?;
            Some(Criterion::Lb5xxBelow { lb, rate })
        }
        "no_admin_request" => Some(Criterion::NoAdminRequest),
        "no_reprovision" => Some(Criterion::NoReprovision),
        "no_refresh" => Some(Criterion::NoRefresh),
        "no_scale" => Some(Criterion::NoScale),
        "refreshed" => name_ref(c, &lb, "load balancer").map(Criterion::Refreshed),
        "reprovisioned" => name_ref(c, &group, "node group").map(Criterion::Reprovisioned),
        "scaled" => name_ref(c, &group, "node group").map(Criterion::Scaled),
        "run_outcome" => run_outcome(c, node, body),
        _ => None,
    }
}

/// `run_outcome: [failed, blocked]`: a non-empty list of run outcome names.
fn run_outcome(c: &mut Checker, node: &Node, body: Option<&Node>) -> Option<Criterion> {
    let all = run_outcomes();
    let names: Vec<&str> = all.iter().map(|o| o.as_str()).collect();
    let Some(items) = body
        .and_then(Node::as_seq)
        .filter(|items| !items.is_empty())
    else {
        c.error(
            body.map_or(node.pos, |b| b.pos),
            format!(
                "`run_outcome` needs a non-empty list of run outcomes, e.g. `run_outcome: [failed, blocked]` (known: {})",
                names.join(", ")
            ),
        );
        return None;
    };
    let mut outcomes = Vec::new();
    let mut ok = true;
    for item in items {
        let Some(name) = c.string(item, "a run outcome") else {
            ok = false;
            continue;
        };
        match all.iter().find(|o| o.as_str() == name) {
            Some(outcome) => outcomes.push(*outcome),
            None => {
                let hint = crate::diagnostic::suggest(&name, names.iter().copied())
                    .map(|close| format!(" (did you mean `{close}`?)"))
                    .unwrap_or_else(|| format!(" (known: {})", names.join(", ")));
                c.error(item.pos, format!("unknown run outcome `{name}`{hint}"));
                ok = false;
            }
        }
    }
    ok.then_some(Criterion::RunOutcome(outcomes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_scenarios_are_valid() {
        for (name, _) in BUILT_IN {
            let s = resolve(name).unwrap_or_else(|e| panic!("{name}: {}", e.message));
            assert_eq!(&s.name, name);
            assert!(!s.success.is_empty());
        }
    }

    #[test]
    fn errors_are_located() {
        let text = "name: x\ntitle: y\nnode_groups: {web: {nodes: 2}}\nload_balancers: {front: {group: wbe}}\nfaults:\n  - stale_confg: {lb: front}\nsuccess: [no_refrsh]\n";
        let err = from_text("s.yaml", text).unwrap_err().message;
        assert!(
            err.contains("s.yaml:4:33: no node group named `wbe`"),
            "{err}"
        );
        assert!(
            err.contains(
                "s.yaml:6:5: unknown key `stale_confg` in a fault (did you mean `stale_config`?)"
            ),
            "{err}"
        );
        assert!(
            err.contains("s.yaml:7:11: unknown criterion `no_refrsh` (did you mean `no_refresh`?)"),
            "{err}"
        );
    }

    #[test]
    fn new_faults_and_run_outcome_errors_are_located() {
        let text = "name: x\ntitle: y\nnode_groups: {web: {nodes: 2}}\nload_balancers: {front: {group: web}}\nfaults:\n  - hang: {lb: front, until: refesh}\n  - close: {lb: front, rate: 1.5}\n  - exporter_down: {group: wbe}\nsuccess:\n  - run_outcome: [failde, blocked]\n  - run_outcome: []\n";
        let err = from_text("s.yaml", text).unwrap_err().message;
        for expected in [
            "s.yaml:6:30: unknown `until` value `refesh` (did you mean `refresh`?)",
            "s.yaml:7:30: `rate` must be from 0 to 1, found 1.5",
            "s.yaml:8:28: no node group named `wbe`",
            "s.yaml:10:19: unknown run outcome `failde` (did you mean `failed`?)",
            "s.yaml:11:18: `run_outcome` needs a non-empty list",
        ] {
            assert!(err.contains(expected), "{expected}\n{err}");
        }
    }

    #[test]
    fn new_faults_parse() {
        let text = "name: x\ntitle: y\nnode_groups: {web: {nodes: 2}}\nload_balancers: {front: {group: web}}\nfaults:\n  - hang: {lb: front}\n  - close: {lb: front, rate: 0.3, until: refresh}\n  - exporter_down: {group: web}\nsuccess:\n  - run_outcome: [failed, blocked]\n";
        let s = from_text("s.yaml", text).unwrap();
        assert_eq!(
            s.faults,
            [
                Fault::Hang {
                    lb: "front".into(),
                    until: None
                },
                Fault::Close {
                    lb: "front".into(),
                    rate: 0.3,
                    until: Some(Until::Refresh)
                },
                Fault::ExporterDown {
                    group: "web".into()
                },
            ]
        );
        assert_eq!(
            s.success,
            [Criterion::RunOutcome(vec![
                RunOutcome::Failed,
                RunOutcome::Blocked
            ])]
        );
    }
}
