//! The fast path of the `http` executor: a probe of many samples against a plain-HTTP URL.
//!
//! Through reqwest, every sample crosses tasks twice: the step's task hands the request to the
//! pool's connection task and waits to be woken with the answer. For a probe of 20,000 samples
//! at concurrency 64 those switches cost three times wrk's CPU per request, and on two shared
//! cores the probe could not reach half of wrk's rate (BENCHMARKS.md, 1.). Here each of
//! `concurrency` workers is a task that owns one keep-alive connection (hyper's
//! `client::conn::http1`, no pool) and drives it in the same poll as the request waiting on it,
//! so an answer is read and handed over without a wake-up in between. Workers take sample
//! numbers from a shared counter until the probe has them all.
//!
//! It must be the reqwest path in everything the fields and messages promise, so it sends what
//! reqwest sends (the step's headers, then `accept: */*`, `user-agent: runbook/…`,
//! `accept-encoding: gzip`, `Host`, the body with its `content-type`), decodes a gzip answer
//! like reqwest, looks the name up once per step through [`lookup`], and reports failures
//! through the same [`transport_message`]. A broken connection is reopened for the next sample,
//! and a request that a connection closed while idle could not take is sent once more on a
//! fresh one, as hyper-util's pool does. A step it cannot serve the same way keeps the reqwest
//! path (see [`applies`]).
//!
//! What still differs from reqwest's path:
//! - A redirect to follow is followed through reqwest from its `Location`: reqwest's limit of
//!   ten redirects counts from there, and a `Referer` is not sent on the first hop. The rules of
//!   `http::redirects` hold as on reqwest's path: to another origin the sample goes bare.
//! - The resolved addresses are tried one after another, in the resolver's order; reqwest races
//!   the second address family after 300 ms (happy eyeballs).
//! - A gzip answer is decoded by flate2 rather than async-compression: a corrupt one may be
//!   named in other words, and an empty body announced as gzip is an empty body, not an error.

use std::future::{Future, poll_fn};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Client, Method, StatusCode, Url};
use tokio::net::TcpStream;
use tokio::sync::OnceCell;
use tokio::task::JoinSet;
use tokio::time::Sleep;

use super::http::redirects::{redirect_target, same_origin};
use super::http::{
    Answer, InFlight, Phase, Resend, Sample, USER_AGENT, Watched, body_message, build_request,
    client, dns_message, exchange_until, lookup, timeout_message, transport_message,
};
use super::{BODY_CAP, HttpRequest, RequestBody, RequestPhase};

/// Whether a step's samples can go through the fast path.
///
/// Not for a single request (there is nothing to gain), nor for what only reqwest does: TLS, a
/// proxy from the environment, credentials in the URL (reqwest turns them into basic auth). A
/// redirect is followed by resending the sample through reqwest, which is harmless for safe
/// methods only: a POST that is redirected keeps the reqwest path, so it is sent once. So does
/// an action that follows redirects: only that path refuses another origin for it.
pub(super) fn applies(req: &HttpRequest, url: &Url, method: &Method) -> bool {
    applies_with(
        req,
        url,
        method,
        proxy_configured(|name| std::env::var_os(name)),
    )
}

/// [`applies`] with the proxy decided by the caller, so tests do not depend on the environment
/// they run in.
fn applies_with(req: &HttpRequest, url: &Url, method: &Method, proxy: bool) -> bool {
    let safe = matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    req.samples > 1
        && url.scheme() == "http"
        && url.username().is_empty()
        && url.password().is_none()
        && (safe || !req.follow_redirects)
        && !(req.action && req.follow_redirects)
        && !proxy
}

/// reqwest sends plain-HTTP requests to the proxy these name (it has no system proxy feature
/// here); with one set the fast path, which connects directly, would go elsewhere.
fn proxy_configured(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .any(|name| var(name).is_some_and(|value| !value.is_empty()))
}

