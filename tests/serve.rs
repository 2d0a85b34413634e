//! `runbook serve`: Alertmanager's webhook starts runs of the real binary in the background;
//! every status of the answer, the token, approvals over HTTP (initiator excluded, distinct
//! people, denial, timeout), rate limits, notifications, `alert` in templates, metrics and
//! SIGTERM. The test server's request log proves whether an action was sent.

use std::time::Duration;

use serde_json::{Value as Json, json};

use crate::support::*;

/// A temp dir with `guarded.yaml` (GUARDED against `server`) and a serve with `route_extra`
/// lines added to its one route (matching `alertname: LoadBalancer502`).
fn serving(server: &Server, route_extra: &str) -> (tempfile::TempDir, Serving) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("guarded.yaml"),
        unindent(GUARDED).replace("$SERVER", &server.url()),
    )
    .unwrap();
    let routes = format!(
        "routes:\n  - match: {{alertname: LoadBalancer502}}\n    runbook: guarded.yaml\n{}",
        route_extra
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| format!("    {}\n", l.trim()))
            .collect::<String>()
    );
    let serving = Serving::start(dir.path(), &routes, &[]);
    (dir, serving)
}

fn lb502(fingerprint: &str) -> Json {
    notification(&[(
        "firing",
        json!({"alertname": "LoadBalancer502", "severity": "page"}),
        fingerprint,
    )])
}

fn started(serving: &Serving, fingerprint: &str) -> Json {
    let runs = serving.notify(&lb502(fingerprint));
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "started", "{runs:?}");
    runs[0].clone()
}

fn approve(serving: &Serving, run_id: &str, actor: &str) -> (u16, Json) {
    serving.call(
        "POST",
        &format!("/v1/runs/{run_id}/approve"),
        &json!({ "actor": actor }).to_string(),
    )
}

/// How many timelines the serve in `dir` wrote.
fn timelines(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("timelines"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
                .count()
        })
        .unwrap_or(0)
}

fn event<'a>(events: &'a [Json], name: &str) -> &'a Json {
    events
        .iter()
        .find(|e| e["event"] == name)
        .unwrap_or_else(|| panic!("no {name} in {events:#?}"))
}

fn finished<'a>(events: &'a [Json], step: &str) -> &'a Json {
    events
        .iter()
        .find(|e| e["event"] == "step_finished" && e["step"] == step)
        .unwrap_or_else(|| panic!("no step_finished of {step}"))
}

