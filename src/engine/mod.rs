//! The step engine: runs a validated runbook step by step, asks the decider where a human (or
//! the non-interactive policy) must decide, and emits events. It never touches the terminal.

mod answer_body;
pub mod approvals;
pub mod confine;
pub mod decider;
pub mod judge;
mod jump;
pub mod resolve;
pub mod resume;
pub mod scope;
mod step;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value as Json, json};
use tokio::sync::watch;

pub use approvals::Approvals;
pub use decider::{
    ActionDecision, ActionPrompt, AfterFailure, Annotation, ApprovalRequest, Decider,
    FailurePrompt, ManualDecision, ManualPrompt, NonInteractive, StepGate, StepIntro,
};
pub use jump::not_run_message;

use crate::exec::Progress;
use crate::redact::Redactor;
use crate::runbook::{MAX_STEP_ENTRIES, OnFail, Runbook, Step};
use crate::timeline::{Event, Outcome, Record, RunOutcome, TimelineWriter};
use scope::{Scope, StepResults};

/// Everything a run needs besides the decider and the timeline.
pub struct RunSetup {
    pub runbook: Arc<Runbook>,
    /// Vars in effect: runbook defaults, then `--vars`, then `--var`.
    pub vars: Map<String, Json>,
    /// Declared secrets by name, with their values.
    pub secrets: Map<String, Json>,
    pub dry_run: bool,
    /// Where steps may reach (`runbook drill`: only the simulator); `None`: anywhere.
    pub confinement: Option<confine::Confinement>,
    /// The alert that started the run (`runbook serve`), as expressions see `alert`.
    pub alert: Option<Json>,
}

/// Which list a step belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Steps,
    Finally,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Steps => "steps",
            Phase::Finally => "finally",
        }
    }
}

/// Where a run starts: the beginning, or where a resumed run left off.
#[derive(Clone, Debug, PartialEq)]
pub struct StartPoint {
    pub phase: Phase,
    pub index: usize,
    /// An action that started but never finished before the run stopped.
    pub interrupted_action: Option<String>,
}

impl StartPoint {
    pub fn beginning() -> Self {
        StartPoint {
            phase: Phase::Steps,
            index: 0,
            interrupted_action: None,
        }
    }
}

/// Receives every event after it is in the timeline: written and synced, except a check's
/// events, which are written and synced within 20 ms by the writer's group commit (see
/// `timeline::writer`). A console line may thus show a check result a crash of the machine
/// loses; the check runs again on resume.
pub trait Observer: Send + Sync {
    fn on_record(&mut self, record: &Record);
}

/// The results of earlier steps, as expressions see them (`steps.<id>`), and how often each
/// step was entered: restored from the timeline on resume.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub steps: Arc<StepResults>,
    pub entries: HashMap<String, u32>,
}

impl History {
    /// Records a step's result for the steps after it (copied only while a context built
    /// before still holds the old snapshot, which is never the case between steps).
    /// `answers` names the fields the operator answered: trusted, unlike the rest.
    pub fn record(&mut self, step: &str, result: &Map<String, Json>, answers: &[&str]) {
        Arc::make_mut(&mut self.steps).insert(step, result, answers);
    }
}