/// Everything the workers share: the request to send, where to send it, and the tally.
struct Probe {
    request: Template,
    /// `host`/`port` to resolve once per step, or the address the URL names.
    host: Host,
    addresses: OnceCell<Result<Vec<SocketAddr>, String>>,
    deadline: Instant,
    timeout: Duration,
    total: u32,
    /// The next sample to take.
    next: AtomicU32,
    /// The tally and the requests in flight, which the step reports from.
    watched: Watched,
    /// For redirects to follow (the step's reqwest client, built on the first one).
    redirects: Option<Redirects>,
}

enum Host {
    Name(String, u16),
    Address(SocketAddr),
}

struct Redirects {
    req: HttpRequest,
    url: Url,
    method: Method,
    headers: HeaderMap,
    client: OnceCell<Result<Client, String>>,
}

/// The request every sample sends, complete with the headers reqwest would add.
struct Template {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl Template {
    fn new(
        url: &Url,
        method: &Method,
        headers: &HeaderMap,
        body: Option<&RequestBody>,
    ) -> Result<Self, String> {
        // The step's headers first; then what reqwest adds where the step set nothing: the JSON
        // content type when it serializes the body, its client defaults, the decompression
        // layer's `accept-encoding`, and hyper-util's `Host`.
        let mut headers = headers.clone();
        let body = match body {
            None => Bytes::new(),
            Some(RequestBody::Text(text)) => Bytes::from(text.clone()),
            Some(RequestBody::Json(json)) => {
                headers
                    .entry(header::CONTENT_TYPE)
                    .or_insert(HeaderValue::from_static("application/json"));
                Bytes::from(serde_json::to_vec(json).map_err(|e| e.to_string())?)
            }
            Some(RequestBody::Form(pairs)) => {
                headers
                    .entry(header::CONTENT_TYPE)
                    .or_insert(HeaderValue::from_static(super::FORM_CONTENT_TYPE));
                Bytes::from(RequestBody::form_encoded(pairs))
            }
        };
        headers
            .entry(header::ACCEPT)
            .or_insert(HeaderValue::from_static("*/*"));
        headers
            .entry(header::USER_AGENT)
            .or_insert(HeaderValue::from_static(USER_AGENT));
        headers
            .entry(header::ACCEPT_ENCODING)
            .or_insert(HeaderValue::from_static("gzip"));
        if !headers.contains_key(header::HOST) {
            // `url` leaves out a default port, as hyper-util does.
            let host = url.host_str().unwrap_or_default();
            let value = match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            };
            let value = HeaderValue::from_str(&value).map_err(|e| e.to_string())?;
            headers.insert(header::HOST, value);
        }
        // Origin form, as hyper-util sends to a server it reaches directly; never the fragment.
        let mut target = url.path().to_string();
        if let Some(query) = url.query() {
            target.push('?');
            target.push_str(query);
        }
        Ok(Template {
            method: method.clone(),
            uri: target
                .parse()
                .map_err(|e: hyper::http::uri::InvalidUri| e.to_string())?,
            headers,
            body,
        })
    }

    fn request(&self) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }
}

/// Takes the step's samples, `concurrency` at a time, adding what they came to to `watched`.
///
/// The caller has checked [`applies`]. Semantics are [`super::http::run`]'s: `timeout` is a
/// deadline for the whole probe, and a sample whose turn comes after it is unsent.
#[allow(clippy::too_many_arguments)]
pub(super) async fn sample(
    req: &HttpRequest,
    url: &Url,
    method: &Method,
    headers: &HeaderMap,
    deadline: Instant,
    total: u32,
    concurrency: usize,
    watched: &Watched,
) -> Result<(), String> {
    let port = url.port_or_known_default().unwrap_or(80);
    let host = url.host_str().unwrap_or_default();
    // An address in the URL is connected to as it is; IPv6 comes in brackets.
    let host = match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(ip) => Host::Address(SocketAddr::new(ip, port)),
        Err(_) => Host::Name(host.to_string(), port),
    };
    let redirects = req.follow_redirects.then(|| Redirects {
        req: req.clone(),
        url: url.clone(),
        method: method.clone(),
        headers: headers.clone(),
        client: OnceCell::new(),
    });
    let probe = Arc::new(Probe {
        request: Template::new(url, method, headers, req.body.as_ref())?,
        host,
        addresses: OnceCell::new(),
        deadline,
        timeout: req.timeout,
        total,
        next: AtomicU32::new(0),
        watched: watched.clone(),
        redirects,
    });
    // A task per worker, so the probe uses every core of the runtime; measured against all
    // workers in the step's task (a `FuturesUnordered`), this sent 1.3-1.9 times the requests
    // per second with a tenth of the context switches. The set aborts the workers when the
    // step is dropped (Ctrl-C).
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        let probe = probe.clone();
        workers.spawn(async move { Worker::default().run(&probe).await });
    }
    while let Some(done) = workers.join_next().await {
        if let Err(e) = done
            && e.is_panic()
        {
            std::panic::resume_unwind(e.into_panic());
        }
    }
    Ok(())
}

