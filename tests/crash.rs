//! Crash safety: `runbook run --yes` is killed with SIGKILL at 20 points — between events,
//! right after an event reached the disk (so the kill lands in or near the next write), in the
//! middle of an action's request, after a drawn number of events, and during a resume — and
//! resumed with `--resume --yes` until the run completes.
//!
//! The points are drawn from a fixed seed, so every run of the suite covers the same 20 (a
//! clock-seeded draw tested different points on each CI run, and a failure could not be
//! replayed). `RUNBOOK_CRASH_SEED=N` draws others; a failure prints the seed in use.
//!
//! The contract checked after every trial: the timeline parses (a torn last line is ignored and
//! cut on resume), the run completes, `seq` only grows, there is one `run_id`, and an action is
//! sent again only if it was started and never recorded `step_finished`: once an action has
//! finished it is never started or sent again.
//!
//! A second set of 8 points lands inside a burst of 30 checks around two actions, where the
//! checks' events are group-committed (one sync per 20 ms, src/timeline/writer.rs). A SIGKILL
//! keeps the page cache, so nothing written may be missing: every check is recorded as finished
//! exactly once, right after its own start, and no request was made (at any kill, not only at
//! the end) that the file does not record as started. What a power loss can lose is tested from
//! the system calls in tests/durability.rs.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::support::{Server, unindent};

const RUNBOOK: &str = r#"
    name: crash
    title: Kill and resume
    steps:
      - id: check_before
        title: The node answers
        http: {url: "$SERVER/status/200", timeout: 5s}
      - id: drain
        title: Drain the node
        action: true
        http: {url: "$SERVER/act/drain", method: POST, json: {node: a}, timeout: 5s}
      - id: restart
        title: Restart the node (the server takes a while to answer)
        action: true
        http: {url: "$SERVER/slow/300", method: POST, timeout: 5s}
      - id: check_mid
        title: The node is back
        http: {url: "$SERVER/status/204", timeout: 5s}
      - id: undrain
        title: Put the node back
        action: true
        http: {url: "$SERVER/act/undrain", method: POST, json: {node: a}, timeout: 5s}
      - id: verify
        title: Traffic flows
        http: {url: "$SERVER/slow/40", timeout: 5s}
    finally:
      - id: notify
        title: Tell the channel
        action: true
        http: {url: "$SERVER/act/notify", method: POST, timeout: 5s}
    "#;

/// Each action and the path only it sends to.
const ACTIONS: [(&str, &str); 4] = [
    ("drain", "/act/drain"),
    ("restart", "/slow/300"),
    ("undrain", "/act/undrain"),
    ("notify", "/act/notify"),
];

