//! A real HTTP server on 127.0.0.1 for steps to talk to, on its own thread and tokio runtime so
//! tests stay synchronous. Every request is logged (method, path, query, headers, body).
//!
//! Routes:
//! - a path registered with [`Server::sequence`]: the next code of its sequence (the last
//!   repeats), body `step N`.
//! - `/status/<code>`: that status, body `status <code>`.
//! - `/echo` (any method): JSON `{method, path, query, headers, body, json}` of the request.
//! - `/say?<text>`: 200 with the percent-decoded query as the body (what a hostile server
//!   sends).
//! - `/redirect/<code>`: 302 to `/status/<code>`.
//! - `/redirect-to?<url>`: 302 to `<url>`, as written.
//! - `/redirect307-to?<url>`: 307 (method and body kept) to `<url>`, as written.
//! - `/hostile`: 200 with [`HOSTILE`], terminal escape sequences included.
//! - `/big/<bytes>`: 200 with a body of that many `a`s.
//! - `/slow/<ms>`: answers 200 after `ms` milliseconds.
//! - `/hang`: never answers (for an hour).
//! - `.../api/v1/query`: a fake Prometheus; the `query` parameter (form or URL) picks the answer: a number
//!   (one series with that value), `multi` (three series), `empty`, `scalar`, `bad...` (error
//!   envelope, HTTP 400), anything else (one series with value 1).
//! - `/pages/<kind>/api/v2/summary.json`: a fake Statuspage; `<kind>` is `ok`, `major`,
//!   `derived` (no indicator; one component in major outage), `weird` (unknown enum values),
//!   `hostile` (major, with [`HOSTILE`] as its description and an incident's name), or `notjson`
//!   (an HTML page).
//! - anything else: 404.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};

/// Text a hostile system answers: clear the screen, retitle the window, write the clipboard
/// (OSC 52), and a one-character CSI (C1).
pub const HOSTILE: &str =
    "\u{1b}[2J\u{1b}]0;pwned title\u{7}\u{1b}]52;c;cHduZWQ=\u{7}\u{9b}31m outage\u{202e}egatuo";

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Lowercase names, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Logged {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Inner {
    log: Vec<Logged>,
    /// path -> (codes, requests served so far)
    sequences: HashMap<String, (Vec<u16>, usize)>,
}

type Shared = Arc<Mutex<Inner>>;

/// A running server; it stops when dropped.
pub struct Server {
    port: u16,
    state: Shared,
    _served: Served,
}

/// An axum router served on 127.0.0.1 (an ephemeral port) from its own thread and runtime,
/// for a test's own routes; it stops when dropped.
pub struct Served {
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Served {
    pub fn start(app: Router) -> Served {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                tokio::select! {
                    result = axum::serve(listener, app).into_future() => result.unwrap(),
                    _ = stopped => {}
                }
            });
            // Dropping the runtime cancels requests still hanging.
            runtime.shutdown_background();
        });
        Served {
            port,
            stop: Some(stop),
        }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Server {
    pub fn start() -> Server {
        let state: Shared = Arc::default();
        let served = Served::start(
            Router::new()
                .fallback(handle)
                .with_state(Arc::clone(&state)),
        );
        Server {
            port: served.port,
            state,
            _served: served,
        }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `path` answers with `codes` in turn; once they are used up the last one repeats.
    pub fn sequence(&self, path: &str, codes: impl IntoIterator<Item = u16>) -> &Self {
        let codes: Vec<u16> = codes.into_iter().collect();
        assert!(!codes.is_empty());
        self.lock().sequences.insert(path.into(), (codes, 0));
        self
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Logged> {
        self.lock().log.clone()
    }

    /// The requests to exactly `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Logged> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// How many requests `path` received.
    pub fn count(&self, path: &str) -> usize {
        self.requests_to(path).len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn handle(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let header_list: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let sequenced = {
        let mut inner = state.lock().unwrap_or_else(|e| e.into_inner());
        inner.log.push(Logged {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            headers: header_list.clone(),
            body: body_text.clone(),
        });
        inner.sequences.get_mut(&path).map(|(codes, served)| {
            let code = codes[(*served).min(codes.len() - 1)];
            *served += 1;
            (code, *served)
        })
    };
    if let Some((code, n)) = sequenced {
        return (status(code), format!("step {n}")).into_response();
    }

    if let Some(code) = path.strip_prefix("/status/") {
        let code: u16 = code.parse().unwrap_or(400);
        return (status(code), format!("status {code}")).into_response();
    }
    if path == "/echo" {
        let headers: serde_json::Map<String, Json> = header_list
            .into_iter()
            .map(|(n, v)| (n, Json::String(v)))
            .collect();
        let parsed: Json = serde_json::from_str(&body_text).unwrap_or(Json::Null);
        return axum::Json(json!({
            "method": method.as_str(),
            "path": path,
            "query": query,
            "headers": headers,
            "body": body_text,
            "json": parsed,
        }))
        .into_response();
    }
    if path == "/say" {
        let text = percent_encoding::percent_decode_str(&query).decode_utf8_lossy();
        return (StatusCode::OK, text.into_owned()).into_response();
    }
    if path == "/redirect-to" {
        return (StatusCode::FOUND, [(header::LOCATION, query)], "moved").into_response();
    }
    if path == "/redirect307-to" {
        return (
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, query)],
            "moved",
        )
            .into_response();
    }
    if let Some(code) = path.strip_prefix("/redirect/") {
        return (
            StatusCode::FOUND,
            [(header::LOCATION, format!("/status/{code}"))],
            "moved",
        )
            .into_response();
    }
    if path == "/hostile" {
        return (StatusCode::OK, HOSTILE).into_response();
    }
    // `/repeat/N?UNIT`: the (percent-decoded) unit N times, a hostile body of any shape.
    if let Some(times) = path.strip_prefix("/repeat/") {
        let unit = percent_encoding::percent_decode_str(&query).decode_utf8_lossy();
        return (StatusCode::OK, unit.repeat(times.parse().unwrap_or(0))).into_response();
    }
    if let Some(size) = path.strip_prefix("/big/") {
        let size: usize = size.parse().unwrap_or(0);
        return (StatusCode::OK, "a".repeat(size)).into_response();
    }
    if let Some(ms) = path.strip_prefix("/slow/") {
        let ms: u64 = ms.parse().unwrap_or(100);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        return (StatusCode::OK, "slow").into_response();
    }
    if path == "/hang" {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return (StatusCode::OK, "late").into_response();
    }
    if path.ends_with("/api/v1/query") {
        // Prometheus reads a POSTed form as it reads the URL's query string.
        let q = query_param(&body_text, "query")
            .or_else(|| query_param(&query, "query"))
            .unwrap_or_default();
        return prometheus(&q);
    }
    if let Some(rest) = path.strip_prefix("/pages/")
        && let Some(kind) = rest.strip_suffix("/api/v2/summary.json")
    {
        return statuspage(kind);
    }
    (StatusCode::NOT_FOUND, "not found").into_response()
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST)
}

/// The value of `name` in a query string, percent-decoded (`+` is a space).
fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(b)) => {
                out.push(b);
                i += 2;
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn series(instance: &str, value: &str) -> Json {
    json!({
        "metric": {"__name__": "up", "instance": instance, "job": "frontend"},
        "value": [1_700_000_000.0, value],
    })
}

fn prometheus(query: &str) -> Response {
    let vector = |result: Vec<Json>| {
        axum::Json(json!({
            "status": "success",
            "data": {"resultType": "vector", "result": result},
        }))
        .into_response()
    };
    if query.starts_with("bad") {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({
                "status": "error",
                "errorType": "bad_data",
                "error": "invalid parameter \"query\": 1:4: parse error: unexpected end of input",
            })),
        )
            .into_response();
    }
    match query {
        "multi" => vector(vec![
            series("fe-1:9100", "0.2"),
            series("fe-2:9100", "0.4"),
            series("fe-3:9100", "0.9"),
        ]),
        "empty" => vector(vec![]),
        // Prometheus writes these as strings: `0/0`, `1/0`, `-1/0`.
        "nan" => vector(vec![series("lb-1:9100", "NaN")]),
        "inf" => vector(vec![series("lb-1:9100", "+Inf")]),
        "minus_inf" => vector(vec![series("lb-1:9100", "-Inf")]),
        "scalar" => axum::Json(json!({
            "status": "success",
            "data": {"resultType": "scalar", "result": [1_700_000_000.0, "42"]},
        }))
        .into_response(),
        q if q.parse::<f64>().is_ok() => vector(vec![series("lb-1:9100", q)]),
        _ => vector(vec![series("lb-1:9100", "1")]),
    }
}

