//! `runbook run --approvals N`: actions wait for approvals from people other than the run's
//! initiator, given with `runbook approve` / `runbook deny` from another process; the test
//! server's request log proves whether the action was sent.

use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::support::*;

/// `runbook ARGS` in the directory of a running run, as another person in another terminal.
fn beside(running: &Running, args: &[&str]) -> std::process::Output {
    clean_command(&running.path(""))
        .args(args)
        .output()
        .expect("runbook starts")
}

fn started(server: &Server, timeout: &str, approvals: &str) -> Running {
    let running = Test::new()
        .server(server)
        .runbook(GUARDED)
        .args([
            "run",
            "--approvals",
            approvals,
            "--approval-timeout",
            timeout,
        ])
        .spawn();
    running.wait_for_event(|e| e["event"] == "approval_requested" && e["step"] == "act");
    running
}

fn events_in(running: &Running, name: &str) -> Vec<Json> {
    parse_timeline(&std::fs::read_to_string(running.path(TIMELINE)).unwrap())
        .into_iter()
        .filter(|e| e["event"] == name)
        .collect()
}

/// The `step_finished` of `id`, which must have ended with `outcome`.
fn step(out: &Output, id: &str, outcome: &str) -> Json {
    out.outcome(id, outcome);
    out.finished(id)
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_approval_by_another_person_runs_the_action() {
    let server = Server::start();
    let running = started(&server, "30s", "1");
    let requested = &events_in(&running, "approval_requested")[0];
    assert_eq!(requested["needed"], 1);
    let initiator = events_in(&running, "run_started")[0]["actor"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(requested["actor"], initiator.as_str());
    let deadline: String = requested["deadline"].as_str().unwrap().into();
    let ts: String = requested["ts"].as_str().unwrap().into();
    assert!(deadline > ts, "deadline {deadline} after {ts}");
    assert_eq!(server.count("/echo"), 0, "the action waits");

    let approved = beside(&running, &["approve", TIMELINE, "--as", "alice"]);
    assert_eq!(approved.status.code(), Some(0), "{}", stderr(&approved));
    assert!(
        stderr(&approved).contains("recorded approval of `act` by alice"),
        "{}",
        stderr(&approved)
    );
    let out = running.wait().run_outcome("completed", 0);
    assert_eq!(server.count("/echo"), 1);
    let act = step(&out, "act", "passed");
    assert_eq!(act["decided_by"], "alice");
    let approval = &out.events("approval")[0];
    assert_eq!(
        (approval["step"].as_str(), approval["actor"].as_str()),
        (Some("act"), Some("alice"))
    );
    out.outcome("after", "passed");

    let text = report(&out.path(TIMELINE), "text");
    assert!(text.contains("[act] awaiting 1 approval until"), "{text}");
    assert!(
        text.contains(&format!("(requested by {initiator})")),
        "{text}"
    );
    assert!(text.contains("[act] approved by alice after "), "{text}");
    let json: Json = serde_json::from_str(&report(&out.path(TIMELINE), "json")).unwrap();
    let step = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "act")
        .unwrap()
        .clone();
    assert_eq!(step["approval"]["requested_by"], initiator.as_str());
    assert_eq!(step["approval"]["needed"], 1);
    assert_eq!(step["approval"]["approvals"][0]["actor"], "alice");
    assert!(step["approval"]["wait_ms"].is_u64(), "{step}");
    let html = report(&out.path(TIMELINE), "html");
    assert!(html.contains("[act] approved by alice after "), "{html}");
    let junit = report(&out.path(TIMELINE), "junit");
    assert!(junit.contains("approved by alice"), "{junit}");
}

#[test]
fn the_initiators_own_approval_does_not_count() {
    let server = Server::start();
    let running = started(&server, "2s", "1");
    let initiator = events_in(&running, "run_started")[0]["actor"]
        .as_str()
        .unwrap()
        .to_string();
    let own = beside(&running, &["approve", TIMELINE]);
    assert_eq!(own.status.code(), Some(0), "{}", stderr(&own));
    assert!(
        stderr(&own).contains(&format!(
            "{initiator} started the run: their approval does not count"
        )),
        "{}",
        stderr(&own)
    );
    let out = running.wait().run_outcome("blocked", 4);
    assert_eq!(server.count("/echo"), 0, "the action was never sent");
    assert_eq!(out.events("approval")[0]["actor"], initiator.as_str());
    let act = step(&out, "act", "blocked");
    let summary = act["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("action `act` was not approved by ")
            && summary.ends_with(": 0 of 1 approvals"),
        "{summary}"
    );
    out.not_started("after");
    out.outcome("tidy", "passed");
}

#[test]
fn two_approvals_by_one_person_count_once() {
    let server = Server::start();
    let running = started(&server, "2s", "2");
    for _ in 0..2 {
        let bob = beside(
            &running,
            &["approve", TIMELINE, "--step", "act", "--as", "bob"],
        );
        assert_eq!(bob.status.code(), Some(0), "{}", stderr(&bob));
    }
    let out = running.wait().run_outcome("blocked", 4);
    assert_eq!(server.count("/echo"), 0);
    assert_eq!(out.events("approval").len(), 2);
    let act = step(&out, "act", "blocked");
    assert!(
        act["summary"]
            .as_str()
            .unwrap()
            .ends_with(": 1 of 2 approvals (bob)"),
        "{act}"
    );
}

#[test]
fn a_denial_skips_the_action_and_the_run_goes_on() {
    let server = Server::start();
    let running = started(&server, "30s", "1");
    let denied = beside(
        &running,
        &[
            "deny",
            TIMELINE,
            "--as",
            "carol",
            "--reason",
            "not during peak",
        ],
    );
    assert_eq!(denied.status.code(), Some(0), "{}", stderr(&denied));
    let out = running.wait().run_outcome("completed", 0);
    assert_eq!(server.count("/echo"), 0);
    let act = step(&out, "act", "skipped");
    assert_eq!(act["summary"], "denied by carol: not during peak");
    assert_eq!(act["decided_by"], "carol");
    let denial = &out.events("denial")[0];
    assert_eq!(denial["reason"], "not during peak");
    out.outcome("after", "passed");
    assert_eq!(server.count("/status/204"), 1);
    let markdown = report(&out.path(TIMELINE), "markdown");
    assert!(
        markdown.contains("denied by carol: not during peak"),
        "{markdown}"
    );
}

#[test]
fn approving_when_nothing_awaits_approval_is_refused_and_writes_nothing() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(GUARDED)
        .args(["run", "--yes"])
        .run()
        .run_outcome("completed", 0);
    let before = out.timeline_text();
    let refused = out
        .then()
        .args(["approve", TIMELINE, "--as", "alice"])
        .run()
        .status(2);
    assert_eq!(
        refused.stderr,
        format!("error: no step of {TIMELINE} is awaiting approval\n")
    );
    assert_eq!(refused.timeline_text(), before);
    let refused = refused
        .then()
        .args(["deny", TIMELINE, "--step", "act"])
        .run()
        .status(2);
    assert_eq!(
        refused.stderr,
        format!("error: step `act` of {TIMELINE} is not awaiting approval\n")
    );
    assert_eq!(refused.timeline_text(), before);
}

