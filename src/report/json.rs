//! The events and a computed summary, for scripts. The shape is stable: `runbook`, `title`,
//! `file`, `run_ids`, `summary`, `steps`, `milestones`, `notes`, `events` (the timeline lines
//! as recorded), and `runs`: one entry per run, in the order the runs started, each with its
//! own name, steps, outcome and times. With one run the top level is that run; with several,
//! the top level adds them up (see `render`).

use serde_json::{Value as Json, json};

use super::model::{Report, Summary};
use super::runs::Runs;

pub fn render(runs: &Runs) -> String {
    let entries: Vec<Json> = runs.runs.iter().map(run).collect();
    let value = match runs.single() {
        Some(report) => json!({
            "runbook": report.name(),
            "title": report.title,
            "file": report.file,
            "run_ids": report.run_ids,
            "summary": report.summary,
            "steps": report.steps,
            "milestones": report.milestones,
            "notes": report.notes,
            "events": runs.events,
            "runs": entries,
        }),
        None => {
            // Several runs: what they share, or null; the counts added up, while durations and
            // the outcome belong to each run (in `runs`). Steps, milestones and notes of every
            // run, run by run, each naming its `run_id`.
            let common = |field: fn(&Report) -> &str| {
                let first = field(&runs.runs[0]);
                runs.runs
                    .iter()
                    .all(|r| field(r) == first)
                    .then(|| first.to_string())
            };
            let mut summary = Summary::default();
            for r in &runs.runs {
                summary.steps_run += r.summary.steps_run;
                summary.actions_taken += r.summary.actions_taken;
                summary.passed += r.summary.passed;
                summary.failed += r.summary.failed;
                summary.skipped += r.summary.skipped;
            }
            json!({
                "runbook": common(Report::name),
                "title": common(|r| &r.title),
                "file": common(|r| &r.file),
                "run_ids": runs.run_ids(),
                "summary": summary,
                "steps": runs.runs.iter().flat_map(|r| &r.steps).collect::<Vec<_>>(),
                "milestones": runs.runs.iter().flat_map(|r| &r.milestones).collect::<Vec<_>>(),
                "notes": runs.runs.iter().flat_map(|r| &r.notes).collect::<Vec<_>>(),
                "events": runs.events,
                "runs": entries,
            })
        }
    };
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// One run's entry in `runs`: the events stay at the top level, each with its `run_id`.
fn run(report: &Report) -> Json {
    let ts = |t: Option<jiff::Timestamp>| t.map(|t| format!("{t:.3}"));
    json!({
        "run_id": report.run_ids.first(),
        "runbook": report.name(),
        "title": report.title,
        "file": report.file,
        "actor": report.actor,
        "host": report.host,
        "mode": report.mode,
        "started": ts(report.started),
        "ended": ts(report.ended),
        "summary": report.summary,
        "steps": report.steps,
        "milestones": report.milestones,
        "notes": report.notes,
    })
}
