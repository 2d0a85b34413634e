//! `runbook sim`: serve a simulated production environment on loopback until Ctrl-C.
//!
//! It is a test double, not a service: on any other address it warns, and the token of its
//! admin API must be long enough not to be guessed.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::exit::Exit;
use crate::sim::{Sim, scenario};

/// `runbook sim` arguments.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// A built-in scenario name or a scenario file [default: classlink-2020].
    #[arg(value_name = "SCENARIO")]
    pub scenario: Option<String>,
    /// Address to listen on [default: 127.0.0.1 on an ephemeral port].
    // The help says the default in words; clap would add a second `[default: 127.0.0.1:0]`.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:0",
        hide_default_value = true
    )]
    pub listen: SocketAddr,
    /// Also write the vars (YAML) that point a runbook at the simulator to this file.
    #[arg(long, value_name = "FILE")]
    pub vars_out: Option<PathBuf>,
    /// The admin API's bearer token, at least 16 characters [default: a new random one].
    #[arg(
        long,
        value_name = "TOKEN",
        env = "SIM_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// List the built-in scenarios and exit.
    #[arg(long)]
    pub list: bool,
}

pub fn sim(args: SimArgs) -> Exit {
    if args.list {
        for (name, _) in scenario::BUILT_IN {
            let title = scenario::resolve(name).map(|s| s.title).unwrap_or_default();
            let default = if *name == scenario::DEFAULT {
                " (default)"
            } else {
                ""
            };
            println!("{name:<18} {title}{default}");
        }
        return Exit::Ok;
    }
    if let Some(token) = &args.token
        && let Some(problem) = token_problem(token)
    {
        super::error(problem);
        return Exit::Usage;
    }
    let name = args
        .scenario
        .clone()
        .unwrap_or_else(|| scenario::DEFAULT.to_string());
    let scenario = match scenario::resolve(&name) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}", e.message);
            return Exit::Usage;
        }
    };
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    runtime.block_on(async move {
        // Before anything is printed: whoever reads the address may send SIGINT at once.
        use tokio::signal::unix::{SignalKind, signal};
        let signals = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        );
        let title = scenario.title.clone();
        let name_shown = scenario.name.clone();
        let sim = match Sim::start(scenario, args.listen, args.token.clone()).await {
            Ok(sim) => sim,
            Err(e) => {
                super::error(format!(
                    "cannot listen on {}: {}",
                    args.listen,
                    crate::io_message(&e)
                ));
                return Exit::Usage;
            }
        };
        if !sim.addr.ip().is_loopback() {
            eprintln!("{}", exposure_warning(sim.addr));
        }
        let yaml = super::drill::vars_yaml(&sim.vars());
        if let Some(path) = &args.vars_out
            && let Err(e) = std::fs::write(path, &yaml)
        {
            super::error(format!(
                "cannot write {}: {}",
                path.display(),
                crate::io_message(&e)
            ));
            return Exit::Usage;
        }
        eprintln!(
            "runbook sim: {} ({title}) on {}",
            name_shown,
            sim.base_url()
        );
        eprintln!("admin token: export SIM_ADMIN_TOKEN={}", sim.token);
        if let Some(path) = &args.vars_out {
            eprintln!(
                "vars written to {} (use: runbook run RUNBOOK --vars {})",
                path.display(),
                path.display()
            );
        }
        eprintln!("press Ctrl-C to stop");
        println!("{}", yaml.trim_end());
        match signals {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        eprintln!("runbook sim: stopped");
        sim.stop();
        Exit::Ok
    })
}

/// The shortest admin token accepted: a short one is guessed, and the admin API changes the
/// simulated world (and a drill's verdict).
pub const MIN_TOKEN_CHARS: usize = 16;

/// Why a given token is refused (the token itself is never quoted).
fn token_problem(token: &str) -> Option<String> {
    let chars = token.chars().count();
    (chars < MIN_TOKEN_CHARS).then(|| {
        format!(
            "the simulator's admin token (--token or SIM_ADMIN_TOKEN) must be at least {MIN_TOKEN_CHARS} characters; this one has {chars}"
        )
    })
}

/// The warning for a simulator reachable from other machines.
fn exposure_warning(addr: SocketAddr) -> String {
    format!(
        "warning: the simulator listens on {addr}, which is not a loopback address: anyone who can reach it can read the simulated state and, with the admin token, change it; use 127.0.0.1 unless other machines must reach it"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_tokens_are_refused_without_being_quoted() {
        let problem = token_problem("hunter2").unwrap();
        assert!(
            problem.contains("at least 16 characters; this one has 7"),
            "{problem}"
        );
        assert!(!problem.contains("hunter2"));
        assert_eq!(token_problem("0123456789abcdef"), None);
        // Characters, not bytes.
        assert!(token_problem("ééééééééé").is_some());
    }
}
