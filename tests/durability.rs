//! Durability proved from the system calls, not assumed.
//!
//! A SIGKILL keeps the page cache, so the crash tests (tests/crash.rs) would pass with every
//! `sync_data` removed. Here the real binary runs under `strace`, and the order of its calls
//! shows what would survive a power loss: a line is durable once an `fdatasync`/`fsync` of the
//! timeline that began after the line's `write` has returned. From that:
//!
//! - every event except a check's (`step_started`, `step_finished` of a step that is not an
//!   action) is durable before the engine writes the next event or touches the outside world,
//!   and a check's are durable with the next other event's sync at the latest, or the flusher's
//!   when the run waits (README, "Timeline");
//! - an action's `step_started` is durable before its `connect` (http) or `execve` (command),
//!   and its `step_finished` before the next step starts;
//! - cutting the timeline to what was durable at any moment of the run, as a power loss would,
//!   and resuming from it never repeats an action the timeline recorded as finished, never
//!   re-runs an interrupted one without `--yes`, and never leaves a request the timeline does
//!   not know was started.

mod trace;

use std::path::Path;

use serde_json::Value as Json;

use crate::support::*;
use trace::Call;

const RUNBOOK_YAML: &str = r#"
    name: durable
    title: Actions between checks
    steps:
      - id: check_before
        title: The node answers
        http: {url: "$SERVER/status/200", timeout: 5s}
      - id: drain
        title: Drain the node
        action: true
        http: {url: "$SERVER/act/drain", method: POST, json: {node: a}, timeout: 5s}
      - id: restart
        title: Restart the service
        action: true
        command: {argv: [sh, -c, "echo restart-marker >> restarts.txt"]}
      - id: check_after
        title: The node is back
        http: {url: "$SERVER/status/204", timeout: 5s}
      - id: undrain
        title: Put the node back
        action: true
        http: {url: "$SERVER/act/undrain", method: POST, json: {node: a}, timeout: 5s}
    finally:
      - id: notify
        title: Tell the channel
        action: true
        command: {argv: [sh, -c, "echo notify-marker >> notified.txt"]}
    "#;

/// What an action does that both the trace and the test can see.
#[derive(Clone, Copy, Debug)]
enum Effect {
    /// A request to this path of the test server (a `connect` in the trace).
    Request(&'static str),
    /// A command whose argv has this marker (an `execve`); it appends the marker to `file`.
    Exec {
        marker: &'static str,
        file: &'static str,
    },
}

const ACTIONS: [(&str, Effect); 4] = [
    ("drain", Effect::Request("/act/drain")),
    (
        "restart",
        Effect::Exec {
            marker: "restart-marker",
            file: "restarts.txt",
        },
    ),
    ("undrain", Effect::Request("/act/undrain")),
    (
        "notify",
        Effect::Exec {
            marker: "notify-marker",
            file: "notified.txt",
        },
    ),
];

fn server() -> Server {
    let server = Server::start();
    for (_, effect) in ACTIONS {
        if let Effect::Request(path) = effect {
            server.sequence(path, [200]);
        }
    }
    server
}

/// One event of the timeline and the `write` that put it there.
struct Line {
    event: Json,
    bytes: Vec<u8>,
    write: Call,
}

/// A completed run under strace: its events, the syncs of its timeline and what its steps did
/// outside, each with its place in the log.
struct Traced {
    out: Output,
    lines: Vec<Line>,
    syncs: Vec<Call>,
    /// `connect`s to the test server and `execve`s of the steps' commands.
    effects: Vec<Call>,
    /// The `fsync` of the directory the timeline was created in.
    dir_syncs: Vec<Call>,
}

impl Traced {
    fn run(server: &Server) -> Traced {
        Traced::run_yaml(server, RUNBOOK_YAML)
    }

