//! The `prometheus` executor against a real Prometheus 2.42 scraping a real node_exporter:
//! every kind of answer, errors, and the two ways a Prometheus is commonly protected (its own
//! basic auth, a bearer token checked by a reverse proxy).

use serde_json::Value as Json;

use crate::support::{Test, free_port};

use super::prometheus_stack::{self, Prometheus};
use super::stack;

/// The timestamps of a series' samples, and that every value is `value`.
fn sample_times(series: &Json, value: f64) -> Vec<f64> {
    let samples = series["samples"].as_array().expect("samples");
    samples
        .iter()
        .map(|s| {
            assert_eq!(s[1], value, "{series}");
            s[0].as_f64().expect("a unix time")
        })
        .collect()
}

#[test]
fn every_kind_of_answer_from_a_real_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let prom = Prometheus::start(dir.path()).run();
    let url = &prom.url;
    let out = Test::new()
        .runbook(&format!(
            r#"
            name: real-prometheus
            title: Answers of a real Prometheus
            steps:
              - id: vector
                title: node_exporter is up
                prometheus: {{url: "{url}", query: 'up{{job="node"}}', timeout: 5s}}
                expect: [value == 1, series == 1, "values[0].labels.job == 'node'"]
              - id: scalar
                title: A scalar
                prometheus: {{url: "{url}/", query: "1+1"}}
                expect: value == 2
              - id: string
                title: A string
                prometheus: {{url: "{url}/api/v1/query", query: '"hello"'}}
                expect: string == 'hello'
              - id: at_time
                title: An instant query at a given time
                prometheus: {{url: "{url}", query: "time()", time: "2023-11-14T22:13:20Z"}}
                expect: value == 1700000000
              - id: matrix
                title: A range selector
                prometheus: {{url: "{url}", query: 'up{{job="node"}}[10s]'}}
                expect: [value == 1, "values[0].samples | length >= 3"]
              - id: range
                title: A range query
                prometheus: {{url: "{url}/api/v1/query", query: 'up{{job="node"}}', range: 10s, step: 1s}}
                expect: [value == 1, "values[0].samples | length >= 3"]
              - id: misspelt
                title: A misspelt metric
                prometheus: {{url: "{url}", query: 'node_lod1'}}
                expect: value < 5
                on_fail: continue
              - id: nan
                title: Not a number
                prometheus: {{url: "{url}", query: "0/0"}}
                expect: value is nan
              - id: inf
                title: Infinity
                prometheus: {{url: "{url}", query: "1/0"}}
                expect: value > 1e308
              - id: syntax
                title: A syntax error
                prometheus: {{url: "{url}", query: 'sum(up'}}
                on_fail: continue
            "#
        ))
        .args(["run"])
        .run()
        .run_outcome("completed", 0)
        .stdout_has("value is none (the query returned no series)");

    let vector = out.outcome("vector", "passed");
    assert_eq!(vector["result_type"], "vector");
    assert_eq!(
        vector["values"][0]["labels"]["instance"],
        prom_target(&vector)
    );
    assert_eq!(vector["values"][0]["value"], 1.0);
    assert!(vector["values"][0].get("samples").is_none(), "{vector}");

    let scalar = out.outcome("scalar", "passed");
    assert_eq!(
        (scalar["result_type"].clone(), scalar["value"].clone()),
        ("scalar".into(), 2.0.into())
    );
    let string = out.outcome("string", "passed");
    assert_eq!(string["result_type"], "string");
    assert_eq!(string["value"], Json::Null);
    assert_eq!(out.outcome("at_time", "passed")["value"], 1_700_000_000.0);

    // A range selector in an instant query: every scrape of the last 10 s, a second apart.
    let matrix = out.outcome("matrix", "passed");
    assert_eq!(matrix["result_type"], "matrix");
    assert_eq!(matrix["series"], 1);
    let times = sample_times(&matrix["values"][0], 1.0);
    assert!(times.len() >= 3, "{matrix}");
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        assert!((0.5..2.0).contains(&gap), "scrapes 1 s apart: {times:?}");
    }

    // A range query: one point per step, oldest first, the newest as `value`.
    let range = out.outcome("range", "passed");
    assert_eq!(range["result_type"], "matrix");
    let times = sample_times(&range["values"][0], 1.0);
    assert!(times.len() >= 3, "{range}");
    for pair in times.windows(2) {
        assert_eq!(pair[1] - pair[0], 1.0, "one point per 1 s step: {times:?}");
    }

    let misspelt = out.outcome("misspelt", "failed");
    assert_eq!(misspelt["value"], Json::Null);
    assert_eq!(misspelt["series"], 0);
    assert_eq!(out.outcome("nan", "passed")["value"], "NaN");
    assert_eq!(out.outcome("inf", "passed")["value"], "+Inf");

    let syntax = out.finished("syntax");
    assert_eq!(syntax["outcome"], "error");
    let summary = syntax["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("prometheus error (bad_data): invalid parameter \"query\": ")
            && summary.contains("parse error"),
        "{summary}"
    );
}