/// One connection and the samples sent on it, one after another.
#[derive(Default)]
struct Worker {
    connection: Option<Connection>,
}

type Driver = Pin<Box<http1::Connection<TokioIo<TcpStream>, Full<Bytes>>>>;

struct Connection {
    sender: SendRequest<Full<Bytes>>,
    /// hyper's reads and writes; None once it has finished (the connection is closed).
    driver: Option<Driver>,
    /// Whether a request has been sent on it: only then may a request it could not take be
    /// retried on a fresh one (a fresh connection that fails would fail again).
    reused: bool,
}

impl Worker {
    async fn run(mut self, probe: &Probe) {
        // One timer for all of the worker's samples: a timeout per sample registered and
        // removed a timer 20,000 times.
        let mut deadline = pin!(tokio::time::sleep_until(probe.deadline.into()));
        loop {
            let n = probe.next.fetch_add(1, Ordering::Relaxed);
            if n >= probe.total {
                return;
            }
            // A request is only started while the deadline is ahead, as on the reqwest path.
            let outcome = if Instant::now() >= probe.deadline {
                Sample::Unsent
            } else {
                self.exchange(probe, deadline.as_mut()).await
            };
            probe
                .watched
                .tally
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .add(outcome);
        }
    }

    /// One sample, against the step's deadline, with the messages of `exchange_until`.
    async fn exchange(&mut self, probe: &Probe, mut deadline: Pin<&mut Sleep>) -> Sample {
        let started = Instant::now();
        let mut phase = Phase::Head;
        let flight = InFlight::start(&probe.watched.live, RequestPhase::Headers);
        let result = {
            let mut work = pin!(self.send(probe, started, &mut phase, &flight));
            poll_fn(|cx| {
                if let Poll::Ready(result) = work.as_mut().poll(cx) {
                    return Poll::Ready(Some(result));
                }
                deadline.as_mut().poll(cx).map(|()| None)
            })
            .await
        };
        let answer = match result {
            Some(Ok(answer)) => answer,
            Some(Err(message)) => return Sample::failed(message, started, probe.timeout),
            None => {
                // The connection is somewhere in an exchange: it cannot carry another.
                self.connection = None;
                return Sample::failed(
                    timeout_message(phase, probe.timeout),
                    started,
                    probe.timeout,
                );
            }
        };
        match &probe.redirects {
            Some(redirects) if is_followed_redirect(&answer) => {
                redirects.follow(probe, answer).await
            }
            _ => Sample::Answer(answer),
        }
    }

