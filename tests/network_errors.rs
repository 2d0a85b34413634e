//! Every network error names what it was fetching: the URL of an http, statuspage or
//! prometheus step (without the credentials of its userinfo), the address of a tcp step.

use serde_json::{Value as Json, json};

use crate::support::*;

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

#[test]
fn every_transport_error_names_its_url_or_address_without_credentials() {
    const PASSWORD: &str = "url-pa55word-31";
    let port = closed_port();
    let out = Test::new()
        .runbook(&format!(
            r#"
            name: unreachable
            title: Everything is down
            defaults: {{timeout: 3s}}
            steps:
              - id: health
                title: Health check
                on_fail: continue
                http: "http://ops:{PASSWORD}@127.0.0.1:{port}/health"
              - id: sampled
                title: Sampled
                on_fail: continue
                http: {{url: "http://ops:{PASSWORD}@127.0.0.1:{port}/health", samples: 4, concurrency: 2}}
              - id: page
                title: Status page
                on_fail: continue
                statuspage: "http://reader:{PASSWORD}@127.0.0.1:{port}/status"
              - id: metrics
                title: Prometheus
                on_fail: continue
                prometheus: {{url: "http://127.0.0.1:{port}", query: up}}
              - id: db
                title: Database port
                tcp: "127.0.0.1:{port}"
            "#
        ))
        .args(["run"])
        .run()
        .run_outcome("failed", 1);

    let health = format!("connection refused (http://127.0.0.1:{port}/health)");
    let data = out.outcome("health", "failed");
    assert_eq!(out.finished("health")["summary"], health.as_str());
    assert_eq!(data["errors"], json!({ &health: 1 }));
    assert_eq!(data["url"], format!("http://127.0.0.1:{port}/health"));

    // One message for every sample: the map still counts them.
    let data = out.outcome("sampled", "failed");
    assert_eq!(data["errors"], json!({ &health: 4 }));
    assert_eq!(
        out.finished("sampled")["summary"],
        format!("failed 100%: 4 {health}")
    );

    let page = format!("connection refused (http://127.0.0.1:{port}/status/api/v2/summary.json)");
    let data = out.outcome("page", "failed");
    assert_eq!(data["error"], page.as_str());
    assert_eq!(out.finished("page")["summary"], page.as_str());

    // GET or POST, the query endpoint is named.
    let data = out.outcome("metrics", "failed");
    let error = data["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with(&format!(
            "connection refused (http://127.0.0.1:{port}/api/v1/query"
        )) && error.ends_with(')'),
        "{data}"
    );

    let db = format!("connection refused (127.0.0.1:{port})");
    let data = out.outcome("db", "failed");
    assert_eq!(data["error"], db.as_str());
    assert_eq!(data["connected"], false);

    // The console says the same, and the password is nowhere.
    let out = out
        .stdout_line(&["Health check", &health])
        .stdout_line(&["Database port", &db]);
    for (place, text) in out.every_output() {
        assert!(
            !text.contains(PASSWORD),
            "{place} shows the URL's password:\n{text}"
        );
    }
}

#[test]
fn a_timeout_names_the_url_too() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: hang
            title: A hung endpoint
            steps:
              - id: hang
                title: Hung endpoint
                http: {url: "$SERVER/hang", timeout: 300ms}
            "#,
        )
        .args(["run"])
        .run()
        .run_outcome("failed", 1);
    let message = format!(
        "timed out after 300 ms waiting for response headers ({}/hang)",
        server.url()
    );
    let data = out.outcome("hang", "failed");
    assert_eq!(out.finished("hang")["summary"], message.as_str());
    assert_eq!(data["errors"], json!({ &message: 1 }));
    assert_eq!(data["status"], Json::Null);
}
