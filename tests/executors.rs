//! Every executor against real endpoints: what it sends, the fields it records, and when it
//! passes without an `expect`.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

/// A port on 127.0.0.1 where nothing listens.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

// ---------------------------------------------------------------- http

#[test]
fn http_get_records_the_response() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: http-get
            title: GET one page
            steps:
              - id: home
                title: Home page answers
                http: {url: "$SERVER/status/200", timeout: 500ms}
                expect: status == 200 and body == 'status 200'
            "#,
        )
        .args(["run"])
        .run()
        .status(0)
        .stdout_line(&["PASSED", "home", "Home page answers"]);
    let data = out.outcome("home", "passed");
    assert_eq!(data["status"], 200);
    assert_eq!(data["count"], 1);
    assert_eq!(data["status_counts"], json!({"200": 1}));
    assert_eq!(data["error_count"], 0);
    assert_eq!(data["rate_5xx"], 0.0);
    assert_eq!(data["rate_error"], 0.0);
    assert_eq!(data["body"], "status 200");
    assert!(data["json"].is_null(), "`status 200` is not JSON: {data}");
    assert!(data["headers"].is_object(), "{data}");
    for field in ["p50_ms", "p95_ms", "p99_ms", "max_ms"] {
        assert!(data[field].is_number(), "{field}: {data}");
    }
    let requests = server.requests_to("/status/200");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "GET");
}

#[test]
fn http_without_expect_fails_on_a_5xx() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: http-502
            title: A 502 fails the step
            steps:
              - id: lb
                title: Load balancer
                http: {url: "$SERVER/status/502", timeout: 500ms}
              - id: after
                title: Never reached
                wait: 1ms
            "#,
        )
        .args(["run"])
        .run()
        .status(1)
        .stdout_line(&["FAILED", "lb"]);
    let data = out.outcome("lb", "failed");
    assert_eq!(data["status"], 502);
    assert_eq!(data["rate_5xx"], 1.0);
    out.not_started("after");
}

#[test]
fn http_samples_aggregate_into_one_result() {
    let server = Server::start();
    // 19 of 50 answers are 502: rate_5xx 0.38, whatever order concurrency serves them in.
    server.sequence(
        "/lb",
        std::iter::repeat_n(502, 19).chain(std::iter::repeat_n(200, 31)),
    );
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: lb-sample
            title: Sample the load balancer
            steps:
              - id: sample
                title: Sample the LB for 502s
                http: {url: "$SERVER/lb", samples: 50, concurrency: 10, timeout: 500ms}
                expect: rate_5xx < 0.02
            "#,
        )
        .args(["run"])
        .run()
        .status(1)
        .stdout_has("expected rate_5xx < 0.02, got rate_5xx = 0.38");
    let data = out.outcome("sample", "failed");
    assert_eq!(data["count"], 50);
    assert_eq!(data["status_counts"], json!({"200": 31, "502": 19}));
    assert_eq!(data["rate_5xx"], 0.38);
    assert_eq!(data["rate_error"], 0.38);
    assert_eq!(data["error_count"], 0);
    for field in ["p50_ms", "p95_ms", "p99_ms", "max_ms"] {
        assert!(data[field].is_number(), "{field}: {data}");
    }
    assert!(data["p50_ms"].as_f64() <= data["p95_ms"].as_f64());
    assert!(data["p95_ms"].as_f64() <= data["max_ms"].as_f64());
    assert_eq!(server.count("/lb"), 50);
    // One aggregate result, not 50 events.
    assert_eq!(out.events("step_finished").len(), 1);
    assert_eq!(out.events("step_started").len(), 1);
    let summary = out.finished("sample")["summary"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(summary.contains("38%"), "summary: {summary}");
}

