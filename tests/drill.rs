//! `runbook drill` as a real process: the shipped runbook passes the default drill and every
//! built-in scenario, deliberately wrong runbooks fail, and every drill leaves its timeline.
//!
//! Every drill gets `--timeline-dir` in a temporary directory, so nothing is written into the
//! repository even when the drill runs there.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

use crate::sim::{Out, fixture, run};
use crate::support::parse_timeline;

const BUILT_IN: [&str; 8] = [
    "classlink-2020",
    "cpu-saturation",
    "bad-nodes",
    "provider-outage",
    "healthy",
    "lb-hang",
    "conn-close",
    "metrics-blind",
];

/// One drill: the default scenario takes about 2 s in debug, a wrong runbook a few seconds.
const DRILL_DEADLINE: Duration = Duration::from_secs(60);
/// `--all` takes about 16 s in debug; leave room for a loaded machine.
const ALL_DEADLINE: Duration = Duration::from_secs(150);

fn tempdir() -> TempDir {
    tempfile::Builder::new()
        .prefix("runbook-drill")
        .tempdir()
        .unwrap()
}

fn drill(cwd: &Path, args: &[&str], deadline: Duration) -> Out {
    let mut full = vec!["drill"];
    full.extend_from_slice(args);
    run(cwd, &full, deadline)
}

/// The timelines (`*.jsonl`) in `dir`, each checked to be whole JSON lines ending with
/// `run_finished`.
fn timelines(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    for file in &files {
        let events = parse_timeline(&std::fs::read_to_string(file).unwrap());
        assert!(!events.is_empty(), "{} is empty", file.display());
        assert_eq!(
            events.last().unwrap()["event"],
            "run_finished",
            "{} does not end with run_finished",
            file.display()
        );
    }
    files
}

fn file_names(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// The verdict: stdout from the last line that names the scenario and the verdict on (the
/// step lines before it have their own PASSED/FAILED).
fn verdict(out: &Out, scenario: &str, word: &str) -> String {
    let lines: Vec<&str> = out.stdout.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| l.contains(scenario) && l.contains(word))
        .unwrap_or_else(|| panic!("no verdict {word} for {scenario}\n{}", out.context()));
    lines[start..].join("\n")
}

/// The text between `after` and the next `;` on the line that has `after`.
fn field<'a>(out: &'a Out, after: &str) -> &'a str {
    let line = out.line(&[after]);
    let rest = &line[line.find(after).unwrap() + after.len()..];
    rest.split(';').next().unwrap().trim()
}

// ------------------------------------------------------------------ the shipped runbook

#[test]
fn default_drill_uses_the_embedded_runbook_and_passes_classlink() {
    // An empty working directory: no runbooks/lb-502.yaml there, so the embedded one runs.
    let dir = tempdir();
    let out = drill(dir.path(), &["--timeline-dir", "drills"], DRILL_DEADLINE);
    out.code(0);
    let verdict = verdict(&out, "classlink-2020", "PASSED");
    assert!(!verdict.contains("FAIL"), "{}", out.context());
    // The verdict tells the time from the first failing check to recovery.
    let recovery = field(&out, "recovery:");
    assert!(
        recovery.chars().any(|c| c.is_ascii_digit()),
        "no recovery time: {recovery:?}\n{}",
        out.context()
    );
    let files = timelines(&dir.path().join("drills"));
    assert_eq!(files.len(), 1, "{files:?}\n{}", out.context());
    assert!(
        file_names(&files)[0].contains("classlink-2020"),
        "{files:?}"
    );
    // Nothing else was written in the working directory.
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(entries, ["drills"], "{entries:?}");
}

#[test]
fn default_drill_in_the_repository_passes_classlink() {
    // In the repository, the drill finds runbooks/lb-502.yaml; the timeline goes elsewhere.
    let timelines_dir = tempdir();
    let out = drill(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["--timeline-dir", timelines_dir.path().to_str().unwrap()],
        DRILL_DEADLINE,
    );
    out.code(0);
    out.line(&["PASSED", "classlink-2020"]);
    assert!(out.stderr.contains("lb-502"), "{}", out.context());
    assert_eq!(timelines(timelines_dir.path()).len(), 1);
}

