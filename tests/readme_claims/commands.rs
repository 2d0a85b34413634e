//! README sections "Quick start", "Commands" (`runbook run` flags) and "Non-interactive output".

use serde_json::{Value as Json, json};

use crate::support::*;

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
    // What CI env files write: `1`, `yes`, `on` switch on; `0`, `no`, `off` switch off.
    for (value, dry_run) in [
        ("1", true),
        ("yes", true),
        ("on", true),
        ("0", false),
        ("no", false),
        ("off", false),
    ] {
        let timeline = format!("dry-{value}.jsonl");
        let out = Test::new()
            .runbook(rb)
            .env("RUNBOOK_DRY_RUN", value)
            .env("RUNBOOK_YES", "1")
            .args(["run", "--timeline", &timeline])
            .run()
            .status(0);
        let text = std::fs::read_to_string(out.path(&timeline)).unwrap();
        assert_eq!(
            parse_timeline(&text)[0]["dry_run"],
            dry_run,
            "RUNBOOK_DRY_RUN={value}"
        );
    }
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
