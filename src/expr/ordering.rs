//! Fail-closed ordering comparisons: `<`, `<=`, `>`, `>=` with a none, undefined or NaN
//! operand never evaluate to true.
//!
//! MiniJinja orders values of different kinds by kind, so `none < 0.5` and `NaN > 0.5` are
//! both true: a Prometheus query that returned no series, or a probe that got no answer, would
//! pass `value < 0.5`. Every ordering comparison of an expression is therefore rewritten, once,
//! into a call of [`ORDER`], which compares like MiniJinja when both operands are present and
//! raises a [`MISSING`] error naming the operand, and why it is empty, when one is not. An
//! author who wants a default writes it (`value is none or value < 0.5`, `(value or 0) < 0.5`):
//! `or` does not evaluate its right side when the left is true, so that still works.
//!
//! The rewrite prints the parsed expression back as source, fully parenthesized, with each
//! comparison replaced: spans of MiniJinja's AST leave out parentheses, so splicing the
//! original text would not be exact. Sources without `<` or `>` are left untouched.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use minijinja::machinery::Span;
use minijinja::machinery::ast::{BinOpKind, CallArg, CompareOpKind, Expr, UnaryOpKind};
use minijinja::value::ValueKind;
use minijinja::{Error, ErrorKind, State, Value};

/// The function ordering comparisons become. Not a name an author can mean.
pub const ORDER: &str = "__runbook_order";

/// How the errors of [`ORDER`] and the ordering tests start, so that callers can tell missing
/// evidence from a broken expression.
pub const MISSING: &str = "missing evidence: ";

/// The source with every ordering comparison made fail-closed; the source itself when it has
/// none (or does not parse: the caller's compile reports that).
pub fn guard(source: &str) -> Arc<str> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<str>>>> = OnceLock::new();
    if !source.contains('<') && !source.contains('>') {
        return Arc::from(source);
    }
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().ok().and_then(|c| c.get(source).cloned()) {
        return hit;
    }
    let rewritten: Arc<str> = match minijinja::machinery::parse_expr(source) {
        Ok(ast) => {
            let mut out = String::with_capacity(source.len() * 2);
            print(&ast, source, &mut out);
            Arc::from(out)
        }
        Err(_) => Arc::from(source),
    };
    if let Ok(mut cache) = cache.lock() {
        // Runbooks hold a few hundred expressions; a loop rendering new ones stays bounded.
        if cache.len() > 4096 {
            cache.clear();
        }
        cache.insert(source.to_string(), Arc::clone(&rewritten));
    }
    rewritten
}

/// The comparison behind [`ORDER`]: `left op right` when both are comparable, else an error
/// that names the operand (`value is none (the query returned no series)`).
/// Called as `ORDER(left, right, [op, left as written, right as written])`.
pub fn order(state: &State, left: Value, right: Value, how: Vec<String>) -> Result<bool, Error> {
    let [op, left_source, right_source] = how.as_slice() else {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "the comparison helper takes [op, left, right]",
        ));
    };
    compare(state, left, op, right, left_source, right_source)
}

fn compare(
    state: &State,
    left: Value,
    op: &str,
    right: Value,
    left_source: &str,
    right_source: &str,
) -> Result<bool, Error> {
    check_operand(state, &left, left_source)?;
    check_operand(state, &right, right_source)?;
    check_kinds(&left, left_source, &right, right_source)?;
    Ok(match op {
        "<" => left < right,
        "<=" => left <= right,
        ">" => left > right,
        ">=" => left >= right,
        other => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("unknown comparison `{other}`"),
            ));
        }
    })
}

/// The tests `lt`, `le`, `gt`, `ge` (and their aliases) with the same rule, for
/// `selectattr('value', 'ge', 0.5)`: a series without a value is never selected silently.
pub fn test(op: &'static str) -> impl Fn(&State, Value, Value) -> Result<bool, Error> {
    move |state, value, other| compare(state, value, op, other, "the tested value", "the operand")
}

