//! Starting the run an alert asks for: the same run `runbook run` makes (same engine, same
//! timeline, same approvals decider), non-interactive, with the route's vars, the alert as
//! `alert`, and the serve's shared interrupts, in the background.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;

use super::payload::Alert;
use super::registry::{Admission, NewRun, Registry};
use super::routes::{Mode, Route};
use crate::cli::RunArgs;
use crate::cli::run::{Invocation, RunbookSource, Served, run_invocation};

/// What the serve shares with every run it starts.
pub struct Launcher {
    pub registry: Arc<Registry>,
    pub timeline_dir: PathBuf,
    /// The serve's interrupts (SIGTERM, SIGINT): every run stops on them.
    pub interrupts: watch::Receiver<u32>,
    /// Where runs execute, apart from the runtime that answers HTTP: a run's timeline writes
    /// sync to disk on its worker, which must not delay Alertmanager's next notification.
    pub runs: tokio::runtime::Handle,
    /// `http://ADDR` or `--external-url`, for approval links.
    pub base_url: String,
}

/// What happened to one firing alert.
pub enum Launched {
    Started { run_id: String, timeline: PathBuf },
    Deduplicated { run_id: String, timeline: String },
    RateLimited,
}

impl Launcher {
    /// Starts a run of `route` for `alert`, unless deduplicated or rate-limited.
    pub fn launch(&self, index: usize, route: &Route, runbook: &str, alert: &Alert) -> Launched {
        let run_id = crate::cli::run::new_run_id();
        let timeline = self.timeline_dir.join(format!("{runbook}-{run_id}.jsonl"));
        let admission = self.registry.admit(NewRun {
            run_id: run_id.clone(),
            runbook: runbook.to_string(),
            timeline: timeline.clone(),
            fingerprint: alert.fingerprint.clone(),
            alertname: alert.name().to_string(),
            route: index,
            route_name: route.name.clone(),
            max_runs_per_hour: route.max_runs_per_hour,
        });
        match admission {
            Admission::Started => {}
            Admission::Deduplicated(existing) => {
                return Launched::Deduplicated {
                    run_id: existing.run_id,
                    timeline: existing.timeline,
                };
            }
            Admission::RateLimited => return Launched::RateLimited,
        }
        let invocation = Invocation {
            source: RunbookSource::File(route.runbook.clone()),
            args: run_args(route, &timeline),
            extra_vars: route.vars.clone(),
            extra_secrets: serde_json::Map::new(),
            quiet: true,
            confinement: None,
            served: Some(Served {
                run_id: run_id.clone(),
                alert: alert.value.clone(),
                initiator: initiator(alert),
                notify: route.notify.clone(),
                approve_url: (route.mode == Mode::Diagnose)
                    .then(|| format!("{}/v1/runs/{run_id}/approve", self.base_url)),
            }),
            interrupts: Some(self.interrupts.clone()),
            observers: vec![self.registry.observer(&run_id)],
        };
        let registry = Arc::clone(&self.registry);
        let id = run_id.clone();
        self.runs.spawn(async move {
            let finished = run_invocation(invocation).await;
            registry.ended(&id);
            let state = registry.get(&id).map(|r| r.state).unwrap_or_default();
            crate::cli::say(format_args!(
                "runbook serve: run {id} ended {state} (exit {}) — timeline {}",
                finished.exit.code(),
                finished
                    .timeline
                    .as_deref()
                    .map(Path::display)
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "not written".into())
            ));
        });
        Launched::Started { run_id, timeline }
    }
}

/// The command line `runbook run` would have for this route: non-interactive, actions waiting
/// for approvals (diagnose) or allowed (auto).
fn run_args(route: &Route, timeline: &Path) -> RunArgs {
    let diagnose = route.mode == Mode::Diagnose;
    RunArgs {
        file: route.runbook.clone(),
        var: Vec::new(),
        vars: route.vars_files.clone(),
        non_interactive: true,
        yes: !diagnose,
        dry_run: false,
        timeline: Some(timeline.to_path_buf()),
        answers: None,
        resume: None,
        force: false,
        step: false,
        junit: None,
        approvals: diagnose.then_some(route.approvals),
        approval_timeout: route.approval_timeout,
        notify: Vec::new(),
        notify_format: crate::notify::Format::Json,
    }
}

/// Who started a served run: the alert, named so that no person's name can equal it (their
/// approvals would not count).
pub fn initiator(alert: &Alert) -> String {
    let name: String = alert.name().chars().take(200).collect();
    crate::escape::controls(&format!("alertmanager:{name}:{}", alert.fingerprint)).into_owned()
}
