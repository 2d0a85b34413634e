//! Lines that fit the terminal: every line the guided and non-interactive views print is
//! wrapped at word boundaries to the terminal's width, continuation lines indented under the
//! text they continue (a hanging indent), never at column 1.
//!
//! Words break only at ASCII spaces, so a step id, an expression's operand or a URL stays
//! whole as long as it fits on a line; only a word longer than the line itself is cut.
//! Escape sequences of our own styles take no width (textwrap skips them when measuring).

use console::Term;

/// The width assumed when the output is no terminal (a pipe, a CI log).
pub const FALLBACK_WIDTH: usize = 80;
/// Narrower than this, wrapping would make every line a column of single words.
const MIN_WIDTH: usize = 20;

/// The width to wrap at for output to `term`: `COLUMNS` when set (as shells and `ls` honour
/// it), else the terminal's width, else [`FALLBACK_WIDTH`].
pub fn width(term: &Term) -> usize {
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok());
    width_from(columns, term.is_term().then(|| term.size().1))
}

/// The width to wrap at for output to `term` when it is a terminal or `COLUMNS` is set; `None`
/// for a pipe or a file (a CI log), whose lines stay whole for grep and for machines to read.
pub fn terminal_width(term: &Term) -> Option<usize> {
    let columns_set = std::env::var("COLUMNS").is_ok_and(|c| !c.trim().is_empty());
    (columns_set || term.is_term()).then(|| width(term))
}

fn width_from(columns: Option<usize>, terminal: Option<u16>) -> usize {
    columns
        .filter(|c| *c > 0)
        .or_else(|| terminal.map(usize::from).filter(|c| *c > 0))
        .unwrap_or(FALLBACK_WIDTH)
        .max(MIN_WIDTH)
}

/// Where a line's text starts, for its continuation lines: after its leading spaces, and after
/// a leading marker (`✗ `, `◆ `, `↻ `, `[3/12] `) when it has one.
pub fn text_start(line: &str) -> usize {
    let trimmed = line.trim_start_matches(' ');
    let indent = line.len() - trimmed.len();
    let plain = console::strip_ansi_codes(trimmed);
    let marker = plain.split(' ').next().unwrap_or("");
    let is_marker = matches!(marker, "✗" | "◆" | "↻" | "-" | "*" | "•")
        || (marker.starts_with('[') && marker.contains(']') && plain.len() > marker.len());
    if is_marker {
        indent + console::measure_text_width(marker) + 1
    } else {
        indent
    }
}

/// `text` wrapped to `width` columns, each line of it on its own, continuation lines indented
/// by `hang` columns (at most half the width, so a deep indent leaves room for words).
pub fn wrap_hanging(text: &str, width: usize, hang: usize) -> Vec<String> {
    let hang = " ".repeat(hang.min(width / 2));
    let mut out = Vec::new();
    for line in text.split('\n') {
        if console::measure_text_width(line) <= width {
            out.push(line.to_string());
            continue;
        }
        // Leading spaces are the first line's indent, not a word to wrap.
        let body = line.trim_start_matches(' ');
        let indent = &line[..line.len() - body.len()];
        let options = textwrap::Options::new(width)
            .initial_indent(indent)
            .subsequent_indent(&hang)
            .break_words(true);
        out.extend(
            textwrap::wrap(body, options)
                .into_iter()
                .map(|l| l.trim_end().to_string()),
        );
    }
    out
}

/// `text` wrapped to `width`, each line hanging under its own text start ([`text_start`]).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    text.split('\n')
        .flat_map(|line| wrap_hanging(line, width, text_start(line)))
        .collect()
}

/// A message of the command line (`runbook: …`, `error: …`) wrapped to `width`, continuation
/// lines under the text after its `word: ` prefix.
pub fn wrap_message(text: &str, width: usize) -> String {
    text.split('\n')
        .map(|line| {
            let hang = line
                .find(": ")
                .filter(|at| *at < 12 && !line[..*at].contains(' '))
                .map_or(0, |at| at + 2);
            wrap_hanging(line, width, hang).join("\n")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_then_the_terminal_then_80() {
        assert_eq!(width_from(Some(120), Some(100)), 120);
        assert_eq!(width_from(None, Some(100)), 100);
        assert_eq!(width_from(None, None), 80);
        assert_eq!(width_from(Some(0), None), 80);
        assert_eq!(width_from(Some(5), None), MIN_WIDTH);
    }

    #[test]
    fn messages_hang_under_their_prefix() {
        let text = "error: run interrupted: interrupted by a signal (exit 130) — timeline timelines/2026-12-01.jsonl";
        assert_eq!(
            wrap_message(text, 60),
            "error: run interrupted: interrupted by a signal (exit 130) —\n       timeline timelines/2026-12-01.jsonl"
        );
    }

    #[test]
    fn a_step_id_is_never_cut() {
        let line =
            "[3/12] Sample the launchpad endpoint before the refresh  (sample_launchpad, check)";
        for width in [60, 70, 80] {
            let lines = wrap(line, width);
            assert!(lines.len() > 1, "{lines:?}");
            assert!(lines.iter().any(|l| l.contains("(sample_launchpad,")));
            for l in &lines[1..] {
                assert!(
                    l.starts_with("       ") && !l.starts_with("        "),
                    "{l:?}"
                );
            }
        }
    }

    #[test]
    fn continuation_lines_hang_under_the_text() {
        let line = "  SKIPPED  Refresh (refresh): skipped: when `steps.check.rate_5xx > vars.threshold and steps.check.count > 10` is false";
        let lines = wrap_hanging(line, 60, 11);
        assert!(lines.len() > 1, "{lines:?}");
        assert!(lines[0].starts_with("  SKIPPED  Refresh"));
        for l in &lines[1..] {
            assert!(l.starts_with(&" ".repeat(11)), "{l:?}");
            assert!(!l[11..].starts_with(' '), "{l:?}");
        }
        for l in &lines {
            assert!(console::measure_text_width(l) <= 60, "{l:?}");
        }
        // Every word survives whole.
        let words: Vec<&str> = line.split_whitespace().collect();
        let rejoined: Vec<String> = lines.iter().map(|l| l.trim().to_string()).collect();
        assert_eq!(
            rejoined.join(" ").split_whitespace().collect::<Vec<_>>(),
            words
        );
    }

    #[test]
    fn only_a_word_longer_than_the_line_is_cut() {
        let url = format!("http://lb.internal/{}", "a".repeat(100));
        let lines = wrap_hanging(&format!("  fetching {url} now"), 40, 4);
        assert!(lines.iter().all(|l| console::measure_text_width(l) <= 40));
        assert_eq!(lines[0], "  fetching");
        let joined: String = lines[1..].iter().map(|l| l.replace(' ', "")).collect();
        assert_eq!(joined, format!("{url}now"));
    }

    #[test]
    fn styles_take_no_width() {
        let styled = format!(
            "  {} {}",
            console::style("PASSED").green().force_styling(true),
            "word ".repeat(14).trim_end()
        );
        let lines = wrap_hanging(&styled, 40, 9);
        // 6 + 1 + 6 words of 5: the label's escapes count for nothing.
        assert_eq!(console::measure_text_width(&lines[0]), 38, "{lines:?}");
        assert!(lines[0].contains("\u{1b}[32mPASSED\u{1b}[0m"));
        assert_eq!(
            lines[1],
            format!("         {}", "word ".repeat(6).trim_end())
        );
    }
}
