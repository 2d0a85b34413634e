//! What a notification says: which timeline events are sent, and the body of each in the two
//! formats. Built from the record as the timeline holds it (already redacted), read as JSON so
//! that event kinds added elsewhere (`approval_requested`) are sent without a change here.

use serde_json::{Map, Value as Json, json};

use crate::report::model::Summary;
use crate::timeline::Record;

/// The body of each POST.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The timeline event: the same JSON object as its line in the timeline (`run_finished`
    /// adds `summary`, `approval_requested` adds `approve_command`).
    Json,
    /// `{"text": "..."}`: one short line for Slack incoming webhooks and compatible chat tools.
    Slack,
}

/// The event kinds that are notified (a failed step is a `step_finished` with a failing outcome;
/// `run_resumed` stands for `run_started` in a run continued with `--resume`).
pub const KINDS: [&str; 6] = [
    "run_started",
    "run_resumed",
    "milestone",
    "approval_requested",
    "step_finished",
    "run_finished",
];

/// Step outcomes worth a message: the incident channel hears about what went wrong.
const FAILING: [&str; 3] = ["failed", "error", "blocked"];

/// What the notifier knows about the run beyond the event itself.
#[derive(Clone, Debug)]
pub struct RunInfo {
    pub runbook: String,
    /// The timeline's path as given (for the `runbook approve` command).
    pub timeline: String,
    /// A served run's `POST .../approve` URL (`runbook serve`), named beside the command.
    pub approve_url: Option<String>,
}

/// Whether `record` is one of the events sent.
pub fn wanted(record: &Json) -> bool {
    let kind = record["event"].as_str().unwrap_or_default();
    match kind {
        "step_finished" => FAILING.contains(&record["outcome"].as_str().unwrap_or_default()),
        _ => KINDS.contains(&kind),
    }
}

/// The body of the POST for `record` (a wanted one); `summary` is given for `run_finished`.
pub fn body(format: Format, info: &RunInfo, record: &Json, summary: Option<&Summary>) -> Json {
    match format {
        Format::Json => {
            let mut object = record.as_object().cloned().unwrap_or_default();
            if let Some(summary) = summary {
                object.insert("summary".into(), json!(summary));
            }
            if record["event"] == "approval_requested" {
                object.insert(
                    "approve_command".into(),
                    json!(approve_command(info, record)),
                );
                if let Some(url) = &info.approve_url {
                    object.insert("approve_url".into(), json!(url));
                }
            }
            Json::Object(object)
        }
        Format::Slack => json!({ "text": slack_text(info, record, summary) }),
    }
}

/// `runbook approve TIMELINE --step ID`, the path quoted for a POSIX shell when it needs it.
fn approve_command(info: &RunInfo, record: &Json) -> String {
    let mut command = format!("runbook approve {}", shell_word(&info.timeline));
    if let Some(step) = record["step"].as_str() {
        command.push_str(" --step ");
        command.push_str(&shell_word(step));
    }
    command
}

fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The one line a chat shows.
pub fn slack_text(info: &RunInfo, record: &Json, summary: Option<&Summary>) -> String {
    let head = format!(
        "{} (run {})",
        chat(&info.runbook),
        chat(record["run_id"].as_str().unwrap_or_default())
    );
    let field = |name: &str| chat(&text_of(&record[name]));
    match record["event"].as_str().unwrap_or_default() {
        "run_started" => format!(
            ":arrow_forward: {head} started by {}: {} (timeline {})",
            field("actor"),
            field("title"),
            field("timeline")
        ),
        "run_resumed" => {
            let mut line = format!(":arrow_forward: {head} resumed by {}", field("actor"));
            if record["next_step"].is_string() {
                line.push_str(&format!(" at step {}", field("next_step")));
            }
            line.push_str(&format!(" (timeline {})", chat(&info.timeline)));
            line
        }
        "milestone" => {
            let retracted = record["retracted"] == true;
            let mut line = format!(
                ":round_pushpin: {head} milestone {}{}",
                field("milestone"),
                if retracted { " retracted" } else { "" }
            );
            if record["step"].is_string() {
                line.push_str(&format!(" at step {}", field("step")));
            }
            line.push_str(&format!(" by {}", field("actor")));
            line
        }
        "approval_requested" => {
            let mut line = format!(
                ":raised_hand: {head} approval needed for step {} ({} approval(s) by {}): {}",
                field("step"),
                field("needed"),
                field("deadline"),
                chat(&approve_command(info, record))
            );
            if let Some(url) = &info.approve_url {
                line.push_str(&format!(r#" or POST {{"actor": "NAME"}} to {}"#, chat(url)));
            }
            line
        }
        "step_finished" => {
            let mut line = format!(
                ":rotating_light: {head} {} {}: {}",
                field("outcome").to_uppercase(),
                field("step"),
                field("summary")
            );
            if let Some(failures) = record["failures"].as_array().filter(|f| !f.is_empty()) {
                let failures: Vec<String> = failures.iter().map(|f| chat(&text_of(f))).collect();
                line.push_str(&format!(" ({})", failures.join("; ")));
            }
            line
        }
        "run_finished" => {
            let outcome = record["outcome"].as_str().unwrap_or_default();
            let icon = if outcome == "completed" {
                ":white_check_mark:"
            } else {
                ":x:"
            };
            let mut line = format!(
                "{icon} {head} {}",
                if outcome == "completed" {
                    "completed".to_string()
                } else {
                    outcome.to_uppercase()
                }
            );
            if record["reason"].is_string() {
                line.push_str(&format!(": {}", field("reason")));
            }
            let ms = |v: Option<u64>| crate::report::model::human_ms(v);
            let duration = summary
                .and_then(|s| s.duration_ms)
                .or(record["duration_ms"].as_u64());
            line.push_str(&format!(" in {}", ms(duration)));
            if let Some(s) = summary {
                line.push_str(&format!(
                    " (detect {}, mitigate {}, resolve {})",
                    ms(s.time_to_detect_ms),
                    ms(s.time_to_mitigate_ms),
                    ms(s.time_to_resolve_ms)
                ));
            }
            line
        }
        other => format!("{head} {}", chat(other)),
    }
}

fn text_of(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Null => "-".into(),
        other => other.to_string(),
    }
}

/// Text as a chat message shows it and nothing more: control characters escaped, and Slack's
/// three markup characters as its entities, so text read from a system cannot mention
/// `<!channel>` or forge a link.
fn chat(text: &str) -> String {
    crate::escape::controls(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The record as its timeline line holds it.
pub fn as_json(record: &Record) -> Json {
    serde_json::to_value(record).unwrap_or_else(|_| Json::Object(Map::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> RunInfo {
        RunInfo {
            runbook: "lb-502".into(),
            timeline: "timelines/my run.jsonl".into(),
            approve_url: None,
        }
    }

    #[test]
    fn failed_steps_are_sent_passed_ones_not() {
        let step = |outcome: &str| json!({"event": "step_finished", "outcome": outcome});
        assert!(wanted(&step("failed")));
        assert!(wanted(&step("error")));
        assert!(wanted(&step("blocked")));
        assert!(!wanted(&step("passed")));
        assert!(!wanted(&step("skipped")));
        assert!(!wanted(&json!({"event": "step_started"})));
        assert!(!wanted(&json!({"event": "note"})));
        assert!(wanted(&json!({"event": "approval_requested"})));
    }

    #[test]
    fn slack_text_keeps_system_text_as_text() {
        let record = json!({"event": "step_finished", "run_id": "r1", "step": "probe",
            "outcome": "failed", "summary": "<!channel> \u{1b}[2J & co"});
        assert_eq!(
            slack_text(&info(), &record, None),
            ":rotating_light: lb-502 (run r1) FAILED probe: &lt;!channel&gt; \\x1b[2J &amp; co"
        );
    }

    #[test]
    fn approval_requests_say_how_to_approve() {
        let record = json!({"event": "approval_requested", "run_id": "r1", "step": "drain",
            "needed": 2, "deadline": "2026-12-01T10:00:00Z", "actor": "ci"});
        assert_eq!(
            slack_text(&info(), &record, None),
            ":raised_hand: lb-502 (run r1) approval needed for step drain (2 approval(s) by \
             2026-12-01T10:00:00Z): runbook approve 'timelines/my run.jsonl' --step drain"
        );
    }

    #[test]
    fn approval_requests_name_the_command() {
        let record = json!({"event": "approval_requested", "run_id": "r1", "step": "drain",
            "needed": 1, "deadline": "2026-12-01T10:00:00Z"});
        let body = body(Format::Json, &info(), &record, None);
        assert_eq!(
            body["approve_command"],
            "runbook approve 'timelines/my run.jsonl' --step drain"
        );
    }
}
