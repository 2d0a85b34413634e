//! What a `command` step's summary shows of its output, in every place it is read (console,
//! timeline, text, Markdown, HTML and JUnit reports), and when its output was cut at 1 MiB.

use serde_json::Value as Json;

use crate::support::*;

/// Every report of the run's timeline, by format (`runbook timeline FILE --format F`).
fn reports(out: &Output) -> Vec<(&'static str, String)> {
    ["text", "markdown", "html", "junit"]
        .into_iter()
        .map(|format| (format, report(&out.path(TIMELINE), format)))
        .collect()
}

/// `exit 0 in 4 ms: 3 pods ready`: the line, whatever the duration.
fn assert_summary(summary: &Json, head: &str, tail: &str) {
    let text = summary.as_str().unwrap_or_default();
    assert!(
        text.starts_with(head) && text.ends_with(tail),
        "{text:?} is not `{head}…{tail}`"
    );
}

#[test]
fn a_passing_command_shows_its_first_line_in_every_report() {
    let out = Test::new()
        .runbook(
            r#"
            name: pods
            title: Are the pods ready?
            steps:
              - id: pods
                title: Count ready pods
                action: false
                command: {shell: "echo; echo '  3/3 pods ready  '; echo 'NAME READY'; echo 'a warning' >&2"}
              - id: quiet
                title: Only stderr
                action: false
                command: {shell: "echo 'nothing on stdout' >&2"}
              - id: silent
                title: No output at all
                action: false
                command: [true]
            "#,
        )
        .args(["run", "--junit", "run.xml"])
        .run()
        .run_outcome("completed", 0);
    let pods = out.finished("pods");
    assert_summary(&pods["summary"], "exit 0 in ", ": 3/3 pods ready");
    assert_eq!(pods["data"]["stdout_truncated"], false);
    assert_eq!(pods["data"]["stderr_truncated"], false);
    assert_summary(
        &out.finished("quiet")["summary"],
        "exit 0 in ",
        ": nothing on stdout",
    );
    let silent = out.finished("silent")["summary"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        silent.starts_with("exit 0 in ") && !silent.contains(": "),
        "{silent}"
    );

    let line = pods["summary"].as_str().unwrap();
    let out = out.stdout_line(&["Count ready pods", line]);
    for (format, text) in reports(&out) {
        assert!(text.contains(line), "{format} lacks {line:?}:\n{text}");
        assert!(text.contains(": nothing on stdout"), "{format}:\n{text}");
    }
    let junit = std::fs::read_to_string(out.path("run.xml")).unwrap();
    assert!(junit.contains(line), "{junit}");
}

#[test]
fn output_past_the_cap_is_flagged_and_said() {
    let out = Test::new()
        .runbook(
            r#"
            name: big
            title: A command that prints more than 1 MiB
            steps:
              - id: big
                title: Dump everything
                action: false
                command: {shell: "echo 'header line'; head -c 1200000 /dev/zero | tr '\\0' x; head -c 1100000 /dev/zero | tr '\\0' e >&2"}
              - id: exact
                title: Exactly 1 MiB
                action: false
                command: {shell: "head -c 1048576 /dev/zero | tr '\\0' y"}
              - id: judged
                title: Later steps read the flags
                action: false
                command: [true]
                expect: steps.big.stdout_truncated and steps.big.stderr_truncated and not steps.exact.stdout_truncated
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
    let big = out.finished("big");
    let data = &big["data"];
    assert_eq!(data["stdout_truncated"], true);
    assert_eq!(data["stderr_truncated"], true);
    assert_eq!(data["stdout"].as_str().unwrap().len(), 1024 * 1024);
    assert_eq!(data["stderr"].as_str().unwrap().len(), 1024 * 1024);
    assert_summary(
        &big["summary"],
        "exit 0 in ",
        ", stdout truncated at 1 MiB, stderr truncated at 1 MiB: header line",
    );
    out.outcome("judged", "passed");
    let exact = out.outcome("exact", "passed");
    assert_eq!(exact["stdout_truncated"], false);
    assert_eq!(exact["stdout"].as_str().unwrap().len(), 1024 * 1024);

    let line = big["summary"].as_str().unwrap();
    let out = out.stdout_line(&["Dump everything", "stdout truncated at 1 MiB"]);
    for (format, text) in reports(&out) {
        assert!(text.contains(line), "{format} lacks {line:?}:\n{text}");
    }
}

#[test]
fn a_secret_in_the_first_line_is_masked_and_escapes_are_shown() {
    const TOKEN: &str = "cmd-s3cret-T0ken-77";
    let out = Test::new()
        .runbook(
            r#"
            name: secret-output
            title: A command that prints a secret
            secrets: [RB_CMD_TOKEN]
            steps:
              - id: leak
                title: Print the token
                action: false
                command:
                  shell: 'echo "logged in with $RB_CMD_TOKEN as ops"'
                  env: {RB_CMD_TOKEN: "{{ secrets.RB_CMD_TOKEN }}"}
              - id: cut
                title: Print the token where the summary cuts the line
                action: false
                command:
                  shell: 'echo "$(printf %0112d 0) $RB_CMD_TOKEN"'
                  env: {RB_CMD_TOKEN: "{{ secrets.RB_CMD_TOKEN }}"}
              - id: escape
                title: Print an escape sequence
                action: false
                command: {shell: "printf '\\033[2Jscreen cleared\\n'"}
            "#,
        )
        .env("RB_CMD_TOKEN", TOKEN)
        .args(["run"])
        .run()
        .run_outcome("completed", 0)
        .no_secret_anywhere(TOKEN);
    assert_summary(
        &out.finished("leak")["summary"],
        "exit 0 in ",
        ": logged in with *** as ops",
    );
    // Cut after its first seven characters: what is left of it is masked too.
    let cut = out.finished("cut")["summary"].as_str().unwrap().to_string();
    assert!(cut.ends_with(&format!("{} ***…", "0".repeat(112))), "{cut}");
    assert!(!cut.contains(&TOKEN[..7]), "{cut}");
    // The timeline keeps the exact text; the terminal and the reports show the escape.
    assert_summary(
        &out.finished("escape")["summary"],
        "exit 0 in ",
        ": \u{1b}[2Jscreen cleared",
    );
    assert!(!out.stdout.contains('\u{1b}'), "{}", out.stdout);
    let out = out.stdout_line(&["Print an escape sequence", ": \\x1b[2Jscreen cleared"]);
    for (format, text) in reports(&out) {
        assert!(!text.contains('\u{1b}'), "{format}:\n{text}");
        assert!(text.contains("\\x1b[2Jscreen cleared"), "{format}:\n{text}");
        assert!(
            text.contains("logged in with *** as ops"),
            "{format}:\n{text}"
        );
    }
}
