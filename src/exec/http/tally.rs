//! What the samples of an `http` step came to: counts by status and error, the rates, the
//! latency percentiles, the result fields and the one-line summary.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::{Map, Value as Json};

use super::{Answer, Sample, naming, round_ms, status_text, unsent_message};
use crate::duration;
use crate::exec::{BODY_CAP, ExecOutput, ProgressUpdate, RequestPhase};

/// What the samples came to so far.
#[derive(Default)]
pub(in crate::exec) struct Tally {
    count: u32,
    status_counts: BTreeMap<u16, u32>,
    errors: BTreeMap<String, u32>,
    error_count: u32,
    /// The step's timeout, which the messages name.
    timeout: Duration,
    /// Requests the deadline left unsent (in no rate, not in `errors`).
    unsent: u32,
    /// Requests the deadline cut off before they had waited half the timeout (in no rate).
    cut_off: u32,
    /// Responses whose body went past the cap.
    truncated: u32,
    /// Latencies of the requests that got a response, in ms.
    latencies: Vec<f64>,
    last: Option<Answer>,
}

impl Tally {
    /// An empty tally for a step with this timeout.
    pub(in crate::exec) fn new(timeout: Duration) -> Self {
        Tally {
            timeout,
            ..Tally::default()
        }
    }

    pub(in crate::exec) fn add(&mut self, outcome: Sample) {
        self.count += 1;
        match outcome {
            Sample::Answer(answer) => {
                *self
                    .status_counts
                    .entry(answer.status.as_u16())
                    .or_default() += 1;
                self.latencies.push(answer.latency.as_secs_f64() * 1000.0);
                self.truncated += u32::from(answer.truncated);
                self.last = Some(answer);
            }
            Sample::Failed(message) => {
                self.error_count += 1;
                *self.errors.entry(message).or_default() += 1;
            }
            Sample::Unsent => self.unsent += 1,
            Sample::CutOff => self.cut_off += 1,
        }
    }

