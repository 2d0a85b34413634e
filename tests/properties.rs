//! Properties over generated inputs (proptest): durations and redaction. Timeline round-trips
//! are in `timeline_properties.rs`, redaction end to end in `redaction.rs`.
//!
//! The redaction property, precisely (see `src/redact.rs`): for any text and any non-empty
//! secret that is not part of the mask (`*`, `**`, `***`), the redacted text contains the
//! secret in none of the forms the Redactor promises — as itself (ASCII letters in either
//! case), percent-encoded (`%XX`, either case, any of its characters; `+` for a space),
//! JSON-escaped (short or `\uXXXX` escapes, up to three levels deep), as HTML character
//! references, all mixed within one occurrence; and from 4 characters on (shorter secrets are
//! refused by the command line) as hex and in base64, also inside the base64 of `user:secret`.
//! Redacting twice changes nothing. Text cut short before redaction and marked with an
//! ellipsis keeps no start of the secret before the ellipsis.

use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::Value as Json;

use runbook::duration;
use runbook::redact::{MASK, Redactor};

use crate::support::forms::{self, json_inner};

/// `n` cases, and no regressions file: a failure found once becomes an example test (below,
/// or next to the code it found a bug in).
pub(crate) fn cases(n: u32) -> ProptestConfig {
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

/// Users whose `user:secret` base64 is looked for: the three alignments of the secret.
const USERS: [&str; 3] = ["admin", "ab", "a"];

/// Secrets: short ones (1-3 characters, which the command line refuses but the Redactor must
/// still mask as themselves), numeric ones, a mix of arbitrary Unicode and the characters that
/// encodings touch.
fn secret() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9*%\\\\\"+ /é😀\n&=<>'-]{1,8}",
        "[a-z0-9-]{1,24}",
        "[0-9]{4,9}",
        ".{1,6}",
    ]
    .prop_filter("a secret that is part of the mask", |s| {
        !MASK.contains(s.as_str())
    })
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z0-9*%\\\\\"+ /é😀\n&=;#-]{0,12}", ".{0,12}"]
}

/// Writes `secret` one character at a time, each in a form picked by `choices`: as itself,
/// case-swapped, percent-encoded (either case), JSON-escaped (short or `\u`, either case), an
/// HTML character reference (decimal, hex, or named), or a space as `+`.
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
        match choices.get(i).copied().unwrap_or(0) % 11 {
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
            7 => out.push_str(&format!("&#{};", c as u32)),
            8 => out.push_str(&format!("&#x{:X};", c as u32)),
            9 => out.push_str(&forms::html_named(&c.to_string())),
            _ if c == ' ' => out.push('+'),
            _ => out.push(c),
        }
    }
    out
}

/// The whole secret in one of the encodings of a whole value: mixed per character (above),
/// hex, base64, or the base64 of `user:secret`.
fn whole(secret: &str, how: u8, choices: &[u8]) -> String {
    match how % 6 {
        0 => forms::hex(secret),
        1 => forms::hex(secret).to_uppercase(),
        2 => forms::base64(secret),
        3 => forms::base64(&format!("{}:{secret}", USERS[choices.len() % 3])),
        _ => encode(secret, choices),
    }
}

/// Fails unless `out` is free of `secret` in every promised form (see `support::forms`), and
/// redacting it again changes nothing.
fn assert_redacted(redactor: &Redactor, out: &str, secret: &str) -> Result<(), TestCaseError> {
    if let Some((what, form)) = forms::find(out, secret, &USERS) {
        return Err(TestCaseError::fail(format!(
            "{what} {form:?} (for {secret:?}) survives in {out:?}"
        )));
    }
    prop_assert_eq!(redactor.redact(out), out, "redacting again changes it");
    Ok(())
}

