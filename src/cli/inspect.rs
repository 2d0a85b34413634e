//! `list` and `show`: reading runbooks without running them.

use std::path::{Path, PathBuf};

use super::error;
use super::file_kind::{self, FileKind};
use crate::duration;
use crate::exit::Exit;
use crate::runbook::{self, CommandProgram, Executor, HttpBody, LoopSource, OnFail, Step};

/// The runbook files in a directory, sorted.
pub fn runbook_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Lists the runbooks in `dir` as a table, then the other YAML files: scenarios as
/// `scenario`, anything else (vars files, answers files) as `skipped`, with why. The exit code
/// is 0 unless a runbook is invalid (2, as `validate` says it): a folder of runbooks is where
/// their vars files and scenarios live too.
pub fn list(dir: &Path) -> Exit {
    let files = match runbook_files(dir) {
        Ok(f) => f,
        Err(e) => {
            error(format!("{}: {}", dir.display(), crate::io_message(&e)));
            return Exit::Usage;
        }
    };
    let mut rows = Vec::new();
    let mut others = Vec::new();
    let mut exit = Exit::Ok;
    for file in &files {
        let shown = file.display().to_string();
        // A file that cannot be read (or is not text) is reported as a runbook would be.
        let kind = std::fs::read_to_string(file)
            .map(|text| (file_kind::detect(&text), text))
            .ok();
        match kind {
            Some((FileKind::Other { reason }, _)) => {
                others.push(("skipped", shown, reason));
                continue;
            }
            Some((FileKind::Scenario { .. }, text)) => {
                let what = match crate::sim::scenario::check(&shown, &text) {
                    Ok(s) => format!("{}: {}", s.name, s.title),
                    Err(d) => format!(
                        "invalid: {} problem{}; run `runbook validate --scenario {shown}`",
                        d.len(),
                        if d.len() == 1 { "" } else { "s" }
                    ),
                };
                others.push(("scenario", shown, what));
                continue;
            }
            _ => {}
        }
        match runbook::load(file) {
            Ok(rb) => rows.push((
                rb.name,
                rb.steps.len().to_string(),
                rb.title,
                file.display().to_string(),
            )),
            Err(e) => {
                let (count, first) = match &e {
                    runbook::LoadError::Invalid { diagnostics, .. } => (
                        diagnostics.len(),
                        diagnostics
                            .first()
                            .map(|d| d.headline())
                            .unwrap_or_default(),
                    ),
                    runbook::LoadError::Io { path, message } => (1, format!("{path}: {message}")),
                };
                eprintln!(
                    "error: {} is not a valid runbook ({count} problem{}; run `runbook validate {}`)\n  {}",
                    file.display(),
                    if count == 1 { "" } else { "s" },
                    file.display(),
                    crate::escape::controls(&first)
                );
                exit = Exit::Usage;
            }
        }
    }
    let print_others = || {
        for (label, file, why) in &others {
            println!("{label:<8}  {file}  ({})", crate::escape::controls(why));
        }
    };
    if rows.is_empty() {
        eprintln!("no runbooks in {}", dir.display());
        print_others();
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
    if !others.is_empty() {
        println!();
    }
    print_others();
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