    fn count_5xx(&self) -> u32 {
        self.status_counts
            .iter()
            .filter(|(code, _)| (500..600).contains(*code))
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests that got an HTTP answer.
    fn responses(&self) -> u32 {
        self.status_counts.values().sum()
    }

    /// 5xx answers over answers; None when nothing answered.
    fn rate_5xx(&self) -> Option<f64> {
        ratio(self.count_5xx(), self.responses())
    }

    /// Failures of any kind over the requests that were sent; None when none was.
    fn rate_error(&self) -> Option<f64> {
        ratio(
            self.count_5xx() + self.error_count,
            self.responses() + self.error_count,
        )
    }

    /// Where the probe stands, for the live line (see `live.rs`): `failed` counts what users
    /// would see fail, as `rate_error` does (5xx answers and requests without one).
    pub(in crate::exec) fn progress(
        &self,
        total: u32,
        in_flight: u32,
        phase: Option<RequestPhase>,
    ) -> ProgressUpdate {
        ProgressUpdate::Samples {
            done: self.count,
            total,
            in_flight,
            failed: self.count_5xx() + self.error_count,
            phase,
            rate_5xx: self.rate_5xx().unwrap_or(0.0),
            p95_ms: self.percentile(95.0),
        }
    }

    /// `status_counts` as a result field: `{"502": n, ...}`.
    fn status_counts_json(&self) -> Map<String, Json> {
        self.status_counts
            .iter()
            .map(|(code, n)| (code.to_string(), Json::from(*n)))
            .collect()
    }

    /// What the requests that finished came to, for a probe cut short: the counts and the
    /// percentiles of the finished requests, under the names the finished step uses. Error
    /// messages are counted bare here (without the URL, which the record has beside them).
    pub(in crate::exec) fn partial_fields(&self) -> Map<String, Json> {
        let mut fields = Map::new();
        fields.insert("count".into(), self.count.into());
        fields.insert("responses".into(), self.responses().into());
        fields.insert("status_counts".into(), self.status_counts_json().into());
        fields.insert("error_count".into(), self.error_count.into());
        let errors: Map<String, Json> = self
            .errors_by_count()
            .into_iter()
            .map(|(message, n)| (message.clone(), Json::from(n)))
            .collect();
        fields.insert("errors".into(), errors.into());
        fields.insert("rate_5xx".into(), self.rate_5xx().into());
        fields.insert("rate_error".into(), self.rate_error().into());
        fields.insert("p50_ms".into(), self.percentile(50.0).into());
        fields.insert("p95_ms".into(), self.percentile(95.0).into());
        fields.insert("p99_ms".into(), self.percentile(99.0).into());
        fields.insert("max_ms".into(), self.percentile(100.0).into());
        fields
    }

    /// Nearest-rank percentile of the latencies, rounded to 0.1 ms.
    fn percentile(&self, p: f64) -> Option<f64> {
        percentile(&self.latencies, p)
    }

    /// Errors, most common first.
    fn errors_by_count(&self) -> Vec<(&String, u32)> {
        let mut errors: Vec<_> = self.errors.iter().map(|(m, n)| (m, *n)).collect();
        errors.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        errors
    }

    /// The result fields and summary. Messages of requests that got no answer name `url`, the
    /// URL every sample fetched (see [`naming`]); they are counted bare until here.
    pub(in crate::exec) fn output(self, url: &str, method: &str) -> ExecOutput {
        let p95 = self.percentile(95.0);
        // Without a single answer there is no evidence that anything works.
        let ok = self.error_count == 0
            && self.responses() > 0
            && self.status_counts.keys().all(|code| *code < 400);
        let summary = self.summary(p95, url);

        let mut fields = Map::new();
        let last_status = self.last.as_ref().map(|a| a.status.as_u16());
        fields.insert("status".into(), last_status.into());
        fields.insert("count".into(), self.count.into());
        fields.insert("responses".into(), self.responses().into());
        fields.insert("not_sent".into(), self.unsent.into());
        fields.insert("cut_off".into(), self.cut_off.into());
        fields.insert("status_counts".into(), self.status_counts_json().into());
        fields.insert("error_count".into(), self.error_count.into());
        let errors: Map<String, Json> = self
            .errors_by_count()
            .into_iter()
            .map(|(message, n)| (naming(message, url), Json::from(n)))
            .collect();
        fields.insert("errors".into(), errors.into());
        fields.insert("rate_5xx".into(), self.rate_5xx().into());
        fields.insert("rate_error".into(), self.rate_error().into());
        fields.insert("p50_ms".into(), self.percentile(50.0).into());
        fields.insert("p95_ms".into(), p95.into());
        fields.insert("p99_ms".into(), self.percentile(99.0).into());
        fields.insert("max_ms".into(), self.percentile(100.0).into());
        match &self.last {
            Some(answer) => {
                let body = String::from_utf8_lossy(&answer.body).into_owned();
                let json = serde_json::from_str::<Json>(&body).unwrap_or(Json::Null);
                fields.insert("body".into(), body.into());
                fields.insert("body_truncated".into(), answer.truncated.into());
                fields.insert("json".into(), json);
                fields.insert("headers".into(), headers_json(&answer.headers).into());
            }
            None => {
                fields.insert("body".into(), Json::Null);
                fields.insert("body_truncated".into(), false.into());
                fields.insert("json".into(), Json::Null);
                fields.insert("headers".into(), Json::Null);
            }
        }
        fields.insert("url".into(), super::shown_url(url).into());
        fields.insert("method".into(), method.into());
        ExecOutput {
            fields,
            summary,
            ok,
        }
    }

    /// One line, leading with what users would see: the share of sent requests that failed
    /// for any reason and how, then the other answers and latency, then what was never sent:
    /// `failed 100%: 10 timed out after 3 s waiting for response headers, 50 not sent`,
    /// `failed 38%: 502 x19, 200 x31, p95 12 ms`.
    fn summary(&self, p95: Option<f64>, url: &str) -> String {
        let cap = cap_text();
        if self.count == 1 {
            return match (&self.last, self.errors.keys().next()) {
                (Some(answer), _) => {
                    let mut text = format!(
                        "{} in {}",
                        status_text(answer.status),
                        // From the recorded `max_ms`, so the line and the fields agree.
                        duration::human_ms(round_ms(answer.latency.as_secs_f64() * 1000.0))
                    );
                    if answer.truncated {
                        text.push_str(&format!(", body exceeds {cap} cap"));
                    }
                    text
                }
                (None, Some(message)) => naming(message, url),
                (None, None) if self.unsent + self.cut_off > 0 => {
                    naming(&unsent_message(self.timeout), url)
                }
                (None, None) => "no request sent".to_string(),
            };
        }
        let mut by_count: Vec<(u16, u32)> =
            self.status_counts.iter().map(|(c, n)| (*c, *n)).collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let (failed_codes, other_codes): (Vec<_>, Vec<_>) = by_count
            .into_iter()
            .partition(|(code, _)| (500..600).contains(code));
        let mut parts = Vec::new();
        parts.extend(failed_codes.iter().map(|(code, n)| format!("{code} x{n}")));
        parts.extend(
            self.errors_by_count()
                .into_iter()
                .map(|(message, n)| format!("{n} {}", naming(message, url))),
        );
        parts.extend(other_codes.iter().map(|(code, n)| format!("{code} x{n}")));
        if let Some(p95) = p95 {
            parts.push(format!("p95 {}", duration::human_ms(p95)));
        }
        match self.truncated {
            0 => {}
            1 => parts.push(format!("1 body exceeds {cap} cap")),
            n => parts.push(format!("{n} bodies exceed {cap} cap")),
        }
        if self.cut_off > 0 {
            parts.push(format!("{} cut off at the deadline", self.cut_off));
        }
        if self.unsent > 0 {
            parts.push(format!("{} not sent", self.unsent));
        }
        let head = match self.rate_error() {
            Some(rate) => format!("failed {}", percent(rate)),
            None => "nothing sent".to_string(),
        };
        format!("{head}: {}", parts.join(", "))
    }
}

/// `n / of`, or None when `of` is 0: a rate over nothing is no evidence.
fn ratio(n: u32, of: u32) -> Option<f64> {
    (of > 0).then(|| f64::from(n) / f64::from(of))
}

/// `1 MiB`: the body cap as the summary names it.
fn cap_text() -> String {
    format!("{} MiB", BODY_CAP / (1024 * 1024))
}

/// Nearest-rank percentile (`p` in 0..=100), rounded to 0.1 ms; None without samples.
fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    let index = rank.clamp(1, samples.len()) - 1;
    // Selecting the rank is linear; sorting all latencies for it was not.
    let mut copy = samples.to_vec();
    let (_, value, _) = copy.select_nth_unstable_by(index, f64::total_cmp);
    Some(round_ms(*value))
}

