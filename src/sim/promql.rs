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

/// An instant answer of [`response_json`] as a range query's: a `matrix` whose series each
/// hold the one sample evaluated (a scalar becomes one series without labels, as Prometheus
/// answers a range query of a scalar). The simulator keeps no history, so now is all it knows;
/// errors pass unchanged.
pub fn as_range(mut body: Value) -> Value {
    let Some(data) = body.get_mut("data") else {
        return body;
    };
    let kind = data["resultType"].as_str().map(str::to_string);
    let series = match (kind.as_deref(), data["result"].take()) {
        (Some("vector"), Value::Array(list)) => list
            .into_iter()
            .map(|mut s| json!({"metric": s["metric"].take(), "values": [s["value"].take()]}))
            .collect(),
        (Some("scalar"), sample) => vec![json!({"metric": {}, "values": [sample]})],
        (_, other) => {
            data["result"] = other;
            return body;
        }
    };
    *data = json!({"resultType": "matrix", "result": series});
    body
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
mod tests;
