//! `runbook drill`: run a runbook against the built-in simulator and judge the scenario's
//! success criteria — proof, before the outage, that the runbook fixes what it was written for
//! and does no harm where it should not act.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value as Json, json};

use super::RunArgs;
use super::run::{Invocation, RunbookSource, run_invocation};
use crate::engine::confine::{Confinement, OUTSIDE};
use crate::escape;
use crate::exit::Exit;
use crate::sim::{Sim, scenario, verdict};
use crate::timeline::{Event, Outcome, RunOutcome, reader};

/// The shipped runbook for the 2020 outage, used when `runbooks/lb-502.yaml` is not at hand.
const SHIPPED_RUNBOOK: &str = include_str!("../../runbooks/lb-502.yaml");
const SHIPPED_PATH: &str = "runbooks/lb-502.yaml";

/// `runbook drill` arguments.
#[derive(Debug, clap::Args)]
pub struct DrillArgs {
    /// The runbook to drill [default: runbooks/lb-502.yaml, the shipped 2020 runbook].
    #[arg(value_name = "RUNBOOK")]
    pub runbook: Option<PathBuf>,
    /// A built-in scenario name or a scenario file [default: classlink-2020].
    #[arg(long, value_name = "NAME|FILE", conflicts_with = "all")]
    pub scenario: Option<String>,
    /// Run against every built-in scenario and print a table.
    #[arg(long)]
    pub all: bool,
    /// Write a JUnit report with one testcase per scenario.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Directory for the drills' timelines.
    #[arg(long, value_name = "DIR", default_value = "timelines")]
    pub timeline_dir: PathBuf,
    /// Let `command` steps run. A drill otherwise runs none: they act on this machine, not on
    /// the simulator (they are recorded as `blocked`).
    #[arg(long)]
    pub allow_commands: bool,
}

/// One scenario's verdict.
struct Verdict {
    scenario: String,
    title: String,
    passed: bool,
    checks: Vec<verdict::Check>,
    steps_run: usize,
    actions_taken: usize,
    recovery: Option<Duration>,
    timeline: Option<PathBuf>,
    elapsed: Duration,
}

pub fn drill(args: DrillArgs) -> Exit {
    let source = match &args.runbook {
        Some(path) => RunbookSource::File(path.clone()),
        None if Path::new(SHIPPED_PATH).exists() => {
            RunbookSource::File(PathBuf::from(SHIPPED_PATH))
        }
        None => RunbookSource::Embedded {
            name: format!("<built-in {SHIPPED_PATH}>"),
            text: SHIPPED_RUNBOOK.to_string(),
        },
    };
    let names: Vec<String> = if args.all {
        scenario::BUILT_IN
            .iter()
            .map(|(n, _)| n.to_string())
            .collect()
    } else {
        vec![
            args.scenario
                .clone()
                .unwrap_or_else(|| scenario::DEFAULT.to_string()),
        ]
    };
    let mut scenarios = Vec::new();
    for name in &names {
        match scenario::resolve(name) {
            Ok(s) => scenarios.push(s),
            Err(e) => {
                eprintln!("{}", e.message);
                return Exit::Usage;
            }
        }
    }
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    let runbook_name = match &source {
        RunbookSource::File(p) => p.display().to_string(),
        RunbookSource::Embedded { name, .. } => name.clone(),
    };
    let quiet = args.all;
    let started = jiff::Timestamp::now();
    let mut verdicts = Vec::new();
    for scenario in scenarios {
        if !quiet {
            eprintln!(
                "drill: {runbook_name} against {} ({})",
                scenario.name, scenario.title
            );
        }
        match runtime.block_on(drill_one(&source, scenario, &args, quiet)) {
            Ok(v) => verdicts.push(v),
            Err(exit) => return exit,
        }
    }
    if quiet {
        print_table(&verdicts);
    } else {
        for v in &verdicts {
            print_verdict(v);
        }
    }
    if let Some(path) = &args.junit
        && let Err(e) = write_junit(path, &runbook_name, &verdicts, started)
    {
        super::error(format!("cannot write {}: {e}", path.display()));
        return Exit::Failed;
    }
    if verdicts.iter().all(|v| v.passed) {
        Exit::Ok
    } else {
        Exit::Failed
    }
}

