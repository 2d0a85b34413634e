//! Rendering a step's templates into a concrete request, command or instruction, just before
//! it runs (so `steps.X` results from earlier steps are available).

use std::time::Duration;

use minijinja::Value;
use serde_json::Value as Json;

use crate::exec::http::shown_url;
use crate::exec::prometheus::{self, PrometheusRequest};
use crate::exec::{CommandRequest, HttpRequest, Program, RequestBody};
use crate::expr::{self, Landing};
use crate::runbook::*;

/// A step with every template rendered.
#[derive(Clone, Debug)]
pub enum Resolved {
    Http(HttpRequest),
    Prometheus(PrometheusRequest),
    Statuspage {
        url: String,
        headers: Vec<(String, String)>,
        timeout: Duration,
    },
    Tcp {
        address: String,
        timeout: Duration,
    },
    Command(CommandRequest),
    Manual {
        instructions: String,
    },
    Wait(Duration),
}

/// Renders a template whose text is taken as it is (argv items, env, headers, bodies).
fn render(t: &Template, ctx: &Value, what: &str) -> Result<String, String> {
    render_in(t, ctx, what, Landing::Text)
}

/// Renders a template whose text lands in a shell command, a URL or an address: values read
/// from steps are escaped for it (src/expr/escape.rs).
fn render_in(t: &Template, ctx: &Value, what: &str, landing: Landing) -> Result<String, String> {
    expr::render_in(&t.source, ctx, landing).map_err(|e| format!("{what}: {e}"))
}

/// The timeout a step runs with: the executor's own, the step's, the runbook default, or ours.
pub fn timeout_for(step: &Step, defaults: &Defaults) -> Duration {
    step.executor
        .timeout()
        .or(step.timeout)
        .or(defaults.timeout)
        .unwrap_or(match step.executor {
            Executor::Command(_) => DEFAULT_COMMAND_TIMEOUT,
            _ => DEFAULT_NETWORK_TIMEOUT,
        })
}

/// Renders every template of the step against the context.
pub fn resolve(step: &Step, defaults: &Defaults, ctx: &Value) -> Result<Resolved, String> {
    let timeout = timeout_for(step, defaults);
    Ok(match &step.executor {
        Executor::Http(h) => {
            let headers = render_headers(&h.headers, ctx)?;
            let body = match &h.body {
                None => None,
                Some(HttpBody::Text(t)) => Some(RequestBody::Text(render(t, ctx, "body")?)),
                Some(HttpBody::Json(v)) => Some(RequestBody::Json(render_value(v, ctx)?)),
            };
            Resolved::Http(HttpRequest {
                url: render_in(&h.url, ctx, "url", Landing::Url)?,
                method: h.method.clone(),
                headers,
                body,
                samples: h.samples,
                concurrency: h.concurrency,
                timeout,
                insecure: h.insecure,
                follow_redirects: h.follow_redirects,
                action: step.action,
            })
        }
        Executor::Prometheus(p) => Resolved::Prometheus(resolve_prometheus(p, ctx, timeout)?),
        Executor::Statuspage(s) => Resolved::Statuspage {
            url: render_in(&s.url, ctx, "url", Landing::Url)?,
            headers: render_headers(&s.headers, ctx)?,
            timeout,
        },
        Executor::Tcp(t) => Resolved::Tcp {
            address: render_in(&t.address, ctx, "address", Landing::Address)?,
            timeout,
        },
        Executor::Command(c) => {
            let program = match &c.program {
                CommandProgram::Argv(argv) => Program::Argv(
                    argv.iter()
                        .map(|a| render(a, ctx, "argv"))
                        .collect::<Result<_, _>>()?,
                ),
                CommandProgram::Shell(s) => {
                    Program::Shell(render_in(s, ctx, "shell", Landing::Shell)?)
                }
            };
            let mut env = Vec::new();
            for (name, value) in &c.env {
                env.push((name.clone(), render(value, ctx, &format!("env `{name}`"))?));
            }
            let cwd = c.cwd.as_ref().map(|t| render(t, ctx, "cwd")).transpose()?;
            Resolved::Command(CommandRequest {
                program,
                env,
                cwd,
                timeout,
            })
        }
        Executor::Manual(m) => Resolved::Manual {
            instructions: render(&m.instructions, ctx, "instructions")?,
        },
        Executor::Wait(d) => Resolved::Wait(*d),
    })
}

/// A `prometheus` step's request. Headers and credentials are text (a CR or LF in one is
/// refused when the request is built), like an `http` step's headers.
fn resolve_prometheus(
    p: &PrometheusSpec,
    ctx: &Value,
    timeout: Duration,
) -> Result<PrometheusRequest, String> {
    let headers = render_headers(&p.headers, ctx)?;
    let auth = match (&p.bearer, &p.basic_auth) {
        (Some(token), _) => Some(prometheus::Auth::Bearer(render(token, ctx, "bearer")?)),
        (None, Some(basic)) => Some(prometheus::Auth::Basic {
            username: render(&basic.username, ctx, "basic_auth username")?,
            password: render(&basic.password, ctx, "basic_auth password")?,
        }),
        (None, None) => None,
    };
    let range = match &p.range {
        Some(r) => Some(prometheus::Range {
            range: r.range,
            step: r.step,
            end: r.end.as_ref().map(|t| render(t, ctx, "end")).transpose()?,
        }),
        None => None,
    };
    Ok(PrometheusRequest {
        url: render_in(&p.url, ctx, "url", Landing::Url)?,
        query: render(&p.query, ctx, "query")?,
        headers,
        auth,
        range,
        time: p
            .time
            .as_ref()
            .map(|t| render(t, ctx, "time"))
            .transpose()?,
        timeout,
    })
}

