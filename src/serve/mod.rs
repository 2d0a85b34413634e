//! `runbook serve`: the third front end. Alertmanager's webhook starts runs in the background,
//! each the same run `runbook run` makes (one engine, one timeline format); their actions wait
//! for approvals from people (`runbook approve`, or the approve endpoint) or, for an `auto`
//! route, run as with `--yes`.
//!
//! Everything that can be checked is checked before listening: the routes file, the token,
//! every route's runbook, vars files, required vars and secrets; a serve that starts can start
//! every run it routes to. SIGTERM (or SIGINT) stops accepting, interrupts the runs as SIGTERM
//! interrupts `runbook run` (each records its step, runs `finally`, writes `run_finished`), and
//! exits 0 once they have.

pub mod api;
pub mod launch;
pub mod metrics;
pub mod payload;
pub mod registry;
pub mod routes;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;

use crate::cli::{error, say};
use crate::exit::Exit;

/// Fewer characters than this is a token anyone could guess.
pub const MIN_TOKEN_CHARS: usize = 16;

/// Worker threads of the runtime that executes runs: how many runs can be inside a blocking
/// timeline write at once (see [`serve`]).
const RUN_WORKERS: usize = 16;

/// Runs that can wait for approvals at once (one blocking thread each).
const MAX_WAITING_RUNS: usize = 4096;

/// How `runbook serve` was asked to run.
pub struct Options {
    pub routes: PathBuf,
    pub listen: SocketAddr,
    pub timeline_dir: PathBuf,
    pub external_url: Option<String>,
}

pub fn serve(options: Options) -> Exit {
    crate::exec::http::install_crypto_provider();
    let routes = match routes::load(&options.routes) {
        Ok(r) => r,
        Err(problems) => {
            eprintln!("{problems}");
            error(format!(
                "{} is not a valid routes file",
                options.routes.display()
            ));
            return Exit::Usage;
        }
    };
    let token = match std::env::var(&routes.token_env) {
        Ok(token) if token.chars().count() >= MIN_TOKEN_CHARS => token,
        Ok(token) => {
            error(format!(
                "the token in `{}` is {} characters long: it needs at least {MIN_TOKEN_CHARS}",
                routes.token_env,
                token.chars().count()
            ));
            return Exit::Usage;
        }
        Err(_) => {
            error(format!(
                "set `{}` to the bearer token Alertmanager sends (at least {MIN_TOKEN_CHARS} characters; the routes file's `token_env` names the variable)",
                routes.token_env
            ));
            return Exit::Usage;
        }
    };
    let runbooks = match check_routes(&routes.routes) {
        Ok(names) => names,
        Err(exit) => return exit,
    };
    raise_open_files();
    if let Err(e) = std::fs::create_dir_all(&options.timeline_dir) {
        error(format!(
            "cannot create the timeline directory {}: {}",
            options.timeline_dir.display(),
            crate::io_message(&e)
        ));
        return Exit::Usage;
    }
    // Timelines are named by absolute paths: the answers, logs and notifications give the
    // `runbook approve TIMELINE` to paste into any shell on this machine, whatever its directory.
    let mut options = options;
    if let Ok(absolute) = std::path::absolute(&options.timeline_dir) {
        options.timeline_dir = absolute;
    }
    let runtime = match crate::cli::runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    // Runs get a runtime of their own (see launch::Launcher::runs). Its workers block in
    // `fsync` by design (a run's timeline is durable before it moves on), so it has more of
    // them than CPUs: with one per CPU, a storm of alerts started its runs one `fsync` at a
    // time (p95 from notification to first step 130-360 ms for 100 runs on 2 CPUs); with
    // RUN_WORKERS, the disk's journal commits their syncs together (benches, figure 6).
    // Each run waiting for approvals holds a blocking thread while it polls its timeline:
    // Tokio's default of 512 would leave runs past the 512th unable to notice their approvals.
    let runs = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(RUN_WORKERS)
        .max_blocking_threads(MAX_WAITING_RUNS)
        .thread_name("runbook-run")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error(format!("cannot start the runtime: {e}"));
            return Exit::Failed;
        }
    };
    let listener = match runtime.block_on(tokio::net::TcpListener::bind(options.listen)) {
        Ok(l) => l,
        Err(e) => {
            error(format!(
                "cannot listen on {}: {}",
                options.listen,
                crate::io_message(&e)
            ));
            return Exit::Usage;
        }
    };
    let local = listener.local_addr().unwrap_or(options.listen);
    let base_url = options
        .external_url
        .as_deref()
        .map(|u| u.trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("http://{local}"));
    list_unfinished(&options.timeline_dir);
    // The trust store is read once per process, by the first `http` step: here, rather than
    // on the way of the first alert's run (and of every run queued behind it).
    let _ = crate::exec::http::client(false, crate::exec::http::Redirects::Never);
    let (interrupt, interrupts) = watch::channel(0u32);
    let registry = Arc::new(registry::Registry::default());
    let app = Arc::new(api::App {
        token,
        routes: routes.routes,
        runbooks,
        launcher: launch::Launcher {
            registry: Arc::clone(&registry),
            timeline_dir: options.timeline_dir.clone(),
            interrupts,
            runs: runs.handle().clone(),
            base_url,
        },
        metrics: metrics::Metrics::default(),
    });
    say(format_args!(
        "runbook serve: listening on http://{local} ({} route{}, timelines in {})",
        app.routes.len(),
        if app.routes.len() == 1 { "" } else { "s" },
        options.timeline_dir.display()
    ));
    let router = api::router(Arc::clone(&app));
    let (stop_tx, stop_rx) = watch::channel(false);
    let served = runtime.block_on(async move {
        tokio::spawn(watch_signals(interrupt, stop_tx));
        let mut stop = stop_rx.clone();
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
    });
    if let Err(e) = served {
        error(format!("the server stopped: {e}"));
    }
    // Stopped accepting; the runs were interrupted by the same signal: wait for their
    // `finally` and `run_finished`.
    let waiting = registry.unfinished();
    if waiting > 0 {
        say(format_args!(
            "runbook serve: waiting for {waiting} run{} to record their end",
            if waiting == 1 { "" } else { "s" }
        ));
    }
    runtime.block_on(async {
        while registry.unfinished() > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    });
    runs.shutdown_timeout(std::time::Duration::from_secs(5));
    say("runbook serve: stopped");
    Exit::Ok
}

