//! The `http` executor: sends one request or a sample of many and reports what came back.
//!
//! Result fields (visible as `steps.<id>.<field>`):
//! - `status`: status code of the last completed response; null when nothing answered.
//! - `count`: samples taken: always `samples`, counting the requests the step's deadline left
//!   unsent (see [`run`]).
//! - `responses`: requests that got an HTTP answer.
//! - `not_sent`: samples the step's deadline left unsent. They are not errors and count in no
//!   rate: a slow, healthy endpoint that ran out of time has failed nothing.
//! - `cut_off`: requests still waiting at the step's deadline that had been sent less than half
//!   the timeout before it; like `not_sent`, they are in no rate. A request that waited longer
//!   timed out, and is an error.
//! - `status_counts`: responses per status code, e.g. `{"200": 31, "502": 19}`.
//! - `error_count`: requests that were sent and got no response (transport errors and timeouts).
//! - `errors`: transport error message -> how many requests failed with it
//!   (`timed out after 2 s waiting for response headers`, `connection reset`, …).
//! - `rate_5xx`: 5xx responses / `responses`; null when nothing answered, so that
//!   `rate_5xx < 0.02` fails (`0 of 60 requests were answered`) instead of passing.
//! - `rate_error`: (5xx responses + `error_count`) / (`responses` + `error_count`): what users
//!   see fail. A hung or closing endpoint has 1.0; null when no request was sent.
//! - `p50_ms`, `p95_ms`, `p99_ms`, `max_ms`: latency (request sent to body read, or to the cap)
//!   over the requests that got a response, nearest-rank, 0.1 ms resolution; null when none did.
//! - `body`: text of the last response (lossy UTF-8, first 1 MiB); null when nothing answered.
//! - `body_truncated`: whether that body was longer than 1 MiB. The rest is never read: the
//!   connection is closed at the cap, so a server streaming gigabytes costs 1 MiB. A capped body
//!   is still an answer (its status decides), and the summary says `body exceeds 1 MiB cap`.
//! - `json`: `body` parsed as JSON, or null.
//! - `headers`: headers of the last response, lowercase name -> value (repeats joined with
//!   `, `); null when nothing answered.
//! - `url`, `method`: what was requested (the URL without the credentials of its userinfo).
//! - `request_body`: the body sent, as text (a `json:` body as its JSON text, a form as its
//!   encoded text); null when the request had none. Secrets in it are masked in the timeline.
//!
//! A step that fails (an expectation does not hold, or an answer was 400 or more) shows the
//! first 200 characters of the last answer's body in its summary (`400 Bad Request in 3 ms;
//! body: {"error":"field 'region' is required"}`), masked, on one line; a sample of several
//! requests shows it only when that last answer was refused (see `engine/answer_body.rs`).
//!
//! A single request, and anything over TLS, goes through reqwest. A sample of several requests
//! to a plain-HTTP URL goes through the sampler of `http_sampler.rs` (a keep-alive connection
//! per worker, driven in the worker's task), which sends the same requests and reports the same
//! fields and messages; see its doc comment for when it applies and what differs.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream;
use reqwest::dns::{Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Method, StatusCode, Url};

use tokio::sync::OnceCell;

use super::http_sampler;
use super::{
    BODY_CAP, ExecError, ExecOutput, HttpRequest, Partial, Progress, RequestBody, RequestPhase,
};
use crate::duration;

pub(super) const USER_AGENT: &str = concat!("runbook/", env!("CARGO_PKG_VERSION"));

/// Installs rustls' ring crypto provider as the process default, once. reqwest is built without a
/// provider of its own, so this must run before any client is built; a provider installed
/// earlier by someone else is kept.
pub fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // An error only means a provider is already installed, which is what we need.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Runs an `http` step: `samples` requests, at most `concurrency` in flight.
///
/// `timeout` is a deadline for the whole step, not a budget per request: every sample shares
/// it. A hung endpoint probed with `samples: 50, concurrency: 10` therefore costs one timeout,
/// not one per wave of ten, and the step ends within its timeout whatever the network does.
/// At the deadline, requests in flight count as timed out (`timed out after 2 s waiting for
/// response headers` or `… reading the body`), and requests not yet sent count as timed out too
/// (`timed out after 2 s before being sent`), so `count` is always `samples`. A probe that must
/// take longer than one request's worth of time needs a timeout sized for the whole probe.
pub async fn run(req: &HttpRequest, progress: &Progress) -> Result<ExecOutput, ExecError> {
    run_keeping(req, progress, &Partial::default()).await
}

