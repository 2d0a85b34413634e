//! Timeline round-trips over generated events (proptest): records through the reader, torn and
//! damaged files, and the writer with a live redactor, alone and several at once.

use std::sync::Arc;

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Map, Value as Json};

use runbook::redact::{MASK, Redactor};
use runbook::timeline::{Event, Outcome, Record, RunOutcome, TimelineWriter, reader};

use crate::properties::cases;
use crate::support::forms;

fn json_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::from),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Json::from),
        ".{0,8}".prop_map(Json::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Json::Array),
            vec((".{0,6}", inner), 0..4)
                .prop_map(|entries| Json::Object(entries.into_iter().collect())),
        ]
    })
}

fn json_map() -> impl Strategy<Value = Map<String, Json>> {
    vec((".{0,8}", json_value()), 0..4).prop_map(|entries| entries.into_iter().collect())
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Passed),
        Just(Outcome::Failed),
        Just(Outcome::Error),
        Just(Outcome::Skipped),
        Just(Outcome::DryRun),
        Just(Outcome::Blocked),
        Just(Outcome::Interrupted),
    ]
}

fn run_outcome() -> impl Strategy<Value = RunOutcome> {
    prop_oneof![
        Just(RunOutcome::Completed),
        Just(RunOutcome::Failed),
        Just(RunOutcome::Aborted),
        Just(RunOutcome::Blocked),
        Just(RunOutcome::Interrupted),
    ]
}

fn s() -> impl Strategy<Value = String> {
    ".{0,12}"
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (
            (s(), s(), s(), s(), s()),
            (any::<bool>(), json_map(), s(), s(), s())
        )
            .prop_map(
                |(
                    (runbook, title, file, sha256, mode),
                    (dry_run, vars, version, actor, timeline),
                )| {
                    Event::RunStarted {
                        runbook,
                        title,
                        file,
                        sha256,
                        mode,
                        dry_run,
                        vars: vars.clone(),
                        version,
                        actor,
                        host: Some(timeline.clone()),
                        alert: Some(serde_json::Value::Object(vars.clone())),
                        timeline,
                    }
                }
            ),
        (s(), s(), proptest::option::of(s()), json_map()).prop_map(
            |(actor, version, next_step, vars)| Event::RunResumed {
                actor,
                version,
                next_step,
                vars,
            }
        ),
        (s(), s(), any::<usize>(), s(), any::<bool>(), any::<u32>()).prop_map(
            |(step, title, index, phase, action, entry)| Event::StepStarted {
                step,
                title,
                index,
                phase,
                action,
                entry,
            }
        ),
        (
            (s(), any::<u32>(), outcome(), s()),
            (
                vec(s(), 0..3),
                json_map(),
                any::<u64>(),
                any::<u64>(),
                proptest::option::of(any::<u32>())
            )
        )
            .prop_map(
                |(
                    (step, attempt, outcome, summary),
                    (failures, data, duration_ms, next_delay_ms, attempts),
                )| {
                    Event::StepAttempt {
                        step,
                        attempt,
                        outcome,
                        summary,
                        failures,
                        data,
                        duration_ms,
                        next_delay_ms,
                        attempts,
                    }
                }
            ),
        (
            (s(), s(), outcome(), any::<u64>(), s(), json_map()),
            (
                any::<u32>(),
                vec(s(), 0..3),
                any::<bool>(),
                proptest::option::of(s()),
                s()
            )
        )
            .prop_map(
                |(
                    (step, title, outcome, duration_ms, summary, data),
                    (attempt, failures, action, decided_by, phase),
                )| Event::StepFinished {
                    step,
                    title,
                    outcome,
                    duration_ms,
                    summary,
                    data,
                    attempt,
                    failures,
                    action,
                    decided_by,
                    phase,
                }
            ),
        (s(), proptest::option::of(s()), s(), any::<bool>()).prop_map(
            |(milestone, step, actor, retracted)| Event::Milestone {
                milestone,
                step,
                actor,
                retracted,
            }
        ),
        (s(), s(), proptest::option::of(s())).prop_map(|(text, actor, step)| Event::Note {
            text,
            actor,
            step
        }),
        (
            run_outcome(),
            any::<i32>(),
            any::<u64>(),
            proptest::option::of(s()),
            json_map()
        )
            .prop_map(|(outcome, exit_code, duration_ms, reason, counts)| {
                Event::RunFinished {
                    outcome,
                    exit_code,
                    duration_ms,
                    reason,
                    counts,
                }
            }),
    ]
}

