//! The command line: validate, list, show, vars, and every exit code.

use std::time::{Duration, Instant};

use crate::support::*;

const GOOD: &str = r#"
    name: lb-502
    title: 502 Bad Gateway from the load balancers
    description: Diagnose and fix 502s.
    vars:
      lb: http://127.0.0.1:9
      max_5xx_rate: 0.02
      check_cpu: false
    steps:
      - id: sample
        title: Sample the LB for 502s
        http: {url: "{{ vars.lb }}/", samples: 20, concurrency: 5}
        expect: rate_5xx < vars.max_5xx_rate
        on_fail: {goto: refresh}
        milestone: detected
      - id: cpu
        title: Backend CPU
        when: vars.check_cpu | default(false)
        prometheus: {url: "{{ vars.lb }}", query: avg(cpu)}
      - id: refresh
        title: Refresh the LaunchPad LB config
        http: {url: "{{ vars.lb }}/refresh", method: POST}
      - id: settle
        title: Let it settle
        wait: 1s
    finally:
      - id: notify
        title: Post to the channel
        manual: Tell the channel what happened.
    "#;

// ---------------------------------------------------------------- validate

#[test]
fn validate_accepts_a_good_runbook() {
    Test::new()
        .runbook(GOOD)
        .args(["validate", "runbook.yaml"])
        .run()
        .status(0)
        // The whole verdict line: `ok` alone would be found inside the file's name.
        .stdout_has("runbook.yaml: ok (lb-502, 4 steps");
}

#[test]
fn validate_reports_each_bad_file_with_its_location() {
    let out = Test::new()
        .runbook(GOOD)
        .write(
            "bad.yaml",
            r#"
            name: bad
            title: Two mistakes
            steps:
              - id: one
                title: Typo in a key
                wiat: 1s
              - id: two
                title: Typo in the other
                http: {url: "http://x", metod: POST}
            "#,
        )
        .args(["validate", "runbook.yaml", "bad.yaml"])
        .run()
        .status(2)
        .stdout_has("runbook.yaml")
        .stderr_has("bad.yaml:6:5")
        .stderr_has("bad.yaml:9:29");
    // Nothing ran, so nothing was recorded.
    assert!(!out.path(TIMELINE).exists());
}

#[test]
fn run_refuses_an_invalid_runbook_before_anything_runs() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: invalid
            title: Valid first step, broken second
            steps:
              - id: first
                title: Would send a request
                http: {url: "$SERVER/status/200"}
              - id: second
                title: Goto nowhere
                wait: 1s
                on_fail: {goto: nowhere}
            "#,
        )
        .args(["run", "--yes"])
        .run()
        .status(2)
        .stderr_has("runbook.yaml:10:");
    assert_eq!(server.requests().len(), 0);
    assert!(!out.path(TIMELINE).exists());
}

// ---------------------------------------------------------------- list and show

#[test]
fn list_shows_name_title_and_step_count() {
    let test = Test::new()
        .write("books/lb-502.yaml", GOOD)
        .write(
            "books/small.yml",
            r#"
            name: small-example
            title: A small example
            steps:
              - {id: one, title: One, wait: 1ms}
              - {id: two, title: Two, wait: 1ms}
            "#,
        )
        .write("books/notes.txt", "not a runbook");
    test.args(["list", "books"])
        .run()
        .status(0)
        .stdout_line(&["lb-502", "4", "502 Bad Gateway from the load balancers"])
        .stdout_line(&["small-example", "2", "A small example"])
        .stdout_lacks("notes");
}

#[test]
fn list_defaults_to_the_runbooks_directory() {
    Test::new()
        .write("runbooks/lb-502.yaml", GOOD)
        .args(["list"])
        .run()
        .status(0)
        .stdout_line(&["lb-502", "4", "502 Bad Gateway"]);
}

