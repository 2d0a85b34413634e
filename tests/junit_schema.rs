//! The JUnit that `runbook` writes, checked by the readers CI systems use (issue 13): valid
//! against the Jenkins xUnit plugin's `junit-10.xsd` (tests/fixtures/junit/, validated by
//! Python's `xmlschema`), read the way GitLab reads it, and converted by junit2html — for runs
//! that passed, failed, skipped, errored, blocked, retried, and several runs in one document.
//! Every timeline comes from a real run of the binary against the test server.

use std::path::{Path, PathBuf};

use resvg::usvg::roxmltree::Document;

use crate::support::*;

/// Every verdict a step can get, in one runbook: passes, passes on its third attempt, fails
/// both attempts, fails its expectation, cannot start (error), skipped by `when`, and an
/// action that blocks a run without `--yes`.
const MIX: &str = r#"
    name: junit-mix
    title: Every verdict a JUnit reader shows
    steps:
      - id: healthy
        title: The service answers
        action: false
        command: {argv: [echo, ok]}
      - id: flaky
        title: The health check recovers
        http: {url: "$SERVER/flaky"}
        retry: {attempts: 3, delay: 10ms}
      - id: still_down
        title: The replica recovers
        http: {url: "$SERVER/down"}
        retry: {attempts: 2, delay: 10ms}
        on_fail: continue
      - id: error_rate
        title: The error rate is low
        action: false
        command: {argv: [echo, "0.4"]}
        expect: json < 0.02
        on_fail: continue
      - id: broken
        title: A tool that is not installed
        action: false
        command: {argv: [/nonexistent/tool]}
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

/// A runbook that passes.
const PASS: &str = r#"
    name: junit-pass
    title: All is well
    steps:
      - id: ping
        title: The service answers
        http: {url: "$SERVER/ok"}
      - id: lag
        title: The replica is in sync
        action: false
        command: {argv: [echo, "0"]}
    "#;

/// Real runs in one directory, each with its own timeline and `run --junit` document:
/// `mix` (blocked at `restart`, exit 4), `dry` (the same runbook under `--dry-run`, which
/// completes),
/// `pass`, `pass-again` (the same runbook a second time).
fn runs() -> Output {
    let server = Server::start();
    server.sequence("/flaky", [503, 503, 200]);
    server.sequence("/down", [503]);
    server.sequence("/ok", [200]);
    let out = Test::new()
        .server(&server)
        .write("mix.yaml", MIX)
        .write("pass.yaml", PASS)
        .args(["run", "mix.yaml", "--timeline", "mix.jsonl"])
        .args(["--junit", "run/mix.xml"])
        .run()
        .stderr_has("error: run blocked: action `restart` needs confirmation")
        .status(4);
    server.sequence("/flaky", [503, 503, 200]);
    let out = out
        .then()
        .args(["run", "mix.yaml", "--dry-run", "--timeline", "dry.jsonl"])
        .args(["--junit", "run/dry.xml"])
        .run()
        .status(0);
    let out = out
        .then()
        .args(["run", "pass.yaml", "--timeline", "pass.jsonl"])
        .args(["--junit", "run/pass.xml"])
        .run()
        .status(0);
    out.then()
        .args(["run", "pass.yaml", "--timeline", "pass-again.jsonl"])
        .run()
        .status(0)
}

/// `runbook timeline TIMELINES... --format junit --output junit/NAME.xml`.
fn render(out: Output, name: &str, timelines: &[&str]) -> Output {
    let path = format!("junit/{name}.xml");
    out.then()
        .args(["timeline"])
        .args(timelines.iter().copied())
        .args(["--format", "junit", "--output", &path])
        .run()
        .status(0)
}

/// Validates every file against junit-10.xsd with `xmlschema`; panics with each error.
fn validate(files: &[PathBuf]) {
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit/junit-10.xsd");
    let script = "import sys, xmlschema\n\
                  schema = xmlschema.XMLSchema(sys.argv[1])\n\
                  bad = 0\n\
                  for path in sys.argv[2:]:\n\
                  \x20   for e in schema.iter_errors(path):\n\
                  \x20       bad += 1\n\
                  \x20       print(f'{path}: {e.path}: {e.reason}')\n\
                  \x20   print(f'{path}: checked')\n\
                  sys.exit(1 if bad else 0)\n";
    let output = std::process::Command::new(venv_program("python"))
        .arg("-c")
        .arg(script)
        .arg(&xsd)
        .args(files)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "not valid against junit-10.xsd:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Every file was checked, none skipped.
    assert_eq!(
        stdout.matches(": checked\n").count(),
        files.len(),
        "{stdout}"
    );
}

/// A testcase as GitLab reads it (lib/gitlab/ci/parsers/test/junit.rb): the suite's name,
/// `classname`, `name`, `time`, and the status from the first of `failure`, `error`,
/// `skipped` the testcase has (`success` with none), with that element's text as its output.
#[derive(Debug)]
struct GitLabCase {
    suite: String,
    classname: String,
    name: String,
    time: f64,
    status: &'static str,
    output: String,
}