#[test]
fn http_samples_run_concurrently() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: concurrency
            title: Ten slow requests, ten at a time
            steps:
              - id: slow
                title: Slow endpoint
                http: {url: "$SERVER/slow/300", samples: 10, concurrency: 10, timeout: 2s}
            "#,
        )
        .args(["run"])
        .run()
        .status(0);
    let finished = out.finished("slow");
    assert_eq!(finished["data"]["count"], 10);
    // One at a time would take 3 s.
    let ms = finished["duration_ms"].as_u64().unwrap();
    assert!(ms < 1500, "10 x 300 ms at concurrency 10 took {ms} ms");
    assert!(finished["data"]["p50_ms"].as_f64().unwrap() >= 300.0);
}

#[test]
fn http_post_sends_headers_and_a_typed_json_body() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: http-post
            title: POST a refresh
            vars:
              rate: 0.05
              nodes: 3
              pool: launchpad
              enabled: true
            steps:
              - id: refresh
                title: Refresh the LB config
                http:
                  url: "$SERVER/echo"
                  method: POST
                  headers: {X-Pool: "{{ vars.pool }}", X-Nodes: "{{ vars.nodes }}"}
                  json:
                    rate: "{{ vars.rate }}"
                    nodes: "{{ vars.nodes }}"
                    pool: "{{ vars.pool }}"
                    enabled: "{{ vars.enabled }}"
                    label: "pool-{{ vars.pool }}"
                    fixed: [1, two]
                  timeout: 500ms
                expect:
                  - status == 200
                  - json.method == 'POST'
                  - json.json.nodes == 3
            "#,
        )
        .args(["run", "--yes"])
        .run()
        .status(0);
    out.outcome("refresh", "passed");
    let requests = server.requests_to("/echo");
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.header("x-pool"), Some("launchpad"));
    assert_eq!(request.header("x-nodes"), Some("3"));
    assert!(
        request
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{request:?}"
    );
    let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(
        body,
        json!({
            "rate": 0.05,
            "nodes": 3,
            "pool": "launchpad",
            "enabled": true,
            "label": "pool-launchpad",
            "fixed": [1, "two"],
        })
    );
}

#[test]
fn http_text_body_is_sent_as_written() {
    let server = Server::start();
    Test::new()
        .server(&server)
        .runbook(
            r#"
            name: http-text
            title: PUT a text body
            vars: {node: fe-7}
            steps:
              - id: drain
                title: Drain a node
                http:
                  url: "$SERVER/echo"
                  method: PUT
                  body: "drain {{ vars.node }}"
                  timeout: 500ms
            "#,
        )
        .args(["run", "--yes"])
        .run()
        .status(0);
    let requests = server.requests_to("/echo");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "PUT");
    assert_eq!(requests[0].body, "drain fe-7");
}

#[test]
fn http_post_is_an_action_by_default_and_get_is_not() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: default-action
            title: POST is an action
            steps:
              - id: look
                title: GET is a check
                http: {url: "$SERVER/status/200", timeout: 500ms}
              - id: peek
                title: HEAD is a check
                http: {url: "$SERVER/status/204", method: HEAD, timeout: 500ms}
              - id: change
                title: POST is an action
                http: {url: "$SERVER/echo", method: POST, timeout: 500ms}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("blocked", 4);
    out.outcome("look", "passed");
    out.outcome("peek", "passed");
    out.outcome("change", "blocked");
    assert_eq!(server.count("/status/200"), 1);
    assert_eq!(server.count("/status/204"), 1);
    assert_eq!(
        server.count("/echo"),
        0,
        "a blocked action must not be sent"
    );
}

