//! One or more timelines read into what every report needs: the events in time order, one row
//! per step entry, milestones, notes, and the incident's key durations.

use std::collections::HashMap;

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::timeline::{Event, Outcome, Record, RunOutcome};

/// A step as it finished (one row per entry: a revisited step has several).
#[derive(Clone, Debug, Serialize)]
pub struct StepRow {
    /// 1-based, in the order the steps of its run finished.
    pub number: usize,
    pub run_id: String,
    pub step: String,
    pub title: String,
    pub outcome: Outcome,
    #[serde(serialize_with = "rfc3339_ms")]
    pub ts: Timestamp,
    pub duration_ms: u64,
    pub summary: String,
    pub failures: Vec<String>,
    pub attempt: u32,
    pub action: bool,
    pub decided_by: Option<String>,
    pub phase: String,
    /// The attempts of this entry that did not pass before the one that finished it (`retry`);
    /// the JSON has them as `step_attempt` events already.
    #[serde(skip)]
    pub earlier: Vec<Attempt>,
    /// How many attempts `retry` allowed, when the timeline recorded it.
    #[serde(skip)]
    pub attempts_allowed: Option<u32>,
    /// The approvals the action waited for (`runbook run --approvals N`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalInfo>,
}

/// Who requested approval of an action, who approved or denied it and when, and the wait.
#[derive(Clone, Debug, Serialize)]
pub struct ApprovalInfo {
    pub requested_by: String,
    #[serde(serialize_with = "rfc3339_ms")]
    pub requested_at: Timestamp,
    pub needed: u32,
    pub deadline: String,
    /// Every approval recorded, in order; `counted` is false for the initiator's own and a
    /// person's repeated one.
    pub approvals: Vec<ApprovalMark>,
    pub denied_by: Option<ApprovalMark>,
    /// From the request to the decision: the approval that made enough, the denial, or the
    /// step's end (a timeout).
    pub wait_ms: u64,
}

/// One person's approval or denial.
#[derive(Clone, Debug, Serialize)]
pub struct ApprovalMark {
    pub actor: String,
    #[serde(serialize_with = "rfc3339_ms")]
    pub ts: Timestamp,
    pub counted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ApprovalInfo {
    /// `approval requested by X; approved by A (12:00:03Z), B; waited 3s` for `system-out`.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "approval requested by {} ({} needed)",
            self.requested_by, self.needed
        );
        let counted: Vec<String> = self
            .approvals
            .iter()
            .filter(|a| a.counted)
            .map(|a| format!("{} at {:.3}", a.actor, a.ts))
            .collect();
        if !counted.is_empty() {
            text.push_str(&format!("; approved by {}", counted.join(", ")));
        }
        if let Some(d) = &self.denied_by {
            let why = d
                .reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            text.push_str(&format!("; denied by {} at {:.3}{why}", d.actor, d.ts));
        }
        text.push_str(&format!(
            "; waited {}",
            crate::duration::human(std::time::Duration::from_millis(self.wait_ms))
        ));
        text
    }
}

/// An attempt of a retried step that did not pass.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub attempt: u32,
    pub outcome: Outcome,
    pub summary: String,
    pub failures: Vec<String>,
}

/// A milestone or a note.
#[derive(Clone, Debug, Serialize)]
pub struct Mark {
    pub run_id: String,
    #[serde(serialize_with = "rfc3339_ms")]
    pub ts: Timestamp,
    pub text: String,
    pub actor: String,
    pub step: Option<String>,
}

/// The key durations of the incident, from the start of the run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub time_to_detect_ms: Option<u64>,
    pub time_to_mitigate_ms: Option<u64>,
    pub time_to_resolve_ms: Option<u64>,
    pub duration_ms: Option<u64>,
    pub steps_run: usize,
    pub actions_taken: usize,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub outcome: Option<RunOutcome>,
    pub exit_code: Option<i32>,
}

/// One run as the reports render it: its events (a resumed run's from all its files), steps,
/// milestones, notes and key durations.
#[derive(Clone, Debug)]
pub struct Report {
    pub runbook: String,
    pub title: String,
    pub file: String,
    pub run_ids: Vec<String>,
    pub actor: String,
    /// The machine the run ran on (`run_started.host`; older timelines: from the actor).
    pub host: Option<String>,
    pub mode: String,
    pub events: Vec<Record>,
    pub steps: Vec<StepRow>,
    pub milestones: Vec<Mark>,
    pub notes: Vec<Mark>,
    pub started: Option<Timestamp>,
    /// The time of the run's last event.
    pub ended: Option<Timestamp>,
    pub summary: Summary,
}

/// Timestamps as the timeline writes them: RFC 3339 UTC with exactly three decimals.
fn rfc3339_ms<S: serde::Serializer>(ts: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format!("{ts:.3}"))
}

/// A step ran when it produced a result (not skipped, blocked or a dry run).
pub fn ran(outcome: Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Passed | Outcome::Failed | Outcome::Error | Outcome::Interrupted
    )
}