#[test]
fn shipped_runbook_passes_every_built_in_scenario_with_junit() {
    let dir = tempdir();
    let junit = dir.path().join("report/drills.xml");
    let out = drill(
        dir.path(),
        &[
            "--all",
            "--junit",
            junit.to_str().unwrap(),
            "--timeline-dir",
            "drills",
        ],
        ALL_DEADLINE,
    );
    out.code(0);

    // The table: scenario, verdict, steps run, actions taken, time to recover.
    let header = out
        .stdout
        .lines()
        .find(|l| l.to_lowercase().contains("scenario"))
        .unwrap_or_else(|| panic!("no table header\n{}", out.context()))
        .to_lowercase();
    for column in ["scenario", "verdict", "steps", "actions", "recover"] {
        assert!(header.contains(column), "no {column} column in {header:?}");
    }
    for name in BUILT_IN {
        let row: Vec<&str> = out.line(&[name]).split_whitespace().collect();
        assert_eq!(row[0], name, "{row:?}");
        assert_eq!(row[1], "PASS", "{name}: {row:?}\n{}", out.context());
    }
    assert!(!out.stdout.contains("FAIL"), "{}", out.context());
    // Where nothing is wrong, the right runbook takes no action at all.
    let healthy: Vec<&str> = out.line(&["healthy"]).split_whitespace().collect();
    assert_eq!(healthy[3], "0", "actions taken in healthy: {healthy:?}");

    // JUnit: one testcase per scenario, none failed.
    let xml = std::fs::read_to_string(&junit)
        .unwrap_or_else(|e| panic!("no JUnit report at {}: {e}", junit.display()));
    assert_eq!(xml.matches("<testcase").count(), BUILT_IN.len(), "{xml}");
    for name in BUILT_IN {
        assert!(xml.contains(&format!("name=\"{name}\"")), "{name}: {xml}");
    }
    assert!(!xml.contains("<failure"), "{xml}");
    assert!(!xml.contains("<error"), "{xml}");

    // A timeline per drill.
    let names = file_names(&timelines(&dir.path().join("drills")));
    assert_eq!(names.len(), BUILT_IN.len(), "{names:?}");
    for name in BUILT_IN {
        assert!(
            names.iter().any(|n| n.contains(name)),
            "no timeline for {name}: {names:?}"
        );
    }
}

#[test]
fn shipped_runbook_passes_a_scenario_file() {
    let dir = tempdir();
    let scenario = fixture("quiet.yaml");
    let out = drill(
        dir.path(),
        &[
            "--scenario",
            scenario.to_str().unwrap(),
            "--timeline-dir",
            "drills",
        ],
        DRILL_DEADLINE,
    );
    out.code(0);
    out.line(&["PASSED", "quiet-night"]);
    assert_eq!(timelines(&dir.path().join("drills")).len(), 1);
}

#[test]
fn drill_rejects_an_invalid_scenario_file_with_its_location() {
    let dir = tempdir();
    let scenario = fixture("unknown-key.yaml");
    let out = drill(
        dir.path(),
        &[
            "--scenario",
            scenario.to_str().unwrap(),
            "--timeline-dir",
            "drills",
        ],
        DRILL_DEADLINE,
    );
    out.code(2);
    let expected = format!(
        "{}:8:1: unknown key `lattency` in the scenario (did you mean `latency`?)",
        scenario.display()
    );
    assert!(out.stderr.contains(&expected), "{}", out.context());
    assert!(timelines(&dir.path().join("drills")).is_empty());
}

#[test]
fn drill_rejects_an_unknown_scenario_name() {
    let dir = tempdir();
    let out = drill(
        dir.path(),
        &["--scenario", "no-such-scenario", "--timeline-dir", "drills"],
        DRILL_DEADLINE,
    );
    out.code(2);
    assert!(out.stderr.contains("no-such-scenario"), "{}", out.context());
}