/// Renders request headers; a value with a line break is refused when the request is built.
fn render_headers(
    headers: &[(String, Template)],
    ctx: &Value,
) -> Result<Vec<(String, String)>, String> {
    headers
        .iter()
        .map(|(name, value)| {
            Ok((
                name.clone(),
                render(value, ctx, &format!("header `{name}`"))?,
            ))
        })
        .collect()
}

/// Renders a JSON body: a string that is exactly one `{{ expr }}` keeps the expression's type,
/// so `{"nodes": "{{ vars.nodes }}"}` sends a number.
fn render_value(value: &TemplateValue, ctx: &Value) -> Result<Json, String> {
    Ok(match value {
        TemplateValue::Null => Json::Null,
        TemplateValue::Bool(b) => Json::Bool(*b),
        TemplateValue::Number(n) => Json::Number(n.clone()),
        TemplateValue::Str(t) => {
            let trimmed = t.source.trim();
            if trimmed.starts_with("{{") && expr::strip_braces(trimmed) != trimmed {
                expr::eval_json(trimmed, ctx).map_err(|e| format!("json body: {e}"))?
            } else {
                Json::String(render(t, ctx, "json body")?)
            }
        }
        TemplateValue::Seq(items) => Json::Array(
            items
                .iter()
                .map(|v| render_value(v, ctx))
                .collect::<Result<_, _>>()?,
        ),
        TemplateValue::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| Ok((k.clone(), render_value(v, ctx)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// One line saying what the step will do: `POST http://…/refresh`, `$ systemctl restart x`.
pub fn preview(resolved: &Resolved) -> String {
    match resolved {
        Resolved::Http(h) => {
            let mut text = format!("{} {}", h.method, shown_url(&h.url));
            if h.samples > 1 {
                text.push_str(&format!(" x{} ({} at a time)", h.samples, h.concurrency));
            }
            match &h.body {
                Some(RequestBody::Json(j)) => text.push_str(&format!(" {j}")),
                Some(RequestBody::Text(t)) if !t.is_empty() => text.push_str(&format!(
                    " body: {}",
                    crate::engine::judge::short_json(&Json::String(t.clone()))
                )),
                Some(RequestBody::Form(pairs)) => text.push_str(&format!(
                    " form: {}",
                    crate::engine::judge::short_json(&Json::String(RequestBody::form_encoded(
                        pairs
                    )))
                )),
                _ => {}
            }
            text
        }
        Resolved::Prometheus(p) => match &p.range {
            Some(r) => format!(
                "query {} over {} every {}: {}",
                shown_url(&p.url),
                crate::duration::compact(r.range),
                crate::duration::compact(r.step),
                p.query
            ),
            None => format!("query {}: {}", shown_url(&p.url), p.query),
        },
        Resolved::Statuspage { url, .. } => format!("read status page {}", shown_url(url)),
        Resolved::Tcp { address, .. } => format!("connect to {address}"),
        Resolved::Command(c) => match &c.program {
            Program::Argv(argv) => format!("$ {}", shell_words(argv)),
            Program::Shell(s) => format!("$ sh -c {}", quote(s)),
        },
        Resolved::Manual { instructions } => instructions.clone(),
        Resolved::Wait(d) => format!("wait {}", crate::duration::human(*d)),
    }
}

fn shell_words(argv: &[String]) -> String {
    argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// README, "Runbook format": "When neither the step, its executor nor `defaults` sets a
    /// timeout, network checks time out after 10 s and commands after 60 s", and under
    /// "Control keys": "`timeout: 5s` | the step's timeout (an executor's own `timeout` wins)".
    #[test]
    fn the_executor_s_timeout_wins_then_the_step_s_then_the_defaults_then_10_s_or_60_s() {
        let text = r#"
name: timeouts
title: Timeouts
steps:
  - {id: bare_http, title: A, http: "http://127.0.0.1:1/"}
  - {id: bare_tcp, title: B, tcp: {address: "127.0.0.1:1"}}
  - {id: bare_prometheus, title: C, prometheus: {url: "http://127.0.0.1:1", query: up}}
  - {id: bare_statuspage, title: D, statuspage: {url: "http://127.0.0.1:1"}}
  - {id: bare_command, title: E, action: false, command: {argv: ["true"]}}
  - {id: step_only, title: F, timeout: 3s, http: "http://127.0.0.1:1/"}
  - {id: both, title: G, timeout: 3s, http: {url: "http://127.0.0.1:1/", timeout: 2s}}
  - {id: command_both, title: H, timeout: 3s, action: false, command: {argv: ["true"], timeout: 2s}}
"#;
        let runbook = from_text("timeouts.yaml", text.to_string()).unwrap();
        let timeouts: Vec<(&str, Duration)> = runbook
            .steps
            .iter()
            .map(|s| (s.id.as_str(), timeout_for(s, &runbook.defaults)))
            .collect();
        let s = Duration::from_secs;
        assert_eq!(
            timeouts,
            [
                ("bare_http", s(10)),
                ("bare_tcp", s(10)),
                ("bare_prometheus", s(10)),
                ("bare_statuspage", s(10)),
                ("bare_command", s(60)),
                ("step_only", s(3)),
                ("both", s(2)),
                ("command_both", s(2)),
            ]
        );
        let defaults = Defaults {
            timeout: Some(s(7)),
            retry: None,
        };
        let with_defaults: Vec<Duration> = runbook
            .steps
            .iter()
            .map(|s| timeout_for(s, &defaults))
            .collect();
        assert_eq!(
            with_defaults,
            [s(7), s(7), s(7), s(7), s(7), s(3), s(2), s(2)]
        );
    }
}
