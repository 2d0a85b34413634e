//! Running one step: `when`, the action gate, the executor (once, per loop item, or per retry
//! attempt), the judgement against `expect`, the milestone, and the events that record it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Map, Value as Json, json};

use super::confine::Confinement;
use super::decider::{
    ActionDecision, ActionPrompt, AfterFailure, Annotation, FailurePrompt, ManualDecision,
    ManualPrompt, StepGate, StepIntro, secret_answers,
};
use super::judge::{Judgement, judge};
use super::resolve::{Resolved, preview, resolve};
use super::scope::Scope;
use super::{Engine, Flow, Phase};
use crate::exec::{self, ExecError, ExecOutput, Partial, Progress, ProgressUpdate};
use crate::expr;
use crate::redact::Redactor;
use crate::runbook::{Defaults, Executor, LoopSource, Step};
use crate::timeline::{Event, Outcome, RunOutcome};

/// The result of one attempt of a step.
struct Attempt {
    outcome: Outcome,
    fields: Map<String, Json>,
    summary: String,
    failures: Vec<String>,
    /// Blocked by the run's confinement rather than by a decision.
    confined: bool,
}

impl Attempt {
    fn error(message: String) -> Self {
        Attempt {
            outcome: Outcome::Error,
            fields: Map::new(),
            summary: message.clone(),
            failures: vec![message],
            confined: false,
        }
    }

    /// Not executed: `reason` says where it would have gone.
    fn confined(reason: String) -> Self {
        Attempt {
            outcome: Outcome::Blocked,
            fields: Map::new(),
            summary: reason,
            failures: Vec::new(),
            confined: true,
        }
    }
}

/// How a step ended, before it is recorded.
struct Finish {
    outcome: Outcome,
    summary: String,
    fields: Map<String, Json>,
    failures: Vec<String>,
    attempt: u32,
    decided_by: Option<String>,
    /// Set when the decider ended the run (abort).
    end: Option<(RunOutcome, String)>,
    /// Set when the person chose to jump to another step.
    goto: Option<String>,
    /// When the work itself began, after any prompt: a step's duration leaves out the time a
    /// person took to decide.
    began: Option<Instant>,
    /// Blocked by the run's confinement: the run goes on (see `confine`).
    confined: bool,
}

impl Finish {
    fn simple(outcome: Outcome, summary: impl Into<String>) -> Self {
        Finish {
            outcome,
            summary: summary.into(),
            fields: Map::new(),
            failures: Vec::new(),
            attempt: 1,
            decided_by: None,
            end: None,
            goto: None,
            began: None,
            confined: false,
        }
    }
}

