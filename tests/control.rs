//! The control keys every step can carry: when, expect, retry, on_fail, action, loop/parallel,
//! milestone, and the references between steps.

use serde_json::json;

use crate::support::*;

// ---------------------------------------------------------------- when

#[test]
fn when_false_skips_the_step() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: when
            title: Conditional steps
            vars: {env: staging, reference_sites: []}
            steps:
              - id: prod_only
                title: Only in production
                when: vars.env == 'prod'
                http: {url: "$SERVER/status/200", timeout: 500ms}
              - id: staging_only
                title: Only in staging
                when: "{{ vars.env == 'staging' }}"
                http: {url: "$SERVER/status/201", timeout: 500ms}
              - id: references
                title: Only with reference sites
                when: vars.reference_sites | length > 0
                http: {url: "$SERVER/status/202", timeout: 500ms}
            "#,
        )
        .args(["run"])
        .run()
        .status(0)
        .stdout_line(&["SKIPPED", "prod_only"]);
    out.outcome("prod_only", "skipped");
    out.outcome("staging_only", "passed");
    out.outcome("references", "skipped");
    assert_eq!(server.count("/status/200"), 0);
    assert_eq!(server.count("/status/201"), 1);
    assert_eq!(server.count("/status/202"), 0);

    // The same runbook with the condition true runs the step.
    out.then()
        .args(["run", "--var", "env=prod", "--timeline", "prod.jsonl"])
        .run()
        .status(0);
    assert_eq!(server.count("/status/200"), 1);
}

// ---------------------------------------------------------------- expect

#[test]
fn expect_list_reports_every_failed_expectation_with_actual_values() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: expect-list
            title: Several expectations
            vars: {max_latency_ms: 5000}
            steps:
              - id: page
                title: Page looks right
                http: {url: "$SERVER/status/503", timeout: 500ms}
                expect:
                  - status == 200
                  - p95_ms < vars.max_latency_ms
                  - "'healthy' in body"
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("failed", 1)
        .stdout_has("expected status == 200, got status = 503")
        .stdout_has("expected 'healthy' in body, got body = \"status 503\"")
        .stdout_lacks("expected p95_ms < vars.max_latency_ms");
    let finished = out.finished("page");
    assert_eq!(finished["outcome"], "failed");
    let failures = finished["failures"].as_array().expect("failures listed");
    assert_eq!(failures.len(), 2, "{finished}");
}

#[test]
fn expect_overrides_the_default_criterion() {
    let server = Server::start();
    // Without expect a 503 fails; with an expect that wants it, it passes.
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: expect-503
            title: Maintenance page expected
            steps:
              - id: maintenance
                title: Maintenance mode answers 503
                http: {url: "$SERVER/status/503", timeout: 500ms}
                expect: status == 503
            "#,
        )
        .args(["run"])
        .run()
        .status(0);
    out.outcome("maintenance", "passed");
}

#[test]
fn expect_failure_message_names_vars_too() {
    let server = Server::start();
    server.sequence(
        "/lb",
        std::iter::repeat_n(502, 19).chain(std::iter::repeat_n(200, 31)),
    );
    Test::new()
        .server(&server)
        .runbook(
            r#"
            name: expect-vars
            title: Threshold from vars
            vars: {max_5xx_rate: 0.02}
            steps:
              - id: sample
                title: Sample the LB
                http: {url: "$SERVER/lb", samples: 50, concurrency: 5, timeout: 500ms}
                expect: rate_5xx < vars.max_5xx_rate
            "#,
        )
        .args(["run"])
        .run()
        .status(1)
        .stdout_has(
            "expected rate_5xx < vars.max_5xx_rate, got rate_5xx = 0.38, vars.max_5xx_rate = 0.02",
        );
}

// ---------------------------------------------------------------- retry

#[test]
fn retry_repeats_until_the_expectation_holds() {
    let server = Server::start();
    server.sequence("/recovering", [502, 502, 200]);
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: retry
            title: Wait until recovered
            steps:
              - id: verify
                title: LB recovered
                http: {url: "$SERVER/recovering", timeout: 500ms}
                expect: status == 200
                retry: {attempts: 5, delay: 50ms}
            "#,
        )
        .args(["run"])
        .run()
        .status(0)
        .stdout_line(&["PASSED", "verify"]);
    assert_eq!(server.count("/recovering"), 3);
    let attempts = out.events("step_attempt");
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[0]["attempt"], 1);
    assert_eq!(attempts[1]["attempt"], 2);
    assert_eq!(attempts[0]["step"], "verify");
    assert_eq!(attempts[0]["data"]["status"], 502);
    let finished = out.finished("verify");
    assert_eq!(finished["outcome"], "passed");
    assert_eq!(finished["attempt"], 3);
    assert_eq!(finished["data"]["status"], 200);
    assert_eq!(out.events("step_finished").len(), 1);
}

