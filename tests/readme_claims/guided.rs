//! README section "Guided mode".

use crate::support::*;

// ------------------------------------------------------------------ Guided mode

/// "live progress while it runs (a spinner with elapsed time; for `samples` the requests done,
/// in flight and failed, the phase the requests in flight are in, and where the line has room
/// the running 5xx rate among the answers and p95; for `retry` each failed attempt's result and
/// a countdown to the next; for `wait` a countdown), the result coloured by outcome".
#[test]
fn a_guided_run_shows_progress_and_coloured_results() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: progress
            title: Progress
            steps:
              - id: sample
                title: Sample
                http: {url: "$SERVER/slow/100", samples: 4, timeout: 5s}
              - {id: pause, title: Pause, wait: 500ms}
              - id: flaky
                title: Flaky
                action: false
                command: {argv: [sh, -c, "test -e marker || { touch marker; exit 1; }"]}
                retry: {attempts: 2, delay: 500ms}
            "#,
        )
        .env_remove("NO_COLOR")
        .pty()
        .args(["run"])
        .run()
        .status(0);
    let screen = &out.stdout;
    for shown in [
        "/4 done, 1 in flight · waiting for headers · 5xx 0.0%  p95 ",
        "  waiting, 1s left",
        "flaky: command, attempt 1/2",
        "attempt 1 of 2 failed: expected exit code 0",
        "flaky: attempt 1/2 did not pass; next attempt in 1s",
        "flaky: command, attempt 2/2",
        "\x1b[32m\x1b[1mPASSED",
    ] {
        assert!(
            screen.contains(shown),
            "no {shown:?} on the screen:\n{screen:?}"
        );
    }
    assert_eq!(out.events("run_started")[0]["mode"], "guided");
}

/// "When a timeline of the same runbook in `timelines/` has no `run_finished` (the laptop died)
/// and no run holds it, a guided run offers to resume it": one that a live run holds is not
/// offered, and the guided run starts a timeline of its own.
#[test]
fn a_guided_run_does_not_offer_a_timeline_another_run_holds() {
    use std::io::Read as _;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    require("script", "bsdutils");
    let jsonl = |dir: &Path| -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    };
    let poll = |what: &str, check: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !check() {
            assert!(Instant::now() < deadline, "{what} in 15 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let first = Test::new()
        .runbook(HELD)
        .default_timeline()
        .args(["run"])
        .spawn();
    let timelines = first.path("timelines");
    poll("the first run holds its timeline", &|| {
        jsonl(&timelines).first().is_some_and(|t| {
            t.with_extension("jsonl.lock").exists()
                && std::fs::read_to_string(t).is_ok_and(|text| text.contains("step_started"))
        })
    });
    let held = jsonl(&timelines)[0].clone();

    let line = format!("'{}' run runbook.yaml", env!("CARGO_BIN_EXE_runbook"));
    let mut second = crate::sim::Guard(
        Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .current_dir(first.path(""))
            .env_remove("CI")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("script starts"),
    );
    poll("the guided run starts its own timeline", &|| {
        jsonl(&timelines).len() == 2
    });
    std::fs::write(first.path("go"), "").unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = second.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the guided run did not end");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut screen = String::new();
    second
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut screen)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{screen}");
    assert!(!screen.contains("An unfinished run"), "{screen}");
    let own = jsonl(&timelines).into_iter().find(|t| *t != held).unwrap();
    let own_rel = format!("timelines/{}", own.file_name().unwrap().to_str().unwrap());
    assert!(screen.contains(&format!("timeline: {own_rel}")), "{screen}");
    let guided = parse_timeline(&std::fs::read_to_string(&own).unwrap());
    assert_eq!(guided[0]["mode"], "guided");

    // (Kept: dropping the output removes the directory.)
    let _out = first.wait().status(0);
    let events = parse_timeline(&std::fs::read_to_string(&held).unwrap());
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "run_started",
            "step_started",
            "step_finished",
            "run_finished"
        ],
        "the held timeline was written to by the guided run"
    );
}
