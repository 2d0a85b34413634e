//! `validate`, `list` and `show`: reading runbooks without running them.

use std::path::{Path, PathBuf};

use super::error;
use crate::diagnostic::Diagnostic;
use crate::duration;
use crate::exit::Exit;
use crate::runbook::{self, CommandProgram, Executor, HttpBody, LoopSource, OnFail, Step};
use crate::yaml::Pos;

/// Checks runbook files. `text` prints each result for people (problems on stderr, rendered
/// with their source lines); `json` prints one document on stdout for editors and scripts:
///
/// ```json
/// {"valid": false,
///  "files": [{"file": "bad.yaml", "valid": false,
///             "diagnostics": [{"file": "bad.yaml", "line": 3, "column": 5, "width": 7,
///                              "severity": "error", "message": "unknown key ..."}]}]}
/// ```
///
/// Either way the exit code is 0 when every file is valid and 2 otherwise, and under GitHub
/// Actions (`GITHUB_ACTIONS=true`) every problem is also printed on stdout as an `::error`
/// workflow command, so it shows on the line of the file in the pull request.
/// Loads (parses and validates) every file, spread over the cores, in the order given: a
/// repository's runbooks are checked in CI on every push, so this is worth the threads.
fn load_all(files: &[PathBuf]) -> Vec<Result<runbook::Runbook, runbook::LoadError>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len());
    if threads <= 1 {
        return files.iter().map(|f| runbook::load(f)).collect();
    }
    let share = files.len().div_ceil(threads);
    let load_part = |part: &[PathBuf]| part.iter().map(|f| runbook::load(f)).collect::<Vec<_>>();
    std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(share)
            .map(|part| {
                let worker = std::thread::Builder::new()
                    // The main thread's size: parsers recurse, and the depth limits were set
                    // against it.
                    .stack_size(8 << 20)
                    .spawn_scoped(scope, move || load_part(part));
                (part, worker)
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|(part, worker)| match worker {
                Ok(handle) => handle.join().expect("loading a runbook does not panic"),
                // No thread to be had: load this share here.
                Err(_) => load_part(part),
            })
            .collect()
    })
}

