//! Test helpers: a fluent builder that runs the real `runbook` binary in a temporary directory,
//! and a real HTTP server on 127.0.0.1 for the steps to talk to.
//!
//! ```ignore
//! Test::new()
//!     .runbook("name: x ...")
//!     .args(["run", "--yes"])
//!     .run()
//!     .status(0)
//!     .stdout_has("PASSED");
//! ```
//!
//! A `run` command gets `runbook.yaml` as its file and `--timeline timeline.jsonl` unless the
//! test names a file or a timeline itself. Every run has `CI` and the proxy variables removed,
//! `NO_COLOR=1` and a null stdin (so it is non-interactive), and is killed after a deadline so a
//! hang fails the test instead of stalling the suite.

mod daemon;
pub mod forms;
mod python;
mod serve;
mod server;
mod system;
mod terminal;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tempfile::TempDir;

pub use daemon::{Daemon, free_port, http_status};
pub use python::venv_program;
pub use serve::{Serving, TOKEN, notification};
pub use server::{HOSTILE, Served, Server};
pub use system::require;
pub use terminal::{Terminal, plain};

/// A check, an action, a check again, and cleanup that must run however the run ends
/// (approvals, `runbook serve`); `$SERVER` is the test server.
pub const GUARDED: &str = r#"
    name: guarded
    title: A guarded action
    steps:
      - id: look
        title: Look
        http: {url: "$SERVER/status/200", timeout: 2s}
      - id: act
        title: Restart the pool
        http: {url: "$SERVER/echo", method: POST, timeout: 2s}
      - id: after
        title: Look again
        http: {url: "$SERVER/status/204", timeout: 2s}
    finally:
      - id: tidy
        title: Tidy
        action: false
        command: {argv: [touch, tidy.txt]}
    "#;

/// The file every test's runbook is written to.
pub const RUNBOOK: &str = "runbook.yaml";
/// The timeline passed with `--timeline` unless the test says otherwise.
pub const TIMELINE: &str = "timeline.jsonl";

/// A run that holds its timeline (step `hold`, a check) until a file `go` appears in its
/// directory: for what happens while a run is in progress.
pub const HELD: &str = r#"
    name: held
    title: Held
    steps:
      - id: hold
        title: Hold
        action: false
        command: {shell: "while [ ! -f go ]; do sleep 0.05; done", timeout: 20s}
    "#;

/// How long one invocation may take before it is killed and the test fails.
const DEADLINE: Duration = Duration::from_secs(30);

/// The variables that send HTTP through a proxy (reqwest reads them; curl-style lowercase and
/// uppercase). A developer's proxy would otherwise receive the requests meant for the test
/// servers on 127.0.0.1, and the http steps would leave the fast sampling path.
pub const PROXY_VARS: [&str; 8] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// The binary as the tests start it beside the builder (a second process, a simulator): see
/// [`clean`].
pub fn clean_command(cwd: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_runbook"));
    clean(&mut command, cwd);
    command
}

/// In `cwd`, with a null stdin and piped output, no CI detection and no colour; flags read
/// from the environment (`RUNBOOK_*`) and proxy variables must come from the test, not from
/// the shell that runs it.
pub fn clean(command: &mut Command, cwd: &Path) {
    command
        .current_dir(cwd)
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars() {
        if key.starts_with("RUNBOOK_") {
            command.env_remove(key);
        }
    }
    for key in PROXY_VARS {
        command.env_remove(key);
    }
}

/// Removes the indentation common to every non-blank line, so runbooks can be written indented
/// inside a test; a leading newline and trailing spaces are dropped.
pub fn unindent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out = String::new();
    for line in text.lines() {
        out.push_str(line.get(indent..).unwrap_or("").trim_end());
        out.push('\n');
    }
    out
}

/// One invocation of the binary, and the directory it runs in.
pub struct Test {
    dir: TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
    env_remove: Vec<String>,
    stdin: Option<Vec<u8>>,
    default_timeline: bool,
    server: Option<String>,
    pty: bool,
    under: Vec<String>,
}

impl Default for Test {
    fn default() -> Self {
        Self::new()
    }
}

