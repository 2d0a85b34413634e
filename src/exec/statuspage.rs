//! The `statuspage` executor: reads a Statuspage v2 summary (`/api/v2/summary.json`), as
//! published by most SaaS providers.
//!
//! Result fields (visible as `steps.<id>.<field>`):
//! - `indicator`: `none`, `minor`, `major`, `critical` (or whatever new value the page uses);
//!   derived from the components when the page gives none; null when unreachable.
//! - `description`: the page's own words (`Partial System Outage`), or a derived text.
//! - `components`: component -> status (`operational`, `degraded_performance`,
//!   `partial_outage`, `major_outage`, `under_maintenance`, …), in the page's order. A component
//!   in a group is keyed `Group / Component` (`us-east-1 / Elastic Load Balancing`), so the same
//!   name in two groups stays two entries; a group is listed once, under its own name, with the
//!   status the page gives it; a component in no group under its name. Two components of one
//!   key (the same name twice in one group, or outside groups) keep the worse status:
//!   `major_outage`, `partial_outage`, `degraded_performance`, then any other value, then
//!   `operational`; a check for `== 'operational'` cannot pass while one of them is down.
//! - `maintenances`: scheduled maintenances in progress and upcoming, in the page's order, as
//!   `{name, status, scheduled_for, scheduled_until}` (status `scheduled`, `in_progress`,
//!   `verifying`, or a newer value; times as the page writes them); completed ones are left out.
//! - `incidents`: unresolved incidents as `{name, status, impact}`, in the page's order.
//! - `page`: the page's name, or null.
//! - `error`: why the page could not be reached, naming the URL fetched; null when it answered.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Map, Value as Json};

use super::http::{self, Answer};
use super::{BODY_CAP, ExecError, ExecOutput};

/// Summaries of large pages run to a few hundred KiB; leave room, but bound it.
const ANSWER_CAP: usize = 8 * BODY_CAP;

/// Separates a group's name from its component's in `components` keys.
const GROUP_SEPARATOR: &str = " / ";

/// Fetches and reads the summary, sending `headers` (a private page's credentials) to it.
/// Unreachable is data (`ok` false, `error` set); an answer that is not a Statuspage v2
/// summary, or a header that cannot be sent, is an `ExecError`.
pub async fn run(
    base_url: &str,
    headers: &[(String, String)],
    timeout: Duration,
) -> Result<ExecOutput, ExecError> {
    let url = summary_url(base_url)?;
    let headers = http::header_map(headers)?;
    let client = http::client(false, http::Redirects::Check)?;
    let request = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .headers(headers);
    // Another origin gets the same GET, bare (see `http::redirects`): the page's credentials
    // stay with the page.
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
    fields.insert("maintenances".into(), Json::Array(vec![]));
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

    let components = Components::read(component_list.map_or(&[], Vec::as_slice));

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
                .unwrap_or_else(|| derive(&components.leaves).1),
        ),
        None => {
            let (indicator, derived) = derive(&components.leaves);
            (
                indicator.to_string(),
                given_description.map(str::to_string).unwrap_or(derived),
            )
        }
    };

    let incidents: Vec<Json> = list(&summary, "incidents")
        .filter(|incident| !matches!(text(incident, "status"), Some("resolved" | "postmortem")))
        .map(|incident| pick(incident, &["name", "status", "impact"]))
        .collect();
    let maintenances: Vec<Json> = list(&summary, "scheduled_maintenances")
        .filter(|m| text(m, "status") != Some("completed"))
        .map(|m| pick(m, &["name", "status", "scheduled_for", "scheduled_until"]))
        .collect();

    let page = summary
        .get("page")
        .and_then(|p| p.get("name"))
        .and_then(Json::as_str);

    let mut line = format!("{indicator}: {description}");
    if !incidents.is_empty() {
        line.push_str(&format!(
            "; {} ({})",
            count(incidents.len(), "incident", "incidents"),
            names(incidents.iter())
        ));
    }
    let (under_way, upcoming): (Vec<&Json>, Vec<&Json>) = maintenances
        .iter()
        .partition(|m| matches!(m["status"].as_str(), Some("in_progress" | "verifying")));
    if !under_way.is_empty() {
        line.push_str(&format!(
            "; {} in progress ({})",
            count(under_way.len(), "maintenance", "maintenances"),
            names(under_way.into_iter())
        ));
    }
    if !upcoming.is_empty() {
        line.push_str(&format!(
            "; {} scheduled ({})",
            count(upcoming.len(), "maintenance", "maintenances"),
            names(upcoming.into_iter())
        ));
    }

    let mut fields = Map::new();
    fields.insert("indicator".into(), indicator.into());
    fields.insert("description".into(), description.into());
    fields.insert("components".into(), components.by_key.into());
    fields.insert("maintenances".into(), maintenances.into());
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

