//! Network faults: the ways an endpoint misbehaves during an outage, each met by the real binary.
//!
//! Every fault is probed twice in one run, by a single request and by `samples: 50,
//! concurrency: 10`, both with `on_fail: continue`, then a last step must still run. For each
//! probe the test asserts the precise summary, that the step took at most its timeout plus 20%
//! (the step's `duration_ms` in the timeline, with the run's wall time as a sanity bound), and
//! that the process's peak memory stayed bounded (the last step reads `VmHWM` of its parent,
//! the `runbook` process, after the faults).
//!
//! The misbehaving servers are raw sockets on 127.0.0.1: tokio tasks on a runtime of their own,
//! and for TLS blocking rustls on plain threads, so they depend on nothing the client uses.

use std::io::{Read, Write};
use std::net::TcpListener as StdListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::Value as Json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::*;

/// The timeout of the faults that end in a timeout (hang, stalled body): they cost exactly
/// this, so it is short.
const HANG_TIMEOUT: Duration = Duration::from_secs(1);
/// The timeout of faults that end by themselves (reset, close, 502, refused, …): only a bound,
/// with room for 50 samples on a loaded machine.
const TIMEOUT: Duration = Duration::from_secs(2);
/// The timeout of probes that pass by doing real work (50 MiB of capped bodies, 50 TLS
/// handshakes in a debug build): enough that a loaded machine does not turn them into timeouts.
const WORK_TIMEOUT: Duration = Duration::from_secs(3);
/// Peak resident memory the process may reach, 5 GiB body included.
const MAX_RSS_KB: u64 = 100 * 1024;
/// The advertised size of the huge body: 5 GiB, streamed lazily, never allocated.
const HUGE: u64 = 5 * 1024 * 1024 * 1024;

// ---------------------------------------------------------------- servers

/// How an endpoint misbehaves.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Accepts, reads the request, never answers.
    Hang,
    /// Sends the headers and a few bytes of a longer body, then stalls.
    StallBody,
    /// Sends the headers and part of the body, then resets (SO_LINGER 0, then close).
    ResetMidBody,
    /// Announces and streams a 5 GiB body from one small buffer.
    HugeBody,
    /// Answers with a chunked body whose chunk size is not hex.
    BadChunks,
    /// Answers 502 with an HTML page, as load balancers do.
    BadGateway,
    /// Closes each connection as soon as it is accepted.
    CloseAtOnce,
    /// Reads the request, then closes without a word.
    CloseAfterRequest,
}

/// A runtime for the fault servers, apart from any test's thread.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// A listener on 127.0.0.1 that misbehaves as `fault` on every connection.
struct FaultServer {
    url: String,
    /// The most body bytes one connection managed to send.
    max_body_sent: Arc<AtomicU64>,
}

impl FaultServer {
    fn start(fault: Fault) -> Self {
        let listener = StdListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let max_body_sent = Arc::new(AtomicU64::new(0));
        let sent = max_body_sent.clone();
        runtime().spawn(async move {
            let listener = TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let sent = sent.clone();
                tokio::spawn(async move {
                    let _ = misbehave(fault, socket, &sent).await;
                });
            }
        });
        FaultServer { url, max_body_sent }
    }
}

