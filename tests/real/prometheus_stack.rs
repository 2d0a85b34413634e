//! Real Prometheus scraping a real node_exporter, each a child of the test on 127.0.0.1 with its
//! configuration and data in the test's directory, ready once Prometheus has scraped the
//! exporter a few times.
//!
//! ```ignore
//! let prom = Prometheus::start(dir.path()).basic_auth("ops", HASH, "pw").run();
//! prom.url // http://127.0.0.1:PORT
//! ```

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value as Json;

use crate::support::{Daemon, free_port, require};

/// A running Prometheus (and the node_exporter it scrapes as job `node`).
pub struct Prometheus {
    /// `http://127.0.0.1:PORT`, the base URL.
    pub url: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    // Dropped in this order: Prometheus stops before its target.
    _prometheus: Daemon,
    _node_exporter: Daemon,
}

/// How a [`Prometheus`] is set up before it starts.
pub struct Builder {
    dir: PathBuf,
    /// `(user, bcrypt hash, password)`: the web config's user and the password that polls.
    basic_auth: Option<(String, String, String)>,
}

impl Prometheus {
    /// A Prometheus in `dir` (its config, data and logs go there).
    pub fn start(dir: &Path) -> Builder {
        Builder {
            dir: dir.to_path_buf(),
            basic_auth: None,
        }
    }
}

impl Builder {
    /// Requires HTTP basic authentication (Prometheus's own `--web.config.file`):
    /// `basic_auth_users: {user: hash}`; `password` is what the readiness poll sends.
    pub fn basic_auth(mut self, user: &str, bcrypt_hash: &str, password: &str) -> Self {
        self.basic_auth = Some((user.into(), bcrypt_hash.into(), password.into()));
        self
    }

    /// Starts node_exporter, then Prometheus scraping it every second, and waits until the
    /// query `up{job="node"}` is 1 and at least three scrapes are stored (so that a range
    /// selector over 10s has several samples).
    pub fn run(self) -> Prometheus {
        let dir = &self.dir;
        let exporter_addr = format!("127.0.0.1:{}", free_port());
        let mut node_exporter = Daemon::start(
            "node_exporter",
            Command::new(require(
                "prometheus-node-exporter",
                "prometheus-node-exporter",
            ))
            .arg(format!("--web.listen-address={exporter_addr}"))
            // A few real collectors are enough, and cheap to scrape every second.
            .args([
                "--collector.disable-defaults",
                "--collector.cpu",
                "--collector.loadavg",
                "--collector.meminfo",
                "--collector.time",
            ]),
            dir,
        );
        node_exporter.wait_http(&format!("http://{exporter_addr}/metrics"));

        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: node\n    static_configs:\n      \
                 - targets: ['{exporter_addr}']\n"
            ),
        )
        .expect("write prometheus.yml");
        let addr = format!("127.0.0.1:{}", free_port());
        let mut command = Command::new(require("prometheus", "prometheus"));
        command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"));
        let mut authorization = None;
        if let Some((user, hash, password)) = &self.basic_auth {
            let web = dir.join("web.yml");
            std::fs::write(&web, format!("basic_auth_users:\n  {user}: '{hash}'\n"))
                .expect("write web.yml");
            command.arg(format!("--web.config.file={}", web.display()));
            authorization = Some(basic(user, password));
        }
        let mut prometheus = Daemon::start("prometheus", &mut command, dir);
        let ready_query = "count_over_time(up{job=\"node\"}[1m]) >= 3 and up{job=\"node\"} == 1";
        prometheus.wait_until("`up{job=\"node\"}` is 1 after three scrapes", || {
            query(&addr, ready_query, authorization.as_deref())
                .is_some_and(|(status, body)| status == 200 && first_value(&body).is_some())
        });
        Prometheus {
            url: format!("http://{addr}"),
            addr,
            _prometheus: prometheus,
            _node_exporter: node_exporter,
        }
    }
}

/// `Basic <base64 of user:password>`.
pub fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

/// Standard base64 with padding: the readiness poll must not depend on the code under test.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `GET /api/v1/query?query=...` over a plain socket: the status and body, or None when
/// nothing answered.
pub fn query(addr: &str, promql: &str, authorization: Option<&str>) -> Option<(u16, String)> {
    let encoded: String = promql
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    get(
        addr,
        &format!("/api/v1/query?query={encoded}"),
        authorization,
    )
}

/// A plain HTTP/1.0 GET of `path` at `addr`: the status and body.
pub fn get(addr: &str, path: &str, authorization: Option<&str>) -> Option<(u16, String)> {
    let mut stream =
        TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.get(9..12)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Some((status, body.to_string()))
}

/// The value of the first series of a vector answer.
fn first_value(body: &str) -> Option<String> {
    let json: Json = serde_json::from_str(body).ok()?;
    json["data"]["result"][0]["value"][1]
        .as_str()
        .map(str::to_string)
}
