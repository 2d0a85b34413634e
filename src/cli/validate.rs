//! `runbook validate`: check runbooks and scenarios without running anything.

use std::path::{Path, PathBuf};

use super::file_kind::{self, FileKind};
use crate::diagnostic::Diagnostic;
use crate::exit::Exit;
use crate::runbook;
use crate::sim::scenario;
use crate::yaml::Pos;

/// What a file was checked as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Runbook,
    Scenario,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Runbook => "runbook",
            Kind::Scenario => "scenario",
        }
    }
}

/// One file, checked.
struct Checked {
    kind: Kind,
    /// Why a file given without `--scenario` was checked as a scenario.
    note: Option<String>,
    /// The file's text, to show the lines problems are on (empty when it could not be read).
    source: String,
    diagnostics: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    /// For a valid file, what it holds: `lb-502, 5 steps`.
    summary: String,
}

/// Checks runbook and scenario files. `text` prints each result for people (problems on
/// stderr, rendered with their source lines); `json` prints one document on stdout for editors
/// and scripts:
///
/// ```json
/// {"valid": false,
///  "files": [{"file": "bad.yaml", "kind": "runbook", "valid": false,
///             "diagnostics": [{"file": "bad.yaml", "line": 3, "column": 5, "width": 7,
///                              "severity": "error", "message": "unknown key ..."}]}]}
/// ```
///
/// With `scenarios`, every file is a scenario; otherwise a file with a scenario's keys and no
/// `steps` is checked as one, with a note saying so. Either way the exit code is 0 when every
/// file is valid and 2 otherwise, and under GitHub Actions (`GITHUB_ACTIONS=true`) every problem
/// is also printed on stdout as an `::error` workflow command, so it shows on the line of the
/// file in the pull request.
pub fn validate(files: &[PathBuf], scenarios: bool, format: super::ValidateFormat) -> Exit {
    let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    let mut annotations = Vec::new();
    let results = check_all(files, scenarios);
    for (file, checked) in files.iter().zip(&results) {
        if let Some(note) = &checked.note {
            eprintln!("{note}");
        }
        if format == super::ValidateFormat::Text {
            print_text(file, checked);
        }
        if github {
            annotations.extend(
                checked
                    .diagnostics
                    .iter()
                    .map(|d| github_annotation(d, "error")),
            );
            annotations.extend(
                checked
                    .warnings
                    .iter()
                    .map(|d| github_annotation(d, "warning")),
            );
        }
    }
    let valid = results.iter().all(|c| c.diagnostics.is_empty());
    if format == super::ValidateFormat::Json {
        let document = serde_json::json!({
            "valid": valid,
            "files": files.iter().zip(&results).map(|(file, c)| {
                let mut entry = serde_json::json!({
                    "file": file.display().to_string(),
                    "kind": c.kind.as_str(),
                    "valid": c.diagnostics.is_empty(),
                    "diagnostics": c.diagnostics.iter().map(|d| (d, "error")).chain(c.warnings.iter().map(|d| (d, "warning"))).map(|(d, severity)| serde_json::json!({
                        "file": d.file,
                        "line": d.pos.line,
                        "column": d.pos.col,
                        "width": d.width,
                        "severity": severity,
                        "message": d.message,
                    })).collect::<Vec<_>>(),
                });
                if let Some(note) = &c.note {
                    entry["note"] = note.trim_start_matches("note: ").into();
                }
                entry
            }).collect::<Vec<_>>(),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&document).expect("a JSON value always serializes")
        );
    }
    for line in annotations {
        println!("{line}");
    }
    if valid { Exit::Ok } else { Exit::Usage }
}

/// Checks every file, spread over the cores, in the order given: a repository's runbooks are
/// checked in CI on every push, so this is worth the threads.
fn check_all(files: &[PathBuf], scenarios: bool) -> Vec<Checked> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len());
    let check_part =
        |part: &[PathBuf]| part.iter().map(|f| check(f, scenarios)).collect::<Vec<_>>();
    if threads <= 1 {
        return check_part(files);
    }
    let share = files.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(share)
            .map(|part| {
                let worker = std::thread::Builder::new()
                    // The main thread's size: parsers recurse, and the depth limits were set
                    // against it.
                    .stack_size(8 << 20)
                    .spawn_scoped(scope, move || check_part(part));
                (part, worker)
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|(part, worker)| match worker {
                Ok(handle) => handle.join().expect("checking a file does not panic"),
                // No thread to be had: check this share here.
                Err(_) => check_part(part),
            })
            .collect()
    })
}

