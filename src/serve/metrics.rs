//! `GET /metrics`: what a Prometheus scraping `runbook serve` sees (OpenMetrics text, which
//! Prometheus reads), written with the `prometheus-client` crate.
//!
//! - `runbook_serve_notifications_total{status}`: each alert of a notification by what it
//!   started (`started`, `deduplicated`, `rate_limited`, `no_route`, `resolved`), and each
//!   notification refused as `invalid` (malformed, 400) or `unauthorized` (401);
//! - `runbook_serve_runs{state}`: the runs this serve started, by state (`running`,
//!   `awaiting_approval`, or the outcome);
//! - `runbook_serve_approval_wait_seconds`: how long each action waited for its approvals or
//!   denial (histogram);
//! - `runbook_serve_notification_failures_total`: webhook deliveries (`notify:`) that failed
//!   after every attempt.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

use super::registry::Registry;

/// The states every scrape lists, also at zero (a series that appears only once it is non-zero
/// makes `rate()` and alerts on it miss the first one).
const STATES: &[&str] = &[
    "running",
    "awaiting_approval",
    "completed",
    "failed",
    "blocked",
    "interrupted",
    "error",
];
/// The statuses every scrape lists.
pub const STATUSES: &[&str] = &[
    "started",
    "deduplicated",
    "rate_limited",
    "no_route",
    "resolved",
    "invalid",
    "unauthorized",
];
/// Approval waits: 1 s to about 4.5 hours.
const WAIT_BUCKETS: [f64; 10] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 16200.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

pub struct Metrics {
    registry: prometheus_client::registry::Registry,
    notifications: Family<StatusLabel, Counter>,
    runs: Family<StateLabel, Gauge>,
    waits: Histogram,
    failures: Counter,
    /// Failures already counted (the notifier counts them process-wide).
    failures_seen: Mutex<u64>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = prometheus_client::registry::Registry::default();
        let notifications = Family::<StatusLabel, Counter>::default();
        let runs = Family::<StateLabel, Gauge>::default();
        let waits = Histogram::new(WAIT_BUCKETS);
        let failures = Counter::default();
        registry.register(
            "runbook_serve_notifications",
            "Alerts received from Alertmanager, by what they started; refused notifications",
            notifications.clone(),
        );
        registry.register(
            "runbook_serve_runs",
            "Runs started by this serve, by state",
            runs.clone(),
        );
        registry.register(
            "runbook_serve_approval_wait_seconds",
            "How long actions waited for approval or denial",
            waits.clone(),
        );
        registry.register(
            "runbook_serve_notification_failures",
            "Webhook notifications that failed after every attempt",
            failures.clone(),
        );
        for status in STATUSES {
            let _ = notifications.get_or_create(&StatusLabel {
                status: status.to_string(),
            });
        }
        Metrics {
            registry,
            notifications,
            runs,
            waits,
            failures,
            failures_seen: Mutex::new(0),
        }
    }
}

impl Metrics {
    pub fn count(&self, status: &str) {
        self.notifications
            .get_or_create(&StatusLabel {
                status: status.to_string(),
            })
            .inc();
    }

    /// The text of one scrape, brought up to date with the registry first.
    pub fn render(&self, registry: &Registry) -> String {
        let counts = registry.counts();
        for state in STATES
            .iter()
            .map(|s| s.to_string())
            .chain(counts.keys().cloned())
        {
            let n = counts.get(&state).copied().unwrap_or(0);
            self.runs
                .get_or_create(&StateLabel { state })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        for wait in registry.take_waits() {
            self.waits.observe(wait);
        }
        let total = crate::notify::failures();
        let mut seen = self.failures_seen.lock().unwrap_or_else(|e| e.into_inner());
        if total > *seen {
            self.failures.inc_by(total - *seen);
            *seen = total;
        }
        drop(seen);
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}
