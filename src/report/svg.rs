//! Line charts as inline SVG: one value over the run's time, with actions and milestones
//! marked as vertical lines, so a reader sees the error rate fall when the fix went in.

use std::fmt::Write as _;

use jiff::Timestamp;

/// A vertical marker on the time axis.
pub struct Marker {
    pub ts: Timestamp,
    pub label: String,
    /// `action` or `milestone`: drawn differently.
    pub kind: &'static str,
}

const W: f64 = 720.0;
const H: f64 = 220.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 36.0;

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

/// A chart of `points` between `start` and `end`; `unit` formats the y axis (`%`, `ms`).
pub fn chart(
    title: &str,
    points: &[(Timestamp, f64)],
    unit: &str,
    fixed_max: Option<f64>,
    markers: &[Marker],
    start: Timestamp,
    end: Timestamp,
) -> String {
    let span = (end.as_millisecond() - start.as_millisecond()).max(1) as f64;
    let max = fixed_max.unwrap_or_else(|| nice_max(points.iter().map(|p| p.1).fold(0.0, f64::max)));
    let x = |ts: Timestamp| {
        LEFT + (ts.as_millisecond() - start.as_millisecond()) as f64 / span * (W - LEFT - RIGHT)
    };
    let y = |v: f64| TOP + (1.0 - (v / max).clamp(0.0, 1.0)) * (H - TOP - BOTTOM);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{}">"#,
        xml(title)
    );
    let _ = write!(
        svg,
        r##"<rect x="0" y="0" width="{W}" height="{H}" fill="#ffffff"/>"##
    );
    let _ = write!(
        svg,
        r##"<text x="{LEFT}" y="18" font-family="sans-serif" font-size="13" font-weight="bold" fill="#222">{}</text>"##,
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
        let label = if unit == "%" {
            format!("{:.0}%", v * 100.0)
        } else {
            format!("{v:.0} {unit}")
        };
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-family="sans-serif" font-size="10" text-anchor="end" fill="#666">{}</text>"##,
            LEFT - 6.0,
            yy + 3.0,
            xml(&label)
        );
    }
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#999" stroke-width="1"/>"##,
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM
    );
    for m in markers {
        let xx = x(m.ts);
        let colour = if m.kind == "milestone" {
            "#1565c0"
        } else {
            "#ef6c00"
        };
        let _ = write!(
            svg,
            r#"<line x1="{xx:.1}" y1="{TOP}" x2="{xx:.1}" y2="{:.1}" stroke="{colour}" stroke-width="1.5" stroke-dasharray="4 3"><title>{}</title></line>"#,
            H - BOTTOM,
            xml(&m.label)
        );
        // Actions are labelled along the line from the bottom, milestones from the top, so an
        // action and the milestone it brought (a fix and MITIGATED) do not write over each other.
        let (anchor, ly) = if m.kind == "milestone" {
            ("end", TOP + 2.0)
        } else {
            ("start", H - BOTTOM - 4.0)
        };
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{ly:.1}" font-family="sans-serif" font-size="10" fill="{colour}" text-anchor="{anchor}" transform="rotate(-90 {:.1} {ly:.1})">{}</text>"#,
            xx - 3.0,
            xx - 3.0,
            xml(&m.label)
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
            let shown = if unit == "%" {
                format!("{:.1}%", v * 100.0)
            } else {
                format!("{v:.0} {unit}")
            };
            let _ = write!(
                svg,
                r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="#c62828"><title>{}</title></circle>"##,
                x(*ts),
                y(*v),
                xml(&shown)
            );
        }
    }
    let seconds = span / 1000.0;
    let _ = write!(
        svg,
        r##"<text x="{LEFT}" y="{:.1}" font-family="sans-serif" font-size="10" fill="#666">0 s</text><text x="{:.1}" y="{:.1}" font-family="sans-serif" font-size="10" text-anchor="end" fill="#666">{}</text>"##,
        H - BOTTOM + 14.0,
        W - RIGHT,
        H - BOTTOM + 14.0,
        xml(&crate::duration::human(std::time::Duration::from_secs_f64(
            seconds
        )))
    );
    svg.push_str("</svg>");
    svg
}
