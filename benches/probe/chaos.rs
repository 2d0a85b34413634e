//! Figure 5: 100 sequential `http` checks, `runbook` against Chaos Toolkit's 100 `http` probes
//! on the same nginx (a 12-byte body on loopback), whole-process wall time, medians of 5 runs
//! taking turns, so that a busy moment of this shared machine falls on both.
//!
//! Chaos Toolkit (the pinned set in `benches/probe/chaostoolkit-requirements.txt`) is installed
//! into `target/chaostoolkit-venv` on first use; nginx runs as a child of the harness with its
//! configuration in the scratch directory. What each side runs, exactly:
//!
//! - `chaos --no-version-check --no-log-file --settings S run --journal-path J
//!   --hypothesis-strategy before-method-only experiment.json`: a steady-state hypothesis of
//!   100 probes `{"type": "http", "url": U, "timeout": 3}` with `"tolerance": 200`, an empty
//!   method. The flags take out what `runbook` has no counterpart for and what would favour
//!   `runbook` (a look-up of PyPI for a newer version, a debug log file, the hypothesis run a
//!   second time after the method); the experiment is still validated and the journal written,
//!   as `runbook` validates the runbook and writes its timeline.
//! - `runbook run checks.yaml --non-interactive --timeline T`: 100 steps `http: {url: U,
//!   timeout: 3s}` with `expect: status == 200`, a fresh timeline each run (fsynced as always),
//!   on the disk of the scratch directory; a third turn puts the timeline on tmpfs
//!   (`/dev/shm`), to show what the disk's syncs cost.
//!
//! Every run is checked, not only timed: its exit status, the journal's or timeline's 100
//! results, and 100 new lines in nginx's access log.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use super::{Report, fsync_cost, on_path, repo, runbook_bin, write};

const CHECKS: usize = 100;
const ROUNDS: usize = 5;
/// The body of the issue's measurement: 12 bytes.
const BODY: &str = "hello world\n";

