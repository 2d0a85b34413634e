//! What expressions and templates see while a run goes on: `vars`, `secrets`, `steps.<id>`, a
//! loop's `item` and, in `expect`, the step's own fields at top level.
//!
//! Every value is converted to MiniJinja once (vars and secrets when the engine is built, a
//! step's result when it is recorded), and a step's context is a few reference-counted handles
//! to them. Building each context by deep-copying every earlier result, as the engine first did,
//! made each step cost more than the one before: 7 ms per step at step 1,000 (BENCHMARKS.md).

use std::collections::HashMap;
use std::sync::Arc;

use minijinja::Value;
use minijinja::value::{Enumerator, Object, ObjectRepr, Serde};
use serde_json::{Map, Value as Json};

/// The recorded results of the steps so far, in the order they were recorded.
#[derive(Clone, Debug, Default)]
pub struct StepResults {
    order: Vec<String>,
    values: HashMap<String, Value>,
    /// The steps whose latest result came from running them (not skipped, blocked or a dry
    /// run): the ones whose evidence a later step can read.
    ran: std::collections::HashSet<String>,
}

impl StepResults {
    /// Records (or replaces, for a step run again) a step's result. What a step read from a
    /// system is untrusted; the fields named in `answers` were typed by the operator and are
    /// trusted (src/expr/escape.rs).
    pub fn insert(&mut self, id: &str, result: &Map<String, Json>, answers: &[&str]) {
        let value = if answers.is_empty() {
            crate::expr::object_value(result)
        } else {
            Value::from(
                result
                    .iter()
                    .map(|(key, item)| {
                        let value = if answers.contains(&key.as_str()) {
                            crate::expr::trusted(item)
                        } else {
                            crate::expr::value_of(item)
                        };
                        (key.clone(), value)
                    })
                    .collect::<std::collections::BTreeMap<String, Value>>(),
            )
        };
        if self.values.insert(id.to_string(), value).is_none() {
            self.order.push(id.to_string());
        }
        let outcome = result
            .get("outcome")
            .and_then(Json::as_str)
            .unwrap_or_default();
        if matches!(outcome, "passed" | "failed" | "error" | "interrupted") {
            self.ran.insert(id.to_string());
        } else {
            self.ran.remove(id);
        }
    }

    /// Whether step `id` ran in this run (a step skipped, blocked or dry-run did not).
    pub fn ran(&self, id: &str) -> bool {
        self.ran.contains(id)
    }
}

/// `steps` as expressions see it: a map view of a snapshot that is shared, not copied.
#[derive(Debug)]
struct StepsView(Arc<StepResults>);

impl Object for StepsView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.values.get(key.as_str()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.0
                .order
                .iter()
                .map(|id| Value::from(id.as_str()))
                .collect(),
        )
    }
}

/// The names every context has; in `expect` they win over a step field of the same name.
const VARS: &str = "vars";
const SECRETS: &str = "secrets";
const STEPS: &str = "steps";
const ITEM: &str = "item";
/// The alert that started a served run (`runbook serve`): read from a system, so untrusted.
const ALERT: &str = "alert";

/// A step's view of the run: cheap to clone and to extend with a loop item.
#[derive(Clone, Debug)]
pub struct Scope {
    vars: Value,
    secrets: Value,
    steps: Value,
    item: Option<Value>,
    alert: Option<Value>,
}

impl Scope {
    /// `vars` and `secrets` as converted once by the engine, and a snapshot of the results.
    pub fn new(vars: &Value, secrets: &Value, steps: &Arc<StepResults>) -> Scope {
        Scope {
            vars: vars.clone(),
            secrets: secrets.clone(),
            steps: Value::from_object(StepsView(Arc::clone(steps))),
            item: None,
            alert: None,
        }
    }

    /// The same view with `alert` set (a run started by an alert); without it, `alert` is
    /// undefined and an expression reading it fails closed.
    pub fn with_alert(mut self, alert: Option<&Value>) -> Scope {
        self.alert = alert.cloned();
        self
    }

    /// The same view with `item` set, for one item of a `loop`: `trusted` when the list came
    /// from the runbook or from vars, not from what a step read.
    pub fn with_item(&self, item: &Json, trusted: bool) -> Scope {
        let item = if trusted {
            crate::expr::trusted(item)
        } else {
            Value::from(Serde(item))
        };
        Scope {
            item: Some(item),
            ..self.clone()
        }
    }

    /// The context of `when`, `loop` and templates.
    pub fn value(&self) -> Value {
        Value::from_object(Context {
            scope: self.clone(),
            fields: None,
        })
    }

