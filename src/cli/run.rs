//! `runbook run`: from arguments to a finished run and its exit code.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value as Json};
use tokio::sync::watch;

use super::{RunArgs, actor, error, inputs, say};
use crate::engine::{self, Decider, Engine, History, NonInteractive, RunSetup, StartPoint};
use crate::exit::Exit;
use crate::redact::{MIN_SECRET_CHARS, Redactor};
use crate::runbook::{self, Runbook};
use crate::timeline::{Event, LockError, RunLock, RunOutcome, TimelineWriter, reader};
use crate::ui;

/// Everything `run` decided before the first step.
struct Prepared {
    /// This run's hold on its timeline, for as long as the run lives.
    lock: RunLock,
    setup: RunSetup,
    decider: Arc<dyn Decider>,
    writer: TimelineWriter,
    redactor: Arc<Redactor>,
    start: StartPoint,
    history: History,
    guided: bool,
    quiet: bool,
    /// Continuing a recorded run (`run_resumed`, not `run_started`).
    resumed: bool,
    /// The terminal of a guided run.
    screen: Option<Arc<ui::guided::Screen>>,
    /// What a resumed run recorded before this process: the closing table covers the whole run.
    prior: Vec<crate::timeline::Record>,
    /// The webhooks of `--notify` (and of a served run's route).
    notify: Vec<crate::notify::Target>,
    /// Where a served run's actions are approved over HTTP.
    approve_url: Option<String>,
}

/// Where the runbook comes from: a file, or text built into the binary (the drill's default).
#[derive(Clone, Debug)]
pub(crate) enum RunbookSource {
    File(PathBuf),
    Embedded { name: String, text: String },
}

/// A run as the command line or a drill asks for it.
pub(crate) struct Invocation {
    pub source: RunbookSource,
    pub args: RunArgs,
    /// Vars that override the runbook's defaults and `--vars` files (a drill's simulator).
    pub extra_vars: Map<String, Json>,
    /// Secret values given by the caller instead of the environment (a drill's admin token).
    pub extra_secrets: Map<String, Json>,
    /// Print nothing but errors (a drill over every scenario prints a table instead).
    pub quiet: bool,
    /// Where steps may reach: a drill's simulator only.
    pub confinement: Option<engine::confine::Confinement>,
    /// A run started by an alert (`runbook serve`).
    pub served: Option<Served>,
    /// The interrupts of the process that runs several runs at once (`runbook serve`), shared
    /// by them; `None`: this run watches the signals itself.
    pub interrupts: Option<watch::Receiver<u32>>,
    /// Shown every record besides the console (serve's registry of runs).
    pub observers: Vec<Box<dyn engine::Observer>>,
}

/// What `runbook serve` decides about a run that an alert starts.
#[derive(Clone, Debug)]
pub(crate) struct Served {
    /// Known before the run starts: the webhook's answer names it.
    pub run_id: String,
    /// The alert, as expressions see `alert` (untrusted) and `run_started` records it.
    pub alert: Json,
    /// Who started the run (the alert): `run_started`'s actor, whose approvals do not count.
    pub initiator: String,
    /// The route's webhooks.
    pub notify: Vec<crate::notify::Target>,
    /// `POST` here (+ `/approve`) approves over serve; named in approval notifications.
    pub approve_url: Option<String>,
}

/// What a finished run left behind.
pub(crate) struct Finished {
    pub exit: Exit,
    pub timeline: Option<PathBuf>,
}

pub fn run(args: RunArgs) -> Exit {
    let runtime = match super::run_runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    let invocation = Invocation {
        source: RunbookSource::File(args.file.clone()),
        args,
        extra_vars: Map::new(),
        extra_secrets: Map::new(),
        quiet: false,
        confinement: None,
        served: None,
        interrupts: None,
        observers: Vec::new(),
    };
    // One thread runs the engine and the tasks its steps spawn (see `run_runtime`).
    runtime.block_on(run_invocation(invocation)).exit
}