impl Test {
    pub fn new() -> Self {
        Self::in_dir(
            tempfile::Builder::new()
                .prefix("runbook-test")
                .tempdir()
                .unwrap(),
        )
    }

    fn in_dir(dir: TempDir) -> Self {
        Test {
            dir,
            args: Vec::new(),
            env: Vec::new(),
            env_remove: Vec::new(),
            stdin: None,
            default_timeline: false,
            server: None,
            pty: false,
            under: Vec::new(),
        }
    }

    /// Writes the runbook to `runbook.yaml` (unindented). `$SERVER` is replaced by the URL of
    /// the server given with [`Test::server`].
    pub fn runbook(self, yaml: &str) -> Self {
        self.write(RUNBOOK, yaml)
    }

    /// Writes a file in the test directory (unindented); `$SERVER` is replaced as in `runbook`.
    pub fn write(self, path: &str, text: &str) -> Self {
        let mut text = unindent(text);
        if let Some(url) = &self.server {
            text = text.replace("$SERVER", url);
        }
        assert!(
            !text.contains("$SERVER"),
            "{path} uses $SERVER: call .server() before writing it"
        );
        let full = self.dir.path().join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(full, text).unwrap();
        self
    }

    /// The server whose URL replaces `$SERVER` in files written after this.
    pub fn server(mut self, server: &Server) -> Self {
        self.server = Some(server.url());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Removes a variable the builder would set (`NO_COLOR`) or the test runner has.
    pub fn env_remove(mut self, key: &str) -> Self {
        self.env_remove.push(key.into());
        self
    }

    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// Leaves out `--timeline`, so the binary picks its default path.
    pub fn default_timeline(mut self) -> Self {
        self.default_timeline = true;
        self
    }

    /// Runs the binary on a pseudo-terminal (through util-linux `script`), so it runs guided;
    /// stdin (from [`Test::stdin`]) is typed into the terminal. stdout and stderr both arrive
    /// on stdout.
    pub fn pty(mut self) -> Self {
        require("script", "bsdutils");
        self.pty = true;
        self
    }

    /// Runs the binary through another program (`strace ... --`), which gets the binary and its
    /// arguments after `wrapper`.
    pub fn under<I, S>(mut self, wrapper: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.under = wrapper.into_iter().map(Into::into).collect();
        self
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The arguments as the binary gets them: a `run` without a file gets `runbook.yaml`, and
    /// without `--timeline`/`--resume` gets `--timeline timeline.jsonl`.
    fn full_args(&self) -> Vec<String> {
        let mut args = self.args.clone();
        if args.first().map(String::as_str) == Some("run") {
            let has_file = args.get(1).is_some_and(|a| !a.starts_with('-'));
            if !has_file {
                args.insert(1, RUNBOOK.into());
            }
            let names_timeline = args.iter().any(|a| a == "--timeline" || a == "--resume");
            if !names_timeline && !self.default_timeline {
                args.push("--timeline".into());
                args.push(TIMELINE.into());
            }
        }
        args
    }

    fn command(&self) -> Command {
        let binary = env!("CARGO_BIN_EXE_runbook");
        let mut command = if self.pty {
            let line = std::iter::once(binary.to_string())
                .chain(self.full_args())
                .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
                .collect::<Vec<_>>()
                .join(" ");
            let mut script = Command::new("script");
            script.args(["-qec", &line, "/dev/null"]);
            script
        } else if let Some((program, wrapper_args)) = self.under.split_first() {
            let mut command = Command::new(program);
            command
                .args(wrapper_args)
                .arg(binary)
                .args(self.full_args());
            command
        } else {
            let mut command = Command::new(binary);
            command.args(self.full_args());
            command
        };
        clean(&mut command, self.dir.path());
        if self.stdin.is_some() {
            command.stdin(Stdio::piped());
        }
        for key in &self.env_remove {
            command.env_remove(key);
        }
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    /// Starts the binary and returns while it runs.
    pub fn spawn(self) -> Running {
        let args = self.full_args();
        let mut child = self.command().spawn().expect("the runbook binary starts");
        if let Some(input) = &self.stdin {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(input).unwrap();
        }
        let stdout = reader(child.stdout.take().unwrap());
        let stderr = reader(child.stderr.take().unwrap());
        Running {
            child,
            stdout,
            stderr,
            started: Instant::now(),
            args,
            dir: self.dir,
        }
    }

    /// Runs the binary to the end.
    pub fn run(self) -> Output {
        self.spawn().wait()
    }
}

fn reader(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// A binary that is still running.
pub struct Running {
    child: Child,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
    started: Instant,
    args: Vec<String>,
    dir: TempDir,
}

impl Running {
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Sends a signal (e.g. `libc::SIGINT`) to the process.
    pub fn signal(&self, signal: i32) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits until the timeline has an event for which `pred` holds.
    pub fn wait_for_event(&self, pred: impl Fn(&Json) -> bool) {
        let path = self.dir.path().join(TIMELINE);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(text) = std::fs::read_to_string(&path)
                && text
                    .lines()
                    .filter_map(|l| serde_json::from_str::<Json>(l).ok())
                    .any(|e| pred(&e))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the awaited event never reached {}", path.display());
    }

    pub fn wait(mut self) -> Output {
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if self.started.elapsed() > DEADLINE {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "`runbook {}` did not finish in {DEADLINE:?}; stderr:\n{}",
                    self.args.join(" "),
                    self.stderr.join().unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        Output {
            status,
            elapsed: self.started.elapsed(),
            stdout: self.stdout.join().unwrap(),
            stderr: self.stderr.join().unwrap(),
            args: self.args,
            dir: self.dir,
        }
    }
}

/// What a finished invocation did; the assertions print everything on failure.
pub struct Output {
    pub status: ExitStatus,
    pub elapsed: Duration,
    pub stdout: String,
    pub stderr: String,
    args: Vec<String>,
    dir: TempDir,
}

impl Output {
    fn context(&self) -> String {
        let timeline = std::fs::read_to_string(self.dir.path().join(TIMELINE)).unwrap_or_default();
        format!(
            "`runbook {}` exited with {:?}\n--- stdout ---\n{}--- stderr ---\n{}--- timeline ---\n{}",
            self.args.join(" "),
            self.status.code(),
            self.stdout,
            self.stderr,
            timeline
        )
    }

    /// Asserts the exit code.
    pub fn status(self, code: i32) -> Self {
        assert_eq!(
            self.status.code(),
            Some(code),
            "unexpected exit code\n{}",
            self.context()
        );
        self
    }

    pub fn stdout_has(self, text: &str) -> Self {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}\n{}",
            self.context()
        );
        self
    }

    pub fn stdout_lacks(self, text: &str) -> Self {
        assert!(
            !self.stdout.contains(text),
            "stdout has {text:?}\n{}",
            self.context()
        );
        self
    }

    pub fn stderr_has(self, text: &str) -> Self {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}\n{}",
            self.context()
        );
        self
    }

    pub fn stderr_lacks(self, text: &str) -> Self {
        assert!(
            !self.stderr.contains(text),
            "stderr has {text:?}\n{}",
            self.context()
        );
        self
    }

    /// Asserts a line of stdout contains every one of `parts`.
    pub fn stdout_line(self, parts: &[&str]) -> Self {
        assert!(
            self.stdout
                .lines()
                .any(|l| parts.iter().all(|p| l.contains(p))),
            "no stdout line has all of {parts:?}\n{}",
            self.context()
        );
        self
    }

    /// Asserts `secret` is in no output of the run in any form the redactor promises to mask
    /// (see [`forms::forms`]): stdout, stderr, every timeline (`*.jsonl`) in the test directory,
    /// every report of each timeline (`runbook timeline FILE --format F` for every format, run
    /// with the real binary) and every JUnit file (`*.xml`).
    pub fn no_secret_anywhere(self, secret: &str) -> Self {
        self.no_secret_anywhere_for(secret, &[])
    }

    /// [`Output::no_secret_anywhere`], also looking for the base64 of `user:secret` (an echoed
    /// `Authorization: Basic` header) for each of `users`.
    pub fn no_secret_anywhere_for(self, secret: &str, users: &[&str]) -> Self {
        for (place, text) in self.every_output() {
            if let Some((what, form)) = forms::find(&text, secret, users) {
                panic!(
                    "{place} has the secret {secret:?} ({what}: {form:?}):\n{text}\n{}",
                    self.context()
                );
            }
        }
        self
    }

    /// `(where, text)` for everything the run left for people and programs to read.
    pub fn every_output(&self) -> Vec<(String, String)> {
        let mut outputs = vec![
            ("stdout".to_string(), self.stdout.clone()),
            ("stderr".to_string(), self.stderr.clone()),
        ];
        let files = files_under(self.dir.path());
        let timelines: Vec<&PathBuf> = files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "jsonl"))
            .collect();
        assert!(
            !timelines.is_empty(),
            "no timeline written\n{}",
            self.context()
        );
        for file in &files {
            if file.extension().is_some_and(|e| e == "jsonl" || e == "xml") {
                let text = String::from_utf8_lossy(&std::fs::read(file).unwrap()).into_owned();
                outputs.push((file.display().to_string(), text));
            }
        }
        for timeline in timelines {
            for format in ["text", "markdown", "json", "junit", "html"] {
                let report = Command::new(env!("CARGO_BIN_EXE_runbook"))
                    .arg("timeline")
                    .arg(timeline)
                    .args(["--format", format])
                    .current_dir(self.dir.path())
                    .env("NO_COLOR", "1")
                    .stdin(Stdio::null())
                    .output()
                    .expect("the runbook binary starts");
                let stdout = String::from_utf8_lossy(&report.stdout).into_owned();
                let stderr = String::from_utf8_lossy(&report.stderr).into_owned();
                // A report that failed would hide a secret by showing nothing.
                assert!(
                    report.status.success() && !stdout.trim().is_empty(),
                    "`runbook timeline {} --format {format}` failed: {stderr}",
                    timeline.display()
                );
                let place = format!("`timeline {} --format {format}`", timeline.display());
                outputs.push((format!("{place} stderr"), stderr));
                outputs.push((place, stdout));
            }
        }
        outputs
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The raw text of the timeline.
    pub fn timeline_text(&self) -> String {
        std::fs::read_to_string(self.path(TIMELINE))
            .unwrap_or_else(|e| panic!("no timeline: {e}\n{}", self.context()))
    }

