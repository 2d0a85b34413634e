//! Writer -> reader with a live redactor: whatever events a run writes (texts, data with
//! strings and numbers, with a secret planted in them), the file reads back as exactly the
//! records the writer returned, with `seq` 1, 2, 3..., the events' kinds and outcomes intact,
//! and no secret in any promised form anywhere in the file.
#![no_main]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;
use runbook::redact::{MASK, Redactor};
use runbook::timeline::{Event, Outcome, TimelineWriter, reader};
use serde_json::{Map, Value as Json};

#[path = "../../tests/support/forms.rs"]
mod forms;

static RUN: AtomicU64 = AtomicU64::new(0);

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The first line is the secret, every other line one event.
    let mut lines = text.split('\n');
    let secret = lines.next().unwrap_or_default();
    if secret.chars().count() < forms::MIN_CHARS || MASK.contains(secret) {
        return;
    }
    let redactor = Arc::new(Redactor::new());
    redactor.add(secret);
    let events: Vec<Event> = lines
        .take(8)
        .enumerate()
        .map(|(i, line)| event(i, line, secret))
        .collect();
    if events.is_empty() {
        return;
    }
    // tmpfs: every event is a synced write.
    let dir = std::path::Path::new("/dev/shm").join(format!(
        "runbook-fuzz-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("t.jsonl");
    let mut writer = TimelineWriter::create(&path, "run-1", Arc::clone(&redactor)).expect("create");
    let written: Vec<_> = events
        .iter()
        .map(|e| writer.write(e.clone()).expect("write"))
        .collect();
    drop(writer);
    let bytes = std::fs::read(&path).expect("read back");
    let _ = std::fs::remove_dir_all(&dir);
    let parsed = reader::parse_bytes(&bytes);
    assert!(
        !parsed.torn && parsed.problems.is_empty(),
        "{:?}",
        parsed.problems
    );
    assert_eq!(parsed.records, written);
    let seqs: Vec<u64> = parsed.records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>());
    for (record, event) in parsed.records.iter().zip(&events) {
        assert_eq!(record.run_id, "run-1");
        assert_eq!(record.event.name(), event.name());
        if let (
            Event::StepFinished {
                outcome: a,
                duration_ms: x,
                ..
            },
            Event::StepFinished {
                outcome: b,
                duration_ms: y,
                ..
            },
        ) = (&record.event, event)
        {
            assert_eq!((a, x), (b, y));
        }
    }
    // Everything but the keys and the program's own fields (which may be a word that is also
    // the secret: `step`, `passed`) is free of it.
    for line in String::from_utf8_lossy(&bytes).lines() {
        let value: Json = serde_json::from_str(line).expect("a JSON line");
        for (key, field) in value.as_object().expect("an object") {
            let own = runbook::timeline::writer::OWN_FIELDS.contains(&key.as_str());
            if own || field.is_number() || field.is_boolean() {
                continue;
            }
            let found = forms::leaves(field)
                .iter()
                .find_map(|leaf| forms::find(leaf, secret, &["admin"]));
            if let Some((what, form)) = found {
                panic!("{what} form {form:?} of {secret:?} in `{key}`: {line}");
            }
        }
    }
});

/// An event of a kind picked by `i`, its strings from `line` with the secret planted.
fn event(i: usize, line: &str, secret: &str) -> Event {
    let planted = format!(
        "{line} {secret} {}",
        forms::base64(&format!("admin:{secret}"))
    );
    let mut data = Map::new();
    data.insert(line.to_string(), Json::from(planted.clone()));
    if let Ok(n) = secret.parse::<u64>() {
        data.insert("n".into(), Json::from(n));
    }
    match i % 3 {
        0 => Event::Note {
            text: planted,
            actor: line.to_string(),
            step: Some(secret.to_string()),
        },
        1 => Event::StepFinished {
            step: line.to_string(),
            title: planted.clone(),
            outcome: Outcome::Failed,
            duration_ms: line.len() as u64,
            summary: planted.chars().take(120).collect::<String>() + "…",
            data,
            attempt: 1,
            failures: vec![planted],
            action: i % 2 == 0,
            decided_by: None,
            phase: "steps".into(),
        },
        _ => Event::StepStarted {
            step: secret.to_string(),
            title: planted,
            index: i,
            phase: "steps".into(),
            action: true,
            entry: 1,
        },
    }
}
