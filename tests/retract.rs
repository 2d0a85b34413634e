//! `runbook milestone TIMELINE --retract WORD`: a milestone recorded by mistake is withdrawn
//! by a `milestone` event with `retracted: true`; every report leaves it out and measures the
//! incident's times without it; a word never recorded is refused (exit 2) and writes nothing.

use std::path::Path;

use serde_json::{Value as Json, json};

use crate::support::*;

const RUN: &str = r#"
    name: retract
    title: Retract a milestone
    steps:
      - id: detect
        title: Detect
        wait: 1ms
        milestone: detected
      - {id: settle, title: Settle, wait: 30ms}
    "#;

/// Every report of `timeline` leaves the retracted `word` out: text, Markdown and HTML (its
/// timeline and chart markers), JUnit, and JSON's `milestones` (JSON's `events` are the
/// timeline's lines as recorded, retraction included).
pub(crate) fn assert_reports_leave_out(timeline: &Path, word: &str) {
    for format in ["text", "markdown", "html", "junit"] {
        // Milestones are shown in capitals; `resolved after -` is the summary's label.
        let out = report(timeline, format);
        assert!(
            !out.contains(&word.to_ascii_uppercase()),
            "{format} shows the retracted {word}:\n{out}"
        );
    }
    let json: Json = serde_json::from_str(&report(timeline, "json")).unwrap();
    for milestones in [&json["milestones"], &json["runs"][0]["milestones"]] {
        let words: Vec<String> = milestones
            .as_array()
            .expect("milestones")
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_ascii_lowercase())
            .collect();
        assert!(
            !words.contains(&word.to_ascii_lowercase()),
            "json milestones: {words:?}"
        );
    }
}

fn summary(timeline: &Path) -> Json {
    let json: Json = serde_json::from_str(&report(timeline, "json")).unwrap();
    json["summary"].clone()
}

#[test]
fn retract_on_the_command_line_and_every_report_honours_it() {
    let out = Test::new()
        .runbook(RUN)
        .args(["run"])
        .run()
        .run_outcome("completed", 0)
        .then()
        .args(["milestone", TIMELINE, "resolved"])
        .run()
        .status(0)
        .then()
        .args(["milestone", TIMELINE, "Escalaed"])
        .run()
        .status(0);
    let timeline = out.path(TIMELINE);
    let before = summary(&timeline);
    assert!(before["time_to_resolve_ms"].is_u64(), "{before}");
    let md = report(&timeline, "markdown");
    assert!(md.contains("ESCALAED"), "{md}");

    // A word never recorded: exit 2, nothing written.
    let unchanged = std::fs::read(&timeline).unwrap();
    let out = out
        .then()
        .args(["milestone", TIMELINE, "--retract", "mitigated"])
        .run()
        .status(2);
    assert_eq!(
        out.stderr,
        "error: no milestone MITIGATED to retract (recorded: DETECTED, RESOLVED, ESCALAED) in \
         timeline.jsonl\n"
    );
    assert_eq!(std::fs::read(&timeline).unwrap(), unchanged);

    // Case aside, the latest standing one of that word.
    let out = out
        .then()
        .args(["milestone", TIMELINE, "--retract", "ESCALAED"])
        .run()
        .status(0)
        .stderr_has("runbook: recorded the retraction of milestone ESCALAED #")
        .then()
        .args(["milestone", TIMELINE, "--retract", "resolved"])
        .run()
        .status(0);
    // Retracted already: nothing left to retract.
    let unchanged = std::fs::read(&timeline).unwrap();
    let out = out
        .then()
        .args(["milestone", TIMELINE, "--retract", "escalaed"])
        .run()
        .status(2);
    assert!(
        out.stderr
            .starts_with("error: no milestone ESCALAED to retract (recorded: DETECTED)"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read(&timeline).unwrap(), unchanged);

    let milestones: Vec<(Json, Json)> = out
        .events("milestone")
        .iter()
        .map(|e| (e["milestone"].clone(), e["retracted"].clone()))
        .collect();
    assert_eq!(
        milestones,
        [
            (json!("detected"), Json::Null),
            (json!("resolved"), Json::Null),
            (json!("Escalaed"), Json::Null),
            (json!("Escalaed"), json!(true)),
            (json!("resolved"), json!(true)),
        ]
    );
    assert_reports_leave_out(&timeline, "escalaed");
    assert_reports_leave_out(&timeline, "resolved");
    let after = summary(&timeline);
    assert_eq!(after["time_to_resolve_ms"], Json::Null, "{after}");
    assert_eq!(after["time_to_detect_ms"], before["time_to_detect_ms"]);

    // Recorded again later: measured from the new one.
    let out = out
        .then()
        .args(["milestone", TIMELINE, "resolved"])
        .run()
        .status(0);
    let again = summary(&out.path(TIMELINE));
    assert!(
        again["time_to_resolve_ms"].as_u64().unwrap()
            >= before["time_to_resolve_ms"].as_u64().unwrap(),
        "{before} then {again}"
    );
    let md = report(&out.path(TIMELINE), "markdown");
    assert_eq!(md.matches("RESOLVED").count(), 1, "{md}");
}

#[test]
fn milestone_needs_a_word_or_retract_but_not_both() {
    let out = Test::new()
        .runbook(RUN)
        .args(["run"])
        .run()
        .run_outcome("completed", 0)
        .then()
        .args(["milestone", TIMELINE])
        .run()
        .status(2);
    assert!(out.stderr.contains("<MILESTONE>"), "{}", out.stderr);
    let out = out
        .then()
        .args(["milestone", TIMELINE, "x", "--retract", "detected"])
        .run()
        .status(2);
    assert!(out.stderr.contains("cannot be used with"), "{}", out.stderr);
    assert_eq!(out.events("milestone").len(), 1);
}
