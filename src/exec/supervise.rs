//! Every process a `command` step starts dies with the step's timeout, with an interrupt, and
//! with runbook itself, even when runbook is killed with SIGKILL and even when a descendant
//! left the command's process group with `setsid`.
//!
//! A process group is not enough (`setsid` leaves it), and `PR_SET_PDEATHSIG` alone is not
//! either: it is not inherited across `fork`, and it fires when the parent *thread* exits,
//! which with tokio may be any worker. So each command runs under a small supervisor: runbook
//! re-executes itself as `runbook __supervise PROGRAM ARGS...`, in a process group of its own
//! (Ctrl-C on the terminal reaches runbook, which decides, not the command). The supervisor
//!
//! - makes itself a child subreaper (`PR_SET_CHILD_SUBREAPER`): every descendant whose parent
//!   exits, a `setsid` one included, is re-parented to it, so none can leave its subtree;
//! - starts the command (its own process group, `PR_SET_PDEATHSIG` = SIGKILL in case the
//!   supervisor itself is killed), with runbook's stdout and stderr pipes;
//! - reports on its stdin, a socket whose other end only runbook holds: `started PID`, then
//!   `exited CODE` or `signaled SIGNAL`, or `failed ERRNO` when the command cannot start;
//! - kills its whole subtree (SIGKILL, until none is left) when runbook writes to that socket
//!   (the step timed out) or when the socket closes: runbook dropped the step (an interrupt)
//!   or runbook is gone, however it died, since the kernel closes a dead process's sockets.
//!
//! A command that ends while its background children run on (a port-forward for the next
//! step) leaves them running under the supervisor until runbook ends; see [`Supervised::linger`].
//!
//! The supervisor also holds the run's timeline lock (as fd 3) for as long as it lives, so a
//! resume cannot start a step again while the processes of the killed run are still being
//! killed.

use std::ffi::OsString;
use std::io::{self, BufRead, Write};
use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::os::unix::process::CommandExt as _;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::process::{Child, ChildStderr, ChildStdout, Command};
use tokio::sync::mpsc;

/// The hidden first argument that turns the runbook binary into a supervisor.
pub const SUPERVISE_ARG: &str = "__supervise";

/// How long a step waits for its command's processes to be killed; the supervisor kills with
/// SIGKILL, so only a process stuck in the kernel (uninterruptible I/O) takes longer.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// The fd of the run's lock inside the supervisor.
const LOCK_FD: RawFd = 3;

tokio::task_local! {
    /// The timeline lock of the run whose steps this task runs, passed on to supervisors (see
    /// the module comment). Task-local, not global: `runbook serve` runs several runs in one
    /// process, each with its own lock.
    static RUN_LOCK_FD: RawFd;
}

/// Runs `run` (a run's steps) with the open lock file of that run registered for the commands
/// it starts.
pub async fn with_run_lock<F: std::future::Future>(fd: RawFd, run: F) -> F::Output {
    RUN_LOCK_FD.scope(fd, run).await
}

/// How the command ended, as the supervisor saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

/// A command running under its supervisor.
pub struct Supervised {
    supervisor: Child,
    /// The command's end, read off the socket by a task of its own (a line read inside a
    /// `select!` that another branch wins could be lost half-read).
    statuses: mpsc::UnboundedReceiver<Status>,
    /// Dropping it shuts the socket down for writing: the supervisor reads the end of it and
    /// kills everything (an interrupted step).
    orders: OwnedWriteHalf,
    pub pid: u32,
    pub stdout: Option<ChildStdout>,
    pub stderr: Option<ChildStderr>,
}

/// Starts `program` under a supervisor. The error is the command's own (`No such file or
/// directory`), not the supervisor's.
pub async fn spawn(
    program: &str,
    args: &[&str],
    env: &[(String, String)],
    cwd: Option<&str>,
) -> io::Result<Supervised> {
    let (ours, theirs) = StdUnixStream::pair()?;
    let mut command = Command::new(supervisor_exe()?);
    command
        .arg0("runbook")
        .arg(SUPERVISE_ARG)
        .arg(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    if let Ok(fd) = RUN_LOCK_FD.try_with(|fd| *fd) {
        pass_fd_as_lock(&mut command, fd);
    }
    let mut supervisor = command.spawn()?;
    ours.set_nonblocking(true)?;
    let (read, orders) = UnixStream::from_std(ours)?.into_split();
    let mut reports = BufReader::new(read);
    let stdout = supervisor.stdout.take();
    let stderr = supervisor.stderr.take();
    let mut line = String::new();
    reports.read_line(&mut line).await?;
    let mut words = line.split_whitespace();
    match (
        words.next(),
        words.next().and_then(|n| n.parse::<i32>().ok()),
    ) {
        (Some("started"), Some(pid)) => Ok(Supervised {
            supervisor,
            statuses: read_statuses(reports),
            orders,
            pid: pid as u32,
            stdout,
            stderr,
        }),
        (Some("failed"), Some(errno)) => {
            let _ = supervisor.wait().await;
            Err(io::Error::from_raw_os_error(errno))
        }
        _ => {
            let _ = supervisor.kill().await;
            Err(io::Error::other("the command's supervisor did not start"))
        }
    }
}

/// This very binary (`/proc/self/exe` still finds it if the file was replaced by an upgrade
/// during the run).
#[cfg(not(test))]
fn supervisor_exe() -> io::Result<std::path::PathBuf> {
    let proc = std::path::Path::new("/proc/self/exe");
    if proc.exists() {
        Ok(proc.to_path_buf())
    } else {
        std::env::current_exe()
    }
}

/// Unit tests run in the test harness, which is no runbook binary: they use the one `cargo
/// test` builds beside them (`target/debug/deps/..` -> `target/debug/runbook`).
#[cfg(test)]
fn supervisor_exe() -> io::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    exe.parent()
        .and_then(std::path::Path::parent)
        .map(|dir| dir.join("runbook"))
        .filter(|path| path.exists())
        .ok_or_else(|| io::Error::other("build the runbook binary first (cargo build)"))
}

