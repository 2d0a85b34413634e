//! Each executor's keys (`http`, `prometheus`, `statuspage`, `tcp`, `command`, `manual`,
//! `wait`), checked and located like the rest of a step.

use super::*;

pub(super) fn executor(
    checker: &mut Checker,
    kind: &str,
    node: &Node,
    step: &[(Key, Node)],
    label: &str,
) -> Option<Executor> {
    match kind {
        "http" => http(checker, node, label).map(Executor::Http),
        "prometheus" => prometheus(checker, node).map(|p| Executor::Prometheus(Box::new(p))),
        "statuspage" => {
            if node.as_str().is_some() {
                let url = checker.template(node, "statuspage url")?;
                return Some(Executor::Statuspage(StatuspageSpec {
                    url,
                    headers: Vec::new(),
                    timeout: None,
                }));
            }
            let entries = checker.mapping(node, "`statuspage`", STATUSPAGE_KEYS)?;
            let url = required(checker, entries, node, "statuspage", "url")
                .and_then(|n| checker.template(n, "statuspage `url`"));
            let headers = entry(entries, "headers")
                .map(|n| checker.string_map(n, "header"))
                .unwrap_or_default();
            let timeout = entry(entries, "timeout").and_then(|n| checker.duration(n, "`timeout`"));
            Some(Executor::Statuspage(StatuspageSpec {
                url: url?,
                headers,
                timeout,
            }))
        }
        "tcp" => {
            if node.as_str().is_some() {
                let address = checker.template(node, "tcp address")?;
                return Some(Executor::Tcp(TcpSpec {
                    address,
                    timeout: None,
                }));
            }
            let entries = checker.mapping(node, "`tcp`", TCP_KEYS)?;
            let address = required(checker, entries, node, "tcp", "address")
                .and_then(|n| checker.template(n, "tcp `address`"));
            let timeout = entry(entries, "timeout").and_then(|n| checker.duration(n, "`timeout`"));
            Some(Executor::Tcp(TcpSpec {
                address: address?,
                timeout,
            }))
        }
        "command" => command(checker, node).map(Executor::Command),
        "manual" => manual(checker, node, step, label).map(Executor::Manual),
        "wait" => checker.duration(node, "`wait`").map(Executor::Wait),
        _ => None,
    }
}

fn required<'n>(
    checker: &mut Checker,
    entries: &'n [(Key, Node)],
    node: &Node,
    what: &str,
    name: &str,
) -> Option<&'n Node> {
    let found = entry(entries, name);
    if found.is_none() {
        checker.error(
            node.pos,
            format!("`{what}` is missing required key `{name}`"),
        );
    }
    found
}

fn http(checker: &mut Checker, node: &Node, _label: &str) -> Option<HttpSpec> {
    let mut spec = HttpSpec {
        url: Template {
            source: String::new(),
            pos: node.pos,
            reads: Vec::new(),
            safe: Vec::new(),
        },
        method: "GET".into(),
        headers: Vec::new(),
        body: None,
        samples: 1,
        concurrency: 1,
        timeout: None,
        insecure: false,
        follow_redirects: true,
    };
    if node.as_str().is_some() {
        spec.url = checker.template(node, "http url")?;
        return Some(spec);
    }
    let entries = checker.mapping(node, "`http`", HTTP_KEYS)?;
    let before = checker.diagnostics.len();
    if let Some(url) = required(checker, entries, node, "http", "url")
        .and_then(|n| checker.template(n, "http `url`"))
    {
        spec.url = url;
    }
    if let Some(n) = entry(entries, "method")
        && let Some(m) = checker.string(n, "http `method`")
    {
        let upper = m.to_ascii_uppercase();
        if upper.is_empty() || !upper.chars().all(|c| c.is_ascii_alphabetic()) {
            checker.error(n.pos, format!("`{m}` is not an HTTP method"));
        }
        spec.method = upper;
    }
    if let Some(n) = entry(entries, "headers") {
        spec.headers = checker.string_map(n, "header");
    }
    if let (Some(_), Some(json_key)) = (entry(entries, "body"), key(entries, "json")) {
        checker.error_at_key(json_key, "`http` takes `body` (text) or `json`, not both");
    }
    if let Some(n) = entry(entries, "body") {
        spec.body = checker.template(n, "http `body`").map(HttpBody::Text);
    }
    if let Some(n) = entry(entries, "json") {
        spec.body = checker.template_value(n, "http `json`").map(HttpBody::Json);
    }
    if let Some(n) = entry(entries, "samples") {
        spec.samples = checker.count(n, "`samples`", 1, 1_000_000).unwrap_or(1);
    }
    if let Some(n) = entry(entries, "concurrency") {
        spec.concurrency = checker.count(n, "`concurrency`", 1, 10_000).unwrap_or(1);
    }
    if let Some(n) = entry(entries, "timeout") {
        spec.timeout = checker.duration(n, "http `timeout`");
    }
    if let Some(n) = entry(entries, "insecure") {
        spec.insecure = checker.boolean(n, "`insecure`").unwrap_or(false);
    }
    if let Some(n) = entry(entries, "follow_redirects") {
        spec.follow_redirects = checker.boolean(n, "`follow_redirects`").unwrap_or(true);
    }
    (checker.diagnostics.len() == before).then_some(spec)
}

