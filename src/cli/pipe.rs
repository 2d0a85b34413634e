//! Commands that only print (`show`, `list`, `validate`, `timeline`, `schema`, `completions`,
//! `man`) end quietly when their reader goes away (`runbook show FILE | head`), as `cat` and
//! `grep` do, instead of panicking in `println!` with "Broken pipe".
//!
//! Rust starts every program with SIGPIPE ignored, so a write to a closed pipe fails with EPIPE
//! and `println!` panics. These commands restore the default action: the kernel ends the
//! process with SIGPIPE, and the shell sees 141, which pipelines expect. Commands that run a
//! runbook keep SIGPIPE ignored: a closed console must not kill a run before its `finally`
//! steps and `run_finished` are written.

/// Restores the default action of SIGPIPE for this process.
#[allow(unsafe_code)]
pub fn end_quietly_when_the_reader_goes_away() {
    // SAFETY: signal(2) with SIG_DFL installs no handler; it only changes the disposition of
    // SIGPIPE, and no other thread is running yet (called before any command starts).
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
