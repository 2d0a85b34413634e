//! Group commit: the `sync_data` of check results is shared by every line written within
//! [`WINDOW`], as databases share a WAL flush among the commits that arrive together
//! (PostgreSQL's `commit_delay`). See the writer's module comment for which lines wait and
//! why the bound holds.
//!
//! Two parties sync: the writer itself (at once for a line that gates a side effect, and for a
//! check line when it finds the window already over), and a flusher thread that wakes when the
//! window of the oldest unsynced line ends. Without the thread, a run that sits in a long step
//! (`wait: 30s`, an `http` check with a 10 s timeout) right after a burst of checks would keep
//! the burst unsynced until that step ends. Syncs are serialised (`syncing`), so each one knows
//! exactly which lines it covers: those written before it began.

use std::fs::File;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a written check line may wait for its sync.
pub const WINDOW: Duration = Duration::from_millis(20);

/// Which written lines are not yet known to be on disk. Pure bookkeeping: every method takes
/// the time from its caller, so the rules are tested with made-up instants.
#[derive(Debug, Default)]
pub struct Pending {
    /// Lines written so far, numbered from 1.
    written: u64,
    /// The lines up to this number are covered by a completed sync.
    synced: u64,
    /// When the oldest line not covered was written, or a moment before it: the window is
    /// counted from here, so taking an earlier instant only makes the sync come sooner.
    oldest: Option<Instant>,
    /// The earliest line written since the sync in flight (if any) began: the sync does not
    /// cover it, so once the sync completes this is the oldest unsynced line.
    since_ticket: Option<Instant>,
    /// How long the last sync took: the next one is issued that much before the window ends,
    /// so that it completes within the window on a disk as fast as last time.
    last_sync: Duration,
    /// A background sync that failed: the next write reports it.
    failed: Option<io::Error>,
    /// The writer is gone: the flusher ends.
    stop: bool,
}

/// A sync in flight: it covers the lines written before `began`.
#[derive(Clone, Copy, Debug)]
pub struct Ticket {
    covers: u64,
    began: Instant,
}

impl Pending {
    /// A line was written; `at` was taken before its `write_all` began.
    pub fn wrote(&mut self, at: Instant) -> u64 {
        self.written += 1;
        self.oldest.get_or_insert(at);
        self.since_ticket.get_or_insert(at);
        self.written
    }

    /// Whether a line written is not yet covered by a sync.
    pub fn dirty(&self) -> bool {
        self.synced < self.written
    }

    /// When the next sync must be issued, if any line waits for one.
    pub fn deadline(&self) -> Option<Instant> {
        let lead = self.last_sync.min(WINDOW);
        self.oldest.map(|oldest| oldest + (WINDOW - lead))
    }

    /// Whether the window of the oldest unsynced line is over.
    pub fn due(&self, now: Instant) -> bool {
        self.deadline().is_some_and(|deadline| now >= deadline)
    }

    /// A sync is about to begin: it will cover every line written so far.
    pub fn begin(&mut self, now: Instant) -> Ticket {
        self.since_ticket = None;
        Ticket {
            covers: self.written,
            began: now,
        }
    }

    /// The sync of `ticket` completed at `now`.
    pub fn completed(&mut self, ticket: Ticket, now: Instant) {
        self.last_sync = now.saturating_duration_since(ticket.began);
        self.synced = self.synced.max(ticket.covers);
        // Lines written while the sync ran are not covered by it; the oldest of them is the
        // oldest unsynced line now (`since_ticket` is set whenever one was written).
        self.oldest = if self.dirty() {
            self.since_ticket.or(Some(ticket.began))
        } else {
            None
        };
    }
}

/// The timeline's file and its pending syncs, shared by the writer and the flusher thread.
pub struct Shared {
    pub file: File,
    state: Mutex<Pending>,
    /// Wakes the flusher when a deadline appears or moves, and when the writer goes.
    wake: Condvar,
    /// Held for the whole of a sync, so tickets complete in the order they began.
    syncing: Mutex<()>,
}

impl Shared {
    pub fn new(file: File) -> Arc<Self> {
        Arc::new(Shared {
            file,
            state: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            syncing: Mutex::new(()),
        })
    }

    fn state(&self) -> MutexGuard<'_, Pending> {
        // The bookkeeping is a few integers updated in one place each: a panic elsewhere
        // cannot leave it half-changed, so a poisoned lock is still good.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The bookkeeping as it is now (for tests).
    #[cfg(test)]
    pub fn dirty(&self) -> bool {
        self.state().dirty()
    }

    /// Records a written line; returns its number and whether its window is already over.
    pub fn wrote(&self, at: Instant) -> (u64, bool) {
        let mut state = self.state();
        let fresh = state.oldest.is_none();
        let number = state.wrote(at);
        let due = state.due(Instant::now());
        drop(state);
        if fresh {
            // A deadline appeared: the flusher sleeps until it.
            self.wake.notify_one();
        }
        (number, due)
    }

    /// The error of a background sync that failed since the last call.
    pub fn take_failure(&self) -> Option<io::Error> {
        self.state().failed.take()
    }

