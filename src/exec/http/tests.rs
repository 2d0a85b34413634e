//! The `http` executor against real servers on 127.0.0.1.

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
use crate::exec::ProgressUpdate;
use crate::exec::no_progress;
use serde_json::Value as Json;

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
        action: false,
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
    // Reports come on a clock (and once at the end), each with counts that never go back.
    let updates = updates.lock().unwrap();
    let counts: Vec<(u32, u32, u32)> = updates
        .iter()
        .map(|u| match u {
            ProgressUpdate::Samples {
                done,
                total,
                failed,
                ..
            } => (*done, *total, *failed),
            other => panic!("not a sample count: {other:?}"),
        })
        .collect();
    assert!(
        counts
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].2 <= w[1].2)
    );
    let ProgressUpdate::Samples {
        done,
        total,
        in_flight,
        failed,
        ..
    } = updates.last().unwrap().clone()
    else {
        unreachable!()
    };
    assert_eq!((done, total, in_flight, failed), (30, 30, 0, 10));
}

/// A hung endpoint finishes nothing: the reports still come, with every request in flight and
/// waiting for headers, on the sampler's path and on reqwest's.
#[tokio::test]
async fn a_hung_probe_reports_its_requests_in_flight() {
    let app = Router::new().route(
        "/",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            "late"
        }),
    );
    let base = serve(app).await;
    for url in [base.clone(), base.replace("127.0.0.1", "user:pw@127.0.0.1")] {
        let updates = Arc::new(Mutex::new(Vec::new()));
        let sink = updates.clone();
        let progress: Progress = Arc::new(move |u| sink.lock().unwrap().push(u));
        let mut req = request(&url);
        req.samples = 20;
        req.concurrency = 5;
        req.timeout = Duration::from_millis(600);
        let out = run(&req, &progress).await.unwrap();
        assert_eq!(out.fields["error_count"], 5, "{url}");
        let updates = updates.lock().unwrap();
        let waiting = updates.iter().any(|u| {
            matches!(
                u,
                ProgressUpdate::Samples {
                    done: 0,
                    total: 20,
                    in_flight: 5,
                    failed: 0,
                    phase: Some(crate::exec::RequestPhase::Headers),
                    ..
                }
            )
        });
        assert!(waiting, "{url}: {updates:?}");
    }
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
    let refused = format!("connection refused (http://127.0.0.1:{port}/)");
    assert_eq!(out.summary, refused);
    assert_eq!(out.fields["status"], Json::Null);
    assert_eq!(out.fields["error_count"], 1);
    assert_eq!(out.fields["errors"][&refused], 1);
    assert_eq!(out.fields["p95_ms"], Json::Null);
    assert_eq!(out.fields["rate_error"], 1.0);

    let mut req = request(&url);
    req.samples = 3;
    let out = run(&req, &no_progress()).await.unwrap();
    assert_eq!(out.summary, format!("failed 100%: 3 {refused}"));
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
    let message = format!(
        "timed out after 300 ms waiting for response headers ({})",
        shown_url(&base)
    );
    assert_eq!(out.summary, message);
    assert_eq!(out.fields["errors"][&message], 1);
    // 30 s if the timeout did not apply; room for a loaded machine below that.
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
}

