//! Instant PromQL queries over the simulator's current samples.
//!
//! The simulator keeps one value per series and no history, so only the part of PromQL that
//! an instant lookup can answer truthfully is evaluated: vector selectors, the aggregations
//! `sum`, `avg`, `min`, `max` and `count` (with `by`/`without`), parentheses and number
//! literals. Everything else is refused with `bad_data`: a runbook that passes against the
//! simulator must never do so because the simulator invented a number a real Prometheus
//! would not return.
//!
//! Responses follow the Prometheus HTTP API (`/api/v1/query`) byte for byte where it matters
//! to a client: the envelope, the label maps, and Go's float formatting of values.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{self, AggregateExpr, Expr, LabelModifier, VectorSelector};
use serde_json::{Value, json};

/// The label that carries the metric name, as in Prometheus.
const METRIC_NAME: &str = "__name__";

/// A label set; ordered so that results and exposition output are deterministic.
type Labels = BTreeMap<String, String>;

/// One series of the simulator at the current instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name, e.g. `node_cpu_utilization`.
    pub metric: String,
    /// Labels other than the metric name. A label with an empty value counts as absent, as
    /// in Prometheus.
    pub labels: BTreeMap<String, String>,
    /// Current value.
    pub value: f64,
}

/// The value of an instant query.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryResult {
    /// An instant vector, sorted by label set. Plain selectors keep `__name__` in the label
    /// map; aggregations drop it unless it is grouped `by`.
    Vector(Vec<(BTreeMap<String, String>, f64)>),
    /// A scalar, from a number literal.
    Scalar(f64),
}

/// Why a query was refused, in the terms of the Prometheus HTTP API.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{error_type}: {message}")]
pub struct QueryError {
    /// Prometheus `errorType`: `bad_data` for parse errors and unsupported constructs.
    pub error_type: &'static str,
    /// Prometheus `error`, the human-readable reason.
    pub message: String,
}

impl QueryError {
    fn bad_data(message: impl Into<String>) -> Self {
        Self {
            error_type: "bad_data",
            message: message.into(),
        }
    }

    fn unsupported(what: &str) -> Self {
        Self::bad_data(format!(
            "the runbook simulator does not support {what}; it evaluates only vector \
             selectors, sum/avg/min/max/count aggregations with by/without, parentheses \
             and number literals"
        ))
    }
}

/// Parses `query` as PromQL and evaluates it against the current `samples`.
///
/// Vector results are sorted by label set.
pub fn evaluate(query: &str, samples: &[Sample]) -> Result<QueryResult, QueryError> {
    let expr = parser::parse(query).map_err(|msg| {
        // The same prefix Prometheus puts on parse errors, so a client's error handling and
        // a person reading the message both see what they would see against the real server.
        QueryError::bad_data(format!("invalid parameter \"query\": parse error: {msg}"))
    })?;
    let mut result = eval(&expr, samples)?;
    if let QueryResult::Vector(series) = &mut result {
        series.sort_by(|a, b| a.0.cmp(&b.0));
    }
    Ok(result)
}

fn eval(expr: &Expr, samples: &[Sample]) -> Result<QueryResult, QueryError> {
    match expr {
        Expr::NumberLiteral(number) => Ok(QueryResult::Scalar(number.val)),
        Expr::Paren(paren) => eval(&paren.expr, samples),
        Expr::VectorSelector(selector) => select(selector, samples).map(QueryResult::Vector),
        Expr::Aggregate(aggregate) => eval_aggregate(aggregate, samples),
        // The parser folds `-1` into a number literal; what is left here negates an expression.
        Expr::Unary(_) => Err(QueryError::unsupported("unary minus")),
        Expr::Binary(binary) => Err(QueryError::unsupported(&format!(
            "binary operators ('{}')",
            binary.op
        ))),
        Expr::Subquery(_) => Err(QueryError::unsupported("subqueries")),
        Expr::StringLiteral(_) => Err(QueryError::unsupported("string literals")),
        Expr::MatrixSelector(_) => Err(QueryError::unsupported(
            "range selectors (the simulator keeps no history)",
        )),
        Expr::Call(call) => Err(QueryError::unsupported(&format!(
            "functions ('{}()')",
            call.func.name
        ))),
        Expr::Extension(_) => Err(QueryError::unsupported("extension expressions")),
    }
}