/// Runs a runbook to its end (inside a runtime).
pub(crate) async fn run_invocation(mut invocation: Invocation) -> Finished {
    crate::exec::http::install_crypto_provider();
    let observers = std::mem::take(&mut invocation.observers);
    let interrupts = invocation.interrupts.take();
    match prepare(&invocation) {
        Ok(Some(p)) => {
            let timeline = p.writer.path().to_path_buf();
            let mut exit = execute(p, observers, interrupts).await;
            if let Some(junit) = &invocation.args.junit
                && let Err(e) = super::timeline::write_junit(&timeline, junit)
            {
                error(format!("cannot write the JUnit report: {e}"));
                if exit == Exit::Ok {
                    exit = Exit::Failed;
                }
            }
            Finished {
                exit,
                timeline: Some(timeline),
            }
        }
        Ok(None) => Finished {
            exit: Exit::Ok,
            timeline: None,
        },
        Err(exit) => Finished {
            exit,
            timeline: None,
        },
    }
}

fn load_runbook(source: &RunbookSource) -> Result<Runbook, Exit> {
    let (loaded, shown) = match source {
        RunbookSource::File(path) => (runbook::load(path), path.display().to_string()),
        RunbookSource::Embedded { name, text } => {
            (runbook::from_text(name, text.clone()), name.clone())
        }
    };
    loaded.map_err(|e| {
        eprintln!("{}", e.render());
        if let runbook::LoadError::Invalid { diagnostics, .. } = &e {
            eprintln!(
                "error: {shown} is not a valid runbook ({} problem{})",
                diagnostics.len(),
                if diagnostics.len() == 1 { "" } else { "s" }
            );
        }
        Exit::Usage
    })
}

/// A var declared with `~` that the runbook reads must have been given by now: checked before
/// the timeline is created or appended to, so a run that cannot start leaves no trace.
fn required_vars(runbook: &Runbook, vars: &Map<String, Json>) -> Result<(), Exit> {
    let unset = crate::runbook::unset_required(runbook, vars);
    for message in &unset {
        error(message);
    }
    if unset.is_empty() {
        Ok(())
    } else {
        Err(Exit::Usage)
    }
}

