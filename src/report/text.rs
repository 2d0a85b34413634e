//! The timeline as a person reads it in a terminal. Several runs are listed first, then
//! told one after the other, each under its own name.

use std::fmt::Write as _;

use jiff::tz::TimeZone;

use super::lines::lines;
use super::model::{Report, human_ms, local};
use super::runs::Runs;

pub fn render(runs: &Runs, tz: &TimeZone) -> String {
    if let Some(report) = runs.single() {
        return render_run(report, tz, None);
    }
    let total = runs.runs.len();
    let mut out = String::new();
    let _ = writeln!(out, "{total} runs, in the order they started:");
    for (i, report) in runs.runs.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {}. {}: {} — run {}, started {}, {}",
            i + 1,
            report.name(),
            report.title_or_name(),
            report.run_ids.join(", "),
            report.started.map_or_else(
                || "-".to_string(),
                |t| local(t, tz).strftime("%Y-%m-%d %H:%M:%S %Z").to_string()
            ),
            report.outcome_text()
        );
    }
    for (i, report) in runs.runs.iter().enumerate() {
        let _ = writeln!(out);
        out.push_str(&render_run(report, tz, Some((i + 1, total))));
    }
    out
}

/// One run; `place` (its number and the count) heads it when there are several.
fn render_run(report: &Report, tz: &TimeZone, place: Option<(usize, usize)>) -> String {
    let mut out = String::new();
    if let Some((n, total)) = place {
        let _ = write!(out, "[run {n} of {total}] ");
    }
    let _ = writeln!(out, "{}: {}", report.name(), report.title_or_name());
    if !report.file.is_empty() {
        let _ = writeln!(out, "file: {}", report.file);
    }
    if place.is_some() {
        let _ = writeln!(
            out,
            "run: {}, {}",
            report.run_ids.join(", "),
            report.outcome_text()
        );
    }
    // A new header when the date or the zone's name changes (EDT to EST in the autumn).
    let mut date = String::new();
    let mut zone = String::new();
    for line in lines(report, tz) {
        if (line.date.as_str(), line.zone.as_str()) != (date.as_str(), zone.as_str()) {
            date = line.date.clone();
            zone = line.zone.clone();
            let _ = writeln!(out, "\n{} ({})", line.date, line.zone);
        }
        let _ = writeln!(out, "{}  {}", line.second, line.text);
        for detail in &line.details {
            let _ = writeln!(out, "          {detail}");
        }
    }
    let s = &report.summary;
    let _ = writeln!(
        out,
        "\ndetected after {}, mitigated after {}, resolved after {}; {} steps run, {} actions taken",
        human_ms(s.time_to_detect_ms),
        human_ms(s.time_to_mitigate_ms),
        human_ms(s.time_to_resolve_ms),
        s.steps_run,
        s.actions_taken
    );
    out
}