#[test]
fn an_alert_starts_a_run_whose_action_waits_for_another_persons_approval() {
    let server = Server::start();
    let (_dir, serving) = serving(
        &server,
        &format!(
            "notify: [{{webhook: \"{}/hook\", format: json}}]",
            server.url()
        ),
    );
    let run = started(&serving, "c0ffee01");
    let run_id = run["run_id"].as_str().unwrap();
    assert_eq!(run["runbook"], "guarded");
    assert_eq!(run["fingerprint"], "c0ffee01");
    let timeline = run["timeline"].as_str().unwrap();
    // Absolute, so the `runbook approve` it goes into works from any directory.
    assert!(
        timeline.starts_with(&format!("{}/timelines/guarded-", serving.dir.display())),
        "{timeline}"
    );
    let listed = serving.wait_state(run_id, "awaiting_approval");
    assert_eq!(listed["timeline"], timeline);
    assert_eq!(listed["fingerprint"], "c0ffee01");
    assert!(listed["started"].as_str().unwrap().ends_with('Z'));
    assert_eq!(server.count("/echo"), 0, "the action waits");

    // The alert started the run: its own approval is recorded and does not count.
    let events = serving.events(timeline);
    let run_started = event(&events, "run_started");
    let initiator = run_started["actor"].as_str().unwrap();
    assert_eq!(initiator, "alertmanager:LoadBalancer502:c0ffee01");
    assert_eq!(run_started["alert"]["labels"]["severity"], "page");
    assert_eq!(run_started["alert"]["fingerprint"], "c0ffee01");
    assert_eq!(run_started["alert"]["status"], "firing");
    let requested = event(&events, "approval_requested");
    assert_eq!(requested["step"], "act");
    assert_eq!(requested["needed"], 1);
    let (status, body) = approve(&serving, run_id, initiator);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["counted"], false);
    assert!(
        body["note"].as_str().unwrap().contains("started the run"),
        "{body}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(serving.run(run_id)["state"], "awaiting_approval");
    assert_eq!(server.count("/echo"), 0);

    let (status, body) = approve(&serving, run_id, "alice");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["counted"], true);
    assert_eq!(body["step"], "act");
    assert_eq!(body["event"], "approval");
    serving.wait_state(run_id, "completed");
    assert_eq!(server.count("/echo"), 1, "the action ran once");
    let events = serving.events(timeline);
    let act = finished(&events, "act");
    assert_eq!(act["outcome"], "passed");
    assert!(serving.dir.join("tidy.txt").exists(), "finally ran");

    // The report says the alert's own approval did not count.
    let text = report(&serving.dir.join(timeline), "text");
    assert!(
        text.contains(&format!("[act] approved by {initiator}"))
            && text.contains("(not counted: they started the run)"),
        "{text}"
    );
    assert!(!text.contains("approved by alice (not counted"), "{text}");

    // Nothing awaits now; an unknown run is not found.
    assert_eq!(approve(&serving, run_id, "bob").0, 409);
    assert_eq!(approve(&serving, "no-such-run", "bob").0, 404);

    // The route's webhook got the approval request with both ways to approve, and the end
    // (delivered right after `run_finished` is written).
    let hooks = || -> Vec<Json> {
        server
            .requests_to("/hook")
            .iter()
            .map(|r| serde_json::from_str(&r.body).unwrap())
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !hooks().iter().any(|h| h["event"] == "run_finished") {
        assert!(
            std::time::Instant::now() < deadline,
            "run_finished never notified"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let hooks = hooks();
    let request = hooks
        .iter()
        .find(|h| h["event"] == "approval_requested")
        .expect("approval_requested notified");
    assert_eq!(
        request["approve_url"],
        format!("{}/v1/runs/{run_id}/approve", serving.url())
    );
    assert_eq!(
        request["approve_command"],
        format!("runbook approve {timeline} --step act")
    );

    assert_eq!(
        serving.metric("runbook_serve_notifications_total{status=\"started\"}"),
        1.0
    );
    assert_eq!(
        serving.metric("runbook_serve_runs{state=\"completed\"}"),
        1.0
    );
    assert_eq!(
        serving.metric("runbook_serve_approval_wait_seconds_count"),
        1.0
    );
}

#[test]
fn every_status_of_the_answer() {
    let server = Server::start();
    let (dir, serving) = serving(&server, "");
    let first = started(&serving, "fp-one");
    let run_id = first["run_id"].as_str().unwrap();
    serving.wait_state(run_id, "awaiting_approval");

    // Repeated while its run is active: deduplicated, naming that run. Another alert of the
    // same route starts its own run; an alert no route takes starts nothing.
    let runs = serving.notify(&notification(&[
        ("firing", json!({"alertname": "LoadBalancer502"}), "fp-one"),
        ("firing", json!({"alertname": "LoadBalancer502"}), "fp-two"),
        ("firing", json!({"alertname": "DiskFull"}), "fp-three"),
    ]));
    assert_eq!(runs[0]["status"], "deduplicated");
    assert_eq!(runs[0]["run_id"], run_id);
    assert_eq!(runs[0]["timeline"], first["timeline"]);
    assert_eq!(runs[1]["status"], "started");
    assert_ne!(runs[1]["run_id"], run_id);
    serving.wait_state(runs[1]["run_id"].as_str().unwrap(), "awaiting_approval");
    assert_eq!(runs[2]["status"], "no_route");
    // The same alert twice in one notification: one run.
    let twice = serving.notify(&notification(&[
        ("firing", json!({"alertname": "LoadBalancer502"}), "fp-four"),
        ("firing", json!({"alertname": "LoadBalancer502"}), "fp-four"),
    ]));
    assert_eq!(twice[0]["status"], "started");
    assert_eq!(twice[1]["status"], "deduplicated");
    assert_eq!(twice[1]["run_id"], twice[0]["run_id"]);
    serving.wait_state(twice[0]["run_id"].as_str().unwrap(), "awaiting_approval");
    assert_eq!(runs[2]["run_id"], Json::Null);
    assert_eq!(runs[2]["runbook"], Json::Null);
    assert_eq!(runs[2]["fingerprint"], "fp-three");
    for key in ["run_id", "runbook", "timeline", "fingerprint", "status"] {
        assert!(runs[2].get(key).is_some(), "{key} is always there");
    }

    // Resolved: a note in that run's timeline.
    let runs = serving.notify(&notification(&[(
        "resolved",
        json!({"alertname": "LoadBalancer502"}),
        "fp-one",
    )]));
    assert_eq!(runs[0]["status"], "resolved");
    assert_eq!(runs[0]["run_id"], run_id);
    let events = serving.events(first["timeline"].as_str().unwrap());
    let note = events
        .iter()
        .find(|e| e["event"] == "note")
        .expect("a note");
    assert_eq!(note["text"], "alert resolved");

    assert_eq!(timelines(dir.path()), 3, "three runs started, no more");
    assert_eq!(serving.runs().len(), 3);
    assert!(serving.log().contains("(fingerprint fp-one): deduplicated"));
    assert_eq!(
        serving.metric("runbook_serve_notifications_total{status=\"deduplicated\"}"),
        2.0
    );
    assert_eq!(
        serving.metric("runbook_serve_notifications_total{status=\"no_route\"}"),
        1.0
    );
    assert_eq!(
        serving.metric("runbook_serve_runs{state=\"awaiting_approval\"}"),
        3.0
    );
}

#[test]
fn a_route_over_its_hourly_budget_starts_nothing() {
    let server = Server::start();
    let (dir, serving) = serving(&server, "max_runs_per_hour: 2");
    for fingerprint in ["a", "b"] {
        let run = started(&serving, fingerprint);
        serving.wait_state(run["run_id"].as_str().unwrap(), "awaiting_approval");
    }
    let runs = serving.notify(&lb502("c"));
    assert_eq!(runs[0]["status"], "rate_limited");
    assert_eq!(runs[0]["run_id"], Json::Null);
    assert_eq!(runs[0]["runbook"], "guarded");
    assert_eq!(timelines(dir.path()), 2);
    assert!(
        serving
            .log()
            .contains("alert LoadBalancer502 (fingerprint c): rate limited"),
        "{}",
        serving.log()
    );
    assert_eq!(
        serving.metric("runbook_serve_notifications_total{status=\"rate_limited\"}"),
        1.0
    );
}

#[test]
fn a_malformed_notification_gets_400_with_the_reason_and_starts_nothing() {
    let server = Server::start();
    let (dir, serving) = serving(&server, "");
    let cases = [
        ("{not json", "not an Alertmanager webhook payload"),
        (
            r#"{"version":"4","status":"firing"}"#,
            "missing field `alerts`",
        ),
        (
            r#"{"version":"3","alerts":[]}"#,
            "version `3` is not supported",
        ),
        (
            r#"{"version":"4","alerts":[{"status":"firing","labels":{"alertname":["LoadBalancer502"]}}]}"#,
            "a label value is a string",
        ),
        (r#"[1, 2]"#, "not an Alertmanager webhook payload"),
    ];
    for (body, reason) in cases {
        let (status, answer) = serving.call("POST", "/v1/alertmanager", body);
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(reason),
            "{body}: {answer}"
        );
    }
    assert_eq!(timelines(dir.path()), 0);
    assert_eq!(
        serving.metric("runbook_serve_notifications_total{status=\"invalid\"}"),
        5.0
    );
}

#[test]
fn every_endpoint_but_metrics_needs_the_token() {
    let server = Server::start();
    let (dir, serving) = serving(&server, "");
    let payload = lb502("x").to_string();
    let wrong = [
        None,
        Some("Bearer not-the-token-at-all".to_string()),
        Some(format!("Basic {TOKEN}")),
        Some(format!("Bearer {TOKEN}x")),
        Some(format!("Bearer {}", &TOKEN[..TOKEN.len() - 1])),
    ];
    for auth in &wrong {
        for (method, path) in [
            ("POST", "/v1/alertmanager"),
            ("GET", "/v1/runs"),
            ("POST", "/v1/runs/x/approve"),
            ("POST", "/v1/runs/x/deny"),
        ] {
            let (status, _) = serving.call_as(method, path, auth.as_deref(), &payload);
            assert_eq!(status, 401, "{method} {path} with {auth:?}");
        }
    }
    assert_eq!(timelines(dir.path()), 0);
    // Scraped without a token, as every exporter is.
    assert!(
        serving
            .metrics()
            .contains("runbook_serve_notifications_total")
    );
    assert_eq!(
        serving.metric("runbook_serve_notifications_total{status=\"unauthorized\"}"),
        20.0
    );
}

#[test]
fn a_serve_without_a_usable_token_does_not_start() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("guarded.yaml"),
        unindent(GUARDED).replace("$SERVER", &server.url()),
    )
    .unwrap();
    let routes = "token_env: PAGER_TOKEN\nroutes:\n  - runbook: guarded.yaml\n";
    // Unset (RUNBOOK_SERVE_TOKEN is set, but the file names another variable).
    let (status, log) = Serving::spawn(dir.path(), routes, &[], &[]).wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(2), "{log}");
    assert!(log.contains("set `PAGER_TOKEN`"), "{log}");
    // Too short.
    let (status, log) = Serving::spawn(dir.path(), routes, &[("PAGER_TOKEN", "short-token")], &[])
        .wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(2), "{log}");
    assert!(
        log.contains("11 characters long: it needs at least 16"),
        "{log}"
    );
    assert!(
        !log.contains("short-token"),
        "the token is not shown: {log}"
    );
    // Long enough: it listens.
    let serving = Serving::start(
        dir.path(),
        routes,
        &[("PAGER_TOKEN", "a-long-enough-token-value")],
    );
    let (status, _) = serving.call_as(
        "GET",
        "/v1/runs",
        Some("Bearer a-long-enough-token-value"),
        "",
    );
    assert_eq!(status, 200);
}

