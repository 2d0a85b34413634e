//! The runs one `runbook serve` started: what `GET /v1/runs` lists, what deduplicates a repeated
//! alert and what rate-limits a route. Admission happens under one lock, so two notifications of
//! the same alert arriving together start one run, and a route's hourly budget is never
//! overrun by a burst.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::engine::Observer;
use crate::timeline::{Event, Record};

/// How far back `max_runs_per_hour` looks.
const HOUR: Duration = Duration::from_secs(3600);
/// Finished runs kept for `GET /v1/runs` (and a `resolved` note); older ones are forgotten,
/// so a serve that runs for months holds bounded memory. Their timelines stay on disk.
const KEEP_FINISHED: usize = 10_000;

/// Where a run is, as `GET /v1/runs` says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    Running,
    AwaitingApproval,
    /// The run's outcome (`completed`, `failed`, `blocked`, `interrupted`), or `error` when it
    /// could not start.
    Ended(String),
}

impl State {
    pub fn as_str(&self) -> &str {
        match self {
            State::Running => "running",
            State::AwaitingApproval => "awaiting_approval",
            State::Ended(outcome) => outcome,
        }
    }
}

/// One run, as listed.
#[derive(Clone, Debug, Serialize)]
pub struct RunView {
    pub run_id: String,
    pub runbook: String,
    pub timeline: String,
    pub state: String,
    /// RFC 3339, UTC.
    pub started: String,
    pub fingerprint: String,
    pub alertname: String,
    pub route: String,
}

struct Run {
    view: RunView,
    state: State,
    route: usize,
    /// Since when an action has waited for approval.
    awaiting_since: Option<Instant>,
}

/// What [`Registry::admit`] decided about a firing alert.
pub enum Admission {
    /// A run was registered under this id; the caller starts it.
    Started,
    /// A run of the same route and fingerprint is still going: this one.
    Deduplicated(RunView),
    /// The route started `max_runs_per_hour` runs in the last hour.
    RateLimited,
}

#[derive(Default)]
struct Inner {
    runs: HashMap<String, Run>,
    /// Run ids in start order.
    order: VecDeque<String>,
    /// The run of each (route, fingerprint) that is not finished.
    active: HashMap<(usize, String), String>,
    /// The latest run of each (route, fingerprint), finished or not: where `resolved` goes.
    latest: HashMap<(usize, String), String>,
    /// When each route started its runs of the last hour.
    starts: HashMap<usize, VecDeque<Instant>>,
}

/// Shared by the HTTP handlers and the runs' observers.
#[derive(Default)]
pub struct Registry {
    inner: Mutex<Inner>,
    /// Seconds each approved or denied action waited, for `/metrics`.
    waits: Mutex<Vec<f64>>,
}

/// A new run to register.
pub struct NewRun {
    pub run_id: String,
    pub runbook: String,
    pub timeline: PathBuf,
    pub fingerprint: String,
    pub alertname: String,
    pub route: usize,
    pub route_name: String,
    pub max_runs_per_hour: Option<u32>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers `run` unless a run of the same route and alert is still going or the route's
    /// hourly budget is spent.
    pub fn admit(&self, run: NewRun) -> Admission {
        let mut inner = self.lock();
        let key = (run.route, run.fingerprint.clone());
        if let Some(id) = inner.active.get(&key)
            && let Some(existing) = inner.runs.get(id)
        {
            return Admission::Deduplicated(existing.listed());
        }
        let now = Instant::now();
        let starts = inner.starts.entry(run.route).or_default();
        while starts
            .front()
            .is_some_and(|t| now.duration_since(*t) >= HOUR)
        {
            starts.pop_front();
        }
        if let Some(max) = run.max_runs_per_hour
            && starts.len() >= max as usize
        {
            return Admission::RateLimited;
        }
        starts.push_back(now);
        let view = RunView {
            run_id: run.run_id.clone(),
            runbook: run.runbook,
            timeline: run.timeline.display().to_string(),
            state: State::Running.as_str().into(),
            started: format!("{:.3}", jiff::Timestamp::now()),
            fingerprint: run.fingerprint,
            alertname: run.alertname,
            route: run.route_name,
        };
        inner.active.insert(key.clone(), run.run_id.clone());
        inner.latest.insert(key, run.run_id.clone());
        inner.order.push_back(run.run_id.clone());
        inner.runs.insert(
            run.run_id,
            Run {
                view,
                state: State::Running,
                route: run.route,
                awaiting_since: None,
            },
        );
        forget_old(&mut inner);
        Admission::Started
    }

    /// The latest run of this route and alert (for a `resolved` notification).
    pub fn latest(&self, route: usize, fingerprint: &str) -> Option<RunView> {
        let inner = self.lock();
        let id = inner.latest.get(&(route, fingerprint.to_string()))?;
        inner.runs.get(id).map(Run::listed)
    }

    pub fn get(&self, run_id: &str) -> Option<RunView> {
        self.lock().runs.get(run_id).map(Run::listed)
    }

    /// Every run, oldest first.
    pub fn list(&self) -> Vec<RunView> {
        let inner = self.lock();
        inner
            .order
            .iter()
            .filter_map(|id| inner.runs.get(id))
            .map(Run::listed)
            .collect()
    }