// ------------------------------------------------------------------ wrong runbooks

/// A drill gives the simulator's endpoints as vars, so a runbook that declares them with `~`
/// (to be given with --vars in production) drills as it is.
#[test]
fn vars_declared_with_tilde_are_given_by_the_drill() {
    let dir = tempdir();
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/lb-502.yaml"))
            .unwrap();
    let mut required = String::new();
    for line in shipped.lines() {
        // `  api_lb: http://127.0.0.1:8080/lb/api` becomes `  api_lb: ~`.
        match line.split_once(": http://127.0.0.1:8080/") {
            Some((key, _)) => required.push_str(&format!("{key}: ~\n")),
            None => required.push_str(&format!("{line}\n")),
        }
    }
    assert!(required.contains("  api_lb: ~\n"), "{required}");
    let runbook = dir.path().join("required.yaml");
    std::fs::write(&runbook, &required).unwrap();
    let out = drill(
        dir.path(),
        &[runbook.to_str().unwrap(), "--timeline-dir", "drills"],
        DRILL_DEADLINE,
    );
    out.code(0);
    out.line(&["PASSED", "classlink-2020"]);
}

/// A `range:` prometheus step, aimed at the endpoint itself, drills like an instant one: the
/// confinement lets `/api/v1/query_range` of the simulator through, and the simulator answers it.
#[test]
fn a_range_query_drills_against_the_simulator() {
    let dir = tempdir();
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/lb-502.yaml"))
            .unwrap();
    let instant = "    prometheus:\n      url: \"{{ vars.prometheus }}\"\n      query: max by (group) (node_cpu_utilization)\n";
    assert!(
        shipped.contains(instant),
        "lb-502.yaml changed its CPU check"
    );
    let ranged = shipped.replace(
        instant,
        "    prometheus:\n      url: \"{{ vars.prometheus }}/api/v1/query\"\n      query: max by (group) (node_cpu_utilization)\n      range: 5m\n      step: 15s\n",
    );
    let runbook = dir.path().join("ranged.yaml");
    std::fs::write(&runbook, &ranged).unwrap();
    let out = drill(
        dir.path(),
        &[runbook.to_str().unwrap(), "--timeline-dir", "drills"],
        DRILL_DEADLINE,
    );
    out.code(0);
    out.line(&["PASSED", "classlink-2020"]);
    let timeline = std::fs::read_to_string(&timelines(&dir.path().join("drills"))[0]).unwrap();
    let cpu: serde_json::Value = timeline
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event"] == "step_finished" && e["step"] == "check_cpu")
        .expect("check_cpu finished");
    assert_eq!(cpu["data"]["result_type"], "matrix", "{cpu}");
    assert_eq!(
        cpu["data"]["values"][0]["samples"].as_array().map(Vec::len),
        Some(1),
        "{cpu}"
    );
}

#[test]
fn reprovisioning_only_fails_classlink() {
    let dir = tempdir();
    let runbook = fixture("reprovision-only.yaml");
    let junit = dir.path().join("drill.xml");
    let out = drill(
        dir.path(),
        &[
            runbook.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
            "--timeline-dir",
            "drills",
        ],
        DRILL_DEADLINE,
    );
    out.code(1);
    // The load balancers still serve 502s from their stale configuration.
    let verdict = verdict(&out, "classlink-2020", "FAILED");
    assert!(
        verdict
            .lines()
            .any(|l| l.contains("FAIL") && l.contains("502")),
        "{}",
        out.context()
    );
    assert!(
        !out.stdout
            .lines()
            .any(|l| l.contains("PASSED") && l.contains("classlink-2020")),
        "{}",
        out.context()
    );

    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase").count(), 1, "{xml}");
    assert!(xml.contains("name=\"classlink-2020\""), "{xml}");
    let failure = &xml[xml
        .find("<failure")
        .unwrap_or_else(|| panic!("no failure: {xml}"))..];
    assert!(
        failure[..failure.find('>').unwrap()].contains("502"),
        "{xml}"
    );

    let names = file_names(&timelines(&dir.path().join("drills")));
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].contains("classlink-2020"), "{names:?}");
}