fn ts_of(record: &Record) -> Option<Timestamp> {
    record.ts.parse().ok()
}

impl Report {
    /// The report of one run's events (callers split several runs by `run_id`: see `Runs`).
    pub fn from_records(mut events: Vec<Record>) -> Report {
        // Time order; a run's own sequence breaks ties (events within a millisecond).
        events.sort_by(|a, b| (ts_of(a), &a.run_id, a.seq).cmp(&(ts_of(b), &b.run_id, b.seq)));
        // A retracted milestone and its retraction are in no report: not in the timeline's
        // lines, the charts, `milestones` or the times to detect, mitigate and resolve.
        let gone = crate::timeline::retract::withdrawn(events.iter().map(|r| &r.event));
        if !gone.is_empty() {
            events = events
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !gone.contains(i))
                .map(|(_, r)| r)
                .collect();
        }
        let mut report = Report {
            runbook: String::new(),
            title: String::new(),
            file: String::new(),
            run_ids: Vec::new(),
            actor: String::new(),
            host: None,
            mode: String::new(),
            events: Vec::new(),
            steps: Vec::new(),
            milestones: Vec::new(),
            notes: Vec::new(),
            started: None,
            ended: None,
            summary: Summary::default(),
        };
        let mut last_ts = None;
        // Attempts that did not pass, by step, until the entry that they belong to finishes.
        let mut attempts: HashMap<&str, Vec<Attempt>> = HashMap::new();
        let mut allowed: HashMap<&str, u32> = HashMap::new();
        let mut asked: HashMap<String, ApprovalInfo> = HashMap::new();
        let initiator = crate::timeline::approval::initiator(&events).unwrap_or_default();
        for record in &events {
            if !report.run_ids.contains(&record.run_id) {
                report.run_ids.push(record.run_id.clone());
            }
            let Some(ts) = ts_of(record) else { continue };
            report.started.get_or_insert(ts);
            last_ts = Some(ts);
            match &record.event {
                Event::RunStarted {
                    runbook,
                    title,
                    file,
                    actor,
                    mode,
                    host,
                    ..
                } if report.runbook.is_empty() => {
                    // The first run names the report; merged later runs add their events.
                    report.runbook = runbook.clone();
                    report.title = title.clone();
                    report.file = file.clone();
                    report.actor = actor.clone();
                    report.host = host.clone();
                    report.mode = mode.clone();
                }
                Event::StepAttempt {
                    step,
                    attempt,
                    outcome,
                    summary,
                    failures,
                    attempts: of,
                    ..
                } => {
                    attempts.entry(step).or_default().push(Attempt {
                        attempt: *attempt,
                        outcome: *outcome,
                        summary: summary.clone(),
                        failures: failures.clone(),
                    });
                    if let Some(of) = of {
                        allowed.insert(step, *of);
                    }
                }
                Event::StepFinished {
                    step,
                    title,
                    outcome,
                    duration_ms,
                    summary,
                    failures,
                    attempt,
                    action,
                    decided_by,
                    phase,
                    ..
                } => {
                    report.steps.push(StepRow {
                        number: report.steps.len() + 1,
                        run_id: record.run_id.clone(),
                        step: step.clone(),
                        title: title.clone(),
                        outcome: *outcome,
                        ts,
                        duration_ms: *duration_ms,
                        summary: summary.clone(),
                        failures: failures.clone(),
                        attempt: *attempt,
                        action: *action,
                        decided_by: decided_by.clone(),
                        phase: phase.clone(),
                        earlier: attempts.remove(step.as_str()).unwrap_or_default(),
                        attempts_allowed: allowed.remove(step.as_str()),
                        approval: if *outcome == Outcome::Interrupted {
                            None
                        } else {
                            asked.remove(step.as_str()).map(|mut info| {
                                info.wait_ms = decision_wait(&info, ts);
                                info
                            })
                        },
                    });
                }
                Event::Milestone {
                    milestone,
                    step,
                    actor,
                    ..
                } => report.milestones.push(Mark {
                    run_id: record.run_id.clone(),
                    ts,
                    text: milestone.clone(),
                    actor: actor.clone(),
                    step: step.clone(),
                }),
                Event::Note { text, actor, step } => report.notes.push(Mark {
                    run_id: record.run_id.clone(),
                    ts,
                    text: text.clone(),
                    actor: actor.clone(),
                    step: step.clone(),
                }),
                Event::ApprovalRequested {
                    step,
                    needed,
                    deadline,
                    actor,
                } => {
                    // A resumed wait keeps the request it had (see timeline::approval).
                    asked.entry(step.clone()).or_insert(ApprovalInfo {
                        requested_by: actor.clone(),
                        requested_at: ts,
                        needed: *needed,
                        deadline: deadline.clone(),
                        approvals: Vec::new(),
                        denied_by: None,
                        wait_ms: 0,
                    });
                }
                Event::Approval { step, actor } => {
                    if let Some(info) = asked.get_mut(step) {
                        let counted = *actor != initiator
                            && !info
                                .approvals
                                .iter()
                                .any(|a| a.counted && &a.actor == actor);
                        info.approvals.push(ApprovalMark {
                            actor: actor.clone(),
                            ts,
                            counted,
                            reason: None,
                        });
                    }
                }
                Event::Denial {
                    step,
                    actor,
                    reason,
                } => {
                    if let Some(info) = asked.get_mut(step)
                        && info.denied_by.is_none()
                    {
                        info.denied_by = Some(ApprovalMark {
                            actor: actor.clone(),
                            ts,
                            counted: true,
                            reason: reason.clone(),
                        });
                    }
                }
                Event::RunFinished {
                    outcome, exit_code, ..
                } => {
                    report.summary.outcome = Some(*outcome);
                    report.summary.exit_code = Some(*exit_code);
                }
                _ => {}
            }
        }
        report.events = events;
        report.ended = last_ts;
        let since_start = |name: &str| {
            let start = report.started?;
            let mark = report
                .milestones
                .iter()
                .find(|m| m.text.eq_ignore_ascii_case(name))?;
            Some(mark.ts.duration_since(start).as_millis().max(0) as u64)
        };
        report.summary.time_to_detect_ms = since_start("detected");
        report.summary.time_to_mitigate_ms = since_start("mitigated");
        report.summary.time_to_resolve_ms = since_start("resolved");
        report.summary.duration_ms = match (report.started, last_ts) {
            (Some(a), Some(b)) => Some(b.duration_since(a).as_millis().max(0) as u64),
            _ => None,
        };
        report.summary.steps_run = report.steps.iter().filter(|s| ran(s.outcome)).count();
        report.summary.actions_taken = report
            .steps
            .iter()
            .filter(|s| s.action && ran(s.outcome))
            .count();
        report.summary.passed = report
            .steps
            .iter()
            .filter(|s| s.outcome == Outcome::Passed)
            .count();
        report.summary.failed = report
            .steps
            .iter()
            .filter(|s| matches!(s.outcome, Outcome::Failed | Outcome::Error))
            .count();
        report.summary.skipped = report
            .steps
            .iter()
            .filter(|s| matches!(s.outcome, Outcome::Skipped | Outcome::DryRun))
            .count();
        report
    }

    /// The name to show: the runbook's, or the first run id when no `run_started` was read.
    pub fn name(&self) -> &str {
        if self.runbook.is_empty() {
            self.run_ids
                .first()
                .map(String::as_str)
                .unwrap_or("runbook")
        } else {
            &self.runbook
        }
    }

    /// `completed (exit 0)`, or `unfinished` for a run without `run_finished`.
    pub fn outcome_text(&self) -> String {
        match self.summary.outcome {
            Some(o) => format!(
                "{} (exit {})",
                o.as_str(),
                self.summary.exit_code.unwrap_or_default()
            ),
            None => "unfinished".into(),
        }
    }

    /// Result fields of every http step entry and attempt, with its time and step: the chart
    /// data.
    pub fn http_samples(&self) -> Vec<HttpSample> {
        self.events
            .iter()
            .filter_map(|r| {
                let (step, data) = match &r.event {
                    Event::StepFinished { step, data, .. }
                    | Event::StepAttempt { step, data, .. } => (step, data),
                    _ => return None,
                };
                let url = data.get("url")?.as_str()?;
                data.get("rate_error")?;
                Some(HttpSample {
                    ts: ts_of(r)?,
                    step: step.clone(),
                    url: url.to_string(),
                    data: data.clone(),
                })
            })
            .collect()
    }
}