impl Engine {
    pub(super) async fn run_step(
        &mut self,
        list: &[Step],
        phase: Phase,
        index: usize,
        entry: u32,
        was_interrupted: bool,
    ) -> anyhow::Result<Flow> {
        let step = &list[index];
        self.emit(Event::StepStarted {
            step: step.id.clone(),
            title: step.title.clone(),
            index: index + 1,
            phase: phase.as_str().into(),
            action: step.action,
            entry,
        })?;
        let started = Instant::now();
        let finish = self.execute_step(list, phase, index, was_interrupted).await;
        if let Some(e) = self.emit_error.take() {
            return Err(e);
        }
        let duration_ms = finish.began.unwrap_or(started).elapsed().as_millis() as u64;

        let passed = finish.outcome == Outcome::Passed;
        let mut recorded = finish.fields.clone();
        recorded.insert("outcome".into(), json!(finish.outcome.as_str()));
        recorded.insert("passed".into(), json!(passed));
        recorded.insert("summary".into(), json!(finish.summary));
        recorded.insert("duration_ms".into(), json!(duration_ms));
        recorded.insert("attempt".into(), json!(finish.attempt));
        self.history
            .record(&step.id, &recorded, &super::answer_names(Some(step)));
        self.count(match finish.outcome {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Error => "error",
            Outcome::Skipped => "skipped",
            Outcome::DryRun => "dry_run",
            Outcome::Blocked => "blocked",
            Outcome::Interrupted => "interrupted",
        });
        if step.action
            && matches!(
                finish.outcome,
                Outcome::Passed | Outcome::Failed | Outcome::Error
            )
        {
            self.count("actions_run");
        }
        let reason = finish
            .failures
            .first()
            .cloned()
            .unwrap_or_else(|| finish.summary.clone());
        self.emit(Event::StepFinished {
            step: step.id.clone(),
            title: step.title.clone(),
            outcome: finish.outcome,
            duration_ms,
            summary: finish.summary,
            data: finish.fields,
            attempt: finish.attempt,
            failures: finish.failures,
            action: step.action,
            decided_by: finish.decided_by,
            phase: phase.as_str().into(),
        })?;
        if passed && let Some(milestone) = &step.milestone {
            let actor = self.decider.actor();
            self.emit(Event::Milestone {
                milestone: milestone.clone(),
                step: Some(step.id.clone()),
                actor,
                retracted: false,
            })?;
        }
        if let Some((outcome, why)) = finish.end {
            return Ok(Flow::End(outcome, why));
        }
        if let Some(target) = finish.goto {
            return Ok(Flow::Goto(target));
        }
        let stops = finish.outcome == Outcome::Interrupted
            || (finish.outcome.is_failure() && step.on_fail == crate::runbook::OnFail::Stop);
        if stops {
            let prompt = FailurePrompt {
                step_id: step.id.clone(),
                title: step.title.clone(),
                summary: self.redactor.redact(&reason),
                failures: Vec::new(),
                interrupted: finish.outcome == Outcome::Interrupted,
                steps: super::jump::targets(list),
                not_run: self.not_run_for_jumps(list),
            };
            // The interrupt that led here is dealt with by asking; a further one ends the run.
            self.interrupts_seen = *self.interrupts.borrow();
            let choice = self
                .decide(&step.id, move |d| d.after_failure(&prompt))
                .await;
            if let Some(e) = self.emit_error.take() {
                return Err(e);
            }
            match choice {
                Some(AfterFailure::Stop) => {}
                Some(AfterFailure::Retry) => return Ok(Flow::Retry),
                Some(AfterFailure::Skip) => return Ok(Flow::Next),
                Some(AfterFailure::Jump(target)) => return Ok(Flow::Goto(target)),
                Some(AfterFailure::Abort) => {
                    return Ok(Flow::End(
                        RunOutcome::Aborted,
                        format!("aborted after step `{}`", step.id),
                    ));
                }
                Some(AfterFailure::Interrupt) | None => {
                    return Ok(Flow::End(
                        RunOutcome::Interrupted,
                        "interrupted by a signal".into(),
                    ));
                }
            }
        }
        // A step kept from running by the confinement ends nothing: the rest of the drill is
        // still recorded, and judged, each step outside it blocked in turn.
        if finish.confined {
            return Ok(Flow::Next);
        }
        Ok(Self::flow_after(step, finish.outcome, &reason))
    }

