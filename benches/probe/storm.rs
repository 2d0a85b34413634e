//! Figure 6: `runbook serve` under a storm of alerts, and the runs one serve holds at once.
//!
//! The storm: 1,000 Alertmanager notifications (one alert each) for 100 distinct alerts, posted
//! by 16 concurrent clients, against a route whose runbook is one `http` check. Every run's
//! check goes to an endpoint of this process that answers only once all 1,000 notifications
//! have been answered: every repeat of an alert then arrives while that alert's run is active,
//! so deduplication alone is what holds the storm to 100 runs (a repeat arriving after its run
//! ended would rightly start a new one, and the count would measure timing, not dedup).
//! Measured: notifications per second accepted (1,000 over the time from the first POST sent to
//! the last answer received), p50/p95 from the POST that started a run (client clock) to that
//! run's first `step_started` (`ts` in its timeline), runs started (`started` answers and
//! timelines written), and the serve's peak RSS (VmHWM) once every run has finished.
//!
//! Held runs: 500 alerts on a `diagnose` route whose runbook starts with an action, so every
//! run waits for an approval at once; the serve's RSS, threads and CPU while they wait.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use serde_json::{Value as Json, json};
use tokio::sync::watch;

use crate::{Report, mib, runbook_bin, write};

const ALERTS: usize = 100;
const REPEATS: usize = 10;
const CLIENTS: usize = 16;
const HELD: usize = 500;
const TOKEN: &str = "bench-storm-token-0123456789";

/// What one storm measured.
struct Storm {
    /// Notifications answered 202, of those sent.
    accepted: usize,
    sent: usize,
    rate: f64,
    p50: f64,
    p95: f64,
    /// Runs with a first step_started (of 100).
    measured: usize,
    started: usize,
    timelines: usize,
    peak_kib: u64,
}

/// Figure 6: three storms, each against a fresh serve; the median by p95 is reported, every
/// storm printed.
pub fn storm(report: &mut Report, dir: &Path, runtime: &tokio::runtime::Runtime) {
    let mut storms: Vec<Storm> = (0..3)
        .map(|i| storm_once(&dir.join(format!("storm-{i}")), runtime))
        .collect();
    println!();
    let peak_kib = storms.iter().map(|s| s.peak_kib).max().unwrap_or(0);
    storms.sort_by(|a, b| a.p95.total_cmp(&b.p95));
    let s = &storms[1];
    let section = "6. runbook serve, 1,000 notifications / 100 alerts / 16 clients";
    report.row(
        section,
        "notifications accepted (202) per second",
        format!(
            "{:.0}/s ({} of {} answered 202)",
            s.rate, s.accepted, s.sent
        ),
        "all 202",
        storms.iter().all(|s| s.accepted == ALERTS * REPEATS),
    );
    report.row(
        section,
        "notification -> first step_started, p50 / p95",
        format!("{:.1} / {:.1} ms (median of 3 by p95)", s.p50, s.p95),
        "p95 < 50 ms",
        s.p95 < 50.0 && s.measured == ALERTS,
    );
    report.row(
        section,
        "runs started (answers / timelines), each storm",
        storms
            .iter()
            .map(|s| format!("{}/{}", s.started, s.timelines))
            .collect::<Vec<_>>()
            .join(", "),
        "= 100",
        storms
            .iter()
            .all(|s| s.started == ALERTS && s.timelines == ALERTS),
    );
    report.row(
        section,
        "peak RSS of runbook serve (max of 3)",
        format!("{:.1} MB", mib(peak_kib)),
        "< 100 MB",
        mib(peak_kib) < 100.0,
    );
}