/// [`run`], keeping what the probe has finished in `partial` while it runs, so that a probe
/// cut short (Ctrl-C) is recorded with its counts and percentiles.
pub async fn run_keeping(
    req: &HttpRequest,
    progress: &Progress,
    partial: &Partial,
) -> Result<ExecOutput, ExecError> {
    // Set before anything else, so that building the client (which reads the trust store)
    // is inside the step's time as well.
    let deadline = Instant::now() + req.timeout;
    install_crypto_provider();
    let url = parse_url(&req.url)?;
    let method = parse_method(&req.method)?;
    let headers = header_map(&req.headers)?;
    let total = req.samples.max(1);
    let concurrency = req.concurrency.clamp(1, total) as usize;
    let watched = Watched::new(Tally::new(req.timeout), total);
    watched.keep_in(partial);
    if http_sampler::applies(req, &url, &method) {
        let sampled = http_sampler::sample(
            req,
            &url,
            &method,
            &headers,
            deadline,
            total,
            concurrency,
            &watched,
        );
        watched
            .reporting(progress, sampled)
            .await
            .map_err(ExecError)?;
        return Ok(with_request_body(
            watched.into_tally().output(&req.url, method.as_str()),
            req,
        ));
    }
    let redirects = Redirects::for_step(req);
    let client = client(req.insecure, redirects)?;
    let resend = (redirects == Redirects::Check).then_some(Resend {
        client: &client,
        method: &method,
        body: req.body.as_ref(),
    });

    let live = &watched.live;
    let probe = async {
        let mut outcomes = stream::iter(0..total)
            .map(|_| {
                let request = build_request(&client, &method, &url, &headers, req.body.as_ref());
                async move {
                    // A request is only started while the deadline is ahead: after it, the
                    // rest of the probe resolves at once instead of each getting a poll at the
                    // network.
                    if Instant::now() >= deadline {
                        return Sample::Unsent;
                    }
                    let started = Instant::now();
                    // reqwest does not tell connecting from waiting for the answer.
                    let flight = InFlight::start(live, RequestPhase::Headers);
                    let exchanged = exchange_until(
                        request,
                        resend,
                        deadline,
                        req.timeout,
                        BODY_CAP,
                        Some(&flight),
                    );
                    match exchanged.await {
                        Ok(answer) => Sample::Answer(answer),
                        Err(message) => Sample::failed(message, started, req.timeout),
                    }
                }
            })
            .buffer_unordered(concurrency);
        while let Some(outcome) = outcomes.next().await {
            // An action redirected to another origin fails the step; the rest of it is not
            // sent.
            if let Sample::Failed(message) = &outcome
                && redirects::is_refusal(message)
            {
                return Err(ExecError(message.clone()));
            }
            watched
                .tally
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .add(outcome);
        }
        Ok(())
    };
    watched.reporting(progress, probe).await?;
    Ok(with_request_body(
        watched.into_tally().output(&req.url, method.as_str()),
        req,
    ))
}

/// Records what was sent (`request_body`), so the timeline shows the request a server refused;
/// the timeline writer masks secrets in it as in every field.
fn with_request_body(mut output: ExecOutput, req: &HttpRequest) -> ExecOutput {
    let sent = req.body.as_ref().map(RequestBody::sent_text);
    output.fields.insert("request_body".into(), sent.into());
    output
}

