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
                vec![default_criterion(executor).to_string()]
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
                actuals(&e.reads, &ctx, redactor)
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
    let shown: Vec<String> = names
        .iter()
        .filter(|n| !n.starts_with("secrets"))
        .map(|name| {
            let value = expr::lookup_value(ctx, name)
                .and_then(|v| expr::to_json(&v).ok())
                .map(|v| short_json(&redactor.redact_json(&v)))
                .unwrap_or_else(|| "undefined".into());
            format!("{name} = {value}")
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

fn default_criterion(executor: &Executor) -> &'static str {
    match executor {
        Executor::Http(_) => "expected every response below 400 and no transport error",
        Executor::Command(_) => "expected exit code 0",
        Executor::Tcp(_) => "expected the connection to succeed",
        Executor::Prometheus(_) => "expected an answer from Prometheus",
        Executor::Statuspage(_) => "expected an answer from the status page",
        Executor::Manual(_) => "expected the step to be acknowledged",
        Executor::Wait(_) => "expected the wait to finish",
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
}