/// `value is nan`: Prometheus's NaN, kept as a float.
pub fn is_nan(value: Value) -> bool {
    f64::try_from(value).is_ok_and(f64::is_nan)
}

/// `value is finite`: a number that is neither NaN nor infinite.
pub fn is_finite(value: Value) -> bool {
    value.kind() == ValueKind::Number && f64::try_from(value).is_ok_and(f64::is_finite)
}

fn missing(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, format!("{MISSING}{message}"))
}

fn check_operand(state: &State, value: &Value, source: &str) -> Result<(), Error> {
    let empty = if value.is_undefined() {
        "undefined"
    } else if value.is_none() {
        "none"
    } else if is_nan(value.clone()) {
        "NaN"
    } else {
        return Ok(());
    };
    let mut message = format!("{source} is {empty}");
    if let Some(why) = why_empty(state, source, empty) {
        let _ = write!(message, " ({why})");
    }
    Err(missing(message))
}

/// Numbers compare with numbers, strings with strings, lists with lists: anything else is a
/// type error, not an order (MiniJinja would order `"0.3" < 0.5` by kind).
fn check_kinds(
    left: &Value,
    left_source: &str,
    right: &Value,
    right_source: &str,
) -> Result<(), Error> {
    let class = |v: &Value| match v.kind() {
        ValueKind::Number | ValueKind::Bool => "number",
        ValueKind::String => "string",
        ValueKind::Seq => "list",
        ValueKind::Map => "mapping",
        _ => "value",
    };
    if class(left) == class(right) && class(left) != "mapping" && class(left) != "value" {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::InvalidOperation,
        format!(
            "cannot order {left_source} ({} {}) against {right_source} ({} {})",
            class(left),
            short(left),
            class(right),
            short(right)
        ),
    ))
}

fn short(value: &Value) -> String {
    let text = match value.kind() {
        ValueKind::String => format!("{:?}", value.as_str().unwrap_or_default()),
        _ => value.to_string(),
    };
    if text.chars().count() > 40 {
        format!("{}...", text.chars().take(37).collect::<String>())
    } else {
        text
    }
}

/// Why a field of a known executor is empty, read from its sibling fields: `value` of a
/// Prometheus query without series, the latency and rates of a probe nobody answered.
fn why_empty(state: &State, source: &str, empty: &str) -> Option<String> {
    let path: Vec<&str> = source.split('.').collect();
    let dotted = path
        .iter()
        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    if !dotted {
        return None;
    }
    let (field, parents) = path.split_last()?;
    let sibling = |name: &str| -> Option<Value> {
        let mut node = match parents.split_first() {
            None => return state.lookup(name),
            Some((first, rest)) => {
                let mut node = state.lookup(first)?;
                for part in rest {
                    node = node.get_attr(part).ok()?;
                }
                node
            }
        };
        node = node.get_attr(name).ok()?;
        (!node.is_undefined()).then_some(node)
    };
    let number = |name: &str| sibling(name).and_then(|v| i64::try_from(v).ok());
    match *field {
        "value" if empty == "NaN" => Some("Prometheus returned NaN".into()),
        "value" => {
            if let Some(error) = sibling("error").filter(|e| !e.is_none())
                && let Some(error) = error.as_str()
            {
                return Some(format!("Prometheus could not be reached: {error}"));
            }
            match sibling("result_type").as_ref().and_then(Value::as_str) {
                Some("string") => Some("the query returned a string, not a number".into()),
                _ if number("series") == Some(0) => Some("the query returned no series".into()),
                _ => None,
            }
        }
        "rate_5xx" | "rate_error" | "p50_ms" | "p95_ms" | "p99_ms" | "max_ms" | "status" => {
            let responses = number("responses")?;
            let count = number("count")?;
            (responses == 0).then(|| format!("0 of {count} requests were answered"))
        }
        _ => None,
    }
}