fn record() -> impl Strategy<Value = Record> {
    (any::<u64>(), s(), s(), event()).prop_map(|(seq, ts, run_id, event)| Record {
        seq,
        ts,
        run_id,
        event,
    })
}

fn line(record: &Record) -> String {
    let mut line = serde_json::to_string(record).unwrap();
    line.push('\n');
    line
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn records_round_trip(records in vec(record(), 0..6)) {
        let text: String = records.iter().map(line).collect();
        prop_assert_eq!(text.matches('\n').count(), records.len(), "one line per record");
        let parsed = reader::parse_lines(&text);
        prop_assert!(!parsed.torn);
        prop_assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        prop_assert_eq!(parsed.records, records);
    }

    #[test]
    fn a_torn_last_line_is_ignored(
        records in vec(record(), 0..4),
        last in record(),
        cut in any::<proptest::sample::Index>(),
    ) {
        let mut bytes: Vec<u8> = records.iter().map(line).collect::<String>().into_bytes();
        let last = line(&last);
        // Any strict, non-empty prefix of the line, even one that ends inside a character.
        let keep = 1 + cut.index(last.len() - 1);
        bytes.extend_from_slice(&last.as_bytes()[..keep]);
        let parsed = reader::parse_bytes(&bytes);
        prop_assert!(parsed.torn);
        prop_assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        prop_assert_eq!(parsed.records, records);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_reader(bytes in vec(any::<u8>(), 0..400)) {
        let parsed = reader::parse_bytes(&bytes);
        prop_assert_eq!(parsed.torn, !bytes.is_empty() && !bytes.ends_with(b"\n"));
        let _ = reader::parse_lines(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn damaged_timelines_keep_every_intact_line(
        records in vec(record(), 1..5),
        damage in vec((any::<proptest::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let lines: Vec<String> = records.iter().map(line).collect();
        let mut bytes = lines.concat().into_bytes();
        let mut touched = Vec::new();
        for (at, byte) in damage {
            let at = at.index(bytes.len());
            bytes[at] = byte;
            touched.push(at);
        }
        let parsed = reader::parse_bytes(&bytes);
        // A line none of whose bytes (its newline included) was touched reads back as the
        // record it was, in order; the damaged lines are reported or skipped, never made up
        // from their neighbours.
        let mut start = 0;
        let mut intact = Vec::new();
        for (record, text) in records.iter().zip(&lines) {
            let end = start + text.len();
            let before_ok = start == 0 || !touched.contains(&(start - 1));
            if before_ok && !touched.iter().any(|&t| (start..end).contains(&t)) {
                intact.push(record.clone());
            }
            start = end;
        }
        let mut found = parsed.records.iter();
        for record in &intact {
            prop_assert!(found.any(|r| r == record), "{record:?} was lost or reordered");
        }
        let complete_lines = bytes.split(|b| *b == b'\n').count() - 1;
        prop_assert!(parsed.records.len() + parsed.problems.len() <= complete_lines);
        prop_assert!(parsed.records.len() >= intact.len());
    }
}

/// Secrets the writer masks, at least 4 characters like the command line demands, some numeric.
fn secret() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9/+=-]{4,12}",
        "[1-9][0-9]{4,8}",
        "(step|event|data|passed)"
    ]
}

/// An event, sometimes with the secret planted in its strings (and as a number in its data).
fn planted_event(secret: String) -> impl Strategy<Value = Event> {
    (event(), any::<bool>()).prop_map(move |(event, plant)| {
        if !plant {
            return event;
        }
        let mut value = serde_json::to_value(&event).unwrap();
        if let Json::Object(fields) = &mut value {
            for (key, field) in fields.iter_mut() {
                match field {
                    Json::String(s) if key != "event" && key != "outcome" => {
                        *s = format!("{s}{secret}{}", forms::base64(&format!("admin:{secret}")));
                    }
                    Json::Object(map) => {
                        map.insert(secret.clone(), Json::from(secret.clone()));
                        if let Ok(n) = secret.parse::<u64>() {
                            map.insert("n".into(), Json::from(n));
                        }
                    }
                    _ => {}
                }
            }
        }
        serde_json::from_value(value).unwrap()
    })
}

/// Asserts what every redacted timeline must be: each record as the writer returned it, no
/// secret in any form, and the program's own fields (kind, outcome, numbers) untouched.
fn assert_written(
    text: &str,
    secret: &str,
    events: &[Event],
    written: &[Record],
) -> Result<(), TestCaseError> {
    // Everything but the keys and the program's own fields (which may be a word that is also
    // the secret: `step`, `passed`) is free of it.
    // (A torn last line, without its newline, is not part of the timeline.)
    for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
        let value: Json = serde_json::from_str(line).unwrap();
        for (key, field) in value.as_object().unwrap() {
            let own = runbook::timeline::writer::OWN_FIELDS.contains(&key.as_str());
            if own || field.is_number() || field.is_boolean() {
                continue;
            }
            let found = forms::leaves(field)
                .iter()
                .find_map(|leaf| forms::find(leaf, secret, &["admin"]));
            if let Some((what, form)) = found {
                return Err(TestCaseError::fail(format!(
                    "{what} {form:?} in `{key}`:\n{line}"
                )));
            }
        }
    }
    for (record, event) in written.iter().zip(events) {
        prop_assert_eq!(record.event.name(), event.name());
        let (got, want) = (
            serde_json::to_value(&record.event).unwrap(),
            serde_json::to_value(event).unwrap(),
        );
        for (key, value) in want.as_object().unwrap() {
            if key == "outcome" || value.is_number() || value.is_boolean() {
                prop_assert_eq!(&got[key], value, "{}", key);
            }
        }
        // An event without the secret goes through as it is.
        let plain = serde_json::to_string(event).unwrap();
        // (An ellipsis may end a cut start of the secret, which is masked.)
        let cut = plain.contains('…') || plain.contains("...");
        if !cut && !plain.contains(MASK) && forms::find(&plain, secret, &["admin"]).is_none() {
            prop_assert_eq!(&record.event, event);
        }
    }
    Ok(())
}

proptest! {
    // Every event is a synced write: few cases.
    #![proptest_config(cases(24))]

    #[test]
    fn the_writer_and_the_reader_agree(
        (secret, events) in secret().prop_flat_map(|s| (Just(s.clone()), vec(planted_event(s), 1..5))),
        torn_after in proptest::option::of(0usize..5),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let redactor = Arc::new(Redactor::new());
        redactor.add(&secret);
        let mut writer = TimelineWriter::create(&path, "run-1", redactor).unwrap();
        let mut written = Vec::new();
        for (i, event) in events.iter().enumerate() {
            if torn_after == Some(i) {
                tear(&path);
            }
            written.push(writer.write(event.clone()).unwrap());
        }
        drop(writer);
        // Torn after the last event: left for the reader to ignore. Torn earlier (another
        // process killed in mid-write): cut by the writer before its next line.
        let torn = torn_after.is_some_and(|i| i >= events.len());
        if torn {
            tear(&path);
        }
        let parsed = reader::read(&path).unwrap();
        prop_assert_eq!(parsed.torn, torn);
        prop_assert_eq!(&parsed.records, &written);
        let seqs: Vec<u64> = parsed.records.iter().map(|r| r.seq).collect();
        prop_assert_eq!(seqs, (1..=written.len() as u64).collect::<Vec<_>>());
        prop_assert!(parsed.records.iter().all(|r| r.run_id == "run-1"));
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        assert_written(&text, &secret, &events, &written)?;
    }

    /// Several writers (threads, each with its own open file, as separate processes have)
    /// append to one timeline at once: every line is whole, `seq` runs 1, 2, 3, ... over the
    /// file, each writer's events are there in its order, and none holds the secret.
    #[test]
    fn several_writers_never_interleave(
        (secret, batches) in secret().prop_flat_map(|s| {
            (Just(s.clone()), vec(vec(planted_event(s), 1..6), 2..5))
        }),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let redactor = Arc::new(Redactor::new());
        redactor.add(&secret);
        drop(TimelineWriter::create(&path, "run-1", Arc::clone(&redactor)).unwrap());
        let barrier = Arc::new(std::sync::Barrier::new(batches.len()));
        let threads: Vec<_> = batches
            .iter()
            .cloned()
            .map(|events| {
                let (path, redactor, barrier) = (path.clone(), Arc::clone(&redactor), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    let mut writer = TimelineWriter::resume(&path, "run-1", 0, redactor).unwrap();
                    barrier.wait();
                    events.into_iter().map(|e| writer.write(e).unwrap()).collect::<Vec<_>>()
                })
            })
            .collect();
        let written: Vec<Vec<Record>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let bytes = std::fs::read(&path).unwrap();
        let parsed = reader::parse_bytes(&bytes);
        prop_assert!(!parsed.torn);
        prop_assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        let total: usize = batches.iter().map(Vec::len).sum();
        let seqs: Vec<u64> = parsed.records.iter().map(|r| r.seq).collect();
        prop_assert_eq!(seqs, (1..=total as u64).collect::<Vec<_>>());
        for (events, mine) in batches.iter().zip(&written) {
            // What each writer says it wrote is in the file, in its order.
            let in_file: Vec<&Record> = parsed.records.iter().filter(|r| mine.contains(r)).collect();
            prop_assert_eq!(in_file, mine.iter().collect::<Vec<_>>());
            let text = String::from_utf8_lossy(&bytes).into_owned();
            assert_written(&text, &secret, events, mine)?;
        }
    }
}