    /// How many runs are in each state.
    pub fn counts(&self) -> HashMap<String, u64> {
        let mut counts = HashMap::new();
        for run in self.lock().runs.values() {
            *counts.entry(run.state.as_str().to_string()).or_insert(0) += 1;
        }
        counts
    }

    /// Runs not ended yet.
    pub fn unfinished(&self) -> usize {
        self.lock()
            .runs
            .values()
            .filter(|r| !matches!(r.state, State::Ended(_)))
            .count()
    }

    /// The waits recorded since the last call.
    pub fn take_waits(&self) -> Vec<f64> {
        std::mem::take(&mut *self.waits.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn update(&self, run_id: &str, record: &Record) {
        let mut inner = self.lock();
        let Some(run) = inner.runs.get_mut(run_id) else {
            return;
        };
        let mut waited = None;
        match &record.event {
            Event::ApprovalRequested { .. } => {
                run.state = State::AwaitingApproval;
                run.awaiting_since = Some(Instant::now());
            }
            Event::StepStarted { .. } | Event::StepFinished { .. } => {
                if let Some(since) = run.awaiting_since.take() {
                    waited = Some(since.elapsed().as_secs_f64());
                }
                if !matches!(run.state, State::Ended(_)) {
                    run.state = State::Running;
                }
            }
            Event::RunFinished { outcome, .. } => {
                run.state = State::Ended(outcome.as_str().to_string());
                let key = (run.route, run.view.fingerprint.clone());
                if inner.active.get(&key).is_some_and(|id| id == run_id) {
                    inner.active.remove(&key);
                }
            }
            _ => {}
        }
        drop(inner);
        if let Some(seconds) = waited {
            self.waits
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(seconds);
        }
    }

    /// The run's task returned: a run that never wrote `run_finished` (it could not start)
    /// ends as `error`, and no longer holds its alert.
    pub fn ended(&self, run_id: &str) {
        let mut inner = self.lock();
        let Some(run) = inner.runs.get_mut(run_id) else {
            return;
        };
        if !matches!(run.state, State::Ended(_)) {
            run.state = State::Ended("error".into());
        }
        let key = (run.route, run.view.fingerprint.clone());
        if inner.active.get(&key).is_some_and(|id| id == run_id) {
            inner.active.remove(&key);
        }
    }

    /// The observer that keeps a run's state as its records are written.
    pub fn observer(self: &Arc<Self>, run_id: &str) -> Box<dyn Observer> {
        Box::new(StateObserver {
            registry: Arc::clone(self),
            run_id: run_id.to_string(),
        })
    }
}

impl Run {
    fn listed(&self) -> RunView {
        RunView {
            state: self.state.as_str().to_string(),
            ..self.view.clone()
        }
    }
}

/// Drops the oldest finished runs past [`KEEP_FINISHED`].
fn forget_old(inner: &mut Inner) {
    while inner.order.len() > KEEP_FINISHED {
        let Some(position) = inner.order.iter().position(|id| {
            inner
                .runs
                .get(id)
                .is_none_or(|r| matches!(r.state, State::Ended(_)))
        }) else {
            return;
        };
        if let Some(id) = inner.order.remove(position)
            && let Some(run) = inner.runs.remove(&id)
        {
            let key = (run.route, run.view.fingerprint);
            if inner.latest.get(&key).is_some_and(|latest| *latest == id) {
                inner.latest.remove(&key);
            }
        }
    }
}

struct StateObserver {
    registry: Arc<Registry>,
    run_id: String,
}

impl Observer for StateObserver {
    fn on_record(&mut self, record: &Record) {
        self.registry.update(&self.run_id, record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(run_id: &str, fingerprint: &str, max: Option<u32>) -> NewRun {
        NewRun {
            run_id: run_id.into(),
            runbook: "lb-502".into(),
            timeline: PathBuf::from(format!("timelines/{run_id}.jsonl")),
            fingerprint: fingerprint.into(),
            alertname: "LoadBalancer502".into(),
            route: 0,
            route_name: "lb-502".into(),
            max_runs_per_hour: max,
        }
    }

    #[test]
    fn a_repeated_alert_is_deduplicated_while_its_run_is_active() {
        let registry = Registry::default();
        assert!(matches!(
            registry.admit(new("a", "fp1", None)),
            Admission::Started
        ));
        match registry.admit(new("b", "fp1", None)) {
            Admission::Deduplicated(view) => assert_eq!(view.run_id, "a"),
            _ => panic!("not deduplicated"),
        }
        assert!(matches!(
            registry.admit(new("c", "fp2", None)),
            Admission::Started
        ));
        registry.ended("a");
        assert_eq!(registry.get("a").unwrap().state, "error");
        assert!(matches!(
            registry.admit(new("d", "fp1", None)),
            Admission::Started
        ));
        assert_eq!(registry.latest(0, "fp1").unwrap().run_id, "d");
    }

    #[test]
    fn a_route_starts_at_most_its_hourly_budget() {
        let registry = Registry::default();
        for (i, fp) in ["1", "2"].iter().enumerate() {
            assert!(matches!(
                registry.admit(new(&i.to_string(), fp, Some(2))),
                Admission::Started
            ));
        }
        assert!(matches!(
            registry.admit(new("x", "3", Some(2))),
            Admission::RateLimited
        ));
        assert!(registry.get("x").is_none());
        assert_eq!(registry.list().len(), 2);
    }
}