    /// Every event of the timeline; each line must be JSON.
    pub fn timeline(&self) -> Vec<Json> {
        parse_timeline(&self.timeline_text())
    }

    /// The events named `name`, in order.
    pub fn events(&self, name: &str) -> Vec<Json> {
        self.timeline()
            .into_iter()
            .filter(|e| e["event"] == name)
            .collect()
    }

    /// The last `step_finished` of step `id`.
    pub fn finished(&self, id: &str) -> Json {
        self.timeline()
            .into_iter()
            .rev()
            .find(|e| e["event"] == "step_finished" && e["step"] == id)
            .unwrap_or_else(|| panic!("step `{id}` never finished\n{}", self.context()))
    }

    /// Asserts the outcome of step `id` and returns its `data`.
    pub fn outcome(&self, id: &str, outcome: &str) -> Json {
        let finished = self.finished(id);
        assert_eq!(
            finished["outcome"],
            outcome,
            "outcome of `{id}`\n{}",
            self.context()
        );
        finished["data"].clone()
    }

    /// Asserts the step never started.
    pub fn not_started(&self, id: &str) {
        assert!(
            !self
                .timeline()
                .iter()
                .any(|e| e["event"] == "step_started" && e["step"] == id),
            "step `{id}` started\n{}",
            self.context()
        );
    }

