//! One run per timeline, and the life of the process: the run-lifetime lock, `--resume` of
//! what is not a resumable timeline, a timeline that cannot be written, and the processes a
//! `command` step leaves behind (they die with the step's timeout, an interrupt, and runbook
//! itself, SIGKILL included).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::*;

/// An action that takes a while, so a second run arrives while the first holds the timeline.
const SLOW_ACTION: &str = r#"
    name: slow-action
    title: An action that takes three seconds
    steps:
      - id: check
        title: A check
        wait: 1ms
      - id: act
        title: Restart the fleet
        action: true
        http: {url: "$SERVER/slow/3000", method: POST, timeout: 20s}
    "#;

/// `runbook ARGS` in `dir`, started now, as the test builder starts it (no CI, no colour, a
/// null stdin), for a second process beside one the builder runs.
fn spawn_in(dir: &Path, args: &[&str]) -> std::process::Child {
    clean_command(dir)
        .args(args)
        .spawn()
        .expect("the runbook binary starts")
}

/// A run of SLOW_ACTION without `--yes`: blocked at the action, nothing sent.
fn blocked_slow_action(server: &Server) -> Output {
    Test::new()
        .server(server)
        .runbook(SLOW_ACTION)
        .args(["run"])
        .run()
        .run_outcome("blocked", 4)
}