async fn misbehave(fault: Fault, mut socket: TcpStream, sent: &AtomicU64) -> std::io::Result<()> {
    if let Fault::CloseAtOnce = fault {
        drop(socket);
        return Ok(());
    }
    read_head(&mut socket).await?;
    match fault {
        Fault::Hang => {}
        Fault::StallBody => {
            let head = "HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nthe first bytes";
            socket.write_all(head.as_bytes()).await?;
        }
        Fault::ResetMidBody => {
            let head = "HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n";
            socket.write_all(head.as_bytes()).await?;
            socket.write_all(&[b'x'; 4096]).await?;
            socket.flush().await?;
            // Let the client take the headers and start on the body before the reset.
            tokio::time::sleep(Duration::from_millis(50)).await;
            socket.set_zero_linger()?;
            drop(socket);
            return Ok(());
        }
        Fault::HugeBody => {
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {HUGE}\r\n\r\n");
            socket.write_all(head.as_bytes()).await?;
            let block = [b'x'; 64 * 1024];
            let mut total = 0u64;
            while total < HUGE {
                // Fails once the client has stopped reading and closed the connection.
                let result = socket.write_all(&block).await;
                if result.is_ok() {
                    total += block.len() as u64;
                }
                sent.fetch_max(total, Ordering::SeqCst);
                result?;
            }
            return Ok(());
        }
        Fault::BadChunks => {
            let answer =
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
            socket.write_all(answer.as_bytes()).await?;
        }
        Fault::BadGateway => {
            let page = "<html><head><title>502 Bad Gateway</title></head>\
                        <body><center><h1>502 Bad Gateway</h1></center></body></html>";
            let answer = format!(
                "HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{page}",
                page.len()
            );
            socket.write_all(answer.as_bytes()).await?;
            socket.shutdown().await?;
        }
        Fault::CloseAfterRequest => {
            drop(socket);
            return Ok(());
        }
        Fault::CloseAtOnce => unreachable!(),
    }
    // Hold the connection until the client gives up on it.
    let mut sink = [0u8; 4096];
    while socket.read(&mut sink).await? > 0 {}
    Ok(())
}

/// Reads a request head (up to the blank line); the client sends no body.
async fn read_head(socket: &mut TcpStream) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(())
}

/// The self-signed certificate of the unit tests (`src/exec/http.rs`): for `localhost` and
/// 127.0.0.1, issued by `runbook test server` so nothing in a trust store looks like its issuer,
/// valid until 2126.
const CERT_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBwjCCAWigAwIBAgIUIbd5z+mdq3T/d8frjOtPd0OfyY0wCgYIKoZIzj0EAwIw
HjEcMBoGA1UEAwwTcnVuYm9vayB0ZXN0IHNlcnZlcjAgFw0yNjExMjIxOTIzMDRa
GA8yMTI2MTAyOTE5MjMwNFowHjEcMBoGA1UEAwwTcnVuYm9vayB0ZXN0IHNlcnZl
cjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABHDff+NPNUwsgbGM+Ah0apweMras
CrpEwO+LEgAD62A6eQEUh7ttKFa2RIYEtllSOsPGJ1L76sKr8Cn2gb9EoaqjgYEw
fzAdBgNVHQ4EFgQUHnEsiS8h0vEyS2RjGW2tzE9muawwHwYDVR0jBBgwFoAUHnEs
iS8h0vEyS2RjGW2tzE9muawwGgYDVR0RBBMwEYIJbG9jYWxob3N0hwR/AAABMAwG
A1UdEwEB/wQCMAAwEwYDVR0lBAwwCgYIKwYBBQUHAwEwCgYIKoZIzj0EAwIDSAAw
RQIhAI70+aEUI46c4knV5iZVGDdMKLUJiUYfEsS7Z0a/vGprAiAM1KDZDigFB+WX
L0GgWM7rsE+vMDAIWZM7SnKkKQefpA==
-----END CERTIFICATE-----
";
const KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgO5k4lW1hPYbFwtyo
uL5yYtVWlw1JcJiTuxXRZ93htCyhRANCAARw33/jTzVMLIGxjPgIdGqcHjK2rAq6
RMDvixIAA+tgOnkBFIe7bShWtkSGBLZZUjrDxidS++rCq/Ap9oG/RKGq
-----END PRIVATE KEY-----
";

/// An HTTPS server with the self-signed certificate, answering `secure` to every request;
/// blocking rustls on a thread per connection.
fn self_signed_server() -> String {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let cert = CertificateDer::from_pem_slice(CERT_PEM.as_bytes()).unwrap();
    let key = PrivateKeyDer::from_pem_slice(KEY_PEM.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let config = Arc::new(config);
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(socket) = socket else { continue };
            let config = config.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, socket);
                let mut buf = [0u8; 4096];
                if tls.read(&mut buf).is_ok() {
                    let answer =
                        "HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nsecure";
                    let _ = tls.write_all(answer.as_bytes());
                    let _ = tls.flush();
                }
            });
        }
    });
    format!("https://localhost:{port}/")
}

