//! The simulated production: load balancers, node groups, status pages and reference sites,
//! the faults that break them, and the remediations that fix them after a delay.
//!
//! Failures are deterministic: a component failing a share `r` of its requests fails request
//! `k` exactly when `floor((k+1)·r) > floor(k·r)`, so any window of requests sees the rate the
//! scenario states, and drills give the same verdict on every machine.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use super::promql::Sample;
use super::scenario::{Fault, Scenario, Until};

/// CPU at which a node group starts failing requests.
const SATURATED_CPU: f64 = 0.8;

/// A remediation waiting to take effect.
#[derive(Clone, Debug)]
enum Effect {
    Refresh(String),
    Reprovision(String),
    Scale(String, u32),
}

#[derive(Clone, Debug)]
struct Pending {
    due: Instant,
    effect: Effect,
}

#[derive(Debug)]
struct LbState {
    group: String,
    upstream: Option<String>,
    stale_rate: f64,
    hang: bool,
    /// Whether a refresh ends the hang (`until: refresh`); otherwise it never ends.
    hang_until_refresh: bool,
    /// The share of requests whose connection is closed without an answer.
    close_rate: f64,
    close_until_refresh: bool,
    /// Requests to this LB while it closes a share: drives the deterministic close pattern,
    /// apart from the 502 pattern so each fault keeps its own exact rate.
    close_counter: u64,
    /// Requests that were not sent to a bad node: drives the deterministic failure pattern.
    pattern_counter: u64,
    requests: u64,
    responses_5xx: u64,
    closed: u64,
}

#[derive(Debug)]
struct GroupState {
    /// Per node: is it broken?
    bad: Vec<bool>,
    /// CPU-seconds of work: CPU per node times nodes, which scaling spreads thinner.
    load: f64,
    saturation: Option<(f64, Duration, f64)>,
    round_robin: u64,
    generation: u32,
    /// The node exporters are down: no node metrics, `up` 0.
    exporter_down: bool,
}

impl GroupState {
    fn cpu(&self) -> f64 {
        (self.load / self.bad.len().max(1) as f64).min(1.0)
    }

    /// The share of requests the group fails because it is out of CPU.
    fn saturation_rate(&self) -> f64 {
        match self.saturation {
            Some((rate, _, _)) if self.cpu() >= SATURATED_CPU => rate,
            _ => 0.0,
        }
    }

    /// Extra latency from CPU pressure: none below 50%, the full amount at the fault's CPU.
    fn extra_latency(&self) -> Duration {
        match self.saturation {
            Some((_, latency, fault_cpu)) if fault_cpu > 0.5 => {
                let f = ((self.cpu() - 0.5) / (fault_cpu - 0.5)).clamp(0.0, 1.0);
                latency.mul_f64(f)
            }
            _ => Duration::ZERO,
        }
    }

    fn bad_share(&self) -> f64 {
        self.bad.iter().filter(|b| **b).count() as f64 / self.bad.len().max(1) as f64
    }
}

/// One request the simulator received.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LoggedRequest {
    pub at_ms: u64,
    pub method: String,
    pub path: String,
}

/// What a remediation request did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AdminCall {
    pub at_ms: u64,
    pub kind: String,
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<u32>,
}

/// How a load balancer answers one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LbAnswer {
    /// Accept and never answer (until the hang clears: see [`World::hangs`]).
    Hang,
    /// Close the connection without any HTTP answer.
    Close,
    Respond {
        status: u16,
        latency: Duration,
    },
}

/// The whole simulated environment.
pub struct World {
    pub scenario: Scenario,
    started: Instant,
    lbs: BTreeMap<String, LbState>,
    groups: BTreeMap<String, GroupState>,
    provider: Option<(String, f64, Instant)>,
    sites: BTreeMap<String, (f64, u64)>,
    pending: Vec<Pending>,
    pub log: super::request_log::RequestLog,
    pub admin_calls: Vec<AdminCall>,
}

fn pattern_fails(counter: u64, rate: f64) -> bool {
    if rate <= 0.0 {
        return false;
    }
    if rate >= 1.0 {
        return true;
    }
    ((counter + 1) as f64 * rate).floor() > (counter as f64 * rate).floor()
}

/// What ends an active fault in the state JSON: `"refresh"`, `"never"`, or null when inactive.
fn until_name(active: bool, until_refresh: bool) -> Json {
    match (active, until_refresh) {
        (false, _) => Json::Null,
        (true, true) => json!(Until::Refresh.as_str()),
        (true, false) => json!("never"),
    }
}

