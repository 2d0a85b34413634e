//! The shipped `runbooks/haproxy-502.yaml` against a real HAProxy whose backend servers point at
//! ports where nothing listens, with health checks marking them DOWN: the run must see the
//! failures, find the stale servers in `show servers state`, move the ones the inventory knows
//! with `set server ... addr` over the runtime API, and verify.

use std::path::Path;

use crate::support::{Output, Server};

use super::proxies::{self, HaProxy, answered_status, dead_port, run_shipped};

/// HAProxy with three servers in `backend app`, all at dead ports: web1 and web2 are in the
/// inventory the test gives the runbook, web3 is not. Waits until health checks marked all
/// three DOWN, so the frontend answers 503.
fn stale_haproxy(dir: &Path) -> (HaProxy, [u16; 3]) {
    let dead = [dead_port(), dead_port(), dead_port()];
    let backend = (1..=3)
        .map(|n| {
            format!(
                "  server web{n} 127.0.0.1:{} check inter 200ms",
                dead[n - 1]
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut haproxy = HaProxy::start(dir, &backend);
    let socket = haproxy.socket.clone();
    let probe = HaProxy::reader(&socket);
    haproxy.daemon.wait_until("every server marked DOWN", || {
        let servers = probe();
        servers.len() == 3 && servers.iter().all(|s| s.3 == "0")
    });
    assert_eq!(answered_status(&format!("{}/", haproxy.url)), Some(503));
    (haproxy, dead)
}

fn run_runbook(haproxy: &HaProxy, web1: &Server, web2: &Server, extra: &[&str]) -> Output {
    let vars = [
        ("frontend_url", format!("{}/status/200", haproxy.url)),
        ("admin_socket", haproxy.socket.display().to_string()),
        ("backend", "app".to_string()),
        (
            "servers",
            format!(
                "{{web1: {{addr: 127.0.0.1, port: {}}}, web2: {{addr: 127.0.0.1, port: {}}}}}",
                web1.port(),
                web2.port()
            ),
        ),
    ];
    run_shipped("haproxy-502", "staging", &vars, extra)
}

fn server<'a>(servers: &'a [proxies::Server], name: &str) -> &'a proxies::Server {
    servers
        .iter()
        .find(|s| s.0 == name)
        .unwrap_or_else(|| panic!("no server {name} in {servers:?}"))
}

#[test]
fn haproxy_502_runbook_moves_the_stale_servers_over_the_runtime_api_and_verifies() {
    let (web1, web2) = (Server::start(), Server::start());
    let dir = tempfile::tempdir().unwrap();
    let (haproxy, dead) = stale_haproxy(dir.path());
    let pid = haproxy.daemon.pid();

    let out = run_runbook(&haproxy, &web1, &web2, &["--yes"]).run_outcome("completed", 0);

    // What users saw: HAProxy's 503, every sample, before the fix.
    let sample = out.outcome("sample_frontend", "failed");
    assert_eq!(sample["rate_error"], 1.0, "{sample}");
    assert_eq!(sample["status_counts"]["503"], 50, "{sample}");
    // The runtime API's view: three servers DOWN at the dead ports.
    let state = out.outcome("servers_state", "passed");
    let stdout = state["stdout"].as_str().unwrap();
    for (n, port) in dead.iter().enumerate() {
        assert!(
            stdout.contains(&format!("app {} web{} 127.0.0.1 0 0 ", n + 1, n + 1))
                && stdout.contains(&format!(" {port} ")),
            "web{} DOWN at {port}:\n{stdout}",
            n + 1
        );
    }
    // Each current address refused the connection: all three are stale.
    let probe = out.outcome("probe_current", "passed");
    assert_eq!(probe["passed_count"], 3, "{probe}");
    for item in probe["items"].as_array().unwrap() {
        assert_eq!(item["connected"], false, "{item}");
    }
    out.outcome("stale_found", "passed");
    // Only the inventory's servers are probed and moved; web3 is reported to the human.
    let inventory = out.outcome("probe_inventory", "passed");
    assert_eq!(
        inventory["items"].as_array().unwrap().len(),
        2,
        "{inventory}"
    );
    out.outcome("unknown_servers", "passed");
    let set = out.outcome("set_addr", "passed");
    let moved: Vec<&str> = set["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item"].as_str().unwrap())
        .collect();
    assert_eq!(moved, ["web1", "web2"], "{set}");
    assert!(
        set["items"][0]["stdout"]
            .as_str()
            .unwrap()
            .contains(&format!(
                "port changed from '{}' to '{}' by 'stats socket command'",
                dead[0],
                web1.port()
            )),
        "{set}"
    );
    out.outcome("verify_servers", "passed");
    let verify = out.outcome("verify_frontend", "passed");
    assert_eq!(verify["rate_error"], 0.0, "{verify}");
    assert_eq!(verify["status_counts"]["200"], 50, "{verify}");
    out.outcome("persist", "passed");

    // Independently of the run: the runtime API, read by the test, has the new addresses, the
    // moved servers are UP, web3 was left alone, and the same HAProxy process answers 200 from
    // both backends.
    let servers = haproxy.servers();
    for (name, backend) in [("web1", &web1), ("web2", &web2)] {
        let s = server(&servers, name);
        assert_eq!(
            (s.1.as_str(), s.2.as_str(), s.3.as_str()),
            ("127.0.0.1", backend.port().to_string().as_str(), "2"),
            "{servers:?}"
        );
    }
    let web3 = server(&servers, "web3");
    assert_eq!(
        (web3.2.as_str(), web3.3.as_str()),
        (dead[2].to_string().as_str(), "0")
    );
    assert_eq!(haproxy.daemon.pid(), pid);
    assert_eq!(
        answered_status(&format!("{}/status/200", haproxy.url)),
        Some(200)
    );
    assert!(web1.count("/status/200") > 0 && web2.count("/status/200") > 0);
}