#[test]
fn a_bad_routes_file_is_reported_at_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let routes = "routes:\n  - match: {alertname: X}\n    runbok: missing.yaml\n    mode: yolo\n";
    let (status, log) = Serving::spawn(dir.path(), routes, &[], &[]).wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(2), "{log}");
    assert!(
        log.contains("routes.yaml:3:5: unknown key `runbok` in route 1 (did you mean `runbook`?)"),
        "{log}"
    );
    assert!(
        log.contains("routes.yaml:4:11: `mode` is `diagnose`"),
        "{log}"
    );
    assert!(
        log.contains("routes.yaml:2:5: route 1 has no `runbook:`"),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");

    // A runbook that needs a secret the serve's environment lacks: refused at start.
    std::fs::write(
        dir.path().join("needs.yaml"),
        "name: needs\ntitle: Needs a secret\nsecrets: [ADMIN_TOKEN]\nsteps:\n  - id: w\n    title: W\n    wait: 0s\n",
    )
    .unwrap();
    let (status, log) = Serving::spawn(dir.path(), "routes:\n  - runbook: needs.yaml\n", &[], &[])
        .wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(2), "{log}");
    assert!(log.contains("needs secret `ADMIN_TOKEN`"), "{log}");
}

#[test]
fn approvals_come_from_distinct_people_and_a_denial_skips_the_action() {
    let server = Server::start();
    let (_dir, serving) = serving(&server, "approvals: 2");
    let run = started(&serving, "two");
    let run_id = run["run_id"].as_str().unwrap();
    serving.wait_state(run_id, "awaiting_approval");
    let events = serving.events(run["timeline"].as_str().unwrap());
    assert_eq!(event(&events, "approval_requested")["needed"], 2);
    assert_eq!(approve(&serving, run_id, "alice").1["counted"], true);
    let (_, again) = approve(&serving, run_id, "alice");
    assert_eq!(again["counted"], false, "the same person counts once");
    assert!(again["note"].as_str().unwrap().contains("already approved"));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(serving.run(run_id)["state"], "awaiting_approval");

    let (status, body) = serving.call(
        "POST",
        &format!("/v1/runs/{run_id}/deny"),
        &json!({"actor": "bob", "reason": "the LB is fine"}).to_string(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["event"], "denial");
    serving.wait_state(run_id, "completed");
    let events = serving.events(run["timeline"].as_str().unwrap());
    let act = finished(&events, "act");
    assert_eq!(act["outcome"], "skipped");
    assert_eq!(act["summary"], "denied by bob: the LB is fine");
    assert_eq!(server.count("/echo"), 0, "a denied action is never sent");

    // A body without an actor is refused, with the reason.
    let (status, body) = serving.call("POST", &format!("/v1/runs/{run_id}/approve"), "{}");
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("`actor` is required")
    );
}