    /// Makes every line up to `number` durable: returns at once if a sync already covered it.
    pub fn sync_through(&self, number: u64) -> io::Result<()> {
        let _syncing = self.syncing.lock().unwrap_or_else(|p| p.into_inner());
        let ticket = {
            let mut state = self.state();
            if state.synced >= number {
                return Ok(());
            }
            state.begin(Instant::now())
        };
        let result = self.file.sync_data();
        if result.is_ok() {
            let mut state = self.state();
            state.completed(ticket, Instant::now());
            drop(state);
            // The deadline moved (to a later line, or earlier if the disk got slower).
            self.wake.notify_one();
        }
        result
    }

    /// Syncs if the window is over and no sync is under way (one under way is the flusher's,
    /// which goes on with the lines it leaves): the writer's check for a starved flusher.
    pub fn sync_if_due(&self, number: u64) -> io::Result<()> {
        let Ok(guard) = self.syncing.try_lock() else {
            return Ok(());
        };
        drop(guard);
        self.sync_through(number)
    }

    /// Syncs every line written so far.
    pub fn sync_all_written(&self) -> io::Result<()> {
        let written = self.state().written;
        self.sync_through(written)
    }

    /// Starts the thread that syncs when a window ends.
    pub fn spawn_flusher(self: &Arc<Self>) -> io::Result<JoinHandle<()>> {
        let shared = Arc::clone(self);
        std::thread::Builder::new()
            .name("timeline-flush".into())
            .spawn(move || shared.flush_loop())
    }

    fn flush_loop(&self) {
        let mut state = self.state();
        loop {
            if state.stop {
                return;
            }
            let Some(deadline) = state.deadline() else {
                state = self.wake.wait(state).unwrap_or_else(|p| p.into_inner());
                continue;
            };
            let now = Instant::now();
            if now < deadline {
                state = self
                    .wake
                    .wait_timeout(state, deadline - now)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
                continue;
            }
            let written = state.written;
            drop(state);
            let result = self.sync_through(written);
            state = self.state();
            if let Err(error) = result {
                // The writer reports it with its next line; the flusher stops trying (a
                // failing disk would otherwise be retried in a tight loop), and every later
                // line is synced by the writer itself.
                state.failed = Some(error);
                return;
            }
        }
    }

    /// Ends the flusher (after the writer synced what it wrote).
    pub fn stop(&self) {
        self.state().stop = true;
        self.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A check line makes the state dirty with a deadline one window after it was written; a
    /// sync clears it; lines written during a sync stay dirty, timed from their own write.
    #[test]
    fn a_window_runs_from_the_oldest_unsynced_line() {
        let t0 = Instant::now();
        let mut p = Pending::default();
        assert!(!p.dirty() && p.deadline().is_none());
        p.wrote(t0);
        p.wrote(t0 + ms(5));
        assert!(p.dirty());
        assert_eq!(p.deadline(), Some(t0 + WINDOW));
        assert!(!p.due(t0 + ms(19)));
        assert!(p.due(t0 + ms(20)));

        let ticket = p.begin(t0 + ms(20));
        // Written while the sync runs: not covered by it.
        p.wrote(t0 + ms(21));
        p.completed(ticket, t0 + ms(23));
        assert!(p.dirty(), "the line written during the sync is not covered");
        // Issued 3 ms (the last sync's duration) early, to be on disk when the window ends.
        assert_eq!(p.deadline(), Some(t0 + ms(21) + WINDOW - ms(3)));

        let ticket = p.begin(t0 + ms(40));
        p.completed(ticket, t0 + ms(41));
        assert!(!p.dirty() && p.deadline().is_none());
    }

    /// A disk slower than the window: each sync is issued as soon as a line waits.
    #[test]
    fn a_slow_disk_syncs_back_to_back() {
        let t0 = Instant::now();
        let mut p = Pending::default();
        p.wrote(t0);
        let ticket = p.begin(t0);
        p.completed(ticket, t0 + ms(50));
        p.wrote(t0 + ms(51));
        assert_eq!(p.deadline(), Some(t0 + ms(51)));
    }

    /// The writer and the flusher through `Shared`: an explicit sync covers what was written,
    /// and a line whose window is over is synced by the flusher without any further write.
    #[test]
    fn the_flusher_syncs_a_window_without_further_writes() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("t")).unwrap();
        let shared = Shared::new(file);
        let flusher = shared.spawn_flusher().unwrap();
        let started = Instant::now();
        let (number, due) = shared.wrote(Instant::now());
        assert!(!due);
        assert!(shared.dirty());
        while shared.dirty() {
            assert!(started.elapsed() < Duration::from_secs(10), "never synced");
            std::thread::sleep(ms(1));
        }
        // The first sync took no time before it: the window is the whole of `WINDOW`.
        assert!(started.elapsed() >= WINDOW);
        // Already covered: no second sync.
        shared.sync_through(number).unwrap();
        let (number, _) = shared.wrote(Instant::now());
        shared.sync_through(number).unwrap();
        assert!(!shared.dirty());
        shared.stop();
        flusher.join().unwrap();
    }
}
