//! Alertmanager's webhook payload (version 4), read strictly enough that a malformed one is
//! refused with a reason before anything starts, and bounded so that a hostile one costs
//! little. Everything in it is data from a system: it reaches runs only as `alert`, which
//! expressions treat as untrusted (escaped where it lands, like `steps.*`).
//!
//! The format: <https://prometheus.io/docs/alerting/latest/configuration/#webhook_config>.

use serde::Deserialize;
use serde_json::{Map, Value as Json, json};

/// Alerts read from one notification; Alertmanager's own `max_alerts` is unlimited by default,
/// but a group of more alerts than this is not a page anyone reads alert by alert.
pub const MAX_ALERTS: usize = 1000;
/// Bytes of one notification read at most (the HTTP layer refuses bigger bodies).
pub const MAX_BODY: usize = 4 * 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    group_key: Option<String>,
    #[serde(default)]
    receiver: Option<String>,
    alerts: Vec<RawAlert>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAlert {
    status: Status,
    labels: Map<String, Json>,
    #[serde(default)]
    annotations: Map<String, Json>,
    #[serde(default)]
    starts_at: Option<String>,
    #[serde(default)]
    ends_at: Option<String>,
    #[serde(rename = "generatorURL", default)]
    generator_url: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
}

/// Whether an alert is firing or resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Firing,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }
}

/// One notification.
#[derive(Debug)]
pub struct Notification {
    pub receiver: Option<String>,
    pub group_key: Option<String>,
    pub alerts: Vec<Alert>,
}

/// One alert of a notification.
#[derive(Clone, Debug)]
pub struct Alert {
    pub status: Status,
    pub labels: Map<String, Json>,
    pub fingerprint: String,
    /// `alert` as expressions and `run_started` see it: `labels`, `annotations`, `status`,
    /// `startsAt`, `endsAt`, `fingerprint`, `generatorURL`.
    pub value: Json,
}

impl Alert {
    pub fn name(&self) -> &str {
        self.labels
            .get("alertname")
            .and_then(Json::as_str)
            .unwrap_or("alert")
    }
}

/// Reads a notification; `Err` is the reason it is refused (the 400's body).
pub fn parse(body: &[u8]) -> Result<Notification, String> {
    let raw: Raw = serde_json::from_slice(body)
        .map_err(|e| format!("not an Alertmanager webhook payload: {e}"))?;
    if let Some(version) = raw.version.as_deref()
        && version != "4"
    {
        return Err(format!(
            "payload version `{}` is not supported: Alertmanager's webhook sends version 4",
            crate::escape::controls(version)
        ));
    }
    if raw.alerts.len() > MAX_ALERTS {
        return Err(format!(
            "{} alerts in one notification: at most {MAX_ALERTS} are read",
            raw.alerts.len()
        ));
    }
    let mut alerts = Vec::with_capacity(raw.alerts.len());
    for (index, alert) in raw.alerts.into_iter().enumerate() {
        if let Some((name, value)) = alert.labels.iter().find(|(_, v)| !v.is_string()) {
            return Err(format!(
                "alerts[{index}].labels.{}: a label value is a string, found {}",
                crate::escape::controls(name),
                kind(value)
            ));
        }
        if let Some((name, value)) = alert.annotations.iter().find(|(_, v)| !v.is_string()) {
            return Err(format!(
                "alerts[{index}].annotations.{}: an annotation is a string, found {}",
                crate::escape::controls(name),
                kind(value)
            ));
        }
        let fingerprint = match alert.fingerprint.filter(|f| !f.trim().is_empty()) {
            Some(f) if f.len() <= 128 => f,
            Some(_) => {
                return Err(format!(
                    "alerts[{index}].fingerprint is longer than 128 characters"
                ));
            }
            // Alertmanager always sends one; a hand-written payload may not: the labels are
            // what identify an alert, so they make its fingerprint.
            None => fingerprint_of(&alert.labels),
        };
        let value = json!({
            "status": alert.status.as_str(),
            "labels": alert.labels,
            "annotations": alert.annotations,
            "startsAt": alert.starts_at.unwrap_or_default(),
            "endsAt": alert.ends_at.unwrap_or_default(),
            "generatorURL": alert.generator_url.unwrap_or_default(),
            "fingerprint": fingerprint,
        });
        alerts.push(Alert {
            status: alert.status,
            labels: alert.labels,
            fingerprint,
            value,
        });
    }
    Ok(Notification {
        receiver: raw.receiver,
        group_key: raw.group_key,
        alerts,
    })
}