/// Appends the start of a line, as a writer killed in mid-write leaves it (cut inside `é`).
fn tear(path: &std::path::Path) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(b"{\"seq\":7,\"text\":\"caf\xC3").unwrap();
}

#[test]
fn reading_a_file_of_arbitrary_bytes_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let note = r#"{"seq":1,"ts":"t","run_id":"r","event":"note","text":"a","actor":"me"}"#;
    for (bytes, expected) in [
        (
            &b""[..],
            Err("t.jsonl: the timeline has no events".to_string()),
        ),
        (b"\n\n", Err("t.jsonl: the timeline has no events".into())),
        (
            b"\xff\xfe\n",
            Err("t.jsonl:1:1: not a timeline event: not UTF-8 text".into()),
        ),
        // A `seq` but no `event`: a kind this version does not know, skipped.
        (
            b"{\"seq\":1}\n",
            Err("t.jsonl: the timeline has no events".into()),
        ),
        (
            b"{\"seq\":1,\"event\":\"note\"}\n",
            Err("t.jsonl:1:1: not a timeline event: missing field `ts`".into()),
        ),
        // No newline: a torn line, ignored, and nothing else is there.
        (
            b"not json",
            Err("t.jsonl: the timeline has no events".into()),
        ),
        (
            b"not json\n",
            Err("t.jsonl:1:2: not a timeline event: expected ident at line 1 column 2".into()),
        ),
        // An event from a newer version is skipped, not an error.
        (
            b"{\"seq\":1,\"ts\":\"t\",\"run_id\":\"r\",\"event\":\"from_the_future\"}\n",
            Err("t.jsonl: the timeline has no events".into()),
        ),
        (
            format!("{note}\n{{\"seq\":2").as_bytes().to_vec().leak(),
            Ok((1, true)),
        ),
    ] {
        std::fs::write(&path, bytes).unwrap();
        let got = reader::read(&path)
            .map(|p| (p.records.len(), p.torn))
            .map_err(|e| e.replace(&format!("{}/", dir.path().display()), ""));
        assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(bytes));
    }
}