    /// The context of `expect`: the step's own fields at top level, then this scope's names.
    pub fn with_fields(&self, fields: &Map<String, Json>) -> Value {
        Value::from_object(Context {
            scope: self.clone(),
            fields: Some(crate::expr::object_value(fields)),
        })
    }

    fn get(&self, name: &str) -> Option<Value> {
        match name {
            VARS => Some(self.vars.clone()),
            SECRETS => Some(self.secrets.clone()),
            STEPS => Some(self.steps.clone()),
            ITEM => self.item.clone(),
            ALERT => self.alert.clone(),
            _ => None,
        }
    }

    fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        [VARS, SECRETS, STEPS]
            .into_iter()
            .chain(self.item.as_ref().map(|_| ITEM))
            .chain(self.alert.as_ref().map(|_| ALERT))
    }
}

/// The root of a context.
#[derive(Debug)]
struct Context {
    scope: Scope,
    fields: Option<Value>,
}

impl Object for Context {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        if let Some(value) = self.scope.get(name) {
            return Some(value);
        }
        let field = self.fields.as_ref()?.get_attr(name).ok()?;
        (!field.is_undefined()).then_some(field)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut names: Vec<Value> = Vec::new();
        if let Some(fields) = &self.fields
            && let Ok(keys) = fields.try_iter()
        {
            names.extend(keys.filter(|k| k.as_str().is_none_or(|k| self.scope.get(k).is_none())));
        }
        names.extend(self.scope.names().map(Value::from));
        Enumerator::Values(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr;
    use serde_json::json;

    fn scope() -> Scope {
        let mut results = StepResults::default();
        results.insert(
            "sample",
            json!({"rate_5xx": 0.38}).as_object().unwrap(),
            &[],
        );
        results.insert("cpu", json!({"value": 0.2}).as_object().unwrap(), &[]);
        let vars = Value::from(Serde(json!({"max": 0.02})));
        let secrets = Value::from(Serde(json!({"token": "s3cret"})));
        Scope::new(&vars, &secrets, &Arc::new(results))
    }

    #[test]
    fn expressions_read_vars_steps_and_items() {
        let ctx = scope().with_item(&json!({"name": "api"}), false).value();
        assert!(expr::eval_bool("steps.sample.rate_5xx > vars.max", &ctx).unwrap());
        assert_eq!(expr::render("{{ item.name }}", &ctx).unwrap(), "api");
        assert_eq!(
            expr::eval_json("steps | list", &ctx).unwrap(),
            json!(["sample", "cpu"])
        );
        assert_eq!(
            expr::eval_bool("steps.nope.value > 1", &ctx),
            Err(expr::EvalError::Missing("steps.nope is undefined".into()))
        );
        assert!(expr::eval_bool("item is defined", &scope().value()).is_ok_and(|v| !v));
    }

    /// What a step read is escaped in a shell command; what the operator answered, vars and
    /// items of a list the author wrote are not.
    #[test]
    fn answers_vars_and_trusted_items_are_written_as_they_are() {
        let mut results = StepResults::default();
        let fields = json!({"cmd": "ls | wc -l", "note": "a; b", "summary": "x y"});
        results.insert("ask", fields.as_object().unwrap(), &["cmd"]);
        results.insert("probe", json!({"body": "a; b"}).as_object().unwrap(), &[]);
        let vars = expr::trusted(&json!({"cmd": "df -h | head"}));
        let scope = Scope::new(&vars, &Value::from(()), &Arc::new(results));
        let shell = |scope: &Scope, source: &str| {
            expr::render_in(source, &scope.value(), expr::Landing::Shell).unwrap()
        };
        assert_eq!(shell(&scope, "{{ steps.ask.cmd }}"), "ls | wc -l");
        assert_eq!(shell(&scope, "{{ steps.ask.summary }}"), "'x y'");
        assert_eq!(shell(&scope, "{{ steps.probe.body }}"), "'a; b'");
        assert_eq!(shell(&scope, "{{ vars.cmd }}"), "df -h | head");
        let item = json!({"name": "a b"});
        assert_eq!(
            shell(&scope.with_item(&item, true), "{{ item.name }}"),
            "a b"
        );
        assert_eq!(
            shell(&scope.with_item(&item, false), "{{ item.name }}"),
            "'a b'"
        );
    }

    #[test]
    fn scope_names_win_over_fields_in_expect() {
        let fields = json!({"rate_5xx": 0.5, "vars": "shadowed"});
        let ctx = scope().with_fields(fields.as_object().unwrap());
        assert!(expr::eval_bool("rate_5xx > vars.max", &ctx).unwrap());
        assert_eq!(
            expr::eval_bool("nope > 1", &ctx),
            Err(expr::EvalError::Missing("nope is undefined".into()))
        );
    }
}