/// Prints an expression back as source, with ordering comparisons as calls of [`ORDER`].
fn print(expr: &Expr<'_>, src: &str, out: &mut String) {
    match expr {
        Expr::Var(v) => out.push_str(v.id),
        Expr::Const(c) => constant(&c.value, out),
        Expr::Slice(s) => {
            postfix_base(&s.expr, src, out);
            out.push('[');
            if let Some(start) = &s.start {
                print(start, src, out);
            }
            out.push(':');
            if let Some(stop) = &s.stop {
                print(stop, src, out);
            }
            if let Some(step) = &s.step {
                out.push(':');
                print(step, src, out);
            }
            out.push(']');
        }
        Expr::UnaryOp(u) => {
            out.push_str(match u.op {
                UnaryOpKind::Not => "(not ",
                UnaryOpKind::Neg => "(-",
            });
            group(&u.expr, src, out);
            out.push(')');
        }
        Expr::BinOp(b) => match ordering_binop(b.op) {
            Some(op) => comparison(&b.left, op, &b.right, src, out),
            None => {
                out.push('(');
                group(&b.left, src, out);
                out.push(' ');
                out.push_str(binop(b.op));
                out.push(' ');
                group(&b.right, src, out);
                out.push(')');
            }
        },
        Expr::Compare(c) => {
            // `a < b < c` is `a < b and b < c`, as in Python and Jinja.
            out.push('(');
            let mut left = &c.expr;
            for (i, op) in c.ops.iter().enumerate() {
                if i > 0 {
                    out.push_str(" and ");
                }
                match ordering_compare(op.op) {
                    Some(symbol) => comparison(left, symbol, &op.expr, src, out),
                    None => {
                        out.push('(');
                        group(left, src, out);
                        out.push(' ');
                        out.push_str(compare_op(op.op));
                        out.push(' ');
                        group(&op.expr, src, out);
                        out.push(')');
                    }
                }
                left = &op.expr;
            }
            out.push(')');
        }
        Expr::IfExpr(i) => {
            out.push('(');
            group(&i.true_expr, src, out);
            out.push_str(" if ");
            group(&i.test_expr, src, out);
            if let Some(other) = &i.false_expr {
                out.push_str(" else ");
                group(other, src, out);
            }
            out.push(')');
        }
        Expr::Filter(f) => {
            out.push('(');
            if let Some(inner) = &f.expr {
                group(inner, src, out);
                out.push_str(" | ");
            }
            out.push_str(f.name);
            if !f.args.is_empty() {
                arguments(&f.args, src, out);
            }
            out.push(')');
        }
        Expr::Test(t) => {
            out.push('(');
            group(&t.expr, src, out);
            out.push_str(" is ");
            out.push_str(t.name);
            if !t.args.is_empty() {
                arguments(&t.args, src, out);
            }
            out.push(')');
        }
        Expr::GetAttr(g) => {
            postfix_base(&g.expr, src, out);
            out.push('.');
            out.push_str(g.name);
        }
        Expr::GetItem(g) => {
            postfix_base(&g.expr, src, out);
            out.push('[');
            print(&g.subscript_expr, src, out);
            out.push(']');
        }
        Expr::Call(c) => {
            postfix_base(&c.expr, src, out);
            arguments(&c.args, src, out);
        }
        Expr::List(l) => {
            out.push('[');
            items(&l.items, src, out);
            out.push(']');
        }
        Expr::Tuple(t) => {
            out.push('(');
            items(&t.items, src, out);
            // A one-item tuple needs its comma.
            if t.items.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        Expr::Map(m) => {
            out.push('{');
            for (i, (key, value)) in m.keys.iter().zip(&m.values).enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                print(key, src, out);
                out.push_str(": ");
                print(value, src, out);
            }
            out.push('}');
        }
    }
}

/// An operand: its own printing already brackets anything that needs it.
fn group(expr: &Expr<'_>, src: &str, out: &mut String) {
    print(expr, src, out);
}

/// The base of `.attr`, `[item]` or `(args)`: names and lookups chain as written; anything
/// else is parenthesized (printing a constant bare before `.x` could read as a float).
fn postfix_base(expr: &Expr<'_>, src: &str, out: &mut String) {
    match expr {
        Expr::Var(_) | Expr::GetAttr(_) | Expr::GetItem(_) | Expr::Call(_) | Expr::Slice(_) => {
            print(expr, src, out)
        }
        _ => {
            out.push('(');
            print(expr, src, out);
            out.push(')');
        }
    }
}