#[test]
fn show_prints_steps_with_conditions_branches_and_actions() {
    let out = Test::new()
        .runbook(GOOD)
        .args(["show", "runbook.yaml"])
        .run()
        .status(0)
        .stdout_has("502 Bad Gateway from the load balancers")
        .stdout_has("vars.check_cpu | default(false)")
        .stdout_has("rate_5xx < vars.max_5xx_rate")
        .stdout_has("goto")
        .stdout_has("notify");
    // Steps in order.
    let at = |id: &str| {
        out.stdout
            .find(id)
            .unwrap_or_else(|| panic!("{id} missing:\n{}", out.stdout))
    };
    let order = [
        at("Sample the LB for 502s"),
        at("Backend CPU"),
        at("Refresh the LaunchPad LB config"),
        at("Let it settle"),
        at("Post to the channel"),
    ];
    assert!(order.is_sorted(), "steps out of order:\n{}", out.stdout);
    // The action is marked as one; the checks are not.
    let line = |id: &str| {
        out.stdout
            .lines()
            .find(|l| l.contains(id) && !l.contains("goto"))
            .unwrap()
            .to_ascii_lowercase()
    };
    assert!(line("refresh").contains("action"), "{}", out.stdout);
    assert!(!line("sample").contains("action"), "{}", out.stdout);
    assert!(!line("settle").contains("action"), "{}", out.stdout);
}

// ---------------------------------------------------------------- vars

const VARS: &str = r#"
    name: vars
    title: Vars
    vars:
      rate: 0.5
      env: default
      sites: []
    steps:
      - id: check
        title: Vars have types
        wait: 1ms
        expect:
          - vars.rate < 0.1
          - vars.rate * 2 == 0.1
          - vars.env == expected_env
    "#;

#[test]
fn var_values_are_yaml_so_numbers_compare_as_numbers() {
    let out = Test::new()
        .runbook(&VARS.replace("expected_env", "'default'"))
        .args(["run", "--var", "rate=0.05", "--var", "sites=[a, b]"])
        .run()
        .status(0);
    let started = &out.events("run_started")[0];
    assert_eq!(started["vars"]["rate"], 0.05);
    assert_eq!(started["vars"]["sites"], serde_json::json!(["a", "b"]));
    // Without the override the default (0.5) fails the same expectation.
    out.then()
        .args(["run", "--timeline", "second.jsonl"])
        .run()
        .status(1)
        .stdout_has("expected vars.rate < 0.1, got vars.rate = 0.5");
}

#[test]
fn vars_file_overrides_defaults_and_var_overrides_the_file() {
    let out = Test::new()
        .runbook(&VARS.replace("expected_env", "'cli'"))
        .write("prod.yaml", "rate: 0.05\nenv: prod\n")
        .args(["run", "--vars", "prod.yaml", "--var", "env=cli"])
        .run()
        .status(0);
    let started = &out.events("run_started")[0];
    assert_eq!(started["vars"]["rate"], 0.05);
    assert_eq!(started["vars"]["env"], "cli");
}

// ---------------------------------------------------------------- exit codes

#[test]
fn exit_0_when_the_run_completes() {
    Test::new()
        .runbook("name: ok\ntitle: OK\nsteps:\n  - {id: one, title: One, wait: 1ms}\n")
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
}