pub fn validate(files: &[PathBuf], format: super::ValidateFormat) -> Exit {
    let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    let mut results = Vec::new();
    let mut annotations = Vec::new();
    for (file, loaded) in files.iter().zip(load_all(files)) {
        if format == super::ValidateFormat::Text {
            print_text(file, &loaded);
        }
        let warnings = match &loaded {
            Ok(rb) => rb.warnings.clone(),
            Err(_) => Vec::new(),
        };
        let diagnostics = match &loaded {
            Ok(_) => Vec::new(),
            Err(runbook::LoadError::Invalid { diagnostics, .. }) => diagnostics.clone(),
            // A file that cannot be read is a problem at its start, so it has a place to show.
            Err(runbook::LoadError::Io { path, message }) => {
                vec![Diagnostic::new(path, Pos::new(1, 1), message.clone())]
            }
        };
        if github {
            annotations.extend(diagnostics.iter().map(|d| github_annotation(d, "error")));
            annotations.extend(warnings.iter().map(|d| github_annotation(d, "warning")));
        }
        results.push((file, diagnostics, warnings));
    }
    let valid = results.iter().all(|(_, d, _)| d.is_empty());
    if format == super::ValidateFormat::Json {
        let document = serde_json::json!({
            "valid": valid,
            "files": results.iter().map(|(file, diagnostics, warnings)| serde_json::json!({
                "file": file.display().to_string(),
                "valid": diagnostics.is_empty(),
                "diagnostics": diagnostics.iter().map(|d| (d, "error")).chain(warnings.iter().map(|d| (d, "warning"))).map(|(d, severity)| serde_json::json!({
                    "file": d.file,
                    "line": d.pos.line,
                    "column": d.pos.col,
                    "width": d.width,
                    "severity": severity,
                    "message": d.message,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
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

fn print_text(file: &Path, loaded: &Result<runbook::Runbook, runbook::LoadError>) {
    if let Ok(rb) = loaded {
        // `FILE:LINE:COL: warning: ...`, with the line and a caret, as errors are shown.
        for w in &rb.warnings {
            let mut shown = w.clone();
            shown.message = format!("warning: {}", w.message);
            eprintln!("{}", shown.render(&rb.source.text));
        }
    }
    match loaded {
        Ok(rb) => println!(
            "{}: ok ({}, {} step{}{})",
            file.display(),
            rb.name,
            rb.steps.len(),
            if rb.steps.len() == 1 { "" } else { "s" },
            if rb.finally.is_empty() {
                String::new()
            } else {
                format!(" + {} finally", rb.finally.len())
            }
        ),
        Err(e) => {
            eprintln!("{}", e.render());
            if let runbook::LoadError::Invalid { diagnostics, .. } = e {
                eprintln!(
                    "error: {}: {} problem{}",
                    file.display(),
                    diagnostics.len(),
                    if diagnostics.len() == 1 { "" } else { "s" }
                );
            }
        }
    }
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

/// The runbook files in a directory, sorted.
pub fn runbook_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

pub fn list(dir: &Path) -> Exit {
    let files = match runbook_files(dir) {
        Ok(f) => f,
        Err(e) => {
            error(format!("{}: {}", dir.display(), crate::io_message(&e)));
            return Exit::Usage;
        }
    };
    let mut rows = Vec::new();
    let mut exit = Exit::Ok;
    for file in &files {
        match runbook::load(file) {
            Ok(rb) => rows.push((
                rb.name,
                rb.steps.len().to_string(),
                rb.title,
                file.display().to_string(),
            )),
            Err(e) => {
                let count = match &e {
                    runbook::LoadError::Invalid { diagnostics, .. } => diagnostics.len(),
                    runbook::LoadError::Io { .. } => 1,
                };
                eprintln!(
                    "error: {} is not a valid runbook ({count} problem{}; run `runbook validate {}`)",
                    file.display(),
                    if count == 1 { "" } else { "s" },
                    file.display()
                );
                exit = Exit::Usage;
            }
        }
    }
    if rows.is_empty() {
        eprintln!("no runbooks in {}", dir.display());
        return exit;
    }
    let w_name = rows.iter().map(|r| r.0.len()).max().unwrap_or(4).max(4);
    let w_steps = 5;
    let w_title = rows
        .iter()
        .map(|r| r.2.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    println!(
        "{:<w_name$}  {:>w_steps$}  {:<w_title$}  FILE",
        "NAME", "STEPS", "TITLE"
    );
    for (name, steps, title, file) in rows {
        println!("{name:<w_name$}  {steps:>w_steps$}  {title:<w_title$}  {file}");
    }
    exit
}

pub fn show(file: &Path) -> Exit {
    let rb = match runbook::load(file) {
        Ok(rb) => rb,
        Err(e) => {
            eprintln!("{}", e.render());
            return Exit::Usage;
        }
    };
    println!("{}: {}", rb.name, rb.title);
    if let Some(d) = &rb.description {
        for line in d.trim().lines() {
            println!("  {line}");
        }
    }
    if !rb.vars.is_empty() {
        println!("\nvars:");
        for (k, v) in &rb.vars {
            println!("  {k} = {v}");
        }
    }
    if !rb.secrets.is_empty() {
        println!(
            "\nsecrets (from the environment): {}",
            rb.secrets.join(", ")
        );
    }
    if let Some(t) = rb.defaults.timeout {
        println!("\ndefault timeout: {}", duration::compact(t));
    }
    println!("\nsteps:");
    for (i, step) in rb.steps.iter().enumerate() {
        show_step(i + 1, step);
    }
    if !rb.finally.is_empty() {
        println!("\nfinally (always runs at the end):");
        for (i, step) in rb.finally.iter().enumerate() {
            show_step(i + 1, step);
        }
    }
    Exit::Ok
}

fn show_step(number: usize, step: &Step) {
    let kind = match (&step.executor, step.action) {
        (_, true) => "ACTION",
        (Executor::Manual(_), false) => "manual",
        _ => "check",
    };
    println!(
        "  {number:>2}. {}  {}  [{kind}] {}",
        step.id,
        step.title,
        describe(&step.executor)
    );
    let pad = "        ";
    if let Some(w) = &step.when {
        println!("{pad}when: {}", w.source);
    }
    match &step.loop_over {
        Some(LoopSource::Expr(e)) => {
            println!("{pad}loop: {} (parallel {})", e.source, step.parallel)
        }
        Some(LoopSource::Items(items)) => println!(
            "{pad}loop: {} items (parallel {})",
            items.len(),
            step.parallel
        ),
        None => {}
    }
    for e in &step.expect {
        println!("{pad}expect: {}", e.source);
    }
    if let Some(r) = &step.retry {
        println!(
            "{pad}retry: {} attempts, {} apart",
            r.attempts,
            duration::compact(r.delay)
        );
    }
    match &step.on_fail {
        OnFail::Stop => {}
        OnFail::Continue => println!("{pad}on fail: continue"),
        OnFail::Goto { step, .. } => println!("{pad}on fail: goto {step}"),
    }
    if let Some(m) = &step.milestone {
        println!("{pad}milestone when passed: {m}");
    }
}

fn describe(executor: &Executor) -> String {
    match executor {
        Executor::Http(h) => {
            let mut s = format!("http {} {}", h.method, h.url.source);
            if h.samples > 1 {
                s.push_str(&format!(" x{} ({} at a time)", h.samples, h.concurrency));
            }
            if let Some(HttpBody::Json(_)) = &h.body {
                s.push_str(" (json body)");
            }
            s
        }
        Executor::Prometheus(p) => match &p.range {
            Some(r) => format!(
                "prometheus {} over {} every {}: {}",
                p.url.source,
                crate::duration::compact(r.range),
                crate::duration::compact(r.step),
                p.query.source
            ),
            None => format!("prometheus {}: {}", p.url.source, p.query.source),
        },
        Executor::Statuspage(s) => format!("statuspage {}", s.url.source),
        Executor::Tcp(t) => format!("tcp {}", t.address.source),
        Executor::Command(c) => match &c.program {
            CommandProgram::Argv(argv) => format!(
                "command {}",
                argv.iter()
                    .map(|a| a.source.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            CommandProgram::Shell(s) => format!("shell {}", s.source.lines().next().unwrap_or("")),
        },
        Executor::Manual(m) => {
            let first = m.instructions.source.lines().next().unwrap_or("");
            if m.ask.is_empty() {
                format!("manual: {first}")
            } else {
                format!(
                    "manual: {first} (asks {})",
                    m.ask
                        .iter()
                        .map(|a| a.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        }
        Executor::Wait(d) => format!("wait {}", duration::compact(*d)),
    }
}
