//! The command line: raw arguments become a validated configuration before anything runs.

mod approve;
mod drill;
mod file_kind;
mod generate;
mod hangup;
pub(crate) mod inputs;
mod inspect;
mod milestone;
mod pipe;
pub(crate) mod run;
mod serve;
mod sim;
mod timeline;
mod validate;

use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand};

use crate::exit::Exit;

/// Executable incident-response runbooks: guided in a terminal, unattended in CI, with a
/// crash-safe timeline of every run.
#[derive(Debug, Parser)]
#[command(name = "runbook", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a runbook: guided in a terminal, non-interactive in CI or with --non-interactive.
    Run(RunArgs),
    /// Check runbooks (and scenarios) without running anything.
    Validate {
        /// Runbook files; a file with a scenario's keys and no `steps` is checked as a scenario.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The files are scenarios (for `runbook sim` and `runbook drill`).
        #[arg(long)]
        scenario: bool,
        /// Output: `text` for people, `json` for editors and CI annotations.
        #[arg(long, value_enum, default_value = "text")]
        format: ValidateFormat,
    },
    /// List the runbooks in a directory with name, title and step count.
    List {
        /// Directory to look in.
        #[arg(default_value = "runbooks", value_name = "DIR")]
        dir: PathBuf,
    },
    /// Print a runbook's steps in order with their conditions, branches and actions.
    Show {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Serve a simulated production environment (an outage scenario) on loopback.
    Sim(sim::SimArgs),
    /// Start runs from Alertmanager's webhook; actions wait for approvals (`runbook approve`).
    Serve(serve::ServeArgs),
    /// Run a runbook against the built-in simulator and judge the scenario's success criteria.
    Drill(drill::DrillArgs),
    /// Render timelines as a postmortem: text, markdown, json, junit or html.
    Timeline(timeline::TimelineArgs),
    /// Print the JSON Schema of the runbook format (or, with --scenario, of scenarios).
    Schema {
        /// The scenario format instead of the runbook format.
        #[arg(long)]
        scenario: bool,
    },
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
    /// Append a note to a timeline (also while a run is writing to it).
    Note {
        #[arg(value_name = "TIMELINE")]
        timeline: PathBuf,
        /// The note.
        #[arg(value_name = "TEXT", required = true, num_args = 1..)]
        text: Vec<String>,
    },
    /// Approve the action a run is waiting on (`runbook run --approvals N`).
    Approve(approve::ApproveArgs),
    /// Deny the action a run is waiting on: it is recorded as skipped and the run goes on.
    Deny(approve::DenyArgs),
    /// Record an incident milestone (detected, mitigated, resolved, or any word) in a timeline,
    /// or retract one recorded by mistake.
    Milestone {
        #[arg(value_name = "TIMELINE")]
        timeline: PathBuf,
        #[arg(
            value_name = "MILESTONE",
            required_unless_present = "retract",
            conflicts_with = "retract"
        )]
        milestone: Option<String>,
        /// Withdraw the latest milestone WORD recorded (a mistyped one): reports leave it out.
        #[arg(long, value_name = "WORD")]
        retract: Option<String>,
    },
}

/// How `validate` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ValidateFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The runbook file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Set a var (repeatable); VALUE is read as YAML, so `rate=0.05` is a number.
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub var: Vec<String>,
    /// A YAML map of vars, e.g. one file per environment (repeatable; later files win).
    #[arg(long = "vars", value_name = "FILE")]
    pub vars: Vec<PathBuf>,
    /// Never prompt (implied when stdin or stdout is not a terminal, or CI is set).
    #[arg(long, env = "RUNBOOK_NON_INTERACTIVE", value_parser = BoolishValueParser::new())]
    pub non_interactive: bool,
    /// Allow action steps without asking.
    #[arg(long, short = 'y', env = "RUNBOOK_YES", value_parser = BoolishValueParser::new())]
    pub yes: bool,
    /// Run checks, never actions (actions are recorded as dry_run).
    #[arg(long, env = "RUNBOOK_DRY_RUN", value_parser = BoolishValueParser::new())]
    pub dry_run: bool,
    /// Where to write the timeline [default: timelines/<name>-<UTC stamp>.jsonl].
    #[arg(long, value_name = "PATH", env = "RUNBOOK_TIMELINE")]
    pub timeline: Option<PathBuf>,
    /// A YAML map `step_id: {field: value}` answering `ask` fields in non-interactive runs.
    #[arg(long, value_name = "FILE", env = "RUNBOOK_ANSWERS")]
    pub answers: Option<PathBuf>,
    /// Continue a recorded run from its timeline.
    #[arg(long, value_name = "TIMELINE")]
    pub resume: Option<PathBuf>,
    /// With --resume: continue even though the runbook changed since the run started.
    #[arg(long, requires = "resume")]
    pub force: bool,
    /// Guided: ask before every step, checks included ([c]ontinue / [s]kip / [j]ump / [a]bort).
    #[arg(long)]
    pub step: bool,
    /// Also write a JUnit report of the run (one testcase per step).
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Each action waits for N approvals from people other than you (`runbook approve`)
    /// instead of being blocked; the run is non-interactive.
    #[arg(long, value_name = "N", conflicts_with = "yes", value_parser = clap::value_parser!(u32).range(1..))]
    pub approvals: Option<u32>,
    /// With --approvals: how long an action waits before it is recorded as blocked.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_duration, requires = "approvals")]
    pub approval_timeout: std::time::Duration,
    /// POST the run's start, milestones, approval requests, failed steps and end to this
    /// webhook (repeatable; in RUNBOOK_NOTIFY, separated by spaces). Deliveries happen in the
    /// background: a failing webhook is noted in the timeline and never stops the run.
    #[arg(
        long = "notify",
        value_name = "URL",
        env = "RUNBOOK_NOTIFY",
        value_delimiter = ' '
    )]
    pub notify: Vec<String>,
    /// The body of each notification: `json` (the timeline event) or `slack` (`{"text": ...}`).
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        default_value = "json",
        env = "RUNBOOK_NOTIFY_FORMAT"
    )]
    pub notify_format: crate::notify::Format,
}

