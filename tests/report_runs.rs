//! `runbook timeline A.jsonl B.jsonl` of several runs — two runbooks paged at once, a drill and
//! the real incident, the same runbook run twice: every report shows each run apart, named by
//! its own runbook, with its own steps, outcome and times (issue 13). The timelines come from
//! real runs of the binary against the test server.

use serde_json::Value as Json;

use crate::support::*;

/// A runbook whose health check passes on its third attempt (the server answers 503, 503,
/// then 200), and whose check of the replica passes at once.
const FAILOVER: &str = r#"
    name: db-failover
    title: Fail the database over to the replica
    steps:
      - id: primary_health
        title: The primary answers its health check
        http: {url: "$SERVER/health"}
        retry: {attempts: 3, delay: 10ms}
        milestone: detected
      - id: replica_lag
        title: The replica is in sync
        action: false
        command: {argv: [echo, "lag 0s"]}
    "#;

/// A runbook with a failed check, a step skipped by `when` and an action.
const CACHE: &str = r#"
    name: cache-flush
    title: Flush the edge cache
    steps:
      - id: hit_ratio
        title: The hit ratio is healthy
        action: false
        command: {argv: [echo, "0.4"]}
        expect: json > 0.9
        on_fail: continue
      - id: purge_eu
        title: Purge the EU edge
        when: false
        command: {argv: [echo, never]}
      - id: purge_all
        title: Purge every edge
        command: {argv: [echo, purged]}
        milestone: mitigated
    "#;

/// Three real runs in one directory: `failover.jsonl` (db-failover), `cache.jsonl`
/// (cache-flush) and `failover-again.jsonl` (db-failover a second time), started in that
/// order. Returns the directory's last output, to run `timeline` in.
fn three_runs() -> Output {
    let server = Server::start();
    server.sequence("/health", [503, 503, 200]);
    let out = Test::new()
        .server(&server)
        .write("failover.yaml", FAILOVER)
        .write("cache.yaml", CACHE)
        .args(["run", "failover.yaml", "--timeline", "failover.jsonl"])
        .run()
        .status(0);
    let out = out
        .then()
        .args(["run", "cache.yaml", "--yes", "--timeline", "cache.jsonl"])
        .run()
        .status(0);
    server.sequence("/health", [200]);
    out.then()
        .args(["run", "failover.yaml", "--timeline", "failover-again.jsonl"])
        .run()
        .status(0)
}

fn run_id(out: &Output, timeline: &str) -> String {
    let text = std::fs::read_to_string(out.path(timeline)).unwrap();
    parse_timeline(&text)[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `runbook timeline ARGS...` in the directory of `out`.
fn timeline(out: Output, args: &[&str]) -> (Output, String) {
    let rendered = out
        .then()
        .args(["timeline"])
        .args(args.iter().copied())
        .run();
    let rendered = rendered.status(0);
    let stdout = rendered.stdout.clone();
    (rendered, stdout)
}

/// Each section of `text` that starts with a line starting with `marker`, in order.
fn sections<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    let starts: Vec<usize> = text
        .match_indices(marker)
        .filter(|(i, _)| *i == 0 || text.as_bytes()[i - 1] == b'\n')
        .map(|(i, _)| i)
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(n, &s)| &text[s..starts.get(n + 1).copied().unwrap_or(text.len())])
        .collect()
}

