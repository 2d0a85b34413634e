//! Judging a step's result against its `expect`, with failure messages that show the actual
//! values: `expected rate_5xx < 0.02, got rate_5xx = 0.38`.

use minijinja::Value;
use serde_json::{Map, Value as Json};

use super::scope::Scope;
use crate::expr;
use crate::redact::Redactor;
use crate::runbook::{Executor, Expr};

/// The verdict on one result.
#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    pub passed: bool,
    pub failures: Vec<String>,
}

/// Judges fields against the expectations; without any, the executor's own criterion decides.
pub fn judge(
    expect: &[Expr],
    executor: &Executor,
    fields: &Map<String, Json>,
    scope: &Scope,
    default_ok: bool,
    redactor: &Redactor,
) -> Judgement {
    if expect.is_empty() {
        return Judgement {
            passed: default_ok,
            failures: if default_ok {
                Vec::new()
            } else {
                vec![default_criterion(executor.kind()).to_string()]
            },
        };
    }
    // The step's own fields at top level, then vars, secrets, steps and item (which win over
    // a field of the same name).
    let ctx = scope.with_fields(fields);
    let mut failures = Vec::new();
    for e in expect {
        let shown = expr::strip_braces(&e.source);
        match expr::eval_bool(&e.source, &ctx) {
            Ok(true) => {}
            Ok(false) => failures.push(format!(
                "expected {shown}, got {}",
                actuals_of(shown, &e.reads, &ctx, redactor)
            )),
            Err(expr::EvalError::Missing(why)) => {
                failures.push(format!("expected {shown}, but {}", redactor.redact(&why)))
            }
            Err(expr::EvalError::Failed(err)) => failures.push(format!(
                "expected {shown}, but it could not be evaluated: {err}"
            )),
        }
    }
    Judgement {
        passed: failures.is_empty(),
        failures,
    }
}

/// `rate_5xx = 0.38, vars.max_5xx_rate = 0.02`: each name the expression reads, with its value.
pub fn actuals(names: &[String], ctx: &Value, redactor: &Redactor) -> String {
    let read = names
        .iter()
        .filter(|n| !n.starts_with("secrets"))
        .map(|name| (name.clone(), expr::lookup_value(ctx, name)))
        .collect();
    show_actuals(read, redactor)
}

/// [`actuals`] for the expression `source`: a name it reads only through constant keys
/// (`components['us-east-1 / Elastic Load Balancing'] == 'operational'`) shows those entries,
/// `components['us-east-1 / Elastic Load Balancing'] = "major_outage"`, rather than the whole
/// map, which the line cuts at 120 characters, likely before the entry that failed.
fn actuals_of(source: &str, names: &[String], ctx: &Value, redactor: &Redactor) -> String {
    let mut read = Vec::new();
    for name in names.iter().filter(|n| !n.starts_with("secrets")) {
        let Some(keys) = constant_keys(source, name) else {
            read.push((name.clone(), expr::lookup_value(ctx, name)));
            continue;
        };
        let map = expr::lookup_value(ctx, name);
        for (quote, key) in keys {
            let label = format!("{name}[{quote}{key}{quote}]");
            if read.iter().any(|(shown, _)| *shown == label) {
                continue;
            }
            let value = map
                .as_ref()
                .and_then(|m| m.get_item(&Value::from(key.as_str())).ok())
                .filter(|v| !v.is_undefined());
            read.push((label, value));
        }
    }
    show_actuals(read, redactor)
}

/// The keys of `name['key']` and `name["key"]` in `source`, with their quote, when every read of
/// `name` there is one; `None` when any is not (`'x' in name`, `name[vars.k]`, `name | length`).
fn constant_keys(source: &str, name: &str) -> Option<Vec<(char, String)>> {
    let is_name_char = |c: char| c.is_alphanumeric() || c == '_';
    let mut keys = Vec::new();
    for (at, _) in source.match_indices(name) {
        let before = source[..at].chars().next_back();
        let rest = &source[at + name.len()..];
        // Part of a longer name (`my_components`, `components2`, `steps.x.components`).
        if before.is_some_and(|c| is_name_char(c) || c == '.')
            || rest.chars().next().is_some_and(is_name_char)
        {
            continue;
        }
        let mut chars = rest.chars();
        if chars.next() != Some('[') {
            return None;
        }
        let quote = chars.next().filter(|q| matches!(q, '\'' | '"'))?;
        let body = &rest[2..];
        let end = body.find(quote)?;
        let key = &body[..end];
        if key.contains('\\') || !body[end + 1..].starts_with(']') {
            return None;
        }
        keys.push((quote, key.to_string()));
    }
    (!keys.is_empty()).then_some(keys)
}