/// Prometheus refuses a range query of more points per series than this (`exceeded maximum
/// resolution of 11,000 points per timeseries`); caught here, before anything is sent.
const MAX_RANGE_POINTS: u128 = 11_000;

fn prometheus(checker: &mut Checker, node: &Node) -> Option<PrometheusSpec> {
    let entries = checker.mapping(node, "`prometheus`", PROMETHEUS_KEYS)?;
    let before = checker.diagnostics.len();
    let url = required(checker, entries, node, "prometheus", "url")
        .and_then(|n| checker.template(n, "prometheus `url`"));
    let query = required(checker, entries, node, "prometheus", "query")
        .and_then(|n| checker.template(n, "prometheus `query`"));
    let headers = entry(entries, "headers")
        .map(|n| checker.string_map(n, "header"))
        .unwrap_or_default();
    let bearer = entry(entries, "bearer").and_then(|n| checker.template(n, "prometheus `bearer`"));
    let basic_auth = entry(entries, "basic_auth").and_then(|n| {
        let fields = checker.mapping(n, "`basic_auth`", BASIC_AUTH_KEYS)?;
        let username = required(checker, fields, n, "basic_auth", "username")
            .and_then(|v| checker.template(v, "basic_auth `username`"));
        let password = required(checker, fields, n, "basic_auth", "password")
            .and_then(|v| checker.template(v, "basic_auth `password`"));
        Some(BasicAuth {
            username: username?,
            password: password?,
        })
    });
    // Each of these sets `Authorization`; two would send one of them and silently drop the other.
    let authorization = headers
        .iter()
        .any(|(name, _)| name.trim().eq_ignore_ascii_case("authorization"));
    match (key(entries, "bearer"), key(entries, "basic_auth")) {
        (Some(_), Some(k)) => checker.error_at_key(
            k,
            "`bearer` and `basic_auth` both set the `Authorization` header: use one",
        ),
        (Some(k), None) | (None, Some(k)) if authorization => checker.error_at_key(
            k,
            format!(
                "`{}` sets the `Authorization` header, which `headers` sets too: use one",
                k.name
            ),
        ),
        _ => {}
    }
    let range = entry(entries, "range").and_then(|n| checker.duration(n, "prometheus `range`"));
    let step = entry(entries, "step").and_then(|n| checker.duration(n, "prometheus `step`"));
    let end = entry(entries, "end").and_then(|n| checker.template(n, "prometheus `end`"));
    let time = entry(entries, "time").and_then(|n| checker.template(n, "prometheus `time`"));
    let timeout =
        entry(entries, "timeout").and_then(|n| checker.duration(n, "prometheus `timeout`"));
    for (name, needs, example) in [
        ("step", "range", "range: 15m"),
        ("range", "step", "step: 30s"),
        ("end", "range", "range: 15m"),
    ] {
        if let Some(k) = key(entries, name)
            && key(entries, needs).is_none()
        {
            checker.error_at_key(
                k,
                format!(
                    "`{name}` needs `{needs}`: a range query takes `range` and `step` (e.g. `{example}`)"
                ),
            );
        }
    }
    if let (Some(_), Some(k)) = (key(entries, "range"), key(entries, "time")) {
        checker.error_at_key(
            k,
            "`time` is the evaluation time of an instant query; a range query (`range`) ends at `end`",
        );
    }
    for (name, value) in [("range", range), ("step", step)] {
        if value.is_some_and(|d| d.is_zero())
            && let Some(n) = entry(entries, name)
        {
            checker.error(n.pos, format!("prometheus `{name}` must be greater than 0"));
        }
    }
    if let (Some(r), Some(s), Some(n)) = (range, step, entry(entries, "step"))
        && !s.is_zero()
        && r.as_nanos() / s.as_nanos() > MAX_RANGE_POINTS
    {
        // The smallest step Prometheus accepts for this range, in whole seconds from 1s up.
        let mut least_ms = r.as_millis().div_ceil(MAX_RANGE_POINTS) as u64;
        if least_ms > 1000 {
            least_ms = least_ms.div_ceil(1000) * 1000;
        }
        let least = Duration::from_millis(least_ms);
        checker.error(
            n.pos,
            format!(
                "`range: {}` with `step: {}` asks Prometheus for {} points per series, and it refuses more than 11,000: make `step` at least {}",
                duration::compact(r),
                duration::compact(s),
                r.as_nanos() / s.as_nanos(),
                duration::compact(least),
            ),
        );
    }
    if checker.diagnostics.len() > before {
        return None;
    }
    let range = match (range, step) {
        (Some(range), Some(step)) => Some(RangeSpec { range, step, end }),
        _ => None,
    };
    Some(PrometheusSpec {
        url: url?,
        query: query?,
        headers,
        bearer,
        basic_auth,
        range,
        time,
        timeout,
    })
}

