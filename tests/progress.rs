//! Live progress and layout on a real terminal: the binary runs on a pseudo-terminal 80 and
//! 120 columns wide against the test server (`/hang`, `/slow/<ms>`, sequences), and what it
//! wrote is rendered by a terminal emulator (`support::Terminal`), so the checks read the
//! screen a person would see: the counts and phase of a probe, each failed attempt's result
//! before the countdown to the next, countdowns that only go down, nothing of the live line
//! left after a step ends or is interrupted, and no line wider than the terminal or cut inside
//! a word.

use serde_json::Value as Json;

use crate::support::*;

const WIDTHS: [u16; 2] = [80, 120];

/// A guided run of `runbook.yaml` on a terminal `cols` wide, writing `timeline.jsonl`.
fn guided(test: &Test, cols: u16, extra: &[&str]) -> Terminal {
    let mut args = vec!["run", RUNBOOK, "--timeline", TIMELINE];
    args.extend_from_slice(extra);
    Terminal::spawn(&test.path(""), cols, &args)
}

fn timeline(term: &Terminal) -> Vec<Json> {
    let text = std::fs::read_to_string(term.dir.join(TIMELINE)).unwrap_or_default();
    parse_timeline(&text)
}

fn finished(term: &Terminal, step: &str) -> Json {
    timeline(term)
        .into_iter()
        .rev()
        .find(|e| e["event"] == "step_finished" && e["step"] == step)
        .unwrap_or_else(|| panic!("no step_finished for {step}\n{}", term.context()))
}

/// No row of the rendered screen ran past the right edge.
fn assert_fits(term: &Terminal) {
    let over = term.overflowing_rows();
    assert!(
        over.is_empty(),
        "{} columns: rows wider than the terminal: {over:#?}\n{}",
        term.cols,
        term.context()
    );
}

/// Nothing of the live line is on the final screen.
fn assert_no_live_line(term: &Terminal, remnants: &[&str]) {
    let rows = term.rows();
    for row in &rows {
        for remnant in remnants {
            assert!(
                !row.contains(remnant),
                "{} columns: {remnant:?} left on the screen: {row:?}\n{}",
                term.cols,
                term.context()
            );
        }
        // A spinner frame at the start of a row is a live line that was not erased.
        let first = row.chars().next().unwrap_or(' ');
        assert!(
            !"⠁⠂⠄⡀⢀⠠⠐⠈".contains(first),
            "{} columns: a spinner is left on the screen: {row:?}\n{}",
            term.cols,
            term.context()
        );
    }
}

// ---------------------------------------------------------------- a hung probe

/// A probe of an endpoint that accepts and never answers shows its requests in flight and
/// where they wait, not a bare spinner; Ctrl-C erases the live line, and the interrupted step's
/// record keeps the probe's counts.
#[test]
fn a_hung_probe_shows_requests_in_flight_and_ctrl_c_leaves_nothing_behind() {
    let server = Server::start();
    for cols in WIDTHS {
        let test = Test::new().server(&server).runbook(
            r#"
            name: hung
            title: The API load balancer hangs
            steps:
              - id: probe_launchpad
                title: Probe LaunchPad
                http: {url: "$SERVER/hang", samples: 60, concurrency: 10, timeout: 60s}
            "#,
        );
        let mut term = guided(&test, cols, &[]);
        term.expect("0/60 done, 10 in flight · waiting for headers");
        term.ctrl_c();
        term.expect("probe_launchpad interrupted (Ctrl-C again ends the run)");
        term.ctrl_c();
        term.finish();
        assert_no_live_line(&term, &["in flight", "/60 done", "probe_launchpad: http"]);
        assert_fits(&term);

        let step = finished(&term, "probe_launchpad");
        assert_eq!(step["outcome"], "interrupted", "{step}");
        let data = &step["data"];
        assert_eq!(data["partial"], true, "{data}");
        assert_eq!(data["samples"], 60, "{data}");
        assert_eq!(data["count"], 0, "{data}");
        assert_eq!(data["responses"], 0, "{data}");
        assert_eq!(data["in_flight"], 10, "{data}");
        assert_eq!(data["error_count"], 0, "{data}");
        assert_eq!(data["status_counts"], serde_json::json!({}), "{data}");
        assert_eq!(data["p95_ms"], Json::Null, "{data}");
    }
}

