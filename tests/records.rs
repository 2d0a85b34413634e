//! What a run tells and records once a step is refused, blocked or done without a person: the
//! server's reason for a refusal and the request sent, one closing line, a closing table of the
//! whole run after a resume (with the runbook's step numbers), who acknowledged a manual step
//! in a run nobody watched, the exact command that continues a blocked run, and manual steps
//! labelled `manual`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::{Value as Json, json};

use crate::support::*;

/// A declared secret the runbook sends in a request body and the server echoes back.
const SECRET: &str = "tok-5f1c9a7e-region-admin";

/// An API that refuses: `POST /regions` without `region` is a 400 with the reason in JSON,
/// `POST /echo` answers 400 with the request body it got, `GET /long` a 422 whose body is long,
/// multi-line and holds an escape sequence; `GET /ok` answers 200; `GET /once` hangs on its
/// first request (for an hour) and answers 200 after that.
fn refusing_api() -> Api {
    let once = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&once);
    let served = Served::start(
        Router::new()
            .route(
                "/regions",
                post(|body: Bytes| async move {
                    let sent: Json = serde_json::from_slice(&body).unwrap_or(Json::Null);
                    if sent.get("region").is_none() {
                        (
                            StatusCode::BAD_REQUEST,
                            r#"{"error":"field 'region' is required"}"#.to_string(),
                        )
                    } else {
                        (StatusCode::CREATED, "{}".to_string())
                    }
                }),
            )
            .route(
                "/echo",
                post(|body: Bytes| async move {
                    (
                        StatusCode::BAD_REQUEST,
                        String::from_utf8_lossy(&body).into_owned(),
                    )
                }),
            )
            .route(
                "/long",
                get(|| async {
                    (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!("line one\n\n\tline \u{1b}[2J two {}", "x".repeat(300)),
                    )
                }),
            )
            .route("/ok", get(|| async { "ok" }))
            .route(
                "/once",
                get(move || {
                    let once = Arc::clone(&once);
                    async move {
                        if once.fetch_add(1, Ordering::SeqCst) == 0 {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                        }
                        "ok"
                    }
                }),
            ),
    );
    Api {
        served,
        once: counted,
    }
}

struct Api {
    served: Served,
    /// Requests `/once` has had.
    once: Arc<AtomicUsize>,
}

