//! Secret values never reach the terminal, the timeline or a report: every line that leaves the
//! process passes through a [`Redactor`], which replaces each secret with `***`, also where a
//! server echoes it back in a body, a header or an error message.
//!
//! What is guaranteed: for every text `t`, `redact(t)` contains no occurrence of any secret in
//! any of the forms below, so `redact` is idempotent. A secret that is part of the mask itself
//! (`*`, `**`, `***`) cannot be told from it and is not redacted.
//!
//! A secret is matched character by character, each character in any of the forms it takes on
//! the way out, mixed freely within one occurrence:
//! - as itself, ASCII letters in either case (URL hosts and hex digits are case-folded by the
//!   layers in between, so `Tok-A1` in a host comes back as `tok-a1`);
//! - percent-encoded, each UTF-8 byte as `%XX` in either case (how much of a value a URL or a
//!   form body encodes differs per library), and a space as `+`;
//! - JSON-escaped: `\"`, `\\`, `\/`, `\n` and the other short escapes, `\uXXXX`, and surrogate
//!   pairs; up to three levels deep (a server's echo of a JSON request is JSON inside JSON, and
//!   the timeline line around it a third level), so `\\\"` is a `"` too.
//!
//! Replacing an occurrence can create a new one where a secret begins or ends with `*` (`x*`
//! in `xx*` becomes `x***`), so redaction repeats until no occurrence is left; every round
//! removes a character that is not `*` or shortens the text, so it ends.

use std::sync::RwLock;

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// The set of secret values known so far (declared secrets at start, secret answers as given).
#[derive(Debug, Default)]
pub struct Redactor {
    secrets: RwLock<Vec<Secret>>,
}

/// One secret value, ready for matching.
#[derive(Debug, PartialEq)]
struct Secret {
    chars: Vec<char>,
    /// The bytes an occurrence can start with: the first character in either case, `%`, `\`
    /// and (for a space) `+`.
    first: [bool; 256],
}

impl Secret {
    fn new(text: &str) -> Self {
        let chars: Vec<char> = text.chars().collect();
        let mut first = [false; 256];
        let mut buf = [0u8; 4];
        let lead = chars[0].encode_utf8(&mut buf).as_bytes()[0];
        for b in [
            lead,
            lead.to_ascii_lowercase(),
            lead.to_ascii_uppercase(),
            b'%',
            b'\\',
        ] {
            first[b as usize] = true;
        }
        if chars[0] == ' ' {
            first[b'+' as usize] = true;
        }
        Secret { chars, first }
    }

    /// The end of the longest occurrence starting at byte `at`, if one does.
    fn match_at(&self, text: &[u8], at: usize) -> Option<usize> {
        if !self.first[text[at] as usize] {
            return None;
        }
        seq_ends(text, vec![at], &self.chars, DEPTH)
            .into_iter()
            .max()
    }
}

/// How many layers of JSON escaping are seen through: a JSON body inside a JSON body (a
/// server's echo of a request's JSON) inside a JSON string has three.
const DEPTH: u8 = 3;

/// Where a match of `chars` can end, starting from any of `starts`. Several forms of one
/// character can match with different lengths (`%41` is `A` encoded, or `%`, `4`, `1`), so
/// every position reachable so far is followed.
fn seq_ends(text: &[u8], mut starts: Vec<usize>, chars: &[char], depth: u8) -> Vec<usize> {
    let mut next = Vec::new();
    for &c in chars {
        next.clear();
        for &p in &starts {
            char_ends(text, p, c, depth, &mut next);
        }
        if next.is_empty() {
            return next;
        }
        std::mem::swap(&mut starts, &mut next);
    }
    starts
}

