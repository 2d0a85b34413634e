//! The redactor's unit tests: every form a secret takes, and shapes built against the matcher.
use super::*;
use base64::Engine;

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
    r.add("*");
    assert_eq!(r.redact("a**b*"), "a**b*");
    assert!(r.secrets.read().unwrap().is_empty());
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[test]
fn base64_of_the_secret_and_of_user_colon_secret_are_masked() {
    let r = Redactor::new();
    r.add("hunter22");
    // The last character also holds bits of what follows (here padding): it stays.
    assert_eq!(r.redact(&b64("hunter22")), "***I=");
    // An echoed `Authorization: Basic` header: whatever the user name's length, the
    // characters that encode only the secret are masked and the header no longer decodes
    // to it; at most one character at each end (shared with a neighbour) stays.
    for user in ["", "a", "ab", "abc", "admin", "ops-bot"] {
        let header = format!("Basic {}", b64(&format!("{user}:hunter22")));
        let out = r.redact(&header);
        assert!(out.contains(MASK), "{header} -> {out}");
        assert!(!out.contains(&b64(&format!("{user}:hunter22"))), "{out}");
        let kept = out.trim_start_matches("Basic ").replace(MASK, "");
        assert!(
            kept.len() <= b64(&format!("{user}:")).len() + 2,
            "{header} -> {out}"
        );
    }
    // URL-safe base64, and base64 inside a JSON string and a URL.
    r.add("??>>~~ab");
    let url_safe = base64::engine::general_purpose::URL_SAFE.encode("??>>~~ab");
    assert!(
        url_safe.contains('_') || url_safe.contains('-'),
        "{url_safe}"
    );
    assert!(r.redact(&url_safe).starts_with(MASK), "{url_safe}");
    let standard = b64("??>>~~ab");
    assert!(standard.contains('+'), "{standard}");
    for form in [
        standard.replace('+', "%2B"),
        standard.replace('+', "\\u002b"),
    ] {
        let out = r.redact(&form);
        assert!(
            out.starts_with(MASK) && out.len() <= MASK.len() + 2,
            "{form} -> {out}"
        );
    }
    // Case carries the bits: the same letters in another case are another value.
    let other_case = b64("hunter22").to_ascii_lowercase();
    assert_eq!(r.redact(&other_case), other_case);
}

#[test]
fn hex_is_masked_in_either_case() {
    let r = Redactor::new();
    r.add("k3y\u{e9}!");
    let hex: String = "k3y\u{e9}!".bytes().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, "6b3379c3a921");
    assert_eq!(r.redact(&format!("id={hex};")), "id=***;");
    assert_eq!(r.redact(&format!("id={}", hex.to_uppercase())), "id=***");
}

#[test]
fn html_character_references_are_masked() {
    let r = Redactor::new();
    r.add("s3<r\"t&1'");
    for text in [
        "s3&lt;r&quot;t&amp;1&apos;",
        "&#115;3&#60;r&#x22;t&#X26;1&#39;",
        "&#0115;&#x33;&lt;r&#34;t&amp;1'",
    ] {
        assert_eq!(r.redact(&format!("<p>{text}</p>")), "<p>***</p>", "{text}");
    }
    // A reference to another character, or without its `;`, is not the secret.
    assert_eq!(r.redact("&#116;3&lt;r"), "&#116;3&lt;r");
    assert_eq!(r.redact("&#1153&lt;r"), "&#1153&lt;r");
}

#[test]
fn a_numeric_secret_in_a_json_number_is_masked() {
    let r = Redactor::new();
    r.add("4711");
    let value = serde_json::json!({"pin": 4711, "long": 94711.5, "other": 4712, "n": [4711]});
    assert_eq!(
        r.redact_json(&value),
        serde_json::json!({"pin": "***", "long": "9***.5", "other": 4712, "n": ["***"]})
    );
}

#[test]
fn a_start_cut_off_by_an_ellipsis_is_masked() {
    let r = Redactor::new();
    r.add("tok-9f8e7d");
    assert_eq!(r.redact("body: `xyz tok-9f…`"), "body: `xyz ***…`");
    assert_eq!(r.redact("\"abc t...\""), "\"abc ***...\"");
    assert_eq!(r.redact("TOK%2D9…"), "***…");
    // Not a cut: the whole text goes on, or the start is not the secret's.
    assert_eq!(r.redact("tok-9f and more"), "tok-9f and more");
    assert_eq!(r.redact("took…"), "took…");
    // An encoded form needs a few characters before it counts as cut.
    let start = &b64("tok-9f8e7d")[..2];
    assert_eq!(r.redact(&format!("{start}…")), format!("{start}…"));
}

