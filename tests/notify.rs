//! `runbook run --notify URL`: the run's key events POSTed to webhooks, received by a real
//! HTTP server on 127.0.0.1 that logs every request.

use std::time::Duration;

use serde_json::{Value as Json, json};

use runbook::redact::MASK;

use crate::support::*;

/// Detected, one failed check, resolved: every kind of notification but approvals.
const INCIDENT: &str = r#"
    name: notify
    title: Notifications
    steps:
      - id: detect
        title: 502s confirmed
        http: {url: "$SERVER/status/502", timeout: 2s}
        expect: status == 502
        milestone: detected
      - id: probe
        title: Launchpad answers
        http: {url: "$SERVER/status/503", timeout: 2s}
        expect: status == 200
        on_fail: continue
      - id: recovered
        title: LB healthy again
        http: {url: "$SERVER/status/200", timeout: 2s}
        milestone: resolved
    "#;

/// The bodies `path` received, in order, as JSON.
fn received(server: &Server, path: &str) -> Vec<Json> {
    server
        .requests_to(path)
        .iter()
        .map(|r| {
            assert_eq!(r.method, "POST");
            assert_eq!(r.header("content-type"), Some("application/json"));
            serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body))
        })
        .collect()
}

/// The timeline lines a notification is sent for, in order.
fn notified(out: &Output) -> Vec<Json> {
    out.timeline()
        .into_iter()
        .filter(|e| match e["event"].as_str().unwrap() {
            "run_started" | "milestone" | "approval_requested" | "run_finished" => true,
            "step_finished" => {
                ["failed", "error", "blocked"].contains(&e["outcome"].as_str().unwrap())
            }
            _ => false,
        })
        .collect()
}

#[test]
fn json_sends_each_key_event_as_its_timeline_line_to_every_webhook() {
    let server = Server::start();
    server.sequence("/hook", [200]).sequence("/other", [204]);
    let out = Test::new()
        .server(&server)
        .runbook(INCIDENT)
        .args(["run", "--notify", &format!("{}/hook", server.url())])
        .args(["--notify", &format!("{}/other", server.url())])
        .run()
        .status(0);
    let lines = notified(&out);
    let kinds: Vec<&str> = lines.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "run_started",
            "milestone",
            "step_finished",
            "milestone",
            "run_finished"
        ]
    );
    assert_eq!(lines[2]["step"], "probe");
    for path in ["/hook", "/other"] {
        let mut bodies = received(&server, path);
        assert_eq!(bodies.len(), lines.len(), "{path}: {bodies:#?}");
        // `run_finished` adds the incident's durations; everything else is the line itself.
        let summary = bodies
            .last_mut()
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove("summary")
            .expect("run_finished has a summary");
        assert_eq!(bodies, lines, "{path}");
        for key in ["time_to_detect_ms", "time_to_resolve_ms", "duration_ms"] {
            assert!(summary[key].is_u64(), "{key}: {summary}");
        }
        assert_eq!(summary["time_to_mitigate_ms"], Json::Null);
        assert_eq!(summary["outcome"], "completed");
        assert_eq!(summary["failed"], 1);
    }
    assert!(out.events("note").is_empty(), "{:?}", out.events("note"));
}

#[test]
fn slack_sends_one_line_of_text_per_event() {
    let server = Server::start();
    server.sequence("/hook", [200]);
    let out = Test::new()
        .server(&server)
        .runbook(INCIDENT)
        .args(["run", "--notify-format", "slack"])
        .args(["--notify", &format!("{}/hook", server.url())])
        .run()
        .status(0);
    let bodies = received(&server, "/hook");
    let started = &out.events("run_started")[0];
    let run = started["run_id"].as_str().unwrap();
    let probe = out.finished("probe");
    assert_eq!(bodies.len(), 5, "{bodies:#?}");
    for body in &bodies {
        assert_eq!(body.as_object().unwrap().len(), 1, "only `text`: {body}");
    }
    let text: Vec<&str> = bodies.iter().map(|b| b["text"].as_str().unwrap()).collect();
    assert_eq!(
        text[0],
        format!(
            ":arrow_forward: notify (run {run}) started by {}: Notifications (timeline timeline.jsonl)",
            started["actor"].as_str().unwrap()
        )
    );
    let actor = out.events("milestone")[0]["actor"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        text[1],
        format!(":round_pushpin: notify (run {run}) milestone detected at step detect by {actor}")
    );
    assert_eq!(
        text[2],
        format!(
            ":rotating_light: notify (run {run}) FAILED probe: {} ({})",
            probe["summary"].as_str().unwrap(),
            probe["failures"][0].as_str().unwrap()
        )
    );
    assert!(text[2].contains("503"), "{}", text[2]);
    assert_eq!(
        text[3],
        format!(
            ":round_pushpin: notify (run {run}) milestone resolved at step recovered by {actor}"
        )
    );
    let end = format!(":white_check_mark: notify (run {run}) completed in ");
    assert!(text[4].starts_with(&end), "{}", text[4]);
    assert!(text[4].contains(" (detect "), "{}", text[4]);
    assert!(text[4].contains(", mitigate -, resolve "), "{}", text[4]);
}

