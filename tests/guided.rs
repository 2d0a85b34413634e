//! Guided mode in a real pseudo-terminal: the binary runs on a PTY (expectrl), the test reads
//! the screen, types answers when the program is reading, and sends Ctrl-C as the byte 0x03.
//! Each guided choice is checked against the server's request log and the timeline, and the
//! same runbooks run non-interactively give the outcomes the choices imply.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use expectrl::Expect as _;
use expectrl::process::Termios as _;
use expectrl::process::unix::{Signal, WaitStatus};
use expectrl::session::OsSession;
use serde_json::{Value as Json, json};

use crate::support::*;

mod jump;

/// How long the screen may take to show what a test waits for.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a run may take to end once nothing more is asked.
const EXIT_TIMEOUT: Duration = Duration::from_secs(15);
/// The user the guided runs act as; the actor is `USER@host`.
const USER: &str = "dana";

const ACTION_PROMPT: &str = "Run this action? [y]es / [s]kip / [n]ote / [a]bort";
const DONE_PROMPT: &str = "Done? [y]es / [s]kip / [n]ote / [a]bort";
const STEP_PROMPT: &str = "[c]ontinue / [s]kip / [j]ump to step / [a]bort";
const FAILURE_PROMPT: &str = "[r]etry / [s]kip and continue / [j]ump / [a]bort";
/// What every prompt offers besides its own keys (`[n]ote` is in the action and manual
/// questions themselves).
const AT_EVERY_PROMPT: &str = "[m]ilestone";
const TABLE_HEADER: &str = "#   STEP                     OUTCOME      DURATION";

// ---------------------------------------------------------------- the terminal

/// The binary running guided on a pseudo-terminal. Everything it printed is kept; `expect`
/// waits for text after what was already matched. The process is killed when dropped.
pub(crate) struct Pty {
    session: OsSession,
    dir: PathBuf,
    /// Every byte the program wrote to the terminal.
    pub(crate) raw: Vec<u8>,
    /// Offset in `screen()` up to which `expect` has matched.
    cursor: usize,
    started: Instant,
    exit: Option<i32>,
    eof: bool,
}

