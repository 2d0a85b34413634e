//! Exit codes, decided in one place and documented in the README.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::timeline::RunOutcome;

/// Whether the signal that interrupted this process was SIGHUP. Signals are process-wide, so
/// this is too.
static HANGUP: AtomicBool = AtomicBool::new(false);

/// Whether any SIGHUP arrived: the terminal is gone, nobody can answer a prompt.
static HUNG_UP: AtomicBool = AtomicBool::new(false);

/// Records a SIGHUP (the terminal or the ssh session closed). When it was the first
/// interrupting signal, an interrupted run exits 129 rather than 130, as a shell reports it.
pub fn hangup(first: bool) {
    HUNG_UP.store(true, Ordering::SeqCst);
    if first {
        HANGUP.store(true, Ordering::SeqCst);
    }
}

/// Whether the terminal hung up (see cli/hangup.rs).
pub fn hung_up() -> bool {
    HUNG_UP.load(Ordering::SeqCst)
}

/// The process exit codes of `runbook`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The run completed (or the command succeeded).
    Ok = 0,
    /// A step failed and stopped the run (also: a drill verdict failed).
    Failed = 1,
    /// Bad usage, or an invalid runbook, vars, answers or timeline file.
    Usage = 2,
    /// The operator aborted the run.
    Aborted = 3,
    /// An action needed confirmation a non-interactive run could not give, or an `ask` had no
    /// answer.
    Blocked = 4,
    /// Interrupted by SIGHUP (after the timeline recorded it).
    Hangup = 129,
    /// Interrupted by SIGINT or SIGTERM (after the timeline recorded it).
    Interrupted = 130,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }
}

impl From<RunOutcome> for Exit {
    fn from(outcome: RunOutcome) -> Self {
        match outcome {
            RunOutcome::Completed => Exit::Ok,
            RunOutcome::Failed => Exit::Failed,
            RunOutcome::Aborted => Exit::Aborted,
            RunOutcome::Blocked => Exit::Blocked,
            RunOutcome::Interrupted if HANGUP.load(Ordering::SeqCst) => Exit::Hangup,
            RunOutcome::Interrupted => Exit::Interrupted,
        }
    }
}
