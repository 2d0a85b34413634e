//! The HTTP API of `runbook serve`:
//!
//! - `POST /v1/alertmanager`: Alertmanager's webhook (payload version 4) → 202 with what each
//!   alert started, 400 for a malformed payload (nothing starts);
//! - `GET /v1/runs`: the runs this serve started;
//! - `POST /v1/runs/{run_id}/approve` and `/deny`, JSON `{"actor": "...", "step": "...",
//!   "reason": "..."}`: the same record `runbook approve`/`deny` appends;
//! - `GET /metrics`: Prometheus metrics, without a token (as every exporter serves them).
//!
//! Everything but `/metrics` needs `Authorization: Bearer <token>`; anything else is a 401.

use std::sync::Arc;

use axum::Json as JsonBody;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::{Value as Json, json};

use super::launch::{Launched, Launcher};
use super::metrics::Metrics;
use super::payload::{self, Status};
use super::routes::Route;
use crate::timeline::approval::{self, Decision};

/// What the handlers share.
pub struct App {
    pub token: String,
    pub routes: Vec<Route>,
    /// Each route's runbook name (loaded at start).
    pub runbooks: Vec<String>,
    pub launcher: Launcher,
    pub metrics: Metrics,
}

pub fn router(app: Arc<App>) -> axum::Router {
    axum::Router::new()
        .route("/v1/alertmanager", post(alertmanager))
        .route("/v1/runs", get(runs))
        .route("/v1/runs/{run_id}/approve", post(approve))
        .route("/v1/runs/{run_id}/deny", post(deny))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(payload::MAX_BODY))
        .with_state(app)
}

/// One alert's line of the 202 answer.
#[derive(Debug, Serialize)]
struct Outcome {
    run_id: Option<String>,
    runbook: Option<String>,
    timeline: Option<String>,
    fingerprint: String,
    /// `started`, `deduplicated`, `rate_limited`, `no_route`, or `resolved`.
    status: &'static str,
    alertname: String,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, JsonBody(json!({ "error": message.into() }))).into_response()
}

/// `None` when the request carries the token; the 401 otherwise.
fn unauthorized(app: &App, headers: &HeaderMap) -> Option<Response> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    if given.is_some_and(|token| same(token.as_bytes(), app.token.as_bytes())) {
        return None;
    }
    app.metrics.count("unauthorized");
    let mut response = error(
        StatusCode::UNAUTHORIZED,
        "this endpoint needs `Authorization: Bearer <token>` with the serve's token",
    );
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    Some(response)
}

/// Compares in time independent of where the first difference is, so the token cannot be
/// guessed byte by byte from response times.
fn same(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    let (a, b) = (Sha256::digest(a), Sha256::digest(b));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

async fn alertmanager(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refused) = unauthorized(&app, &headers) {
        return refused;
    }
    let notification = match payload::parse(&body) {
        Ok(n) => n,
        Err(reason) => {
            app.metrics.count("invalid");
            crate::cli::say(format_args!(
                "runbook serve: refused a notification: {}",
                crate::escape::controls(&reason)
            ));
            return error(StatusCode::BAD_REQUEST, reason);
        }
    };
    let mut outcomes = Vec::new();
    for alert in &notification.alerts {
        let route = app.routes.iter().position(|r| r.matches(&alert.labels));
        let mut outcome = Outcome {
            run_id: None,
            runbook: route.map(|i| app.runbooks[i].clone()),
            timeline: None,
            fingerprint: alert.fingerprint.clone(),
            status: "no_route",
            alertname: alert.name().to_string(),
        };
        match (route, alert.status) {
            (None, _) => {}
            (Some(index), Status::Resolved) => {
                outcome.status = "resolved";
                if let Some(run) = app.launcher.registry.latest(index, &alert.fingerprint) {
                    let timeline = std::path::PathBuf::from(&run.timeline);
                    let noted = tokio::task::spawn_blocking(move || {
                        crate::timeline::append_event(
                            &timeline,
                            crate::timeline::Event::Note {
                                text: "alert resolved".into(),
                                actor: "alertmanager".into(),
                                step: None,
                            },
                            &crate::redact::Redactor::new(),
                        )
                    })
                    .await;
                    if !matches!(noted, Ok(Ok(_))) {
                        crate::cli::say(format_args!(
                            "runbook serve: cannot note `alert resolved` in {}",
                            run.timeline
                        ));
                    }
                    outcome.run_id = Some(run.run_id);
                    outcome.timeline = Some(run.timeline);
                }
            }
            (Some(index), Status::Firing) => {
                // Admission is under the registry's lock: the same alert listed twice in one
                // notification is deduplicated against the run the first one started.
                let route = &app.routes[index];
                match app
                    .launcher
                    .launch(index, route, &app.runbooks[index], alert)
                {
                    Launched::Started { run_id, timeline } => {
                        outcome.status = "started";
                        outcome.run_id = Some(run_id);
                        outcome.timeline = Some(timeline.display().to_string());
                    }
                    Launched::Deduplicated { run_id, timeline } => {
                        outcome.status = "deduplicated";
                        outcome.run_id = Some(run_id);
                        outcome.timeline = Some(timeline);
                    }
                    Launched::RateLimited => outcome.status = "rate_limited",
                }
            }
        }
        app.metrics.count(outcome.status);
        log(&outcome, route.map(|i| app.routes[i].name.as_str()));
        outcomes.push(outcome);
    }
    (StatusCode::ACCEPTED, JsonBody(json!({ "runs": outcomes }))).into_response()
}

