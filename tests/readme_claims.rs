//! Claims of README.md that no other test backed (issue 11: "the README states nothing that no
//! test or benchmark backs"), grouped by the README's sections. Each test quotes the claim it
//! backs; the table of every claim and its test is in the issue's report.

use std::collections::BTreeSet;

use serde_json::{Value as Json, json};

use crate::sim::Sim;
use crate::support::*;

/// The keys of a JSON object, sorted.
fn keys(event: &Json) -> BTreeSet<String> {
    event
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {event}"))
        .keys()
        .cloned()
        .collect()
}

/// `names` as a sorted set, to compare with [`keys`].
fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

// ------------------------------------------------------------------ Install

/// "Install the binary with `cargo install --path .` (it builds with rustls; no OpenSSL
/// needed)."
#[test]
fn the_dependency_tree_has_no_openssl() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"))
        .expect("Cargo.lock is committed");
    let packages: Vec<&str> = lock
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .collect();
    assert!(packages.contains(&"rustls"), "no rustls in Cargo.lock");
    for banned in ["openssl", "openssl-sys", "native-tls", "hyper-tls"] {
        assert!(
            !packages.contains(&banned),
            "Cargo.lock has `{banned}`: the build would need OpenSSL"
        );
    }
}

// ------------------------------------------------------------------ Commands: `runbook run` flags

/// "`--vars FILE` | a YAML map of vars, e.g. one file per environment with its endpoints
/// (repeatable; later files win)", and "Vars are layered: the runbook's `vars:` defaults, then
/// `--vars` files in order, then `--var`".
#[test]
fn later_vars_files_win_and_var_wins_over_them() {
    let out = Test::new()
        .runbook(
            r#"
            name: layers
            title: Layers
            vars: {a: default, b: default, c: default, d: default}
            steps:
              - {id: one, title: One, wait: 1ms}
            "#,
        )
        .write("first.yaml", "b: first\nc: first\nd: first\n")
        .write("second.yaml", "c: second\nd: second\n")
        .args([
            "run",
            "--vars",
            "first.yaml",
            "--vars",
            "second.yaml",
            "--var",
            "d=cli",
        ])
        .run()
        .run_outcome("completed", 0);
    assert_eq!(
        out.events("run_started")[0]["vars"],
        json!({"a": "default", "b": "first", "c": "second", "d": "cli"})
    );
}

/// "YAML 1.2 booleans apply: only `true`/`false` are booleans (`yes`, `on`, `y` are text)."
#[test]
fn only_true_and_false_are_booleans() {
    let out = Test::new()
        .runbook(
            r#"
            name: booleans
            title: Booleans
            vars: {on_default: on, flag: ~, short: ~, real: ~}
            steps:
              - id: one
                title: One
                wait: 1ms
                expect:
                  - vars.on_default == 'on'
                  - vars.flag == 'yes'
                  - vars.short == 'y'
                  - vars.real is true
            "#,
        )
        .args([
            "run",
            "--var",
            "flag=yes",
            "--var",
            "short=y",
            "--var",
            "real=true",
        ])
        .run()
        .run_outcome("completed", 0);
    out.outcome("one", "passed");
    assert_eq!(
        out.events("run_started")[0]["vars"],
        json!({"on_default": "on", "flag": "yes", "short": "y", "real": true})
    );
}

/// "`runbook run` flags (each also readable from a `RUNBOOK_*` environment variable where shown
/// in `--help`)", and "`--yes`, `-y`".
#[test]
fn run_flags_come_from_runbook_variables_and_y_is_short_for_yes() {
    let rb = r#"
        name: env-flags
        title: Flags from the environment
        steps:
          - {id: act, title: Act, action: true, wait: 1ms}
        "#;
    let out = Test::new()
        .runbook(rb)
        .default_timeline()
        .env("RUNBOOK_YES", "true")
        .env("RUNBOOK_TIMELINE", "from-env.jsonl")
        .args(["run"])
        .run()
        .status(0);
    let text = std::fs::read_to_string(out.path("from-env.jsonl")).expect("RUNBOOK_TIMELINE");
    let finished: Vec<Json> = parse_timeline(&text)
        .into_iter()
        .filter(|e| e["event"] == "step_finished")
        .collect();
    assert_eq!(
        (&finished[0]["outcome"], &finished[0]["decided_by"]),
        (&json!("passed"), &json!("--yes"))
    );
    let out = out
        .then()
        .env("RUNBOOK_DRY_RUN", "true")
        .args(["run", "--timeline", "dry.jsonl"])
        .run()
        .status(0);
    let text = std::fs::read_to_string(out.path("dry.jsonl")).unwrap();
    assert_eq!(parse_timeline(&text)[0]["dry_run"], true);
    let out = out
        .then()
        .args(["run", "-y"])
        .run()
        .run_outcome("completed", 0);
    assert_eq!(out.finished("act")["decided_by"], "--yes");
}

