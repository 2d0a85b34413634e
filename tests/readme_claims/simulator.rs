//! README section "The simulator and drills".

use std::collections::BTreeSet;

use serde_json::{Value as Json, json};

use super::{keys, set};
use crate::sim::Sim;
use crate::support::*;

// ------------------------------------------------------------------ The simulator and drills

/// "Metrics: `node_cpu_utilization{group, instance}`, `node_http_5xx_ratio{group, instance}`,
/// `up{group, job="node"}` (1, or 0 while the group's exporter is down), `lb_http_5xx_ratio{lb}`,
/// `lb_requests_total{lb}`."
#[test]
fn the_simulator_serves_the_metrics_the_readme_names() {
    let sim = Sim::start(Some("classlink-2020"));
    let labels = |query: &str| -> BTreeSet<String> {
        sim.vector(query)
            .iter()
            .map(|s| {
                let mut metric: std::collections::BTreeMap<String, Json> = s["metric"]
                    .as_object()
                    .unwrap()
                    .clone()
                    .into_iter()
                    .collect();
                metric.remove("__name__");
                serde_json::to_string(&metric).unwrap()
            })
            .collect()
    };
    let lbs = set(&[r#"{"lb":"api"}"#, r#"{"lb":"launchpad"}"#]);
    assert_eq!(labels("lb_requests_total"), lbs);
    assert_eq!(labels("lb_http_5xx_ratio"), lbs);
    assert_eq!(
        labels("up"),
        set(&[
            r#"{"group":"api","job":"node"}"#,
            r#"{"group":"frontend","job":"node"}"#
        ])
    );
    for series in sim.vector("up") {
        assert_eq!(series["value"][1], "1", "{series}");
    }
    for query in ["node_cpu_utilization", "node_http_5xx_ratio"] {
        let series = sim.vector(query);
        assert_eq!(series.len(), 8, "{query}: {series:?}");
        for s in &series {
            let metric = &s["metric"];
            assert!(
                metric["group"].is_string() && metric["instance"].is_string(),
                "{query}: {s}"
            );
        }
    }
}

/// "`GET /admin/requests` [...] `{"requests": [{at_ms, method, path}, ...], "total": N,
/// "kept": 10000}`", oldest first.
#[test]
fn the_request_log_has_the_shape_the_readme_shows() {
    let sim = Sim::start(Some("healthy"));
    sim.get("/lb/api/first");
    sim.get("/lb/api/second");
    let body = sim.get_admin("/admin/requests").json();
    assert_eq!(keys(&body), set(&["requests", "total", "kept"]));
    assert_eq!(body["kept"], 10_000);
    let requests = body["requests"].as_array().unwrap();
    assert_eq!(body["total"], requests.len());
    for r in requests {
        assert_eq!(keys(r), set(&["at_ms", "method", "path"]), "{r}");
    }
    let paths: Vec<&str> = requests
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    let first = paths.iter().position(|p| *p == "/lb/api/first").unwrap();
    let second = paths.iter().position(|p| *p == "/lb/api/second").unwrap();
    assert!(first < second, "{paths:?}");
    assert!(
        requests[first]["at_ms"].as_u64().unwrap() <= requests[second]["at_ms"].as_u64().unwrap()
    );
}

/// The table "Vars a drill hands a runbook" and "And the secret `SIM_ADMIN_TOKEN`"; and
/// "`lb_5xx_below` [...] the verdict says which (`api 30% (30% closed unanswered)`)"; "Exit 0
/// when every verdict passes, 1 otherwise".
#[test]
fn a_drill_hands_over_every_var_of_the_table_and_names_closed_requests() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("vars.yaml"),
        unindent(
            r#"
            name: drill-vars
            title: Drill vars
            vars:
              launchpad_lb: ~
              api_lb: ~
              lbs: ~
              prometheus: ~
              status_page: ~
              status_pages: ~
              reference_sites: ~
              admin: ~
              node_groups: ~
            secrets: [SIM_ADMIN_TOKEN]
            steps:
              - id: look
                title: Look
                wait: 1ms
                expect:
                  - secrets.SIM_ADMIN_TOKEN | length >= 16
                  - vars.lbs.api == vars.api_lb
            "#,
        ),
    )
    .unwrap();
    let out = crate::sim::run(
        dir.path(),
        &[
            "drill",
            "vars.yaml",
            "--scenario",
            "conn-close",
            "--timeline-dir",
            "drills",
        ],
        std::time::Duration::from_secs(60),
    );
    out.code(1);
    assert_eq!(
        out.line(&["all LBs serve < 1% 502"]),
        "  FAIL  all LBs serve < 1% 502 (found: api 30% (30% closed unanswered), launchpad 30% \
         (30% closed unanswered))"
    );
    out.line(&["PASSED", "look"]);
    let timeline = std::fs::read_dir(dir.path().join("drills"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .expect("the drill wrote a timeline");
    let events = parse_timeline(&std::fs::read_to_string(timeline).unwrap());
    let vars = &events[0]["vars"];
    let admin = vars["admin"].as_str().unwrap();
    let base = admin
        .strip_suffix("/admin")
        .expect("admin ends with /admin");
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let url = |path: &str| json!(format!("{base}{path}"));
    assert_eq!(vars["launchpad_lb"], url("/lb/launchpad"));
    assert_eq!(vars["api_lb"], url("/lb/api"));
    assert_eq!(
        vars["lbs"],
        json!({"launchpad": url("/lb/launchpad"), "api": url("/lb/api")})
    );
    assert_eq!(vars["prometheus"], url("/prometheus"));
    assert_eq!(vars["status_page"], url("/status/aws"));
    assert_eq!(vars["status_pages"], json!({"aws": url("/status/aws")}));
    let sites = vars["reference_sites"].as_array().unwrap();
    assert!(!sites.is_empty());
    for site in sites {
        assert!(
            site.as_str()
                .unwrap()
                .starts_with(&format!("{base}/sites/")),
            "{site}"
        );
    }
    let groups: BTreeSet<&str> = vars["node_groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    assert_eq!(groups, BTreeSet::from(["api", "frontend"]));
    assert_eq!(keys(vars).len(), 9, "{vars}");
}

/// The success criteria "`scaled: GROUP`" and "`reprovisioned: GROUP`" fail a runbook that did
/// not act (the shipped runbook passing every scenario only shows that they pass).
#[test]
fn scaled_and_reprovisioned_fail_a_runbook_that_does_not_act() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("nothing.yaml"),
        "name: nothing\ntitle: Looks at nothing\nsteps:\n  - {id: look, title: Look, wait: 1ms}\n",
    )
    .unwrap();
    for (scenario, line) in [
        (
            "cpu-saturation",
            "  FAIL  node group api was scaled out (found: none)",
        ),
        (
            "bad-nodes",
            "  FAIL  node group frontend was reprovisioned (found: none)",
        ),
    ] {
        let out = crate::sim::run(
            dir.path(),
            &[
                "drill",
                "nothing.yaml",
                "--scenario",
                scenario,
                "--timeline-dir",
                "drills",
            ],
            std::time::Duration::from_secs(60),
        );
        out.code(1);
        assert!(out.stdout.lines().any(|l| l == line), "{}", out.context());
        out.line(&["drill FAILED:", scenario]);
    }
}

/// "Each drill writes its timeline (default directory `timelines/`)."
#[test]
fn a_drill_writes_its_timeline_under_timelines_by_default() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("nothing.yaml"),
        "name: nothing\ntitle: Looks at nothing\nsteps:\n  - {id: look, title: Look, wait: 1ms}\n",
    )
    .unwrap();
    let out = crate::sim::run(
        dir.path(),
        &["drill", "nothing.yaml", "--scenario", "healthy"],
        std::time::Duration::from_secs(60),
    );
    out.code(0);
    let files: Vec<String> = std::fs::read_dir(dir.path().join("timelines"))
        .expect("timelines/ was created")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        files[0].starts_with("nothing-healthy-") && files[0].ends_with(".jsonl"),
        "{files:?}"
    );
    assert_eq!(
        out.line(&["timeline:"]),
        format!("  timeline: timelines/{}", files[0])
    );
}

