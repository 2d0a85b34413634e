//! One run per timeline: a run holds `<timeline>.lock` locked for its whole life.
//!
//! Why a file of its own and not a lock on the timeline: every append (the run's own, and
//! `runbook note` / `runbook milestone` from another terminal) takes a short `flock` on the
//! timeline itself, so a run holding that lock for its life would shut the notes out. An OFD
//! byte-range lock on the timeline would not conflict with those, but it cannot say who holds
//! it (`F_OFD_GETLK` reports no pid), and a classic POSIX lock is dropped as soon as the
//! process closes *any* descriptor of the file, which reading the timeline back does. So, as
//! PostgreSQL does with `postmaster.pid`, the lock is a file beside the timeline that says who
//! holds it (pid, host, start time, timeline), locked with `flock` for the run's life. The
//! kernel releases an `flock` when its holder dies, even by SIGKILL, so a stale file never
//! blocks a resume: the next run simply locks it and writes itself in. A run that ends
//! normally removes the file.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a second run waits for the first to finish writing who it is (the holder locks the
/// file before it writes into it).
const HOLDER_WAIT: Duration = Duration::from_secs(1);

/// How long a run waits for the lock of a run that is gone (killed outright): a command step's
/// supervisor holds it until it has killed what the step started, which takes moments.
const RELEASE_WAIT: Duration = Duration::from_secs(10);

/// The run-lifetime lock of one timeline; released (and its file removed) on drop.
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
}

/// Why the lock was not taken.
#[derive(Debug)]
pub enum LockError {
    /// Another run holds it.
    InUse(Holder),
    /// The lock file could not be created or locked.
    Io(PathBuf, io::Error),
}

/// Who holds a timeline, as its lock file says.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Holder {
    pub pid: Option<u32>,
    pub host: Option<String>,
    pub started: Option<String>,
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::InUse(holder) => {
                match holder.pid {
                    Some(pid) => write!(f, "timeline is in use by another run (pid {pid})")?,
                    None => write!(f, "timeline is in use by another run (pid unknown)")?,
                }
                if let Some(started) = &holder.started {
                    write!(f, ", started {started}")?;
                }
                if let Some(host) = &holder.host {
                    write!(f, " on {host}")?;
                }
                Ok(())
            }
            LockError::Io(path, e) => write!(
                f,
                "cannot lock the timeline with {}: {}",
                path.display(),
                crate::io_message(e)
            ),
        }
    }
}

impl RunLock {
    /// `run.jsonl` -> `run.jsonl.lock`, in the same directory.
    pub fn path_for(timeline: &Path) -> PathBuf {
        let mut name = timeline.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        timeline.with_file_name(name)
    }

