use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use serde_json::json;
use tokio::net::TcpListener;

use super::*;

/// What the stand-in got: the path, the content type, the authorization and the form.
#[derive(Clone, Debug, Default)]
struct Seen {
    path: String,
    content_type: String,
    authorization: Option<String>,
    form: Vec<(String, String)>,
}

impl Seen {
    fn param(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A Prometheus stand-in under `/prom` answering `body` with `status` to POSTed queries on
/// both endpoints, recording what it got.
async fn prometheus(status: StatusCode, body: &'static str) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let handler = move |uri: Uri, headers: HeaderMap, form: String| {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let form: Vec<(String, String)> = reqwest::Url::parse(&format!("http://x/?{form}"))
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        record.lock().unwrap().push(Seen {
            path: uri.path().to_string(),
            content_type: header("content-type").unwrap_or_default(),
            authorization: header("authorization"),
            form,
        });
        async move { (status, body) }
    };
    let app = Router::new()
        .route("/prom/api/v1/query", post(handler.clone()))
        .route("/prom/api/v1/query_range", post(handler));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/prom/"), seen)
}

async fn run(base: &str, query: &str, timeout: Duration) -> Result<ExecOutput, ExecError> {
    super::run(&PrometheusRequest::instant(base, query, timeout)).await
}

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn vector_gives_first_value_and_all_series() {
    let body = r#"{"status":"success","data":{"resultType":"vector","result":[
        {"metric":{"backend":"a"},"value":[1700000000.1,"0.27"]},
        {"metric":{"backend":"b"},"value":[1700000000.1,"NaN"]},
        {"metric":{"backend":"c"},"value":[1700000000.1,"3"]}]}}"#;
    let (base, seen) = prometheus(StatusCode::OK, body).await;
    let query = r#"sum by (backend) (rate(http_requests_total{code=~"5.."}[5m]))"#;
    let out = run(&base, query, T).await.unwrap();
    let seen = seen.lock().unwrap()[0].clone();
    assert_eq!(seen.path, "/prom/api/v1/query");
    assert_eq!(seen.content_type, "application/x-www-form-urlencoded");
    assert_eq!(seen.param("query"), Some(query));
    assert_eq!(seen.param("timeout"), Some("5s"));
    assert_eq!(seen.authorization, None);
    assert!(out.ok);
    assert_eq!(out.fields["value"], 0.27);
    assert_eq!(out.fields["series"], 3);
    assert_eq!(out.fields["result_type"], "vector");
    assert_eq!(
        out.fields["values"],
        json!([
            {"labels": {"backend": "a"}, "value": 0.27},
            {"labels": {"backend": "b"}, "value": "NaN"},
            {"labels": {"backend": "c"}, "value": 3.0},
        ])
    );
    assert_eq!(out.summary, "value 0.27 (3 series)");
}

#[tokio::test]
async fn scalar_and_matrix() {
    let body = r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"42"]}}"#;
    let (base, _) = prometheus(StatusCode::OK, body).await;
    let out = run(&base, "scalar(up)", T).await.unwrap();
    assert_eq!(out.fields["value"], 42.0);
    assert_eq!(out.fields["series"], 1);
    assert_eq!(out.summary, "value 42");

    let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
        {"metric":{"job":"api"},"values":[[1,"1"],[2,"1.5"],[3,"2.25"]]}]}}"#;
    let (base, _) = prometheus(StatusCode::OK, body).await;
    let out = run(&base, "up[5m]", T).await.unwrap();
    assert_eq!(out.fields["value"], 2.25);
    assert_eq!(
        out.fields["values"],
        json!([{"labels": {"job": "api"}, "value": 2.25,
                "samples": [[1, 1.0], [2, 1.5], [3, 2.25]]}])
    );
    assert_eq!(out.summary, "value 2.25 (1 series, 3 samples)");
}

