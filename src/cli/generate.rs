//! Artefacts generated from the code's own definitions: JSON Schemas, shell completions, the
//! man page. Each is printed on stdout, to be redirected where it belongs.

use std::io::Write;

use clap::CommandFactory;

use super::{Cli, error};
use crate::exit::Exit;

pub fn schema(scenario: bool) -> Exit {
    let schema = if scenario {
        crate::schema::scenario()
    } else {
        crate::schema::runbook()
    };
    let text = serde_json::to_string_pretty(&schema).expect("a JSON value always serializes");
    print(format!("{text}\n").as_bytes())
}

pub fn completions(shell: clap_complete::Shell) -> Exit {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "runbook", &mut out);
    print(&out)
}

pub fn man() -> Exit {
    match man_page() {
        Ok(page) => print(&page),
        Err(e) => {
            error(format!("cannot render the man page: {e}"));
            Exit::Usage
        }
    }
}

/// One page for the whole tool: clap_mangen's page of the top-level command, whose list of
/// subcommands points at `runbook-<command>(1)` pages, is followed here by a section per
/// command with its synopsis and options, so nothing points at pages that are not installed.
fn man_page() -> std::io::Result<Vec<u8>> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    writeln!(out, ".SH COMMANDS")?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let page = clap_mangen::Man::new(sub.clone());
        writeln!(out, ".SS {}", sub.get_name())?;
        if let Some(about) = sub.get_long_about().or_else(|| sub.get_about()) {
            for line in about.to_string().lines() {
                writeln!(out, "{}", roff_text(line))?;
            }
        }
        writeln!(out, ".PP")?;
        let mut synopsis = Vec::new();
        page.render_synopsis_section(&mut synopsis)?;
        out.extend(without_heading(&synopsis));
        if sub.get_arguments().any(|a| !a.is_hide_set()) {
            let mut options = Vec::new();
            page.render_options_section(&mut options)?;
            out.extend(without_heading(&options));
        }
    }
    man.render_version_section(&mut out)?;
    Ok(out)
}

/// A rendered section without its `.SH` line, to nest it under a command's `.SS`.
fn without_heading(section: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(section);
    let mut out = String::new();
    for line in text.lines().filter(|l| !l.starts_with(".SH")) {
        out.push_str(line);
        out.push('\n');
    }
    out.into_bytes()
}

/// A line of text as roff reads it: backslashes escaped, and a leading `.` or `'` kept from
/// reading as a request.
fn roff_text(line: &str) -> String {
    let escaped = line.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// Writes to stdout; a closed pipe (`runbook man | head`) is not an error worth a message.
fn print(bytes: &[u8]) -> Exit {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Exit::Ok,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Ok,
        Err(e) => {
            error(format!("cannot write to stdout: {}", crate::io_message(&e)));
            Exit::Usage
        }
    }
}
