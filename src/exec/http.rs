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
//! - `url`, `method`: what was requested.
//!
//! A single request, and anything over TLS, goes through reqwest. A sample of several requests
//! to a plain-HTTP URL goes through the sampler of `http_sampler.rs` (a keep-alive connection
//! per worker, driven in the worker's task), which sends the same requests and reports the same
//! fields and messages; see its doc comment for when it applies and what differs.

use std::collections::{BTreeMap, HashMap};
use std::error::Error as StdError;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream;
use reqwest::dns::{Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Method, StatusCode, Url, redirect};
use serde_json::{Map, Value as Json};
use tokio::sync::OnceCell;

use super::http_sampler;
use super::{BODY_CAP, ExecError, ExecOutput, HttpRequest, Progress, ProgressUpdate, RequestBody};
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
    // Set before anything else, so that building the client (which reads the trust store)
    // is inside the step's time as well.
    let deadline = Instant::now() + req.timeout;
    install_crypto_provider();
    let url = parse_url(&req.url)?;
    let method = parse_method(&req.method)?;
    let headers = header_map(&req.headers)?;
    let total = req.samples.max(1);
    let concurrency = req.concurrency.clamp(1, total) as usize;
    if http_sampler::applies(req, &url, &method) {
        let tally = http_sampler::sample(
            req,
            &url,
            &method,
            &headers,
            deadline,
            total,
            concurrency,
            progress,
        )
        .await
        .map_err(ExecError)?;
        return Ok(tally.output(&req.url, method.as_str()));
    }
    let client = client(req.insecure, req.follow_redirects)?;

    let mut tally = Tally::new(req.timeout);
    let mut outcomes = stream::iter(0..total)
        .map(|_| {
            let request = build_request(&client, &method, &url, &headers, req.body.as_ref());
            async move {
                // A request is only started while the deadline is ahead: after it, the rest of
                // the probe resolves at once instead of each getting a poll at the network.
                if Instant::now() >= deadline {
                    return Sample::Unsent;
                }
                let started = Instant::now();
                match exchange_until(request, deadline, req.timeout, BODY_CAP).await {
                    Ok(answer) => Sample::Answer(answer),
                    Err(message) => Sample::failed(message, started, req.timeout),
                }
            }
        })
        .buffer_unordered(concurrency);
    while let Some(outcome) = outcomes.next().await {
        tally.add(outcome);
        tally.report(total, progress);
    }
    Ok(tally.output(&req.url, method.as_str()))
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

fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, ExecError> {
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
pub(crate) fn client(insecure: bool, follow_redirects: bool) -> Result<Client, ExecError> {
    install_crypto_provider();
    let policy = if follow_redirects {
        redirect::Policy::limited(10)
    } else {
        redirect::Policy::none()
    };
    let tls = tls_config(insecure)
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

/// The TLS settings of every client, built once per process for each `insecure` value.
///
/// Building them reads and parses every certificate of the system trust store
/// (rustls-platform-verifier); a loop of 500 http steps did that 500 times, a third of its CPU
/// (BENCHMARKS.md, 2.). The clients themselves stay one per step: their resolver and pooled
/// connections must not outlive it (a load balancer's addresses change). A failure to read the
/// trust store is the machine's, so it is kept too.
///
/// The same configuration reqwest builds for itself: the platform verifier (or none when
/// `insecure`), every TLS version, ALPN `h2` then `http/1.1`.
fn tls_config(insecure: bool) -> &'static Result<rustls::ClientConfig, String> {
    static VERIFIED: OnceLock<Result<rustls::ClientConfig, String>> = OnceLock::new();
    static INSECURE: OnceLock<Result<rustls::ClientConfig, String>> = OnceLock::new();
    let cell = if insecure { &INSECURE } else { &VERIFIED };
    cell.get_or_init(|| build_tls_config(insecure))
}

fn build_tls_config(insecure: bool) -> Result<rustls::ClientConfig, String> {
    use rustls::client::danger::ServerCertVerifier;

    install_crypto_provider();
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let verifier: Arc<dyn ServerCertVerifier> = if insecure {
        Arc::new(AcceptAnyCertificate(provider.clone()))
    } else {
        Arc::new(
            rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| {
                format!("cannot set up the HTTP client: cannot read the trust store: {e}")
            })?,
        )
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// `insecure: true`: any certificate is accepted, as reqwest's own `NoVerifier` does. The
/// handshake signatures are not checked either: without a trusted certificate they prove
/// nothing.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &rustls::pki_types::CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &rustls::pki_types::CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
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
pub(crate) async fn exchange(
    request: reqwest::RequestBuilder,
    timeout: Duration,
    cap: usize,
) -> Result<Answer, String> {
    exchange_until(request, Instant::now() + timeout, timeout, cap).await
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
/// stands for, for the message.
pub(super) async fn exchange_until(
    request: reqwest::RequestBuilder,
    deadline: Instant,
    timeout: Duration,
    cap: usize,
) -> Result<Answer, String> {
    let started = Instant::now();
    let mut phase = Phase::Head;
    let work = async {
        let mut response = request.send().await?;
        phase = Phase::Body;
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

/// What the samples came to so far.
#[derive(Default)]
pub(super) struct Tally {
    count: u32,
    status_counts: BTreeMap<u16, u32>,
    errors: BTreeMap<String, u32>,
    error_count: u32,
    /// The step's timeout, which the messages name.
    timeout: Duration,
    /// Requests the deadline left unsent (in no rate, not in `errors`).
    unsent: u32,
    /// Requests the deadline cut off before they had waited half the timeout (in no rate).
    cut_off: u32,
    /// Responses whose body went past the cap.
    truncated: u32,
    /// Latencies of the requests that got a response, in ms.
    latencies: Vec<f64>,
    last: Option<Answer>,
}

impl Tally {
    /// An empty tally for a step with this timeout.
    pub(super) fn new(timeout: Duration) -> Self {
        Tally {
            timeout,
            ..Tally::default()
        }
    }

    pub(super) fn add(&mut self, outcome: Sample) {
        self.count += 1;
        match outcome {
            Sample::Answer(answer) => {
                *self
                    .status_counts
                    .entry(answer.status.as_u16())
                    .or_default() += 1;
                self.latencies.push(answer.latency.as_secs_f64() * 1000.0);
                self.truncated += u32::from(answer.truncated);
                self.last = Some(answer);
            }
            Sample::Failed(message) => {
                self.error_count += 1;
                *self.errors.entry(message).or_default() += 1;
            }
            Sample::Unsent => self.unsent += 1,
            Sample::CutOff => self.cut_off += 1,
        }
    }

    fn count_5xx(&self) -> u32 {
        self.status_counts
            .iter()
            .filter(|(code, _)| (500..600).contains(*code))
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests that got an HTTP answer.
    fn responses(&self) -> u32 {
        self.status_counts.values().sum()
    }

    /// 5xx answers over answers; None when nothing answered.
    fn rate_5xx(&self) -> Option<f64> {
        ratio(self.count_5xx(), self.responses())
    }

    /// Failures of any kind over the requests that were sent; None when none was.
    fn rate_error(&self) -> Option<f64> {
        ratio(
            self.count_5xx() + self.error_count,
            self.responses() + self.error_count,
        )
    }

    /// Sends a progress update every hundredth of a probe and at its end. Not after every
    /// sample: the running p95 sorts all latencies so far, and after each of 20,000 samples that
    /// was most of the probe's CPU (BENCHMARKS.md, 1.).
    pub(super) fn report(&self, total: u32, progress: &Progress) {
        let every = (total / 100).max(1);
        if total > 1 && (self.count.is_multiple_of(every) || self.count == total) {
            progress(ProgressUpdate::Samples {
                done: self.count,
                total,
                rate_5xx: self.rate_5xx().unwrap_or(0.0),
                p95_ms: self.percentile(95.0),
            });
        }
    }

    /// Nearest-rank percentile of the latencies, rounded to 0.1 ms.
    fn percentile(&self, p: f64) -> Option<f64> {
        percentile(&self.latencies, p)
    }

    /// Errors, most common first.
    fn errors_by_count(&self) -> Vec<(&String, u32)> {
        let mut errors: Vec<_> = self.errors.iter().map(|(m, n)| (m, *n)).collect();
        errors.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        errors
    }

    pub(super) fn output(self, url: &str, method: &str) -> ExecOutput {
        let p95 = self.percentile(95.0);
        // Without a single answer there is no evidence that anything works.
        let ok = self.error_count == 0
            && self.responses() > 0
            && self.status_counts.keys().all(|code| *code < 400);
        let summary = self.summary(p95);

        let mut fields = Map::new();
        let last_status = self.last.as_ref().map(|a| a.status.as_u16());
        fields.insert("status".into(), last_status.into());
        fields.insert("count".into(), self.count.into());
        fields.insert("responses".into(), self.responses().into());
        fields.insert("not_sent".into(), self.unsent.into());
        fields.insert("cut_off".into(), self.cut_off.into());
        let status_counts: Map<String, Json> = self
            .status_counts
            .iter()
            .map(|(code, n)| (code.to_string(), Json::from(*n)))
            .collect();
        fields.insert("status_counts".into(), status_counts.into());
        fields.insert("error_count".into(), self.error_count.into());
        let errors: Map<String, Json> = self
            .errors_by_count()
            .into_iter()
            .map(|(message, n)| (message.clone(), Json::from(n)))
            .collect();
        fields.insert("errors".into(), errors.into());
        fields.insert("rate_5xx".into(), self.rate_5xx().into());
        fields.insert("rate_error".into(), self.rate_error().into());
        fields.insert("p50_ms".into(), self.percentile(50.0).into());
        fields.insert("p95_ms".into(), p95.into());
        fields.insert("p99_ms".into(), self.percentile(99.0).into());
        fields.insert("max_ms".into(), self.percentile(100.0).into());
        match &self.last {
            Some(answer) => {
                let body = String::from_utf8_lossy(&answer.body).into_owned();
                let json = serde_json::from_str::<Json>(&body).unwrap_or(Json::Null);
                fields.insert("body".into(), body.into());
                fields.insert("body_truncated".into(), answer.truncated.into());
                fields.insert("json".into(), json);
                fields.insert("headers".into(), headers_json(&answer.headers).into());
            }
            None => {
                fields.insert("body".into(), Json::Null);
                fields.insert("body_truncated".into(), false.into());
                fields.insert("json".into(), Json::Null);
                fields.insert("headers".into(), Json::Null);
            }
        }
        fields.insert("url".into(), url.into());
        fields.insert("method".into(), method.into());
        ExecOutput {
            fields,
            summary,
            ok,
        }
    }

    /// One line, leading with what users would see: the share of sent requests that failed
    /// for any reason and how, then the other answers and latency, then what was never sent:
    /// `failed 100%: 10 timed out after 3 s waiting for response headers, 50 not sent`,
    /// `failed 38%: 502 x19, 200 x31, p95 12 ms`.
    fn summary(&self, p95: Option<f64>) -> String {
        let cap = cap_text();
        if self.count == 1 {
            return match (&self.last, self.errors.keys().next()) {
                (Some(answer), _) => {
                    let mut text = format!(
                        "{} in {}",
                        status_text(answer.status),
                        duration::human(answer.latency)
                    );
                    if answer.truncated {
                        text.push_str(&format!(", body exceeds {cap} cap"));
                    }
                    text
                }
                (None, Some(message)) => message.clone(),
                (None, None) if self.unsent + self.cut_off > 0 => unsent_message(self.timeout),
                (None, None) => "no request sent".to_string(),
            };
        }
        let mut by_count: Vec<(u16, u32)> =
            self.status_counts.iter().map(|(c, n)| (*c, *n)).collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let (failed_codes, other_codes): (Vec<_>, Vec<_>) = by_count
            .into_iter()
            .partition(|(code, _)| (500..600).contains(code));
        let mut parts = Vec::new();
        parts.extend(failed_codes.iter().map(|(code, n)| format!("{code} x{n}")));
        parts.extend(
            self.errors_by_count()
                .into_iter()
                .map(|(message, n)| format!("{n} {message}")),
        );
        parts.extend(other_codes.iter().map(|(code, n)| format!("{code} x{n}")));
        if let Some(p95) = p95 {
            parts.push(format!("p95 {}", duration::human_ms(p95)));
        }
        match self.truncated {
            0 => {}
            1 => parts.push(format!("1 body exceeds {cap} cap")),
            n => parts.push(format!("{n} bodies exceed {cap} cap")),
        }
        if self.cut_off > 0 {
            parts.push(format!("{} cut off at the deadline", self.cut_off));
        }
        if self.unsent > 0 {
            parts.push(format!("{} not sent", self.unsent));
        }
        let head = match self.rate_error() {
            Some(rate) => format!("failed {}", percent(rate)),
            None => "nothing sent".to_string(),
        };
        format!("{head}: {}", parts.join(", "))
    }
}

/// `n / of`, or None when `of` is 0: a rate over nothing is no evidence.
fn ratio(n: u32, of: u32) -> Option<f64> {
    (of > 0).then(|| f64::from(n) / f64::from(of))
}

/// `1 MiB`: the body cap as the summary names it.
fn cap_text() -> String {
    format!("{} MiB", BODY_CAP / (1024 * 1024))
}

/// Nearest-rank percentile (`p` in 0..=100), rounded to 0.1 ms; None without samples.
fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    let index = rank.clamp(1, samples.len()) - 1;
    // Selecting the rank is linear; sorting all latencies for it was not.
    let mut copy = samples.to_vec();
    let (_, value, _) = copy.select_nth_unstable_by(index, f64::total_cmp);
    Some(round_ms(*value))
}

/// `38%`, `2%`, `0.3%`: whole percents unless that would hide a small rate.
fn percent(rate: f64) -> String {
    let pct = rate * 100.0;
    if pct >= 10.0 || pct == 0.0 || (pct - pct.round()).abs() < 1e-9 {
        format!("{}%", pct.round())
    } else {
        let text = format!("{pct:.1}");
        format!("{}%", text.trim_end_matches(".0"))
    }
}

fn headers_json(headers: &HeaderMap) -> Map<String, Json> {
    let mut map = Map::new();
    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        map.insert(name.as_str().to_string(), values.join(", ").into());
    }
    map
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    use axum::Router;
    use axum::http::{HeaderMap as AxumHeaders, StatusCode as AxumStatus, header};
    use axum::response::{AppendHeaders, IntoResponse};
    use axum::routing::{any, get};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::exec::no_progress;

    async fn serve(app: Router) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    fn request(url: &str) -> HttpRequest {
        HttpRequest {
            url: url.to_string(),
            method: "GET".into(),
            headers: vec![],
            body: None,
            samples: 1,
            concurrency: 1,
            timeout: Duration::from_secs(5),
            insecure: false,
            follow_redirects: true,
        }
    }

    /// A port nothing listens on: bound, then released.
    async fn closed_port() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        port
    }

    /// Accepts connections, reads the request, then runs `then` on the socket.
    async fn raw_server<F, Fut>(then: F) -> String
    where
        F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let then = Arc::new(then);
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                let then = then.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    then(socket).await;
                });
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn single_request_reports_status_body_json_and_headers() {
        let app = Router::new().route(
            "/health",
            get(|| async {
                (
                    AppendHeaders([("x-backend", "a"), ("x-backend", "b")]),
                    axum::Json(serde_json::json!({"healthy": true, "replicas": 3})),
                )
            }),
        );
        let base = serve(app).await;
        let out = run(&request(&format!("{base}/health")), &no_progress())
            .await
            .unwrap();
        let f = &out.fields;
        assert!(out.ok);
        assert_eq!(f["status"], 200);
        assert_eq!(f["count"], 1);
        assert_eq!(f["json"]["replicas"], 3);
        assert_eq!(f["body"], r#"{"healthy":true,"replicas":3}"#);
        assert_eq!(f["body_truncated"], false);
        assert_eq!(f["headers"]["x-backend"], "a, b");
        assert_eq!(f["headers"]["content-type"], "application/json");
        assert_eq!(f["method"], "GET");
        assert_eq!(f["error_count"], 0);
        assert!(f["p50_ms"].is_f64());
        assert!(
            out.summary.starts_with("200 OK in ") && out.summary.ends_with(" ms"),
            "{}",
            out.summary
        );
    }

    #[tokio::test]
    async fn samples_count_statuses_rates_and_percentiles() {
        let hits = Arc::new(AtomicU32::new(0));
        let app = Router::new().route(
            "/",
            get(move || {
                let n = hits.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n.is_multiple_of(3) {
                        (AxumStatus::BAD_GATEWAY, "upstream down")
                    } else {
                        (AxumStatus::OK, "fine")
                    }
                }
            }),
        );
        let base = serve(app).await;
        let updates = Arc::new(Mutex::new(Vec::new()));
        let sink = updates.clone();
        let progress: Progress = Arc::new(move |u| sink.lock().unwrap().push(u));
        let mut req = request(&base);
        req.samples = 30;
        req.concurrency = 4;
        let out = run(&req, &progress).await.unwrap();
        let f = &out.fields;
        assert!(!out.ok);
        assert_eq!(f["count"], 30);
        assert_eq!(f["status_counts"]["502"], 10);
        assert_eq!(f["status_counts"]["200"], 20);
        assert!((f["rate_5xx"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
        assert!((f["rate_error"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
        let p50 = f["p50_ms"].as_f64().unwrap();
        let p95 = f["p95_ms"].as_f64().unwrap();
        let p99 = f["p99_ms"].as_f64().unwrap();
        let max = f["max_ms"].as_f64().unwrap();
        assert!(
            p50 <= p95 && p95 <= p99 && p99 <= max,
            "{p50} {p95} {p99} {max}"
        );
        assert_eq!(f["responses"], 30);
        assert_eq!(f["not_sent"], 0);
        assert!(
            out.summary
                .starts_with("failed 33%: 502 x10, 200 x20, p95 "),
            "{}",
            out.summary
        );
        let updates = updates.lock().unwrap();
        assert_eq!(updates.len(), 30);
        let ProgressUpdate::Samples { done, total, .. } = updates.last().unwrap().clone() else {
            panic!(
                "the last update is not a sample count: {:?}",
                updates.last()
            );
        };
        assert_eq!((done, total), (30, 30));
    }

    #[tokio::test]
    async fn samples_without_5xx_list_codes_by_count() {
        let hits = Arc::new(AtomicU32::new(0));
        let app = Router::new().route(
            "/",
            get(move || {
                let n = hits.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n.is_multiple_of(4) {
                        AxumStatus::NOT_FOUND
                    } else {
                        AxumStatus::OK
                    }
                }
            }),
        );
        let base = serve(app).await;
        let mut req = request(&base);
        req.samples = 8;
        let out = run(&req, &no_progress()).await.unwrap();
        assert!(
            out.summary.starts_with("failed 0%: 200 x6, 404 x2, p95 "),
            "{}",
            out.summary
        );
        assert!(!out.ok, "a 404 is not ok");
        assert_eq!(out.fields["rate_5xx"], 0.0);
        assert_eq!(out.fields["rate_error"], 0.0);
    }

    #[tokio::test]
    async fn several_5xx_codes_are_summarised_together() {
        let hits = Arc::new(AtomicU32::new(0));
        let app = Router::new().route(
            "/",
            get(move || {
                let n = hits.fetch_add(1, Ordering::SeqCst);
                async move {
                    match n % 4 {
                        0 => AxumStatus::BAD_GATEWAY,
                        1 => AxumStatus::SERVICE_UNAVAILABLE,
                        _ => AxumStatus::OK,
                    }
                }
            }),
        );
        let base = serve(app).await;
        let mut req = request(&base);
        req.samples = 8;
        let out = run(&req, &no_progress()).await.unwrap();
        assert!(
            out.summary
                .starts_with("failed 50%: 502 x2, 503 x2, 200 x4, p95 "),
            "{}",
            out.summary
        );
    }

    #[tokio::test]
    async fn refused_connection_is_data_not_an_error() {
        let port = closed_port().await;
        let url = format!("http://127.0.0.1:{port}/");
        let out = run(&request(&url), &no_progress()).await.unwrap();
        assert!(!out.ok);
        assert_eq!(out.summary, "connection refused");
        assert_eq!(out.fields["status"], Json::Null);
        assert_eq!(out.fields["error_count"], 1);
        assert_eq!(out.fields["errors"]["connection refused"], 1);
        assert_eq!(out.fields["p95_ms"], Json::Null);
        assert_eq!(out.fields["rate_error"], 1.0);

        let mut req = request(&url);
        req.samples = 3;
        let out = run(&req, &no_progress()).await.unwrap();
        assert_eq!(out.summary, "failed 100%: 3 connection refused");
        assert_eq!(out.fields["rate_error"], 1.0);
        assert_eq!(out.fields["rate_5xx"], Json::Null, "no answer, no 5xx rate");
        assert_eq!(out.fields["responses"], 0);
    }

    #[tokio::test]
    async fn hung_server_times_out_on_time() {
        let base = raw_server(|socket| async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(socket);
        })
        .await;
        let mut req = request(&base);
        req.timeout = Duration::from_millis(300);
        let started = Instant::now();
        let out = run(&req, &no_progress()).await.unwrap();
        let elapsed = started.elapsed();
        let message = "timed out after 300 ms waiting for response headers";
        assert_eq!(out.summary, message);
        assert_eq!(out.fields["errors"][message], 1);
        assert!(elapsed < Duration::from_millis(2000), "{elapsed:?}");
        assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    }

    #[tokio::test]
    async fn the_timeout_covers_reading_the_body() {
        let base = raw_server(|mut socket| async move {
            let head = "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial";
            socket.write_all(head.as_bytes()).await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
        })
        .await;
        let mut req = request(&base);
        req.timeout = Duration::from_millis(300);
        let started = Instant::now();
        let out = run(&req, &no_progress()).await.unwrap();
        assert_eq!(out.summary, "timed out after 300 ms reading the body");
        assert_eq!(out.fields["status"], Json::Null);
        // Bounded by the deadline, not by the server's 30 s stall (generous for a loaded CI).
        assert!(started.elapsed() < Duration::from_millis(2000));
    }

    #[tokio::test]
    async fn the_timeout_is_a_deadline_for_the_whole_probe() {
        let base = raw_server(|socket| async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(socket);
        })
        .await;
        let mut req = request(&base);
        req.timeout = Duration::from_secs(1);
        req.samples = 50;
        req.concurrency = 10;
        let started = Instant::now();
        let out = run(&req, &no_progress()).await.unwrap();
        // Five waves of ten would take 5 s; the deadline ends the probe after one timeout.
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(out.fields["count"], 50);
        assert_eq!(out.fields["responses"], 0);
        assert_eq!(out.fields["error_count"], 10);
        assert_eq!(out.fields["not_sent"], 40);
        assert_eq!(
            out.fields["errors"],
            serde_json::json!({"timed out after 1 s waiting for response headers": 10})
        );
        // A hung endpoint is a total failure, whatever the deadline left unsent.
        assert_eq!(out.fields["rate_error"], 1.0);
        assert_eq!(out.fields["rate_5xx"], Json::Null);
        assert_eq!(
            out.summary,
            "failed 100%: 10 timed out after 1 s waiting for response headers, 40 not sent"
        );
        assert!(!out.ok);
    }

    #[tokio::test]
    async fn answers_before_the_deadline_count_and_the_rest_time_out() {
        let hits = Arc::new(AtomicU32::new(0));
        let app = Router::new().route(
            "/",
            get(move || {
                let n = hits.fetch_add(1, Ordering::SeqCst);
                async move {
                    // The first two answer at once; the rest outlast the step.
                    if n >= 2 {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    "ok"
                }
            }),
        );
        let base = serve(app).await;
        let mut req = request(&base);
        req.timeout = Duration::from_secs(1);
        req.samples = 4;
        req.concurrency = 1;
        let out = run(&req, &no_progress()).await.unwrap();
        assert_eq!(out.fields["status_counts"], serde_json::json!({"200": 2}));
        assert_eq!(out.fields["error_count"], 1);
        assert_eq!(out.fields["not_sent"], 1);
        assert_eq!(out.fields["rate_error"], 1.0 / 3.0);
        assert_eq!(
            out.summary,
            "failed 33%: 1 timed out after 1 s waiting for response headers, 200 x2, p95 {p95}, \
             1 not sent"
                .replace(
                    "{p95}",
                    &duration::human_ms(out.fields["p95_ms"].as_f64().unwrap())
                )
        );
    }

    /// A slow, healthy endpoint that runs out of time has failed nothing: what the deadline cut
    /// off or never sent is in no rate, and the summary says so.
    #[tokio::test]
    async fn a_slow_healthy_endpoint_that_runs_out_of_time_has_no_errors() {
        let app = Router::new().route(
            "/",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "ok"
            }),
        );
        let base = serve(app).await;
        for samples in [1, 20] {
            let mut req = request(&base);
            req.timeout = Duration::from_secs(1);
            req.samples = samples;
            req.concurrency = 2;
            let out = run(&req, &no_progress()).await.unwrap();
            let f = &out.fields;
            if samples == 1 {
                assert_eq!(f["rate_error"], 0.0, "{}", out.summary);
                continue;
            }
            assert!(f["responses"].as_u64().unwrap() >= 2, "{}", out.summary);
            assert_eq!(f["error_count"], 0, "{}", out.summary);
            assert_eq!(f["rate_error"], 0.0, "{}", out.summary);
            assert_eq!(f["rate_5xx"], 0.0, "{}", out.summary);
            let unfinished = f["not_sent"].as_u64().unwrap() + f["cut_off"].as_u64().unwrap();
            assert_eq!(f["responses"].as_u64().unwrap() + unfinished, 20);
            assert!(
                out.summary.starts_with("failed 0%: 200 x"),
                "{}",
                out.summary
            );
            assert!(out.summary.ends_with(" not sent"), "{}", out.summary);
        }
    }

    #[tokio::test]
    async fn a_client_resolves_each_name_once() {
        let resolver = Resolver::default();
        for _ in 0..3 {
            let addrs: Vec<_> = resolver
                .resolve("localhost".parse().unwrap())
                .await
                .unwrap()
                .collect();
            assert!(!addrs.is_empty());
        }
        for _ in 0..2 {
            let err = resolver
                .resolve("no-such-host.invalid".parse().unwrap())
                .await
                .err()
                .unwrap();
            assert!(!err.to_string().is_empty());
        }
        assert_eq!(resolver.lookups.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn body_errors_are_named() {
        let reset = raw_server(|mut socket| async move {
            let head = "HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\npartial";
            socket.write_all(head.as_bytes()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            socket.set_zero_linger().unwrap();
            drop(socket);
        })
        .await;
        let out = run(&request(&reset), &no_progress()).await.unwrap();
        assert_eq!(out.summary, "connection reset while reading the body");

        let short = raw_server(|mut socket| async move {
            let head = "HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\npartial";
            socket.write_all(head.as_bytes()).await.unwrap();
        })
        .await;
        let out = run(&request(&short), &no_progress()).await.unwrap();
        assert_eq!(
            out.summary,
            "connection closed before the body was complete"
        );

        let chunked = raw_server(|mut socket| async move {
            let answer =
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
            socket.write_all(answer.as_bytes()).await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
        })
        .await;
        let out = run(&request(&chunked), &no_progress()).await.unwrap();
        assert_eq!(out.summary, "invalid chunked encoding");
        assert!(!out.ok);
    }

    #[tokio::test]
    async fn a_server_that_closes_without_answering_is_named() {
        let base = raw_server(|socket| async move { drop(socket) }).await;
        let out = run(&request(&base), &no_progress()).await.unwrap();
        assert_eq!(out.summary, "connection closed before a response");
    }

    #[tokio::test]
    async fn reset_connection_is_named() {
        let base = raw_server(|socket| async move {
            socket.set_zero_linger().unwrap();
            drop(socket);
        })
        .await;
        let out = run(&request(&base), &no_progress()).await.unwrap();
        assert_eq!(out.summary, "connection reset");
    }

    #[tokio::test]
    async fn body_is_capped_at_one_mib() {
        let app = Router::new().route("/big", get(|| async { "x".repeat(3 * BODY_CAP) }));
        let base = serve(app).await;
        let out = run(&request(&format!("{base}/big")), &no_progress())
            .await
            .unwrap();
        assert_eq!(out.fields["body"].as_str().unwrap().len(), BODY_CAP);
        assert_eq!(out.fields["body_truncated"], true);
        assert_eq!(out.fields["json"], Json::Null);
        assert!(out.ok, "a capped body is still an answer");
        assert!(
            out.summary.starts_with("200 OK in ")
                && out.summary.ends_with(", body exceeds 1 MiB cap"),
            "{}",
            out.summary
        );

        let mut req = request(&format!("{base}/big"));
        req.samples = 3;
        let out = run(&req, &no_progress()).await.unwrap();
        assert!(
            out.summary.ends_with(", 3 bodies exceed 1 MiB cap"),
            "{}",
            out.summary
        );
    }

    #[tokio::test]
    async fn sends_json_and_text_bodies_and_headers() {
        let app = Router::new().route(
            "/echo",
            any(
                |method: axum::http::Method, headers: AxumHeaders, body: String| async move {
                    let content_type = headers
                        .get(header::CONTENT_TYPE)
                        .map(|v| v.to_str().unwrap().to_string());
                    let token = headers
                        .get("x-token")
                        .map(|v| v.to_str().unwrap().to_string());
                    axum::Json(serde_json::json!({
                        "method": method.as_str(),
                        "content_type": content_type,
                        "token": token,
                        "body": body,
                    }))
                    .into_response()
                },
            ),
        );
        let base = serve(app).await;
        let mut req = request(&format!("{base}/echo"));
        req.method = "post".into();
        req.headers = vec![("X-Token".into(), "s3cret".into())];
        req.body = Some(RequestBody::Json(serde_json::json!({"drain": true})));
        let out = run(&req, &no_progress()).await.unwrap();
        let echo = &out.fields["json"];
        assert_eq!(echo["method"], "POST");
        assert_eq!(echo["content_type"], "application/json");
        assert_eq!(echo["token"], "s3cret");
        assert_eq!(echo["body"], r#"{"drain":true}"#);
        assert_eq!(out.fields["method"], "POST");

        req.method = "PUT".into();
        req.body = Some(RequestBody::Text("plain words".into()));
        let out = run(&req, &no_progress()).await.unwrap();
        assert_eq!(out.fields["json"]["body"], "plain words");
        assert_eq!(out.fields["json"]["content_type"], Json::Null);
    }

    #[tokio::test]
    async fn redirects_follow_the_policy() {
        let app = Router::new()
            .route(
                "/old",
                get(|| async { (AxumStatus::FOUND, [(header::LOCATION, "/new")]) }),
            )
            .route("/new", get(|| async { "moved here" }));
        let base = serve(app).await;
        let mut req = request(&format!("{base}/old"));
        let out = run(&req, &no_progress()).await.unwrap();
        assert_eq!(out.fields["status"], 200);
        assert_eq!(out.fields["body"], "moved here");
        req.follow_redirects = false;
        let out = run(&req, &no_progress()).await.unwrap();
        assert_eq!(out.fields["status"], 302);
        assert_eq!(out.fields["headers"]["location"], "/new");
    }

    #[tokio::test]
    async fn invalid_url_or_method_cannot_run() {
        let err = run(&request("not a url"), &no_progress())
            .await
            .unwrap_err();
        assert!(err.0.starts_with("invalid URL `not a url`"), "{err}");
        let err = run(&request("ftp://example.com/"), &no_progress())
            .await
            .unwrap_err();
        assert!(err.0.contains("scheme `ftp`"), "{err}");
        let mut req = request("http://127.0.0.1:1/");
        req.method = "GE T".into();
        let err = run(&req, &no_progress()).await.unwrap_err();
        assert_eq!(err.0, "unsupported HTTP method `GE T`");
    }

    #[tokio::test]
    async fn unresolvable_host_is_a_dns_error() {
        let out = run(&request("http://no-such-host.invalid/"), &no_progress())
            .await
            .unwrap();
        assert!(out.summary.starts_with("dns error: "), "{}", out.summary);
        assert!(!out.ok);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&samples, 50.0), Some(10.0));
        assert_eq!(percentile(&samples, 95.0), Some(19.0));
        assert_eq!(percentile(&samples, 99.0), Some(20.0));
        assert_eq!(percentile(&samples, 100.0), Some(20.0));
        assert_eq!(percentile(&[1.26], 50.0), Some(1.3));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn percents_read_naturally() {
        assert_eq!(percent(0.38), "38%");
        assert_eq!(percent(1.0 / 3.0), "33%");
        assert_eq!(percent(0.02), "2%");
        assert_eq!(percent(1.0 / 300.0), "0.3%");
        assert_eq!(percent(0.0), "0%");
    }

    #[test]
    fn timeouts_read_as_written() {
        assert_eq!(
            timed_out_after(Duration::from_secs(2)),
            "timed out after 2 s"
        );
        assert_eq!(
            timed_out_after(Duration::from_millis(1500)),
            "timed out after 1.5 s"
        );
        assert_eq!(
            timed_out_after(Duration::from_millis(300)),
            "timed out after 300 ms"
        );
    }
}