/// Two `--resume --yes` of one blocked timeline at the same moment: exactly one sends the
/// action; the other exits 2 naming the first, and writes nothing.
#[test]
fn two_resumes_of_one_timeline_send_the_action_once() {
    let server = Server::start();
    let out = blocked_slow_action(&server);
    assert_eq!(server.count("/slow/3000"), 0);
    let dir = out.path("");
    let args = ["run", RUNBOOK, "--resume", TIMELINE, "--yes"];
    let a = spawn_in(&dir, &args);
    let b = spawn_in(&dir, &args);
    let (a_pid, b_pid) = (a.id(), b.id());
    let a = a.wait_with_output().unwrap();
    let b = b.wait_with_output().unwrap();
    let text = |o: &std::process::Output| {
        format!(
            "exit {:?}\n{}{}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let context = format!("--- a ---\n{}--- b ---\n{}", text(&a), text(&b));
    let (winner_pid, loser) = match (a.status.code(), b.status.code()) {
        (Some(0), Some(2)) => (a_pid, &b),
        (Some(2), Some(0)) => (b_pid, &a),
        _ => panic!("one resume completes and the other exits 2\n{context}"),
    };
    let stderr = String::from_utf8_lossy(&loser.stderr);
    assert!(
        stderr.contains(&format!(
            "timeline is in use by another run (pid {winner_pid})"
        )),
        "{context}"
    );
    assert_eq!(server.count("/slow/3000"), 1, "{context}");
    let timeline = parse_timeline(&std::fs::read_to_string(out.path(TIMELINE)).unwrap());
    let resumed = timeline
        .iter()
        .filter(|e| e["event"] == "run_resumed")
        .count();
    assert_eq!(resumed, 1, "only the winner wrote\n{context}");
    let starts = timeline
        .iter()
        .filter(|e| e["event"] == "step_started" && e["step"] == "act")
        .count();
    assert_eq!(starts, 2, "the blocked run and the winner\n{context}");
    assert_eq!(timeline.last().unwrap()["event"], "run_finished");
    assert_eq!(timeline.last().unwrap()["outcome"], "completed");
    // The winner ended normally and removed its lock file.
    assert!(!out.path("timeline.jsonl.lock").exists(), "{context}");
}

/// While a run holds its timeline, `runbook note` and `runbook milestone` still append to it,
/// and the lock file says who holds it.
#[test]
fn notes_append_while_a_run_holds_the_timeline() {
    let running = Test::new()
        .runbook(
            r#"
            name: held
            title: A run that waits for a file
            steps:
              - id: soak
                title: Wait until told
                action: false
                command: {shell: "while [ ! -f go ]; do sleep 0.05; done", timeout: 20s}
            "#,
        )
        .args(["run"])
        .spawn();
    running.wait_for_event(|e| e["event"] == "step_started" && e["step"] == "soak");
    let lock = std::fs::read_to_string(running.path("timeline.jsonl.lock")).unwrap();
    let pid = lock.lines().next().unwrap_or_default().to_string();
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "the lock file names a live process: {lock}"
    );
    let dir = running.path("");
    let note = spawn_in(&dir, &["note", TIMELINE, "looking", "at", "it"])
        .wait_with_output()
        .unwrap();
    assert_eq!(note.status.code(), Some(0), "{note:?}");
    let milestone = spawn_in(&dir, &["milestone", TIMELINE, "mitigated"])
        .wait_with_output()
        .unwrap();
    assert_eq!(milestone.status.code(), Some(0), "{milestone:?}");
    std::fs::write(running.path("go"), "").unwrap();
    let out = running.wait().run_outcome("completed", 0);
    assert_eq!(out.events("note")[0]["text"], "looking at it");
    assert_eq!(out.events("milestone")[0]["milestone"], "mitigated");
    assert!(!out.path("timeline.jsonl.lock").exists());
}

/// A run killed with SIGKILL leaves its lock file, but not its lock: the kernel dropped it, so
/// the resume goes ahead at once.
#[test]
fn a_run_killed_outright_does_not_block_its_resume() {
    let running = Test::new()
        .runbook(
            r#"
            name: killed
            title: Killed mid-run
            steps:
              - id: soak
                title: Wait until told
                action: false
                command: {shell: "while [ ! -f go ]; do sleep 0.05; done", timeout: 20s}
              - id: after
                title: After
                wait: 1ms
            "#,
        )
        .args(["run"])
        .spawn();
    running.wait_for_event(|e| e["event"] == "step_started" && e["step"] == "soak");
    running.signal(libc::SIGKILL);
    let out = running.wait();
    assert_eq!(out.status.code(), None);
    assert!(out.path("timeline.jsonl.lock").exists(), "left behind");
    std::fs::write(out.path("go"), "").unwrap();
    let out = out
        .then()
        .args(["run", "--resume", TIMELINE])
        .run()
        .run_outcome("completed", 0);
    out.outcome("soak", "passed");
    out.outcome("after", "passed");
    assert!(!out.path("timeline.jsonl.lock").exists());
}

/// `--resume` of a file that is not a timeline exits 2 and leaves it exactly as it was: a
/// JSON config of one line (with and without its newline), an empty file, text, a timeline
/// with nothing but notes.
#[test]
fn resume_of_what_is_not_a_timeline_leaves_it_untouched() {
    let cases: [(&str, &[u8], &str); 6] = [
        ("config.json", br#"{"listen": "0.0.0.0:8080", "workers": 4}"#, "the timeline has no events"),
        ("config2.json", b"{\"listen\": \"0.0.0.0:8080\"}\n", "not a timeline event"),
        ("empty.jsonl", b"", "the timeline has no events"),
        ("notes.txt", b"restart the api\nthen the workers\n", "not a timeline event"),
        ("word.txt", b"hello", "the timeline has no events"),
        (
            "only-notes.jsonl",
            b"{\"seq\":1,\"ts\":\"t\",\"run_id\":\"r\",\"event\":\"note\",\"text\":\"a\",\"actor\":\"me\"}\n",
            "no run_started",
        ),
    ];
    let mut test = Test::new().runbook(
        r#"
        name: anything
        title: Any runbook
        steps:
          - id: act
            title: An action
            action: true
            command: {argv: [touch, acted.txt]}
        "#,
    );
    for (name, bytes, message) in cases {
        std::fs::write(test.path(name), bytes).unwrap();
        let out = test
            .args(["run", "--yes", "--resume", name])
            .run()
            .status(2)
            .stderr_has(message);
        assert_eq!(
            std::fs::read(out.path(name)).unwrap(),
            bytes,
            "{name} was changed\n{}",
            out.stderr
        );
        assert!(!out.path(&format!("{name}.lock")).exists(), "{name}");
        assert!(!out.path("acted.txt").exists(), "{name}: the run started");
        test = out.then();
    }
}

/// `--dry-run --resume` of a real run would record its half-done action as done without
/// sending it; it is refused, and so is the other way round.
#[test]
fn dry_run_and_real_runs_do_not_resume_each_other() {
    let server = Server::start();
    let out = blocked_slow_action(&server);
    let before = std::fs::read(out.path(TIMELINE)).unwrap();
    let out = out
        .then()
        .args(["run", "--dry-run", "--resume", TIMELINE])
        .run()
        .status(2)
        .stderr_has("records a real run, not a dry run: resume it without --dry-run");
    assert_eq!(std::fs::read(out.path(TIMELINE)).unwrap(), before);
    assert!(!out.path("timeline.jsonl.lock").exists());

    let out = out
        .then()
        .args(["run", "--dry-run", "--timeline", "dry.jsonl"])
        .run()
        .status(0);
    let dry = std::fs::read(out.path("dry.jsonl")).unwrap();
    // Resuming a completed dry run is refused before anything else: it is not a real run.
    let out = out
        .then()
        .args(["run", "--yes", "--resume", "dry.jsonl"])
        .run()
        .status(2)
        .stderr_has("records a dry run: resume it with --dry-run");
    assert_eq!(std::fs::read(out.path("dry.jsonl")).unwrap(), dry);
    assert_eq!(server.count("/slow/3000"), 0);
}

/// A timeline that stops taking writes (here a file-size limit, as `ulimit -f` sets; a full
/// disk fails the same way): the step that just ran is still shown, `finally` is attempted,
/// and the run exits 1 saying why.
#[test]
fn a_timeline_that_cannot_be_written_still_shows_the_step_and_runs_finally() {
    require("prlimit", "util-linux");
    let out = Test::new()
        .runbook(
            r#"
            name: full
            title: The disk fills up
            steps:
              - id: first
                title: A small step
                wait: 1ms
              - id: big
                title: A step with a lot of output
                action: false
                command: {shell: "head -c 20000 /dev/zero | tr '\\0' x"}
              - id: after
                title: Never reached
                action: false
                command: {argv: [touch, after.txt]}
            finally:
              - id: cleanup
                title: Clean up
                action: false
                command: {shell: "echo cleaned > cleanup.txt"}
            "#,
        )
        // 4 KiB: room for the first events, not for `big`'s output.
        .under(["prlimit", "--fsize=4096", "--"])
        .args(["run"])
        .run()
        .status(1)
        .stdout_line(&["PASSED", "big", "A step with a lot of output"])
        .stderr_has("cannot write the timeline timeline.jsonl: File too large")
        .stderr_has("run failed");
    assert_eq!(
        std::fs::read_to_string(out.path("cleanup.txt")).unwrap(),
        "cleaned\n",
        "finally ran\n{}",
        out.stderr
    );
    assert!(!out.path("after.txt").exists(), "no step after the failure");
    let bytes = std::fs::read(out.path(TIMELINE)).unwrap();
    assert!(bytes.len() <= 4096);
    let parsed = runbook::timeline::reader::parse_bytes(&bytes);
    assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
    let names: Vec<(&str, String)> = parsed
        .records
        .iter()
        .map(|r| {
            let json = serde_json::to_value(r).unwrap();
            (
                r.event.name(),
                json["step"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        names.contains(&("step_finished", "first".into())),
        "{names:?}"
    );
    assert!(
        !names.contains(&("step_finished", "big".into())),
        "{names:?}"
    );
}

/// The processes a command step starts, as pids in `dir/pids`, once all are written.
fn started_pids(dir: &Path, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = std::fs::read_to_string(dir.join("pids")).unwrap_or_default();
        let pids: Vec<String> = text
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        if pids.len() >= count && text.ends_with('\n') {
            return pids;
        }
        assert!(
            Instant::now() < deadline,
            "the command never wrote {count} pids: {text:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A command that leaves three processes behind, each trying to escape its process group:
/// a background child, a `setsid` one, and a `setsid` one whose parent exits at once (so it
/// is orphaned), each writing its pid to `pids`.
const ESCAPING: &str = r#"
    sleep 1000 & echo $! >> pids
    setsid sh -c 'echo $$ >> pids; exec sleep 1000' &
    setsid sh -c '(sh -c "echo \$\$ >> pids; exec sleep 1000" &) ; exit 0' &
    wait
"#;

fn escaping_runbook(timeout: &str) -> String {
    format!(
        r#"
        name: escaping
        title: A command whose children try to escape
        steps:
          - id: spawn
            title: Start children
            action: false
            command:
              timeout: {timeout}
              shell: |
{}
        finally:
          - id: cleanup
            title: Clean up
            action: false
            command: {{argv: [touch, cleanup.txt]}}
        "#,
        ESCAPING
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| format!("                {}", l.trim()))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// The step's timeout kills everything the command started, `setsid` or not.
#[test]
fn a_timeout_kills_the_commands_descendants_even_after_setsid() {
    let running = Test::new()
        .runbook(&escaping_runbook("2s"))
        .args(["run"])
        .spawn();
    let pids = started_pids(&running.path(""), 3);
    let out = running.wait().run_outcome("failed", 1);
    assert_eq!(out.finished("spawn")["data"]["timed_out"], true);
    for pid in &pids {
        assert_gone(pid, "a descendant after the step's timeout");
    }
}

/// A signal stops the step: its descendants die with it, `finally` runs.
fn interrupt_kills_the_descendants(signal: i32, exit: i32) {
    let running = Test::new()
        .runbook(&escaping_runbook("60s"))
        .args(["run"])
        .spawn();
    let pids = started_pids(&running.path(""), 3);
    running.signal(signal);
    let out = running.wait().run_outcome("interrupted", exit);
    out.outcome("spawn", "interrupted");
    out.outcome("cleanup", "passed");
    assert!(out.path("cleanup.txt").exists());
    for pid in &pids {
        assert_gone(pid, &format!("a descendant after signal {signal}"));
    }
}

#[test]
fn an_interrupt_kills_the_commands_descendants_even_after_setsid() {
    interrupt_kills_the_descendants(libc::SIGTERM, 130);
}

/// The terminal closed: the same as SIGTERM, with exit 129.
#[test]
fn a_hangup_kills_the_commands_descendants_even_after_setsid() {
    interrupt_kills_the_descendants(libc::SIGHUP, 129);
}

/// Even SIGKILL of runbook itself, which runs no code of ours, takes the descendants along.
#[test]
fn sigkill_of_runbook_kills_the_commands_descendants_even_after_setsid() {
    let running = Test::new()
        .runbook(&escaping_runbook("60s"))
        .args(["run"])
        .spawn();
    let pids = started_pids(&running.path(""), 3);
    running.signal(libc::SIGKILL);
    let out = running.wait();
    assert_eq!(out.status.code(), None);
    for pid in &pids {
        assert_gone(pid, "a descendant after SIGKILL of runbook");
    }
}

/// A command that ends while its background children run on leaves them running for the
/// steps after it (a port-forward), until runbook ends.
#[test]
fn background_children_live_until_runbook_ends() {
    let out = Test::new()
        .runbook(
            r#"
            name: background
            title: A background helper for the next step
            steps:
              - id: start
                title: Start a helper
                action: false
                command: {shell: "setsid sleep 1000 >/dev/null 2>&1 & echo $! > pids"}
              - id: use
                title: The helper still runs
                action: false
                command: {shell: "kill -0 $(cat pids)"}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
    let pid = std::fs::read_to_string(out.path("pids")).unwrap();
    assert_gone(pid.trim(), "the helper after runbook ended");
}

/// The parent of a process, from /proc.
fn parent_of(pid: &str) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let (_, rest) = stat.rsplit_once(')').unwrap();
    rest.split_whitespace().nth(1).unwrap().to_string()
}

/// After SIGKILL of runbook, its lock outlives it until the processes of the killed step are
/// gone: their supervisor holds it too (a resume must never start the step while the killed
/// one still runs). The hand-off itself takes the supervisor a few milliseconds, too short to
/// catch from outside; what is checked is that the supervisor holds the lock file open while
/// the step runs, and that everything is gone and resumable after the kill.
#[test]
fn the_supervisor_holds_the_timeline_while_the_step_runs() {
    let running = Test::new()
        .runbook(
            r#"
            name: handoff
            title: The lock passes only when the processes are gone
            steps:
              - id: work
                title: Long work
                action: false
                command: {shell: "[ -f go ] && exit 0; echo $$ >> pids; sleep 1000", timeout: 60s}
            "#,
        )
        .args(["run"])
        .spawn();
    let shell = started_pids(&running.path(""), 1).remove(0);
    let supervisor = parent_of(&shell);
    let cmdline = std::fs::read(format!("/proc/{supervisor}/cmdline")).unwrap();
    assert!(
        String::from_utf8_lossy(&cmdline).contains("__supervise"),
        "{}",
        String::from_utf8_lossy(&cmdline)
    );
    let lock = running.path("timeline.jsonl.lock").canonicalize().unwrap();
    let holds = std::fs::read_dir(format!("/proc/{supervisor}/fd"))
        .unwrap()
        .flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == lock));
    assert!(holds, "the supervisor does not hold {}", lock.display());
    // The command itself does not inherit it.
    let leaked = std::fs::read_dir(format!("/proc/{shell}/fd"))
        .unwrap()
        .flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == lock));
    assert!(!leaked, "the command inherited the lock");

    running.signal(libc::SIGKILL);
    let out = running.wait();
    assert_eq!(out.status.code(), None);
    assert_gone(&shell, "the killed step's shell");
    assert_gone(&supervisor, "its supervisor");
    std::fs::write(out.path("go"), "").unwrap();
    let out = out
        .then()
        .args(["run", "--resume", TIMELINE])
        .run()
        .run_outcome("completed", 0);
    out.outcome("work", "passed");
}
