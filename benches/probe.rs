//! `cargo bench`: the performance figures of issue 6 (1-4) and of the redactor (5), measured
//! on loopback against the release binary and printed next to their targets.
//!
//! 1. the `http` executor (`samples: 20000, concurrency: 64`) against wrk (and oha) on the same
//!    keep-alive server: requests/s, p50/p95/p99, peak RSS of `runbook run`;
//! 2. a `loop` over 500 endpoints that each answer after 100 ms, `parallel: 100`;
//! 3. `runbook validate` over 200 runbooks, and `runbook --version`;
//! 4. a runbook of 1,000 `wait: 0s` steps, the timeline fsynced as always;
//! 5. 100 sequential `http` checks against Chaos Toolkit's 100 `http` probes on the same nginx,
//!    whole process, medians of 5 taking turns (`chaos`, in benches/probe/chaos.rs);
//! 6. `runbook serve` under a storm of 1,000 Alertmanager notifications for 100 alerts from 16
//!    clients (`storm`), and 500 served runs awaiting approval at once (`held`), in
//!    benches/probe/storm.rs;
//! 7. masking 1 MiB hostile bodies against several hostile secrets (in process), next to
//!    plain substring replacement of the same secrets (`mask`; figure 5 before issue 16).
//!
//! `benches/compare.sh` installs wrk, hyperfine and GNU time when they are missing and runs
//! this. Arguments after `--` pick figures: `cargo bench --bench probe -- loop timeline`.
//! `cargo bench --bench probe -- serve [fast|slow] [PORT]` only serves, for profiling by hand.
//! The servers run in this process; `runbook` runs as a child, exactly as an operator runs it.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use serde_json::Value as Json;

// This file is the crate root, so its modules would be looked for beside it in benches/, where
// cargo takes every .rs file for a bench target of its own: they live in benches/probe/.
#[path = "probe/chaos.rs"]
mod chaos;
#[path = "probe/mask.rs"]
mod mask;
#[path = "probe/storm.rs"]
mod storm;

/// The binary measured: the release build, or `RUNBOOK_BENCH_BIN` (to compare a candidate).
fn runbook_bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var("RUNBOOK_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_runbook").into())
    })
}
const SAMPLES: u32 = 20_000;
const CONCURRENCY: u32 = 64;
const ENDPOINTS: usize = 500;
const PARALLEL: usize = 100;
const SLOW_MS: u64 = 100;
const RUNBOOKS: usize = 200;
const WAIT_STEPS: usize = 1_000;

fn main() {
    // cargo passes `--bench`; plain words select figures.
    let words: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| words.is_empty() || words.iter().any(|w| w == name);

    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    if words.first().is_some_and(|w| w == "serve") {
        serve_forever(&runtime, &words[1..]);
        return;
    }
    let scratch = tempfile::Builder::new()
        .prefix("runbook-bench-")
        .tempdir()
        .expect("temp dir");
    let dir = scratch.path();
    let mut report = Report::default();

    println!("{}", version());
    println!("binary: {}", runbook_bin());
    println!("scratch: {}", dir.display());
    println!();

    if wanted("probe") {
        let addr = runtime.block_on(serve(fast_app()));
        probe(&mut report, dir, addr);
    }
    if wanted("loop") {
        let paths = Arc::new(Mutex::new(HashSet::new()));
        let addr = runtime.block_on(serve(slow_app(paths.clone())));
        fan_out(&mut report, dir, addr, &paths);
    }
    if wanted("validate") {
        validate(&mut report, dir);
    }
    if wanted("timeline") {
        timeline(&mut report, dir);
    }
    if wanted("chaos") {
        chaos::chaos(&mut report, dir);
    }
    if wanted("storm") {
        storm::storm(&mut report, dir, &runtime);
    }
    if wanted("held") {
        storm::held(&mut report, dir, &runtime);
    }
    if wanted("mask") {
        mask::mask(&mut report);
    }
    report.print();
}

// --- servers -----------------------------------------------------------------------------------

/// A fixed 3-byte body, keep-alive: as fast as axum on hyper gets, so the client is what is
/// measured.
fn fast_app() -> Router {
    Router::new().fallback(|| async { "ok\n" })
}