/// Interrupted part-way, a probe keeps the counts and latency percentiles of the requests that
/// finished.
#[test]
fn an_interrupted_probe_keeps_the_statistics_of_what_finished() {
    let server = Server::start();
    let test = Test::new().server(&server).runbook(
        r#"
        name: slow
        title: A slow endpoint
        steps:
          - id: probe_slow
            title: Probe the slow endpoint
            http: {url: "$SERVER/slow/150", samples: 400, concurrency: 4, timeout: 120s}
        "#,
    );
    let mut term = guided(&test, 120, &[]);
    // At least a dozen answered, four more in flight.
    term.wait_until("a dozen requests done", |t| {
        let text = t.text();
        text.rsplit("/400 done")
            .nth(1)
            .and_then(|before| before.rsplit(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| n >= 12)
    });
    term.expect("4 in flight · waiting for headers");
    term.ctrl_c();
    term.expect("probe_slow interrupted (Ctrl-C again ends the run)");
    term.ctrl_c();
    term.finish();
    assert_no_live_line(&term, &["in flight", "/400 done"]);

    let data = finished(&term, "probe_slow")["data"].clone();
    assert_eq!(data["partial"], true, "{data}");
    assert_eq!(data["samples"], 400, "{data}");
    let responses = data["responses"].as_u64().unwrap();
    assert!((12..400).contains(&responses), "{data}");
    assert_eq!(data["count"], responses, "{data}");
    assert_eq!(data["status_counts"]["200"], responses, "{data}");
    assert_eq!(data["error_count"], 0, "{data}");
    assert_eq!(data["rate_5xx"], 0.0, "{data}");
    let ms = |name: &str| {
        data[name]
            .as_f64()
            .unwrap_or_else(|| panic!("no {name}: {data}"))
    };
    let (p50, p95, p99, max) = (ms("p50_ms"), ms("p95_ms"), ms("p99_ms"), ms("max_ms"));
    assert!(p50 >= 150.0, "{data}");
    assert!(p50 <= p95 && p95 <= p99 && p99 <= max, "{data}");
    // The server answered at least what the record counts.
    assert!(server.count("/slow/150") as u64 >= responses);
}

/// SIGTERM mid-probe, without a terminal: the record keeps the counts of what finished.
#[test]
fn a_probe_ended_by_sigterm_keeps_its_counts() {
    let server = Server::start();
    let running = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: slow
            title: A slow endpoint
            steps:
              - id: probe_slow
                title: Probe the slow endpoint
                http: {url: "$SERVER/slow/100", samples: 500, concurrency: 2, timeout: 120s}
            "#,
        )
        .args(["run", "--non-interactive"])
        .spawn();
    running.wait_for_event(|e| e["event"] == "step_started" && e["step"] == "probe_slow");
    // Some requests answered (the server logs each as it arrives).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while server.count("/slow/100") < 8 {
        assert!(std::time::Instant::now() < deadline, "no requests arrived");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    running.signal(15);
    let out = running.wait();
    let step = out.finished("probe_slow");
    assert_eq!(step["outcome"], "interrupted", "{step}");
    let data = &step["data"];
    assert_eq!(data["partial"], true, "{data}");
    let responses = data["responses"].as_u64().unwrap();
    assert!(responses >= 4, "{data}");
    assert_eq!(data["status_counts"]["200"], responses, "{data}");
    assert!(data["p50_ms"].as_f64().unwrap() >= 100.0, "{data}");
    assert!(data["max_ms"].as_f64().unwrap() >= data["p99_ms"].as_f64().unwrap());
}

// ---------------------------------------------------------------- retries

