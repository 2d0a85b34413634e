//! Every form the redactor promises to mask a secret in (see src/redact.rs), written here
//! independently of it so a test or a fuzz target can look for them in any output. Shared by
//! the tests (`tests/support`) and the fuzz targets (`fuzz/`, through `#[path]`).

use base64::Engine;

/// The shortest secret the command line accepts; from this length on the hex and base64 forms
/// are promised too.
pub const MIN_CHARS: usize = 4;

/// A string as it appears inside a JSON string literal.
pub fn json_inner(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap_or_default();
    quoted[1..quoted.len().max(2) - 1].to_string()
}

/// Every byte that is not unreserved as `%XX`.
pub fn percent_all(text: &str) -> String {
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

/// Every character as a decimal HTML character reference.
pub fn html_numeric(text: &str) -> String {
    text.chars().map(|c| format!("&#{};", c as u32)).collect()
}

/// The characters HTML escapes as their named references.
pub fn html_named(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// The hex of the UTF-8 bytes, lowercase.
pub fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Standard base64 with padding, as `Authorization: Basic` uses it.
pub fn base64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// `(what, form, case_matters)` for every promised form of `secret`, including the base64 of
/// `user:secret` for each of `users`. Where case does not matter, look for the form with ASCII
/// case folded (a URL host and hex digits are case-folded on the way).
pub fn forms(secret: &str, users: &[&str]) -> Vec<(String, String, bool)> {
    let mut forms = vec![
        ("plain".to_string(), secret.to_string(), false),
        ("JSON-escaped".into(), json_inner(secret), false),
        (
            "JSON-escaped twice".into(),
            json_inner(&json_inner(secret)),
            false,
        ),
        ("URL-encoded".into(), percent_all(secret), false),
        ("HTML references".into(), html_numeric(secret), false),
        ("HTML-escaped".into(), html_named(secret), false),
    ];
    // A numeric secret in a JSON number is written with the same digits: the plain form
    // covers it in any output read as text.
    if secret.chars().count() >= MIN_CHARS {
        forms.push(("hex".into(), hex(secret), false));
        // Without the last character and padding, which also encode what follows.
        let core = |encoded: String| {
            let trimmed = encoded.trim_end_matches('=');
            let keep = if secret.len().is_multiple_of(3) {
                trimmed.len()
            } else {
                trimmed.len() - 1
            };
            trimmed[..keep].to_string()
        };
        forms.push(("base64".into(), core(base64(secret)), true));
        forms.push((
            "URL-safe base64".into(),
            core(base64::engine::general_purpose::URL_SAFE.encode(secret)),
            true,
        ));
        for user in users {
            forms.push((
                format!("base64 of `{user}:secret`"),
                base64(&format!("{user}:{secret}")),
                true,
            ));
        }
    }
    forms.sort();
    forms.dedup();
    forms
}

/// The first promised form of `secret` that `text` contains: `(what, form)`.
pub fn find(text: &str, secret: &str, users: &[&str]) -> Option<(String, String)> {
    let lower = text.to_ascii_lowercase();
    forms(secret, users)
        .into_iter()
        .find(|(_, form, case_matters)| {
            if *case_matters {
                text.contains(form.as_str())
            } else {
                lower.contains(&form.to_ascii_lowercase())
            }
        })
        .map(|(what, form, _)| (what, form))
}

/// The texts of a JSON value the redactor redacts one by one: every string, key and number.
pub fn leaves(value: &serde_json::Value) -> Vec<String> {
    use serde_json::Value as J;
    match value {
        J::String(s) => vec![s.clone()],
        J::Number(n) => vec![n.to_string()],
        J::Array(items) => items.iter().flat_map(leaves).collect(),
        J::Object(map) => map
            .iter()
            .flat_map(|(k, v)| std::iter::once(k.clone()).chain(leaves(v)))
            .collect(),
        _ => Vec::new(),
    }
}
