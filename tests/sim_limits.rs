//! The simulator as a test double that stays one: it warns when other machines can reach it,
//! refuses an admin token short enough to guess, and keeps a bounded request log (issue 12).

use std::time::Duration;

use crate::sim::{Sim, TOKEN, run, wait_until};
use crate::support::Test;

#[test]
fn a_short_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["sim", "healthy", "--token", "hunter2-short"],
        Duration::from_secs(20),
    );
    out.code(2);
    assert!(
        out.stderr.contains(
            "error: the simulator's admin token (--token or SIM_ADMIN_TOKEN) must be at least 16 characters; this one has 13"
        ),
        "{}",
        out.context()
    );
    assert!(!out.stderr.contains("hunter2"), "{}", out.context());
    // Nothing was served: no vars were printed.
    assert!(out.stdout.is_empty(), "{}", out.context());
}

#[test]
fn a_non_loopback_address_is_warned_about() {
    let sim = Sim::start_on(Some("healthy"), Some(TOKEN), "0.0.0.0:0");
    wait_until("the warning", Duration::from_secs(10), || {
        sim.stderr().contains("which is not a loopback address")
    });
    let port = sim.base.rsplit_once(':').unwrap().1.to_string();
    assert!(
        sim.stderr().contains(&format!(
            "warning: the simulator listens on 0.0.0.0:{port}, which is not a loopback address"
        )),
        "{}",
        sim.stderr()
    );
    // Loopback gets no warning.
    let quiet = Sim::start(Some("healthy"));
    wait_until("the token on stderr", Duration::from_secs(10), || {
        quiet.stderr().contains("export SIM_ADMIN_TOKEN=")
    });
    assert!(!quiet.stderr().contains("warning"), "{}", quiet.stderr());
}

/// A flood of requests leaves the last 10,000 in the log, with the count of them all.
#[test]
fn the_request_log_keeps_the_last_ten_thousand() {
    let sim = Sim::start(Some("healthy"));
    let site = sim.vars["reference_sites"][0].as_str().unwrap().to_string();
    let samples = 10_500;
    Test::new()
        .runbook(&format!(
            r#"
            name: flood
            title: A flood
            steps:
              - id: flood
                title: Many requests
                http: {{url: "{site}", samples: {samples}, concurrency: 16, timeout: 25s}}
                expect: count == {samples}
            "#
        ))
        .args(["run"])
        .run()
        .status(0);
    sim.get("/sites/video/last");
    let body = sim.get_admin("/admin/requests").json();
    let requests = body["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 10_000);
    assert_eq!(body["kept"], 10_000);
    // The flood, the last request, and this one.
    assert_eq!(body["total"], samples + 2, "{}", body["total"]);
    assert_eq!(requests[9_998]["path"], "/sites/video/last");
    assert_eq!(requests[9_999]["path"], "/admin/requests");
}
