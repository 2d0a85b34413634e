//! `runbook timeline` and `--junit`: a recorded run as the documents people use, pinned by
//! golden files (insta snapshots in `tests/snapshots/`) and checked for the contract of issue 5
//! in code, so a snapshot accepted by mistake cannot hide a broken contract.
//!
//! The fixtures in `tests/fixtures/report/` are real timelines moved to a fixed past date:
//!
//! - `lb-502.jsonl`: `runbook drill --timeline-dir /tmp/x` (the shipped runbook against
//!   `classlink-2020`), every `ts` shifted by one constant so the run starts at
//!   2020-11-16T13:02:39.120Z (08:02 EST); run id `20201116T130239Z-c1a55e`; the simulator's
//!   port replaced by 8080; `root@vm` renamed `alice@oncall`; HTTP `date` headers recomputed
//!   from the new `ts`; one note from `bob@oncall` inserted after `provider_status` (the line
//!   `runbook note` writes) and `seq` renumbered.
//! - `lb-502-blocked.jsonl` + `lb-502-resumed.jsonl`: one run of `runbooks/lb-502.yaml` against
//!   `runbook sim --vars-out vars.yaml`, non-interactive without `--yes` (blocked at the first
//!   action, exit 4), then `runbook note`, then `runbook run --resume` on a terminal confirming
//!   both actions; split at `run_resumed` (same run id, `seq` continuing). The first part is
//!   shifted to 08:30 EST, the note to 09:17 EST, the resumed part to 09:20 EST.
//! - `dst-fall-back.jsonl`: the same run in one file, started at 23:59:59.8 EDT on 2020-10-31
//!   (so it crosses midnight in New York) and resumed at 01:10 EST on 2020-11-01, after the
//!   clocks fell back at 02:00 EDT.
//!
//! The shift is a few lines of Python over the JSON lines (`json.loads`, new `ts`/`run_id`,
//! `json.dumps(separators=(",", ":"))`, then the port and actor replaced in the text); every
//! other field is as the binary wrote it.

use std::path::{Path, PathBuf};

use resvg::usvg::roxmltree;
use resvg::{tiny_skia, usvg};
use serde_json::Value as Json;

use crate::support::*;

/// The red of the charts' lines and points.
const CHART_RED: (u8, u8, u8) = (0xc6, 0x28, 0x28);

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/report")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// `runbook timeline ARGS...`, which must succeed.
fn timeline(args: &[&str]) -> Output {
    Test::new()
        .args(["timeline"])
        .args(args.iter().copied())
        .run()
        .status(0)
}

fn lb_502(args: &[&str]) -> String {
    let lb = fixture("lb-502.jsonl");
    let mut all = vec![lb.as_str()];
    all.extend_from_slice(args);
    timeline(&all).stdout
}

/// The line of `text` that starts with `prefix`.
fn line_starting<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starts with {prefix:?}:\n{text}"))
}

// ------------------------------------------------------------------ markdown and text

#[test]
fn markdown_is_a_postmortem_timeline() {
    let md = lb_502(&["--format", "markdown", "--tz", "America/New_York"]);
    insta::assert_snapshot!("lb_502_markdown", md);

    assert!(md.contains("\n## 2020-11-16 (all times EST)\n"), "{md}");
    let failed = line_starting(
        &md,
        "08:02 EST  [sample_launchpad] FAILED 502 rate 40% (24/60)",
    );
    assert!(failed.contains("p95 17 ms"), "{failed}");
    // What failed, with the actual values.
    assert!(
        failed.contains("expected rate_5xx < vars.max_5xx_rate, got rate_5xx = 0.4"),
        "{failed}"
    );
    for milestone in ["DETECTED", "MITIGATED", "RESOLVED"] {
        line_starting(&md, &format!("08:02 EST  **{milestone}**"));
    }
    line_starting(
        &md,
        "08:02 EST  note from bob@oncall: AWS status page: ELB degraded_performance.",
    );
    for action in ["refresh_launchpad_lb", "refresh_api_lb"] {
        let line = line_starting(&md, &format!("08:02 EST  [{action}] PASSED"));
        assert!(line.contains("confirmed by --yes"), "{line}");
    }

    let summary = &md[md.find("## Summary").expect("a summary")..];
    for row in [
        "| Time to detect | 226 ms |",
        "| Time to mitigate | 589 ms |",
        "| Time to resolve | 1.9 s |",
        "| Steps run | 12 |",
        "| Actions taken | 2 |",
    ] {
        assert!(summary.contains(row), "summary lacks {row:?}:\n{summary}");
    }
}