/// Adds to `ends` where each form of `c` that the text has at byte `at` ends.
fn char_ends(text: &[u8], at: usize, c: char, depth: u8, ends: &mut Vec<usize>) {
    let rest = &text[at..];
    let Some(&lead) = rest.first() else {
        return;
    };
    let mut add = |end: usize| {
        if !ends.contains(&end) {
            ends.push(end);
        }
    };
    let mut buf = [0u8; 4];
    let raw = c.encode_utf8(&mut buf).as_bytes();
    if rest.len() >= raw.len() && rest[..raw.len()].eq_ignore_ascii_case(raw) {
        add(at + raw.len());
    }
    if lead == b'%'
        && rest.len() >= 3 * raw.len()
        && raw
            .iter()
            .enumerate()
            .all(|(i, b)| rest[3 * i] == b'%' && hex_byte(&rest[3 * i + 1..]) == Some(*b as u32))
    {
        add(at + 3 * raw.len());
    }
    if c == ' ' && lead == b'+' {
        add(at + 1);
    }
    // A JSON escape: a backslash, then a letter or `u` and four hex digits, each of which may
    // itself be escaped one level less deep (`\\\"` is `"` escaped twice).
    if depth == 0 || !could_escape(rest, c) {
        return;
    }
    let backslash = seq_ends(text, vec![at], &['\\'], depth - 1);
    if backslash.is_empty() {
        return;
    }
    if let Some(letter) = short_escape(c) {
        seq_ends(text, backslash.clone(), &[letter], depth - 1)
            .into_iter()
            .for_each(&mut add);
    }
    // `\uXXXX`, or for a character beyond the BMP a surrogate pair: two escapes in a row.
    let mut units = [0u16; 2];
    let mut ends = backslash;
    for (i, unit) in c.encode_utf16(&mut units).iter().enumerate() {
        if i > 0 {
            ends = seq_ends(text, ends, &['\\'], depth - 1);
        }
        let hex = |shift: u16| char::from_digit(u32::from((unit >> shift) & 0xf), 16).unwrap();
        let escape = ['u', hex(12), hex(8), hex(4), hex(0)];
        ends = seq_ends(text, ends, &escape, depth - 1);
    }
    ends.into_iter().for_each(add);
}

/// A cheap test before following escapes: an escape starts with backslashes (raw or `%5C`),
/// and what follows them is the escape's letter, a `u`, or more percent-encoding.
fn could_escape(rest: &[u8], c: char) -> bool {
    let (mut i, mut backslashes) = (0, 0);
    // Three levels need at most eight backslashes: stop there, so a long run of them costs
    // the same at every position.
    while i < rest.len() && backslashes < 8 {
        if rest[i] == b'\\' {
            i += 1;
        } else if rest[i..].len() >= 3 && rest[i..i + 3].eq_ignore_ascii_case(b"%5c") {
            i += 3;
        } else {
            break;
        }
        backslashes += 1;
    }
    if backslashes == 0 {
        return false;
    }
    // An escaped backslash is backslashes only.
    if c == '\\' && backslashes >= 2 {
        return true;
    }
    let letter = short_escape(c).map(|l| l as u8);
    rest.get(i).is_some_and(|&next| {
        next.eq_ignore_ascii_case(&b'u')
            || next == b'%'
            || letter.is_some_and(|l| next.eq_ignore_ascii_case(&l))
    })
}

/// The letter of the short JSON escape of `c` (`n` for a newline), if it has one.
fn short_escape(c: char) -> Option<char> {
    Some(match c {
        '"' => '"',
        '\\' => '\\',
        '/' => '/',
        '\u{8}' => 'b',
        '\u{c}' => 'f',
        '\n' => 'n',
        '\r' => 'r',
        '\t' => 't',
        _ => return None,
    })
}