/// Which status page component a provider outage takes down: load balancing if listed.
fn down_component(components: &BTreeMap<String, String>) -> usize {
    components
        .keys()
        .position(|n| n.to_ascii_lowercase().contains("load balanc"))
        .unwrap_or(0)
}

/// The share failing when independent causes each fail their share.
fn combine(rates: impl IntoIterator<Item = f64>) -> f64 {
    1.0 - rates
        .into_iter()
        .fold(1.0, |ok, r| ok * (1.0 - r.clamp(0.0, 1.0)))
}

impl World {
    pub fn new(scenario: Scenario) -> Self {
        let started = Instant::now();
        let mut groups: BTreeMap<String, GroupState> = scenario
            .node_groups
            .iter()
            .map(|(name, g)| {
                (
                    name.clone(),
                    GroupState {
                        bad: vec![false; g.nodes as usize],
                        load: g.cpu * f64::from(g.nodes),
                        saturation: None,
                        round_robin: 0,
                        generation: 1,
                        exporter_down: false,
                    },
                )
            })
            .collect();
        let mut lbs: BTreeMap<String, LbState> = scenario
            .load_balancers
            .iter()
            .map(|(name, lb)| {
                (
                    name.clone(),
                    LbState {
                        group: lb.group.clone(),
                        upstream: lb.upstream.clone(),
                        stale_rate: 0.0,
                        hang: false,
                        hang_until_refresh: false,
                        close_rate: 0.0,
                        close_until_refresh: false,
                        close_counter: 0,
                        pattern_counter: 0,
                        requests: 0,
                        responses_5xx: 0,
                        closed: 0,
                    },
                )
            })
            .collect();
        let mut provider = None;
        for fault in &scenario.faults {
            match fault {
                Fault::StaleConfig { lb, error_rate } => {
                    if let Some(l) = lbs.get_mut(lb) {
                        l.stale_rate = *error_rate;
                    }
                }
                Fault::Hang { lb, until } => {
                    if let Some(l) = lbs.get_mut(lb) {
                        l.hang = true;
                        l.hang_until_refresh = *until == Some(Until::Refresh);
                    }
                }
                Fault::Close { lb, rate, until } => {
                    if let Some(l) = lbs.get_mut(lb) {
                        l.close_rate = *rate;
                        l.close_until_refresh = *until == Some(Until::Refresh);
                    }
                }
                Fault::ExporterDown { group } => {
                    if let Some(g) = groups.get_mut(group) {
                        g.exporter_down = true;
                    }
                }
                Fault::BadNodes { group, nodes } => {
                    if let Some(g) = groups.get_mut(group) {
                        // Spread the bad nodes out, as real failures rarely pick neighbours.
                        let n = g.bad.len();
                        for i in 0..(*nodes as usize).min(n) {
                            let idx = (i * n / (*nodes as usize).max(1)) % n;
                            g.bad[idx] = true;
                        }
                    }
                }
                Fault::CpuSaturation {
                    group,
                    cpu,
                    error_rate,
                    latency,
                } => {
                    if let Some(g) = groups.get_mut(group) {
                        g.load = cpu * g.bad.len() as f64;
                        g.saturation = Some((*error_rate, *latency, *cpu));
                    }
                }
                Fault::ProviderOutage {
                    page,
                    error_rate,
                    clears_after,
                } => provider = Some((page.clone(), *error_rate, started + *clears_after)),
            }
        }
        let sites = scenario
            .reference_sites
            .iter()
            .map(|(name, s)| (name.clone(), (s.error_rate, 0)))
            .collect();
        World {
            scenario,
            started,
            lbs,
            groups,
            provider,
            sites,
            pending: Vec::new(),
            log: Default::default(),
            admin_calls: Vec::new(),
        }
    }