/// The items of the array under `key`; none when it is missing or not an array.
fn list<'a>(summary: &'a Json, key: &str) -> impl Iterator<Item = &'a Json> {
    summary
        .get(key)
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
}

/// The text values of `keys` (null where missing or not text).
fn pick(value: &Json, keys: &[&str]) -> Json {
    let map: Map<String, Json> = keys
        .iter()
        .map(|key| {
            let found = text(value, key).map_or(Json::Null, Json::from);
            (key.to_string(), found)
        })
        .collect();
    Json::Object(map)
}

/// `1 incident`, `2 incidents`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `A, B, unnamed`: the `name` of each item.
fn names<'a>(items: impl Iterator<Item = &'a Json>) -> String {
    items
        .map(|i| i["name"].as_str().unwrap_or("unnamed"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The components of a page, keyed for expressions.
struct Components {
    /// Key -> status, in the page's order (see the module comment for the keys).
    by_key: Map<String, Json>,
    /// The components that are not groups, by key: what a derived indicator reads (a group's
    /// status is its components' again).
    leaves: Map<String, Json>,
}

impl Components {
    /// Reads the `components` list. A component belongs to the group its `group_id` names;
    /// pages that list a group's members only in the group's `components` ids are read too.
    fn read(list: &[Json]) -> Self {
        let is_group = |c: &Json| c.get("group").and_then(Json::as_bool).unwrap_or(false);
        // Maps, not lists searched per component: a hostile page of 8 MiB holds some 100,000
        // components, and one group may claim them all.
        let mut group_names: HashMap<&str, &str> = HashMap::new();
        let mut members: HashMap<&str, &str> = HashMap::new();
        for group in list.iter().filter(|c| is_group(c)) {
            let (Some(group_id), Some(name)) = (non_empty_id(group), text(group, "name")) else {
                continue;
            };
            group_names.entry(group_id).or_insert(name);
            for member in group
                .get("components")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(Json::as_str)
            {
                members.entry(member).or_insert(name);
            }
        }
        let group_of = |component: &Json| -> Option<&str> {
            let by_id = text(component, "group_id").and_then(|gid| group_names.get(gid));
            by_id
                .or_else(|| members.get(non_empty_id(component)?))
                .copied()
        };

        let mut by_key = Map::new();
        let mut leaves = Map::new();
        for component in list {
            let (Some(name), Some(state)) = (text(component, "name"), text(component, "status"))
            else {
                continue;
            };
            let key = match group_of(component) {
                Some(group) if !is_group(component) => format!("{group}{GROUP_SEPARATOR}{name}"),
                _ => name.to_string(),
            };
            keep_worse(&mut by_key, &key, state);
            if !is_group(component) {
                keep_worse(&mut leaves, &key, state);
            }
        }
        Components { by_key, leaves }
    }
}

fn non_empty_id(component: &Json) -> Option<&str> {
    text(component, "id").filter(|id| !id.is_empty())
}

/// Sets `key` to `state` unless it already holds a worse one.
fn keep_worse(map: &mut Map<String, Json>, key: &str, state: &str) {
    let worse = map
        .get(key)
        .and_then(Json::as_str)
        .is_some_and(|held| severity(held) >= severity(state));
    if !worse {
        map.insert(key.to_string(), state.into());
    }
}

/// How bad a component status is, for two components of one key. A status this code does not
/// know ranks above `operational` and below the outages: it is not known to be fine.
fn severity(state: &str) -> u8 {
    match state {
        "operational" => 0,
        "degraded_performance" => 2,
        "partial_outage" => 3,
        "major_outage" => 4,
        _ => 1,
    }
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
        let out = run(&base, &[], T).await.unwrap();
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
        let out = run(&page(StatusCode::OK, body).await, &[], T)
            .await
            .unwrap();
        assert_eq!(out.fields["indicator"], "major");
        assert_eq!(out.fields["description"], "Major outage: Web");
        assert_eq!(out.fields["page"], Json::Null);
        assert_eq!(out.fields["incidents"], json!([]));

        let body = r#"{"components": [{"name": "API", "status": "degraded_performance"}]}"#;
        let out = run(&page(StatusCode::OK, body).await, &[], T)
            .await
            .unwrap();
        assert_eq!(out.fields["indicator"], "minor");

        let body = r#"{"components": [{"name": "API", "status": "operational"}]}"#;
        let out = run(&page(StatusCode::OK, body).await, &[], T)
            .await
            .unwrap();
        assert_eq!(out.fields["indicator"], "none");
        assert_eq!(out.summary, "none: All Systems Operational");
    }

    #[tokio::test]
    async fn unknown_values_are_kept_as_strings() {
        let body = r#"{"status": {"indicator": "maintenance", "description": "Service Under Maintenance"},
            "components": [{"name": "API", "status": "on_fire"}, {"name": 7, "status": "operational"}],
            "incidents": [{"name": "Weird", "status": "brewing", "impact": "cosmic"}, {"status": "investigating"}]}"#;
        let out = run(&page(StatusCode::OK, body).await, &[], T)
            .await
            .unwrap();
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
        let err = run(&base, &[], T).await.unwrap_err();
        assert!(err.0.starts_with("not a Statuspage v2 summary"), "{err}");

        let base = page(StatusCode::NOT_FOUND, "Not Found").await;
        let err = run(&base, &[], T).await.unwrap_err();
        assert!(err.0.starts_with("not a Statuspage v2 summary"), "{err}");
        assert!(err.0.contains("HTTP 404 Not Found"), "{err}");
    }

    #[tokio::test]
    async fn unreachable_is_data() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let out = run(&format!("http://reader:pa55word@127.0.0.1:{port}"), &[], T)
            .await
            .unwrap();
        assert!(!out.ok);
        assert_eq!(out.fields["indicator"], Json::Null);
        let refused = format!("connection refused (http://127.0.0.1:{port}/api/v2/summary.json)");
        assert_eq!(out.fields["error"], refused.as_str());
        assert_eq!(out.summary, refused);
        assert_eq!(out.fields["maintenances"], json!([]));
    }

    fn keyed(list: Json) -> (Json, Json) {
        let c = Components::read(list.as_array().unwrap());
        (c.by_key.into(), c.leaves.into())
    }

    #[test]
    fn grouped_components_are_keyed_by_group() {
        let (by_key, leaves) = keyed(json!([
            {"id": "e1", "name": "Elastic Load Balancing", "status": "major_outage", "group_id": "g1", "group": false},
            {"id": "g1", "name": "us-east-1", "status": "major_outage", "group_id": null, "group": true, "components": ["e1", "c1"]},
            {"id": "g2", "name": "us-west-2", "status": "operational", "group": true, "components": ["e2"]},
            {"id": "e2", "name": "Elastic Load Balancing", "status": "operational", "group_id": "g2", "group": false},
            // Listed only in its group's ids, as some pages do.
            {"id": "c1", "name": "EC2", "status": "operational"},
            {"id": "d1", "name": "DNS", "status": "operational", "group_id": null, "group": false},
            // A group the page does not list: the name alone.
            {"id": "x1", "name": "Orphan", "status": "operational", "group_id": "gone"},
        ]));
        assert_eq!(
            by_key,
            json!({
                "us-east-1 / Elastic Load Balancing": "major_outage",
                "us-east-1": "major_outage",
                "us-west-2": "operational",
                "us-west-2 / Elastic Load Balancing": "operational",
                "us-east-1 / EC2": "operational",
                "DNS": "operational",
                "Orphan": "operational",
            })
        );
        let leaf_keys: Vec<&String> = leaves.as_object().unwrap().keys().collect();
        assert!(!leaf_keys.iter().any(|k| *k == "us-east-1"), "{leaves}");
        assert_eq!(
            derive(leaves.as_object().unwrap()).1,
            "Major outage: us-east-1 / Elastic Load Balancing"
        );
    }

    #[test]
    fn one_key_twice_keeps_the_worse_status() {
        let (by_key, _) = keyed(json!([
            {"id": "g", "name": "API", "status": "partial_outage", "group": true},
            {"id": "a", "name": "Search", "status": "operational", "group_id": "g"},
            {"id": "b", "name": "Search", "status": "partial_outage", "group_id": "g"},
            {"id": "c", "name": "Search", "status": "degraded_performance", "group_id": "g"},
            {"id": "d", "name": "Web", "status": "under_maintenance"},
            {"id": "e", "name": "Web", "status": "operational"},
        ]));
        assert_eq!(
            by_key,
            json!({"API": "partial_outage", "API / Search": "partial_outage", "Web": "under_maintenance"})
        );
    }

    #[tokio::test]
    async fn maintenances_in_progress_and_upcoming_are_listed() {
        let body = r#"{"status": {"indicator": "maintenance", "description": "Service Under Maintenance"},
            "components": [],
            "scheduled_maintenances": [
              {"name": "Web Tier Recycle", "status": "in_progress", "scheduled_for": "2014-05-14T14:30:00.000-06:00", "scheduled_until": "2014-05-14T16:30:00.000-06:00", "impact": "minor"},
              {"name": "Old", "status": "completed", "scheduled_for": "2014-05-01T00:00:00Z", "scheduled_until": "2014-05-01T01:00:00Z"},
              {"name": "Network", "status": "scheduled", "scheduled_for": "2014-05-17T22:00:00.000-06:00", "scheduled_until": null}
            ]}"#;
        let out = run(&page(StatusCode::OK, body).await, &[], T)
            .await
            .unwrap();
        assert_eq!(
            out.fields["maintenances"],
            json!([
                {"name": "Web Tier Recycle", "status": "in_progress", "scheduled_for": "2014-05-14T14:30:00.000-06:00", "scheduled_until": "2014-05-14T16:30:00.000-06:00"},
                {"name": "Network", "status": "scheduled", "scheduled_for": "2014-05-17T22:00:00.000-06:00", "scheduled_until": null},
            ])
        );
        assert_eq!(
            out.summary,
            "maintenance: Service Under Maintenance; 1 maintenance in progress (Web Tier Recycle); \
             1 maintenance scheduled (Network)"
        );
    }

    #[tokio::test]
    async fn a_header_with_a_line_break_is_refused() {
        let base = page(StatusCode::OK, "{}").await;
        let headers = vec![(
            "Authorization".to_string(),
            "OAuth a\r\nX-Evil: 1".to_string(),
        )];
        let err = run(&base, &headers, T).await.unwrap_err();
        assert_eq!(err.0, "invalid value for header `Authorization`");
    }

    /// A hostile page: one group claiming 100,000 members, each pointing at it. Read in one
    /// pass over maps (a search per component took minutes).
    #[test]
    fn a_huge_group_is_read_in_linear_time() {
        let n = 100_000;
        let mut list = vec![json!({
            "id": "g", "name": "G", "status": "operational", "group": true,
            "components": (0..n).map(|i| format!("c{i}")).collect::<Vec<_>>(),
        })];
        list.extend((0..n).map(
            |i| json!({"id": format!("c{i}"), "name": format!("n{i}"), "status": "operational"}),
        ));
        let started = std::time::Instant::now();
        let c = Components::read(&list);
        assert_eq!(c.by_key.len(), n + 1);
        assert_eq!(c.by_key["G / n99999"], "operational");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }
}