/// `label = value, ...`, values redacted and cut to one short line each.
fn show_actuals(read: Vec<(String, Option<Value>)>, redactor: &Redactor) -> String {
    let shown: Vec<String> = read
        .into_iter()
        .map(|(label, value)| {
            let value = value
                .and_then(|v| expr::to_json(&v).ok())
                .map(|v| short_json(&redactor.redact_json(&v)))
                .unwrap_or_else(|| "undefined".into());
            format!("{label} = {value}")
        })
        .collect();
    if shown.is_empty() {
        "false".into()
    } else {
        shown.join(", ")
    }
}

/// A JSON value in one short line.
pub fn short_json(value: &Json) -> String {
    let text = value.to_string();
    if text.chars().count() > 120 {
        let cut: String = text.chars().take(117).collect();
        format!("{cut}...")
    } else {
        text
    }
}

/// What "passed" means for a step without `expect`, by executor kind (`Executor::kind`).
fn default_criterion(kind: &str) -> &'static str {
    match kind {
        "http" => "expected every request sent to get an answer below 400",
        "command" => "expected exit code 0",
        "tcp" => "expected the connection to succeed",
        "prometheus" => "expected an answer from Prometheus",
        "statuspage" => "expected an answer from the status page",
        "manual" => "expected the step to be acknowledged",
        _ => "expected the wait to finish",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::Pos;
    use serde_json::json;

    fn e(s: &str) -> Expr {
        Expr {
            source: s.into(),
            pos: Pos::new(1, 1),
            reads: crate::expr::check_expression(s).unwrap(),
        }
    }

    #[test]
    fn each_executor_says_what_passing_means_without_expect() {
        for (kind, text) in [
            (
                "http",
                "expected every request sent to get an answer below 400",
            ),
            ("command", "expected exit code 0"),
            ("tcp", "expected the connection to succeed"),
            ("prometheus", "expected an answer from Prometheus"),
            ("statuspage", "expected an answer from the status page"),
            ("manual", "expected the step to be acknowledged"),
            ("wait", "expected the wait to finish"),
        ] {
            assert_eq!(default_criterion(kind), text);
        }
        let base = Scope::new(&Value::from(()), &Value::from(()), &Default::default());
        let wait = Executor::Wait(Default::default());
        let failed = judge(&[], &wait, &Map::new(), &base, false, &Redactor::new());
        assert_eq!(
            failed,
            Judgement {
                passed: false,
                failures: vec!["expected the wait to finish".into()]
            }
        );
        let passed = judge(&[], &wait, &Map::new(), &base, true, &Redactor::new());
        assert_eq!(
            passed,
            Judgement {
                passed: true,
                failures: vec![]
            }
        );
    }

    /// Values longer than 120 characters are cut to 117 and `...`; 120 stay whole.
    #[test]
    fn long_values_are_cut_at_120_characters() {
        let exactly = Json::String("x".repeat(118)); // 120 with its quotes
        assert_eq!(short_json(&exactly), format!("\"{}\"", "x".repeat(118)));
        let over = Json::String("é".repeat(119)); // 121 characters, more bytes
        let cut = short_json(&over);
        assert_eq!(cut.chars().count(), 120);
        assert_eq!(cut, format!("\"{}...", "é".repeat(116)));
    }

    #[test]
    fn actuals_leave_out_secrets_and_name_what_is_undefined() {
        let ctx = crate::expr::context(&json!({
            "rate": 0.5,
            "secrets": {"token": "s3cr3t-value"},
        }));
        let names = vec![
            "rate".to_string(),
            "secrets.token".to_string(),
            "nope".to_string(),
        ];
        assert_eq!(
            actuals(&names, &ctx, &Redactor::new()),
            "rate = 0.5, nope = undefined"
        );
        assert_eq!(actuals(&[], &ctx, &Redactor::new()), "false");
        let redactor = Redactor::new();
        redactor.add("0.5-secret");
        let ctx = crate::expr::context(&json!({"body": "token 0.5-secret"}));
        assert_eq!(
            actuals(&["body".to_string()], &ctx, &redactor),
            "body = \"token ***\""
        );
    }

    #[test]
    fn missing_evidence_and_broken_expressions_read_differently() {
        let fields = json!({"value": null, "series": 0})
            .as_object()
            .unwrap()
            .clone();
        let base = Scope::new(&Value::from(()), &Value::from(()), &Default::default());
        let wait = Executor::Wait(Default::default());
        let j = judge(
            &[e("value < 0.5"), e("value | nosuchfilter")],
            &wait,
            &fields,
            &base,
            true,
            &Redactor::new(),
        );
        assert!(!j.passed);
        assert_eq!(
            j.failures,
            vec![
                "expected value < 0.5, but value is none (the query returned no series)",
                "expected value | nosuchfilter, but it could not be evaluated: unknown filter: filter nosuchfilter is unknown",
            ]
        );
    }

    #[test]
    fn failure_names_actual_values() {
        let fields = json!({"rate_5xx": 0.38}).as_object().unwrap().clone();
        let vars = Value::from(minijinja::value::Serde(json!({"max": 0.02})));
        let base = Scope::new(&vars, &Value::from(()), &Default::default());
        let j = judge(
            &[e("rate_5xx < 0.02")],
            &Executor::Wait(Default::default()),
            &fields,
            &base,
            true,
            &Redactor::new(),
        );
        assert!(!j.passed);
        assert_eq!(
            j.failures,
            vec!["expected rate_5xx < 0.02, got rate_5xx = 0.38"]
        );
        let j = judge(
            &[e("rate_5xx < vars.max")],
            &Executor::Wait(Default::default()),
            &fields,
            &base,
            true,
            &Redactor::new(),
        );
        assert_eq!(
            j.failures,
            vec!["expected rate_5xx < vars.max, got rate_5xx = 0.38, vars.max = 0.02"]
        );
        let j = judge(
            &[e("rate_5xx > 0.1")],
            &Executor::Wait(Default::default()),
            &fields,
            &base,
            false,
            &Redactor::new(),
        );
        assert!(j.passed);
    }

    #[test]
    fn a_map_read_through_constant_keys_shows_those_entries() {
        let fields = json!({"components": {
            "Route 53": "operational",
            "us-east-1": "major_outage",
            "us-east-1 / Elastic Load Balancing": "major_outage",
            "us-west-2 / Elastic Load Balancing": "operational",
        }})
        .as_object()
        .unwrap()
        .clone();
        let base = Scope::new(&Value::from(()), &Value::from(()), &Default::default());
        let wait = Executor::Wait(Default::default());
        let failures = |expression: &str| {
            judge(
                &[e(expression)],
                &wait,
                &fields,
                &base,
                true,
                &Redactor::new(),
            )
            .failures
        };
        assert_eq!(
            failures(
                "components['us-east-1 / Elastic Load Balancing'] == 'operational' and components[\"us-west-2 / Elastic Load Balancing\"] == 'operational'"
            ),
            vec![
                "expected components['us-east-1 / Elastic Load Balancing'] == 'operational' and components[\"us-west-2 / Elastic Load Balancing\"] == 'operational', \
                 got components['us-east-1 / Elastic Load Balancing'] = \"major_outage\", components[\"us-west-2 / Elastic Load Balancing\"] = \"operational\""
            ]
        );
        // The same key twice is shown once; a key the map lacks is undefined.
        assert_eq!(
            failures("components['us-east-1'] == 'operational' or components['us-east-1'] == 'x'"),
            vec![
                "expected components['us-east-1'] == 'operational' or components['us-east-1'] == 'x', got components['us-east-1'] = \"major_outage\""
            ]
        );
        // Read otherwise too: the whole map, as before.
        assert!(
            failures("components['us-east-1'] == 'operational' and 'x' in components")[0]
                .contains("got components = {"),
        );
    }
}
