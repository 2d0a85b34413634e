//! `runbook sim`: serve a simulated production environment on loopback until Ctrl-C.

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
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Also write the vars (YAML) that point a runbook at the simulator to this file.
    #[arg(long, value_name = "FILE")]
    pub vars_out: Option<PathBuf>,
    /// The admin API's bearer token [default: a new random one].
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
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
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
