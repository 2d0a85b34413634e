//! What the fuzzers under `fuzz/` found (see fuzz/README.md), replayed through the real code.
//! Each input is kept in `fuzz/regressions/<target>/`, byte for byte as the fuzzer wrote it.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

fn regression(target: &str, name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target)
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `expression` target's input is a kind byte (even: expression, odd: template) and the text.
fn expression_input(target_file: &str) -> (bool, String) {
    let data = regression("expression", target_file);
    let (kind, text) = data.split_first().expect("a kind byte");
    (
        kind % 2 == 0,
        String::from_utf8(text.to_vec()).expect("UTF-8"),
    )
}

/// `not (_p,)*66666665*666-602` as a `when:`: MiniJinja built a tuple of 66,666,665 items
/// (1.5 GB, seconds of CPU) before the next `*` was refused as too large. One line of a
/// runbook could stall a run or get it OOM-killed; in a `loop` with `parallel`, once per item
/// at the same time. Now validation refuses it with the reason, and evaluation refuses it
/// before building anything.
#[test]
fn repeated_sequence_is_refused_before_it_is_built() {
    let (is_expression, source) = expression_input("repeated-sequence-timeout");
    assert!(is_expression);
    let refused = runbook::expr::check_expression(&source).unwrap_err();
    assert!(refused.contains("repeats a list or string"), "{refused}");
    let ctx = runbook::expr::context(&json!({"vars": {}, "steps": {}}));
    let started = Instant::now();
    let result = runbook::expr::eval(&source, &ctx);
    let took = started.elapsed();
    assert!(result.is_err(), "evaluated to {result:?}");
    assert!(
        took < Duration::from_millis(500),
        "took {took:?} to refuse `{source}`"
    );
}

/// The same in a runbook: `runbook validate` names the line and column and exits 2.
#[test]
fn validate_locates_the_repetition() {
    let (_, source) = expression_input("repeated-sequence-timeout");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fuzzed.yaml");
    std::fs::write(
        &file,
        format!("name: fuzzed\nsteps:\n  - id: a\n    when: \"{source}\"\n    wait: 0s\n"),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_runbook"))
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fuzzed.yaml:4:11") && stderr.contains("repeats a list or string"),
        "{stderr}"
    );
}

/// Nested loops over large ranges run out of fuel instead of running for hours.
#[test]
fn nested_loops_run_out_of_fuel() {
    let ctx = runbook::expr::context(&json!({}));
    let started = Instant::now();
    let result = runbook::expr::render(
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
        &ctx,
    );
    let message = result.unwrap_err();
    assert!(message.contains("evaluation stopped after"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// `redactor`, in its first seconds: a secret of 8 backslashes and about 300 backslashes
/// before an ellipsis took 400 ms (the cut-off start of the secret was followed from every
/// position on its own, each time through every way of escaping a backslash). Now every
/// (characters, byte) pair is followed once; here the same input 300 times longer.
#[test]
fn backslashes_before_an_ellipsis_are_redacted_in_linear_time() {
    let data = regression("redactor", "backslashes-before-an-ellipsis-slow");
    let [len, _how, rest @ ..] = &data[..] else {
        panic!("too short");
    };
    let rest = std::str::from_utf8(rest).unwrap();
    let (secret, text) = rest.split_at(*len as usize % 24);
    assert_eq!(secret, "\\".repeat(8));
    let redactor = runbook::redact::Redactor::new();
    redactor.add(secret);
    assert_eq!(redactor.redact(text), "***…");
    let long = format!("{}…", text.trim_end_matches('…').repeat(300));
    let started = Instant::now();
    assert_eq!(redactor.redact(&long), "***…");
    // Linear: about a second in a debug build; quadratic, minutes. Room for a loaded machine.
    let took = started.elapsed();
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

/// `timeline_roundtrip`, in its first seconds: with the secret `"ste`, the check saw `"ste` in
/// the JSON text `"steps"` of a line's `phase`. Not a leak (the quote is JSON's, not the
/// value's), but it showed the writer masked the program's own vocabulary: a secret `steps`
/// would have turned a `finally` step's phase into `***`. Now `phase` and `mode` are the
/// writer's own fields, like `event` and `outcome`, and the check reads values, not JSON text.
#[test]
fn a_secret_inside_the_programs_own_words_leaves_them_alone() {
    use runbook::timeline::{Event, Outcome, TimelineWriter, reader};
    let data = regression("timeline_roundtrip", "quote-secret-inside-the-phase");
    let text = String::from_utf8_lossy(&data);
    let secret = text.split('\n').next().unwrap();
    assert_eq!(secret, "\"ste");
    for secret in [secret, "steps", "passed", "event"] {
        let redactor = std::sync::Arc::new(runbook::redact::Redactor::new());
        redactor.add(secret);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let mut writer = TimelineWriter::create(&path, "run-1", redactor).unwrap();
        writer
            .write(Event::StepFinished {
                step: "check".into(),
                title: format!("title {secret} end"),
                outcome: Outcome::Passed,
                duration_ms: 5,
                summary: "ok".into(),
                data: serde_json::Map::new(),
                attempt: 1,
                failures: Vec::new(),
                action: false,
                decided_by: None,
                phase: "steps".into(),
            })
            .unwrap();
        drop(writer);
        let line = std::fs::read_to_string(&path).unwrap();
        let parsed = reader::parse_lines(&line);
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["event"], "step_finished", "{line}");
        assert_eq!(value["outcome"], "passed", "{line}");
        assert_eq!(value["phase"], "steps", "{line}");
        assert_eq!(value["title"], "title *** end", "{line}");
    }
}

/// `redactor`, run 2 (the target's mistake, kept as a check of the redactor): the secret
/// `null` and a text that is no number, so the JSON the target built held `"n": null`, which
/// the target read as the text `null`. A JSON null is not text the input had: it stays null,
/// and the secret is masked wherever the text has it.
#[test]
fn a_secret_that_reads_like_json_null_masks_text_not_nulls() {
    let data = regression("redactor", "secret-null-against-a-json-null");
    let [len, _how, rest @ ..] = &data[..] else {
        panic!("too short");
    };
    let rest = String::from_utf8_lossy(rest);
    let (secret, text) = rest.split_at(*len as usize % 24);
    assert_eq!(secret, "null");
    let redactor = runbook::redact::Redactor::new();
    redactor.add(secret);
    let value = json!({"s": format!("{text}null{text}"), "n": null});
    let out = redactor.redact_json(&value);
    assert_eq!(out["n"], json!(null));
    let s = out["s"].as_str().unwrap();
    assert_eq!(s.matches("***").count(), 1, "{s:?}");
    assert!(!s.to_ascii_lowercase().contains("null"), "{s:?}");
}