/// Every path answers after 100 ms; the paths seen are recorded to prove 500 distinct ones.
fn slow_app(paths: Arc<Mutex<HashSet<String>>>) -> Router {
    Router::new().fallback(move |uri: axum::http::Uri| {
        let paths = paths.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(SLOW_MS)).await;
            paths.lock().unwrap().insert(uri.path().to_string());
            "ok\n"
        }
    })
}

/// `serve [fast|slow] [PORT]`: one of the servers on 127.0.0.1 until killed.
fn serve_forever(runtime: &tokio::runtime::Runtime, words: &[String]) {
    let slow = words.iter().any(|w| w == "slow");
    let port: u16 = words.iter().find_map(|w| w.parse().ok()).unwrap_or(0);
    runtime.block_on(async {
        let app = if slow {
            slow_app(Arc::default())
        } else {
            fast_app()
        };
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind loopback");
        println!("http://{}/", listener.local_addr().expect("local addr"));
        axum::serve(listener, app).await.expect("serve");
    });
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    addr
}

// --- 1. probe vs wrk ---------------------------------------------------------------------------

fn probe(report: &mut Report, dir: &Path, addr: SocketAddr) {
    let url = format!("http://{addr}/");
    let file = dir.join("probe.yaml");
    write(
        &file,
        &format!(
            "name: bench-probe\ntitle: Probe throughput\nsteps:\n  - id: probe\n    title: Sample a fast endpoint\n    http:\n      url: {url}\n      samples: {SAMPLES}\n      concurrency: {CONCURRENCY}\n      timeout: 120s\n"
        ),
    );
    // Three runs of each, the probe and wrk taking turns so that a busy moment of this shared
    // machine falls on both; the medians by rate are reported, all runs are printed. The rate
    // is measured both ways: by the step's own duration, and by the whole process (start to
    // exit of `runbook run`: start-up, ramp-up and the timeline included), as wrk's is.
    let mut runs = Vec::new();
    let mut process_rates = Vec::new();
    let mut wrk_runs = Vec::new();
    for i in 0..3 {
        let timeline = dir.join(format!("probe-{i}.jsonl"));
        let run = run_runbook(&file, &timeline);
        let step = step_finished(&timeline, "probe");
        let ms = step["duration_ms"].as_f64().unwrap_or(f64::NAN);
        let data = &step["data"];
        let probe = Load {
            rps: f64::from(SAMPLES) / (ms / 1000.0),
            p50: data["p50_ms"].as_f64().unwrap_or(f64::NAN),
            p95: data["p95_ms"].as_f64().unwrap_or(f64::NAN),
            p99: data["p99_ms"].as_f64().unwrap_or(f64::NAN),
        };
        assert_eq!(
            data["count"].as_u64(),
            Some(u64::from(SAMPLES)),
            "probe did not send every sample: {step}"
        );
        assert_eq!(
            data["error_count"].as_u64(),
            Some(0),
            "probe saw transport errors: {}",
            data["errors"]
        );
        let process_rps = f64::from(SAMPLES) / run.wall.as_secs_f64();
        process_rates.push(process_rps);
        println!(
            "probe run {}: {:.0} req/s in {ms} ms (process {:.0} ms: {process_rps:.0} req/s), p50 {} p95 {} p99 {} ms, peak RSS {}",
            i + 1,
            probe.rps,
            run.wall.as_secs_f64() * 1000.0,
            probe.p50,
            probe.p95,
            probe.p99,
            run.rss_kib
                .map_or("n/a".into(), |k| format!("{:.1} MB", mib(k)))
        );
        runs.push((probe, run.rss_kib));
        if let Some(wrk) = wrk(dir, &url) {
            println!(
                "wrk run {}: -c {CONCURRENCY} -t 2 -d 5s: {:.0} req/s, p50 {:.2} p95 {:.2} p99 {:.2} ms",
                i + 1,
                wrk.rps,
                wrk.p50,
                wrk.p95,
                wrk.p99
            );
            wrk_runs.push(wrk);
        }
    }
    runs.sort_by(|a, b| a.0.rps.total_cmp(&b.0.rps));
    let (probe, _) = runs[1].clone();
    process_rates.sort_by(f64::total_cmp);
    let process_rps = process_rates[1];
    let rss = runs.iter().filter_map(|r| r.1).max();
    wrk_runs.sort_by(|a, b| a.rps.total_cmp(&b.rps));
    let wrk = wrk_runs.get(wrk_runs.len() / 2).cloned();
    if let Some(oha) = oha(&url) {
        println!(
            "oha -n {SAMPLES} -c {CONCURRENCY}: {:.0} req/s, p50 {:.2} p95 {:.2} p99 {:.2} ms",
            oha.rps, oha.p50, oha.p95, oha.p99
        );
    }
    println!();

    let section = "1. http probe vs wrk";
    match &wrk {
        Some(wrk) => {
            let ratio = probe.rps / wrk.rps;
            report.row(
                section,
                "rate by step duration, runbook / wrk",
                format!("{:.0} / {:.0} req/s = {ratio:.2}", probe.rps, wrk.rps),
                ">= 0.80",
                ratio >= 0.8,
            );
            let ratio = process_rps / wrk.rps;
            report.row(
                section,
                "rate by whole process, runbook / wrk",
                format!("{process_rps:.0} / {:.0} req/s = {ratio:.2}", wrk.rps),
                ">= 0.80",
                ratio >= 0.8,
            );
            for (name, ours, theirs) in [
                ("p50", probe.p50, wrk.p50),
                ("p95", probe.p95, wrk.p95),
                ("p99", probe.p99, wrk.p99),
            ] {
                let off = ours / theirs - 1.0;
                report.row(
                    section,
                    &format!("{name}, runbook vs wrk"),
                    format!("{ours:.1} vs {theirs:.2} ms ({:+.0}%)", off * 100.0),
                    "within 10%",
                    off.abs() <= 0.10,
                );
            }
        }
        None => report.note(
            section,
            format!(
                "probe {:.0} req/s, p50/p95/p99 {}/{}/{} ms; wrk not installed (benches/compare.sh installs it)",
                probe.rps, probe.p50, probe.p95, probe.p99
            ),
        ),
    }
    match rss {
        Some(kib) => report.row(
            section,
            "peak RSS of runbook run",
            format!("{:.1} MB", mib(kib)),
            "< 30 MB",
            mib(kib) < 30.0,
        ),
        None => report.note(section, "peak RSS: /usr/bin/time not installed".into()),
    }
}