/// The node_exporter's `instance` label, as Prometheus set it.
fn prom_target(vector: &Json) -> Json {
    let instance = &vector["values"][0]["labels"]["instance"];
    assert!(
        instance
            .as_str()
            .is_some_and(|i| i.starts_with("127.0.0.1:")),
        "{vector}"
    );
    instance.clone()
}

/// bcrypt (cost 4) of `prom-pass-4711`, made with
/// `python3 -c "import crypt; print(crypt.crypt('prom-pass-4711', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))"`.
const OPS_PASSWORD: &str = "prom-pass-4711";
const OPS_HASH: &str = "$2b$04$ILVuKke0qMtB9rNp1f/HgO86N403dxFtmoYSSAQzepIWCOtuDE7iy";

#[test]
fn basic_auth_with_prometheus_s_own_web_config() {
    let dir = tempfile::tempdir().unwrap();
    let prom = Prometheus::start(dir.path())
        .basic_auth("ops", OPS_HASH, OPS_PASSWORD)
        .run();
    // Prometheus itself refuses a query without the credentials.
    let (status, _) = prometheus_stack::query(&prom.addr, "up", None).unwrap();
    assert_eq!(status, 401);
    let url = &prom.url;
    let out = Test::new()
        .runbook(&format!(
            r#"
            name: prometheus-basic-auth
            title: A Prometheus behind basic auth
            secrets: [PROM_PASSWORD]
            steps:
              - id: anonymous
                title: Without credentials
                prometheus: {{url: "{url}", query: 'up{{job="node"}}'}}
                on_fail: continue
              - id: wrong
                title: A wrong password
                prometheus:
                  url: "{url}"
                  query: 'up{{job="node"}}'
                  basic_auth: {{username: ops, password: "not-{{{{ secrets.PROM_PASSWORD }}}}"}}
                on_fail: continue
              - id: right
                title: The right password
                prometheus:
                  url: "{url}"
                  query: 'up{{job="node"}}'
                  basic_auth: {{username: ops, password: "{{{{ secrets.PROM_PASSWORD }}}}"}}
                expect: value == 1
            "#
        ))
        .env("PROM_PASSWORD", OPS_PASSWORD)
        .args(["run"])
        .run()
        .run_outcome("completed", 0)
        .no_secret_anywhere_for(OPS_PASSWORD, &["ops"]);
    let anonymous = out.finished("anonymous");
    assert_eq!(anonymous["outcome"], "error");
    assert_eq!(
        anonymous["summary"],
        format!(
            "HTTP 401 Unauthorized from {url}/api/v1/query: it needs credentials: set `bearer`, `basic_auth` or `headers`"
        )
    );
    let wrong = out.finished("wrong");
    assert_eq!(wrong["outcome"], "error");
    assert_eq!(
        wrong["summary"],
        format!(
            "HTTP 401 Unauthorized from {url}/api/v1/query: the credentials were refused (check `bearer`, `basic_auth` or `headers`)"
        )
    );
    let right = out.outcome("right", "passed");
    assert_eq!(right["value"], 1.0);
    assert!(!right.to_string().contains("Basic "), "{right}");
}