#[test]
fn markdown_names_the_person_who_confirmed_an_action() {
    let md = timeline(&[
        &fixture("lb-502-blocked.jsonl"),
        &fixture("lb-502-resumed.jsonl"),
        "--format",
        "markdown",
        "--tz",
        "America/New_York",
    ])
    .stdout;
    insta::assert_snapshot!("lb_502_resumed_markdown", md);
    let line = line_starting(&md, "09:20 EST  [refresh_launchpad_lb] PASSED");
    assert!(
        line.contains("confirmed by alice@oncall"),
        "the action names who confirmed it: {line}"
    );
    line_starting(
        &md,
        "09:17 EST  note from bob@oncall: Backends under 30% CPU",
    );
    assert!(md.contains("| Time to mitigate | 50m 8s |"), "{md}");
}

#[test]
fn text_is_for_a_terminal() {
    let text = lb_502(&["--format", "text", "--tz", "UTC"]);
    insta::assert_snapshot!("lb_502_text", text);
    assert!(text.contains("\n2020-11-16 (UTC)\n"), "{text}");
    line_starting(
        &text,
        "13:02:39  [sample_launchpad] FAILED 502 rate 40% (24/60)",
    );
    line_starting(&text, "13:02:41  RESOLVED");
    assert!(
        text.contains("12 steps run, 2 actions taken"),
        "a summary: {text}"
    );
}

#[test]
fn no_tz_means_the_system_zone() {
    let md = Test::new()
        .args(["timeline", &fixture("lb-502.jsonl"), "--format", "markdown"])
        .env("TZ", "America/New_York")
        .run()
        .status(0)
        .stdout;
    assert!(md.contains("## 2020-11-16 (all times EST)"), "{md}");
}

// ------------------------------------------------------------------ dates and zones

/// Every event line's zone is the one its date header names.
fn assert_headers_name_the_zone(md: &str) {
    let mut header_zone: Option<&str> = None;
    for line in md.lines() {
        if let Some(rest) = line.strip_prefix("## ")
            && let Some(zone) = rest
                .split_once("(all times ")
                .and_then(|(_, z)| z.strip_suffix(')'))
        {
            header_zone = Some(zone);
        } else if line.len() > 6 && line.as_bytes()[2] == b':' && line.contains("  ") {
            let zone = line[6..].split_whitespace().next().unwrap();
            assert_eq!(
                Some(zone),
                header_zone,
                "`{line}` is under a header that says all times are {header_zone:?}:\n{md}"
            );
        }
    }
}

#[test]
fn a_run_across_midnight_and_the_end_of_daylight_saving_gets_a_header_per_date_and_zone() {
    let dst = fixture("dst-fall-back.jsonl");
    let md = timeline(&[&dst, "--format", "markdown", "--tz", "America/New_York"]).stdout;
    // Started a second before midnight, daylight time.
    let first = md
        .find("## 2020-10-31 (all times EDT)")
        .unwrap_or_else(|| panic!("{md}"));
    line_starting(&md, "23:59 EDT  run of `lb-502` started");
    // The next events are on the next day, still daylight time.
    let second = md
        .find("## 2020-11-01 (all times EDT)")
        .unwrap_or_else(|| panic!("{md}"));
    assert!(first < second, "{md}");
    line_starting(&md, "00:00 EDT  [sample_api] FAILED");
    line_starting(&md, "01:45 EDT  note from bob@oncall");
    // Resumed after 02:00 EDT became 01:00 EST: an earlier wall-clock time, a later instant.
    line_starting(&md, "01:10 EST  run resumed by alice@oncall");
    assert!(
        md.find("01:45 EDT").unwrap() < md.find("01:10 EST").unwrap(),
        "events stay in time order: {md}"
    );
    // The issue: "a date header with the zone (`2020-11-16 (all times EST)`)".
    assert_headers_name_the_zone(&md);
}