#[test]
fn two_runbooks_get_a_section_each_named_by_its_runbook() {
    let out = three_runs();
    let (failover, cache) = (run_id(&out, "failover.jsonl"), run_id(&out, "cache.jsonl"));
    // The files in the opposite order: runs are shown in the order they started.
    let (out, md) = timeline(
        out,
        &[
            "cache.jsonl",
            "failover.jsonl",
            "--format",
            "markdown",
            "--tz",
            "UTC",
        ],
    );
    assert!(md.starts_with("# Timelines: 2 runs\n"), "{md}");
    // The table of runs, each named by its runbook with its own outcome.
    assert!(
        md.contains(&format!(
            "| 1 | `db-failover` | Fail the database over to the replica | `{failover}` |"
        )),
        "{md}"
    );
    assert!(
        md.contains(&format!(
            "| 2 | `cache-flush` | Flush the edge cache | `{cache}` |"
        )),
        "{md}"
    );
    let parts = sections(&md, "## ");
    let runs: Vec<&str> = parts
        .iter()
        .copied()
        .filter(|s| s.starts_with("## 1. ") || s.starts_with("## 2. "))
        .collect();
    assert_eq!(runs.len(), 2, "{md}");
    let (first, second) = (runs[0], runs[1]);
    assert!(
        first.starts_with("## 1. `db-failover`: Fail the database over to the replica\n"),
        "{first}"
    );
    assert!(
        first.contains(&format!(
            "Runbook `db-failover`, file `failover.yaml`, run `{failover}`, outcome **completed** (exit 0)."
        )),
        "{first}"
    );
    // Its own steps, and only its own.
    assert!(first.contains("run of `db-failover` started"), "{first}");
    assert!(first.contains("[primary_health] PASSED"), "{first}");
    assert!(first.contains("[replica_lag] PASSED"), "{first}");
    assert!(
        !first.contains("hit_ratio") && !first.contains("cache-flush"),
        "{first}"
    );
    assert!(first.contains("### Summary"), "{first}");
    assert!(first.contains("| Steps run | 2 |"), "{first}");
    assert!(first.contains("| Actions taken | 0 |"), "{first}");

    assert!(
        second.starts_with("## 2. `cache-flush`: Flush the edge cache\n"),
        "{second}"
    );
    assert!(second.contains("run of `cache-flush` started"), "{second}");
    assert!(second.contains("[hit_ratio] FAILED"), "{second}");
    assert!(second.contains("[purge_all] PASSED"), "{second}");
    assert!(second.contains("**MITIGATED** at [purge_all]"), "{second}");
    assert!(
        !second.contains("primary_health") && !second.contains("db-failover"),
        "{second}"
    );
    assert!(second.contains("| Actions taken | 1 |"), "{second}");
    // Each run's durations are from its own start: cache-flush was detected never, mitigated
    // within its own run, not after the other run's minutes.
    assert!(second.contains("| Time to detect | - |"), "{second}");

    // Text: the same order and names.
    let (out, text) = timeline(
        out,
        &[
            "cache.jsonl",
            "failover.jsonl",
            "--format",
            "text",
            "--tz",
            "UTC",
        ],
    );
    assert!(
        text.starts_with("2 runs, in the order they started:\n"),
        "{text}"
    );
    let first = text
        .find("[run 1 of 2] db-failover: Fail the database over to the replica\n")
        .unwrap_or_else(|| panic!("{text}"));
    let second = text
        .find("[run 2 of 2] cache-flush: Flush the edge cache\n")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(first < second, "{text}");
    assert!(
        text[second..].contains(&format!("run: {cache}, completed (exit 0)")),
        "{text}"
    );
    assert!(!text[first..second].contains("hit_ratio"), "{text}");

    // HTML: a section per run, each with its own heading, summary and timeline.
    let (_, html) = timeline(
        out,
        &[
            "cache.jsonl",
            "failover.jsonl",
            "--format",
            "html",
            "--tz",
            "UTC",
        ],
    );
    let doc = scraper::Html::parse_document(&html);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    let select = |css: &str| -> Vec<scraper::ElementRef<'_>> {
        doc.select(&scraper::Selector::parse(css).unwrap())
            .collect()
    };
    let text_of = |e: &scraper::ElementRef<'_>| e.text().collect::<String>();
    assert_eq!(
        select("head > title")
            .iter()
            .map(text_of)
            .collect::<Vec<_>>(),
        ["Timelines: 2 runs"]
    );
    let sections = select("section");
    assert_eq!(sections.len(), 2, "{html}");
    let heading = |s: &scraper::ElementRef<'_>| {
        text_of(
            &s.select(&scraper::Selector::parse("h2").unwrap())
                .next()
                .unwrap(),
        )
    };
    assert_eq!(
        heading(&sections[0]),
        "1. db-failover: Fail the database over to the replica"
    );
    assert_eq!(
        heading(&sections[1]),
        "2. cache-flush: Flush the edge cache"
    );
    let body0 = text_of(&sections[0]);
    let body1 = text_of(&sections[1]);
    assert!(body0.contains("[primary_health] PASSED") && !body0.contains("hit_ratio"));
    assert!(body1.contains("[hit_ratio] FAILED") && !body1.contains("primary_health"));
    for body in [&body0, &body1] {
        assert!(
            body.contains("Time to mitigate"),
            "a summary per run: {body}"
        );
    }
    assert_eq!(sections[0].value().attr("id"), Some("run-1"));
}

