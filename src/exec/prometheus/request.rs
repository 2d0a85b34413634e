//! What a `prometheus` step sends: the endpoint, the form and the headers.

use std::time::Duration;

use base64::Engine as _;
use reqwest::Url;
use reqwest::header::{self, HeaderMap, HeaderValue};

use super::{Auth, PrometheusRequest};
use crate::exec::{ExecError, http};

const INSTANT: &str = "/api/v1/query";
const RANGE: &str = "/api/v1/query_range";

/// The endpoint of a query under `url`: the base URL (`http://prom:9090`, `http://host/prom/`)
/// with the API path added, or a URL already ending with either endpoint's path, which is
/// replaced by the one the query needs (never doubled). A query string of `url` is kept.
pub(super) fn endpoint(url: &str, range: bool) -> Result<Url, ExecError> {
    let mut parsed = http::parse_url(url)?;
    let path = parsed.path().trim_end_matches('/');
    let base = path
        .strip_suffix(INSTANT)
        .or_else(|| path.strip_suffix(RANGE))
        .unwrap_or(path)
        .to_string();
    parsed.set_path(&format!("{base}{}", if range { RANGE } else { INSTANT }));
    Ok(parsed)
}

/// The instant endpoint under `base_url`: what a drill's confinement checks (a range query
/// goes to the same origin).
pub(crate) fn query_url(base_url: &str) -> Result<Url, ExecError> {
    endpoint(base_url, false)
}

/// The form of the query: `query`, then `time` or `start`, `end` and `step`, then `timeout`.
/// `now` is the default end of a range.
pub(super) fn form(
    req: &PrometheusRequest,
    now: jiff::Timestamp,
) -> Result<Vec<(String, String)>, ExecError> {
    let mut form = vec![("query".to_string(), req.query.clone())];
    if let Some(range) = &req.range {
        let end = match &range.end {
            Some(text) => instant(text, "end")?,
            None => now,
        };
        let span = jiff::SignedDuration::try_from(range.range)
            .map_err(|_| ExecError("prometheus `range` is too long".into()))?;
        let start = end
            .checked_sub(span)
            .map_err(|_| ExecError("prometheus `range` reaches before year -9999".into()))?;
        form.push(("start".into(), unix_seconds(start)));
        form.push(("end".into(), unix_seconds(end)));
        form.push(("step".into(), prometheus_duration(range.step)));
    } else if let Some(text) = &req.time {
        form.push(("time".into(), unix_seconds(instant(text, "time")?)));
    }
    form.push(("timeout".into(), prometheus_duration(req.timeout)));
    Ok(form)
}

/// A time as written in `end` or `time`: unix seconds (`1796112000`, `1796112000.5`) or RFC 3339
/// (`2026-12-01T08:00:00Z`, `2026-12-01T09:00:00+01:00`).
fn instant(text: &str, key: &str) -> Result<jiff::Timestamp, ExecError> {
    let text = text.trim();
    let parsed = match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() => {
            jiff::Timestamp::from_nanosecond((secs * 1e9).round() as i128).ok()
        }
        Ok(_) => None,
        Err(_) => text.parse::<jiff::Timestamp>().ok(),
    };
    parsed.ok_or_else(|| {
        ExecError(format!(
            "prometheus `{key}`: `{text}` is neither an RFC 3339 time (`2026-12-01T08:00:00Z`) nor unix seconds"
        ))
    })
}

/// Unix seconds with millisecond precision, as Prometheus's API writes times.
fn unix_seconds(t: jiff::Timestamp) -> String {
    let ms = t.as_millisecond();
    let (secs, frac) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    if frac == 0 {
        secs.to_string()
    } else {
        format!("{secs}.{frac:03}")
    }
}