// ---------------------------------------------------------------- the probe and its checks

/// What one probe (single request or sample) must come to.
struct Expect {
    outcome: &'static str,
    /// The summary exactly; `{p95}` and `{latency}` stand for measured times, `{dns}` and
    /// `{closed}` for messages that vary by system or timing (see `fill`).
    summary: &'static str,
}

/// One runbook step probing `url`.
struct Probe {
    id: &'static str,
    samples: u32,
    insecure: bool,
    expect: Expect,
}

/// Probes `url` with a single request and with `samples: 50, concurrency: 10` (plus, for TLS,
/// the same again with `insecure: true`), then runs a last step that reads the process's peak
/// memory. Asserts the summaries, outcomes, the time bound and the memory bound; returns the
/// finished run for further checks. The harness clears the proxy variables for the binary
/// (`support::PROXY_VARS`), so the samples take the path the expected summaries describe
/// whatever the shell exports.
fn probe(name: &str, url: &str, timeout: Duration, probes: &[Probe]) -> Output {
    let timeout_ms = timeout.as_millis();
    // The bound the issue sets is a step within its timeout plus 20%; BENCHMARKS.md ("Steps
    // against their timeout") records what steps take. A test on a loaded 2-core machine gets
    // 500 ms more for scheduling, still under twice the timeout, which a step that waits once
    // too often (two timeouts in a row) would reach.
    let step_bound = timeout * 6 / 5 + Duration::from_millis(500);
    let mut steps = String::new();
    for p in probes {
        steps.push_str(&format!(
            r#"
              - id: {id}
                title: Probe {name} ({samples} x)
                http:
                  url: "{url}"
                  samples: {samples}
                  concurrency: 10
                  timeout: {timeout_ms}ms
                  insecure: {insecure}
                on_fail: continue
            "#,
            id = p.id,
            samples = p.samples,
            insecure = p.insecure,
        ));
    }
    // `$PPID` of the shell is the runbook process; VmHWM is its peak resident set so far.
    let yaml = format!(
        r#"
            name: fault-{name}
            title: Fault {name}
            steps:
            {steps}
              - id: after
                title: The run goes on and reports its peak memory
                action: false
                command: {{argv: [sh, -c, 'grep VmHWM /proc/$PPID/status']}}
        "#
    );
    let out = Test::new()
        .runbook(&yaml)
        .args(["run"])
        .run()
        .run_outcome("completed", 0);

    for p in probes {
        let finished = out.finished(p.id);
        let summary = finished["summary"].as_str().unwrap_or_default();
        assert_eq!(
            finished["outcome"], p.expect.outcome,
            "outcome of `{}` ({summary})",
            p.id
        );
        let data = &finished["data"];
        assert_eq!(data["count"], p.samples, "{data}");
        assert_eq!(
            summary,
            fill(p.expect.summary, data, &finished),
            "summary of `{}`",
            p.id
        );
        let ms = finished["duration_ms"].as_u64().unwrap();
        assert!(
            Duration::from_millis(ms) <= step_bound,
            "`{}` took {ms} ms with a timeout of {timeout_ms} ms",
            p.id
        );
        eprintln!("{name}/{}: {ms} ms, {summary}", p.id);
    }

    // The wall time of the whole run: every probe's bound plus what starting a process and a
    // run costs, measured, with room for a loaded machine.
    let bound = step_bound * probes.len() as u32 + overhead() + Duration::from_secs(2);
    assert!(
        out.elapsed <= bound,
        "the run took {:?}, more than {bound:?}",
        out.elapsed
    );

    let after = out.outcome("after", "passed");
    let peak_kb = peak_kb(&after);
    eprintln!(
        "{name}: run {:?}, peak RSS {} MiB",
        out.elapsed,
        peak_kb / 1024
    );
    assert!(
        peak_kb < MAX_RSS_KB,
        "peak RSS {peak_kb} kB over {MAX_RSS_KB} kB"
    );
    out
}

