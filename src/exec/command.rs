//! The `command` executor: runs a program or a shell script with a timeout.
//!
//! Result fields (visible as `steps.<id>.<field>`):
//! - `exit_code`: the exit status; null when killed by a signal or timed out.
//! - `stdout`, `stderr`: what the command printed (lossy UTF-8, first 1 MiB of each).
//! - `stdout_truncated`, `stderr_truncated`: whether that stream was longer than 1 MiB. The
//!   rest is read and dropped (the command never blocks on a full pipe), and the summary says
//!   `stdout truncated at 1 MiB`.
//! - `json`: `stdout` parsed as JSON, or null.
//! - `timed_out`: whether the timeout was reached (the command and everything it started are
//!   then killed).
//! - `signal`: the signal that ended the command, or null.
//! - `duration_ms`: wall time, 0.1 ms resolution.
//!
//! The summary leads with how the command ended and then shows one line of its output: for a
//! passing command the first non-empty line of stdout (of stderr when stdout has none), for a
//! failing one the last non-empty line of stderr; at most [`SHOWN_CHARS`] characters of it.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Map, Value as Json};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::{sleep, sleep_until};

use super::http;
use super::supervise::{self, Status};
use super::{BODY_CAP, CommandRequest, ExecError, ExecOutput, Partial, Program};
use crate::duration;

/// How long output may keep flowing after the command exits, from background children that
/// inherited its pipes, before the step stops listening.
const OUTPUT_GRACE: Duration = Duration::from_millis(500);

/// How much of a line of output the summary shows: a report's line, not the output.
const SHOWN_CHARS: usize = 120;

/// Runs the command; a command that cannot be started is an `ExecError`, everything after
/// that (exit codes, signals, timeouts) is data.
pub async fn run(req: &CommandRequest, partial: &Partial) -> Result<ExecOutput, ExecError> {
    let (program, args): (&str, Vec<&str>) = match &req.program {
        Program::Argv(argv) => match argv.split_first() {
            Some((first, rest)) => (first.as_str(), rest.iter().map(String::as_str).collect()),
            None => return Err(ExecError("cannot start an empty command".into())),
        },
        Program::Shell(script) => ("sh", vec!["-c", script.as_str()]),
    };
    if let Some(cwd) = &req.cwd
        && !Path::new(cwd).is_dir()
    {
        return Err(ExecError(format!(
            "cannot start `{program}`: working directory `{cwd}` does not exist"
        )));
    }

    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + req.timeout;
    // Under a supervisor, so that everything the command starts dies with the step's timeout,
    // an interrupt (this future dropped) or runbook itself (see supervise.rs).
    let mut child = supervise::spawn(program, &args, &req.env, req.cwd.as_deref())
        .await
        .map_err(|e| {
            ExecError(format!(
                "cannot start `{program}`: {}",
                http::clean_os_message(&e.to_string())
            ))
        })?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();

    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut timed_out = false;
    let mut out_truncated = false;
    let mut err_truncated = false;
    let status: Option<Status> = {
        let reading = async {
            tokio::join!(
                read_capped(stdout, &mut out, &mut out_truncated, partial, false),
                read_capped(stderr, &mut err, &mut err_truncated, partial, true)
            );
        };
        tokio::pin!(reading);
        let mut output_closed = false;
        let exited = loop {
            tokio::select! {
                status = child.status() => break Some(status),
                () = &mut reading, if !output_closed => output_closed = true,
                () = sleep_until(deadline) => break None,
            }
        };
        let status = match exited {
            Some(status) => {
                // The command ended by itself: what it left running in the background lives
                // on until runbook ends.
                child.linger();
                status
            }
            None => {
                timed_out = true;
                child.kill().await
            }
        };
        // Background children may hold the pipes open; give their output a moment, then stop
        // listening rather than wait for them.
        if !output_closed {
            tokio::select! {
                () = &mut reading => {}
                () = sleep(OUTPUT_GRACE) => {}
            }
        }
        status
    };

    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out).into_owned();
    let stderr = String::from_utf8_lossy(&err).into_owned();
    let exit_code = if timed_out {
        None
    } else {
        status.and_then(|s| s.code)
    };
    let signal = status.and_then(|s| s.signal);
    let summary = summarise(
        &Ending {
            timeout: req.timeout,
            elapsed,
            timed_out,
            exit_code,
            signal,
        },
        Output {
            stdout: &stdout,
            stderr: &stderr,
            stdout_truncated: out_truncated,
            stderr_truncated: err_truncated,
        },
    );

    let mut fields = Map::new();
    fields.insert("exit_code".into(), exit_code.into());
    fields.insert(
        "json".into(),
        serde_json::from_str::<Json>(&stdout).unwrap_or(Json::Null),
    );
    fields.insert("stdout".into(), stdout.into());
    fields.insert("stderr".into(), stderr.into());
    fields.insert("stdout_truncated".into(), out_truncated.into());
    fields.insert("stderr_truncated".into(), err_truncated.into());
    fields.insert("timed_out".into(), timed_out.into());
    fields.insert("signal".into(), signal.into());
    fields.insert(
        "duration_ms".into(),
        http::round_ms(elapsed.as_secs_f64() * 1000.0).into(),
    );
    Ok(ExecOutput {
        fields,
        summary,
        ok: exit_code == Some(0),
    })
}

