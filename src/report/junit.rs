//! JUnit XML: one testsuite per run, named by its runbook (`runbook.<name>`), and one
//! testcase per step entry (classname `runbook.<name>`, name `NN <title>`), failures with the
//! expectations and their actual values, skipped and dry-run steps as skipped, times in
//! seconds. Valid against the Jenkins xUnit schema `junit-10.xsd` (tests/fixtures/junit/), which
//! GitLab, junit2html and the other common readers accept.

use std::time::Duration;

use quick_junit::{
    NonSuccessKind, Report as JUnit, TestCase, TestCaseStatus, TestRerun, TestSuite,
};

use super::model::{Report, StepRow};
use super::runs::Runs;
use crate::timeline::Outcome;

pub fn render(runs: &Runs) -> Result<String, String> {
    let mut names: Vec<&str> = Vec::new();
    for r in &runs.runs {
        if !names.contains(&r.name()) {
            names.push(r.name());
        }
    }
    let mut junit = JUnit::new(format!("runbook {}", names.join(", ")));
    let mut total = Duration::ZERO;
    for report in &runs.runs {
        // Two runs of one runbook (a drill and the real thing): the run id tells them apart.
        let shared = runs
            .runs
            .iter()
            .filter(|r| r.name() == report.name())
            .count()
            > 1;
        let suite = suite(report, shared);
        total += suite.time.unwrap_or_default();
        junit.add_test_suite(suite);
    }
    if runs.runs.iter().any(|r| r.summary.duration_ms.is_some()) {
        junit.set_time(total);
    }
    to_xml(&junit)
}

/// The document, as `junit-10.xsd` allows it (`runbook drill --junit` writes through it too).
pub fn to_xml(junit: &JUnit) -> Result<String, String> {
    let xml = junit.to_string().map_err(|e| e.to_string())?;
    Ok(without_root_skipped(xml))
}

/// What CI reporters and the xUnit schema read on a suite: when it started (UTC, `xs:dateTime`
/// without a zone, as the Ant/Jenkins schemas type `timestamp`) and on which host.
pub fn stamp(
    suite: &mut TestSuite,
    started: Option<jiff::Timestamp>,
    host: Option<&str>,
    actor: &str,
) {
    if let Some(started) = started {
        let utc = started.to_zoned(jiff::tz::TimeZone::UTC);
        suite.extra.insert(
            "timestamp".into(),
            utc.strftime("%Y-%m-%dT%H:%M:%S").to_string().into(),
        );
    }
    suite
        .extra
        .insert("hostname".into(), hostname(host, actor).into());
}

/// quick-junit always writes `skipped` on `<testsuites>`, an attribute `junit-10.xsd` does not
/// allow there (each `<testsuite>` keeps its own count). The root tag is the first
/// `<testsuites ` up to the first `>`; attribute values are escaped (`&quot;`, `&gt;`), so
/// neither a `"` nor a `>` of a runbook name can be mistaken for the tag's own.
fn without_root_skipped(xml: String) -> String {
    let Some(start) = xml.find("<testsuites ") else {
        return xml;
    };
    let Some(end) = xml[start..].find('>').map(|e| start + e) else {
        return xml;
    };
    let tag = &xml[start..end];
    let Some(at) = tag.find(" skipped=\"") else {
        return xml;
    };
    let value_start = at + " skipped=\"".len();
    let Some(len) = tag[value_start..].find('"') else {
        return xml;
    };
    let (from, to) = (start + at, start + value_start + len + 1);
    format!("{}{}", &xml[..from], &xml[to..])
}

