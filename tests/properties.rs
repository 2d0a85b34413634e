//! Properties over generated inputs (proptest) — durations, redaction, timeline round-trips —
//! and redaction end to end: secrets from every way in, checked in every way out.
//!
//! The redaction property, precisely (see `src/redact.rs`): for any text and any non-empty
//! secret that is not part of the mask (`*`, `**`, `***`), the redacted text contains the
//! secret in none of the forms the Redactor knows — as itself (ASCII letters in either case),
//! percent-encoded (`%XX`, either case, any of its characters; `+` for a space), JSON-escaped
//! (short or `\uXXXX` escapes, up to three levels deep), all mixed within one occurrence — so
//! redacting twice changes nothing, and a secret embedded in any such form is replaced.
//! Only the whole secret is guaranteed: text cut short before redaction can keep a part.

use std::sync::Arc;
use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Map, Value as Json};

use runbook::duration;
use runbook::redact::{MASK, Redactor};
use runbook::timeline::{Event, Outcome, Record, RunOutcome, TimelineWriter, reader};

use crate::support::*;

/// `n` cases, and no regressions file: a failure found once becomes an example test (below,
/// or next to the code it found a bug in).
fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------- durations

/// The longest duration a runbook may write.
const MAX: Duration = Duration::from_secs(366 * 86_400);

/// `(text, nanoseconds)` for one term as an author writes it: `12ms`, `1.5s`, `2 m`, `0.25h`.
fn term() -> impl Strategy<Value = (String, u128)> {
    let units = prop_oneof![
        Just(("ms", 1_000_000u128)),
        Just(("s", 1_000_000_000)),
        Just(("sec", 1_000_000_000)),
        Just(("m", 60_000_000_000)),
        Just(("min", 60_000_000_000)),
        Just(("h", 3_600_000_000_000)),
    ];
    (0u128..2000, 0usize..4, 0u128..1000, units, any::<bool>()).prop_map(
        |(whole, decimals, fraction, (unit, unit_ns), space)| {
            let scale = 10u128.pow(decimals as u32);
            let fraction = fraction % scale;
            let number = if decimals == 0 {
                whole.to_string()
            } else {
                format!("{whole}.{fraction:0width$}", width = decimals)
            };
            let ns = whole * unit_ns + fraction * unit_ns / scale;
            let gap = if space { " " } else { "" };
            (format!("{number}{gap}{unit}"), ns)
        },
    )
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn duration_parse_never_panics(text in any::<String>()) {
        let _ = duration::parse(&text);
    }

    #[test]
    fn duration_parse_accepts_nothing_too_long(text in "[0-9 .mshinec]{0,24}") {
        if let Ok(d) = duration::parse(&text) {
            prop_assert!(d <= MAX, "{text:?} parsed to {d:?}");
        }
    }

    #[test]
    fn written_durations_add_up_exactly(terms in vec(term(), 1..4), sep in "[ ]{0,2}") {
        let text = terms.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join(&sep);
        let ns: u128 = terms.iter().map(|(_, ns)| ns).sum();
        let parsed = duration::parse(&text);
        if ns <= MAX.as_nanos() {
            prop_assert_eq!(parsed.map(|d| d.as_nanos()), Ok(ns), "{}", text);
        } else {
            prop_assert!(parsed.is_err(), "{text:?} is longer than a year");
        }
    }

    #[test]
    fn compact_round_trips(ms in 0..=MAX.as_millis() as u64) {
        let d = Duration::from_millis(ms);
        let text = duration::compact(d);
        prop_assert_eq!(duration::parse(&text), Ok(d), "{}", text);
    }

    #[test]
    fn human_renderings_never_panic(ms in any::<u64>(), float in any::<f64>()) {
        let _ = duration::human(Duration::from_millis(ms));
        let _ = duration::compact(Duration::from_millis(ms));
        let _ = duration::human_ms(float);
        let _ = duration::human_ms(ms as f64);
    }
}

// ---------------------------------------------------------------- redaction

/// Secrets and texts: a mix of arbitrary Unicode and the characters that encodings touch.
fn secret() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9*%\\\\\"+ /é😀\n&=-]{1,8}",
        "[a-z0-9-]{1,24}",
        ".{1,6}",
    ]
    .prop_filter("a secret that is part of the mask", |s| {
        !MASK.contains(s.as_str())
    })
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z0-9*%\\\\\"+ /é😀\n&=-]{0,12}", ".{0,12}"]
}

