//! The `prometheus` executor: one PromQL query against the HTTP API, instant
//! (`/api/v1/query`) or over a range (`/api/v1/query_range`).
//!
//! The query goes as a form-encoded POST, as Prometheus's own UI sends it: a long query (a
//! few hundred `or` clauses) fits in a body where a proxy would refuse the URL (414). `url` is
//! the base URL (`http://prom:9090`, `https://host/prom/`) or the endpoint itself
//! (`…/api/v1/query` or `…/api/v1/query_range`); see [`request::endpoint`].
//!
//! Credentials never go in the URL: `headers` (any header), `bearer` (`Authorization: Bearer
//! <token>`) or `basic_auth`. They are sent to the URL's origin only: a redirect to another
//! origin is followed bare, as for any check (`http::redirects`). None of them is recorded:
//! not in the fields, not in the step's preview.
//!
//! Result fields (visible as `steps.<id>.<field>`):
//! - `value`: the first series' value as a number (vector: its sample; scalar: the scalar;
//!   matrix, from a range query or a range selector like `up[5m]`: the newest sample of the
//!   first series); null when there is no series (an empty result: a misspelled metric, an
//!   exporter that is down), so that `value < 0.5` fails with `value is none (the query
//!   returned no series)`. Prometheus's `NaN`, `+Inf` and `-Inf` stay floats in expressions
//!   (`value is nan`) and are written to the timeline as those strings.
//! - `values`: every series as `{labels: {...}, value: number|"NaN"|"+Inf"|"-Inf"|null}`; a
//!   matrix's series also have `samples`, every sample as `[unix_ts, value]`, oldest first
//!   (`value` is the newest).
//! - `series`: how many series came back (a scalar is one; a string result none).
//! - `string`: the text of a `string` result; null otherwise.
//! - `result_type`: `vector`, `scalar`, `matrix` or `string`; null when unreachable.
//! - `error`: why Prometheus could not be reached (`connection refused`, `timed out after 2 s`);
//!   null when it answered.

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value as Json};

use super::http;
use super::{BODY_CAP, ExecError, ExecOutput, RequestBody};

mod answer;
mod request;

pub(crate) use request::query_url;

/// Query answers can be far larger than a body a step keeps, but not unbounded.
const ANSWER_CAP: usize = 32 * BODY_CAP;

/// A resolved `prometheus` step.
#[derive(Clone, Debug)]
pub struct PrometheusRequest {
    /// The base URL or the endpoint's.
    pub url: String,
    pub query: String,
    /// Extra headers, sent as written (a value with CR or LF is refused).
    pub headers: Vec<(String, String)>,
    pub auth: Option<Auth>,
    /// Makes the query a range query.
    pub range: Option<Range>,
    /// The evaluation time of an instant query, as written (RFC 3339 or unix seconds).
    pub time: Option<String>,
    /// The step's deadline, also passed to Prometheus as its query `timeout`.
    pub timeout: Duration,
}

impl PrometheusRequest {
    /// An instant query of `query` at `url` with nothing else set.
    pub fn instant(url: &str, query: &str, timeout: Duration) -> Self {
        PrometheusRequest {
            url: url.to_string(),
            query: query.to_string(),
            headers: Vec::new(),
            auth: None,
            range: None,
            time: None,
            timeout,
        }
    }
}

/// Who the query is sent as.
#[derive(Clone)]
pub enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `Authorization: Basic <base64 of username:password>`.
    Basic { username: String, password: String },
}

/// Credentials stay out of debug output too.
impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Bearer(_) => f.write_str("Bearer(..)"),
            Auth::Basic { username, .. } => write!(f, "Basic({username}, ..)"),
        }
    }
}

/// The window of a range query.
#[derive(Clone, Debug)]
pub struct Range {
    pub range: Duration,
    pub step: Duration,
    /// RFC 3339 or unix seconds, as written; now when absent.
    pub end: Option<String>,
}

/// Runs the query. Unreachable is data (`ok` false, `error` set); an answer that is not a
/// Prometheus API answer, a refusal (401, 403) or a Prometheus error is an `ExecError`.
pub async fn run(req: &PrometheusRequest) -> Result<ExecOutput, ExecError> {
    let url = request::endpoint(&req.url, req.range.is_some())?;
    let form = request::form(req, jiff::Timestamp::now())?;
    let headers = request::headers(req)?;
    let client = http::client(false, http::Redirects::Check)?;
    let body = RequestBody::Form(form);
    let request = http::build_request(&client, &reqwest::Method::POST, &url, &headers, Some(&body));
    // Another origin gets the same POST (on 307 and 308; a GET on 301 to 303) bare: no
    // header of the step, no credentials (see `http::redirects`).
    let resend = http::Resend {
        client: &client,
        method: &reqwest::Method::POST,
        body: Some(&body),
    };
    match http::exchange(request, Some(resend), req.timeout, ANSWER_CAP).await {
        Ok(answer) => answer::parse(&answer, &url, req.auth.is_some() || !req.headers.is_empty()),
        Err(message) => Ok(unreachable(message)),
    }
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

#[cfg(test)]
mod tests;