/// `30m`, `2s`, `1h 30m`.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    crate::duration::parse(text)
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    // A command step's supervisor is this binary run again (exec/supervise.rs); it is not a
    // command of the command line.
    let mut args = std::env::args_os().skip(1);
    if args
        .next()
        .is_some_and(|a| a == crate::exec::supervise::SUPERVISE_ARG)
    {
        return crate::exec::supervise::main(args.collect());
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return match err.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    Exit::Ok.code()
                }
                _ => Exit::Usage.code(),
            };
        }
    };
    if matches!(
        cli.command,
        Command::Validate { .. }
            | Command::Timeline(_)
            | Command::Schema { .. }
            | Command::Completions { .. }
            | Command::Man
            | Command::List { .. }
            | Command::Show { .. }
    ) {
        pipe::end_quietly_when_the_reader_goes_away();
    }
    let exit = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Validate {
            files,
            scenario,
            format,
        } => validate::validate(&files, scenario, format),
        Command::Timeline(args) => timeline::timeline(args),
        Command::Schema { scenario } => generate::schema(scenario),
        Command::Completions { shell } => generate::completions(shell),
        Command::Man => generate::man(),
        Command::List { dir } => inspect::list(&dir),
        Command::Show { file } => inspect::show(&file),
        Command::Sim(args) => sim::sim(args),
        Command::Drill(args) => drill::drill(args),
        Command::Serve(args) => serve::serve(args),
        Command::Note { timeline, text } => annotate(
            &timeline,
            crate::timeline::Event::Note {
                text: text.join(" "),
                actor: actor(),
                step: None,
            },
        ),
        Command::Milestone {
            timeline,
            milestone,
            retract,
        } => milestone::milestone(&timeline, milestone, retract),
        Command::Approve(args) => approve::approve(args),
        Command::Deny(args) => approve::deny(args),
    };
    exit.code()
}

/// Appends a note or milestone to a timeline another process may be writing.
fn annotate(timeline: &std::path::Path, event: crate::timeline::Event) -> Exit {
    if let Err(e) = crate::timeline::reader::read(timeline) {
        error(e);
        return Exit::Usage;
    }
    match crate::timeline::append_event(timeline, event, &crate::redact::Redactor::new()) {
        Ok(record) => {
            let what = match &record.event {
                crate::timeline::Event::Milestone {
                    milestone,
                    retracted: true,
                    ..
                } => format!(
                    "the retraction of milestone {}",
                    milestone.to_ascii_uppercase()
                ),
                event => event.name().to_string(),
            };
            eprintln!(
                "runbook: recorded {what} #{} in {}",
                record.seq,
                timeline.display()
            );
            Exit::Ok
        }
        Err(e) => {
            error(format!(
                "cannot append to {}: {}",
                timeline.display(),
                crate::io_message(&e)
            ));
            Exit::Usage
        }
    }
}

/// The runtime of one run (`runbook run`): one thread. A run is one engine whose steps wait on
/// the network: on one thread a check's connection task and the engine wake each other without
/// crossing threads (100 sequential checks 46 -> 34 ms), and a probe's 64 connections keep the
/// other core free for the system it measures (figure 1: 0.77 -> 0.89 of wrk). Deciders that
/// block (prompts, approvals) and the timeline's flusher have threads of their own.
pub(crate) fn run_runtime() -> Result<tokio::runtime::Runtime, Exit> {
    started(tokio::runtime::Builder::new_current_thread())
}

/// The async runtime of the commands that serve or run several things at once (sim, drill,
/// serve).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Exit> {
    started(tokio::runtime::Builder::new_multi_thread())
}

fn started(mut builder: tokio::runtime::Builder) -> Result<tokio::runtime::Runtime, Exit> {
    builder.enable_all().build().map_err(|e| {
        error(format!("cannot start the runtime: {e}"));
        Exit::Failed
    })
}

/// Prints an error on stderr, prefixed like every error of this tool.
pub(crate) fn error(message: impl std::fmt::Display) {
    say(format_args!(
        "error: {}",
        crate::escape::controls(&message.to_string())
    ));
}

/// Prints a line on stderr. A failed write is ignored rather than a panic (what `eprintln!`
/// does): after SIGHUP the terminal may be gone, and the run must still reach `finally` and
/// `run_finished`.
pub(crate) fn say(line: impl std::fmt::Display) {
    use std::io::Write;
    let line = line.to_string();
    // On a terminal, wrapped to its width under the text after `runbook: ` or `error: `.
    let line = match crate::ui::layout::terminal_width(&console::Term::stderr()) {
        Some(width) => crate::ui::layout::wrap_message(&line, width),
        None => line,
    };
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// `ci` under CI, otherwise `user@host`.
pub(crate) fn actor() -> String {
    if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0") {
        return "ci".into();
    }
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(user_from_passwd)
        .unwrap_or_else(|| "unknown".into());
    format!("{user}@{}", hostname())
}

/// This machine's name, as `hostname` prints it.
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// The name of the user owning this process, from `/etc/passwd` (when `USER` is not set, as in
/// containers and cron).
fn user_from_passwd() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id: u32 = fields.nth(1)?.parse().ok()?;
        (id == uid).then(|| name.to_string())
    })
}
