//! The HTML report's charts as a reader sees them, checked after layout by a real SVG renderer
//! (usvg, with the machine's fonts): no two texts overlap (`DETECTED` and `MITIGATED` 0.4 s
//! apart once merged into `METECTED`), every sample's marker sits at its sample's time on the
//! clock-time axis, the line holds each value until the next sample, and every sampled
//! endpoint gets an error-rate chart.
//!
//! Timelines: `crowded-labels.jsonl` is `lb-502.jsonl` (see tests/report.rs) retimed by hand so
//! the run spans twelve minutes with sparse samples (08:02, then 08:09:30 and 08:14 EST),
//! DETECTED, both refreshes and MITIGATED within 0.4 s at 08:09:00, RESOLVED at the very end,
//! and a third sampled endpoint (`sample_status`/`verify_status`, copies of the API probes
//! with the URL `/lb/api/status`), `seq` renumbered. `dst-fall-back.jsonl` crosses the end of
//! daylight saving time in New York. The last timeline is a real drill's.

use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Time;
use jiff::tz::TimeZone;
use resvg::usvg;
use resvg::usvg::roxmltree;
use serde_json::Value as Json;

use crate::report::svgs;
use crate::support::*;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/report")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// `runbook timeline FILE --format html --tz TZ`.
fn html(file: &str, tz: &str) -> String {
    Test::new()
        .args(["timeline", file, "--format", "html", "--tz", tz])
        .run()
        .status(0)
        .stdout
}

/// DejaVu Sans, the font the overlap checks lay text out with (Debian's `fonts-dejavu-core`):
/// installed as root when missing, as `support::require` does for programs; otherwise the
/// test fails with the command. Without a font usvg drops text and would find no overlap.
fn dejavu_sans() -> &'static str {
    use std::os::unix::fs::MetadataExt;
    use std::process::{Command, Stdio};
    use std::sync::Mutex;
    const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    if Path::new(FONT).exists() {
        return FONT;
    }
    let install = "apt-get update && apt-get install -y fonts-dejavu-core";
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    assert!(
        root,
        "the chart tests lay text out with DejaVu Sans ({FONT}), which is not installed; \
         install it with `{install}` as root, or run .ci/run as root"
    );
    for args in [
        &["update", "-qq"][..],
        &[
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "fonts-dejavu-core",
        ],
    ] {
        let status = Command::new("apt-get")
            .args(["-o", "DPkg::Lock::Timeout=120"])
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("`{install}` did not start: {e}"));
        assert!(status.success(), "`{install}` failed: {status}");
    }
    assert!(
        Path::new(FONT).exists(),
        "`{install}` did not install {FONT}"
    );
    FONT
}

/// usvg options with DejaVu Sans as `sans-serif` (fontdb's default, Arial, is rare on Linux).
fn options() -> usvg::Options<'static> {
    let font = dejavu_sans();
    let mut options = usvg::Options::default();
    let fonts = options.fontdb_mut();
    fonts
        .load_font_file(font)
        .unwrap_or_else(|e| panic!("{font}: {e}"));
    fonts.set_sans_serif_family("DejaVu Sans");
    options
}

/// Every text node of a rendered tree with its text and its box after layout.
fn texts(group: &usvg::Group, out: &mut Vec<(String, usvg::Rect)>) {
    for node in group.children() {
        match node {
            usvg::Node::Group(g) => texts(g, out),
            usvg::Node::Text(t) => {
                let text: String = t.chunks().iter().map(|c| c.text()).collect();
                out.push((text, t.abs_bounding_box()));
            }
            _ => {}
        }
    }
}

/// The chart's samples as the timeline recorded them: (time, value of `field`) of every entry
/// and attempt of an http step on `url` that has one.
fn samples(timeline: &[Json], url: &str, field: &str) -> Vec<(Timestamp, f64)> {
    timeline
        .iter()
        .filter(|e| e["event"] == "step_finished" || e["event"] == "step_attempt")
        .filter(|e| e["data"]["url"] == url)
        .filter_map(|e| {
            Some((
                e["ts"].as_str()?.parse().unwrap(),
                e["data"][field].as_f64()?,
            ))
        })
        .collect()
}