fn select(selector: &VectorSelector, samples: &[Sample]) -> Result<Vec<(Labels, f64)>, QueryError> {
    if selector.offset.is_some() {
        return Err(QueryError::unsupported(
            "the offset modifier (the simulator keeps no history)",
        ));
    }
    if selector.at.is_some() {
        return Err(QueryError::unsupported(
            "the @ modifier (the simulator keeps no history)",
        ));
    }
    // `{a="x" or b="y"}` is a promql-parser extension, not PromQL.
    if !selector.matchers.or_matchers.is_empty() {
        return Err(QueryError::unsupported("'or' inside label matchers"));
    }
    let matchers: Vec<LabelTest> = selector.matchers.matchers.iter().map(label_test).collect();
    let matched = samples
        .iter()
        .filter(|sample| {
            selector
                .name
                .as_ref()
                .is_none_or(|name| *name == sample.metric)
                && matchers.iter().all(|matcher| matcher.matches(sample))
        })
        .map(|sample| (series_labels(sample), sample.value))
        .collect();
    Ok(matched)
}

/// A label matcher ready to be run against every sample.
struct LabelTest<'a> {
    name: &'a str,
    test: Box<dyn Fn(&str) -> bool + 'a>,
}

impl LabelTest<'_> {
    fn matches(&self, sample: &Sample) -> bool {
        // An absent label matches as the empty string, as in Prometheus (`{zone=""}` selects
        // series without `zone`).
        let value = if self.name == METRIC_NAME {
            sample.metric.as_str()
        } else {
            sample.labels.get(self.name).map_or("", String::as_str)
        };
        (self.test)(value)
    }
}

fn label_test(matcher: &Matcher) -> LabelTest<'_> {
    let test: Box<dyn Fn(&str) -> bool + '_> = match &matcher.op {
        MatchOp::Equal => Box::new(|value| value == matcher.value),
        MatchOp::NotEqual => Box::new(|value| value != matcher.value),
        MatchOp::Re(regex) => {
            let regex = dot_matches_newline(regex);
            Box::new(move |value| regex.is_match(value))
        }
        MatchOp::NotRe(regex) => {
            let regex = dot_matches_newline(regex);
            Box::new(move |value| !regex.is_match(value))
        }
    };
    LabelTest {
        name: &matcher.name,
        test,
    }
}

/// The parser anchors regexes as `^(?:...)$` (and escapes Go-style literal braces) but leaves
/// `.` unable to match `\n`, whereas Prometheus 3 compiles matchers with `(?s)`. Recompiling
/// through `FromStr` gives the parser's regex type back without naming the `regex` crate,
/// which is not a direct dependency.
fn dot_matches_newline<R: std::str::FromStr + Clone + std::fmt::Display>(regex: &R) -> R {
    format!("(?s){regex}")
        .parse()
        .unwrap_or_else(|_| regex.clone())
}

/// The label set Prometheus would store for `sample`: empty values dropped, name included.
fn series_labels(sample: &Sample) -> Labels {
    let mut labels: Labels = sample
        .labels
        .iter()
        .filter(|(name, value)| !value.is_empty() && name.as_str() != METRIC_NAME)
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    labels.insert(METRIC_NAME.to_string(), sample.metric.clone());
    labels
}

#[derive(Clone, Copy)]
enum AggregateOp {
    Sum,
    Avg,
    Min,
    Max,
    Count,
}

fn eval_aggregate(
    aggregate: &AggregateExpr,
    samples: &[Sample],
) -> Result<QueryResult, QueryError> {
    let name = aggregate.op.to_string();
    let op = match name.as_str() {
        "sum" => AggregateOp::Sum,
        "avg" => AggregateOp::Avg,
        "min" => AggregateOp::Min,
        "max" => AggregateOp::Max,
        "count" => AggregateOp::Count,
        _ => {
            return Err(QueryError::unsupported(&format!(
                "the '{name}' aggregation"
            )));
        }
    };
    if aggregate.param.is_some() {
        return Err(QueryError::unsupported(&format!("a parameter to '{name}'")));
    }
    let QueryResult::Vector(input) = eval(&aggregate.expr, samples)? else {
        // The parser already rejects `sum(1)`; kept so a scalar can never be aggregated.
        return Err(QueryError::bad_data(format!(
            "expected type instant vector in aggregation expression '{name}', got scalar"
        )));
    };
    let mut groups: BTreeMap<Labels, Vec<f64>> = BTreeMap::new();
    for (labels, value) in input {
        groups
            .entry(group_key(&labels, aggregate.modifier.as_ref()))
            .or_default()
            .push(value);
    }
    let output = groups
        .into_iter()
        .map(|(labels, values)| {
            let value = match op {
                AggregateOp::Sum => sum(&values),
                AggregateOp::Avg => avg(&values),
                AggregateOp::Min => min(&values),
                AggregateOp::Max => max(&values),
                AggregateOp::Count => values.len() as f64,
            };
            (labels, value)
        })
        .collect();
    Ok(QueryResult::Vector(output))
}

