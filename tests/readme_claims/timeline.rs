//! README sections "Secrets", "Timeline", "Resume" and "Reports".

use serde_json::{Value as Json, json};

use super::{keys, set};
use crate::support::*;

// ------------------------------------------------------------------ Secrets

/// "A secret answer given as a list or a number is masked item by item (each item counts as a
/// secret, and each must have 4 characters)."
#[test]
fn each_item_of_a_secret_answer_needs_4_characters() {
    let out = Test::new()
        .runbook(
            r#"
            name: items
            title: Items
            steps:
              - id: login
                title: Login
                manual: Log in
                ask:
                  - {name: codes, prompt: Codes, secret: true}
            "#,
        )
        .write("answers.yaml", "login: {codes: [first-c0de, x9]}\n")
        .args(["run", "--answers", "answers.yaml"])
        .run()
        .status(2);
    assert_eq!(
        out.stderr,
        "error: the secret answer `codes` of step `login` is 2 characters long: a secret needs at \
         least 4 characters, or masking it would mask ordinary words and the timeline's own keys; \
         set its real value\n"
    );
    assert_eq!(out.stdout, "");
    assert!(!out.path(TIMELINE).exists(), "a timeline was written");
}

/// "Errors about vars files are masked like everything else."
#[test]
fn an_error_about_a_vars_file_masks_the_secrets_it_quotes() {
    let out = Test::new()
        .runbook(
            r#"
            name: vars-error
            title: Vars error
            vars: {x: 1}
            secrets: [RB_VARS_SECRET]
            steps:
              - {id: one, title: One, wait: 1ms}
            "#,
        )
        .write("bad.yaml", "x: [supersecret-77\n")
        .env("RB_VARS_SECRET", "supersecret-77")
        .args(["run", "--vars", "bad.yaml"])
        .run()
        .status(2);
    assert!(
        out.stderr
            .starts_with("bad.yaml:1:4: YAML syntax error: unclosed bracket '['\n"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("1 | x: [***\n"), "{}", out.stderr);
    assert!(!out.stderr.contains("supersecret"), "{}", out.stderr);
}

// ------------------------------------------------------------------ Timeline

/// The README's table of events and their fields ("Every event has `seq`, `ts`, `run_id` and
/// `event`" and one row per event), exactly: a field the README lists and the timeline lacks,
/// or one it writes and the README does not list, fails here.
#[test]
fn every_event_has_exactly_the_fields_the_readme_lists() {
    let server = Server::start();
    server.sequence("/flaky", [502, 200]);
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: fields
            title: Every event
            steps:
              - id: flaky
                title: Flaky check
                http: {url: "$SERVER/flaky", timeout: 2s}
                retry: {attempts: 3, delay: 10ms}
                milestone: detected
              - id: act
                title: Act
                http: {url: "$SERVER/status/200", method: POST, timeout: 2s}
            finally:
              - {id: tidy, title: Tidy, wait: 1ms}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("blocked", 4)
        .then()
        .args(["note", TIMELINE, "called the provider"])
        .run()
        .status(0)
        .then()
        .args(["milestone", TIMELINE, "mitigated"])
        .run()
        .status(0)
        .then()
        .args(["milestone", TIMELINE, "escalaed"])
        .run()
        .status(0)
        .then()
        .args(["milestone", TIMELINE, "--retract", "escalaed"])
        .run()
        .status(0)
        .then()
        .args(["run", "--resume", TIMELINE, "--yes"])
        .run()
        // The note and milestone come after the blocked run's `run_finished`, as they may.
        .run_outcome("completed", 0);
    let envelope = ["seq", "ts", "run_id", "event"];
    let with = |fields: &[&str]| {
        let mut all = set(&envelope);
        all.extend(set(fields));
        all
    };
    let expected: &[(&str, &[&str])] = &[
        (
            "run_started",
            &[
                "runbook", "title", "file", "sha256", "mode", "dry_run", "vars", "version",
                "actor", "timeline", "host",
            ],
        ),
        ("run_resumed", &["actor", "version", "next_step", "vars"]),
        (
            "step_started",
            &["step", "title", "index", "phase", "action", "entry"],
        ),
        (
            "step_attempt",
            &[
                "step",
                "attempt",
                "outcome",
                "summary",
                "failures",
                "data",
                "duration_ms",
                "next_delay_ms",
                "attempts",
            ],
        ),
        ("note", &["text", "actor"]),
    ];
    let timeline = out.timeline();
    for (event, fields) in expected {
        let events: Vec<&Json> = timeline.iter().filter(|e| e["event"] == *event).collect();
        assert!(!events.is_empty(), "no {event} in the timeline");
        for e in events {
            assert_eq!(keys(e), with(fields), "{e}");
        }
    }
    // step_finished: `failures` only when an expectation failed, `decided_by` for an action run
    // or skipped.
    let step_finished = [
        "step",
        "title",
        "outcome",
        "duration_ms",
        "summary",
        "data",
        "attempt",
        "action",
        "phase",
    ];
    assert_eq!(keys(&out.finished("flaky")), with(&step_finished));
    assert_eq!(keys(&out.finished("tidy")), with(&step_finished));
    let mut action = step_finished.to_vec();
    action.push("decided_by");
    assert_eq!(keys(&out.finished("act")), with(&action));
    let blocked = timeline
        .iter()
        .find(|e| e["event"] == "step_finished" && e["outcome"] == "blocked")
        .expect("the first run blocked");
    // Nobody decided a blocked action.
    assert_eq!(keys(blocked), with(&step_finished));
    assert_eq!(out.finished("act")["decided_by"], "--yes");
    // run_finished: `reason` when the run did not complete.
    let run_finished = out.events("run_finished");
    let fields = ["outcome", "exit_code", "duration_ms", "counts"];
    assert_eq!(run_finished.len(), 2);
    assert_eq!(keys(&run_finished[1]), with(&fields));
    let mut blocked_run = fields.to_vec();
    blocked_run.push("reason");
    assert_eq!(keys(&run_finished[0]), with(&blocked_run));
    assert_eq!(
        run_finished[0]["reason"],
        "action `act` needs confirmation: continue with `runbook run runbook.yaml --resume \
         timeline.jsonl --yes` to allow actions"
    );
    // milestone: `step` when a step recorded it, not from `runbook milestone`; `retracted` on
    // a retraction.
    let milestones = out.events("milestone");
    assert_eq!(milestones.len(), 4, "{milestones:?}");
    assert_eq!(keys(&milestones[0]), with(&["milestone", "step", "actor"]));
    assert_eq!(
        (&milestones[0]["milestone"], &milestones[0]["step"]),
        (&json!("detected"), &json!("flaky"))
    );
    assert_eq!(keys(&milestones[1]), with(&["milestone", "actor"]));
    assert_eq!(milestones[1]["milestone"], "mitigated");
    // `retracted` only on a retraction.
    assert_eq!(keys(&milestones[2]), with(&["milestone", "actor"]));
    assert_eq!(
        keys(&milestones[3]),
        with(&["milestone", "actor", "retracted"])
    );
    assert_eq!(
        (&milestones[3]["milestone"], &milestones[3]["retracted"]),
        (&json!("escalaed"), &json!(true))
    );
    assert_eq!(out.events("note")[0]["text"], "called the provider");
    // The values the table names.
    let attempt = &out.events("step_attempt")[0];
    assert_eq!(
        (
            &attempt["attempt"],
            &attempt["outcome"],
            &attempt["next_delay_ms"]
        ),
        (&json!(1), &json!("failed"), &json!(10))
    );
    assert_eq!(out.events("run_resumed")[0]["next_step"], "act");
    let started: Vec<(Json, Json, Json)> = out
        .events("step_started")
        .iter()
        .map(|e| (e["step"].clone(), e["phase"].clone(), e["index"].clone()))
        .collect();
    assert!(
        started.contains(&(json!("tidy"), json!("finally"), json!(1))),
        "{started:?}"
    );
    assert!(
        started.contains(&(json!("act"), json!("steps"), json!(2))),
        "{started:?}"
    );
}

/// "A run also holds its timeline for its whole life: `TIMELINE.lock` beside it says who (pid,
/// host, start time) [...]; the run removes it when it ends."
#[test]
fn the_lock_file_names_pid_host_and_start_time() {
    let running = Test::new().runbook(HELD).args(["run"]).spawn();
    running.wait_for_event(|e| e["event"] == "step_started" && e["step"] == "hold");
    let lock = std::fs::read_to_string(running.path("timeline.jsonl.lock")).unwrap();
    let lines: Vec<&str> = lock.lines().collect();
    assert!(lines.len() >= 3, "{lock:?}");
    let pid: u32 = lines[0].parse().unwrap_or_else(|_| panic!("{lock:?}"));
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "{lock:?}"
    );
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(lines[1], host.trim(), "{lock:?}");
    let started: jiff::Timestamp = lines[2].parse().unwrap_or_else(|e| panic!("{e}: {lock:?}"));
    let age = jiff::Timestamp::now().duration_since(started);
    assert!(
        age >= jiff::SignedDuration::ZERO && age < jiff::SignedDuration::from_secs(60),
        "{lock:?}"
    );
    std::fs::write(running.path("go"), "").unwrap();
    let out = running.wait().run_outcome("completed", 0);
    assert!(!out.path("timeline.jsonl.lock").exists());
}