#[test]
fn a_secret_of_backslashes_against_a_large_body_is_linear() {
    // Each position costs a bounded amount of work: a quadratic matcher would need
    // minutes here, a linear one a fraction of a second; the bound leaves room for a loaded
    // machine.
    let r = Redactor::new();
    r.add("\\\\\\\\");
    r.add("\\\"\\\"");
    let body = format!("{}…", "\\".repeat(200_000));
    let started = std::time::Instant::now();
    let out = r.redact(&body);
    assert_eq!(out, "***…");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

/// Forms that only almost match are left as they are, and a text that ends inside one
/// (a percent-encoded character cut short, a trailing backslash) is read safely.
#[test]
fn near_forms_are_text_and_cut_forms_are_read_safely() {
    let r = Redactor::new();
    r.add("päss-word");
    r.add("abcd");
    r.add("ab\"cd");
    // `ä` is two bytes: `%C3` alone is half of it.
    assert_eq!(r.redact("x p%C3"), "x p%C3");
    assert_eq!(r.redact("x p%C3%A4ss-word"), "x ***");
    // An HTML reference needs its `;`: `&#97X` is not an `a`.
    assert_eq!(r.redact("&#97Xbcd"), "&#97Xbcd");
    assert_eq!(r.redact("&#97;bcd"), "***");
    // A backslash at the very end may start an escape that never comes.
    assert_eq!(r.redact("ab\\"), "ab\\");
    assert_eq!(r.redact("ab\\\"cd"), "***");
}

/// A secret that starts with `*` before an ellipsis: a start made only of `*` is the mask's
/// own character and is left (masking it would never end), a longer start is masked.
#[test]
fn a_start_of_stars_before_an_ellipsis_is_left_alone() {
    let r = Redactor::new();
    r.add("*tok-3f9a");
    assert_eq!(r.redact("x*…"), "x*…");
    assert_eq!(r.redact("x**…"), "x**…");
    assert_eq!(r.redact("x*tok…"), "x***…");
    assert_eq!(r.redact("x *tok-3f9a y"), "x *** y");
}

/// A character percent-encoded at the very end of the text, and a character reference
/// only when it starts with `&`.
#[test]
fn encoded_characters_at_the_edges() {
    let r = Redactor::new();
    r.add("abcd");
    r.add("a>b<c");
    assert_eq!(r.redact("x abc%64"), "x ***");
    assert_eq!(r.redact("x abc%6"), "x abc%6");
    assert_eq!(r.redact("aX#98;cd"), "aX#98;cd");
    assert_eq!(r.redact("a&#98;cd"), "***");
    assert_eq!(r.redact("a&gt;b&lt;c"), "***");
    assert_eq!(r.redact("a&GT;b&LT;c"), "***");
}

/// `s` with each character written as a JSON `\uXXXX` escape, `levels` deep: every
/// character of an escape (the backslash, the `u`, the digits) escaped one level less.
fn u_escaped(s: &str, levels: u32) -> String {
    if levels == 0 {
        return s.to_string();
    }
    let mut out = String::new();
    for c in s.chars() {
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            // The backslash itself one level less deep: `\\` for each level under.
            out.push_str(&"\\".repeat(1 << (levels - 1)));
            out.push_str(&u_escaped(&format!("u{unit:04x}"), levels - 1));
        }
    }
    out
}

/// JSON escapes are seen through up to three levels, each part of an escape one level
/// less deep than the escape, and no further: four levels are text.
#[test]
fn unicode_escapes_count_their_levels() {
    let r = Redactor::new();
    r.add("ab😀cd");
    for levels in 1..=3 {
        let text = format!("ab{}cd", u_escaped("😀", levels));
        assert_eq!(r.redact(&text), MASK, "{levels} levels: {text}");
    }
    let text = format!("ab{}cd", u_escaped("😀", 4));
    assert_eq!(r.redact(&text), text, "4 levels");
    // The surrogate pair's second backslash is as deep as the first, no deeper.
    let second = |backslashes: usize| format!("ab\\ud83d{}ude00cd", "\\".repeat(backslashes));
    assert_eq!(r.redact(&second(1)), MASK);
    assert_eq!(r.redact(&second(4)), MASK);
    assert_eq!(r.redact(&second(8)), second(8));
    // A digit of an escape escaped itself.
    let r = Redactor::new();
    r.add("wxyz");
    assert_eq!(r.redact("w\\u00\\u00378yz"), MASK);
}

/// The letter after an escape's backslash may be percent-encoded, and the backslash too;
/// a character reference is never part of an escape.
#[test]
fn escape_letters_and_what_is_not_one() {
    let r = Redactor::new();
    r.add("line\nbreak");
    assert_eq!(r.redact("line%5Cnbreak"), MASK);
    assert_eq!(r.redact("line%5C%6Ebreak"), MASK);
    assert_eq!(r.redact("line\\%6ebreak"), MASK);
    assert_eq!(r.redact("line\\&#110;break"), "line\\&#110;break");
    let r = Redactor::new();
    r.add("abcd");
    assert_eq!(r.redact("%5Cu0061bcd"), MASK);
    assert_eq!(r.redact("\\&#117;0061bcd"), "\\&#117;0061bcd");
    assert_eq!(r.redact("\\\\&#117;0061bcd"), "\\\\&#117;0061bcd");
}