#[test]
fn retry_gives_up_after_the_last_attempt() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: retry-out
            title: Never recovers
            defaults: {timeout: 500ms}
            steps:
              - id: verify
                title: LB recovered
                http: {url: "$SERVER/status/502"}
                expect: status == 200
                retry: {attempts: 3, delay: 10ms}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("failed", 1)
        .stdout_has("expected status == 200, got status = 502");
    assert_eq!(server.count("/status/502"), 3);
    let finished = out.finished("verify");
    assert_eq!(finished["outcome"], "failed");
    assert_eq!(finished["attempt"], 3);
    assert_eq!(out.events("step_attempt").len(), 2);
}

#[test]
fn retry_from_defaults_applies_to_every_step() {
    let server = Server::start();
    server.sequence("/flaky", [503, 200]);
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: retry-defaults
            title: Default retry
            defaults: {timeout: 500ms, retry: {attempts: 2, delay: 10ms}}
            steps:
              - id: flaky
                title: Flaky endpoint
                http: {url: "$SERVER/flaky"}
            "#,
        )
        .args(["run"])
        .run()
        .status(0);
    assert_eq!(out.finished("flaky")["attempt"], 2);
    assert_eq!(server.count("/flaky"), 2);
}

// ---------------------------------------------------------------- on_fail

#[test]
fn on_fail_stop_is_the_default_and_finally_still_runs() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: stop
            title: Stop at the first failure
            steps:
              - id: broken
                title: Broken check
                http: {url: "$SERVER/status/500", timeout: 500ms}
              - id: next
                title: Not reached
                http: {url: "$SERVER/status/200", timeout: 500ms}
            finally:
              - id: cleanup
                title: Always runs
                http: {url: "$SERVER/status/204", timeout: 500ms}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("failed", 1)
        .stdout_line(&["FAILED", "broken"]);
    out.not_started("next");
    out.outcome("cleanup", "passed");
    assert_eq!(server.count("/status/200"), 0);
    assert_eq!(server.count("/status/204"), 1);
}

#[test]
fn on_fail_continue_goes_on() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: continue
            title: Keep going
            steps:
              - id: reference
                title: A reference site is down
                http: {url: "$SERVER/status/503", timeout: 500ms}
                on_fail: continue
              - id: next
                title: Still runs
                http: {url: "$SERVER/status/200", timeout: 500ms}
                expect: steps.reference.passed == false and steps.reference.outcome == 'failed'
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
    out.outcome("reference", "failed");
    out.outcome("next", "passed");
}

#[test]
fn on_fail_goto_can_loop_backwards_until_it_passes() {
    let server = Server::start();
    server.sequence("/lb", [502, 502, 200]);
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: goto
            title: Refresh until healthy
            steps:
              - id: refresh
                title: Refresh the LB config
                http: {url: "$SERVER/status/204", method: POST, timeout: 500ms}
              - id: verify
                title: LB healthy
                http: {url: "$SERVER/lb", timeout: 500ms}
                on_fail: {goto: refresh}
              - id: done
                title: Done
                wait: 1ms
            "#,
        )
        .args(["run", "--yes"])
        .run()
        .run_outcome("completed", 0);
    assert_eq!(server.count("/status/204"), 3);
    assert_eq!(server.count("/lb"), 3);
    let verify_outcomes: Vec<_> = out
        .events("step_finished")
        .into_iter()
        .filter(|e| e["step"] == "verify")
        .map(|e| e["outcome"].clone())
        .collect();
    assert_eq!(
        verify_outcomes,
        [json!("failed"), json!("failed"), json!("passed")]
    );
    out.outcome("done", "passed");
}

#[test]
fn on_fail_goto_loop_is_bounded_at_ten_entries() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: goto-forever
            title: Never healthy
            steps:
              - id: check
                title: LB healthy
                http: {url: "$SERVER/status/502", timeout: 500ms}
                on_fail: {goto: check}
            finally:
              - id: cleanup
                title: Always runs
                wait: 1ms
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("failed", 1)
        .stderr_has("check")
        .stderr_has("10 times");
    assert_eq!(server.count("/status/502"), 10);
    let reason = out.run_finished()["reason"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        reason.contains("`check`") && reason.contains("10"),
        "reason: {reason}"
    );
    out.outcome("cleanup", "passed");
}

// ---------------------------------------------------------------- action