/// Resolves the mode, secrets, vars, answers and timeline. `Ok(None)`: nothing to do.
fn prepare(invocation: &Invocation) -> Result<Option<Prepared>, Exit> {
    let args = &invocation.args;
    let runbook = Arc::new(load_runbook(&invocation.source)?);
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    let guided = !args.non_interactive
        && args.approvals.is_none()
        && !ci
        && std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal();
    let served = invocation.served.as_ref();
    // A served run was started by its alert: that is who acts, and whose approvals do not count.
    let actor = served.map_or_else(actor, |s| s.initiator.clone());
    let mut notify = notify_targets(args)?;
    notify.extend(served.iter().flat_map(|s| s.notify.iter().cloned()));

    // Secrets first: a missing one stops the run before anything is written.
    let redactor = Arc::new(Redactor::new());
    let mut secrets = Map::new();
    let mut missing = Vec::new();
    for name in &runbook.secrets {
        let given = invocation
            .extra_secrets
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_string);
        match given.ok_or(()).or_else(|_| std::env::var(name)) {
            Ok(value) => {
                if let Some(problem) = too_short(&format!("secret `{name}`"), &value) {
                    error(problem);
                    return Err(Exit::Usage);
                }
                redactor.add(&value);
                secrets.insert(name.clone(), Json::String(value));
            }
            Err(_) => missing.push(name.as_str()),
        }
    }
    if !missing.is_empty() {
        error(format!(
            "the runbook needs secret{} {} from the environment: set {}",
            if missing.len() == 1 { "" } else { "s" },
            missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", "),
            if missing.len() == 1 { "it" } else { "them" }
        ));
        return Err(Exit::Usage);
    }

    let mut overrides = Map::new();
    for file in &args.vars {
        // Error messages quote the input, which may hold a secret's value.
        overrides.extend(inputs::vars_file(file).map_err(|e| {
            eprintln!("{}", redactor.redact(&e));
            Exit::Usage
        })?);
    }
    overrides.extend(invocation.extra_vars.clone());
    for var in &args.var {
        let (k, v) = inputs::var_arg(var).map_err(|e| {
            error(redactor.redact(&e));
            Exit::Usage
        })?;
        overrides.insert(k, v);
    }
    let answers = match &args.answers {
        Some(path) => inputs::answers_file(path, &runbook).map_err(|e| {
            eprintln!("{}", redactor.redact(&e));
            Exit::Usage
        })?,
        None => HashMap::new(),
    };
    // Secret answers are secrets from the start: a var may carry the same value.
    for step in runbook.all_steps() {
        if let Some(given) = answers.get(&step.id) {
            for (field, secret) in engine::decider::secret_answers_by_field(step, given) {
                let what = format!("the secret answer `{field}` of step `{}`", step.id);
                if let Some(problem) = too_short(&what, &secret) {
                    error(problem);
                    return Err(Exit::Usage);
                }
                redactor.add(&secret);
            }
        }
    }
    let screen = guided.then(|| ui::guided::Screen::new(Arc::clone(&redactor)));
    // A guided run offers to pick up an unfinished run of the same runbook.
    let offered = match (&screen, &args.resume) {
        (Some(screen), None) => unfinished_run(&runbook)
            .filter(|(path, next)| ui::guided::offer_resume(screen, path, next.as_deref()))
            .map(|(path, _)| path),
        _ => None,
    };
    let resume_path = args.resume.as_ref().or(offered.as_ref());
    let resumed = resume_path.is_some();
    let (lock, writer, vars, start, history, prior, recorded_alert) = match resume_path {
        Some(path) => {
            // Only a timeline is ever appended to: anything else (a config file given by
            // mistake, an empty file) is refused before the lock file is made beside it.
            let not_a_timeline = |e: String| {
                error(e);
                Exit::Usage
            };
            reader::read(path).map_err(not_a_timeline)?;
            // Locked before the timeline is read for good: what it says cannot change under
            // us, and a second resume of the same run stops here.
            let lock = run_lock(path)?;
            let parsed = reader::read(path).map_err(not_a_timeline)?;
            let recorded = engine::resume::recorded(&parsed.records, &runbook).map_err(|e| {
                error(format!("{}: {e}", path.display()));
                Exit::Usage
            })?;
            if recorded.runbook != runbook.name {
                error(format!(
                    "{} records a run of `{}`, not of `{}`",
                    path.display(),
                    recorded.runbook,
                    runbook.name
                ));
                return Err(Exit::Usage);
            }
            if recorded.sha256 != runbook.source.sha256 && !args.force {
                error(format!(
                    "{} changed since the run in {} started (sha256 {} then, {} now): resume with --force to continue anyway",
                    runbook.source.path,
                    path.display(),
                    short(&recorded.sha256),
                    short(&runbook.source.sha256)
                ));
                return Err(Exit::Usage);
            }
            // A dry run cannot finish a real run (its actions would be recorded as done
            // without being sent), nor a real run a dry one.
            if args.dry_run && !recorded.dry_run {
                error(format!(
                    "{} records a real run, not a dry run: resume it without --dry-run",
                    path.display()
                ));
                return Err(Exit::Usage);
            }
            if !args.dry_run && recorded.dry_run {
                error(format!(
                    "{} records a dry run: resume it with --dry-run, or start a new run",
                    path.display()
                ));
                return Err(Exit::Usage);
            }
            let Some(start) = recorded.start else {
                eprintln!(
                    "runbook: the run in {} already completed; nothing to resume",
                    path.display()
                );
                return Ok(None);
            };
            let mut vars = recorded.vars;
            vars.extend(overrides);
            required_vars(&runbook, &vars)?;
            let writer = TimelineWriter::resume(
                path,
                &recorded.run_id,
                recorded.last_seq,
                Arc::clone(&redactor),
            )
            .map_err(|e| {
                error(format!(
                    "cannot append to {}: {}",
                    path.display(),
                    crate::io_message(&e)
                ));
                Exit::Usage
            })?;
            (
                lock,
                writer,
                vars,
                start,
                recorded.history,
                parsed.records,
                recorded.alert,
            )
        }
        None => {
            let mut vars = runbook.vars.clone();
            vars.extend(overrides);
            required_vars(&runbook, &vars)?;
            let run_id = served.map_or_else(new_run_id, |s| s.run_id.clone());
            let path = match &args.timeline {
                Some(p) => p.clone(),
                None => default_timeline(&runbook.name),
            };
            let cannot_create = |e: std::io::Error| {
                error(format!(
                    "cannot create the timeline {}: {}",
                    path.display(),
                    crate::io_message(&e)
                ));
                Exit::Usage
            };
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(cannot_create)?;
            }
            // Locked before the file exists, so nobody can resume it before it is ours.
            let lock = run_lock(&path)?;
            let writer = TimelineWriter::create(&path, &run_id, Arc::clone(&redactor))
                .map_err(cannot_create)?;
            (
                lock,
                writer,
                vars,
                StartPoint::beginning(),
                History::default(),
                Vec::new(),
                None,
            )
        }
    };
    // Built once the timeline is known: a block names the command that continues this run.
    // A drill's run has none: its simulator is gone once the drill ends.
    let resume_command = match &invocation.source {
        RunbookSource::File(file) if invocation.confinement.is_none() => {
            Some(resume_command(file, writer.path()))
        }
        _ => None,
    };
    let decider: Arc<dyn Decider> = if let Some(screen) = &screen {
        let person: Arc<dyn Decider> = Arc::new(ui::guided::Guided::new(
            Arc::clone(screen),
            actor.clone(),
            args.yes,
            args.step,
        ));
        Arc::new(super::hangup::UntilHangup::new(
            person,
            args.yes,
            resume_command,
        ))
    } else {
        let policy = NonInteractive {
            yes: args.yes,
            answers,
            actor: actor.clone(),
            answers_file: args.answers.as_ref().map(|p| p.display().to_string()),
            resume_command,
        };
        match args.approvals {
            Some(needed) => Arc::new(engine::Approvals::new(
                needed,
                args.approval_timeout,
                writer.path().to_path_buf(),
                served.map(|s| s.initiator.clone()),
                policy,
            )),
            None => Arc::new(policy),
        }
    };
    Ok(Some(Prepared {
        lock,
        setup: RunSetup {
            runbook,
            vars,
            secrets,
            dry_run: args.dry_run,
            confinement: invocation.confinement.clone(),
            alert: served.map(|s| s.alert.clone()).or(recorded_alert),
        },
        decider,
        writer,
        redactor,
        start,
        history,
        guided,
        quiet: invocation.quiet,
        resumed,
        screen,
        prior,
        notify,
        approve_url: served.and_then(|s| s.approve_url.clone()),
    }))
}