#[test]
fn http_refused_connection_is_data_not_an_error() {
    let port = closed_port();
    let out = Test::new()
        .runbook(&format!(
            r#"
            name: refused
            title: Nothing listens
            steps:
              - id: down
                title: Backend is down
                http: {{url: "http://127.0.0.1:{port}/", timeout: 500ms}}
              - id: down_expected
                title: Backend is down, as expected
                http: {{url: "http://127.0.0.1:{port}/", samples: 3, timeout: 500ms}}
                expect: [status is none, error_count == 3, rate_error == 1]
            "#
        ))
        .args(["run"])
        .run()
        .status(1);
    let data = out.outcome("down", "failed");
    assert!(data["status"].is_null(), "{data}");
    assert_eq!(data["error_count"], 1);
    assert_eq!(data["rate_error"], 1.0);
    assert_eq!(data["count"], 1);
    out.not_started("down_expected");

    let out = out
        .then()
        .runbook(&format!(
            r#"
            name: refused
            title: Nothing listens
            steps:
              - id: down_expected
                title: Backend is down, as expected
                http: {{url: "http://127.0.0.1:{port}/", samples: 3, timeout: 500ms}}
                expect: [status is none, error_count == 3, rate_error == 1]
            "#
        ))
        .args(["run", "--timeline", "second.jsonl"])
        .run()
        .status(0);
    let text = std::fs::read_to_string(out.path("second.jsonl")).unwrap();
    assert!(text.contains(r#""outcome":"passed""#), "{text}");
}

#[test]
fn http_timeout_is_bounded_and_recorded() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: hang
            title: A hanging endpoint
            steps:
              - id: hang
                title: Endpoint that never answers
                http: {url: "$SERVER/hang", timeout: 300ms}
                expect: error_count == 1
            "#,
        )
        .args(["run"])
        .run()
        .status(0);
    let data = out.outcome("hang", "passed");
    assert!(data["status"].is_null(), "{data}");
    assert_eq!(data["rate_error"], 1.0);
    assert!(
        out.elapsed < Duration::from_secs(5),
        "took {:?}",
        out.elapsed
    );
}

// ---------------------------------------------------------------- prometheus

#[test]
fn prometheus_value_values_and_series() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: prom
            title: Backend CPU
            vars: {autoscale_threshold: 0.5}
            steps:
              - id: cpu
                title: Backend CPU under the autoscale threshold
                prometheus: {url: "$SERVER/prom", query: "0.28", timeout: 500ms}
                expect: value < vars.autoscale_threshold
              - id: fleet
                title: Every front end
                prometheus: {url: "$SERVER", query: multi, timeout: 500ms}
                expect:
                  - series == 3
                  - values[2].value == 0.9
                  - values[0].labels.instance == 'fe-1:9100'
              - id: nothing
                title: No series
                prometheus: {url: "$SERVER", query: empty, timeout: 500ms}
                expect: value is none and series == 0
              - id: scalar
                title: A scalar
                prometheus: {url: "$SERVER", query: scalar, timeout: 500ms}
                expect: value == 42
            "#,
        )
        .args(["run"])
        .run()
        .status(0);
    let cpu = out.outcome("cpu", "passed");
    assert_eq!(cpu["value"], 0.28);
    assert_eq!(cpu["series"], 1);
    assert_eq!(cpu["values"][0]["value"], 0.28);
    assert_eq!(cpu["values"][0]["labels"]["instance"], "lb-1:9100");
    let fleet = out.outcome("fleet", "passed");
    assert_eq!(fleet["series"], 3);
    assert_eq!(fleet["value"], 0.2);
    out.outcome("nothing", "passed");
    out.outcome("scalar", "passed");

    // The request is a form POSTed to <url>/api/v1/query, as Prometheus's own UI sends it,
    // with the step's timeout for Prometheus too.
    let asked = server.requests_to("/prom/api/v1/query");
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].method, "POST");
    assert_eq!(asked[0].query, "");
    assert_eq!(asked[0].body, "query=0.28&timeout=500ms");
    assert!(
        asked[0].headers.contains(&(
            "content-type".into(),
            "application/x-www-form-urlencoded".into()
        )),
        "{:?}",
        asked[0]
    );
    assert_eq!(server.count("/api/v1/query"), 3);
}

#[test]
fn prometheus_error_envelope_is_a_step_error() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: prom-error
            title: A bad query
            steps:
              - id: broken
                title: Query Prometheus
                prometheus: {url: "$SERVER", query: "bad(", timeout: 500ms}
                expect: value < 1
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("failed", 1)
        .stdout_line(&["ERROR", "broken"])
        .stdout_has("parse error: unexpected end of input");
    let finished = out.finished("broken");
    assert_eq!(finished["outcome"], "error");
    assert!(
        finished["summary"]
            .as_str()
            .unwrap()
            .contains("parse error: unexpected end of input"),
        "{finished}"
    );
}