const ACTIONS: &str = r#"
    name: actions
    title: Remediate
    steps:
      - id: check
        title: Check the LB
        http: {url: "$SERVER/status/200", timeout: 500ms}
      - id: reprovision
        title: Reprovision the front ends
        http: {url: "$SERVER/echo", method: POST, json: {nodes: all}, timeout: 500ms}
      - id: touch
        title: Record it locally
        command: {argv: [touch, touched.txt]}
      - id: verify
        title: Verify
        http: {url: "$SERVER/status/201", timeout: 500ms}
    finally:
      - id: notify
        title: Tell the channel
        http: {url: "$SERVER/status/202", timeout: 500ms}
    "#;

#[test]
fn action_without_yes_blocks_and_finally_still_runs() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(ACTIONS)
        .args(["run", "--non-interactive"])
        .run()
        .run_outcome("blocked", 4)
        .stdout_line(&["BLOCKED", "reprovision"])
        .stderr_has("--yes");
    out.outcome("check", "passed");
    out.outcome("reprovision", "blocked");
    out.not_started("touch");
    out.not_started("verify");
    out.outcome("notify", "passed");
    assert_eq!(server.count("/echo"), 0);
    assert_eq!(server.count("/status/202"), 1);
    assert!(!out.path("touched.txt").exists());
}

#[test]
fn action_with_yes_runs() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(ACTIONS)
        .args(["run", "--non-interactive", "--yes"])
        .run()
        .run_outcome("completed", 0);
    out.outcome("reprovision", "passed");
    out.outcome("touch", "passed");
    out.outcome("verify", "passed");
    assert_eq!(server.count("/echo"), 1);
    assert!(out.path("touched.txt").exists());
}

#[test]
fn dry_run_records_actions_and_goes_on() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(ACTIONS)
        .args(["run", "--dry-run"])
        .run()
        .run_outcome("completed", 0)
        .stdout_line(&["reprovision"]);
    out.outcome("check", "passed");
    out.outcome("reprovision", "dry_run");
    out.outcome("touch", "dry_run");
    out.outcome("verify", "passed");
    assert_eq!(server.count("/echo"), 0);
    assert_eq!(server.count("/status/200"), 1);
    assert_eq!(server.count("/status/201"), 1);
    assert!(!out.path("touched.txt").exists());
}

#[test]
fn action_key_overrides_the_default() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: action-key
            title: Explicit action flags
            steps:
              - id: harmless
                title: A read-only command
                action: false
                command: {argv: ["true"]}
              - id: purge
                title: A GET that changes things
                action: true
                http: {url: "$SERVER/status/200", timeout: 500ms}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("blocked", 4);
    out.outcome("harmless", "passed");
    out.outcome("purge", "blocked");
    assert_eq!(server.count("/status/200"), 0);
}

// ---------------------------------------------------------------- loop

#[test]
fn loop_runs_each_item_and_counts_them() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: loop
            title: Reference sites
            vars:
              reference_sites: ["$SERVER/status/200", "$SERVER/status/502", "$SERVER/status/204"]
            steps:
              - id: sites
                title: Reference sites are up
                loop: vars.reference_sites
                http: {url: "{{ item }}", timeout: 500ms}
                expect: status < 500
                on_fail: continue
              - id: codes
                title: Literal list
                loop: [200, 201]
                http: {url: "$SERVER/status/{{ item }}", timeout: 500ms}
                expect: status == item
            "#,
        )
        .args(["run"])
        .run()
        .status(0);
    let sites = out.outcome("sites", "failed");
    assert_eq!(sites["passed_count"], 2);
    assert_eq!(sites["failed_count"], 1);
    let items = sites["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let statuses: Vec<_> = items.iter().map(|i| i["status"].clone()).collect();
    assert_eq!(statuses, [json!(200), json!(502), json!(204)]);
    let codes = out.outcome("codes", "passed");
    assert_eq!(codes["passed_count"], 2);
    assert_eq!(codes["failed_count"], 0);
    assert_eq!(server.count("/status/502"), 1);
    assert_eq!(server.count("/status/201"), 1);
}

