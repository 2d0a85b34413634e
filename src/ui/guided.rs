//! Guided mode: the on-call engineer's terminal. Shows each step before it runs, live progress
//! while it runs, the result after; asks before actions, for manual steps and after failures;
//! takes notes and milestones at every prompt; ends with a table of what happened.
//!
//! Everything here reaches the engine only as a [`Decider`] (answers) and an [`Observer`]
//! (events), so a guided run has exactly the semantics of a non-interactive one.

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use console::{Key, Style, Term};
use serde_json::{Map, Value as Json};

use super::layout;
use super::progress::LiveLine;
use crate::engine::{
    ActionDecision, ActionPrompt, AfterFailure, Annotation, Decider, FailurePrompt, ManualDecision,
    ManualPrompt, Observer, StepGate, StepIntro,
};
use crate::exec::Progress;
use crate::redact::Redactor;
use crate::timeline::{Event, Outcome, Record};

mod annotate;
mod jump;

/// The terminal and the one progress line, shared by the decider and the observer.
pub struct Screen {
    term: Term,
    colour: bool,
    live: Arc<LiveLine>,
    redactor: Arc<Redactor>,
    /// The run's timeline, once known: a retraction at a prompt checks what it holds.
    timeline: Mutex<Option<std::path::PathBuf>>,
}

impl Screen {
    pub fn new(redactor: Arc<Redactor>) -> Arc<Self> {
        // Prompts and progress go to stderr when it is a terminal, else to stdout (which guided
        // mode requires to be one), so `2>log` does not hide the questions.
        let err = Term::stderr();
        let term = if err.is_term() { err } else { Term::stdout() };
        Arc::new(Screen {
            colour: console::colors_enabled_stderr() && std::env::var_os("NO_COLOR").is_none(),
            live: LiveLine::new(term.clone()),
            term,
            redactor,
            timeline: Mutex::new(None),
        })
    }

    fn timeline(&self) -> Option<std::path::PathBuf> {
        self.timeline
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn style(&self, s: Style) -> Style {
        if self.colour { s } else { Style::new() }
    }

    /// Prints a line above any progress bar, secrets masked, wrapped to the terminal's width
    /// under its own text (see `layout::text_start`).
    pub fn line(&self, text: &str) {
        let text = self.redactor.redact(text);
        let width = layout::width(&self.term);
        for line in layout::wrap(&text, width) {
            self.live.println(&line);
        }
    }

    /// [`Screen::line`] with continuation lines indented by `hang` columns.
    fn line_hanging(&self, text: &str, hang: usize) {
        let text = self.redactor.redact(text);
        let width = layout::width(&self.term);
        for line in layout::wrap_hanging(&text, width, hang) {
            self.live.println(&line);
        }
    }

    fn clear_bar(&self) {
        self.live.clear();
    }

    /// The progress sink the engine and executors report to.
    pub fn progress(self: &Arc<Self>) -> Progress {
        self.live.sink()
    }
}

/// A person at the terminal answering the engine.
pub struct Guided {
    screen: Arc<Screen>,
    actor: String,
    yes: bool,
    step_mode: bool,
    annotations: Mutex<Vec<Annotation>>,
}

/// What a key at a prompt meant.
enum Pressed {
    Key(char),
    CtrlC,
}

impl Guided {
    pub fn new(screen: Arc<Screen>, actor: String, yes: bool, step_mode: bool) -> Self {
        Guided {
            screen,
            actor,
            yes,
            step_mode,
            annotations: Mutex::new(Vec::new()),
        }
    }

    /// Asks until one of `keys` is pressed. `n` (note) and `m` (milestone) work at every
    /// prompt and ask again afterwards.
    fn choose(&self, question: &str, keys: &[char]) -> Pressed {
        self.screen.clear_bar();
        // Notes and milestones work at every prompt; say so where the question does not.
        let extras = if question.contains("[n]ote") {
            "· [m]ilestone"
        } else {
            "· [n]ote / [m]ilestone"
        };
        let prompt = format!(
            "{} {}",
            self.screen
                .style(Style::new().cyan().bold())
                .apply_to(question),
            self.screen.style(Style::new().dim()).apply_to(extras)
        );
        loop {
            let _ = self.screen.term.write_str(&format!("{prompt} "));
            let key = self.screen.term.read_key_raw();
            match key {
                Ok(Key::Char(c)) => {
                    let c = c.to_ascii_lowercase();
                    let _ = self.screen.term.write_line(&c.to_string());
                    if c == 'n' {
                        self.ask_note();
                    } else if c == 'm' {
                        self.ask_milestone();
                    } else if keys.contains(&c) {
                        // `a` is next to `s`: an abort is asked again.
                        if c == 'a' && !self.confirm_abort() {
                            continue;
                        }
                        return Pressed::Key(c);
                    }
                }
                Ok(Key::CtrlC) => {
                    let _ = self.screen.term.write_line("^C");
                    return Pressed::CtrlC;
                }
                Ok(Key::Enter | Key::Unknown | Key::UnknownEscSeq(_)) => {
                    let _ = self.screen.term.write_line("");
                }
                Ok(_) => {
                    let _ = self.screen.term.write_line("");
                }
                // No terminal to read from after all: behave like end of input.
                Err(_) => return Pressed::Key('a'),
            }
        }
    }