/// `38%`, `2%`, `0.3%`: whole percents unless that would hide a small rate.
fn percent(rate: f64) -> String {
    let pct = rate * 100.0;
    if pct >= 10.0 || pct == 0.0 || (pct - pct.round()).abs() < 1e-9 {
        format!("{}%", pct.round())
    } else {
        let text = format!("{pct:.1}");
        format!("{}%", text.trim_end_matches(".0"))
    }
}

fn headers_json(headers: &HeaderMap) -> Map<String, Json> {
    let mut map = Map::new();
    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        map.insert(name.as_str().to_string(), values.join(", ").into());
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&samples, 50.0), Some(10.0));
        assert_eq!(percentile(&samples, 95.0), Some(19.0));
        assert_eq!(percentile(&samples, 99.0), Some(20.0));
        assert_eq!(percentile(&samples, 100.0), Some(20.0));
        assert_eq!(percentile(&[1.26], 50.0), Some(1.3));
        assert_eq!(percentile(&[], 50.0), None);
    }

    /// README, `http` fields: "`rate_error` [...] null when nothing was sent; `not_sent` and
    /// `cut_off` count in no rate", and "`rate_5xx` [...] null when nothing answered".
    #[test]
    fn unsent_and_cut_off_requests_count_in_no_rate() {
        let mut nothing_sent = Tally::new(Duration::from_secs(1));
        for _ in 0..3 {
            nothing_sent.add(Sample::Unsent);
        }
        nothing_sent.add(Sample::CutOff);
        let out = nothing_sent.output("http://x/", "GET");
        let f = &out.fields;
        assert_eq!(
            (&f["count"], &f["responses"], &f["not_sent"], &f["cut_off"]),
            (
                &Json::from(4),
                &Json::from(0),
                &Json::from(3),
                &Json::from(1)
            )
        );
        assert_eq!(
            (&f["rate_error"], &f["rate_5xx"]),
            (&Json::Null, &Json::Null)
        );
        assert_eq!(f["status"], Json::Null);
        assert!(!out.ok, "nothing answered is no evidence");

        let mut one_failure = Tally::new(Duration::from_secs(1));
        one_failure.add(Sample::Failed("connection refused".into()));
        one_failure.add(Sample::CutOff);
        one_failure.add(Sample::Unsent);
        let f = one_failure.output("http://x/", "GET").fields;
        assert_eq!(
            f["rate_error"], 1.0,
            "the cut-off and unsent requests are in no rate"
        );
        assert_eq!(f["error_count"], 1);
        assert_eq!(f["rate_5xx"], Json::Null);
    }

    #[test]
    fn percents_read_naturally() {
        assert_eq!(percent(0.38), "38%");
        assert_eq!(percent(1.0 / 3.0), "33%");
        assert_eq!(percent(0.02), "2%");
        assert_eq!(percent(1.0 / 300.0), "0.3%");
        assert_eq!(percent(0.0), "0%");
    }
}