/// Whether the encodings of a whole value apply: the command line refuses shorter secrets.
fn long_enough(secret: &str) -> bool {
    secret.chars().count() >= forms::MIN_CHARS
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn an_embedded_secret_never_survives(
        secret in secret(),
        prefix in text(),
        suffix in text(),
        choices in vec(any::<u8>(), 0..8),
        how in any::<u8>(),
        wraps in 0usize..3,
    ) {
        let redactor = Redactor::new();
        redactor.add(&secret);
        let planted = if long_enough(&secret) { whole(&secret, how, &choices) } else { encode(&secret, &choices) };
        // Embedded, then the whole text inside up to two levels of JSON strings.
        let mut embedded = format!("{prefix}{planted}{suffix}");
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
        parts in vec((text(), vec(any::<u8>(), 0..8), any::<u8>()), 4),
        tail in text(),
    ) {
        let redactor = Redactor::new();
        secrets.iter().for_each(|s| redactor.add(s));
        let mut embedded = String::new();
        for (i, (gap, choices, how)) in parts.iter().enumerate() {
            let secret = &secrets[i % secrets.len()];
            embedded.push_str(gap);
            embedded.push_str(&if long_enough(secret) { whole(secret, *how, choices) } else { encode(secret, choices) });
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
        secret in "[n-z]{4,6}",
        text in "[a-mA-M0-9 .,:;!?()#@]{0,40}",
    ) {
        // Neither the secret's letters nor (but for negligible odds) its hex or base64 are here.
        let redactor = Redactor::new();
        redactor.add(&secret);
        prop_assert_eq!(redactor.redact(&text), text);
    }

    /// A text cut at the code's cuts (120 characters and `…`: a command's last line of output,
    /// the start of a body; 117 and `...`: `short_json`, the expression errors' values) with
    /// the secret straddling the cut keeps no start of the secret before the ellipsis.
    #[test]
    fn a_secret_straddling_a_cut_leaves_no_start(
        secret in "[a-zA-Z0-9/+=-]{4,16}",
        back in 1usize..16,
        marker in prop_oneof![Just((120usize, "…")), Just((117, "..."))],
    ) {
        let (cut, ellipsis) = marker;
        let back = back.min(secret.len() - 1);
        let at = cut - back;
        // Spaces around it: nothing before the secret can extend its start.
        let text = format!("{}{secret}{}", " ".repeat(at), " ".repeat(130 - at));
        let shown: String = text.chars().take(cut).collect::<String>() + ellipsis;
        let kept = &secret[..back];
        let kept_shown = format!("{kept}{ellipsis}");
        prop_assert!(shown.contains(&kept_shown), "{}", shown);
        let redactor = Redactor::new();
        redactor.add(&secret);
        let out = redactor.redact(&shown);
        prop_assert!(out.ends_with(&format!("{MASK}{ellipsis}")), "{shown:?} -> {out:?}");
        prop_assert_eq!(out.len(), at + MASK.len() + ellipsis.len(), "{:?}", out);
    }

    /// JSON values: every string and every number holding the secret comes out free of it;
    /// keys are names, not data, and a key without the secret comes out as it went in.
    #[test]
    fn json_values_come_out_free_of_secrets(
        secret in prop_oneof!["[a-zA-Z0-9 */%+é-]{4,8}", "[1-9][0-9]{3,8}"]
            .prop_filter("mask", |s| !MASK.contains(s.as_str())),
        value in json_strings(),
    ) {
        let redactor = Redactor::new();
        redactor.add(&secret);
        let value = plant(&value, &secret);
        let out = redactor.redact_json(&value);
        let mut strings = Vec::new();
        collect_values(&out, &mut strings);
        for s in &strings {
            assert_redacted(&redactor, s, &secret)?;
        }
        prop_assert_eq!(keys(&out), keys(&value));
        let line = serde_json::to_string(&out).unwrap();
        if let Some((what, form)) = forms::find(&line, &secret, &USERS) {
            return Err(TestCaseError::fail(format!("{what} {form:?} in {line}")));
        }
    }
}

/// JSON made of strings, numbers, arrays and objects, whose strings are written as-is in JSON.
fn json_strings() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        "[a-zA-Z0-9 */%+é-]{0,10}".prop_map(Json::String),
        (0u64..1000).prop_map(Json::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Json::Array),
            // Keys shorter than any secret: none holds one by chance.
            vec(("[g-z ]{0,3}", inner), 0..4)
                .prop_map(|entries| Json::Object(entries.into_iter().collect())),
        ]
    })
}

/// Puts the secret into every other string, and into numbers: a numeric secret as a JSON
/// number (`4711` or `94711`), any other next to the number's digits in a string.
fn plant(value: &Json, secret: &str) -> Json {
    match value {
        Json::String(s) if s.len() % 2 == 0 => Json::String(format!("{s}{secret}{s}")),
        Json::Number(n) => match format!("{n}{secret}").parse::<u64>() {
            Ok(planted) if n.as_u64().is_some_and(|n| n > 0) => Json::from(planted),
            Ok(_) => Json::from(secret.parse::<u64>().unwrap_or_default()),
            Err(_) => Json::String(format!("{n}{secret}")),
        },
        Json::Array(items) => Json::Array(items.iter().map(|v| plant(v, secret)).collect()),
        Json::Object(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), plant(v, secret)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The strings and numbers of a value, as text.
fn collect_values(value: &Json, out: &mut Vec<String>) {
    match value {
        Json::String(s) => out.push(s.clone()),
        Json::Number(n) => out.push(n.to_string()),
        Json::Array(items) => items.iter().for_each(|v| collect_values(v, out)),
        Json::Object(map) => map.values().for_each(|v| collect_values(v, out)),
        _ => {}
    }
}

/// Every key, depth first.
fn keys(value: &Json) -> Vec<String> {
    match value {
        Json::Array(items) => items.iter().flat_map(keys).collect(),
        Json::Object(map) => map
            .iter()
            .flat_map(|(k, v)| std::iter::once(k.clone()).chain(keys(v)))
            .collect(),
        _ => Vec::new(),
    }
}