/// "`--non-interactive` | never prompt; implied when stdin or stdout is not a terminal": stdin
/// on a terminal and stdout into a file do not prompt.
#[test]
fn stdout_into_a_file_is_non_interactive_even_with_a_terminal_for_stdin() {
    require("script", "bsdutils");
    let out = Test::new()
        .runbook(
            r#"
            name: piped
            title: Piped
            steps:
              - {id: act, title: Act, action: true, wait: 1ms}
            "#,
        )
        // `script` gives the binary a terminal; the shell inside sends its stdout to a file.
        .under([
            "sh",
            "-c",
            r#"exec script -qec "$0 $* > stdout.txt" /dev/null"#,
        ])
        .args(["run"])
        .run()
        .status(4);
    let started = &out.events("run_started")[0];
    assert_eq!(started["mode"], "non-interactive");
    out.outcome("act", "blocked");
    let stdout = std::fs::read_to_string(out.path("stdout.txt")).unwrap();
    assert!(!stdout.contains("Run this action?"), "{stdout}");
    assert!(stdout.starts_with("BLOCKED"), "{stdout:?}");
}

/// "`runbook list [DIR]` | lists the runbooks in `DIR` [...]: name, step count, title, file".
#[test]
fn list_shows_name_steps_title_and_file() {
    Test::new()
        .write(
            "mine/probe.yaml",
            "name: probe\ntitle: Probe it\nsteps:\n  - {id: one, title: One, wait: 1ms}\n  - {id: two, title: Two, wait: 1ms}\n",
        )
        .args(["list", "mine"])
        .run()
        .status(0)
        .stdout_line(&["NAME", "STEPS", "TITLE", "FILE"])
        .stdout_line(&["probe", " 2 ", "Probe it", "mine/probe.yaml"]);
}

/// "`runbook show FILE` | prints the steps in order with their conditions, branches, retries
/// and which are actions": the retries.
#[test]
fn show_prints_a_step_s_retries() {
    let out = Test::new()
        .runbook(
            r#"
            name: retries
            title: Retries
            steps:
              - {id: probe, title: Probe, http: "http://127.0.0.1:1/", retry: {attempts: 5, delay: 2s}}
            "#,
        )
        .args(["show", RUNBOOK])
        .run()
        .status(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("probe  Probe  [check] http GET http://127.0.0.1:1/"))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert_eq!(lines[at + 1].trim(), "retry: 5 attempts, 2s apart");
}

// ------------------------------------------------------------------ Non-interactive output

/// "Each finished step prints one line to stdout [...]. Progress, milestones, the timeline path
/// and errors go to stderr."
#[test]
fn milestones_the_timeline_path_and_errors_go_to_stderr() {
    let out = Test::new()
        .runbook(
            r#"
            name: streams
            title: Streams
            steps:
              - {id: detect, title: Detect, wait: 1ms, milestone: detected}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
    let stdout: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(stdout.len(), 1, "{:?}", out.stdout);
    assert!(
        stdout[0].starts_with("PASSED      detect  Detect: waited 1 ms ("),
        "{stdout:?}"
    );
    assert_eq!(
        out.stderr,
        "runbook: Streams — timeline timeline.jsonl\n\
         runbook: milestone DETECTED at `detect`\n\
         runbook: run completed (exit 0) — timeline timeline.jsonl\n"
    );
    // An error: stderr only, nothing on stdout.
    let out = out
        .then()
        .runbook(
            r#"
            name: streams
            title: Streams
            secrets: [RB_NOT_SET_ANYWHERE]
            steps:
              - {id: detect, title: Detect, wait: 1ms}
            "#,
        )
        .args(["run", "--timeline", "second.jsonl"])
        .run()
        .status(2);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.starts_with("error: ") && out.stderr.contains("RB_NOT_SET_ANYWHERE"),
        "{}",
        out.stderr
    );
}

// ------------------------------------------------------------------ Guided mode

/// "live progress while it runs (a spinner with elapsed time; for `samples` a bar with requests
/// done, the running 5xx rate among the answers and p95; for `retry` the attempt and a countdown
/// to the next; for `wait` a countdown), the result coloured by outcome".
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
        "/4 requests  5xx 0.0%  p95 ",
        "  waiting ",
        "flaky: command, attempt 1/2",
        "flaky: attempt 1/2 did not pass; next attempt in ",
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
        .runbook(
            r#"
            name: held
            title: Held
            steps:
              - id: hold
                title: Hold
                action: false
                command: {shell: "while [ ! -f go ]; do sleep 0.05; done", timeout: 20s}
            "#,
        )
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

// ------------------------------------------------------------------ Executors