    /// Takes the lock of `timeline` without waiting. Writes nothing when another run holds it.
    pub fn acquire(timeline: &Path) -> Result<RunLock, LockError> {
        let path = Self::path_for(timeline);
        let io_error = |e| LockError::Io(path.clone(), e);
        // A handful of rounds: each one only repeats when a holder removed the file between
        // our open and our lock.
        for _ in 0..16 {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io_error)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    let (holder, alive) = holder(&path);
                    // The run named is gone; what holds the lock is its supervisor, killing
                    // the processes its last step started: the lock is free in a moment.
                    if alive || !released(&file) {
                        return Err(LockError::InUse(holder));
                    }
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io_error(e)),
            }
            // The holder before us removes the file as it ends: if it did so after our open, we
            // locked a file nobody else can see; open the path again.
            if !same_file(&file, &path) {
                continue;
            }
            file.set_len(0).map_err(io_error)?;
            let me = format!(
                "{}\n{}\n{}\n{}\n",
                std::process::id(),
                hostname(),
                super::writer::now_rfc3339(),
                timeline.display()
            );
            file.write_all(me.as_bytes()).map_err(io_error)?;
            return Ok(RunLock { file, path });
        }
        Err(io_error(io::Error::other(
            "the lock file keeps being replaced",
        )))
    }

    /// Whether a live run holds `timeline` now (nothing is created or changed to find out).
    pub fn in_use(timeline: &Path) -> bool {
        let Ok(file) = File::open(Self::path_for(timeline)) else {
            return false;
        };
        match file.try_lock_shared() {
            Ok(()) => {
                let _ = file.unlock();
                false
            }
            Err(std::fs::TryLockError::WouldBlock) => true,
            Err(std::fs::TryLockError::Error(_)) => false,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open lock file, for a process that must keep the timeline locked as long as it
    /// lives (a command step's supervisor: see exec/supervise.rs).
    pub fn file(&self) -> &File {
        &self.file
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Removed while still locked, so nobody locks a file that is about to disappear
        // without noticing (see `acquire`).
        if same_file(&self.file, &self.path) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Waits (up to [`RELEASE_WAIT`]) until `file` can be locked; whether it was.
fn released(file: &File) -> bool {
    let deadline = Instant::now() + RELEASE_WAIT;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        if file.try_lock().is_ok() {
            return true;
        }
    }
    false
}

/// Reads who holds the lock, and whether that process is alive (or on another host, where it
/// cannot be checked). The holder writes itself in just after locking, and a file left by a
/// run killed earlier still names that run: wait (briefly) for a complete entry whose process
/// is alive.
fn holder(path: &Path) -> (Holder, bool) {
    let deadline = Instant::now() + HOLDER_WAIT;
    let mut last = Holder::default();
    loop {
        let mut text = String::new();
        if let Ok(mut file) = File::open(path) {
            let _ = file.read_to_string(&mut text);
        }
        let lines: Vec<&str> = text.lines().collect();
        if text.ends_with('\n') && lines.len() >= 3 {
            let read = Holder {
                pid: lines[0].trim().parse().ok(),
                host: Some(lines[1].trim().to_string()).filter(|h| !h.is_empty()),
                started: Some(lines[2].trim().to_string()).filter(|s| !s.is_empty()),
            };
            let here = read.host.as_deref() == Some(hostname().as_str());
            // On another host (a shared file system) the pid cannot be checked here.
            let alive = !here
                || read
                    .pid
                    .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
            if alive {
                return (read, true);
            }
            last = read;
        }
        if Instant::now() >= deadline {
            return (last, false);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let timeline = dir.path().join("run.jsonl");
        let first = RunLock::acquire(&timeline).unwrap();
        assert_eq!(first.path(), dir.path().join("run.jsonl.lock"));
        let before = std::fs::read(first.path()).unwrap();
        let Err(LockError::InUse(holder)) = RunLock::acquire(&timeline) else {
            panic!("the second lock was granted");
        };
        assert_eq!(holder.pid, Some(std::process::id()));
        assert!(RunLock::in_use(&timeline));
        assert!(LockError::InUse(holder).to_string().starts_with(&format!(
            "timeline is in use by another run (pid {})",
            std::process::id()
        )),);
        // The refused attempt wrote nothing.
        assert_eq!(std::fs::read(first.path()).unwrap(), before);
        drop(first);
        assert!(!dir.path().join("run.jsonl.lock").exists());
        assert!(!RunLock::in_use(&timeline));
        let again = RunLock::acquire(&timeline).unwrap();
        drop(again);
    }

    /// A run killed by SIGKILL leaves its file behind, unlocked: the next run takes it over.
    #[test]
    fn a_stale_lock_file_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let timeline = dir.path().join("run.jsonl");
        std::fs::write(
            RunLock::path_for(&timeline),
            "999999999\nelsewhere\n2026-01-01T00:00:00Z\nrun.jsonl\n",
        )
        .unwrap();
        assert!(!RunLock::in_use(&timeline));
        let lock = RunLock::acquire(&timeline).unwrap();
        let text = std::fs::read_to_string(lock.path()).unwrap();
        assert!(
            text.starts_with(&format!("{}\n", std::process::id())),
            "{text}"
        );
    }

    /// The lock file at `path` locked through an open file description of its own, as another
    /// process (a run, its supervisor) holds it.
    fn hold(path: &Path) -> File {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .unwrap();
        file.lock().unwrap();
        file
    }

    /// A pid that was in use a moment ago and is not now.
    fn a_dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    /// A killed run's supervisor still holds the lock while it kills what the step started:
    /// the next run waits for it instead of refusing; a live holder is refused at once.
    #[test]
    fn the_lock_of_a_run_that_died_is_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let timeline = dir.path().join("run.jsonl");
        let path = RunLock::path_for(&timeline);
        // The supervisor's hold: its own open file description of the lock file.
        let held = hold(&path);
        let dead = a_dead_pid();
        std::fs::write(
            &path,
            format!("{dead}\n{}\n2026-12-01T00:00:00Z\nrun.jsonl\n", hostname()),
        )
        .unwrap();
        let started = Instant::now();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1500));
            drop(held);
        });
        let lock = RunLock::acquire(&timeline).expect("taken once the dead run let go");
        assert!(started.elapsed() >= Duration::from_millis(1500));
        release.join().unwrap();
        let text = std::fs::read_to_string(lock.path()).unwrap();
        assert!(
            text.starts_with(&format!("{}\n", std::process::id())),
            "{text}"
        );

        // Held by a live run (this process, through the lock above): refused without waiting
        // for a release that will not come.
        let started = Instant::now();
        let Err(LockError::InUse(holder)) = RunLock::acquire(&timeline) else {
            panic!("the second lock was granted");
        };
        assert_eq!(holder.pid, Some(std::process::id()));
        assert!(started.elapsed() < RELEASE_WAIT);
    }

    /// The lock file is recognised by its inode: once another file took its path (the next
    /// run's), it is not ours to remove.
    #[test]
    fn a_lock_file_replaced_at_its_path_is_not_removed() {
        let dir = tempfile::tempdir().unwrap();
        let timeline = dir.path().join("run.jsonl");
        let lock = RunLock::acquire(&timeline).unwrap();
        assert!(same_file(lock.file(), lock.path()));
        std::fs::remove_file(lock.path()).unwrap();
        std::fs::write(lock.path(), "someone else\n").unwrap();
        assert!(!same_file(lock.file(), lock.path()));
        let path = lock.path().to_path_buf();
        drop(lock);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "someone else\n");
        // Another file on the same device is not the same file either.
        let other = File::create(dir.path().join("other")).unwrap();
        assert!(!same_file(&other, &path));
    }

    /// The holder locks its file, then writes itself in: a second run reading in between sees
    /// an empty or half-written file, and waits (briefly) for the whole entry rather than
    /// naming nobody or a pid cut in half.
    #[test]
    fn a_holder_still_writing_itself_in_is_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let timeline = dir.path().join("run.jsonl");
        let path = RunLock::path_for(&timeline);
        let held = hold(&path);
        let pid = std::process::id();
        let writer = {
            let path = path.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(200));
                std::fs::write(&path, format!("{pid}")).unwrap();
                std::thread::sleep(Duration::from_millis(200));
                // Cut inside the start time.
                std::fs::write(&path, format!("{pid}\n{}\n2026-12", hostname())).unwrap();
                std::thread::sleep(Duration::from_millis(200));
                // No start time: the entry says so by an empty line.
                std::fs::write(&path, format!("{pid}\n{}\n\nrun.jsonl\n", hostname())).unwrap();
            })
        };
        let Err(error) = RunLock::acquire(&timeline) else {
            panic!("the lock was granted");
        };
        writer.join().unwrap();
        assert_eq!(
            error.to_string(),
            format!(
                "timeline is in use by another run (pid {pid}) on {}",
                hostname()
            )
        );
        drop(held);
    }
}