/// Reads testcases as GitLab does: one top-level `testsuites`, then `testsuite`s, then their
/// `testcase`s.
fn gitlab(xml: &str) -> Vec<GitLabCase> {
    let doc = Document::parse(xml).unwrap_or_else(|e| panic!("not XML ({e}):\n{xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites", "{xml}");
    let mut cases = Vec::new();
    for suite in root.children().filter(|c| c.has_tag_name("testsuite")) {
        for case in suite.children().filter(|c| c.has_tag_name("testcase")) {
            let (status, output) = [
                ("failure", "failed"),
                ("error", "error"),
                ("skipped", "skipped"),
            ]
            .iter()
            .find_map(|(tag, status)| {
                case.children()
                    .find(|c| c.has_tag_name(*tag))
                    .map(|e| (*status, e.text().unwrap_or_default().to_string()))
            })
            .unwrap_or(("success", String::new()));
            let attr = |a| case.attribute(a).unwrap_or_default().to_string();
            cases.push(GitLabCase {
                suite: suite.attribute("name").unwrap_or_default().to_string(),
                classname: attr("classname"),
                name: attr("name"),
                time: attr("time")
                    .parse()
                    .unwrap_or_else(|e| panic!("time of {} ({e}): {xml}", attr("name"))),
                status,
                output,
            });
        }
    }
    cases
}

/// The `system-out` of the testcase whose name ends with `title`.
fn system_out(xml: &str, title: &str) -> String {
    let doc = Document::parse(xml).unwrap();
    let case = doc
        .descendants()
        .find(|n| {
            n.has_tag_name("testcase") && n.attribute("name").is_some_and(|a| a.ends_with(title))
        })
        .unwrap_or_else(|| panic!("no testcase {title}: {xml}"));
    case.children()
        .find(|c| c.has_tag_name("system-out"))
        .and_then(|c| c.text())
        .unwrap_or_default()
        .to_string()
}

#[test]
fn junit_is_valid_against_junit_10_xsd_and_reads_in_gitlab_and_junit2html() {
    let out = runs();
    let out = render(out, "mix", &["mix.jsonl"]);
    let out = render(out, "dry", &["dry.jsonl"]);
    let out = render(out, "pass", &["pass.jsonl"]);
    let out = render(out, "multi", &["pass.jsonl", "mix.jsonl", "dry.jsonl"]);
    let out = render(out, "twice", &["pass.jsonl", "pass-again.jsonl"]);
    // `runbook drill --junit` writes one testcase per scenario, through the same writer.
    let lb_502 = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/lb-502.yaml");
    let out = out
        .then()
        .args([
            "drill",
            lb_502.to_str().unwrap(),
            "--junit",
            "junit/drill.xml",
        ])
        .args(["--timeline-dir", "drills"])
        .run()
        .status(0);
    let names = ["mix", "dry", "pass", "multi", "twice", "drill"];
    let mut files: Vec<PathBuf> = names
        .iter()
        .map(|n| out.path(&format!("junit/{n}.xml")))
        .collect();
    files.extend(["mix", "dry", "pass"].map(|n| out.path(&format!("run/{n}.xml"))));
    validate(&files);
    let read = |name: &str| std::fs::read_to_string(out.path(name)).unwrap();

    // `run --junit` writes what `timeline --format junit` renders of its timeline.
    for n in ["mix", "dry", "pass"] {
        assert_eq!(
            read(&format!("run/{n}.xml")),
            read(&format!("junit/{n}.xml"))
        );
    }

    // Every verdict, as GitLab shows it.
    let mix = read("junit/mix.xml");
    let verdicts: Vec<(String, &str)> = gitlab(&mix)
        .iter()
        .map(|c| (c.name.clone(), c.status))
        .collect();
    let expected = [
        ("01 The service answers", "success"),
        ("02 The health check recovers", "success"),
        ("03 The replica recovers", "failed"),
        ("04 The error rate is low", "failed"),
        ("05 A tool that is not installed", "error"),
        ("06 Only when asked", "skipped"),
        ("07 Restart the service", "error"),
    ];
    assert_eq!(verdicts, expected.map(|(n, s)| (n.to_string(), s)), "{mix}");
    for case in gitlab(&mix) {
        assert_eq!(case.suite, "runbook.junit-mix");
        assert_eq!(case.classname, "runbook.junit-mix");
        assert!(case.time >= 0.0);
        if case.status == "failed" || case.status == "error" {
            assert!(!case.output.is_empty(), "GitLab shows why: {case:?}");
        }
    }
    let dry = gitlab(&read("junit/dry.xml"));
    assert_eq!(
        dry.last().map(|c| c.status),
        Some("skipped"),
        "a dry-run action is skipped"
    );

    // The suite: how long, when (UTC, as xs:dateTime without a zone) and where.
    let doc = Document::parse(&mix).unwrap();
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    let time: f64 = suite.attribute("time").unwrap().parse().unwrap();
    assert!(time > 0.0, "{mix}");
    let timestamp = suite.attribute("timestamp").unwrap();
    let started = parse_timeline(&read("mix.jsonl"))[0]["ts"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(timestamp, &started[..19], "the run's start, to the second");
    assert!(!suite.attribute("hostname").unwrap_or_default().is_empty());
    assert!(doc.root_element().attribute("skipped").is_none(), "{mix}");

    let drill = read("junit/drill.xml");
    let doc = Document::parse(&drill).unwrap();
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    for attribute in ["time", "timestamp", "hostname"] {
        assert!(suite.attribute(attribute).is_some(), "{attribute}: {drill}");
    }

    // A step that passed after failed attempts says so, and so does one that never passed.
    let flaky = system_out(&mix, "The health check recovers");
    let said = flaky.lines().nth(1).unwrap_or_default();
    assert!(
        said.starts_with(
            "passed on attempt 3 of 3; earlier attempts: attempt 1 failed: 503 Service Unavailable"
        ) && said.contains("; attempt 2 failed: 503 Service Unavailable"),
        "{flaky}"
    );
    let down = system_out(&mix, "The replica recovers");
    assert!(
        down.contains(
            "\nfailed on attempt 2 of 2; earlier attempts: attempt 1 failed: 503 Service Unavailable"
        ),
        "{down}"
    );
    assert_eq!(mix.matches("<flakyFailure ").count(), 2, "{mix}");
    assert_eq!(mix.matches("<rerunFailure ").count(), 1, "{mix}");

    // Several runs: a testsuite each, named by its runbook, in the order they started.
    let multi = read("junit/multi.xml");
    let doc = Document::parse(&multi).unwrap();
    let suites: Vec<(&str, &str)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .map(|n| (n.attribute("name").unwrap(), n.attribute("tests").unwrap()))
        .collect();
    // Two runs of junit-mix: the run id tells them apart.
    let ids: Vec<String> = ["mix.jsonl", "dry.jsonl"]
        .iter()
        .map(|t| {
            parse_timeline(&read(t))[0]["run_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        suites,
        [
            (format!("runbook.junit-mix (run {})", ids[0]).as_str(), "7"),
            (format!("runbook.junit-mix (run {})", ids[1]).as_str(), "7"),
            ("runbook.junit-pass", "2"),
        ],
        "{multi}"
    );
    let cases = gitlab(&multi);
    assert_eq!(cases.len(), 7 + 7 + 2);
    assert!(
        cases[14..]
            .iter()
            .all(|c| c.classname == "runbook.junit-pass")
    );
    assert_eq!(
        doc.root_element().attribute("name"),
        Some("runbook junit-mix, junit-pass")
    );
    let twice = read("junit/twice.xml");
    assert_eq!(
        Document::parse(&twice)
            .unwrap()
            .descendants()
            .filter(|n| n.has_tag_name("testsuite"))
            .count(),
        2,
        "{twice}"
    );

    // junit2html turns each into a page that shows the steps and what the retries said.
    let junit2html = venv_program("junit2html");
    for name in names {
        let xml = out.path(&format!("junit/{name}.xml"));
        let html = out.path(&format!("junit/{name}.html"));
        let run = std::process::Command::new(&junit2html)
            .arg(&xml)
            .arg(&html)
            .output()
            .expect("junit2html runs");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "junit2html {name}: {stderr}");
        assert!(!stderr.contains("Traceback"), "{stderr}");
        let page = std::fs::read_to_string(&html).unwrap();
        if name == "mix" || name == "multi" {
            for title in ["The health check recovers", "A tool that is not installed"] {
                assert!(page.contains(title), "{name}: no {title}");
            }
            assert!(page.contains("passed on attempt 3 of 3"), "{name}");
        }
    }
}

#[test]
fn a_ci_run_s_suite_names_the_machine_it_ran_on() {
    // Under CI the actor is `ci`, with no host in it; the run records the machine apart.
    let machine = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let out = Test::new()
        .runbook(
            "name: ci-host\ntitle: CI host\nsteps:\n  - id: wait\n    title: Wait\n    wait: 0s\n",
        )
        .env("CI", "true")
        .args(["run", "--junit", "run.xml"])
        .run()
        .run_outcome("completed", 0);
    assert_eq!(out.events("run_started")[0]["actor"], "ci");
    assert_eq!(out.events("run_started")[0]["host"], machine.as_str());
    let xml = std::fs::read_to_string(out.path("run.xml")).unwrap();
    let doc = Document::parse(&xml).unwrap();
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("hostname"), Some(machine.as_str()), "{xml}");
}