#[test]
fn the_same_run_in_utc_is_one_date() {
    let dst = fixture("dst-fall-back.jsonl");
    let md = timeline(&[&dst, "--format", "markdown", "--tz", "UTC"]).stdout;
    assert_eq!(md.matches("\n## 2020-").count(), 1, "{md}");
    assert!(md.contains("## 2020-11-01 (all times UTC)"), "{md}");
    line_starting(&md, "03:59 UTC  run of `lb-502` started");
    line_starting(&md, "06:10 UTC  run resumed");
    let text = timeline(&[&dst, "--format", "text", "--tz", "America/New_York"]).stdout;
    assert!(text.contains("2020-10-31 (EDT)"), "{text}");
    line_starting(&text, "01:10:00  run resumed");
}

// ------------------------------------------------------------------ json and merging

fn json(args: &[&str]) -> Json {
    let out = timeline(args);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", out.stdout))
}

#[test]
fn json_is_the_events_and_a_summary() {
    let text = lb_502(&["--format", "json"]);
    insta::assert_snapshot!("lb_502_json", text);
    let report: Json = serde_json::from_str(&text).unwrap();
    assert_eq!(report["runbook"], "lb-502");
    assert_eq!(
        report["run_ids"],
        serde_json::json!(["20201116T130239Z-c1a55e"])
    );
    let s = &report["summary"];
    assert_eq!(s["time_to_detect_ms"], 226);
    assert_eq!(s["time_to_mitigate_ms"], 589);
    assert_eq!(s["time_to_resolve_ms"], 1914);
    assert_eq!(s["steps_run"], 12);
    assert_eq!(s["actions_taken"], 2);
    assert_eq!(s["outcome"], "completed");
    assert_eq!(s["exit_code"], 0);
    // The events as recorded, every line of the fixture.
    let recorded = parse_timeline(&std::fs::read_to_string(fixture("lb-502.jsonl")).unwrap());
    assert_eq!(report["events"].as_array().unwrap(), &recorded);
    assert_eq!(report["notes"][0]["actor"], "bob@oncall");
    assert_eq!(report["milestones"].as_array().unwrap().len(), 3);
}

fn assert_in_time_order(events: &[Json]) {
    for pair in events.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let ta: jiff::Timestamp = a["ts"].as_str().unwrap().parse().unwrap();
        let tb: jiff::Timestamp = b["ts"].as_str().unwrap().parse().unwrap();
        assert!(ta <= tb, "out of time order:\n{a}\n{b}");
        if a["run_id"] == b["run_id"] {
            assert!(
                a["seq"].as_u64() < b["seq"].as_u64(),
                "out of seq order:\n{a}\n{b}"
            );
        }
    }
}

#[test]
fn a_resumed_run_merges_in_time_order_whatever_the_order_of_the_files() {
    let blocked = fixture("lb-502-blocked.jsonl");
    let resumed = fixture("lb-502-resumed.jsonl");
    let report = json(&[&resumed, &blocked, "--format", "json"]);
    let events = report["events"].as_array().unwrap();
    assert_in_time_order(events);
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=39).collect::<Vec<_>>());
    assert_eq!(
        report["run_ids"],
        serde_json::json!(["20201116T133005Z-7a3f21"])
    );
    // The name and outcome come from the run as a whole: started in the first file, finished
    // in the second.
    assert_eq!(report["runbook"], "lb-502");
    assert_eq!(report["summary"]["outcome"], "completed");
    assert_eq!(report["summary"]["actions_taken"], 2);
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    let blocked_end = names.iter().position(|n| *n == "run_finished").unwrap();
    assert_eq!(names[blocked_end + 2], "run_resumed", "{names:?}");

    let args = ["--format", "markdown", "--tz", "America/New_York"];
    let forward = timeline(&[&[blocked.as_str(), &resumed][..], &args].concat()).stdout;
    let backward = timeline(&[&[resumed.as_str(), &blocked][..], &args].concat()).stdout;
    assert_eq!(forward, backward, "the order of the files does not matter");
}