#[test]
fn no_approval_by_the_deadline_blocks_the_run_and_runs_finally() {
    let server = Server::start();
    let (dir, serving) = serving(&server, "approval_timeout: 1s");
    let run = started(&serving, "late");
    let run_id = run["run_id"].as_str().unwrap();
    serving.wait_state(run_id, "blocked");
    let events = serving.events(run["timeline"].as_str().unwrap());
    assert_eq!(finished(&events, "act")["outcome"], "blocked");
    assert_eq!(event(&events, "run_finished")["exit_code"], 4);
    assert!(dir.path().join("tidy.txt").exists());
    assert_eq!(server.count("/echo"), 0);
    // The alert still firing later starts a new run: the blocked one is over.
    assert_eq!(serving.notify(&lb502("late"))[0]["status"], "started");
}

#[test]
fn sigterm_interrupts_the_runs_runs_finally_and_exits_0() {
    let server = Server::start();
    let (dir, serving) = serving(&server, "");
    let run = started(&serving, "term");
    let run_id = run["run_id"].as_str().unwrap().to_string();
    let timeline = run["timeline"].as_str().unwrap().to_string();
    serving.wait_state(&run_id, "awaiting_approval");
    serving.signal("TERM");
    let (status, log) = serving.wait(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("runbook serve: stopped"), "{log}");
    let text = std::fs::read_to_string(dir.path().join(&timeline)).unwrap();
    let events = parse_timeline(&text);
    assert_eq!(finished(&events, "act")["outcome"], "interrupted");
    assert_eq!(event(&events, "run_finished")["outcome"], "interrupted");
    assert!(dir.path().join("tidy.txt").exists(), "finally ran");
    assert_eq!(server.count("/echo"), 0);
}