    async fn execute_step(
        &mut self,
        list: &[Step],
        phase: Phase,
        index: usize,
        was_interrupted: bool,
    ) -> Finish {
        let step = &list[index];
        let scope = self.scope();
        let ctx = scope.value();
        if let Some(when) = &step.when {
            match expr::eval_bool(&when.source, &ctx) {
                Ok(true) => {}
                Ok(false) => {
                    return Finish::simple(
                        Outcome::Skipped,
                        format!("skipped: `{}` is false", expr::strip_braces(&when.source)),
                    );
                }
                Err(e) => {
                    return Finish::simple(Outcome::Error, self.missing_evidence("when", step, e));
                }
            }
        }
        let items = match &step.loop_over {
            None => None,
            Some(source) => match loop_items(source, &ctx) {
                Ok(items) => Some(items),
                Err(e) => {
                    return Finish::simple(Outcome::Error, self.missing_evidence("loop", step, e));
                }
            },
        };

        // A loop over nothing (a remediation for "every server that is DOWN" when none is) has
        // nothing to render, confirm or run: it passes with no items, and its templates, which
        // read `item`, are never rendered.
        if items.as_ref().is_some_and(Vec::is_empty) {
            let mut finish = Finish::simple(Outcome::Passed, "no items");
            finish.fields.insert("items".into(), json!([]));
            finish.fields.insert("passed_count".into(), json!(0));
            finish.fields.insert("failed_count".into(), json!(0));
            return finish;
        }

        // What will run, rendered, for the action prompt and dry runs.
        let first_ctx = match items.as_ref().and_then(|i| i.first()) {
            Some(item) => scope.with_item(item, items_trusted(step)).value(),
            None => ctx.clone(),
        };
        let resolved = match resolve(step, &self.setup.runbook.defaults, &first_ctx) {
            Ok(r) => r,
            Err(e) => {
                let missing = super::jump::not_run(step, &self.history.steps);
                let e = if missing.is_empty() {
                    e
                } else {
                    format!("{}: {e}", super::not_run_message(&step.id, &missing))
                };
                return Finish::simple(Outcome::Error, e);
            }
        };
        let mut shown = self.redactor.redact(&preview(&resolved));
        if let Some(items) = &items {
            shown = format!("{shown} (and each of {} items)", items.len());
        }

        let intro = StepIntro {
            step_id: step.id.clone(),
            title: step.title.clone(),
            number: index + 1,
            total: list.len(),
            phase: phase.as_str(),
            action: step.action,
            manual: matches!(step.executor, Executor::Manual(_)),
            preview: shown.clone(),
            steps: super::jump::targets(list),
            not_run: self.not_run_for_jumps(list),
        };
        match self.decide(&step.id, move |d| d.before_step(&intro)).await {
            Some(StepGate::Run) => {}
            Some(StepGate::Skip { by }) => {
                let mut f = Finish::simple(Outcome::Skipped, format!("skipped by {by}"));
                f.decided_by = Some(by);
                return f;
            }
            Some(StepGate::Jump(target)) => {
                let mut f = Finish::simple(Outcome::Skipped, format!("jumped to `{target}`"));
                f.goto = Some(target);
                return f;
            }
            Some(StepGate::Abort) => {
                let mut f = Finish::simple(Outcome::Skipped, "aborted by the operator");
                f.end = Some((
                    RunOutcome::Aborted,
                    format!("aborted at step `{}`", step.id),
                ));
                return f;
            }
            Some(StepGate::Interrupt) | None => {
                return Finish::simple(Outcome::Interrupted, "interrupted at the prompt");
            }
        }

        if let Executor::Manual(manual) = &step.executor {
            if step.action && self.setup.dry_run {
                return Finish::simple(Outcome::DryRun, format!("dry run: would ask: {shown}"));
            }
            return self.manual_step(step, manual.ask.clone(), shown).await;
        }

        let mut decided_by = None;
        if step.action {
            if self.setup.dry_run {
                return Finish::simple(Outcome::DryRun, format!("dry run: would {shown}"));
            }
            let prompt = ActionPrompt {
                step_id: step.id.clone(),
                title: step.title.clone(),
                preview: shown.clone(),
                was_interrupted,
            };
            if let Some(request) = self.decider.approval_request(&prompt)
                && let Err(e) = self.emit(Event::ApprovalRequested {
                    step: step.id.clone(),
                    needed: request.needed,
                    deadline: request.deadline,
                    actor: request.requested_by,
                })
            {
                return Finish::simple(Outcome::Error, e.to_string());
            }
            let Some(decision) = self
                .decide(&step.id, move |d| d.confirm_action(&prompt))
                .await
            else {
                return Finish::simple(Outcome::Interrupted, "interrupted at the prompt");
            };
            match decision {
                ActionDecision::Run { by } => decided_by = Some(by),
                ActionDecision::Skip { by } => {
                    let mut f = Finish::simple(Outcome::Skipped, format!("skipped by {by}"));
                    f.decided_by = Some(by);
                    return f;
                }
                ActionDecision::Abort => {
                    let mut f = Finish::simple(Outcome::Skipped, "aborted by the operator");
                    f.end = Some((
                        RunOutcome::Aborted,
                        format!("aborted at step `{}`", step.id),
                    ));
                    return f;
                }
                ActionDecision::Block { reason } => {
                    return Finish::simple(Outcome::Blocked, reason);
                }
                ActionDecision::Deny { by, reason } => {
                    let why = reason.map(|r| format!(": {r}")).unwrap_or_default();
                    let mut f = Finish::simple(Outcome::Skipped, format!("denied by {by}{why}"));
                    f.decided_by = Some(by);
                    return f;
                }
                ActionDecision::Interrupt => {
                    return Finish::simple(Outcome::Interrupted, "interrupted at the prompt");
                }
            }
        }

        let began = Instant::now();
        let retry = step.retry.or(self.setup.runbook.defaults.retry);
        let attempts = retry.map_or(1, |r| r.attempts.max(1));
        let delay = retry.map_or(Duration::ZERO, |r| r.delay);
        let mut attempt_no = 1;
        loop {
            let scope = self.scope();
            (self.progress)(ProgressUpdate::Running {
                step: step.id.clone(),
                kind: step.executor.kind(),
                attempt: attempt_no,
                attempts,
            });
            let partial = Partial::default();
            let result = {
                let rules = Rules {
                    defaults: &self.setup.runbook.defaults,
                    redactor: &self.redactor,
                    confinement: self.setup.confinement.as_ref(),
                };
                let work = run_attempt(
                    step,
                    rules,
                    &scope,
                    items.as_deref(),
                    self.progress.clone(),
                    &partial,
                );
                self.until_interrupted(work).await
            };
            let Some(attempt) = result else {
                let mut f = Finish::simple(Outcome::Interrupted, "interrupted by a signal");
                f.attempt = attempt_no;
                f.decided_by = decided_by;
                f.began = Some(began);
                // What the step had found when it was cut short stays in the record.
                f.fields = partial.fields();
                return f;
            };
            let retryable = attempt.outcome.is_failure() && attempt_no < attempts;
            if !retryable {
                return Finish {
                    outcome: attempt.outcome,
                    summary: attempt.summary,
                    fields: attempt.fields,
                    failures: attempt.failures,
                    attempt: attempt_no,
                    decided_by,
                    end: None,
                    goto: None,
                    began: Some(began),
                    confined: attempt.confined,
                };
            }
            if let Err(e) = self.emit(Event::StepAttempt {
                step: step.id.clone(),
                attempt: attempt_no,
                outcome: attempt.outcome,
                summary: attempt.summary.clone(),
                failures: attempt.failures.clone(),
                data: attempt.fields.clone(),
                duration_ms: 0,
                next_delay_ms: delay.as_millis() as u64,
                attempts: Some(attempts),
            }) {
                return Finish::simple(Outcome::Error, e.to_string());
            }
            (self.progress)(ProgressUpdate::Retrying {
                step: step.id.clone(),
                attempt: attempt_no,
                attempts,
                delay,
            });
            if self
                .until_interrupted(tokio::time::sleep(delay))
                .await
                .is_none()
            {
                let mut f = Finish::simple(Outcome::Interrupted, "interrupted by a signal");
                f.attempt = attempt_no;
                f.fields = attempt.fields;
                f.began = Some(began);
                return f;
            }
            attempt_no += 1;
        }
    }