#[test]
fn prometheus_unreachable_fails_without_expect() {
    let port = closed_port();
    let out = Test::new()
        .runbook(&format!(
            r#"
            name: prom-down
            title: Prometheus is down
            steps:
              - id: cpu
                title: Query Prometheus
                prometheus: {{url: "http://127.0.0.1:{port}", query: up, timeout: 500ms}}
            "#
        ))
        .args(["run"])
        .run()
        .status(1);
    let data = out.outcome("cpu", "failed");
    assert!(data["value"].is_null(), "{data}");
}

// ---------------------------------------------------------------- statuspage

#[test]
fn statuspage_reads_indicator_components_and_incidents() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: status
            title: Provider status
            steps:
              - id: calm
                title: Provider is fine
                statuspage: {url: "$SERVER/pages/ok", timeout: 500ms}
                expect:
                  - indicator == 'none'
                  - components['Load Balancers'] == 'operational'
                  - incidents | length == 0
              - id: outage
                title: Provider has an outage
                statuspage: {url: "$SERVER/pages/major/", timeout: 500ms}
                expect:
                  - indicator == 'major'
                  - components['Load Balancers'] == 'major_outage'
                  - incidents[0].impact == 'major'
              - id: derived
                title: Indicator derived from components
                statuspage: {url: "$SERVER/pages/derived", timeout: 500ms}
                expect: indicator == 'major'
              - id: weird
                title: Unknown values are kept
                statuspage: {url: "$SERVER/pages/weird", timeout: 500ms}
                expect: indicator == 'apocalyptic'
            "#,
        )
        .args(["run"])
        .run()
        .status(0);
    let calm = out.outcome("calm", "passed");
    assert_eq!(calm["description"], "All Systems Operational");
    assert_eq!(
        calm["components"],
        json!({"API": "operational", "Load Balancers": "operational"})
    );
    let outage = out.outcome("outage", "passed");
    assert_eq!(
        outage["incidents"],
        json!([{
            "name": "Elevated 502s from load balancers",
            "status": "investigating",
            "impact": "major",
        }])
    );
    let derived = out.outcome("derived", "passed");
    assert_eq!(
        derived["indicator"], "major",
        "a component in major outage: {derived}"
    );
    let weird = out.outcome("weird", "passed");
    assert_eq!(weird["components"], json!({"API": "on_fire"}));
    assert_eq!(weird["incidents"][0]["impact"], "cosmic");
    assert_eq!(weird["incidents"][0]["status"], "pondering");
    assert_eq!(server.count("/pages/ok/api/v2/summary.json"), 1);
    assert_eq!(server.count("/pages/major/api/v2/summary.json"), 1);
}

#[test]
fn statuspage_that_is_not_statuspage_json_is_an_error() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: status-html
            title: Not a status page
            steps:
              - id: page
                title: Provider status
                statuspage: {url: "$SERVER/pages/notjson", timeout: 500ms}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("failed", 1);
    out.outcome("page", "error");
}

// ---------------------------------------------------------------- tcp

#[test]
fn tcp_connected_true_and_false() {
    let server = Server::start();
    let port = closed_port();
    let out = Test::new()
        .runbook(&format!(
            r#"
            name: tcp
            title: Ports
            steps:
              - id: open
                title: Server port is open
                tcp: {{address: "127.0.0.1:{open}", timeout: 500ms}}
                expect: connected
              - id: closed_ok
                title: Closed port, as expected
                tcp: {{address: "127.0.0.1:{port}", timeout: 500ms}}
                expect: not connected
              - id: closed
                title: Closed port fails by default
                tcp: {{address: "127.0.0.1:{port}", timeout: 500ms}}
            "#,
            open = server.port()
        ))
        .args(["run"])
        .run()
        .status(1);
    let open = out.outcome("open", "passed");
    assert_eq!(open["connected"], true);
    assert!(open["connect_ms"].is_number(), "{open}");
    let closed = out.outcome("closed_ok", "passed");
    assert_eq!(closed["connected"], false);
    out.outcome("closed", "failed");
}