pub(super) fn chaos(report: &mut Report, dir: &Path) {
    let section = "5. 100 sequential http checks vs Chaos Toolkit (nginx, 12-byte body)";
    let chaos = match chaos_program() {
        Ok(path) => path,
        Err(why) => {
            report.note(section, why);
            return;
        }
    };
    let nginx = match Nginx::start(&dir.join("nginx")) {
        Ok(nginx) => nginx,
        Err(why) => {
            report.note(section, why);
            return;
        }
    };
    let url = format!("http://127.0.0.1:{}/", nginx.port);

    let experiment = dir.join("experiment.json");
    let probes: Vec<Json> = (0..CHECKS)
        .map(|i| {
            json!({
                "type": "probe",
                "name": format!("check-{i:03}"),
                "tolerance": 200,
                "provider": {"type": "http", "url": url, "timeout": 3}
            })
        })
        .collect();
    let doc = json!({
        "version": "1.0.0",
        "title": "100 sequential http checks",
        "description": "figure 5 of BENCHMARKS.md",
        "steady-state-hypothesis": {"title": "every check answers 200", "probes": probes},
        "method": []
    });
    write(
        &experiment,
        &serde_json::to_string_pretty(&doc).expect("json"),
    );
    let settings = dir.join("chaos-settings.yaml");
    write(&settings, "{}\n");

    let checks = dir.join("checks.yaml");
    let mut yaml = format!("name: bench-checks\ntitle: {CHECKS} sequential http checks\nsteps:\n");
    for i in 0..CHECKS {
        yaml.push_str(&format!(
            "  - id: check_{i:03}\n    title: Check {i}\n    http:\n      url: {url}\n      timeout: 3s\n    expect: status == 200\n"
        ));
    }
    write(&checks, &yaml);

    let shm = Path::new("/dev/shm");
    let tmpfs = shm.is_dir().then(|| {
        tempfile::Builder::new()
            .prefix("runbook-bench-")
            .tempdir_in(shm)
            .expect("temp dir in /dev/shm")
    });

    // One untimed run of each first: the page cache then holds Python's modules and the
    // binary for every timed run, not only for the later ones.
    let run_chaos = |i: usize| {
        let journal = dir.join(format!("journal-{i}.json"));
        let before = nginx.requests();
        let mut cmd = Command::new(&chaos);
        cmd.current_dir(dir)
            .args(["--no-version-check", "--no-log-file", "--settings"])
            .arg(&settings)
            .args(["run", "--journal-path"])
            .arg(&journal)
            .args(["--hypothesis-strategy", "before-method-only"])
            .arg(&experiment);
        let (wall, out) = timed(&mut cmd);
        assert!(
            out.status.success(),
            "chaos run failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        check_journal(&journal);
        assert_eq!(nginx.requests() - before, CHECKS, "requests nginx served");
        let _ = std::fs::remove_file(journal);
        wall
    };
    let run_runbook = |timeline: PathBuf| {
        let before = nginx.requests();
        let mut cmd = Command::new(runbook_bin());
        cmd.arg("run")
            .arg(&checks)
            .arg("--non-interactive")
            .arg("--timeline")
            .arg(&timeline)
            .env("NO_COLOR", "1")
            .env_remove("CI");
        let (wall, out) = timed(&mut cmd);
        assert!(
            out.status.success(),
            "runbook run failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        check_timeline(&timeline);
        assert_eq!(nginx.requests() - before, CHECKS, "requests nginx served");
        let _ = std::fs::remove_file(timeline);
        wall
    };
    run_chaos(0);
    run_runbook(dir.join("checks-warm.jsonl"));

    let (mut ct, mut rb, mut rb_shm) = (Vec::new(), Vec::new(), Vec::new());
    for i in 1..=ROUNDS {
        let c = run_chaos(i);
        let r = run_runbook(dir.join(format!("checks-{i}.jsonl")));
        let s = tmpfs
            .as_ref()
            .map(|t| run_runbook(t.path().join(format!("checks-{i}.jsonl"))));
        println!(
            "checks round {i}: Chaos Toolkit {} ms, runbook {} ms (timeline on disk){}",
            ms(c),
            ms(r),
            s.map_or(String::new(), |s| format!(
                ", {} ms (timeline on tmpfs)",
                ms(s)
            ))
        );
        ct.push(c);
        rb.push(r);
        rb_shm.extend(s);
    }
    println!(
        "nginx {}: {} requests served in all; one append + sync_data on this disk: {:.0} µs",
        nginx.version(),
        nginx.requests(),
        fsync_cost(dir)
    );
    println!();

    let (ct, rb) = (median(&mut ct), median(&mut rb));
    let ratio = ct.as_secs_f64() / rb.as_secs_f64();
    report.row(
        section,
        "Chaos Toolkit / runbook, process (median of 5)",
        format!("{} / {} ms = {ratio:.1}x", ms(ct), ms(rb)),
        ">= 10x",
        ratio >= 10.0,
    );
    if !rb_shm.is_empty() {
        let shm = median(&mut rb_shm);
        report.note(
            section,
            format!(
                "timeline on tmpfs (/dev/shm): runbook {} ms, {:.1}x (no target; shows the disk's fdatasync share)",
                ms(shm),
                ct.as_secs_f64() / shm.as_secs_f64()
            ),
        );
    }
}

/// Wall time from spawn to exit, output captured (neither side writes to a terminal).
fn timed(cmd: &mut Command) -> (Duration, std::process::Output) {
    cmd.stdin(Stdio::null());
    let started = Instant::now();
    let out = cmd.output().expect("spawn");
    (started.elapsed(), out)
}

/// The journal says every probe ran, answered 200 and the hypothesis held.
fn check_journal(journal: &Path) {
    let text = std::fs::read_to_string(journal).expect("chaos journal");
    let j: Json = serde_json::from_str(&text).expect("chaos journal is JSON");
    assert_eq!(j["status"], "completed", "chaos journal status");
    assert_eq!(j["deviated"], false, "chaos journal deviated");
    let ss = &j["steady_states"]["before"];
    assert_eq!(ss["steady_state_met"], true, "steady state met");
    let probes = ss["probes"].as_array().expect("probes in the journal");
    assert_eq!(probes.len(), CHECKS, "probes in the journal");
    for p in probes {
        assert_eq!(p["status"], "succeeded", "{p}");
        assert_eq!(p["output"]["status"], 200, "{p}");
    }
    assert!(
        j["steady_states"]["after"].is_null(),
        "hypothesis ran twice"
    );
}

/// The timeline holds 100 passed checks, each a 200 with the 12-byte body.
fn check_timeline(timeline: &Path) {
    let text = std::fs::read_to_string(timeline).expect("timeline");
    let passed = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Json>(l).ok())
        .filter(|e| e["event"] == "step_finished")
        .inspect(|e| {
            assert_eq!(e["data"]["status"], 200, "{e}");
            assert_eq!(e["data"]["body"], BODY, "{e}");
        })
        .filter(|e| e["outcome"] == "passed")
        .count();
    assert_eq!(passed, CHECKS, "passed checks in {}", timeline.display());
}

fn median(runs: &mut [Duration]) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0)
}