/// Replaces `{latency}` (a single request's) and `{p95}` in an expected summary with what the
/// step measured, formatted as the binary formats them; `{dns}` and `{closed}` with messages
/// that vary by system or by timing, within what each allows.
fn fill(template: &str, data: &Json, finished: &Json) -> String {
    let summary = finished["summary"].as_str().unwrap_or_default();
    // Every message of a request that got no answer names the URL it fetched.
    let mut text = template.replace("{url}", data["url"].as_str().unwrap_or_default());
    // The numbers in the line are the recorded fields, formatted as the binary formats
    // durations: a summary that drifted from its data fails here.
    if text.contains("{p95}") {
        let p95 = data["p95_ms"]
            .as_f64()
            .unwrap_or_else(|| panic!("no p95_ms in {data}"));
        text = text.replace("{p95}", &runbook::duration::human_ms(p95));
    }
    text = fill_varying(&text, summary, "{dns}", |m| {
        // The resolver's words vary by system; the prefix does not.
        m.starts_with("dns error: ") && m.len() > "dns error: ".len()
    });
    text = fill_varying(&text, summary, "{closed}", |m| closed_at_once(bare(m)));
    // The same race over fifty requests: each kind with its count, adding up to fifty.
    text = fill_varying(&text, summary, "{closed x50}", |m| {
        let mut total = 0;
        m.split(", ").all(|part| {
            let Some((n, message)) = part.split_once(' ') else {
                return false;
            };
            total += n.parse::<u32>().unwrap_or(0);
            closed_at_once(bare(message))
        }) && total == 50
    });
    if text.contains("{latency}") {
        let latency = data["max_ms"]
            .as_f64()
            .unwrap_or_else(|| panic!("no max_ms in {data}"));
        text = text.replace("{latency}", &runbook::duration::human_ms(latency));
    }
    text
}

/// Replaces `placeholder` in `template` with the text that stands in its place in `summary`,
/// which must satisfy `allowed`.
fn fill_varying(
    template: &str,
    summary: &str,
    placeholder: &str,
    allowed: impl Fn(&str) -> bool,
) -> String {
    let Some((before, after)) = template.split_once(placeholder) else {
        return template.to_string();
    };
    let middle = summary
        .strip_prefix(before)
        .and_then(|rest| rest.strip_suffix(after))
        .filter(|m| allowed(m))
        .unwrap_or_else(|| panic!("{summary:?} does not match {template:?}"));
    format!("{before}{middle}{after}")
}

/// A message without the ` (URL)` every transport error ends with.
fn bare(message: &str) -> &str {
    message
        .rsplit_once(" (http")
        .map_or(message, |(message, _)| message)
}

/// What a close right after accept can look like: it races the request. A FIN before the
/// request arrives reads as a close; a request left unread makes the close a reset, which a
/// write of the request can meet as a broken pipe.
fn closed_at_once(message: &str) -> bool {
    [
        "connection closed before a response",
        "connection reset",
        "broken pipe",
    ]
    .contains(&message)
}

/// `VmHWM:   23456 kB` from the last step's stdout.
fn peak_kb(after: &Json) -> u64 {
    let stdout = after["stdout"].as_str().unwrap_or_default();
    stdout
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in {stdout:?}"))
}

/// How long a trivial run takes here, measured once: process start, parse, timeline, exit.
fn overhead() -> Duration {
    static OVERHEAD: OnceLock<Duration> = OnceLock::new();
    *OVERHEAD.get_or_init(|| {
        let out = Test::new()
            .runbook(
                r#"
                name: trivial
                title: Nothing to do
                steps:
                  - id: pause
                    title: A moment
                    wait: 1ms
                "#,
            )
            .args(["run"])
            .run()
            .status(0);
        eprintln!("overhead of a trivial run: {:?}", out.elapsed);
        out.elapsed
    })
}

fn single(outcome: &'static str, summary: &'static str) -> Probe {
    Probe {
        id: "single",
        samples: 1,
        insecure: false,
        expect: Expect { outcome, summary },
    }
}

fn sampled(outcome: &'static str, summary: &'static str) -> Probe {
    Probe {
        id: "sampled",
        samples: 50,
        insecure: false,
        expect: Expect { outcome, summary },
    }
}

// ---------------------------------------------------------------- the faults