/// The times tick labels (`08:09`, `08:02:39.4`, `01:00 EST`) name, in order, within the
/// run: a label names its zone where the zone changes (the hour the clocks fall back repeats).
fn tick_times(labels: &[&str], start: Timestamp, end: Timestamp, tz: &TimeZone) -> Vec<Timestamp> {
    let slack = jiff::SignedDuration::from_secs(1);
    let mut zone: Option<String> = None;
    let mut previous = start - slack;
    let mut out = Vec::new();
    for label in labels {
        let (clock, named) = match label.split_once(' ') {
            Some((clock, name)) => (clock, Some(name.to_string())),
            None => (*label, None),
        };
        if named.is_some() {
            zone = named;
        }
        let time: Time = clock
            .parse()
            .unwrap_or_else(|e| panic!("tick label {label:?} is not a clock time: {e}"));
        let day = start.to_zoned(tz.clone()).date();
        let found = [day, day.tomorrow().unwrap()]
            .into_iter()
            .flat_map(|d| {
                let ambiguous = tz.to_ambiguous_zoned(d.to_datetime(time));
                [ambiguous.clone().earlier(), ambiguous.later()]
            })
            .flatten()
            .filter(|z| {
                zone.as_ref()
                    .is_none_or(|name| z.strftime("%Z").to_string() == *name)
            })
            .map(|z| z.timestamp())
            .find(|t| *t > previous && *t <= end + slack)
            .unwrap_or_else(|| panic!("tick {label} is not a time in the run {start}..{end}"));
        out.push(found);
        previous = found;
    }
    out
}

/// Checks every chart of a report; returns the charts' titles.
fn check_charts(html: &str, timeline: &[Json], tz: &str) -> Vec<String> {
    let zone = TimeZone::get(tz).unwrap();
    let ts = |e: &Json| e["ts"].as_str().unwrap().parse::<Timestamp>().unwrap();
    let (start, end) = (ts(&timeline[0]), ts(timeline.last().unwrap()));
    let options = options();
    let mut titles = Vec::new();
    let charts = svgs(html);
    assert!(!charts.is_empty(), "no chart in\n{html}");
    for svg in charts {
        let doc = roxmltree::Document::parse(svg).unwrap();
        let root = doc.root_element();
        let title = root.attribute("aria-label").unwrap().to_string();
        // Drawn to the page's width, not a fixed 720 px.
        assert_eq!(root.attribute("width"), Some("100%"), "{title}");
        assert!(root.attribute("viewBox").is_some(), "{title}");

        // After layout, no two texts overlap, and every text was laid out.
        let tree = usvg::Tree::from_str(svg, &options).unwrap();
        let mut laid_out = Vec::new();
        texts(tree.root(), &mut laid_out);
        let written = doc.descendants().filter(|n| n.has_tag_name("text")).count();
        assert_eq!(
            laid_out.len(),
            written,
            "{title}: texts missing after layout"
        );
        for (i, (a, ra)) in laid_out.iter().enumerate() {
            for (b, rb) in &laid_out[i + 1..] {
                let overlap = ra.left() < rb.right()
                    && rb.left() < ra.right()
                    && ra.top() < rb.bottom()
                    && rb.top() < ra.bottom();
                assert!(
                    !overlap,
                    "{title}: {a:?} {ra:?} overlaps {b:?} {rb:?}\n{svg}"
                );
            }
        }
        // Every action and milestone is named, above the plot or in the legend.
        let words: String = laid_out
            .iter()
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        for milestone in timeline.iter().filter(|e| e["event"] == "milestone") {
            let name = milestone["milestone"]
                .as_str()
                .unwrap()
                .to_ascii_uppercase();
            assert!(
                words
                    .lines()
                    .any(|l| l == name || l.contains(&format!(" {name} "))),
                "{title}: {name} not shown in {words}"
            );
        }

        // The time axis: clock times in the report's zone, at least two of them.
        let tick_nodes: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text") && n.attribute("class") == Some("tick"))
            .collect();
        let labels: Vec<&str> = tick_nodes.iter().map(|n| n.text().unwrap()).collect();
        let ticks: Vec<(f64, Timestamp)> = tick_nodes
            .iter()
            .map(|n| {
                assert_eq!(n.attribute("text-anchor"), Some("middle"));
                n.attribute("x").unwrap().parse::<f64>().unwrap()
            })
            .zip(tick_times(&labels, start, end, &zone))
            .collect();
        assert!(ticks.len() >= 2, "{title}: ticks {ticks:?}");
        let (x0, t0) = ticks[0];
        let (x1, t1) = *ticks.last().unwrap();
        let px_per_ms = (x1 - x0) / (t1.as_millisecond() - t0.as_millisecond()) as f64;
        let at = |t: Timestamp| x0 + (t.as_millisecond() - t0.as_millisecond()) as f64 * px_per_ms;
        // The ticks agree with each other: one linear axis.
        for (x, t) in &ticks {
            assert!((at(*t) - x).abs() <= 1.0, "{title}: tick at {x} for {t}");
        }

        // Every sample sits at its time, and nothing else is a marker.
        let markers: Vec<f64> = doc
            .descendants()
            .filter(|n| n.has_tag_name("circle"))
            .map(|n| n.attribute("cx").unwrap().parse().unwrap())
            .collect();
        let (url, field) = match title.split_once(": ") {
            Some(("error rate", url)) => (url, "rate_error"),
            Some(("p95 latency", url)) => (url, "p95_ms"),
            _ => panic!("an unexpected chart {title}"),
        };
        {
            let expected = samples(timeline, url, field);
            assert_eq!(markers.len(), expected.len(), "{title}: {markers:?}");
            for (cx, (t, _)) in markers.iter().zip(&expected) {
                assert!(
                    (cx - at(*t)).abs() <= 1.0,
                    "{title}: the sample at {t} is drawn at x={cx}, its time is at x={}",
                    at(*t)
                );
            }
        }
        // Each value holds until the next sample: no sloping segment.
        for line in doc.descendants().filter(|n| n.has_tag_name("polyline")) {
            let points: Vec<(f64, f64)> = line
                .attribute("points")
                .unwrap()
                .split(' ')
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect();
            for pair in points.windows(2) {
                assert!(
                    pair[0].0 == pair[1].0 || pair[0].1 == pair[1].1,
                    "{title}: sloping segment {pair:?}"
                );
            }
        }
        titles.push(title);
    }
    titles
}

