//! The `statuspage` executor against real Statuspage v2 documents (`tests/fixtures/statuspage/`,
//! sources in its README), served from a local server and read by the real binary: grouped
//! components keep their group, maintenances are listed, a private page gets its headers.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value as Json, json};

use crate::support::*;

/// Serves `tests/fixtures/statuspage/<name>.json` at `/<name>/api/v2/summary.json`, and, with
/// a token, only to requests with `Authorization: OAuth <token>` (401 otherwise), as a private
/// page answers. Every `Authorization` header received is kept.
struct Pages {
    url: String,
    authorizations: Arc<Mutex<Vec<Option<String>>>>,
    _served: Served,
}

#[derive(Clone)]
struct PagesState {
    token: Option<String>,
    authorizations: Arc<Mutex<Vec<Option<String>>>>,
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/statuspage")
}

async fn summary(
    State(state): State<PagesState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let authorization = headers
        .get("authorization")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    state
        .authorizations
        .lock()
        .unwrap()
        .push(authorization.clone());
    if let Some(token) = &state.token
        && authorization.as_deref() != Some(&format!("OAuth {token}"))
    {
        return (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
    }
    let safe = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    match std::fs::read(fixtures().join(format!("{name}.json"))) {
        Ok(body) if safe => (
            StatusCode::OK,
            [("content-type", "application/json; charset=utf-8")],
            body,
        )
            .into_response(),
        _ => (StatusCode::NOT_FOUND, "no such page").into_response(),
    }
}

impl Pages {
    fn start(token: Option<&str>) -> Pages {
        let authorizations = Arc::new(Mutex::new(Vec::new()));
        let state = PagesState {
            token: token.map(str::to_string),
            authorizations: Arc::clone(&authorizations),
        };
        let served = Served::start(
            Router::new()
                .route("/{name}/api/v2/summary.json", get(summary))
                .with_state(state),
        );
        Pages {
            url: served.url(),
            authorizations,
            _served: served,
        }
    }

    fn authorizations(&self) -> Vec<Option<String>> {
        self.authorizations.lock().unwrap().clone()
    }
}

#[test]
fn the_same_component_name_in_two_groups_stays_two_components() {
    let pages = Pages::start(None);
    let out = Test::new()
        .runbook(&format!(
            r#"
            name: provider-regions
            title: Is the provider's load balancing down where we run?
            steps:
              - id: provider
                title: Provider status page
                statuspage: "{url}/regions-elb-outage"
                expect:
                  - components['us-east-1 / Elastic Load Balancing'] == 'major_outage'
                  - components['us-west-2 / Elastic Load Balancing'] == 'operational'
                  - components['us-east-1'] == 'major_outage'
                  - components['Route 53'] == 'operational'
                  - "'Elastic Load Balancing' not in components"
              - id: healthy
                title: Our region's load balancing is fine
                statuspage: "{url}/regions-elb-outage"
                expect: components['us-east-1 / Elastic Load Balancing'] == 'operational'
                on_fail: continue
              - id: later
                title: A later step reads the fields
                statuspage: "{url}/regions-elb-outage"
                expect: steps.provider.maintenances | length == 0 and steps.provider.components['us-west-2'] == 'operational'
            "#,
            url = pages.url
        ))
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
    let data = out.outcome("provider", "passed");
    assert_eq!(
        data["components"],
        json!({
            "us-east-1 / Elastic Load Balancing": "major_outage",
            "us-west-2 / Elastic Load Balancing": "operational",
            "us-east-1": "major_outage",
            "us-east-1 / EC2": "operational",
            "us-west-2 / EC2": "operational",
            "us-west-2": "operational",
            "us-east-1 / CloudWatch": "degraded_performance",
            "Route 53": "operational",
        })
    );
    // The page's order, groups listed once, where the page lists them.
    let keys: Vec<&str> = data["components"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys[..3],
        [
            "us-east-1 / Elastic Load Balancing",
            "us-west-2 / Elastic Load Balancing",
            "us-east-1"
        ]
    );
    assert_eq!(data["indicator"], "major");
    assert_eq!(
        out.finished("provider")["summary"],
        "major: Partial System Outage; 1 incident (Elevated 502 errors from Elastic Load Balancing in us-east-1)"
    );
    out.outcome("later", "passed");
    let healthy = out.finished("healthy");
    assert_eq!(healthy["outcome"], "failed");
    // The failure shows the entry the expression read, not the whole map cut short.
    assert_eq!(
        healthy["failures"],
        json!([
            "expected components['us-east-1 / Elastic Load Balancing'] == 'operational', \
             got components['us-east-1 / Elastic Load Balancing'] = \"major_outage\""
        ])
    );
}

#[test]
fn a_component_named_like_its_group_keeps_its_own_status() {
    let pages = Pages::start(None);
    let out = Test::new()
        .runbook(&format!(
            r#"
            name: hashicorp
            title: HashiCorp's page, before and during a registry outage
            steps:
              - id: before
                title: As captured
                statuspage: "{url}/hashicorp-2021-08"
              - id: outage
                title: The registry component down
                statuspage: "{url}/hashicorp-2021-08-registry-outage"
                expect:
                  - components['Terraform Registry / Terraform Registry'] == 'major_outage'
                  - components['Terraform Registry'] == 'degraded_performance'
                  - components['HashiCorp Cloud Platform (HCP) / Vault'] == 'degraded_performance'
                  - indicator == 'major'
            "#,
            url = pages.url
        ))
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
    let before = out.outcome("before", "passed");
    let components = before["components"].as_object().unwrap();
    // 54 components, 7 of them groups: every one has a key of its own.
    assert_eq!(components.len(), 54, "{before}");
    assert_eq!(
        components["Terraform Registry / Terraform Registry"],
        "degraded_performance"
    );
    assert_eq!(components["Terraform Cloud"], "under_maintenance");
    assert_eq!(
        components["Terraform Cloud / Atlassian Bitbucket API"],
        "under_maintenance"
    );
    assert_eq!(components["Vagrant Cloud"], "degraded_performance");
    // No `status` in this document: the indicator is derived from the components, not groups.
    assert_eq!(before["indicator"], "minor");
    assert_eq!(before["page"], "HashiCorp Services");
    assert_eq!(before["maintenances"], json!([]));

    let outage = out.outcome("outage", "passed");
    assert_eq!(
        outage["description"],
        "Major outage: Terraform Registry / Terraform Registry"
    );
}

#[test]
fn a_real_page_without_groups_reads_as_before() {
    let pages = Pages::start(None);
    let out = Test::new()
        .runbook(&format!(
            r#"
            name: github
            title: GitHub during the Packages incident of 2022-11-25
            steps:
              - id: github
                title: GitHub status
                statuspage: {{url: "{url}/github-2022-11-25/", timeout: 5s}}
                expect:
                  - indicator == 'minor'
                  - components['Packages'] == 'partial_outage'
                  - components['Git Operations'] == 'operational'
            "#,
            url = pages.url
        ))
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
    let data = out.outcome("github", "passed");
    assert_eq!(data["description"], "Minor Service Outage");
    assert_eq!(data["page"], "GitHub");
    assert_eq!(data["components"].as_object().unwrap().len(), 11);
    assert_eq!(
        data["incidents"],
        json!([{"name": "Incident with Packages and Pages", "status": "investigating", "impact": "major"}])
    );
    assert_eq!(data["maintenances"], json!([]));
    assert_eq!(data["error"], Json::Null);
    assert_eq!(
        out.finished("github")["summary"],
        "minor: Minor Service Outage; 1 incident (Incident with Packages and Pages)"
    );
    assert_eq!(pages.authorizations(), vec![None]);
}

#[test]
fn maintenances_in_progress_and_upcoming_are_listed_and_reported() {
    let pages = Pages::start(None);
    let out = Test::new()
        .runbook(&format!(
            r#"
            name: meta
            title: Statuspage's own page during a maintenance
            steps:
              - id: meta
                title: Is a maintenance under way?
                statuspage: "{url}/metastatuspage-2014-05-14"
                expect:
                  - maintenances | selectattr('status', 'equalto', 'in_progress') | list | length == 1
                  - maintenances[0].status == 'scheduled'
            "#,
            url = pages.url
        ))
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
    let data = out.outcome("meta", "passed");
    assert_eq!(
        data["maintenances"],
        json!([
            {
                "name": "Network Maintenance (No Interruption Expected)",
                "status": "scheduled",
                "scheduled_for": "2014-05-17T22:00:00.000-06:00",
                "scheduled_until": "2014-05-17T23:30:00.000-06:00",
            },
            {
                "name": "Web Tier Recycle",
                "status": "in_progress",
                "scheduled_for": "2014-05-14T14:30:00.000-06:00",
                "scheduled_until": "2014-05-14T16:30:00.000-06:00",
            },
        ])
    );
    // The resolved incident of the two is not an open one.
    assert_eq!(
        data["incidents"],
        json!([{"name": "Unplanned Database Outage", "status": "identified", "impact": "critical"}])
    );
    let summary = "critical: Major System Outage; 1 incident (Unplanned Database Outage); \
                   1 maintenance in progress (Web Tier Recycle); 1 maintenance scheduled \
                   (Network Maintenance (No Interruption Expected))";
    assert_eq!(out.finished("meta")["summary"], summary);
    assert!(out.stdout.contains(summary), "{}", out.stdout);
    for format in ["text", "markdown", "html", "junit"] {
        let text = report(&out.path(TIMELINE), format);
        assert!(
            text.contains("1 maintenance in progress (Web Tier Recycle)"),
            "{format}: {text}"
        );
    }
}

#[test]
fn a_private_page_gets_its_headers_and_the_token_stays_secret() {
    const TOKEN: &str = "sp-0Auth-t0ken-9f2c";
    let pages = Pages::start(Some(TOKEN));
    let runbook = format!(
        r#"
        name: private-page
        title: A private status page
        secrets: [RB_PAGE_TOKEN]
        vars: {{extra: ok}}
        steps:
          - id: page
            title: Private page, with its token
            statuspage:
              url: "{url}/github-2022-11-25"
              headers:
                Authorization: "OAuth {{{{ secrets.RB_PAGE_TOKEN }}}}"
                X-Extra: "{{{{ vars.extra }}}}"
            expect: components['Packages'] == 'partial_outage'
          - id: bare
            title: The same page without it
            statuspage: "{url}/github-2022-11-25"
        "#,
        url = pages.url
    );
    let out = Test::new()
        .runbook(&runbook)
        .env("RB_PAGE_TOKEN", TOKEN)
        .args(["run"])
        .run()
        .run_outcome("failed", 1)
        .no_secret_anywhere(TOKEN);
    out.outcome("page", "passed");
    let bare = out.finished("bare");
    assert_eq!(bare["outcome"], "error");
    assert_eq!(
        bare["summary"],
        "not a Statuspage v2 summary (not JSON): HTTP 401 Unauthorized, body `Unauthorized`"
    );
    assert_eq!(
        pages.authorizations(),
        vec![Some(format!("OAuth {TOKEN}")), None]
    );

    // A header value with a line break would smuggle a header in: refused, nothing sent.
    let out = Test::new()
        .runbook(&runbook)
        .env("RB_PAGE_TOKEN", TOKEN)
        .args(["run", "--var", "extra=a\r\nX-Injected: 1"])
        .run()
        .run_outcome("failed", 1);
    let page = out.finished("page");
    assert_eq!(page["outcome"], "error");
    assert_eq!(page["summary"], "invalid value for header `X-Extra`");
    // The run stops at the error: nothing more reached the page.
    assert_eq!(pages.authorizations().len(), 2);
}