#[derive(Clone, Debug)]
struct Load {
    rps: f64,
    p50: f64,
    p95: f64,
    p99: f64,
}

/// wrk's own rate, and exact p50/p95/p99 from its histogram (`--latency` prints no p95, so a
/// `done` hook reads the histogram directly).
fn wrk(dir: &Path, url: &str) -> Option<Load> {
    if !on_path("wrk") {
        return None;
    }
    let script = dir.join("percentiles.lua");
    write(
        &script,
        "done = function(summary, latency, requests)\n  io.write(string.format(\"PCT %f %f %f\\n\", latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))\nend\n",
    );
    let out = Command::new("wrk")
        .args([
            "-c",
            &CONCURRENCY.to_string(),
            "-t",
            "2",
            "-d",
            "5s",
            "--latency",
            "-s",
        ])
        .arg(&script)
        .arg(url)
        .output()
        .expect("run wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())?;
    let pct: Vec<f64> = text
        .lines()
        .find_map(|l| l.strip_prefix("PCT "))?
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    if let Some(errors) = text
        .lines()
        .find(|l| l.contains("Socket errors") || l.contains("Non-2xx"))
    {
        println!("wrk: {}", errors.trim());
    }
    Some(Load {
        rps,
        p50: pct[0],
        p95: pct[1],
        p99: pct[2],
    })
}

/// oha, when installed: same request count and concurrency as the probe.
fn oha(url: &str) -> Option<Load> {
    if !on_path("oha") {
        return None;
    }
    let n = SAMPLES.to_string();
    let c = CONCURRENCY.to_string();
    // 1.5+ spells JSON output `--output-format json`, older versions `-j`.
    let json = [&["--output-format", "json"][..], &["-j"][..]]
        .iter()
        .find_map(|flag| {
            let out = Command::new("oha")
                .args(["--no-tui", "-n", &n, "-c", &c])
                .args(*flag)
                .arg(url)
                .output()
                .ok()?;
            serde_json::from_slice::<Json>(&out.stdout).ok()
        })?;
    let pct = |key: &str| json["latencyPercentiles"][key].as_f64().unwrap_or(f64::NAN) * 1000.0;
    Some(Load {
        rps: json["summary"]["requestsPerSec"].as_f64()?,
        p50: pct("p50"),
        p95: pct("p95"),
        p99: pct("p99"),
    })
}

// --- 2. loop over 500 slow endpoints -----------------------------------------------------------

fn fan_out(report: &mut Report, dir: &Path, addr: SocketAddr, paths: &Mutex<HashSet<String>>) {
    let file = dir.join("fan-out.yaml");
    write(
        &file,
        &format!(
            "name: bench-fan-out\ntitle: Check 500 endpoints\nvars:\n  base: http://{addr}\nsteps:\n  - id: fleet\n    title: Every endpoint answers\n    loop: range({ENDPOINTS}) | list\n    parallel: {PARALLEL}\n    http:\n      url: \"{{{{ vars.base }}}}/node/{{{{ item }}}}/health\"\n      timeout: 5s\n"
        ),
    );
    let mut best: Option<(Duration, f64)> = None;
    for i in 0..3 {
        paths.lock().unwrap().clear();
        let timeline = dir.join(format!("fan-out-{i}.jsonl"));
        let run = run_runbook(&file, &timeline);
        let step = step_finished(&timeline, "fleet");
        assert_eq!(
            step["data"]["passed_count"].as_u64(),
            Some(ENDPOINTS as u64),
            "{}",
            step["summary"]
        );
        let distinct = paths.lock().unwrap().len();
        assert_eq!(distinct, ENDPOINTS, "distinct paths served");
        let step_ms = step["duration_ms"].as_f64().unwrap_or(f64::NAN);
        println!(
            "loop run {}: process {:.0} ms, step {step_ms} ms, {distinct} distinct paths",
            i + 1,
            run.wall.as_secs_f64() * 1000.0
        );
        if best.is_none_or(|(wall, _)| run.wall < wall) {
            best = Some((run.wall, step_ms));
        }
    }
    println!();
    let (wall, step_ms) = best.expect("three runs");
    report.row(
        "2. loop, 500 endpoints x 100 ms, parallel 100",
        "wall time of runbook run (best of 3)",
        format!(
            "{:.2} s (step {:.2} s; floor 0.50 s)",
            wall.as_secs_f64(),
            step_ms / 1000.0
        ),
        "< 1.5 s",
        wall.as_secs_f64() < 1.5,
    );
}

// --- 3. validate and --version -----------------------------------------------------------------

fn validate(report: &mut Report, dir: &Path) {
    let source = std::fs::read_to_string(repo().join("runbooks/lb-502.yaml")).expect("lb-502");
    let many = dir.join("many");
    std::fs::create_dir_all(&many).expect("mkdir");
    let mut files = Vec::new();
    for i in 0..RUNBOOKS {
        let text = source.replacen("name: lb-502\n", &format!("name: lb-502-{i:03}\n"), 1);
        assert_ne!(text, source, "lb-502.yaml has no `name: lb-502` line");
        let path = many.join(format!("lb-502-{i:03}.yaml"));
        write(&path, &text);
        files.push(path);
    }
    let status = Command::new(runbook_bin())
        .arg("validate")
        .args(&files)
        .stdout(Stdio::null())
        .status()
        .expect("validate");
    assert!(status.success(), "the generated runbooks do not validate");

    let section = "3. startup";
    let validate_cmd = format!("{} validate {}/*.yaml", runbook_bin(), many.display());
    let validate = time_command(&validate_cmd, runbook_bin(), &{
        let mut args = vec!["validate".to_string()];
        args.extend(files.iter().map(|f| f.display().to_string()));
        args
    });
    report.row(
        section,
        &format!("runbook validate x {RUNBOOKS} files ({})", validate.how),
        format!("{:.1} ms", validate.ms),
        "< 100 ms",
        validate.ms < 100.0,
    );
    let version = time_command(
        &format!("{} --version", runbook_bin()),
        runbook_bin(),
        &["--version".to_string()],
    );
    report.row(
        section,
        &format!("runbook --version ({})", version.how),
        format!("{:.1} ms", version.ms),
        "< 10 ms",
        version.ms < 10.0,
    );
    println!();
}

struct Timing {
    ms: f64,
    how: String,
}

/// hyperfine's mean when installed (no shell, warm cache), else the median of 30 runs.
fn time_command(shell: &str, program: &str, args: &[String]) -> Timing {
    if on_path("hyperfine") {
        let json = std::env::temp_dir().join(format!("hyperfine-{}.json", std::process::id()));
        // hyperfine -N splits the command itself; the glob needs a shell, so expand it here.
        let command = std::iter::once(program.to_string())
            .chain(args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        let out = Command::new("hyperfine")
            .args(["-N", "--warmup", "5", "--min-runs", "30", "--export-json"])
            .arg(&json)
            .arg(&command)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let parsed = out.ok().filter(|s| s.success()).and_then(|_| {
            let text = std::fs::read_to_string(&json).ok()?;
            let _ = std::fs::remove_file(&json);
            let v: Json = serde_json::from_str(&text).ok()?;
            let r = &v["results"][0];
            Some((
                r["mean"].as_f64()?,
                r["stddev"].as_f64()?,
                r["median"].as_f64()?,
            ))
        });
        if let Some((mean, stddev, median)) = parsed {
            println!(
                "hyperfine `{shell}`: mean {:.2} ms ± {:.2}, median {:.2} ms",
                mean * 1000.0,
                stddev * 1000.0,
                median * 1000.0
            );
            return Timing {
                ms: mean * 1000.0,
                how: "hyperfine mean".into(),
            };
        }
    }
    let mut times: Vec<f64> = (0..35)
        .map(|_| {
            let started = Instant::now();
            let status = Command::new(program)
                .args(args)
                .stdout(Stdio::null())
                .status()
                .expect("run");
            assert!(status.success(), "{shell} failed");
            started.elapsed().as_secs_f64() * 1000.0
        })
        .skip(5)
        .collect();
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!("`{shell}`: median of {} runs {median:.2} ms", times.len());
    Timing {
        ms: median,
        how: format!("median of {}", times.len()),
    }
}

// --- 4. timeline cost --------------------------------------------------------------------------

fn timeline(report: &mut Report, dir: &Path) {
    let steps = |n: usize| {
        let mut text = format!("name: bench-timeline-{n}\ntitle: {n} trivial steps\nsteps:\n");
        for i in 0..n {
            let _ = write!(text, "  - id: s{i}\n    title: Step {i}\n    wait: 0s\n");
        }
        text
    };
    let many = dir.join("steps-1000.yaml");
    let one = dir.join("steps-1.yaml");
    write(&many, &steps(WAIT_STEPS));
    write(&one, &steps(1));

    // What one durable append costs on this disk, for the explanation.
    let fsync_us = fsync_cost(dir);

    let mut best: Option<Duration> = None;
    let mut lines = 0;
    for i in 0..3 {
        let timeline = dir.join(format!("steps-{i}.jsonl"));
        let run = run_runbook(&many, &timeline);
        lines = std::fs::read_to_string(&timeline)
            .expect("timeline")
            .lines()
            .count();
        println!(
            "{WAIT_STEPS} steps run {}: {:.0} ms, {lines} timeline lines",
            i + 1,
            run.wall.as_secs_f64() * 1000.0
        );
        best = Some(best.map_or(run.wall, |b| b.min(run.wall)));
    }
    let mut base: Option<Duration> = None;
    for i in 0..3 {
        let run = run_runbook(&one, &dir.join(format!("steps-one-{i}.jsonl")));
        base = Some(base.map_or(run.wall, |b| b.min(run.wall)));
    }
    let (wall, base) = (best.expect("runs"), base.expect("runs"));
    let per_step_ms =
        (wall.as_secs_f64() - base.as_secs_f64()) * 1000.0 / (WAIT_STEPS as f64 - 1.0);
    println!(
        "1-step runbook: {:.0} ms; one append + sync_data on this disk: {fsync_us:.0} µs",
        base.as_secs_f64() * 1000.0
    );
    println!();
    let section = "4. timeline, 1,000 `wait: 0s` steps, fsync on";
    report.row(
        section,
        "wall time of runbook run (best of 3)",
        format!("{:.2} s ({lines} lines)", wall.as_secs_f64()),
        "< 3 s",
        wall.as_secs_f64() < 3.0,
    );
    report.note(
        section,
        format!(
            "per-step overhead {per_step_ms:.2} ms (2 lines a step, group-committed: one fsync per 20 ms; one append+fsync alone {:.2} ms)",
            fsync_us / 1000.0
        ),
    );
}

/// Mean cost of appending a 200-byte line and `sync_data`, as the timeline writer does.
fn fsync_cost(dir: &Path) -> f64 {
    use std::io::Write as _;
    let path = dir.join("fsync-probe");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("open");
    let line = [b'x'; 200];
    let n = 200;
    let started = Instant::now();
    for _ in 0..n {
        file.write_all(&line).expect("write");
        file.sync_data().expect("sync");
    }
    let us = started.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    let _ = std::fs::remove_file(path);
    us
}

// --- running runbook ---------------------------------------------------------------------------

struct Run {
    wall: Duration,
    rss_kib: Option<u64>,
}

/// `runbook run FILE --non-interactive`, under `/usr/bin/time -v` when it is installed.
fn run_runbook(file: &Path, timeline: &Path) -> Run {
    let gnu_time = Path::new("/usr/bin/time").exists();
    let mut cmd = if gnu_time {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-v").arg(runbook_bin());
        c
    } else {
        Command::new(runbook_bin())
    };
    cmd.arg("run")
        .arg(file)
        .arg("--non-interactive")
        .arg("--timeline")
        .arg(timeline)
        .env("NO_COLOR", "1")
        .env_remove("CI");
    let started = Instant::now();
    let out: Output = cmd.output().expect("run runbook");
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "runbook run {} failed:\n{}{stderr}",
        file.display(),
        String::from_utf8_lossy(&out.stdout)
    );
    let rss_kib = stderr.lines().find_map(|l| {
        l.trim()
            .strip_prefix("Maximum resident set size (kbytes):")
            .and_then(|v| v.trim().parse().ok())
    });
    Run { wall, rss_kib }
}

/// The `step_finished` event of `step` in a timeline.
fn step_finished(timeline: &Path, step: &str) -> Json {
    let text = std::fs::read_to_string(timeline).expect("timeline");
    text.lines()
        .filter_map(|l| serde_json::from_str::<Json>(l).ok())
        .find(|e| e["event"] == "step_finished" && e["step"] == step)
        .unwrap_or_else(|| panic!("no step_finished for {step} in {}", timeline.display()))
}

fn version() -> String {
    let out = Command::new(runbook_bin())
        .arg("--version")
        .output()
        .expect("runbook --version");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

// --- the table ---------------------------------------------------------------------------------

#[derive(Default)]
struct Report {
    lines: Vec<(String, String)>,
}

impl Report {
    fn row(&mut self, section: &str, what: &str, measured: String, target: &str, held: bool) {
        let verdict = if held { "ok" } else { "MISSED" };
        self.lines.push((
            section.to_string(),
            format!("  {what:<46} {measured:<44} target {target:<10} {verdict}"),
        ));
    }

    fn note(&mut self, section: &str, text: String) {
        self.lines.push((section.to_string(), format!("  {text}")));
    }

    fn print(&self) {
        println!("== figures vs targets ==");
        let mut last = "";
        for (section, line) in &self.lines {
            if section != last {
                println!("{section}");
                last = section;
            }
            println!("{line}");
        }
    }
}