    fn run_yaml(server: &Server, yaml: &str) -> Traced {
        require("strace", "strace");
        let out = Test::new()
            .server(server)
            .runbook(yaml)
            .under(trace::strace_args("trace.log"))
            .args(["run", "--yes"])
            .run()
            .run_outcome("completed", 0);
        let log = std::fs::read_to_string(out.path("trace.log")).unwrap_or_else(|e| {
            panic!("strace left no log ({e}); stderr:\n{}", out.stderr);
        });
        let calls = trace::parse(&log);
        let timeline = out.path(TIMELINE).canonicalize().unwrap();
        let timeline = timeline.to_str().unwrap();
        let dir = out.path(".").canonicalize().unwrap();
        let on = |call: &Call, path: &str| call.fd_path.as_deref() == Some(path);

        let writes: Vec<&Call> = calls
            .iter()
            .filter(|c| c.name == "write" && on(c, timeline))
            .collect();
        let file = std::fs::read(out.path(TIMELINE)).unwrap();
        let written: Vec<u8> = writes.iter().flat_map(|w| w.strings[0].clone()).collect();
        assert_eq!(
            String::from_utf8_lossy(&written),
            String::from_utf8_lossy(&file),
            "the traced writes are the whole timeline"
        );
        // One write per event, each a whole line: nothing can land between two halves.
        let lines: Vec<Line> = writes
            .iter()
            .map(|w| {
                let bytes = w.strings[0].clone();
                assert!(
                    bytes.ends_with(b"\n") && bytes.iter().filter(|b| **b == b'\n').count() == 1,
                    "a write that is not exactly one line: {:?}",
                    String::from_utf8_lossy(&bytes)
                );
                Line {
                    event: serde_json::from_slice(&bytes).unwrap(),
                    bytes,
                    write: (*w).clone(),
                }
            })
            .collect();
        assert_eq!(lines.len(), out.timeline().len());

        let syncs = calls
            .iter()
            .filter(|c| matches!(c.name.as_str(), "fdatasync" | "fsync") && on(c, timeline))
            .inspect(|c| assert!(c.succeeded(), "{c:?}"))
            .cloned()
            .collect();
        let dir_syncs = calls
            .iter()
            .filter(|c| c.name == "fsync" && on(c, dir.to_str().unwrap()))
            .cloned()
            .collect();
        let port = server.port();
        let mut effects: Vec<Call> = Vec::new();
        for call in &calls {
            let effect =
                match call.name.as_str() {
                    "connect" => call.port() == Some(port),
                    // The child tries each directory of PATH in turn: its first attempt is the
                    // earliest the command could start. The command's supervisor (`runbook
                    // __supervise ARGV`, src/exec/supervise.rs) carries its argv but runs
                    // nothing of it: it starts the command, whose own execve is the effect.
                    "execve" => ACTIONS.iter().any(
                        |(_, e)| matches!(e, Effect::Exec { marker, .. } if argv_has(call, marker)),
                    ) && !argv_has(call, "__supervise")
                        && !effects.iter().any(|e| e.pid == call.pid),
                    _ => false,
                };
            if effect {
                effects.push(call.clone());
            }
        }
        Traced {
            out,
            lines,
            syncs,
            effects,
            dir_syncs,
        }
    }

    fn index(&self, event: &str, step: &str) -> usize {
        let found: Vec<usize> = (0..self.lines.len())
            .filter(|i| {
                self.lines[*i].event["event"] == event && self.lines[*i].event["step"] == step
            })
            .collect();
        assert_eq!(found.len(), 1, "one {event} of `{step}`");
        found[0]
    }

    /// Where in the log line `i` became durable: the return of the first sync of the timeline
    /// that began after its write returned.
    fn durable_at(&self, i: usize) -> Option<usize> {
        let written = self.lines[i].write.done;
        self.syncs
            .iter()
            .find(|s| s.entry > written)
            .map(|s| s.done)
    }

    /// What the step of `start`..`finish` did outside: exactly one call, or the test is wrong
    /// about which call is the action's.
    fn effect_between(&self, start: usize, finish: usize) -> &Call {
        let (from, to) = (self.lines[start].write.done, self.lines[finish].write.entry);
        let inside: Vec<&Call> = self
            .effects
            .iter()
            .filter(|c| c.entry > from && c.entry < to)
            .collect();
        assert_eq!(
            inside.len(),
            1,
            "the step's one connect or execve: {inside:?}"
        );
        inside[0]
    }