/// What became of one sample.
pub(super) enum Sample {
    Answer(Answer),
    /// No answer: the transport error, or the phase the deadline interrupted.
    Failed(String),
    /// The step's deadline passed before this request's turn came.
    Unsent,
    /// Sent late in the step and still waiting at its deadline: the probe ran out of time, the
    /// endpoint did not fail. Counted apart, in no rate, like `Unsent`.
    CutOff,
}

impl Sample {
    /// A request that got no answer: a failure, unless the step's deadline cut it off before it
    /// had waited half the timeout. A hung endpoint's first requests wait the whole timeout and
    /// fail; the last requests to a slow, healthy one were merely sent too late to finish.
    pub(super) fn failed(message: String, started: Instant, timeout: Duration) -> Sample {
        let timed_out = message == timeout_message(Phase::Head, timeout)
            || message == timeout_message(Phase::Body, timeout);
        if timed_out && started.elapsed() < timeout / 2 {
            Sample::CutOff
        } else {
            Sample::Failed(message)
        }
    }
}

/// Parses an `http(s)` URL, or says precisely what is wrong with it.
pub(crate) fn parse_url(text: &str) -> Result<Url, ExecError> {
    let url =
        Url::parse(text.trim()).map_err(|e| ExecError(format!("invalid URL `{text}`: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ExecError(format!(
            "invalid URL `{text}`: scheme `{}` is not http or https",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ExecError(format!("invalid URL `{text}`: no host")));
    }
    Ok(url)
}

/// Any well-formed method token is accepted (caches want `PURGE`, WebDAV `PROPFIND`).
fn parse_method(text: &str) -> Result<Method, ExecError> {
    let upper = text.trim().to_ascii_uppercase();
    Method::from_bytes(upper.as_bytes())
        .ok()
        .filter(|_| !upper.is_empty())
        .ok_or_else(|| ExecError(format!("unsupported HTTP method `{text}`")))
}

pub(crate) fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, ExecError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let header_name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| ExecError(format!("invalid header name `{name}`")))?;
        let header_value = HeaderValue::from_str(value)
            .map_err(|_| ExecError(format!("invalid value for header `{name}`")))?;
        map.append(header_name, header_value);
    }
    Ok(map)
}

/// A client with the step's TLS and redirect settings. One per step, so samples reuse
/// connections the way real traffic does.
pub(crate) fn client(insecure: bool, redirects: Redirects) -> Result<Client, ExecError> {
    install_crypto_provider();
    let policy = redirects.policy();
    let tls = tls::config(insecure)
        .as_ref()
        .map_err(|e| ExecError(e.clone()))?;
    Client::builder()
        .user_agent(USER_AGENT)
        .dns_resolver(Resolver::default())
        .tls_backend_preconfigured(tls.clone())
        .redirect(policy)
        .build()
        .map_err(|e| {
            ExecError(format!(
                "cannot set up the HTTP client: {}",
                transport_message(&e)
            ))
        })
}

/// Resolves host names for a client: once per name for all its requests, on a plain thread.
///
/// One lookup shared by a probe's samples spares a struggling resolver fifty identical queries
/// (and a failure is shared too: the step is over in well under a second anyway). See
/// [`lookup`] for the thread.
#[derive(Default)]
struct Resolver {
    lookups: Mutex<HashMap<String, Arc<OnceCell<Lookup>>>>,
}

/// The addresses of a name, or the kind and text of the error (`io::Error` is not `Clone`).
type Lookup = Result<Vec<SocketAddr>, (io::ErrorKind, String)>;

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let cell = self
            .lookups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(host.clone())
            .or_default()
            .clone();
        Box::pin(async move {
            // Port 0: reqwest puts in the URL's port.
            let found = cell
                .get_or_init(|| async move {
                    lookup((host, 0))
                        .await
                        .map_err(|e| (e.kind(), e.to_string()))
                })
                .await;
            match found {
                Ok(addrs) => Ok(Box::new(addrs.clone().into_iter()) as reqwest::dns::Addrs),
                Err((kind, text)) => Err(io::Error::new(*kind, text.clone()).into()),
            }
        })
    }
}