fn group_key(labels: &Labels, modifier: Option<&LabelModifier>) -> Labels {
    match modifier {
        None => Labels::new(),
        // `by (__name__)` keeps the name, as in Prometheus; absent labels stay absent.
        Some(LabelModifier::Include(by)) => labels
            .iter()
            .filter(|(name, _)| by.labels.contains(name))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
        Some(LabelModifier::Exclude(without)) => labels
            .iter()
            .filter(|(name, _)| name.as_str() != METRIC_NAME && !without.labels.contains(name))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
    }
}

/// Prometheus's `kahanSumInc`: Kahan-Babuska-Neumaier summation, so `sum` and `avg` give the
/// same last digits as the real server (0.1 + 0.2 + 0.3 is 0.6 there, not 0.6000000000000001).
fn kahan_sum_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

fn sum(values: &[f64]) -> f64 {
    let (sum, c) = values
        .iter()
        .fold((0.0, 0.0), |(sum, c), &value| kahan_sum_inc(value, sum, c));
    sum + c
}

/// Prometheus's `avg`: a compensated sum divided by the count, switching to an incremental
/// mean only when the sum overflows.
fn avg(values: &[f64]) -> f64 {
    let Some((&first, rest)) = values.split_first() else {
        return f64::NAN;
    };
    let (mut sum, mut c) = (first, 0.0);
    let mut mean = 0.0;
    let mut incremental = false;
    let mut count = 1.0;
    for &value in rest {
        count += 1.0;
        if !incremental {
            let (next_sum, next_c) = kahan_sum_inc(value, sum, c);
            if !next_sum.is_infinite() {
                (sum, c) = (next_sum, next_c);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        if mean.is_infinite() {
            // Inf - Inf would turn a correct infinite mean into NaN.
            let same_infinity = value.is_infinite() && (mean > 0.0) == (value > 0.0);
            if same_infinity || value.is_finite() {
                continue;
            }
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_sum_inc(value / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        sum / count + c / count
    }
}

/// Prometheus's `min`: NaN only when every value is NaN.
fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NAN, |acc, value| {
        if acc > value || acc.is_nan() {
            value
        } else {
            acc
        }
    })
}

/// Prometheus's `max`: NaN only when every value is NaN.
fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NAN, |acc, value| {
        if acc < value || acc.is_nan() {
            value
        } else {
            acc
        }
    })
}

/// The HTTP status and body Prometheus returns from `/api/v1/query` for `result`, evaluated
/// at `eval_time_secs` (Unix seconds; rendered with millisecond precision, as Prometheus does).
pub fn response_json(
    result: &Result<QueryResult, QueryError>,
    eval_time_secs: f64,
) -> (u16, Value) {
    let time = timestamp(eval_time_secs);
    match result {
        Ok(QueryResult::Vector(series)) => {
            let mut series: Vec<&(Labels, f64)> = series.iter().collect();
            series.sort_by(|a, b| a.0.cmp(&b.0));
            let result: Vec<Value> = series
                .into_iter()
                .map(|(labels, value)| {
                    json!({"metric": labels, "value": [time.clone(), api_value(*value)]})
                })
                .collect();
            (
                200,
                json!({"status": "success", "data": {"resultType": "vector", "result": result}}),
            )
        }
        Ok(QueryResult::Scalar(value)) => (
            200,
            json!({
                "status": "success",
                "data": {"resultType": "scalar", "result": [time, api_value(*value)]},
            }),
        ),
        Err(error) => (
            error_status(error.error_type),
            json!({"status": "error", "errorType": error.error_type, "error": error.message}),
        ),
    }
}

/// The status codes of Prometheus's `web/api/v1` for each `errorType`.
fn error_status(error_type: &str) -> u16 {
    match error_type {
        "bad_data" => 400,
        "not_found" => 404,
        "execution" => 422,
        "canceled" => 499,
        "timeout" | "unavailable" => 503,
        _ => 500,
    }
}

/// Prometheus writes sample times as seconds with at most three decimals and no `.0` on whole
/// seconds (`1700000000`, `1700000000.5`).
fn timestamp(secs: f64) -> Value {
    let millis = (secs * 1000.0).round();
    if !millis.is_finite() {
        return Value::from(0);
    }
    if millis % 1000.0 == 0.0 {
        Value::from((millis / 1000.0) as i64)
    } else {
        Value::from(millis / 1000.0)
    }
}