/// "Writing just a URL (`http: "{{ vars.lb }}/health"`) is short for `{url: ...}`", with the
/// defaults "method: GET", "samples: 50 # default 1", "concurrency: 10 # default 1".
#[test]
fn a_url_alone_is_an_http_step_with_the_defaults() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: short
            title: Short form
            vars: {lb: "$SERVER"}
            steps:
              - {id: health, title: Health, http: "{{ vars.lb }}/status/200"}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
    let data = out.outcome("health", "passed");
    assert_eq!(data["url"], format!("{}/status/200", server.url()));
    assert_eq!(data["method"], "GET");
    assert_eq!((&data["count"], &data["responses"]), (&json!(1), &json!(1)));
    assert_eq!(data["status_counts"], json!({"200": 1}));
    let requests = server.requests_to("/status/200");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "GET");
    // A GET is a check: it ran without --yes.
    assert_eq!(out.finished("health")["action"], false);
}

/// `command` "Fields: `exit_code`, `stdout`, `stderr`, `json` (stdout parsed, or null),
/// `timed_out`, `signal`, `duration_ms`": a command killed by a signal has no exit code, and
/// the signal's number.
#[test]
fn a_command_killed_by_a_signal_records_the_signal() {
    let out = Test::new()
        .runbook(
            r#"
            name: signal
            title: Signal
            steps:
              - id: killed
                title: Killed
                action: false
                command: {argv: [sh, -c, "echo before; kill -TERM $$"]}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("failed", 1);
    let finished = out.finished("killed");
    assert_eq!(finished["outcome"], "failed");
    let data = &finished["data"];
    assert_eq!(
        keys(data),
        set(&[
            "exit_code",
            "stdout",
            "stderr",
            "json",
            "timed_out",
            "signal",
            "duration_ms"
        ])
    );
    assert_eq!(data["exit_code"], Json::Null);
    assert_eq!(data["signal"], 15);
    assert_eq!(data["timed_out"], false);
    assert_eq!(data["stdout"], "before\n");
    assert_eq!(data["json"], Json::Null);
    assert_eq!(finished["failures"], json!(["expected exit code 0"]));
    let summary = finished["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("killed by signal 15 after "),
        "{summary}"
    );
}

/// "**`wait`** — `wait: 30s`. Fields: `waited_ms`."
#[test]
fn wait_records_waited_ms_and_nothing_else() {
    let out = Test::new()
        .runbook(
            r#"
            name: waits
            title: Waits
            steps:
              - {id: pause, title: Pause, wait: 30ms}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
    let data = out.outcome("pause", "passed");
    assert_eq!(keys(&data), set(&["waited_ms"]));
    assert_eq!(data["waited_ms"], 30, "{data}");
    assert!(out.finished("pause")["duration_ms"].as_u64().unwrap() >= 30);
}

/// "A manual step without `ask` is acknowledged automatically in non-interactive runs
/// (`acknowledged by ACTOR` [...])".
#[test]
fn a_manual_step_without_ask_is_acknowledged_by_the_actor() {
    let out = Test::new()
        .runbook(
            r#"
            name: manual-ack
            title: Manual
            steps:
              - {id: look, title: Look, manual: Open the dashboard.}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
    let actor = out.events("run_started")[0]["actor"].clone();
    let finished = out.finished("look");
    assert_eq!(finished["outcome"], "passed");
    assert_eq!(
        finished["summary"],
        format!("acknowledged by {}", actor.as_str().unwrap())
    );
    assert_eq!(finished["decided_by"], actor);
    assert_eq!(finished["data"], json!({}));
}

/// "`on_fail` applies to `failed` and `error` alike."
#[test]
fn on_fail_applies_to_an_error_as_to_a_failure() {
    let out = Test::new()
        .runbook(
            r#"
            name: errors
            title: Errors
            steps:
              - id: broken
                title: Cannot start
                action: false
                command: {argv: [/nonexistent/program]}
                on_fail: continue
              - id: again
                title: Cannot start either
                action: false
                command: {argv: [/nonexistent/program]}
                on_fail: {goto: last}
              - {id: skipped_over, title: Skipped over, wait: 1ms}
              - {id: last, title: Last, wait: 1ms}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
    out.outcome("broken", "error");
    out.outcome("again", "error");
    out.not_started("skipped_over");
    out.outcome("last", "passed");
}

// ------------------------------------------------------------------ Expressions and templates

/// "Numbers are ordered against numbers, strings against strings, lists against lists;
/// `"0.3" < 0.5` (a body against a number) is an error, not an order (`| float` converts)."
#[test]
fn a_string_is_not_ordered_against_a_number() {
    let out = Test::new()
        .runbook(
            r#"
            name: orders
            title: Orders
            vars: {x: "0.3"}
            steps:
              - {id: raw, title: Raw, wait: 1ms, expect: vars.x < 0.5, on_fail: continue}
              - {id: converted, title: Converted, wait: 1ms, expect: "vars.x | float < 0.5"}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
    out.outcome("raw", "failed");
    assert_eq!(
        out.finished("raw")["failures"],
        json!([
            "expected vars.x < 0.5, but it could not be evaluated: invalid operation: cannot \
             order vars.x (string \"0.3\") against 0.5 (number 0.5)"
        ])
    );
    out.outcome("converted", "passed");
}

/// "an unknown filter, test or method, with the closest known one (`'x'.stirp()` → `did you
/// mean strip`)", and "Ansible's own filters (`regex_replace`, `to_yaml`, ...) do not exist
/// here", while `quote` and `b64encode` do.
#[test]
fn validate_names_a_misspelt_method_and_an_ansible_only_filter() {
    let out = Test::new()
        .runbook(
            r#"
            name: names
            title: Names
            vars: {x: a}
            steps:
              - {id: a, title: A, wait: 1ms, when: "'x'.stirp() == 'x'"}
              - {id: b, title: B, action: false, command: {argv: [echo, "{{ vars.x | regex_replace('a', 'b') }}"]}}
              - {id: c, title: C, action: false, command: {argv: [echo, "{{ vars.x | quote }} {{ vars.x | b64encode }}"]}}
            "#,
        )
        .args(["validate", RUNBOOK])
        .run()
        .status(2)
        .stderr_has(
            "runbook.yaml:5:45: `when`: unknown method `.stirp()` (did you mean `strip`?)",
        )
        .stderr_has(
            "runbook.yaml:6:74: an `argv` element: unknown filter `regex_replace`: an Ansible \
             filter that MiniJinja does not have",
        )
        .stderr_has("error: runbook.yaml: 2 problems");
    assert!(!out.stderr.contains("quote"), "{}", out.stderr);
    assert!(!out.stderr.contains("b64encode"), "{}", out.stderr);
}

/// "An expression may be wrapped in one `{{ }}` or not."
#[test]
fn an_expression_may_be_wrapped_in_braces() {
    let out = Test::new()
        .runbook(
            r#"
            name: wrapped
            title: Wrapped
            vars: {limit: 5}
            steps:
              - {id: bare, title: Bare, wait: 1ms, when: vars.limit > 1, expect: waited_ms < vars.limit * 1000}
              - {id: braced, title: Braced, wait: 1ms, when: "{{ vars.limit > 1 }}", expect: "{{ waited_ms < vars.limit * 1000 }}"}
              - {id: braced_false, title: Braced false, wait: 1ms, when: "{{ vars.limit > 10 }}"}
              - {id: braced_failing, title: Braced failing, wait: 1ms, expect: "{{ waited_ms > vars.limit * 1000 }}", on_fail: continue}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
    out.outcome("bare", "passed");
    out.outcome("braced", "passed");
    out.outcome("braced_false", "skipped");
    out.outcome("braced_failing", "failed");
    assert_eq!(
        out.finished("braced_failing")["failures"],
        json!(["expected waited_ms > vars.limit * 1000, got waited_ms = 1, vars.limit = 5"])
    );
}

// ------------------------------------------------------------------ Secrets

/// "A secret answer given as a list or a number is masked item by item (each item counts as a
/// secret, and each must have 4 characters)."
#[test]
fn each_item_of_a_secret_answer_needs_4_characters() {
    let out = Test::new()
        .runbook(
            r#"
            name: items
            title: Items
            steps:
              - id: login
                title: Login
                manual: Log in
                ask:
                  - {name: codes, prompt: Codes, secret: true}
            "#,
        )
        .write("answers.yaml", "login: {codes: [first-c0de, x9]}\n")
        .args(["run", "--answers", "answers.yaml"])
        .run()
        .status(2);
    assert_eq!(
        out.stderr,
        "error: the secret answer `codes` of step `login` is 2 characters long: a secret needs at \
         least 4 characters, or masking it would mask ordinary words and the timeline's own keys; \
         set its real value\n"
    );
    assert_eq!(out.stdout, "");
    assert!(!out.path(TIMELINE).exists(), "a timeline was written");
}

/// "Errors about vars files are masked like everything else."
#[test]
fn an_error_about_a_vars_file_masks_the_secrets_it_quotes() {
    let out = Test::new()
        .runbook(
            r#"
            name: vars-error
            title: Vars error
            vars: {x: 1}
            secrets: [RB_VARS_SECRET]
            steps:
              - {id: one, title: One, wait: 1ms}
            "#,
        )
        .write("bad.yaml", "x: [supersecret-77\n")
        .env("RB_VARS_SECRET", "supersecret-77")
        .args(["run", "--vars", "bad.yaml"])
        .run()
        .status(2);
    assert!(
        out.stderr
            .starts_with("bad.yaml:1:4: YAML syntax error: unclosed bracket '['\n"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("1 | x: [***\n"), "{}", out.stderr);
    assert!(!out.stderr.contains("supersecret"), "{}", out.stderr);
}

// ------------------------------------------------------------------ Timeline

/// The README's table of events and their fields ("Every event has `seq`, `ts`, `run_id` and
/// `event`" and one row per event), exactly: a field the README lists and the timeline lacks,
/// or one it writes and the README does not list, fails here.
#[test]
fn every_event_has_exactly_the_fields_the_readme_lists() {
    let server = Server::start();
    server.sequence("/flaky", [502, 200]);
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: fields
            title: Every event
            steps:
              - id: flaky
                title: Flaky check
                http: {url: "$SERVER/flaky", timeout: 2s}
                retry: {attempts: 3, delay: 10ms}
                milestone: detected
              - id: act
                title: Act
                http: {url: "$SERVER/status/200", method: POST, timeout: 2s}
            finally:
              - {id: tidy, title: Tidy, wait: 1ms}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("blocked", 4)
        .then()
        .args(["note", TIMELINE, "called the provider"])
        .run()
        .status(0)
        .then()
        .args(["milestone", TIMELINE, "mitigated"])
        .run()
        .status(0)
        .then()
        .args(["run", "--resume", TIMELINE, "--yes"])
        .run()
        .status(0);
    // (Not `run_outcome`: its check wants `run_finished` last in each invocation's part, and the
    // note and milestone rightly come after the blocked run's.)
    let last = out.timeline().pop().unwrap();
    assert_eq!(
        (&last["event"], &last["outcome"], &last["exit_code"]),
        (&json!("run_finished"), &json!("completed"), &json!(0))
    );
    let envelope = ["seq", "ts", "run_id", "event"];
    let with = |fields: &[&str]| {
        let mut all = set(&envelope);
        all.extend(set(fields));
        all
    };
    let expected: &[(&str, &[&str])] = &[
        (
            "run_started",
            &[
                "runbook", "title", "file", "sha256", "mode", "dry_run", "vars", "version",
                "actor", "timeline",
            ],
        ),
        ("run_resumed", &["actor", "version", "next_step", "vars"]),
        (
            "step_started",
            &["step", "title", "index", "phase", "action", "entry"],
        ),
        (
            "step_attempt",
            &[
                "step",
                "attempt",
                "outcome",
                "summary",
                "failures",
                "data",
                "duration_ms",
                "next_delay_ms",
            ],
        ),
        ("note", &["text", "actor"]),
    ];
    let timeline = out.timeline();
    for (event, fields) in expected {
        let events: Vec<&Json> = timeline.iter().filter(|e| e["event"] == *event).collect();
        assert!(!events.is_empty(), "no {event} in the timeline");
        for e in events {
            assert_eq!(keys(e), with(fields), "{e}");
        }
    }
    // step_finished: `failures` only when an expectation failed, `decided_by` for an action run
    // or skipped.
    let step_finished = [
        "step",
        "title",
        "outcome",
        "duration_ms",
        "summary",
        "data",
        "attempt",
        "action",
        "phase",
    ];
    assert_eq!(keys(&out.finished("flaky")), with(&step_finished));
    assert_eq!(keys(&out.finished("tidy")), with(&step_finished));
    let mut action = step_finished.to_vec();
    action.push("decided_by");
    assert_eq!(keys(&out.finished("act")), with(&action));
    let blocked = timeline
        .iter()
        .find(|e| e["event"] == "step_finished" && e["outcome"] == "blocked")
        .expect("the first run blocked");
    // Nobody decided a blocked action.
    assert_eq!(keys(blocked), with(&step_finished));
    assert_eq!(out.finished("act")["decided_by"], "--yes");
    // run_finished: `reason` when the run did not complete.
    let run_finished = out.events("run_finished");
    let fields = ["outcome", "exit_code", "duration_ms", "counts"];
    assert_eq!(run_finished.len(), 2);
    assert_eq!(keys(&run_finished[1]), with(&fields));
    let mut blocked_run = fields.to_vec();
    blocked_run.push("reason");
    assert_eq!(keys(&run_finished[0]), with(&blocked_run));
    assert_eq!(
        run_finished[0]["reason"],
        "action `act` needs confirmation: run again with --yes to allow actions"
    );
    // milestone: `step` when a step recorded it, not from `runbook milestone`.
    let milestones = out.events("milestone");
    assert_eq!(milestones.len(), 2, "{milestones:?}");
    assert_eq!(keys(&milestones[0]), with(&["milestone", "step", "actor"]));
    assert_eq!(
        (&milestones[0]["milestone"], &milestones[0]["step"]),
        (&json!("detected"), &json!("flaky"))
    );
    assert_eq!(keys(&milestones[1]), with(&["milestone", "actor"]));
    assert_eq!(milestones[1]["milestone"], "mitigated");
    assert_eq!(out.events("note")[0]["text"], "called the provider");
    // The values the table names.
    let attempt = &out.events("step_attempt")[0];
    assert_eq!(
        (
            &attempt["attempt"],
            &attempt["outcome"],
            &attempt["next_delay_ms"]
        ),
        (&json!(1), &json!("failed"), &json!(10))
    );
    assert_eq!(out.events("run_resumed")[0]["next_step"], "act");
    let started: Vec<(Json, Json, Json)> = out
        .events("step_started")
        .iter()
        .map(|e| (e["step"].clone(), e["phase"].clone(), e["index"].clone()))
        .collect();
    assert!(
        started.contains(&(json!("tidy"), json!("finally"), json!(1))),
        "{started:?}"
    );
    assert!(
        started.contains(&(json!("act"), json!("steps"), json!(2))),
        "{started:?}"
    );
}

// ------------------------------------------------------------------ The simulator and drills

/// "Metrics: `node_cpu_utilization{group, instance}`, `node_http_5xx_ratio{group, instance}`,
/// `up{group, job="node"}` (1, or 0 while the group's exporter is down), `lb_http_5xx_ratio{lb}`,
/// `lb_requests_total{lb}`."
#[test]
fn the_simulator_serves_the_metrics_the_readme_names() {
    let sim = Sim::start(Some("classlink-2020"));
    let labels = |query: &str| -> BTreeSet<String> {
        sim.vector(query)
            .iter()
            .map(|s| {
                let mut metric: std::collections::BTreeMap<String, Json> = s["metric"]
                    .as_object()
                    .unwrap()
                    .clone()
                    .into_iter()
                    .collect();
                metric.remove("__name__");
                serde_json::to_string(&metric).unwrap()
            })
            .collect()
    };
    let lbs = set(&[r#"{"lb":"api"}"#, r#"{"lb":"launchpad"}"#]);
    assert_eq!(labels("lb_requests_total"), lbs);
    assert_eq!(labels("lb_http_5xx_ratio"), lbs);
    assert_eq!(
        labels("up"),
        set(&[
            r#"{"group":"api","job":"node"}"#,
            r#"{"group":"frontend","job":"node"}"#
        ])
    );
    for series in sim.vector("up") {
        assert_eq!(series["value"][1], "1", "{series}");
    }
    for query in ["node_cpu_utilization", "node_http_5xx_ratio"] {
        let series = sim.vector(query);
        assert_eq!(series.len(), 8, "{query}: {series:?}");
        for s in &series {
            let metric = &s["metric"];
            assert!(
                metric["group"].is_string() && metric["instance"].is_string(),
                "{query}: {s}"
            );
        }
    }
}

/// "`GET /admin/requests` [...] `{"requests": [{at_ms, method, path}, ...], "total": N,
/// "kept": 10000}`", oldest first.
#[test]
fn the_request_log_has_the_shape_the_readme_shows() {
    let sim = Sim::start(Some("healthy"));
    sim.get("/lb/api/first");
    sim.get("/lb/api/second");
    let body = sim.get_admin("/admin/requests").json();
    assert_eq!(keys(&body), set(&["requests", "total", "kept"]));
    assert_eq!(body["kept"], 10_000);
    let requests = body["requests"].as_array().unwrap();
    assert_eq!(body["total"], requests.len());
    for r in requests {
        assert_eq!(keys(r), set(&["at_ms", "method", "path"]), "{r}");
    }
    let paths: Vec<&str> = requests
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    let first = paths.iter().position(|p| *p == "/lb/api/first").unwrap();
    let second = paths.iter().position(|p| *p == "/lb/api/second").unwrap();
    assert!(first < second, "{paths:?}");
    assert!(
        requests[first]["at_ms"].as_u64().unwrap() <= requests[second]["at_ms"].as_u64().unwrap()
    );
}

/// The table "Vars a drill hands a runbook" and "And the secret `SIM_ADMIN_TOKEN`"; and
/// "`lb_5xx_below` [...] the verdict says which (`api 30% (30% closed unanswered)`)"; "Exit 0
/// when every verdict passes, 1 otherwise".
#[test]
fn a_drill_hands_over_every_var_of_the_table_and_names_closed_requests() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("vars.yaml"),
        unindent(
            r#"
            name: drill-vars
            title: Drill vars
            vars:
              launchpad_lb: ~
              api_lb: ~
              lbs: ~
              prometheus: ~
              status_page: ~
              status_pages: ~
              reference_sites: ~
              admin: ~
              node_groups: ~
            secrets: [SIM_ADMIN_TOKEN]
            steps:
              - id: look
                title: Look
                wait: 1ms
                expect:
                  - secrets.SIM_ADMIN_TOKEN | length >= 16
                  - vars.lbs.api == vars.api_lb
            "#,
        ),
    )
    .unwrap();
    let out = crate::sim::run(
        dir.path(),
        &[
            "drill",
            "vars.yaml",
            "--scenario",
            "conn-close",
            "--timeline-dir",
            "drills",
        ],
        std::time::Duration::from_secs(60),
    );
    out.code(1);
    assert_eq!(
        out.line(&["all LBs serve < 1% 502"]),
        "  FAIL  all LBs serve < 1% 502 (found: api 30% (30% closed unanswered), launchpad 30% \
         (30% closed unanswered))"
    );
    out.line(&["PASSED", "look"]);
    let timeline = std::fs::read_dir(dir.path().join("drills"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .expect("the drill wrote a timeline");
    let events = parse_timeline(&std::fs::read_to_string(timeline).unwrap());
    let vars = &events[0]["vars"];
    let admin = vars["admin"].as_str().unwrap();
    let base = admin
        .strip_suffix("/admin")
        .expect("admin ends with /admin");
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let url = |path: &str| json!(format!("{base}{path}"));
    assert_eq!(vars["launchpad_lb"], url("/lb/launchpad"));
    assert_eq!(vars["api_lb"], url("/lb/api"));
    assert_eq!(
        vars["lbs"],
        json!({"launchpad": url("/lb/launchpad"), "api": url("/lb/api")})
    );
    assert_eq!(vars["prometheus"], url("/prometheus"));
    assert_eq!(vars["status_page"], url("/status/aws"));
    assert_eq!(vars["status_pages"], json!({"aws": url("/status/aws")}));
    let sites = vars["reference_sites"].as_array().unwrap();
    assert!(!sites.is_empty());
    for site in sites {
        assert!(
            site.as_str()
                .unwrap()
                .starts_with(&format!("{base}/sites/")),
            "{site}"
        );
    }
    let groups: BTreeSet<&str> = vars["node_groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    assert_eq!(groups, BTreeSet::from(["api", "frontend"]));
    assert_eq!(keys(vars).len(), 9, "{vars}");
}

/// The success criteria "`scaled: GROUP`" and "`reprovisioned: GROUP`" fail a runbook that did
/// not act (the shipped runbook passing every scenario only shows that they pass).
#[test]
fn scaled_and_reprovisioned_fail_a_runbook_that_does_not_act() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("nothing.yaml"),
        "name: nothing\ntitle: Looks at nothing\nsteps:\n  - {id: look, title: Look, wait: 1ms}\n",
    )
    .unwrap();
    for (scenario, line) in [
        (
            "cpu-saturation",
            "  FAIL  node group api was scaled out (found: none)",
        ),
        (
            "bad-nodes",
            "  FAIL  node group frontend was reprovisioned (found: none)",
        ),
    ] {
        let out = crate::sim::run(
            dir.path(),
            &[
                "drill",
                "nothing.yaml",
                "--scenario",
                scenario,
                "--timeline-dir",
                "drills",
            ],
            std::time::Duration::from_secs(60),
        );
        out.code(1);
        assert!(out.stdout.lines().any(|l| l == line), "{}", out.context());
        out.line(&["drill FAILED:", scenario]);
    }
}

/// "A run also holds its timeline for its whole life: `TIMELINE.lock` beside it says who (pid,
/// host, start time) [...]; the run removes it when it ends."
#[test]
fn the_lock_file_names_pid_host_and_start_time() {
    let running = Test::new()
        .runbook(
            r#"
            name: held
            title: Held
            steps:
              - id: hold
                title: Hold
                action: false
                command: {shell: "while [ ! -f go ]; do sleep 0.05; done", timeout: 20s}
            "#,
        )
        .args(["run"])
        .spawn();
    running.wait_for_event(|e| e["event"] == "step_started" && e["step"] == "hold");
    let lock = std::fs::read_to_string(running.path("timeline.jsonl.lock")).unwrap();
    let lines: Vec<&str> = lock.lines().collect();
    assert!(lines.len() >= 3, "{lock:?}");
    let pid: u32 = lines[0].parse().unwrap_or_else(|_| panic!("{lock:?}"));
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "{lock:?}"
    );
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(lines[1], host.trim(), "{lock:?}");
    let started: jiff::Timestamp = lines[2].parse().unwrap_or_else(|e| panic!("{e}: {lock:?}"));
    let age = jiff::Timestamp::now().duration_since(started);
    assert!(
        age >= jiff::SignedDuration::ZERO && age < jiff::SignedDuration::from_secs(60),
        "{lock:?}"
    );
    std::fs::write(running.path("go"), "").unwrap();
    let out = running.wait().run_outcome("completed", 0);
    assert!(!out.path("timeline.jsonl.lock").exists());
}

/// Resume: "An action that started but has no `step_finished` (the process died during it) is
/// never re-run silently: interactively the operator is asked again".
#[test]
fn a_guided_resume_asks_again_for_an_action_cut_off_mid_run() {
    use std::time::{Duration, Instant};
    let running = Test::new()
        .runbook(
            r#"
            name: cut-off
            title: Killed during an action
            steps:
              - id: reprovision
                title: Reprovision the front ends
                command: {shell: "echo started >> runs.txt; [ -f done ] && exit 0; touch done; sleep 30"}
            "#,
        )
        .args(["run", "--yes"])
        .spawn();
    running.wait_for_event(|e| e["event"] == "step_started" && e["step"] == "reprovision");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(running.path("done")).is_err() {
        assert!(Instant::now() < deadline, "the action never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    running.signal(libc::SIGKILL);
    let out = running.wait();
    // On a terminal it asks again; `a` aborts (exit 3) and nothing is run a second time.
    let out = out
        .then()
        .pty()
        .stdin("a")
        .args(["run", "--resume", TIMELINE])
        .run()
        .status(3)
        .stdout_has(
            "note: this action started before the run stopped; it may already have taken effect",
        )
        .stdout_has("Run this action? [y]es / [s]kip / [n]ote / [a]bort");
    assert_eq!(
        std::fs::read_to_string(out.path("runs.txt")).unwrap(),
        "started\n"
    );
}

// ------------------------------------------------------------------ Reports

/// "**`html`** — [...] a chart of the error rate (`rate_error`: [...]; a sample that sent
/// nothing is left out, never drawn as 0%)".
#[test]
fn the_html_chart_leaves_out_a_sample_that_sent_nothing() {
    let envelope = |seq: u32, ms: u32| {
        format!(r#""seq":{seq},"ts":"2026-11-22T19:00:0{ms}.000Z","run_id":"r1""#)
    };
    let sample = |seq: u32, rate: &str| {
        format!(
            r#"{{{},"event":"step_finished","step":"probe","title":"Probe","outcome":"failed","duration_ms":5,"summary":"s","data":{{"url":"http://lb/x","rate_error":{rate},"p95_ms":{rate}}},"attempt":1,"action":false,"phase":"steps"}}"#,
            envelope(seq, seq)
        )
    };
    let lines = [
        format!(
            r#"{{{},"event":"run_started","runbook":"chart","title":"Chart","file":"chart.yaml","sha256":"0","mode":"non-interactive","dry_run":false,"vars":{{}},"version":"0","actor":"ci","timeline":"t.jsonl"}}"#,
            envelope(1, 1)
        ),
        sample(2, "0.5"),
        sample(3, "null"),
        sample(4, "0.25"),
        format!(
            r#"{{{},"event":"run_finished","outcome":"failed","exit_code":1,"duration_ms":4000,"counts":{{}}}}"#,
            envelope(5, 5)
        ),
    ];
    let out = Test::new()
        .write("t.jsonl", &(lines.join("\n") + "\n"))
        .args(["timeline", "t.jsonl", "--format", "html", "--tz", "UTC"])
        .run()
        .status(0);
    let html = &out.stdout;
    let rate_points: Vec<&str> = html
        .match_indices("<title>")
        .map(|(i, _)| &html[i + 7..])
        .filter_map(|rest| rest.split_once("</title>").map(|(t, _)| t))
        .filter(|t| t.ends_with('%'))
        .collect();
    assert_eq!(rate_points, ["50.0%", "25.0%"], "{html}");
}

/// "Each drill writes its timeline (default directory `timelines/`)."
#[test]
fn a_drill_writes_its_timeline_under_timelines_by_default() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("nothing.yaml"),
        "name: nothing\ntitle: Looks at nothing\nsteps:\n  - {id: look, title: Look, wait: 1ms}\n",
    )
    .unwrap();
    let out = crate::sim::run(
        dir.path(),
        &["drill", "nothing.yaml", "--scenario", "healthy"],
        std::time::Duration::from_secs(60),
    );
    out.code(0);
    let files: Vec<String> = std::fs::read_dir(dir.path().join("timelines"))
        .expect("timelines/ was created")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        files[0].starts_with("nothing-healthy-") && files[0].ends_with(".jsonl"),
        "{files:?}"
    );
    assert_eq!(
        out.line(&["timeline:"]),
        format!("  timeline: timelines/{}", files[0])
    );
}

/// "`runbook sim [SCENARIO]` serves a simulated production environment on `127.0.0.1` (one
/// port; `--listen ADDR`, default an ephemeral port)".
#[test]
fn the_simulator_listens_on_an_ephemeral_loopback_port_by_default() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let vars_path = dir.path().join("vars.yaml");
    let child = crate::sim::command(dir.path())
        .args(["sim", "healthy", "--token", crate::sim::TOKEN, "--vars-out"])
        .arg(&vars_path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("runbook sim starts");
    let _sim = crate::sim::Guard(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    let admin = loop {
        if let Ok(text) = std::fs::read_to_string(&vars_path)
            && let Some(line) = text.lines().find(|l| l.starts_with("admin: "))
        {
            break line["admin: ".len()..].trim_matches('"').to_string();
        }
        assert!(Instant::now() < deadline, "no vars file in 20 s");
        std::thread::sleep(Duration::from_millis(20));
    };
    let base = admin
        .strip_suffix("/admin")
        .expect("admin ends with /admin");
    let port: u16 = base
        .strip_prefix("http://127.0.0.1:")
        .unwrap_or_else(|| panic!("not on 127.0.0.1: {base}"))
        .parse()
        .unwrap();
    assert!(port >= 1024, "{port} is not an ephemeral port");
    let response = crate::sim::request(
        "GET",
        &format!("{base}/lb/api/"),
        &[],
        None,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(response.status, 200);
}
