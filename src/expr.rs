//! Expressions (`when`, `expect`, `loop`) and `{{ }}` templates, in MiniJinja: the Jinja2 that
//! Ansible users already write in `when:`.
//!
//! Undefined names are errors (`SemiStrict`), so a typo in `steps.sample_lb.rate_5xx` stops
//! the step with a message instead of quietly evaluating to false. `x is defined` still works.

mod bounded;
pub mod escape;
pub mod names;
mod ordering;
mod repetition;

use std::sync::OnceLock;

use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value};
use serde_json::{Map, Value as Json};

pub use bounded::MAX_BYTES;
pub use escape::{Landing, trusted, trusted_map};
pub use repetition::MAX_REPEAT;

/// The most instructions one evaluation of an expression or template may run: a loop over a
/// few thousand items takes tens of thousands, and `{% for %}` inside `{% for %}` over
/// `range(100000)` would take ten billion. An hour-long incident cannot wait for that.
pub const FUEL: u64 = 1_000_000;

/// The one environment every expression and template is checked and evaluated with; `names`
/// asks it which filters, tests and methods exist.
pub(crate) fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.set_fuel(Some(FUEL));
        // Each template is escaped for where its text lands (src/expr/escape.rs).
        env.set_auto_escape_callback(escape::auto_escape);
        env.set_formatter(escape::format);
        env.add_filter("quote", escape::quote);
        env.add_filter("urlencode", escape::urlencode);
        env.add_filter("b64encode", escape::b64encode);
        env.add_filter("b64decode", escape::b64decode);
        env.add_filter("tojson", bounded::tojson);
        env.add_function(ordering::ORDER, ordering::order);
        for (name, op) in [
            ("lt", "<"),
            ("lessthan", "<"),
            ("<", "<"),
            ("le", "<="),
            ("<=", "<="),
            ("gt", ">"),
            ("greaterthan", ">"),
            (">", ">"),
            ("ge", ">="),
            (">=", ">="),
        ] {
            env.add_test(name, ordering::test(op));
        }
        env.add_test("nan", ordering::is_nan);
        env.add_test("finite", ordering::is_finite);
        // Python's string, dict and list methods (`.strip()`, `.split()`, `.items()`), as
        // Ansible users write them.
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env
    })
}

/// An expression may be written bare (`rate_5xx < 0.02`) or, as in Ansible's `loop:`, wrapped
/// in one `{{ }}`. Both mean the same.
pub fn strip_braces(source: &str) -> &str {
    let trimmed = source.trim();
    if let Some(inner) = trimmed
        .strip_prefix("{{")
        .and_then(|s| s.strip_suffix("}}"))
        && !inner.contains("{{")
        && !inner.contains("}}")
    {
        return inner.trim();
    }
    trimmed
}

/// Whether a string contains template syntax at all.
pub fn is_template(source: &str) -> bool {
    source.contains("{{") || source.contains("{%") || source.contains("{#")
}

/// Why an expression gave no answer.
#[derive(Clone, Debug, PartialEq)]
pub enum EvalError {
    /// Evidence was missing: an operand of an ordering comparison was none, undefined or NaN,
    /// or a name was undefined. The text names it: `value is none (the query returned no
    /// series)`, `vars.threshhold is undefined`.
    Missing(String),
    /// The expression itself failed: an unknown filter, a type error, too much work.
    Failed(String),
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EvalError::Missing(text) | EvalError::Failed(text) => f.write_str(text),
        }
    }
}

impl From<EvalError> for String {
    fn from(err: EvalError) -> String {
        err.to_string()
    }
}

/// Sorts an evaluation error into missing evidence or a failure, naming what was undefined:
/// never a bare `undefined value`.
fn classify(err: &minijinja::Error, source: &str, ctx: &Value) -> EvalError {
    let detail = err.detail().unwrap_or_default();
    if let Some(text) = detail.strip_prefix(ordering::MISSING) {
        return EvalError::Missing(text.to_string());
    }
    // MiniJinja names the undefined part as `` `vars.x` is undefined ``, alone or inside
    // another message (`tried to use + operator on ... (`vars.x` is undefined)`).
    if let Some(start) = detail.find('`')
        && let Some(rest) = detail[start + 1..]
            .strip_suffix("` is undefined")
            .or_else(|| detail[start + 1..].strip_suffix("` is undefined)"))
        && !rest.contains('`')
    {
        return EvalError::Missing(format!("{rest} is undefined"));
    }
    if err.kind() == ErrorKind::UndefinedError {
        let names = if is_template(source) {
            check_template(source)
        } else {
            check_expression(source)
        };
        let named = names
            .ok()
            .into_iter()
            .flatten()
            .find(|name| lookup_value(ctx, name).is_none());
        return EvalError::Missing(match named {
            Some(name) => format!("{name} is undefined"),
            None => format!("a value in `{}` is undefined", strip_braces(source)),
        });
    }
    EvalError::Failed(describe(err))
}

