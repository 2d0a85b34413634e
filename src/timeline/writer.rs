//! Appending events to a timeline so that a crash loses at most the last 20 ms of check
//! results, and never an action's record.
//!
//! Each event is one `write_all` of a whole line under an exclusive file lock, at once: the
//! lock lets `runbook note` and `runbook approve` append from other processes while a run
//! writes; whoever holds it reads the last `seq` if the file grew behind its back, so sequence
//! numbers stay unique and lines never interleave. What differs is when the line is synced:
//!
//! - The events of a step that is not an action and carries no decision (a check's
//!   `step_started`, `step_attempt` and `step_finished`) are group-committed (see `commit`):
//!   one `sync_data` covers every such line written within a window of 20 ms. The sync is
//!   issued by whichever comes first: the writer, when a line finds the window of the oldest
//!   unsynced line over; a flusher thread, when that window ends while the run sits in a long
//!   step (a `wait: 30s`, a slow probe); or any other event's sync.
//! - Every other event is synced before `write` returns, and its sync covers every line before
//!   it: `run_started`, `run_resumed`, an action's `step_started` (on disk before the action
//!   runs, which is what resume needs to never send a remediation twice silently), its
//!   `step_attempt`s and `step_finished` (on disk before the next step starts), a step's
//!   `step_finished` that records a person's decision or answers, milestones, notes, approval
//!   requests and `run_finished`.
//!
//! The bound, exactly: a check line written at time `w` is covered by a sync issued no later
//! than `w + 20 ms − d`, where `d` is how long the previous sync took (capped at 20 ms), so the
//! sync completes by `w + 20 ms` when the disk is as fast as last time. What a machine crash
//! can lose is therefore the check results of the last 20 ms (a check whose result is lost
//! runs again on resume, as a check whose start was lost always did); never an action's
//! record, nor anything written before it. Two things outside the program stretch it: a disk
//! whose sync takes longer than the window (syncs then run back to back, each covering every
//! line written during the one before), and a flusher thread the scheduler does not run on
//! time. A killed process (SIGKILL, a panic) loses nothing that was written: the lines are
//! in the kernel's page cache, and only a crash of the machine itself loses unsynced lines.
//!
//! The engine's observers (console, notifications) see a check's event once it is written,
//! possibly before it is synced; every other event they see once it is durable.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use super::commit::Shared;
use super::event::{Event, Record};
use super::reader;
use crate::redact::Redactor;

/// An open timeline being appended to.
pub struct TimelineWriter {
    /// The file and its group commit, shared with the flusher thread.
    shared: Arc<Shared>,
    /// Started with the first group-committed line: a run of actions only needs none.
    flusher: Option<JoinHandle<()>>,
    /// False once a background sync failed or the flusher could not start: every line is then
    /// synced before `write` returns.
    group: bool,
    /// Whether the step being written is an action (its `step_attempt` lines name no kind).
    in_action: bool,
    path: PathBuf,
    run_id: String,
    next_seq: u64,
    /// The file length after our last write; a different length means someone else appended.
    known_len: u64,
    redactor: Arc<Redactor>,
}

