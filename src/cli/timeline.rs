//! `runbook timeline`: a run's timeline as the forms people use.

use std::path::PathBuf;

use jiff::tz::TimeZone;

use crate::exit::Exit;
use crate::report::{self, Runs};

/// `runbook timeline` arguments.
#[derive(Debug, clap::Args)]
pub struct TimelineArgs {
    /// Timeline files: a resumed run's files are one run; several runs are shown one by one,
    /// in the order they started, each under its runbook's name.
    #[arg(required = true, value_name = "TIMELINE")]
    pub timelines: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Time zone for times (IANA name, e.g. America/New_York) [default: the system's].
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Write to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Markdown,
    Json,
    Junit,
    Html,
}

pub fn timeline(args: TimelineArgs) -> Exit {
    let tz = match report::model::zone(args.tz.as_deref()) {
        Ok(tz) => tz,
        Err(e) => {
            super::error(e);
            return Exit::Usage;
        }
    };
    let report = match Runs::load(&args.timelines) {
        Ok(r) => r,
        Err(e) => {
            super::error(e);
            return Exit::Usage;
        }
    };
    let text = match render(&report, args.format, &tz) {
        Ok(t) => t,
        Err(e) => {
            super::error(e);
            return Exit::Failed;
        }
    };
    match &args.output {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
                && let Err(e) = std::fs::create_dir_all(dir)
            {
                super::error(format!(
                    "cannot create {}: {}",
                    dir.display(),
                    crate::io_message(&e)
                ));
                return Exit::Usage;
            }
            if let Err(e) = std::fs::write(path, text) {
                super::error(format!(
                    "cannot write {}: {}",
                    path.display(),
                    crate::io_message(&e)
                ));
                return Exit::Usage;
            }
            eprintln!("runbook: wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    Exit::Ok
}

/// Renders a report in a format. Every format but JSON has its control characters shown
/// escaped: none of them writes one itself, so any there came from a system.
pub fn render(report: &Runs, format: Format, tz: &TimeZone) -> Result<String, String> {
    let text = match format {
        Format::Text => report::text::render(report, tz),
        Format::Markdown => report::markdown::render(report, tz),
        Format::Json => return Ok(report::json::render(report)),
        Format::Junit => report::junit::render(report)?,
        Format::Html => report::html::render(report, tz),
    };
    Ok(crate::escape::controls(&text).into_owned())
}

/// Writes the JUnit report of a finished run (`run --junit`).
pub fn write_junit(timeline: &std::path::Path, path: &std::path::Path) -> Result<(), String> {
    let report = Runs::load(&[timeline])?;
    let xml = crate::escape::controls(&report::junit::render(&report)?).into_owned();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("{}: {}", dir.display(), crate::io_message(&e)))?;
    }
    std::fs::write(path, xml).map_err(|e| format!("{}: {}", path.display(), crate::io_message(&e)))
}
