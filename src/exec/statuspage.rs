//! The `statuspage` executor: reads a Statuspage v2 summary (`/api/v2/summary.json`), as
//! published by most SaaS providers.
//!
//! Result fields (visible as `steps.<id>.<field>`):
//! - `indicator`: `none`, `minor`, `major`, `critical` (or whatever new value the page uses);
//!   derived from the components when the page gives none; null when unreachable.
//! - `description`: the page's own words (`Partial System Outage`), or a derived text.
//! - `components`: component name -> status (`operational`, `degraded_performance`,
//!   `partial_outage`, `major_outage`, `under_maintenance`, …).
//! - `incidents`: unresolved incidents as `{name, status, impact}`, in the page's order.
//! - `page`: the page's name, or null.
//! - `error`: why the page could not be reached; null when it answered.

use std::time::Duration;

use serde_json::{Map, Value as Json};

use super::http::{self, Answer};
use super::{BODY_CAP, ExecError, ExecOutput};

/// Summaries of large pages run to a few hundred KiB; leave room, but bound it.
const ANSWER_CAP: usize = 8 * BODY_CAP;

/// Fetches and reads the summary. Unreachable is data (`ok` false, `error` set); an answer that
/// is not a Statuspage v2 summary is an `ExecError`.
pub async fn run(base_url: &str, timeout: Duration) -> Result<ExecOutput, ExecError> {
    let url = summary_url(base_url)?;
    let client = http::client(false, http::Redirects::Check)?;
    let request = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json");
    // Another origin gets the same GET, bare (see `http::redirects`).
    let resend = http::Resend {
        client: &client,
        method: &reqwest::Method::GET,
        body: None,
    };
    match http::exchange(request, Some(resend), timeout, ANSWER_CAP).await {
        Ok(answer) => parse_answer(&answer),
        Err(message) => Ok(unreachable(message)),
    }
}

/// The summary under `base_url`: what is fetched, and what a confinement checks.
pub(crate) fn summary_url(base_url: &str) -> Result<reqwest::Url, ExecError> {
    http::parse_url(&format!(
        "{}/api/v2/summary.json",
        base_url.trim().trim_end_matches('/')
    ))
}

fn unreachable(message: String) -> ExecOutput {
    let mut fields = Map::new();
    fields.insert("indicator".into(), Json::Null);
    fields.insert("description".into(), Json::Null);
    fields.insert("components".into(), Json::Object(Map::new()));
    fields.insert("incidents".into(), Json::Array(vec![]));
    fields.insert("page".into(), Json::Null);
    fields.insert("error".into(), message.clone().into());
    ExecOutput {
        fields,
        summary: message,
        ok: false,
    }
}

fn not_a_summary(answer: &Answer, what: &str) -> ExecError {
    ExecError(format!(
        "not a Statuspage v2 summary ({what}): HTTP {}, body {}",
        http::status_text(answer.status),
        http::body_start(&answer.body)
    ))
}

fn parse_answer(answer: &Answer) -> Result<ExecOutput, ExecError> {
    if answer.truncated {
        return Err(ExecError(format!(
            "not a Statuspage v2 summary: the answer is larger than {} MiB",
            ANSWER_CAP / BODY_CAP
        )));
    }
    let summary: Json =
        serde_json::from_slice(&answer.body).map_err(|_| not_a_summary(answer, "not JSON"))?;
    let status = summary.get("status").and_then(Json::as_object);
    let component_list = summary.get("components").and_then(Json::as_array);
    if status.is_none() && component_list.is_none() {
        return Err(not_a_summary(answer, "no `status` or `components`"));
    }

    let mut components = Map::new();
    for component in component_list.into_iter().flatten() {
        let (Some(name), Some(state)) = (text(component, "name"), text(component, "status")) else {
            continue;
        };
        components.insert(name.to_string(), state.into());
    }

    let given_indicator = status
        .and_then(|s| s.get("indicator"))
        .and_then(Json::as_str);
    let given_description = status
        .and_then(|s| s.get("description"))
        .and_then(Json::as_str);
    let (indicator, description) = match given_indicator {
        Some(indicator) => (
            indicator.to_string(),
            given_description
                .map(str::to_string)
                .unwrap_or_else(|| derive(&components).1),
        ),
        None => {
            let (indicator, derived) = derive(&components);
            (
                indicator.to_string(),
                given_description.map(str::to_string).unwrap_or(derived),
            )
        }
    };

    let incidents: Vec<Json> = summary
        .get("incidents")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter(|incident| !matches!(text(incident, "status"), Some("resolved" | "postmortem")))
        .map(|incident| {
            let mut map = Map::new();
            for key in ["name", "status", "impact"] {
                map.insert(
                    key.into(),
                    text(incident, key).map_or(Json::Null, Json::from),
                );
            }
            Json::Object(map)
        })
        .collect();

    let page = summary
        .get("page")
        .and_then(|p| p.get("name"))
        .and_then(Json::as_str);

    let mut line = format!("{indicator}: {description}");
    if !incidents.is_empty() {
        let names: Vec<&str> = incidents
            .iter()
            .map(|i| i["name"].as_str().unwrap_or("unnamed"))
            .collect();
        let noun = if names.len() == 1 {
            "incident"
        } else {
            "incidents"
        };
        line.push_str(&format!("; {} {noun} ({})", names.len(), names.join(", ")));
    }

    let mut fields = Map::new();
    fields.insert("indicator".into(), indicator.into());
    fields.insert("description".into(), description.into());
    fields.insert("components".into(), components.into());
    fields.insert("incidents".into(), incidents.into());
    fields.insert("page".into(), page.map_or(Json::Null, Json::from));
    fields.insert("error".into(), Json::Null);
    Ok(ExecOutput {
        fields,
        summary: line,
        ok: true,
    })
}