#[test]
fn an_endpoint_that_never_answers_costs_one_timeout() {
    let server = FaultServer::start(Fault::Hang);
    let out = probe(
        "hang",
        &server.url,
        HANG_TIMEOUT,
        &[
            single(
                "failed",
                "timed out after 1 s waiting for response headers ({url})",
            ),
            sampled(
                "failed",
                "failed 100%: 10 timed out after 1 s waiting for response headers ({url}), 40 not sent",
            ),
        ],
    );
    // One timeout for the whole probe: the ten in flight, and the forty whose turn never came.
    let data = out.outcome("sampled", "failed");
    assert_eq!(data["error_count"], 10);
    let message = format!(
        "timed out after 1 s waiting for response headers ({})",
        data["url"].as_str().unwrap()
    );
    assert_eq!(data["errors"], serde_json::json!({ message: 10 }));
    assert_eq!(data["not_sent"], 40);
    assert_eq!(data["responses"], 0);
    // Nothing answered: a total failure, and no 5xx rate to compare with anything.
    assert_eq!(data["rate_error"], 1.0);
    assert!(data["rate_5xx"].is_null(), "{data}");
    assert!(data["status"].is_null(), "{data}");
    // Not a quick failure either: the step waited for its timeout.
    let ms = out.finished("single")["duration_ms"].as_u64().unwrap();
    assert!(ms >= HANG_TIMEOUT.as_millis() as u64, "{ms} ms");
}

#[test]
fn headers_then_a_stalled_body_times_out_reading_the_body() {
    let server = FaultServer::start(Fault::StallBody);
    let out = probe(
        "stall",
        &server.url,
        HANG_TIMEOUT,
        &[
            single("failed", "timed out after 1 s reading the body ({url})"),
            sampled(
                "failed",
                "failed 100%: 10 timed out after 1 s reading the body ({url}), 40 not sent",
            ),
        ],
    );
    let data = out.outcome("single", "failed");
    assert!(data["status"].is_null(), "no complete response: {data}");
    let message = format!(
        "timed out after 1 s reading the body ({})",
        data["url"].as_str().unwrap()
    );
    assert_eq!(data["errors"][&message], 1);
}

#[test]
fn a_reset_in_the_middle_of_the_body_is_named() {
    let server = FaultServer::start(Fault::ResetMidBody);
    let out = probe(
        "reset",
        &server.url,
        TIMEOUT,
        &[
            single("failed", "connection reset while reading the body ({url})"),
            sampled(
                "failed",
                "failed 100%: 50 connection reset while reading the body ({url})",
            ),
        ],
    );
    let data = out.outcome("sampled", "failed");
    assert_eq!(data["rate_error"], 1.0);
}

#[test]
fn a_five_gib_body_is_read_to_the_cap_and_no_further() {
    let server = FaultServer::start(Fault::HugeBody);
    let out = probe(
        "huge",
        &server.url,
        WORK_TIMEOUT,
        &[
            single("passed", "200 OK in {latency}, body exceeds 1 MiB cap"),
            sampled(
                "passed",
                "failed 0%: 200 x50, p95 {p95}, 50 bodies exceed 1 MiB cap",
            ),
        ],
    );
    for id in ["single", "sampled"] {
        let data = out.outcome(id, "passed");
        assert_eq!(data["body_truncated"], true, "{id}");
        assert_eq!(data["body"].as_str().unwrap().len(), 1024 * 1024, "{id}");
        assert_eq!(data["error_count"], 0, "{id}");
    }
    // The client closed the connection at the cap: what the server got out is the cap plus
    // socket buffers, nowhere near 5 GiB.
    let sent = server.max_body_sent.load(Ordering::SeqCst);
    eprintln!("huge: at most {} KiB sent on one connection", sent / 1024);
    assert!(
        sent < 64 * 1024 * 1024,
        "{sent} bytes sent on one connection"
    );
}

#[test]
fn invalid_chunked_encoding_is_named() {
    let server = FaultServer::start(Fault::BadChunks);
    probe(
        "chunks",
        &server.url,
        TIMEOUT,
        &[
            single("failed", "invalid chunked encoding ({url})"),
            sampled("failed", "failed 100%: 50 invalid chunked encoding ({url})"),
        ],
    );
}

