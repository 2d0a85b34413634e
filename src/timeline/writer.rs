//! Appending events to a timeline so that a crash loses at most the line being written.
//!
//! Each event is one `write_all` of a whole line under an exclusive file lock, followed by
//! `sync_data` before the engine moves on. The one exception is `step_started` of a step that
//! is not an action: its line reaches the disk with the `sync_data` of the next event (the
//! step's `step_finished`, a note, a prompt's answer). A crash can only lose it together with
//! the step's result, and a check whose start was lost is simply run again on resume, as it
//! would be anyway; an action's start is always on disk before the action runs, which is what
//! resume needs to never send a remediation twice silently. Half the syncs of a run of checks. The lock lets `runbook note` append from another
//! terminal while a run writes: whoever holds it reads the last `seq` if the file grew behind
//! its back, so sequence numbers stay unique and lines never interleave.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::event::{Event, Record};
use super::reader;
use crate::redact::Redactor;

/// An open timeline being appended to.
pub struct TimelineWriter {
    file: File,
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
        Ok(TimelineWriter {
            file,
            path: path.to_path_buf(),
            run_id: run_id.to_string(),
            next_seq: 1,
            known_len: 0,
            redactor,
        })
    }

    /// Opens an existing timeline to continue it: a torn last line (no newline) is cut off so
    /// the next event starts on a line of its own.
    pub fn resume(
        path: &Path,
        run_id: &str,
        last_seq: u64,
        redactor: Arc<Redactor>,
    ) -> io::Result<Self> {
        let mut file = OpenOptions::new().append(true).read(true).open(path)?;
        file.lock()?;
        let len = cut_torn_tail(&mut file)?;
        file.unlock()?;
        Ok(TimelineWriter {
            file,
            path: path.to_path_buf(),
            run_id: run_id.to_string(),
            next_seq: last_seq + 1,
            known_len: len,
            redactor,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event, durably. Returns the record as written (redacted); when it cannot
    /// be written (a full disk), the error comes with the record it would have been, so the
    /// run can still show what happened.
    pub fn write(&mut self, event: Event) -> Result<Record, Unwritten> {
        if let Err(error) = self.file.lock() {
            return Err(Unwritten {
                error,
                record: None,
            });
        }
        let result = self.write_locked(event);
        let _ = self.file.unlock();
        result
    }

    fn write_locked(&mut self, event: Event) -> Result<Record, Unwritten> {
        let unwritten = |error| Unwritten {
            error,
            record: None,
        };
        let mut len = self.file.metadata().map_err(unwritten)?.len();
        if len != self.known_len {
            // Another writer (or a failed write of ours) may have left a torn line: the next
            // line must not be glued to it.
            len = cut_torn_tail(&mut self.file).map_err(unwritten)?;
            let (last, _) = last_seq(&mut self.file).map_err(unwritten)?;
            self.next_seq = self.next_seq.max(last + 1);
        }
        let record = Record {
            seq: self.next_seq,
            ts: now_rfc3339(),
            run_id: self.run_id.clone(),
            event,
        };
        let (line, redacted) = encode(&record, &self.redactor).map_err(unwritten)?;
        let written = self.file.write_all(line.as_bytes()).and_then(|()| {
            if matches!(record.event, Event::StepStarted { action: false, .. }) {
                Ok(())
            } else {
                self.file.sync_data()
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
}

/// An event that did not reach the timeline.
#[derive(Debug)]
pub struct Unwritten {
    pub error: io::Error,
    /// The event as it would have been written (redacted), when it got that far (boxed: a
    /// record is large, and the error is rare).
    pub record: Option<Box<Record>>,
}

/// Serializes a record as one redacted line; also returns the redacted record itself.
fn encode(record: &Record, redactor: &Redactor) -> io::Result<(String, Record)> {
    let value = serde_json::to_value(record).map_err(io::Error::other)?;
    let value = redact_record(&value, redactor);
    let mut line = serde_json::to_string(&value).map_err(io::Error::other)?;
    line.push('\n');
    let redacted: Record = serde_json::from_value(value).map_err(io::Error::other)?;
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
        cut_torn_tail(&mut file)?;
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
        let (line, redacted) = encode(&record, redactor)?;
        file.write_all(line.as_bytes())?;
        file.sync_data()?;
        Ok(Ok(redacted))
    })();
    let _ = file.unlock();
    result
}

/// The highest `seq` and the `run_id` in the file.
fn last_seq(file: &mut File) -> io::Result<(u64, Option<String>)> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut bytes)?;
    let parsed = reader::parse_bytes(&bytes);
    let last = parsed.records.iter().map(|r| r.seq).max().unwrap_or(0);
    Ok((last, parsed.records.first().map(|r| r.run_id.clone())))
}

/// Truncates an unterminated last line; returns the new length.
fn cut_torn_tail(file: &mut File) -> io::Result<u64> {
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
}