#[test]
fn a_restarted_serve_resumes_nothing_and_lists_what_was_left_unfinished() {
    let server = Server::start();
    let (dir, serving) = serving(&server, "");
    let run = started(&serving, "killed");
    serving.wait_state(run["run_id"].as_str().unwrap(), "awaiting_approval");
    serving.signal("KILL");
    let _ = serving.wait(Duration::from_secs(10));
    let timeline = run["timeline"].as_str().unwrap();
    let before = std::fs::read_to_string(dir.path().join(timeline)).unwrap();

    let routes = std::fs::read_to_string(dir.path().join("routes.yaml")).unwrap();
    let again = Serving::start(dir.path(), &routes, &[]);
    let log = again.log();
    assert!(
        log.contains(&format!("unfinished run in {timeline}")),
        "{log}"
    );
    assert!(log.contains("--resume"), "{log}");
    assert!(again.runs().is_empty(), "nothing resumed");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        std::fs::read_to_string(dir.path().join(timeline)).unwrap(),
        before,
        "the unfinished timeline is left as it was"
    );
}

#[test]
fn an_auto_route_acts_at_once_and_the_alert_stays_data() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("auto.yaml"),
        unindent(&format!(
            r#"
            name: auto
            title: Automatic remediation
            steps:
              - id: say
                title: Say which instance
                action: false
                command: {{shell: "echo instance={{{{ alert.labels.instance }}}}"}}
              - id: act
                title: Restart it
                http:
                  url: "{}/echo?instance={{{{ alert.labels.instance }}}}"
                  method: POST
                  timeout: 2s
            "#,
            server.url()
        )),
    )
    .unwrap();
    let serving = Serving::start(
        dir.path(),
        "routes:\n  - match_re: {alertname: \"LoadBalancer5..\"}\n    runbook: auto.yaml\n    mode: auto\n",
        &[],
    );
    let hostile = "web-1; touch pwned #&x=1";
    let runs = serving.notify(&notification(&[(
        "firing",
        json!({"alertname": "LoadBalancer502", "instance": hostile}),
        "auto1",
    )]));
    assert_eq!(runs[0]["status"], "started");
    let run_id = runs[0]["run_id"].as_str().unwrap();
    serving.wait_state(run_id, "completed");
    let events = serving.events(runs[0]["timeline"].as_str().unwrap());
    assert!(events.iter().all(|e| e["event"] != "approval_requested"));
    let said = finished(&events, "say");
    assert_eq!(said["data"]["stdout"], format!("instance={hostile}\n"));
    assert!(
        !dir.path().join("pwned").exists(),
        "the label never became shell syntax"
    );
    let sent = server.requests_to("/echo");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].query, "instance=web-1%3B%20touch%20pwned%20%23%26x%3D1",
        "the label stayed one query value"
    );
}