// ---------------------------------------------------------------- command

#[test]
fn command_argv_takes_templated_values_as_whole_arguments() {
    let out = Test::new()
        .runbook(
            r#"
            name: argv
            title: No shell splicing
            vars:
              word: "a; echo injected $(id) `id`"
            steps:
              - id: say
                title: Echo a var
                action: false
                command: {argv: [printf, "%s|", "{{ vars.word }}", two words]}
                expect: stdout == vars.word ~ '|two words|'
            "#,
        )
        .args(["run"])
        .run()
        .status(0);
    let data = out.outcome("say", "passed");
    assert_eq!(data["stdout"], "a; echo injected $(id) `id`|two words|");
    assert_eq!(data["exit_code"], 0);
}

#[test]
fn command_shell_env_and_cwd() {
    let test = Test::new().write("work/marker.txt", "here\n");
    let out = test
        .runbook(
            r#"
            name: shell
            title: Shell with env and cwd
            vars: {greeting: hello}
            steps:
              - id: greet
                title: Greet from a directory
                command:
                  shell: 'echo "$GREETING from $(basename "$PWD")"; cat marker.txt; echo oops >&2'
                  env: {GREETING: "{{ vars.greeting }}"}
                  cwd: work
            "#,
        )
        .args(["run", "--yes"])
        .run()
        .status(0);
    let data = out.outcome("greet", "passed");
    assert_eq!(data["stdout"], "hello from work\nhere\n");
    assert_eq!(data["stderr"], "oops\n");
}

#[test]
fn command_exit_code_and_json_stdout() {
    let out = Test::new()
        .runbook(
            r#"
            name: exit-codes
            title: Exit codes and JSON
            steps:
              - id: three
                title: Exits 3, as expected
                action: false
                command: {shell: "exit 3"}
                expect: exit_code == 3
              - id: report
                title: Prints JSON
                action: false
                command: {argv: [printf, '{"healthy": 2, "nodes": ["fe-1", "fe-2"]}']}
                expect: [json.healthy == 2, json.nodes | length == 2]
              - id: plain
                title: Prints text
                action: false
                command: {argv: [echo, not json]}
                expect: json is none
              - id: fails
                title: Exits 1 without expect
                action: false
                command: {argv: ["false"]}
            "#,
        )
        .args(["run"])
        .run()
        .status(1);
    assert_eq!(out.outcome("three", "passed")["exit_code"], 3);
    let report = out.outcome("report", "passed");
    assert_eq!(
        report["json"],
        json!({"healthy": 2, "nodes": ["fe-1", "fe-2"]})
    );
    out.outcome("plain", "passed");
    assert_eq!(out.outcome("fails", "failed")["exit_code"], 1);
}

#[test]
fn command_timeout_kills_the_whole_command() {
    // A background child records its pid, then would create late.txt after the timeout. The
    // foreground waits until the pid is recorded, so the timeout always lands on a started
    // child, whatever the machine's load.
    let out = Test::new()
        .runbook(
            r#"
            name: timeout
            title: A command that hangs
            steps:
              - id: hang
                title: Sleeps too long
                action: false
                command:
                  shell: |
                    sh -c 'echo $$ > bg.pid; sleep 5; touch late.txt' &
                    while [ ! -s bg.pid ]; do sleep 0.01; done
                    sleep 30
                  timeout: 2s
                expect: timed_out
            "#,
        )
        .args(["run"])
        .run()
        .status(0);
    let data = out.outcome("hang", "passed");
    assert_eq!(data["timed_out"], true);
    assert!(data["exit_code"].is_null(), "{data}");
    // Far from the 30 s the command would take, with room for a loaded machine.
    assert!(out.elapsed < Duration::from_secs(10), "{:?}", out.elapsed);
    let pid = std::fs::read_to_string(out.path("bg.pid"))
        .expect("the background child started before the timeout");
    let pid = pid.trim();
    // Had the kill missed the background child, it would be alive until it created late.txt
    // and only then exit: once it is gone, late.txt can never appear, and must not be there.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while alive(pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "the background child {pid} is still running 20 s after the timeout"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        !out.path("late.txt").exists(),
        "the background child outlived the timeout"
    );
}