/// Writes `secret` one character at a time, each in a form picked by `choices`: as itself,
/// case-swapped, percent-encoded (either case), JSON-escaped (short or `\u`, either case), or
/// a space as `+`.
fn encode(secret: &str, choices: &[u8]) -> String {
    let mut out = String::new();
    for (i, c) in secret.chars().enumerate() {
        let mut buf = [0u8; 4];
        let bytes = c.encode_utf8(&mut buf).as_bytes();
        let unicode = || -> String {
            let mut units = [0u16; 2];
            c.encode_utf16(&mut units)
                .iter()
                .map(|u| format!("\\u{u:04x}"))
                .collect()
        };
        match choices.get(i).copied().unwrap_or(0) % 8 {
            0 => out.push(c),
            1 if c.is_ascii_lowercase() => out.push(c.to_ascii_uppercase()),
            1 => out.push(c.to_ascii_lowercase()),
            2 => bytes
                .iter()
                .for_each(|b| out.push_str(&format!("%{b:02X}"))),
            3 => bytes
                .iter()
                .for_each(|b| out.push_str(&format!("%{b:02x}"))),
            4 => out.push_str(json_inner(&c.to_string()).as_str()),
            5 => out.push_str(&unicode().to_ascii_uppercase().replace("\\U", "\\u")),
            6 => out.push_str(&unicode()),
            _ if c == ' ' => out.push('+'),
            _ => out.push(c),
        }
    }
    out
}

/// A string as it appears inside a JSON string literal.
fn json_inner(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap();
    quoted[1..quoted.len() - 1].to_string()
}

/// Every byte that is not unreserved as `%XX`.
fn percent_all(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Fails unless `out` is free of `secret` in every form a test can name independently of the
/// Redactor, and redacting it again changes nothing (no form the Redactor knows is left).
fn assert_redacted(redactor: &Redactor, out: &str, secret: &str) -> Result<(), TestCaseError> {
    let lower = out.to_ascii_lowercase();
    for form in [
        secret.to_string(),
        json_inner(secret),
        json_inner(&json_inner(secret)),
        percent_all(secret),
    ] {
        prop_assert!(
            !lower.contains(&form.to_ascii_lowercase()),
            "{form:?} (for {secret:?}) survives in {out:?}"
        );
    }
    prop_assert_eq!(redactor.redact(out), out, "redacting again changes it");
    Ok(())
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn an_embedded_secret_never_survives(
        secret in secret(),
        prefix in text(),
        suffix in text(),
        choices in vec(any::<u8>(), 0..8),
        wraps in 0usize..3,
    ) {
        let redactor = Redactor::new();
        redactor.add(&secret);
        // Embedded, then the whole text inside up to two levels of JSON strings.
        let mut embedded = format!("{prefix}{}{suffix}", encode(&secret, &choices));
        for _ in 0..wraps {
            embedded = json_inner(&embedded);
        }
        let out = redactor.redact(&embedded);
        prop_assert!(out.contains(MASK), "{embedded:?} -> {out:?}");
        assert_redacted(&redactor, &out, &secret)?;
    }

    #[test]
    fn several_secrets_never_survive(
        secrets in vec(secret(), 1..4),
        parts in vec((text(), vec(any::<u8>(), 0..8)), 4),
        tail in text(),
    ) {
        let redactor = Redactor::new();
        secrets.iter().for_each(|s| redactor.add(s));
        let mut embedded = String::new();
        for (i, (gap, choices)) in parts.iter().enumerate() {
            embedded.push_str(gap);
            embedded.push_str(&encode(&secrets[i % secrets.len()], choices));
        }
        embedded.push_str(&tail);
        let out = redactor.redact(&embedded);
        for secret in &secrets {
            assert_redacted(&redactor, &out, secret)?;
        }
    }

    #[test]
    fn any_text_comes_out_free_of_secrets(secret in secret(), text in ".{0,40}") {
        let redactor = Redactor::new();
        redactor.add(&secret);
        let out = redactor.redact(&text);
        assert_redacted(&redactor, &out, &secret)?;
    }

    #[test]
    fn text_without_the_secret_is_left_alone(
        secret in "[n-z]{1,6}",
        text in "[a-mA-M0-9 .,:;!?()#@]{0,40}",
    ) {
        let redactor = Redactor::new();
        redactor.add(&secret);
        prop_assert_eq!(redactor.redact(&text), text);
    }

    #[test]
    fn json_values_come_out_free_of_secrets(
        secret in "[a-zA-Z0-9 */%+é-]{1,8}".prop_filter("mask", |s| !MASK.contains(s.as_str())),
        value in json_strings(),
    ) {
        let redactor = Redactor::new();
        redactor.add(&secret);
        let value = plant(&value, &secret);
        let out = redactor.redact_json(&value);
        let mut strings = Vec::new();
        collect_strings(&out, &mut strings);
        for s in &strings {
            assert_redacted(&redactor, s, &secret)?;
        }
        // Strings of these characters are written as they are, and the secret has no quote:
        // it cannot appear in the serialized line outside a string either.
        let line = serde_json::to_string(&out).unwrap();
        prop_assert!(!line.contains(&secret), "{line}");
    }
}

/// JSON made of strings, arrays and objects, whose strings are written as-is in JSON.
fn json_strings() -> impl Strategy<Value = Json> {
    let leaf = "[a-zA-Z0-9 */%+é-]{0,10}".prop_map(Json::String);
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Json::Array),
            vec(("[a-z0-9 %+-]{0,6}", inner), 0..4)
                .prop_map(|entries| Json::Object(entries.into_iter().collect())),
        ]
    })
}

