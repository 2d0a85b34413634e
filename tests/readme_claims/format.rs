//! README sections "Runbook format": executors, control keys, expressions and templates.

use serde_json::{Value as Json, json};

use super::{keys, set};
use crate::support::*;

// ------------------------------------------------------------------ Executors

/// "Writing just a URL (`http: "{{ vars.lb }}/health"`) is short for `{url: ...}`", with the
/// defaults "method: GET", "samples: 50 # default 1", "concurrency: 10 # default 1".
#[test]
fn a_url_alone_is_an_http_step_with_the_defaults() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: short
            title: Short form
            vars: {lb: "$SERVER"}
            steps:
              - {id: health, title: Health, http: "{{ vars.lb }}/status/200"}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
    let data = out.outcome("health", "passed");
    assert_eq!(data["url"], format!("{}/status/200", server.url()));
    assert_eq!(data["method"], "GET");
    assert_eq!((&data["count"], &data["responses"]), (&json!(1), &json!(1)));
    assert_eq!(data["status_counts"], json!({"200": 1}));
    let requests = server.requests_to("/status/200");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "GET");
    // A GET is a check: it ran without --yes.
    assert_eq!(out.finished("health")["action"], false);
}

/// `command` "Fields: `exit_code`, `stdout`, `stderr` [...], `stdout_truncated`,
/// `stderr_truncated` [...], `json` (stdout parsed, or null), `timed_out`, `signal`,
/// `duration_ms`": a command killed by a signal has no exit code, and the signal's number.
#[test]
fn a_command_killed_by_a_signal_records_the_signal() {
    let out = Test::new()
        .runbook(
            r#"
            name: signal
            title: Signal
            steps:
              - id: killed
                title: Killed
                action: false
                command: {argv: [sh, -c, "echo before; kill -TERM $$"]}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("failed", 1);
    let finished = out.finished("killed");
    assert_eq!(finished["outcome"], "failed");
    let data = &finished["data"];
    assert_eq!(
        keys(data),
        set(&[
            "exit_code",
            "stdout",
            "stderr",
            "stdout_truncated",
            "stderr_truncated",
            "json",
            "timed_out",
            "signal",
            "duration_ms"
        ])
    );
    assert_eq!(data["exit_code"], Json::Null);
    assert_eq!(data["signal"], 15);
    assert_eq!(data["timed_out"], false);
    assert_eq!(data["stdout"], "before\n");
    assert_eq!(data["json"], Json::Null);
    assert_eq!(finished["failures"], json!(["expected exit code 0"]));
    let summary = finished["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("killed by signal 15 after "),
        "{summary}"
    );
}

/// "**`wait`** — `wait: 30s`. Fields: `waited_ms`."
#[test]
fn wait_records_waited_ms_and_nothing_else() {
    let out = Test::new()
        .runbook(
            r#"
            name: waits
            title: Waits
            steps:
              - {id: pause, title: Pause, wait: 30ms}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
    let data = out.outcome("pause", "passed");
    assert_eq!(keys(&data), set(&["waited_ms"]));
    assert_eq!(data["waited_ms"], 30, "{data}");
    assert!(out.finished("pause")["duration_ms"].as_u64().unwrap() >= 30);
}

/// "A manual step without `ask` is acknowledged automatically in non-interactive runs
/// (`auto-acknowledged (non-interactive)`, never a person's name [...])".
#[test]
fn a_manual_step_without_ask_is_auto_acknowledged() {
    let out = Test::new()
        .runbook(
            r#"
            name: manual-ack
            title: Manual
            steps:
              - {id: look, title: Look, manual: Open the dashboard.}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
    let finished = out.finished("look");
    assert_eq!(finished["outcome"], "passed");
    assert_eq!(finished["summary"], "auto-acknowledged (non-interactive)");
    assert_eq!(
        finished["decided_by"],
        "auto-acknowledged (non-interactive)"
    );
    assert_eq!(finished["data"], json!({}));
}

/// "`on_fail` applies to `failed` and `error` alike."
#[test]
fn on_fail_applies_to_an_error_as_to_a_failure() {
    let out = Test::new()
        .runbook(
            r#"
            name: errors
            title: Errors
            steps:
              - id: broken
                title: Cannot start
                action: false
                command: {argv: [/nonexistent/program]}
                on_fail: continue
              - id: again
                title: Cannot start either
                action: false
                command: {argv: [/nonexistent/program]}
                on_fail: {goto: last}
              - {id: skipped_over, title: Skipped over, wait: 1ms}
              - {id: last, title: Last, wait: 1ms}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
    out.outcome("broken", "error");
    out.outcome("again", "error");
    out.not_started("skipped_over");
    out.outcome("last", "passed");
}

// ------------------------------------------------------------------ Expressions and templates

/// "Numbers are ordered against numbers, strings against strings, lists against lists;
/// `"0.3" < 0.5` (a body against a number) is an error, not an order (`| float` converts)."
#[test]
fn a_string_is_not_ordered_against_a_number() {
    let out = Test::new()
        .runbook(
            r#"
            name: orders
            title: Orders
            vars: {x: "0.3"}
            steps:
              - {id: raw, title: Raw, wait: 1ms, expect: vars.x < 0.5, on_fail: continue}
              - {id: converted, title: Converted, wait: 1ms, expect: "vars.x | float < 0.5"}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
    out.outcome("raw", "failed");
    assert_eq!(
        out.finished("raw")["failures"],
        json!([
            "expected vars.x < 0.5, but it could not be evaluated: invalid operation: cannot \
             order vars.x (string \"0.3\") against 0.5 (number 0.5)"
        ])
    );
    out.outcome("converted", "passed");
}

/// "an unknown filter, test or method, with the closest known one (`'x'.stirp()` → `did you
/// mean strip`)", and "Ansible's own filters (`regex_replace`, `to_yaml`, ...) do not exist
/// here", while `quote` and `b64encode` do.
#[test]
fn validate_names_a_misspelt_method_and_an_ansible_only_filter() {
    let out = Test::new()
        .runbook(
            r#"
            name: names
            title: Names
            vars: {x: a}
            steps:
              - {id: a, title: A, wait: 1ms, when: "'x'.stirp() == 'x'"}
              - {id: b, title: B, action: false, command: {argv: [echo, "{{ vars.x | regex_replace('a', 'b') }}"]}}
              - {id: c, title: C, action: false, command: {argv: [echo, "{{ vars.x | quote }} {{ vars.x | b64encode }}"]}}
            "#,
        )
        .args(["validate", RUNBOOK])
        .run()
        .status(2)
        .stderr_has(
            "runbook.yaml:5:45: `when`: unknown method `.stirp()` (did you mean `strip`?)",
        )
        .stderr_has(
            "runbook.yaml:6:74: an `argv` element: unknown filter `regex_replace`: an Ansible \
             filter that MiniJinja does not have",
        )
        .stderr_has("error: runbook.yaml: 2 problems");
    assert!(!out.stderr.contains("quote"), "{}", out.stderr);
    assert!(!out.stderr.contains("b64encode"), "{}", out.stderr);
}

/// "An expression may be wrapped in one `{{ }}` or not."
#[test]
fn an_expression_may_be_wrapped_in_braces() {
    let out = Test::new()
        .runbook(
            r#"
            name: wrapped
            title: Wrapped
            vars: {limit: 5}
            steps:
              - {id: bare, title: Bare, wait: 1ms, when: vars.limit > 1, expect: waited_ms < vars.limit * 1000}
              - {id: braced, title: Braced, wait: 1ms, when: "{{ vars.limit > 1 }}", expect: "{{ waited_ms < vars.limit * 1000 }}"}
              - {id: braced_false, title: Braced false, wait: 1ms, when: "{{ vars.limit > 10 }}"}
              - {id: braced_failing, title: Braced failing, wait: 1ms, expect: "{{ waited_ms > vars.limit * 1000 }}", on_fail: continue}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
    out.outcome("bare", "passed");
    out.outcome("braced", "passed");
    out.outcome("braced_false", "skipped");
    out.outcome("braced_failing", "failed");
    assert_eq!(
        out.finished("braced_failing")["failures"],
        json!(["expected waited_ms > vars.limit * 1000, got waited_ms = 1, vars.limit = 5"])
    );
}