/// Whether process `pid` is running (a zombie nobody reaped has finished running).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // `pid (comm) S ...`: the state follows the command name's closing parenthesis.
            let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
            Some(!matches!(state, 'Z' | 'X'))
        })
        .unwrap_or(false)
}

#[test]
fn command_that_cannot_start_is_an_error() {
    let out = Test::new()
        .runbook(
            r#"
            name: no-program
            title: Missing program
            steps:
              - id: missing
                title: Run a program that does not exist
                action: false
                command: {argv: [/nonexistent/program-xyz]}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("failed", 1);
    out.outcome("missing", "error");
}

// ---------------------------------------------------------------- manual

const MANUAL: &str = r#"
    name: manual
    title: Escalate to the provider
    steps:
      - id: escalate
        title: Open a ticket with the provider
        manual: Open a P1 ticket with the provider and paste its number.
        ask:
          - {name: ticket, prompt: Ticket number}
          - {name: contact, prompt: Who answered}
      - id: record
        title: Record the ticket
        action: false
        command: {argv: [echo, "ticket {{ steps.escalate.ticket }}"]}
        expect: stdout == 'ticket INC-4242\n'
    "#;

#[test]
fn manual_answers_come_from_the_answers_file() {
    let out = Test::new()
        .runbook(MANUAL)
        .write(
            "answers.yaml",
            "escalate: {ticket: INC-4242, contact: Dana}\n",
        )
        .args(["run", "--answers", "answers.yaml"])
        .run()
        .status(0);
    let data = out.outcome("escalate", "passed");
    assert_eq!(data["ticket"], "INC-4242");
    assert_eq!(data["contact"], "Dana");
    out.outcome("record", "passed");
}

#[test]
fn manual_without_an_answer_blocks() {
    let out = Test::new()
        .runbook(MANUAL)
        .write("answers.yaml", "escalate: {ticket: INC-4242}\n")
        .args(["run", "--answers", "answers.yaml"])
        .run()
        .run_outcome("blocked", 4)
        .stderr_has("contact");
    out.outcome("escalate", "blocked");
    out.not_started("record");

    // No answers file at all: blocked as well.
    out.then()
        .args(["run", "--timeline", "second.jsonl"])
        .run()
        .status(4);
}

#[test]
fn manual_without_ask_is_acknowledged() {
    let out = Test::new()
        .runbook(
            r#"
            name: manual-ack
            title: Read-only instructions
            steps:
              - id: look
                title: Look at the dashboard
                manual: Open the LB dashboard and keep it open.
            "#,
        )
        .args(["run"])
        .run()
        .status(0);
    out.outcome("look", "passed");
}

// ---------------------------------------------------------------- wait

#[test]
fn wait_waits() {
    let out = Test::new()
        .runbook(
            r#"
            name: wait
            title: Give it time
            steps:
              - id: settle
                title: Let the LB settle
                wait: 300ms
            "#,
        )
        .args(["run"])
        .run()
        .status(0)
        .stdout_line(&["PASSED", "settle", "Let the LB settle"]);
    let finished = out.finished("settle");
    assert_eq!(finished["outcome"], "passed");
    assert!(
        finished["duration_ms"].as_u64().unwrap() >= 300,
        "{finished}"
    );
    assert!(out.elapsed >= Duration::from_millis(300));
}

#[test]
fn http_follows_redirects_unless_told_not_to() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: redirects
            title: Redirects
            steps:
              - id: followed
                title: Followed by default
                http: {url: "$SERVER/redirect/201", timeout: 500ms}
                expect: status == 201
              - id: not_followed
                title: Not followed
                http: {url: "$SERVER/redirect/201", follow_redirects: false, timeout: 500ms}
                expect: status == 302
            "#,
        )
        .args(["run"])
        .run()
        .status(0);
    out.outcome("followed", "passed");
    out.outcome("not_followed", "passed");
    assert_eq!(server.count("/status/201"), 1);
    assert_eq!(server.count("/redirect/201"), 2);
}

