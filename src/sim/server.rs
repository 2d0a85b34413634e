//! The simulator's HTTP face: everything a runbook talks to, on one loopback port.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::{Value as Json, json};

use super::promql;
use super::request_log::RequestLog;
use super::scenario::Scenario;
use super::world::{LbAnswer, LoggedRequest, World};

/// A running simulator.
pub struct Sim {
    pub addr: SocketAddr,
    /// The bearer token the admin API requires (handed to runbooks as `SIM_ADMIN_TOKEN`).
    pub token: String,
    pub world: Arc<Mutex<World>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct AppState {
    world: Arc<Mutex<World>>,
    token: Arc<String>,
}

fn lock(world: &Mutex<World>) -> std::sync::MutexGuard<'_, World> {
    world.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sim {
    /// Starts serving `scenario` on `listen` (port 0 for an ephemeral one).
    pub async fn start(
        scenario: Scenario,
        listen: SocketAddr,
        token: Option<String>,
    ) -> std::io::Result<Sim> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let token = token.unwrap_or_else(new_token);
        let world = Arc::new(Mutex::new(World::new(scenario)));
        let state = AppState {
            world: Arc::clone(&world),
            token: Arc::new(token.clone()),
        };
        let app = Router::new()
            .route("/lb/{name}", any(lb))
            .route("/lb/{name}/", any(lb))
            .route("/lb/{name}/{*rest}", any(lb_rest))
            .route("/prometheus/api/v1/query", get(prom_get).post(prom_post))
            .route(
                "/prometheus/api/v1/query_range",
                get(prom_range_get).post(prom_range_post),
            )
            .route("/prometheus/metrics", get(metrics))
            .route("/status/{page}/api/v2/summary.json", get(status_summary))
            .route("/status/{page}/api/v2/status.json", get(status_status))
            .route("/sites/{name}", any(site))
            .route("/sites/{name}/", any(site))
            .route("/sites/{name}/{*rest}", any(site_rest))
            .route("/admin/lb/{name}/refresh", post(admin_refresh))
            .route("/admin/nodes/{group}/reprovision", post(admin_reprovision))
            .route("/admin/nodes/{group}/scale", post(admin_scale))
            .route("/admin/state", get(admin_state))
            .route("/admin/requests", get(admin_requests))
            .fallback(not_found)
            .layer(middleware::from_fn_with_state(state.clone(), log_request))
            .with_state(state);
        let task = tokio::spawn(serve(listener, app));
        Ok(Sim {
            addr,
            token,
            world,
            task,
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The vars that point a runbook at this simulator.
    pub fn vars(&self) -> serde_json::Map<String, Json> {
        let base = self.base_url();
        let world = lock(&self.world);
        let scenario = &world.scenario;
        let mut vars = serde_json::Map::new();
        let lbs: serde_json::Map<String, Json> = scenario
            .load_balancers
            .keys()
            .map(|name| (name.clone(), json!(format!("{base}/lb/{name}"))))
            .collect();
        for (name, url) in &lbs {
            vars.insert(format!("{name}_lb"), url.clone());
        }
        vars.insert("lbs".into(), Json::Object(lbs));
        vars.insert("prometheus".into(), json!(format!("{base}/prometheus")));
        let pages: serde_json::Map<String, Json> = scenario
            .status_pages
            .keys()
            .map(|name| (name.clone(), json!(format!("{base}/status/{name}"))))
            .collect();
        if let Some((_, first)) = pages.iter().next() {
            vars.insert("status_page".into(), first.clone());
        }
        vars.insert("status_pages".into(), Json::Object(pages));
        vars.insert(
            "reference_sites".into(),
            json!(
                scenario
                    .reference_sites
                    .keys()
                    .map(|name| format!("{base}/sites/{name}"))
                    .collect::<Vec<_>>()
            ),
        );
        vars.insert("admin".into(), json!(format!("{base}/admin")));
        vars.insert(
            "node_groups".into(),
            json!(scenario.node_groups.keys().collect::<Vec<_>>()),
        );
        vars
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

/// Marks a response that must not be sent: the connection is closed without any HTTP answer,
/// as a load balancer that hangs up does.
#[derive(Clone, Copy, Debug)]
struct HangUp;

impl std::fmt::Display for HangUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the simulated load balancer closed the connection without an answer")
    }
}

impl std::error::Error for HangUp {}

fn hang_up() -> Response {
    let mut response = Response::default();
    response.extensions_mut().insert(HangUp);
    response
}

/// Serves `app` over HTTP/1.1 with keep-alive. Not `axum::serve`: its services cannot fail,
/// and a failing service is how hyper closes a connection without writing a response. The
/// connections live in a `JoinSet`, so stopping the simulator (aborting this task) also ends
/// the requests still hanging.
async fn serve(listener: tokio::net::TcpListener, app: Router) {
    use hyper::service::Service as _;
    let mut connections = tokio::task::JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors and the like: give the others time to close.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let inner = hyper_util::service::TowerToHyperService::new(app.clone());
        let service = hyper::service::service_fn(move |request| {
            let response = inner.call(request);
            async move {
                let response = response.await.unwrap_or_else(|never| match never {});
                if response.extensions().get::<HangUp>().is_some() {
                    return Err(HangUp);
                }
                Ok(response)
            }
        });
        connections.spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}

/// 32 hex characters from the OS's randomness (via std's hasher seeds) and the clock.
fn new_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::new();
    for i in 0..2u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

async fn log_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    {
        let mut world = lock(&state.world);
        let at_ms = world.elapsed_ms();
        world.log.push(LoggedRequest {
            at_ms,
            method: request.method().to_string(),
            path: request.uri().path().to_string(),
        });
    }
    next.run(request).await
}

async fn answer_lb(state: &AppState, name: &str, method: &Method) -> Response {
    let answer = lock(&state.world).lb_request(name);
    match answer {
        None => (
            StatusCode::NOT_FOUND,
            format!("no load balancer named {name}\n"),
        )
            .into_response(),
        Some(LbAnswer::Hang) => {
            // Accept and never answer: the client's timeout is what ends this, unless the hang
            // clears (a refresh); then the stuck request is dropped unanswered, as a reloaded
            // proxy drops the connections its old workers held. An hour bounds what a client
            // that never gives up can hold.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(3600);
            while tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if !lock(&state.world).hangs(name) {
                    break;
                }
            }
            hang_up()
        }
        Some(LbAnswer::Close) => hang_up(),
        Some(LbAnswer::Respond { status, latency }) => {
            tokio::time::sleep(latency).await;
            let body = if *method == Method::HEAD {
                String::new()
            } else if status == 502 {
                "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>\n".into()
            } else {
                format!("{{\"ok\":true,\"lb\":\"{name}\"}}\n")
            };
            let ctype = if status == 502 {
                "text/html"
            } else {
                "application/json"
            };
            (
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
                [(header::CONTENT_TYPE, ctype)],
                body,
            )
                .into_response()
        }
    }
}

async fn lb(State(state): State<AppState>, Path(name): Path<String>, method: Method) -> Response {
    answer_lb(&state, &name, &method).await
}

async fn lb_rest(
    State(state): State<AppState>,
    Path((name, _rest)): Path<(String, String)>,
    method: Method,
) -> Response {
    answer_lb(&state, &name, &method).await
}

fn prom_answer(state: &AppState, query: Option<&String>) -> Response {
    prom_answer_as(state, query, false)
}

/// The answer of an instant query, or of a range query: the simulator keeps no history, so a
/// range query gets each series with the one sample it knows, now (see `promql::as_range`).
fn prom_answer_as(state: &AppState, query: Option<&String>, range: bool) -> Response {
    let result = match query {
        Some(q) => {
            let samples = lock(&state.world).samples();
            promql::evaluate(q, &samples)
        }
        None => Err(promql::QueryError {
            error_type: "bad_data",
            message: "invalid parameter \"query\": no query given".into(),
        }),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let (status, mut body) = promql::response_json(&result, (now * 1000.0).round() / 1000.0);
    if range {
        body = promql::as_range(body);
    }
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        axum::Json(body),
    )
        .into_response()
}

async fn prom_get(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    prom_answer(&state, params.get("query"))
}

async fn prom_post(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = serde_urlencoded_pairs(&body);
    prom_answer(&state, form.get("query").or(params.get("query")))
}

async fn prom_range_get(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    prom_answer_as(&state, params.get("query"), true)
}

async fn prom_range_post(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = serde_urlencoded_pairs(&body);
    prom_answer_as(&state, form.get("query").or(params.get("query")), true)
}

/// Decodes an `application/x-www-form-urlencoded` body.
fn serde_urlencoded_pairs(body: &[u8]) -> HashMap<String, String> {
    reqwest::Url::parse(&format!("http://x/?{}", String::from_utf8_lossy(body)))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let samples = lock(&state.world).samples();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        promql::exposition(&samples),
    )
        .into_response()
}