/// The `--notify` URLs, checked before anything is written.
fn notify_targets(args: &RunArgs) -> Result<Vec<crate::notify::Target>, Exit> {
    args.notify
        .iter()
        .filter(|url| !url.trim().is_empty())
        .map(|text| match crate::notify::parse_url(text) {
            Ok(url) => Ok(crate::notify::Target {
                url,
                format: args.notify_format,
            }),
            Err(e) => {
                // The URL itself may hold a credential: name it as notes do.
                error(format!(
                    "--notify {}: {e}",
                    crate::exec::http::shown_url(text)
                ));
                Err(Exit::Usage)
            }
        })
        .collect()
}

async fn execute(
    p: Prepared,
    observers: Vec<Box<dyn engine::Observer>>,
    interrupts: Option<watch::Receiver<u32>>,
) -> Exit {
    // Held until the run has written its last event, then released (and its file removed).
    let lock = p.lock;
    let rx = match interrupts {
        Some(rx) => rx,
        None => {
            let (tx, rx) = watch::channel(0u32);
            tokio::spawn(watch_signals(tx, p.guided));
            survive_file_size_limit();
            rx
        }
    };
    let runbook = Arc::clone(&p.setup.runbook);
    let dry_run = p.setup.dry_run;
    // Recorded with the run, so a resumed run reads the same `alert` (secrets masked).
    let alert = p.setup.alert.as_ref().map(|a| p.redactor.redact_json(a));
    let timeline_path = p.writer.path().to_path_buf();
    let actor = p.decider.actor();
    let resumed = p.resumed;
    let redacted_vars = match p.redactor.redact_json(&Json::Object(p.setup.vars.clone())) {
        Json::Object(m) => m,
        _ => Map::new(),
    };
    let mut engine = Engine::new(
        p.setup,
        Arc::clone(&p.decider),
        p.writer,
        Arc::clone(&p.redactor),
        rx,
    )
    .with_history(p.history);
    for observer in observers {
        engine.observe(observer);
    }
    let notifier = if p.notify.is_empty() {
        None
    } else {
        let info = crate::notify::RunInfo {
            runbook: runbook.name.clone(),
            timeline: timeline_path.display().to_string(),
            approve_url: p.approve_url.clone(),
        };
        match crate::notify::start(
            &p.notify,
            info,
            timeline_path.clone(),
            Arc::clone(&p.redactor),
            p.prior.clone(),
        ) {
            Ok((notifier, observer)) => {
                engine.observe(Box::new(observer));
                Some(notifier)
            }
            Err(e) => {
                error(format!("cannot set up notifications: {e}"));
                return Exit::Failed;
            }
        }
    };
    if let Some(screen) = &p.screen {
        ui::guided::header(
            screen,
            &runbook.title,
            runbook.description.as_deref(),
            &redacted_vars,
            &timeline_path.display().to_string(),
        );
        engine.observe(Box::new(
            ui::guided::GuidedView::new(
                Arc::clone(screen),
                runbook.steps.len(),
                timeline_path.display().to_string(),
            )
            .with_history(&p.prior),
        ));
        engine = engine.with_progress(screen.progress());
    } else if !p.quiet {
        let mut view =
            ui::console::Console::new(Arc::clone(&p.redactor)).with_timeline(&timeline_path);
        // The live line goes where a person watches: stderr, when it is a terminal.
        let stderr = console::Term::stderr();
        if stderr.is_term() {
            let live = ui::progress::LiveLine::new(stderr);
            engine = engine.with_progress(live.sink());
            view = view.with_live(live);
        }
        engine.observe(Box::new(view));
        say(format_args!(
            "runbook: {} — timeline {}",
            runbook.title,
            timeline_path.display()
        ));
    }
    let first = if resumed {
        let next_step = match p.start.phase {
            engine::Phase::Steps => runbook.steps.get(p.start.index),
            engine::Phase::Finally => runbook.finally.get(p.start.index),
        }
        .map(|s| s.id.clone());
        if let Some(id) = next_step.as_ref().filter(|_| !p.quiet) {
            say(format_args!("runbook: resuming at step `{id}`"));
        }
        engine.emit(Event::RunResumed {
            actor,
            version: env!("CARGO_PKG_VERSION").into(),
            next_step,
            vars: redacted_vars,
        })
    } else {
        engine.emit(Event::RunStarted {
            runbook: runbook.name.clone(),
            title: runbook.title.clone(),
            file: runbook.source.path.clone(),
            sha256: runbook.source.sha256.clone(),
            mode: if p.guided {
                "guided"
            } else {
                "non-interactive"
            }
            .into(),
            dry_run,
            vars: redacted_vars,
            version: env!("CARGO_PKG_VERSION").into(),
            actor,
            timeline: timeline_path.display().to_string(),
            host: Some(super::hostname()),
            alert: alert.clone(),
        })
    };
    if let Err(e) = first {
        error(e);
        return Exit::Failed;
    }
    // Command steps' supervisors hold this run's lock (exec/supervise.rs), also while other
    // runs of the same process (`runbook serve`) hold theirs.
    let ran = {
        use std::os::fd::AsRawFd;
        crate::exec::supervise::with_run_lock(lock.file().as_raw_fd(), engine.run(p.start)).await
    };
    // The engine and its observer are gone: the queues are closed, what is left is flushed
    // within the grace period, and only then is the run's lock released.
    if let Some(notifier) = notifier {
        notifier.finish(crate::notify::GRACE).await;
    }
    match ran {
        Ok(result) => {
            let exit = Exit::from(result.outcome);
            let reason = result
                .reason
                .map(|r| format!(": {}", p.redactor.redact(&r)))
                .unwrap_or_default();
            let line = format!(
                "runbook: run {}{reason} (exit {}) — timeline {}",
                result.outcome.as_str(),
                exit.code(),
                timeline_path.display()
            );
            // The reason may quote what a system answered.
            let line = crate::escape::controls(&line);
            if p.quiet {
                // A drill over every scenario reports in its own table.
            } else if result.outcome == RunOutcome::Completed {
                say(&line);
            } else {
                say(format_args!(
                    "error: {}",
                    line.trim_start_matches("runbook: ")
                ));
            }
            exit
        }
        Err(e) => {
            error(p.redactor.redact(&format!("{e:#}")));
            Exit::Failed
        }
    }
}