    /// The durable length of the timeline at log line `at`: every byte written before the
    /// start of the last sync that returned before `at`.
    fn durable_len(&self, at: usize) -> usize {
        let Some(sync) = self.syncs.iter().rev().find(|s| s.done < at) else {
            return 0;
        };
        self.lines
            .iter()
            .filter(|l| l.write.done < sync.entry)
            .map(|l| l.bytes.len())
            .sum()
    }
}

fn argv_has(call: &Call, marker: &str) -> bool {
    call.strings
        .iter()
        .any(|s| String::from_utf8_lossy(s).contains(marker))
}

fn describe(t: &Traced) -> String {
    let mut text = String::new();
    for (i, l) in t.lines.iter().enumerate() {
        text.push_str(&format!(
            "{i}: {} {} written at log line {}, durable at {:?}\n",
            l.event["event"],
            l.event["step"],
            l.write.done,
            t.durable_at(i)
        ));
    }
    for c in &t.effects {
        text.push_str(&format!("{} at log line {}\n", c.name, c.entry));
    }
    text
}

#[test]
fn an_action_starts_on_disk_before_it_runs_and_ends_on_disk_before_the_next_step() {
    let server = server();
    let t = Traced::run(&server);
    let context = describe(&t);
    for (id, effect) in ACTIONS {
        let start = t.index("step_started", id);
        let finish = t.index("step_finished", id);
        assert_eq!(t.lines[start].event["action"], true, "{id}");
        let call = t.effect_between(start, finish);
        match effect {
            Effect::Request(_) => assert_eq!(call.name, "connect", "{id}"),
            Effect::Exec { marker, .. } => {
                assert_eq!(call.name, "execve", "{id}");
                assert!(argv_has(call, marker), "{id}: {call:?}");
            }
        }
        let started = t
            .durable_at(start)
            .unwrap_or_else(|| panic!("`{id}`'s step_started is never synced\n{context}"));
        assert!(
            started < call.entry,
            "`{id}` ran ({} at log line {}) before its step_started was on disk (line {started})\n{context}",
            call.name,
            call.entry
        );
        let finished = t
            .durable_at(finish)
            .unwrap_or_else(|| panic!("`{id}`'s step_finished is never synced\n{context}"));
        let next = &t.lines[finish + 1];
        assert!(
            finished < next.write.entry,
            "{} was written before `{id}`'s step_finished was on disk\n{context}",
            next.event["event"]
        );
    }
    // The server saw each action once, and each command ran once.
    assert_eq!(server.count("/act/drain"), 1);
    assert_eq!(server.count("/act/undrain"), 1);
    let restarts = std::fs::read_to_string(t.out.path("restarts.txt")).unwrap();
    assert_eq!(restarts, "restart-marker\n");
}

/// A check's event: group-committed instead of synced before the engine moves on.
fn is_check(event: &Json) -> bool {
    matches!(
        event["event"].as_str(),
        Some("step_started" | "step_finished")
    ) && event["action"] == false
        && event.get("decided_by").is_none()
}

#[test]
fn every_event_but_a_check_s_is_on_disk_before_the_engine_moves_on() {
    let server = server();
    let t = Traced::run(&server);
    let context = describe(&t);
    assert!(
        t.dir_syncs
            .first()
            .is_some_and(|d| d.done < t.lines[0].write.entry),
        "the directory holding the new timeline is synced before the first event\n{context}"
    );
    let mut grouped = 0;
    for (i, line) in t.lines.iter().enumerate() {
        let durable = t
            .durable_at(i)
            .unwrap_or_else(|| panic!("event {i} is never synced\n{context}"));
        if is_check(&line.event) {
            // Group-committed: durable with the next sync, at the latest the one of the next
            // event that is not a check's.
            grouped += 1;
            let next = (i + 1..t.lines.len())
                .find(|j| !is_check(&t.lines[*j].event))
                .and_then(|j| t.durable_at(j))
                .unwrap_or_else(|| panic!("no event after check event {i}\n{context}"));
            assert!(
                durable <= next,
                "check event {i} is durable after the next other event\n{context}"
            );
            continue;
        }
        // Moving on: writing the next event, or a step's request or command.
        let next_write = t.lines.get(i + 1).map(|l| l.write.entry);
        let next_effect = t
            .effects
            .iter()
            .map(|c| c.entry)
            .find(|e| *e > line.write.done);
        for next in [next_write, next_effect].into_iter().flatten() {
            assert!(
                durable < next,
                "event {i} ({}) was not on disk before log line {next}\n{context}",
                line.event["event"]
            );
        }
    }
    // Both checks' start and finish were group-committed: the test saw the exception the
    // README describes.
    assert_eq!(grouped, 4, "{context}");
}

/// A burst of checks followed by a long step: the burst's lines do not wait for the step to
/// end (the next line written), the flusher syncs them when their window ends.
#[test]
fn a_burst_of_checks_is_synced_by_the_flusher_while_the_run_waits() {
    let server = Server::start();
    let mut yaml = String::from("name: burst\ntitle: Checks, then a wait\nsteps:\n");
    for i in 1..=5 {
        yaml.push_str(&format!(
            "  - id: check_{i}\n    title: Check {i}\n    http: {{url: \"$SERVER/status/200\", timeout: 5s}}\n"
        ));
    }
    yaml.push_str("  - id: pause\n    title: Let it settle\n    wait: 1s\n");
    let t = Traced::run_yaml(&server, &yaml);
    let context = describe(&t);
    let pause_end = t.index("step_finished", "pause");
    let ended = t.lines[pause_end].write.entry;
    for i in 1..=5 {
        let id = format!("check_{i}");
        for event in ["step_started", "step_finished"] {
            let line = t.index(event, &id);
            let durable = t
                .durable_at(line)
                .unwrap_or_else(|| panic!("`{id}`'s {event} is never synced\n{context}"));
            assert!(
                durable < ended,
                "`{id}`'s {event} waited for the end of the 1 s wait to be synced\n{context}"
            );
        }
    }
    // Even the wait's own start: a second is fifty windows.
    let pause_start = t.index("step_started", "pause");
    assert!(
        t.durable_at(pause_start).is_some_and(|d| d < ended),
        "{context}"
    );
}

/// The durable prefix and which actions had reached the outside world, at one moment.
#[derive(Clone, Debug, PartialEq)]
struct Loss {
    durable: usize,
    sent: Vec<&'static str>,
}

#[test]
fn a_power_loss_at_any_moment_resumes_without_a_double_action() {
    let server = server();
    let t = Traced::run(&server);
    let context = describe(&t);
    let last = t.lines.len() - 1;
    let bytes: Vec<u8> = t.lines.iter().flat_map(|l| l.bytes.clone()).collect();
    let action_effects: Vec<(&'static str, Effect, usize)> = ACTIONS
        .iter()
        .map(|(id, effect)| {
            let call = t.effect_between(t.index("step_started", id), t.index("step_finished", id));
            (*id, *effect, call.entry)
        })
        .collect();
    // The moments that differ: just before each request or command leaves, and just after each
    // sync returns (up to, not including, the sync of run_finished: a finished run has
    // nothing to resume).
    let mut moments: Vec<usize> = t.effects.iter().map(|c| c.entry).collect();
    moments.extend(t.syncs.iter().map(|s| s.done + 1));
    moments.retain(|m| *m <= t.lines[last].write.entry);
    moments.sort();
    let mut losses: Vec<Loss> = Vec::new();
    for at in moments {
        let loss = Loss {
            durable: t.durable_len(at),
            sent: action_effects
                .iter()
                .filter(|(_, _, entry)| *entry < at)
                .map(|(id, _, _)| *id)
                .collect(),
        };
        if !losses.contains(&loss) {
            losses.push(loss);
        }
    }
    for loss in &losses {
        resume_after(&server, &bytes[..loss.durable], loss, &context);
    }
    eprintln!("resumed after {} distinct power losses", losses.len());
    // The moments covered every kind of loss, not just a lucky few: at least one per event
    // synced before the engine moved on (each sync is a distinct durable prefix), run_finished
    // aside; the checks' lines are group-committed and may share one.
    let synced_at_once = t
        .lines
        .iter()
        .filter(|l| !is_check(&l.event) && l.event["event"] != "run_finished")
        .count();
    assert_eq!(synced_at_once, 9, "{context}");
    assert!(losses.len() >= synced_at_once, "{losses:?}\n{context}");
    let in_flight_cases = losses
        .iter()
        .filter(|loss| {
            let prefix = &bytes[..loss.durable];
            ACTIONS
                .iter()
                .any(|(id, _)| has(prefix, "step_started", id) && !has(prefix, "step_finished", id))
        })
        .count();
    assert!(
        in_flight_cases >= ACTIONS.len(),
        "each action was caught in flight at some moment: {in_flight_cases}\n{losses:?}"
    );
}

/// Whether the timeline text has `event` for `step`.
fn has(prefix: &[u8], event: &str, step: &str) -> bool {
    String::from_utf8_lossy(prefix).lines().any(|l| {
        let e: Json = serde_json::from_str(l).unwrap();
        e["event"] == event && e["step"] == step
    })
}

/// Resumes a copy of the run from `prefix` and checks the contract against what the lost
/// run had already done (`loss.sent`).
fn resume_after(server: &Server, prefix: &[u8], loss: &Loss, context: &str) {
    let what = format!(
        "power lost with {} durable bytes after {:?}",
        loss.durable, loss.sent
    );
    for id in &loss.sent {
        assert!(
            has(prefix, "step_started", id),
            "{what}: `{id}` reached the outside world but its start was not on disk\n{context}"
        );
    }
    if prefix.is_empty() {
        // Nothing durable, nothing done: the operator starts again, as after any early crash.
        assert!(loss.sent.is_empty(), "{what}\n{context}");
        return;
    }
    let in_flight: Vec<&str> = ACTIONS
        .iter()
        .map(|(id, _)| *id)
        .filter(|id| has(prefix, "step_started", id) && !has(prefix, "step_finished", id))
        .collect();
    let sent_before = |path: &str| server.count(path);
    let counts: Vec<usize> = paths().map(sent_before).collect();
    let test = Test::new().server(server).runbook(RUNBOOK_YAML);
    std::fs::write(test.path(TIMELINE), prefix).unwrap();
    let test = if in_flight.is_empty() {
        test
    } else {
        // Without --yes an interrupted action is not sent again: the run is blocked there.
        let out = test
            .args(["run", "--resume", TIMELINE])
            .run()
            .run_outcome("blocked", 4);
        let counts_now: Vec<usize> = paths().map(sent_before).collect();
        assert_eq!(counts_now, counts, "{what}: sent without --yes");
        assert_eq!(
            exec_runs(&out, "restart") + exec_runs(&out, "notify"),
            0,
            "{what}: ran without --yes"
        );
        // The interrupted action is where the resume stopped (an action of `finally` is
        // blocked after it, as every action is without --yes).
        let prefix_lines = String::from_utf8_lossy(prefix).lines().count();
        let after: Vec<Json> = out.timeline().split_off(prefix_lines);
        let first = after
            .iter()
            .find(|e| e["event"] == "step_finished")
            .unwrap();
        assert_eq!(first["step"], in_flight[0], "{what}");
        assert_eq!(first["outcome"], "blocked", "{what}");
        out.then()
    };
    let out = test
        .args(["run", "--resume", TIMELINE, "--yes"])
        .run()
        .run_outcome("completed", 0);
    let timeline = out.timeline();
    let prefix_lines = String::from_utf8_lossy(prefix).lines().count();
    for (id, effect) in &ACTIONS {
        let resumed = match effect {
            Effect::Request(path) => server.count(path) - counts[paths_index(path)],
            Effect::Exec { .. } => exec_runs(&out, id),
        };
        let finished_before = has(prefix, "step_finished", id);
        let started_before = has(prefix, "step_started", id);
        let expected = usize::from(!finished_before);
        assert_eq!(
            resumed, expected,
            "{what}: `{id}` (finished before: {finished_before}, started before: \
             {started_before}) was sent {resumed} times by the resume\n{context}"
        );
        // Once passed, never started again; other ends are the blocked resume's.
        let of_step = |event: &str| -> Vec<usize> {
            (0..timeline.len())
                .filter(|i| timeline[*i]["event"] == event && timeline[*i]["step"] == *id)
                .collect()
        };
        let passed: Vec<usize> = of_step("step_finished")
            .into_iter()
            .filter(|i| timeline[*i]["outcome"] != "blocked")
            .collect();
        assert_eq!(passed.len(), 1, "{what}: `{id}` finishes once");
        assert_eq!(timeline[passed[0]]["outcome"], "passed", "{what}: `{id}`");
        let starts = of_step("step_started");
        assert!(
            starts.iter().all(|s| *s < passed[0]),
            "{what}: `{id}` started again after it finished"
        );
        // Every send has a start on disk: the lost run's and the resume's own.
        let starts = starts.len();
        let sends = usize::from(loss.sent.contains(id)) + resumed;
        assert!(
            sends <= starts,
            "{what}: `{id}` sent {sends} times for {starts} starts"
        );
    }
    // The resume appended to what survived, without rewriting it.
    assert_eq!(
        &out.timeline_text().as_bytes()[..prefix.len()],
        prefix,
        "{what}"
    );
    assert!(timeline.len() > prefix_lines);
}

fn paths() -> impl Iterator<Item = &'static str> {
    ACTIONS.iter().filter_map(|(_, e)| match e {
        Effect::Request(path) => Some(*path),
        Effect::Exec { .. } => None,
    })
}

fn paths_index(path: &str) -> usize {
    paths().position(|p| p == path).unwrap()
}

/// How many times the resumes ran a command action (each appends its marker to a file of the
/// fresh directory).
fn exec_runs(out: &Output, id: &str) -> usize {
    let (_, effect) = ACTIONS.iter().find(|(a, _)| *a == id).unwrap();
    let Effect::Exec { file, marker } = effect else {
        return 0;
    };
    let path = out.path(file);
    read_lines(&path)
        .iter()
        .inspect(|l| assert_eq!(l, marker))
        .count()
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}
