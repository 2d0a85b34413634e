//! The names expressions and templates use that would otherwise fail only at run time: unknown
//! filters, tests and methods, and reads of vars the runbook does not declare, each reported at
//! the name itself; and, when a run starts, the vars declared with `~` that nobody gave.

use serde_json::{Map, Value as Json};

use super::model::{LoopSource, Runbook};
use super::parse::Checker;
use super::validate::step_templates;
use crate::diagnostic::{Diagnostic, suggest};
use crate::expr::names::Scan;
use crate::yaml::{Node, Pos};

impl Checker<'_> {
    /// Reports what `scan` found in `source`, the text of `node`, as `what` (``"`when`"``).
    pub fn names(&mut self, node: &Node, what: &str, source: &str, scan: &Scan) {
        for unknown in &scan.unknown {
            let pos = self.locate(node, source, unknown.offset, &unknown.name);
            self.push(pos, &unknown.name, format!("{what}: {}", unknown.message()));
        }
        for &offset in &scan.autoescape {
            let pos = self.locate(node, source, offset, "autoescape");
            self.push(
                pos,
                "autoescape",
                format!("{what}: {}", crate::expr::names::AUTOESCAPE_MESSAGE),
            );
        }
        // A `vars:` that is not a mapping was reported already; nothing is declared to compare.
        let Some(declared) = &self.vars else { return };
        let mut problems = Vec::new();
        for read in &scan.vars {
            if declared.contains(&read.name) {
                continue;
            }
            let name = &read.name;
            let message = match suggest(name, declared.iter().map(String::as_str)) {
                Some(close) => format!(
                    "{what}: `vars.{name}` is not declared under `vars:` (did you mean `vars.{close}`?)"
                ),
                None => format!(
                    "{what}: `vars.{name}` is not declared under `vars:`: declare it there, \
                     with `~` if it must be given with --var or --vars"
                ),
            };
            problems.push((self.locate(node, source, read.offset, name), name, message));
        }
        for (pos, name, message) in problems {
            self.push(pos, name, message);
        }
    }

    fn push(&mut self, pos: Pos, name: &str, message: String) {
        self.diagnostics
            .push(Diagnostic::new(self.file, pos, message).with_width(name.chars().count()));
    }

    /// Where in the file `name`, at byte `offset` of `source` (the value of `node`), is written.
    ///
    /// A scalar's text is not the file's: quotes, escapes, indentation and the line folding of
    /// `>-` all lie between them. A name is an identifier, which none of those change, so the
    /// name is found again in the file: the same occurrence of it, counted from where the
    /// node starts. If it cannot be found, the node's own position is still true.
    pub(super) fn locate(&self, node: &Node, source: &str, offset: usize, name: &str) -> Pos {
        let found = (|| {
            let nth = words(source.get(..offset)?, name).count();
            let start = byte_offset(self.text, node.pos)?;
            let at = words(self.text.get(start..)?, name).nth(nth)?;
            Some(position(self.text, start + at))
        })();
        found.unwrap_or(node.pos)
    }
}

/// Where `name` occurs in `text` as a whole word: `a` in `vars.a`, not in `vars.alpha` or in a
/// comment's `uses`.
fn words<'t>(text: &'t str, name: &'t str) -> impl Iterator<Item = usize> + 't {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(name).filter_map(move |(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        (!before.is_some_and(ident) && !after.is_some_and(ident)).then_some(at)
    })
}

/// The byte offset of a 1-based line and column (in characters) in `text`.
fn byte_offset(text: &str, pos: Pos) -> Option<usize> {
    let line_start = if pos.line <= 1 {
        0
    } else {
        text.match_indices('\n')
            .nth(usize::try_from(pos.line).ok()?.checked_sub(2)?)?
            .0
            + 1
    };
    let line = text.get(line_start..)?;
    let col = usize::try_from(pos.col).ok()?.saturating_sub(1);
    let within = line.char_indices().nth(col).map_or(line.len(), |(i, _)| i);
    Some(line_start + within)
}

/// The 1-based line and column (in characters) of a byte offset in `text`.
pub(super) fn position(text: &str, offset: usize) -> Pos {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .unwrap_or_default()
        .chars()
        .count()
        + 1;
    Pos::new(
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(col).unwrap_or(u32::MAX),
    )
}

/// The vars declared with `~` that are still null in `vars` (the runbook's, then `--vars`,
/// drill and `--var`) and that some expression or template reads: a run cannot start without
/// them. One message per var, in the order declared.
pub fn unset_required(runbook: &Runbook, vars: &Map<String, Json>) -> Vec<String> {
    runbook
        .required_vars
        .iter()
        .filter(|(name, _)| vars.get(name).is_none_or(Json::is_null) && reads(runbook, name))
        .map(|(name, pos)| {
            format!(
                "vars.{name} is not set: it is declared with ~ in {}:{pos}; \
                 give it with --var {name}=... or --vars FILE",
                runbook.source.path
            )
        })
        .collect()
}

/// Whether any expression or template of the runbook reads `vars.NAME`. One that reads `vars`
/// as a whole (`vars[key]`, `vars | tojson`) may read any of them.
fn reads(runbook: &Runbook, var: &str) -> bool {
    let dotted = format!("vars.{var}");
    let reads_it = |read: &String| {
        read == "vars"
            || read
                .strip_prefix(&dotted)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    };
    runbook.all_steps().any(|step| {
        let mut all: Vec<&[String]> = Vec::new();
        all.extend(step.when.iter().map(|e| e.reads.as_slice()));
        all.extend(step.expect.iter().map(|e| e.reads.as_slice()));
        if let Some(LoopSource::Expr(e)) = &step.loop_over {
            all.push(&e.reads);
        }
        all.extend(step_templates(step).iter().map(|t| t.reads.as_slice()));
        all.iter().any(|reads| reads.iter().any(reads_it))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_positions_agree() {
        let text = "a: 1\nbé: x | y\n";
        let offset = byte_offset(text, Pos::new(2, 5)).unwrap();
        assert_eq!(&text[offset..offset + 1], "x");
        assert_eq!(position(text, offset), Pos::new(2, 5));
        assert_eq!(byte_offset(text, Pos::new(9, 1)), None);
    }

    #[test]
    fn names_are_found_as_whole_words() {
        let found: Vec<usize> = words("a ab ba a_ a.a", "a").collect();
        assert_eq!(found, [0, 11, 13]);
    }
}