/// The secret that `LEAKY` prints in a failing step's output.
const TOKEN: &str = "nT9-notify-s3cr3t";

/// A failing step whose summary quotes the declared secret `RB_NOTIFY_TOKEN`.
const LEAKY: &str = r#"
    name: leaky
    title: A failing step that quotes a secret
    secrets: [RB_NOTIFY_TOKEN]
    steps:
      - id: echo
        title: The command prints the token and fails
        action: false
        command: {shell: "echo 'token {{ secrets.RB_NOTIFY_TOKEN }} rejected' >&2; exit 3"}
    "#;

#[test]
fn secrets_are_masked_in_notifications() {
    let server = Server::start();
    server.sequence("/hook", [200]).sequence("/other", [200]);
    let out = Test::new()
        .server(&server)
        .runbook(LEAKY)
        .env("RB_NOTIFY_TOKEN", TOKEN)
        .args(["run", "--notify", &format!("{}/hook", server.url())])
        .args(["--notify", &format!("{}/other", server.url())])
        .args(["--notify-format", "json"])
        .run()
        .status(1)
        .no_secret_anywhere(TOKEN);
    let failed = out.finished("echo");
    assert_eq!(failed["outcome"], "failed");
    assert!(
        failed["summary"].as_str().unwrap().contains(MASK),
        "{failed}"
    );
    let bodies = received(&server, "/hook");
    let step = bodies
        .iter()
        .find(|b| b["event"] == "step_finished")
        .expect("the failed step was sent");
    assert_eq!(step, &failed);
    for request in server.requests() {
        assert!(!request.body.contains(TOKEN), "{}", request.body);
    }
}

#[test]
fn slack_text_masks_secrets_too() {
    let server = Server::start();
    server.sequence("/slack", [200]);
    Test::new()
        .server(&server)
        .runbook(LEAKY)
        .env("RB_NOTIFY_TOKEN", TOKEN)
        .args(["run", "--notify-format", "slack"])
        .args(["--notify", &format!("{}/slack", server.url())])
        .run()
        .status(1)
        .no_secret_anywhere(TOKEN);
    let bodies = received(&server, "/slack");
    let failed = bodies
        .iter()
        .map(|b| b["text"].as_str().unwrap())
        .find(|t| t.contains(" FAILED echo: "))
        .expect("the failed step was sent");
    assert!(failed.contains(MASK), "{failed}");
    assert!(!failed.contains(TOKEN), "{failed}");
}

#[test]
fn a_failing_webhook_gets_three_attempts_then_a_note_and_the_run_is_unchanged() {
    let server = Server::start();
    server.sequence("/down", [500]).sequence("/hook", [200]);
    // The credentials and the query of the URL stay out of the notes.
    let down = format!(
        "http://ops:hunter2-pw@127.0.0.1:{}/down?token=q-s3cret",
        server.port()
    );
    let out = Test::new()
        .server(&server)
        .runbook(INCIDENT)
        .args(["run", "--notify", &down])
        .args(["--notify", &format!("{}/hook", server.url())])
        .run()
        .status(0)
        .run_outcome("completed", 0);
    let attempts = server.requests_to("/down");
    assert_eq!(attempts.len(), 5 * 3, "three attempts for each of 5 events");
    // Attempts of one event come one after the other, the same body each time.
    for group in attempts.chunks(3) {
        assert!(group.iter().all(|r| r.body == group[0].body));
    }
    assert_eq!(received(&server, "/hook").len(), 5);
    let notes: Vec<String> = out
        .events("note")
        .iter()
        .map(|n| n["text"].as_str().unwrap().to_string())
        .collect();
    let shown = format!("http://127.0.0.1:{}/down", server.port());
    let expected: Vec<String> = [
        "run_started",
        "milestone",
        "step_finished",
        "milestone",
        "run_finished",
    ]
    .iter()
    .map(|kind| {
        format!(
            "notification to {shown} failed: {kind}: HTTP 500 Internal Server Error (after 3 attempts)"
        )
    })
    .collect();
    assert_eq!(notes, expected);
    let text = out.timeline_text();
    assert!(!text.contains("hunter2-pw") && !text.contains("q-s3cret"));
}