#[test]
fn a_502_with_an_html_page_is_a_response_not_a_transport_error() {
    let server = FaultServer::start(Fault::BadGateway);
    let out = probe(
        "bad-gateway",
        &server.url,
        TIMEOUT,
        &[
            // A failed step shows the start of what the server answered.
            single(
                "failed",
                "502 Bad Gateway in {latency}; body: <html><head><title>502 Bad Gateway</title>\
                 </head><body><center><h1>502 Bad Gateway</h1></center></body></html>",
            ),
            sampled(
                "failed",
                "failed 100%: 502 x50, p95 {p95}; body: <html><head><title>502 Bad Gateway\
                 </title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>",
            ),
        ],
    );
    let data = out.outcome("single", "failed");
    assert_eq!(data["status"], 502);
    assert_eq!(data["error_count"], 0);
    assert_eq!(data["headers"]["content-type"], "text/html");
    assert!(
        data["body"]
            .as_str()
            .unwrap()
            .contains("<h1>502 Bad Gateway</h1>"),
        "{data}"
    );
    assert!(data["json"].is_null(), "{data}");
    let data = out.outcome("sampled", "failed");
    assert_eq!(data["status_counts"]["502"], 50);
    assert_eq!(data["rate_5xx"], 1.0);
}

#[test]
fn a_server_that_closes_at_once_is_named() {
    let server = FaultServer::start(Fault::CloseAtOnce);
    let out = probe(
        "close",
        &server.url,
        TIMEOUT,
        &[
            single("failed", "{closed}"),
            sampled("failed", "failed 100%: {closed x50}"),
        ],
    );
    let data = out.outcome("sampled", "failed");
    let errors = data["errors"].as_object().unwrap();
    assert!(errors.keys().all(|m| closed_at_once(bare(m))), "{data}");
}

#[test]
fn a_server_that_reads_the_request_and_closes_is_named() {
    // Without unread data the close is a plain FIN, so only one message is possible.
    let server = FaultServer::start(Fault::CloseAfterRequest);
    probe(
        "close-after-request",
        &server.url,
        TIMEOUT,
        &[
            single("failed", "connection closed before a response ({url})"),
            sampled(
                "failed",
                "failed 100%: 50 connection closed before a response ({url})",
            ),
        ],
    );
}

#[test]
fn a_self_signed_certificate_fails_unless_insecure() {
    let url = self_signed_server();
    let invalid = format!(
        "invalid certificate: unknown issuer (self-signed or untrusted CA) ({})",
        url
    );
    let out = probe(
        "self-signed",
        &url,
        WORK_TIMEOUT,
        &[
            single(
                "failed",
                "invalid certificate: unknown issuer (self-signed or untrusted CA) ({url})",
            ),
            sampled(
                "failed",
                "failed 100%: 50 invalid certificate: unknown issuer (self-signed or untrusted CA) ({url})",
            ),
            Probe {
                id: "single_insecure",
                samples: 1,
                insecure: true,
                expect: Expect {
                    outcome: "passed",
                    summary: "200 OK in {latency}",
                },
            },
            Probe {
                id: "sampled_insecure",
                samples: 50,
                insecure: true,
                expect: Expect {
                    outcome: "passed",
                    summary: "failed 0%: 200 x50, p95 {p95}",
                },
            },
        ],
    );
    assert_eq!(out.outcome("single_insecure", "passed")["body"], "secure");
    assert_eq!(out.outcome("single", "failed")["errors"][&invalid], 1);
}

#[test]
fn a_refused_connection_is_named() {
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    probe(
        "refused",
        &url,
        TIMEOUT,
        &[
            single("failed", "connection refused ({url})"),
            sampled("failed", "failed 100%: 50 connection refused ({url})"),
        ],
    );
}

#[test]
fn an_unresolvable_host_is_a_dns_error() {
    probe(
        "dns",
        "http://no-such-host.invalid/",
        TIMEOUT,
        &[
            single("failed", "{dns} ({url})"),
            sampled("failed", "failed 100%: 50 {dns} ({url})"),
        ],
    );
}