/// Counts SIGINT, SIGTERM and SIGHUP; the engine interrupts the running step on each. SIGHUP
/// (the terminal or the ssh session closed) gets the same treatment: the step is stopped,
/// `finally` runs and `run_finished` is written; the run then exits 129.
async fn watch_signals(tx: watch::Sender<u32>, guided: bool) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return;
    };
    loop {
        let hangup = tokio::select! {
            _ = int.recv() => false,
            _ = term.recv() => false,
            _ = hup.recv() => true,
        };
        if hangup {
            crate::exit::hangup(*tx.borrow() == 0);
        }
        tx.send_modify(|n| *n += 1);
        if !guided {
            // After a hangup stderr may be a terminal that is gone: a failed write must not
            // end the run before `finally`.
            say("runbook: interrupted; stopping the current step, then running `finally`");
        }
    }
}

/// A file-size limit (`ulimit -f`) makes the kernel send SIGXFSZ, whose default kills the
/// process mid-run; handled, the write fails with EFBIG instead and the run ends as it does
/// on a full disk: the step's outcome shown, `finally` attempted, exit 1 with the reason.
fn survive_file_size_limit() {
    use tokio::signal::unix::{SignalKind, signal};
    if let Ok(mut xfsz) = signal(SignalKind::from_raw(libc::SIGXFSZ)) {
        tokio::spawn(async move { while xfsz.recv().await.is_some() {} });
    }
}