/// 16 hex digits of the SHA-256 of the sorted labels.
fn fingerprint_of(labels: &Map<String, Json>) -> String {
    use sha2::{Digest, Sha256};
    let mut sorted: Vec<(&String, &Json)> = labels.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut hash = Sha256::new();
    for (name, value) in sorted {
        hash.update(name.as_bytes());
        hash.update([0xff]);
        hash.update(value.as_str().unwrap_or_default().as_bytes());
        hash.update([0xff]);
    }
    hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of Alertmanager's documentation, as a real Alertmanager 0.25 sends it.
    const REAL: &str = r#"{"receiver":"runbook","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"LoadBalancer502","instance":"127.0.0.1:8080","job":"sim","severity":"page"},"annotations":{"summary":"5xx ratio 0.38"},"startsAt":"2026-12-01T09:00:00.000Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://127.0.0.1:9090/graph?g0.expr=lb_http_5xx_ratio+%3E+0.05","fingerprint":"c0ffee0123456789"}],"groupLabels":{"alertname":"LoadBalancer502"},"commonLabels":{"alertname":"LoadBalancer502"},"commonAnnotations":{},"externalURL":"http://127.0.0.1:9093","version":"4","groupKey":"{}:{alertname=\"LoadBalancer502\"}","truncatedAlerts":0}"#;

    #[test]
    fn a_real_notification_is_read() {
        let n = parse(REAL.as_bytes()).unwrap();
        assert_eq!(n.receiver.as_deref(), Some("runbook"));
        let alert = &n.alerts[0];
        assert_eq!(alert.status, Status::Firing);
        assert_eq!(alert.fingerprint, "c0ffee0123456789");
        assert_eq!(alert.name(), "LoadBalancer502");
        assert_eq!(alert.value["labels"]["severity"], "page");
        assert_eq!(alert.value["annotations"]["summary"], "5xx ratio 0.38");
        assert_eq!(alert.value["startsAt"], "2026-12-01T09:00:00.000Z");
        assert!(
            alert.value["generatorURL"]
                .as_str()
                .unwrap()
                .starts_with("http://127.0.0.1:9090/")
        );
    }

    #[test]
    fn malformed_payloads_are_refused_with_a_reason() {
        let reason = |body: &str| parse(body.as_bytes()).unwrap_err();
        assert!(reason("{").starts_with("not an Alertmanager webhook payload"));
        assert!(reason(r#"{"version":"4"}"#).contains("missing field `alerts`"));
        assert!(reason(r#"{"version":"3","alerts":[]}"#).contains("version `3` is not supported"));
        assert!(
            reason(r#"{"alerts":[{"status":"burning","labels":{}}]}"#)
                .contains("unknown variant `burning`")
        );
        assert!(
            reason(r#"{"alerts":[{"status":"firing","labels":{"a":1}}]}"#)
                .contains("alerts[0].labels.a: a label value is a string, found a number")
        );
    }

    #[test]
    fn a_missing_fingerprint_comes_from_the_labels() {
        let a = parse(br#"{"alerts":[{"status":"firing","labels":{"a":"1","b":"2"}}]}"#).unwrap();
        let b = parse(br#"{"alerts":[{"status":"firing","labels":{"b":"2","a":"1"}}]}"#).unwrap();
        assert_eq!(a.alerts[0].fingerprint, b.alerts[0].fingerprint);
        assert_eq!(a.alerts[0].fingerprint.len(), 16);
    }
}
