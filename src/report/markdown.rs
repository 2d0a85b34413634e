//! The postmortem timeline in the Google SRE style: a date header with its zone, one line per
//! event, milestones in bold, then the incident's key durations. Several runs get a table of
//! the runs, then a section each (``## 1. `<name>`: <title>``), the same document one heading
//! level down.

use std::fmt::Write as _;

use jiff::tz::TimeZone;

use super::commonmark::{cell, code, code_cell, inline as escape};
use super::lines::{Kind, lines};
use super::model::{Report, human_ms, local};
use super::runs::Runs;

pub fn render(runs: &Runs, tz: &TimeZone) -> String {
    if let Some(report) = runs.single() {
        let mut out = String::new();
        let _ = writeln!(out, "# Timeline: {}", escape(&report.title_or_name()));
        run(&mut out, report, tz, "##");
        return out;
    }
    let mut out = String::new();
    let _ = writeln!(out, "# Timelines: {} runs", runs.runs.len());
    let _ = writeln!(out);
    let _ = writeln!(out, "| # | Runbook | Title | Run | Started | Outcome |");
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for (i, report) in runs.runs.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            i + 1,
            code_cell(report.name()),
            cell(&report.title_or_name()),
            report
                .run_ids
                .iter()
                .map(|r| code_cell(r))
                .collect::<Vec<_>>()
                .join(", "),
            report.started.map_or_else(
                || "-".to_string(),
                |t| local(t, tz).strftime("%Y-%m-%d %H:%M %Z").to_string()
            ),
            cell(&report.outcome_text())
        );
    }
    for (i, report) in runs.runs.iter().enumerate() {
        let _ = writeln!(out);
        // Named by its runbook and its title: two runbooks may share a title.
        let _ = writeln!(
            out,
            "## {}. {}: {}",
            i + 1,
            code(report.name()),
            escape(&report.title_or_name())
        );
        run(&mut out, report, tz, "###");
    }
    out
}

/// One run after its title; `h` is the level of its date and summary headings.
fn run(out: &mut String, report: &Report, tz: &TimeZone, h: &str) {
    let _ = writeln!(out);
    let mut facts = vec![format!("Runbook {}", code(report.name()))];
    if !report.file.is_empty() {
        facts.push(format!("file {}", code(&report.file)));
    }
    if !report.run_ids.is_empty() {
        facts.push(format!(
            "run {}",
            report
                .run_ids
                .iter()
                .map(|r| code(r))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(outcome) = report.summary.outcome {
        facts.push(format!(
            "outcome **{}** (exit {})",
            outcome.as_str(),
            report.summary.exit_code.unwrap_or_default()
        ));
    }
    let _ = writeln!(out, "{}.", facts.join(", "));
    // A new header when the date or the zone's name changes (EDT to EST in the autumn).
    let mut date = String::new();
    let mut zone = String::new();
    for line in lines(report, tz) {
        if (line.date.as_str(), line.zone.as_str()) != (date.as_str(), zone.as_str()) {
            date = line.date.clone();
            zone = line.zone.clone();
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "{h} {} (all times {})",
                escape(&line.date),
                escape(&line.zone)
            );
            let _ = writeln!(out);
        }
        let text = match &line.kind {
            Kind::Milestone(name) => {
                let rest = line.text.strip_prefix(name.as_str()).unwrap_or("");
                format!("**{}**{}", escape(name), escape(rest))
            }
            Kind::Run => run_line(&line.text),
            _ => escape(&line.text),
        };
        // One line per event, what failed included; two trailing spaces are a Markdown line
        // break, so each event stays on its own line when rendered.
        let mut text = text;
        for detail in &line.details {
            text.push_str(" — ");
            text.push_str(&escape(detail));
        }
        let _ = writeln!(out, "{} {}  {text}  ", line.minute, line.zone);
    }
    let s = &report.summary;
    let _ = writeln!(out);
    let _ = writeln!(out, "{h} Summary");
    let _ = writeln!(out);
    let _ = writeln!(out, "| | |");
    let _ = writeln!(out, "|---|---|");
    let _ = writeln!(
        out,
        "| Time to detect | {} |",
        human_ms(s.time_to_detect_ms)
    );
    let _ = writeln!(
        out,
        "| Time to mitigate | {} |",
        human_ms(s.time_to_mitigate_ms)
    );
    let _ = writeln!(
        out,
        "| Time to resolve | {} |",
        human_ms(s.time_to_resolve_ms)
    );
    let _ = writeln!(out, "| Steps run | {} |", s.steps_run);
    let _ = writeln!(out, "| Actions taken | {} |", s.actions_taken);
    let _ = writeln!(out, "| Run duration | {} |", human_ms(s.duration_ms));
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Times to detect, mitigate and resolve are measured from the start of the run to the first `detected`, `mitigated` and `resolved` milestone."
    );
}

/// A run's line, whose runbook name `lines` writes as a code span: kept one, the rest escaped.
fn run_line(text: &str) -> String {
    if let Some(rest) = text.strip_prefix("run of `")
        && let Some((name, rest)) = rest.split_once("` ")
    {
        return format!("run of {} {}", code(name), escape(rest));
    }
    escape(text)
}

impl Report {
    pub(crate) fn title_or_name(&self) -> String {
        if self.title.is_empty() {
            self.name().to_string()
        } else {
            self.title.clone()
        }
    }
}
