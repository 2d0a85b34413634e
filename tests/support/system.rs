//! Programs from the system that some tests drive the binary through (`script` for a
//! pseudo-terminal, `strace` to watch its system calls).
//!
//! A test that needs one never skips: a missing program is installed from its Debian package
//! when the tests run as root with apt-get (as in CI and the dev containers), and otherwise the
//! test fails with the command that installs it. A skipped test would pass while proving nothing.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// The path of `program`, installing Debian `package` first if it is missing.
pub fn require(program: &str, package: &str) -> PathBuf {
    // Tests run in parallel threads: one apt-get at a time (dpkg's lock would refuse a second),
    // and the ones that waited find the program installed.
    static INSTALLING: Mutex<()> = Mutex::new(());
    if let Some(path) = find(program) {
        return path;
    }
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = find(program) {
        return path;
    }
    let install = format!("apt-get update && apt-get install -y {package}");
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !root || find("apt-get").is_none() {
        panic!(
            "this test needs `{program}` (Debian package `{package}`), which is not installed; \
             install it with `{install}` as root, or run .ci/run as root"
        );
    }
    eprintln!("installing `{package}` for `{program}`: {install}");
    // Another process (a second test binary, a developer) may hold dpkg's lock for a while.
    let lock_wait = ["-o", "DPkg::Lock::Timeout=120"];
    for args in [
        vec!["update", "-qq"],
        vec!["install", "-y", "-qq", "--no-install-recommends", package],
    ] {
        let output = Command::new("apt-get")
            .args(lock_wait)
            .args(&args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
            .expect("apt-get starts");
        assert!(
            output.status.success(),
            "`apt-get {}` failed ({:?}); install `{package}` with `{install}`\n{}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    find(program)
        .unwrap_or_else(|| panic!("`{package}` was installed but `{program}` is still not on PATH"))
}

/// `program` as the shell would find it on `PATH`.
fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
}
