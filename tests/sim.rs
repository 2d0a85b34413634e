//! `runbook sim` as a real process over real loopback HTTP: every fault, every admin call with
//! and without the token, the PromQL subset and its errors, status pages, reference sites,
//! `--list`, and located scenario errors.
//!
//! The HTTP client is a few lines over `std::net::TcpStream` (HTTP/1.1, `Connection: close`):
//! blocking, no runtime, and a per-request timeout that a hung load balancer cannot outlast.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use tempfile::TempDir;

/// The admin token every simulator in these tests is started with.
pub(crate) const TOKEN: &str = "testtoken-0123456789";
const BEARER: &str = "Bearer testtoken-0123456789";
/// How long any single request may take (a hung one is tested with its own, shorter timeout).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A file under `tests/fixtures/`.
pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

// ------------------------------------------------------------------------ a tiny HTTP client

/// One HTTP response.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Json {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters (for query values).
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Sends one request and reads the whole response, or fails when `timeout` passes without data.
pub(crate) fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
    timeout: Duration,
) -> std::io::Result<Response> {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("not an http:// URL: {url}"));
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr: SocketAddr = authority
        .parse()
        .unwrap_or_else(|e| panic!("{authority} is not IP:PORT: {e}"));
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    } else if method == "POST" {
        head.push_str("Content-Length: 0\r\n");
    }
    head.push_str("\r\n");
    head.push_str(body.unwrap_or(""));
    stream.write_all(head.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    Ok(parse_response(&raw))
}

fn parse_response(raw: &[u8]) -> Response {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {text:?}"));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or_else(|_| panic!("bad chunk size in {body:?}"));
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].strip_prefix("\r\n").unwrap_or(&rest[size..]);
    }
    out
}

// ------------------------------------------------------------------ running the binary

/// A child process that is killed when dropped, so a failing test never leaves one behind.
pub(crate) struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The binary with a clean environment: no `RUNBOOK_*` flags or `SIM_ADMIN_TOKEN` from the
/// shell, no colour, no CI detection, a null stdin.
pub(crate) fn command(cwd: &Path) -> Command {
    let mut command = crate::support::clean_command(cwd);
    command.env_remove("SIM_ADMIN_TOKEN");
    command
}

/// Collects a pipe into a string others can read while it grows.
fn collect(mut pipe: impl Read + Send + 'static) -> (Arc<Mutex<String>>, JoinHandle<()>) {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    let handle = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => sink
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
    });
    (text, handle)
}

/// A finished invocation.
#[derive(Debug)]
pub(crate) struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn context(&self) -> String {
        format!(
            "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(expected),
            "unexpected exit code\n{}",
            self.context()
        );
        self
    }

    /// The first stdout line that contains every one of `parts`.
    pub fn line(&self, parts: &[&str]) -> &str {
        self.stdout
            .lines()
            .find(|l| parts.iter().all(|p| l.contains(p)))
            .unwrap_or_else(|| panic!("no stdout line has all of {parts:?}\n{}", self.context()))
    }
}