#[test]
fn http_body_is_capped_at_one_mebibyte() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: big
            title: A large page
            steps:
              - id: big
                title: Large body
                http: {url: "$SERVER/big/1500000", timeout: 2s}
            "#,
        )
        .args(["run"])
        .run()
        .status(0);
    let data = out.outcome("big", "passed");
    let len = data["body"].as_str().unwrap().len();
    assert!((1..=1024 * 1024).contains(&len), "body of {len} bytes kept");
}

#[test]
fn default_timeout_applies_to_every_step() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: default-timeout
            title: Default timeout
            defaults: {timeout: 300ms}
            steps:
              - id: hang
                title: Hanging endpoint
                http: {url: "$SERVER/hang"}
                expect: status is none
              - id: slow_command
                title: Slow command
                action: false
                command: {argv: [sleep, "5"]}
                expect: timed_out
            "#,
        )
        .args(["run"])
        .run()
        .status(0);
    // The outcomes prove the default timeout applied (`status is none`, `timed_out`); the
    // bound only catches a step that waited for the end anyway, with room for a loaded machine.
    out.outcome("hang", "passed");
    out.outcome("slow_command", "passed");
    assert_eq!(out.finished("slow_command")["data"]["timed_out"], true);
    assert!(out.elapsed < Duration::from_secs(15), "{:?}", out.elapsed);
}

#[test]
fn a_template_that_cannot_render_is_a_step_error() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: render
            title: A template that fails at run time
            steps:
              - id: first
                title: Not JSON
                http: {url: "$SERVER/status/200", timeout: 500ms}
              - id: second
                title: Reads a field of null
                http: {url: "$SERVER/status/{{ steps.first.json.code.value }}", timeout: 500ms}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("failed", 1);
    out.outcome("second", "error");
    assert_eq!(
        server.requests().len(),
        1,
        "nothing is sent for a broken template"
    );
}

// ------------------------------------------------ http: the sampler matches a single request

// A single request goes through reqwest; a plain-HTTP sample of several through the sampler of
// `src/exec/http_sampler.rs`. Nothing the server sees, and no field, may tell them apart.