fn describe(err: &minijinja::Error) -> String {
    if err.kind() == ErrorKind::OutOfFuel {
        return format!(
            "evaluation stopped after {FUEL} operations (a loop or filter over too much data?)"
        );
    }
    let mut text = match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
    };
    // `<expression>`, `<string>`, `<shell>`: not a file, nothing to name.
    if let Some(name) = err.name()
        && !name.starts_with('<')
    {
        text.push_str(&format!(" (in {name})"));
    }
    text
}

/// Checks that an expression parses; returns the names it reads, dotted (`steps.a.rate_5xx`).
pub fn check_expression(source: &str) -> Result<Vec<String>, String> {
    let expr = env()
        .compile_expression(strip_braces(source))
        .map_err(|e| describe(&e))?;
    repetition::check(strip_braces(source), true)?;
    let mut names: Vec<String> = expr.undeclared_variables(true).into_iter().collect();
    sort_by_appearance(&mut names, source);
    Ok(names)
}

/// Checks that a template parses; returns the names it reads, dotted.
pub fn check_template(source: &str) -> Result<Vec<String>, String> {
    if !is_template(source) {
        return Ok(Vec::new());
    }
    let tmpl = env().template_from_str(source).map_err(|e| describe(&e))?;
    repetition::check(source, false)?;
    let mut names: Vec<String> = tmpl.undeclared_variables(true).into_iter().collect();
    sort_by_appearance(&mut names, source);
    Ok(names)
}

fn sort_by_appearance(names: &mut [String], source: &str) {
    names.sort_by_key(|n| (source.find(n.as_str()).unwrap_or(usize::MAX), n.clone()));
}

/// The context value expressions see, from plain JSON.
pub fn context(json: &Json) -> Value {
    value_of(json)
}

/// Prometheus's special sample values as the timeline writes them (JSON has no NaN).
const SPECIAL_FLOATS: [(&str, f64); 3] = [
    ("NaN", f64::NAN),
    ("+Inf", f64::INFINITY),
    ("-Inf", f64::NEG_INFINITY),
];

/// A step result as expressions see it: plain JSON, except that a `value` written as `"NaN"`,
/// `"+Inf"` or `"-Inf"` (a Prometheus sample, recorded as Prometheus writes it) is the float
/// again, so `value is nan` holds and `value < 0.5` fails closed.
pub fn value_of(json: &Json) -> Value {
    match json {
        Json::Object(map) => object_value(map),
        Json::Array(items) if items.iter().any(has_special_float) => {
            Value::from(items.iter().map(value_of).collect::<Vec<_>>())
        }
        other => Value::from(minijinja::value::Serde(other)),
    }
}

/// [`value_of`] for a map of fields, without wrapping it in JSON first.
pub fn object_value(map: &Map<String, Json>) -> Value {
    if !map.iter().any(|(key, item)| special_entry(key, item)) {
        return Value::from(minijinja::value::Serde(map));
    }
    let converted: std::collections::BTreeMap<String, Value> = map
        .iter()
        .map(|(key, item)| {
            let converted = match item {
                Json::String(text) if key == "value" => special_float(text)
                    .map(Value::from)
                    .unwrap_or_else(|| value_of(item)),
                _ => value_of(item),
            };
            (key.clone(), converted)
        })
        .collect();
    Value::from(converted)
}

fn special_entry(key: &str, item: &Json) -> bool {
    match item {
        Json::String(text) => key == "value" && special_float(text).is_some(),
        other => has_special_float(other),
    }
}

fn special_float(text: &str) -> Option<f64> {
    SPECIAL_FLOATS
        .iter()
        .find(|(name, _)| *name == text)
        .map(|(_, v)| *v)
}

fn has_special_float(json: &Json) -> bool {
    match json {
        Json::Object(map) => map.iter().any(|(key, item)| special_entry(key, item)),
        Json::Array(items) => items.iter().any(has_special_float),
        _ => false,
    }
}

