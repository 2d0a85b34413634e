//! Errors that point at a place in a file, rendered like a compiler's:
//!
//! ```text
//! runbooks/lb-502.yaml:12:5: unknown key `tiemout` in a step (did you mean `timeout`?)
//!    |
//! 12 |     tiemout: 5s
//!    |     ^^^^^^^
//! ```

use std::fmt::Write as _;

use crate::yaml::Pos;

/// One located problem in a file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    pub file: String,
    pub pos: Pos,
    /// How many characters to underline (at least one).
    pub width: usize,
    pub message: String,
}

impl Diagnostic {
    pub fn new(file: &str, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_string(),
            pos,
            width: 1,
            message: message.into(),
        }
    }

    /// A YAML syntax error in `file`.
    pub fn syntax(file: &str, error: &crate::yaml::SyntaxError) -> Self {
        Diagnostic::new(
            file,
            error.pos,
            format!("YAML syntax error: {}", error.message),
        )
        .with_width(error.width)
    }

    pub fn with_width(mut self, width: usize) -> Self {
        self.width = width.max(1);
        self
    }

    /// The first line: `FILE:LINE:COL: message`.
    pub fn headline(&self) -> String {
        format!(
            "{}:{}:{}: {}",
            self.file, self.pos.line, self.pos.col, self.message
        )
    }

    /// The headline followed by the source line with a caret under the offending text.
    pub fn render(&self, source: &str) -> String {
        let mut out = self.headline();
        let Some(line) = source.lines().nth(self.pos.line.saturating_sub(1) as usize) else {
            return out;
        };
        let number = self.pos.line.to_string();
        let gutter = " ".repeat(number.len());
        let col = self.pos.col.saturating_sub(1) as usize;
        // A generated or minified file can have a line of megabytes: show a window around
        // the column rather than the whole line.
        let chars: Vec<char> = line.chars().collect();
        let start = col
            .saturating_sub(MAX_SHOWN / 4)
            .min(chars.len().saturating_sub(MAX_SHOWN));
        let end = (start + MAX_SHOWN).min(chars.len());
        let cut = |cut: bool| if cut { "..." } else { "" };
        // Control characters (a binary file, an escape sequence) would garble the terminal.
        let shown: String = chars[start..end]
            .iter()
            .map(|&c| {
                if c.is_control() && c != '\t' {
                    '\u{fffd}'
                } else {
                    c
                }
            })
            .collect();
        let indent: String = " ".repeat(cut(start > 0).len())
            + &chars[start..col.clamp(start, end)]
                .iter()
                .map(|&c| if c == '\t' { '\t' } else { ' ' })
                .collect::<String>();
        let available = end.saturating_sub(col).max(1);
        let _ = write!(
            out,
            "\n{gutter} |\n{number} | {}{shown}{}\n{gutter} | {indent}{}",
            cut(start > 0),
            cut(end < chars.len()),
            "^".repeat(self.width.min(available))
        );
        out
    }
}

/// The most characters of a source line shown under a diagnostic.
const MAX_SHOWN: usize = 160;

/// `unknown key `X` in WHAT (did you mean `Y`?)`, or the known keys when none is close.
pub fn unknown_key(name: &str, known: &[&str], what: &str) -> String {
    match suggest(name, known.iter().copied()) {
        Some(close) => format!("unknown key `{name}` in {what} (did you mean `{close}`?)"),
        None => format!(
            "unknown key `{name}` in {what} (known keys: {})",
            known.join(", ")
        ),
    }
}

/// The known word closest to `word`, if it is close enough to be a likely typo.
pub fn suggest<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word_lower = word.to_ascii_lowercase();
    known
        .into_iter()
        .map(|k| (edit_distance(&word_lower, &k.to_ascii_lowercase()), k))
        .filter(|(d, k)| *d <= (k.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Edit distance with adjacent transpositions (optimal string alignment): `retyr` is one edit
/// from `retry`, as a typo is.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_caret_under_the_token() {
        let d = Diagnostic::new("f.yaml", Pos::new(2, 3), "unknown key `tiemout`").with_width(7);
        let text = d.render("steps:\n  tiemout: 5s\n");
        assert_eq!(
            text,
            "f.yaml:2:3: unknown key `tiemout`\n  |\n2 |   tiemout: 5s\n  |   ^^^^^^^"
        );
    }

    #[test]
    fn cuts_long_lines_around_the_column() {
        let line = format!("a: {}", "x".repeat(1_000_000));
        let d = Diagnostic::new("f.yaml", Pos::new(1, 500), "here").with_width(3);
        let text = d.render(&line);
        assert!(text.len() < 1000, "{}", text.len());
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[2].starts_with("1 | ...x") && lines[2].ends_with("x..."));
        assert_eq!(lines[3].find('^'), lines[2].find("...").map(|i| i + 3 + 40));
    }

    #[test]
    fn suggests_close_words_only() {
        let keys = ["timeout", "title", "retry"];
        assert_eq!(suggest("tiemout", keys), Some("timeout"));
        assert_eq!(suggest("retyr", keys), Some("retry"));
        assert_eq!(suggest("banana", keys), None);
    }
}