/// How the command ended.
struct Ending {
    timeout: Duration,
    elapsed: Duration,
    timed_out: bool,
    exit_code: Option<i32>,
    signal: Option<i32>,
}

/// What it printed, as kept.
struct Output<'a> {
    stdout: &'a str,
    stderr: &'a str,
    stdout_truncated: bool,
    stderr_truncated: bool,
}

/// `exit 0 in 12 ms: 3 pods ready`, `exit 3 in 40 ms: Error: deployment "api" not found`,
/// `exit 0 in 2.1 s, stdout truncated at 1 MiB: xxxx…`, `timed out after 5 s (killed)`.
fn summarise(ending: &Ending, output: Output<'_>) -> String {
    let mut line = if ending.timed_out {
        format!(
            "timed out after {} (killed)",
            http::short_duration(ending.timeout)
        )
    } else {
        let took = duration::human(ending.elapsed);
        match (ending.exit_code, ending.signal) {
            (Some(code), _) => format!("exit {code} in {took}"),
            (None, Some(signal)) => format!("killed by signal {signal} after {took}"),
            (None, None) => format!("ended without a status after {took}"),
        }
    };
    let cap = format!("{} MiB", BODY_CAP / (1024 * 1024));
    for (name, truncated) in [
        ("stdout", output.stdout_truncated),
        ("stderr", output.stderr_truncated),
    ] {
        if truncated {
            line.push_str(&format!(", {name} truncated at {cap}"));
        }
    }
    if ending.timed_out {
        return line;
    }
    // A passing command's answer is what it printed first (`kubectl get` prints its header,
    // `curl` the body); a failing one's reason is what it printed to stderr last.
    let compact;
    let shown = if ending.exit_code == Some(0) {
        match first_line(output.stdout) {
            // Pretty-printed JSON (`aws ... --output json`, `kubectl -o json`) starts with a
            // line that says nothing; its start on one line does.
            Some("{" | "[") => {
                compact = compact_json(output.stdout);
                compact.as_deref().or_else(|| first_line(output.stdout))
            }
            Some(line) => Some(line),
            None => first_line(output.stderr),
        }
    } else {
        output
            .stderr
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
    };
    if let Some(shown) = shown {
        line.push_str(": ");
        line.push_str(&shorten(shown));
    }
    line
}

/// A JSON document on one line, when `text` is one.
fn compact_json(text: &str) -> Option<String> {
    serde_json::from_str::<Json>(text)
        .ok()
        .map(|value| value.to_string())
}

