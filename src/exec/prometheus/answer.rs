//! Reading a Prometheus API answer into the step's fields.

use reqwest::{StatusCode, Url};
use serde_json::{Map, Value as Json};

use super::ANSWER_CAP;
use crate::exec::http::{self, Answer};
use crate::exec::{BODY_CAP, ExecError, ExecOutput};

fn not_prometheus(answer: &Answer, what: &str) -> ExecError {
    ExecError(format!(
        "not a Prometheus API answer ({what}): HTTP {}, body {}",
        http::status_text(answer.status),
        http::body_start(&answer.body)
    ))
}

/// A refusal by Prometheus or by a proxy in front of it: which one it was, the answer does not
/// say, so the message names the endpoint and what the step sent.
fn refused(answer: &Answer, url: &Url, sent_credentials: bool) -> ExecError {
    let mut shown = url.clone();
    let _ = shown.set_password(None);
    let why = match (answer.status, sent_credentials) {
        (StatusCode::UNAUTHORIZED, true) => {
            "the credentials were refused (check `bearer`, `basic_auth` or `headers`)"
        }
        (StatusCode::UNAUTHORIZED, false) => {
            "it needs credentials: set `bearer`, `basic_auth` or `headers`"
        }
        _ => "these credentials may not run queries",
    };
    ExecError(format!(
        "HTTP {} from {shown}: {why}",
        http::status_text(answer.status)
    ))
}

pub(super) fn parse(
    answer: &Answer,
    url: &Url,
    sent_credentials: bool,
) -> Result<ExecOutput, ExecError> {
    if answer.truncated {
        return Err(ExecError(format!(
            "the Prometheus answer is larger than {} MiB: narrow the query",
            ANSWER_CAP / BODY_CAP
        )));
    }
    let envelope: Json = match serde_json::from_slice(&answer.body) {
        Ok(json) => json,
        Err(_) if matches!(answer.status.as_u16(), 401 | 403) => {
            return Err(refused(answer, url, sent_credentials));
        }
        Err(_) => return Err(not_prometheus(answer, "not JSON")),
    };
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
        _ if matches!(answer.status.as_u16(), 401 | 403) => {
            return Err(refused(answer, url, sent_credentials));
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
        "vector" => series_list(result, |s| {
            let mut entry = Map::new();
            entry.insert(
                "value".into(),
                s.get("value").map_or(Json::Null, sample_value),
            );
            entry
        }),
        "matrix" => series_list(result, |s| {
            let samples: Vec<Json> = s
                .get("values")
                .and_then(Json::as_array)
                .map(|list| list.iter().map(sample).collect())
                .unwrap_or_default();
            let newest = samples
                .last()
                .and_then(|s| s.get(1))
                .cloned()
                .unwrap_or(Json::Null);
            let mut entry = Map::new();
            entry.insert("value".into(), newest);
            entry.insert("samples".into(), Json::Array(samples));
            entry
        }),
        "scalar" => {
            let mut entry = Map::new();
            entry.insert("labels".into(), Json::Object(Map::new()));
            entry.insert("value".into(), sample_value(result));
            vec![Json::Object(entry)]
        }
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
    let summary = summary(result_type, &string, &value, &values);
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

/// `value 0.27 (3 series)`, `value 1 (2 series, 31 samples)`, `string `hello``, `no series`.
fn summary(result_type: &str, string: &Json, value: &Json, values: &[Json]) -> String {
    if let Some(text) = string.as_str() {
        return format!("string {}", http::body_start(text.as_bytes()));
    }
    if values.is_empty() {
        return "no series".to_string();
    }
    let shown = match value {
        Json::String(special) => special.clone(),
        other => other.as_f64().map_or("none".to_string(), format_number),
    };
    match result_type {
        "vector" => format!("value {shown} ({} series)", values.len()),
        "matrix" => {
            let samples: usize = values
                .iter()
                .filter_map(|v| v.get("samples").and_then(Json::as_array))
                .map(Vec::len)
                .sum();
            format!("value {shown} ({} series, {samples} samples)", values.len())
        }
        _ => format!("value {shown}"),
    }
}

/// Each series as `{labels, ...}`, the rest from `fill`.
fn series_list(result: &Json, fill: impl Fn(&Json) -> Map<String, Json>) -> Vec<Json> {
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
            let mut entry = Map::new();
            entry.insert("labels".into(), labels.into());
            entry.extend(fill(series));
            Json::Object(entry)
        })
        .collect()
}

/// `[<unix time>, "<value>"]` -> `[<unix time>, value]`, the value as [`sample_value`] reads it.
fn sample(pair: &Json) -> Json {
    let time = pair.get(0).cloned().unwrap_or(Json::Null);
    Json::Array(vec![time, sample_value(pair)])
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
pub(super) fn format_number(v: f64) -> String {
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