// ---------------------------------------------------------------- the sampling path

// A step of `samples: 50` over plain HTTP goes through the sampler of `src/exec/http_sampler.rs`
// (a keep-alive connection per worker, driven in the worker's task) rather than reqwest's pool;
// the faults above already meet it with their `sampled` probes. What follows is what only a
// server that keeps connections alive can show: how the sampler uses and reopens them.

/// How a keep-alive server ends its connections.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// Never: every request on a connection is answered.
    Never,
    /// Each answer says `connection: close`, and the server closes.
    CloseAnnounced,
    /// Each answer is a keep-alive one, and the server closes anyway: the FIN goes out in the
    /// same segment as the answer (TCP_CORK), so the client knows before it sends again.
    CloseQuietly,
    /// This many answers, then the next request is read and the connection reset.
    ResetAfter(u32),
}

/// A server answering `ok` to GETs over keep-alive connections, counting connections and
/// requests.
struct KeepAliveServer {
    url: String,
    connections: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
}

impl KeepAliveServer {
    fn start(ending: Ending) -> Self {
        let listener = StdListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let connections = Arc::new(AtomicU64::new(0));
        let requests = Arc::new(AtomicU64::new(0));
        let (accepted, served) = (connections.clone(), requests.clone());
        runtime().spawn(async move {
            let listener = TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                accepted.fetch_add(1, Ordering::SeqCst);
                let served = served.clone();
                tokio::spawn(async move {
                    let _ = keep_alive(ending, socket, &served).await;
                });
            }
        });
        KeepAliveServer {
            url,
            connections,
            requests,
        }
    }

    fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

async fn keep_alive(
    ending: Ending,
    mut socket: TcpStream,
    served: &AtomicU64,
) -> std::io::Result<()> {
    let mut answered = 0;
    loop {
        // The client sends no body and waits for each answer, so a head is one request.
        read_head(&mut socket).await?;
        served.fetch_add(1, Ordering::SeqCst);
        match ending {
            Ending::ResetAfter(n) if answered == n => {
                socket.set_zero_linger()?;
                return Ok(());
            }
            Ending::CloseAnnounced => {
                let answer =
                    "HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n";
                socket.write_all(answer.as_bytes()).await?;
                return socket.shutdown().await;
            }
            Ending::CloseQuietly => {
                socket2::SockRef::from(&socket).set_tcp_cork(true)?;
                socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n")
                    .await?;
                return socket.shutdown().await;
            }
            Ending::Never | Ending::ResetAfter(_) => {
                socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n")
                    .await?;
                answered += 1;
            }
        }
    }
}

/// Runs one step probing `url` with `samples` at `concurrency`; returns its data.
fn sample(url: &str, samples: u32, concurrency: u32) -> Json {
    let yaml = format!(
        r#"
            name: sampling
            title: Sampling
            steps:
              - id: probe
                title: Probe
                http:
                  url: "{url}"
                  samples: {samples}
                  concurrency: {concurrency}
                  timeout: {timeout_ms}ms
                on_fail: continue
        "#,
        timeout_ms = WORK_TIMEOUT.as_millis()
    );
    let out = Test::new().runbook(&yaml).args(["run"]).run();
    out.finished("probe")["data"].clone()
}

#[test]
fn each_worker_keeps_one_connection_for_all_its_samples() {
    let server = KeepAliveServer::start(Ending::Never);
    let data = sample(&server.url, 50, 10);
    assert_eq!(
        data["status_counts"],
        serde_json::json!({"200": 50}),
        "{data}"
    );
    assert_eq!(data["error_count"], 0);
    assert_eq!(data["body"], "ok\n");
    assert_eq!(server.requests(), 50);
    // One connection per worker, opened once and kept: no pool that opens another while an
    // idle one is on its way back.
    assert_eq!(server.connections(), 10);
}

#[test]
fn a_connection_the_server_closes_after_each_answer_is_reopened() {
    let server = KeepAliveServer::start(Ending::CloseAnnounced);
    let data = sample(&server.url, 50, 10);
    assert_eq!(
        data["status_counts"],
        serde_json::json!({"200": 50}),
        "{data}"
    );
    assert_eq!(data["error_count"], 0, "{data}");
    assert_eq!(server.requests(), 50);
    assert_eq!(server.connections(), 50);
}