    /// Sends the request and reads the answer, connecting first when needed.
    async fn send(
        &mut self,
        probe: &Probe,
        started: Instant,
        phase: &mut Phase,
        flight: &InFlight<'_>,
    ) -> Result<Answer, String> {
        let mut request = probe.request.request();
        let response = loop {
            let connection = match &mut self.connection {
                Some(connection) => connection,
                empty => {
                    flight.enter(RequestPhase::Connecting);
                    let connection = probe.connect().await?;
                    flight.enter(RequestPhase::Headers);
                    empty.insert(connection)
                }
            };
            let reused = connection.reused;
            connection.reused = true;
            let sender = &mut connection.sender;
            let sent = drive(&mut connection.driver, async {
                // A connection the server closed while it was idle shows here, before sending.
                if sender.ready().await.is_err() {
                    return Err(None);
                }
                sender.try_send_request(request).await.map_err(Some)
            })
            .await;
            match sent {
                Ok(response) => break response,
                Err(failure) => {
                    self.connection = None;
                    // A request that never went out is retried once on a fresh connection, as
                    // hyper-util's pool does for a pooled one the server had closed.
                    let unsent = match failure {
                        None => Some(probe.request.request()),
                        Some(mut e) => match e.take_message() {
                            Some(message) => Some(message),
                            None => return Err(transport_message(&e.into_error())),
                        },
                    };
                    match unsent {
                        Some(again) if reused => request = again,
                        _ => return Err("connection closed before a response".to_string()),
                    }
                }
            }
        };
        *phase = Phase::Body;
        flight.enter(RequestPhase::Body);
        let connection = self.connection.as_mut().expect("a response came on it");
        let (parts, body) = response.into_parts();
        let mut headers = parts.headers;
        let read = drive(&mut connection.driver, read_body(body, &mut headers)).await;
        let (body, truncated) = read.map_err(|e| body_message(e.as_ref()))?;
        if truncated {
            // Dropping the connection is what spares reading the rest.
            self.connection = None;
        }
        Ok(Answer {
            status: parts.status,
            headers,
            body,
            truncated,
            latency: started.elapsed(),
        })
    }
}

impl Probe {
    async fn connect(&self) -> Result<Connection, String> {
        let addresses = self.addresses().await?;
        let mut failure = None;
        // In order, as the system resolver sorted them.
        for address in addresses {
            match TcpStream::connect(address).await {
                Ok(stream) => {
                    // As reqwest: a request is written at once, not held back for Nagle.
                    stream
                        .set_nodelay(true)
                        .map_err(|e| transport_message(&e))?;
                    let (sender, driver) = http1::handshake(TokioIo::new(stream))
                        .await
                        .map_err(|e| transport_message(&e))?;
                    return Ok(Connection {
                        sender,
                        driver: Some(Box::pin(driver)),
                        reused: false,
                    });
                }
                Err(e) => failure = Some(e),
            }
        }
        Err(match failure {
            Some(e) => transport_message(&e),
            None => dns_message("no addresses"),
        })
    }

    /// The addresses to connect to, looked up once for all the samples (see `lookup`).
    async fn addresses(&self) -> Result<&Vec<SocketAddr>, String> {
        let found = self
            .addresses
            .get_or_init(|| async {
                match &self.host {
                    Host::Address(address) => Ok(vec![*address]),
                    Host::Name(name, port) => lookup((name.clone(), *port))
                        .await
                        .map_err(|e| dns_message(&e.to_string())),
                }
            })
            .await;
        found.as_ref().map_err(Clone::clone)
    }
}

impl Redirects {
    /// Follows a redirect the sampler received through reqwest, from its `Location` on, so the
    /// redirecting URL is asked once per sample, as on reqwest's path. reqwest applies its
    /// policy to further hops (the limit of ten, counted from here). Safe methods keep their
    /// method across every redirect kind; to another origin the sample goes without any
    /// header the runbook set (see `http::redirects`). The latency is the whole sample's: the
    /// first hop plus reqwest's.
    async fn follow(&self, probe: &Probe, first: Answer) -> Sample {
        let Some(target) = redirect_target(&self.url, first.status, &first.headers) else {
            // reqwest does not follow what it cannot parse: the redirect is the answer.
            return Sample::Answer(first);
        };
        let client = self
            .client
            .get_or_init(|| async {
                client(self.req.insecure, super::http::Redirects::Check).map_err(|e| e.0)
            })
            .await;
        let client = match client {
            Ok(client) => client,
            Err(message) => return Sample::Failed(message.clone()),
        };
        let headers = if same_origin(&self.url, &target) {
            self.headers.clone()
        } else {
            HeaderMap::new()
        };
        // A 303 asks for a GET of the new place: no body goes with it.
        let body = if first.status == StatusCode::SEE_OTHER {
            None
        } else {
            self.req.body.as_ref()
        };
        // Past the deadline this times out at once, as the redirect would have on reqwest's
        // path: the sample was sent, so it is not `Unsent`.
        let request = build_request(client, &self.method, &target, &headers, body);
        let resend = Resend {
            client,
            method: &self.method,
            body,
        };
        let started = Instant::now()
            .checked_sub(first.latency)
            .unwrap_or_else(Instant::now);
        match exchange_until(
            request,
            Some(resend),
            probe.deadline,
            probe.timeout,
            BODY_CAP,
            None,
        )
        .await
        {
            Ok(mut answer) => {
                answer.latency += first.latency;
                Sample::Answer(answer)
            }
            Err(message) => Sample::failed(message, started, probe.timeout),
        }
    }
}