fn text<'a>(value: &'a Json, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Json::as_str)
}

/// The indicator and a description from component statuses, for pages that omit `status`.
/// Statuses this code does not know (including `under_maintenance`) do not raise it.
fn derive(components: &Map<String, Json>) -> (&'static str, String) {
    let with = |wanted: &str| -> Vec<&str> {
        components
            .iter()
            .filter(|(_, state)| state.as_str() == Some(wanted))
            .map(|(name, _)| name.as_str())
            .collect()
    };
    let major = with("major_outage");
    let partial = with("partial_outage");
    let degraded = with("degraded_performance");
    if !major.is_empty() {
        ("major", format!("Major outage: {}", major.join(", ")))
    } else if !partial.is_empty() {
        ("minor", format!("Partial outage: {}", partial.join(", ")))
    } else if !degraded.is_empty() {
        (
            "minor",
            format!("Degraded performance: {}", degraded.join(", ")),
        )
    } else {
        ("none", "All Systems Operational".to_string())
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::get;
    use serde_json::json;
    use tokio::net::TcpListener;

    use super::*;

    async fn page(status: StatusCode, body: &'static str) -> String {
        let app = Router::new().route(
            "/api/v2/summary.json",
            get(move || async move { (status, body) }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/")
    }

    const T: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn reads_indicator_components_and_incidents() {
        let body = r#"{
          "page": {"id": "x1", "name": "Upstream CDN", "url": "https://status.example.com"},
          "status": {"indicator": "major", "description": "Partial System Outage"},
          "components": [
            {"id": "c1", "name": "Load Balancing", "status": "partial_outage", "group": false},
            {"id": "c2", "name": "DNS", "status": "operational"}
          ],
          "incidents": [
            {"name": "Elevated 502s on load balancing", "status": "identified", "impact": "major"},
            {"name": "Old one", "status": "resolved", "impact": "minor"}
          ],
          "scheduled_maintenances": []
        }"#;
        let base = page(StatusCode::OK, body).await;
        let out = run(&base, T).await.unwrap();
        assert!(out.ok);
        assert_eq!(out.fields["indicator"], "major");
        assert_eq!(out.fields["description"], "Partial System Outage");
        assert_eq!(out.fields["page"], "Upstream CDN");
        assert_eq!(
            out.fields["components"],
            json!({"Load Balancing": "partial_outage", "DNS": "operational"})
        );
        assert_eq!(
            out.fields["incidents"],
            json!([{"name": "Elevated 502s on load balancing", "status": "identified", "impact": "major"}])
        );
        assert_eq!(
            out.summary,
            "major: Partial System Outage; 1 incident (Elevated 502s on load balancing)"
        );
    }

    #[tokio::test]
    async fn derives_the_indicator_from_components() {
        let body = r#"{"components": [
            {"name": "API", "status": "degraded_performance"},
            {"name": "Web", "status": "major_outage"}]}"#;
        let out = run(&page(StatusCode::OK, body).await, T).await.unwrap();
        assert_eq!(out.fields["indicator"], "major");
        assert_eq!(out.fields["description"], "Major outage: Web");
        assert_eq!(out.fields["page"], Json::Null);
        assert_eq!(out.fields["incidents"], json!([]));

        let body = r#"{"components": [{"name": "API", "status": "degraded_performance"}]}"#;
        let out = run(&page(StatusCode::OK, body).await, T).await.unwrap();
        assert_eq!(out.fields["indicator"], "minor");

        let body = r#"{"components": [{"name": "API", "status": "operational"}]}"#;
        let out = run(&page(StatusCode::OK, body).await, T).await.unwrap();
        assert_eq!(out.fields["indicator"], "none");
        assert_eq!(out.summary, "none: All Systems Operational");
    }

    #[tokio::test]
    async fn unknown_values_are_kept_as_strings() {
        let body = r#"{"status": {"indicator": "maintenance", "description": "Service Under Maintenance"},
            "components": [{"name": "API", "status": "on_fire"}, {"name": 7, "status": "operational"}],
            "incidents": [{"name": "Weird", "status": "brewing", "impact": "cosmic"}, {"status": "investigating"}]}"#;
        let out = run(&page(StatusCode::OK, body).await, T).await.unwrap();
        assert_eq!(out.fields["indicator"], "maintenance");
        assert_eq!(out.fields["components"], json!({"API": "on_fire"}));
        assert_eq!(
            out.fields["incidents"],
            json!([
                {"name": "Weird", "status": "brewing", "impact": "cosmic"},
                {"name": null, "status": "investigating", "impact": null},
            ])
        );
        assert_eq!(
            out.summary,
            "maintenance: Service Under Maintenance; 2 incidents (Weird, unnamed)"
        );
    }

    #[tokio::test]
    async fn anything_else_is_an_exec_error() {
        let base = page(StatusCode::OK, r#"{"hello": "world"}"#).await;
        let err = run(&base, T).await.unwrap_err();
        assert!(err.0.starts_with("not a Statuspage v2 summary"), "{err}");

        let base = page(StatusCode::NOT_FOUND, "Not Found").await;
        let err = run(&base, T).await.unwrap_err();
        assert!(err.0.starts_with("not a Statuspage v2 summary"), "{err}");
        assert!(err.0.contains("HTTP 404 Not Found"), "{err}");
    }

    #[tokio::test]
    async fn unreachable_is_data() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let out = run(&format!("http://127.0.0.1:{port}"), T).await.unwrap();
        assert!(!out.ok);
        assert_eq!(out.fields["indicator"], Json::Null);
        assert_eq!(out.fields["error"], "connection refused");
        assert_eq!(out.summary, "connection refused");
    }
}