/// Resolves `target` with the system resolver (getaddrinfo) on a thread of its own.
///
/// tokio's `lookup_host` and reqwest's default resolver run getaddrinfo on tokio's blocking
/// pool, and the runtime waits for that pool when the process ends: a resolver that drops a
/// query (glibc asks again after 5 s) kept `runbook` alive for seconds after the run had
/// finished, past every timeout. A detached thread is abandoned at exit instead; the step's
/// timeout bounds the wait for its answer.
pub(crate) async fn lookup<A>(target: A) -> io::Result<Vec<SocketAddr>>
where
    A: ToSocketAddrs + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("runbook-dns".into())
        .spawn(move || {
            let _ = tx.send(target.to_socket_addrs().map(|addrs| addrs.collect()));
        })?;
    rx.await.unwrap_or_else(|_| {
        Err(io::Error::other(
            "the resolver thread ended without an answer",
        ))
    })
}

pub(super) fn build_request(
    client: &Client,
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
    body: Option<&RequestBody>,
) -> reqwest::RequestBuilder {
    let builder = client
        .request(method.clone(), url.clone())
        .headers(headers.clone());
    match body {
        None => builder,
        Some(RequestBody::Text(text)) => builder.body(text.clone()),
        Some(RequestBody::Json(json)) => builder.json(json),
        Some(RequestBody::Form(pairs)) => builder
            .header(reqwest::header::CONTENT_TYPE, super::FORM_CONTENT_TYPE)
            .body(RequestBody::form_encoded(pairs)),
    }
}

/// A response read to its end (or to the cap).
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub truncated: bool,
    pub latency: Duration,
}

/// Sends a request and reads its body up to `cap`, all within `timeout`. The error is a short
/// transport message (`connection refused`, `timed out after 2 s waiting for response
/// headers`). API answers (Prometheus, Statuspage) may be larger than what a step keeps of a
/// body, hence the caller's cap; they must still be bounded.
///
/// The message names the URL it was fetching, credentials removed (see [`naming`]): an API
/// step's `error` is read on its own, far from the step's URL.
pub(crate) async fn exchange(
    request: reqwest::RequestBuilder,
    resend: Option<Resend<'_>>,
    timeout: Duration,
    cap: usize,
) -> Result<Answer, String> {
    let (client, built) = request.build_split();
    let request = match built {
        Ok(request) => request,
        Err(e) => {
            let message = transport_message(&e);
            return Err(match e.url() {
                Some(url) => naming(&message, url.as_str()),
                None => message,
            });
        }
    };
    let fetched = request.url().to_string();
    let request = reqwest::RequestBuilder::from_parts(client, request);
    exchange_until(
        request,
        resend,
        Instant::now() + timeout,
        timeout,
        cap,
        None,
    )
    .await
    .map_err(|message| naming(&message, &fetched))
}

/// `connection refused (http://127.0.0.1:9/health)`: a transport error with the URL it was
/// fetching. Every sample of a step fetches the same URL, so messages that differ only in it
/// do not occur, and an `errors` map keyed by them counts as it did without it.
pub(crate) fn naming(message: &str, url: &str) -> String {
    format!("{message} ({})", shown_url(url))
}

/// A URL as messages, previews and the `url` field show it: without the `user:password@` of
/// its userinfo, which is a credential whether or not it was declared a secret; otherwise as
/// written. (Declared secrets elsewhere in it, a token in the query, are masked on the way out
/// like any other text.)
pub fn shown_url(url: &str) -> String {
    match Url::parse(url.trim()) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Ok(_) => url.to_string(),
        // Not a URL reqwest would fetch; a step only gets here with one, but a text with an
        // `@` before the host is still cut to what follows it.
        Err(_) => match url.split_once("://") {
            Some((scheme, rest)) => {
                let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
                match rest[..authority_end].rfind('@') {
                    Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
                    None => url.to_string(),
                }
            }
            None => url.to_string(),
        },
    }
}

/// Where a request was when it failed or ran out of time.
#[derive(Clone, Copy)]
pub(super) enum Phase {
    /// Resolving, connecting, the TLS handshake, sending, and waiting for the status line and
    /// headers: reqwest does not tell these apart.
    Head,
    /// The headers arrived; the body is being read.
    Body,
}