#[test]
fn a_hanging_webhook_delays_the_end_of_the_run_by_the_grace_period_at_most() {
    let server = Server::start();
    server.sequence("/hook", [200]);
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: quick
            title: One quick check
            steps:
              - id: check
                title: Up
                http: {url: "$SERVER/status/200", timeout: 2s}
            "#,
        )
        .args(["run", "--notify", &format!("{}/hang", server.url())])
        .args(["--notify", &format!("{}/hook", server.url())])
        .run()
        .status(0)
        .run_outcome("completed", 0);
    // Without the grace period, two events of three 5 s attempts each would take 30 s.
    assert!(
        out.elapsed < Duration::from_secs(14),
        "the run took {:?}",
        out.elapsed
    );
    let kinds: Vec<Json> = received(&server, "/hook")
        .iter()
        .map(|b| b["event"].clone())
        .collect();
    assert_eq!(kinds, [json!("run_started"), json!("run_finished")]);
    let notes: Vec<Json> = out
        .events("note")
        .iter()
        .map(|n| n["text"].clone())
        .collect();
    assert_eq!(
        notes,
        [json!(format!(
            "2 notifications to {}/hang dropped: still pending 5 s after the run ended",
            server.url()
        ))]
    );
}

#[test]
fn notify_urls_are_checked_before_the_run() {
    let out = Test::new()
        .runbook(
            r#"
            name: quick
            title: Nothing
            steps:
              - {id: wait, title: Wait, wait: 1ms}
            "#,
        )
        .args(["run", "--notify", "ftp://ops:pw@example.com/x"])
        .run()
        .status(2)
        .stderr_has("--notify ftp://example.com/x: `ftp:` URLs are not supported (http or https)");
    assert!(!out.path("timeline.jsonl").exists());
}

#[test]
fn drills_send_no_notifications() {
    Test::new()
        .args([
            "drill",
            "classlink-2020",
            "--notify",
            "http://127.0.0.1:9/hook",
        ])
        .run()
        .status(2)
        .stderr_has("unexpected argument '--notify'");
}

#[test]
fn a_blocked_action_is_sent_and_a_resumed_run_reports_durations_over_the_whole_run() {
    let server = Server::start();
    server.sequence("/hook", [200]);
    let hook = format!("{}/hook", server.url());
    let first = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: resumable
            title: Detect, then act
            steps:
              - id: detect
                title: 502s confirmed
                http: {url: "$SERVER/status/502", timeout: 2s}
                expect: status == 502
                milestone: detected
              - id: refresh
                title: Refresh the LB
                http: {url: "$SERVER/status/200", method: POST, timeout: 2s}
                milestone: mitigated
            "#,
        )
        .args(["run", "--notify", &hook])
        .run()
        .run_outcome("blocked", 4);
    let kinds = |bodies: &[Json]| -> Vec<String> {
        bodies
            .iter()
            .map(|b| b["event"].as_str().unwrap().to_string())
            .collect()
    };
    let bodies = received(&server, "/hook");
    assert_eq!(
        kinds(&bodies),
        ["run_started", "milestone", "step_finished", "run_finished"]
    );
    assert_eq!(bodies[2]["outcome"], "blocked");
    assert_eq!(bodies[2]["step"], "refresh");
    let out = first
        .then()
        .args([
            "run",
            "--resume",
            "timeline.jsonl",
            "--yes",
            "--notify",
            &hook,
        ])
        .run()
        .run_outcome("completed", 0);
    let bodies = received(&server, "/hook");
    assert_eq!(
        kinds(&bodies[4..]),
        ["run_resumed", "milestone", "run_finished"]
    );
    let resumed = &out.events("run_resumed")[0];
    assert_eq!(&bodies[4], resumed);
    // The durations count from the first start: detection happened before the resume.
    let summary = &bodies[6]["summary"];
    assert!(summary["time_to_detect_ms"].is_u64(), "{summary}");
    assert!(summary["time_to_mitigate_ms"].is_u64(), "{summary}");
}

#[test]
fn an_approval_request_is_sent_with_the_command_that_approves_it() {
    // Issue 15's approvals and notifications together: nobody approves within the timeout, so
    // the webhook gets the request (with the `runbook approve` line) and the blocked action.
    let server = Server::start();
    server.sequence("/hook", [200]);
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: approve-notify
            title: Approval notified
            steps:
              - id: refresh
                title: Refresh the load balancer
                http: {url: "$SERVER/status/202", method: POST, timeout: 2s}
            "#,
        )
        .args(["run", "--approvals", "1", "--approval-timeout", "1s"])
        .args(["--notify", &format!("{}/hook", server.url())])
        .run()
        .status(4);
    out.outcome("refresh", "blocked");
    let bodies = received(&server, "/hook");
    let kinds: Vec<&str> = bodies
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "run_started",
            "approval_requested",
            "step_finished",
            "run_finished"
        ],
        "{bodies:#?}"
    );
    let request = &bodies[1];
    assert_eq!(request["step"], "refresh");
    assert_eq!(request["needed"], 1);
    let command = request["approve_command"].as_str().unwrap_or_default();
    assert!(
        command.starts_with("runbook approve ") && command.contains("--step refresh"),
        "{request}"
    );
    assert_eq!(bodies[2]["outcome"], "blocked");
    assert!(
        server.requests_to("/status/202").is_empty(),
        "the action never ran"
    );
}