/// A server that sends its headers and stalls in the body shows its requests `reading body`,
/// on both paths.
#[tokio::test]
async fn a_stalled_body_is_reported_as_reading_the_body() {
    let base = raw_server(|mut socket| async move {
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial";
        socket.write_all(head.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    for url in [base.clone(), base.replace("127.0.0.1", "user:pw@127.0.0.1")] {
        let updates = Arc::new(Mutex::new(Vec::new()));
        let sink = updates.clone();
        let progress: Progress = Arc::new(move |u| sink.lock().unwrap().push(u));
        let mut req = request(&url);
        req.samples = 6;
        req.concurrency = 3;
        req.timeout = Duration::from_millis(600);
        run(&req, &progress).await.unwrap();
        let reading = updates.lock().unwrap().iter().any(|u| {
            matches!(
                u,
                ProgressUpdate::Samples {
                    in_flight: 3,
                    phase: Some(crate::exec::RequestPhase::Body),
                    ..
                }
            )
        });
        assert!(reading, "{url}: {:?}", updates.lock().unwrap());
    }
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
    assert_eq!(
        out.summary,
        format!(
            "timed out after 300 ms reading the body ({})",
            shown_url(&base)
        )
    );
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
    // One URL for every sample: the messages still aggregate.
    let message = format!(
        "timed out after 1 s waiting for response headers ({})",
        shown_url(&base)
    );
    assert_eq!(out.fields["errors"], serde_json::json!({ &message: 10 }));
    // A hung endpoint is a total failure, whatever the deadline left unsent.
    assert_eq!(out.fields["rate_error"], 1.0);
    assert_eq!(out.fields["rate_5xx"], Json::Null);
    assert_eq!(
        out.summary,
        format!("failed 100%: 10 {message}, 40 not sent")
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
        "failed 33%: 1 timed out after 1 s waiting for response headers ({url}), 200 x2, \
         p95 {p95}, 1 not sent"
            .replace("{url}", &shown_url(&base))
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
    assert_eq!(
        out.summary,
        format!(
            "connection reset while reading the body ({})",
            shown_url(&reset)
        )
    );

    let short = raw_server(|mut socket| async move {
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\npartial";
        socket.write_all(head.as_bytes()).await.unwrap();
    })
    .await;
    let out = run(&request(&short), &no_progress()).await.unwrap();
    assert_eq!(
        out.summary,
        format!(
            "connection closed before the body was complete ({})",
            shown_url(&short)
        )
    );

    let chunked = raw_server(|mut socket| async move {
        let answer =
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
        socket.write_all(answer.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let out = run(&request(&chunked), &no_progress()).await.unwrap();
    assert_eq!(
        out.summary,
        format!("invalid chunked encoding ({})", shown_url(&chunked))
    );
    assert!(!out.ok);
}

#[tokio::test]
async fn a_server_that_closes_without_answering_is_named() {
    let base = raw_server(|socket| async move { drop(socket) }).await;
    let out = run(&request(&base), &no_progress()).await.unwrap();
    assert_eq!(
        out.summary,
        format!("connection closed before a response ({})", shown_url(&base))
    );
}

#[tokio::test]
async fn reset_connection_is_named() {
    let base = raw_server(|socket| async move {
        socket.set_zero_linger().unwrap();
        drop(socket);
    })
    .await;
    let out = run(&request(&base), &no_progress()).await.unwrap();
    assert_eq!(
        out.summary,
        format!("connection reset ({})", shown_url(&base))
    );
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
        out.summary.starts_with("200 OK in ") && out.summary.ends_with(", body exceeds 1 MiB cap"),
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

#[test]
fn a_shown_url_has_no_credentials() {
    assert_eq!(
        shown_url("http://admin:s3cret@127.0.0.1:9/health?x=1"),
        "http://127.0.0.1:9/health?x=1"
    );
    assert_eq!(
        shown_url("https://token@example.com"),
        "https://example.com/"
    );
    // Without credentials, as written.
    assert_eq!(shown_url("http://127.0.0.1:9"), "http://127.0.0.1:9");
    // Not parsable, still without the userinfo.
    assert_eq!(shown_url("http://u:p@exa mple/x"), "http://exa mple/x");
    assert_eq!(
        naming("connection refused", "http://u:p@127.0.0.1:9/"),
        "connection refused (http://127.0.0.1:9/)"
    );
}

#[tokio::test]
async fn a_transport_error_names_the_url_without_its_credentials() {
    let port = closed_port().await;
    let url = format!("http://admin:s3cret-pw@127.0.0.1:{port}/health");
    for samples in [1, 3] {
        let mut req = request(&url);
        req.samples = samples;
        let out = run(&req, &no_progress()).await.unwrap();
        let message = format!("connection refused (http://127.0.0.1:{port}/health)");
        assert_eq!(
            out.fields["errors"],
            serde_json::json!({ &message: samples })
        );
        assert!(out.summary.ends_with(&message), "{}", out.summary);
        assert!(!out.summary.contains("s3cret"), "{}", out.summary);
        assert_eq!(out.fields["url"], format!("http://127.0.0.1:{port}/health"));
    }
}