/// Separate processes (`runbook note`) appending to one timeline at once: every note is there
/// exactly once on a whole line of its own, and `seq` runs on without a gap or a repeat.
#[test]
fn several_processes_append_whole_lines() {
    let out = crate::support::Test::new()
        .runbook(
            r#"
            name: notes
            title: Notes
            steps:
              - {id: one, title: One, wait: 1ms}
            "#,
        )
        .args(["run", "--non-interactive"])
        .run()
        .run_outcome("completed", 0);
    let path = out.path(crate::support::TIMELINE);
    let before = reader::read(&path).unwrap().records.len();
    let notes: Vec<String> = (0..8)
        .map(|i| format!("note {i} {}", "x".repeat(4000)))
        .collect();
    let children: Vec<_> = notes
        .iter()
        .map(|note| {
            std::process::Command::new(env!("CARGO_BIN_EXE_runbook"))
                .arg("note")
                .arg(&path)
                .arg(note)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let done = child.wait_with_output().unwrap();
        assert_eq!(
            done.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
    }
    let bytes = std::fs::read(&path).unwrap();
    let parsed = reader::parse_bytes(&bytes);
    assert!(
        !parsed.torn && parsed.problems.is_empty(),
        "{:?}",
        parsed.problems
    );
    let seqs: Vec<u64> = parsed.records.iter().map(|r| r.seq).collect();
    assert_eq!(
        seqs,
        (1..=(before + notes.len()) as u64).collect::<Vec<_>>()
    );
    let mut texts: Vec<String> = parsed.records[before..]
        .iter()
        .map(|r| match &r.event {
            Event::Note { text, .. } => text.clone(),
            other => panic!("not a note: {other:?}"),
        })
        .collect();
    texts.sort();
    assert_eq!(texts, notes);
}
