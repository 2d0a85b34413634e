//! Line charts as inline SVG: one value over the run's time, with actions and milestones
//! marked as vertical lines, so a reader sees the error rate fall when the fix went in. The
//! labels of those lines never overlap (`labels`), the time axis shows clock times in the
//! report's zone (`axis`), and the drawing scales to the page's width.

use std::fmt::Write as _;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::axis::ticks;
use super::labels::{place, text_width};

/// A vertical marker on the time axis.
pub struct Marker {
    pub ts: Timestamp,
    pub label: String,
    /// `action` or `milestone`: drawn differently.
    pub kind: &'static str,
}

/// The drawing's width in its own units; the page scales it to its width (`viewBox`).
const W: f64 = 960.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
/// Baseline of the title.
const TITLE_Y: f64 = 18.0;
/// Top of the rows of action and milestone labels, each `ROW_H` high.
const ROWS_TOP: f64 = 28.0;
const ROW_H: f64 = 14.0;
/// Rows of labels before the ones left over go to the legend under the chart.
const MAX_ROWS: usize = 3;
const PLOT_H: f64 = 150.0;
/// Size of every text but the title.
const SMALL: f64 = 10.0;
const FONT: &str = r#"font-family="sans-serif""#;
/// A white outline behind a label keeps it readable where a dashed line crosses it.
const HALO: &str =
    r##"stroke="#ffffff" stroke-width="3" stroke-linejoin="round" paint-order="stroke""##;

/// Escapes text for XML. Control characters, which XML 1.0 cannot carry, are shown as the
/// other reports show them (`\x1b`, see `escape::controls`) rather than dropped: an escape
/// sequence a system sent is evidence.
pub fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {
                out.push_str(&crate::escape::controls(c.encode_utf8(&mut [0; 4])))
            }
            c => out.push(c),
        }
    }
    out
}

fn nice_max(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if step * magnitude >= max {
            return step * magnitude;
        }
    }
    10.0 * magnitude
}

/// What a chart plots against: the run's span and the zone its clock times are shown in.
pub struct Span<'a> {
    pub start: Timestamp,
    pub end: Timestamp,
    pub tz: &'a TimeZone,
}

fn colour(kind: &str) -> &'static str {
    if kind == "milestone" {
        "#1565c0"
    } else {
        "#ef6c00"
    }
}

/// A value as the y axis and the points' tooltips show it.
fn shown(v: f64, unit: &str, decimals: usize) -> String {
    if unit == "%" {
        format!("{:.*}%", decimals, v * 100.0)
    } else {
        format!("{v:.0} {unit}")
    }
}

