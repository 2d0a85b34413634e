//! The PromQL subset against the simulator's metrics.

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