#[test]
fn two_runs_merge_in_time_order() {
    let report = json(&[
        &fixture("lb-502-resumed.jsonl"),
        &fixture("lb-502.jsonl"),
        &fixture("lb-502-blocked.jsonl"),
        "--format",
        "json",
    ]);
    let events = report["events"].as_array().unwrap();
    assert_eq!(events.len(), 35 + 39);
    assert_in_time_order(events);
    assert_eq!(
        report["run_ids"],
        serde_json::json!(["20201116T130239Z-c1a55e", "20201116T133005Z-7a3f21"])
    );
}

// ------------------------------------------------------------------ junit

/// The `<testcase>` elements of a JUnit document, which must parse as XML: classname, name,
/// time and the verdict (`failure`, `error` or `skipped` with its message and text; earlier
/// attempts, `flakyFailure` and `rerunFailure`, do not change it).
fn testcases(xml: &str) -> Vec<(String, String, String, String)> {
    let doc = roxmltree::Document::parse(xml)
        .unwrap_or_else(|e| panic!("JUnit is not XML ({e}):\n{xml}"));
    doc.descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|n| {
            let attr = |a| n.attribute(a).unwrap_or_default().to_string();
            let status = n
                .children()
                .filter(|c| {
                    c.is_element() && ["failure", "error", "skipped"].contains(&c.tag_name().name())
                })
                .map(|c| {
                    format!(
                        "{} {} {}",
                        c.tag_name().name(),
                        c.attribute("message").unwrap_or_default(),
                        c.text().unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            (attr("classname"), attr("name"), attr("time"), status)
        })
        .collect()
}

#[test]
fn junit_has_one_testcase_per_step() {
    let xml = lb_502(&["--format", "junit"]);
    insta::assert_snapshot!("lb_502_junit", xml);
    // The suite says how long the run took, when it started (UTC, no zone, as the xUnit schema
    // types `timestamp`) and on which host (the actor's, `bob@oncall`).
    let suite = xml
        .lines()
        .find(|l| l.trim_start().starts_with("<testsuite "))
        .unwrap_or_else(|| panic!("no testsuite in {xml}"));
    for attribute in [
        r#"time="1.914""#,
        r#"timestamp="2020-11-16T13:02:39""#,
        r#"hostname="oncall""#,
    ] {
        assert!(suite.contains(attribute), "{attribute} missing: {suite}");
    }
    let cases = testcases(&xml);
    assert_eq!(cases.len(), 14, "{xml}");
    for (i, (classname, name, time, _)) in cases.iter().enumerate() {
        assert_eq!(classname, "runbook.lb-502");
        assert!(name.starts_with(&format!("{:02} ", i + 1)), "{name}");
        assert!(time.parse::<f64>().is_ok(), "time in seconds: {time:?}");
    }
    let by_number = |n: usize| &cases[n - 1];
    assert_eq!(
        by_number(1).1,
        "01 Sample the LaunchPad load balancer for 502s and latency"
    );
    let failure = &by_number(1).3;
    assert!(failure.starts_with("failure "), "{failure}");
    assert!(
        failure.contains(
            "expected rate_5xx < vars.max_5xx_rate, got rate_5xx = 0.4, vars.max_5xx_rate = 0.02"
        ),
        "the expectation and the actual values: {failure}"
    );
    assert!(by_number(7).3.contains("got rate_5xx = 0.6"), "{xml}");
    for skipped in [9, 10] {
        assert!(by_number(skipped).3.starts_with("skipped"), "{xml}");
    }
    assert_eq!(by_number(13).2, "1.216", "verify_launchpad took 1216 ms");
    // verify_launchpad passed on its second attempt: the first is a flakyFailure, and the
    // output says so for readers that show only the output.
    assert!(
        xml.contains(
            "<system-out>[verify_launchpad] 200 x60, p95 14 ms\npassed on attempt 2; earlier \
             attempts: attempt 1 failed: 502 rate 40% (24/60), p95 14 ms</system-out>"
        ),
        "{xml}"
    );
    assert_eq!(xml.matches("<flakyFailure ").count(), 1, "{xml}");
    assert_eq!(
        cases.iter().filter(|c| c.3.is_empty()).count(),
        9,
        "nine steps passed"
    );
    assert!(xml.contains("<skipped"), "{xml}");
}

#[test]
fn junit_skipped_message_says_why_once() {
    let xml = lb_502(&["--format", "junit"]);
    assert!(
        !xml.contains("skipped: skipped:"),
        "the skip reason is repeated:\n{xml}"
    );
}

const JUNIT_RUNBOOK: &str = r#"
    name: junit-demo
    title: A small runbook for the JUnit report
    steps:
      - id: healthy
        title: The service answers
        action: false
        command: {argv: [echo, ok]}
        expect: stdout == 'ok\n'
      - id: error_rate
        title: The error rate is low
        action: false
        command: {argv: [echo, "0.4"]}
        expect: json < 0.02
        on_fail: continue
      - id: not_needed
        title: Only when asked
        when: false
        action: false
        command: {argv: [echo, never]}
      - id: restart
        title: Restart the service
        command: {argv: [echo, restarted]}
    "#;

#[test]
fn run_junit_writes_one_testcase_per_step() {
    let out = Test::new()
        .runbook(JUNIT_RUNBOOK)
        .args(["run", "--dry-run", "--junit", "reports/run.xml"])
        .run()
        // `on_fail: continue`: the run completes.
        .status(0);
    let xml = std::fs::read_to_string(out.path("reports/run.xml"))
        .unwrap_or_else(|e| panic!("no JUnit report: {e}"));
    let cases = testcases(&xml);
    let names: Vec<&str> = cases.iter().map(|c| c.1.as_str()).collect();
    assert_eq!(
        names,
        [
            "01 The service answers",
            "02 The error rate is low",
            "03 Only when asked",
            "04 Restart the service"
        ],
        "{xml}"
    );
    for (classname, _, time, _) in &cases {
        assert_eq!(classname, "runbook.junit-demo");
        assert!(time.parse::<f64>().is_ok(), "{xml}");
    }
    assert_eq!(cases[0].3, "", "passed: {xml}");
    let failure = &cases[1].3;
    assert!(
        failure.starts_with("failure ")
            && failure.contains("json < 0.02")
            && failure.contains("0.4"),
        "the expectation and the actual value: {failure}"
    );
    assert!(cases[2].3.starts_with("skipped"), "skipped by when: {xml}");
    assert!(cases[3].3.starts_with("skipped"), "a dry-run action: {xml}");

    // The same document as `runbook timeline --format junit` of the run's timeline.
    let again = out
        .then()
        .args(["timeline", TIMELINE, "--format", "junit"])
        .run()
        .status(0);
    assert_eq!(again.stdout, xml);
}

#[test]
fn drill_junit_still_has_one_testcase_per_scenario() {
    let runbook = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/lb-502.yaml");
    let out = Test::new()
        .args([
            "drill",
            runbook.to_str().unwrap(),
            "--junit",
            "drill.xml",
            "--timeline-dir",
            "drills",
        ])
        .run()
        .status(0);
    let xml = std::fs::read_to_string(out.path("drill.xml")).expect("drill --junit writes");
    let cases = testcases(&xml);
    assert_eq!(cases.len(), 1, "{xml}");
    assert_eq!(cases[0].1, "classlink-2020", "{xml}");
}

// ------------------------------------------------------------------ html and charts

/// The `<svg>...</svg>` elements of a document, as written.
pub(crate) fn svgs(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<svg") {
        let end = rest[start..].find("</svg>").expect("an svg is closed") + start + 6;
        out.push(&rest[start..end]);
        rest = &rest[end..];
    }
    out
}

fn is_external(url: &str) -> bool {
    let url = url.trim().to_ascii_lowercase();
    url.starts_with("http:") || url.starts_with("https:") || url.starts_with("//")
}

#[test]
fn html_is_one_self_contained_page() {
    let html = lb_502(&["--format", "html", "--tz", "America/New_York"]);
    insta::assert_snapshot!("lb_502_html", html);

    let doc = scraper::Html::parse_document(&html);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    let select = |css: &str| -> Vec<scraper::ElementRef<'_>> {
        doc.select(&scraper::Selector::parse(css).unwrap())
            .collect()
    };
    let title = select("head > title");
    assert_eq!(title.len(), 1);
    assert_eq!(
        title[0].text().collect::<String>(),
        "Timeline: 502 Bad Gateway from the load balancers"
    );
    assert!(select("script[src]").is_empty(), "no external script");
    assert!(
        select("link[rel~=stylesheet]").is_empty(),
        "no stylesheet link"
    );
    for element in select("*") {
        // `xmlns` names a namespace and loads nothing; these load what they point at.
        for (name, value) in element.value().attrs().filter(|(name, _)| {
            ["src", "href", "srcset", "poster", "data", "background"].contains(name)
        }) {
            assert!(
                !is_external(value),
                "<{} {name}=\"{value}\"> loads from the network",
                element.value().name()
            );
        }
    }
    for style in select("style") {
        let css: String = style.text().collect();
        assert!(!css.contains("@import") && !css.contains("url("), "{css}");
    }
    // The same timeline as the markdown, in the same zone.
    assert!(html.contains("2020-11-16 (all times EST)"), "{html}");
    let body: String = doc.root_element().text().collect();
    assert!(body.contains("[sample_launchpad] FAILED 502 rate 40% (24/60)"));
    assert!(body.contains("note from bob@oncall"));
    assert!(body.contains("Time to mitigate"));
    assert!(select("svg").len() >= 2, "inline SVG charts");
    // What a sample measured holds until the next sample: every segment of a chart's line is
    // horizontal or vertical, never a slope that invents values between samples.
    let lines = select("polyline");
    assert!(!lines.is_empty(), "charts have lines");
    for line in lines {
        let points: Vec<(f64, f64)> = line
            .value()
            .attr("points")
            .unwrap()
            .split(' ')
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect();
        for pair in points.windows(2) {
            let ((x1, y1), (x2, y2)) = (pair[0], pair[1]);
            assert!(
                x1 == x2 || y1 == y2,
                "a sloping segment {pair:?} in {points:?}"
            );
        }
    }
}