fn comparison(left: &Expr<'_>, op: &str, right: &Expr<'_>, src: &str, out: &mut String) {
    let mut left_text = String::new();
    print(left, src, &mut left_text);
    let mut right_text = String::new();
    print(right, src, &mut right_text);
    let _ = write!(
        out,
        "{ORDER}({left_text}, {right_text}, [{}, {}, {}])",
        quote(op),
        quote(&shown(left, &left_text, src)),
        quote(&shown(right, &right_text, src))
    );
}

/// The operand as the message names it: `value`, `steps.cpu.value`, or its source: as printed
/// unless that holds a rewritten comparison, else as written (spans are approximate).
fn shown(expr: &Expr<'_>, printed: &str, source: &str) -> String {
    let mut name = String::new();
    if dotted(expr, &mut name) {
        return name;
    }
    let text = written(expr, source)
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| printed.replace(&format!("{ORDER}("), "order("));
    // `(values | max) is none` reads as one operand; `values | max is none` would not.
    if text.contains(' ') && !(text.starts_with('(') && text.ends_with(')')) {
        format!("({text})")
    } else {
        text
    }
}

/// An operand's text as written: from the start of its first token to the end of its last,
/// closing the brackets a span leaves out (`x | round(2` ends before its `)`).
fn written(expr: &Expr<'_>, source: &str) -> Option<String> {
    let (start, mut end) = extent(expr);
    let depth = |text: &str| {
        text.chars().fold(0i32, |d, c| match c {
            '(' | '[' | '{' => d + 1,
            ')' | ']' | '}' => d - 1,
            _ => d,
        })
    };
    let mut open = depth(source.get(start..end)?);
    while open > 0 {
        let rest = source.get(end..)?;
        let skipped = rest.len() - rest.trim_start().len();
        let next = rest.trim_start().chars().next()?;
        if !matches!(next, ')' | ']' | '}') {
            return None;
        }
        end += skipped + next.len_utf8();
        open -= 1;
    }
    (open == 0).then(|| {
        source[start..end]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// The byte range an expression's tokens cover: its own span and all of its children's.
fn extent(expr: &Expr<'_>) -> (usize, usize) {
    let own = span(expr);
    let mut range = (own.start_offset as usize, own.end_offset as usize);
    let mut widen = |child: &Expr<'_>| {
        let (s, e) = extent(child);
        range = (range.0.min(s), range.1.max(e));
    };
    match expr {
        Expr::Var(_) | Expr::Const(_) => {}
        Expr::Slice(s) => {
            widen(&s.expr);
            for part in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                widen(part);
            }
        }
        Expr::UnaryOp(u) => widen(&u.expr),
        Expr::BinOp(b) => {
            widen(&b.left);
            widen(&b.right);
        }
        Expr::Compare(c) => {
            widen(&c.expr);
            c.ops.iter().for_each(|op| widen(&op.expr));
        }
        Expr::IfExpr(i) => {
            widen(&i.test_expr);
            widen(&i.true_expr);
            if let Some(other) = &i.false_expr {
                widen(other);
            }
        }
        Expr::Filter(f) => {
            if let Some(inner) = &f.expr {
                widen(inner);
            }
            f.args.iter().for_each(|a| widen(argument(a)));
        }
        Expr::Test(t) => {
            widen(&t.expr);
            t.args.iter().for_each(|a| widen(argument(a)));
        }
        Expr::GetAttr(g) => widen(&g.expr),
        Expr::GetItem(g) => {
            widen(&g.expr);
            widen(&g.subscript_expr);
        }
        Expr::Call(c) => {
            widen(&c.expr);
            c.args.iter().for_each(|a| widen(argument(a)));
        }
        Expr::List(l) => l.items.iter().for_each(&mut widen),
        Expr::Tuple(t) => t.items.iter().for_each(&mut widen),
        Expr::Map(m) => m.keys.iter().chain(&m.values).for_each(&mut widen),
    }
    range
}

fn argument<'a>(arg: &'a CallArg<'a>) -> &'a Expr<'a> {
    match arg {
        CallArg::Pos(e) | CallArg::Kwarg(_, e) | CallArg::PosSplat(e) | CallArg::KwargSplat(e) => e,
    }
}

