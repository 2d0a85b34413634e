//! One self-contained HTML page (no external assets, works offline): the summary, a chart of
//! the error rate (`rate_error`: what users saw fail, 5xx or no answer at all) and p95 latency of every endpoint sampled more than once, and the timeline.
//! Several runs get a table of the runs, then a section each with its own summary, charts on
//! its own time axis, and timeline.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::lines::{Kind, lines};
use super::model::{Report, human_ms, local};
use super::runs::Runs;
use super::svg::{Marker, Span, chart, xml};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;padding:0 2em;color:#222}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}table{border-collapse:collapse}\
td,th{padding:.25em .75em;border-bottom:1px solid #ddd;text-align:left}\
.t{font-family:ui-monospace,monospace;white-space:pre-wrap}.passed{color:#2e7d32}.failed,.error,.interrupted{color:#c62828}\
.blocked{color:#6a1b9a}.skipped,.dry_run{color:#9e6a00}.milestone{font-weight:bold;color:#1565c0}.note{color:#555}\
.detail{color:#c62828;padding-left:6.5em}figure{margin:1em 0}figcaption{font-size:.9em;color:#555}";

/// One sample of an endpoint: when, its error rate and its p95 (either may be missing).
type Point = (Timestamp, Option<f64>, Option<f64>);

/// An endpoint's samples and the steps that took them.
#[derive(Default)]
struct Endpoint {
    points: Vec<Point>,
    steps: Vec<String>,
    /// Requests in its largest entry: a probe of `samples: 60` is sampled even when it ran once.
    most: u64,
}

/// The charts: for each sampled endpoint (a step with `samples` above 1, or several entries),
/// its error rate and p95 over the run. A sample that sent nothing has no rate: it is left
/// out, never drawn as 0%.
pub fn charts(report: &Report, tz: &TimeZone) -> Vec<(String, String)> {
    let mut by_url: BTreeMap<String, Endpoint> = BTreeMap::new();
    for sample in report.http_samples() {
        let endpoint = by_url.entry(sample.url).or_default();
        let number = |key: &str| sample.data.get(key).and_then(|v| v.as_f64());
        endpoint
            .points
            .push((sample.ts, number("rate_error"), number("p95_ms")));
        endpoint.most = endpoint.most.max(number("count").unwrap_or(1.0) as u64);
        if !endpoint.steps.contains(&sample.step) {
            endpoint.steps.push(sample.step);
        }
    }
    let (Some(start), Some(end)) = (report.started, report.ended) else {
        return Vec::new();
    };
    let span = Span { start, end, tz };
    let zone = match (
        local(start, tz).strftime("%Z").to_string(),
        local(end, tz).strftime("%Z").to_string(),
    ) {
        (a, b) if a == b => a,
        (a, b) => format!("{a}, then {b}"),
    };
    let mut markers: Vec<Marker> = report
        .steps
        .iter()
        .filter(|s| s.action && super::model::ran(s.outcome))
        .map(|s| Marker {
            ts: s.ts,
            label: s.step.clone(),
            kind: "action",
        })
        .collect();
    markers.extend(report.milestones.iter().map(|m| Marker {
        ts: m.ts,
        label: m.text.to_ascii_uppercase(),
        kind: "milestone",
    }));
    by_url
        .into_iter()
        .filter(|(_, e)| e.points.len() > 1 || e.most > 1)
        .flat_map(|(url, e)| {
            let rate: Vec<(Timestamp, f64)> = e
                .points
                .iter()
                .filter_map(|(t, r, _)| Some((*t, (*r)?)))
                .collect();
            let p95: Vec<(Timestamp, f64)> = e
                .points
                .iter()
                .filter_map(|(t, _, p)| Some((*t, (*p)?)))
                .collect();
            let by = format!("sampled by {}; times in {zone}", e.steps.join(", "));
            vec![
                (
                    format!("error rate of {url} ({by})"),
                    chart(
                        &format!("error rate: {url}"),
                        &rate,
                        "%",
                        Some(1.0),
                        &markers,
                        &span,
                    ),
                ),
                (
                    format!("p95 latency of {url} ({by})"),
                    chart(
                        &format!("p95 latency: {url}"),
                        &p95,
                        "ms",
                        None,
                        &markers,
                        &span,
                    ),
                ),
            ]
        })
        .collect()
}

pub fn render(runs: &Runs, tz: &TimeZone) -> String {
    let title = match runs.single() {
        Some(report) => format!("Timeline: {}", report.title_or_name()),
        None => format!("Timelines: {} runs", runs.runs.len()),
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        xml(&title)
    );
    let _ = writeln!(out, "<h1>{}</h1>", xml(&title));
    match runs.single() {
        Some(report) => run(&mut out, report, tz, 2),
        None => {
            // A table of the runs, then a section each with its own charts: a drill and the
            // real incident hours apart would share no useful time axis.
            let _ = writeln!(
                out,
                "<table>\n<tr><th>#</th><th>Runbook</th><th>Title</th><th>Run</th><th>Started</th><th>Outcome</th></tr>"
            );
            for (i, report) in runs.runs.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "<tr><td><a href=\"#run-{n}\">{n}</a></td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    xml(report.name()),
                    xml(&report.title_or_name()),
                    report
                        .run_ids
                        .iter()
                        .map(|r| format!("<code>{}</code>", xml(r)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    xml(&report.started.map_or_else(
                        || "-".to_string(),
                        |t| local(t, tz).strftime("%Y-%m-%d %H:%M:%S %Z").to_string()
                    )),
                    xml(&report.outcome_text()),
                    n = i + 1,
                );
            }
            let _ = writeln!(out, "</table>");
            for (i, report) in runs.runs.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "<section id=\"run-{n}\">\n<h2>{n}. <code>{}</code>: {}</h2>",
                    xml(report.name()),
                    xml(&report.title_or_name()),
                    n = i + 1,
                );
                run(&mut out, report, tz, 3);
                let _ = writeln!(out, "</section>");
            }
        }
    }
    let _ = writeln!(out, "</body>\n</html>");
    out
}

/// One run after its title; `h` is the level of its section headings, the dates one below.
fn run(out: &mut String, report: &Report, tz: &TimeZone, h: u8) {
    let d = h + 1;
    let s = &report.summary;
    let outcome = report.outcome_text();
    let _ = writeln!(
        out,
        "<p>Runbook <code>{}</code>{}; run {}; outcome <strong>{}</strong>.</p>",
        xml(report.name()),
        if report.file.is_empty() {
            String::new()
        } else {
            format!(" (<code>{}</code>)", xml(&report.file))
        },
        report
            .run_ids
            .iter()
            .map(|r| format!("<code>{}</code>", xml(r)))
            .collect::<Vec<_>>()
            .join(", "),
        xml(&outcome)
    );
    let _ = writeln!(out, "<h{h}>Summary</h{h}>\n<table>");
    for (k, v) in [
        ("Time to detect", human_ms(s.time_to_detect_ms)),
        ("Time to mitigate", human_ms(s.time_to_mitigate_ms)),
        ("Time to resolve", human_ms(s.time_to_resolve_ms)),
        ("Steps run", s.steps_run.to_string()),
        ("Actions taken", s.actions_taken.to_string()),
        ("Run duration", human_ms(s.duration_ms)),
    ] {
        let _ = writeln!(out, "<tr><th>{k}</th><td>{}</td></tr>", xml(&v));
    }
    let _ = writeln!(out, "</table>");
    let charts = charts(report, tz);
    if !charts.is_empty() {
        let _ = writeln!(out, "<h{h}>Error rate and latency</h{h}>");
        for (caption, svg) in charts {
            let _ = writeln!(
                out,
                "<figure>{svg}<figcaption>{}; dashed lines mark actions (orange) and milestones (blue).</figcaption></figure>",
                xml(&caption)
            );
        }
    }
    let _ = writeln!(out, "<h{h}>Timeline</h{h}>");
    // A new header when the date or the zone's name changes (EDT to EST in the autumn).
    let mut date = String::new();
    let mut zone = String::new();
    let mut open = false;
    for line in lines(report, tz) {
        if (line.date.as_str(), line.zone.as_str()) != (date.as_str(), zone.as_str()) {
            if open {
                let _ = writeln!(out, "</div>");
            }
            date = line.date.clone();
            zone = line.zone.clone();
            let _ = writeln!(
                out,
                "<h{d}>{} (all times {})</h{d}>\n<div class=\"t\">",
                xml(&line.date),
                xml(&line.zone)
            );
            open = true;
        }
        let class = match &line.kind {
            Kind::Step { outcome, .. } => outcome.as_str().to_string(),
            Kind::Attempt { .. } => "failed".into(),
            Kind::Milestone(_) => "milestone".into(),
            Kind::Note => "note".into(),
            Kind::Run => String::new(),
        };
        let class = if class.is_empty() {
            String::new()
        } else {
            format!(" class=\"{class}\"")
        };
        let _ = writeln!(
            out,
            "<div{class}>{} {}  {}</div>",
            xml(&line.second),
            xml(&line.zone),
            xml(&line.text)
        );
        for d in &line.details {
            let _ = writeln!(out, "<div class=\"detail\">{}</div>", xml(d));
        }
    }
    if open {
        let _ = writeln!(out, "</div>");
    }
}