    fn read_line(&self, prompt: &str) -> Option<String> {
        let _ = self.screen.term.write_str(&format!("{prompt}: "));
        let _ = self.screen.term.flush();
        self.screen.term.read_line().ok()
    }

    fn ask_note(&self) {
        if let Some(text) = self.read_line("note").filter(|t| !t.trim().is_empty()) {
            self.annotations
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Annotation::Note(text.trim().to_string()));
            self.screen.line("  noted.");
        }
    }

    fn ask_milestone(&self) {
        if let Some(text) = self
            .read_line("milestone (detected, mitigated, resolved, or a word)")
            .filter(|t| !t.trim().is_empty())
        {
            // `-WORD` withdraws a milestone recorded by mistake.
            if let Some(word) = text.trim().strip_prefix('-') {
                if !word.trim().is_empty() {
                    self.retract_milestone(word);
                }
                return;
            }
            let word = text.trim().to_ascii_lowercase();
            self.annotations
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Annotation::Milestone(word.clone()));
            self.screen.line(&format!(
                "  milestone {} recorded.",
                word.to_ascii_uppercase()
            ));
        }
    }
}

impl Decider for Guided {
    fn before_step(&self, intro: &StepIntro) -> StepGate {
        let phase = if intro.phase == "finally" {
            " (finally)"
        } else {
            ""
        };
        let kind = if intro.action {
            self.screen
                .style(Style::new().yellow().bold())
                .apply_to("ACTION")
                .to_string()
        } else if intro.manual {
            "manual".into()
        } else {
            "check".into()
        };
        self.screen.line("");
        self.screen.line(&format!(
            "{} {}  {}",
            self.screen
                .style(Style::new().bold())
                .apply_to(format!("[{}/{}]{phase}", intro.number, intro.total)),
            self.screen
                .style(Style::new().bold())
                .apply_to(&intro.title),
            self.screen
                .style(Style::new().dim())
                .apply_to(format!("({}, {kind})", intro.step_id)),
        ));
        // Previews (long URLs, JSON bodies) are cut to the terminal's width; the timeline and
        // the result line keep everything.
        let width = usize::from(self.screen.term.size().1).max(40);
        let preview = crate::escape::controls(&intro.preview);
        for line in preview.lines() {
            self.screen
                .line(&console::truncate_str(&format!("  {line}"), width, "…"));
        }
        // `finally` always runs: --step does not offer to skip it.
        if !self.step_mode || intro.phase == "finally" {
            return StepGate::Run;
        }
        loop {
            match self.choose(
                "[c]ontinue / [s]kip / [j]ump to step / [a]bort",
                &['c', 's', 'j', 'a'],
            ) {
                Pressed::Key('c') => return StepGate::Run,
                Pressed::Key('s') => {
                    return StepGate::Skip {
                        by: self.actor.clone(),
                    };
                }
                Pressed::Key('j') => {
                    if let Some(target) = self.ask_jump(&intro.steps, &intro.not_run) {
                        return StepGate::Jump(target);
                    }
                }
                Pressed::CtrlC => return StepGate::Interrupt,
                _ => return StepGate::Abort,
            }
        }
    }

    fn confirm_action(&self, prompt: &ActionPrompt) -> ActionDecision {
        if self.yes {
            return ActionDecision::Run { by: "--yes".into() };
        }
        if prompt.was_interrupted {
            self.screen.line(
                "  note: this action started before the run stopped; it may already have taken effect",
            );
        }
        match self.choose(
            "Run this action? [y]es / [s]kip / [n]ote / [a]bort",
            &['y', 's', 'a'],
        ) {
            Pressed::Key('y') => ActionDecision::Run {
                by: self.actor.clone(),
            },
            Pressed::Key('s') => ActionDecision::Skip {
                by: self.actor.clone(),
            },
            Pressed::CtrlC => ActionDecision::Interrupt,
            _ => ActionDecision::Abort,
        }
    }

