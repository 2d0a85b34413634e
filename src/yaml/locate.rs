//! Where a YAML syntax error really is.
//!
//! The parser reports several errors where the construct that failed began, not at the
//! character that broke it: a tab in the indentation of line 5 is reported at the start of the
//! plain scalar on line 4 that the scanner was reading; a bad escape at the opening quote; a
//! bracket closed by the wrong one at the opening bracket; a bracket never closed at whatever
//! line the parser gave up on. A person (and an editor underlining the spot) wants the
//! offending character, so each of these is moved there, with a message that says what to do.

use super::Pos;
use super::node::RawError;

/// What kind of parser error this is, as far as relocating it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Cause {
    /// Any of the parser's complaints about a tab.
    Tab,
    /// An unknown `\x` escape in a double-quoted scalar.
    BadEscape,
    /// `[` closed by `}` or `{` by `]`.
    Mismatched,
    /// A bracket or quote never closed.
    Unclosed,
    DuplicateKey,
    /// `key: value: more`, or a line indented deeper than its sibling keys.
    MappingValue,
    /// A line whose indentation matches no open mapping or list.
    BadIndent,
    Other,
}

/// A located syntax error, ready to be shown.
pub(super) struct Located {
    pub pos: Pos,
    pub width: usize,
    pub message: String,
}

/// Moves `raw` to the character that caused it. `reparse` parses another text (the prefix of
/// this one, or this one with a tab removed), to test what is really to blame.
pub(super) fn relocate(
    text: &str,
    raw: RawError,
    reparse: impl Fn(&str) -> Result<(), RawError>,
) -> Located {
    let lines: Vec<&str> = text.lines().collect();
    let plain = |pos: Pos, message: String| Located {
        pos,
        width: 1,
        message,
    };
    if let Some(tab) = tab_to_blame(&lines, &raw, &reparse) {
        return plain(
            tab,
            "a tab in indentation: YAML indents with spaces only (replace the tab with spaces)"
                .into(),
        );
    }
    match raw.cause {
        Cause::DuplicateKey => Located {
            pos: raw.pos,
            width: super::token::width(text, raw.pos),
            message: raw.message,
        },
        Cause::BadEscape => match bad_escape(&lines, raw.pos) {
            Some((pos, escape)) => Located {
                pos,
                width: escape.chars().count(),
                message: format!(
                    "unknown escape `{escape}` in a double-quoted string (write `\\{escape}` for a backslash, or use single quotes)"
                ),
            },
            None => plain(raw.pos, raw.message),
        },
        Cause::Mismatched => match closing_bracket(&lines, raw.pos) {
            Some((pos, close)) => {
                let open = char_at(&lines, raw.pos).unwrap_or('[');
                plain(
                    pos,
                    format!("`{close}` closes the `{open}` opened at {}", raw.pos),
                )
            }
            None => plain(raw.pos, raw.message),
        },
        Cause::Unclosed => plain(raw.pos, raw.message),
        _ => {
            if let Some(unclosed) = unclosed_before(text, &lines, &raw, &reparse) {
                return unclosed;
            }
            indentation(&lines, raw)
        }
    }
}

fn char_at(lines: &[&str], pos: Pos) -> Option<char> {
    lines
        .get(pos.line.checked_sub(1)? as usize)?
        .chars()
        .nth(pos.col.checked_sub(1)? as usize)
}