fn command(checker: &mut Checker, node: &Node) -> Option<CommandSpec> {
    if let Value::Str(s) = &node.value {
        checker.error(
            node.pos,
            format!(
                "`command` takes `argv: [...]` (run directly) or `shell: \"...\"` (run by sh); for this one write `command: {{shell: {s:?}}}`"
            ),
        );
        return None;
    }
    if let Value::Seq(_) = node.value {
        let argv = argv(checker, node)?;
        return Some(CommandSpec {
            program: CommandProgram::Argv(argv),
            env: Vec::new(),
            cwd: None,
            timeout: None,
        });
    }
    let entries = checker.mapping(node, "`command`", COMMAND_KEYS)?;
    let before = checker.diagnostics.len();
    let program = match (entry(entries, "argv"), entry(entries, "shell")) {
        (Some(a), None) => argv(checker, a).map(CommandProgram::Argv),
        (None, Some(s)) => checker.template(s, "`shell`").map(CommandProgram::Shell),
        (Some(_), Some(_)) => {
            let k = key(entries, "shell").expect("present");
            checker.error_at_key(k, "`command` takes `argv` or `shell`, not both");
            None
        }
        (None, None) => {
            checker.error(
                node.pos,
                "`command` needs `argv: [...]` or `shell: \"...\"`",
            );
            None
        }
    };
    let env = entry(entries, "env")
        .map(|n| {
            let env = checker.string_map(n, "env var");
            for (k, _) in n.as_map().unwrap_or_default() {
                if !is_env_name(&k.name) {
                    checker.error_at_key(
                        k,
                        format!("`{}` is not an environment variable name", k.name),
                    );
                }
            }
            env
        })
        .unwrap_or_default();
    let cwd = entry(entries, "cwd").and_then(|n| checker.template(n, "`cwd`"));
    let timeout = entry(entries, "timeout").and_then(|n| checker.duration(n, "command `timeout`"));
    if checker.diagnostics.len() > before {
        return None;
    }
    Some(CommandSpec {
        program: program?,
        env,
        cwd,
        timeout,
    })
}

fn argv(checker: &mut Checker, node: &Node) -> Option<Vec<Template>> {
    let Some(items) = node.as_seq() else {
        checker.error(
            node.pos,
            format!("`argv` must be a list of strings, found {}", node.kind()),
        );
        return None;
    };
    if items.is_empty() {
        checker.error(node.pos, "`argv` is empty: it needs at least the program");
        return None;
    }
    let mut out = Vec::new();
    for item in items {
        out.push(checker.template(item, "an `argv` element")?);
    }
    Some(out)
}

fn manual(
    checker: &mut Checker,
    node: &Node,
    step: &[(Key, Node)],
    label: &str,
) -> Option<ManualSpec> {
    let (instructions, inner_ask) = match &node.value {
        Value::Str(_) => (checker.template(node, "`manual` instructions")?, None),
        Value::Map(_) => {
            let entries = checker.mapping(node, "`manual`", MANUAL_KEYS)?;
            let text = required(checker, entries, node, "manual", "instructions")
                .and_then(|n| checker.template(n, "`manual` instructions"))?;
            (text, entry(entries, "ask"))
        }
        _ => {
            checker.error(
                node.pos,
                format!(
                    "`manual` must be the instructions for the human, found {}",
                    node.kind()
                ),
            );
            return None;
        }
    };
    let ask_node = match (inner_ask, entry(step, "ask")) {
        (Some(_), Some(_)) => {
            let k = key(step, "ask").expect("present");
            checker.error_at_key(k, format!("{label} has `ask` twice"));
            return None;
        }
        (a, b) => a.or(b),
    };
    let mut ask = Vec::new();
    if let Some(n) = ask_node {
        let Some(items) = n.as_seq() else {
            checker.error(
                n.pos,
                format!(
                    "`ask` must be a list of {{name, prompt, secret}}, found {}",
                    n.kind()
                ),
            );
            return None;
        };
        for item in items {
            let Some(fields) = checker.mapping(item, "an `ask` field", ASK_KEYS) else {
                continue;
            };
            let name = match entry(fields, "name") {
                Some(v) => checker.string(v, "ask `name`"),
                None => {
                    checker.error(item.pos, "an `ask` field is missing required key `name`");
                    None
                }
            };
            let Some(name) = name else { continue };
            if !is_valid_step_id(&name) {
                checker.error(
                    entry(fields, "name").map_or(item.pos, |v| v.pos),
                    format!(
                        "ask name `{name}` must match [a-z][a-z0-9_]* so expressions can read it"
                    ),
                );
                continue;
            }
            if ask.iter().any(|a: &AskField| a.name == name) {
                checker.error(item.pos, format!("ask field `{name}` is listed twice"));
                continue;
            }
            let prompt = entry(fields, "prompt")
                .and_then(|v| checker.string(v, "ask `prompt`"))
                .unwrap_or_else(|| name.replace('_', " "));
            let secret = entry(fields, "secret")
                .and_then(|v| checker.boolean(v, "ask `secret`"))
                .unwrap_or(false);
            ask.push(AskField {
                name,
                prompt,
                secret,
            });
        }
    }
    Some(ManualSpec { instructions, ask })
}