fn statuspage(kind: &str) -> Response {
    let page = json!({"id": "p1", "name": "Provider", "url": "https://status.example"});
    let body = match kind {
        "ok" => json!({
            "page": page,
            "status": {"indicator": "none", "description": "All Systems Operational"},
            "components": [
                {"id": "c1", "name": "API", "status": "operational"},
                {"id": "c2", "name": "Load Balancers", "status": "operational"},
            ],
            "incidents": [],
        }),
        "major" => json!({
            "page": page,
            "status": {"indicator": "major", "description": "Partial System Outage"},
            "components": [
                {"id": "c1", "name": "API", "status": "operational"},
                {"id": "c2", "name": "Load Balancers", "status": "major_outage"},
            ],
            "incidents": [
                {"id": "i1", "name": "Elevated 502s from load balancers",
                 "status": "investigating", "impact": "major"},
            ],
        }),
        "derived" => json!({
            "page": page,
            "components": [
                {"id": "c1", "name": "API", "status": "operational"},
                {"id": "c2", "name": "Load Balancers", "status": "major_outage"},
            ],
            "incidents": [],
        }),
        "hostile" => json!({
            "page": page,
            "status": {"indicator": "major", "description": HOSTILE},
            "components": [
                {"id": "c1", "name": "API", "status": "major_outage"},
            ],
            "incidents": [
                {"id": "i1", "name": HOSTILE, "status": "investigating", "impact": "major"},
            ],
        }),
        "weird" => json!({
            "page": page,
            "status": {"indicator": "apocalyptic", "description": "Something new"},
            "components": [
                {"id": "c1", "name": "API", "status": "on_fire"},
            ],
            "incidents": [
                {"id": "i1", "name": "Odd", "status": "pondering", "impact": "cosmic"},
            ],
        }),
        _ => {
            return (
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>Status page moved</body></html>",
            )
                .into_response();
        }
    };
    axum::Json(body).into_response()
}
