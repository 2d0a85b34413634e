//! The `tcp` executor: can a connection be opened to `host:port`?
//!
//! Result fields (visible as `steps.<id>.<field>`):
//! - `connected`: whether a connection was established (and then closed).
//! - `connect_ms`: time to resolve and connect, 0.1 ms resolution; null when not connected.
//! - `address`: what was dialled, as written.
//! - `error`: why it failed, naming the address (`connection refused (db:5432)`,
//!   `timed out after 2 s (db:5432)`, `dns error: … (db:5432)`); null when connected.

use std::io;
use std::time::{Duration, Instant};

use serde_json::{Map, Value as Json};
use tokio::net::TcpStream;

use super::http;
use super::{ExecError, ExecOutput};

/// Connects to `address` (`host:port`, `[v6]:port`) within `timeout`, trying each resolved
/// address in turn.
pub async fn run(address: &str, timeout: Duration) -> Result<ExecOutput, ExecError> {
    let address = address.trim();
    check_port(address)?;
    let started = Instant::now();
    let attempt = tokio::time::timeout(timeout, connect(address)).await;
    let elapsed_ms = http::round_ms(started.elapsed().as_secs_f64() * 1000.0);
    // The message names the address, as http's name their URL: an `error` is read on its own.
    let error = match attempt {
        Ok(Ok(())) => None,
        Ok(Err(message)) => Some(format!("{message} ({address})")),
        Err(_) => Some(format!("{} ({address})", http::timed_out_after(timeout))),
    };
    let connected = error.is_none();
    let summary = match &error {
        None => format!("connected in {}", human_fine_ms(elapsed_ms)),
        Some(message) => message.clone(),
    };
    let mut fields = Map::new();
    fields.insert("connected".into(), connected.into());
    fields.insert(
        "connect_ms".into(),
        if connected {
            elapsed_ms.into()
        } else {
            Json::Null
        },
    );
    fields.insert("address".into(), address.into());
    fields.insert("error".into(), error.map_or(Json::Null, Json::from));
    Ok(ExecOutput {
        fields,
        summary,
        ok: connected,
    })
}

/// A missing or bad port is a mistake in the runbook, not a network condition.
fn check_port(address: &str) -> Result<(), ExecError> {
    let port = match address.rsplit_once(':') {
        // `::1` alone: the colons belong to the IPv6 address.
        Some((host, _)) if host.contains(':') && !host.starts_with('[') => None,
        Some((host, _)) if host.starts_with('[') && !host.ends_with(']') => None,
        Some((_, port)) => Some(port),
        None => None,
    };
    match port {
        None => Err(ExecError(format!(
            "`{address}` has no port: write `host:port` (or `[v6 address]:port`)"
        ))),
        Some(port) => match port.parse::<u16>() {
            Ok(_) => Ok(()),
            Err(_) => Err(ExecError(format!("`{address}`: `{port}` is not a port"))),
        },
    }
}

async fn connect(address: &str) -> Result<(), String> {
    // Not `tokio::net::lookup_host`: see `http::lookup` for why resolving runs on its own thread.
    let targets = http::lookup(address.to_string()).await.map_err(|e| {
        let text = http::clean_os_message(&e.to_string());
        let detail = text.trim_start_matches("failed to lookup address information: ");
        format!("dns error: {detail}")
    })?;
    let mut last_error = format!("dns error: `{address}` resolved to no address");
    for target in targets {
        match TcpStream::connect(target).await {
            Ok(_stream) => return Ok(()),
            Err(e) => last_error = io_message(&e),
        }
    }
    Err(last_error)
}

fn io_message(e: &io::Error) -> String {
    http::io_kind_message(e.kind()).unwrap_or_else(|| http::clean_os_message(&e.to_string()))
}

/// Local connects take well under a millisecond: show a decimal there (`0.4 ms`).
fn human_fine_ms(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        crate::duration::human_ms(ms)
    }
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;

    use super::*;

    const T: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn connects_to_a_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let out = run(&address, T).await.unwrap();
        assert!(out.ok);
        assert_eq!(out.fields["connected"], true);
        assert!(out.fields["connect_ms"].as_f64().unwrap() >= 0.0);
        assert_eq!(out.fields["address"], address.as_str());
        assert_eq!(out.fields["error"], Json::Null);
        assert!(out.summary.starts_with("connected in "), "{}", out.summary);
        assert!(out.summary.ends_with(" ms"), "{}", out.summary);
    }

    #[tokio::test]
    async fn refused_is_data() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        drop(listener);
        let out = run(&address, T).await.unwrap();
        assert!(!out.ok);
        assert_eq!(out.fields["connected"], false);
        assert_eq!(out.fields["connect_ms"], Json::Null);
        let refused = format!("connection refused ({address})");
        assert_eq!(out.fields["error"], refused.as_str());
        assert_eq!(out.summary, refused);
    }

    #[tokio::test]
    async fn localhost_names_resolve() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let out = run(&format!("localhost:{port}"), T).await.unwrap();
        assert_eq!(out.fields["connected"], true, "{}", out.summary);
    }

    #[tokio::test]
    async fn unresolvable_host_is_a_dns_error() {
        let out = run("no-such-host.invalid:443", T).await.unwrap();
        assert!(!out.ok);
        assert!(out.summary.starts_with("dns error: "), "{}", out.summary);
        assert!(
            out.summary.ends_with(" (no-such-host.invalid:443)"),
            "{}",
            out.summary
        );
    }

    #[tokio::test]
    async fn address_without_port_cannot_run() {
        for address in [
            "db.internal",
            "::1",
            "[::1]",
            "db.internal:http",
            "db:99999",
        ] {
            assert!(
                run(address, T).await.is_err(),
                "{address} should be rejected"
            );
        }
        assert!(
            run("db.internal", T)
                .await
                .unwrap_err()
                .0
                .contains("has no port")
        );
        assert!(check_port("[::1]:5432").is_ok());
        assert!(check_port("10.0.0.1:5432").is_ok());
    }
}
