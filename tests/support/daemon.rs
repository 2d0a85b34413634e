//! Real third-party servers (nginx, HAProxy, Prometheus, node_exporter, Alertmanager, moto)
//! started by a test as its own child processes on 127.0.0.1, each with its configuration in the
//! test's temporary directory: never a system service, and always stopped.
//!
//! ```ignore
//! let port = free_port();
//! let nginx = Daemon::start("nginx", Command::new(require("nginx", "nginx")).args([...]), dir);
//! nginx.wait_http(&format!("http://127.0.0.1:{port}/"));
//! ```
//!
//! A daemon is stopped when its `Daemon` is dropped (the test ends or panics): SIGTERM, then
//! SIGKILL after five seconds. If the test process itself is killed, the kernel kills the
//! daemon too (`setpriv --pdeathsig KILL`), so nothing outlives the suite.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::require;

/// How long a daemon may take to become ready before the test fails with its log.
const READY_DEADLINE: Duration = Duration::from_secs(60);
/// How long a daemon may take to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A port on 127.0.0.1 that was free a moment ago, for a daemon's configuration.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port on 127.0.0.1")
        .port()
}

/// One running third-party server.
pub struct Daemon {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// Starts `command` (stdout and stderr go to `NAME.log` in `log_dir`), killed by the kernel
    /// if the test process dies before it stops it.
    pub fn start(name: &str, command: &mut Command, log_dir: &Path) -> Daemon {
        let log = log_dir.join(format!("{name}.log"));
        let out = File::create(&log).expect("create the daemon's log");
        let err = out.try_clone().expect("clone the log's handle");
        let program = command.get_program().to_owned();
        let mut wrapped = Command::new(require("setpriv", "util-linux"));
        wrapped
            .args(["--pdeathsig", "KILL", "--"])
            .arg(&program)
            .args(command.get_args());
        for (key, value) in command.get_envs() {
            match value {
                Some(value) => wrapped.env(key, value),
                None => wrapped.env_remove(key),
            };
        }
        if let Some(dir) = command.get_current_dir() {
            wrapped.current_dir(dir);
        }
        let child = wrapped
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name} ({program:?}): {e}"));
        Daemon {
            name: name.to_string(),
            child,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the daemon printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until something accepts connections on `addr` (`127.0.0.1:PORT`).
    pub fn wait_tcp(&mut self, addr: &str) {
        self.wait_until(&format!("a connection to {addr}"), || {
            TcpStream::connect_timeout(&addr.parse().expect("socket address"), READY_POLL).is_ok()
        });
    }

    /// Waits until `url` answers with a status below 500 (any answer proves the server is up;
    /// a 5xx may come from a proxy whose upstream is still starting).
    pub fn wait_http(&mut self, url: &str) {
        self.wait_until(&format!("an answer from {url}"), || {
            http_status(url).is_some_and(|status| status < 500)
        });
    }

    /// Polls `ready` until it holds; fails the test with the daemon's log if the daemon exits
    /// or the deadline passes.
    pub fn wait_until(&mut self, what: &str, mut ready: impl FnMut() -> bool) {
        let start = Instant::now();
        loop {
            if ready() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before {what}; its log:\n{}",
                    self.name,
                    self.log()
                );
            }
            if start.elapsed() > READY_DEADLINE {
                panic!(
                    "{} gave no {what} within {READY_DEADLINE:?}; its log:\n{}",
                    self.name,
                    self.log()
                );
            }
            std::thread::sleep(READY_POLL);
        }
    }

    /// Sends `signal` to the daemon (a reload: SIGHUP for nginx's master).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} {}", self.name);
    }
}

const READY_POLL: Duration = Duration::from_millis(50);

impl Daemon {
    /// SIGTERM, then the exit status once the daemon has exited (for a test of how a server
    /// stops); fails the test with its log if it is still running after the grace period.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal("TERM");
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            if start.elapsed() > STOP_GRACE {
                panic!(
                    "{} still runs {STOP_GRACE:?} after SIGTERM; its log:\n{}",
                    self.name,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < STOP_GRACE {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status of a plain GET of `url` (`http://127.0.0.1:PORT/path`), or None when nothing
/// answered. A minimal client, so that readiness does not depend on the code under test.
pub fn http_status(url: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let addr = authority.parse().ok()?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET /{path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}