#[test]
fn exit_1_when_a_step_fails() {
    Test::new()
        .runbook(
            r#"
            name: fails
            title: Fails
            steps:
              - id: one
                title: One
                action: false
                command: {argv: ["false"]}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("failed", 1)
        .stdout_line(&["FAILED", "one"]);
}

#[test]
fn exit_2_for_a_bad_var_argument() {
    Test::new()
        .runbook(&VARS.replace("expected_env", "'default'"))
        .args(["run", "--var", "rate"])
        .run()
        .status(2)
        .stderr_has("rate");
}

#[test]
fn exit_2_for_a_bad_vars_file() {
    let test = Test::new()
        .runbook(&VARS.replace("expected_env", "'default'"))
        .write("list.yaml", "- a\n- b\n")
        .write("broken.yaml", "rate: [0.05\nenv: x\n");
    let out = test
        .args(["run", "--vars", "list.yaml"])
        .run()
        .status(2)
        .stderr_has("list.yaml:1:1");
    let out = out
        .then()
        .args(["run", "--vars", "broken.yaml"])
        .run()
        .status(2)
        .stderr_has("broken.yaml:");
    out.then()
        .args(["run", "--vars", "missing.yaml"])
        .run()
        .status(2)
        .stderr_has("missing.yaml");
}

#[test]
fn exit_2_for_a_bad_answers_file() {
    Test::new()
        .runbook(
            r#"
            name: answers
            title: Answers
            steps:
              - id: escalate
                title: Escalate
                manual: Open a ticket.
                ask: [{name: ticket, prompt: Ticket}]
            "#,
        )
        .write("answers.yaml", "escalte: {ticket: INC-1}\n")
        .args(["run", "--answers", "answers.yaml"])
        .run()
        .status(2)
        .stderr_has("answers.yaml:1:1")
        .stderr_has("escalate");
}

#[test]
fn exit_2_for_missing_secrets_names_them() {
    let out = Test::new()
        .runbook(
            r#"
            name: secrets
            title: Needs secrets
            secrets: [RUNBOOK_TEST_ADMIN_TOKEN, RUNBOOK_TEST_PAGER_KEY, RUNBOOK_TEST_SET]
            steps:
              - {id: one, title: One, wait: 1ms}
            "#,
        )
        .env("RUNBOOK_TEST_SET", "present")
        .args(["run"])
        .run()
        .status(2)
        .stderr_has("RUNBOOK_TEST_ADMIN_TOKEN")
        .stderr_has("RUNBOOK_TEST_PAGER_KEY")
        .stderr_lacks("RUNBOOK_TEST_SET`")
        .stderr_lacks("present");
    assert!(
        !out.path(TIMELINE).exists(),
        "nothing is recorded before secrets are read"
    );
}

/// A runbook that needs `api_lb` from whoever runs it, and declares `spare` the same way
/// without reading it.
const REQUIRED_VAR: &str = r#"
    name: required
    title: Needs a var
    vars:
      api_lb: ~
      spare: ~
      max: 0.5
    steps:
      - id: check
        title: Check the API LB
        when: vars.api_lb.startswith('http')
        command: {argv: [touch, ran]}
        action: false
    "#;

#[test]
fn exit_2_for_a_required_var_not_given_before_any_step_runs() {
    let out = Test::new()
        .runbook(REQUIRED_VAR)
        .args(["run"])
        .run()
        .status(2)
        .stderr_has(
            "error: vars.api_lb is not set: it is declared with ~ in runbook.yaml:4:3; \
             give it with --var api_lb=... or --vars FILE",
        )
        // Declared with ~ but never read: nothing to give.
        .stderr_lacks("spare");
    assert!(!out.path("ran").exists(), "no step ran");
    assert!(
        !out.path(TIMELINE).exists(),
        "nothing is recorded before vars are complete"
    );
    // `--var api_lb=~` still leaves it null.
    out.then()
        .args(["run", "--var", "api_lb=~"])
        .run()
        .status(2)
        .stderr_has("vars.api_lb is not set");
}

#[test]
fn a_required_var_given_with_var_or_vars_runs() {
    let out = Test::new()
        .runbook(REQUIRED_VAR)
        .args(["run", "--var", "api_lb=http://127.0.0.1:9"])
        .run()
        .run_outcome("completed", 0);
    assert!(out.path("ran").exists());
    assert_eq!(
        out.events("run_started")[0]["vars"]["api_lb"],
        "http://127.0.0.1:9"
    );
    out.then()
        .write("prod.yaml", "api_lb: http://127.0.0.1:9\n")
        .args(["run", "--vars", "prod.yaml", "--timeline", "second.jsonl"])
        .run()
        .status(0);
}

#[test]
fn exit_2_for_bad_usage() {
    Test::new().args(["run", "--no-such-flag"]).run().status(2);
    Test::new()
        .args(["run", "missing.yaml"])
        .run()
        .status(2)
        .stderr_has("missing.yaml");
}

#[test]
fn exit_3_when_the_operator_aborts() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: abort
            title: Abort at the action
            steps:
              - id: check
                title: Check
                http: {url: "$SERVER/status/200", timeout: 500ms}
              - id: refresh
                title: Refresh the LB
                http: {url: "$SERVER/echo", method: POST, timeout: 500ms}
              - id: after
                title: After
                wait: 1ms
            finally:
              - id: cleanup
                title: Cleanup
                http: {url: "$SERVER/status/204", timeout: 500ms}
            "#,
        )
        .pty()
        .stdin("ay\n")
        .args(["run"])
        .run()
        .run_outcome("aborted", 3);
    assert_eq!(server.count("/echo"), 0);
    assert_eq!(
        server.count("/status/204"),
        1,
        "finally runs after an abort"
    );
    out.not_started("after");
    assert_eq!(out.events("run_started")[0]["mode"], "guided");
}

