//! The timeline as a person reads it in a terminal.

use std::fmt::Write as _;

use jiff::tz::TimeZone;

use super::lines::lines;
use super::model::{Report, human_ms};

pub fn render(report: &Report, tz: &TimeZone) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", report.name(), report.title_or_name());
    if !report.file.is_empty() {
        let _ = writeln!(out, "file: {}", report.file);
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