    /// The `run_finished` event of the last invocation, asserting that `seq` runs 1, 2, 3, ...
    /// without a gap or a repeat over the whole timeline, and that each invocation's part
    /// (from its `run_started` or `run_resumed`) has at most one `run_finished`, as its last
    /// event: exactly one for the last, which ends the timeline. (A resumed run's timeline
    /// holds one part per invocation; a part cut off by a crash has none.)
    pub fn run_finished(&self) -> Json {
        let timeline = self.timeline();
        let seqs: Vec<&Json> = timeline.iter().map(|e| &e["seq"]).collect();
        let expected: Vec<Json> = (1..=timeline.len() as u64).map(Json::from).collect();
        assert!(
            seqs.iter().zip(&expected).all(|(a, b)| *a == b),
            "seq is not 1, 2, 3, ...: {seqs:?}\n{}",
            self.context()
        );
        let starts: Vec<usize> = (0..timeline.len())
            .filter(|&i| {
                ["run_started", "run_resumed"]
                    .contains(&timeline[i]["event"].as_str().unwrap_or(""))
            })
            .collect();
        assert_eq!(
            starts.first(),
            Some(&0),
            "the timeline does not begin with run_started\n{}",
            self.context()
        );
        // Notes, milestones, approvals and denials may be appended after a run ended (`runbook
        // note`, `runbook approve`): they do not count as the invocation's events.
        let appended = |i: usize| {
            ["note", "milestone", "approval", "denial"]
                .contains(&timeline[i]["event"].as_str().unwrap_or(""))
        };
        let ends = starts.iter().skip(1).copied().chain([timeline.len()]);
        let mut last_finished = None;
        for (n, (start, end)) in starts.iter().copied().zip(ends).enumerate() {
            let mut end = end;
            while end > start + 1 && appended(end - 1) {
                end -= 1;
            }
            let finished: Vec<usize> = (start..end)
                .filter(|&i| timeline[i]["event"] == "run_finished")
                .collect();
            last_finished = finished.last().copied().or(last_finished);
            let last = n + 1 == starts.len();
            assert!(
                (finished.is_empty() && !last) || finished == [end - 1],
                "invocation {} (lines {}..={end}) needs {} run_finished as its last event, has them on lines {:?}\n{}",
                n + 1,
                start + 1,
                if last { "exactly one" } else { "at most one" },
                finished.iter().map(|i| i + 1).collect::<Vec<_>>(),
                self.context()
            );
        }
        timeline[last_finished.expect("checked above")].clone()
    }