/// Resume: "An action that started but has no `step_finished` (the process died during it) is
/// never re-run silently: interactively the operator is asked again".
#[test]
fn a_guided_resume_asks_again_for_an_action_cut_off_mid_run() {
    use std::time::{Duration, Instant};
    let running = Test::new()
        .runbook(
            r#"
            name: cut-off
            title: Killed during an action
            steps:
              - id: reprovision
                title: Reprovision the front ends
                command: {shell: "echo started >> runs.txt; [ -f done ] && exit 0; touch done; sleep 30"}
            "#,
        )
        .args(["run", "--yes"])
        .spawn();
    running.wait_for_event(|e| e["event"] == "step_started" && e["step"] == "reprovision");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(running.path("done")).is_err() {
        assert!(Instant::now() < deadline, "the action never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    running.signal(libc::SIGKILL);
    let out = running.wait();
    // On a terminal it asks again; `a` and `y` abort (exit 3) and nothing is run a second time.
    let out = out
        .then()
        .pty()
        // Wide enough for the note on one line (80 columns wrap it under its text).
        .env("COLUMNS", "120")
        .stdin("ay\n")
        .args(["run", "--resume", TIMELINE])
        .run()
        .status(3)
        .stdout_has(
            "note: this action started before the run stopped; it may already have taken effect",
        )
        .stdout_has("Run this action? [y]es / [s]kip / [n]ote / [a]bort");
    assert_eq!(
        std::fs::read_to_string(out.path("runs.txt")).unwrap(),
        "started\n"
    );
}

// ------------------------------------------------------------------ Reports

/// "**`html`** — [...] a chart of the error rate (`rate_error`: [...]; a sample that sent
/// nothing is left out, never drawn as 0%)".
#[test]
fn the_html_chart_leaves_out_a_sample_that_sent_nothing() {
    let envelope = |seq: u32, ms: u32| {
        format!(r#""seq":{seq},"ts":"2026-11-22T19:00:0{ms}.000Z","run_id":"r1""#)
    };
    let sample = |seq: u32, rate: &str| {
        format!(
            r#"{{{},"event":"step_finished","step":"probe","title":"Probe","outcome":"failed","duration_ms":5,"summary":"s","data":{{"url":"http://lb/x","rate_error":{rate},"p95_ms":{rate}}},"attempt":1,"action":false,"phase":"steps"}}"#,
            envelope(seq, seq)
        )
    };
    let lines = [
        format!(
            r#"{{{},"event":"run_started","runbook":"chart","title":"Chart","file":"chart.yaml","sha256":"0","mode":"non-interactive","dry_run":false,"vars":{{}},"version":"0","actor":"ci","timeline":"t.jsonl"}}"#,
            envelope(1, 1)
        ),
        sample(2, "0.5"),
        sample(3, "null"),
        sample(4, "0.25"),
        format!(
            r#"{{{},"event":"run_finished","outcome":"failed","exit_code":1,"duration_ms":4000,"counts":{{}}}}"#,
            envelope(5, 5)
        ),
    ];
    let out = Test::new()
        .write("t.jsonl", &(lines.join("\n") + "\n"))
        .args(["timeline", "t.jsonl", "--format", "html", "--tz", "UTC"])
        .run()
        .status(0);
    let html = &out.stdout;
    let rate_points: Vec<&str> = html
        .match_indices("<title>")
        .map(|(i, _)| &html[i + 7..])
        .filter_map(|rest| rest.split_once("</title>").map(|(t, _)| t))
        .filter(|t| t.ends_with('%'))
        .collect();
    assert_eq!(rate_points, ["50.0%", "25.0%"], "{html}");
}