#[test]
fn haproxy_502_runbook_without_yes_diagnoses_and_stops_before_changing_anything() {
    let (web1, web2) = (Server::start(), Server::start());
    let dir = tempfile::tempdir().unwrap();
    let (haproxy, dead) = stale_haproxy(dir.path());

    let out = run_runbook(&haproxy, &web1, &web2, &[]).run_outcome("blocked", 4);

    assert_eq!(out.outcome("sample_frontend", "failed")["rate_error"], 1.0);
    assert_eq!(out.outcome("probe_current", "passed")["passed_count"], 3);
    out.outcome("probe_inventory", "passed");
    out.outcome("set_addr", "blocked");
    out.not_started("verify_servers");
    out.not_started("verify_frontend");
    let servers = haproxy.servers();
    for (n, port) in dead.iter().enumerate() {
        let s = server(&servers, &format!("web{}", n + 1));
        assert_eq!(
            (s.2.as_str(), s.3.as_str()),
            (port.to_string().as_str(), "0")
        );
    }
    assert_eq!(answered_status(&format!("{}/", haproxy.url)), Some(503));
    assert_eq!(web1.requests().len() + web2.requests().len(), 0);
}

#[test]
fn haproxy_502_runbook_stops_when_the_frontend_fails_but_no_server_is_stale() {
    // The backend's only server is at a live address that answers 500: HAProxy passes the
    // errors on; no server is DOWN, so this is not the runbook's fault and nothing is changed.
    let (web1, web2) = (Server::start(), Server::start());
    let dir = tempfile::tempdir().unwrap();
    let haproxy = HaProxy::start(
        dir.path(),
        &format!("  server web1 127.0.0.1:{} check inter 200ms", web1.port()),
    );

    let out = run_runbook(
        &haproxy,
        &web1,
        &web2,
        &[
            "--yes",
            "--var",
            &format!("frontend_url={}/status/500", haproxy.url),
        ],
    )
    .run_outcome("failed", 1);

    assert_eq!(
        out.outcome("sample_frontend", "failed")["status_counts"]["500"],
        50
    );
    assert_eq!(
        out.outcome("probe_current", "passed")["items"],
        serde_json::json!([])
    );
    let stale = out.finished("stale_found");
    assert_eq!(stale["outcome"], "failed", "{stale}");
    assert!(
        stale["failures"][0]
            .as_str()
            .unwrap()
            .contains("steps.probe_current.passed_count > 0"),
        "{stale}"
    );
    out.not_started("set_addr");
    let s = haproxy.servers();
    assert_eq!(server(&s, "web1").2, web1.port().to_string());
}

#[test]
fn haproxy_502_runbook_dry_run_diagnoses_and_changes_nothing() {
    let (web1, web2) = (Server::start(), Server::start());
    let dir = tempfile::tempdir().unwrap();
    let (haproxy, dead) = stale_haproxy(dir.path());

    let out = run_runbook(&haproxy, &web1, &web2, &["--dry-run"]).run_outcome("completed", 0);

    assert_eq!(out.outcome("probe_current", "passed")["passed_count"], 3);
    out.outcome("set_addr", "dry_run");
    for step in ["verify_servers", "verify_frontend", "persist"] {
        out.outcome(step, "skipped");
    }
    let servers = haproxy.servers();
    assert_eq!(server(&servers, "web1").2, dead[0].to_string());
    assert_eq!(answered_status(&format!("{}/", haproxy.url)), Some(503));
}
