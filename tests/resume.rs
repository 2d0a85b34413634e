//! `run --resume TIMELINE`: continue a recorded run in the same timeline, without repeating
//! what already finished and without silently repeating an action.

use std::io::Write;

use serde_json::{Value as Json, json};

use crate::support::*;

const REMEDIATE: &str = r#"
    name: remediate
    title: Refresh the LB
    vars: {label: default}
    steps:
      - id: check
        title: Sample the LB
        http: {url: "$SERVER/status/200", timeout: 500ms}
      - id: refresh
        title: Refresh the LB config
        http:
          url: "$SERVER/echo"
          method: POST
          json: {label: "{{ vars.label }}", checked: "{{ steps.check.status }}"}
          timeout: 500ms
      - id: verify
        title: Verify recovery
        http: {url: "$SERVER/status/204", timeout: 500ms}
    finally:
      - id: notify
        title: Notify
        http: {url: "$SERVER/status/202", timeout: 500ms}
    "#;

/// A run of REMEDIATE that stopped at `refresh` for lack of `--yes`.
fn blocked_run(server: &Server, extra: &[&str]) -> Output {
    let out = Test::new()
        .server(server)
        .runbook(REMEDIATE)
        .args(["run"])
        .args(extra.iter().copied())
        .run()
        .run_outcome("blocked", 4);
    assert_eq!(server.count("/status/200"), 1);
    assert_eq!(server.count("/echo"), 0);
    out
}

fn assert_one_run(timeline: &[Json]) {
    let run_id = &timeline[0]["run_id"];
    for (i, event) in timeline.iter().enumerate() {
        assert_eq!(event["seq"], json!(i + 1), "seq continues: {event}");
        assert_eq!(&event["run_id"], run_id, "same run_id: {event}");
    }
}

#[test]
fn resume_continues_a_blocked_run_in_the_same_timeline() {
    let server = Server::start();
    let first = blocked_run(&server, &[]);
    let before = first.timeline();
    let out = first
        .then()
        .args(["run", "--resume", TIMELINE, "--yes"])
        .run()
        .run_outcome("completed", 0);
    let timeline = out.timeline();
    assert!(timeline.len() > before.len());
    assert_eq!(
        timeline[..before.len()],
        before[..],
        "earlier lines are kept as they were"
    );
    assert_one_run(&timeline);
    // `check` finished before: not run again; its result is still available to `refresh`.
    assert_eq!(server.count("/status/200"), 1);
    assert_eq!(server.count("/echo"), 1);
    assert_eq!(server.count("/status/204"), 1);
    let sent: Json = serde_json::from_str(&server.requests_to("/echo")[0].body).unwrap();
    assert_eq!(sent, json!({"label": "default", "checked": 200}));
    let after = &timeline[before.len()..];
    assert!(
        !after
            .iter()
            .any(|e| e["event"] == "step_started" && e["step"] == "check"),
        "check ran again: {after:?}"
    );
    let refresh = out.finished("refresh");
    assert_eq!(refresh["outcome"], "passed");
    out.outcome("verify", "passed");
    assert_eq!(out.run_finished()["outcome"], "completed");
}

#[test]
fn resume_without_yes_blocks_again() {
    let server = Server::start();
    let first = blocked_run(&server, &[]);
    let out = first
        .then()
        .args(["run", "--resume", TIMELINE])
        .run()
        .run_outcome("blocked", 4);
    assert_one_run(&out.timeline());
    assert_eq!(server.count("/echo"), 0);
    assert_eq!(server.count("/status/200"), 1);
}

#[test]
fn resume_refuses_a_changed_runbook_unless_forced() {
    let server = Server::start();
    let first = blocked_run(&server, &[]);
    let before = first.timeline_text();
    let changed = REMEDIATE.replace("Verify recovery", "Verify that it recovered");
    let out = first
        .then()
        .server(&server)
        .runbook(&changed)
        .args(["run", "--resume", TIMELINE, "--yes"])
        .run()
        .status(2)
        .stderr_has("--force");
    assert_eq!(
        out.timeline_text(),
        before,
        "a refused resume writes nothing"
    );
    assert_eq!(server.count("/echo"), 0);

    let out = out
        .then()
        .args(["run", "--resume", TIMELINE, "--yes", "--force"])
        .run()
        .run_outcome("completed", 0);
    assert_one_run(&out.timeline());
    assert_eq!(out.finished("verify")["title"], "Verify that it recovered");
    assert_eq!(server.count("/echo"), 1);
}