fn storm_once(dir: &Path, runtime: &tokio::runtime::Runtime) -> Storm {
    let (open, gate) = watch::channel(false);
    let target = runtime.block_on(crate::serve(gated_app(gate)));
    let routes = routes_file(
        dir,
        "auto",
        &format!(
            "name: storm-check\ntitle: One check\nsteps:\n  - id: check\n    title: The endpoint answers\n    http:\n      url: http://{target}/gated\n      timeout: 60s\n"
        ),
    );
    let serve = Serve::start(dir, &routes);
    let load = loadavg();
    let cpu_before = serve.cpu_seconds();

    // Round r sends every alert once: each alert's repeats are 100 notifications apart, and
    // the 16 clients take them in this order from one counter.
    let order: Vec<usize> = (0..REPEATS).flat_map(|_| 0..ALERTS).collect();
    let started = Instant::now();
    let answers = runtime.block_on(post_all(serve.url.clone(), order));
    let accepted_in = started.elapsed();
    let _ = open.send(true);

    let mut runs = Vec::new();
    let mut statuses = std::collections::BTreeMap::<String, usize>::new();
    for answer in &answers {
        for run in answer.runs.as_array().into_iter().flatten() {
            let status = run["status"].as_str().unwrap_or("?").to_string();
            if status == "started" {
                let timeline = PathBuf::from(run["timeline"].as_str().unwrap_or_default());
                runs.push((answer.sent_ms, timeline));
            }
            *statuses.entry(status).or_default() += 1;
        }
    }
    let timelines = wait_finished(&serve.timelines, runs.len());
    let peak_kib = serve.status_kib("VmHWM");
    let cpu_ms = (serve.cpu_seconds() - cpu_before) * 1000.0;
    serve.stop();

    let mut latencies: Vec<f64> = runs
        .iter()
        .filter_map(|(sent, timeline)| first_ms(timeline, "step_started").map(|ts| ts - sent))
        .collect();
    latencies.sort_by(f64::total_cmp);
    // Where the time goes: up to `run_started` is the serve's start of a run (runbook loaded,
    // timeline created), after it the engine's way to the first step.
    let mut to_run_started: Vec<f64> = runs
        .iter()
        .filter_map(|(sent, timeline)| first_ms(timeline, "run_started").map(|ts| ts - sent))
        .collect();
    to_run_started.sort_by(f64::total_cmp);
    let mut round_trips: Vec<f64> = answers.iter().map(|a| a.round_trip_ms).collect();
    round_trips.sort_by(f64::total_cmp);
    let rate = answers.len() as f64 / accepted_in.as_secs_f64();
    let storm = Storm {
        accepted: answers.iter().filter(|a| a.status == 202).count(),
        sent: answers.len(),
        rate,
        p50: percentile(&latencies, 0.50),
        p95: percentile(&latencies, 0.95),
        measured: latencies.len(),
        started: runs.len(),
        timelines,
        peak_kib,
    };
    println!(
        "storm (load {load}): {} notifications in {:.0} ms ({rate:.0}/s) by {CLIENTS} clients: {statuses:?}; {timelines} timelines; POST round trip p50 {:.1} p95 {:.1} ms; serve CPU {cpu_ms:.0} ms; peak RSS {:.1} MB",
        storm.sent,
        accepted_in.as_secs_f64() * 1000.0,
        percentile(&round_trips, 0.50),
        percentile(&round_trips, 0.95),
        mib(peak_kib),
    );
    println!(
        "  notification to first step_started over {} runs: p50 {:.1} p95 {:.1} max {:.1} ms (to run_started: p50 {:.1} p95 {:.1} ms)",
        storm.measured,
        storm.p50,
        storm.p95,
        latencies.last().copied().unwrap_or(f64::NAN),
        percentile(&to_run_started, 0.50),
        percentile(&to_run_started, 0.95),
    );
    storm
}