    pub fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Applies the remediations whose delay has passed.
    pub fn tick(&mut self) {
        let now = Instant::now();
        let (due, waiting): (Vec<Pending>, Vec<Pending>) =
            self.pending.drain(..).partition(|p| p.due <= now);
        self.pending = waiting;
        for p in due {
            match p.effect {
                Effect::Refresh(lb) => {
                    if let Some(l) = self.lbs.get_mut(&lb) {
                        l.stale_rate = 0.0;
                        if l.hang_until_refresh {
                            l.hang = false;
                        }
                        if l.close_until_refresh {
                            l.close_rate = 0.0;
                        }
                    }
                }
                Effect::Reprovision(group) => {
                    if let Some(g) = self.groups.get_mut(&group) {
                        g.bad.iter_mut().for_each(|b| *b = false);
                        g.generation += 1;
                    }
                }
                Effect::Scale(group, nodes) => {
                    if let Some(g) = self.groups.get_mut(&group) {
                        g.bad.resize(nodes as usize, false);
                        g.generation += 1;
                    }
                }
            }
        }
    }

    fn provider_rate(&self) -> f64 {
        match &self.provider {
            Some((_, rate, clears)) if Instant::now() < *clears => *rate,
            _ => 0.0,
        }
    }

    /// The chain of load balancers a request through `lb` passes: itself, then upstreams.
    fn chain(&self, lb: &str) -> Vec<&LbState> {
        let mut out = Vec::new();
        let mut next = Some(lb.to_string());
        while let Some(name) = next {
            let Some(state) = self.lbs.get(&name) else {
                break;
            };
            if out.len() > self.lbs.len() {
                break;
            }
            next = state.upstream.clone();
            out.push(state);
        }
        out
    }

    /// The share of requests through `lb` that fail for reasons other than its own bad nodes.
    fn pattern_rate(&self, lb: &str) -> f64 {
        let chain = self.chain(lb);
        let mut rates = vec![self.provider_rate()];
        for (i, state) in chain.iter().enumerate() {
            rates.push(state.stale_rate);
            if let Some(g) = self.groups.get(&state.group) {
                rates.push(g.saturation_rate());
                if i > 0 {
                    // Upstream bad nodes fail a share of the requests passing through.
                    rates.push(g.bad_share());
                }
            }
        }
        combine(rates)
    }

    /// The share of requests to `lb` that fail right now, as a long sample would measure it:
    /// 502 answers, and requests that get no answer at all (1.0 while it or an upstream hangs;
    /// its own close rate counts as failing).
    pub fn effective_failure_rate(&self, lb: &str) -> f64 {
        let Some(state) = self.lbs.get(lb) else {
            return 0.0;
        };
        if self.hangs_now(lb) {
            return 1.0;
        }
        let own_bad = self
            .groups
            .get(&state.group)
            .map_or(0.0, GroupState::bad_share);
        combine([self.close_rate(lb), own_bad, self.pattern_rate(lb)])
    }

    /// The share of requests to `lb` closed without an answer right now: its own close rate
    /// and its upstreams', since a load balancer in front passes the hang-up on as a layer-4
    /// proxy does (0 while it hangs: then nothing is answered or closed).
    pub fn close_rate(&self, lb: &str) -> f64 {
        if self.hangs_now(lb) {
            return 0.0;
        }
        combine(self.chain(lb).iter().map(|s| s.close_rate))
    }

    /// Whether requests to `lb` hang, as of the last [`World::tick`].
    pub fn hangs_now(&self, lb: &str) -> bool {
        self.chain(lb).iter().any(|s| s.hang)
    }

    /// Whether a request to `lb` hangs right now (applying remediations that are due): a hung
    /// request asks this until the hang clears.
    pub fn hangs(&mut self, lb: &str) -> bool {
        self.tick();
        self.hangs_now(lb)
    }

    pub fn has_lb(&self, lb: &str) -> bool {
        self.lbs.contains_key(lb)
    }

    /// Answers one request to a load balancer.
    pub fn lb_request(&mut self, lb: &str) -> Option<LbAnswer> {
        self.tick();
        if self.hangs_now(lb) {
            self.lbs.get_mut(lb)?.requests += 1;
            return Some(LbAnswer::Hang);
        }
        let close_rate = self.close_rate(lb);
        {
            let state = self.lbs.get_mut(lb)?;
            if close_rate > 0.0 {
                let close = pattern_fails(state.close_counter, close_rate);
                state.close_counter += 1;
                if close {
                    state.requests += 1;
                    state.closed += 1;
                    return Some(LbAnswer::Close);
                }
            }
        }
        let rate = self.pattern_rate(lb);
        let latency_extra: Duration = self
            .chain(lb)
            .iter()
            .filter_map(|s| self.groups.get(&s.group))
            .map(GroupState::extra_latency)
            .sum();
        let base = self.scenario.latency.base;
        let jitter = self.scenario.latency.jitter;
        let state = self.lbs.get_mut(lb)?;
        state.requests += 1;
        let group = self.groups.get_mut(&state.group)?;
        let node = (group.round_robin % group.bad.len().max(1) as u64) as usize;
        group.round_robin += 1;
        let failed = if group.bad.get(node).copied().unwrap_or(false) {
            true
        } else {
            let f = pattern_fails(state.pattern_counter, rate);
            state.pattern_counter += 1;
            f
        };
        let spread = (state.requests.wrapping_mul(37) % 100) as f64 / 100.0;
        let latency = base + jitter.mul_f64(spread) + latency_extra;
        if failed {
            state.responses_5xx += 1;
        }
        Some(LbAnswer::Respond {
            status: if failed { 502 } else { 200 },
            latency,
        })
    }