impl TimelineWriter {
    /// Creates a new timeline (and its directories). Fails if the file exists.
    pub fn create(path: &Path, run_id: &str, redactor: Arc<Redactor>) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .read(true)
            .open(path)?;
        // The new directory entry must survive a crash too, not just the file's contents.
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(TimelineWriter::new(file, path, run_id, 1, 0, redactor))
    }

    fn new(
        file: File,
        path: &Path,
        run_id: &str,
        next_seq: u64,
        known_len: u64,
        redactor: Arc<Redactor>,
    ) -> Self {
        TimelineWriter {
            shared: Shared::new(file),
            flusher: None,
            group: true,
            in_action: false,
            path: path.to_path_buf(),
            run_id: run_id.to_string(),
            next_seq,
            known_len,
            redactor,
        }
    }

    /// Opens an existing timeline to continue it: a torn last line (no newline) is cut off so
    /// the next event starts on a line of its own.
    pub fn resume(
        path: &Path,
        run_id: &str,
        last_seq: u64,
        redactor: Arc<Redactor>,
    ) -> io::Result<Self> {
        let file = OpenOptions::new().append(true).read(true).open(path)?;
        file.lock()?;
        let len = cut_torn_tail(&file);
        file.unlock()?;
        Ok(TimelineWriter::new(
            file,
            path,
            run_id,
            last_seq + 1,
            len?,
            redactor,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event: durably before it returns, except a check's events, which are
    /// durable within 20 ms (see the module comment). Returns the record as written
    /// (redacted); when it cannot be written (a full disk), the error comes with the record it
    /// would have been, so the run can still show what happened.
    pub fn write(&mut self, event: Event) -> Result<Record, Unwritten> {
        if let Err(error) = self.shared.file.lock() {
            return Err(Unwritten {
                error,
                record: None,
            });
        }
        let result = self.write_locked(event);
        let _ = self.shared.file.unlock();
        result
    }

    /// Whether the event's line may wait for a group commit: a check's, never an action's or
    /// a person's (see the module comment).
    fn deferrable(&mut self, event: &Event) -> bool {
        match event {
            Event::StepStarted { action, .. } => {
                self.in_action = *action;
                !action
            }
            Event::StepAttempt { .. } => !self.in_action,
            Event::StepFinished {
                action, decided_by, ..
            } => !action && decided_by.is_none(),
            _ => false,
        }
    }

    fn write_locked(&mut self, event: Event) -> Result<Record, Unwritten> {
        let unwritten = |error| Unwritten {
            error,
            record: None,
        };
        let shared = Arc::clone(&self.shared);
        let mut file = &shared.file;
        let mut len = file.metadata().map_err(unwritten)?.len();
        if len != self.known_len {
            // Another writer (or a failed write of ours) may have left a torn line: the next
            // line must not be glued to it.
            len = cut_torn_tail(file).map_err(unwritten)?;
            let (last, _) = last_seq(file).map_err(unwritten)?;
            self.next_seq = self.next_seq.max(last + 1);
        }
        let deferred = self.deferrable(&event);
        let record = Record {
            seq: self.next_seq,
            ts: now_rfc3339(),
            run_id: self.run_id.clone(),
            event,
        };
        let (line, redacted) = encode(record, &self.redactor).map_err(unwritten)?;
        if let Some(error) = self.shared.take_failure() {
            // A group commit of earlier lines failed: they may not be on disk, so the run must
            // not go on as if they were. Every later line is synced before `write` returns.
            self.group = false;
            return Err(Unwritten {
                error,
                record: Some(Box::new(redacted)),
            });
        }
        // Taken before the write: the window of this line starts no later than the line.
        let at = Instant::now();
        let written = file.write_all(line.as_bytes()).and_then(|()| {
            let (number, due) = self.shared.wrote(at);
            if !deferred || !self.group || !self.start_flusher() {
                self.shared.sync_through(number)
            } else if due {
                // The flusher was late (a loaded machine): the writer syncs itself.
                self.shared.sync_if_due(number)
            } else {
                Ok(())
            }
        });
        if let Err(error) = written {
            // A part of the line may be in the file: `known_len` stays, so the next write
            // cuts it off first.
            return Err(Unwritten {
                error,
                record: Some(Box::new(redacted)),
            });
        }
        self.known_len = len + line.len() as u64;
        self.next_seq += 1;
        Ok(redacted)
    }

    /// Starts the flusher thread if it is not running; false if it cannot start (then the
    /// writer syncs every line itself).
    fn start_flusher(&mut self) -> bool {
        if self.flusher.is_none() {
            match self.shared.spawn_flusher() {
                Ok(handle) => self.flusher = Some(handle),
                Err(_) => self.group = false,
            }
        }
        self.group
    }

    /// Whether a written line is not yet known to be on disk (for tests).
    #[cfg(test)]
    fn dirty(&self) -> bool {
        self.shared.dirty()
    }
}

impl Drop for TimelineWriter {
    /// A writer dropped without `run_finished` (an error path) still leaves its lines synced.
    fn drop(&mut self) {
        let _ = self.shared.sync_all_written();
        self.shared.stop();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
    }
}

/// An event that did not reach the timeline.
#[derive(Debug)]
pub struct Unwritten {
    pub error: io::Error,
    /// The event as it would have been written (redacted), when it got that far (boxed: a
    /// record is large, and the error is rare).
    pub record: Option<Box<Record>>,
}

/// Serializes a record as one redacted line; also returns the redacted record itself. When
/// nothing was masked (most lines), that is the record as given: reading the redacted value back
/// into a record cost over a quarter of the CPU of writing a line.
fn encode(record: Record, redactor: &Redactor) -> io::Result<(String, Record)> {
    let value = serde_json::to_value(&record).map_err(io::Error::other)?;
    let redacted_value = redact_record(&value, redactor);
    let mut line = serde_json::to_string(&redacted_value).map_err(io::Error::other)?;
    line.push('\n');
    let redacted = if redacted_value == value {
        record
    } else {
        serde_json::from_value(redacted_value).map_err(io::Error::other)?
    };
    Ok((line, redacted))
}

/// The fields of a line that the program writes itself, from its own vocabulary: never a
/// secret, and masking them would make the line unreadable (`event`, `outcome`) or the
/// timeline unusable (`seq`, `ts`, `phase`: a `finally` step must stay one). Top-level
/// numbers and booleans (durations, indexes, exit codes) are the program's own too.
pub const OWN_FIELDS: [&str; 7] = ["seq", "ts", "run_id", "event", "outcome", "phase", "mode"];

/// Redacts a record's value: its top-level keys and own fields stay as they are, everything
/// else (names, summaries, data, vars, keys inside them) goes through the redactor.
fn redact_record(value: &serde_json::Value, redactor: &Redactor) -> serde_json::Value {
    use serde_json::Value as J;
    let J::Object(fields) = value else {
        return redactor.redact_json(value);
    };
    let fields = fields
        .iter()
        .map(|(key, field)| {
            let own = OWN_FIELDS.contains(&key.as_str())
                || matches!(field, J::Number(_) | J::Bool(_) | J::Null);
            let field = if own {
                field.clone()
            } else {
                redactor.redact_json(field)
            };
            (key.clone(), field)
        })
        .collect();
    J::Object(fields)
}

/// Appends one event to a timeline another process may be writing (for `runbook note`).
pub fn append_event(path: &Path, event: Event, redactor: &Redactor) -> io::Result<Record> {
    append_event_checked(path, redactor, |_| Ok(event))?.map_err(io::Error::other)
}

/// Decides the event from the timeline's records under its lock, then appends it: `runbook
/// approve` checks that the step still awaits approval and writes in one step, so no decision
/// of the run can slip between the check and the line. `Ok(Err(why))`: nothing was written.
pub fn append_event_checked(
    path: &Path,
    redactor: &Redactor,
    decide: impl FnOnce(&[Record]) -> Result<Event, String>,
) -> io::Result<Result<Record, String>> {
    let mut file = OpenOptions::new().append(true).read(true).open(path)?;
    file.lock()?;
    let result = (|| {
        cut_torn_tail(&file)?;
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(0))?;
        file.read_to_end(&mut bytes)?;
        let parsed = reader::parse_bytes(&bytes);
        let last = parsed.records.iter().map(|r| r.seq).max().unwrap_or(0);
        let run_id = parsed.records.first().map(|r| r.run_id.clone());
        let event = match decide(&parsed.records) {
            Ok(event) => event,
            Err(why) => return Ok(Err(why)),
        };
        let record = Record {
            seq: last + 1,
            ts: now_rfc3339(),
            run_id: run_id.unwrap_or_default(),
            event,
        };
        let (line, redacted) = encode(record, redactor)?;
        file.write_all(line.as_bytes())?;
        file.sync_data()?;
        Ok(Ok(redacted))
    })();
    let _ = file.unlock();
    result
}

/// The highest `seq` and the `run_id` in the file.
fn last_seq(mut file: &File) -> io::Result<(u64, Option<String>)> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut bytes)?;
    let parsed = reader::parse_bytes(&bytes);
    let last = parsed.records.iter().map(|r| r.seq).max().unwrap_or(0);
    Ok((last, parsed.records.first().map(|r| r.run_id.clone())))
}

