//! An alert's whole way, with the real programs a team runs: Prometheus scrapes
//! `runbook sim classlink-2020`, its rule `lb_http_5xx_ratio > 0.05` fires, Alertmanager
//! (Debian's `prometheus-alertmanager`) delivers the webhook with a bearer token to
//! `runbook serve`, the served run of `runbooks/lb-502.yaml` waits at each action until someone
//! other than the alert approves it with `runbook approve`, and the incident channel (a test
//! webhook receiver) is told in Slack's format. Each server is a child of the test on
//! 127.0.0.1 with its configuration in the test's directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use super::prometheus_stack::get;
use crate::sim::{Sim, TOKEN as SIM_TOKEN};
use crate::support::*;

/// The bearer token Alertmanager sends and the serve requires.
const SERVE_TOKEN: &str = "am-webhook-0123456789abcdef";
const ALERT: &str = "LoadBalancer502";
/// How long the whole alert path may take at any one stage (startup, firing, a run's steps).
const STAGE: Duration = Duration::from_secs(45);

/// A running Alertmanager whose one receiver is a webhook with a bearer token.
struct Alertmanager {
    addr: String,
    _daemon: Daemon,
}

impl Alertmanager {
    /// Groups by alert name, sends a group's first notification after 1 s, and repeats an
    /// unchanged one every 2 s: the repeats reach the serve while its run is still waiting for
    /// approval, which is what deduplication is for. Gossip is off (no cluster port).
    fn start(dir: &Path, webhook: &str, token: &str) -> Alertmanager {
        let config = dir.join("alertmanager.yml");
        std::fs::write(
            &config,
            format!(
                "route:\n  receiver: runbook\n  group_by: [alertname]\n  group_wait: 1s\n  \
                 group_interval: 1s\n  repeat_interval: 2s\n\
                 receivers:\n  - name: runbook\n    webhook_configs:\n      \
                 - url: {webhook}\n        send_resolved: true\n        http_config:\n          \
                 authorization:\n            type: Bearer\n            credentials: {token}\n"
            ),
        )
        .expect("write alertmanager.yml");
        let addr = format!("127.0.0.1:{}", free_port());
        let mut daemon = Daemon::start(
            "alertmanager",
            Command::new(require(
                "prometheus-alertmanager",
                "prometheus-alertmanager",
            ))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.join("am-data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--cluster.listen-address="),
            dir,
        );
        daemon.wait_until("`/-/ready` answering 200", || {
            http_status(&format!("http://{addr}/-/ready")) == Some(200)
        });
        Alertmanager {
            addr,
            _daemon: daemon,
        }
    }
}

