//! The `prometheus` executor: one instant query against the HTTP API.
//!
//! Result fields (visible as `steps.<id>.<field>`):
//! - `value`: the first series' value as a number (vector: its sample; scalar: the scalar;
//!   matrix: the last sample of the first series); null when there is no series (an empty
//!   result: a misspelled metric, an exporter that is down), so that `value < 0.5` fails with
//!   `value is none (the query returned no series)`. Prometheus's `NaN`, `+Inf` and `-Inf` stay
//!   floats in expressions (`value is nan`) and are written to the timeline as those strings.
//! - `values`: every series as `{labels: {...}, value: number|"NaN"|"+Inf"|"-Inf"|null}`.
//! - `series`: how many series came back (a scalar is one; a string result none).
//! - `string`: the text of a `string` result; null otherwise.
//! - `result_type`: `vector`, `scalar`, `matrix` or `string`; null when unreachable.
//! - `error`: why Prometheus could not be reached (`connection refused`, `timed out after 2 s`);
//!   null when it answered.

use std::time::Duration;

use serde_json::{Map, Value as Json};

use super::http::{self, Answer};
use super::{BODY_CAP, ExecError, ExecOutput};

/// Query answers can be far larger than a body a step keeps, but not unbounded.
const ANSWER_CAP: usize = 32 * BODY_CAP;