/// The runs one serve holds: 500 waiting for an approval at once.
pub fn held(report: &mut Report, dir: &Path, runtime: &tokio::runtime::Runtime) {
    let dir = dir.join("held");
    let (_open, gate) = watch::channel(false);
    let target = runtime.block_on(crate::serve(gated_app(gate)));
    let routes = routes_file(
        &dir,
        "diagnose",
        &format!(
            "name: storm-held\ntitle: An action first\nsteps:\n  - id: restart\n    title: Restart the pool\n    http:\n      url: http://{target}/echo\n      method: POST\n      timeout: 5s\n"
        ),
    );
    let serve = Serve::start(&dir, &routes);
    let load = loadavg();
    let idle_kib = serve.status_kib("VmRSS");
    let order: Vec<usize> = (0..HELD).collect();
    let started = Instant::now();
    let answers = runtime.block_on(post_all(serve.url.clone(), order));
    let waiting = wait_for(&serve.timelines, HELD, "approval_requested");
    let all_waiting = started.elapsed();
    // Settled: what waiting costs, over 5 seconds.
    std::thread::sleep(Duration::from_secs(1));
    let rss_kib = serve.status_kib("VmRSS");
    let threads = serve.status_kib("Threads");
    let fds = std::fs::read_dir(format!("/proc/{}/fd", serve.child.id()))
        .map(|d| d.count())
        .unwrap_or(0);
    let cpu_before = serve.cpu_seconds();
    let window = Instant::now();
    std::thread::sleep(Duration::from_secs(5));
    let cpu = (serve.cpu_seconds() - cpu_before) / window.elapsed().as_secs_f64();
    let peak_kib = serve.status_kib("VmHWM");
    let stopping = Instant::now();
    let stopped = serve.stop();
    let started_count = answers
        .iter()
        .flat_map(|a| a.runs.as_array().into_iter().flatten())
        .filter(|r| r["status"] == "started")
        .count();
    println!(
        "held (load {load}): {started_count} runs started, {waiting} awaiting approval after {:.1} s; idle {:.1} MB, waiting {:.1} MB ({:.0} KB a run), peak {:.1} MB, {threads} threads, {fds} open files, CPU {:.1}% of a core; SIGTERM to exit {:.1} s ({stopped})",
        all_waiting.as_secs_f64(),
        mib(idle_kib),
        mib(rss_kib),
        (rss_kib.saturating_sub(idle_kib)) as f64 / HELD as f64,
        mib(peak_kib),
        cpu * 100.0,
        stopping.elapsed().as_secs_f64(),
    );
    println!();
    let section = "6. runbook serve, 1,000 notifications / 100 alerts / 16 clients";
    report.note(
        section,
        format!(
            "{HELD} runs awaiting approval at once ({waiting} waiting): RSS {:.1} MB (idle {:.1} MB, {:.0} KB a run), {threads} threads, {fds} open files, CPU {:.1}% of a core",
            mib(rss_kib),
            mib(idle_kib),
            (rss_kib.saturating_sub(idle_kib)) as f64 / HELD as f64,
            cpu * 100.0
        ),
    );
}

/// `/gated` answers once the gate opens (or after 60 s); `/echo` at once.
fn gated_app(gate: watch::Receiver<bool>) -> Router {
    Router::new()
        .route(
            "/gated",
            axum::routing::get(move || {
                let mut gate = gate.clone();
                async move {
                    let _ =
                        tokio::time::timeout(Duration::from_secs(60), gate.wait_for(|o| *o)).await;
                    "ok\n"
                }
            }),
        )
        .fallback(|| async { "ok\n" })
}

/// A routes file with one route for `alertname: Storm` to `runbook`.
fn routes_file(dir: &Path, mode: &str, runbook: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("mkdir");
    write(&dir.join("runbook.yaml"), runbook);
    let routes = dir.join("routes.yaml");
    write(
        &routes,
        &format!(
            "token_env: RUNBOOK_SERVE_TOKEN\nroutes:\n  - match: {{alertname: Storm}}\n    runbook: runbook.yaml\n    mode: {mode}\n    approval_timeout: 10m\n"
        ),
    );
    routes
}

/// A `runbook serve` child on a free port, its log in the scratch directory.
struct Serve {
    child: Child,
    url: String,
    timelines: PathBuf,
}