#[test]
fn sigterm_interrupts_the_wait_and_finally_runs() {
    let server = Server::start();
    let running = started(&server, "30m", "1");
    let sent = Instant::now();
    running.signal(libc::SIGTERM);
    let out = running.wait().run_outcome("interrupted", 130);
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(server.count("/echo"), 0);
    out.outcome("act", "interrupted");
    out.outcome("tidy", "passed");
    assert!(out.path("tidy.txt").exists(), "finally ran");
}

/// A run stopped while its action waited keeps the request: an approval given meanwhile
/// counts, and the resumed run asks no second time.
#[test]
fn a_resumed_run_keeps_waiting_with_the_approvals_it_has() {
    let server = Server::start();
    let running = started(&server, "30m", "1");
    running.signal(libc::SIGTERM);
    let out = running.wait().run_outcome("interrupted", 130);
    let deadline = out.events("approval_requested")[0]["deadline"].clone();
    let out = out
        .then()
        .args(["approve", TIMELINE, "--as", "dave"])
        .run()
        .status(0)
        .then()
        .args(["run", "--resume", TIMELINE, "--approvals", "1"])
        .run()
        .run_outcome("completed", 0);
    let requests = out.events("approval_requested");
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["deadline"], deadline);
    assert_eq!(server.count("/echo"), 1);
    assert_eq!(step(&out, "act", "passed")["decided_by"], "dave");
}

#[test]
fn approvals_and_yes_do_not_go_together() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(GUARDED)
        .args(["run", "--approvals", "1", "--yes"])
        .run()
        .status(2);
    assert!(out.stderr.contains("cannot be used with"), "{}", out.stderr);
    assert!(!out.path(TIMELINE).exists());
}