#[test]
fn a_failed_drill_claims_no_recovery_time() {
    let dir = tempdir();
    let runbook = fixture("reprovision-only.yaml");
    let out = drill(
        dir.path(),
        &[runbook.to_str().unwrap(), "--timeline-dir", "drills"],
        DRILL_DEADLINE,
    );
    out.code(1);
    // The LBs still serve 30-40% 502s: there was no recovery to time.
    let recovery = field(&out, "recovery:");
    assert!(
        !recovery.chars().any(|c| c.is_ascii_digit()),
        "a recovery time for a drill that did not recover: {recovery:?}\n{}",
        out.context()
    );
}

#[test]
fn blind_refresh_fails_healthy() {
    let dir = tempdir();
    let runbook = fixture("blind-refresh.yaml");
    let out = drill(
        dir.path(),
        &[
            runbook.to_str().unwrap(),
            "--scenario",
            "healthy",
            "--timeline-dir",
            "drills",
        ],
        DRILL_DEADLINE,
    );
    out.code(1);
    // Nothing was wrong, yet it called the admin API.
    let verdict = verdict(&out, "healthy", "FAILED");
    assert!(
        verdict
            .lines()
            .any(|l| l.contains("FAIL") && l.contains("admin request")),
        "{}",
        out.context()
    );
    assert!(
        !out.stdout
            .lines()
            .any(|l| l.contains("PASSED") && l.contains("healthy")),
        "{}",
        out.context()
    );

    let names = file_names(&timelines(&dir.path().join("drills")));
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].contains("healthy"), "{names:?}");
}

// ------------------------------------------------------------------ how the run must end

/// Drills `runbook` (a fixture) against the `exporters-down` scenario file, whose success is
/// `no_admin_request` and `run_outcome: [failed, blocked]`.
fn drill_exporters_down(runbook: &str) -> Out {
    let dir = tempdir();
    let runbook = fixture(runbook);
    let scenario = fixture("exporters-down.yaml");
    drill(
        dir.path(),
        &[
            runbook.to_str().unwrap(),
            "--scenario",
            scenario.to_str().unwrap(),
            "--timeline-dir",
            "drills",
        ],
        DRILL_DEADLINE,
    )
}

#[test]
fn run_outcome_passes_a_drill_whose_run_fails_for_want_of_evidence() {
    let out = drill_exporters_down("needs-cpu.yaml");
    out.code(0);
    let verdict = verdict(&out, "exporters-down", "PASSED");
    assert!(
        verdict.lines().any(|l| l.contains("pass")
            && l.contains("the run ended failed or blocked")
            && l.contains("found: run failed (exit 1)")),
        "{}",
        out.context()
    );
    // The stated outcome replaces the implicit one: a failed run is what passes here.
    assert!(!verdict.contains("the run completed"), "{}", out.context());
    assert!(!verdict.contains("FAIL "), "{}", out.context());
    // Stopping for want of evidence is not a recovery: no time to recovery is claimed.
    let recovery = field(&out, "recovery:");
    assert!(
        !recovery.chars().any(|c| c.is_ascii_digit()),
        "a recovery time for a run that stopped short: {recovery:?}\n{}",
        out.context()
    );
}

#[test]
fn run_outcome_fails_a_drill_whose_run_completes() {
    let out = drill_exporters_down("trusts-silence.yaml");
    out.code(1);
    let verdict = verdict(&out, "exporters-down", "FAILED");
    assert!(
        verdict.lines().any(|l| l.contains("FAIL")
            && l.contains("the run ended failed or blocked")
            && l.contains("found: run completed (exit 0)")),
        "{}",
        out.context()
    );
    assert!(!verdict.contains("the run completed"), "{}", out.context());
}