/// Each failed attempt's result comes before the countdown to the next; the countdown only
/// goes down; each attempt's counts start afresh; nothing of it is left on the screen.
#[test]
fn each_attempt_shows_its_result_before_a_countdown_that_only_goes_down() {
    for cols in WIDTHS {
        let server = Server::start();
        server.sequence("/flaky", [500, 500, 500, 500, 200]);
        let test = Test::new().server(&server).runbook(
            r#"
            name: flaky
            title: A flaky endpoint
            steps:
              - id: flaky_probe
                title: Probe the flaky endpoint
                http: {url: "$SERVER/flaky", samples: 2, concurrency: 1}
                expect: ["rate_error < 0.02"]
                retry: {attempts: 3, delay: 2s}
            "#,
        );
        let mut term = guided(&test, cols, &[]);
        term.expect("attempt 1 of 3 failed: expected rate_error < 0.02, got rate_error = 1");
        term.expect("next attempt in 2s");
        term.expect("next attempt in 1s");
        term.expect("flaky_probe: http, attempt 2/3");
        term.expect("attempt 2 of 3 failed: expected rate_error < 0.02, got rate_error = 1");
        term.expect("next attempt in 2s");
        term.expect("flaky_probe: http, attempt 3/3");
        term.expect("PASSED");
        assert_eq!(term.finish(), 0, "{}", term.context());

        // Every countdown, in the order drawn: between one attempt's result and the next
        // attempt, the seconds shown strictly decrease.
        let text = term.text();
        for part in text.split("failed: expected rate_error").skip(1) {
            let part = part.split("http, attempt").next().unwrap();
            let mut shown: Vec<u64> = part
                .split("next attempt in ")
                .skip(1)
                .filter_map(|s| s.split('s').next()?.parse().ok())
                .collect();
            shown.dedup();
            assert_eq!(shown, [2, 1], "{cols} columns: countdown {shown:?}");
        }
        assert_no_live_line(&term, &["next attempt in", "/2 done", "flaky_probe: http"]);
        assert_fits(&term);
        let rows = term.rows();
        let result = |n: u32| {
            rows.iter()
                .position(|r| r.contains(&format!("attempt {n} of 3 failed")))
                .unwrap_or_else(|| panic!("no attempt {n} line\n{}", term.context()))
        };
        assert!(result(1) < result(2), "{}", term.context());
    }
}

/// Each attempt's counts start from nothing: the live line of the second attempt counts its
/// own requests, not the first attempt's.
#[test]
fn each_attempt_counts_its_own_requests() {
    let server = Server::start();
    let test = Test::new().server(&server).runbook(
        r#"
        name: slow
        title: A slow endpoint that never passes
        steps:
          - id: slow_probe
            title: Probe the slow endpoint
            http: {url: "$SERVER/slow/300", samples: 3, concurrency: 1, timeout: 30s}
            expect: ["count > 3"]
            retry: {attempts: 2, delay: 1s}
        "#,
    );
    let mut term = guided(&test, 80, &["--non-interactive"]);
    term.finish();
    let text = term.text();
    let (first, second) = text
        .split_once("slow_probe: http, attempt 2/2")
        .unwrap_or_else(|| panic!("no second attempt\n{}", term.context()));
    for attempt in [first, second] {
        let at = |shown: &str| {
            attempt
                .find(shown)
                .unwrap_or_else(|| panic!("no {shown:?} in an attempt\n{}", term.context()))
        };
        assert!(at("1/3 done") < at("2/3 done"), "{}", term.context());
        assert!(at("2/3 done") < at("3/3 done"), "{}", term.context());
    }
    assert_no_live_line(&term, &["/3 done", "next attempt in"]);
    assert_fits(&term);
}

/// The non-interactive view on a terminal shows the same live line and attempt lines.
#[test]
fn a_non_interactive_run_on_a_terminal_shows_progress_and_attempts_too() {
    let server = Server::start();
    server.sequence("/flaky", [500, 500, 200]);
    let test = Test::new().server(&server).runbook(
        r#"
        name: flaky
        title: A flaky endpoint
        steps:
          - id: hung_probe
            title: Probe the hung endpoint
            http: {url: "$SERVER/hang", samples: 20, concurrency: 5, timeout: 1500ms}
            expect: ["true"]
          - id: flaky_probe
            title: Probe the flaky endpoint
            http: {url: "$SERVER/flaky", samples: 2, concurrency: 1}
            expect: ["rate_error < 0.02"]
            retry: {attempts: 2, delay: 1s}
        "#,
    );
    let mut term = guided(&test, 80, &["--non-interactive"]);
    term.expect("0/20 done, 5 in flight · waiting for headers");
    term.expect("attempt 1 of 2 failed:");
    term.expect("next attempt in 1s");
    term.finish();
    // The attempt's line, wrapped to the terminal, says what failed and with which value.
    let screen = term.rows().join(" ");
    let screen = screen.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        screen.contains(
            "RETRYING flaky_probe attempt 1 of 2 failed: expected rate_error < 0.02, got rate_error = 1"
        ),
        "{}",
        term.context()
    );
    assert_no_live_line(
        &term,
        &["in flight", "next attempt in", "/2 done", "/20 done"],
    );
    assert_fits(&term);
    assert_eq!(finished(&term, "flaky_probe")["outcome"], "passed");
}

// ---------------------------------------------------------------- layout

