//! Control characters in text from systems, made visible instead of obeyed.
//!
//! A body, a status page or a command's output can hold escape sequences that clear the screen,
//! retitle the window or write the clipboard (OSC 52) when printed raw. Everything shown in a
//! terminal or written to the text, Markdown, HTML and JUnit reports passes through
//! [`controls`] at the point where it is written; the JSON timeline (and the JSON report) keep
//! the exact text.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every control character but newline and tab written as `\x` and its code point
/// in two lowercase hex digits: C0 (`\x1b` for ESC, `\x0d` for a carriage return), DEL
/// (`\x7f`) and C1 (`\x9b`, the one-character CSI); and the bidirectional controls as
/// `\u{202e}`. Text without any is returned as it is.
pub fn controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_bidi_control(c) {
            let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
        } else if is_control(c) {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn is_control(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c)
}

/// The bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069):
/// not control characters to Unicode, but they reorder what a terminal shows ("Trojan
/// Source"), so a status page could make `ok` of what reads otherwise.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_shown_escaped() {
        assert_eq!(
            controls("a\x1b[2Jb\x1b]0;title\x07c\x1b]52;c;cHduZWQ=\x07"),
            "a\\x1b[2Jb\\x1b]0;title\\x07c\\x1b]52;c;cHduZWQ=\\x07"
        );
        assert_eq!(
            controls("\u{9b}31m\u{85}\x7f\r\0"),
            "\\x9b31m\\x85\\x7f\\x0d\\x00"
        );
        assert!(matches!(controls("line\n\ttab é ✓"), Cow::Borrowed(_)));
    }

    #[test]
    fn every_control_but_newline_and_tab_is_escaped() {
        for code in (0u32..0x20).chain(0x7f..0xa0) {
            let c = char::from_u32(code).unwrap();
            let shown = controls(&c.to_string()).into_owned();
            if c == '\n' || c == '\t' {
                assert_eq!(shown, c.to_string());
            } else {
                assert_eq!(shown, format!("\\x{code:02x}"));
                assert!(!shown.chars().any(char::is_control));
            }
        }
    }

    #[test]
    fn bidirectional_controls_are_escaped() {
        assert_eq!(
            controls("ok \u{202e}deliated\u{202c} \u{2066}x\u{2069}"),
            "ok \\u{202e}deliated\\u{202c} \\u{2066}x\\u{2069}"
        );
        // Other format characters (a zero-width joiner in an emoji) are text.
        assert!(matches!(controls("👩\u{200d}💻"), Cow::Borrowed(_)));
    }
}