fn special_float(value: f64) -> Option<&'static str> {
    if value.is_nan() {
        Some("NaN")
    } else if value == f64::INFINITY {
        Some("+Inf")
    } else if value == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

/// Go's `strconv.FormatFloat(value, 'e', -1, 64)` for a finite value: `1e-07`, `1.5e+21`.
fn go_exponent(value: f64) -> String {
    let rust = format!("{value:e}");
    let (mantissa, exponent) = rust.split_once('e').unwrap_or((&rust, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
}

/// A sample value as the Prometheus API writes it: shortest decimal, exponent form only for
/// very small or very large magnitudes (Prometheus's `jsonutil.MarshalFloat`).
fn api_value(value: f64) -> String {
    if let Some(special) = special_float(value) {
        return special.to_string();
    }
    let magnitude = value.abs();
    if magnitude != 0.0 && !(1e-6..1e21).contains(&magnitude) {
        go_exponent(value)
    } else {
        // Rust's `Display` for f64 is the shortest round-trip decimal without exponent, which
        // is Go's `'f'` format with precision -1.
        format!("{value}")
    }
}

/// A sample value as the text exposition format writes it: Go's `'g'` format with precision
/// -1, which switches to an exponent below 1e-4 and from 1e6 up (`1e+06`).
fn exposition_value(value: f64) -> String {
    if let Some(special) = special_float(value) {
        return special.to_string();
    }
    let scientific = format!("{value:e}");
    let exponent: i32 = scientific
        .split_once('e')
        .and_then(|(_, exponent)| exponent.parse().ok())
        .unwrap_or(0);
    if value != 0.0 && !(-4..6).contains(&exponent) {
        go_exponent(value)
    } else {
        format!("{value}")
    }
}

/// Escapes a label value for the text exposition format.
fn escape_label_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for ch in value.chars() {
        match ch {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            _ => escaped.push(ch),
        }
    }
    escaped
}

/// Renders `samples` in the Prometheus text exposition format (for `/prometheus/metrics`):
/// one `# TYPE <name> gauge` line per metric, then its series sorted by label set.
pub fn exposition(samples: &[Sample]) -> String {
    let mut metrics: BTreeMap<&str, Vec<(Labels, f64)>> = BTreeMap::new();
    for sample in samples {
        let mut labels = series_labels(sample);
        labels.remove(METRIC_NAME);
        metrics
            .entry(sample.metric.as_str())
            .or_default()
            .push((labels, sample.value));
    }
    let mut out = String::new();
    for (metric, mut series) in metrics {
        series.sort_by(|a, b| a.0.cmp(&b.0));
        let _ = writeln!(out, "# TYPE {metric} gauge");
        for (labels, value) in series {
            out.push_str(metric);
            if !labels.is_empty() {
                let pairs: Vec<String> = labels
                    .iter()
                    .map(|(name, value)| format!("{name}=\"{}\"", escape_label_value(value)))
                    .collect();
                let _ = write!(out, "{{{}}}", pairs.join(","));
            }
            let _ = writeln!(out, " {}", exposition_value(value));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(metric: &str, labels: &[(&str, &str)], value: f64) -> Sample {
        Sample {
            metric: metric.to_string(),
            labels: labels
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
            value,
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    /// 4 series of `node_cpu_utilization` in 2 groups, plus an unrelated metric.
    fn fixture() -> Vec<Sample> {
        vec![
            sample(
                "node_cpu_utilization",
                &[("group", "api"), ("instance", "api-1"), ("job", "node")],
                0.2,
            ),
            sample(
                "node_cpu_utilization",
                &[("group", "api"), ("instance", "api-2"), ("job", "node")],
                0.34,
            ),
            sample(
                "node_cpu_utilization",
                &[("group", "db"), ("instance", "db-1"), ("job", "node")],
                0.9,
            ),
            sample(
                "node_cpu_utilization",
                &[("group", "db"), ("instance", "db-2"), ("job", "node")],
                0.5,
            ),
            sample(
                "http_requests_in_flight",
                &[("instance", "api-1"), ("job", "api")],
                7.0,
            ),
        ]
    }

    fn vector(query: &str) -> Vec<(Labels, f64)> {
        match evaluate(query, &fixture()) {
            Ok(QueryResult::Vector(series)) => series,
            other => panic!("{query}: expected a vector, got {other:?}"),
        }
    }

    fn single(query: &str) -> f64 {
        let series = vector(query);
        assert_eq!(series.len(), 1, "{query}: {series:?}");
        assert_eq!(
            series[0].0,
            Labels::new(),
            "{query}: aggregate without grouping"
        );
        series[0].1
    }

    fn instances(query: &str) -> Vec<String> {
        vector(query)
            .into_iter()
            .map(|(labels, _)| labels["instance"].clone())
            .collect()
    }

    fn assert_close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() < 1e-12,
            "expected {expected}, got {actual}"
        );
    }

    fn bad_data(query: &str) -> QueryError {
        let error = evaluate(query, &fixture()).expect_err(query);
        assert_eq!(error.error_type, "bad_data", "{query}: {error:?}");
        error
    }

    #[test]
    fn plain_selector_returns_series_with_name_sorted_by_labels() {
        let series = vector("node_cpu_utilization");
        assert_eq!(series.len(), 4);
        assert_eq!(
            series[0].0,
            labels(&[
                ("__name__", "node_cpu_utilization"),
                ("group", "api"),
                ("instance", "api-1"),
                ("job", "node"),
            ])
        );
        assert_eq!(series[0].1, 0.2);
        assert_eq!(
            instances("node_cpu_utilization"),
            ["api-1", "api-2", "db-1", "db-2"]
        );
    }

    #[test]
    fn equality_and_inequality_matchers() {
        assert_eq!(
            instances(r#"node_cpu_utilization{group="db"}"#),
            ["db-1", "db-2"]
        );
        assert_eq!(
            instances(r#"node_cpu_utilization{group!="db"}"#),
            ["api-1", "api-2"]
        );
        assert_eq!(
            instances(r#"node_cpu_utilization{group="db",instance!="db-1"}"#),
            ["db-2"]
        );
    }

    #[test]
    fn regex_matchers_are_fully_anchored() {
        assert_eq!(
            instances(r#"node_cpu_utilization{instance=~"db-.*"}"#),
            ["db-1", "db-2"]
        );
        // Unanchored, `api` would match every api instance.
        assert!(vector(r#"node_cpu_utilization{instance=~"api"}"#).is_empty());
        assert!(vector(r#"node_cpu_utilization{instance=~"pi-1"}"#).is_empty());
        assert_eq!(
            instances(r#"node_cpu_utilization{instance!~"api-.*|db-1"}"#),
            ["db-2"]
        );
        assert_eq!(
            instances(r#"node_cpu_utilization{instance=~"api-1|db-2"}"#),
            ["api-1", "db-2"]
        );
    }

    #[test]
    fn regex_dot_matches_newline_as_in_prometheus_3() {
        let samples = vec![sample("alert", &[("summary", "disk\nfull")], 1.0)];
        let count = |query: &str| match evaluate(query, &samples) {
            Ok(QueryResult::Vector(series)) => series.len(),
            other => panic!("{query}: {other:?}"),
        };
        assert_eq!(count(r#"alert{summary=~"disk.full"}"#), 1);
        assert_eq!(count(r#"alert{summary!~"disk.*"}"#), 0);
        // Go-style literal braces, which the parser escapes, still work.
        let samples = vec![sample("x", &[("path", "/a{id}")], 1.0)];
        let Ok(QueryResult::Vector(series)) = evaluate(r#"x{path=~"/a{id}"}"#, &samples) else {
            panic!("expected a vector");
        };
        assert_eq!(series.len(), 1);
    }

    #[test]
    fn metric_name_as_a_matcher() {
        assert_eq!(vector(r#"{__name__="node_cpu_utilization"}"#).len(), 4);
        // Prometheus 3's quoted-name syntax.
        assert_eq!(vector(r#"{"node_cpu_utilization", group="db"}"#).len(), 2);
        // Unary plus is a no-op in Prometheus too.
        assert_eq!(vector("+node_cpu_utilization").len(), 4);
        let series = vector(r#"{__name__=~"http_.*"}"#);
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].0["__name__"], "http_requests_in_flight");
        assert_eq!(series[0].1, 7.0);
        let both = vector(r#"{instance="api-1"}"#);
        assert_eq!(both.len(), 2);
        assert_eq!(both[0].0["__name__"], "http_requests_in_flight");
        assert_eq!(both[1].0["__name__"], "node_cpu_utilization");
    }

    #[test]
    fn absent_labels_match_the_empty_string() {
        assert_eq!(vector(r#"node_cpu_utilization{zone=""}"#).len(), 4);
        assert!(vector(r#"node_cpu_utilization{zone!=""}"#).is_empty());
        // An empty-valued label is the same as an absent one and is not reported.
        let samples = vec![sample("up", &[("job", "a"), ("zone", "")], 1.0)];
        let Ok(QueryResult::Vector(series)) = evaluate(r#"up{zone=""}"#, &samples) else {
            panic!("expected a vector");
        };
        assert_eq!(
            series,
            vec![(labels(&[("__name__", "up"), ("job", "a")]), 1.0)]
        );
    }

    #[test]
    fn no_match_is_an_empty_vector() {
        assert!(vector("does_not_exist").is_empty());
        assert!(vector(r#"node_cpu_utilization{group="cache"}"#).is_empty());
        assert!(vector("sum(does_not_exist)").is_empty());
        assert!(vector("count(does_not_exist)").is_empty());
    }

    #[test]
    fn sum_min_max_count_avg_without_grouping() {
        assert_close(single("sum(node_cpu_utilization)"), 1.94);
        assert_eq!(single("min(node_cpu_utilization)"), 0.2);
        assert_eq!(single("max(node_cpu_utilization)"), 0.9);
        assert_eq!(single("count(node_cpu_utilization)"), 4.0);
        assert_close(single("avg(node_cpu_utilization)"), 0.485);
        assert_eq!(single("max(node_cpu_utilization{group=\"api\"})"), 0.34);
    }

    #[test]
    fn sum_is_compensated_like_prometheus() {
        let samples: Vec<Sample> = [0.1, 0.2, 0.3]
            .iter()
            .enumerate()
            .map(|(i, v)| sample("x", &[("i", &i.to_string())], *v))
            .collect();
        let Ok(QueryResult::Vector(series)) = evaluate("sum(x)", &samples) else {
            panic!("expected a vector");
        };
        // Naive left-to-right addition gives 0.6000000000000001.
        assert_eq!(series[0].1, 0.6);
        let Ok(QueryResult::Vector(series)) = evaluate("avg(x)", &samples) else {
            panic!("expected a vector");
        };
        assert_eq!(series[0].1, 0.2);
    }

    #[test]
    fn avg_by_group() {
        let series = vector("avg by (group) (node_cpu_utilization)");
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].0, labels(&[("group", "api")]));
        assert_close(series[0].1, 0.27);
        assert_eq!(series[1].0, labels(&[("group", "db")]));
        assert_close(series[1].1, 0.7);
        // The modifier may also follow the arguments.
        assert_eq!(vector("avg(node_cpu_utilization) by (group)"), series);
    }

    #[test]
    fn by_a_missing_label_groups_everything_together() {
        let series = vector("sum by (zone) (node_cpu_utilization)");
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].0, Labels::new());
        assert_eq!(vector("sum by () (node_cpu_utilization)").len(), 1);
    }

    #[test]
    fn by_name_keeps_the_metric_name() {
        let series = vector(r#"count by (__name__) ({job=~".+"})"#);
        assert_eq!(
            series,
            vec![
                (labels(&[("__name__", "http_requests_in_flight")]), 1.0),
                (labels(&[("__name__", "node_cpu_utilization")]), 4.0),
            ]
        );
    }

    #[test]
    fn count_without_instance_drops_the_name_too() {
        let series = vector("count without (instance) (node_cpu_utilization)");
        assert_eq!(
            series,
            vec![
                (labels(&[("group", "api"), ("job", "node")]), 2.0),
                (labels(&[("group", "db"), ("job", "node")]), 2.0),
            ]
        );
        let series = vector("max without () (node_cpu_utilization)");
        assert_eq!(series.len(), 4);
        assert!(
            series
                .iter()
                .all(|(labels, _)| !labels.contains_key("__name__"))
        );
    }

    #[test]
    fn min_and_max_by_group_and_nested_aggregation() {
        let series = vector("min by (group) (node_cpu_utilization)");
        assert_eq!(series[0], (labels(&[("group", "api")]), 0.2));
        assert_eq!(series[1], (labels(&[("group", "db")]), 0.5));
        let series = vector("max by (group) (node_cpu_utilization)");
        assert_eq!(series[0], (labels(&[("group", "api")]), 0.34));
        assert_eq!(series[1], (labels(&[("group", "db")]), 0.9));
        assert_eq!(single("max(sum by (group) (node_cpu_utilization))"), 1.4);
    }

    #[test]
    fn sum_by_multiple_labels() {
        let series = vector("sum by (group, job) (node_cpu_utilization)");
        assert_eq!(series.len(), 2);
        assert_eq!(series[1].0, labels(&[("group", "db"), ("job", "node")]));
        assert_close(series[1].1, 1.4);
    }

    #[test]
    fn nan_and_infinity_follow_prometheus() {
        let samples = vec![
            sample("x", &[("i", "1")], f64::NAN),
            sample("x", &[("i", "2")], 3.0),
            sample("x", &[("i", "3")], 1.0),
        ];
        let value = |query: &str| match evaluate(query, &samples) {
            Ok(QueryResult::Vector(series)) => series[0].1,
            other => panic!("{query}: {other:?}"),
        };
        assert_eq!(value("max(x)"), 3.0);
        assert_eq!(value("min(x)"), 1.0);
        assert!(value("sum(x)").is_nan());
        assert!(value("avg(x)").is_nan());
        assert_eq!(value("count(x)"), 3.0);
        let samples = vec![
            sample("y", &[("i", "1")], f64::INFINITY),
            sample("y", &[("i", "2")], 3.0),
        ];
        let Ok(QueryResult::Vector(series)) = evaluate("avg(y)", &samples) else {
            panic!("expected a vector");
        };
        assert_eq!(series[0].1, f64::INFINITY);
        let huge = vec![
            sample("z", &[("i", "1")], f64::MAX),
            sample("z", &[("i", "2")], f64::MAX),
        ];
        let Ok(QueryResult::Vector(series)) = evaluate("avg(z)", &huge) else {
            panic!("expected a vector");
        };
        assert_eq!(
            series[0].1,
            f64::MAX,
            "overflowing sum falls back to a mean"
        );
    }

    #[test]
    fn parentheses_and_number_literals() {
        assert_eq!(vector("(node_cpu_utilization)").len(), 4);
        assert_eq!(single("((max(node_cpu_utilization)))"), 0.9);
        assert_eq!(single("max((node_cpu_utilization))"), 0.9);
        let scalar = |query: &str| match evaluate(query, &[]) {
            Ok(QueryResult::Scalar(value)) => value,
            other => panic!("{query}: {other:?}"),
        };
        assert_eq!(scalar("42"), 42.0);
        assert_eq!(scalar("0.27"), 0.27);
        assert_eq!(scalar("(1.5)"), 1.5);
        assert_eq!(scalar("-1"), -1.0);
        assert_eq!(scalar("1e3"), 1000.0);
        assert_eq!(scalar("0x10"), 16.0);
        // Prometheus 3 reads a duration as its number of seconds.
        assert_eq!(scalar("5m"), 300.0);
        assert_eq!(scalar("Inf"), f64::INFINITY);
        assert!(scalar("NaN").is_nan());
    }

    #[test]
    fn unsupported_constructs_are_bad_data() {
        for query in [
            "rate(node_cpu_utilization[5m])",
            "node_cpu_utilization offset 5m",
            "node_cpu_utilization @ 1700000000",
            "node_cpu_utilization + 1",
            "1 + 1",
            "sum(node_cpu_utilization) > 0.5",
            "node_cpu_utilization and node_cpu_utilization",
            "topk(1, node_cpu_utilization)",
            "bottomk(1, node_cpu_utilization)",
            "quantile(0.9, node_cpu_utilization)",
            "count_values(\"v\", node_cpu_utilization)",
            "group(node_cpu_utilization)",
            "stddev(node_cpu_utilization)",
            "abs(node_cpu_utilization)",
            "time()",
            "node_cpu_utilization[5m]",
            "max_over_time(node_cpu_utilization[5m:1m])",
            "node_cpu_utilization[5m:1m]",
            "\"string\"",
            "-node_cpu_utilization",
            "-(1)",
            "sum(node_cpu_utilization offset 1m)",
            "(node_cpu_utilization offset 1m)",
            r#"{group="api" or group="db"}"#,
        ] {
            bad_data(query);
        }
    }

    #[test]
    fn unsupported_messages_name_the_construct() {
        assert!(bad_data("rate(x[5m])").message.contains("'rate()'"));
        assert!(bad_data("x offset 5m").message.contains("offset"));
        assert!(bad_data("x[5m]").message.contains("range selectors"));
        assert!(bad_data("topk(1, x)").message.contains("'topk'"));
        assert!(bad_data("x + 1").message.contains("'+'"));
    }

    #[test]
    fn parse_errors_are_bad_data() {
        for query in [
            "",
            "sum(",
            "node_cpu_utilization{",
            "node_cpu_utilization{group=}",
            r#"{instance=~"(unclosed"}"#,
            r#"{job=~".*"}"#,
            "sum(1)",
            "nonexistent_function(x)",
        ] {
            let error = bad_data(query);
            assert!(
                error.message.starts_with("invalid parameter \"query\""),
                "{query}: {}",
                error.message
            );
        }
    }

    #[test]
    fn vector_response_has_the_prometheus_shape() {
        let result = evaluate("avg by (group) (node_cpu_utilization)", &fixture());
        let (status, body) = response_json(&result, 1_700_000_000.0);
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({
                "status": "success",
                "data": {
                    "resultType": "vector",
                    "result": [
                        {"metric": {"group": "api"}, "value": [1_700_000_000, "0.27"]},
                        {"metric": {"group": "db"}, "value": [1_700_000_000, "0.7"]},
                    ],
                },
            })
        );
        assert_eq!(
            body.to_string(),
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"group":"api"},"value":[1700000000,"0.27"]},{"metric":{"group":"db"},"value":[1700000000,"0.7"]}]}}"#
        );
    }

    #[test]
    fn response_sorts_series_and_keeps_the_metric_name() {
        let unsorted = Ok(QueryResult::Vector(vec![
            (labels(&[("__name__", "up"), ("job", "b")]), 1.0),
            (labels(&[("__name__", "up"), ("job", "a")]), 0.0),
        ]));
        let (_, body) = response_json(&unsorted, 1_700_000_000.5);
        assert_eq!(
            body["data"]["result"],
            json!([
                {"metric": {"__name__": "up", "job": "a"}, "value": [1_700_000_000.5, "0"]},
                {"metric": {"__name__": "up", "job": "b"}, "value": [1_700_000_000.5, "1"]},
            ])
        );
        assert_eq!(
            body["data"]["result"][0]["value"].to_string(),
            r#"[1700000000.5,"0"]"#
        );
    }

    #[test]
    fn empty_vector_response() {
        let (status, body) = response_json(&evaluate("nothing_here", &fixture()), 10.0);
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"status": "success", "data": {"resultType": "vector", "result": []}})
        );
    }

    #[test]
    fn scalar_response() {
        let (status, body) = response_json(&evaluate("1", &[]), 1_700_000_000.123_4);
        assert_eq!(status, 200);
        assert_eq!(
            body.to_string(),
            r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000.123,"1"]}}"#
        );
    }

    #[test]
    fn error_response() {
        let (status, body) = response_json(&evaluate("rate(x[5m])", &[]), 0.0);
        assert_eq!(status, 400);
        assert_eq!(body["status"], "error");
        assert_eq!(body["errorType"], "bad_data");
        assert!(body["error"].as_str().unwrap().contains("rate"));
        assert_eq!(
            body.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["status", "errorType", "error"]
        );
        let (status, _) = response_json(&evaluate("sum(", &[]), 0.0);
        assert_eq!(status, 400);
    }

    #[test]
    fn values_are_formatted_like_prometheus() {
        let cases = [
            (0.27, "0.27"),
            (1.0, "1"),
            (0.0, "0"),
            (-0.5, "-0.5"),
            (1234567.0, "1234567"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e-7, "1.5e-07"),
            (0.000_001, "0.000001"),
            (-2.5e300, "-2.5e+300"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (value, expected) in cases {
            assert_eq!(api_value(value), expected, "{value}");
        }
    }

    #[test]
    fn timestamps_have_millisecond_precision() {
        assert_eq!(timestamp(1_700_000_000.0).to_string(), "1700000000");
        assert_eq!(timestamp(1_700_000_000.25).to_string(), "1700000000.25");
        assert_eq!(timestamp(1_700_000_000.000_4).to_string(), "1700000000");
        assert_eq!(timestamp(1_700_000_000.999_9).to_string(), "1700000001");
    }

    #[test]
    fn exposition_format() {
        let samples = vec![
            sample("up", &[("job", "b")], 1.0),
            sample(
                "node_cpu_utilization",
                &[("instance", "db-1"), ("note", "say \"hi\"\\\nbye")],
                0.9,
            ),
            sample("up", &[("job", "a"), ("empty", "")], 0.0),
            sample("scrape_bytes", &[], 1234567.0),
            sample("tiny", &[], 0.00001),
            sample("broken", &[], f64::NAN),
        ];
        assert_eq!(
            exposition(&samples),
            "# TYPE broken gauge\n\
             broken NaN\n\
             # TYPE node_cpu_utilization gauge\n\
             node_cpu_utilization{instance=\"db-1\",note=\"say \\\"hi\\\"\\\\\\nbye\"} 0.9\n\
             # TYPE scrape_bytes gauge\n\
             scrape_bytes 1.234567e+06\n\
             # TYPE tiny gauge\n\
             tiny 1e-05\n\
             # TYPE up gauge\n\
             up{job=\"a\"} 0\n\
             up{job=\"b\"} 1\n"
        );
        assert_eq!(exposition(&[]), "");
    }

    #[test]
    fn exposition_values_use_go_g_format() {
        for (value, expected) in [
            (0.0001, "0.0001"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (-1.0, "-1"),
            (f64::INFINITY, "+Inf"),
        ] {
            assert_eq!(exposition_value(value), expected, "{value}");
        }
    }
}