#[allow(unsafe_code)]
fn pass_fd_as_lock(command: &mut Command, fd: RawFd) {
    // SAFETY: runs in the forked child before exec and calls only dup2/fcntl, which are
    // async-signal-safe; `fd` is the run's open lock file, alive while the run is.
    unsafe {
        command.pre_exec(move || {
            if fd == LOCK_FD {
                // dup2 onto itself would keep close-on-exec set.
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(io::Error::last_os_error());
                }
            } else if libc::dup2(fd, LOCK_FD) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Forwards the supervisor's reports until it closes the socket (it exited).
fn read_statuses(
    mut reports: BufReader<tokio::net::unix::OwnedReadHalf>,
) -> mpsc::UnboundedReceiver<Status> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut line = String::new();
        while matches!(reports.read_line(&mut line).await, Ok(n) if n > 0) {
            if let Some(status) = parse_status(&line) {
                let _ = tx.send(status);
            }
            line.clear();
        }
    });
    rx
}

impl Supervised {
    /// Waits for the command to end (its descendants may live on). `None`: the supervisor is
    /// gone without a word (killed from outside). Cancel-safe.
    pub async fn status(&mut self) -> Option<Status> {
        self.statuses.recv().await
    }

    /// Kills the command and everything it started; returns how the command ended. Waits
    /// until the supervisor has seen the last of them die (bounded, should it hang).
    pub async fn kill(mut self) -> Option<Status> {
        let _ = self.orders.write_all(b"kill\n").await;
        let status = tokio::time::timeout(KILL_WAIT, self.status())
            .await
            .ok()
            .flatten();
        let _ = tokio::time::timeout(KILL_WAIT, self.supervisor.wait()).await;
        status
    }

    /// The command ended by itself: what it left running lives on (under the supervisor)
    /// until runbook ends. The socket is kept open for that long, by a task that lets go when
    /// the supervisor exits on its own (nothing left to watch).
    pub fn linger(self) {
        let Supervised {
            mut supervisor,
            orders,
            ..
        } = self;
        tokio::spawn(async move {
            let _ = supervisor.wait().await;
            drop(orders);
        });
    }
}

fn parse_status(line: &str) -> Option<Status> {
    let mut words = line.split_whitespace();
    let kind = words.next()?;
    let n = words.next()?.parse::<i32>().ok()?;
    match kind {
        "exited" => Some(Status {
            code: Some(n),
            signal: None,
        }),
        "signaled" => Some(Status {
            code: None,
            signal: Some(n),
        }),
        _ => None,
    }
}

// ------------------------------------------------------------------ the supervisor process

