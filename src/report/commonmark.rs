//! Text from notes, summaries, titles and values written into the Markdown report so that it
//! renders as written: a note `restarted *all* nodes` must not come out as "restarted *all*
//! nodes" in italics, a `|` must not split a table cell, a `[x](y)` must not become a link.
//! Only what could format in its place is escaped (CommonMark backslash escapes), so the
//! Markdown stays readable as plain text (`[sample_launchpad] FAILED 502 rate 40%`); the
//! formatting the report writes itself (headings, tables, bold milestones, code spans) is
//! written around the escaped text, never through this.

/// Inline text in a paragraph, a heading or a list item.
pub fn inline(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut line_start = true;
    for (i, &c) in chars.iter().enumerate() {
        let before = i.checked_sub(1).map(|j| chars[j]);
        let after = chars.get(i + 1).copied();
        if c == '\n' {
            // A line break that stays one (a backslash before the newline), not a new block.
            out.push_str("\\\n");
            line_start = true;
            continue;
        }
        if line_start && c.is_whitespace() {
            // Leading blanks of a line are dropped by a renderer anyway.
            out.push(c);
            continue;
        }
        let escape = match c {
            '`' => true,
            // Emphasis and strikethrough: only a run that touches text on a side can open or
            // close one, so a masked secret (` *** `) stays as it is.
            '*' | '~' => flanking(&chars, i),
            // `_` also needs a side that is not a letter or digit: `us_east_1` is safe.
            '_' => {
                flanking(&chars, i)
                    && !(before.is_some_and(char::is_alphanumeric)
                        && after.is_some_and(char::is_alphanumeric))
            }
            // A backslash escapes punctuation after it, or breaks the line at its end.
            '\\' => after.is_none_or(|a| a.is_ascii_punctuation() || a == '\n'),
            // An HTML tag, comment, processing instruction or autolink.
            '<' => after.is_some_and(|a| a.is_ascii_alphabetic() || "/!?".contains(a)),
            // `[text](url)` and `![alt](src)`: without `](` no link forms (the report defines
            // no references).
            ']' => after == Some('('),
            // An entity or character reference (`&amp;`, `&#42;`).
            '&' => after.is_some_and(|a| a.is_ascii_alphanumeric() || a == '#'),
            // A heading's closing sequence, or a heading at a line's start.
            '#' => line_start || before.is_some_and(char::is_whitespace),
            // Block markers, only at the start of a line (after a newline in the text).
            '>' | '-' | '+' | '=' => line_start,
            // `1.` or `1)` starting a line would start an ordered list.
            '.' | ')' => {
                let digits = out.rsplit('\n').next().unwrap_or("").trim_start();
                !digits.is_empty() && digits.chars().all(|d| d.is_ascii_digit())
            }
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
        line_start = false;
    }
    out
}

/// Whether the run of delimiters (`*`, `_`, `~`) that `chars[i]` belongs to is left- or
/// right-flanking (CommonMark 6.2), that is, could open or close emphasis.
fn flanking(chars: &[char], i: usize) -> bool {
    let c = chars[i];
    let start = chars[..i]
        .iter()
        .rposition(|&d| d != c)
        .map_or(0, |p| p + 1);
    let end = chars[i..]
        .iter()
        .position(|&d| d != c)
        .map_or(chars.len(), |p| i + p);
    let before = start.checked_sub(1).map(|j| chars[j]);
    let after = chars.get(end).copied();
    let space = |c: Option<char>| c.is_none_or(char::is_whitespace);
    let punct = |c: Option<char>| {
        c.is_some_and(|c| c.is_ascii_punctuation() || (!c.is_alphanumeric() && !c.is_whitespace()))
    };
    let left = !space(after) && (!punct(after) || space(before) || punct(before));
    let right = !space(before) && (!punct(before) || space(after) || punct(after));
    left || right
}

/// Text in a table cell: inline text whose `|` would end the cell.
pub fn cell(text: &str) -> String {
    inline(text).replace('|', "\\|")
}

/// A code span around `text` as written: delimited by more backticks than any run inside it,
/// padded when it starts or ends with a backtick. Backslashes do not escape in code spans.
pub fn code(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    // A newline in a code span renders as a space: say so rather than start a new block.
    let text = text.replace('\n', " ");
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// A code span in a table cell: GitHub's tables split on `|` even inside code spans.
pub fn code_cell(text: &str) -> String {
    code(text).replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

    /// The text a CommonMark renderer shows for `markdown`, and whether anything in it was
    /// formatted (emphasis, a link, HTML, a heading, a list, a block quote, a code span).
    fn rendered(markdown: &str) -> (String, Vec<String>) {
        let mut text = String::new();
        let mut formatting = Vec::new();
        for event in Parser::new_ext(
            markdown,
            Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
        ) {
            match event {
                Event::Text(t) => text.push_str(&t),
                Event::SoftBreak => text.push(' '),
                Event::HardBreak => text.push('\n'),
                Event::Start(Tag::Paragraph) | Event::End(TagEnd::Paragraph) => {}
                other => formatting.push(format!("{other:?}")),
            }
        }
        (text, formatting)
    }

    #[track_caller]
    fn literal(text: &str) {
        let (shown, formatting) = rendered(&inline(text));
        assert_eq!(shown, text, "escaped as {:?}", inline(text));
        assert!(formatting.is_empty(), "{text:?} formats as {formatting:?}");
    }

    #[test]
    fn accidental_formatting_comes_back_as_written() {
        for text in [
            "restarted *all* nodes in us_east_1 | 2 [left]",
            "_all_ nodes, __bold__, **bold**, ~~gone~~, `code`",
            "see [the runbook](http://example.com) and ![x](y.png)",
            "<b>bold</b> <!-- c --> <http://example.com> a < b > c",
            "rate_5xx < 0.02 and p95 > 2000",
            "AT&amp;T &#42; &copy;",
            "ends with a backslash \\",
            "a \\* b \\_ c",
            "title #",
            "# not a heading",
            "1. not a list",
            "line one\n# two\n- three\n> four\n2) five\n===",
            "foo\\\nbar",
            "***\u{2026} and *x*\u{2026}*",
            "a*b*c, a_b_c, _a_b, ***bold italic***",
        ] {
            literal(text);
        }
    }

    #[test]
    fn plain_text_stays_readable() {
        for text in [
            "[sample_launchpad] FAILED 502 rate 40% (24/60), p95 17 ms",
            "expected rate_5xx < vars.max_5xx_rate, got rate_5xx = 0.4",
            "\\x1b[2J cleared",
            "logged in with *** as ops",
            "a * b",
        ] {
            assert_eq!(inline(text), text);
        }
    }

    #[test]
    fn a_cell_keeps_its_pipes() {
        let table = format!(
            "| a | b |\n|---|---|\n| {} | {} |\n",
            cell("x | y *z*"),
            code_cell("p|q")
        );
        let mut cells: Vec<String> = Vec::new();
        for event in Parser::new_ext(&table, Options::ENABLE_TABLES) {
            match event {
                Event::Start(Tag::TableCell) => cells.push(String::new()),
                Event::Text(t) | Event::Code(t) => cells.last_mut().unwrap().push_str(&t),
                _ => {}
            }
        }
        assert_eq!(cells, ["a", "b", "x | y *z*", "p|q"]);
    }

    #[test]
    fn code_spans_hold_backticks() {
        for text in ["plain", "a`b", "``", "`edge`"] {
            let markdown = code(text);
            let events: Vec<_> = Parser::new(&markdown).collect();
            assert!(
                events
                    .iter()
                    .any(|e| matches!(e, Event::Code(c) if c.as_ref() == text)),
                "{text:?} -> {:?}: {events:?}",
                code(text)
            );
        }
    }
}
