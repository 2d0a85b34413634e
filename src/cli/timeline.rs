//! `runbook timeline`: a run's timeline as the forms people use.

use std::path::PathBuf;

use crate::exit::Exit;

/// `runbook timeline` arguments.
#[derive(Debug, clap::Args)]
pub struct TimelineArgs {
    /// Timeline files (several are merged in time order: resumed runs, a drill's).
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

pub fn timeline(_args: TimelineArgs) -> Exit {
    super::error("`runbook timeline` is being built");
    Exit::Usage
}