/// The fields of a step that hold the operator's answers (a manual step's `ask`).
pub(crate) fn answer_names(step: Option<&crate::runbook::Step>) -> Vec<&str> {
    match step.map(|s| &s.executor) {
        Some(crate::runbook::Executor::Manual(m)) => {
            m.ask.iter().map(|a| a.name.as_str()).collect()
        }
        _ => Vec::new(),
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    pub outcome: RunOutcome,
    pub reason: Option<String>,
}

/// What a finished step tells the run loop.
enum Flow {
    Next,
    /// Run the same step again (the person chose retry).
    Retry,
    Goto(String),
    End(RunOutcome, String),
}

pub struct Engine {
    setup: RunSetup,
    decider: Arc<dyn Decider>,
    writer: TimelineWriter,
    observers: Vec<Box<dyn Observer>>,
    redactor: Arc<Redactor>,
    interrupts: watch::Receiver<u32>,
    /// Interrupts already acted on.
    interrupts_seen: u32,
    history: History,
    /// `vars` and `secrets` as expressions see them, converted once.
    vars: minijinja::Value,
    secrets: minijinja::Value,
    /// `alert`, converted once; read from a system, so untrusted wherever it lands.
    alert: Option<minijinja::Value>,
    counts: HashMap<&'static str, u64>,
    progress: Progress,
    started: Instant,
    /// A timeline write that failed inside a decision; the run stops on it.
    emit_error: Option<anyhow::Error>,
    /// The first timeline write that failed (a full disk): the main steps stop, `finally` is
    /// still attempted, and the run ends `failed` with this reason.
    timeline_failed: Option<String>,
    /// In `finally`, a failed write does not stop the step: cleanup matters more than its
    /// record, and the console still shows what happened.
    best_effort: bool,
}

impl Engine {
    pub fn new(
        setup: RunSetup,
        decider: Arc<dyn Decider>,
        writer: TimelineWriter,
        redactor: Arc<Redactor>,
        interrupts: watch::Receiver<u32>,
    ) -> Self {
        Engine {
            // Written by the author and the operator: trusted wherever they land.
            vars: crate::expr::trusted_map(&setup.vars),
            secrets: crate::expr::trusted_map(&setup.secrets),
            alert: setup.alert.as_ref().map(crate::expr::value_of),
            setup,
            decider,
            writer,
            observers: Vec::new(),
            redactor,
            interrupts,
            interrupts_seen: 0,
            history: History::default(),
            counts: HashMap::new(),
            progress: crate::exec::no_progress(),
            started: Instant::now(),
            emit_error: None,
            timeline_failed: None,
            best_effort: false,
        }
    }

    pub fn observe(&mut self, observer: Box<dyn Observer>) {
        self.observers.push(observer);
    }

    pub fn with_history(mut self, history: History) -> Self {
        self.history = history;
        self
    }

    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }

    /// Writes an event to the timeline (durably, or for a check's events within 20 ms), then
    /// shows it to the observers. An event
    /// that cannot be written is still shown; in `finally` the run then goes on without its
    /// record (see `best_effort`).
    pub fn emit(&mut self, event: Event) -> anyhow::Result<Record> {
        match self.writer.write(event) {
            Ok(record) => {
                self.show(&record);
                Ok(record)
            }
            Err(unwritten) => {
                let message = format!(
                    "cannot write the timeline {}: {}",
                    self.writer.path().display(),
                    crate::io_message(&unwritten.error)
                );
                self.timeline_failed.get_or_insert_with(|| message.clone());
                if let Some(record) = unwritten.record {
                    self.show(&record);
                    if self.best_effort {
                        return Ok(*record);
                    }
                }
                Err(anyhow::anyhow!(message))
            }
        }
    }

    fn show(&mut self, record: &Record) {
        for observer in &mut self.observers {
            observer.on_record(record);
        }
    }

    /// The context expressions see: vars, secrets and the results of earlier steps.
    fn scope(&self) -> Scope {
        Scope::new(&self.vars, &self.secrets, &self.history.steps).with_alert(self.alert.as_ref())
    }

    fn interrupted(&self) -> bool {
        *self.interrupts.borrow() > self.interrupts_seen
    }

    /// Runs from `start` to the end, then `finally`, and records `run_finished`.
    pub async fn run(mut self, start: StartPoint) -> anyhow::Result<RunResult> {
        let runbook = Arc::clone(&self.setup.runbook);
        let mut result = RunResult {
            outcome: RunOutcome::Completed,
            reason: None,
        };
        if start.phase == Phase::Steps {
            let end = match self
                .run_list(
                    &runbook.steps,
                    Phase::Steps,
                    start.index,
                    start.interrupted_action.as_deref(),
                )
                .await
            {
                Ok(end) => end,
                // The timeline cannot be written: no further step may start without its
                // record, but `finally` is still attempted.
                Err(e) if self.timeline_failed.is_some() => {
                    Some((RunOutcome::Failed, format!("{e:#}")))
                }
                Err(e) => return Err(e),
            };
            if let Some((outcome, reason)) = end {
                result = RunResult {
                    outcome,
                    reason: Some(reason),
                };
            }
        }
        let finally_start = if start.phase == Phase::Finally {
            start.index
        } else {
            0
        };
        // A first interrupt stops the main steps; `finally` still runs and a further interrupt
        // stops it.
        self.interrupts_seen = *self.interrupts.borrow();
        let interrupted_action = (start.phase == Phase::Finally)
            .then_some(start.interrupted_action.as_deref())
            .flatten();
        self.best_effort = true;
        let end = self
            .run_list(
                &runbook.finally,
                Phase::Finally,
                finally_start,
                interrupted_action,
            )
            .await;
        let end = match end {
            Ok(end) => end,
            Err(e) if self.timeline_failed.is_some() => {
                Some((RunOutcome::Failed, format!("{e:#}")))
            }
            Err(e) => return Err(e),
        };
        if let Some((outcome, reason)) = end
            && result.outcome == RunOutcome::Completed
        {
            result = RunResult {
                outcome,
                reason: Some(reason),
            };
        }
        // A run whose record is incomplete has failed, whatever its steps did.
        if let Some(reason) = &self.timeline_failed {
            result = RunResult {
                outcome: RunOutcome::Failed,
                reason: Some(reason.clone()),
            };
        }
        let exit = crate::exit::Exit::from(result.outcome).code();
        let counts: Map<String, Json> = self
            .counts
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let finished = self.emit(Event::RunFinished {
            outcome: result.outcome,
            exit_code: exit,
            duration_ms: self.started.elapsed().as_millis() as u64,
            reason: result.reason.clone(),
            counts,
        });
        match finished {
            Ok(_) => Ok(result),
            Err(e) => Ok(RunResult {
                outcome: RunOutcome::Failed,
                reason: Some(format!("{e:#}")),
            }),
        }
    }

    /// Runs one list of steps; returns how the run must end, if it must.
    async fn run_list(
        &mut self,
        steps: &[Step],
        phase: Phase,
        start: usize,
        interrupted_action: Option<&str>,
    ) -> anyhow::Result<Option<(RunOutcome, String)>> {
        let mut index = start;
        while index < steps.len() {
            let step = &steps[index];
            if self.interrupted() {
                return Ok(Some((
                    RunOutcome::Interrupted,
                    "interrupted by a signal".into(),
                )));
            }
            let entries = self.history.entries.entry(step.id.clone()).or_insert(0);
            *entries += 1;
            if *entries > MAX_STEP_ENTRIES {
                return Ok(Some((
                    RunOutcome::Failed,
                    format!(
                        "step `{}` was entered more than {MAX_STEP_ENTRIES} times: stopping a goto loop",
                        step.id
                    ),
                )));
            }
            let entry = *entries;
            let was_interrupted = interrupted_action == Some(step.id.as_str()) && index == start;
            let flow = self
                .run_step(steps, phase, index, entry, was_interrupted)
                .await?;
            match flow {
                Flow::Next => index += 1,
                Flow::Retry => {}
                Flow::Goto(target) => {
                    index = steps
                        .iter()
                        .position(|s| s.id == target)
                        .unwrap_or(steps.len());
                }
                Flow::End(outcome, reason) => return Ok(Some((outcome, reason))),
            }
        }
        Ok(None)
    }

    /// What the run does after a step ended with `outcome`.
    fn flow_after(step: &Step, outcome: Outcome, reason: &str) -> Flow {
        match outcome {
            Outcome::Passed | Outcome::Skipped | Outcome::DryRun => Flow::Next,
            Outcome::Blocked => Flow::End(RunOutcome::Blocked, reason.to_string()),
            Outcome::Interrupted => {
                Flow::End(RunOutcome::Interrupted, "interrupted by a signal".into())
            }
            Outcome::Failed | Outcome::Error => match &step.on_fail {
                OnFail::Stop => Flow::End(
                    RunOutcome::Failed,
                    format!("step `{}` {}: {reason}", step.id, outcome.as_str()),
                ),
                OnFail::Continue => Flow::Next,
                OnFail::Goto { step, .. } => Flow::Goto(step.clone()),
            },
        }
    }

    fn count(&mut self, key: &'static str) {
        *self.counts.entry(key).or_insert(0) += 1;
    }
}