    /// Answers one request to a reference site: `None` for an unknown site.
    pub fn site_request(&mut self, site: &str) -> Option<u16> {
        let (rate, counter) = self.sites.get_mut(site)?;
        let failed = pattern_fails(*counter, *rate);
        *counter += 1;
        Some(if failed { 502 } else { 200 })
    }

    /// Metrics for the Prometheus API.
    pub fn samples(&mut self) -> Vec<Sample> {
        self.tick();
        let mut out = Vec::new();
        for (name, g) in &self.groups {
            // One scrape target per group, as a node exporter job behind service discovery.
            let mut up = BTreeMap::new();
            up.insert("group".to_string(), name.clone());
            up.insert("job".to_string(), "node".to_string());
            out.push(Sample {
                metric: "up".into(),
                labels: up,
                value: if g.exporter_down { 0.0 } else { 1.0 },
            });
            if g.exporter_down {
                // Nothing scraped, nothing stored: queries about these nodes find no series.
                continue;
            }
            let cpu = g.cpu();
            let errors = g.saturation_rate();
            for (i, bad) in g.bad.iter().enumerate() {
                let mut labels = BTreeMap::new();
                labels.insert("group".to_string(), name.clone());
                labels.insert(
                    "instance".to_string(),
                    format!("{name}-{}-{i}", g.generation),
                );
                // Small per-node spread so a max and an avg differ, as they do in life.
                let node_cpu = (cpu + (i as f64 % 3.0 - 1.0) * 0.01).clamp(0.0, 1.0);
                out.push(Sample {
                    metric: "node_cpu_utilization".into(),
                    labels: labels.clone(),
                    value: (node_cpu * 1000.0).round() / 1000.0,
                });
                out.push(Sample {
                    metric: "node_http_5xx_ratio".into(),
                    labels,
                    value: if *bad { 1.0 } else { errors },
                });
            }
        }
        for name in self.lbs.keys() {
            let mut labels = BTreeMap::new();
            labels.insert("lb".to_string(), name.clone());
            out.push(Sample {
                metric: "lb_http_5xx_ratio".into(),
                labels: labels.clone(),
                value: (self.effective_failure_rate(name) * 10000.0).round() / 10000.0,
            });
            out.push(Sample {
                metric: "lb_requests_total".into(),
                labels,
                value: self.lbs[name].requests as f64,
            });
        }
        out
    }

    /// The Statuspage v2 `summary.json` of a page, or `None` if there is no such page.
    pub fn status_summary(&self, page: &str) -> Option<Json> {
        let cfg = self.scenario.status_pages.get(page)?;
        let outage =
            matches!(&self.provider, Some((p, _, _)) if p == page) && self.provider_rate() > 0.0;
        let (indicator, description, components, incidents) = if outage {
            (
                "major".to_string(),
                "Partial System Outage".to_string(),
                cfg.components
                    .keys()
                    .enumerate()
                    .map(|(i, name)| {
                        (
                            name.clone(),
                            if i == down_component(&cfg.components) {
                                "major_outage"
                            } else {
                                "partial_outage"
                            }
                            .to_string(),
                        )
                    })
                    .collect::<Vec<_>>(),
                vec![json!({
                    "id": "sim-outage",
                    "name": "Elevated error rates and unavailable load balancers",
                    "status": "investigating",
                    "impact": "major",
                })],
            )
        } else {
            (
                cfg.indicator.clone(),
                cfg.description.clone(),
                cfg.components.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                cfg.incidents
                    .iter()
                    .enumerate()
                    .map(|(i, inc)| json!({"id": format!("sim-{i}"), "name": inc.name, "status": inc.status, "impact": inc.impact}))
                    .collect(),
            )
        };
        Some(json!({
            "page": {"id": page, "name": cfg.name, "url": format!("https://status.example/{page}")},
            "status": {"indicator": indicator, "description": description},
            "components": components.iter().enumerate().map(|(i, (name, status))| json!({
                "id": format!("c{i}"), "name": name, "status": status,
            })).collect::<Vec<_>>(),
            "incidents": incidents,
            "scheduled_maintenances": [],
        }))
    }

