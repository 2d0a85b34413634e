//! The shipped `runbooks/nginx-502.yaml` against a real nginx whose upstream list is stale (it
//! points at a port where nothing listens) in front of a real healthy backend: the run must see
//! the 502s and nginx's `connect() failed`, rewrite the upstream file, reload nginx and verify.

use std::path::Path;

use serde_json::Value as Json;

use crate::support::{Output, Server};

use super::proxies::{Proxy, answered_status, dead_port, run_shipped, settles_on_200};

/// A run of the shipped runbook with the staging vars file, every environment-specific var
/// overridden with `--var` to point at the test's proxy and backend.
fn run_runbook(proxy: &Proxy, backend: &Server, extra: &[&str]) -> Output {
    let vars = [
        ("proxy_url", format!("{}/status/200", proxy.url)),
        ("backends", format!("['127.0.0.1:{}']", backend.port())),
        ("health_path", "/status/200".into()),
        ("upstream_conf", proxy.upstream_conf().display().to_string()),
        ("nginx_conf", proxy.nginx_conf().display().to_string()),
        ("nginx_prefix", format!("{}/", proxy.dir.display())),
        ("error_log", proxy.error_log().display().to_string()),
    ];
    run_shipped("nginx-502", "staging", &vars, extra)
}

/// A stale proxy: the upstream lists only a port where nothing listens.
fn stale_proxy(dir: &Path) -> (Proxy, String) {
    let stale = format!("127.0.0.1:{}", dead_port());
    let proxy = Proxy::start(dir, std::slice::from_ref(&stale));
    assert_eq!(
        answered_status(&format!("{}/status/200", proxy.url)),
        Some(502),
        "the stale proxy answers 502 before the run"
    );
    (proxy, stale)
}

#[test]
fn nginx_502_runbook_rewrites_the_stale_upstream_reloads_and_verifies() {
    let backend = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let (proxy, stale) = stale_proxy(dir.path());
    let master = proxy.daemon.pid();

    let out = run_runbook(&proxy, &backend, &["--yes"]).run_outcome("completed", 0);

    // What users saw, measured before the fix: every sample failed with nginx's 502.
    let sample = out.outcome("sample_proxy", "failed");
    assert_eq!(sample["count"], 50);
    assert_eq!(sample["rate_error"], 1.0, "{sample}");
    assert_eq!(sample["status_counts"]["502"], 50, "{sample}");
    out.outcome("confirm_outage", "passed");
    // The backend itself answered, asked directly.
    let backends = out.outcome("check_backends", "passed");
    assert_eq!(backends["passed_count"], 1, "{backends}");
    assert_eq!(
        backends["items"][0]["status_counts"]["200"], 5,
        "{backends}"
    );
    // nginx's own error log says why: it cannot connect to the stale address.
    let log = out.outcome("read_error_log", "passed");
    let log_text = log["stdout"].as_str().unwrap();
    assert!(
        log_text
            .contains("connect() failed (111: Connection refused) while connecting to upstream")
            && log_text.contains(&format!("upstream: \"http://{stale}/status/200\"")),
        "{log_text}"
    );
    let shown = out.outcome("show_upstream", "passed");
    assert!(
        shown["stdout"].as_str().unwrap().contains(&stale),
        "{shown}"
    );

    // The fix: the file on disk, nginx -t, the reload of the running master.
    let good = format!("server 127.0.0.1:{};", backend.port());
    let written = std::fs::read_to_string(proxy.upstream_conf()).unwrap();
    assert!(
        written.contains("upstream app {") && written.contains(&good) && !written.contains(&stale),
        "{written}"
    );
    let backup = proxy.upstream_conf().with_extension("conf.runbook-bak");
    assert!(
        std::fs::read_to_string(&backup).unwrap().contains(&stale),
        "the stale file is kept as {}",
        backup.display()
    );
    let test = out.outcome("nginx_test", "passed");
    assert!(
        test["stderr"]
            .as_str()
            .unwrap()
            .contains("test is successful"),
        "{test}"
    );
    out.outcome("reload", "passed");
    let events = out.timeline();
    let milestones: Vec<&Json> = events
        .iter()
        .filter(|e| e["event"] == "milestone")
        .map(|e| &e["milestone"])
        .collect();
    assert_eq!(
        milestones,
        ["detected", "mitigated", "resolved"],
        "{events:#?}"
    );
    let verify = out.outcome("verify", "passed");
    assert_eq!(verify["rate_error"], 0.0, "{verify}");
    assert_eq!(verify["status_counts"]["200"], 50, "{verify}");
    for step in ["roll_back", "rolled_back"] {
        out.outcome(step, "skipped");
    }

    // Independently of the run: the same master (reloaded, not restarted) now serves 200 from
    // the backend, and nginx logged the reload.
    assert_eq!(proxy.daemon.pid(), master);
    assert!(settles_on_200(&format!("{}/status/200", proxy.url)));
    assert!(backend.count("/status/200") > 5 + 50);
    let error_log = std::fs::read_to_string(proxy.error_log()).unwrap();
    assert!(
        error_log.contains("signal 1 (SIGHUP) received") && error_log.contains("reconfiguring"),
        "nginx never logged the reload:\n{error_log}"
    );
}