/// NaN and infinities are kept, as Prometheus writes them, for `value is nan` to see; a
/// string result fills `string`, not `value`.
#[tokio::test]
async fn special_values_and_strings() {
    for (raw, kept) in [("NaN", "NaN"), ("+Inf", "+Inf"), ("-Inf", "-Inf")] {
        let body = format!(
            r#"{{"status":"success","data":{{"resultType":"scalar","result":[1,"{raw}"]}}}}"#
        );
        let (base, _) = prometheus(StatusCode::OK, Box::leak(body.into_boxed_str())).await;
        let out = run(&base, "scalar(x)", T).await.unwrap();
        assert_eq!(out.fields["value"], kept);
        assert_eq!(out.summary, format!("value {kept}"));
        let ctx = crate::expr::context(&Json::Object(out.fields.clone()));
        let nan = crate::expr::eval_bool("value is nan", &ctx).unwrap();
        assert_eq!(nan, raw == "NaN");
        let below = crate::expr::eval_bool("value < 0.5", &ctx);
        match raw {
            "NaN" => assert_eq!(
                below,
                Err(crate::expr::EvalError::Missing(
                    "value is NaN (Prometheus returned NaN)".into()
                ))
            ),
            "+Inf" => assert_eq!(below, Ok(false)),
            _ => assert_eq!(below, Ok(true)),
        }
    }
    let body = r#"{"status":"success","data":{"resultType":"string","result":[1,"hello"]}}"#;
    let (base, _) = prometheus(StatusCode::OK, body).await;
    let out = run(&base, r#""hello""#, T).await.unwrap();
    assert_eq!(out.fields["string"], "hello");
    assert_eq!(out.fields["value"], Json::Null);
    assert_eq!(out.fields["series"], 0);
    assert_eq!(out.summary, "string `hello`");
}

#[tokio::test]
async fn empty_result_is_no_series() {
    let body = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
    let (base, _) = prometheus(StatusCode::OK, body).await;
    let out = run(&base, "absent_metric", T).await.unwrap();
    assert!(out.ok);
    assert_eq!(out.fields["value"], Json::Null);
    assert_eq!(out.fields["series"], 0);
    assert_eq!(out.fields["string"], Json::Null);
    assert_eq!(out.summary, "no series");
    let ctx = crate::expr::context(&Json::Object(out.fields.clone()));
    assert_eq!(
        crate::expr::eval_bool("value < 0.5", &ctx),
        Err(crate::expr::EvalError::Missing(
            "value is none (the query returned no series)".into()
        ))
    );
}

#[tokio::test]
async fn error_envelope_is_an_exec_error() {
    let body = r#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected end of input"}"#;
    let (base, _) = prometheus(StatusCode::BAD_REQUEST, body).await;
    let err = run(&base, "sum(", T).await.unwrap_err();
    assert_eq!(
        err.0,
        "prometheus error (bad_data): 1:5: parse error: unexpected end of input"
    );
}

#[tokio::test]
async fn non_json_answer_is_an_exec_error() {
    let (base, _) = prometheus(StatusCode::BAD_GATEWAY, "<html>Bad Gateway</html>").await;
    let err = run(&base, "up", T).await.unwrap_err();
    assert!(err.0.contains("HTTP 502 Bad Gateway"), "{err}");
    assert!(err.0.contains("`<html>Bad Gateway</html>`"), "{err}");

    let (base, _) = prometheus(StatusCode::OK, r#"{"hello":"world"}"#).await;
    let err = run(&base, "up", T).await.unwrap_err();
    assert!(err.0.starts_with("not a Prometheus API answer"), "{err}");
}

#[tokio::test]
async fn unreachable_is_data() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let out = run(&format!("http://127.0.0.1:{port}"), "up", T)
        .await
        .unwrap();
    assert!(!out.ok);
    let refused = format!("connection refused (http://127.0.0.1:{port}/api/v1/query)");
    assert_eq!(out.fields["error"], refused.as_str());
    assert_eq!(out.fields["value"], Json::Null);
    assert_eq!(out.fields["series"], 0);
    assert_eq!(out.summary, refused);
}

#[test]
fn numbers_read_cleanly() {
    assert_eq!(answer::format_number(3.0), "3");
    assert_eq!(answer::format_number(0.27), "0.27");
    assert_eq!(answer::format_number(1234.5678), "1234.57");
    assert_eq!(answer::format_number(0.0012345), "0.00123");
    assert_eq!(answer::format_number(-0.5), "-0.5");
}

#[tokio::test]
async fn a_range_query_keeps_every_series_and_sample() {
    let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
        {"metric":{"instance":"a"},"values":[[1700000000,"1"],[1700000030,"0"],[1700000060,"NaN"]]},
        {"metric":{"instance":"b"},"values":[[1700000000,"+Inf"],[1700000030,"2.5"]]}]}}"#;
    let (base, seen) = prometheus(StatusCode::OK, body).await;
    let mut req = PrometheusRequest::instant(&format!("{base}api/v1/query"), "up", T);
    req.range = Some(Range {
        range: Duration::from_secs(60),
        step: Duration::from_secs(30),
        end: Some("1700000060".into()),
    });
    let out = super::run(&req).await.unwrap();
    let seen = seen.lock().unwrap()[0].clone();
    assert_eq!(seen.path, "/prom/api/v1/query_range");
    assert_eq!(
        seen.form,
        [
            ("query", "up"),
            ("start", "1700000000"),
            ("end", "1700000060"),
            ("step", "30s"),
            ("timeout", "5s")
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );
    assert_eq!(out.fields["result_type"], "matrix");
    assert_eq!(out.fields["value"], "NaN");
    assert_eq!(out.fields["series"], 2);
    assert_eq!(
        out.fields["values"],
        json!([
            {"labels": {"instance": "a"}, "value": "NaN",
             "samples": [[1700000000, 1.0], [1700000030, 0.0], [1700000060, "NaN"]]},
            {"labels": {"instance": "b"}, "value": 2.5,
             "samples": [[1700000000, "+Inf"], [1700000030, 2.5]]},
        ])
    );
    assert_eq!(out.summary, "value NaN (2 series, 5 samples)");
}

