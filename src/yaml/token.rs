//! How wide the YAML token written at a position is, so a diagnostic underlines the whole key,
//! value or bracketed collection an editor should mark, not just its first character.

use super::Pos;

/// The width, in characters, of the token starting at `pos` in `text`: a quoted scalar with
/// its quotes, a flow collection closed on the same line with its brackets, a plain scalar up
/// to where it ends (`: `, ` #`, a flow indicator inside a flow collection, the end of the
/// line). Only the first line of a token that spans lines counts. At least 1.
pub fn width(text: &str, pos: Pos) -> usize {
    let Some(line) = text.lines().nth(pos.line.saturating_sub(1) as usize) else {
        return 1;
    };
    let chars: Vec<char> = line.chars().collect();
    let start = pos.col.saturating_sub(1) as usize;
    if start >= chars.len() {
        return 1;
    }
    let rest = &chars[start..];
    let measured = match rest[0] {
        '"' => quoted(rest, '"'),
        '\'' => quoted(rest, '\''),
        '[' | '{' => flow(rest),
        // A block scalar's indicator, an alias, an anchor or a tag: the indicator's word.
        '|' | '>' => rest
            .iter()
            .take_while(|c| !c.is_whitespace() && **c != '#')
            .count(),
        _ => plain(rest, in_flow(&chars[..start])),
    };
    measured.max(1)
}

/// A quoted scalar: up to its closing quote on this line, or the rest of the line.
fn quoted(rest: &[char], quote: char) -> usize {
    let mut i = 1;
    while i < rest.len() {
        let c = rest[i];
        if quote == '"' && c == '\\' {
            i += 2;
            continue;
        }
        if c == quote {
            // `''` inside single quotes is an escaped quote.
            if quote == '\'' && rest.get(i + 1) == Some(&'\'') {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    trimmed_len(rest)
}

/// A flow collection closed on this line, brackets included; otherwise its opening bracket.
fn flow(rest: &[char]) -> usize {
    let mut depth = 0usize;
    let mut i = 0;
    while i < rest.len() {
        match rest[i] {
            '[' | '{' => depth += 1,
            ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            q @ ('"' | '\'') => {
                i += quoted(&rest[i..], q);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    1
}

/// A plain scalar: it ends at `: ` (or `:` at the end of the line), at ` #`, and inside a flow
/// collection at `,`, `]` and `}`; trailing blanks are not part of it.
fn plain(rest: &[char], flow: bool) -> usize {
    let mut end = rest.len();
    for i in 0..rest.len() {
        let c = rest[i];
        let next = rest.get(i + 1).copied();
        if c == ':' && next.is_none_or(|n| n == ' ' || n == '\t' || (flow && ",]}".contains(n))) {
            end = i;
            break;
        }
        if c == '#' && i > 0 && (rest[i - 1] == ' ' || rest[i - 1] == '\t') {
            end = i;
            break;
        }
        if flow && i > 0 && (c == ',' || c == ']' || c == '}') {
            end = i;
            break;
        }
    }
    trimmed_len(&rest[..end])
}

fn trimmed_len(chars: &[char]) -> usize {
    chars.len() - chars.iter().rev().take_while(|c| c.is_whitespace()).count()
}

/// Whether a position on a line, after `before`, is inside a flow collection opened on that
/// line (a collection opened on an earlier line is not seen: the width is then a guess that
/// errs long only for a value with a `,` in it).
fn in_flow(before: &[char]) -> bool {
    let mut depth = 0i32;
    let mut i = 0;
    while i < before.len() {
        match before[i] {
            '[' | '{' => depth += 1,
            ']' | '}' => depth -= 1,
            q @ ('"' | '\'') => {
                i += quoted(&before[i..], q);
                continue;
            }
            '#' if i > 0 && before[i - 1] == ' ' => break,
            _ => {}
        }
        i += 1;
    }
    depth > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, line: u32, col: u32) -> usize {
        width(text, Pos::new(line, col))
    }

    #[test]
    fn keys_values_and_collections() {
        let text = "steps:\n  - tiemout: 5s # a comment\n    url: \"http://x/{{ a }}\" \n    v: {a: 1, b: [2, 3]}\n    w: [abc, 'd''e', f]\n";
        assert_eq!(at(text, 1, 1), 5);
        assert_eq!(at(text, 2, 5), 7);
        assert_eq!(at(text, 2, 14), 2);
        assert_eq!(at(text, 3, 10), 18);
        assert_eq!(at(text, 4, 8), 17);
        assert_eq!(at(text, 4, 9), 1);
        assert_eq!(at(text, 4, 12), 1);
        assert_eq!(at(text, 5, 9), 3);
        assert_eq!(at(text, 5, 14), 6);
        assert_eq!(at(text, 5, 22), 1);
    }

    #[test]
    fn out_of_range_is_one() {
        assert_eq!(at("a: b\n", 3, 1), 1);
        assert_eq!(at("a: b\n", 1, 40), 1);
        assert_eq!(at("a: \"unclosed\n", 1, 4), 9);
    }
}