#[test]
fn a_request_a_closed_keep_alive_connection_could_not_take_goes_on_a_fresh_one() {
    // The server closes without saying so; the client learns it before sending the next
    // request, which therefore never went out and is sent again on a new connection, once.
    let server = KeepAliveServer::start(Ending::CloseQuietly);
    let data = sample(&server.url, 50, 10);
    assert_eq!(
        data["status_counts"],
        serde_json::json!({"200": 50}),
        "{data}"
    );
    assert_eq!(data["error_count"], 0, "{data}");
    // Each request reached the server exactly once.
    assert_eq!(server.requests(), 50);
    assert_eq!(server.connections(), 50);
}

#[test]
fn a_reset_costs_the_request_in_flight_and_the_next_gets_a_new_connection() {
    // One worker, so the order is fixed: four answers, a reset, four answers, a reset.
    let server = KeepAliveServer::start(Ending::ResetAfter(4));
    let data = sample(&server.url, 10, 1);
    assert_eq!(data["count"], 10);
    assert_eq!(
        data["status_counts"],
        serde_json::json!({"200": 8}),
        "{data}"
    );
    assert_eq!(
        data["errors"],
        serde_json::json!({ format!("connection reset ({})", data["url"].as_str().unwrap()): 2 }),
        "{data}"
    );
    // A request that was sent is never sent again.
    assert_eq!(server.requests(), 10);
    assert_eq!(server.connections(), 2);
}

/// A keep-alive server whose answer is gzip-compressed when the request accepts gzip.
fn gzip_server(text: &'static str) -> String {
    use flate2::write::GzEncoder;

    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).unwrap();
    let compressed = encoder.finish().unwrap();
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    runtime().spawn(async move {
        let listener = TcpListener::from_std(listener).unwrap();
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                continue;
            };
            let compressed = compressed.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    let mut head = Vec::new();
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                    let (encoding, body) = if head.contains("\r\naccept-encoding: gzip\r\n") {
                        ("content-encoding: gzip\r\n", compressed.as_slice())
                    } else {
                        ("", text.as_bytes())
                    };
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n{encoding}\
                         content-length: {}\r\n\r\n",
                        body.len()
                    );
                    let mut bytes = answer.into_bytes();
                    bytes.extend_from_slice(body);
                    if socket.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

#[test]
fn a_gzip_answer_is_decoded_by_both_paths() {
    let text = "a compressible answer, a compressible answer, a compressible answer\n";
    let url = gzip_server(text);
    let single = sample(&url, 1, 1);
    let sampled = sample(&url, 20, 4);
    for data in [&single, &sampled] {
        assert_eq!(data["body"], text, "{data}");
        assert_eq!(data["error_count"], 0, "{data}");
        // Decoded: the encoding and the compressed length are gone, as reqwest leaves them.
        assert_eq!(
            data["headers"],
            serde_json::json!({"content-type": "text/plain"}),
            "{data}"
        );
    }
    assert_eq!(sampled["status_counts"], serde_json::json!({"200": 20}));
}

#[test]
fn a_proxy_in_the_environment_keeps_reqwest_s_path() {
    // The sampler connects directly; with a proxy set the samples must go to the proxy, as
    // reqwest sends them. This "proxy" answers `ok` to anything; the target refuses.
    let proxy = KeepAliveServer::start(Ending::Never);
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let target = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let yaml = format!(
        r#"
            name: proxied
            title: Proxied
            steps:
              - id: probe
                title: Probe through the proxy
                http: {{url: "{target}", samples: 5, timeout: 2s}}
        "#
    );
    let out = Test::new()
        .env("http_proxy", &proxy.url)
        .runbook(&yaml)
        .args(["run"])
        .run();
    let data = out.outcome("probe", "passed");
    assert_eq!(
        data["status_counts"],
        serde_json::json!({"200": 5}),
        "{data}"
    );
    assert_eq!(proxy.requests(), 5);
}