/// When to kill one invocation.
#[derive(Clone, Debug)]
enum Kill {
    /// Once the timeline has this event (of this step), then after a few microseconds more.
    After {
        event: &'static str,
        step: Option<&'static str>,
        extra: Duration,
    },
    /// Once the server has received a request to this path (and has not answered it).
    MidRequest(&'static str),
    /// Once the timeline has this many complete events, then after a few microseconds more.
    /// Counted in events rather than time, so the point is the same on a fast or a loaded
    /// machine.
    AfterEvents { count: usize, extra: Duration },
}

/// The seed of the drawn kill points unless `RUNBOOK_CRASH_SEED` says otherwise.
const DEFAULT_SEED: u64 = 0x5eed_c0de_2026_1122;

/// The events of a run of `RUNBOOK` that nothing interrupts: run_started, start and finish of
/// six steps and of `notify`, run_finished.
const EVENTS_IN_A_RUN: u64 = 16;

#[derive(Clone, Debug)]
struct Trial {
    name: String,
    /// The first invocation is killed at `kills[0]`, the first resume at `kills[1]`, and so on;
    /// later resumes run to the end.
    kills: Vec<Kill>,
    /// Appended to the timeline after the first kill, as a crash in mid-write would leave it.
    torn: Option<Vec<u8>>,
}

fn after(event: &'static str, step: Option<&'static str>, rng: &mut Rng) -> Kill {
    Kill::After {
        event,
        step,
        extra: Duration::from_micros(rng.below(2000)),
    }
}

fn trials(rng: &mut Rng) -> Vec<Trial> {
    let one = |name: &str, kill: Kill| Trial {
        name: name.into(),
        kills: vec![kill],
        torn: None,
    };
    let mut trials = vec![
        one("after run_started", after("run_started", None, rng)),
        one(
            "after check_before started",
            after("step_started", Some("check_before"), rng),
        ),
        one(
            "after check_before finished",
            after("step_finished", Some("check_before"), rng),
        ),
        one(
            "after drain started",
            after("step_started", Some("drain"), rng),
        ),
        one(
            "after drain finished",
            after("step_finished", Some("drain"), rng),
        ),
        one("during the restart request", Kill::MidRequest("/slow/300")),
        one(
            "after restart started",
            Kill::After {
                event: "step_started",
                step: Some("restart"),
                extra: Duration::ZERO,
            },
        ),
        one(
            "after restart finished",
            after("step_finished", Some("restart"), rng),
        ),
        one(
            "after check_mid finished",
            after("step_finished", Some("check_mid"), rng),
        ),
        one(
            "after undrain started",
            after("step_started", Some("undrain"), rng),
        ),
        one(
            "after undrain finished",
            after("step_finished", Some("undrain"), rng),
        ),
        one(
            "after notify started (finally)",
            after("step_started", Some("notify"), rng),
        ),
        one(
            "after notify finished, before run_finished",
            Kill::After {
                event: "step_finished",
                step: Some("notify"),
                extra: Duration::ZERO,
            },
        ),
        Trial {
            name: "during the restart request, then again during the resumed one".into(),
            kills: vec![Kill::MidRequest("/slow/300"), Kill::MidRequest("/slow/300")],
            torn: None,
        },
        Trial {
            name: "after drain started, then right after run_resumed".into(),
            kills: vec![
                after("step_started", Some("drain"), rng),
                after("run_resumed", None, rng),
            ],
            torn: None,
        },
        Trial {
            name: "after undrain finished, then a torn line".into(),
            kills: vec![after("step_finished", Some("undrain"), rng)],
            torn: Some(br#"{"seq":99,"ts":"2026-11-22T19:3"#.to_vec()),
        },
        Trial {
            name: "during the restart request, then a line torn inside a character".into(),
            kills: vec![Kill::MidRequest("/slow/300")],
            // `é` is C3 A9: the write stopped between the two bytes.
            torn: Some(b"{\"seq\":99,\"ts\":\"t\",\"event\":\"note\",\"text\":\"caf\xC3".to_vec()),
        },
    ];
    for _ in 0..3 {
        // Any event but the last (a kill after run_finished has nothing left to resume).
        let count = 1 + rng.below(EVENTS_IN_A_RUN - 1) as usize;
        let extra = Duration::from_micros(rng.below(2000));
        trials.push(one(
            &format!("after {count} events and {extra:?}"),
            Kill::AfterEvents { count, extra },
        ));
    }
    trials
}

#[test]
fn killed_runs_resume_to_completion_without_repeating_a_finished_action() {
    let seed = seed(DEFAULT_SEED);
    let mut rng = Rng(seed | 1);
    let all = trials(&mut rng);
    assert_eq!(all.len(), 20);
    // The same seed draws the same points: what a failure's seed replays.
    assert_eq!(
        format!("{:?}", trials(&mut Rng(seed | 1))),
        format!("{all:?}")
    );
    eprintln!("crash trials (RUNBOOK_CRASH_SEED={seed}):");
    for trial in &all {
        eprintln!("  {}: {:?}", trial.name, trial.kills);
    }
    run_all(all, seed, run_trial);
}

/// Runs the trials four at a time and reports every failure with the seed that replays it.
fn run_all(all: Vec<Trial>, seed: u64, run: impl Fn(&Trial) + Sync) {
    let count = all.len();
    let queue = Mutex::new(all.into_iter().collect::<VecDeque<_>>());
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                loop {
                    let Some(trial) = queue.lock().unwrap().pop_front() else {
                        break;
                    };
                    let name = trial.name.clone();
                    if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(|| run(&trial))) {
                        let message = panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default();
                        failures.lock().unwrap().push(format!("{name}: {message}"));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {count} trials failed (RUNBOOK_CRASH_SEED={seed} replays them):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The seed in use: `RUNBOOK_CRASH_SEED`, or `default`.
fn seed(default: u64) -> u64 {
    match std::env::var("RUNBOOK_CRASH_SEED") {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("RUNBOOK_CRASH_SEED={text:?} is not a number")),
        Err(_) => default,
    }
}

/// A runbook and its actions, each with the path only it sends to.
struct Scenario {
    yaml: String,
    actions: &'static [(&'static str, &'static str)],
}

fn run_trial(trial: &Trial) {
    let _ = run_scenario(
        trial,
        &Scenario {
            yaml: unindent(RUNBOOK),
            actions: &ACTIONS,
        },
    );
}

/// Runs one trial of `scenario`, resuming after each kill; returns the final timeline, the
/// server the steps talked to and how many kills landed (a run may end before its point).
fn run_scenario(trial: &Trial, scenario: &Scenario) -> (Vec<Json>, Server, usize) {
    let actions = scenario.actions;
    let server = Server::start();
    for (_, path) in actions {
        if path.starts_with("/act/") {
            server.sequence(path, [200]);
        }
    }
    let dir = tempfile::Builder::new()
        .prefix("runbook-crash")
        .tempdir()
        .unwrap();
    let yaml = scenario.yaml.replace("$SERVER", &server.url());
    std::fs::write(dir.path().join("runbook.yaml"), yaml).unwrap();
    let timeline = dir.path().join("timeline.jsonl");
    let mut log = String::new();

    let mut resume = false;
    let mut finished = false;
    let mut kills = 0;
    for attempt in 0..8 {
        let kill = trial.kills.get(attempt);
        let outcome = invoke(dir.path(), resume, kill, &server, actions, &mut log);
        // Right after the kill: every complete line is an event; only the last may be torn.
        if let Ok(bytes) = std::fs::read(&timeline) {
            let parsed = runbook::timeline::reader::parse_bytes(&bytes);
            assert!(
                parsed.problems.is_empty(),
                "{:?}\n{log}{}",
                parsed.problems,
                String::from_utf8_lossy(&bytes)
            );
        }
        // Nothing leaves without its start in the file, checked at every kill, not only at
        // the end.
        let written = events(&timeline);
        for (id, path) in actions {
            let starts = written
                .iter()
                .filter(|e| e["event"] == "step_started" && e["step"] == *id)
                .count();
            assert!(
                server.count(path) <= starts,
                "`{id}` was sent {} times for {starts} recorded starts\n{log}",
                server.count(path)
            );
        }
        match outcome {
            Invocation::Killed => {
                kills += 1;
                if attempt == 0
                    && let Some(torn) = &trial.torn
                {
                    let mut file = std::fs::OpenOptions::new()
                        .append(true)
                        .open(&timeline)
                        .unwrap();
                    file.write_all(torn).unwrap();
                }
            }
            Invocation::Exited(0) => {
                finished = true;
                break;
            }
            Invocation::Exited(code) => panic!("exit {code}\n{log}"),
        }
        if events(&timeline).is_empty() {
            // Killed before the run recorded anything: nothing can have been done, and
            // nothing can be resumed; the operator starts again.
            for (id, path) in actions {
                assert_eq!(server.count(path), 0, "{id} was sent\n{log}");
            }
            let _ = std::fs::remove_file(&timeline);
            resume = false;
        } else {
            resume = true;
        }
    }
    assert!(
        finished,
        "the run did not finish after 8 invocations\n{log}"
    );
    let lines = check(&timeline, &server, actions, &log);
    (lines, server, kills)
}

/// The burst: 30 fast checks with an action after the 15th and one at the end. The checks'
/// events are group-committed (src/timeline/writer.rs), the actions' are synced at once.
const BURST_CHECKS: usize = 30;
const BURST_ACTIONS: [(&str, &str); 2] = [("mark", "/act/mark"), ("clear", "/act/clear")];
/// run_started, start and finish of every step, run_finished.
const EVENTS_IN_A_BURST: u64 = 2 + 2 * (BURST_CHECKS as u64 + 2);
/// The seed of the burst's kill points unless `RUNBOOK_CRASH_SEED` says otherwise.
const BURST_SEED: u64 = 0xb0a5_7c4e_c0de_2026;

fn burst_runbook() -> String {
    let mut yaml =
        String::from("name: burst\ntitle: A burst of checks around two actions\nsteps:\n");
    let action = |id: &str, path: &str| {
        format!(
            "  - id: {id}\n    title: Action {id}\n    action: true\n    http: {{url: \"$SERVER{path}\", method: POST, timeout: 5s}}\n"
        )
    };
    for i in 1..=BURST_CHECKS {
        if i == BURST_CHECKS / 2 + 1 {
            yaml.push_str(&action(BURST_ACTIONS[0].0, BURST_ACTIONS[0].1));
        }
        yaml.push_str(&format!(
            "  - id: check_{i:02}\n    title: Check {i}\n    http: {{url: \"$SERVER/status/200\", timeout: 5s}}\n"
        ));
    }
    yaml.push_str(&action(BURST_ACTIONS[1].0, BURST_ACTIONS[1].1));
    yaml
}

fn burst_trials(rng: &mut Rng) -> Vec<Trial> {
    let at = |rng: &mut Rng| Kill::AfterEvents {
        // Any event from the first check's start to the last action's finish.
        count: 2 + rng.below(EVENTS_IN_A_BURST - 3) as usize,
        extra: Duration::from_micros(rng.below(2000)),
    };
    let one = |name: String, kills: Vec<Kill>| Trial {
        name,
        kills,
        torn: None,
    };
    let mut trials = Vec::new();
    for _ in 0..6 {
        let kill = at(rng);
        trials.push(one(format!("inside the burst at {kill:?}"), vec![kill]));
    }
    // Killed twice: in the first run, then again in the resumed one (the count includes the
    // lines of the first run, so the second point is drawn later than the first).
    let first = at(rng);
    let Kill::AfterEvents { count, .. } = first else {
        unreachable!()
    };
    let second = Kill::AfterEvents {
        count: count + 2 + rng.below(8) as usize,
        extra: Duration::from_micros(rng.below(2000)),
    };
    trials.push(one(
        format!("inside the burst at {first:?}, then in the resume at {second:?}"),
        vec![first, second],
    ));
    trials.push(one(
        "right after the action in the burst started".into(),
        vec![Kill::After {
            event: "step_started",
            step: Some("mark"),
            extra: Duration::ZERO,
        }],
    ));
    trials
}

/// SIGKILL inside a burst of group-committed checks: every check's result that reached the
/// file is whole and in place (its own start just before it), each check is recorded as
/// finished exactly once (a check whose result was lost ran again), no request was made that
/// the file does not know was started, and the actions keep the contract of the test above.
#[test]
fn killed_inside_a_burst_of_checks_resumes_with_every_check_recorded_once() {
    let seed = seed(BURST_SEED);
    let all = burst_trials(&mut Rng(seed | 1));
    assert_eq!(all.len(), 8);
    eprintln!("burst trials (RUNBOOK_CRASH_SEED={seed}):");
    for trial in &all {
        eprintln!("  {}", trial.name);
    }
    let scenario = Scenario {
        yaml: burst_runbook(),
        actions: &BURST_ACTIONS,
    };
    run_all(all, seed, |trial| {
        let (lines, server, kills) = run_scenario(trial, &scenario);
        // Every point is inside the run: a run that ended first tested nothing.
        assert_eq!(kills, trial.kills.len(), "a kill point was never reached");
        let context = lines
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        let mut finished = 0;
        let mut started = 0;
        for (i, line) in lines.iter().enumerate() {
            let step = line["step"].as_str().unwrap_or_default();
            if !step.starts_with("check_") {
                continue;
            }
            match line["event"].as_str() {
                Some("step_started") => started += 1,
                Some("step_finished") => {
                    finished += 1;
                    let before = &lines[i - 1];
                    // (Its `entry` is 2 when a kill cut its first start short.)
                    assert_eq!(
                        (&before["event"], &before["step"]),
                        (&Json::from("step_started"), &line["step"]),
                        "line {i}: a check's result follows its own start\n{context}"
                    );
                    assert_eq!(line["outcome"], "passed", "line {i}\n{context}");
                    assert_eq!(line["data"]["status"], 200, "line {i}\n{context}");
                    assert_eq!(line["action"], false, "line {i}\n{context}");
                }
                _ => {}
            }
        }
        for i in 1..=BURST_CHECKS {
            let id = format!("check_{i:02}");
            let finishes = lines
                .iter()
                .filter(|l| l["event"] == "step_finished" && l["step"] == id.as_str())
                .count();
            assert_eq!(
                finishes, 1,
                "`{id}` is recorded as finished once\n{context}"
            );
        }
        // A request per recorded result, and none without a recorded start (a start whose
        // request a kill cut short is the only start without a result).
        let sent = server.count("/status/200");
        assert!(
            (finished..=started).contains(&sent),
            "{sent} check requests for {started} starts and {finished} results\n{context}"
        );
    });
}

enum Invocation {
    Killed,
    Exited(i32),
}

/// Runs `runbook run` once (a new run, or `--resume`), killing it at `kill`.
fn invoke(
    dir: &Path,
    resume: bool,
    kill: Option<&Kill>,
    server: &Server,
    actions: &[(&str, &str)],
    log: &mut String,
) -> Invocation {
    let stdout = dir.join("stdout");
    let stderr = dir.join("stderr");
    let mut command = Command::new(env!("CARGO_BIN_EXE_runbook"));
    command
        .current_dir(dir)
        .args(["run", "runbook.yaml", "--non-interactive", "--yes"])
        .args(if resume {
            ["--resume", "timeline.jsonl"]
        } else {
            ["--timeline", "timeline.jsonl"]
        })
        .env_remove("CI")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(File::create(&stdout).unwrap())
        .stderr(File::create(&stderr).unwrap());
    for (key, _) in std::env::vars() {
        if key.starts_with("RUNBOOK_") {
            command.env_remove(key);
        }
    }
    let started = Instant::now();
    let mut child = command.spawn().unwrap();
    let killed = match kill {
        Some(kill) => wait_and_kill(&mut child, kill, started, dir, server),
        None => false,
    };
    let status = wait_bounded(&mut child, started);
    if killed && let Some(Kill::MidRequest(path)) = kill {
        // The server holds the request for 300 ms: the kill landed while it was in flight.
        let (id, _) = actions.iter().find(|(_, p)| p == path).unwrap();
        let last = events(&dir.join("timeline.jsonl"));
        let last = last.iter().rev().find(|e| e["step"] == *id);
        assert_eq!(
            last.map(|e| e["event"].clone()),
            Some(Json::from("step_started")),
            "`{id}` was in flight when killed\n{log}"
        );
    }
    log.push_str(&format!(
        "--- run{} ({}) after {:?}: {status:?}\n{}{}",
        if resume { " --resume" } else { "" },
        match kill {
            Some(k) if killed => format!("killed at {k:?}"),
            Some(k) => format!("exited before {k:?}"),
            None => "to the end".into(),
        },
        started.elapsed(),
        std::fs::read_to_string(&stdout).unwrap_or_default(),
        std::fs::read_to_string(&stderr).unwrap_or_default(),
    ));
    if killed {
        Invocation::Killed
    } else {
        Invocation::Exited(status.code().unwrap_or(-1))
    }
}

/// Polls until the kill point and kills; false if the process ended first.
fn wait_and_kill(
    child: &mut Child,
    kill: &Kill,
    started: Instant,
    dir: &Path,
    server: &Server,
) -> bool {
    let timeline = dir.join("timeline.jsonl");
    let matching = || -> usize {
        match kill {
            Kill::After { event, step, .. } => events(&timeline)
                .iter()
                .filter(|e| e["event"] == *event && step.is_none_or(|s| e["step"] == s))
                .count(),
            Kill::MidRequest(path) => server.count(path),
            Kill::AfterEvents { .. } => events(&timeline).len(),
        }
    };
    // A resume's timeline already has the events of the runs before it.
    let before = matching();
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        let reached = match kill {
            Kill::AfterEvents { count, .. } => matching() >= *count,
            _ => matching() > before,
        };
        if reached {
            if let Kill::After { extra, .. } | Kill::AfterEvents { extra, .. } = kill {
                std::thread::sleep(*extra);
            }
            // SIGKILL: nothing in the process gets to clean up.
            let _ = child.kill();
            return true;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the kill point {kill:?} never came"
        );
        std::thread::sleep(Duration::from_micros(300));
    }
}

fn wait_bounded(child: &mut Child, started: Instant) -> std::process::ExitStatus {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("`runbook run` did not finish in 20 s");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The complete lines of the timeline that are JSON (the last line may be torn).
fn events(path: &Path) -> Vec<Json> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let complete = match bytes.iter().rposition(|b| *b == b'\n') {
        Some(end) => &bytes[..end],
        None => return Vec::new(),
    };
    complete
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice(line).ok())
        .collect()
}

/// The contract, checked on the final timeline and the server's log; returns the timeline.
fn check(timeline: &Path, server: &Server, actions: &[(&str, &str)], log: &str) -> Vec<Json> {
    let bytes = std::fs::read(timeline).unwrap();
    let parsed = runbook::timeline::reader::parse_bytes(&bytes);
    let text = String::from_utf8_lossy(&bytes);
    let context = format!("{log}--- timeline ---\n{text}");
    assert!(
        parsed.problems.is_empty(),
        "{:?}\n{context}",
        parsed.problems
    );
    assert!(!parsed.torn, "a resume leaves no torn line\n{context}");
    // Independently of the reader: every line is one JSON object.
    let lines: Vec<Json> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{context}")))
        .collect();
    assert_eq!(lines.len(), parsed.records.len(), "{context}");

    let last = lines.last().unwrap();
    assert_eq!(last["event"], "run_finished", "{context}");
    assert_eq!(last["outcome"], "completed", "{context}");
    assert_eq!(last["exit_code"], 0, "{context}");
    let seqs: Vec<u64> = lines.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seq must only grow: {seqs:?}\n{context}"
    );
    let run_id = &lines[0]["run_id"];
    assert!(
        lines.iter().all(|e| &e["run_id"] == run_id),
        "one run_id\n{context}"
    );

    for (id, path) in actions {
        let positions = |event: &str| -> Vec<usize> {
            lines
                .iter()
                .enumerate()
                .filter(|(_, e)| e["event"] == event && e["step"] == *id)
                .map(|(i, _)| i)
                .collect()
        };
        let starts = positions("step_started");
        let finishes = positions("step_finished");
        let sends = server.count(path);
        assert_eq!(finishes.len(), 1, "`{id}` finishes once\n{context}");
        assert_eq!(
            lines[finishes[0]]["outcome"], "passed",
            "`{id}` passed\n{context}"
        );
        assert!(
            starts.iter().all(|s| *s < finishes[0]),
            "`{id}` started again after it finished\n{context}"
        );
        // One request per start at most: every send but the finished one belongs to a start
        // that a kill cut short, and nothing is sent without being started first.
        assert!(
            (1..=starts.len()).contains(&sends),
            "`{id}` was sent {sends} times for {} starts\n{context}",
            starts.len()
        );
    }
    lines
}

/// xorshift64: enough randomness for kill points, reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}