/// What one entry or attempt of an http step measured.
pub struct HttpSample {
    pub ts: Timestamp,
    pub step: String,
    pub url: String,
    pub data: Map<String, Json>,
}

/// Resolves `--tz`: an IANA zone name, or the system's zone.
pub fn zone(name: Option<&str>) -> Result<TimeZone, String> {
    match name {
        None => Ok(TimeZone::system()),
        Some(name) => TimeZone::get(name).map_err(|_| {
            format!("unknown time zone `{name}` (use an IANA name such as America/New_York or UTC)")
        }),
    }
}

/// A timestamp in a zone.
pub fn local(ts: Timestamp, tz: &TimeZone) -> Zoned {
    ts.to_zoned(tz.clone())
}

/// `1m 30s`, `850 ms`, or `-`.
pub fn human_ms(ms: Option<u64>) -> String {
    ms.map_or_else(
        || "-".to_string(),
        |ms| crate::duration::human(std::time::Duration::from_millis(ms)),
    )
}

/// From an approval request to its decision: the approval that made enough, the denial, or
/// `end` (the step finished without either: a timeout).
fn decision_wait(info: &ApprovalInfo, end: Timestamp) -> u64 {
    let enough = info
        .approvals
        .iter()
        .filter(|a| a.counted)
        .nth(info.needed.saturating_sub(1) as usize)
        .map(|a| a.ts);
    let decided = info
        .denied_by
        .as_ref()
        .map(|d| d.ts)
        .or(enough)
        .unwrap_or(end);
    decided.duration_since(info.requested_at).as_millis().max(0) as u64
}