/// Truncates an unterminated last line; returns the new length.
fn cut_torn_tail(mut file: &File) -> io::Result<u64> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut bytes)?;
    let keep = match bytes.iter().rposition(|b| *b == b'\n') {
        Some(idx) => idx + 1,
        None => 0,
    };
    if keep < bytes.len() {
        file.set_len(keep as u64)?;
        file.sync_data()?;
    }
    Ok(keep as u64)
}

/// Now as RFC 3339 UTC with milliseconds. `RUNBOOK_TEST_CLOCK` fixes it for golden tests.
pub fn now_rfc3339() -> String {
    if let Ok(fixed) = std::env::var("RUNBOOK_TEST_CLOCK")
        && !fixed.is_empty()
    {
        return fixed;
    }
    format!("{:.3}", jiff::Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A timeline may be asked for in folders that do not exist yet (`--timeline-dir`).
    #[test]
    fn creating_a_timeline_creates_its_folders_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/run.jsonl");
        let mut writer = TimelineWriter::create(&path, "r1", Arc::new(Redactor::new())).unwrap();
        let record = writer
            .write(Event::Note {
                text: "hello".into(),
                actor: "me".into(),
                step: None,
            })
            .unwrap();
        assert_eq!(record.seq, 1);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.ends_with("\n") && text.contains(r#""text":"hello""#),
            "{text}"
        );
        let again = TimelineWriter::create(&path, "r2", Arc::new(Redactor::new()));
        assert_eq!(
            again.err().map(|e| e.kind()),
            Some(io::ErrorKind::AlreadyExists)
        );
    }

    fn note(text: &str) -> Event {
        Event::Note {
            text: text.into(),
            actor: "me".into(),
            step: None,
        }
    }

    /// `runbook note` from another process continues the numbering, and the run's own writer
    /// continues after it: `seq` stays contiguous whoever appends.
    #[test]
    fn seq_stays_contiguous_across_writers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.jsonl");
        let redactor = Arc::new(Redactor::new());
        let mut writer = TimelineWriter::create(&path, "r1", Arc::clone(&redactor)).unwrap();
        assert_eq!(writer.write(note("one")).unwrap().seq, 1);
        assert_eq!(writer.write(note("two")).unwrap().seq, 2);
        // Nobody else wrote: the writer knows the file's length without reading it back.
        assert_eq!(writer.known_len, std::fs::metadata(&path).unwrap().len());
        let other = append_event(&path, note("from outside"), &redactor).unwrap();
        assert_eq!((other.seq, other.run_id.as_str()), (3, "r1"));
        assert_eq!(writer.write(note("four")).unwrap().seq, 4);
        assert_eq!(writer.known_len, std::fs::metadata(&path).unwrap().len());
        let parsed = reader::read(&path).unwrap();
        let seqs: Vec<u64> = parsed.records.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, vec![1, 2, 3, 4]);
    }

    fn started(step: &str, action: bool) -> Event {
        Event::StepStarted {
            step: step.into(),
            title: step.into(),
            index: 1,
            phase: "steps".into(),
            action,
            entry: 1,
        }
    }

    fn finished(step: &str, action: bool, decided_by: Option<&str>) -> Event {
        Event::StepFinished {
            step: step.into(),
            title: step.into(),
            outcome: super::super::Outcome::Passed,
            duration_ms: 1,
            summary: "ok".into(),
            data: Default::default(),
            attempt: 1,
            failures: Vec::new(),
            action,
            decided_by: decided_by.map(str::to_string),
            phase: "steps".into(),
        }
    }

    /// A check's events wait for a group commit, which the flusher issues within the window
    /// without any further write; an action's, a decision's and every other event are synced
    /// before `write` returns, together with every line before them.
    #[test]
    fn checks_are_group_committed_and_everything_else_is_synced_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.jsonl");
        let mut writer = TimelineWriter::create(&path, "r1", Arc::new(Redactor::new())).unwrap();
        writer.write(note("start")).unwrap();
        assert!(!writer.dirty(), "a note is synced at once");

        let burst = Instant::now();
        writer.write(started("check", false)).unwrap();
        writer.write(finished("check", false, None)).unwrap();
        assert!(writer.dirty(), "a check's events wait for the group commit");
        // Nothing more is written: the flusher syncs when the window ends.
        while writer.dirty() {
            assert!(burst.elapsed() < Duration::from_secs(10), "never synced");
            std::thread::sleep(Duration::from_millis(1));
        }
        // (No lower bound on the wait: the window is shortened by the note's sync time.)

        writer.write(started("check2", false)).unwrap();
        assert!(writer.dirty());
        writer.write(started("restart", true)).unwrap();
        assert!(
            !writer.dirty(),
            "an action's start is synced, with the check line before it"
        );
        // An action's retries belong to the action.
        writer
            .write(Event::StepAttempt {
                step: "restart".into(),
                attempt: 1,
                outcome: super::super::Outcome::Failed,
                summary: "no".into(),
                failures: Vec::new(),
                data: Default::default(),
                duration_ms: 1,
                next_delay_ms: 0,
                attempts: Some(2),
            })
            .unwrap();
        assert!(!writer.dirty());
        writer
            .write(finished("restart", true, Some("--yes")))
            .unwrap();
        assert!(!writer.dirty());

        writer.write(started("ask", false)).unwrap();
        writer.write(finished("ask", false, Some("alice"))).unwrap();
        assert!(!writer.dirty(), "a person's answers are synced at once");

        writer.write(started("check3", false)).unwrap();
        assert!(writer.dirty());
        drop(writer);
        let seqs: Vec<u64> = reader::read(&path)
            .unwrap()
            .records
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
    }

    /// The record `write` returns is the line as written: masked where a secret was, and the
    /// record as given (not read back) where nothing was.
    #[test]
    fn the_returned_record_is_the_line_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.jsonl");
        let redactor = Arc::new(Redactor::new());
        redactor.add("hunter2");
        let mut writer = TimelineWriter::create(&path, "r1", Arc::clone(&redactor)).unwrap();
        let masked = writer.write(note("password hunter2")).unwrap();
        let plain = writer.write(note("nothing secret")).unwrap();
        let written = reader::read(&path).unwrap().records;
        assert_eq!(written, vec![masked.clone(), plain.clone()]);
        assert!(matches!(&masked.event, Event::Note { text, .. } if !text.contains("hunter2")));
        assert!(matches!(&plain.event, Event::Note { text, .. } if text == "nothing secret"));
    }
}