    fn manual(&self, prompt: &ManualPrompt) -> ManualDecision {
        self.screen.clear_bar();
        let mut answers = Map::new();
        for field in &prompt.ask {
            let value = loop {
                let _ = self.screen.term.write_str(&format!("  {}: ", field.prompt));
                if !field.secret {
                    break self.screen.term.read_line();
                }
                // A secret this short would be masked inside every word of the timeline: ask
                // again (the command line refuses such values in an answers file).
                match self.screen.term.read_secure_line() {
                    Ok(v) if v.chars().count() < crate::redact::MIN_SECRET_CHARS => {
                        self.screen.line(&format!(
                            "  a secret needs at least {} characters; try again",
                            crate::redact::MIN_SECRET_CHARS
                        ));
                    }
                    other => break other,
                }
            };
            match value {
                Ok(v) => {
                    answers.insert(field.name.clone(), Json::String(v));
                }
                Err(_) => return ManualDecision::Interrupt,
            }
        }
        match self.choose("Done? [y]es / [s]kip / [n]ote / [a]bort", &['y', 's', 'a']) {
            Pressed::Key('y') => ManualDecision::Done {
                answers,
                by: self.actor.clone(),
            },
            Pressed::Key('s') => ManualDecision::Skip {
                by: self.actor.clone(),
            },
            Pressed::CtrlC => ManualDecision::Interrupt,
            _ => ManualDecision::Abort,
        }
    }

    fn after_failure(&self, failure: &FailurePrompt) -> AfterFailure {
        if failure.interrupted {
            self.screen.line(&format!(
                "  {} interrupted (Ctrl-C again ends the run)",
                failure.step_id
            ));
        }
        loop {
            match self.choose(
                "[r]etry / [s]kip and continue / [j]ump / [a]bort",
                &['r', 's', 'j', 'a'],
            ) {
                Pressed::Key('r') => return AfterFailure::Retry,
                Pressed::Key('s') => return AfterFailure::Skip,
                Pressed::Key('j') => {
                    if let Some(target) = self.ask_jump(&failure.steps, &failure.not_run) {
                        return AfterFailure::Jump(target);
                    }
                }
                Pressed::CtrlC => return AfterFailure::Interrupt,
                _ => return AfterFailure::Abort,
            }
        }
    }

    fn take_annotations(&self) -> Vec<Annotation> {
        std::mem::take(&mut *self.annotations.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn actor(&self) -> String {
        self.actor.clone()
    }
}

/// Shows results as they are recorded, and the closing table.
pub struct GuidedView {
    screen: Arc<Screen>,
    table: super::closing::ClosingTable,
}

impl GuidedView {
    /// `steps_total`: how many steps the runbook's `steps` list has (the closing table numbers
    /// `finally` after them); `timeline`: where milestones typed at a prompt are checked
    /// before a retraction.
    pub fn new(screen: Arc<Screen>, steps_total: usize, timeline: String) -> Self {
        *screen.timeline.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(std::path::PathBuf::from(&timeline));
        GuidedView {
            screen,
            table: super::closing::ClosingTable::new(steps_total),
        }
    }

    /// What a resumed run recorded before: in the closing table, not shown again now.
    pub fn with_history(mut self, records: &[Record]) -> Self {
        for record in records {
            self.table.record(record, clock);
        }
        self
    }

    fn outcome_style(&self, outcome: Outcome) -> Style {
        self.screen.style(super::console::outcome_style(outcome))
    }
}

/// Where the text of a result line (`  PASSED   summary`) starts, for its continuation lines.
const RESULT_HANG: usize = 11;

/// Local wall-clock time of an RFC 3339 timestamp, `HH:MM:SS`.
fn clock(ts: &str) -> String {
    ts.parse::<jiff::Timestamp>()
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%H:%M:%S %Z")
                .to_string()
        })
        .unwrap_or_else(|_| ts.to_string())
}

