//! `runbook serve` started by a test as its child on 127.0.0.1, with its routes file and
//! timelines in the test's directory, and a plain HTTP/1.1 client to talk to it (the tests
//! speak to it as Alertmanager and a person's `curl` would).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use super::{clean, free_port, require, unindent};

/// The token every serve of the tests is started with.
pub const TOKEN: &str = "serve-test-token-0123456789";

/// A running `runbook serve`.
pub struct Serving {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    log: PathBuf,
}

impl Serving {
    /// Writes `routes` (unindented) to `routes.yaml` in `dir` and starts `runbook serve` there
    /// with [`TOKEN`] in `RUNBOOK_SERVE_TOKEN` and `env`; waits until it answers.
    pub fn start(dir: &Path, routes: &str, env: &[(&str, &str)]) -> Serving {
        let serving = Serving::spawn(dir, routes, env, &[]);
        serving.wait_ready();
        serving
    }

    /// Starts it without waiting (for a serve that must refuse to start).
    pub fn spawn(dir: &Path, routes: &str, env: &[(&str, &str)], extra: &[&str]) -> Serving {
        std::fs::write(dir.join("routes.yaml"), unindent(routes)).expect("write routes.yaml");
        let port = free_port();
        let log = dir.join("serve.log");
        let out = std::fs::File::create(&log).expect("create serve.log");
        let err = out.try_clone().expect("clone the log's handle");
        let mut command = Command::new(require("setpriv", "util-linux"));
        clean(&mut command, dir);
        command
            .args(["--pdeathsig", "KILL", "--"])
            .arg(env!("CARGO_BIN_EXE_runbook"))
            .args(["serve", "--routes", "routes.yaml", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .args(extra)
            .env("RUNBOOK_SERVE_TOKEN", TOKEN)
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("start runbook serve");
        Serving {
            child: Some(child),
            port,
            dir: dir.to_path_buf(),
            log,
        }
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if request(self.port, "GET", "/metrics", None, "").is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("runbook serve did not answer; its log:\n{}", self.log());
    }

    /// What the serve printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A request with the token: the status and the body as JSON (or a string).
    pub fn call(&self, method: &str, path: &str, body: &str) -> (u16, Json) {
        self.call_as(method, path, Some(&format!("Bearer {TOKEN}")), body)
    }

    /// A request with this `Authorization` header (or none).
    pub fn call_as(&self, method: &str, path: &str, auth: Option<&str>, body: &str) -> (u16, Json) {
        let (status, text) = request(self.port, method, path, auth, body)
            .unwrap_or_else(|| panic!("no answer to {method} {path}; log:\n{}", self.log()));
        let json = serde_json::from_str(&text).unwrap_or(Json::String(text));
        (status, json)
    }

    /// Posts a notification (as Alertmanager does) and expects 202; returns `runs`.
    pub fn notify(&self, payload: &Json) -> Vec<Json> {
        let (status, body) = self.call("POST", "/v1/alertmanager", &payload.to_string());
        assert_eq!(status, 202, "{body}\nlog:\n{}", self.log());
        body["runs"].as_array().expect("runs").clone()
    }

    /// `GET /v1/runs`.
    pub fn runs(&self) -> Vec<Json> {
        let (status, body) = self.call("GET", "/v1/runs", "");
        assert_eq!(status, 200, "{body}");
        body["runs"].as_array().expect("runs").clone()
    }

    /// The listed run `run_id`.
    pub fn run(&self, run_id: &str) -> Json {
        self.runs()
            .into_iter()
            .find(|r| r["run_id"] == run_id)
            .unwrap_or_else(|| panic!("run {run_id} not listed"))
    }

    /// Waits until run `run_id` is in `state`.
    pub fn wait_state(&self, run_id: &str, state: &str) -> Json {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let run = self.run(run_id);
            if run["state"] == state {
                return run;
            }
            assert!(
                Instant::now() < deadline,
                "run {run_id} is {} not {state}; log:\n{}",
                run["state"],
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The timeline's events of a run (the path as the answer gives it, relative to `dir`).
    pub fn events(&self, timeline: &str) -> Vec<Json> {
        let text = std::fs::read_to_string(self.dir.join(timeline)).unwrap_or_default();
        super::parse_timeline(&text)
    }

    /// `GET /metrics` as text.
    pub fn metrics(&self) -> String {
        let (status, body) = self.call_as("GET", "/metrics", None, "");
        assert_eq!(status, 200);
        body.as_str().unwrap_or_default().to_string()
    }

    /// The value of one series of `/metrics`, e.g. `runbook_serve_runs{state="completed"}`.
    pub fn metric(&self, series: &str) -> f64 {
        let metrics = self.metrics();
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no series {series} in:\n{metrics}"))
    }

    /// Sends `signal` to the serve.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the serve to exit (within `within`); its status and log.
    pub fn wait(mut self, within: Duration) -> (ExitStatus, String) {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return (status, self.log());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "runbook serve did not exit within {within:?}; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One HTTP/1.1 request on a new connection; `None` when nothing answers.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: &str,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n")?;
    let status = head.get(9..12)?.parse().ok()?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Some((status, body))
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// An Alertmanager notification (payload version 4) of `alerts`, each `(status, labels,
/// fingerprint)`.
pub fn notification(alerts: &[(&str, Json, &str)]) -> Json {
    let alerts: Vec<Json> = alerts
        .iter()
        .map(|(status, labels, fingerprint)| {
            json!({
                "status": status,
                "labels": labels,
                "annotations": {"summary": "5xx ratio above 5%"},
                "startsAt": "2026-12-01T09:00:00.000Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=lb_http_5xx_ratio",
                "fingerprint": fingerprint,
            })
        })
        .collect();
    json!({
        "version": "4",
        "groupKey": "{}:{alertname=\"LoadBalancer502\"}",
        "truncatedAlerts": 0,
        "status": alerts.first().map(|a| a["status"].clone()).unwrap_or(json!("firing")),
        "receiver": "runbook",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": alerts,
    })
}