/// Renders an SVG with a pure-Rust renderer.
fn render(svg: &str, options: &usvg::Options) -> tiny_skia::Pixmap {
    let tree = usvg::Tree::from_str(svg, options)
        .unwrap_or_else(|e| panic!("usvg cannot read the chart ({e}):\n{svg}"));
    let size = tree.size().to_int_size();
    assert!(size.width() > 0 && size.height() > 0);
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap
}

fn red_pixels(pixmap: &tiny_skia::Pixmap) -> usize {
    let near = |a: u8, b: u8| a.abs_diff(b) <= 3;
    pixmap
        .pixels()
        .iter()
        .filter(|p| {
            p.alpha() == 255
                && near(p.red(), CHART_RED.0)
                && near(p.green(), CHART_RED.1)
                && near(p.blue(), CHART_RED.2)
        })
        .count()
}

#[test]
fn html_charts_are_svg_that_renders() {
    let html = lb_502(&["--format", "html", "--tz", "America/New_York"]);
    let charts = svgs(&html);
    // The 5xx rate and p95 of each of the two load balancers: each was sampled more than once.
    assert_eq!(charts.len(), 4, "{html}");

    let mut options = usvg::Options::default();
    // Text is drawn when the machine has fonts; the checks below do not depend on it.
    let fonts = options.fontdb_mut();
    fonts.load_system_fonts();
    let families: Vec<String> = fonts
        .faces()
        .flat_map(|f| f.families.iter().map(|(name, _)| name.clone()))
        .collect();
    if let Some(family) = families
        .iter()
        .find(|f| *f == "DejaVu Sans")
        .or(families.first())
    {
        // fontdb maps `sans-serif` to Arial, which Linux rarely has.
        fonts.set_sans_serif_family(family.clone());
    }
    let mut png = None;
    for svg in &charts {
        let doc = roxmltree::Document::parse(svg)
            .unwrap_or_else(|e| panic!("the chart is not XML ({e}):\n{svg}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        let label = root.attribute("aria-label").unwrap_or_default().to_string();

        // Actions and milestones are marked.
        let marks: Vec<String> = doc
            .descendants()
            .filter(|n| n.has_tag_name("line") && n.attribute("stroke-dasharray").is_some())
            .filter_map(|n| n.first_element_child()?.text().map(str::to_string))
            .collect();
        for mark in [
            "refresh_launchpad_lb",
            "refresh_api_lb",
            "DETECTED",
            "MITIGATED",
            "RESOLVED",
        ] {
            assert!(
                marks.iter().any(|m| m == mark),
                "{label}: no {mark} in {marks:?}"
            );
        }

        // The error rate falls after the refresh: a larger y is a lower value.
        if label.starts_with("error rate") {
            let points: Vec<f64> = doc
                .descendants()
                .find(|n| n.has_tag_name("polyline"))
                .expect("a line")
                .attribute("points")
                .unwrap()
                .split_whitespace()
                .map(|p| p.split_once(',').unwrap().1.parse().unwrap())
                .collect();
            assert!(points.len() >= 2, "{label}: {points:?}");
            assert!(
                points.first() < points.last(),
                "{label}: the rate does not fall: {points:?}"
            );
        }

        let pixmap = render(svg, &options);
        let red = red_pixels(&pixmap);
        assert!(red > 20, "{label}: the rendered chart has {red} red pixels");
        png.get_or_insert(pixmap);
    }
    let path: PathBuf = std::env::temp_dir().join("runbook-report-chart.png");
    png.unwrap().save_png(&path).unwrap();
    println!("rendered chart: {}", path.display());
}

// ------------------------------------------------------------------ output and errors

#[test]
fn output_writes_the_file() {
    let lb = fixture("lb-502.jsonl");
    let args = ["--format", "markdown", "--tz", "America/New_York"];
    let out = Test::new()
        .args(["timeline", lb.as_str()])
        .args(args)
        .args(["--output", "postmortem/timeline.md"])
        .run()
        .status(0);
    assert_eq!(out.stdout, "", "the report goes to the file, not stdout");
    let written = std::fs::read_to_string(out.path("postmortem/timeline.md")).unwrap();
    assert_eq!(written, lb_502(&args));
}

#[test]
fn an_unknown_zone_is_a_usage_error() {
    Test::new()
        .args([
            "timeline",
            &fixture("lb-502.jsonl"),
            "--tz",
            "Nowhere/Invalid",
        ])
        .run()
        .status(2)
        .stdout_lacks("lb-502")
        .stderr_has("Nowhere/Invalid");
}

#[test]
fn a_missing_timeline_is_a_usage_error() {
    Test::new()
        .args(["timeline", &fixture("lb-502.jsonl"), "missing.jsonl"])
        .run()
        .status(2)
        .stdout_lacks("lb-502")
        .stderr_has("missing.jsonl");
}

#[test]
fn a_broken_timeline_names_the_line() {
    let good = std::fs::read_to_string(fixture("lb-502.jsonl")).unwrap();
    let mut lines: Vec<&str> = good.lines().collect();
    lines.insert(3, "{\"seq\": 4, \"ts\": oops");
    Test::new()
        .write("broken.jsonl", &(lines.join("\n") + "\n"))
        .args(["timeline", "broken.jsonl"])
        .run()
        .status(2)
        .stderr_has("broken.jsonl:4:");
}