impl Observer for GuidedView {
    fn on_record(&mut self, record: &Record) {
        self.table.record(record, clock);
        match &record.event {
            Event::StepFinished {
                step,
                title,
                outcome,
                duration_ms,
                summary,
                failures,
                ..
            } => {
                self.screen.clear_bar();
                let label = super::console::label(*outcome);
                // A step skipped by `when` had no introduction: name it here.
                let summary = if *outcome == Outcome::Skipped && summary.starts_with("skipped: ") {
                    format!("{title} ({step}): {summary}")
                } else {
                    summary.clone()
                };
                // What systems said is shown escaped; the styles around it are ours. A long
                // summary continues under itself, past the label.
                self.screen.line_hanging(
                    &format!(
                        "  {} {} {}",
                        self.outcome_style(*outcome).apply_to(format!("{label:<8}")),
                        crate::escape::controls(&summary),
                        self.screen.style(Style::new().dim()).apply_to(format!(
                            "({})",
                            crate::duration::human(Duration::from_millis(*duration_ms))
                        ))
                    ),
                    RESULT_HANG,
                );
                for f in failures.iter().filter(|f| **f != summary) {
                    self.screen.line(&format!(
                        "    {} {}",
                        self.outcome_style(*outcome).apply_to("✗"),
                        crate::escape::controls(f)
                    ));
                }
            }
            Event::Milestone {
                milestone,
                retracted: true,
                ..
            } => {
                self.screen.line(&format!(
                    "  {} retracted",
                    self.screen
                        .style(Style::new().cyan())
                        .apply_to(format!("◇ {}", milestone.to_ascii_uppercase()))
                ));
            }
            Event::StepAttempt {
                attempt,
                attempts,
                outcome,
                summary,
                failures,
                ..
            } => {
                // Before the countdown to the next attempt: what this one found.
                let line =
                    super::progress::attempt_line(*attempt, *attempts, *outcome, summary, failures);
                self.screen.line(&format!(
                    "  {} {}",
                    self.outcome_style(*outcome).apply_to("↻"),
                    crate::escape::controls(&line)
                ));
            }
            Event::Milestone {
                milestone, step, ..
            } => {
                let at = step
                    .as_ref()
                    .map(|s| format!(" at {s}"))
                    .unwrap_or_default();
                self.screen.line(&format!(
                    "  {}{at}",
                    self.screen
                        .style(Style::new().cyan().bold())
                        .apply_to(format!("◆ {}", milestone.to_ascii_uppercase()))
                ));
            }
            Event::Note { text, actor, .. } => {
                self.screen.line(&format!(
                    "  note by {actor}: {}",
                    crate::escape::controls(text)
                ));
            }
            Event::RunFinished { .. } => {
                self.screen.clear_bar();
                self.screen.line("");
                self.screen.line(&super::closing::ClosingTable::header());
                for row in &self.table.rows {
                    let (head, outcome, duration) = super::closing::ClosingTable::cells(row);
                    self.screen.line(&format!(
                        "{head} {} {duration}",
                        self.outcome_style(row.outcome).apply_to(outcome)
                    ));
                }
                if let Some(line) = self.table.milestones_line() {
                    self.screen.line(&line);
                }
                // The closing line (outcome, exit code, timeline) is the command's, the same
                // in every mode (cli/run.rs).
            }
            _ => {}
        }
    }
}

/// The header of a guided run: what runs, with which vars, and where it is recorded.
pub fn header(
    screen: &Screen,
    title: &str,
    description: Option<&str>,
    vars: &Map<String, Json>,
    timeline: &str,
) {
    screen.line(
        &screen
            .style(Style::new().bold())
            .apply_to(title)
            .to_string(),
    );
    if let Some(d) = description {
        for line in d.trim().lines() {
            screen.line(&format!("  {line}"));
        }
    }
    if !vars.is_empty() {
        screen.line("vars:");
        for (k, v) in vars {
            screen.line(&format!("  {k} = {v}"));
        }
    }
    screen.line(&format!("timeline: {timeline}"));
    screen.line(
        &screen
            .style(Style::new().dim())
            .apply_to("keys: at every prompt [n] adds a note and [m] records a milestone; Ctrl-C stops the running step")
            .to_string(),
    );
}

/// Asks whether to resume an unfinished run; `true` to resume.
pub fn offer_resume(screen: &Screen, path: &std::path::Path, next: Option<&str>) -> bool {
    let at = next.map(|s| format!(" at step `{s}`")).unwrap_or_default();
    loop {
        let _ = screen.term.write_str(&format!(
            "An unfinished run of this runbook is in {}. Resume it{at}? [y]es / [n]o ",
            path.display()
        ));
        match screen.term.read_key_raw() {
            Ok(Key::Char('y' | 'Y')) => {
                let _ = screen.term.write_line("y");
                return true;
            }
            Ok(Key::Char('n' | 'N')) => {
                let _ = screen.term.write_line("n");
                return false;
            }
            Ok(Key::CtrlC) | Err(_) => {
                let _ = screen.term.write_line("");
                return false;
            }
            _ => {
                let _ = screen.term.write_line("");
            }
        }
    }
}

/// Flushes stdout before prompting on stderr, so lines appear in order.
pub fn flush() {
    let _ = std::io::stdout().flush();
}