/// Puts the secret into every other string (keys included).
fn plant(value: &Json, secret: &str) -> Json {
    match value {
        Json::String(s) if s.len() % 2 == 0 => Json::String(format!("{s}{secret}{s}")),
        Json::Array(items) => Json::Array(items.iter().map(|v| plant(v, secret)).collect()),
        Json::Object(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (format!("{k}{secret}"), plant(v, secret)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn collect_strings(value: &Json, out: &mut Vec<String>) {
    match value {
        Json::String(s) => out.push(s.clone()),
        Json::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Json::Object(map) => map.iter().for_each(|(k, v)| {
            out.push(k.clone());
            collect_strings(v, out);
        }),
        _ => {}
    }
}

// ---------------------------------------------------------------- timeline round-trips

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
                        vars,
                        version,
                        actor,
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
            (vec(s(), 0..3), json_map(), any::<u64>(), any::<u64>())
        )
            .prop_map(
                |(
                    (step, attempt, outcome, summary),
                    (failures, data, duration_ms, next_delay_ms),
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
        (s(), proptest::option::of(s()), s()).prop_map(|(milestone, step, actor)| {
            Event::Milestone {
                milestone,
                step,
                actor,
            }
        }),
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
    fn damaged_timelines_never_panic_the_reader(
        records in vec(record(), 1..4),
        damage in vec((any::<proptest::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = records.iter().map(line).collect::<String>().into_bytes();
        for (at, byte) in damage {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        let parsed = reader::parse_bytes(&bytes);
        // A damaged line is reported or skipped, never made up.
        prop_assert!(parsed.records.len() <= records.len());
    }
}

proptest! {
    // Every event is a synced write: few cases.
    #![proptest_config(cases(24))]

    #[test]
    fn the_writer_and_the_reader_agree(
        events in vec(event(), 1..5),
        torn_after in proptest::option::of(0usize..5),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let mut writer = TimelineWriter::create(&path, "run-1", Arc::new(Redactor::new())).unwrap();
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
        let got: Vec<Event> = parsed.records.iter().map(|r| r.event.clone()).collect();
        prop_assert_eq!(got, events);
        let seqs: Vec<u64> = parsed.records.iter().map(|r| r.seq).collect();
        prop_assert_eq!(seqs, (1..=written.len() as u64).collect::<Vec<_>>());
        prop_assert!(parsed.records.iter().all(|r| r.run_id == "run-1"));
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
    for bytes in [
        &b""[..],
        b"\n\n",
        b"\xff\xfe\n",
        b"{\"seq\":1}\n",
        b"not json",
        b"{\"seq\":1,\"ts\":\"t\",\"run_id\":\"r\",\"event\":\"from_the_future\"}\n",
    ] {
        std::fs::write(&path, bytes).unwrap();
        let _ = reader::read(&path);
    }
}

// ---------------------------------------------------------------- redaction end to end

/// A declared secret, from the environment: fit for a host name, with mixed case (a URL
/// parser lowercases a host).
const TOKEN: &str = "zQ7-sEcr3t-t0kEn";
/// A declared secret with the characters URL and JSON encoders change: a URL library encodes
/// only some of them, a JSON echo of a JSON request escapes the quote twice.
const PASSWORD: &str = "p@ss w/rd\"é+&1";
/// A secret answer (`secret: true`), known only once the manual step has it.
const OTP: &str = "0tp-4nsw3r-Q9x";

const SECRETS_RUNBOOK: &str = r#"
    name: redaction
    title: Secrets in, nothing out
    secrets: [RB_E2E_TOKEN, RB_E2E_PASSWORD]
    # copy, note and deep come from the vars file or --var of each test.
    vars: {channel: ops, copy: ~, note: ~, deep: ~}
    steps:
      - id: login
        title: Get a one-time password
        manual: Ask the provider for a one-time password.
        ask:
          - {name: otp, prompt: One-time password, secret: true}
      - id: echo
        title: The server echoes everything back in its body
        action: false
        http:
          url: "$SERVER/echo?pw={{ secrets.RB_E2E_PASSWORD }}&otp={{ steps.login.otp }}&copy={{ vars.copy }}"
          method: POST
          headers:
            X-Token: "{{ secrets.RB_E2E_TOKEN }}"
            X-Otp: "{{ steps.login.otp }}"
          json:
            token: "{{ secrets.RB_E2E_TOKEN }}"
            password: "{{ secrets.RB_E2E_PASSWORD }}"
            otp: "{{ steps.login.otp }}"
            copy: "{{ vars.copy }}"
            note: "{{ vars.note }}"
            deep: "{{ vars.deep.list[0] }}"
          timeout: 2s
        expect: body == 'not what comes back'
        on_fail: continue
      - id: header
        title: A response header carries the token
        action: false
        http:
          url: "$SERVER/redirect/{{ secrets.RB_E2E_TOKEN }}"
          follow_redirects: false
          timeout: 2s
        expect:
          - status == 200
          - headers.location == 'nowhere'
        on_fail: continue
      - id: dns
        title: The token in a host name that does not resolve
        action: false
        http: {url: "http://{{ secrets.RB_E2E_TOKEN }}.invalid/x?pw={{ secrets.RB_E2E_PASSWORD }}", timeout: 2s}
        on_fail: continue
      - id: stderr
        title: A careless script prints every secret
        action: false
        command:
          argv: [sh, -c, 'echo "token $T password $P otp $O" >&2; echo "copy $C"; exit 3']
          env:
            T: "{{ secrets.RB_E2E_TOKEN }}"
            P: "{{ secrets.RB_E2E_PASSWORD }}"
            O: "{{ steps.login.otp }}"
            C: "{{ vars.copy }}"
        on_fail: continue
      - id: no_program
        title: A program named after the token cannot start
        action: false
        command: {argv: ["/nonexistent/{{ secrets.RB_E2E_TOKEN }}"]}
        on_fail: continue
    finally:
      - id: report
        title: Say what was used
        action: false
        command: {argv: [echo, "{{ vars.note }} {{ vars.copy }} {{ vars.deep }}"]}
    "#;

/// Fails if `text` has any secret (ASCII case ignored, as a URL host may fold it) or the
/// password in the forms its encoders produce.
fn assert_no_secret(place: &str, text: &str) {
    let lower = text.to_ascii_lowercase();
    for secret in [TOKEN, PASSWORD, OTP] {
        for form in [
            secret.to_string(),
            json_inner(secret),
            json_inner(&json_inner(secret)),
            percent_all(secret),
        ] {
            assert!(
                !lower.contains(&form.to_ascii_lowercase()),
                "{place} has {form:?}:\n{text}"
            );
        }
    }
    // What a URL library leaves of the password in a query (space and quote encoded, the
    // rest as is), and the distinctive parts of it.
    for part in ["p@ss%20w/rd%22", "p@ss w", "w/rd", "rd%22"] {
        assert!(!text.contains(part), "{place} has {part:?}:\n{text}");
    }
}

/// Runs SECRETS_RUNBOOK with the secrets coming in through the environment, a vars file,
/// `--var note=NOTE`, an answers file; returns the run and what the server saw.
fn run_with_secrets(note: &str) -> (Output, Server) {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(SECRETS_RUNBOOK)
        .write(
            "vars.yaml",
            &format!(
                "copy: prefix-{TOKEN}-suffix\ndeep:\n  list: [{}]\n",
                serde_json::to_string(&format!("x {PASSWORD} y")).unwrap()
            ),
        )
        .write("answers.yaml", &format!("login: {{otp: {OTP}}}\n"))
        .env("RB_E2E_TOKEN", TOKEN)
        .env("RB_E2E_PASSWORD", PASSWORD)
        .args([
            "run",
            "--non-interactive",
            "--vars",
            "vars.yaml",
            "--answers",
            "answers.yaml",
            "--var",
            &format!("note={note}"),
            "--junit",
            "junit.xml",
        ])
        .run()
        .run_outcome("completed", 0);
    (out, server)
}

/// Everything a run leaves for people to read: stdout, stderr, the timeline, `run --junit`,
/// and `runbook timeline` in every format.
fn every_output(out: Output) -> Vec<(String, String)> {
    let mut outputs = vec![
        ("stdout".to_string(), out.stdout.clone()),
        ("stderr".to_string(), out.stderr.clone()),
        ("the timeline".to_string(), out.timeline_text()),
        (
            "run --junit".to_string(),
            std::fs::read_to_string(out.path("junit.xml")).unwrap(),
        ),
    ];
    let mut out = out;
    for format in ["text", "markdown", "json", "junit", "html"] {
        let report = out
            .then()
            .args(["timeline", TIMELINE, "--format", format])
            .run()
            .status(0);
        assert!(report.stdout.len() > 100, "{format}: {}", report.stdout);
        outputs.push((
            format!("`timeline --format {format}`"),
            report.stdout.clone(),
        ));
        outputs.push((
            format!("`timeline --format {format}` stderr"),
            report.stderr.clone(),
        ));
        out = report;
    }
    outputs
}

#[test]
fn secrets_from_every_way_in_reach_no_output() {
    let (out, server) = run_with_secrets(&format!("n-{TOKEN}-{PASSWORD}"));

    // Every secret really went out, and really came back.
    let echo = &server.requests_to("/echo")[0];
    assert_eq!(echo.header("x-token"), Some(TOKEN));
    assert_eq!(echo.header("x-otp"), Some(OTP));
    let sent: Json = serde_json::from_str(&echo.body).unwrap();
    assert_eq!(sent["password"], PASSWORD);
    assert_eq!(sent["copy"], format!("prefix-{TOKEN}-suffix"));
    assert_eq!(sent["note"], format!("n-{TOKEN}-{PASSWORD}"));
    assert_eq!(sent["deep"], format!("x {PASSWORD} y"));
    assert!(echo.query.contains("p@ss%20w/rd%22"), "{}", echo.query);
    assert_eq!(server.count(&format!("/redirect/{TOKEN}")), 1);

    out.outcome("login", "passed");
    for id in ["echo", "header", "dns", "stderr", "no_program"] {
        let finished = out.finished(id);
        assert_ne!(finished["outcome"], "passed", "{finished}");
    }
    out.outcome("report", "passed");
    // Where each secret would have been, the mask is.
    let echoed = out.finished("echo");
    assert!(echoed["data"]["body"].as_str().unwrap().contains(MASK));
    let header = out.finished("header");
    assert_eq!(header["data"]["headers"]["location"], "/status/***");
    // The host came back lowercased, the query half-encoded.
    assert_eq!(
        out.finished("dns")["data"]["url"],
        "http://***.invalid/x?pw=***"
    );
    let stderr = out.finished("stderr");
    assert_eq!(
        stderr["data"]["stderr"], "token *** password *** otp ***\n",
        "{stderr}"
    );
    let vars = &out.events("run_started")[0]["vars"];
    assert_eq!(vars["note"], "n-***-***");
    assert_eq!(vars["copy"], "prefix-***-suffix");
    assert_eq!(vars["deep"]["list"][0], "x *** y");

    for (place, text) in every_output(out) {
        assert_no_secret(&place, &text);
    }
}

/// Every run of `len` characters of `secret`.
fn windows(secret: &str, len: usize) -> Vec<String> {
    let chars: Vec<char> = secret.chars().collect();
    chars.windows(len).map(|w| w.iter().collect()).collect()
}

#[test]
fn no_part_of_a_secret_reaches_any_output() {
    let (out, _server) = run_with_secrets(&format!("n-{TOKEN}-{PASSWORD}"));
    for (place, text) in every_output(out) {
        let lower = text.to_ascii_lowercase();
        for secret in [TOKEN, PASSWORD, OTP] {
            for part in windows(secret, 6) {
                assert!(
                    !lower.contains(&part.to_ascii_lowercase()),
                    "{place} has {part:?}, part of {secret:?}:\n{text}"
                );
            }
        }
    }
}

#[test]
fn a_secret_answer_is_redacted_from_the_start() {
    let (out, _server) = run_with_secrets(&format!("n-{OTP}"));
    for (place, text) in every_output(out) {
        assert_no_secret(&place, &text);
    }
}