impl Api {
    /// Waits (with a deadline) until `/once` has had its first request.
    fn wait_for_once(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while self.once.load(Ordering::SeqCst) == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "/once never requested"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// `text` with `$API` replaced by the API's URL.
fn with_api(text: &str, api: &Api) -> String {
    text.replace("$API", &api.served.url())
}

// ------------------------------------------------------------------ a refused request

#[test]
fn a_refused_request_shows_the_servers_reason_and_records_the_body_sent() {
    let api = refusing_api();
    let out = Test::new()
        .runbook(&with_api(
            r#"
            name: regions
            title: Add a region
            secrets: [REGION_TOKEN]
            steps:
              - id: create
                title: Create the region
                http: {url: "$API/regions", method: POST, json: {name: web}}
                on_fail: continue
              - id: echo
                title: Send the token
                http:
                  url: "$API/echo"
                  method: POST
                  json: {token: "{{ secrets.REGION_TOKEN }}", name: web}
                expect: status == 200
                on_fail: continue
              - id: long
                title: A long answer
                http: "$API/long"
                on_fail: continue
              - id: plain
                title: A text body
                http: {url: "$API/regions", method: POST, body: '{"region": "eu"}'}
                on_fail: continue
            "#,
            &api,
        ))
        .env("REGION_TOKEN", SECRET)
        .args(["run", "--yes"])
        .run()
        .run_outcome("completed", 0);

    // The status rejected: the server's reason after the criterion, on the step's line.
    let reason = r#"body: {"error":"field 'region' is required"}"#;
    let out = out.stdout_line(&[
        "FAILED      create  Create the region: 400 Bad Request in ",
        &format!("; {reason} — expected every request sent to get an answer below 400"),
    ]);
    let create = out.finished("create");
    let summary = create["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("400 Bad Request in ") && summary.ends_with(&format!("; {reason}")),
        "{summary}"
    );
    assert_eq!(create["data"]["request_body"], r#"{"name":"web"}"#);

    // An expectation failed: the echoed secret is masked in the summary and the data.
    let echo = out.finished("echo");
    assert!(
        echo["summary"]
            .as_str()
            .unwrap()
            .ends_with(r#"; body: {"token":"***","name":"web"}"#),
        "{echo}"
    );
    assert_eq!(
        echo["data"]["request_body"],
        r#"{"token":"***","name":"web"}"#
    );
    assert_eq!(
        echo["failures"],
        json!(["expected status == 200, got status = 400"])
    );

    // 200 characters of the body, on one line, its escape sequence shown, not obeyed.
    let long = out.finished("long");
    let body_text = format!("line one line \\x1b[2J two {}", "x".repeat(300));
    let shown: String = format!("line one line \u{1b}[2J two {}", "x".repeat(300))
        .chars()
        .take(200)
        .collect();
    let shown = shown.replace('\u{1b}', "\\x1b");
    assert!(body_text.starts_with(&shown));
    assert!(
        long["summary"]
            .as_str()
            .unwrap()
            .ends_with(&format!("; body: {shown}…")),
        "{long}"
    );
    assert_eq!(long["data"]["request_body"], Json::Null);
    let out = out.stdout_line(&["long  A long answer: 422 Unprocessable Entity in ", &shown]);
    assert!(!out.stdout.contains('\u{1b}'), "{}", out.stdout);

    // A text body is recorded as it was sent; a step that passed shows no body.
    let plain = out.finished("plain");
    assert_eq!(plain["data"]["request_body"], r#"{"region": "eu"}"#);
    assert_eq!(plain["outcome"], "passed");
    assert!(
        !plain["summary"].as_str().unwrap().contains("body:"),
        "{plain}"
    );

    // Every report shows the reason; none shows the secret.
    for format in ["text", "markdown"] {
        let report = report(&out.path(TIMELINE), format);
        assert!(report.contains(reason), "{format}:\n{report}");
    }
    let html = report(&out.path(TIMELINE), "html");
    assert!(
        html.contains("body: {&quot;error&quot;:&quot;field &#39;region&#39; is required&quot;}")
            || html.contains(r#"body: {"error":"field 'region' is required"}"#)
            || html.contains(
                "body: {&quot;error&quot;:&quot;field &#x27;region&#x27; is required&quot;}"
            ),
        "{html}"
    );
    out.no_secret_anywhere(SECRET);
}

// ------------------------------------------------------------------ closing line and table

/// Four steps and a `finally`; the third is an action. `$PROBE` is the path the second probes.
const FOUR_STEPS: &str = r#"
    name: four
    title: Four steps
    steps:
      - {id: first, title: First, wait: 0s}
      - id: probe
        title: Probe
        http: {url: "$API$PROBE", timeout: 1h}
      - id: act
        title: Act
        action: true
        command: {argv: [echo, acted]}
      - {id: last, title: Last, wait: 0s}
    finally:
      - {id: tidy, title: Tidy, wait: 0s}
"#;

const TABLE_HEADER: &str = "#   STEP                     OUTCOME      DURATION";

/// The closing table's rows as (number, step, outcome), from the last table on the screen.
fn table_rows(screen: &str) -> Vec<(String, String, String)> {
    let at = screen
        .rfind(TABLE_HEADER)
        .unwrap_or_else(|| panic!("no closing table:\n{screen}"));
    screen[at + TABLE_HEADER.len()..]
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .take_while(|cells| cells.len() >= 4 && cells[0].parse::<usize>().is_ok())
        .map(|cells| (cells[0].into(), cells[1].into(), cells[2].into()))
        .collect()
}

fn rows(expected: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    expected
        .iter()
        .map(|(n, s, o)| (n.to_string(), s.to_string(), o.to_string()))
        .collect()
}

/// How many lines of `text` hold `needle`.
fn lines_with(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn a_blocked_run_names_the_command_that_continues_it_and_the_resumed_table_covers_the_run() {
    for cols in [80u16, 120] {
        let api = refusing_api();
        let blocked = Test::new()
            .runbook(&with_api(&FOUR_STEPS.replace("$PROBE", "/ok"), &api))
            .args(["run", "--timeline", "my timeline.jsonl"])
            .run()
            .status(4);
        // The command as typed: the runbook and the timeline as given, the timeline quoted.
        let command = "runbook run runbook.yaml --resume 'my timeline.jsonl' --yes";
        let reason =
            format!("action `act` needs confirmation: continue with `{command}` to allow actions");
        let closing = format!("error: run blocked: {reason} (exit 4) — timeline my timeline.jsonl");
        assert_eq!(
            lines_with(&blocked.stderr, "run blocked"),
            1,
            "{}",
            blocked.stderr
        );
        assert!(blocked.stderr.contains(&closing), "{}", blocked.stderr);
        assert!(
            blocked
                .stdout
                .contains(&format!("BLOCKED     act  Act: {reason} (")),
            "{}",
            blocked.stdout
        );
        let timeline =
            parse_timeline(&std::fs::read_to_string(blocked.path("my timeline.jsonl")).unwrap());
        let finished = timeline
            .iter()
            .rfind(|e| e["event"] == "run_finished")
            .unwrap();
        assert_eq!(finished["reason"], reason.as_str());

        // The command it names continues the run (guided here, in a terminal `cols` wide), and
        // the closing table shows the whole run with the runbook's numbers.
        let dir = blocked.path("");
        let mut pty = Terminal::spawn(
            &dir,
            cols,
            &[
                "run",
                "runbook.yaml",
                "--resume",
                "my timeline.jsonl",
                "--yes",
            ],
        );
        assert_eq!(pty.finish(), 0, "{}", pty.screen());
        let screen = pty.screen();
        assert_eq!(
            table_rows(&screen),
            rows(&[
                ("1", "first", "PASSED"),
                ("2", "probe", "PASSED"),
                ("3", "act", "BLOCKED"),
                ("5", "tidy", "PASSED"),
                ("3", "act", "PASSED"),
                ("4", "last", "PASSED"),
                ("5", "tidy", "PASSED"),
            ]),
            "{cols} columns:\n{screen}"
        );
        // One closing line.
        assert_eq!(lines_with(&screen, "run completed"), 1, "{screen}");
        assert!(
            screen.contains("runbook: run completed (exit 0) — timeline my timeline.jsonl"),
            "{screen}"
        );
        let timeline =
            parse_timeline(&std::fs::read_to_string(dir.join("my timeline.jsonl")).unwrap());
        let act: Vec<&Json> = timeline
            .iter()
            .filter(|e| e["event"] == "step_finished" && e["step"] == "act")
            .collect();
        assert_eq!(act.len(), 2);
        assert_eq!(act[1]["outcome"], "passed");
        assert_eq!(act[1]["decided_by"], "--yes");
    }
}

#[test]
fn after_a_crash_the_resumed_table_covers_the_run_with_its_step_numbers() {
    for cols in [80u16, 120] {
        let api = refusing_api();
        let running = Test::new()
            .runbook(&with_api(&FOUR_STEPS.replace("$PROBE", "/once"), &api))
            .args(["run", "--yes"])
            .spawn();
        // The probe's first request hangs: the run is killed in the middle of step 2.
        running.wait_for_event(|e| e["event"] == "step_started" && e["step"] == "probe");
        api.wait_for_once();
        running.signal(libc::SIGKILL);
        let crashed = running.wait();
        assert_eq!(crashed.status.code(), None, "killed by a signal");
        assert!(
            !crashed.timeline_text().contains("\"run_finished\""),
            "{}",
            crashed.timeline_text()
        );

        let dir = crashed.path("");
        let mut pty = Terminal::spawn(
            &dir,
            cols,
            &["run", "runbook.yaml", "--resume", TIMELINE, "--yes"],
        );
        pty.expect_on_screen("resuming at step `probe`");
        assert_eq!(pty.finish(), 0, "{}", pty.screen());
        let screen = pty.screen();
        assert_eq!(
            table_rows(&screen),
            rows(&[
                ("1", "first", "PASSED"),
                ("2", "probe", "PASSED"),
                ("3", "act", "PASSED"),
                ("4", "last", "PASSED"),
                ("5", "tidy", "PASSED"),
            ]),
            "{cols} columns:\n{screen}"
        );
        assert_eq!(lines_with(&screen, "run completed"), 1, "{screen}");
        assert!(
            screen.contains(&format!(
                "runbook: run completed (exit 0) — timeline {TIMELINE}"
            )),
            "{screen}"
        );
    }
}

// ------------------------------------------------------------------ manual steps

const MANUAL: &str = r#"
    name: manual
    title: Manual steps
    steps:
      - {id: look, title: Look around, manual: Open the dashboard.}
      - id: ask
        title: Ask the owner
        manual:
          instructions: Who owns the service?
          ask: [{name: who, prompt: Owner}]
      - {id: look2, title: Look again, manual: Check the graphs.}
      - id: act
        title: Act
        action: true
        command: {argv: [echo, acted]}
"#;

const AUTO: &str = "auto-acknowledged (non-interactive)";

#[test]
fn a_manual_step_nobody_saw_is_auto_acknowledged_and_answers_files_are_credited() {
    // Without answers: auto-acknowledged, then blocked at the question, naming how to go on.
    let out = Test::new().runbook(MANUAL).args(["run"]).run().status(4);
    let look = out.finished("look");
    assert_eq!(
        (&look["summary"], &look["decided_by"]),
        (&json!(AUTO), &json!(AUTO))
    );
    let out =
        out.stdout_line(&["PASSED      look  Look around: auto-acknowledged (non-interactive) ("]);
    let reason = "manual step `ask` asks for `who` but no answer was given: pass --answers FILE \
                  with `ask: {who: ...}`; then continue with \
                  `runbook run runbook.yaml --resume timeline.jsonl --answers FILE`";
    assert_eq!(out.finished("ask")["summary"], reason);
    out.stderr_has(&format!("error: run blocked: {reason} (exit 4)"));

    // With --yes: the same for a step nobody saw.
    let out = Test::new()
        .runbook(MANUAL)
        .write("answers.yaml", "ask: {who: bob}\nlook2: {}\n")
        .args(["run", "--yes", "--answers", "answers.yaml"])
        .run()
        .run_outcome("completed", 0);
    // Not in the file: nobody saw it.
    let look = out.finished("look");
    assert_eq!(
        (&look["summary"], &look["decided_by"]),
        (&json!(AUTO), &json!(AUTO))
    );
    // In the file: a person answered, or acknowledged (`look2: {}`), in advance.
    let ask = out.finished("ask");
    assert_eq!(
        ask["summary"],
        r#"answered by answers file answers.yaml: who = "bob""#
    );
    assert_eq!(ask["decided_by"], "answers file answers.yaml");
    let look2 = out.finished("look2");
    assert_eq!(
        look2["summary"],
        "acknowledged by answers file answers.yaml"
    );
    assert_eq!(look2["decided_by"], "answers file answers.yaml");
    // No step is credited to the account the run ran as.
    for e in out.events("step_finished") {
        assert!(!e["decided_by"].as_str().unwrap_or("").contains('@'), "{e}");
        assert!(!e["summary"].as_str().unwrap().contains('@'), "{e}");
    }
    // One closing line.
    assert_eq!(
        lines_with(&out.stderr, "run completed"),
        1,
        "{}",
        out.stderr
    );
    for format in ["text", "markdown"] {
        let report = report(&out.path(TIMELINE), format);
        assert!(
            report.contains(&format!("[look] PASSED {AUTO}")),
            "{format}:\n{report}"
        );
        assert!(
            report.contains("[look2] PASSED acknowledged by answers file answers.yaml"),
            "{format}:\n{report}"
        );
    }
    let json_report = report(&out.path(TIMELINE), "json");
    assert!(
        json_report.contains(&format!("\"decided_by\": \"{AUTO}\"")),
        "{json_report}"
    );
}

#[test]
fn manual_steps_are_labelled_manual() {
    let out = Test::new()
        .runbook(MANUAL)
        .args(["show", "runbook.yaml"])
        .run()
        .status(0)
        .stdout_has("   1. look  Look around  [manual] manual: Open the dashboard.")
        .stdout_has("   2. ask  Ask the owner  [manual] manual: ")
        .stdout_has("   4. act  Act  [ACTION] command echo acted");
    assert!(!out.stdout.contains("[check]"), "{}", out.stdout);

    // Guided, with a person: the kind in each step's heading, and the person credited.
    for cols in [80u16, 120] {
        let dir = out.path("");
        let timeline = format!("guided-{cols}.jsonl");
        let mut pty = Terminal::spawn(
            &dir,
            cols,
            &["run", "runbook.yaml", "--timeline", &timeline, "--yes"],
        );
        pty.expect_on_screen("[1/4] Look around  (look, manual)");
        pty.expect_on_screen("Done? [y]es");
        pty.key("y");
        pty.expect_on_screen("[2/4] Ask the owner  (ask, manual)");
        pty.expect_on_screen("Owner: ");
        pty.key("bob\r");
        pty.expect_on_screen("Done? [y]es");
        pty.key("y");
        pty.expect_on_screen("[3/4] Look again  (look2, manual)");
        pty.expect_on_screen("Done? [y]es");
        pty.key("y");
        pty.expect_on_screen("[4/4] Act  (act, ACTION)");
        assert_eq!(pty.finish(), 0, "{}", pty.screen());
        let screen = pty.screen();
        assert!(!screen.contains(", check)"), "{screen}");
        let events = parse_timeline(&std::fs::read_to_string(dir.join(&timeline)).unwrap());
        let look = events
            .iter()
            .find(|e| e["event"] == "step_finished" && e["step"] == "look")
            .unwrap();
        let by = look["decided_by"].as_str().unwrap();
        assert!(by.starts_with("dana@"), "{look}");
        assert_eq!(look["summary"], format!("acknowledged by {by}"));
    }
}