/// A remediation over "every item that is broken" when none is: nothing is rendered (its
/// templates read `item`), confirmed or run, and the step passes with no items, also as an
/// action without `--yes`.
#[test]
fn loop_over_nothing_passes_without_rendering_or_asking() {
    let out = Test::new()
        .runbook(
            r#"
            name: loop
            title: Nothing to fix
            vars:
              broken: []
            steps:
              - id: fix
                title: Fix each broken node
                loop: vars.broken
                command: {argv: [touch, "fixed-{{ item.name }}"]}
              - id: after
                title: After
                wait: 0s
                expect: steps.fix.passed_count == 0 and steps.fix.failed_count == 0
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
    let fix = out.finished("fix");
    assert_eq!(fix["outcome"], "passed", "{fix}");
    assert_eq!(fix["summary"], "no items");
    assert_eq!(fix["data"]["items"], json!([]));
    out.outcome("after", "passed");
}

#[test]
fn loop_parallel_runs_items_concurrently() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: loop-parallel
            title: Twenty slow checks
            vars:
              nodes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]
            steps:
              - id: nodes
                title: Every node answers
                loop: vars.nodes
                parallel: 10
                http: {url: "$SERVER/slow/500?node={{ item }}", timeout: 2s}
                expect: status == 200
            "#,
        )
        .args(["run"])
        .run()
        .status(0);
    let data = out.outcome("nodes", "passed");
    assert_eq!(data["passed_count"], 20);
    assert_eq!(data["failed_count"], 0);
    assert_eq!(data["items"].as_array().unwrap().len(), 20);
    assert_eq!(server.count("/slow/500"), 20);
    let mut nodes: Vec<String> = server
        .requests_to("/slow/500")
        .into_iter()
        .map(|r| r.query)
        .collect();
    nodes.sort();
    nodes.dedup();
    assert_eq!(nodes.len(), 20, "each item got its own URL: {nodes:?}");
    // One at a time is 10 s; ten at a time about 1 s. Half the serial time proves more than
    // two at a time, with five times the ideal for a loaded machine.
    let ms = out.finished("nodes")["duration_ms"].as_u64().unwrap();
    assert!(ms < 5000, "20 x 500 ms at parallel 10 took {ms} ms");
}

// ---------------------------------------------------------------- milestone

#[test]
fn milestone_is_recorded_when_the_step_passes() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: milestones
            title: Incident milestones
            steps:
              - id: detect
                title: 502s confirmed
                http: {url: "$SERVER/status/502", timeout: 500ms}
                expect: status == 502
                milestone: detected
              - id: not_yet
                title: Not mitigated yet
                http: {url: "$SERVER/status/502", timeout: 500ms}
                milestone: mitigated
                on_fail: continue
              - id: recovered
                title: LB healthy again
                http: {url: "$SERVER/status/200", timeout: 500ms}
                milestone: resolved
            "#,
        )
        .args(["run"])
        .run()
        .status(0);
    let milestones: Vec<_> = out
        .events("milestone")
        .into_iter()
        .map(|e| (e["milestone"].clone(), e["step"].clone()))
        .collect();
    assert_eq!(
        milestones,
        [
            (json!("detected"), json!("detect")),
            (json!("resolved"), json!("recovered")),
        ]
    );
    // The milestone follows its step's step_finished.
    let timeline = out.timeline();
    let at = |pred: &dyn Fn(&serde_json::Value) -> bool| timeline.iter().position(pred).unwrap();
    assert!(
        at(&|e| e["event"] == "step_finished" && e["step"] == "detect")
            < at(&|e| e["event"] == "milestone" && e["milestone"] == "detected")
    );
}

// ---------------------------------------------------------------- references

#[test]
fn steps_reference_earlier_results() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: refs
            title: Steps use earlier results
            steps:
              - id: inventory
                title: List the front ends
                action: false
                command: {argv: [printf, '{"unhealthy": 2, "pool": "launchpad"}']}
              - id: lb
                title: LB status
                http: {url: "$SERVER/status/502", timeout: 500ms}
                on_fail: continue
              - id: reprovision
                title: Reprovision only when nodes are unhealthy
                when: steps.inventory.json.unhealthy > 0 and not steps.lb.passed
                http:
                  url: "$SERVER/echo"
                  method: POST
                  json: {pool: "{{ steps.inventory.json.pool }}", count: "{{ steps.inventory.json.unhealthy }}", lb_status: "{{ steps.lb.status }}"}
                  timeout: 500ms
                expect: json.json.count == steps.inventory.json.unhealthy
              - id: skipped_one
                title: Skipped when the LB is fine
                when: steps.lb.passed
                wait: 1ms
              - id: check
                title: The skip is visible to later steps
                wait: 1ms
                expect: steps.skipped_one.outcome == 'skipped' and steps.reprovision.passed
            "#,
        )
        .args(["run", "--yes"])
        .run()
        .status(0);
    out.outcome("reprovision", "passed");
    out.outcome("skipped_one", "skipped");
    out.outcome("check", "passed");
    let sent = server.requests_to("/echo");
    assert_eq!(sent.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!(
        body,
        json!({"pool": "launchpad", "count": 2, "lb_status": 502})
    );
}
