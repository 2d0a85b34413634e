//! A scenario's faults: what is broken, how each is written, and how each is checked (every
//! problem located, with the closest known name).

use std::time::Duration;

use super::scenario::{ScenarioRefs, entry, fraction, required};
use crate::runbook::parse::Checker;
use crate::yaml::{Key, Node, Value};

/// Something broken.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// The load balancer answers 502 for a share of requests until its config is refreshed.
    StaleConfig { lb: String, error_rate: f64 },
    /// The group is over its CPU budget: latency and 502s grow until it is scaled out.
    CpuSaturation {
        group: String,
        cpu: f64,
        error_rate: f64,
        latency: Duration,
    },
    /// Some nodes of the group answer 502 until the group is reprovisioned.
    BadNodes { group: String, nodes: u32 },
    /// The provider is down: every load balancer fails a share of requests and the status
    /// page says so, until the outage clears by itself.
    ProviderOutage {
        page: String,
        error_rate: f64,
        clears_after: Duration,
    },
    /// The load balancer accepts connections and never answers: forever, or until `until`.
    Hang { lb: String, until: Option<Until> },
    /// The load balancer closes a share of connections without any HTTP answer: forever, or
    /// until `until`. Load balancers whose requests pass through it close them too.
    Close {
        lb: String,
        rate: f64,
        until: Option<Until>,
    },
    /// The node exporters of the group are down: its node metrics vanish from Prometheus and
    /// its `up` is 0. Nothing clears it.
    ExporterDown { group: String },
}

/// What clears a load balancer fault that does not clear by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    /// A refresh of that load balancer's configuration (after the scenario's refresh delay).
    Refresh,
}

impl Until {
    pub fn as_str(self) -> &'static str {
        match self {
            Until::Refresh => "refresh",
        }
    }
}

pub(crate) const FAULTS: &[&str] = &[
    "stale_config",
    "cpu_saturation",
    "bad_nodes",
    "provider_outage",
    "hang",
    "close",
    "exporter_down",
];
/// The values `until` takes.
pub(crate) const UNTIL: &[&str] = &["refresh"];

/// Parses one item of `faults:`.
pub(super) fn fault(c: &mut Checker, node: &Node, refs: &ScenarioRefs) -> Option<Fault> {
    let entries = c.mapping(node, "a fault", FAULTS)?;
    let [(key, body)] = entries else {
        c.error(
            node.pos,
            format!(
                "a fault is one of {}, written as `- KIND: {{...}}`",
                FAULTS.join(", ")
            ),
        );
        return None;
    };
    let lb_ref = |c: &mut Checker, fields: &[(Key, Node)]| {
        let n = required(c, fields, body.pos, &format!("`{}`", key.name), "lb")?;
        refs.lbs.resolve(c, n, "`lb`")
    };
    let group_ref = |c: &mut Checker, fields: &[(Key, Node)]| {
        let n = required(c, fields, body.pos, &format!("`{}`", key.name), "group")?;
        refs.groups.resolve(c, n, "`group`")
    };
    match key.name.as_str() {
        "stale_config" => {
            let f = c.mapping(body, "`stale_config`", &["lb", "error_rate"])?;
            let lb = lb_ref(c, f);
            let rate = required(c, f, body.pos, "`stale_config`", "error_rate")
                .and_then(|n| fraction(c, n, "`error_rate`"));
            Some(Fault::StaleConfig {
                lb: lb?,
                error_rate: rate?,
            })
        }
        "cpu_saturation" => {
            let f = c.mapping(
                body,
                "`cpu_saturation`",
                &["group", "cpu", "error_rate", "latency"],
            )?;
            let group = group_ref(c, f);
            let cpu = required(c, f, body.pos, "`cpu_saturation`", "cpu")
                .and_then(|n| fraction(c, n, "`cpu`"));
            let rate =
                entry(f, "error_rate").map_or(Some(0.25), |n| fraction(c, n, "`error_rate`"));
            let latency = entry(f, "latency").map_or(Some(Duration::from_millis(300)), |n| {
                c.duration(n, "`latency`")
            });
            Some(Fault::CpuSaturation {
                group: group?,
                cpu: cpu?,
                error_rate: rate?,
                latency: latency?,
            })
        }
        "bad_nodes" => {
            let f = c.mapping(body, "`bad_nodes`", &["group", "nodes"])?;
            let group = group_ref(c, f)?;
            let max = refs.groups.valid.get(&group).map_or(1, |g| g.nodes);
            let nodes = required(c, f, body.pos, "`bad_nodes`", "nodes")
                .and_then(|n| c.count(n, "`nodes`", 1, i64::from(max)));
            Some(Fault::BadNodes {
                group,
                nodes: nodes?,
            })
        }
        "provider_outage" => {
            let f = c.mapping(
                body,
                "`provider_outage`",
                &["page", "error_rate", "clears_after"],
            )?;
            let page = required(c, f, body.pos, "`provider_outage`", "page")
                .and_then(|n| refs.pages.resolve(c, n, "`page`"));
            let rate = entry(f, "error_rate").map_or(Some(0.4), |n| fraction(c, n, "`error_rate`"));
            let clears = required(c, f, body.pos, "`provider_outage`", "clears_after")
                .and_then(|n| c.duration(n, "`clears_after`"));
            Some(Fault::ProviderOutage {
                page: page?,
                error_rate: rate?,
                clears_after: clears?,
            })
        }
        "hang" => {
            let f = c.mapping(body, "`hang`", &["lb", "until"])?;
            let lb = lb_ref(c, f);
            let until = until(c, f)?;
            Some(Fault::Hang { lb: lb?, until })
        }
        "close" => {
            let f = c.mapping(body, "`close`", &["lb", "rate", "until"])?;
            let lb = lb_ref(c, f);
            let rate =
                required(c, f, body.pos, "`close`", "rate").and_then(|n| fraction(c, n, "`rate`"));
            let until = until(c, f)?;
            Some(Fault::Close {
                lb: lb?,
                rate: rate?,
                until,
            })
        }
        "exporter_down" => {
            let f = c.mapping(body, "`exporter_down`", &["group"])?;
            Some(Fault::ExporterDown {
                group: group_ref(c, f)?,
            })
        }
        _ => None,
    }
}

/// The optional `until` of a load balancer fault: `Some(None)` when absent (the fault never
/// clears), `None` after reporting a wrong value.
fn until(c: &mut Checker, fields: &[(Key, Node)]) -> Option<Option<Until>> {
    let Some(n) = entry(fields, "until") else {
        return Some(None);
    };
    let Value::Str(s) = &n.value else {
        c.error(
            n.pos,
            format!(
                "`until` must be one of {}, found {}",
                UNTIL.join(", "),
                n.kind()
            ),
        );
        return None;
    };
    match s.as_str() {
        "refresh" => Some(Some(Until::Refresh)),
        _ => {
            let hint = crate::diagnostic::suggest(s, UNTIL.iter().copied())
                .map(|close| format!(" (did you mean `{close}`?)"))
                .unwrap_or_else(|| format!(" (known: {})", UNTIL.join(", ")));
            c.error(n.pos, format!("unknown `until` value `{s}`{hint}"));
            None
        }
    }
}
