//! JUnit XML: one testcase per step entry (classname `runbook.<name>`, name `NN <title>`),
//! failures with the expectations and their actual values, skipped and dry-run steps as
//! skipped, times in seconds.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report as JUnit, TestCase, TestCaseStatus, TestSuite};

use super::model::Report;
use crate::timeline::Outcome;

pub fn render(report: &Report) -> Result<String, String> {
    let name = report.name().to_string();
    let mut junit = JUnit::new(format!("runbook {name}"));
    let mut suite = TestSuite::new(format!("runbook.{name}"));
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
        let status = match row.outcome {
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
        let mut case = TestCase::new(format!("{:0width$} {}", row.number, row.title), status);
        case.set_classname(format!("runbook.{name}"));
        case.set_time(Duration::from_millis(row.duration_ms));
        case.set_system_out(format!("[{}] {summary}", row.step));
        suite.add_test_case(case);
    }
    // What CI reporters and the xUnit schema read on a suite: how long the run took, when it
    // started (UTC, `xs:dateTime` without a zone) and where.
    if let Some(ms) = report.summary.duration_ms {
        suite.set_time(Duration::from_millis(ms));
        junit.set_time(Duration::from_millis(ms));
    }
    if let Some(started) = report.started {
        let utc = started.to_zoned(jiff::tz::TimeZone::UTC);
        suite.extra.insert(
            "timestamp".into(),
            utc.strftime("%Y-%m-%dT%H:%M:%S").to_string().into(),
        );
    }
    suite
        .extra
        .insert("hostname".into(), hostname(&report.actor).into());
    junit.add_test_suite(suite);
    junit.to_string().map_err(|e| e.to_string())
}

fn shown(text: &str) -> String {
    crate::escape::controls(text).into_owned()
}

/// The host the run was on, from its actor (`user@host`); CI runs record no host.
fn hostname(actor: &str) -> String {
    match actor.rsplit_once('@') {
        Some((_, host)) if !host.is_empty() => host.to_string(),
        _ => "unknown".to_string(),
    }
}