/// `exchange` against a deadline shared with other requests; `timeout` is what the deadline
/// stands for, for the message. A check's client stops at a redirect to another origin:
/// `resend` follows it there without the step's headers.
pub(super) async fn exchange_until(
    request: reqwest::RequestBuilder,
    resend: Option<Resend<'_>>,
    deadline: Instant,
    timeout: Duration,
    cap: usize,
    flight: Option<&InFlight<'_>>,
) -> Result<Answer, String> {
    let started = Instant::now();
    let mut phase = Phase::Head;
    let work = async {
        let mut response = request.send().await?;
        if let Some(resend) = resend {
            response = resend.follow_bare(response).await?;
        }
        phase = Phase::Body;
        if let Some(flight) = flight {
            flight.enter(RequestPhase::Body);
        }
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response.chunk().await? {
            let room = cap - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                // Dropping the response closes the connection instead of reading the rest.
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok::<_, reqwest::Error>(Answer {
            status: response.status(),
            headers: response.headers().clone(),
            body,
            truncated,
            latency: started.elapsed(),
        })
    };
    let result = tokio::time::timeout_at(deadline.into(), work).await;
    match (result, phase) {
        (Ok(Ok(answer)), _) => Ok(answer),
        (Ok(Err(e)), Phase::Head) => Err(transport_message(&e)),
        (Ok(Err(e)), Phase::Body) => Err(body_message(&e)),
        (Err(_), phase) => Err(timeout_message(phase, timeout)),
    }
}

/// `timed out after 2 s waiting for response headers`, `… reading the body`.
pub(super) fn timeout_message(phase: Phase, timeout: Duration) -> String {
    let place = match phase {
        Phase::Head => "waiting for response headers",
        Phase::Body => "reading the body",
    };
    format!("{} {place}", timed_out_after(timeout))
}

/// A transport error while reading a body: the same messages, with a reset placed in the body
/// (the server had answered, then went away).
pub(super) fn body_message(err: &(dyn StdError + 'static)) -> String {
    let message = transport_message(err);
    if message == "connection reset" {
        "connection reset while reading the body".to_string()
    } else {
        message
    }
}

/// The message for requests a step's deadline left unsent.
fn unsent_message(timeout: Duration) -> String {
    format!("{} before being sent", timed_out_after(timeout))
}

/// `timed out after 2 s`, `timed out after 300 ms`.
pub(crate) fn timed_out_after(timeout: Duration) -> String {
    format!("timed out after {}", short_duration(timeout))
}

/// `duration::human` without a trailing `.0` (`2 s`, not `2.0 s`): configured timeouts are
/// round numbers and should read as written.
pub(crate) fn short_duration(d: Duration) -> String {
    let text = duration::human(d);
    match text.strip_suffix(".0 s") {
        Some(whole) => format!("{whole} s"),
        None => text,
    }
}

/// A short, precise message for a failed request, found by walking the error's source chain:
/// `connection refused`, `connection reset`, `dns error: …`, `invalid certificate: …`.
pub(crate) fn transport_message(err: &(dyn StdError + 'static)) -> String {
    let mut saw_dns = false;
    let mut deepest = err.to_string();
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(message) = known_error(e) {
            return message;
        }
        let text = e.to_string();
        if text.starts_with("dns error") {
            saw_dns = true;
        }
        deepest = text;
        // `io::Error::source` skips the wrapped error itself, so step into it explicitly.
        current = match e.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    if saw_dns {
        dns_message(&deepest)
    } else {
        clean_os_message(&deepest)
    }
}

/// `dns error: Name or service not known`, from the resolver's text.
pub(super) fn dns_message(text: &str) -> String {
    let text = clean_os_message(text);
    let detail = text
        .strip_prefix("dns error: ")
        .unwrap_or(&text)
        .trim_start_matches("failed to lookup address information: ");
    format!("dns error: {detail}")
}

fn known_error(e: &(dyn StdError + 'static)) -> Option<String> {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(tls_message(tls));
    }
    if let Some(io) = e.downcast_ref::<io::Error>() {
        return match io.kind() {
            // hyper's body decoder reports a bad chunk as invalid data or input, and a body cut
            // short (by Content-Length or chunk size) as an unexpected end of file.
            io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput if is_chunk_error(io) => {
                Some("invalid chunked encoding".to_string())
            }
            io::ErrorKind::UnexpectedEof => {
                Some("connection closed before the body was complete".to_string())
            }
            kind => io_kind_message(kind),
        };
    }
    // hyper is not a direct dependency, so its errors are known by their text. A connection
    // the server closed before the request went out ("not ready") is the same fault as one it
    // closed after: no answer came.
    match e.to_string().as_str() {
        "connection closed before message completed" | "connection was not ready" => {
            Some("connection closed before a response".to_string())
        }
        _ => None,
    }
}

fn is_chunk_error(io: &io::Error) -> bool {
    io.to_string().to_ascii_lowercase().contains("chunk")
}

/// Messages for the network conditions worth naming; other kinds fall through to the text.
pub(crate) fn io_kind_message(kind: io::ErrorKind) -> Option<String> {
    let text = match kind {
        io::ErrorKind::ConnectionRefused => "connection refused",
        io::ErrorKind::ConnectionReset => "connection reset",
        io::ErrorKind::ConnectionAborted => "connection aborted",
        io::ErrorKind::HostUnreachable => "host unreachable",
        io::ErrorKind::NetworkUnreachable => "network unreachable",
        io::ErrorKind::AddrNotAvailable => "address not available",
        io::ErrorKind::BrokenPipe => "broken pipe",
        _ => return None,
    };
    Some(text.to_string())
}

fn tls_message(err: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match err {
        rustls::Error::InvalidCertificate(cert) => {
            let detail = match cert {
                C::UnknownIssuer => "unknown issuer (self-signed or untrusted CA)".to_string(),
                C::Expired | C::ExpiredContext { .. } => "expired".to_string(),
                C::NotValidYet | C::NotValidYetContext { .. } => "not valid yet".to_string(),
                C::NotValidForName => "not valid for this host name".to_string(),
                C::Revoked => "revoked".to_string(),
                C::BadSignature => "bad signature".to_string(),
                C::BadEncoding => "bad encoding".to_string(),
                C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
                    "not meant for server authentication".to_string()
                }
                // An issuer of the same name whose key does not match usually means the chain
                // is not the one the trust store knows.
                C::UnsupportedSignatureAlgorithmContext { .. }
                | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
                    "unsupported signature algorithm (or an issuer of the same name with another key)"
                        .to_string()
                }
                C::ApplicationVerificationFailure => "rejected by the verifier".to_string(),
                other => {
                    // The remaining variants' Display is their Debug form: keep only the name.
                    let text = other.to_string();
                    let name = text.split([' ', '{', '(']).next().unwrap_or_default();
                    if name.is_empty() { text } else { name.to_string() }
                }
            };
            format!("invalid certificate: {detail}")
        }
        other => format!("TLS error: {other}"),
    }
}

/// `No such file or directory (os error 2)` -> `No such file or directory`.
pub(crate) fn clean_os_message(text: &str) -> String {
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text.to_string(),
    }
}

/// The start of an answer, for messages about answers that are not what was expected.
pub(crate) fn body_start(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        return "an empty body".to_string();
    }
    let mut start: String = collapsed.chars().take(120).collect();
    if start.len() < collapsed.len() {
        start.push('…');
    }
    format!("`{start}`")
}

/// `200 OK`, `502 Bad Gateway`, `599`.
pub(crate) fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// Rounds to 0.1 ms, the resolution the fields promise.
pub(crate) fn round_ms(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}

mod live;
pub(crate) mod redirects;
mod tally;
mod tls;
pub(super) use live::{InFlight, Watched};
pub(crate) use redirects::{Redirects, Resend};
pub(super) use tally::Tally;

#[cfg(test)]
mod tests;
