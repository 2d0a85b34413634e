//! Secret values never reach the terminal, the timeline or a report: every line that leaves the
//! process passes through a [`Redactor`], which replaces each secret with `***`, also where a
//! server echoes it back in a body, a header or an error message.

use std::sync::RwLock;

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// The set of secret values known so far (declared secrets at start, secret answers as given).
#[derive(Debug, Default)]
pub struct Redactor {
    /// Every form a secret may take in output, longest first so that a secret containing
    /// another is replaced whole.
    forms: RwLock<Vec<String>>,
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a secret value. Empty values cannot be redacted and are ignored.
    pub fn add(&self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let mut forms = self.forms.write().unwrap_or_else(|e| e.into_inner());
        let json = serde_json::to_string(secret).unwrap_or_default();
        let json_inner = json
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or(secret)
            .to_string();
        for form in [secret.to_string(), json_inner, percent_encode(secret)] {
            if !form.is_empty() && !forms.contains(&form) {
                forms.push(form);
            }
        }
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    }

    /// Replaces every known secret in `text`.
    pub fn redact(&self, text: &str) -> String {
        let forms = self.forms.read().unwrap_or_else(|e| e.into_inner());
        let mut out = text.to_string();
        for form in forms.iter() {
            if out.contains(form.as_str()) {
                out = out.replace(form.as_str(), MASK);
            }
        }
        out
    }

    /// Redacts every string inside a JSON value, keys included.
    pub fn redact_json(&self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value as J;
        match value {
            J::String(s) => J::String(self.redact(s)),
            J::Array(items) => J::Array(items.iter().map(|v| self.redact_json(v)).collect()),
            J::Object(map) => J::Object(
                map.iter()
                    .map(|(k, v)| (self.redact(k), self.redact_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.forms.read().map(|f| f.is_empty()).unwrap_or(true)
    }
}

/// How a secret looks inside a URL query or form body.
fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_every_form_of_a_secret() {
        let r = Redactor::new();
        r.add("s3cr\"et");
        r.add("");
        assert_eq!(r.redact("token=s3cr\"et;"), "token=***;");
        let line = serde_json::to_string(&serde_json::json!({"body": "echo s3cr\"et"})).unwrap();
        assert!(!r.redact(&line).contains("s3cr"), "{}", r.redact(&line));
        assert_eq!(r.redact("q=s3cr%22et"), "q=***");
    }

    #[test]
    fn longer_secrets_win() {
        let r = Redactor::new();
        r.add("abc");
        r.add("abcdef");
        assert_eq!(r.redact("xabcdefx abc"), "x***x ***");
    }
}
