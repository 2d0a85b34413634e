//! Reading a timeline back: every complete line is an event; an unterminated last line is a
//! torn write from a crash and is ignored.

use std::path::Path;

use super::event::Record;

/// The events of a timeline file.
#[derive(Debug, Default)]
pub struct Parsed {
    pub records: Vec<Record>,
    /// The last line had no newline (a torn write) and was ignored.
    pub torn: bool,
    /// Complete lines that are not events this version knows, with their line numbers.
    pub problems: Vec<(usize, usize, String)>,
}

/// Parses timeline text. Unknown event kinds (from newer versions) are skipped, not errors.
pub fn parse_lines(text: &str) -> Parsed {
    parse_bytes(text.as_bytes())
}

/// Parses a timeline as stored. A torn last line may end inside a multi-byte character, so the
/// file is split into lines before it is decoded: only a complete line must be UTF-8.
pub fn parse_bytes(bytes: &[u8]) -> Parsed {
    let mut parsed = Parsed::default();
    let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    // split leaves "" after a final newline; anything else there is a torn line.
    let tail = lines.pop().unwrap_or_default();
    if !tail.is_empty() {
        parsed.torn = true;
    }
    for (i, line) in lines.iter().enumerate() {
        let line = match std::str::from_utf8(line) {
            Ok(line) => line,
            Err(e) => {
                parsed
                    .problems
                    .push((i + 1, e.valid_up_to() + 1, "not UTF-8 text".into()));
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                parsed.problems.push((i + 1, e.column(), e.to_string()));
                continue;
            }
        };
        match serde_json::from_value::<Record>(value.clone()) {
            Ok(record) => parsed.records.push(record),
            Err(e) => {
                let known = value
                    .get("event")
                    .and_then(|v| v.as_str())
                    .is_some_and(|name| {
                        [
                            "run_started",
                            "run_resumed",
                            "step_started",
                            "step_attempt",
                            "step_finished",
                            "milestone",
                            "note",
                            "run_finished",
                        ]
                        .contains(&name)
                    });
                if known || value.get("seq").is_none() {
                    parsed.problems.push((i + 1, 1, e.to_string()));
                }
            }
        }
    }
    parsed
}

/// Reads a timeline file; a line that is complete but not an event is an error naming
/// `FILE:LINE:COL`.
pub fn read(path: &Path) -> Result<Parsed, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("{}: {}", path.display(), crate::io_message(&e)))?;
    let parsed = parse_bytes(&bytes);
    if let Some((line, col, message)) = parsed.problems.first() {
        return Err(format!(
            "{}:{line}:{col}: not a timeline event: {message}",
            path.display()
        ));
    }
    if parsed.records.is_empty() {
        return Err(format!("{}: the timeline has no events", path.display()));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_last_line_is_ignored() {
        let good = r#"{"seq":1,"ts":"t","run_id":"r","event":"note","text":"a","actor":"me"}"#;
        let text = format!("{good}\n{{\"seq\":2,\"ts\"");
        let parsed = parse_lines(&text);
        assert_eq!(parsed.records.len(), 1);
        assert!(parsed.torn);
        assert!(parsed.problems.is_empty());
    }

    #[test]
    fn torn_last_line_may_end_inside_a_character() {
        let good = r#"{"seq":1,"ts":"t","run_id":"r","event":"note","text":"é","actor":"me"}"#;
        let mut bytes = format!("{good}\n{good}").into_bytes();
        bytes.truncate(bytes.len() - 16);
        assert!(std::str::from_utf8(&bytes).is_err());
        let parsed = parse_bytes(&bytes);
        assert_eq!(parsed.records.len(), 1);
        assert!(parsed.torn);
        assert!(parsed.problems.is_empty());
    }

    #[test]
    fn broken_middle_line_is_a_problem() {
        let good = r#"{"seq":1,"ts":"t","run_id":"r","event":"note","text":"a","actor":"me"}"#;
        let parsed = parse_lines(&format!("{good}\nnot json\n{good}\n"));
        assert_eq!(parsed.records.len(), 2);
        assert_eq!(parsed.problems[0].0, 2);
    }

    /// Problems are located to the line and column a person opens the file at.
    #[test]
    fn problems_are_located_exactly() {
        let good = r#"{"seq":1,"ts":"t","run_id":"r","event":"note","text":"a","actor":"me"}"#;
        let mut bytes = format!(
            "{good}
"
        )
        .into_bytes();
        bytes.extend_from_slice(b"{\"a\xff\n");
        bytes.extend_from_slice(format!("{good}\n").as_bytes());
        // A known event of the wrong shape, and a line that is no event at all (no `seq`).
        bytes.extend_from_slice(b"{\"seq\":3,\"ts\":\"t\",\"run_id\":\"r\",\"event\":\"note\"}\n");
        bytes.extend_from_slice(b"{\"hello\":1}\n");
        // An event kind from a newer version, with its `seq`: skipped, not a problem.
        bytes.extend_from_slice(
            b"{\"seq\":4,\"ts\":\"t\",\"run_id\":\"r\",\"event\":\"approval\"}\n",
        );
        let parsed = parse_bytes(&bytes);
        assert_eq!(parsed.records.len(), 2);
        assert!(!parsed.torn);
        let located: Vec<(usize, usize)> = parsed.problems.iter().map(|p| (p.0, p.1)).collect();
        assert_eq!(
            located,
            vec![(2, 4), (4, 1), (5, 1)],
            "{:?}",
            parsed.problems
        );
        assert_eq!(parsed.problems[0].2, "not UTF-8 text");
        assert!(
            parsed.problems[1].2.contains("missing field"),
            "{:?}",
            parsed.problems
        );
    }
}