fn span(expr: &Expr<'_>) -> Span {
    match expr {
        Expr::Var(s) => s.span(),
        Expr::Const(s) => s.span(),
        Expr::Slice(s) => s.span(),
        Expr::UnaryOp(s) => s.span(),
        Expr::BinOp(s) => s.span(),
        Expr::Compare(s) => s.span(),
        Expr::IfExpr(s) => s.span(),
        Expr::Filter(s) => s.span(),
        Expr::Test(s) => s.span(),
        Expr::GetAttr(s) => s.span(),
        Expr::GetItem(s) => s.span(),
        Expr::Call(s) => s.span(),
        Expr::List(s) => s.span(),
        Expr::Tuple(s) => s.span(),
        Expr::Map(s) => s.span(),
    }
}

/// `a.b.c` for a name with attribute lookups; false for anything else.
fn dotted(expr: &Expr<'_>, out: &mut String) -> bool {
    match expr {
        Expr::Var(v) => {
            out.push_str(v.id);
            true
        }
        Expr::GetAttr(g) => {
            if !dotted(&g.expr, out) {
                return false;
            }
            out.push('.');
            out.push_str(g.name);
            true
        }
        _ => false,
    }
}

fn arguments(args: &[CallArg<'_>], src: &str, out: &mut String) {
    out.push('(');
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        match arg {
            CallArg::Pos(e) => print(e, src, out),
            CallArg::Kwarg(name, e) => {
                out.push_str(name);
                out.push('=');
                print(e, src, out);
            }
            CallArg::PosSplat(e) => {
                out.push('*');
                print(e, src, out);
            }
            CallArg::KwargSplat(e) => {
                out.push_str("**");
                print(e, src, out);
            }
        }
    }
    out.push(')');
}

fn items(list: &[Expr<'_>], src: &str, out: &mut String) {
    for (i, item) in list.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        print(item, src, out);
    }
}

fn constant(value: &Value, out: &mut String) {
    match value.kind() {
        ValueKind::None | ValueKind::Undefined => out.push_str("none"),
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::String => out.push_str(&quote(value.as_str().unwrap_or_default())),
        ValueKind::Number => {
            // Floats keep their point (`1.0`), so `1.0 / 2` stays a float division.
            match f64::try_from(value.clone()) {
                Ok(f) if !value.is_integer() => {
                    let _ = write!(out, "{f:?}");
                }
                _ => {
                    let _ = write!(out, "{value}");
                }
            }
        }
        ValueKind::Seq => {
            out.push('[');
            if let Ok(iter) = value.try_iter() {
                for (i, item) in iter.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    constant(&item, out);
                }
            }
            out.push(']');
        }
        _ => {
            let _ = write!(out, "{value}");
        }
    }
}

/// A string literal MiniJinja reads back as the same string (its escapes are JSON's).
fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

fn ordering_binop(op: BinOpKind) -> Option<&'static str> {
    match op {
        BinOpKind::Lt => Some("<"),
        BinOpKind::Lte => Some("<="),
        BinOpKind::Gt => Some(">"),
        BinOpKind::Gte => Some(">="),
        _ => None,
    }
}

fn ordering_compare(op: CompareOpKind) -> Option<&'static str> {
    match op {
        CompareOpKind::Lt => Some("<"),
        CompareOpKind::Lte => Some("<="),
        CompareOpKind::Gt => Some(">"),
        CompareOpKind::Gte => Some(">="),
        _ => None,
    }
}