async fn status_summary(State(state): State<AppState>, Path(page): Path<String>) -> Response {
    match lock(&state.world).status_summary(&page) {
        Some(summary) => axum::Json(summary).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            format!("no status page named {page}\n"),
        )
            .into_response(),
    }
}

async fn status_status(State(state): State<AppState>, Path(page): Path<String>) -> Response {
    match lock(&state.world).status_summary(&page) {
        Some(summary) => axum::Json(json!({"page": summary["page"], "status": summary["status"]}))
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            format!("no status page named {page}\n"),
        )
            .into_response(),
    }
}

async fn answer_site(state: &AppState, name: &str) -> Response {
    let latency = lock(&state.world).scenario.latency.base;
    let status = lock(&state.world).site_request(name);
    tokio::time::sleep(latency).await;
    match status {
        None => (
            StatusCode::NOT_FOUND,
            format!("no reference site named {name}\n"),
        )
            .into_response(),
        Some(502) => (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/html")],
            "<h1>502 Bad Gateway</h1>\n",
        )
            .into_response(),
        Some(_) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html")],
            format!("<h1>{name}</h1>\n"),
        )
            .into_response(),
    }
}

async fn site(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    answer_site(&state, &name).await
}

async fn site_rest(
    State(state): State<AppState>,
    Path((name, _)): Path<(String, String)>,
) -> Response {
    answer_site(&state, &name).await
}