/// The first line with something on it. A carriage return ends a line too: a progress bar
/// redraws itself with them, and only its first state is a line.
fn first_line(text: &str) -> Option<&str> {
    text.split(['\n', '\r'])
        .map(str::trim)
        .find(|l| !l.is_empty())
}

/// At most [`SHOWN_CHARS`] characters, with `…` where it was cut (the redactor masks a secret
/// cut off there, see `redact`).
fn shorten(line: &str) -> String {
    let mut shown: String = line.chars().take(SHOWN_CHARS).collect();
    if shown.len() < line.len() {
        shown.push('…');
    }
    shown
}

/// Reads a stream to its end, keeping the first `BODY_CAP` bytes and discarding the rest, so
/// the child never blocks on a full pipe; `truncated` says whether anything was discarded.
async fn read_capped(
    stream: Option<impl AsyncRead + Unpin>,
    kept: &mut Vec<u8>,
    truncated: &mut bool,
    partial: &Partial,
    is_stderr: bool,
) {
    let Some(mut stream) = stream else { return };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let room = BODY_CAP.saturating_sub(kept.len());
                *truncated |= n > room;
                kept.extend_from_slice(&buf[..n.min(room)]);
                // Kept outside this future too, for a step cut short by Ctrl-C.
                partial.append(is_stderr, &buf[..n.min(room)]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run_test(req: &CommandRequest) -> Result<ExecOutput, ExecError> {
        run(req, &Partial::default()).await
    }

    fn argv(args: &[&str]) -> CommandRequest {
        CommandRequest {
            program: Program::Argv(args.iter().map(|s| s.to_string()).collect()),
            env: vec![],
            cwd: None,
            timeout: Duration::from_secs(10),
        }
    }

    fn shell(script: &str) -> CommandRequest {
        CommandRequest {
            program: Program::Shell(script.to_string()),
            env: vec![],
            cwd: None,
            timeout: Duration::from_secs(10),
        }
    }

    #[tokio::test]
    async fn argv_runs_the_program_from_path() {
        let out = run_test(&argv(&["echo", "hello", "$HOME"])).await.unwrap();
        assert!(out.ok);
        assert_eq!(out.fields["exit_code"], 0);
        assert_eq!(out.fields["stdout"], "hello $HOME\n");
        assert_eq!(out.fields["stderr"], "");
        assert_eq!(out.fields["timed_out"], false);
        assert_eq!(out.fields["signal"], Json::Null);
        assert!(out.fields["duration_ms"].as_f64().unwrap() > 0.0);
        assert!(out.summary.starts_with("exit 0 in "), "{}", out.summary);
    }

    #[tokio::test]
    async fn shell_script_with_json_output() {
        let out = run_test(&shell(r#"printf '{"pods": %d}' $((2 + 1))"#))
            .await
            .unwrap();
        assert_eq!(out.fields["json"]["pods"], 3);
        assert!(out.ok);
    }

    #[tokio::test]
    async fn nonzero_exit_shows_the_last_stderr_line() {
        let out = run_test(&shell(
            "echo first >&2; echo 'Error: deployment \"api\" not found' >&2; echo >&2; exit 3",
        ))
        .await
        .unwrap();
        assert!(!out.ok);
        assert_eq!(out.fields["exit_code"], 3);
        assert!(
            out.summary.starts_with("exit 3 in ")
                && out
                    .summary
                    .ends_with(": Error: deployment \"api\" not found"),
            "{}",
            out.summary
        );
    }

    #[tokio::test]
    async fn env_and_cwd_apply() {
        let dir = tempfile::tempdir().unwrap();
        let mut req = shell(
            "echo \"$RUNBOOK_TEST_VAR $(pwd)\"; echo \"$PATH\" | grep -q / && echo inherited",
        );
        req.env = vec![("RUNBOOK_TEST_VAR".into(), "blue-green".into())];
        req.cwd = Some(dir.path().to_string_lossy().into_owned());
        let out = run_test(&req).await.unwrap();
        let canonical = dir.path().canonicalize().unwrap();
        assert_eq!(
            out.fields["stdout"],
            format!("blue-green {}\ninherited\n", canonical.display())
        );
    }

    #[tokio::test]
    async fn timeout_kills_quickly() {
        let mut req = argv(&["sleep", "30"]);
        req.timeout = Duration::from_millis(300);
        let started = Instant::now();
        let out = run_test(&req).await.unwrap();
        let elapsed = started.elapsed();
        // 30 s if the kill failed; the ~300 ms it takes is a figure for the benchmarks, the
        // bound leaves room for a loaded machine.
        assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
        assert!(!out.ok);
        assert_eq!(out.fields["timed_out"], true);
        assert_eq!(out.fields["exit_code"], Json::Null);
        assert_eq!(out.fields["signal"], libc::SIGKILL);
        assert_eq!(out.summary, "timed out after 300 ms (killed)");
    }

    /// Whether a process is gone (a zombie waiting for its reaper counts as gone).
    fn gone(pid: &str) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        }
    }

    #[tokio::test]
    async fn timeout_kills_background_children_too() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("child.pid");
        // The background child holds stdout too, so the step would otherwise wait for it.
        let script = format!("sleep 30 & echo $! > '{}'; wait", pid_file.display());
        let mut req = shell(&script);
        req.timeout = Duration::from_millis(300);
        let started = Instant::now();
        let out = run_test(&req).await.unwrap();
        assert!(started.elapsed() < Duration::from_millis(2000));
        assert_eq!(out.fields["timed_out"], true);
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let pid = pid.trim();
        assert!(!pid.is_empty());
        let mut waited = Duration::ZERO;
        while !gone(pid) && waited < Duration::from_secs(2) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            waited += Duration::from_millis(20);
        }
        assert!(gone(pid), "background child {pid} survived the timeout");
    }

    #[tokio::test]
    async fn a_cancelled_step_kills_the_command_and_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("child.pid");
        let script = format!("sleep 30 & echo $! > '{}'; wait", pid_file.display());
        let req = shell(&script);
        // Cancel the step the way Ctrl-C does: drop the running future.
        let cancelled = tokio::time::timeout(Duration::from_millis(300), run_test(&req)).await;
        assert!(
            cancelled.is_err(),
            "the command should still have been running"
        );
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let pid = pid.trim().to_string();
        let mut waited = Duration::ZERO;
        while !gone(&pid) && waited < Duration::from_secs(2) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            waited += Duration::from_millis(20);
        }
        assert!(
            gone(&pid),
            "background child {pid} survived the cancelled step"
        );
    }

    #[tokio::test]
    async fn background_child_holding_the_pipe_does_not_stall_the_step() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("child.pid");
        let script = format!(
            "echo started; sleep 30 & echo $! > '{}'",
            pid_file.display()
        );
        let started = Instant::now();
        let out = run_test(&shell(&script)).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(out.fields["exit_code"], 0);
        assert_eq!(out.fields["stdout"], "started\n");
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        // Not ours to keep running beyond the test.
        let _ = std::process::Command::new("kill").arg(pid.trim()).status();
    }

    #[tokio::test]
    async fn output_is_capped_without_blocking_the_child() {
        let out = run_test(&shell(
            "head -c 3000000 /dev/zero | tr '\\0' x; echo done >&2",
        ))
        .await
        .unwrap();
        assert_eq!(out.fields["exit_code"], 0);
        assert_eq!(out.fields["stdout"].as_str().unwrap().len(), BODY_CAP);
        assert_eq!(out.fields["stdout_truncated"], true);
        assert_eq!(out.fields["stderr"], "done\n");
        assert_eq!(out.fields["stderr_truncated"], false);
        let shown = format!("{}…", "x".repeat(SHOWN_CHARS));
        assert!(
            out.summary.starts_with("exit 0 in ")
                && out
                    .summary
                    .ends_with(&format!(", stdout truncated at 1 MiB: {shown}")),
            "{}",
            out.summary
        );

        // Exactly the cap is all of it.
        let out = run_test(&shell("head -c 1048576 /dev/zero | tr '\\0' y"))
            .await
            .unwrap();
        assert_eq!(out.fields["stdout"].as_str().unwrap().len(), BODY_CAP);
        assert_eq!(out.fields["stdout_truncated"], false);
        assert!(!out.summary.contains("truncated"), "{}", out.summary);
    }

    #[tokio::test]
    async fn a_passing_command_shows_its_first_line_of_output() {
        let out = run_test(&shell("echo; echo '  3 pods ready  '; echo second"))
            .await
            .unwrap();
        assert!(
            out.summary.starts_with("exit 0 in ") && out.summary.ends_with(": 3 pods ready"),
            "{}",
            out.summary
        );
        // Nothing on stdout: stderr's first line.
        let out = run_test(&shell("echo 'warning: deprecated flag' >&2"))
            .await
            .unwrap();
        assert!(
            out.summary.ends_with(" ms: warning: deprecated flag")
                || out.summary.ends_with(" s: warning: deprecated flag"),
            "{}",
            out.summary
        );
        // Nothing at all: the exit alone.
        let out = run_test(&argv(&["true"])).await.unwrap();
        assert!(!out.summary.contains(": "), "{}", out.summary);
        // A progress bar's carriage returns end lines too.
        let out = run_test(&shell("printf '10%%\\r50%%\\r100%%\\n'"))
            .await
            .unwrap();
        assert!(out.summary.ends_with(": 10%"), "{}", out.summary);
        // Pretty-printed JSON shows its start on one line, not a lone `{`.
        let out = run_test(&shell(
            "printf '{\\n  \"TargetHealthDescriptions\": [\\n    {\"State\": \"unused\"}\\n  ]\\n}\\n'",
        ))
        .await
        .unwrap();
        assert!(
            out.summary
                .ends_with(r#": {"TargetHealthDescriptions":[{"State":"unused"}]}"#),
            "{}",
            out.summary
        );
        // Output that only starts like JSON keeps its first line.
        let out = run_test(&shell("printf '[\\nnot json\\n'")).await.unwrap();
        assert!(out.summary.ends_with(": ["), "{}", out.summary);
    }

    #[tokio::test]
    async fn killed_by_a_signal_has_no_exit_code() {
        let out = run_test(&shell("kill -TERM $$")).await.unwrap();
        assert_eq!(out.fields["exit_code"], Json::Null);
        assert_eq!(out.fields["signal"], libc::SIGTERM);
        assert_eq!(out.fields["timed_out"], false);
        assert!(!out.ok);
        assert!(
            out.summary.starts_with("killed by signal 15"),
            "{}",
            out.summary
        );
    }

    #[tokio::test]
    async fn programs_that_cannot_start_are_exec_errors() {
        let err = run_test(&argv(&["runbook-no-such-program-xyz"]))
            .await
            .unwrap_err();
        assert_eq!(
            err.0,
            "cannot start `runbook-no-such-program-xyz`: No such file or directory"
        );
        let mut req = argv(&["true"]);
        req.cwd = Some("/no/such/dir".into());
        let err = run_test(&req).await.unwrap_err();
        assert!(err.0.contains("working directory `/no/such/dir`"), "{err}");
        let err = run_test(&argv(&[])).await.unwrap_err();
        assert!(err.0.contains("empty"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let not_exec = dir.path().join("script.sh");
        std::fs::write(&not_exec, "#!/bin/sh\necho hi\n").unwrap();
        let err = run_test(&argv(&[not_exec.to_str().unwrap()]))
            .await
            .unwrap_err();
        assert!(err.0.ends_with(": Permission denied"), "{err}");
    }
}
