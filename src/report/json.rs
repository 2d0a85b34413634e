//! The events and a computed summary, for scripts. The shape is stable: `runbook`, `title`,
//! `file`, `run_ids`, `summary`, `steps`, `milestones`, `notes`, `events` (the timeline lines
//! as recorded).

use serde_json::json;

use super::model::Report;

pub fn render(report: &Report) -> String {
    let value = json!({
        "runbook": report.name(),
        "title": report.title,
        "file": report.file,
        "run_ids": report.run_ids,
        "summary": report.summary,
        "steps": report.steps,
        "milestones": report.milestones,
        "notes": report.notes,
        "events": report.events,
    });
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}