/// `runbook __supervise PROGRAM ARGS...`: runs PROGRAM and watches over it and everything it
/// starts (see the module comment). Returns the supervisor's exit code.
pub fn main(mut args: Vec<OsString>) -> i32 {
    if args.is_empty() {
        eprintln!("runbook: {SUPERVISE_ARG} needs a program");
        return 2;
    }
    let program = args.remove(0);
    sys::become_subreaper();
    sys::survive_hangup();
    // The lock is ours to hold, not the command's to inherit.
    sys::set_cloexec(LOCK_FD);
    let Some(control) = sys::control_socket() else {
        return 2;
    };
    let Ok(mut reports) = control.try_clone() else {
        return 2;
    };
    let mut command = std::process::Command::new(&program);
    command.args(&args).stdin(Stdio::null()).process_group(0);
    sys::die_with_parent(&mut command);
    let child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            let _ = writeln!(
                reports,
                "failed {}",
                e.raw_os_error().unwrap_or(libc::ENOENT)
            );
            return 1;
        }
    };
    let pid = child.id() as i32;
    let _ = writeln!(reports, "started {pid}");
    // The pipes are the command's: runbook stops reading when the command's processes have
    // closed them, which must not wait for us.
    sys::close_output();
    std::thread::spawn(move || {
        // Any order, or the end of the socket (runbook dropped the step, or died): kill all.
        let mut order = String::new();
        let _ = io::BufReader::new(&control).read_line(&mut order);
        sys::kill_group(pid);
        loop {
            let alive = sys::descendants();
            if alive.is_empty() {
                break;
            }
            for p in alive {
                sys::kill(p);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    // Reap every descendant that ends (each one comes to us once its parent is gone); report
    // the command's own end as soon as it happens.
    while let Some((reaped, status)) = sys::wait_any() {
        if reaped == pid {
            let _ = writeln!(reports, "{status}");
        }
    }
    drop(child);
    0
}

/// The system calls of the supervisor, each with its reason.
#[allow(unsafe_code)]
mod sys {
    use std::io;
    use std::os::fd::{FromRawFd, RawFd};
    use std::os::unix::net::UnixStream;
    use std::os::unix::process::CommandExt;

    /// Linux only: elsewhere a `setsid` descendant whose parent exits escapes to init (the
    /// command's process group is still killed).
    pub fn become_subreaper() {
        // SAFETY: prctl with integer arguments only.
        #[cfg(target_os = "linux")]
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        }
    }

    extern "C" fn on_hangup(_: libc::c_int) {}

    /// Once runbook is gone the supervisor's process group is orphaned, and should a member be
    /// stopped, the kernel sends it SIGHUP (then SIGCONT), whose default would end the
    /// supervisor before it kills what it watches. Handled, not ignored: exec resets a handled
    /// signal to its default, so the command still gets the usual SIGHUP.
    pub fn survive_hangup() {
        // SAFETY: installs a handler that does nothing (trivially async-signal-safe).
        unsafe {
            libc::signal(libc::SIGHUP, on_hangup as *const () as libc::sighandler_t);
        }
    }

    pub fn set_cloexec(fd: RawFd) {
        // SAFETY: fcntl on an fd number; a closed fd only makes it fail with EBADF.
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }

    /// stdin, which runbook made a socket; `None` when it is not one.
    pub fn control_socket() -> Option<UnixStream> {
        let mut kind: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `kind`.
        let is_socket = unsafe {
            libc::getsockopt(
                0,
                libc::SOL_SOCKET,
                libc::SO_TYPE,
                (&mut kind as *mut libc::c_int).cast(),
                &mut len,
            )
        } == 0;
        if !is_socket {
            eprintln!("runbook: {} is internal to runbook", super::SUPERVISE_ARG);
            return None;
        }
        // SAFETY: fd 0 is a socket (checked above) that nothing else in this process owns.
        Some(unsafe { UnixStream::from_raw_fd(0) })
    }

    /// The command dies if the supervisor does (killed from outside, say).
    pub fn die_with_parent(command: &mut std::process::Command) {
        // SAFETY: runs in the forked child before exec; prctl and getppid are
        // async-signal-safe. The supervisor is single-threaded at this point.
        unsafe {
            let parent = libc::getpid();
            command.pre_exec(move || {
                #[cfg(target_os = "linux")]
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
                if libc::getppid() != parent {
                    // The supervisor died before the flag was set.
                    libc::_exit(1);
                }
                Ok(())
            });
        }
    }

    /// Points stdout and stderr at /dev/null.
    pub fn close_output() {
        if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
            use std::os::fd::AsRawFd;
            // SAFETY: dup2 between open fds of this process.
            unsafe {
                libc::dup2(null.as_raw_fd(), 1);
                libc::dup2(null.as_raw_fd(), 2);
            }
        }
    }

    pub fn kill_group(pgid: i32) {
        if pgid > 1 {
            // SAFETY: kill(2) has no memory-safety preconditions; the group is the
            // command's, created with process_group(0).
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }

    pub fn kill(pid: i32) {
        if pid > 1 {
            // SAFETY: as above; `pid` is a descendant of this process.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }

    /// Waits for any child; `None` when none is left. The status in the words runbook reads.
    pub fn wait_any() -> Option<(i32, String)> {
        loop {
            let mut status: libc::c_int = 0;
            // SAFETY: waitpid writes the status into `status`.
            let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
            if pid > 0 {
                let word = if libc::WIFEXITED(status) {
                    format!("exited {}", libc::WEXITSTATUS(status))
                } else if libc::WIFSIGNALED(status) {
                    format!("signaled {}", libc::WTERMSIG(status))
                } else {
                    continue;
                };
                return Some((pid, word));
            }
            if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return None;
            }
        }
    }

    /// The live processes below this one, from /proc (zombies are left to `wait_any`).
    pub fn descendants() -> Vec<i32> {
        let me = std::process::id() as i32;
        let mut parents: Vec<(i32, i32)> = Vec::new();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
            let Some((_, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            let mut fields = rest.split_whitespace();
            let state = fields.next().unwrap_or("");
            let ppid = fields.next().and_then(|p| p.parse::<i32>().ok());
            if let Some(ppid) = ppid
                && state != "Z"
            {
                parents.push((pid, ppid));
            }
        }
        let mut found = vec![me];
        let mut i = 0;
        while i < found.len() {
            let parent = found[i];
            for (pid, ppid) in &parents {
                if *ppid == parent && !found.contains(pid) {
                    found.push(*pid);
                }
            }
            i += 1;
        }
        found.remove(0);
        found
    }
}