/// One run as a testsuite.
fn suite(report: &Report, shared: bool) -> TestSuite {
    let name = report.name().to_string();
    let run_id = report.run_ids.first().cloned().unwrap_or_default();
    let mut suite = TestSuite::new(if shared && !run_id.is_empty() {
        format!("runbook.{name} (run {run_id})")
    } else {
        format!("runbook.{name}")
    });
    let width = report.steps.len().to_string().len().max(2);
    for (i, row) in report.steps.iter().enumerate() {
        // A blocked or interrupted entry that a later entry of the same step got past (a
        // resumed run) is history, not an open error.
        let superseded = matches!(row.outcome, Outcome::Blocked | Outcome::Interrupted)
            && report.steps[i + 1..]
                .iter()
                .any(|later| later.step == row.step && later.outcome == Outcome::Passed);
        // quick-junit strips escape sequences, hiding what a system sent: they are shown
        // escaped, as everywhere else.
        let summary = shown(&row.summary);
        let failures: Vec<String> = row.failures.iter().map(|f| shown(f)).collect();
        let message = || {
            if failures.is_empty() {
                summary.clone()
            } else {
                failures.join("; ")
            }
        };
        let mut status = match row.outcome {
            Outcome::Passed => TestCaseStatus::success(),
            Outcome::Failed => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(message());
                s.set_type("expectation");
                s.set_description(format!("{summary}\n{}", failures.join("\n")));
                s
            }
            Outcome::Blocked | Outcome::Interrupted if superseded => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(format!(
                    "{}, then passed when the run went on: {}",
                    row.outcome.as_str(),
                    summary
                ));
                s
            }
            Outcome::Error | Outcome::Blocked | Outcome::Interrupted => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message(message());
                s.set_type(row.outcome.as_str());
                s.set_description(summary.clone());
                s
            }
            Outcome::Skipped | Outcome::DryRun => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(
                    if summary.starts_with("skipped") || summary.starts_with("dry run") {
                        summary.clone()
                    } else {
                        format!("{}: {summary}", row.outcome.as_str())
                    },
                );
                s
            }
        };
        status.add_reruns(reruns(row));
        let mut case = TestCase::new(format!("{:0width$} {}", row.number, row.title), status);
        case.set_classname(format!("runbook.{name}"));
        case.set_time(Duration::from_millis(row.duration_ms));
        let approval = row
            .approval
            .as_ref()
            .map(|a| format!("\n{}", a.describe()))
            .unwrap_or_default();
        case.set_system_out(format!(
            "[{}] {summary}{}{approval}",
            row.step,
            retries(row)
        ));
        suite.add_test_case(case);
    }
    // How long the run took, when it started and where.
    if let Some(ms) = report.summary.duration_ms {
        suite.set_time(Duration::from_millis(ms));
    }
    stamp(
        &mut suite,
        report.started,
        report.host.as_deref(),
        &report.actor,
    );
    if !run_id.is_empty() {
        suite.extra.insert("id".into(), run_id.into());
    }
    suite
}

/// What a retried entry went through, for its `system-out`: readers that show only the
/// output still learn it passed (or failed) only after earlier attempts did not.
fn retries(row: &StepRow) -> String {
    if row.earlier.is_empty() {
        return String::new();
    }
    let of = row
        .attempts_allowed
        .map(|n| format!(" of {n}"))
        .unwrap_or_default();
    let verb = match row.outcome {
        Outcome::Passed => "passed",
        Outcome::Failed => "failed",
        other => other.as_str(),
    };
    let earlier: Vec<String> = row
        .earlier
        .iter()
        .map(|a| {
            format!(
                "attempt {} {}: {}",
                a.attempt,
                a.outcome.as_str(),
                shown(&a.summary)
            )
        })
        .collect();
    format!(
        "\n{verb} on attempt {}{of}; earlier attempts: {}",
        row.attempt,
        earlier.join("; ")
    )
}

/// The earlier attempts as reruns: `<flakyFailure>` on a step that passed in the end,
/// `<rerunFailure>` on one that did not (Maven Surefire's elements, in `junit-10.xsd`). Neither
/// gets a time or timestamp: the schema allows only `message` and `type` on them.
fn reruns(row: &StepRow) -> Vec<TestRerun> {
    row.earlier
        .iter()
        .map(|a| {
            let kind = if a.outcome == Outcome::Failed {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut rerun = TestRerun::new(kind);
            let failures: Vec<String> = a.failures.iter().map(|f| shown(f)).collect();
            rerun.set_type(format!("attempt {}", a.attempt));
            rerun.set_message(if failures.is_empty() {
                shown(&a.summary)
            } else {
                failures.join("; ")
            });
            rerun.set_description(shown(&a.summary));
            rerun
        })
        .collect()
}

fn shown(text: &str) -> String {
    crate::escape::controls(text).into_owned()
}

/// The host the run was on: recorded in `run_started`, or (timelines from before) taken from
/// its actor (`user@host`; such CI runs recorded no host).
fn hostname(host: Option<&str>, actor: &str) -> String {
    if let Some(host) = host.filter(|h| !h.is_empty()) {
        return host.to_string();
    }
    match actor.rsplit_once('@') {
        Some((_, host)) if !host.is_empty() => host.to_string(),
        _ => "unknown".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the root's own `skipped` goes: not a suite's, nor text in a name that looks like it.
    #[test]
    fn the_root_loses_only_its_skipped_attribute() {
        let mut junit = JUnit::new(r#"runbook x skipped="9" > y"#);
        let mut suite = TestSuite::new("runbook.x");
        suite.add_test_case(TestCase::new("01 a", TestCaseStatus::skipped()));
        junit.add_test_suite(suite);
        let xml = to_xml(&junit).unwrap();
        let root = xml.lines().nth(1).unwrap();
        assert_eq!(
            root,
            r#"<testsuites name="runbook x skipped=&quot;9&quot; &gt; y" tests="1" failures="0" errors="0">"#
        );
        assert!(
            xml.contains(r#"<testsuite name="runbook.x" tests="1" skipped="1""#),
            "{xml}"
        );
    }
}