#[test]
fn validate_knows_alert_and_a_run_without_one_fails_closed() {
    let reads_alert = r#"
        name: reads-alert
        title: Reads the alert
        steps:
          - id: page
            title: Only for pages
            when: alert.labels.severity == "page"
            wait: 0s
        "#;
    Test::new()
        .runbook(reads_alert)
        .args(["validate", RUNBOOK])
        .run()
        .status(0);
    Test::new()
        .runbook(&reads_alert.replace("alert.labels.severity", "alert.label.severity"))
        .args(["validate", RUNBOOK])
        .run()
        .status(2)
        .stderr_has("`alert.label`: an alert has no field `label` (did you mean `labels`?)");
    // `runbook run` has no alert: reading it is missing evidence, never a pass.
    let out = Test::new()
        .runbook(reads_alert)
        .args(["run"])
        .run()
        .status(1);
    out.outcome("page", "error");
    let page = out.finished("page");
    assert!(
        page["summary"]
            .as_str()
            .unwrap()
            .contains("alert is undefined"),
        "{page}"
    );
}

#[test]
fn a_route_webhook_that_fails_is_noted_and_counted_and_the_run_goes_on() {
    let server = Server::start();
    // A port nothing listens on: every delivery is refused.
    let dead = free_port();
    let (_dir, serving) = serving(
        &server,
        &format!(
            "mode: auto\nnotify: [{{webhook: \"http://127.0.0.1:{dead}/services/T0/B0/secret-path\", format: slack}}]"
        ),
    );
    let run = started(&serving, "hooks");
    let run_id = run["run_id"].as_str().unwrap();
    serving.wait_state(run_id, "completed");
    assert_eq!(
        server.count("/echo"),
        1,
        "the run acted despite the dead webhook"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while serving.metric("runbook_serve_notification_failures_total") < 1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            serving.metrics()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let events = serving.events(run["timeline"].as_str().unwrap());
    let notes: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "note")
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert!(
        notes.iter().any(|n| n.starts_with(&format!(
            "notification to http://127.0.0.1:{dead}/services/… failed"
        ))),
        "{notes:?}"
    );
    assert!(
        notes.iter().all(|n| !n.contains("secret-path")),
        "{notes:?}"
    );
}