/// One line per alert on stderr: the serve's own record of every alert, including the ones
/// that started nothing.
fn log(outcome: &Outcome, route: Option<&str>) {
    let what = match (outcome.status, &outcome.run_id) {
        ("started", Some(id)) => format!("started run {id}"),
        ("deduplicated", Some(id)) => format!("deduplicated: run {id} is still going"),
        ("rate_limited", _) => format!(
            "rate limited: route `{}` started its max_runs_per_hour; no run started",
            route.unwrap_or_default()
        ),
        ("resolved", Some(id)) => format!("resolved: noted in run {id}"),
        ("resolved", None) => "resolved: no run of it to note".into(),
        _ => "no route matches; no run started".into(),
    };
    let timeline = outcome
        .timeline
        .as_deref()
        .map(|t| format!(" — timeline {t}"))
        .unwrap_or_default();
    crate::cli::say(crate::escape::controls(&format!(
        "runbook serve: alert {} (fingerprint {}): {what}{timeline}",
        outcome.alertname, outcome.fingerprint
    )));
}

async fn runs(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Some(refused) = unauthorized(&app, &headers) {
        return refused;
    }
    JsonBody(json!({ "runs": app.launcher.registry.list() })).into_response()
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let text = app.metrics.render(&app.launcher.registry);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn approve(
    State(app): State<Arc<App>>,
    Path(run_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    decide(app, run_id, headers, body, false).await
}

async fn deny(
    State(app): State<Arc<App>>,
    Path(run_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    decide(app, run_id, headers, body, true).await
}

/// Reads `{"actor": NAME, "step": ID, "reason": TEXT}` and appends the decision as `runbook
/// approve`/`deny` does: 200 with the record, 404 for a run this serve does not know, 409 when
/// nothing awaits approval.
async fn decide(
    app: Arc<App>,
    run_id: String,
    headers: HeaderMap,
    body: Bytes,
    denial: bool,
) -> Response {
    if let Some(refused) = unauthorized(&app, &headers) {
        return refused;
    }
    let request: Json = match serde_json::from_slice(&body) {
        Ok(Json::Object(map)) => Json::Object(map),
        Ok(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "the body is a JSON object: {\"actor\": \"NAME\"}",
            );
        }
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("the body is not JSON: {e}"),
            );
        }
    };
    let text = |key: &str| request.get(key).and_then(Json::as_str).map(str::trim);
    let Some(actor) = text("actor").filter(|a| !a.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "`actor` is required: who approves or denies",
        );
    };
    if actor.chars().count() > 200 || actor.chars().any(char::is_control) {
        return error(
            StatusCode::BAD_REQUEST,
            "`actor` is a name: at most 200 characters, no control characters",
        );
    }
    let Some(run) = app.launcher.registry.get(&run_id) else {
        return error(
            StatusCode::NOT_FOUND,
            format!(
                "no run `{}` in this serve",
                crate::escape::controls(&run_id)
            ),
        );
    };
    let decision = if denial {
        Decision::Deny {
            reason: text("reason").filter(|r| !r.is_empty()).map(str::to_string),
        }
    } else {
        Decision::Approve
    };
    let (actor, step) = (actor.to_string(), text("step").map(str::to_string));
    let timeline = std::path::PathBuf::from(&run.timeline);
    let written = tokio::task::spawn_blocking(move || {
        approval::record(&timeline, &actor, step.as_deref(), decision).map(|r| (r, actor))
    })
    .await;
    match written {
        Ok(Ok((Ok(done), actor))) => {
            crate::cli::say(crate::escape::controls(&format!(
                "runbook serve: {} of `{}` in run {run_id} by {actor}",
                done.record.event.name(),
                done.step
            )));
            JsonBody(json!({
                "run_id": run_id,
                "step": done.step,
                "event": done.record.event.name(),
                "actor": actor,
                "seq": done.record.seq,
                "counted": done.not_counted.is_none(),
                "note": done.not_counted,
            }))
            .into_response()
        }
        Ok(Ok((Err(why), _))) => error(StatusCode::CONFLICT, why),
        Ok(Err(e)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "cannot append to {}: {}",
                run.timeline,
                crate::io_message(&e)
            ),
        ),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the decision was not recorded",
        ),
    }
}