#[test]
fn http_samples_are_sent_exactly_as_a_single_request() {
    let server = Server::start();
    let step = |id: &str, samples: u32, method: &str| {
        format!(
            r#"
  - id: {id}
    title: Echo {id}
    http:
      url: "$SERVER/echo?pool=blue&n=2"
      method: {method}
      samples: {samples}
      concurrency: 2
      follow_redirects: false
      headers: {{X-Pool: blue, Accept: application/json}}
      json: {{drain: true, nodes: [1, 2]}}
      timeout: 2s
"#
        )
    };
    let yaml = format!(
        "name: same\ntitle: Same requests\nsteps:{}{}{}{}",
        step("post_single", 1, "POST"),
        step("post_sampled", 3, "POST"),
        // GETs follow redirects (the default) and still take the sampler.
        "\n  - id: get_single\n    title: GET one\n    http: {url: \"$SERVER/echo\", timeout: 2s}\n",
        "\n  - id: get_sampled\n    title: GET some\n    http: {url: \"$SERVER/echo\", samples: 3, timeout: 2s}\n",
    );
    let out = Test::new()
        .server(&server)
        .runbook(&yaml)
        .args(["run", "--yes"])
        .run()
        .status(0);
    let requests = server.requests_to("/echo");
    assert_eq!(requests.len(), 8, "{requests:#?}");
    for (single, sampled) in [
        (&requests[0], &requests[1..4]),
        (&requests[4], &requests[5..8]),
    ] {
        for request in sampled {
            assert_eq!(request.method, single.method);
            assert_eq!(request.query, single.query);
            assert_eq!(request.body, single.body);
            // Names, values and order.
            assert_eq!(request.headers, single.headers);
        }
    }
    let post = &requests[1];
    assert_eq!(post.method, "POST");
    assert_eq!(post.query, "pool=blue&n=2");
    assert_eq!(post.body, r#"{"drain":true,"nodes":[1,2]}"#);
    let host = format!("127.0.0.1:{}", server.port());
    assert_eq!(post.header("host"), Some(host.as_str()));
    assert_eq!(post.header("x-pool"), Some("blue"));
    assert_eq!(post.header("accept"), Some("application/json"));
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert_eq!(post.header("content-length"), Some("28"));
    assert_eq!(post.header("accept-encoding"), Some("gzip"));
    let agent = format!("runbook/{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(post.header("user-agent"), Some(agent.as_str()));
    assert_eq!(requests[5].header("accept"), Some("*/*"));

    for (single, sampled) in [
        ("post_single", "post_sampled"),
        ("get_single", "get_sampled"),
    ] {
        let single = out.outcome(single, "passed");
        let sampled = out.outcome(sampled, "passed");
        for field in ["status", "body", "json", "body_truncated", "url", "method"] {
            assert_eq!(single[field], sampled[field], "{field}");
        }
        // The same headers but `date`, which may have ticked.
        let headers = |data: &serde_json::Value| {
            let mut headers = data["headers"].as_object().unwrap().clone();
            headers.remove("date");
            headers
        };
        assert_eq!(headers(&single), headers(&sampled));
    }
}

/// A sampled redirect to another host is followed without the step's headers (none of them, not
/// only its credentials: issue 12); to the same host they go along.
#[test]
fn http_samples_drop_credentials_on_a_redirect_to_another_host() {
    let server = Server::start();
    let other = Server::start();
    let elsewhere = format!("http://localhost:{}/echo", other.port());
    let out = Test::new()
        .server(&server)
        .runbook(&format!(
            r#"
            name: redirects
            title: Redirects
            steps:
              - id: elsewhere
                title: To another host
                http:
                  url: "$SERVER/redirect-to?{elsewhere}"
                  samples: 3
                  headers: {{Authorization: "Bearer t0ken", X-Trace: "kept"}}
                  timeout: 2s
                expect: "status_counts == {{'200': 3}}"
              - id: same
                title: To the same host
                http:
                  url: "$SERVER/redirect-to?/echo"
                  samples: 3
                  headers: {{Authorization: "Bearer t0ken"}}
                  timeout: 2s
                expect: "status_counts == {{'200': 3}}"
            "#
        ))
        .args(["run"])
        .run()
        .status(0);
    out.outcome("elsewhere", "passed");
    out.outcome("same", "passed");
    let followed = other.requests_to("/echo");
    assert_eq!(followed.len(), 3);
    for request in &followed {
        assert_eq!(request.header("authorization"), None);
        assert_eq!(request.header("x-trace"), None);
    }
    let same = server.requests_to("/echo");
    assert_eq!(same.len(), 3);
    assert!(
        same.iter()
            .all(|r| r.header("authorization") == Some("Bearer t0ken"))
    );
    assert_eq!(server.count("/redirect-to"), 6);
}

#[test]
fn http_samples_follow_redirects_like_a_single_request() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: redirects
            title: Redirects
            steps:
              - id: followed
                title: Followed by default
                http: {url: "$SERVER/redirect/201", samples: 3, timeout: 2s}
                expect: "status_counts == {'201': 3}"
              - id: not_followed
                title: Not followed
                http:
                  url: "$SERVER/redirect/201"
                  samples: 3
                  follow_redirects: false
                  timeout: 2s
                expect: "status_counts == {'302': 3} and headers.location == '/status/201'"
            "#,
        )
        .args(["run"])
        .run()
        .status(0);
    out.outcome("followed", "passed");
    out.outcome("not_followed", "passed");
    assert_eq!(server.count("/status/201"), 3);
    // Each sample asks the redirecting URL once, followed or not (3 + 3).
    assert_eq!(server.count("/redirect/201"), 6);
}