fn hex_digit(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

/// Two hex digits at the start of `text`.
fn hex_byte(text: &[u8]) -> Option<u32> {
    match text {
        [a, b, ..] => Some((hex_digit(*a)? << 4) | hex_digit(*b)?),
        _ => None,
    }
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a secret value. Empty values, and values that are part of the mask, cannot be
    /// redacted and are ignored.
    pub fn add(&self, secret: &str) {
        if secret.is_empty() || MASK.contains(secret) {
            return;
        }
        let secret = Secret::new(secret);
        let mut secrets = self.secrets.write().unwrap_or_else(|e| e.into_inner());
        if !secrets.contains(&secret) {
            secrets.push(secret);
        }
    }

    /// Replaces every occurrence of every known secret in `text`, in any of its forms.
    pub fn redact(&self, text: &str) -> String {
        let secrets = self.secrets.read().unwrap_or_else(|e| e.into_inner());
        let mut out = text.to_string();
        if secrets.is_empty() {
            return out;
        }
        loop {
            let spans = occurrences(&secrets, out.as_bytes());
            if spans.is_empty() {
                return out;
            }
            let mut next = String::with_capacity(out.len());
            let mut done = 0;
            for (start, end) in spans {
                next.push_str(&out[done..start]);
                next.push_str(MASK);
                done = end;
            }
            next.push_str(&out[done..]);
            out = next;
        }
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
        self.secrets.read().map(|s| s.is_empty()).unwrap_or(true)
    }
}

/// Every occurrence of any secret, as byte spans in order, overlapping and touching ones
/// merged (so `secretsecret` becomes one `***`).
fn occurrences(secrets: &[Secret], text: &[u8]) -> Vec<(usize, usize)> {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for at in 0..text.len() {
        let Some(end) = secrets.iter().filter_map(|s| s.match_at(text, at)).max() else {
            continue;
        };
        match spans.last_mut() {
            Some((_, last_end)) if at <= *last_end => *last_end = (*last_end).max(end),
            _ => spans.push((at, end)),
        }
    }
    spans
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

    #[test]
    fn mixed_and_partial_encodings_are_caught() {
        let r = Redactor::new();
        r.add("Tok/a b\u{e9}\u{1F600}");
        for text in [
            // A URL library that leaves `/` alone and lowercases a host.
            "tok/a%20b%C3%A9%F0%9F%98%80",
            "TOK%2fa+b%c3%a9%f0%9f%98%80",
            // JSON that escapes everything it may.
            r"\u0054ok\/a\u0020b\u00E9\ud83d\ude00",
        ] {
            assert_eq!(r.redact(&format!("<{text}>")), "<***>", "{text}");
        }
        // `%` followed by something else is just a character.
        assert_eq!(r.redact("tok%2"), "tok%2");
    }

    #[test]
    fn json_inside_json_is_seen_through() {
        let r = Redactor::new();
        r.add("pa\"ss\\");
        let request = serde_json::json!({"pw": "pa\"ss\\"}).to_string();
        let echo = serde_json::json!({"body": request}).to_string();
        let line = serde_json::json!({"data": {"body": echo}}).to_string();
        for text in [&request, &echo, &line] {
            let out = r.redact(text);
            assert!(!out.contains("pa"), "{text} -> {out}");
        }
    }

    #[test]
    fn a_long_run_of_backslashes_is_linear() {
        let r = Redactor::new();
        r.add("\"x");
        r.add("\\y");
        let text = "\\".repeat(20_000);
        assert_eq!(r.redact(&text), text);
    }

    #[test]
    fn a_mask_next_to_the_text_does_not_make_a_new_occurrence() {
        let r = Redactor::new();
        r.add("x*");
        let once = r.redact("xx*");
        assert!(!once.contains("x*"), "{once}");
        assert_eq!(r.redact(&once), once);
    }

    #[test]
    fn a_secret_may_start_with_a_plus() {
        let r = Redactor::new();
        r.add("+1");
        assert_eq!(r.redact("a+1b%2B1"), "a***b***");
    }

    #[test]
    fn secrets_inside_the_mask_are_ignored() {
        let r = Redactor::new();
        r.add("**");
        assert!(r.is_empty());
        assert_eq!(r.redact("a**b"), "a**b");
    }
}