/// `target/chaostoolkit-venv/bin/chaos`, installing the pinned requirements first when the
/// virtualenv is missing or was made from other pins.
fn chaos_program() -> Result<PathBuf, String> {
    let venv = repo().join("target/chaostoolkit-venv");
    let requirements = repo().join("benches/probe/chaostoolkit-requirements.txt");
    let program = venv.join("bin/chaos");
    let marker = venv.join("runbook-requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).expect("read the requirements");
    if program.exists() && std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted) {
        return Ok(program);
    }
    let install = format!(
        "python3 -m venv {venv} && {venv}/bin/pip install -r {req}",
        venv = venv.display(),
        req = requirements.display()
    );
    eprintln!("installing Chaos Toolkit: {install}");
    let run = |cmd: &mut Command| {
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {cmd:?} ({e}); install with `{install}`"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{cmd:?} failed ({}): {}; install with `{install}`",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    };
    if !venv.join("bin/pip").exists() {
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    }
    run(Command::new(venv.join("bin/pip"))
        .args(["install", "-q", "--disable-pip-version-check", "-r"])
        .arg(&requirements))?;
    std::fs::write(&marker, &wanted).expect("write the virtualenv's marker");
    Ok(program)
}

/// nginx in the foreground as a single process (`master_process off`, so that killing the
/// child stops everything), serving [`BODY`] to every path on a free loopback port.
struct Nginx {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Nginx {
    fn start(dir: &Path) -> Result<Self, String> {
        let program = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .or_else(|| on_path("nginx").then(|| "nginx".into()))
            .ok_or("nginx is not installed (benches/compare.sh installs it)")?;
        std::fs::create_dir_all(dir.join("temp")).expect("nginx dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let conf = dir.join("nginx.conf");
        write(
            &conf,
            &format!(
                "# written by benches/probe/chaos.rs\n\
                 user root;\nmaster_process off;\ndaemon off;\npid {d}/nginx.pid;\n\
                 error_log {d}/error.log warn;\nevents {{ worker_connections 256; }}\n\
                 http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/temp/body;\n\
                 proxy_temp_path {d}/temp/proxy;\n  fastcgi_temp_path {d}/temp/fastcgi;\n\
                 uwsgi_temp_path {d}/temp/uwsgi;\n  scgi_temp_path {d}/temp/scgi;\n\
                 server {{\n    listen 127.0.0.1:{port};\n    location / {{\n\
                 default_type text/plain;\n      return 200 \"{body}\";\n    }}\n  }}\n}}\n",
                d = dir.display(),
                body = BODY.escape_default(),
            ),
        );
        let child = Command::new(program)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start nginx: {e}"))?;
        let mut nginx = Nginx {
            child,
            dir: dir.to_path_buf(),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if nginx.get().is_some_and(|r| r.ends_with(BODY)) {
                break;
            }
            if let Ok(Some(status)) = nginx.child.try_wait() {
                let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
                return Err(format!("nginx exited ({status}): {log}"));
            }
            if Instant::now() > deadline {
                return Err(format!("nginx does not answer on port {port} after 10 s"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(nginx)
    }

    /// One `GET /` over HTTP/1.0: the whole answer, or nothing while nginx is not up.
    fn get(&self) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        stream.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        Some(answer)
    }

    /// Requests served so far, from the access log (nginx writes a line per request, unbuffered).
    fn requests(&self) -> usize {
        std::fs::read_to_string(self.dir.join("access.log")).map_or(0, |t| t.lines().count())
    }

    fn version(&self) -> String {
        self.get()
            .and_then(|a| {
                a.lines()
                    .find_map(|l| l.strip_prefix("Server: ").map(str::to_string))
            })
            .unwrap_or_else(|| "?".into())
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
