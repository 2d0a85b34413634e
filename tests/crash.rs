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

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
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
    let seed = match std::env::var("RUNBOOK_CRASH_SEED") {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("RUNBOOK_CRASH_SEED={text:?} is not a number")),
        Err(_) => DEFAULT_SEED,
    };
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
                    if let Err(panic) = std::panic::catch_unwind(|| run_trial(&trial)) {
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
        "{} of 20 trials failed (RUNBOOK_CRASH_SEED={seed} replays them):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn run_trial(trial: &Trial) {
    let server = Server::start();
    for (_, path) in ACTIONS {
        if path.starts_with("/act/") {
            server.sequence(path, [200]);
        }
    }
    let dir = tempfile::Builder::new()
        .prefix("runbook-crash")
        .tempdir()
        .unwrap();
    let yaml = unindent(RUNBOOK).replace("$SERVER", &server.url());
    std::fs::write(dir.path().join("runbook.yaml"), yaml).unwrap();
    let timeline = dir.path().join("timeline.jsonl");
    let mut log = String::new();

    let mut resume = false;
    let mut finished = false;
    for attempt in 0..8 {
        let kill = trial.kills.get(attempt);
        let outcome = invoke(dir.path(), resume, kill, &server, &mut log);
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
        match outcome {
            Invocation::Killed => {
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
            for (id, path) in ACTIONS {
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
    check(&timeline, &server, &log);
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
        let (id, _) = ACTIONS.iter().find(|(_, p)| p == path).unwrap();
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

/// The contract, checked on the final timeline and the server's log.
fn check(timeline: &Path, server: &Server, log: &str) {
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

    for (id, path) in ACTIONS {
        let positions = |event: &str| -> Vec<usize> {
            lines
                .iter()
                .enumerate()
                .filter(|(_, e)| e["event"] == event && e["step"] == id)
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
