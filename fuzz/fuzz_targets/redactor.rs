//! The redactor (`runbook::redact`): for any secret and any text, with the secret planted in
//! any promised form, nothing the redactor returns holds the secret in any promised form, and
//! redacting again changes nothing. Every line the program writes goes through it, so any text
//! a server, a command or an operator sends can reach it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runbook::redact::{MASK, Redactor};

#[path = "../../tests/support/forms.rs"]
mod forms;

const USERS: [&str; 3] = ["admin", "ab", "a"];

fuzz_target!(|data: &[u8]| {
    // Byte 0: how long the secret is (in bytes of the rest); byte 1: which form to plant.
    let [len, how, rest @ ..] = data else {
        return;
    };
    let rest = String::from_utf8_lossy(rest);
    let split = (*len as usize % 24).min(rest.len());
    let split = (0..=split)
        .rev()
        .find(|&i| rest.is_char_boundary(i))
        .unwrap_or(0);
    let (secret, text) = rest.split_at(split);
    // The command line refuses shorter secrets; a secret inside the mask cannot be masked.
    if secret.chars().count() < forms::MIN_CHARS || MASK.contains(secret) {
        return;
    }
    let redactor = Redactor::new();
    redactor.add(secret);
    let planted = match how % 9 {
        0 => secret.to_string(),
        1 => forms::json_inner(secret),
        2 => forms::json_inner(&forms::json_inner(secret)),
        3 => forms::percent_all(secret),
        4 => forms::html_numeric(secret),
        5 => forms::html_named(secret),
        6 => forms::hex(secret),
        7 => forms::base64(secret),
        _ => forms::base64(&format!("{}:{secret}", USERS[*how as usize % USERS.len()])),
    };
    let (before, after) = text.split_at(
        (0..=text.len() / 2)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0),
    );
    for input in [text.to_string(), format!("{before}{planted}{after}")] {
        let out = redactor.redact(&input);
        if let Some((what, form)) = forms::find(&out, secret, &USERS) {
            panic!("{what} form {form:?} of {secret:?} survives: {input:?} -> {out:?}");
        }
        assert_eq!(redactor.redact(&out), out, "redacting again changes it");
        // The same through JSON, numbers included (the values only: the keys and quotes
        // around them are not the redactor's to change).
        let value = serde_json::json!({"s": input, "n": input.parse::<f64>().ok()});
        let out = redactor.redact_json(&value);
        for field in [&out["s"], &out["n"]] {
            // (No number: `null`, which is no text of the input.)
            let text = match field {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => continue,
            };
            if let Some((what, form)) = forms::find(&text, secret, &USERS) {
                panic!(
                    "{what} form {form:?} of {secret:?} survives in JSON: {input:?} -> {text:?}"
                );
            }
        }
    }
});