/// "`runbook sim [SCENARIO]` serves a simulated production environment on `127.0.0.1` (one
/// port; `--listen ADDR`, default an ephemeral port)".
#[test]
fn the_simulator_listens_on_an_ephemeral_loopback_port_by_default() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let vars_path = dir.path().join("vars.yaml");
    let child = crate::sim::command(dir.path())
        .args(["sim", "healthy", "--token", crate::sim::TOKEN, "--vars-out"])
        .arg(&vars_path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("runbook sim starts");
    let _sim = crate::sim::Guard(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    let admin = loop {
        if let Ok(text) = std::fs::read_to_string(&vars_path)
            && let Some(line) = text.lines().find(|l| l.starts_with("admin: "))
        {
            break line["admin: ".len()..].trim_matches('"').to_string();
        }
        assert!(Instant::now() < deadline, "no vars file in 20 s");
        std::thread::sleep(Duration::from_millis(20));
    };
    let base = admin
        .strip_suffix("/admin")
        .expect("admin ends with /admin");
    let port: u16 = base
        .strip_prefix("http://127.0.0.1:")
        .unwrap_or_else(|| panic!("not on 127.0.0.1: {base}"))
        .parse()
        .unwrap();
    assert!(port >= 1024, "{port} is not an ephemeral port");
    let response = crate::sim::request(
        "GET",
        &format!("{base}/lb/api/"),
        &[],
        None,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(response.status, 200);
}