    /// Asserts how the run ended, in the timeline and the exit code.
    pub fn run_outcome(self, outcome: &str, exit_code: i32) -> Self {
        let last = self.run_finished();
        assert_eq!(last["outcome"], outcome, "run outcome\n{}", self.context());
        assert_eq!(
            last["exit_code"],
            exit_code,
            "exit_code\n{}",
            self.context()
        );
        self.status(exit_code)
    }

    /// Another invocation in the same directory (same runbook and timeline files).
    pub fn then(self) -> Test {
        Test::in_dir(self.dir)
    }
}

/// Parses timeline text, failing on any line that is not JSON.
pub fn parse_timeline(text: &str) -> Vec<Json> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("timeline line {} is not JSON ({e}): {l}", i + 1))
        })
        .collect()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Whether `text` has an ANSI colour sequence (`ESC [ digits ; ... m`).
pub fn has_colour(text: &str) -> bool {
    text.split('\x1b').skip(1).any(|rest| {
        rest.strip_prefix('[').is_some_and(|params| {
            let end = params
                .find(|c: char| !(c.is_ascii_digit() || c == ';'))
                .unwrap_or(params.len());
            end > 0 && params[end..].starts_with('m')
        })
    })
}

/// `runbook timeline TIMELINE --format FORMAT` (no colour): the report, which must succeed.
pub fn report(timeline: &Path, format: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .arg("timeline")
        .arg(timeline)
        .args(["--format", format])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(output.status.success(), "{format}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// The hex sha256 of a file, computed independently of the binary.
pub fn sha256_hex(path: &Path) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(std::fs::read(path).unwrap());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a process is gone: no `/proc/PID`, or a zombie waiting for its parent to reap it
/// (it runs nothing any more).
pub fn process_gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Waits (with a deadline) until the process `pid` is gone; fails naming `what` otherwise.
pub fn assert_gone(pid: &str, what: &str) {
    assert!(
        !pid.is_empty() && pid.chars().all(|c| c.is_ascii_digit()),
        "{what}: not a pid: {pid:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !process_gone(pid) {
        if Instant::now() > deadline {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let _ = Command::new("kill").args(["-9", pid]).status();
            panic!(
                "{what} (pid {pid}, {}) is still running",
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