#[test]
fn guided_run_asks_before_an_action() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: guided
            title: Confirm and skip
            steps:
              - id: first
                title: First action
                http: {url: "$SERVER/echo", method: POST, timeout: 500ms}
              - id: second
                title: Second action
                http: {url: "$SERVER/status/204", method: POST, timeout: 500ms}
            "#,
        )
        .pty()
        .stdin("y\ns\n")
        .args(["run"])
        .run()
        .run_outcome("completed", 0)
        .stdout_has("Run this action?");
    out.outcome("first", "passed");
    out.outcome("second", "skipped");
    assert_eq!(server.count("/echo"), 1);
    assert_eq!(server.count("/status/204"), 0);
}

const LONG_WAIT: &str = r#"
    name: long
    title: A long wait
    steps:
      - id: first
        title: First
        wait: 1ms
      - id: soak
        title: Soak for a while
        wait: 30s
      - id: after
        title: After
        wait: 1ms
    finally:
      - id: cleanup
        title: Cleanup
        action: false
        command: {argv: [touch, cleanup.txt]}
    "#;

fn interrupted_by(signal: i32) {
    let running = Test::new().runbook(LONG_WAIT).args(["run"]).spawn();
    running.wait_for_event(|e| e["event"] == "step_started" && e["step"] == "soak");
    running.signal(signal);
    let out = running.wait().run_outcome("interrupted", 130);
    assert!(out.elapsed < Duration::from_secs(10), "{:?}", out.elapsed);
    out.outcome("first", "passed");
    assert_ne!(out.finished("soak")["outcome"], "passed");
    out.not_started("after");
    out.outcome("cleanup", "passed");
    assert!(out.path("cleanup.txt").exists(), "finally ran");
    // Every line is complete JSON and run_finished is last.
    let timeline = out.timeline();
    assert_eq!(timeline.last().unwrap()["event"], "run_finished");
}

#[test]
fn exit_130_on_sigint_after_finally_and_the_timeline() {
    interrupted_by(libc::SIGINT);
}

#[test]
fn exit_130_on_sigterm() {
    interrupted_by(libc::SIGTERM);
}

