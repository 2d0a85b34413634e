//! Missing evidence never passes: a probe nobody answered, a query without series, a NaN, an
//! undefined name. Each through the real binary against a real server on 127.0.0.1.

use crate::support::{Server, Test};

#[test]
fn a_hung_endpoint_fails_rate_5xx_below_a_threshold() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: hung
            title: A load balancer that accepts and never answers
            steps:
              - id: sample
                title: Sample the load balancer
                http: {url: "$SERVER/hang", samples: 20, concurrency: 5, timeout: 500ms}
                expect: rate_5xx < 0.02
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("failed", 1)
        .stdout_has(
            "expected rate_5xx < 0.02, but rate_5xx is none (0 of 20 requests were answered)",
        );
    let finished = out.finished("sample");
    assert_eq!(finished["outcome"], "failed");
    assert_eq!(
        finished["failures"],
        serde_json::json!([
            "expected rate_5xx < 0.02, but rate_5xx is none (0 of 20 requests were answered)"
        ])
    );
    let data = &finished["data"];
    assert_eq!(data["responses"], 0, "{data}");
    assert_eq!(data["error_count"], 5, "{data}");
    assert_eq!(data["not_sent"], 15, "{data}");
    assert_eq!(data["rate_error"], 1.0, "{data}");
    assert!(data["rate_5xx"].is_null(), "{data}");
    assert_eq!(
        finished["summary"],
        format!(
            "failed 100%: 5 timed out after 500 ms waiting for response headers ({}), 15 not sent",
            data["url"].as_str().unwrap()
        )
    );
}

#[test]
fn a_query_without_series_fails_value_below_a_threshold() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: blind
            title: A metric that is not there
            steps:
              - id: cpu
                title: Backend CPU under the autoscale threshold
                prometheus: {url: "$SERVER", query: empty, timeout: 500ms}
                expect: value < 0.5
                on_fail: continue
              - id: cpu_nan
                title: Backend CPU is NaN
                prometheus: {url: "$SERVER", query: nan, timeout: 500ms}
                expect: value < 0.5
                on_fail: continue
              - id: cpu_inf
                title: Backend CPU is infinite
                prometheus: {url: "$SERVER", query: inf, timeout: 500ms}
                expect: value > 0.5 and value is not nan
                on_fail: continue
              - id: nan_is_seen
                title: NaN is a float expressions can test for
                prometheus: {url: "$SERVER", query: nan, timeout: 500ms}
                expect: value is nan and values[0].value is nan and value is not finite
            "#,
        )
        .args(["run"])
        .run()
        // Every failing check said `on_fail: continue`.
        .run_outcome("completed", 0)
        .stdout_has("expected value < 0.5, but value is none (the query returned no series)")
        .stdout_has("expected value < 0.5, but value is NaN (Prometheus returned NaN)");
    let cpu = out.outcome("cpu", "failed");
    assert!(cpu["value"].is_null(), "{cpu}");
    assert_eq!(cpu["series"], 0);
    // The timeline keeps Prometheus's own spelling of the values JSON cannot hold.
    assert_eq!(out.outcome("cpu_nan", "failed")["value"], "NaN");
    let inf = out.outcome("cpu_inf", "passed");
    assert_eq!(inf["value"], "+Inf");
    assert_eq!(inf["values"][0]["value"], "+Inf");
    out.outcome("nan_is_seen", "passed");
}

/// `when` with missing evidence is an error, not a quiet skip or a quiet run.
#[test]
fn a_when_that_orders_missing_evidence_is_an_error() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: when-blind
            title: Act only when CPU is high
            steps:
              - id: cpu
                title: Backend CPU
                prometheus: {url: "$SERVER", query: empty, timeout: 500ms}
              - id: scale
                title: Scale out
                when: steps.cpu.value >= 0.5
                http: {url: "$SERVER/scale", method: POST, timeout: 500ms}
            "#,
        )
        .args(["run", "--yes"])
        .run()
        .run_outcome("failed", 1);
    let scale = out.finished("scale");
    assert_eq!(scale["outcome"], "error");
    assert_eq!(
        scale["summary"],
        "when: steps.cpu.value is none (the query returned no series)"
    );
    assert_eq!(server.count("/scale"), 0, "no action without evidence");
}

#[test]
fn defaults_written_by_the_author_still_pass() {
    let server = Server::start();
    Test::new()
        .server(&server)
        .runbook(
            r#"
            name: defaults
            title: Defaults are the author's choice
            steps:
              - id: cpu
                title: No series counts as fine here
                prometheus: {url: "$SERVER", query: empty, timeout: 500ms}
                expect:
                  - value is none or value < 0.5
                  - (value or 0) < 0.5
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
}

/// An undefined value at run time names what was undefined.
#[test]
fn an_undefined_value_is_named() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: undefined
            title: Thresholds per site
            vars:
              sites:
                - {path: /status/200, max_rate: 0.1}
                - {path: /status/200}
            steps:
              - id: sites
                title: Each site under its own threshold
                loop: vars.sites
                http: {url: "$SERVER{{ item.path }}", samples: 2, timeout: 500ms}
                expect: rate_error < item.max_rate
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("failed", 1)
        .stdout_has("item.max_rate is undefined")
        .stdout_lacks("undefined value");
    let finished = out.finished("sites");
    assert!(
        finished.to_string().contains("item.max_rate is undefined"),
        "{finished}"
    );
}
