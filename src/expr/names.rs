//! The names an expression or template uses that only exist at run time: filters (`| round`),
//! tests (`is none`), methods (`.strip()`) and vars (`vars.threshold`), each with where it is
//! written, so `validate` can reject what would otherwise fail in the middle of an incident.
//!
//! Whether a filter, test or method exists is asked of the [`super::env`] the engine evaluates
//! with, not of a list kept here: whatever is registered there is known here.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use minijinja::machinery::ast::{self, CallArg, Expr, Stmt};
use minijinja::machinery::{parse, parse_expr};
use minijinja::syntax::SyntaxConfig;
use minijinja::{ErrorKind, Value, context};

/// What kind of name a [`Unknown`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Filter,
    Test,
    Method,
}

/// A filter, test or method that the engine does not have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unknown {
    pub kind: Kind,
    pub name: String,
    /// Byte offset of the name in the source given to [`scan_expression`] or [`scan_template`].
    pub offset: usize,
    /// The closest known name of the same kind, if one is close.
    pub suggestion: Option<String>,
}

impl Unknown {
    /// The problem as a user would read it: `unknown filter `roundd` (did you mean `round`?)`.
    pub fn message(&self) -> String {
        let (what, shown) = match self.kind {
            Kind::Filter => ("filter", self.name.clone()),
            Kind::Test => ("test", self.name.clone()),
            Kind::Method => ("method", format!(".{}()", self.name)),
        };
        match &self.suggestion {
            Some(close) => format!("unknown {what} `{shown}` (did you mean `{close}`?)"),
            None if self.kind == Kind::Filter && ANSIBLE_ONLY.contains(&self.name.as_str()) => {
                format!("unknown filter `{shown}`: an Ansible filter that MiniJinja does not have")
            }
            None => format!("unknown {what} `{shown}`"),
        }
    }
}

/// Ansible filters that runbook authors bring along and MiniJinja lacks. Named as such rather
/// than matched by spelling: `b64encode` is three edits from `urlencode`, a wrong lead.
const ANSIBLE_ONLY: &[&str] = &[
    "combine",
    "from_json",
    "from_yaml",
    "hash",
    "json_query",
    "mandatory",
    "regex_findall",
    "regex_replace",
    "regex_search",
    "to_nice_json",
    "to_yaml",
];

/// A `vars.NAME` (or `vars['NAME']`) read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarRead {
    /// The top-level var name.
    pub name: String,
    /// Byte offset of the name in the scanned source.
    pub offset: usize,
}

/// A `| safe`, which writes its value unescaped wherever it lands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafeUse {
    /// Byte offset of `safe` in the scanned source.
    pub offset: usize,
    /// The names (roots: `steps`, `item`, `vars`) the filtered value is computed from.
    pub roots: Vec<String>,
}

/// Why `{% autoescape %}` is refused in a runbook.
pub const AUTOESCAPE_MESSAGE: &str = "`{% autoescape %}` is not allowed: values read from steps are \
     escaped for where they land; write `| safe` on the one value that must not be";

/// What one expression or template uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    pub unknown: Vec<Unknown>,
    pub vars: Vec<VarRead>,
    pub safe: Vec<SafeUse>,
    /// Byte offsets of `{% autoescape %}` blocks.
    pub autoescape: Vec<usize>,
}

/// Scans an expression as [`super::check_expression`] reads it (outer `{{ }}` optional). Offsets
/// are into `source` as given. Source that does not parse gives an empty scan: the syntax error
/// is reported by the check that compiles it.
pub fn scan_expression(source: &str) -> Scan {
    let inner = super::strip_braces(source);
    // `strip_braces` returns a slice of `source`: where it starts is where offsets start.
    let base = (inner.as_ptr() as usize).saturating_sub(source.as_ptr() as usize);
    let mut walker = Walker::new(base);
    if let Ok(expr) = parse_expr(inner) {
        walker.expr(&expr);
    }
    walker.scan
}

/// Scans a template (`{{ }}`, `{% %}`); plain text gives an empty scan.
pub fn scan_template(source: &str) -> Scan {
    let mut walker = Walker::new(0);
    if super::is_template(source)
        && let Ok(stmt) = parse(source, "<string>", SyntaxConfig::default())
    {
        walker.stmt(&stmt);
    }
    walker.scan
}