async fn drill_one(
    source: &RunbookSource,
    scenario: scenario::Scenario,
    args: &DrillArgs,
    quiet: bool,
) -> Result<Verdict, Exit> {
    let name = scenario.name.clone();
    let title = scenario.title.clone();
    // A scenario that says how the run must end replaces the implicit "the run completed":
    // where the right runbook must refuse to go green, completing is the failure.
    let states_outcome = scenario
        .success
        .iter()
        .any(|c| matches!(c, scenario::Criterion::RunOutcome(_)));
    let sim = Sim::start(scenario, ([127, 0, 0, 1], 0).into(), None)
        .await
        .map_err(|e| {
            super::error(format!("cannot start the simulator: {e}"));
            Exit::Failed
        })?;
    let mut secrets = Map::new();
    secrets.insert("SIM_ADMIN_TOKEN".into(), json!(sim.token));
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let runbook_stem = match source {
        RunbookSource::File(p) => p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        RunbookSource::Embedded { .. } => "lb-502".into(),
    };
    let mut timeline = args
        .timeline_dir
        .join(format!("{runbook_stem}-{name}-{stamp}.jsonl"));
    let mut n = 2;
    while timeline.exists() {
        timeline = args
            .timeline_dir
            .join(format!("{runbook_stem}-{name}-{stamp}-{n}.jsonl"));
        n += 1;
    }
    let invocation = Invocation {
        source: source.clone(),
        args: RunArgs {
            file: PathBuf::new(),
            var: Vec::new(),
            vars: Vec::new(),
            non_interactive: true,
            yes: true,
            dry_run: false,
            timeline: Some(timeline),
            answers: None,
            resume: None,
            force: false,
            step: false,
            junit: None,
            approvals: None,
            approval_timeout: std::time::Duration::from_secs(30 * 60),
            // A drill reaches the simulator only: it sends no notifications (its command line
            // has no --notify).
            notify: Vec::new(),
            notify_format: crate::notify::Format::Json,
        },
        extra_vars: sim.vars(),
        extra_secrets: secrets,
        quiet,
        // The drill touches the simulator only: anything else is recorded as `blocked`.
        confinement: Some(Confinement {
            sim: sim.addr,
            allow_commands: args.allow_commands,
        }),
        served: None,
        interrupts: None,
        observers: Vec::new(),
    };
    let started = std::time::Instant::now();
    let finished = run_invocation(invocation).await;
    if finished.exit == Exit::Usage {
        sim.stop();
        return Err(Exit::Usage);
    }
    // Remediations still taking effect count: wait for them (bounded) before judging.
    for _ in 0..100 {
        if !sim
            .world
            .lock()
            .map(|mut w| w.has_pending())
            .unwrap_or(false)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut checks = Vec::new();
    if !states_outcome {
        checks.push(verdict::Check {
            criterion: "the run completed".into(),
            passed: finished.exit == Exit::Ok,
            found: format!("exit {}", finished.exit.code()),
        });
    }
    let run = verdict::RunEnd {
        outcome: finished.timeline.as_deref().and_then(run_outcome),
        exit_code: finished.exit.code(),
    };
    {
        let mut world = sim.world.lock().unwrap_or_else(|e| e.into_inner());
        checks.extend(verdict::judge(&mut world, run));
    }
    sim.stop();
    let facts = finished
        .timeline
        .as_deref()
        .map(timeline_facts)
        .unwrap_or_default();
    let (steps_run, actions_taken, recovery) = (facts.steps, facts.actions, facts.recovery);
    // A step the confinement blocked was not drilled: what the runbook would do there is
    // unproven, so the drill cannot pass (`--allow-commands` lets command steps run).
    checks.push(verdict::Check {
        criterion: "every step stayed inside the drill".into(),
        passed: facts.outside.is_empty(),
        found: match facts.outside.first() {
            None => "no step blocked".into(),
            Some((_, reason)) => format!(
                "blocked: {} ({reason})",
                facts
                    .outside
                    .iter()
                    .map(|(step, _)| format!("`{step}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    });
    let passed = checks.iter().all(|c| c.passed);
    // A drill that did not pass did not recover, whatever passed along the way; nor did a run
    // that was meant to stop short (`run_outcome: [failed]`): stopping is not recovering.
    let recovery = recovery.filter(|_| passed && finished.exit == Exit::Ok);
    Ok(Verdict {
        scenario: name,
        title,
        passed,
        checks,
        steps_run,
        actions_taken,
        recovery,
        timeline: finished.timeline,
        elapsed: started.elapsed(),
    })
}

/// The outcome of the timeline's last `run_finished` event.
fn run_outcome(path: &Path) -> Option<RunOutcome> {
    let parsed = reader::read(path).ok()?;
    parsed.records.iter().rev().find_map(|r| match &r.event {
        Event::RunFinished { outcome, .. } => Some(*outcome),
        _ => None,
    })
}

/// What a drill's timeline says about its run.
#[derive(Default)]
struct Facts {
    steps: usize,
    actions: usize,
    /// From the first failing check to recovery (the `resolved` milestone, or else the last
    /// passing step).
    recovery: Option<Duration>,
    /// Steps blocked as outside the drill, with the first reason of each.
    outside: Vec<(String, String)>,
}

fn timeline_facts(path: &Path) -> Facts {
    let Ok(parsed) = reader::read(path) else {
        return Facts::default();
    };
    let mut outside: Vec<(String, String)> = Vec::new();
    let mut steps = 0;
    let mut actions = 0;
    let mut first_failure: Option<jiff::Timestamp> = None;
    let mut recovered: Option<jiff::Timestamp> = None;
    let mut resolved: Option<jiff::Timestamp> = None;
    let retracted = crate::timeline::retract::withdrawn(parsed.records.iter().map(|r| &r.event));
    for (i, record) in parsed.records.iter().enumerate() {
        if retracted.contains(&i) {
            continue;
        }
        let ts: Option<jiff::Timestamp> = record.ts.parse().ok();
        match &record.event {
            Event::StepFinished {
                outcome,
                action,
                step,
                summary,
                ..
            } => {
                if *outcome == Outcome::Blocked
                    && summary.contains(OUTSIDE)
                    && !outside.iter().any(|(id, _)| id == step)
                {
                    outside.push((step.clone(), summary.clone()));
                }
                let ran = matches!(
                    outcome,
                    Outcome::Passed | Outcome::Failed | Outcome::Error | Outcome::Interrupted
                );
                if ran {
                    steps += 1;
                }
                if ran && *action {
                    actions += 1;
                }
                if matches!(outcome, Outcome::Failed | Outcome::Error) && first_failure.is_none() {
                    first_failure = ts;
                }
                if *outcome == Outcome::Passed && first_failure.is_some() {
                    recovered = ts;
                }
            }
            Event::Milestone { milestone, .. } if milestone == "resolved" => resolved = ts,
            _ => {}
        }
    }
    let recovery = first_failure.and_then(|start| {
        let end = resolved.or(recovered)?;
        let span = end.duration_since(start);
        Duration::try_from(span).ok()
    });
    Facts {
        steps,
        actions,
        recovery,
        outside,
    }
}

fn recovery_text(v: &Verdict) -> String {
    match v.recovery {
        Some(d) => crate::duration::human(d),
        None if v.passed => "-".into(),
        None => "not recovered".into(),
    }
}

fn print_verdict(v: &Verdict) {
    println!(
        "\ndrill {}: {} ({})",
        if v.passed { "PASSED" } else { "FAILED" },
        v.scenario,
        v.title
    );
    for c in &v.checks {
        println!(
            "  {}  {} (found: {})",
            if c.passed { "pass" } else { "FAIL" },
            c.criterion,
            escape::controls(&c.found)
        );
    }
    println!(
        "  time from first failing check to recovery: {}; steps run: {}; actions taken: {}; drill took {}",
        recovery_text(v),
        v.steps_run,
        v.actions_taken,
        crate::duration::human(v.elapsed)
    );
    if let Some(t) = &v.timeline {
        println!("  timeline: {}", t.display());
    }
}

fn print_table(verdicts: &[Verdict]) {
    println!(
        "{:<18} {:<8} {:>5} {:>7} {:>10}",
        "SCENARIO", "VERDICT", "STEPS", "ACTIONS", "RECOVERY"
    );
    for v in verdicts {
        println!(
            "{:<18} {:<8} {:>5} {:>7} {:>10}",
            v.scenario,
            if v.passed { "PASS" } else { "FAIL" },
            v.steps_run,
            v.actions_taken,
            recovery_text(v)
        );
    }
    for v in verdicts.iter().filter(|v| !v.passed) {
        println!("\n{} failed:", v.scenario);
        for c in v.checks.iter().filter(|c| !c.passed) {
            println!(
                "  FAIL  {} (found: {})",
                c.criterion,
                escape::controls(&c.found)
            );
        }
        if let Some(t) = &v.timeline {
            println!("  timeline: {}", t.display());
        }
    }
}

fn write_junit(
    path: &Path,
    runbook: &str,
    verdicts: &[Verdict],
    started: jiff::Timestamp,
) -> std::io::Result<()> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("runbook drill");
    let mut suite = TestSuite::new(format!("drill {runbook}"));
    for v in verdicts {
        let status = if v.passed {
            TestCaseStatus::success()
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let failed: Vec<String> = v
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| format!("{} (found: {})", c.criterion, escape::controls(&c.found)))
                .collect();
            s.set_message(failed.join("; "));
            s.set_description(failed.join("\n"));
            s
        };
        let mut case = TestCase::new(v.scenario.clone(), status);
        case.set_classname(format!("runbook.drill.{}", v.scenario));
        case.set_time(v.elapsed);
        let out: Vec<String> = v
            .checks
            .iter()
            .map(|c| {
                format!(
                    "{} {} (found: {})",
                    if c.passed { "pass" } else { "FAIL" },
                    c.criterion,
                    escape::controls(&c.found)
                )
            })
            .chain(
                v.timeline
                    .iter()
                    .map(|t| format!("timeline: {}", t.display())),
            )
            .collect();
        case.set_system_out(out.join("\n"));
        suite.add_test_case(case);
    }
    let time = verdicts.iter().map(|v| v.elapsed).sum();
    suite.set_time(time);
    crate::report::junit::stamp(
        &mut suite,
        Some(started),
        Some(&super::hostname()),
        &super::actor(),
    );
    report.add_test_suite(suite);
    report.set_time(time);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let xml = crate::report::junit::to_xml(&report).map_err(std::io::Error::other)?;
    std::fs::write(path, xml)
}

/// `runbook sim --vars-out`: the vars as YAML.
pub fn vars_yaml(vars: &Map<String, Json>) -> String {
    serde_saphyr::to_string(&Json::Object(vars.clone())).unwrap_or_default()
}