    /// Schedules a remediation; returns its delay, or why it cannot be done.
    pub fn admin(
        &mut self,
        kind: &str,
        target: &str,
        nodes: Option<u32>,
    ) -> Result<Duration, String> {
        self.tick();
        let delays = self.scenario.delays;
        let (effect, delay) = match kind {
            "refresh" if self.lbs.contains_key(target) => {
                (Effect::Refresh(target.into()), delays.refresh)
            }
            "refresh" => return Err(format!("no load balancer named `{target}`")),
            "reprovision" if self.groups.contains_key(target) => {
                (Effect::Reprovision(target.into()), delays.reprovision)
            }
            "scale" if self.groups.contains_key(target) => match nodes {
                Some(n) if (1..=1000).contains(&n) => {
                    (Effect::Scale(target.into(), n), delays.scale)
                }
                _ => {
                    return Err(
                        "scale needs a JSON body {\"nodes\": N} with N from 1 to 1000".into(),
                    );
                }
            },
            _ => return Err(format!("no node group named `{target}`")),
        };
        self.admin_calls.push(AdminCall {
            at_ms: self.elapsed_ms(),
            kind: kind.into(),
            target: target.into(),
            nodes,
        });
        self.pending.push(Pending {
            due: Instant::now() + delay,
            effect,
        });
        Ok(delay)
    }

    /// Everything, for `GET /admin/state` and drill verdicts.
    pub fn state_json(&mut self) -> Json {
        self.tick();
        let lbs: serde_json::Map<String, Json> = self
            .lbs
            .iter()
            .map(|(name, s)| {
                (
                    name.clone(),
                    json!({
                        "group": s.group,
                        "upstream": s.upstream,
                        "stale_config": s.stale_rate > 0.0,
                        "hang": s.hang,
                        "hang_until": until_name(s.hang, s.hang_until_refresh),
                        "close_rate": s.close_rate,
                        "close_until": until_name(s.close_rate > 0.0, s.close_until_refresh),
                        "requests": s.requests,
                        "responses_5xx": s.responses_5xx,
                        "closed": s.closed,
                        // Failing for any reason: 502s, and requests hung or closed unanswered.
                        "rate_5xx": (self.effective_failure_rate(name) * 10000.0).round() / 10000.0,
                        "rate_closed": (self.close_rate(name) * 10000.0).round() / 10000.0,
                    }),
                )
            })
            .collect();
        let groups: serde_json::Map<String, Json> = self
            .groups
            .iter()
            .map(|(name, g)| {
                (
                    name.clone(),
                    json!({
                        "nodes": g.bad.len(),
                        "bad_nodes": g.bad.iter().filter(|b| **b).count(),
                        "cpu": (g.cpu() * 1000.0).round() / 1000.0,
                        "saturated": g.saturation_rate() > 0.0,
                        "generation": g.generation,
                        "exporter_up": !g.exporter_down,
                    }),
                )
            })
            .collect();
        json!({
            "scenario": self.scenario.name,
            "elapsed_ms": self.elapsed_ms(),
            "load_balancers": lbs,
            "node_groups": groups,
            "provider_outage": self.provider_rate() > 0.0,
            "pending": self.pending.iter().map(|p| format!("{:?}", p.effect)).collect::<Vec<_>>(),
            "admin_calls": self.admin_calls,
        })
    }

    pub fn lb_names(&self) -> Vec<String> {
        self.lbs.keys().cloned().collect()
    }