#[test]
fn nginx_502_runbook_without_yes_diagnoses_and_stops_before_changing_anything() {
    let backend = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let (proxy, stale) = stale_proxy(dir.path());
    let before = std::fs::read_to_string(proxy.upstream_conf()).unwrap();

    let out = run_runbook(&proxy, &backend, &[]).run_outcome("blocked", 4);

    // The checks ran and saw the outage...
    assert_eq!(out.outcome("sample_proxy", "failed")["rate_error"], 1.0);
    out.outcome("check_backends", "passed");
    out.outcome("read_error_log", "passed");
    // ...and the first change was blocked: nothing written, tested or reloaded.
    out.outcome("write_upstream", "blocked");
    for step in ["nginx_test", "reload", "verify"] {
        out.not_started(step);
    }
    assert_eq!(
        std::fs::read_to_string(proxy.upstream_conf()).unwrap(),
        before
    );
    assert!(
        !proxy
            .upstream_conf()
            .with_extension("conf.runbook-bak")
            .exists()
    );
    assert!(before.contains(&stale));
    assert_eq!(
        answered_status(&format!("{}/status/200", proxy.url)),
        Some(502),
        "the proxy was left as it was"
    );
}

#[test]
fn nginx_502_runbook_puts_the_old_file_back_when_nginx_t_rejects_the_new_one() {
    let backend = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let (proxy, _stale) = stale_proxy(dir.path());
    let before = std::fs::read_to_string(proxy.upstream_conf()).unwrap();

    // A backend nginx cannot parse as an address: nginx -t fails on the new file.
    let out = run_runbook(
        &proxy,
        &backend,
        &["--yes", "--var", "upstream_name=app app"],
    )
    .run_outcome("failed", 1);

    let test = out.outcome("nginx_test", "failed");
    assert!(
        test["stderr"].as_str().unwrap().contains("test failed"),
        "{test}"
    );
    out.not_started("reload");
    out.not_started("verify");
    out.outcome("roll_back", "passed");
    out.outcome("rolled_back", "failed");
    assert_eq!(
        std::fs::read_to_string(proxy.upstream_conf()).unwrap(),
        before,
        "the previous upstream file is back"
    );
    // The running nginx never saw the bad file.
    assert_eq!(
        answered_status(&format!("{}/nginx-ready", proxy.url)),
        Some(200)
    );
}

#[test]
fn nginx_502_runbook_dry_run_diagnoses_tests_and_changes_nothing() {
    let backend = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let (proxy, _stale) = stale_proxy(dir.path());
    let before = std::fs::read_to_string(proxy.upstream_conf()).unwrap();

    let out = run_runbook(&proxy, &backend, &["--dry-run"]).run_outcome("completed", 0);

    out.outcome("read_error_log", "passed");
    for step in ["write_upstream", "reload"] {
        out.outcome(step, "dry_run");
    }
    // nginx -t changes nothing, so it runs; it tests the configuration as it is.
    out.outcome("nginx_test", "passed");
    out.outcome("verify", "skipped");
    assert_eq!(
        std::fs::read_to_string(proxy.upstream_conf()).unwrap(),
        before
    );
    assert_eq!(
        answered_status(&format!("{}/status/200", proxy.url)),
        Some(502)
    );
}