/// SIGHUP (the terminal or the ssh session closed) is handled like SIGTERM: the running step
/// is stopped, its command with it, `finally` runs, `run_finished` is written, and the exit
/// code is 129 (128 + SIGHUP, as a shell reports it). `--resume` then finishes the run.
#[test]
fn sighup_interrupts_the_run_like_sigterm_and_resume_finishes_it() {
    let running = Test::new()
        .runbook(
            r#"
            name: hangup
            title: The terminal closes
            steps:
              - id: first
                title: First
                wait: 1ms
              - id: soak
                title: Soak until told to go on
                action: false
                command: {shell: "[ -f go ] && exit 0; sleep 30 & echo $! > sleep.pid; wait"}
              - id: after
                title: After
                wait: 1ms
            finally:
              - id: cleanup
                title: Cleanup
                action: false
                command: {shell: "echo cleaned >> cleanup.txt"}
            "#,
        )
        .args(["run"])
        .spawn();
    running.wait_for_event(|e| e["event"] == "step_started" && e["step"] == "soak");
    let pid_file = running.path("sleep.pid");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&pid_file).map_or(true, |p| !p.ends_with('\n')) {
        assert!(
            Instant::now() < deadline,
            "the command never started its child"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    running.signal(libc::SIGHUP);
    let out = running.wait().run_outcome("interrupted", 129);
    assert_eq!(out.run_finished()["exit_code"], 129);
    out.outcome("first", "passed");
    out.outcome("soak", "interrupted");
    out.not_started("after");
    out.outcome("cleanup", "passed");
    assert_eq!(
        std::fs::read_to_string(out.path("cleanup.txt")).unwrap(),
        "cleaned\n",
        "finally ran once"
    );
    let timeline = out.timeline();
    assert_eq!(timeline.last().unwrap()["event"], "run_finished");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert_gone(pid.trim(), "the step's child after SIGHUP");

    std::fs::write(out.path("go"), "").unwrap();
    let out = out
        .then()
        .args(["run", "--resume", TIMELINE])
        .run()
        .run_outcome("completed", 0);
    out.outcome("soak", "passed");
    out.outcome("after", "passed");
    let firsts = out
        .events("step_finished")
        .iter()
        .filter(|e| e["step"] == "first")
        .count();
    assert_eq!(firsts, 1, "a finished step is not run again");
}

#[test]
fn ci_or_non_interactive_never_prompts_even_on_a_terminal() {
    let rb = r#"
        name: no-prompt
        title: No prompt
        steps:
          - id: act
            title: An action
            action: true
            wait: 1ms
        "#;
    // Were it to ask, the end of input on the terminal would abort the run (exit 3).
    let out = Test::new()
        .runbook(rb)
        .pty()
        .env("CI", "true")
        .args(["run"])
        .run()
        .run_outcome("blocked", 4)
        .stdout_lacks("Run this action?");
    assert_eq!(out.events("run_started")[0]["mode"], "non-interactive");
    assert_eq!(out.events("run_started")[0]["actor"], "ci");
    let out = out
        .then()
        .pty()
        .args(["run", "--non-interactive", "--timeline", "second.jsonl"])
        .run()
        .status(4)
        .stdout_lacks("Run this action?");
    let text = std::fs::read_to_string(out.path("second.jsonl")).unwrap();
    assert!(text.contains(r#""mode":"non-interactive""#), "{text}");
}

#[test]
fn one_plain_line_per_finished_step_on_stdout() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: lines
            title: Output lines
            steps:
              - {id: first, title: First check, http: {url: "$SERVER/status/200", timeout: 500ms}}
              - {id: second, title: Second check, http: {url: "$SERVER/status/503", timeout: 500ms}, on_fail: continue}
              - {id: third, title: Skipped, when: false, wait: 1ms}
            "#,
        )
        // Not a terminal: no colour even without NO_COLOR.
        .env_remove("NO_COLOR")
        .args(["run"])
        .run()
        .status(0)
        .stdout_line(&["PASSED", "first", "First check", "200"])
        .stdout_line(&["FAILED", "second", "Second check", "503"])
        .stdout_line(&["SKIPPED", "third", "Skipped"]);
    assert_eq!(
        out.stdout.lines().count(),
        out.events("step_finished").len()
    );
    assert!(!has_colour(&out.stdout), "{:?}", out.stdout);
    assert!(!has_colour(&out.stderr), "{:?}", out.stderr);
}

#[test]
fn no_colour_on_a_terminal_with_no_color_set() {
    let out = Test::new()
        .runbook("name: tty\ntitle: TTY\nsteps:\n  - {id: one, title: One, wait: 1ms}\n")
        .pty()
        .args(["run"])
        .run()
        .status(0)
        .stdout_line(&["PASSED", "one"]);
    assert!(!has_colour(&out.stdout), "{:?}", out.stdout);
}

#[test]
fn printing_commands_end_quietly_when_their_reader_goes_away() {
    // `runbook show FILE | head`: the reader is gone before the output is written. Every write
    // fails; the command must end like `cat` does (SIGPIPE, 141 in the shell), not panic.
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for args in [
        vec!["show", "runbooks/aws-alb-502.yaml"],
        vec!["list", "runbooks"],
        vec!["schema"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = clean_command(repo)
            .args(&args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            output.status.signal(),
            Some(libc::SIGPIPE),
            "{args:?} ended with {:?}; stderr: {stderr}",
            output.status
        );
    }
}