/// A chart of `points` over `span`; `unit` formats the y axis (`%`, `ms`).
pub fn chart(
    title: &str,
    points: &[(Timestamp, f64)],
    unit: &str,
    fixed_max: Option<f64>,
    markers: &[Marker],
    span: &Span<'_>,
) -> String {
    let (start, end) = (span.start, span.end.max(span.start));
    let millis = (end.as_millisecond() - start.as_millisecond()).max(1) as f64;
    let max = fixed_max.unwrap_or_else(|| nice_max(points.iter().map(|p| p.1).fold(0.0, f64::max)));
    let x = |ts: Timestamp| {
        LEFT + (ts.as_millisecond() - start.as_millisecond()) as f64 / millis * (W - LEFT - RIGHT)
    };
    let clock = |ts: Timestamp| {
        ts.to_zoned(span.tz.clone())
            .strftime("%H:%M:%S %Z")
            .to_string()
    };

    // Labels first: their rows decide where the plot starts.
    let mut markers: Vec<&Marker> = markers.iter().collect();
    markers.sort_by_key(|m| m.ts);
    let wanted: Vec<(f64, &str)> = markers
        .iter()
        .map(|m| (x(m.ts), m.label.as_str()))
        .collect();
    let placed = place(&wanted, SMALL, 0.0, W, MAX_ROWS);
    let rows = placed.iter().map(|p| p.row + 1).max().unwrap_or(0);
    let top = ROWS_TOP + rows as f64 * ROW_H + 10.0;
    let bottom = top + PLOT_H;
    let y = |v: f64| top + (1.0 - (v / max).clamp(0.0, 1.0)) * PLOT_H;
    let row_y = |row: usize| ROWS_TOP + 10.0 + row as f64 * ROW_H;

    // The legend: labels that found no room above the plot, by number, flowing in lines.
    let mut legend: Vec<(f64, f64, String, &'static str)> = Vec::new();
    let (mut lx, mut ly) = (LEFT, bottom + 40.0);
    for (m, p) in markers.iter().zip(&placed) {
        let Some(n) = p.number else { continue };
        let entry = format!("{n} {} {}", m.label, clock(m.ts));
        let width = text_width(&entry, SMALL);
        if lx > LEFT && lx + width > W - RIGHT {
            (lx, ly) = (LEFT, ly + 16.0);
        }
        legend.push((lx, ly, entry, colour(m.kind)));
        lx += width + 16.0;
    }
    let h = if legend.is_empty() {
        bottom + 26.0
    } else {
        ly + 10.0
    };

    let mut svg = String::new();
    // Width 100% of the page, height from the aspect ratio: the chart grows with the window.
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" width="100%" preserveAspectRatio="xMinYMin meet" style="display:block;width:100%;height:auto" role="img" aria-label="{}">"#,
        xml(title)
    );
    let _ = write!(
        svg,
        r##"<rect x="0" y="0" width="{W}" height="{h}" fill="#ffffff"/>"##
    );
    let _ = write!(
        svg,
        r##"<text x="{LEFT}" y="{TITLE_Y}" {FONT} font-size="13" font-weight="bold" fill="#222">{}</text>"##,
        xml(title)
    );
    // Grid lines and y labels at 0, 25, 50, 75, 100 % of the range.
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let yy = y(v);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#e3e3e3" stroke-width="1"/>"##,
            W - RIGHT
        );
        let _ = write!(
            svg,
            r##"<text class="value" x="{:.1}" y="{:.1}" {FONT} font-size="{SMALL}" text-anchor="end" fill="#666">{}</text>"##,
            LEFT - 6.0,
            yy + 3.0,
            xml(&shown(v, unit, 0))
        );
    }
    // The time axis: clock times in the report's zone.
    for tick in ticks(start, end, span.tz, W - LEFT - RIGHT, SMALL) {
        let tx = x(tick.ts);
        // Centred under its tick; a tick whose label would pass the edge is left out.
        if tx + text_width(&tick.label, SMALL) / 2.0 > W {
            continue;
        }
        let _ = write!(
            svg,
            r##"<line x1="{tx:.1}" y1="{top:.1}" x2="{tx:.1}" y2="{:.1}" stroke="#f0f0f0" stroke-width="1"/><line x1="{tx:.1}" y1="{bottom:.1}" x2="{tx:.1}" y2="{:.1}" stroke="#999" stroke-width="1"/>"##,
            bottom,
            bottom + 4.0
        );
        let _ = write!(
            svg,
            r##"<text class="tick" x="{tx:.1}" y="{:.1}" {FONT} font-size="{SMALL}" text-anchor="middle" fill="#666">{}</text>"##,
            bottom + 18.0,
            xml(&tick.label)
        );
    }
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" y1="{bottom:.1}" x2="{:.1}" y2="{bottom:.1}" stroke="#999" stroke-width="1"/>"##,
        W - RIGHT,
    );
    for (m, p) in markers.iter().zip(&placed) {
        let xx = x(m.ts);
        let colour = colour(m.kind);
        let ly = row_y(p.row);
        let _ = write!(
            svg,
            r#"<line x1="{xx:.1}" y1="{:.1}" x2="{xx:.1}" y2="{bottom:.1}" stroke="{colour}" stroke-width="1.5" stroke-dasharray="4 3"><title>{}</title></line>"#,
            ly + 3.0,
            xml(&m.label)
        );
        let _ = write!(
            svg,
            r#"<text class="label" x="{:.1}" y="{ly:.1}" {FONT} font-size="{SMALL}" fill="{colour}" {HALO}>{}</text>"#,
            p.x,
            xml(&p.text)
        );
    }
    for (lx, ly, entry, colour) in &legend {
        let _ = write!(
            svg,
            r#"<text class="legend" x="{lx:.1}" y="{ly:.1}" {FONT} font-size="{SMALL}" fill="{colour}">{}</text>"#,
            xml(entry)
        );
    }
    if !points.is_empty() {
        // Steps, not slopes: what a sample measured holds until the next sample. A line from
        // one sample to the next would claim the rate fell steadily in between, long before
        // the refresh that fixed it.
        let mut path: Vec<String> = Vec::with_capacity(points.len() * 2);
        for (i, (ts, v)) in points.iter().enumerate() {
            if i > 0 {
                let previous = points[i - 1].1;
                path.push(format!("{:.1},{:.1}", x(*ts), y(previous)));
            }
            path.push(format!("{:.1},{:.1}", x(*ts), y(*v)));
        }
        let _ = write!(
            svg,
            r##"<polyline points="{}" fill="none" stroke="#c62828" stroke-width="2"/>"##,
            path.join(" ")
        );
        for (ts, v) in points {
            let _ = write!(
                svg,
                r##"<circle class="sample" cx="{:.1}" cy="{:.1}" r="3" fill="#c62828"><title>{}</title></circle>"##,
                x(*ts),
                y(*v),
                xml(&shown(*v, unit, 1))
            );
        }
    }
    svg.push_str("</svg>");
    svg
}