    /// Whether any remediation is still on its way (applying those that are due).
    pub fn has_pending(&mut self) -> bool {
        self.tick();
        !self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scenario;

    fn rate_of(world: &mut World, lb: &str, n: usize) -> f64 {
        let failed = (0..n)
            .filter(|_| {
                matches!(
                    world.lb_request(lb),
                    Some(LbAnswer::Respond { status: 502, .. })
                )
            })
            .count();
        failed as f64 / n as f64
    }

    #[test]
    fn pattern_gives_exact_rates() {
        let fails = (0..100).filter(|k| pattern_fails(*k, 0.3)).count();
        assert_eq!(fails, 30);
        assert_eq!((0..10).filter(|k| pattern_fails(*k, 0.0)).count(), 0);
    }

    #[test]
    fn classlink_refresh_api_fixes_everything() {
        let mut w = World::new(scenario::resolve("classlink-2020").unwrap());
        assert!((rate_of(&mut w, "api", 100) - 0.3).abs() < 0.02);
        let launchpad = rate_of(&mut w, "launchpad", 100);
        assert!(
            (launchpad - combine([0.3, 0.15])).abs() < 0.02,
            "{launchpad}"
        );
        w.admin("reprovision", "frontend", None).unwrap();
        w.scenario.delays.refresh = Duration::ZERO;
        std::thread::sleep(w.scenario.delays.reprovision + Duration::from_millis(20));
        assert!(
            rate_of(&mut w, "launchpad", 100) > 0.3,
            "reprovisioning does not help"
        );
        w.admin("refresh", "launchpad", None).unwrap();
        std::thread::sleep(Duration::from_millis(10));
        let dip = rate_of(&mut w, "launchpad", 100);
        assert!((dip - 0.3).abs() < 0.02, "a dip to the API's rate: {dip}");
        w.admin("refresh", "api", None).unwrap();
        std::thread::sleep(Duration::from_millis(10));
        assert_eq!(rate_of(&mut w, "launchpad", 100), 0.0);
        assert_eq!(w.effective_failure_rate("api"), 0.0);
    }

    #[test]
    fn scaling_out_clears_saturation() {
        let mut w = World::new(scenario::resolve("cpu-saturation").unwrap());
        assert!(w.effective_failure_rate("api") > 0.2);
        w.scenario.delays.scale = Duration::ZERO;
        w.admin("scale", "api", Some(8)).unwrap();
        w.tick();
        assert_eq!(w.effective_failure_rate("api"), 0.0);
        assert!(w.admin("scale", "api", None).is_err());
    }

    #[test]
    fn close_is_exact_counts_as_failing_and_clears_on_refresh() {
        let mut w = World::new(scenario::resolve("conn-close").unwrap());
        let closed = (0..100)
            .filter(|_| w.lb_request("api") == Some(LbAnswer::Close))
            .count();
        assert_eq!(closed, 30);
        assert!((w.effective_failure_rate("api") - 0.3).abs() < 1e-9);
        // LaunchPad passes the API LB's hang-ups on.
        let closed = (0..100)
            .filter(|_| w.lb_request("launchpad") == Some(LbAnswer::Close))
            .count();
        assert_eq!(closed, 30);
        w.scenario.delays.refresh = Duration::ZERO;
        w.admin("refresh", "api", None).unwrap();
        w.tick();
        assert_eq!(w.effective_failure_rate("api"), 0.0);
        assert_eq!(rate_of(&mut w, "api", 100), 0.0);
    }

    #[test]
    fn hang_until_refresh_clears_upstream_and_downstream() {
        let mut w = World::new(scenario::resolve("lb-hang").unwrap());
        assert_eq!(w.lb_request("api"), Some(LbAnswer::Hang));
        assert_eq!(w.lb_request("launchpad"), Some(LbAnswer::Hang));
        assert_eq!(w.effective_failure_rate("launchpad"), 1.0);
        w.scenario.delays.refresh = Duration::ZERO;
        w.admin("refresh", "launchpad", None).unwrap();
        assert!(
            w.hangs("launchpad"),
            "refreshing the LB in front does not help"
        );
        w.admin("refresh", "api", None).unwrap();
        assert!(!w.hangs("launchpad"));
        assert_eq!(rate_of(&mut w, "launchpad", 20), 0.0);
    }

    #[test]
    fn reprovisioning_fixes_bad_nodes() {
        let mut w = World::new(scenario::resolve("bad-nodes").unwrap());
        assert_eq!(rate_of(&mut w, "launchpad", 100), 0.5);
        w.scenario.delays.reprovision = Duration::ZERO;
        w.admin("reprovision", "frontend", None).unwrap();
        assert_eq!(rate_of(&mut w, "launchpad", 100), 0.0);
    }
}
