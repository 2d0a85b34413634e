//! Judging a drill: each success criterion of the scenario, checked against the simulator's
//! state and the remediations it received.

use super::scenario::{Criterion, format_pct};
use super::world::World;
use crate::timeline::RunOutcome;

/// One criterion's result.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Check {
    pub criterion: String,
    pub passed: bool,
    /// What was found: `launchpad 0.0%, api 0.0%`, `2 admin requests: refresh api, ...`.
    pub found: String,
}

/// How the drilled run ended: its `run_finished` outcome (none if the timeline has none) and
/// its exit code.
#[derive(Clone, Copy, Debug)]
pub struct RunEnd {
    pub outcome: Option<RunOutcome>,
    pub exit_code: i32,
}

/// Checks every criterion. Remediations still on their way count as done (the drill waits
/// for them before judging).
pub fn judge(world: &mut World, run: RunEnd) -> Vec<Check> {
    world.tick();
    let criteria = world.scenario.success.clone();
    let calls: Vec<String> = world
        .admin_calls
        .iter()
        .map(|c| match c.nodes {
            Some(n) => format!("{} {} to {n}", c.kind, c.target),
            None => format!("{} {}", c.kind, c.target),
        })
        .collect();
    let admin_requests = world.log.admin_writes();
    let called = |kind: &str, target: Option<&str>| {
        world
            .admin_calls
            .iter()
            .any(|c| c.kind == kind && target.is_none_or(|t| c.target == t))
    };
    let calls_text = if calls.is_empty() {
        "none".to_string()
    } else {
        calls.join(", ")
    };
    criteria
        .iter()
        .map(|criterion| {
            let (passed, found) = match criterion {
                Criterion::Lb5xxBelow { lb, rate } => {
                    let names = match lb {
                        Some(name) => vec![name.clone()],
                        None => world.lb_names(),
                    };
                    // Requests that get no answer fail as surely as a 502: a hung LB counts 100%,
                    // closed connections count at their rate, and the text says which it was.
                    let rates: Vec<(String, f64, String)> = names
                        .into_iter()
                        .map(|n| {
                            let r = world.effective_failure_rate(&n);
                            let why = if world.hangs_now(&n) {
                                " (hung, no answers)".to_string()
                            } else {
                                match world.close_rate(&n) {
                                    c if c > 0.0 => {
                                        format!(" ({} closed unanswered)", format_pct(c))
                                    }
                                    _ => String::new(),
                                }
                            };
                            (n, r, why)
                        })
                        .collect();
                    (
                        rates.iter().all(|(_, r, _)| r < rate),
                        rates
                            .iter()
                            .map(|(n, r, why)| format!("{n} {}{why}", format_pct(*r)))
                            .collect::<Vec<_>>()
                            .join(", "),
                    )
                }
                Criterion::NoAdminRequest => (
                    admin_requests == 0,
                    format!("{admin_requests} admin request(s): {calls_text}"),
                ),
                Criterion::NoReprovision => (!called("reprovision", None), calls_text.clone()),
                Criterion::NoRefresh => (!called("refresh", None), calls_text.clone()),
                Criterion::NoScale => (!called("scale", None), calls_text.clone()),
                Criterion::Refreshed(lb) => (called("refresh", Some(lb)), calls_text.clone()),
                Criterion::Reprovisioned(g) => (called("reprovision", Some(g)), calls_text.clone()),
                Criterion::Scaled(g) => (called("scale", Some(g)), calls_text.clone()),
                Criterion::RunOutcome(outcomes) => (
                    run.outcome.is_some_and(|o| outcomes.contains(&o)),
                    match run.outcome {
                        Some(o) => format!("run {} (exit {})", o.as_str(), run.exit_code),
                        None => format!("no run_finished in the timeline (exit {})", run.exit_code),
                    },
                ),
            };
            Check {
                criterion: criterion.describe(),
                passed,
                found,
            }
        })
        .collect()
}