/// The tab that caused the error, if a tab did: for the parser's tab errors, the first tab in
/// the indentation of a line at or after the reported one; for any other error, a tab in the
/// indentation of a line at or before it, when removing that tab changes the error.
fn tab_to_blame(
    lines: &[&str],
    raw: &RawError,
    reparse: &impl Fn(&str) -> Result<(), RawError>,
) -> Option<Pos> {
    let reported = raw.pos.line.saturating_sub(1) as usize;
    if raw.cause == Cause::Tab {
        let after = (reported..lines.len()).find_map(|i| indent_tab(lines, i));
        return after.or_else(|| (0..reported).rev().find_map(|i| indent_tab(lines, i)));
    }
    // Only a few candidates are tried: each costs a parse of the file.
    let candidates = (0..=reported.min(lines.len().saturating_sub(1)))
        .rev()
        .filter_map(|i| indent_tab(lines, i))
        .take(3);
    for tab in candidates {
        let i = tab.line as usize - 1;
        let without: String = lines
            .iter()
            .enumerate()
            .map(|(j, l)| {
                if j == i {
                    let indent: String = l
                        .chars()
                        .take_while(|c| *c == ' ' || *c == '\t')
                        .filter(|c| *c == ' ')
                        .collect();
                    format!("{indent}{}\n", l.trim_start_matches([' ', '\t']))
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        match reparse(&without) {
            Ok(()) => return Some(tab),
            Err(e) if e.pos != raw.pos || e.message != raw.message => return Some(tab),
            Err(_) => {}
        }
    }
    None
}

/// The position of the first tab in line `i`'s indentation, when the line has content after
/// it (a line of only blanks may hold tabs).
fn indent_tab(lines: &[&str], i: usize) -> Option<Pos> {
    let line = lines.get(i)?;
    let indent: Vec<char> = line
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    let tab = indent.iter().position(|c| *c == '\t')?;
    let has_content = line.chars().count() > indent.len();
    has_content.then(|| Pos::new(i as u32 + 1, tab as u32 + 1))
}

/// The first unknown escape in the double-quoted scalar opening at `open`.
fn bad_escape(lines: &[&str], open: Pos) -> Option<(Pos, String)> {
    const KNOWN: &str = "0abt\tnvfre \"/\\N_LPxuU";
    let mut line = open.line as usize - 1;
    let mut col = open.col as usize; // just past the quote, 0-based
    while let Some(text) = lines.get(line) {
        let chars: Vec<char> = text.chars().collect();
        while col < chars.len() {
            match chars[col] {
                '"' => return None,
                '\\' => match chars.get(col + 1) {
                    // A backslash at the end of a line continues the string.
                    None => break,
                    Some(c) if KNOWN.contains(*c) => col += 2,
                    Some(c) => {
                        return Some((Pos::new(line as u32 + 1, col as u32 + 1), format!("\\{c}")));
                    }
                },
                _ => col += 1,
            }
        }
        line += 1;
        col = 0;
    }
    None
}

/// The bracket that closes the flow collection opening at `open` (whatever its kind).
fn closing_bracket(lines: &[&str], open: Pos) -> Option<(Pos, char)> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, text) in lines.iter().enumerate().skip(open.line as usize - 1) {
        let skip = if i == open.line as usize - 1 {
            open.col as usize - 1
        } else {
            0
        };
        let chars: Vec<char> = text.chars().collect();
        let mut col = skip;
        while col < chars.len() {
            let c = chars[col];
            match (quote, c) {
                (Some('"'), '\\') => col += 1,
                (Some('\''), '\'') if chars.get(col + 1) == Some(&'\'') => col += 1,
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') if col > 0 && chars[col - 1] == ' ' => break,
                (None, '[' | '{') => depth += 1,
                (None, ']' | '}') => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Some((Pos::new(i as u32 + 1, col as u32 + 1), c));
                    }
                }
                _ => {}
            }
            col += 1;
        }
    }
    None
}