impl Serve {
    fn start(dir: &Path, routes: &Path) -> Serve {
        let log = dir.join("serve.log");
        let timelines = dir.join("timelines");
        let child = Command::new(runbook_bin())
            .arg("serve")
            .arg("--routes")
            .arg(routes)
            .args(["--listen", "127.0.0.1:0", "--timeline-dir"])
            .arg(&timelines)
            .env("RUNBOOK_SERVE_TOKEN", TOKEN)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("serve log"))
            .spawn()
            .expect("start runbook serve");
        let deadline = Instant::now() + Duration::from_secs(10);
        let url = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(url) = text
                .lines()
                .find_map(|l| l.split("listening on ").nth(1))
                .and_then(|rest| rest.split_whitespace().next())
            {
                break url.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "runbook serve did not start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        Serve {
            child,
            url,
            timelines,
        }
    }

    /// A `kB` (or plain) field of /proc/PID/status.
    fn status_kib(&self, field: &str) -> u64 {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// User + system CPU time so far (/proc/PID/stat, in clock ticks of 1/100 s).
    fn cpu_seconds(&self) -> f64 {
        let text =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> = text
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // utime and stime are fields 14 and 15; `fields` starts at field 3.
        (ticks(11) + ticks(12)) as f64 / 100.0
    }

    /// SIGTERM, then the exit status (killed after 60 s).
    fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.to_string();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return "killed after 60 s".into();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One notification's answer, as its client saw it.
struct Answer {
    /// When the POST was sent, in ms since the epoch.
    sent_ms: f64,
    round_trip_ms: f64,
    status: u16,
    runs: Json,
}

/// Posts one notification per entry of `order` (alert numbers), 16 clients taking the next
/// entry from one counter.
async fn post_all(url: String, order: Vec<usize>) -> Vec<Answer> {
    runbook::exec::http::install_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let endpoint = format!("{url}/v1/alertmanager");
    let order = Arc::new(order);
    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (client, endpoint, order, next) = (
            client.clone(),
            endpoint.clone(),
            order.clone(),
            next.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&alert) = order.get(i) else {
                    return answers;
                };
                let body = notification(alert);
                let sent_ms = now_ms();
                let clock = Instant::now();
                let response = client
                    .post(&endpoint)
                    .bearer_auth(TOKEN)
                    .json(&body)
                    .send()
                    .await
                    .expect("POST the notification");
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                answers.push(Answer {
                    sent_ms,
                    round_trip_ms: clock.elapsed().as_secs_f64() * 1000.0,
                    status,
                    runs: serde_json::from_str::<Json>(&text)
                        .map(|v| v["runs"].clone())
                        .unwrap_or(Json::Null),
                });
            }
        }));
    }
    let mut all = Vec::new();
    for client in clients {
        all.extend(client.await.expect("client task"));
    }
    all
}

/// Alertmanager's webhook body (version 4) for alert number `n`, firing.
fn notification(n: usize) -> Json {
    let instance = format!("node-{n:03}");
    json!({
        "version": "4",
        "groupKey": format!("{{}}:{{alertname=\"Storm\", instance=\"{instance}\"}}"),
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "runbook",
        "groupLabels": {"alertname": "Storm", "instance": instance},
        "commonLabels": {"alertname": "Storm", "instance": instance, "severity": "page"},
        "commonAnnotations": {"summary": "storm"},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "Storm", "instance": instance, "severity": "page"},
            "annotations": {"summary": format!("{instance} is on fire")},
            "startsAt": "2026-12-01T09:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up",
            "fingerprint": format!("{:016x}", 0x5157_0000_0000_0000_u64 + n as u64),
        }]
    })
}

/// This machine is shared: what else ran beside the figure.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// The `ts` of a timeline's first `event`, in ms since the epoch.
fn first_ms(timeline: &Path, event: &str) -> Option<f64> {
    let text = std::fs::read_to_string(timeline).ok()?;
    let ts = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Json>(l).ok())
        .find(|e| e["event"] == event)?["ts"]
        .as_str()?
        .parse::<jiff::Timestamp>()
        .ok()?;
    Some(ts.as_microsecond() as f64 / 1000.0)
}

/// Waits (at most 60 s) until `expected` timelines record `run_finished`; returns how many
/// timelines there are.
fn wait_finished(dir: &Path, expected: usize) -> usize {
    wait_for(dir, expected, "run_finished");
    timelines(dir).len()
}

/// Waits (at most 60 s) until `expected` timelines hold an `event`; returns how many do.
fn wait_for(dir: &Path, expected: usize, event: &str) -> usize {
    let needle = format!("\"event\":\"{event}\"");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = timelines(dir)
            .iter()
            .filter(|t| {
                std::fs::read_to_string(t)
                    .unwrap_or_default()
                    .contains(&needle)
            })
            .count();
        if done >= expected || Instant::now() > deadline {
            return done;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn timelines(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                .collect()
        })
        .unwrap_or_default()
}

/// The value below which a share `q` of the sorted `values` lie (nearest rank).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