/// `Authorization: Bearer <token>`, compared without leaking timing.
fn authorized(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let expected = state.token.as_bytes();
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        axum::Json(json!({"error": "missing or wrong bearer token (Authorization: Bearer <SIM_ADMIN_TOKEN>)"})),
    )
        .into_response()
}

fn admin(
    state: &AppState,
    headers: &HeaderMap,
    kind: &str,
    target: &str,
    nodes: Option<u32>,
) -> Response {
    if !authorized(state, headers) {
        return unauthorized();
    }
    match lock(&state.world).admin(kind, target, nodes) {
        Ok(delay) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({"accepted": kind, "target": target, "nodes": nodes, "effective_in_ms": delay.as_millis() as u64})),
        )
            .into_response(),
        Err(message) if message.starts_with("no ") => {
            (StatusCode::NOT_FOUND, axum::Json(json!({"error": message}))).into_response()
        }
        Err(message) => (StatusCode::BAD_REQUEST, axum::Json(json!({"error": message}))).into_response(),
    }
}

async fn admin_refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    admin(&state, &headers, "refresh", &name, None)
}

async fn admin_reprovision(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(group): Path<String>,
) -> Response {
    admin(&state, &headers, "reprovision", &group, None)
}

async fn admin_scale(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(group): Path<String>,
    body: Bytes,
) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let nodes = serde_json::from_slice::<Json>(&body)
        .ok()
        .and_then(|v| v.get("nodes").and_then(Json::as_u64))
        .and_then(|n| u32::try_from(n).ok());
    admin(&state, &headers, "scale", &group, nodes)
}

async fn admin_state(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let body = lock(&state.world).state_json();
    axum::Json(body).into_response()
}

async fn admin_requests(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let world = lock(&state.world);
    let recent: Vec<&LoggedRequest> = world.log.recent().collect();
    axum::Json(json!({
        "requests": recent,
        "total": world.log.total(),
        "kept": RequestLog::KEPT,
    }))
    .into_response()
}

async fn not_found(uri: axum::http::Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        format!("no such simulator endpoint: {}\n(try /lb/<name>/, /prometheus/api/v1/query, /status/<page>/api/v2/summary.json, /sites/<name>/, /admin/state)\n", uri.path()),
    )
        .into_response()
}