#[test]
fn resume_ignores_a_torn_last_line_and_appends_cleanly() {
    let server = Server::start();
    let first = blocked_run(&server, &[]);
    let complete = first.timeline();
    let last_seq = complete.last().unwrap()["seq"].as_u64().unwrap();
    let run_id = complete[0]["run_id"].as_str().unwrap().to_string();
    // A crash in the middle of writing the next event.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(first.path(TIMELINE))
        .unwrap();
    write!(
        file,
        r#"{{"seq":{},"ts":"2026-11-22T19:30:00.1"#,
        last_seq + 1
    )
    .unwrap();
    drop(file);

    let out = first
        .then()
        .args(["run", "--resume", TIMELINE, "--yes"])
        .run()
        .run_outcome("completed", 0);
    let text = out.timeline_text();
    assert!(text.ends_with('\n'));
    let timeline = parse_timeline(&text);
    assert_one_run(&timeline);
    assert_eq!(timeline[0]["run_id"], run_id.as_str());
    assert_eq!(timeline[last_seq as usize]["seq"], last_seq + 1);
    assert_eq!(server.count("/echo"), 1);
}

#[test]
fn resume_uses_the_vars_recorded_at_start() {
    let server = Server::start();
    let first = blocked_run(&server, &["--var", "label=first"]);
    first
        .then()
        .args(["run", "--resume", TIMELINE, "--yes"])
        .run()
        .status(0);
    let sent: Json = serde_json::from_str(&server.requests_to("/echo")[0].body).unwrap();
    assert_eq!(sent["label"], "first");
}

#[test]
fn resume_with_var_given_again_uses_the_new_value() {
    let server = Server::start();
    let first = blocked_run(&server, &["--var", "label=first"]);
    first
        .then()
        .args([
            "run",
            "--resume",
            TIMELINE,
            "--yes",
            "--var",
            "label=second",
        ])
        .run()
        .status(0);
    let sent: Json = serde_json::from_str(&server.requests_to("/echo")[0].body).unwrap();
    assert_eq!(sent["label"], "second");
}

#[test]
fn an_action_cut_off_mid_run_is_not_repeated_silently() {
    // The action records each start in runs.txt (the first after `done`, so the kill that
    // follows the first line cannot come before it), then takes long enough to be killed.
    let running = Test::new()
        .runbook(
            r#"
            name: cut-off
            title: Killed during an action
            steps:
              - id: before
                title: Before
                wait: 1ms
              - id: reprovision
                title: Reprovision the front ends
                command: {shell: "[ -f done ] && { echo started >> runs.txt; exit 0; }; touch done; echo started >> runs.txt; sleep 30"}
              - id: after
                title: After
                wait: 1ms
            "#,
        )
        .args(["run", "--yes"])
        .spawn();
    running.wait_for_event(|e| e["event"] == "step_started" && e["step"] == "reprovision");
    // Give the shell a moment to record that it started.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let out = loop {
        let runs = std::fs::read_to_string(running.path("runs.txt")).unwrap_or_default();
        if runs.lines().count() == 1 || std::time::Instant::now() > deadline {
            running.signal(libc::SIGKILL);
            break running.wait();
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let runs_file = out.path("runs.txt");
    let runs = || std::fs::read_to_string(&runs_file).unwrap_or_default();
    assert_eq!(runs().lines().count(), 1);

    // Non-interactive without --yes: blocked, not run again.
    let out = out
        .then()
        .args(["run", "--resume", TIMELINE])
        .run()
        .run_outcome("blocked", 4);
    assert_eq!(
        runs().lines().count(),
        1,
        "the action ran again without --yes"
    );
    assert_eq!(out.finished("reprovision")["outcome"], "blocked");

    // With --yes it runs again, and the run completes.
    let out = out
        .then()
        .args(["run", "--resume", TIMELINE, "--yes"])
        .run()
        .run_outcome("completed", 0);
    assert_eq!(runs().lines().count(), 2);
    out.outcome("after", "passed");
    let timeline = out.timeline();
    assert_one_run(&timeline);
    assert_eq!(
        timeline
            .iter()
            .filter(|e| e["event"] == "step_finished" && e["step"] == "before")
            .count(),
        1,
        "`before` finished once and is not run again"
    );
}