fn check(file: &Path, scenarios: bool) -> Checked {
    if scenarios {
        return check_scenario(file, None);
    }
    // A file that cannot be read, is not text or is not YAML is checked as a runbook, which
    // says why. Otherwise its tree is read once, for its kind and, for a runbook, its check.
    if let Ok(text) = std::fs::read_to_string(file)
        && let Ok(root) = crate::yaml::parse(&text)
    {
        if let FileKind::Scenario { keys } = file_kind::of_tree(&root) {
            let note = format!(
                "note: {} looks like a scenario ({}); validated as one — pass --scenario to say so",
                file.display(),
                keys.join(", ")
            );
            return check_scenario(file, Some(note));
        }
        let display = file.display().to_string();
        return check_loaded(runbook::from_tree(&display, text, &root));
    }
    check_loaded(runbook::load(file))
}

fn check_loaded(loaded: Result<runbook::Runbook, runbook::LoadError>) -> Checked {
    let mut checked = Checked {
        kind: Kind::Runbook,
        note: None,
        source: String::new(),
        diagnostics: Vec::new(),
        warnings: Vec::new(),
        summary: String::new(),
    };
    match loaded {
        Ok(rb) => {
            checked.summary = format!(
                "{}, {} step{}{}",
                rb.name,
                rb.steps.len(),
                if rb.steps.len() == 1 { "" } else { "s" },
                if rb.finally.is_empty() {
                    String::new()
                } else {
                    format!(" + {} finally", rb.finally.len())
                }
            );
            checked.warnings = rb.warnings;
            checked.source = rb.source.text;
        }
        Err(runbook::LoadError::Invalid {
            source,
            diagnostics,
        }) => {
            checked.source = source;
            checked.diagnostics = diagnostics;
        }
        // A file that cannot be read is a problem at its start, so it has a place to show.
        Err(runbook::LoadError::Io { path, message }) => {
            checked.diagnostics = vec![Diagnostic::new(&path, Pos::new(1, 1), message)];
        }
    }
    checked
}

fn check_scenario(file: &Path, note: Option<String>) -> Checked {
    let display = file.display().to_string();
    let mut checked = Checked {
        kind: Kind::Scenario,
        note,
        source: String::new(),
        diagnostics: Vec::new(),
        warnings: Vec::new(),
        summary: String::new(),
    };
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            checked.diagnostics = vec![Diagnostic::new(
                &display,
                Pos::new(1, 1),
                crate::io_message(&e),
            )];
            return checked;
        }
    };
    match scenario::check(&display, &text) {
        Ok(s) => {
            let plural = |n: usize, one: &str, many: &str| {
                format!("{n} {}", if n == 1 { one } else { many })
            };
            checked.summary = format!(
                "scenario {}, {}, {}",
                s.name,
                plural(s.faults.len(), "fault", "faults"),
                plural(s.success.len(), "success criterion", "success criteria")
            );
        }
        Err(diagnostics) => checked.diagnostics = diagnostics,
    }
    checked.source = text;
    checked
}

fn print_text(file: &Path, checked: &Checked) {
    // `FILE:LINE:COL: warning: ...`, with the line and a caret, as errors are shown.
    for w in &checked.warnings {
        let mut shown = w.clone();
        shown.message = format!("warning: {}", w.message);
        eprintln!("{}", shown.render(&checked.source));
    }
    if checked.diagnostics.is_empty() {
        println!("{}: ok ({})", file.display(), checked.summary);
        return;
    }
    for d in &checked.diagnostics {
        eprintln!("{}", d.render(&checked.source));
    }
    let count = checked.diagnostics.len();
    eprintln!(
        "error: {}: {count} problem{}",
        file.display(),
        if count == 1 { "" } else { "s" }
    );
}

/// A GitHub Actions `::error` (or `::warning`) workflow command for one problem. Property values escape `%`,
/// CR, LF, `:` and `,`; the message escapes `%`, CR and LF, as the Actions toolkit does.
fn github_annotation(d: &Diagnostic, level: &str) -> String {
    fn escape_data(text: &str) -> String {
        text.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    }
    fn escape_property(text: &str) -> String {
        escape_data(text).replace(':', "%3A").replace(',', "%2C")
    }
    format!(
        "::{level} file={},line={},col={}::{}",
        escape_property(&d.file),
        d.pos.line,
        d.pos.col,
        escape_data(&d.message)
    )
}
