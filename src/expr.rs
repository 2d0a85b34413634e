//! Expressions (`when`, `expect`, `loop`) and `{{ }}` templates, in MiniJinja: the Jinja2 that
//! Ansible users already write in `when:`.
//!
//! Undefined names are errors (`SemiStrict`), so a typo in `steps.sample_lb.rate_5xx` stops
//! the step with a message instead of quietly evaluating to false. `x is defined` still works.

pub mod names;
mod repetition;

use std::sync::OnceLock;

use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value};
use serde_json::Value as Json;

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
        // Rendered text goes to URLs, commands and logs, never into HTML.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
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
    if let Some(name) = err.name()
        && name != "<expression>"
        && name != "<string>"
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
    Value::from(minijinja::value::Serde(json))
}

/// Evaluates an expression to a value.
pub fn eval(source: &str, ctx: &Value) -> Result<Value, String> {
    repetition::check(strip_braces(source), true)?;
    let expr = env()
        .compile_expression(strip_braces(source))
        .map_err(|e| describe(&e))?;
    expr.eval(ctx.clone()).map_err(|e| describe(&e))
}

/// Evaluates an expression as a condition.
pub fn eval_bool(source: &str, ctx: &Value) -> Result<bool, String> {
    let value = eval(source, ctx)?;
    if value.is_undefined() {
        return Err(format!("`{}` is undefined", strip_braces(source)));
    }
    Ok(value.is_true())
}

/// Evaluates an expression to JSON (for `loop:` lists and typed template values).
pub fn eval_json(source: &str, ctx: &Value) -> Result<Json, String> {
    let value = eval(source, ctx)?;
    if value.is_undefined() {
        return Err(format!("`{}` is undefined", strip_braces(source)));
    }
    to_json(&value)
}

/// A MiniJinja value as JSON.
pub fn to_json(value: &Value) -> Result<Json, String> {
    serde_json::to_value(value).map_err(|e| format!("value cannot be represented as data: {e}"))
}

/// Renders a template string. Plain strings come back unchanged without touching the engine.
pub fn render(source: &str, ctx: &Value) -> Result<String, String> {
    if !is_template(source) {
        return Ok(source.to_string());
    }
    repetition::check(source, false)?;
    env()
        .render_str(source, ctx.clone())
        .map_err(|e| describe(&e))
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
        assert!(check_expression("rate_5xx <").is_err());
        assert_eq!(
            check_template("{{ vars.lb }}/health").unwrap(),
            vec!["vars.lb"]
        );
        assert!(check_template("{{ vars.lb ").is_err());
    }

    #[test]
    fn evaluates_strictly() {
        let ctx = context(&json!({"rate_5xx": 0.38, "vars": {"max": 0.02}}));
        assert!(!eval_bool("rate_5xx < vars.max", &ctx).unwrap());
        assert!(eval_bool("{{ rate_5xx > vars.max }}", &ctx).unwrap());
        assert!(eval_bool("rate_5xz < 1", &ctx).is_err());
        assert!(eval_bool("vars.nope is defined", &ctx).is_ok());
        assert_eq!(render("x={{ vars.max }}", &ctx).unwrap(), "x=0.02");
        assert_eq!(eval_json("[1, rate_5xx]", &ctx).unwrap(), json!([1, 0.38]));
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
        assert!(eval_bool("false and undefined_name.x", &ctx).is_ok());
    }
}