/// Why a secret's value cannot be used, naming it by `what` and never showing the value: a
/// value shorter than [`MIN_SECRET_CHARS`] would be masked inside every word, number and
/// key of the timeline (`API_TOKEN=e` turns `"event"` into `"***v***nt"`).
pub(crate) fn too_short(what: &str, value: &str) -> Option<String> {
    let chars = value.chars().count();
    (chars < MIN_SECRET_CHARS).then(|| {
        format!(
            "{what} is {}: a secret needs at least {MIN_SECRET_CHARS} characters, or masking it \
             would mask ordinary words and the timeline's own keys; set its real value",
            match chars {
                0 => "empty".to_string(),
                1 => "1 character long".to_string(),
                n => format!("{n} characters long"),
            }
        )
    })
}

/// Takes the run-lifetime lock of a timeline; another run holding it is a usage error that
/// names it (see timeline/lock.rs).
fn run_lock(timeline: &std::path::Path) -> Result<RunLock, Exit> {
    RunLock::acquire(timeline).map_err(|e| {
        match &e {
            LockError::InUse(_) => error(format!("{e} — {}", timeline.display())),
            LockError::Io(..) => error(e),
        }
        Exit::Usage
    })
}

/// `runbook run FILE --resume TIMELINE`, each path as given and shell-quoted.
fn resume_command(file: &std::path::Path, timeline: &std::path::Path) -> String {
    use crate::expr::escape::shell_quote;
    format!(
        "runbook run {} --resume {}",
        shell_quote(&file.display().to_string()),
        shell_quote(&timeline.display().to_string())
    )
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// `20261122T193000Z-3f9a1c`: sortable, and unique enough for runs on one machine.
pub(crate) fn new_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    format!("{}-{:06x}", utc_stamp(), h.finish() & 0xff_ffff)
}

fn utc_stamp() -> String {
    jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string()
}

/// `timelines/<name>-<UTC stamp>.jsonl`, with a counter if two runs start in the same second.
fn default_timeline(name: &str) -> PathBuf {
    let stamp = utc_stamp();
    let mut path = PathBuf::from(format!("timelines/{name}-{stamp}.jsonl"));
    let mut n = 2;
    while path.exists() {
        path = PathBuf::from(format!("timelines/{name}-{stamp}-{n}.jsonl"));
        n += 1;
    }
    path
}

/// The most recent timeline in `timelines/` of an unfinished run of this runbook, with the
/// step it would continue at.
fn unfinished_run(runbook: &Runbook) -> Option<(PathBuf, Option<String>)> {
    let prefix = format!("{}-", runbook.name);
    let mut candidates: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir("timelines")
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(&prefix) && name.ends_with(".jsonl")
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    candidates.sort();
    candidates.into_iter().rev().take(20).find_map(|(_, path)| {
        // A run in progress in another terminal is not unfinished, only not finished yet.
        if RunLock::in_use(&path) {
            return None;
        }
        let parsed = reader::read(&path).ok()?;
        let recorded = engine::resume::recorded(&parsed.records, runbook).ok()?;
        if recorded.runbook != runbook.name || recorded.finished.is_some() {
            return None;
        }
        let start = recorded.start?;
        let list = match start.phase {
            engine::Phase::Steps => &runbook.steps,
            engine::Phase::Finally => &runbook.finally,
        };
        Some((path, list.get(start.index).map(|s| s.id.clone())))
    })
}
