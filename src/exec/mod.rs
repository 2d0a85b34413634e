//! Executors: each takes a resolved step (templates already rendered) and returns its result
//! fields and a one-line summary, or an error when it could not produce its fields at all.
//!
//! What the network does is data, not an error: a refused connection, a timeout or a 502 are
//! recorded in the fields and judged by the step's `expect`. `ExecError` is for the step that
//! could not produce fields (an unparsable answer, a command that cannot be started).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value as Json};

pub mod command;
pub mod http;
mod http_sampler;
pub mod prometheus;
pub mod statuspage;
pub mod supervise;
pub mod tcp;

/// What an executor found.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecOutput {
    /// The result fields, visible to `expect` and later steps as `steps.<id>.<field>`.
    pub fields: Map<String, Json>,
    /// One human line, e.g. `502 rate 38% (19/50), p95 1.2 s`.
    pub summary: String,
    /// Whether the step passes when it has no `expect` (e.g. http: an answer below 400 to every
    /// request sent, and at least one).
    pub ok: bool,
}

/// The step could not produce its fields; the message says why, precisely.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ExecError(pub String);

/// Live progress of a running check, for the guided UI (ignored non-interactively).
#[derive(Clone, Debug, PartialEq)]
pub enum ProgressUpdate {
    /// A step's executor starts (attempt `attempt` of `attempts`).
    Running {
        step: String,
        kind: &'static str,
        attempt: u32,
        attempts: u32,
    },
    /// HTTP sampling, sent while the probe runs (also while nothing finishes, so a hung
    /// endpoint shows its requests in flight): requests done of total, requests in flight and
    /// where most of them are, requests that failed (5xx or no answer), the running 5xx rate
    /// and p95.
    Samples {
        done: u32,
        total: u32,
        in_flight: u32,
        failed: u32,
        phase: Option<RequestPhase>,
        rate_5xx: f64,
        p95_ms: Option<f64>,
    },
    /// An attempt failed; the next starts after `delay`.
    Retrying {
        step: String,
        attempt: u32,
        attempts: u32,
        delay: Duration,
    },
    /// A `wait` step sleeps for `duration`.
    Waiting { duration: Duration },
}

/// Where a request in flight is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestPhase {
    /// Looking up the name and opening the connection.
    Connecting,
    /// The request is sent; no status line yet.
    Headers,
    /// The headers arrived; the body is being read.
    Body,
}

impl RequestPhase {
    /// As the live line shows it: `connecting`, `waiting for headers`, `reading body`.
    pub fn label(self) -> &'static str {
        match self {
            RequestPhase::Connecting => "connecting",
            RequestPhase::Headers => "waiting for headers",
            RequestPhase::Body => "reading body",
        }
    }
}

/// Where executors report progress.
pub type Progress = Arc<dyn Fn(ProgressUpdate) + Send + Sync>;

/// A progress sink that drops everything.
pub fn no_progress() -> Progress {
    Arc::new(|_| {})
}

/// A resolved `http` step.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<RequestBody>,
    pub samples: u32,
    pub concurrency: u32,
    pub timeout: Duration,
    pub insecure: bool,
    pub follow_redirects: bool,
    /// The step changes things: a redirect to another origin is refused rather than followed
    /// (see `http::Redirects`).
    pub action: bool,
}

#[derive(Clone, Debug)]
pub enum RequestBody {
    Text(String),
    Json(Json),
    /// `application/x-www-form-urlencoded` (a Prometheus query). Its content type goes with
    /// the body, so a redirect that keeps the body (307, 308) keeps it too, even re-sent bare.
    Form(Vec<(String, String)>),
}

impl RequestBody {
    /// The body's text as it is sent: a JSON body serialized as the request carries it.
    pub(crate) fn sent_text(&self) -> String {
        match self {
            RequestBody::Text(text) => text.clone(),
            RequestBody::Json(json) => json.to_string(),
            RequestBody::Form(pairs) => RequestBody::form_encoded(pairs),
        }
    }

    /// The body's bytes for a form: every byte but letters, digits and `*-._` percent-encoded,
    /// which every form decoder reads (a space as `%20`, not `+`).
    pub(crate) fn form_encoded(pairs: &[(String, String)]) -> String {
        use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
        const FORM: &AsciiSet = &NON_ALPHANUMERIC
            .remove(b'*')
            .remove(b'-')
            .remove(b'.')
            .remove(b'_');
        pairs
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    utf8_percent_encode(k, FORM),
                    utf8_percent_encode(v, FORM)
                )
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// The content type of [`RequestBody::Form`].
pub(crate) const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// A resolved `command` step.
#[derive(Clone, Debug)]
pub struct CommandRequest {
    pub program: Program,
    pub env: Vec<(String, String)>,
    pub cwd: Option<String>,
    pub timeout: Duration,
}

#[derive(Clone, Debug)]
pub enum Program {
    Argv(Vec<String>),
    Shell(String),
}

/// Caps on what a step keeps of a body or an output stream.
pub const BODY_CAP: usize = 1024 * 1024;

/// What a step had found when it was cut short (Ctrl-C): kept in the timeline as its data.
#[derive(Clone, Debug, Default)]
pub struct Partial(Arc<Mutex<PartialData>>);

#[derive(Default)]
struct PartialData {
    fields: Map<String, Json>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// Fields read when asked rather than copied as they change: an http probe's counts and
    /// percentiles, exact at the moment it was cut short.
    live: Option<LiveFields>,
}

type LiveFields = Arc<dyn Fn() -> Map<String, Json> + Send + Sync>;

impl std::fmt::Debug for PartialData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartialData")
            .field("fields", &self.fields)
            .field("stdout", &self.stdout.len())
            .field("stderr", &self.stderr.len())
            .field("live", &self.live.is_some())
            .finish()
    }
}

impl Partial {
    fn with<R>(&self, f: impl FnOnce(&mut PartialData) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn set(&self, key: &str, value: Json) {
        self.with(|d| d.fields.insert(key.to_string(), value));
    }

    /// Reads `fields` whenever the partial result is asked for, after the fields set.
    pub fn observe(&self, fields: impl Fn() -> Map<String, Json> + Send + Sync + 'static) {
        self.with(|d| d.live = Some(Arc::new(fields)));
    }

    /// Appends command output as it arrives (capped like the finished fields).
    pub fn append(&self, stderr: bool, bytes: &[u8]) {
        self.with(|d| {
            let buf = if stderr { &mut d.stderr } else { &mut d.stdout };
            let room = BODY_CAP.saturating_sub(buf.len());
            buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
        });
    }

    /// The partial fields, `partial: true` included; empty when nothing was found yet.
    pub fn fields(&self) -> Map<String, Json> {
        // Read outside the lock: the observed source takes its own.
        let live = self.with(|d| d.live.clone());
        let live = live.map(|f| f()).unwrap_or_default();
        self.with(|d| {
            let mut fields = d.fields.clone();
            fields.extend(live);
            if !d.stdout.is_empty() {
                fields.insert(
                    "stdout".into(),
                    Json::String(String::from_utf8_lossy(&d.stdout).into_owned()),
                );
            }
            if !d.stderr.is_empty() {
                fields.insert(
                    "stderr".into(),
                    Json::String(String::from_utf8_lossy(&d.stderr).into_owned()),
                );
            }
            if !fields.is_empty() {
                fields.insert("partial".into(), Json::Bool(true));
            }
            fields
        })
    }
}