/// A runbook whose lines are all longer than 80 columns.
const LONG: &str = r#"
name: layout
title: Sample LaunchPad through the frontend load balancer and refresh the API load balancer
steps:
  - id: sample_launchpad
    title: Sample the LaunchPad endpoint through the frontend load balancer before the refresh
    http: {url: "$SERVER/status/200", samples: 2}
  - id: refresh_api_lb
    title: Refresh the API load balancer when LaunchPad fails through it
    action: false
    when: "steps.sample_launchpad.rate_5xx > 0.5 and steps.sample_launchpad.count > 1 and steps.sample_launchpad.p95_ms > 100"
    http: {url: "$SERVER/status/200"}
"#;

/// The words of the `when` expression, each of which must be whole on one row.
const WHEN_WORDS: [&str; 3] = [
    "steps.sample_launchpad.rate_5xx",
    "steps.sample_launchpad.count",
    "steps.sample_launchpad.p95_ms",
];

/// The rows from the one containing `start` up to (not including) the next row that does not
/// hang under it (an empty row, or one starting at a column left of `hang`).
fn wrapped_block(term: &Terminal, start: &str, hang: usize) -> Vec<String> {
    let rows = term.rows();
    let first = rows
        .iter()
        .position(|r| r.contains(start))
        .unwrap_or_else(|| panic!("no row with {start:?}\n{}", term.context()));
    let mut block = vec![rows[first].clone()];
    for row in &rows[first + 1..] {
        let indent = row.len() - row.trim_start().len();
        if row.trim().is_empty() || indent < hang {
            break;
        }
        block.push(row.clone());
    }
    block
}

fn assert_words_whole(term: &Terminal, words: &[&str]) {
    let rows = term.rows();
    for word in words {
        assert!(
            rows.iter().any(|r| r.contains(word)),
            "{} columns: {word:?} is not whole on any row\n{}",
            term.cols,
            term.context()
        );
    }
}

#[test]
fn guided_lines_fit_the_terminal_and_hang_under_their_text() {
    let server = Server::start();
    for cols in WIDTHS {
        let test = Test::new().server(&server).runbook(LONG);
        let mut term = guided(&test, cols, &[]);
        assert_eq!(term.finish(), 0, "{}", term.context());
        assert_fits(&term);
        assert_words_whole(&term, &WHEN_WORDS);
        assert_words_whole(&term, &["(sample_launchpad,", "(refresh_api_lb):"]);
        assert_no_live_line(&term, &["/2 done", "sample_launchpad: http"]);
        // The skipped step's line is wrapped, every continuation under the text after the
        // label, never at column 1.
        let block = wrapped_block(&term, "SKIPPED", 11);
        if cols == 80 {
            assert!(block.len() > 1, "{block:#?}\n{}", term.context());
        }
        for row in &block[1..] {
            assert!(
                row.starts_with(&" ".repeat(11)),
                "{row:?}\n{}",
                term.context()
            );
        }
        let joined: Vec<&str> = block.iter().flat_map(|r| r.split_whitespace()).collect();
        assert!(
            joined.contains(&"steps.sample_launchpad.p95_ms"),
            "{block:#?}"
        );
        // The header of the first step: the title wraps under itself, after `[1/2] `.
        let header = wrapped_block(&term, "[1/2]", 6);
        if cols == 80 {
            assert!(header.len() > 1, "{header:#?}\n{}", term.context());
        }
        for row in &header[1..] {
            assert!(row.starts_with("      "), "{row:?}\n{}", term.context());
        }
    }
}

#[test]
fn non_interactive_lines_fit_the_terminal_and_hang_under_their_text() {
    let server = Server::start();
    for cols in WIDTHS {
        let test = Test::new().server(&server).runbook(LONG);
        let mut term = guided(&test, cols, &["--non-interactive"]);
        assert_eq!(term.finish(), 0, "{}", term.context());
        assert_fits(&term);
        assert_words_whole(&term, &WHEN_WORDS);
        let block = wrapped_block(&term, "SKIPPED", 12);
        assert!(block.len() > 1, "{block:#?}\n{}", term.context());
        for row in &block[1..] {
            assert!(
                row.starts_with(&" ".repeat(12)),
                "{row:?}\n{}",
                term.context()
            );
        }
        let passed = wrapped_block(&term, "PASSED", 12);
        assert!(passed[0].contains("sample_launchpad"), "{passed:#?}");
    }
}