fn binop(op: BinOpKind) -> &'static str {
    match op {
        BinOpKind::Eq => "==",
        BinOpKind::Ne => "!=",
        BinOpKind::Lt => "<",
        BinOpKind::Lte => "<=",
        BinOpKind::Gt => ">",
        BinOpKind::Gte => ">=",
        BinOpKind::ScAnd => "and",
        BinOpKind::ScOr => "or",
        BinOpKind::Add => "+",
        BinOpKind::Sub => "-",
        BinOpKind::Mul => "*",
        BinOpKind::Div => "/",
        BinOpKind::FloorDiv => "//",
        BinOpKind::Rem => "%",
        BinOpKind::Pow => "**",
        BinOpKind::Concat => "~",
        BinOpKind::In => "in",
    }
}

fn compare_op(op: CompareOpKind) -> &'static str {
    match op {
        CompareOpKind::Eq => "==",
        CompareOpKind::Ne => "!=",
        CompareOpKind::Lt => "<",
        CompareOpKind::Lte => "<=",
        CompareOpKind::Gt => ">",
        CompareOpKind::Gte => ">=",
        CompareOpKind::In => "in",
        CompareOpKind::NotIn => "not in",
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Expressions over numbers, strings and lists, with every operator the printer handles.
    fn expression() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            (-50i64..50).prop_map(|n| n.to_string()),
            (-50.0f64..50.0).prop_map(|f| format!("{f:.2}")),
            Just("a".to_string()),
            Just("b".to_string()),
            Just("m.k".to_string()),
            Just("m['k']".to_string()),
            Just("l[1]".to_string()),
            Just("(l | length)".to_string()),
            Just("'x\\'y'".to_string()),
            Just("none".to_string()),
        ];
        leaf.prop_recursive(4, 48, 3, |inner| {
            let binary = [
                "+", "-", "*", "/", "//", "%", "<", "<=", ">", ">=", "==", "!=", "and", "or", "~",
            ];
            prop_oneof![
                (
                    inner.clone(),
                    prop::sample::select(binary.to_vec()),
                    inner.clone()
                )
                    .prop_map(|(l, op, r)| format!("{l} {op} {r}")),
                (inner.clone(), inner.clone(), inner.clone())
                    .prop_map(|(a, b, c)| format!("{a} < {b} <= {c}")),
                inner.clone().prop_map(|e| format!("not ({e})")),
                inner.clone().prop_map(|e| format!("-({e})")),
                inner.clone().prop_map(|e| format!("({e}) | abs")),
                inner.clone().prop_map(|e| format!("({e}) is number")),
                inner.clone().prop_map(|e| format!("({e}) is not none")),
                (inner.clone(), inner.clone(), inner.clone())
                    .prop_map(|(a, b, c)| format!("{a} if {b} else {c}")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("[{a}, {b}] | first")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}, {b})[0]")),
                inner.clone().prop_map(|e| format!("{{'k': {e}}}.k")),
                inner.prop_map(|e| format!("[1, 2, 3] | select('gt', {e}) | list | length")),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        /// Wherever MiniJinja answers without a missing operand or mixed kinds, the rewritten
        /// expression answers the same; where the rewrite refuses, it says why.
        #[test]
        fn the_rewrite_changes_nothing_but_missing_operands(source in expression()) {
            let env = crate::expr::env();
            let ctx = minijinja::context! { a => 3, b => 2.5, m => minijinja::context! { k => 4 }, l => vec![5, 6, 7] };
            let Ok(raw) = env.compile_expression(&source) else { return Ok(()); };
            let guarded = guard(&source);
            let rewritten = env.compile_expression(&guarded);
            prop_assert!(rewritten.is_ok(), "{source} printed as {guarded} does not compile");
            let before = raw.eval(ctx.clone());
            let after = rewritten.unwrap().eval(ctx);
            match (before, after) {
                (Ok(x), Ok(y)) => prop_assert_eq!(
                    format!("{x:?}"), format!("{y:?}"), "{} printed as {}", source, guarded
                ),
                (_, Err(e)) => prop_assert!(
                    e.kind() != ErrorKind::SyntaxError,
                    "{source} printed as {guarded}: {e}"
                ),
                (Err(_), Ok(_)) => {}
            }
        }
    }
}