    /// Why `what` (`when`, `loop`) could not be evaluated: `error`, led by the steps the step
    /// reads that have not run (after a jump past them), when there are any.
    fn missing_evidence(&self, what: &str, step: &Step, error: impl std::fmt::Display) -> String {
        let missing = super::jump::not_run(step, &self.history.steps);
        if missing.is_empty() {
            format!("{what}: {error}")
        } else {
            format!(
                "{what}: {} ({error})",
                super::not_run_message(&step.id, &missing)
            )
        }
    }

    /// Runs `work` unless a signal arrives first.
    ///
    /// The future holds no reference to the engine (whose observers need not be `Sync`), so a
    /// run can be a task of the runtime (`cli::run`).
    fn until_interrupted<F: std::future::Future>(
        &self,
        work: F,
    ) -> impl std::future::Future<Output = Option<F::Output>> + use<F> {
        let already = self.interrupted();
        let seen = self.interrupts_seen;
        let mut rx = self.interrupts.clone();
        async move {
            if already {
                return None;
            }
            tokio::select! {
                out = work => Some(out),
                _ = rx.wait_for(|n| *n > seen) => None,
            }
        }
    }

    /// Asks the decider on a blocking thread (a human may take minutes to answer), then
    /// records the notes and milestones they added. `None` when a signal came first.
    async fn decide<T: Send + 'static>(
        &mut self,
        step_id: &str,
        question: impl FnOnce(&dyn super::Decider) -> T + Send + 'static,
    ) -> Option<T> {
        let decider = Arc::clone(&self.decider);
        let answer = if decider.answers_at_once() {
            (!self.interrupted()).then(|| question(decider.as_ref()))
        } else {
            self.until_interrupted(tokio::task::spawn_blocking(move || {
                question(decider.as_ref())
            }))
            .await
            .map(|joined| joined.expect("the decider does not panic"))
        };
        if answer.is_none() {
            // The question's thread may still be waiting (for approvals): let it go.
            self.decider.stop_waiting();
        }
        let actor = self.decider.actor();
        for annotation in self.decider.take_annotations() {
            let event = match annotation {
                Annotation::Note(text) => Event::Note {
                    text,
                    actor: actor.clone(),
                    step: Some(step_id.to_string()),
                },
                Annotation::Milestone(milestone) => Event::Milestone {
                    milestone,
                    step: Some(step_id.to_string()),
                    actor: actor.clone(),
                    retracted: false,
                },
                Annotation::Retract(milestone) => Event::Milestone {
                    milestone,
                    step: Some(step_id.to_string()),
                    actor: actor.clone(),
                    retracted: true,
                },
            };
            if let Err(e) = self.emit(event) {
                self.emit_error.get_or_insert(e);
            }
        }
        answer
    }

    async fn manual_step(
        &mut self,
        step: &Step,
        ask: Vec<crate::runbook::AskField>,
        instructions: String,
    ) -> Finish {
        let prompt = ManualPrompt {
            step_id: step.id.clone(),
            title: step.title.clone(),
            instructions,
            ask,
        };
        let Some(decision) = self.decide(&step.id, move |d| d.manual(&prompt)).await else {
            return Finish::simple(Outcome::Interrupted, "interrupted at the prompt");
        };
        match decision {
            ManualDecision::Done { answers, by } => {
                for secret in secret_answers(step, &answers) {
                    self.redactor.add(&secret);
                }
                let summary = if by == super::decider::AUTO_ACKNOWLEDGED {
                    by.clone()
                } else if answers.is_empty() {
                    format!("acknowledged by {by}")
                } else {
                    format!(
                        "answered by {by}: {}",
                        answers
                            .iter()
                            .map(|(k, v)| format!("{k} = {}", super::judge::short_json(v)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                let mut f = Finish::simple(Outcome::Passed, self.redactor.redact(&summary));
                f.fields = answers;
                f.decided_by = Some(by);
                f
            }
            ManualDecision::Skip { by } => {
                let mut f = Finish::simple(Outcome::Skipped, format!("skipped by {by}"));
                f.decided_by = Some(by);
                f
            }
            ManualDecision::Abort => {
                let mut f = Finish::simple(Outcome::Skipped, "aborted by the operator");
                f.end = Some((
                    RunOutcome::Aborted,
                    format!("aborted at step `{}`", step.id),
                ));
                f
            }
            ManualDecision::Block { reason } => Finish::simple(Outcome::Blocked, reason),
            ManualDecision::Interrupt => {
                Finish::simple(Outcome::Interrupted, "interrupted at the prompt")
            }
        }
    }
}

/// Whether a step's loop items came from the author or the operator (a literal list, or an
/// expression over `vars` and `secrets`) rather than from what an earlier step read.
fn items_trusted(step: &Step) -> bool {
    match &step.loop_over {
        Some(LoopSource::Expr(e)) => !e
            .reads
            .iter()
            .any(|name| name == "steps" || name.starts_with("steps.")),
        _ => true,
    }
}

fn loop_items(source: &LoopSource, ctx: &minijinja::Value) -> Result<Vec<Json>, String> {
    match source {
        LoopSource::Items(items) => Ok(items.clone()),
        LoopSource::Expr(e) => match expr::eval_json(&e.source, ctx)? {
            Json::Array(items) => Ok(items),
            Json::Object(map) => Ok(map
                .into_iter()
                .map(|(key, value)| json!({"key": key, "value": value}))
                .collect()),
            other => Err(format!(
                "`{}` gave {}, not a list",
                expr::strip_braces(&e.source),
                super::judge::short_json(&other)
            )),
        },
    }
}

/// What every attempt of a run goes by.
#[derive(Clone, Copy)]
struct Rules<'a> {
    defaults: &'a Defaults,
    redactor: &'a Redactor,
    /// Where steps may reach (a drill's simulator); `None`: anywhere.
    confinement: Option<&'a Confinement>,
}

/// One attempt: the executor once, or once per loop item, judged against `expect`.
async fn run_attempt(
    step: &Step,
    rules: Rules<'_>,
    scope: &Scope,
    items: Option<&[Json]>,
    progress: Progress,
    partial: &Partial,
) -> Attempt {
    let Some(items) = items else {
        return run_once(step, rules, scope, progress, partial).await;
    };
    let results: Vec<(Json, Attempt)> = futures_util::stream::iter(items.iter().cloned())
        .map(|item| {
            let item_scope = scope.with_item(&item, items_trusted(step));
            let progress = progress.clone();
            async move {
                // Loop items run side by side: each keeps its own partial results.
                let attempt =
                    run_once(step, rules, &item_scope, progress, &Partial::default()).await;
                (item, attempt)
            }
        })
        .buffered(step.parallel.max(1))
        .collect()
        .await;
    let total = results.len();
    let passed_count = results
        .iter()
        .filter(|(_, a)| a.outcome == Outcome::Passed)
        .count();
    let failed_count = total - passed_count;
    let mut failures = Vec::new();
    let mut listed = Vec::new();
    for (item, attempt) in &results {
        let mut entry = attempt.fields.clone();
        entry.insert("item".into(), item.clone());
        entry.insert("outcome".into(), json!(attempt.outcome.as_str()));
        entry.insert("passed".into(), json!(attempt.outcome == Outcome::Passed));
        entry.insert("summary".into(), json!(attempt.summary));
        listed.push(Json::Object(entry));
        if attempt.outcome != Outcome::Passed {
            let label = item_label(item);
            if attempt.failures.is_empty() {
                failures.push(format!("{label}: {}", attempt.summary));
            }
            for f in &attempt.failures {
                failures.push(format!("{label}: {f}"));
            }
        }
    }
    let mut fields = Map::new();
    fields.insert("items".into(), Json::Array(listed));
    fields.insert("passed_count".into(), json!(passed_count));
    fields.insert("failed_count".into(), json!(failed_count));
    let mut summary = format!("{passed_count}/{total} items passed");
    if let Some((item, attempt)) = results.iter().find(|(_, a)| a.outcome != Outcome::Passed) {
        summary.push_str(&format!("; {}: {}", item_label(item), attempt.summary));
        if failed_count > 1 {
            summary.push_str(&format!(" (and {} more)", failed_count - 1));
        }
    }
    // One item outside the confinement blocks the step (that item was not executed).
    let confined = results.iter().any(|(_, a)| a.confined);
    let outcome = if failed_count == 0 {
        Outcome::Passed
    } else if confined {
        Outcome::Blocked
    } else if results.iter().all(|(_, a)| a.outcome == Outcome::Error) {
        Outcome::Error
    } else {
        Outcome::Failed
    };
    Attempt {
        outcome,
        fields,
        summary,
        failures,
        confined,
    }
}

fn item_label(item: &Json) -> String {
    match item {
        Json::String(s) => s.clone(),
        other => super::judge::short_json(other),
    }
}

async fn run_once(
    step: &Step,
    rules: Rules<'_>,
    scope: &Scope,
    progress: Progress,
    partial: &Partial,
) -> Attempt {
    let resolved = match resolve(step, rules.defaults, &scope.value()) {
        Ok(r) => r,
        Err(e) => return Attempt::error(e),
    };
    if let Some(reason) = rules.confinement.and_then(|c| c.refuse(&resolved)) {
        return Attempt::confined(reason);
    }
    match execute(resolved, progress, partial).await {
        Ok(output) => {
            let Judgement { passed, failures } = judge(
                &step.expect,
                &step.executor,
                &output.fields,
                scope,
                output.ok,
                rules.redactor,
            );
            // A refused request's reason is in what the server answered.
            let summary = if !passed && matches!(step.executor, Executor::Http(_)) {
                super::answer_body::with_body(output.summary, &output.fields, rules.redactor)
            } else {
                output.summary
            };
            Attempt {
                outcome: if passed {
                    Outcome::Passed
                } else {
                    Outcome::Failed
                },
                fields: output.fields,
                summary,
                failures,
                confined: false,
            }
        }
        Err(ExecError(message)) => Attempt::error(message),
    }
}

/// Dispatches a resolved step to its executor.
pub(crate) async fn execute(
    resolved: Resolved,
    progress: Progress,
    partial: &Partial,
) -> Result<ExecOutput, ExecError> {
    match resolved {
        Resolved::Http(req) => {
            // An interrupted probe keeps what it finished (see `http::run_keeping`).
            partial.set("url", json!(req.url));
            exec::http::run_keeping(&req, &progress, partial).await
        }
        Resolved::Prometheus(req) => exec::prometheus::run(&req).await,
        Resolved::Statuspage {
            url,
            headers,
            timeout,
        } => exec::statuspage::run(&url, &headers, timeout).await,
        Resolved::Tcp { address, timeout } => exec::tcp::run(&address, timeout).await,
        Resolved::Command(req) => exec::command::run(&req, partial).await,
        Resolved::Wait(d) => {
            progress(ProgressUpdate::Waiting { duration: d });
            // The timer wheel ticks in milliseconds: even a zero sleep would wait for a tick.
            if !d.is_zero() {
                tokio::time::sleep(d).await;
            }
            let mut fields = Map::new();
            fields.insert("waited_ms".into(), json!(d.as_millis() as u64));
            Ok(ExecOutput {
                fields,
                summary: format!("waited {}", crate::duration::human(d)),
                ok: true,
            })
        }
        Resolved::Manual { .. } => Err(ExecError(
            "a manual step is answered by the operator, not executed".into(),
        )),
    }
}