/// A bracket or quote left open above the line the parser gave up on. The text before that
/// line is parsed alone: if it ends inside an unclosed bracket or quote, and the line the
/// parser failed on is back at (or left of) the indentation of the line that opened it, the
/// opener is what is wrong (`expect: [a, b` followed by the step's next key).
fn unclosed_before(
    text: &str,
    lines: &[&str],
    raw: &RawError,
    reparse: &impl Fn(&str) -> Result<(), RawError>,
) -> Option<Located> {
    let failed = raw.pos.line as usize;
    if failed < 2 {
        return None;
    }
    // The lines before the failed one, with their own line ends (`\n` or `\r\n`).
    let prefix_len: usize = text
        .split_inclusive('\n')
        .take(failed - 1)
        .map(str::len)
        .sum();
    let prefix = text.get(..prefix_len)?;
    let err = reparse(prefix).err()?;
    if err.cause != Cause::Unclosed || err.pos.line as usize >= failed {
        return None;
    }
    let indent = |line: usize| {
        lines
            .get(line - 1)
            .map_or(0, |l| l.chars().take_while(|c| *c == ' ').count())
    };
    (indent(failed) <= indent(err.pos.line as usize)).then_some(Located {
        pos: err.pos,
        width: 1,
        message: err.message,
    })
}

/// Indentation mistakes, said in words: the parser's messages name its states.
fn indentation(lines: &[&str], raw: RawError) -> Located {
    let plain = |pos: Pos, message: String| Located {
        pos,
        width: 1,
        message,
    };
    let Some(line) = lines.get(raw.pos.line.saturating_sub(1) as usize) else {
        return plain(raw.pos, raw.message);
    };
    let indent = line.chars().take_while(|c| *c == ' ').count();
    let content: String = line.chars().skip(indent).collect();
    let above = lines[..raw.pos.line.saturating_sub(1) as usize]
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    // Where the key of the line above starts (after its `- `, if it is a list item).
    let above_key = above.map(|l| {
        let lead = l.chars().take_while(|c| *c == ' ').count();
        let rest = &l[lead..];
        let dash = rest.len() - rest.trim_start_matches(['-', ' ']).len();
        lead + if rest.starts_with("- ") { dash } else { 0 }
    });
    match raw.cause {
        // `  - id: a` then `     title: b`: the scanner read `title` as more of `a`, then
        // choked on its `:`.
        Cause::MappingValue => {
            let key: String = content
                .chars()
                .take_while(|c| *c != ':' && *c != ' ')
                .collect();
            let colon = indent + key.chars().count();
            match above_key {
                Some(col)
                    if indent > col
                        && !key.is_empty()
                        && raw.pos.col as usize == colon + 1
                        && !content.starts_with('-') =>
                {
                    Located {
                        pos: Pos::new(raw.pos.line, indent as u32 + 1),
                        width: key.chars().count(),
                        message: format!(
                            "bad indentation: `{key}` is at column {} but the key above it is at column {}; keys of one mapping start in the same column",
                            indent + 1,
                            col + 1
                        ),
                    }
                }
                _ => plain(raw.pos, raw.message),
            }
        }
        Cause::BadIndent if raw.pos.col as usize == indent + 1 => plain(
            raw.pos,
            match above_key {
                Some(col) => format!(
                    "bad indentation: this line starts at column {}, which lines up with no mapping or list above it (the line above starts at column {})",
                    indent + 1,
                    col + 1
                ),
                None => format!("bad indentation ({})", raw.message),
            },
        ),
        _ => match missing_space_after_colon(&content) {
            Some((key, colon)) if raw.pos.col as usize == indent + 1 => plain(
                Pos::new(raw.pos.line, (indent + colon) as u32 + 1),
                format!("`:` after the key `{key}` must be followed by a space"),
            ),
            _ => plain(raw.pos, raw.message),
        },
    }
}

/// `title:b` (a plain scalar, not a key): the key and the index of its colon in `content`.
fn missing_space_after_colon(content: &str) -> Option<(String, usize)> {
    let item = content.strip_prefix("- ").unwrap_or(content);
    let offset = content.len() - item.len();
    let colon = item.find(':')?;
    let key = &item[..colon];
    let valid_key = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    let next = item[colon + 1..].chars().next()?;
    (valid_key && !next.is_whitespace()).then(|| (key.to_string(), offset + colon))
}