/// Runs the binary to the end in `cwd`; kills it and fails if it outlives `deadline`.
pub(crate) fn run(cwd: &Path, args: &[&str], deadline: Duration) -> Out {
    let mut child = command(cwd).args(args).spawn().expect("the binary starts");
    let (stdout, out_thread) = collect(child.stdout.take().unwrap());
    let (stderr, err_thread) = collect(child.stderr.take().unwrap());
    let mut guard = Guard(child);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = guard.0.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > deadline {
            drop(guard);
            let _ = err_thread.join();
            panic!(
                "`runbook {}` did not finish in {deadline:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                args.join(" "),
                stdout.lock().unwrap(),
                stderr.lock().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = out_thread.join();
    let _ = err_thread.join();
    let stdout = stdout.lock().unwrap().clone();
    let stderr = stderr.lock().unwrap().clone();
    Out {
        code: status.code(),
        stdout,
        stderr,
    }
}

/// Polls `check` every 25 ms until it returns true; fails naming `what` after `timeout`.
pub(crate) fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

// ------------------------------------------------------------------ a running simulator

/// `runbook sim` running in the background; killed on drop.
pub(crate) struct Sim {
    child: Guard,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The vars file, parsed.
    pub vars: Json,
    _dir: TempDir,
}

impl Sim {
    /// Starts `runbook sim [SCENARIO] --listen 127.0.0.1:0 --token TOKEN --vars-out FILE`.
    pub fn start(scenario: Option<&str>) -> Sim {
        Sim::start_with(scenario, Some(TOKEN))
    }

    pub fn start_with(scenario: Option<&str>, token: Option<&str>) -> Sim {
        Sim::start_on(scenario, token, "127.0.0.1:0")
    }

    /// `runbook sim` listening on `listen` (an address with port 0).
    pub fn start_on(scenario: Option<&str>, token: Option<&str>, listen: &str) -> Sim {
        let dir = tempfile::Builder::new()
            .prefix("runbook-sim")
            .tempdir()
            .unwrap();
        let vars_path = dir.path().join("vars.yaml");
        let mut args: Vec<String> = vec!["sim".into()];
        args.extend(scenario.map(String::from));
        args.extend(["--listen".into(), listen.into()]);
        if let Some(token) = token {
            args.extend(["--token".into(), token.into()]);
        }
        args.extend(["--vars-out".into(), vars_path.display().to_string()]);
        let mut child = command(dir.path())
            .args(&args)
            .spawn()
            .expect("runbook sim starts");
        let (stdout, _) = collect(child.stdout.take().unwrap());
        let (stderr, _) = collect(child.stderr.take().unwrap());
        let mut child = Guard(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        let vars = loop {
            if let Ok(text) = std::fs::read_to_string(&vars_path)
                && text.ends_with('\n')
                && let Ok(vars) = serde_saphyr::from_str::<Json>(&text)
                && vars.get("admin").is_some()
            {
                break vars;
            }
            if let Some(status) = child.0.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "`runbook {}` exited with {status} before writing its vars\n--- stderr ---\n{}",
                    args.join(" "),
                    stderr.lock().unwrap()
                );
            }
            assert!(
                Instant::now() < deadline,
                "`runbook {}` wrote no vars file in 20 s\n--- stderr ---\n{}",
                args.join(" "),
                stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let admin = vars["admin"].as_str().expect("vars.admin is a string");
        let base = admin
            .strip_suffix("/admin")
            .unwrap_or_else(|| panic!("vars.admin does not end in /admin: {admin}"))
            .to_string();
        let host = listen.rsplit_once(':').map_or(listen, |(host, _)| host);
        assert!(
            base.starts_with(&format!("http://{host}:")),
            "the simulator is not on {host}: {base}"
        );
        Sim {
            child,
            stdout,
            stderr,
            base,
            vars,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn get(&self, path: &str) -> Response {
        request("GET", &self.url(path), &[], None, REQUEST_TIMEOUT)
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// GET with the admin token.
    pub fn get_admin(&self, path: &str) -> Response {
        request(
            "GET",
            &self.url(path),
            &[("Authorization", BEARER)],
            None,
            REQUEST_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// POST with `Authorization: <auth>` if given and a JSON body if given.
    pub fn post(&self, path: &str, auth: Option<&str>, json_body: Option<&str>) -> Response {
        let mut headers = Vec::new();
        if let Some(auth) = auth {
            headers.push(("Authorization", auth));
        }
        if json_body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        request(
            "POST",
            &self.url(path),
            &headers,
            json_body,
            REQUEST_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// POST with the right token; asserts 202 Accepted.
    pub fn remediate(&self, path: &str, json_body: Option<&str>) -> Response {
        let response = self.post(path, Some(BEARER), json_body);
        assert_eq!(response.status, 202, "POST {path}: {}", response.body);
        response
    }

    pub fn state(&self) -> Json {
        let response = self.get_admin("/admin/state");
        assert_eq!(response.status, 200, "GET /admin/state: {}", response.body);
        response.json()
    }

    /// An instant query; returns the response as is.
    pub fn query(&self, promql: &str) -> Response {
        self.get(&format!(
            "/prometheus/api/v1/query?query={}",
            encode(promql)
        ))
    }

    /// An instant query that must succeed; returns `data.result`.
    pub fn vector(&self, promql: &str) -> Vec<Json> {
        let response = self.query(promql);
        assert_eq!(response.status, 200, "{promql}: {}", response.body);
        let body = response.json();
        assert_eq!(body["status"], "success", "{promql}: {body}");
        assert_eq!(body["data"]["resultType"], "vector", "{promql}: {body}");
        body["data"]["result"]
            .as_array()
            .unwrap_or_else(|| panic!("{promql}: no result list in {body}"))
            .clone()
    }

    /// The value of a query that yields exactly one series.
    pub fn scalar(&self, promql: &str) -> f64 {
        let result = self.vector(promql);
        assert_eq!(result.len(), 1, "{promql}: {result:?}");
        sample_value(&result[0])
    }

    /// The share of `n` requests to `path` answered 502 (every answer must be 200 or 502).
    pub fn rate_502(&self, path: &str, n: usize) -> f64 {
        let mut failed = 0;
        for _ in 0..n {
            let response = self.get(path);
            match response.status {
                200 => {}
                502 => failed += 1,
                other => panic!("GET {path}: {other} {}", response.body),
            }
        }
        failed as f64 / n as f64
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.0.kill();
        let _ = self.child.0.wait();
    }
}

/// The number in a Prometheus sample `{"metric": {...}, "value": [ts, "0.25"]}`.
pub(crate) fn sample_value(sample: &Json) -> f64 {
    let value = &sample["value"];
    assert!(
        value[0].is_number(),
        "the timestamp is not a number: {sample}"
    );
    value[1]
        .as_str()
        .unwrap_or_else(|| panic!("the value is not a string: {sample}"))
        .parse()
        .unwrap_or_else(|e| panic!("the value is not a number ({e}): {sample}"))
}

fn by_group(result: &[Json]) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = result
        .iter()
        .map(|s| {
            (
                s["metric"]["group"].as_str().unwrap_or("").to_string(),
                sample_value(s),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn lb_state(sim: &Sim, lb: &str) -> Json {
    sim.state()["load_balancers"][lb].clone()
}

// ------------------------------------------------------------------ the process and its vars

#[test]
fn list_names_the_eight_built_in_scenarios() {
    let dir = TempDir::new().unwrap();
    let out = run(dir.path(), &["sim", "--list"], Duration::from_secs(20));
    out.code(0);
    for name in [
        "classlink-2020",
        "cpu-saturation",
        "bad-nodes",
        "provider-outage",
        "healthy",
        "lb-hang",
        "conn-close",
        "metrics-blind",
    ] {
        out.line(&[name]);
    }
    out.line(&["classlink-2020", "default"]);
}

#[test]
fn vars_file_points_at_every_part_of_the_simulator() {
    let sim = Sim::start(None);
    let base = &sim.base;
    let vars = &sim.vars;
    assert_eq!(vars["launchpad_lb"], json!(format!("{base}/lb/launchpad")));
    assert_eq!(vars["api_lb"], json!(format!("{base}/lb/api")));
    assert_eq!(vars["prometheus"], json!(format!("{base}/prometheus")));
    assert_eq!(vars["status_page"], json!(format!("{base}/status/aws")));
    assert_eq!(vars["admin"], json!(format!("{base}/admin")));
    let sites: Vec<&str> = vars["reference_sites"]
        .as_array()
        .expect("reference_sites is a list")
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(sites.len(), 3, "{sites:?}");
    for site in &sites {
        assert!(site.starts_with(&format!("{base}/sites/")), "{site}");
    }
    // The same vars on stdout, and the token to export on stderr.
    wait_until("the vars on stdout", Duration::from_secs(10), || {
        sim.stdout.lock().unwrap().contains("api_lb:")
    });
    wait_until("the token on stderr", Duration::from_secs(10), || {
        sim.stderr()
            .contains(&format!("export SIM_ADMIN_TOKEN={TOKEN}"))
    });
    // Every URL the vars name answers.
    for key in ["launchpad_lb", "api_lb"] {
        let url = vars[key].as_str().unwrap();
        let response = request("GET", &format!("{url}/"), &[], None, REQUEST_TIMEOUT).unwrap();
        assert!(
            [200, 502].contains(&response.status),
            "{key}: {}",
            response.status
        );
    }
    let status = request(
        "GET",
        &format!(
            "{}/api/v2/status.json",
            vars["status_page"].as_str().unwrap()
        ),
        &[],
        None,
        REQUEST_TIMEOUT,
    )
    .unwrap();
    assert_eq!(status.status, 200, "{}", status.body);
}

#[test]
fn generated_token_is_printed_for_export_and_guards_the_admin_api() {
    let sim = Sim::start_with(Some("healthy"), None);
    let mut token = String::new();
    wait_until("the token on stderr", Duration::from_secs(10), || {
        let stderr = sim.stderr();
        match stderr
            .lines()
            .find_map(|l| l.split_once("export SIM_ADMIN_TOKEN=").map(|(_, t)| t))
        {
            Some(t) if !t.trim().is_empty() => {
                token = t.trim().to_string();
                true
            }
            _ => false,
        }
    });
    assert!(token.len() >= 16, "a short token: {token:?}");
    assert_ne!(token, TOKEN);
    let bearer = format!("Bearer {token}");
    assert_eq!(
        sim.post("/admin/lb/api/refresh", Some(BEARER), None).status,
        401
    );
    assert_eq!(
        sim.post("/admin/lb/api/refresh", Some(&bearer), None)
            .status,
        202
    );
}

#[test]
fn sigint_stops_the_simulator() {
    let mut sim = Sim::start(Some("healthy"));
    let pid = sim.child.0.id().to_string();
    let status = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = sim.child.0.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "runbook sim ignored SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(exit.code(), Some(0), "{}", sim.stderr());
}

#[test]
fn invalid_scenario_file_is_located_with_a_suggestion() {
    let path = fixture("unknown-key.yaml");
    let dir = TempDir::new().unwrap();
    let out = run(
        dir.path(),
        &["sim", path.to_str().unwrap()],
        Duration::from_secs(20),
    );
    out.code(2);
    let expected = format!(
        "{}:8:1: unknown key `lattency` in the scenario (did you mean `latency`?)",
        path.display()
    );
    assert!(out.stderr.contains(&expected), "{}", out.context());
}

#[test]
fn unknown_scenario_name_is_a_usage_error() {
    let dir = TempDir::new().unwrap();
    let out = run(
        dir.path(),
        &["sim", "classlink-2021", "--listen", "127.0.0.1:0"],
        Duration::from_secs(20),
    );
    out.code(2);
    assert!(out.stderr.contains("classlink-2021"), "{}", out.context());
}

// ------------------------------------------------------------------ faults

#[test]
fn stale_config_fails_a_share_until_refreshed_and_launchpad_fails_through_api() {
    let sim = Sim::start(Some("classlink-2020"));
    // The API LB's stale config fails 30%; LaunchPad has its own 15% and fails through the API
    // LB behind it, so it fails more than either.
    let api = sim.rate_502("/lb/api/v1/session", 100);
    assert!((0.25..=0.35).contains(&api), "api 502 rate {api}");
    let launchpad = sim.rate_502("/lb/launchpad/login", 100);
    assert!(
        launchpad > api + 0.05 && launchpad < 0.5,
        "launchpad 502 rate {launchpad} (api {api})"
    );
    let state = sim.state();
    assert_eq!(state["load_balancers"]["api"]["stale_config"], true);
    assert_eq!(state["load_balancers"]["launchpad"]["stale_config"], true);

    // Reprovisioning the front-end nodes does not help.
    sim.remediate("/admin/nodes/frontend/reprovision", None);
    wait_until(
        "the reprovision to take effect",
        Duration::from_secs(10),
        || {
            sim.state()["pending"]
                .as_array()
                .is_some_and(|p| p.is_empty())
        },
    );
    let after_reprovision = sim.rate_502("/lb/launchpad/login", 40);
    assert!(
        after_reprovision > 0.3,
        "reprovisioning front-end nodes helped: {after_reprovision}"
    );

    // Refreshing LaunchPad takes the scenario's delay, then gives only a dip: its requests
    // still pass the stale API LB.
    let asked = Instant::now();
    let accepted = sim.remediate("/admin/lb/launchpad/refresh", None).json();
    let delay = Duration::from_millis(accepted["effective_in_ms"].as_u64().unwrap_or(500));
    wait_until("LaunchPad's refresh", Duration::from_secs(10), || {
        lb_state(&sim, "launchpad")["stale_config"] == false
    });
    assert!(
        asked.elapsed() >= delay,
        "the refresh took effect before its delay"
    );
    let dip = sim.rate_502("/lb/launchpad/login", 100);
    assert!(
        (0.2..=0.35).contains(&dip),
        "LaunchPad after its own refresh: {dip} (should fail as the API LB does)"
    );
    assert_eq!(lb_state(&sim, "api")["stale_config"], true);

    // Refreshing the API LB fixes both.
    let asked = Instant::now();
    sim.remediate("/admin/lb/api/refresh", None);
    wait_until("the API LB's refresh", Duration::from_secs(10), || {
        lb_state(&sim, "api")["stale_config"] == false
    });
    assert!(asked.elapsed() >= Duration::from_millis(400));
    assert_eq!(sim.rate_502("/lb/api/v1/session", 50), 0.0);
    assert_eq!(sim.rate_502("/lb/launchpad/login", 50), 0.0);
}

#[test]
fn cpu_saturation_shows_in_promql_and_scaling_out_fixes_it() {
    let sim = Sim::start(Some("cpu-saturation"));
    let hottest = sim.scalar("max(node_cpu_utilization)");
    assert!(hottest > 0.8, "max CPU {hottest}");
    let groups = by_group(&sim.vector("avg by (group) (node_cpu_utilization)"));
    let api = groups.iter().find(|(g, _)| g == "api").unwrap().1;
    let frontend = groups.iter().find(|(g, _)| g == "frontend").unwrap().1;
    assert!(api > 0.8 && frontend < 0.5, "{groups:?}");
    // Latency grows and a share of requests fail.
    let started = Instant::now();
    let rate = sim.rate_502("/lb/api/v1/session", 8);
    assert!(rate > 0.0, "no 502s while saturated");
    assert!(
        started.elapsed() >= Duration::from_millis(8 * 100),
        "no added latency while saturated: 8 requests took {:?}",
        started.elapsed()
    );

    // Refreshing the load balancer does nothing.
    sim.remediate("/admin/lb/api/refresh", None);
    wait_until(
        "the refresh to take effect",
        Duration::from_secs(10),
        || {
            sim.state()["pending"]
                .as_array()
                .is_some_and(|p| p.is_empty())
        },
    );
    assert!(sim.scalar("max(node_cpu_utilization)") > 0.8);
    assert!(sim.rate_502("/lb/api/v1/session", 8) > 0.0);

    // Scaling out spreads the load below the threshold.
    let accepted = sim.remediate("/admin/nodes/api/scale", Some(r#"{"nodes": 8}"#));
    assert_eq!(accepted.status, 202);
    wait_until("the scale-out", Duration::from_secs(10), || {
        sim.scalar("max(node_cpu_utilization)") < 0.8
    });
    assert_eq!(sim.state()["node_groups"]["api"]["nodes"], 8);
    assert_eq!(
        sim.scalar(r#"count(node_cpu_utilization{group="api"})"#),
        8.0
    );
    assert_eq!(sim.rate_502("/lb/api/v1/session", 20), 0.0);
    assert_eq!(sim.rate_502("/lb/launchpad/login", 20), 0.0);
}

#[test]
fn bad_nodes_fail_until_their_group_is_reprovisioned() {
    let sim = Sim::start(Some("bad-nodes"));
    let rate = sim.rate_502("/lb/launchpad/login", 40);
    assert!((0.4..=0.6).contains(&rate), "launchpad 502 rate {rate}");
    assert_eq!(sim.rate_502("/lb/api/v1/session", 20), 0.0);
    assert_eq!(sim.state()["node_groups"]["frontend"]["bad_nodes"], 2);
    let asked = Instant::now();
    sim.remediate("/admin/nodes/frontend/reprovision", None);
    wait_until("the reprovision", Duration::from_secs(10), || {
        sim.state()["node_groups"]["frontend"]["bad_nodes"] == 0
    });
    assert!(asked.elapsed() >= Duration::from_millis(900));
    assert_eq!(sim.rate_502("/lb/launchpad/login", 40), 0.0);
}

#[test]
fn provider_outage_is_major_on_the_status_page_until_it_clears() {
    let sim = Sim::start(Some(fixture("provider-outage-fast.yaml").to_str().unwrap()));
    let summary = sim.get("/status/aws/api/v2/summary.json");
    assert_eq!(summary.status, 200, "{}", summary.body);
    let summary = summary.json();
    assert_eq!(summary["status"]["indicator"], "major", "{summary}");
    assert!(
        summary["incidents"]
            .as_array()
            .is_some_and(|i| !i.is_empty()),
        "no incident during the outage: {summary}"
    );
    let status = sim.get("/status/aws/api/v2/status.json").json();
    assert_eq!(status["status"]["indicator"], "major", "{status}");
    assert_eq!(sim.state()["provider_outage"], true);
    assert!(sim.rate_502("/lb/api/v1/session", 10) > 0.0);

    wait_until("the outage to clear", Duration::from_secs(15), || {
        sim.get("/status/aws/api/v2/summary.json").json()["status"]["indicator"] != "major"
    });
    let summary = sim.get("/status/aws/api/v2/summary.json").json();
    assert_eq!(summary["status"]["indicator"], "none", "{summary}");
    assert_eq!(summary["incidents"], json!([]), "{summary}");
    assert_eq!(sim.state()["provider_outage"], false);
    assert_eq!(sim.rate_502("/lb/api/v1/session", 20), 0.0);
    assert_eq!(sim.rate_502("/lb/launchpad/login", 20), 0.0);
}

#[test]
fn hang_accepts_and_never_answers() {
    let sim = Sim::start(Some(fixture("hang.yaml").to_str().unwrap()));
    for path in ["/lb/api/v1/session", "/lb/launchpad/login"] {
        let started = Instant::now();
        let result = request("GET", &sim.url(path), &[], None, Duration::from_millis(500));
        match result {
            Err(e) => assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "{path}: not a timeout: {e}"
            ),
            Ok(r) => panic!("{path} answered {} {}", r.status, r.body),
        }
        assert!(started.elapsed() >= Duration::from_millis(450));
    }
    // The rest of the simulator still answers while the LB hangs.
    let state = sim.state();
    assert_eq!(state["load_balancers"]["api"]["hang"], true, "{state}");
    assert_eq!(state["load_balancers"]["api"]["hang_until"], "never");
    assert_eq!(sim.get("/prometheus/metrics").status, 200);

    // Without `until`, a refresh does not end it.
    sim.remediate("/admin/lb/api/refresh", None);
    wait_until("the refresh to land", Duration::from_secs(10), || {
        sim.state()["pending"]
            .as_array()
            .is_some_and(|p| p.is_empty())
    });
    assert!(
        timed_out(&sim, "/lb/api/v1/session"),
        "a refresh ended the hang"
    );
    assert_eq!(lb_state(&sim, "api")["hang"], true);
}

/// Whether a GET of `path` gets no answer within half a second.
fn timed_out(sim: &Sim, path: &str) -> bool {
    match request("GET", &sim.url(path), &[], None, Duration::from_millis(500)) {
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        Ok(_) => false,
    }
}

/// What became of one request to a simulator that may hang up without answering.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Reply {
    Status(u16),
    /// The connection was closed before any byte of an answer.
    Closed,
}

/// Sends a GET for each of `paths`, one after another on one keep-alive connection, reading
/// each answer by its Content-Length; stops after the first request the server hangs up on.
fn keep_alive_gets(base: &str, paths: &[&str], timeout: Duration) -> Vec<Reply> {
    let authority = base.strip_prefix("http://").expect("an http:// base");
    let addr: SocketAddr = authority.parse().expect("IP:PORT");
    let mut stream = TcpStream::connect_timeout(&addr, timeout).expect("connects");
    stream.set_read_timeout(Some(timeout)).unwrap();
    let mut replies = Vec::new();
    for path in paths {
        let head = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        if stream.write_all(head.as_bytes()).is_err() {
            replies.push(Reply::Closed);
            break;
        }
        let mut raw = Vec::new();
        let mut byte = [0u8; 1];
        while !raw.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(0) => break,
                Ok(_) => raw.push(byte[0]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("GET {path}: {e} after {:?}", String::from_utf8_lossy(&raw)),
            }
        }
        if raw.is_empty() {
            replies.push(Reply::Closed);
            break;
        }
        let head = String::from_utf8_lossy(&raw).to_string();
        assert!(head.ends_with("\r\n\r\n"), "a cut answer: {head:?}");
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line in {head:?}"));
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or_else(|| panic!("no Content-Length in {head:?}"));
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).expect("the whole body");
        replies.push(Reply::Status(status));
    }
    replies
}

#[test]
fn hang_until_refresh_times_out_before_and_answers_after() {
    let sim = Sim::start(Some("lb-hang"));
    assert!(timed_out(&sim, "/lb/api/v1/session"));
    // LaunchPad's requests pass through the API LB: they hang too.
    assert!(timed_out(&sim, "/lb/launchpad/login"));
    let api = lb_state(&sim, "api");
    assert_eq!(api["hang"], true, "{api}");
    assert_eq!(api["hang_until"], "refresh", "{api}");
    assert_eq!(api["rate_5xx"], 1.0, "a hung LB fails every request: {api}");
    assert_eq!(lb_state(&sim, "launchpad")["rate_5xx"], 1.0);
    // Nothing but the load balancers shows it: CPU is normal.
    assert!(sim.scalar("max(node_cpu_utilization)") < 0.5);

    // A request hanging when the refresh lands is dropped unanswered, as a reloaded proxy
    // drops what its old workers held.
    let requests_before = lb_state(&sim, "api")["requests"].as_u64().unwrap();
    let base = sim.base.clone();
    let stuck = std::thread::spawn(move || {
        keep_alive_gets(&base, &["/lb/api/v1/stuck"], Duration::from_secs(30))
    });
    wait_until(
        "the stuck request to arrive",
        Duration::from_secs(10),
        || lb_state(&sim, "api")["requests"].as_u64().unwrap() > requests_before,
    );
    sim.remediate("/admin/lb/api/refresh", None);
    wait_until("the API LB's refresh", Duration::from_secs(10), || {
        lb_state(&sim, "api")["hang"] == false
    });
    assert_eq!(stuck.join().unwrap(), [Reply::Closed]);
    assert_eq!(sim.rate_502("/lb/api/v1/session", 20), 0.0);
    assert_eq!(sim.rate_502("/lb/launchpad/login", 20), 0.0);
    let api = lb_state(&sim, "api");
    assert_eq!(api["rate_5xx"], 0.0, "{api}");
    assert_eq!(api["hang_until"], Json::Null, "{api}");
}

#[test]
fn close_hangs_up_on_a_deterministic_share_until_refresh() {
    let sim = Sim::start(Some("conn-close"));
    // 100 requests on fresh connections: exactly 30 get no answer at all, 70 a normal 200.
    let replies: Vec<Reply> = (0..100)
        .flat_map(|_| keep_alive_gets(&sim.base, &["/lb/api/v1/session"], REQUEST_TIMEOUT))
        .collect();
    let closed = replies.iter().filter(|r| **r == Reply::Closed).count();
    let ok = replies.iter().filter(|r| **r == Reply::Status(200)).count();
    assert_eq!((closed, ok), (30, 70), "{replies:?}");
    let api = lb_state(&sim, "api");
    assert_eq!(api["closed"], 30, "{api}");
    assert_eq!(api["responses_5xx"], 0, "no 502 is ever sent: {api}");
    assert_eq!(api["rate_closed"], 0.3, "{api}");
    assert_eq!(
        api["rate_5xx"], 0.3,
        "a closed request counts as failing: {api}"
    );
    assert_eq!(api["close_until"], "refresh", "{api}");

    // On a keep-alive connection, the answers before the hang-up arrive as usual: request
    // 100 to 102 are answered, 103 is the next in the pattern to be closed.
    let paths = ["/lb/api/v1/session"; 10];
    assert_eq!(
        keep_alive_gets(&sim.base, &paths, REQUEST_TIMEOUT),
        [
            Reply::Status(200),
            Reply::Status(200),
            Reply::Status(200),
            Reply::Closed
        ]
    );

    // LaunchPad passes the API LB's hang-ups on: the same share, still no 502.
    let replies: Vec<Reply> = (0..100)
        .flat_map(|_| keep_alive_gets(&sim.base, &["/lb/launchpad/login"], REQUEST_TIMEOUT))
        .collect();
    let closed = replies.iter().filter(|r| **r == Reply::Closed).count();
    assert_eq!(closed, 30, "{replies:?}");
    assert!(
        replies.iter().all(|r| *r != Reply::Status(502)),
        "{replies:?}"
    );

    sim.remediate("/admin/lb/api/refresh", None);
    wait_until("the API LB's refresh", Duration::from_secs(10), || {
        lb_state(&sim, "api")["close_rate"] == 0.0
    });
    assert_eq!(
        keep_alive_gets(&sim.base, &paths, REQUEST_TIMEOUT),
        [Reply::Status(200); 10]
    );
    assert_eq!(sim.rate_502("/lb/launchpad/login", 20), 0.0);
    assert_eq!(lb_state(&sim, "api")["rate_5xx"], 0.0);
}

#[test]
fn exporter_down_hides_its_groups_node_metrics_and_up_is_zero() {
    // Every group down: an aggregation finds nothing at all.
    let sim = Sim::start(Some("metrics-blind"));
    assert_eq!(
        sim.vector("max by (group) (node_cpu_utilization)"),
        Vec::<Json>::new()
    );
    assert_eq!(sim.vector("max(node_cpu_utilization)"), Vec::<Json>::new());
    assert_eq!(
        sim.vector(r#"node_http_5xx_ratio{group="api"}"#),
        Vec::<Json>::new()
    );
    for group in ["api", "frontend"] {
        assert_eq!(sim.scalar(&format!(r#"up{{group="{group}"}}"#)), 0.0);
        assert_eq!(sim.state()["node_groups"][group]["exporter_up"], false);
    }
    // The load balancers' own metrics are not the node exporters'.
    assert_eq!(sim.vector("lb_http_5xx_ratio").len(), 2);
    drop(sim);

    // One group down: only the other group's series remain.
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("api-blind.yaml");
    std::fs::write(
        &path,
        "name: api-blind\ntitle: The API exporters are down\nload_balancers: {api: {group: api}}\nnode_groups: {frontend: {nodes: 2}, api: {nodes: 3}}\nfaults: [exporter_down: {group: api}]\nsuccess: [no_admin_request]\n",
    )
    .unwrap();
    let sim = Sim::start(Some(path.to_str().unwrap()));
    let groups = by_group(&sim.vector("max by (group) (node_cpu_utilization)"));
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0].0, "frontend");
    assert_eq!(
        sim.vector(r#"node_cpu_utilization{group="api"}"#),
        Vec::<Json>::new()
    );
    assert_eq!(sim.scalar(r#"up{group="api"}"#), 0.0);
    assert_eq!(sim.scalar(r#"up{group="frontend"}"#), 1.0);
    let metrics = sim.get("/prometheus/metrics").body;
    assert!(
        !metrics.contains(r#"node_cpu_utilization{group="api""#),
        "{metrics}"
    );
}

#[test]
fn every_group_is_up_without_the_fault() {
    let sim = Sim::start(Some("healthy"));
    let up = by_group(&sim.vector("up"));
    assert_eq!(
        up,
        [("api".to_string(), 1.0), ("frontend".to_string(), 1.0)]
    );
}

#[test]
fn new_fault_keys_are_located_with_suggestions() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "name: bad\ntitle: Bad\nload_balancers: {api: {group: api}}\nnode_groups: {api: {nodes: 2}}\nfaults:\n  - hang: {lb: api, until: refersh}\n  - close: {lb: api, rat: 0.3}\n  - exporter_down: {group: apu}\n  - exporter_dwn: {group: api}\nsuccess:\n  - run_outcome: [faild]\n  - run_outcome: []\n",
    )
    .unwrap();
    let out = run(
        dir.path(),
        &["sim", path.to_str().unwrap()],
        Duration::from_secs(20),
    );
    out.code(2);
    let file = path.display();
    for expected in [
        format!("{file}:6:28: unknown `until` value `refersh` (did you mean `refresh`?)"),
        format!("{file}:7:22: unknown key `rat` in `close` (did you mean `rate`?)"),
        format!("{file}:7:12: `close` is missing required key `rate`"),
        format!("{file}:8:28: no node group named `apu`"),
        format!(
            "{file}:9:5: unknown key `exporter_dwn` in a fault (did you mean `exporter_down`?)"
        ),
        format!("{file}:11:19: unknown run outcome `faild` (did you mean `failed`?)"),
        format!("{file}:12:18: `run_outcome` needs a non-empty list"),
    ] {
        assert!(
            out.stderr.contains(&expected),
            "{expected}\n{}",
            out.context()
        );
    }
}

// ------------------------------------------------------------------ the admin API

#[test]
fn admin_calls_need_the_token() {
    let sim = Sim::start(Some("classlink-2020"));
    let calls: [(&str, Option<&str>); 3] = [
        ("/admin/lb/api/refresh", None),
        ("/admin/nodes/frontend/reprovision", None),
        ("/admin/nodes/api/scale", Some(r#"{"nodes": 8}"#)),
    ];
    // Without a token, with a wrong one, with a non-Bearer scheme: 401, and nothing happens.
    for (path, body) in calls {
        for auth in [None, Some("Bearer wrong"), Some("Basic dGVzdHRva2Vu")] {
            let response = sim.post(path, auth, body);
            assert_eq!(response.status, 401, "POST {path} with {auth:?}");
        }
    }
    for path in ["/admin/state", "/admin/requests"] {
        assert_eq!(sim.get(path).status, 401, "GET {path} without a token");
    }
    let state = sim.state();
    assert_eq!(state["admin_calls"], json!([]), "{state}");
    assert_eq!(state["pending"], json!([]), "{state}");

    // With it: 202, and the call is recorded.
    for (path, body) in calls {
        sim.remediate(path, body);
    }
    let state = sim.state();
    let kinds: Vec<(&str, &str)> = state["admin_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["kind"].as_str().unwrap(), c["target"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("refresh", "api"),
            ("reprovision", "frontend"),
            ("scale", "api")
        ],
        "{state}"
    );
}

#[test]
fn admin_calls_reject_unknown_targets_and_a_scale_without_body() {
    let sim = Sim::start(Some("classlink-2020"));
    for (path, body) in [
        ("/admin/lb/nope/refresh", None),
        ("/admin/nodes/nope/reprovision", None),
        ("/admin/nodes/nope/scale", Some(r#"{"nodes": 8}"#)),
    ] {
        let response = sim.post(path, Some(BEARER), body);
        assert_eq!(response.status, 404, "POST {path}: {}", response.body);
    }
    let response = sim.post("/admin/nodes/api/scale", Some(BEARER), None);
    assert_eq!(
        response.status, 400,
        "scale without a body: {}",
        response.body
    );
    let response = sim.post("/admin/nodes/api/scale", Some(BEARER), Some("{}"));
    assert_eq!(
        response.status, 400,
        "scale without nodes: {}",
        response.body
    );
    assert_eq!(sim.state()["admin_calls"], json!([]));
}

#[test]
fn admin_state_describes_every_component() {
    let sim = Sim::start(Some("classlink-2020"));
    let state = sim.state();
    for lb in ["launchpad", "api"] {
        assert!(
            state["load_balancers"][lb].is_object(),
            "no LB {lb}: {state}"
        );
    }
    assert_eq!(state["load_balancers"]["launchpad"]["upstream"], "api");
    for group in ["frontend", "api"] {
        let g = &state["node_groups"][group];
        assert_eq!(g["nodes"], 4, "{state}");
        let cpu = g["cpu"].as_f64().unwrap();
        assert!((0.25..=0.30).contains(&cpu), "{group} cpu {cpu}");
    }
}

#[test]
fn admin_requests_logs_every_request_method_and_path() {
    let sim = Sim::start(Some("healthy"));
    sim.get("/lb/api/v1/session");
    sim.get("/lb/launchpad/login");
    sim.query("max(node_cpu_utilization)");
    sim.get("/status/aws/api/v2/summary.json");
    sim.get("/sites/video/");
    sim.post("/admin/lb/api/refresh", None, None);
    sim.remediate("/admin/nodes/frontend/reprovision", None);
    let response = sim.get("/admin/requests");
    assert_eq!(response.status, 401);
    let response = sim.get_admin("/admin/requests");
    assert_eq!(response.status, 200, "{}", response.body);
    let body = response.json();
    let log: Vec<(String, String)> = body["requests"]
        .as_array()
        .unwrap_or_else(|| panic!("no request list: {body}"))
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap_or_default().to_string(),
                r["path"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    for (method, path) in [
        ("GET", "/lb/api/v1/session"),
        ("GET", "/lb/launchpad/login"),
        ("GET", "/prometheus/api/v1/query"),
        ("GET", "/status/aws/api/v2/summary.json"),
        ("GET", "/sites/video/"),
        ("POST", "/admin/lb/api/refresh"),
        ("POST", "/admin/nodes/frontend/reprovision"),
    ] {
        assert!(
            log.iter().any(|(m, p)| m == method && p == path),
            "{method} {path} is not in the log: {log:?}"
        );
    }
    let first = log
        .iter()
        .position(|(_, p)| p == "/lb/api/v1/session")
        .unwrap();
    let last = log
        .iter()
        .position(|(_, p)| p == "/admin/nodes/frontend/reprovision")
        .unwrap();
    assert!(first < last, "the log is not in arrival order: {log:?}");
}

// ------------------------------------------------------------------ PromQL

#[test]
fn promql_subset_is_evaluated() {
    let sim = Sim::start(Some("classlink-2020"));
    // The hottest node: backends at 25-30% CPU in 2020.
    let result = sim.vector("max(node_cpu_utilization)");
    assert_eq!(result.len(), 1);
    assert_eq!(result[0]["metric"], json!({}), "{result:?}");
    let max = sample_value(&result[0]);
    assert!((0.25..=0.30).contains(&max), "max {max}");

    let avg = by_group(&sim.vector("avg by (group) (node_cpu_utilization)"));
    assert_eq!(avg.len(), 2, "{avg:?}");
    assert_eq!(avg[0].0, "api");
    assert_eq!(avg[1].0, "frontend");
    for (_, v) in &avg {
        assert!((0.2..=0.3).contains(v), "{avg:?}");
        assert!(*v <= max);
    }
    let result = sim.vector("avg by (group) (node_cpu_utilization)");
    for sample in &result {
        assert!(
            sample["metric"].get("__name__").is_none(),
            "an aggregation keeps the metric name: {sample}"
        );
    }

    // A label matcher selects one group's nodes, each a series with its labels.
    let api = sim.vector(r#"node_cpu_utilization{group="api"}"#);
    assert_eq!(api.len(), 4, "{api:?}");
    for sample in &api {
        assert_eq!(sample["metric"]["group"], "api", "{sample}");
        assert_eq!(sample["metric"]["__name__"], "node_cpu_utilization");
        assert!(sample["metric"]["instance"].is_string(), "{sample}");
    }
    assert_eq!(sim.vector(r#"node_cpu_utilization{group!="api"}"#).len(), 4);
    assert_eq!(
        sim.vector(r#"node_cpu_utilization{group=~"front.*"}"#)
            .len(),
        4
    );
    assert_eq!(
        sim.vector(r#"node_cpu_utilization{group="nope"}"#),
        Vec::<Json>::new()
    );
    // Regular expressions are anchored, as in Prometheus.
    assert_eq!(
        sim.vector(r#"node_cpu_utilization{group=~"a"}"#),
        Vec::<Json>::new()
    );
    assert_eq!(
        sim.vector(r#"{__name__="node_cpu_utilization", group="api"}"#)
            .len(),
        4
    );
    // `by` may follow the aggregation, and aggregations nest.
    let postfix = by_group(&sim.vector("avg(node_cpu_utilization) by (group)"));
    assert_eq!(postfix, avg);
    assert_eq!(
        sim.scalar("max(avg by (group) (node_cpu_utilization))"),
        avg[0].1.max(avg[1].1)
    );

    assert_eq!(sim.scalar("count(node_cpu_utilization)"), 8.0);
    let counts = by_group(&sim.vector("count by (group) (node_cpu_utilization)"));
    assert_eq!(
        counts,
        [("api".to_string(), 4.0), ("frontend".to_string(), 4.0)]
    );
    let sums = by_group(&sim.vector("sum without (instance) (node_cpu_utilization)"));
    assert_eq!(sums.len(), 2, "{sums:?}");
    let api_sum: f64 = api.iter().map(sample_value).sum();
    assert!((sums[0].1 - api_sum).abs() < 1e-9, "{sums:?} vs {api_sum}");
    let min = sim.scalar("min(node_cpu_utilization)");
    assert!(min <= max && min > 0.0);
    assert_eq!(sim.vector("no_such_metric"), Vec::<Json>::new());
}

#[test]
fn promql_also_takes_a_form_post() {
    let sim = Sim::start(Some("classlink-2020"));
    let response = request(
        "POST",
        &sim.url("/prometheus/api/v1/query"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&format!("query={}", encode("max(node_cpu_utilization)"))),
        REQUEST_TIMEOUT,
    )
    .unwrap();
    assert_eq!(response.status, 200, "{}", response.body);
    let body = response.json();
    assert_eq!(body["status"], "success");
    let max = sample_value(&body["data"]["result"][0]);
    assert!((0.25..=0.30).contains(&max));
}

/// The simulator keeps no history: a range query gets a matrix of each series with the one
/// sample it knows, now, so that a runbook's `range:` step works in a drill.
#[test]
fn promql_range_query_is_a_matrix_of_the_current_sample() {
    let sim = Sim::start(Some("classlink-2020"));
    let response = request(
        "POST",
        &sim.url("/prometheus/api/v1/query_range"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&format!(
            "query={}&start=1700000000&end=1700000900&step=30s&timeout=10s",
            encode("max(node_cpu_utilization)")
        )),
        REQUEST_TIMEOUT,
    )
    .unwrap();
    assert_eq!(response.status, 200, "{}", response.body);
    let body = response.json();
    assert_eq!(body["data"]["resultType"], "matrix", "{body}");
    let series = &body["data"]["result"][0];
    assert_eq!(series["metric"], json!({}), "{body}");
    let samples = series["values"].as_array().unwrap();
    assert_eq!(samples.len(), 1, "{body}");
    let max: f64 = samples[0][1].as_str().unwrap().parse().unwrap();
    assert!((0.25..=0.30).contains(&max), "{body}");

    let scalar = sim.get("/prometheus/api/v1/query_range?query=0.5&start=1&end=2&step=1");
    assert_eq!(scalar.json()["data"]["result"][0]["values"][0][1], "0.5");
    let error = sim.get("/prometheus/api/v1/query_range?query=max(");
    assert_eq!(error.status, 400);
    assert_eq!(error.json()["errorType"], "bad_data");
}

#[test]
fn promql_outside_the_subset_is_bad_data_never_a_wrong_number() {
    let sim = Sim::start(Some("classlink-2020"));
    for query in [
        "rate(node_cpu_utilization[5m])",
        "rate(x[5m])",
        "node_cpu_utilization + 1",
        "x + 1",
        "max(node_cpu_utilization) > 0.5",
        "-node_cpu_utilization",
        "node_cpu_utilization[5m]",
        "node_cpu_utilization offset 5m",
        "topk(1, node_cpu_utilization)",
        "quantile(0.5, node_cpu_utilization)",
        "max(node_cpu_utilization",
        "sum by (group (node_cpu_utilization)",
        "}{",
    ] {
        let response = sim.query(query);
        assert_eq!(response.status, 400, "{query}: {}", response.body);
        let body = response.json();
        assert_eq!(body["status"], "error", "{query}: {body}");
        assert_eq!(body["errorType"], "bad_data", "{query}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{query}: no error message: {body}"
        );
        assert!(
            body.get("data").is_none(),
            "{query}: data with an error: {body}"
        );
    }
    let response = sim.get("/prometheus/api/v1/query");
    assert_eq!(response.status, 400, "no query: {}", response.body);
    assert_eq!(response.json()["errorType"], "bad_data");
}

#[test]
fn prometheus_metrics_exposition() {
    let sim = Sim::start(Some("classlink-2020"));
    let response = sim.get("/prometheus/metrics");
    assert_eq!(response.status, 200);
    assert!(
        response
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/plain")),
        "{:?}",
        response.headers
    );
    let text = &response.body;
    assert!(text.contains("# TYPE node_cpu_utilization gauge"), "{text}");
    let cpu: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("node_cpu_utilization{"))
        .collect();
    assert_eq!(cpu.len(), 8, "{text}");
    for line in &cpu {
        assert!(
            line.contains("group=\"") && line.contains("instance=\""),
            "{line}"
        );
        let value: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!((0.0..=1.0).contains(&value), "{line}");
    }
    assert_eq!(
        cpu.iter().filter(|l| l.contains(r#"group="api""#)).count(),
        4
    );
}

// ------------------------------------------------------------------ status pages and sites

#[test]
fn status_pages_speak_statuspage_v2() {
    let sim = Sim::start(Some("classlink-2020"));
    let summary = sim.get("/status/aws/api/v2/summary.json");
    assert_eq!(summary.status, 200);
    assert!(
        summary
            .header("content-type")
            .is_some_and(|c| c.contains("json"))
    );
    let summary = summary.json();
    assert_eq!(summary["page"]["name"], "Amazon Web Services", "{summary}");
    assert_eq!(summary["status"]["indicator"], "minor", "{summary}");
    assert!(summary["status"]["description"].is_string());
    let components = summary["components"].as_array().unwrap();
    assert!(
        components.iter().any(|c| c["name"] == "Elastic Load Balancing"
            && c["status"] == "degraded_performance"),
        "{summary}"
    );
    let incidents = summary["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{summary}");
    assert_eq!(
        incidents[0]["name"],
        "Increased 502 errors on Elastic Load Balancing"
    );
    assert_eq!(incidents[0]["impact"], "minor");

    let status = sim.get("/status/aws/api/v2/status.json");
    assert_eq!(status.status, 200);
    let status = status.json();
    assert_eq!(status["page"]["name"], "Amazon Web Services", "{status}");
    assert_eq!(status["status"]["indicator"], "minor", "{status}");
    assert!(status["status"]["description"].is_string());

    assert_eq!(sim.get("/status/nope/api/v2/summary.json").status, 404);
    assert_eq!(sim.get("/status/nope/api/v2/status.json").status, 404);
}

#[test]
fn reference_sites_fail_as_the_scenario_says() {
    let sim = Sim::start(Some("classlink-2020"));
    // Most big sites showed 502s in 2020; one did not.
    let video = sim.rate_502("/sites/video/", 20);
    assert!((0.5..=0.7).contains(&video), "video {video}");
    let shop = sim.rate_502("/sites/shop/", 20);
    assert!((0.3..=0.5).contains(&shop), "shop {shop}");
    assert_eq!(sim.rate_502("/sites/news/", 10), 0.0);
    assert_eq!(sim.get("/sites/nope/").status, 404);
    assert_eq!(sim.get("/lb/nope/").status, 404);
}