/// Each active run holds two files (its timeline and its lock): the soft limit of open files
/// (often 1,024) would bound the concurrent runs long before memory does, so it is raised to
/// the hard limit, as servers do.
fn raise_open_files() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    // `None` is unlimited.
    if limit.current != limit.maximum {
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
}

/// Loads every route's runbook, vars files and secrets as a run would, so that a route's first
/// alert cannot be the first to find a mistake. Returns each route's runbook name.
fn check_routes(routes: &[routes::Route]) -> Result<Vec<String>, Exit> {
    let mut names = Vec::new();
    let mut failed = false;
    for route in routes {
        let runbook = match crate::runbook::load(&route.runbook) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{}", e.render());
                error(format!(
                    "route `{}`: {} is not a valid runbook",
                    route.name,
                    route.runbook.display()
                ));
                failed = true;
                continue;
            }
        };
        let mut vars = runbook.vars.clone();
        for file in &route.vars_files {
            match crate::cli::inputs::vars_file(file) {
                Ok(v) => vars.extend(v),
                Err(e) => {
                    eprintln!("{e}");
                    error(format!(
                        "route `{}`: {} is not a valid vars file",
                        route.name,
                        file.display()
                    ));
                    failed = true;
                }
            }
        }
        vars.extend(route.vars.clone());
        for message in crate::runbook::unset_required(&runbook, &vars) {
            error(format!("route `{}`: {message}", route.name));
            failed = true;
        }
        for secret in &runbook.secrets {
            match std::env::var(secret) {
                Ok(value) => {
                    // The same check `runbook run` makes of each secret it is given.
                    let what = format!("route `{}`: secret `{secret}`", route.name);
                    if let Some(problem) = crate::cli::run::too_short(&what, &value) {
                        error(problem);
                        failed = true;
                    }
                }
                Err(_) => {
                    error(format!(
                        "route `{}`: {} needs secret `{secret}` from the environment: set it before starting the serve",
                        route.name, runbook.name
                    ));
                    failed = true;
                }
            }
        }
        names.push(runbook.name.clone());
    }
    if failed { Err(Exit::Usage) } else { Ok(names) }
}

/// A serve resumes nothing by itself (a run's evidence is stale once its process is gone), but
/// says which runs a previous one left unfinished, with the command that continues each.
fn list_unfinished(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut found: Vec<(PathBuf, String)> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .filter(|p| !crate::timeline::RunLock::in_use(p))
        .filter_map(|path| {
            let parsed = crate::timeline::reader::read(&path).ok()?;
            let finished = parsed
                .records
                .iter()
                .any(|r| matches!(r.event, crate::timeline::Event::RunFinished { .. }));
            let file = parsed.records.iter().find_map(|r| match &r.event {
                crate::timeline::Event::RunStarted { file, .. } => Some(file.clone()),
                _ => None,
            })?;
            (!finished).then_some((path, file))
        })
        .collect();
    found.sort();
    for (path, file) in found {
        use crate::expr::escape::shell_quote;
        say(crate::escape::controls(&format!(
            "runbook serve: unfinished run in {}: continue it with `runbook run {} --resume {}`",
            path.display(),
            shell_quote(&file),
            shell_quote(&path.display().to_string())
        )));
    }
}

/// SIGTERM or SIGINT: stop accepting and interrupt every run; a second one interrupts their
/// `finally` too.
async fn watch_signals(interrupt: watch::Sender<u32>, stop: watch::Sender<bool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    loop {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        if !*stop.borrow() {
            say("runbook serve: stopping: no new runs; interrupting the runs in progress");
        }
        let _ = stop.send(true);
        interrupt.send_modify(|n| *n += 1);
    }
}