/// A response reqwest's redirect policy would follow.
fn is_followed_redirect(answer: &Answer) -> bool {
    matches!(
        answer.status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    ) && answer.headers.contains_key(header::LOCATION)
}

/// Runs `work` while driving the connection it uses, in this task: the answer `work` waits for
/// is read in the same poll that hands it over.
async fn drive<F: Future>(driver: &mut Option<Driver>, work: F) -> F::Output {
    let mut work = pin!(work);
    poll_fn(|cx| {
        if let Poll::Ready(out) = work.as_mut().poll(cx) {
            return Poll::Ready(out);
        }
        if let Some(connection) = driver
            && connection.as_mut().poll(cx).is_ready()
        {
            // Dropping a finished connection fails what still waits on it, so `work` ends.
            *driver = None;
        }
        work.as_mut().poll(cx)
    })
    .await
}

type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// Reads a body up to `BODY_CAP`: the bytes, and whether there was more. A gzip body is
/// decoded, and its `content-encoding` and `content-length` removed, as reqwest's decompression
/// does; the cap counts decoded bytes.
async fn read_body(
    mut body: Incoming,
    headers: &mut HeaderMap,
) -> Result<(Vec<u8>, bool), BodyError> {
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|value| value.as_bytes() == b"gzip");
    if gzip {
        headers.remove(header::CONTENT_ENCODING);
        headers.remove(header::CONTENT_LENGTH);
    }
    let mut decoder = gzip.then(|| flate2::write::GzDecoder::new(Vec::new()));
    let mut compressed = 0;
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(chunk) = frame?.into_data() else {
            continue; // trailers
        };
        match &mut decoder {
            None => {
                let room = BODY_CAP - out.len();
                if chunk.len() > room {
                    out.extend_from_slice(&chunk[..room]);
                    return Ok((out, true));
                }
                out.extend_from_slice(&chunk);
            }
            Some(decoder) => {
                // In small pieces, so that a small chunk of a gzip bomb cannot grow past the cap
                // by more than one piece's worth (deflate expands at most ~1000 times).
                compressed += chunk.len();
                for piece in chunk.chunks(1024) {
                    decoder.write_all(piece)?;
                    if decoder.get_ref().len() > BODY_CAP {
                        let mut out = std::mem::take(decoder.get_mut());
                        out.truncate(BODY_CAP);
                        return Ok((out, true));
                    }
                }
            }
        }
    }
    if let Some(mut decoder) = decoder {
        // An empty body (HEAD, 204) has nothing to decode.
        if compressed == 0 {
            return Ok((Vec::new(), false));
        }
        decoder.try_finish()?;
        out = std::mem::take(decoder.get_mut());
        if out.len() > BODY_CAP {
            out.truncate(BODY_CAP);
            return Ok((out, true));
        }
    }
    Ok((out, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(url: &str, method: &str, samples: u32, follow_redirects: bool) -> (HttpRequest, Url) {
        let req = HttpRequest {
            url: url.to_string(),
            method: method.to_string(),
            headers: vec![],
            body: None,
            samples,
            concurrency: 10,
            timeout: Duration::from_secs(2),
            insecure: false,
            follow_redirects,
            action: false,
        };
        (req, Url::parse(url).unwrap())
    }

    fn takes_the_sampler(url: &str, method: &str, samples: u32, follow_redirects: bool) -> bool {
        sampler_with_proxy(url, method, samples, follow_redirects, false)
    }

    fn sampler_with_proxy(
        url: &str,
        method: &str,
        samples: u32,
        follow_redirects: bool,
        proxy: bool,
    ) -> bool {
        let (req, url) = step(url, method, samples, follow_redirects);
        applies_with(
            &req,
            &url,
            &Method::from_bytes(method.as_bytes()).unwrap(),
            proxy,
        )
    }

    // Whether a proxy is set is passed in, never read from the environment the tests run in:
    // with `http_proxy` exported the same assertions must hold.
    #[test]
    fn plain_http_samples_take_the_sampler_and_the_rest_reqwest() {
        assert!(takes_the_sampler(
            "http://lb.internal/health",
            "GET",
            50,
            true
        ));
        assert!(takes_the_sampler("http://[::1]:8080/", "HEAD", 2, true));
        // Not redirected, a POST is sent once either way.
        assert!(takes_the_sampler("http://lb.internal/", "POST", 50, false));

        assert!(!takes_the_sampler("http://lb.internal/", "GET", 1, true));
        assert!(!takes_the_sampler("https://lb.internal/", "GET", 50, true));
        assert!(!takes_the_sampler(
            "http://user:pw@lb.internal/",
            "GET",
            50,
            true
        ));
        // A redirected POST is followed by reqwest as a GET; resending it would post twice.
        assert!(!takes_the_sampler("http://lb.internal/", "POST", 50, true));
    }

    #[test]
    fn a_proxy_sends_every_sample_through_reqwest() {
        assert!(!sampler_with_proxy(
            "http://lb.internal/health",
            "GET",
            50,
            true,
            true
        ));
        assert!(!sampler_with_proxy(
            "http://lb.internal/",
            "POST",
            50,
            false,
            true
        ));
    }

    #[test]
    fn the_proxy_variables_reqwest_reads_for_http_count() {
        let only = |set: &'static str, value: &'static str| {
            move |name: &str| (name == set).then(|| std::ffi::OsString::from(value))
        };
        for name in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
            assert!(proxy_configured(only(name, "http://proxy:3128")), "{name}");
            // Set but empty means no proxy, as reqwest reads it.
            assert!(!proxy_configured(only(name, "")), "{name} empty");
        }
        // HTTPS_PROXY applies to https URLs only, which never take the sampler anyway.
        assert!(!proxy_configured(only("HTTPS_PROXY", "http://proxy:3128")));
        assert!(!proxy_configured(|_| None));
    }

    #[test]
    fn the_request_carries_what_reqwest_adds() {
        let url = Url::parse("http://lb.internal:8080/a%20b?x=1&y=2#frag").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-token", HeaderValue::from_static("s3cret"));
        headers.insert(header::ACCEPT, HeaderValue::from_static("text/plain"));
        let body = RequestBody::Json(serde_json::json!({"drain": true}));
        let template = Template::new(&url, &Method::POST, &headers, Some(&body)).unwrap();
        let request = template.request();
        assert_eq!(request.uri(), "/a%20b?x=1&y=2");
        let names: Vec<&str> = request.headers().keys().map(|n| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "x-token",
                "accept",
                "content-type",
                "user-agent",
                "accept-encoding",
                "host"
            ]
        );
        assert_eq!(request.headers()[header::ACCEPT], "text/plain");
        assert_eq!(request.headers()[header::HOST], "lb.internal:8080");
        assert_eq!(request.headers()[header::USER_AGENT], USER_AGENT);

        // A default port is left out of `Host`, as hyper-util leaves it.
        let url = Url::parse("http://lb.internal:80/").unwrap();
        let template = Template::new(&url, &Method::GET, &HeaderMap::new(), None).unwrap();
        assert_eq!(template.request().headers()[header::HOST], "lb.internal");
    }
}