/// A secret with dots of its own may run across an earlier ellipsis: its start is looked
/// for past it, back to where the text began.
#[test]
fn a_dotted_secret_runs_across_an_earlier_ellipsis() {
    let r = Redactor::new();
    r.add("ab...cdef");
    assert_eq!(r.redact("x ab...cd…"), "x ***…");
    let r = Redactor::new();
    r.add("ab…cdef");
    assert_eq!(r.redact("x ab…cd..."), "x ***...");
    // Without dots of its own, a start does not run across one.
    let r = Redactor::new();
    r.add("abcdef");
    assert_eq!(r.redact("x ab...cd…"), "x ***...cd…");
}

/// A character with forms of different lengths from one place (`%` as itself, or `%25`):
/// every end is followed, the one the rest of the secret continues from wins.
#[test]
fn every_form_of_a_character_is_followed() {
    let r = Redactor::new();
    r.add("%zzz");
    assert_eq!(r.redact("x %25zzz"), "x ***");
    assert_eq!(r.redact("x %zzz"), "x ***");
    let r = Redactor::new();
    r.add("\\abc");
    assert_eq!(r.redact("x \\\\abc"), "x ***");
    assert_eq!(r.redact("x %5Cabc"), "x ***");
    assert_eq!(r.redact("x \\u005cabc"), "x ***");
    // Sixteen backslashes, each escaped three levels deep (eight bytes): the ends a match
    // can reach spread over more than a hundred bytes, and only the farthest goes on.
    let r = Redactor::new();
    r.add(&format!("{}Z", "\\".repeat(16)));
    assert_eq!(r.redact(&format!("{}Z", "\\".repeat(128))), MASK);
    // Forty: more than 256 bytes apart, past the bitmap of `sort_dedup`.
    let r = Redactor::new();
    r.add(&format!("{}Z", "\\".repeat(40)));
    assert_eq!(r.redact(&format!("{}Z", "\\".repeat(320))), MASK);
}

/// Two readings of the same text can end at the same byte: `\\u005c` is a backslash followed
/// by an escaped `\u005c`, or an escaped backslash followed by `u005c`. Both count, neither
/// cancels the other.
#[test]
fn readings_that_end_at_the_same_byte_both_count() {
    let r = Redactor::new();
    r.add("\\Xyz");
    assert_eq!(r.redact("\\\\u005cXyz"), MASK);
    assert_eq!(r.redact("q\\\\u005cXyz"), "q***");
}

/// `a` as a `\uXXXX` escape whose digits alone are nested `levels` deep (each with a single
/// raw backslash): its `6` written `\u0036`, that one's `3` written `\u0033`, and so on.
fn a_with_nested_digits(levels: u32) -> String {
    fn three(levels: u32) -> String {
        match levels {
            0 => "3".into(),
            n => format!("\\u00{}3", three(n - 1)),
        }
    }
    match levels {
        0 => "a".into(),
        1 => "\\u0061".into(),
        n => format!("\\u00\\u00{}61", three(n - 2)),
    }
}

/// The digits of an escape count their levels as the backslashes do: three are seen through,
/// a fourth is text.
#[test]
fn the_digits_of_an_escape_count_their_levels() {
    let r = Redactor::new();
    r.add("abcd");
    for levels in 0..=3 {
        let text = format!("{}bcd", a_with_nested_digits(levels));
        assert_eq!(r.redact(&text), MASK, "{levels} levels: {text}");
    }
    let text = format!("{}bcd", a_with_nested_digits(4));
    assert_eq!(r.redact(&text), text);
}

/// Every short JSON escape is read: `\b` and `\f` too, which no secret is likely to hold but
/// an encoder writes for them.
#[test]
fn every_short_escape_is_read() {
    let r = Redactor::new();
    r.add("ab\u{8}cd\u{c}ef\tg\rh/i");
    assert_eq!(r.redact("ab\\bcd\\fef\\tg\\rh\\/i"), MASK);
    // Two levels deep: the escape's backslash escaped.
    assert_eq!(r.redact("ab\\\\bcd\\\\fef\\\\tg\\\\rh\\\\/i"), MASK);
}

/// A start cut off by an ellipsis may be written wide (each character an escape whose
/// backslash is percent-encoded, eight bytes): it is looked for as far back as its widest form
/// reaches.
#[test]
fn a_wide_start_before_an_ellipsis_is_masked() {
    let r = Redactor::new();
    r.add("abcdefghijklmnopqrst");
    let wide: String = "abcdefghijklmnopqrs"
        .chars()
        .map(|c| format!("%5Cu{:04x}", c as u32))
        .collect();
    assert_eq!(r.redact(&format!("x {wide}…")), "x ***…");
}