/// Prometheus scraping the simulator's `/prometheus/metrics` every second, evaluating the rule
/// every second and sending to `alertmanager`; its external URL is its own address, so the
/// alerts' `generatorURL` points at it. `addr` is chosen beforehand: the routes file names it.
fn prometheus(dir: &Path, sim: &Sim, alertmanager: &Alertmanager, addr: &str) -> Daemon {
    let rules = dir.join("rules.yml");
    std::fs::write(
        &rules,
        format!(
            "groups:\n  - name: load-balancers\n    rules:\n      - alert: {ALERT}\n        \
             expr: lb_http_5xx_ratio > 0.05\n        for: 0s\n        \
             labels: {{severity: page}}\n        \
             annotations: {{summary: '{{{{ $labels.lb }}}} answers 5xx to {{{{ $value }}}} of requests'}}\n"
        ),
    )
    .expect("write rules.yml");
    let target = sim.base.strip_prefix("http://").expect("the sim's address");
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files: ['{rules}']\n\
             alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{am}']\n\
             scrape_configs:\n  - job_name: sim\n    metrics_path: /prometheus/metrics\n    \
             static_configs:\n      - targets: ['{target}']\n",
            rules = rules.display(),
            am = alertmanager.addr,
        ),
    )
    .expect("write prometheus.yml");
    let mut daemon = Daemon::start(
        "prometheus",
        Command::new(require("prometheus", "prometheus"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("prom-data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg(format!("--web.external-url=http://{addr}/")),
        dir,
    );
    daemon.wait_until("`/-/ready` answering 200", || {
        http_status(&format!("http://{addr}/-/ready")) == Some(200)
    });
    daemon
}

/// The events of a timeline so far.
fn events(timeline: &Path) -> Vec<Json> {
    parse_timeline(&std::fs::read_to_string(timeline).unwrap_or_default())
}

/// The value of one sample of the serve's `/metrics` (0 when the series is absent).
fn metric(serve: &str, series: &str) -> f64 {
    let (status, body) = get(serve, "/metrics", None).expect("the serve answers /metrics");
    assert_eq!(status, 200, "{body}");
    body.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.trim().parse().expect("a sample value"))
}

fn poll(what: &str, mut ready: impl FnMut() -> bool, context: impl Fn() -> String) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < STAGE,
            "no {what} within {STAGE:?}\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_alert_from_real_alertmanager_runs_lb_502_after_a_second_persons_approval() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let dir = dir.path();
    let sim = Sim::start(Some("classlink-2020"));
    let chat = Server::start();
    chat.sequence("/hook", [200]);

    // The serve: one route for the API load balancer's alert. One run an hour, so that a
    // notification repeated after the run ended (before the alert resolved) starts no second
    // one; the evidence comes from the real Prometheus.
    let serve_addr = format!("127.0.0.1:{}", free_port());
    let prometheus_addr = format!("127.0.0.1:{}", free_port());
    let vars = json!({
        "launchpad_lb": sim.vars["launchpad_lb"],
        "api_lb": sim.vars["api_lb"],
        "status_page": sim.vars["status_page"],
        "reference_sites": sim.vars["reference_sites"],
        "admin": sim.vars["admin"],
        "prometheus": format!("http://{prometheus_addr}"),
    });
    let runbook = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/lb-502.yaml");
    let routes = dir.join("routes.yaml");
    std::fs::write(
        &routes,
        format!(
            "token_env: RUNBOOK_SERVE_TOKEN\nroutes:\n  - match: {{alertname: {ALERT}, lb: api}}\n    \
             runbook: {runbook}\n    vars: {vars}\n    approvals: 1\n    \
             approval_timeout: 5m\n    max_runs_per_hour: 1\n    \
             notify: [{{webhook: \"{chat}/hook\", format: slack}}]\n",
            runbook = runbook.display(),
            chat = chat.url(),
        ),
    )
    .expect("write routes.yaml");
    let timelines = dir.join("timelines");
    let mut serve_command = clean_command(dir);
    serve_command
        .args(["serve", "--routes"])
        .arg(&routes)
        .args(["--listen", &serve_addr, "--timeline-dir"])
        .arg(&timelines)
        .env("RUNBOOK_SERVE_TOKEN", SERVE_TOKEN)
        .env("SIM_ADMIN_TOKEN", SIM_TOKEN);
    let mut serve = Daemon::start("serve", &mut serve_command, dir);
    serve.wait_http(&format!("http://{serve_addr}/metrics"));

    let alertmanager = Alertmanager::start(
        dir,
        &format!("http://{serve_addr}/v1/alertmanager"),
        SERVE_TOKEN,
    );
    let _prometheus = prometheus(dir, &sim, &alertmanager, &prometheus_addr);

    // The alert fires; the run stops at its first action, waiting for a person.
    let context = || what_happened(&serve, &timelines, dir);
    poll(
        "served run awaiting approval",
        || {
            first_timeline(&timelines).is_some_and(|t| {
                events(&t)
                    .iter()
                    .any(|e| e["event"] == "approval_requested")
            })
        },
        context,
    );
    let timeline = first_timeline(&timelines).expect("a timeline");
    let first = events(&timeline);
    let started = &first[0];
    assert_eq!(started["event"], "run_started", "{started}");
    let run_id = started["run_id"].as_str().expect("run_id").to_string();
    let alert = &started["alert"];
    assert_eq!(alert["labels"]["alertname"], ALERT, "{started}");
    assert_eq!(alert["labels"]["lb"], "api", "{started}");
    assert_eq!(alert["status"], "firing", "{started}");
    assert_eq!(
        alert["annotations"]["summary"], "api answers 5xx to 0.3 of requests",
        "{started}"
    );
    assert!(
        alert["generatorURL"]
            .as_str()
            .is_some_and(|u| u.starts_with(&format!("http://{prometheus_addr}/graph?"))),
        "generatorURL is not the Prometheus's: {started}"
    );
    let fingerprint = alert["fingerprint"].as_str().expect("a fingerprint");
    assert_eq!(
        fingerprint.len(),
        16,
        "Alertmanager's fingerprint: {started}"
    );
    let initiator = format!("alertmanager:{ALERT}:{fingerprint}");
    assert_eq!(started["actor"], initiator.as_str(), "{started}");
    let request = first
        .iter()
        .find(|e| e["event"] == "approval_requested")
        .unwrap();
    assert_eq!(request["step"], "refresh_launchpad_lb", "{request}");
    assert_eq!(request["needed"], 1, "{request}");
    assert!(
        !first
            .iter()
            .any(|e| e["event"] == "step_finished" && e["step"] == "refresh_launchpad_lb"),
        "the action ran before anyone approved it"
    );
    assert_eq!(
        sim.state()["load_balancers"]["launchpad"]["stale_config"],
        true
    );
    let bearer = format!("Bearer {SERVE_TOKEN}");
    let listed = |state: &str| {
        let (status, body) = get(&serve_addr, "/v1/runs", Some(&bearer)).expect("GET /v1/runs");
        assert_eq!(status, 200, "{body}");
        let runs: Json = serde_json::from_str(&body).expect("JSON");
        let runs = runs["runs"].as_array().expect("a list of runs").clone();
        assert_eq!(runs.len(), 1, "{body}");
        assert_eq!(runs[0]["run_id"], run_id.as_str(), "{body}");
        assert_eq!(runs[0]["fingerprint"], fingerprint, "{body}");
        assert_eq!(runs[0]["alertname"], ALERT, "{body}");
        assert_eq!(
            runs[0]["timeline"],
            timeline.display().to_string(),
            "{body}"
        );
        runs[0]["state"] == state
    };
    // The registry hears of a record as it is written: a moment after the file has it.
    poll(
        "`awaiting_approval` in GET /v1/runs",
        || listed("awaiting_approval"),
        context,
    );

    // Alertmanager repeats the notification while the run waits: nothing new starts.
    poll(
        "deduplicated repeat notification",
        || {
            metric(
                &serve_addr,
                r#"runbook_serve_notifications_total{status="deduplicated"}"#,
            ) >= 1.0
        },
        context,
    );
    assert!(
        serve.log().contains(&format!(
            "(fingerprint {fingerprint}): deduplicated: run {run_id} is still going"
        )),
        "{}",
        serve.log()
    );
    let started_total = r#"runbook_serve_notifications_total{status="started"}"#;
    assert_eq!(metric(&serve_addr, started_total), 1.0);
    // The launchpad's alert fires too, and no route takes it.
    assert!(
        metric(
            &serve_addr,
            r#"runbook_serve_notifications_total{status="no_route"}"#
        ) >= 1.0
    );
    // Alertmanager's bearer token was the serve's: no notification was refused.
    assert_eq!(
        metric(
            &serve_addr,
            r#"runbook_serve_notifications_total{status="unauthorized"}"#
        ),
        0.0,
        "{}",
        alertmanager_log(dir)
    );

    // The alert's own approval is recorded but does not count: the action still waits.
    let out = clean_command(dir)
        .arg("approve")
        .arg(&timeline)
        .args(["--as", &initiator])
        .output()
        .expect("runbook approve starts");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "runbook approve: {stderr}");
    assert!(
        stderr.contains(&format!(
            "note: {initiator} started the run: their approval does not count"
        )),
        "{stderr}"
    );
    assert!(listed("awaiting_approval"));

    // Alice (not the alert) approves each action as it asks, from another process.
    let mut approved: Vec<String> = Vec::new();
    let mut finished = None;
    poll(
        "run_finished after the approvals",
        || {
            let now = events(&timeline);
            for request in now.iter().filter(|e| e["event"] == "approval_requested") {
                let step = request["step"].as_str().unwrap().to_string();
                if approved.contains(&step) {
                    continue;
                }
                let out = clean_command(dir)
                    .arg("approve")
                    .arg(&timeline)
                    .args(["--as", "alice"])
                    .output()
                    .expect("runbook approve starts");
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert!(out.status.success(), "runbook approve: {stderr}");
                assert!(
                    stderr.contains(&format!("recorded approval of `{step}` by alice")),
                    "{stderr}"
                );
                approved.push(step);
            }
            finished = now.into_iter().find(|e| e["event"] == "run_finished");
            finished.is_some()
        },
        context,
    );
    let finished = finished.unwrap();
    assert_eq!(finished["outcome"], "completed", "{}", context());
    assert_eq!(approved, ["refresh_launchpad_lb", "refresh_api_lb"]);
    let all = events(&timeline);
    for step in &approved {
        assert!(
            all.iter().any(|e| e["event"] == "approval"
                && e["step"] == step.as_str()
                && e["actor"] == "alice"),
            "no approval of {step} by alice"
        );
        let done = all
            .iter()
            .find(|e| e["event"] == "step_finished" && e["step"] == step.as_str())
            .unwrap_or_else(|| panic!("{step} did not finish"));
        assert_eq!(done["outcome"], "passed", "{done}");
    }
    poll(
        "`completed` in GET /v1/runs",
        || listed("completed"),
        context,
    );
    assert_eq!(
        metric(&serve_addr, r#"runbook_serve_runs{state="completed"}"#),
        1.0
    );
    // Each action's wait for its approval went into the histogram.
    assert_eq!(
        metric(&serve_addr, "runbook_serve_approval_wait_seconds_count"),
        2.0
    );

    // The simulator recovered: both load balancers serve without errors, and Prometheus saw it,
    // so the alert resolved and Alertmanager told the serve, which noted it in the run.
    let state = sim.state();
    for lb in ["api", "launchpad"] {
        assert_eq!(
            state["load_balancers"][lb]["stale_config"], false,
            "{state}"
        );
        assert_eq!(state["load_balancers"][lb]["rate_5xx"], 0.0, "{state}");
    }
    assert_eq!(sim.rate_502("/lb/launchpad/login", 20), 0.0);
    poll(
        "`alert resolved` note from Alertmanager's resolved notification",
        || {
            events(&timeline)
                .iter()
                .any(|e| e["event"] == "note" && e["text"] == "alert resolved")
        },
        || {
            format!(
                "{}\n--- alertmanager ---\n{}",
                context(),
                alertmanager_log(dir)
            )
        },
    );

    // The incident channel heard it all, as Slack messages.
    let texts = || -> Vec<String> {
        chat.requests_to("/hook")
            .iter()
            .map(|r| {
                let body: Json = serde_json::from_str(&r.body).expect("a JSON body");
                assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{body}");
                body["text"].as_str().expect("{\"text\": ...}").to_string()
            })
            .collect()
    };
    let head = format!("lb-502 (run {run_id})");
    poll(
        "Slack message for run_finished",
        || texts().iter().any(|t| t.starts_with(":white_check_mark:")),
        || format!("{:#?}", texts()),
    );
    let texts = texts();
    let has = |prefix: &str, parts: &[&str]| {
        assert!(
            texts
                .iter()
                .any(|t| t.starts_with(prefix) && parts.iter().all(|p| t.contains(p))),
            "no message `{prefix}` with {parts:?} in {texts:#?}"
        );
    };
    has(
        ":arrow_forward:",
        &[&head, &format!("started by {initiator}")],
    );
    let approve_url = format!("http://{serve_addr}/v1/runs/{run_id}/approve");
    for step in &approved {
        has(
            ":raised_hand:",
            &[
                &head,
                &format!("approval needed for step {step}"),
                &format!("runbook approve {} --step {step}", timeline.display()),
                &approve_url,
            ],
        );
    }
    has(":round_pushpin:", &[&head, "milestone detected"]);
    has(":white_check_mark:", &[&head, "completed"]);
    assert!(
        texts.iter().all(|t| !t.contains(SIM_TOKEN)),
        "the admin token reached the chat: {texts:#?}"
    );

    // SIGTERM: the serve stops and exits 0.
    let status = serve.terminate();
    assert_eq!(status.code(), Some(0), "{}", serve.log());
    assert!(
        serve.log().contains("runbook serve: stopped"),
        "{}",
        serve.log()
    );
}

/// The first timeline (by name) the serve wrote.
fn first_timeline(timelines: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(timelines)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    found.sort();
    found.into_iter().next()
}

/// For a failure: what the serve and Alertmanager logged, and every timeline.
fn what_happened(serve: &Daemon, timelines: &Path, dir: &Path) -> String {
    let mut text = format!(
        "--- serve ---\n{}\n--- alertmanager ---\n{}",
        serve.log(),
        alertmanager_log(dir)
    );
    for entry in std::fs::read_dir(timelines).into_iter().flatten().flatten() {
        text.push_str(&format!(
            "\n--- {} ---\n{}",
            entry.path().display(),
            std::fs::read_to_string(entry.path()).unwrap_or_default()
        ));
    }
    text
}

fn alertmanager_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("alertmanager.log")).unwrap_or_default()
}