#[test]
fn a_bearer_token_checked_by_nginx_in_front_of_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let prom = Prometheus::start(dir.path()).run();
    let token = "tok-9f8e7d6c5b4a-prom";
    let port = free_port();
    let proxy = format!("http://127.0.0.1:{port}");
    let nginx_dir = dir.path().join("nginx");
    std::fs::create_dir_all(&nginx_dir).unwrap();
    let _nginx = stack::nginx(
        &nginx_dir,
        &format!(
            "server {{\n  listen 127.0.0.1:{port};\n  location / {{\n    \
             if ($http_authorization != \"Bearer {token}\") {{ return 401 \"no token\\n\"; }}\n    \
             proxy_pass http://{};\n  }}\n}}",
            prom.addr
        ),
        &format!("{proxy}/"),
    );
    // A query of more than 8 KiB: nginx refuses it in a URL (414), not in a POSTed form.
    let long_query = (0..400)
        .map(|i| format!("up{{job=\"node{i}\"}}"))
        .chain(["up{job=\"node\"}".to_string()])
        .collect::<Vec<_>>()
        .join(" or ");
    assert!(long_query.len() > 8 * 1024);
    let bearer = format!("Bearer {token}");
    let proxy_addr = format!("127.0.0.1:{port}");
    let (status, _) = prometheus_stack::query(&proxy_addr, &long_query, Some(&bearer)).unwrap();
    assert_eq!(status, 414, "nginx refuses the long query as a GET");
    let (status, _) = prometheus_stack::query(&proxy_addr, "up", None).unwrap();
    assert_eq!(status, 401, "nginx refuses a query without the token");

    let out = Test::new()
        .runbook(&format!(
            r#"
            name: prometheus-bearer
            title: A Prometheus behind a proxy that wants a token
            secrets: [PROM_TOKEN]
            steps:
              - id: wrong
                title: A wrong token
                prometheus: {{url: "{proxy}/", query: 'up{{job="node"}}', bearer: not-the-token}}
                on_fail: continue
              - id: up
                title: node_exporter is up
                prometheus:
                  url: "{proxy}"
                  query: 'up{{job="node"}}'
                  bearer: "{{{{ secrets.PROM_TOKEN }}}}"
                expect: value == 1
              - id: long
                title: A long query
                prometheus:
                  url: "{proxy}/api/v1/query"
                  query: '{long_query}'
                  headers: {{Authorization: "Bearer {{{{ secrets.PROM_TOKEN }}}}"}}
                expect: [value == 1, series == 1]
              - id: window
                title: The last 10 seconds
                prometheus:
                  url: "{proxy}"
                  query: 'up{{job="node"}}'
                  range: 10s
                  step: 2s
                  bearer: "{{{{ secrets.PROM_TOKEN }}}}"
                expect: "values[0].samples | length >= 2"
            "#
        ))
        .env("PROM_TOKEN", token)
        .args(["run"])
        .run()
        .run_outcome("completed", 0)
        .no_secret_anywhere(token);
    let wrong = out.finished("wrong");
    assert_eq!(wrong["outcome"], "error");
    assert_eq!(
        wrong["summary"],
        format!(
            "HTTP 401 Unauthorized from {proxy}/api/v1/query: the credentials were refused (check `bearer`, `basic_auth` or `headers`)"
        )
    );
    assert_eq!(out.outcome("up", "passed")["value"], 1.0);
    assert_eq!(
        out.outcome("long", "passed")["values"][0]["labels"]["job"],
        "node"
    );
    let window = out.outcome("window", "passed");
    assert_eq!(window["result_type"], "matrix");
    let times = sample_times(&window["values"][0], 1.0);
    for pair in times.windows(2) {
        assert_eq!(pair[1] - pair[0], 2.0, "one point per 2 s step: {times:?}");
    }
    // What nginx saw: POSTed queries, to both endpoints, all answered.
    let access = std::fs::read_to_string(nginx_dir.join("access.log")).unwrap();
    assert!(
        access.contains("\"POST /api/v1/query HTTP/1.1\" 200"),
        "{access}"
    );
    assert!(
        access.contains("\"POST /api/v1/query_range HTTP/1.1\" 200"),
        "{access}"
    );
    assert!(
        access.contains("\"POST /api/v1/query HTTP/1.1\" 401"),
        "{access}"
    );
}