#[tokio::test]
async fn credentials_and_headers_are_sent_and_not_recorded() {
    let body = r#"{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}"#;
    let (base, seen) = prometheus(StatusCode::OK, body).await;
    let mut req = PrometheusRequest::instant(&base, "1", T);
    req.auth = Some(Auth::Bearer("tok-123".into()));
    req.headers = vec![("X-Scope-OrgID".into(), "team-a".into())];
    let out = super::run(&req).await.unwrap();
    assert_eq!(
        seen.lock().unwrap()[0].authorization.as_deref(),
        Some("Bearer tok-123")
    );
    assert!(!Json::Object(out.fields).to_string().contains("tok-123"));
    assert!(!format!("{req:?}").contains("tok-123"));
}

#[tokio::test]
async fn a_refusal_says_what_to_check() {
    let (base, _) = prometheus(StatusCode::UNAUTHORIZED, "Unauthorized\n").await;
    let err = run(&base, "up", T).await.unwrap_err();
    assert_eq!(
        err.0,
        format!(
            "HTTP 401 Unauthorized from {base}api/v1/query: it needs credentials: set `bearer`, `basic_auth` or `headers`"
        )
    );
    let mut req = PrometheusRequest::instant(&base, "up", T);
    req.auth = Some(Auth::Basic {
        username: "admin".into(),
        password: "wrong".into(),
    });
    let err = super::run(&req).await.unwrap_err();
    assert!(
        err.0
            .ends_with("the credentials were refused (check `bearer`, `basic_auth` or `headers`)"),
        "{err}"
    );
}

/// A 307 keeps the POST and its form; to another origin it goes bare (no credentials, no
/// header of the step), as every check's redirect does.
#[tokio::test]
async fn a_redirect_to_another_origin_keeps_the_query_and_drops_the_credentials() {
    let body = r#"{"status":"success","data":{"resultType":"scalar","result":[1,"7"]}}"#;
    let (target, seen) = prometheus(StatusCode::OK, body).await;
    let location = format!("{target}api/v1/query");
    let app = Router::new().route(
        "/api/v1/query",
        post(move || {
            let location = location.clone();
            async move {
                (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(axum::http::header::LOCATION, location)],
                )
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    // `localhost` is another origin than the stand-in's `127.0.0.1`.
    let mut req = PrometheusRequest::instant(&format!("http://localhost:{}", addr.port()), "x", T);
    req.auth = Some(Auth::Bearer("tok-456".into()));
    req.headers = vec![("X-Scope-OrgID".into(), "team-a".into())];
    let out = super::run(&req).await.unwrap();
    assert_eq!(out.fields["value"], 7.0);
    let seen = seen.lock().unwrap()[0].clone();
    assert_eq!(seen.authorization, None);
    assert_eq!(seen.content_type, "application/x-www-form-urlencoded");
    assert_eq!(seen.param("query"), Some("x"));
}