#[test]
fn json_has_one_entry_per_run_under_runs() {
    let out = three_runs();
    let ids = [
        run_id(&out, "failover.jsonl"),
        run_id(&out, "cache.jsonl"),
        run_id(&out, "failover-again.jsonl"),
    ];
    let (out, text) = timeline(
        out,
        &[
            "failover-again.jsonl",
            "cache.jsonl",
            "failover.jsonl",
            "--format",
            "json",
        ],
    );
    let report: Json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3, "{text}");
    let names: Vec<&str> = runs
        .iter()
        .map(|r| r["runbook"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["db-failover", "cache-flush", "db-failover"]);
    let run_ids: Vec<&str> = runs.iter().map(|r| r["run_id"].as_str().unwrap()).collect();
    assert_eq!(run_ids, ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(report["run_ids"], serde_json::json!(ids));
    // Each run has its own title, file, steps, outcome and times.
    assert_eq!(runs[1]["title"], "Flush the edge cache");
    assert_eq!(runs[1]["file"], "cache.yaml");
    let steps = |r: &Json| -> Vec<(String, String)> {
        r["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                assert_eq!(s["run_id"], r["run_id"], "{s}");
                (
                    s["step"].as_str().unwrap().to_string(),
                    s["outcome"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        steps(&runs[0]),
        [
            pair("primary_health", "passed"),
            pair("replica_lag", "passed")
        ]
    );
    assert_eq!(
        steps(&runs[1]),
        [
            pair("hit_ratio", "failed"),
            pair("purge_eu", "skipped"),
            pair("purge_all", "passed")
        ]
    );
    assert_eq!(
        runs[0]["steps"][0]["attempt"], 3,
        "passed on its third attempt"
    );
    assert_eq!(
        runs[2]["steps"][0]["attempt"], 1,
        "the second failover passed at once"
    );
    for (i, run) in runs.iter().enumerate() {
        assert_eq!(run["summary"]["outcome"], "completed", "{run}");
        assert_eq!(
            run["steps"][0]["number"], 1,
            "numbered within the run: {run}"
        );
        let started: jiff::Timestamp = run["started"].as_str().unwrap().parse().unwrap();
        let ended: jiff::Timestamp = run["ended"].as_str().unwrap().parse().unwrap();
        assert!(started <= ended, "{run}");
        let duration = run["summary"]["duration_ms"].as_i64().unwrap();
        assert_eq!(
            duration,
            ended.duration_since(started).as_millis() as i64,
            "a run's duration is its own: {run}"
        );
        if let Some(next) = runs.get(i + 1) {
            let next: jiff::Timestamp = next["started"].as_str().unwrap().parse().unwrap();
            assert!(started <= next, "runs in the order they started");
        }
    }
    assert_eq!(runs[1]["summary"]["actions_taken"], 1);
    assert_eq!(runs[1]["summary"]["time_to_detect_ms"], Json::Null);
    assert!(
        runs[1]["summary"]["time_to_mitigate_ms"].is_u64(),
        "{}",
        runs[1]
    );
    assert_eq!(runs[1]["milestones"][0]["text"], "mitigated");
    assert_eq!(runs[0]["milestones"][0]["text"], "detected");

    // The top level: different runbooks share no name; counts add up; every event is there.
    assert_eq!(report["runbook"], Json::Null);
    assert_eq!(report["title"], Json::Null);
    assert_eq!(report["summary"]["steps_run"], 2 + 2 + 2);
    assert_eq!(report["summary"]["actions_taken"], 1);
    assert_eq!(report["summary"]["outcome"], Json::Null);
    assert_eq!(report["steps"].as_array().unwrap().len(), 2 + 3 + 2);
    let events = report["events"].as_array().unwrap();
    let recorded: usize = ["failover.jsonl", "cache.jsonl", "failover-again.jsonl"]
        .iter()
        .map(|t| parse_timeline(&std::fs::read_to_string(out.path(t)).unwrap()).len())
        .sum();
    assert_eq!(events.len(), recorded, "every event of every run");
}

#[test]
fn two_runs_of_one_runbook_stay_two() {
    let out = three_runs();
    let ids = [
        run_id(&out, "failover.jsonl"),
        run_id(&out, "failover-again.jsonl"),
    ];
    let (out, md) = timeline(
        out,
        &[
            "failover.jsonl",
            "failover-again.jsonl",
            "--format",
            "markdown",
            "--tz",
            "UTC",
        ],
    );
    for (n, id) in ids.iter().enumerate() {
        assert!(
            md.contains(&format!(
                "| {} | `db-failover` | Fail the database over to the replica | `{id}` |",
                n + 1
            )),
            "{md}"
        );
    }
    // The first run retried its health check, the second did not.
    let halves: Vec<&str> = md.split("\n## 2. ").collect();
    assert_eq!(halves.len(), 2, "{md}");
    assert_eq!(
        halves[0].matches("[primary_health] attempt ").count(),
        2,
        "{md}"
    );
    assert_eq!(
        halves[1].matches("[primary_health] attempt ").count(),
        0,
        "{md}"
    );

    let (_, text) = timeline(
        out,
        &["failover.jsonl", "failover-again.jsonl", "--format", "json"],
    );
    let report: Json = serde_json::from_str(&text).unwrap();
    // One runbook: the top level keeps its name.
    assert_eq!(report["runbook"], "db-failover");
    assert_eq!(report["runs"].as_array().unwrap().len(), 2);
}

#[test]
fn a_drill_and_a_real_run_are_reported_apart() {
    // What an on-call engineer hands the postmortem: last week's drill of lb-502 and tonight's
    // real run of another runbook.
    let runbook = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/lb-502.yaml");
    let drill = Test::new()
        .args([
            "drill",
            runbook.to_str().unwrap(),
            "--timeline-dir",
            "drills",
        ])
        .run()
        .status(0);
    let drill_timeline = std::fs::read_dir(drill.path("drills"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .expect("the drill wrote a timeline");
    let server = Server::start();
    server.sequence("/health", [200]);
    let real = drill
        .then()
        .server(&server)
        .write("failover.yaml", FAILOVER)
        .args(["run", "failover.yaml", "--timeline", "real.jsonl"])
        .run()
        .status(0);
    let (_, text) = timeline(
        real,
        &[
            "real.jsonl",
            drill_timeline.to_str().unwrap(),
            "--format",
            "junit",
        ],
    );
    let doc = resvg::usvg::roxmltree::Document::parse(&text).unwrap();
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 2, "{text}");
    assert_eq!(suites[0].attribute("name"), Some("runbook.lb-502"));
    assert_eq!(suites[1].attribute("name"), Some("runbook.db-failover"));
    let classnames = |suite: &resvg::usvg::roxmltree::Node| -> Vec<String> {
        suite
            .children()
            .filter(|c| c.has_tag_name("testcase"))
            .map(|c| c.attribute("classname").unwrap().to_string())
            .collect()
    };
    let lb = classnames(&suites[0]);
    assert!(
        lb.len() > 10 && lb.iter().all(|c| c == "runbook.lb-502"),
        "{lb:?}"
    );
    assert_eq!(classnames(&suites[1]), ["runbook.db-failover"; 2]);
    assert_eq!(
        doc.root_element().attribute("name"),
        Some("runbook lb-502, db-failover")
    );
}

fn fixture(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/report")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn each_run_has_its_own_charts_and_a_resumed_run_stays_one() {
    // Two runs of lb-502 half an hour apart; the second was blocked and resumed from a second
    // file: two runs, not three.
    let html = Test::new()
        .args([
            "timeline",
            &fixture("lb-502-resumed.jsonl"),
            &fixture("lb-502.jsonl"),
            &fixture("lb-502-blocked.jsonl"),
            "--format",
            "html",
            "--tz",
            "America/New_York",
        ])
        .run()
        .status(0)
        .stdout;
    let doc = scraper::Html::parse_document(&html);
    assert!(doc.errors.is_empty(), "{:?}", doc.errors);
    let sel = |css: &str| scraper::Selector::parse(css).unwrap();
    let sections: Vec<_> = doc.select(&sel("section")).collect();
    assert_eq!(sections.len(), 2, "{html}");
    // The first run took 1.9 s from 08:02:39, the second (blocked at 08:30, resumed at 09:20)
    // about 50 minutes: each chart's time axis spans its own run, not both, in clock times.
    let axes: Vec<Vec<(String, String)>> = sections
        .iter()
        .map(|s| {
            s.select(&sel("svg"))
                .map(|svg| {
                    let ticks: Vec<String> = svg
                        .select(&sel("text.tick"))
                        .map(|t| t.text().collect())
                        .collect();
                    (ticks[0].clone(), ticks.last().unwrap().clone())
                })
                .collect()
        })
        .collect();
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(axes[0], vec![pair("08:02:39.2", "08:02:41.0"); 4], "{html}");
    assert_eq!(axes[1], vec![pair("08:35", "09:20"); 4], "{html}");
    let second: String = sections[1].text().collect();
    assert!(second.contains("run resumed by alice@oncall"), "{second}");
    assert!(second.contains("20201116T133005Z-7a3f21"), "{second}");
}