/// How the timeline writes a float that JSON cannot hold: as Prometheus does.
pub fn special_float_name(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v == f64::INFINITY {
        Some("+Inf")
    } else if v == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

/// Evaluates an expression to a value. Ordering comparisons are fail-closed: with a none,
/// undefined or NaN operand they raise [`EvalError::Missing`] instead of answering.
pub fn eval(source: &str, ctx: &Value) -> Result<Value, EvalError> {
    let bare = strip_braces(source);
    repetition::check(bare, true).map_err(EvalError::Failed)?;
    let guarded = ordering::guard(bare);
    let expr = env()
        .compile_expression(&guarded)
        .map_err(|e| EvalError::Failed(describe(&e)))?;
    expr.eval(ctx.clone()).map_err(|e| classify(&e, bare, ctx))
}

/// Evaluates an expression as a condition.
pub fn eval_bool(source: &str, ctx: &Value) -> Result<bool, EvalError> {
    let value = eval(source, ctx)?;
    if value.is_undefined() {
        return Err(EvalError::Missing(format!(
            "`{}` is undefined",
            strip_braces(source)
        )));
    }
    Ok(value.is_true())
}

/// Evaluates an expression to JSON (for `loop:` lists and typed template values).
pub fn eval_json(source: &str, ctx: &Value) -> Result<Json, EvalError> {
    let value = eval(source, ctx)?;
    if value.is_undefined() {
        return Err(EvalError::Missing(format!(
            "`{}` is undefined",
            strip_braces(source)
        )));
    }
    to_json(&value).map_err(EvalError::Failed)
}

/// A MiniJinja value as JSON, at most [`MAX_BYTES`] of it.
pub fn to_json(value: &Value) -> Result<Json, String> {
    bounded::to_json(value)
}

/// Renders a template string as plain text ([`Landing::Text`]). Plain strings come back
/// unchanged without touching the engine.
pub fn render(source: &str, ctx: &Value) -> Result<String, String> {
    render_in(source, ctx, Landing::Text)
}

/// Renders a template string whose text lands in `landing`: values that are not trusted are
/// escaped for it (see [`escape`]).
pub fn render_in(source: &str, ctx: &Value, landing: Landing) -> Result<String, String> {
    if !is_template(source) {
        return Ok(source.to_string());
    }
    repetition::check(source, false)?;
    // `{% autoescape false %}` would switch the escaping off without a `| safe` to see.
    if source.contains("autoescape") && !names::scan_template(source).autoescape.is_empty() {
        return Err(names::AUTOESCAPE_MESSAGE.to_string());
    }
    let shell = landing == Landing::Shell;
    if shell {
        escape::start_shell();
    }
    // String literals are runbook text: trusted where the landing escapes.
    let trusting = if landing == Landing::Text {
        std::borrow::Cow::Borrowed(source)
    } else {
        escape::trust_literals(source)
    };
    let text = env().render_named_str(landing.template_name(), &trusting, ctx.clone());
    // A shell command's untrusted values are written once its quoting is known.
    let text = if shell {
        escape::finish_shell(text)?
    } else {
        text
    };
    text.map_err(|e| classify(&e, source, ctx).to_string())
}

/// Looks a dotted name (`steps.a.rate_5xx`) up in a JSON context.
pub fn lookup<'a>(root: &'a Json, dotted: &str) -> Option<&'a Json> {
    dotted.split('.').try_fold(root, |node, part| match node {
        Json::Object(map) => map.get(part),
        Json::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// Looks a dotted name (`steps.a.rate_5xx`, `steps.a.items.0`) up in a context value;
/// `None` when some part of it is not there.
pub fn lookup_value(root: &Value, dotted: &str) -> Option<Value> {
    dotted.split('.').try_fold(root.clone(), |node, part| {
        let next = match part.parse::<usize>() {
            Ok(index) if node.kind() == minijinja::value::ValueKind::Seq => {
                node.get_item(&Value::from(index)).ok()?
            }
            _ => node.get_attr(part).ok()?,
        };
        (!next.is_undefined()).then_some(next)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn braces_are_optional() {
        assert_eq!(strip_braces("{{ vars.sites }}"), "vars.sites");
        assert_eq!(strip_braces("rate_5xx < 0.02"), "rate_5xx < 0.02");
        assert_eq!(strip_braces("{{ a }}-{{ b }}"), "{{ a }}-{{ b }}");
    }

    #[test]
    fn reports_names_read() {
        let names = check_expression("rate_5xx < vars.max and steps.cpu.value < 0.5").unwrap();
        assert_eq!(names, vec!["rate_5xx", "vars.max", "steps.cpu.value"]);
        assert_eq!(
            check_expression("rate_5xx <"),
            Err("syntax error: unexpected end of input, expected expression".into())
        );
        assert_eq!(
            check_template("{{ vars.lb }}/health").unwrap(),
            vec!["vars.lb"]
        );
        assert!(
            check_template("{{ vars.lb ")
                .is_err_and(|e| e.starts_with("syntax error: unexpected end of input")),
            "{:?}",
            check_template("{{ vars.lb ")
        );
    }

    #[test]
    fn evaluates_strictly() {
        let ctx = context(&json!({"rate_5xx": 0.38, "vars": {"max": 0.02}}));
        assert!(!eval_bool("rate_5xx < vars.max", &ctx).unwrap());
        assert!(eval_bool("{{ rate_5xx > vars.max }}", &ctx).unwrap());
        assert_eq!(eval_bool("vars.nope is defined", &ctx), Ok(false));
        assert_eq!(eval_bool("vars.max is defined", &ctx), Ok(true));
        assert_eq!(render("x={{ vars.max }}", &ctx).unwrap(), "x=0.02");
        assert_eq!(eval_json("[1, rate_5xx]", &ctx).unwrap(), json!([1, 0.38]));
        assert_eq!(
            render("{{ vars.lb }}/health", &ctx),
            Err("vars.lb is undefined".to_string())
        );
        assert_eq!(
            eval_bool("rate_5xz < 1", &ctx),
            Err(EvalError::Missing("rate_5xz is undefined".into()))
        );
    }

    #[test]
    fn looks_up_dotted_names() {
        let root = json!({"steps": {"a": {"rate": 1}}, "list": [5]});
        assert_eq!(lookup(&root, "steps.a.rate"), Some(&json!(1)));
        assert_eq!(lookup(&root, "list.0"), Some(&json!(5)));
        assert_eq!(lookup(&root, "steps.b"), None);
        let ctx = context(&root);
        assert_eq!(lookup_value(&ctx, "steps.a.rate"), Some(Value::from(1)));
        assert_eq!(lookup_value(&ctx, "list.0"), Some(Value::from(5)));
        assert_eq!(lookup_value(&ctx, "steps.b"), None);
        assert_eq!(lookup_value(&ctx, "list.1"), None);
    }
}

#[cfg(test)]
mod filter_tests {
    use super::*;
    use serde_json::json;

    /// The shipped runbook picks the node groups to act on with these filters.
    #[test]
    fn selects_groups_over_a_threshold() {
        let ctx = context(&json!({"values": [
            {"labels": {"group": "frontend"}, "value": 0.4},
            {"labels": {"group": "api"}, "value": 0.01}
        ]}));
        let picked = eval_json(
            "values | selectattr('value', 'gt', 0.1) | map(attribute='labels.group') | list",
            &ctx,
        )
        .unwrap();
        assert_eq!(picked, json!(["frontend"]));
        // `and` does not look at its right side when the left is false.
        assert_eq!(eval_bool("false and undefined_name.x", &ctx), Ok(false));
    }
}

#[cfg(test)]
mod fail_closed_tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Value {
        context(&json!({
            "value": null, "series": 0, "result_type": "vector", "error": null,
            "rate_5xx": null, "responses": 0, "count": 60, "p95_ms": 12.5,
            "vars": {"max": 0.02, "list": [1, 2, 3]},
            "steps": {"cpu": {"value": "NaN", "series": 1, "values": [{"labels": {}, "value": "+Inf"}, {"labels": {}, "value": null}]}}
        }))
    }

    fn missing(source: &str) -> String {
        match eval_bool(source, &ctx()) {
            Err(EvalError::Missing(text)) => text,
            other => panic!("{source}: expected missing evidence, got {other:?}"),
        }
    }

    #[test]
    fn ordering_with_missing_operands_never_passes() {
        assert_eq!(
            missing("value < 0.5"),
            "value is none (the query returned no series)"
        );
        assert_eq!(
            missing("rate_5xx < vars.max"),
            "rate_5xx is none (0 of 60 requests were answered)"
        );
        assert_eq!(
            missing("not (value >= 0.5)"),
            "value is none (the query returned no series)"
        );
        assert_eq!(
            missing("steps.cpu.value > 0.9"),
            "steps.cpu.value is NaN (Prometheus returned NaN)"
        );
        assert_eq!(
            missing("0.5 > vars.threshhold"),
            "vars.threshhold is undefined"
        );
        assert_eq!(missing("([] | max) < 1"), "([] | max) is undefined");
        assert_eq!(
            missing("(vars.list | select('gt', 5) | map('round', 2) | max) >= 1"),
            "(vars.list | select('gt', 5) | map('round', 2) | max) is undefined"
        );
        assert_eq!(
            missing("vars.threshhold == 1"),
            "vars.threshhold is undefined"
        );
        assert_eq!(
            missing("vars.threshhold + 1 > 2"),
            "vars.threshhold is undefined"
        );
        // Tests that order (`selectattr('value', 'lt', 1)`) follow the same rule.
        assert_eq!(
            missing("steps.cpu['values'] | selectattr('value', 'lt', 1) | list | length > 0"),
            "the tested value is none"
        );
        assert!(!eval_bool("steps.cpu['values'][0].value < 1", &ctx()).unwrap());
    }

    #[test]
    fn defaults_written_by_the_author_still_work() {
        let c = ctx();
        assert!(eval_bool("value is none or value < 0.5", &c).unwrap());
        assert!(eval_bool("(value or 0) < 0.5", &c).unwrap());
        assert!(eval_bool("steps.cpu.value is nan", &c).unwrap());
        assert!(!eval_bool("steps.cpu.value is finite", &c).unwrap());
        assert!(eval_bool("p95_ms < 100 and p95_ms > 1", &c).unwrap());
        assert!(eval_bool("1 < p95_ms < 100", &c).unwrap());
        assert!(!eval_bool("1 < p95_ms < 10", &c).unwrap());
    }

    /// The rewrite prints the expression back: whatever it prints must mean the same.
    #[test]
    fn rewritten_expressions_mean_the_same() {
        let c = context(&json!({
            "a": 3, "b": 2.5, "s": "abc", "l": [3, 1, 2], "m": {"k": {"x": 4}},
            "vals": [{"v": 1}, {"v": 5}]
        }));
        for (source, expected) in [
            ("a > b", json!(true)),
            ("-a < -b", json!(true)),
            ("a - 0.5 >= b and not (a < 0)", json!(true)),
            ("(a + 1) * 2 > 7", json!(true)),
            ("a ** 2 // 2 > 3.9", json!(true)),
            ("'x' ~ s < 'xb'", json!(true)),
            ("s[1:] > 'b'", json!(true)),
            ("l[0] > l[-1]", json!(true)),
            ("l | sort | first < 2", json!(true)),
            ("(l | max) > 2 if a > 1 else false", json!(true)),
            (
                "vals | selectattr('v', 'gt', 2) | map(attribute='v') | list",
                json!([5]),
            ),
            ("vals | rejectattr('v', '>=', 2) | list | length", json!(1)),
            ("m.k.x > 3 and m['k'].x >= 4", json!(true)),
            (
                "{'k': a > 1, 'n': [1, 2.0, none, true]}",
                json!({"k": true, "n": [1, 2.0, null, true]}),
            ),
            ("(a,) | length > 0", json!(true)),
            ("range(3) | list | length < 4", json!(true)),
            ("a > 1 and s is string and s is not number", json!(true)),
            ("'a\"b\\\\c' < 'b'", json!(true)),
            ("a is divisibleby 3 and a > 2", json!(true)),
            ("1.0 / 2 < 1", json!(true)),
            ("s in ['abc'] and a not in [1] and b > 2", json!(true)),
            ("a == 3 < 4", json!(true)),
        ] {
            let got = eval_json(source, &c).unwrap_or_else(|e| panic!("{source}: {e}"));
            assert_eq!(
                got,
                expected,
                "{source} (rewritten: {})",
                ordering::guard(source)
            );
        }
    }

    #[test]
    fn mismatched_kinds_are_an_error_not_an_order() {
        let c = context(&json!({"body": "0.3"}));
        assert!(matches!(
            eval_bool("body < 0.5", &c),
            Err(EvalError::Failed(text)) if text.contains("cannot order body")
        ));
    }

    #[test]
    fn special_floats_come_back_from_the_timeline() {
        let v = value_of(&json!({"value": "-Inf", "values": [{"value": "NaN"}], "body": "NaN"}));
        assert_eq!(v.get_attr("value").unwrap().to_string(), "-inf");
        assert_eq!(v.get_attr("body").unwrap().as_str(), Some("NaN"));
        assert!(ordering::is_nan(
            v.get_attr("values")
                .unwrap()
                .get_item(&Value::from(0))
                .unwrap()
                .get_attr("value")
                .unwrap()
        ));
    }
}