impl Pty {
    /// Starts `runbook ARGS` in `dir` on a fresh terminal with echo on, as a real one has
    /// (ptyprocess turns it off): so a secret read with echo would show on the screen.
    fn spawn(dir: &Path, args: &[&str]) -> Pty {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(r#"stty echo && exec "$0" "$@""#)
            .arg(env!("CARGO_BIN_EXE_runbook"))
            .args(args)
            .current_dir(dir);
        clean_env(&mut command);
        let session = OsSession::spawn(command).expect("the binary starts on a pty");
        Pty {
            session,
            dir: dir.to_path_buf(),
            raw: Vec::new(),
            cursor: 0,
            started: Instant::now(),
            exit: None,
            eof: false,
        }
    }

    /// A guided `run` of `runbook.yaml` writing `timeline.jsonl`, with extra flags.
    pub(crate) fn run(dir: &Path, extra: &[&str]) -> Pty {
        let mut args = vec!["run", RUNBOOK, "--timeline", TIMELINE];
        args.extend_from_slice(extra);
        Pty::spawn(dir, &args)
    }

    /// Reads whatever the program has written so far.
    fn pump(&mut self) {
        let mut buf = [0u8; 4096];
        while !self.eof {
            match self.session.try_read(&mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => self.raw.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // EIO once the program and everything it started closed the terminal.
                Err(_) => self.eof = true,
            }
        }
    }

    /// What the terminal showed, escape sequences and carriage returns removed.
    fn screen(&self) -> String {
        plain(&self.raw)
    }

    /// The tail of the screen and the timeline, for failure messages.
    fn context(&self) -> String {
        let screen = self.screen();
        let tail: String = {
            let chars: Vec<char> = screen.chars().collect();
            chars[chars.len().saturating_sub(4000)..].iter().collect()
        };
        let timeline = std::fs::read_to_string(self.dir.join(TIMELINE)).unwrap_or_default();
        format!(
            "--- screen (after {:?}) ---\n{tail}\n--- timeline.jsonl ---\n{timeline}",
            self.started.elapsed()
        )
    }

    /// Polls `done` (pumping the screen) until it holds, or fails after `timeout`.
    fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        mut done: impl FnMut(&mut Self) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        loop {
            self.pump();
            if done(self) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}\n{}",
                    self.context()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until `text` appears after what was matched before, and moves past it.
    fn expect(&mut self, text: &str) {
        let what = format!("{text:?} on the screen");
        self.wait_until(&what, TIMEOUT, |p| {
            let screen = p.screen();
            match screen[p.cursor..].find(text) {
                Some(at) => {
                    p.cursor += at + text.len();
                    true
                }
                None => false,
            }
        });
    }

    /// Waits until the program reads the terminal: console turns echo off for a single key
    /// (raw mode) and for a secret line, and per key of a typed line. Typing before that
    /// would be echoed by the terminal, or flushed away by a password prompt.
    fn wait_reading(&mut self) {
        self.wait_until("the program to read the terminal", TIMEOUT, |p| {
            !p.session.is_echo().unwrap_or(true)
        });
    }

    /// Presses one key (or writes the bytes) once the program reads.
    fn key(&mut self, key: &str) {
        self.wait_reading();
        self.session.send(key).expect("write to the pty");
    }

    /// Types a line and Enter (a terminal sends CR) once the program reads.
    fn line(&mut self, text: &str) {
        self.wait_reading();
        self.session
            .send(format!("{text}\r"))
            .expect("write to the pty");
    }

    /// Ctrl-C: the byte 0x03, which the terminal turns into SIGINT outside raw mode.
    fn ctrl_c(&mut self) {
        self.session.send([0x03u8]).expect("write to the pty");
    }

    /// Waits for the timeline to hold an event for which `pred` holds.
    fn wait_event(&mut self, what: &str, pred: impl Fn(&Json) -> bool) {
        let path = self.dir.join(TIMELINE);
        self.wait_until(what, TIMEOUT, |_| {
            std::fs::read_to_string(&path).is_ok_and(|text| {
                text.lines()
                    .filter_map(|l| serde_json::from_str::<Json>(l).ok())
                    .any(|e| pred(&e))
            })
        });
    }

    /// Checks (without waiting) whether the process ended, and records its exit code
    /// (128 + N when killed by signal N).
    fn poll_exit(&mut self) -> Option<i32> {
        if self.exit.is_none() {
            match self.session.get_process().status() {
                Ok(WaitStatus::Exited(_, code)) => self.exit = Some(code),
                Ok(WaitStatus::Signaled(_, signal, _)) => self.exit = Some(128 + signal as i32),
                _ => {}
            }
        }
        self.exit
    }

    /// Waits for the program to end, reading the screen meanwhile; returns its exit code.
    pub(crate) fn finish(&mut self) -> i32 {
        self.wait_until("the program to exit", EXIT_TIMEOUT, |p| {
            p.poll_exit().is_some()
        });
        // What it wrote just before exiting is still in the terminal's buffer.
        let deadline = Instant::now() + Duration::from_millis(500);
        while !self.eof && Instant::now() < deadline {
            self.pump();
            std::thread::sleep(Duration::from_millis(5));
        }
        self.exit.expect("exited")
    }

    /// Kills the program at once (SIGKILL), as a crash or a closed laptop would.
    fn kill(&mut self) {
        if self.poll_exit().is_none() {
            let _ = self.session.get_process_mut().kill(Signal::SIGKILL);
            let _ = self.session.get_process().wait();
            self.exit = Some(128 + Signal::SIGKILL as i32);
        }
    }

    /// Asserts the exit code, showing the screen otherwise.
    fn assert_exit(&mut self, code: i32) {
        let got = self.finish();
        assert_eq!(got, code, "exit code\n{}", self.context());
    }

    /// The timeline the run wrote (`timeline.jsonl`), every line JSON.
    fn timeline(&self) -> Vec<Json> {
        let text = std::fs::read_to_string(self.dir.join(TIMELINE))
            .unwrap_or_else(|e| panic!("no timeline: {e}\n{}", self.context()));
        parse_timeline(&text)
    }

    /// The OUTCOME column of the closing table for `step` (its last row).
    fn table_outcome(&self, step: &str) -> String {
        let screen = self.screen();
        let Some(at) = screen.rfind(TABLE_HEADER) else {
            panic!("no closing table\n{}", self.context());
        };
        screen[at..]
            .lines()
            .skip(1)
            .filter_map(|l| {
                let cells: Vec<&str> = l.split_whitespace().collect();
                (cells.get(1) == Some(&step)).then(|| cells.get(2).unwrap_or(&"").to_string())
            })
            .last()
            .unwrap_or_else(|| panic!("no row for `{step}` in the table\n{}", self.context()))
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The environment of a run the test controls: no CI, no `RUNBOOK_*` flags, no colour, a
/// known user.
fn clean_env(command: &mut Command) {
    command.env_remove("CI");
    for (key, _) in std::env::vars() {
        if key.starts_with("RUNBOOK_") {
            command.env_remove(key);
        }
    }
    command
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .env("USER", USER);
}

/// The directory a [`Test`] runs in.
pub(crate) fn dir_of(test: &Test) -> PathBuf {
    test.path("")
}

fn actor_is_user(value: &Json) -> bool {
    value
        .as_str()
        .is_some_and(|a| a.starts_with(&format!("{USER}@")))
}

fn events<'a>(timeline: &'a [Json], name: &str) -> Vec<&'a Json> {
    timeline.iter().filter(|e| e["event"] == name).collect()
}

/// Every `step_finished` as (step, outcome), in order.
fn outcomes(timeline: &[Json]) -> Vec<(String, String)> {
    events(timeline, "step_finished")
        .into_iter()
        .map(|e| {
            (
                e["step"].as_str().unwrap_or_default().to_string(),
                e["outcome"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The last `step_finished` of `step`.
fn finished<'a>(timeline: &'a [Json], step: &str) -> &'a Json {
    timeline
        .iter()
        .rev()
        .find(|e| e["event"] == "step_finished" && e["step"] == step)
        .unwrap_or_else(|| panic!("`{step}` never finished: {timeline:#?}"))
}

fn started(timeline: &[Json], step: &str) -> bool {
    timeline
        .iter()
        .any(|e| e["event"] == "step_started" && e["step"] == step)
}

/// One run: one run_id, seq 1, 2, 3... in file order, run_finished last.
fn assert_one_whole_run(timeline: &[Json]) {
    let run_id = &timeline[0]["run_id"];
    for (i, event) in timeline.iter().enumerate() {
        assert_eq!(event["seq"], json!(i + 1), "seq in file order: {event}");
        assert_eq!(&event["run_id"], run_id, "one run_id: {event}");
    }
    assert_eq!(timeline.last().unwrap()["event"], "run_finished");
    assert_eq!(events(timeline, "run_finished").len(), 1);
}

/// Waits until `path` exists with some content; returns it.
fn wait_for_file(pty: &mut Pty, path: &Path) -> String {
    let shown = path.display().to_string();
    pty.wait_until(&format!("{shown} to be written"), TIMEOUT, |_| {
        std::fs::read_to_string(path).is_ok_and(|t| t.ends_with('\n'))
    });
    std::fs::read_to_string(path).unwrap().trim().to_string()
}

fn process_alive(pid: &str) -> bool {
    Command::new("kill")
        .args(["-0", pid])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

// ---------------------------------------------------------------- actions

/// An action between two checks, and a `finally` step; each talks to its own path.
const REFRESH: &str = r#"
    name: refresh
    title: Refresh the load balancer
    description: Refreshes the LB config when it serves 502s.
    vars: {env: prod}
    steps:
      - id: check
        title: The LB answers
        http: {url: "$SERVER/status/200", timeout: 5s}
      - id: refresh
        title: Refresh the LB config
        http:
          url: "$SERVER/echo"
          method: POST
          json: {env: "{{ vars.env }}"}
          timeout: 5s
      - id: verify
        title: Verify recovery
        http: {url: "$SERVER/status/204", timeout: 5s}
    finally:
      - id: notify
        title: Notify the channel
        http: {url: "$SERVER/status/202", timeout: 5s}
    "#;

#[test]
fn action_yes_sends_the_request_once() {
    let server = Server::start();
    let test = Test::new().server(&server).runbook(REFRESH);
    let mut pty = Pty::run(&dir_of(&test), &[]);

    // The header: title, description, vars, timeline.
    pty.expect("Refresh the load balancer");
    pty.expect("Refreshes the LB config when it serves 502s.");
    pty.expect(r#"env = "prod""#);
    pty.expect("timeline: timeline.jsonl");
    // The step, numbered, with the resolved request, then the question.
    pty.expect("[2/3] Refresh the LB config");
    pty.expect(&format!("POST {}/echo", server.url()));
    pty.expect(ACTION_PROMPT);
    pty.expect(AT_EVERY_PROMPT);
    assert_eq!(server.count("/echo"), 0, "sent before the answer");

    // Enter is no answer: the question comes again.
    pty.key("\r");
    pty.expect(ACTION_PROMPT);
    assert_eq!(server.count("/echo"), 0, "Enter confirmed the action");

    pty.key("y");
    pty.expect(TABLE_HEADER);
    pty.expect("runbook: run completed (exit 0) — timeline timeline.jsonl");
    pty.assert_exit(0);

    let sent = server.requests_to("/echo");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].method, "POST");
    assert_eq!(
        serde_json::from_str::<Json>(&sent[0].body).unwrap(),
        json!({"env": "prod"})
    );
    assert_eq!(server.count("/status/204"), 1);
    let timeline = pty.timeline();
    assert_eq!(events(&timeline, "run_started")[0]["mode"], "guided");
    let refresh = finished(&timeline, "refresh");
    assert_eq!(refresh["outcome"], "passed", "{refresh}");
    assert!(actor_is_user(&refresh["decided_by"]), "{refresh}");
    assert_eq!(events(&timeline, "run_finished")[0]["outcome"], "completed");
    assert_eq!(pty.table_outcome("refresh"), "PASSED");
    assert_eq!(pty.table_outcome("notify"), "PASSED");

    // Unattended, `--yes` is what says yes: the same outcome, confirmed by `--yes`.
    let out = Test::new()
        .server(&server)
        .runbook(REFRESH)
        .args(["run", "--yes"])
        .run()
        .run_outcome("completed", 0);
    assert_eq!(server.count("/echo"), 2);
    assert_eq!(out.finished("refresh")["decided_by"], "--yes");
}

#[test]
fn action_skip_sends_nothing_and_records_who_skipped() {
    let server = Server::start();
    let test = Test::new().server(&server).runbook(REFRESH);
    let mut pty = Pty::run(&dir_of(&test), &[]);
    pty.expect(ACTION_PROMPT);
    pty.key("s");
    pty.expect("[3/3] Verify recovery");
    pty.expect(TABLE_HEADER);
    pty.assert_exit(0);

    assert_eq!(server.count("/echo"), 0, "a skipped action was sent");
    assert_eq!(server.count("/status/204"), 1, "the run went on");
    let timeline = pty.timeline();
    let refresh = finished(&timeline, "refresh");
    assert_eq!(refresh["outcome"], "skipped", "{refresh}");
    assert!(actor_is_user(&refresh["decided_by"]), "{refresh}");
    assert_eq!(
        outcomes(&timeline),
        [
            ("check".into(), "passed".into()),
            ("refresh".into(), "skipped".into()),
            ("verify".into(), "passed".into()),
            ("notify".into(), "passed".into()),
        ]
    );
    assert_eq!(events(&timeline, "run_finished")[0]["outcome"], "completed");
    assert_eq!(pty.table_outcome("refresh"), "SKIPPED");
    assert!(pty.screen().contains(&format!("skipped by {USER}@")));
}

#[test]
fn action_abort_exits_3_sends_nothing_and_runs_finally() {
    let server = Server::start();
    let test = Test::new().server(&server).runbook(REFRESH);
    let mut pty = Pty::run(&dir_of(&test), &[]);
    pty.expect(ACTION_PROMPT);
    pty.key("a");
    pty.expect("abort the run? [y/N] ");
    pty.line("y");
    pty.expect("Notify the channel");
    pty.expect(TABLE_HEADER);
    pty.expect("error: run aborted");
    pty.expect("(exit 3) — timeline timeline.jsonl");
    pty.assert_exit(3);

    assert_eq!(server.count("/echo"), 0, "an aborted action was sent");
    assert_eq!(
        server.count("/status/204"),
        0,
        "the run went on after abort"
    );
    assert_eq!(
        server.count("/status/202"),
        1,
        "finally runs after an abort"
    );
    let timeline = pty.timeline();
    assert_one_whole_run(&timeline);
    let end = timeline.last().unwrap();
    assert_eq!(end["outcome"], "aborted", "{end}");
    assert_eq!(end["exit_code"], 3, "{end}");
    assert!(!started(&timeline, "verify"));
    assert_eq!(finished(&timeline, "notify")["outcome"], "passed");

    // Unattended without --yes nobody can confirm: blocked (exit 4), nothing sent, finally
    // still runs.
    let out = Test::new()
        .server(&server)
        .runbook(REFRESH)
        .args(["run"])
        .run()
        .run_outcome("blocked", 4);
    assert_eq!(server.count("/echo"), 0);
    assert_eq!(server.count("/status/202"), 2);
    out.outcome("refresh", "blocked");
    out.not_started("verify");
    // With --yes the action runs.
    Test::new()
        .server(&server)
        .runbook(REFRESH)
        .args(["run", "--yes"])
        .run()
        .run_outcome("completed", 0);
    assert_eq!(server.count("/echo"), 1);
}

// ---------------------------------------------------------------- notes and milestones

#[test]
fn notes_and_milestones_typed_at_a_prompt_are_recorded_with_the_actor() {
    let server = Server::start();
    let test = Test::new().server(&server).runbook(REFRESH);
    let mut pty = Pty::run(&dir_of(&test), &[]);
    pty.expect(ACTION_PROMPT);

    pty.key("n");
    pty.expect("note: ");
    pty.line("rolled back the canary first");
    pty.expect("noted.");
    pty.expect(ACTION_PROMPT);

    pty.key("m");
    pty.expect("milestone (detected, mitigated, resolved, or a word): ");
    pty.line("Mitigated");
    pty.expect("milestone MITIGATED recorded.");
    pty.expect(ACTION_PROMPT);

    // Free text works too.
    pty.key("m");
    pty.expect("milestone (");
    pty.line("escalated");
    pty.expect("milestone ESCALATED recorded.");
    pty.expect(ACTION_PROMPT);
    assert_eq!(server.count("/echo"), 0, "a note answered the question");

    pty.key("y");
    pty.expect(TABLE_HEADER);
    pty.expect("milestones: MITIGATED ");
    pty.expect("ESCALATED");
    pty.assert_exit(0);

    assert_eq!(server.count("/echo"), 1);
    let timeline = pty.timeline();
    assert_one_whole_run(&timeline);
    let notes = events(&timeline, "note");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["text"], "rolled back the canary first");
    assert!(actor_is_user(&notes[0]["actor"]), "{}", notes[0]);
    assert_eq!(notes[0]["step"], "refresh");
    let milestones: Vec<_> = events(&timeline, "milestone")
        .into_iter()
        .map(|e| {
            assert!(actor_is_user(&e["actor"]), "{e}");
            (e["milestone"].clone(), e["step"].clone())
        })
        .collect();
    assert_eq!(
        milestones,
        [
            (json!("mitigated"), json!("refresh")),
            (json!("escalated"), json!("refresh")),
        ]
    );
    // Recorded when typed: before the action's result.
    let at = |pred: &dyn Fn(&Json) -> bool| timeline.iter().position(pred).unwrap();
    assert!(
        at(&|e| e["event"] == "note")
            < at(&|e| e["event"] == "step_finished" && e["step"] == "refresh")
    );
}

// ---------------------------------------------------------------- manual steps and secrets

const ESCALATE: &str = r#"
    name: escalate
    title: Escalate to the provider
    steps:
      - id: escalate
        title: Open a ticket with the provider
        manual: Open a P1 ticket with the provider and paste its number and the API token.
        ask:
          - {name: ticket, prompt: Ticket number}
          - {name: token, prompt: Provider API token, secret: true}
      - id: use
        title: Use the token
        action: false
        command: {argv: [echo, "ticket {{ steps.escalate.ticket }} token {{ steps.escalate.token }}"]}
    "#;

const TOKEN: &str = "pv-7Qz9-hunter2-XkL";

#[test]
fn secret_answer_never_reaches_the_screen_or_the_timeline() {
    let test = Test::new().runbook(ESCALATE);
    let mut pty = Pty::run(&dir_of(&test), &[]);
    pty.expect("Open a P1 ticket with the provider");
    pty.expect("Ticket number: ");
    pty.line("INC-4242");
    pty.expect("Provider API token: ");
    pty.line(TOKEN);
    pty.expect(DONE_PROMPT);
    pty.key("y");
    pty.expect("[2/2] Use the token");
    pty.expect(TABLE_HEADER);
    pty.assert_exit(0);

    let screen = pty.screen();
    let raw = String::from_utf8_lossy(&pty.raw).into_owned();
    assert!(
        screen.contains("INC-4242"),
        "the typed ticket is not shown\n{}",
        pty.context()
    );
    for shown in [&screen, &raw] {
        assert!(
            !shown.contains(TOKEN),
            "the secret is on the screen\n{}",
            pty.context()
        );
        assert!(
            !shown.contains("hunter2"),
            "part of the secret is on the screen\n{}",
            pty.context()
        );
    }
    let text = std::fs::read_to_string(dir_of(&test).join(TIMELINE)).unwrap();
    assert!(!text.contains(TOKEN) && !text.contains("hunter2"), "{text}");
    assert!(text.contains("INC-4242"), "{text}");
    let timeline = parse_timeline(&text);
    let escalate = finished(&timeline, "escalate");
    assert_eq!(escalate["outcome"], "passed", "{escalate}");
    assert_eq!(escalate["data"]["ticket"], "INC-4242");
    assert!(actor_is_user(&escalate["decided_by"]), "{escalate}");
    // The step that used it ran with the real value; what was recorded is masked.
    let used = finished(&timeline, "use");
    assert_eq!(used["outcome"], "passed", "{used}");
    assert_eq!(used["data"]["stdout"], "ticket INC-4242 token ***\n");

    // Unattended the answers come from a file: same outcome, same masking.
    let out = Test::new()
        .runbook(ESCALATE)
        .write(
            "answers.yaml",
            &format!("escalate: {{ticket: INC-4242, token: {TOKEN}}}\n"),
        )
        .args(["run", "--answers", "answers.yaml"])
        .run()
        .run_outcome("completed", 0)
        .no_secret_anywhere(TOKEN);
    out.outcome("use", "passed");
    // Without answers nobody answers: blocked.
    Test::new()
        .runbook(ESCALATE)
        .args(["run"])
        .run()
        .run_outcome("blocked", 4);
}

/// A secret answer shorter than 4 characters would be masked inside every word: the prompt
/// says so and asks again; the real answer is then used and masked.
#[test]
fn a_secret_answer_too_short_is_asked_again() {
    let test = Test::new().runbook(ESCALATE);
    let mut pty = Pty::run(&dir_of(&test), &[]);
    pty.expect("Ticket number: ");
    pty.line("INC-4242");
    pty.expect("Provider API token: ");
    pty.line("k9");
    pty.expect("a secret needs at least 4 characters; try again");
    pty.expect("Provider API token: ");
    pty.line(TOKEN);
    pty.expect(DONE_PROMPT);
    pty.key("y");
    pty.expect(TABLE_HEADER);
    pty.assert_exit(0);
    let text = std::fs::read_to_string(dir_of(&test).join(TIMELINE)).unwrap();
    let timeline = parse_timeline(&text);
    assert_eq!(
        finished(&timeline, "use")["data"]["stdout"],
        "ticket INC-4242 token ***\n"
    );
    assert!(!text.contains(TOKEN), "{text}");
}

// ---------------------------------------------------------------- --step

const FIVE_STEPS: &str = r#"
    name: paranoid
    title: Step by step
    steps:
      - {id: one, title: First, action: false, command: {argv: [touch, one.ran]}}
      - {id: two, title: Second, action: false, command: {argv: [touch, two.ran]}}
      - {id: three, title: Third, action: false, command: {argv: [touch, three.ran]}}
      - {id: four, title: Fourth, action: false, command: {argv: [touch, four.ran]}}
      - {id: five, title: Fifth, action: false, command: {argv: [touch, five.ran]}}
    finally:
      - {id: cleanup, title: Cleanup, action: false, command: {argv: [touch, cleanup.ran]}}
    "#;

#[test]
fn step_mode_asks_before_every_step_and_jumps_by_number_and_by_id() {
    let test = Test::new().runbook(FIVE_STEPS);
    let dir = dir_of(&test);
    let mut pty = Pty::run(&dir, &["--step"]);

    pty.expect("[1/5] First");
    pty.expect(STEP_PROMPT);
    // A target that is no step: said, and the question again.
    pty.key("j");
    pty.expect("4. four  Fourth");
    pty.expect("jump to step (number or id): ");
    pty.line("nine");
    pty.expect("no step `nine`; steps are 1-5");
    pty.expect("jump to step (number or id): ");
    // Nothing: stay.
    pty.line("");
    pty.expect(STEP_PROMPT);
    // By number.
    pty.key("j");
    pty.expect("jump to step (number or id): ");
    pty.line("4");
    pty.expect("[4/5] Fourth");
    pty.expect(STEP_PROMPT);
    pty.key("s");
    pty.expect("[5/5] Fifth");
    pty.expect(STEP_PROMPT);
    // By id, backwards.
    pty.key("j");
    pty.expect("jump to step (number or id): ");
    pty.line("two");
    pty.expect("[2/5] Second");
    pty.expect(STEP_PROMPT);
    pty.key("c");
    pty.expect("[3/5] Third");
    pty.expect(STEP_PROMPT);
    pty.key("n");
    pty.expect("note: ");
    pty.line("third looks fine");
    pty.expect(STEP_PROMPT);
    pty.key("c");
    pty.expect("[4/5] Fourth");
    pty.expect(STEP_PROMPT);
    pty.key("c");
    pty.expect("[5/5] Fifth");
    pty.expect(STEP_PROMPT);
    pty.key("c");
    // `finally` is not offered for skipping.
    pty.expect("[1/1] (finally) Cleanup");
    pty.expect(TABLE_HEADER);
    pty.assert_exit(0);
    let screen = pty.screen();
    let after_finally = &screen[screen.rfind("(finally) Cleanup").unwrap()..];
    assert!(
        !after_finally.contains(STEP_PROMPT),
        "--step asked before a finally step\n{}",
        pty.context()
    );

    let timeline = pty.timeline();
    assert_one_whole_run(&timeline);
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(s, o)| (s.to_string(), o.to_string()))
            .collect()
    };
    assert_eq!(
        outcomes(&timeline),
        pairs(&[
            ("one", "skipped"),
            ("four", "skipped"),
            ("five", "skipped"),
            ("two", "passed"),
            ("three", "passed"),
            ("four", "passed"),
            ("five", "passed"),
            ("cleanup", "passed"),
        ])
    );
    let skipped_four = events(&timeline, "step_finished")
        .into_iter()
        .find(|e| e["step"] == "four")
        .unwrap();
    assert!(actor_is_user(&skipped_four["decided_by"]), "{skipped_four}");
    let note = events(&timeline, "note");
    assert_eq!(note.len(), 1, "{note:?}");
    assert_eq!(note[0]["text"], "third looks fine");
    assert_eq!(note[0]["step"], "three");
    assert!(!dir.join("one.ran").exists(), "a step jumped over ran");
    for ran in ["two", "three", "four", "five", "cleanup"] {
        assert!(dir.join(format!("{ran}.ran")).exists(), "{ran} did not run");
    }
}

// ---------------------------------------------------------------- retry after a failure

const HEALTH: &str = r#"
    name: health
    title: Retry after a failed check
    steps:
      - id: health
        title: Backend healthy
        http: {url: "$SERVER/health", timeout: 5s}
      - id: after
        title: After the check
        wait: 1ms
    "#;

#[test]
fn retry_after_a_failed_check_runs_it_again() {
    let server = Server::start();
    server.sequence("/health", [503, 200]);
    let test = Test::new().server(&server).runbook(HEALTH);
    let mut pty = Pty::run(&dir_of(&test), &[]);
    pty.expect("[1/2] Backend healthy");
    pty.expect("FAILED");
    pty.expect("503");
    pty.expect(FAILURE_PROMPT);
    assert_eq!(server.count("/health"), 1);
    // A note at this prompt as well.
    pty.key("n");
    pty.expect("note: ");
    pty.line("deploy finished, trying again");
    pty.expect(FAILURE_PROMPT);
    pty.key("r");
    pty.expect("[1/2] Backend healthy");
    pty.expect("PASSED");
    pty.expect("[2/2] After the check");
    pty.expect(TABLE_HEADER);
    pty.assert_exit(0);

    assert_eq!(server.count("/health"), 2);
    let timeline = pty.timeline();
    assert_one_whole_run(&timeline);
    let entries: Vec<_> = events(&timeline, "step_started")
        .into_iter()
        .filter(|e| e["step"] == "health")
        .map(|e| e["entry"].clone())
        .collect();
    assert_eq!(entries, [json!(1), json!(2)]);
    assert_eq!(
        outcomes(&timeline),
        [
            ("health".into(), "failed".into()),
            ("health".into(), "passed".into()),
            ("after".into(), "passed".into()),
        ]
    );
    assert_eq!(finished(&timeline, "health")["data"]["status"], 200);
    assert_eq!(
        events(&timeline, "note")[0]["text"],
        "deploy finished, trying again"
    );
    assert_eq!(timeline.last().unwrap()["outcome"], "completed");

    // Unattended, on_fail: stop stops: failed, exit 1.
    server.sequence("/health", [503, 200]);
    let out = Test::new()
        .server(&server)
        .runbook(HEALTH)
        .args(["run"])
        .run()
        .run_outcome("failed", 1);
    out.outcome("health", "failed");
    out.not_started("after");
    assert_eq!(server.count("/health"), 3);
}

// ---------------------------------------------------------------- Ctrl-C

const SOAK: &str = r#"
    name: soak
    title: Soak test
    steps:
      - id: soak
        title: Soak under load
        action: false
        command: {shell: "echo started; echo $$ > soak.pid; exec sleep 30"}
      - id: after
        title: After the soak
        wait: 1ms
    finally:
      - {id: cleanup, title: Cleanup, action: false, command: {argv: [touch, cleanup.ran]}}
    "#;

#[test]
fn ctrl_c_interrupts_the_running_step_then_skip_continues() {
    let test = Test::new().runbook(SOAK);
    let dir = dir_of(&test);
    let mut pty = Pty::run(&dir, &[]);
    pty.expect("[1/2] Soak under load");
    let pid = wait_for_file(&mut pty, &dir.join("soak.pid"));
    pty.ctrl_c();
    pty.expect("INTERRUPTED");
    pty.expect("soak interrupted (Ctrl-C again ends the run)");
    pty.expect(FAILURE_PROMPT);
    pty.key("s");
    pty.expect("[2/2] After the soak");
    pty.expect(TABLE_HEADER);
    pty.assert_exit(0);
    assert!(
        pty.started.elapsed() < Duration::from_secs(20),
        "the sleep was not cut short"
    );

    let timeline = pty.timeline();
    assert_one_whole_run(&timeline);
    assert_eq!(
        outcomes(&timeline),
        [
            ("soak".into(), "interrupted".into()),
            ("after".into(), "passed".into()),
            ("cleanup".into(), "passed".into()),
        ]
    );
    assert_eq!(timeline.last().unwrap()["outcome"], "completed");
    assert_eq!(pty.table_outcome("soak"), "INTERRUPTED");
    // The step's command was stopped, not left running.
    pty.wait_until("the interrupted command to be gone", TIMEOUT, |_| {
        !process_alive(&pid)
    });
}

#[test]
fn ctrl_c_keeps_the_partial_output_of_the_interrupted_step() {
    let test = Test::new().runbook(SOAK);
    let dir = dir_of(&test);
    let mut pty = Pty::run(&dir, &[]);
    wait_for_file(&mut pty, &dir.join("soak.pid"));
    // `started` was written before the pid file; give the runbook a moment to read it.
    std::thread::sleep(Duration::from_millis(300));
    pty.ctrl_c();
    pty.expect(FAILURE_PROMPT);
    pty.key("s");
    pty.assert_exit(0);
    let timeline = pty.timeline();
    let soak = finished(&timeline, "soak");
    assert_eq!(soak["outcome"], "interrupted");
    assert_eq!(soak["data"]["stdout"], "started\n", "{soak}");
}

const LONG_WAIT: &str = r#"
    name: long-wait
    title: A long wait
    steps:
      - {id: first, title: First, wait: 1ms}
      - {id: settle, title: Let the LB settle, wait: 30s}
      - {id: after, title: After, wait: 1ms}
    finally:
      - {id: cleanup, title: Cleanup, action: false, command: {argv: [touch, cleanup.ran]}}
    "#;

#[test]
fn double_ctrl_c_ends_the_run_with_130_after_finally() {
    let test = Test::new().runbook(LONG_WAIT);
    let dir = dir_of(&test);
    let mut pty = Pty::run(&dir, &[]);
    pty.expect("[2/3] Let the LB settle");
    pty.wait_event("`settle` to start", |e| {
        e["event"] == "step_started" && e["step"] == "settle"
    });
    pty.ctrl_c();
    pty.expect("settle interrupted (Ctrl-C again ends the run)");
    // The second Ctrl-C comes at once, well within 2 s.
    pty.ctrl_c();
    pty.expect("(finally) Cleanup");
    pty.expect(TABLE_HEADER);
    pty.expect("error: run interrupted");
    // 80 columns wrap the closing line at a space, under its text.
    pty.expect("(exit 130) — timeline\n       timeline.jsonl");
    pty.assert_exit(130);
    assert!(pty.started.elapsed() < Duration::from_secs(20));

    let timeline = pty.timeline();
    assert_one_whole_run(&timeline);
    let end = timeline.last().unwrap();
    assert_eq!(end["outcome"], "interrupted", "{end}");
    assert_eq!(end["exit_code"], 130, "{end}");
    assert_eq!(finished(&timeline, "settle")["outcome"], "interrupted");
    assert!(!started(&timeline, "after"));
    assert_eq!(finished(&timeline, "cleanup")["outcome"], "passed");
    assert!(dir.join("cleanup.ran").exists(), "finally did not run");
}

#[test]
fn ctrl_c_at_the_failure_prompt_ends_the_run() {
    let test = Test::new().runbook(LONG_WAIT);
    let dir = dir_of(&test);
    let mut pty = Pty::run(&dir, &[]);
    pty.wait_event("`settle` to start", |e| {
        e["event"] == "step_started" && e["step"] == "settle"
    });
    pty.ctrl_c();
    pty.expect(FAILURE_PROMPT);
    // Long after the first one: Ctrl-C as a key of the raw-mode prompt still ends the run.
    std::thread::sleep(Duration::from_millis(2200));
    pty.key("\x03");
    pty.expect("(finally) Cleanup");
    pty.assert_exit(130);
    let timeline = pty.timeline();
    assert_one_whole_run(&timeline);
    assert_eq!(timeline.last().unwrap()["outcome"], "interrupted");
    assert!(!started(&timeline, "after"));
    assert!(dir.join("cleanup.ran").exists(), "finally did not run");
}

/// SIGHUP (the terminal closed, the ssh session dropped) ends a guided run without asking:
/// nobody is left to answer. The step is interrupted, `finally` runs, the run exits 129. The
/// terminal here is still alive, so a prompt would wait for a key and the run never end.
#[test]
fn sighup_ends_a_guided_run_without_asking_after_finally() {
    let test = Test::new().runbook(LONG_WAIT);
    let dir = dir_of(&test);
    let mut pty = Pty::run(&dir, &[]);
    pty.wait_event("`settle` to start", |e| {
        e["event"] == "step_started" && e["step"] == "settle"
    });
    pty.session
        .get_process_mut()
        .kill(Signal::SIGHUP)
        .expect("SIGHUP is sent");
    pty.assert_exit(129);
    let timeline = pty.timeline();
    assert_one_whole_run(&timeline);
    let end = timeline.last().unwrap();
    assert_eq!(
        (&end["outcome"], &end["exit_code"]),
        (&json!("interrupted"), &json!(129)),
        "{end}"
    );
    assert_eq!(finished(&timeline, "settle")["outcome"], "interrupted");
    assert!(!started(&timeline, "after"));
    assert_eq!(finished(&timeline, "cleanup")["outcome"], "passed");
    assert!(dir.join("cleanup.ran").exists(), "finally did not run");
}

// ---------------------------------------------------------------- resume offer

const RESUMABLE: &str = r#"
    name: resumable
    title: A run cut short
    steps:
      - {id: prepare, title: Prepare, action: false, command: {argv: [touch, prepared]}}
      - id: slow
        title: Slow step
        action: false
        command: {shell: "[ -f go ] && exit 0; echo $$ > slow.pid; exec sleep 30"}
      - {id: last, title: Last, wait: 1ms}
    finally:
      - {id: notify, title: Notify, action: false, command: {argv: [touch, notified]}}
    "#;

/// The timelines in `timelines/` (a run killed outright also leaves its `.jsonl.lock` there).
fn timelines(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("timelines"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn an_unfinished_run_is_offered_for_resuming() {
    let test = Test::new().runbook(RESUMABLE);
    let dir = dir_of(&test);

    // A first guided run, with the default timeline, killed in the middle of `slow`.
    let mut first = Pty::spawn(&dir, &["run", RUNBOOK]);
    first.expect("[2/3] Slow step");
    let pid = wait_for_file(&mut first, &dir.join("slow.pid"));
    first.kill();
    drop(first);
    let _ = Command::new("kill").arg(&pid).status();
    let files = timelines(&dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let path = &files[0];
    let rel = path.strip_prefix(&dir).unwrap().display().to_string();
    assert!(rel.starts_with("timelines/resumable-"), "{rel}");
    let before = parse_timeline(&std::fs::read_to_string(path).unwrap());
    assert!(events(&before, "run_finished").is_empty());

    // Started again: it offers the unfinished run, at the step that never finished.
    std::fs::write(dir.join("go"), "").unwrap();
    let mut second = Pty::spawn(&dir, &["run", RUNBOOK]);
    second.expect(&format!(
        "An unfinished run of this runbook is in {rel}. Resume it at step `slow`? [y]es / [n]o"
    ));
    second.key("y");
    second.expect(&format!("timeline: {rel}"));
    second.expect("[2/3] Slow step");
    second.expect(TABLE_HEADER);
    second.assert_exit(0);

    assert_eq!(
        timelines(&dir),
        files,
        "a resumed run writes to the same timeline"
    );
    let timeline = parse_timeline(&std::fs::read_to_string(path).unwrap());
    assert_eq!(&timeline[..before.len()], &before[..], "history rewritten");
    assert_one_whole_run(&timeline);
    assert_eq!(events(&timeline, "run_started").len(), 1);
    let resumed = events(&timeline, "run_resumed");
    assert_eq!(resumed.len(), 1, "{timeline:#?}");
    assert_eq!(resumed[0]["next_step"], "slow");
    assert_eq!(
        outcomes(&timeline),
        [
            ("prepare".into(), "passed".into()),
            ("slow".into(), "passed".into()),
            ("last".into(), "passed".into()),
            ("notify".into(), "passed".into()),
        ]
    );
    assert_eq!(timeline.last().unwrap()["outcome"], "completed");

    // Finished now: the next run is not offered it and starts a timeline of its own.
    let mut third = Pty::spawn(&dir, &["run", RUNBOOK]);
    third.expect("timeline: timelines/resumable-");
    third.assert_exit(0);
    assert!(
        !third.screen().contains("An unfinished run"),
        "a finished run was offered\n{}",
        third.context()
    );
    assert_eq!(timelines(&dir).len(), 2);
}

// ---------------------------------------------------------------- notes from another terminal

const QUICK_STEPS: &str = r#"
    name: busy
    title: Notes from another terminal
    steps:
      - id: refresh
        title: Refresh
        action: true
        command: {argv: [echo, refreshed]}
      - {id: a1, title: A1, action: false, command: {argv: [echo, a1]}}
      - {id: a2, title: A2, action: false, command: {argv: [echo, a2]}}
      - {id: a3, title: A3, action: false, command: {argv: [echo, a3]}}
      - {id: a4, title: A4, action: false, command: {argv: [echo, a4]}}
      - {id: a5, title: A5, action: false, command: {argv: [echo, a5]}}
    "#;

/// `runbook ARGS` in `dir` as another user in another terminal would run it.
fn other_terminal(dir: &Path, args: Vec<String>) -> std::thread::JoinHandle<std::process::Output> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_runbook"));
    command.args(args).current_dir(dir).stdin(Stdio::null());
    clean_env(&mut command);
    command.env("USER", "sam");
    std::thread::spawn(move || command.output().expect("runbook note starts"))
}

#[test]
fn notes_from_another_process_land_whole_while_the_run_waits_and_writes() {
    let test = Test::new().runbook(QUICK_STEPS);
    let dir = dir_of(&test);
    let mut pty = Pty::run(&dir, &[]);
    pty.expect(ACTION_PROMPT);
    pty.wait_reading();

    const NOTES: usize = 8;
    let mut others: Vec<_> = (0..NOTES)
        .map(|i| {
            other_terminal(
                &dir,
                vec![
                    "note".into(),
                    TIMELINE.into(),
                    format!("customer {i} reports 502s on checkout"),
                ],
            )
        })
        .collect();
    others.push(other_terminal(
        &dir,
        vec!["milestone".into(), TIMELINE.into(), "mitigated".into()],
    ));
    // Half of them append while the run waits at the prompt, proved rather than hoped for;
    // the rest may land while the run writes (concurrent_writers_never_interleave_or_tear_lines
    // in tests/timeline.rs forces that race).
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = std::fs::read_to_string(dir.join(TIMELINE)).unwrap_or_default();
        let landed = text
            .lines()
            .filter(|l| l.contains(r#""event":"note""#))
            .count();
        if landed >= NOTES / 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {landed} notes landed while the run waited"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    pty.key("y");
    pty.expect(TABLE_HEADER);
    pty.assert_exit(0);
    for other in others {
        let out = other.join().unwrap();
        assert!(
            out.status.success(),
            "{:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let text = std::fs::read_to_string(dir.join(TIMELINE)).unwrap();
    assert!(text.ends_with('\n'), "a torn last line: {text}");
    let timeline = parse_timeline(&text);
    assert_eq!(timeline.len(), text.lines().count(), "blank lines: {text}");
    // Every line whole, one run, seq unique and in file order: nothing interleaved.
    let run_id = &timeline[0]["run_id"];
    for (i, event) in timeline.iter().enumerate() {
        assert_eq!(event["seq"], json!(i + 1), "seq in file order:\n{text}");
        assert_eq!(&event["run_id"], run_id, "{event}");
    }
    let notes = events(&timeline, "note");
    assert_eq!(notes.len(), NOTES, "{text}");
    for i in 0..NOTES {
        let text = format!("customer {i} reports 502s on checkout");
        let found: Vec<_> = notes
            .iter()
            .filter(|n| n["text"] == text.as_str())
            .collect();
        assert_eq!(found.len(), 1, "{text}: {notes:?}");
        assert!(
            found[0]["actor"].as_str().unwrap().starts_with("sam@"),
            "{}",
            found[0]
        );
    }
    let milestones = events(&timeline, "milestone");
    assert_eq!(milestones.len(), 1, "{milestones:?}");
    assert_eq!(milestones[0]["milestone"], "mitigated");
    assert!(milestones[0]["actor"].as_str().unwrap().starts_with("sam@"));
    assert_eq!(
        events(&timeline, "step_finished").len(),
        6,
        "the run's own events are all there"
    );
    let end = events(&timeline, "run_finished");
    assert_eq!(end.len(), 1);
    assert_eq!(end[0]["outcome"], "completed");
}