/// `30s`, `1500ms`: a duration in the form Prometheus parses for `step` and `timeout`.
fn prometheus_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// The step's headers and credentials, with `Accept`. A value that is not a valid header value
/// (CR, LF, other control characters) is refused before anything is sent, without quoting it.
pub(super) fn headers(req: &PrometheusRequest) -> Result<HeaderMap, ExecError> {
    let mut map = http::header_map(&req.headers)?;
    map.entry(header::ACCEPT)
        .or_insert(HeaderValue::from_static("application/json"));
    let (value, key) = match &req.auth {
        None => return Ok(map),
        Some(Auth::Bearer(token)) => (format!("Bearer {}", token.trim()), "`bearer`"),
        Some(Auth::Basic { username, password }) => {
            let pair = format!("{username}:{password}");
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            (format!("Basic {encoded}"), "`basic_auth`")
        }
    };
    let mut value = HeaderValue::from_str(&value).map_err(|_| {
        ExecError(format!(
            "invalid value for {key}: a token cannot hold control characters (CR, LF)"
        ))
    })?;
    value.set_sensitive(true);
    map.insert(header::AUTHORIZATION, value);
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::prometheus::Range;

    #[test]
    fn the_endpoint_is_never_doubled() {
        for (url, instant, range) in [
            (
                "http://h:9090",
                "http://h:9090/api/v1/query",
                "http://h:9090/api/v1/query_range",
            ),
            (
                "http://h:9090/",
                "http://h:9090/api/v1/query",
                "http://h:9090/api/v1/query_range",
            ),
            (
                "http://h/prom",
                "http://h/prom/api/v1/query",
                "http://h/prom/api/v1/query_range",
            ),
            (
                "http://h/prom/",
                "http://h/prom/api/v1/query",
                "http://h/prom/api/v1/query_range",
            ),
            (
                "http://h/prom/api/v1/query",
                "http://h/prom/api/v1/query",
                "http://h/prom/api/v1/query_range",
            ),
            (
                "http://h/api/v1/query/",
                "http://h/api/v1/query",
                "http://h/api/v1/query_range",
            ),
            (
                "http://h/api/v1/query_range",
                "http://h/api/v1/query",
                "http://h/api/v1/query_range",
            ),
            (
                "http://h/prom?tenant=a",
                "http://h/prom/api/v1/query?tenant=a",
                "http://h/prom/api/v1/query_range?tenant=a",
            ),
        ] {
            assert_eq!(endpoint(url, false).unwrap().as_str(), instant, "{url}");
            assert_eq!(endpoint(url, true).unwrap().as_str(), range, "{url}");
        }
        assert!(endpoint("ftp://h/", false).is_err());
    }

    fn request() -> PrometheusRequest {
        PrometheusRequest::instant("http://h", "up", Duration::from_secs(10))
    }

    fn pairs(form: &[(String, String)]) -> Vec<(&str, &str)> {
        form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    #[test]
    fn an_instant_query_sends_its_time_and_timeout() {
        let now: jiff::Timestamp = "2026-12-01T08:00:00Z".parse().unwrap();
        let sent = form(&request(), now).unwrap();
        assert_eq!(pairs(&sent), [("query", "up"), ("timeout", "10s")]);
        for written in [
            "2026-12-01T07:30:00Z",
            "2026-12-01T08:30:00+01:00",
            "1796110200",
        ] {
            let mut req = request();
            req.time = Some(written.into());
            req.timeout = Duration::from_millis(2500);
            let sent = form(&req, now).unwrap();
            assert_eq!(
                pairs(&sent),
                [
                    ("query", "up"),
                    ("time", "1796110200"),
                    ("timeout", "2500ms")
                ],
                "{written}"
            );
        }
        let mut req = request();
        req.time = Some("yesterday".into());
        assert_eq!(
            form(&req, now).unwrap_err().0,
            "prometheus `time`: `yesterday` is neither an RFC 3339 time (`2026-12-01T08:00:00Z`) nor unix seconds"
        );
    }

    #[test]
    fn a_range_query_ends_now_or_at_end() {
        let now: jiff::Timestamp = "2026-12-01T08:00:00.250Z".parse().unwrap();
        let mut req = request();
        req.range = Some(Range {
            range: Duration::from_secs(15 * 60),
            step: Duration::from_secs(30),
            end: None,
        });
        let sent = form(&req, now).unwrap();
        assert_eq!(
            pairs(&sent),
            [
                ("query", "up"),
                ("start", "1796111100.250"),
                ("end", "1796112000.250"),
                ("step", "30s"),
                ("timeout", "10s"),
            ]
        );
        req.range.as_mut().unwrap().end = Some("1796112000.5".into());
        let sent = form(&req, now).unwrap();
        assert_eq!(sent[1].1, "1796111100.500");
        assert_eq!(sent[2].1, "1796112000.500");
    }

    #[test]
    fn credentials_become_a_sensitive_authorization_header() {
        let mut req = request();
        req.auth = Some(Auth::Bearer("t0k3n".into()));
        let map = headers(&req).unwrap();
        assert_eq!(map[header::AUTHORIZATION], "Bearer t0k3n");
        assert!(map[header::AUTHORIZATION].is_sensitive());
        assert_eq!(map[header::ACCEPT], "application/json");

        req.auth = Some(Auth::Basic {
            username: "admin".into(),
            password: "s3cret".into(),
        });
        let map = headers(&req).unwrap();
        // base64("admin:s3cret")
        assert_eq!(map[header::AUTHORIZATION], "Basic YWRtaW46czNjcmV0");

        req.auth = Some(Auth::Bearer("t0k3n\r\nX-Injected: 1".into()));
        let err = headers(&req).unwrap_err();
        assert!(!err.0.contains("t0k3n"), "{err}");
        assert_eq!(
            err.0,
            "invalid value for `bearer`: a token cannot hold control characters (CR, LF)"
        );

        req.auth = None;
        req.headers = vec![("X-Scope-OrgID".into(), "a\nb".into())];
        assert_eq!(
            headers(&req).unwrap_err().0,
            "invalid value for header `X-Scope-OrgID`"
        );
        req.headers = vec![("X-Scope-OrgID".into(), "tenant-1".into())];
        assert_eq!(headers(&req).unwrap()["x-scope-orgid"], "tenant-1");
    }
}