#[test]
fn crowded_labels_never_overlap_and_markers_sit_at_their_times() {
    let file = fixture("crowded-labels.jsonl");
    let timeline = parse_timeline(&std::fs::read_to_string(&file).unwrap());
    let html = html(&file, "America/New_York");
    let titles = check_charts(&html, &timeline, "America/New_York");
    // An error-rate chart for each of the three sampled endpoints, none for the refreshes.
    let rates: Vec<&str> = titles
        .iter()
        .filter_map(|t| t.strip_prefix("error rate: "))
        .collect();
    assert_eq!(
        rates,
        [
            "http://127.0.0.1:8080/lb/api/status",
            "http://127.0.0.1:8080/lb/api/v1/session",
            "http://127.0.0.1:8080/lb/launchpad/login",
        ]
    );
    // The page does not cap its width, so the charts grow with the window.
    let style = &html[html.find("<style>").unwrap()..html.find("</style>").unwrap()];
    assert!(!style.contains("max-width"), "{style}");
    // Clock times in New York, minutes for a twelve-minute run: never `0 s`.
    let first = svgs(&html)[0];
    assert!(
        first.contains(">08:04<") && first.contains(">08:14<"),
        "{first}"
    );
    assert!(!first.contains(">0 s<"), "{first}");
    assert!(
        html.contains("sampled by sample_launchpad, verify_launchpad; times in EST"),
        "{html}"
    );
}

#[test]
fn a_run_across_the_end_of_daylight_saving_has_one_axis_that_names_its_zones() {
    let file = fixture("dst-fall-back.jsonl");
    let timeline = parse_timeline(&std::fs::read_to_string(&file).unwrap());
    let html = html(&file, "America/New_York");
    check_charts(&html, &timeline, "America/New_York");
    let first = svgs(&html)[0];
    // 00:00 EDT, ..., 01:50, then the clocks fall back: 01:00 EST.
    assert!(first.contains(">00:00 EDT<"), "{first}");
    assert!(first.contains(">01:00 EST<"), "{first}");
    assert!(html.contains("times in EDT, then EST"), "{html}");
}

#[test]
fn a_real_drills_charts_have_clock_times_and_labels_that_do_not_overlap() {
    let dir = tempfile::Builder::new()
        .prefix("runbook-charts")
        .tempdir()
        .unwrap();
    crate::sim::run(
        dir.path(),
        &["drill", "--timeline-dir", "drills"],
        Duration::from_secs(120),
    )
    .code(0);
    let file = std::fs::read_dir(dir.path().join("drills"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .expect("the drill wrote a timeline");
    let timeline = parse_timeline(&std::fs::read_to_string(&file).unwrap());
    let html = html(file.to_str().unwrap(), "UTC");
    let titles = check_charts(&html, &timeline, "UTC");
    assert!(
        titles.iter().any(|t| t.starts_with("error rate: ")),
        "{titles:?}"
    );
}