/// Runs an instant query. Unreachable is data (`ok` false, `error` set); an answer that is not
/// a Prometheus API answer, or a Prometheus error, is an `ExecError`.
pub async fn run(base_url: &str, query: &str, timeout: Duration) -> Result<ExecOutput, ExecError> {
    let mut url = query_url(base_url)?;
    url.query_pairs_mut().append_pair("query", query);
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

/// The query endpoint under `base_url`: what is asked, and what a confinement checks.
pub(crate) fn query_url(base_url: &str) -> Result<reqwest::Url, ExecError> {
    http::parse_url(&format!(
        "{}/api/v1/query",
        base_url.trim().trim_end_matches('/')
    ))
}

fn unreachable(message: String) -> ExecOutput {
    let mut fields = Map::new();
    fields.insert("value".into(), Json::Null);
    fields.insert("values".into(), Json::Array(vec![]));
    fields.insert("series".into(), 0.into());
    fields.insert("string".into(), Json::Null);
    fields.insert("result_type".into(), Json::Null);
    fields.insert("error".into(), message.clone().into());
    ExecOutput {
        fields,
        summary: message,
        ok: false,
    }
}

fn not_prometheus(answer: &Answer, what: &str) -> ExecError {
    ExecError(format!(
        "not a Prometheus API answer ({what}): HTTP {}, body {}",
        http::status_text(answer.status),
        http::body_start(&answer.body)
    ))
}

fn parse_answer(answer: &Answer) -> Result<ExecOutput, ExecError> {
    if answer.truncated {
        return Err(ExecError(format!(
            "the Prometheus answer is larger than {} MiB: narrow the query",
            ANSWER_CAP / BODY_CAP
        )));
    }
    let envelope: Json =
        serde_json::from_slice(&answer.body).map_err(|_| not_prometheus(answer, "not JSON"))?;
    match envelope.get("status").and_then(Json::as_str) {
        Some("success") => {}
        Some("error") => {
            let kind = envelope
                .get("errorType")
                .and_then(Json::as_str)
                .unwrap_or("unknown");
            let message = envelope
                .get("error")
                .and_then(Json::as_str)
                .unwrap_or("no message");
            return Err(ExecError(format!("prometheus error ({kind}): {message}")));
        }
        _ => return Err(not_prometheus(answer, "no `status`")),
    }
    let data = envelope
        .get("data")
        .ok_or_else(|| not_prometheus(answer, "no `data`"))?;
    let result_type = data
        .get("resultType")
        .and_then(Json::as_str)
        .ok_or_else(|| not_prometheus(answer, "no `data.resultType`"))?;
    let result = data.get("result").unwrap_or(&Json::Null);
    let mut string = Json::Null;
    let values = match result_type {
        "vector" => series_list(result, |s| s.get("value").map(sample_value)),
        "matrix" => series_list(result, |s| {
            let samples = s.get("values").and_then(Json::as_array);
            samples.and_then(|v| v.last()).map(sample_value)
        }),
        "scalar" => vec![entry(Map::new(), sample_value(result))],
        "string" => {
            string = result.get(1).cloned().unwrap_or(Json::Null);
            vec![]
        }
        other => {
            return Err(ExecError(format!(
                "prometheus answered an unknown result type `{other}`"
            )));
        }
    };
    let value = values
        .first()
        .and_then(|v| v.get("value"))
        .cloned()
        .unwrap_or(Json::Null);
    let summary = if let Some(text) = string.as_str() {
        format!("string {}", http::body_start(text.as_bytes()))
    } else if values.is_empty() {
        "no series".to_string()
    } else {
        let shown = match &value {
            Json::String(special) => special.clone(),
            other => other.as_f64().map_or("none".to_string(), format_number),
        };
        match result_type {
            "vector" | "matrix" => format!("value {shown} ({} series)", values.len()),
            _ => format!("value {shown}"),
        }
    };
    let mut fields = Map::new();
    fields.insert("value".into(), value);
    fields.insert("series".into(), values.len().into());
    fields.insert("values".into(), Json::Array(values));
    fields.insert("string".into(), string);
    fields.insert("result_type".into(), result_type.into());
    fields.insert("error".into(), Json::Null);
    Ok(ExecOutput {
        fields,
        summary,
        ok: true,
    })
}

fn series_list(result: &Json, sample: impl Fn(&Json) -> Option<Json>) -> Vec<Json> {
    let Some(list) = result.as_array() else {
        return vec![];
    };
    list.iter()
        .map(|series| {
            let labels = series
                .get("metric")
                .and_then(Json::as_object)
                .cloned()
                .unwrap_or_default();
            entry(labels, sample(series).unwrap_or(Json::Null))
        })
        .collect()
}

fn entry(labels: Map<String, Json>, value: Json) -> Json {
    let mut map = Map::new();
    map.insert("labels".into(), labels.into());
    map.insert("value".into(), value);
    Json::Object(map)
}

/// `[<unix time>, "<value>"]` -> the value as a number; NaN and ±Inf as the strings Prometheus
/// writes (JSON has no such numbers; expressions read them back as floats); null for garbage.
fn sample_value(sample: &Json) -> Json {
    let raw = sample.get(1);
    let number = match raw {
        Some(Json::String(text)) => text.trim().parse::<f64>().ok(),
        Some(Json::Number(n)) => n.as_f64(),
        _ => None,
    };
    match number {
        Some(v) if v.is_finite() => Json::from(v),
        Some(v) => crate::expr::special_float_name(v).map_or(Json::Null, Json::from),
        None => Json::Null,
    }
}

/// `3`, `0.27`, `1234.57`, `0.00123`: enough digits to read, no float noise.
fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let decimals = if v.abs() >= 1.0 {
        2
    } else {
        // Three significant digits for small values.
        (2 - v.abs().log10().floor() as i32).clamp(2, 12) as usize
    };
    let text = format!("{v:.decimals$}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_string()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::extract::Query;
    use axum::http::StatusCode;
    use axum::routing::get;
    use serde_json::json;
    use tokio::net::TcpListener;

    use super::*;

    /// A Prometheus stand-in answering `body` with `status`, recording the queries it got.
    async fn prometheus(
        status: StatusCode,
        body: &'static str,
    ) -> (String, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let app = Router::new().route(
            "/prom/api/v1/query",
            get(
                move |Query(params): Query<std::collections::HashMap<String, String>>| {
                    record
                        .lock()
                        .unwrap()
                        .push(params.get("query").cloned().unwrap_or_default());
                    async move { (status, body) }
                },
            ),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}/prom/"), seen)
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
        assert_eq!(seen.lock().unwrap().as_slice(), [query]);
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
        let body =
            r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"42"]}}"#;
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
        assert_eq!(out.summary, "value 2.25 (1 series)");
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
        let refused = format!("connection refused (http://127.0.0.1:{port}/api/v1/query?query=up)");
        assert_eq!(out.fields["error"], refused.as_str());
        assert_eq!(out.fields["value"], Json::Null);
        assert_eq!(out.fields["series"], 0);
        assert_eq!(out.summary, refused);
    }

    #[test]
    fn numbers_read_cleanly() {
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(0.27), "0.27");
        assert_eq!(format_number(1234.5678), "1234.57");
        assert_eq!(format_number(0.0012345), "0.00123");
        assert_eq!(format_number(-0.5), "-0.5");
    }
}