struct Walker {
    base: usize,
    scan: Scan,
    /// The `| safe` uses whose filtered value is being walked.
    open_safe: Vec<usize>,
}

impl Walker {
    fn new(base: usize) -> Self {
        Walker {
            base,
            scan: Scan::default(),
            open_safe: Vec::new(),
        }
    }

    /// The offset of `name`, which ends where `span` ends (an attribute or a method name).
    fn ending_at(&self, span: minijinja::machinery::Span, name: &str) -> usize {
        self.base + (span.end_offset as usize).saturating_sub(name.len())
    }

    fn unknown(&mut self, kind: Kind, name: &str, offset: usize) {
        // The engine ignores whitespace inside a filter or test name (`is divisible by`).
        let name: String = name.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        if is_known(kind, &name) {
            return;
        }
        let suggestion = if kind == Kind::Filter && ANSIBLE_ONLY.contains(&name.as_str()) {
            None
        } else {
            suggest(kind, &name)
        };
        self.scan.unknown.push(Unknown {
            kind,
            name,
            offset: self.base + offset,
            suggestion,
        });
    }

    fn stmt(&mut self, stmt: &Stmt<'_>) {
        match stmt {
            Stmt::Template(t) => self.stmts(&t.children),
            Stmt::EmitExpr(e) => self.expr(&e.expr),
            Stmt::EmitRaw(_) => {}
            Stmt::ForLoop(f) => {
                self.expr(&f.iter);
                self.opt(&f.filter_expr);
                self.stmts(&f.body);
                self.stmts(&f.else_body);
            }
            Stmt::IfCond(i) => {
                self.expr(&i.expr);
                self.stmts(&i.true_body);
                self.stmts(&i.false_body);
            }
            Stmt::WithBlock(w) => {
                for (_, value) in &w.assignments {
                    self.expr(value);
                }
                self.stmts(&w.body);
            }
            Stmt::Set(s) => self.expr(&s.expr),
            Stmt::SetBlock(s) => {
                self.opt(&s.filter);
                self.stmts(&s.body);
            }
            Stmt::AutoEscape(a) => {
                self.scan
                    .autoescape
                    .push(self.base + a.span().start_offset as usize);
                self.expr(&a.enabled);
                self.stmts(&a.body);
            }
            Stmt::FilterBlock(f) => {
                self.expr(&f.filter);
                self.stmts(&f.body);
            }
            Stmt::Block(b) => self.stmts(&b.body),
            Stmt::Import(i) => self.expr(&i.expr),
            Stmt::FromImport(i) => self.expr(&i.expr),
            Stmt::Extends(e) => self.expr(&e.name),
            Stmt::Include(i) => self.expr(&i.name),
            Stmt::Macro(m) => self.macro_decl(m),
            Stmt::CallBlock(c) => {
                self.call(&c.call);
                self.macro_decl(&c.macro_decl);
            }
            Stmt::Do(d) => self.call(&d.call),
            // Statements with nothing to check (`{% break %}` when loop controls are enabled).
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }

    fn stmts(&mut self, stmts: &[Stmt<'_>]) {
        stmts.iter().for_each(|s| self.stmt(s));
    }

    fn macro_decl(&mut self, m: &ast::Macro<'_>) {
        m.defaults.iter().for_each(|e| self.expr(e));
        self.stmts(&m.body);
    }

    fn opt(&mut self, expr: &Option<Expr<'_>>) {
        if let Some(e) = expr {
            self.expr(e);
        }
    }

    fn args(&mut self, args: &[CallArg<'_>]) {
        for arg in args {
            match arg {
                CallArg::Pos(e) | CallArg::Kwarg(_, e) | CallArg::PosSplat(e) => self.expr(e),
                CallArg::KwargSplat(e) => self.expr(e),
            }
        }
    }

    fn call(&mut self, call: &ast::Call<'_>) {
        match &call.expr {
            Expr::GetAttr(attr) => {
                // `x.name(...)` calls a method of x. `loop.cycle()` and `self.block()` are
                // methods of the engine's own objects in templates, not of values.
                let own = matches!(&attr.expr, Expr::Var(v) if v.id == "loop" || v.id == "self");
                if !own {
                    let offset = self.ending_at(attr.span(), attr.name) - self.base;
                    self.unknown(Kind::Method, attr.name, offset);
                }
                // `vars.get('x')` reads vars as a whole, not a var named `get`: only the
                // receiver is walked.
                self.expr(&attr.expr);
            }
            other => self.expr(other),
        }
        self.args(&call.args);
    }

    fn expr(&mut self, expr: &Expr<'_>) {
        match expr {
            Expr::Var(v) => {
                for &open in &self.open_safe {
                    self.scan.safe[open].roots.push(v.id.to_string());
                }
            }
            Expr::Const(_) => {}
            Expr::Slice(s) => {
                self.expr(&s.expr);
                self.opt(&s.start);
                self.opt(&s.stop);
                self.opt(&s.step);
            }
            Expr::UnaryOp(u) => self.expr(&u.expr),
            Expr::BinOp(b) => {
                self.expr(&b.left);
                self.expr(&b.right);
            }
            Expr::Compare(c) => {
                self.expr(&c.expr);
                c.ops.iter().for_each(|op| self.expr(&op.expr));
            }
            Expr::IfExpr(i) => {
                self.expr(&i.test_expr);
                self.expr(&i.true_expr);
                self.opt(&i.false_expr);
            }
            Expr::Filter(f) => {
                // A filter's span starts at its name.
                self.unknown(Kind::Filter, f.name, f.span().start_offset as usize);
                if f.name == "safe" {
                    self.scan.safe.push(SafeUse {
                        offset: self.base + f.span().start_offset as usize,
                        roots: Vec::new(),
                    });
                    self.open_safe.push(self.scan.safe.len() - 1);
                    self.opt(&f.expr);
                    self.open_safe.pop();
                } else {
                    self.opt(&f.expr);
                }
                self.args(&f.args);
            }
            Expr::Test(t) => {
                self.unknown(Kind::Test, t.name, t.span().start_offset as usize);
                self.expr(&t.expr);
                self.args(&t.args);
            }
            Expr::GetAttr(a) => {
                if is_vars(&a.expr) {
                    let offset = self.ending_at(a.span(), a.name);
                    self.scan.vars.push(VarRead {
                        name: a.name.to_string(),
                        offset,
                    });
                } else {
                    self.expr(&a.expr);
                }
            }
            Expr::GetItem(g) => {
                if is_vars(&g.expr)
                    && let Expr::Const(c) = &g.subscript_expr
                    && let Some(name) = c.value.as_str()
                {
                    // After the opening quote of `vars['name']`.
                    self.scan.vars.push(VarRead {
                        name: name.to_string(),
                        offset: self.base + c.span().start_offset as usize + 1,
                    });
                } else {
                    self.expr(&g.expr);
                }
                self.expr(&g.subscript_expr);
            }
            Expr::Call(c) => self.call(c),
            Expr::List(l) => l.items.iter().for_each(|e| self.expr(e)),
            Expr::Tuple(t) => t.items.iter().for_each(|e| self.expr(e)),
            Expr::Map(m) => {
                m.keys.iter().for_each(|e| self.expr(e));
                m.values.iter().for_each(|e| self.expr(e));
            }
        }
    }
}

fn is_vars(expr: &Expr<'_>) -> bool {
    matches!(expr, Expr::Var(v) if v.id == "vars")
}

/// Whether the engine has this filter, test or method. Filters and tests are asked of the
/// environment itself (`'x' is filter`); methods by calling them on an empty string, map and
/// list, the values expressions see, since a receiver's type is not known before the run.
///
/// Each answer needs a compile and an evaluation, and 200 runbooks use the same few dozen
/// names: answers are kept for the life of the process.
fn is_known(kind: Kind, name: &str) -> bool {
    static SEEN: OnceLock<Mutex<HashMap<(Kind, String), bool>>> = OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    let key = (kind, name.to_string());
    if let Some(known) = seen.lock().ok().and_then(|s| s.get(&key).copied()) {
        return known;
    }
    let known = match kind {
        Kind::Filter => registered("filter", name),
        Kind::Test => registered("test", name),
        Kind::Method => probe_method(name),
    };
    if let Ok(mut s) = seen.lock()
        // Real runbooks name a few dozen; the cap keeps a fuzzer's names from piling up.
        && s.len() < 10_000
    {
        s.insert(key, known);
    }
    known
}

fn registered(what: &str, name: &str) -> bool {
    let probe = format!("name is {what}");
    super::env()
        .compile_expression(&probe)
        .and_then(|e| e.eval(context! { name }))
        .is_ok_and(|v| v.is_true())
}

fn probe_method(name: &str) -> bool {
    // Only an identifier reaches here (the parser made it one), so it is safe in source text.
    if !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return false;
    }
    let source = format!("receiver.{name}()");
    let Ok(expr) = super::env().compile_expression(&source) else {
        return false;
    };
    let receivers = [
        Value::from(""),
        Value::from(std::collections::BTreeMap::<String, Value>::new()),
        Value::from(Vec::<Value>::new()),
    ];
    receivers.into_iter().any(|receiver| {
        // Wrong arguments, or any other failure of a method that exists, still mean it exists.
        expr.eval(context! { receiver })
            .map_or_else(|e| e.kind() != ErrorKind::UnknownMethod, |_| true)
    })
}

/// Python's string, dict and list methods that Ansible users write (minijinja-contrib's
/// `pycompat`): the candidates for a did-you-mean; each is offered only if the engine has it.
const METHODS: &[&str] = &[
    "capitalize",
    "count",
    "endswith",
    "find",
    "format",
    "get",
    "isalnum",
    "isalpha",
    "isascii",
    "isdigit",
    "islower",
    "isnumeric",
    "isspace",
    "isupper",
    "items",
    "join",
    "keys",
    "lower",
    "lstrip",
    "replace",
    "rfind",
    "rstrip",
    "split",
    "splitlines",
    "startswith",
    "strip",
    "title",
    "upper",
    "values",
];

fn suggest(kind: Kind, name: &str) -> Option<String> {
    let candidates = match kind {
        Kind::Filter => &candidates().0,
        Kind::Test => &candidates().1,
        Kind::Method => &candidates().2,
    };
    crate::diagnostic::suggest(name, candidates.iter().map(String::as_str)).map(str::to_string)
}

/// The names of the environment's filters, tests and methods, for suggestions.
fn candidates() -> &'static (Vec<String>, Vec<String>, Vec<String>) {
    static NAMES: OnceLock<(Vec<String>, Vec<String>, Vec<String>)> = OnceLock::new();
    NAMES.get_or_init(|| {
        // MiniJinja lists its filters and tests only in the environment's `Debug` output
        // (`tests: ["boolean", ...], filters: [...]`). Each name read from it is confirmed
        // with the engine, so a change of that format loses suggestions, never correctness;
        // a unit test notices.
        let debug = format!("{:?}", super::env());
        let listed = |field: &str, kind: Kind| -> Vec<String> {
            let Some(start) = debug.find(&format!("{field}: [")) else {
                return Vec::new();
            };
            let rest = &debug[start + field.len() + 3..];
            let list = &rest[..rest.find(']').unwrap_or(0)];
            list.split(", ")
                .map(|n| n.trim_matches('"').to_string())
                .filter(|n| !n.is_empty() && is_known(kind, n))
                .collect()
        };
        let methods = METHODS
            .iter()
            .filter(|m| is_known(Kind::Method, m))
            .map(|m| m.to_string())
            .collect();
        (
            listed("filters", Kind::Filter),
            listed("tests", Kind::Test),
            methods,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unknown(scan: &Scan) -> Vec<(Kind, &str, usize, Option<&str>)> {
        scan.unknown
            .iter()
            .map(|u| (u.kind, u.name.as_str(), u.offset, u.suggestion.as_deref()))
            .collect()
    }

    #[test]
    fn finds_unknown_filters_tests_and_methods_with_their_offsets() {
        let scan = scan_expression("rate_5xx | roundd(2) < 1 and x is nonee and s.stirp() == ''");
        assert_eq!(
            unknown(&scan),
            vec![
                (Kind::Filter, "roundd", 11, Some("round")),
                (Kind::Test, "nonee", 34, Some("none")),
                (Kind::Method, "stirp", 46, Some("strip")),
            ]
        );
        assert_eq!(
            scan.unknown[2].message(),
            "unknown method `.stirp()` (did you mean `strip`?)"
        );
    }

    #[test]
    fn known_names_pass() {
        for source in [
            "values | selectattr('value', 'gt', 0.1) | map(attribute='labels.group') | list",
            "x is defined and x is not none and x is number",
            "s.strip().split(',') | length > 0 and m.items() | list and 'a'.startswith('a')",
            "url | urlencode",
            "range(3) | join(',')",
        ] {
            assert_eq!(scan_expression(source).unknown, vec![], "{source}");
        }
    }

    #[test]
    fn names_unsupported_by_the_engine_are_unknown() {
        let scan = scan_expression(
            "a | quote ~ a | b64encode ~ a | b64decode ~ a | regex_search('x') ~ a.nosuchmethod()",
        );
        let names: Vec<&str> = scan.unknown.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["regex_search", "nosuchmethod"]);
        assert_eq!(
            scan.unknown[0].message(),
            "unknown filter `regex_search`: an Ansible filter that MiniJinja does not have"
        );
    }

    #[test]
    fn finds_safe_and_what_it_is_applied_to() {
        let source = "{{ vars.a | safe }} {{ (steps.x.body ~ item) | upper | safe }}{% autoescape false %}{% endautoescape %}";
        let scan = scan_template(source);
        assert_eq!(scan.safe.len(), 2);
        assert_eq!(
            &source[scan.safe[1].offset..scan.safe[1].offset + 4],
            "safe"
        );
        assert!(scan.safe[0].roots.is_empty());
        assert_eq!(scan.safe[1].roots, ["steps", "item"]);
        assert_eq!(scan.autoescape.len(), 1);
    }

    #[test]
    fn templates_are_scanned_everywhere() {
        let source = "{% for s in vars.sites %}{{ s | upperr }}{% endfor %}{{ loop_x is evn }}";
        let scan = scan_template(source);
        let found = unknown(&scan);
        assert_eq!(found[0].1, "upperr");
        assert_eq!(&source[found[0].2..found[0].2 + 6], "upperr");
        assert_eq!(found[1].3, Some("even"));
        assert_eq!(
            scan.vars,
            vec![VarRead {
                name: "sites".into(),
                offset: 17
            }]
        );
        // `loop.cycle()` is the engine's own method.
        let looped = "{% for x in [1] %}{{ loop.cycle('a', 'b') }}{% endfor %}";
        assert_eq!(scan_template(looped).unknown, vec![]);
        assert_eq!(scan_template("plain | text").unknown, vec![]);
    }

    #[test]
    fn finds_var_reads_with_offsets() {
        let source = "{{ vars.a.b + vars['c'] + vars.get('d') + x.vars }}";
        let scan = scan_expression(source);
        let reads: Vec<(&str, usize)> = scan
            .vars
            .iter()
            .map(|v| (v.name.as_str(), v.offset))
            .collect();
        assert_eq!(reads, vec![("a", 8), ("c", 20)]);
        assert_eq!(&source[8..9], "a");
        assert_eq!(&source[20..21], "c");
    }

    /// What validate accepts, the run can do.
    #[test]
    fn known_names_work_at_run_time() {
        let ctx = crate::expr::context(&serde_json::json!({"s": " a,b ", "m": {"k": 1}}));
        let eval = |source| crate::expr::eval(source, &ctx).unwrap().to_string();
        assert_eq!(eval("s.strip().split(',') | join('+')"), "a+b");
        assert_eq!(eval("m.items() | list | length"), "1");
        assert_eq!(eval("'a b&c' | urlencode"), "a%20b%26c");
    }

    #[test]
    fn garbage_scans_to_nothing() {
        for source in [
            "{{",
            "a |",
            "{% for %}",
            "",
            "\u{0}|\u{fffd}",
            "a.b.c()()()",
        ] {
            let _ = scan_expression(source);
            let _ = scan_template(source);
        }
    }

    #[test]
    fn the_environment_lists_its_names() {
        let (filters, tests, methods) = candidates();
        assert!(filters.iter().any(|f| f == "round"), "{filters:?}");
        assert!(tests.iter().any(|t| t == "none"), "{tests:?}");
        assert!(methods.iter().any(|m| m == "strip"), "{methods:?}");
    }
}
