//! A runbook after parsing and validation: everything the engine needs, nothing it must re-check.

use std::time::Duration;

use serde_json::{Map, Value as Json};

use crate::yaml::Pos;

/// A validated runbook.
#[derive(Clone, Debug)]
pub struct Runbook {
    pub name: String,
    pub title: String,
    pub description: Option<String>,
    /// Default vars, in the order written.
    pub vars: Map<String, Json>,
    /// The vars declared with `~` (null), with where: a run that reads one needs it given.
    pub required_vars: Vec<(String, Pos)>,
    /// Names of environment variables read at start and redacted everywhere.
    pub secrets: Vec<String>,
    pub defaults: Defaults,
    pub steps: Vec<Step>,
    pub finally: Vec<Step>,
    pub source: Source,
    /// What `validate` warns about without refusing the runbook (`| safe` over step data).
    pub warnings: Vec<crate::diagnostic::Diagnostic>,
}

/// The file a runbook came from.
#[derive(Clone, Debug)]
pub struct Source {
    /// The path as the user gave it.
    pub path: String,
    pub text: String,
    /// Hex sha256 of the file's bytes: resume refuses a changed runbook.
    pub sha256: String,
}

/// Defaults applied to every step that does not set its own.
#[derive(Clone, Debug, Default)]
pub struct Defaults {
    pub timeout: Option<Duration>,
    pub retry: Option<Retry>,
}

/// One step of a runbook.
#[derive(Clone, Debug)]
pub struct Step {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub pos: Pos,
    pub executor: Executor,
    pub when: Option<Expr>,
    pub expect: Vec<Expr>,
    pub retry: Option<Retry>,
    pub on_fail: OnFail,
    /// Does this step change systems? Resolved from `action:` or the executor's default.
    pub action: bool,
    pub loop_over: Option<LoopSource>,
    pub parallel: usize,
    pub milestone: Option<String>,
    /// The step's own `timeout:` (executors also take one; the executor's wins).
    pub timeout: Option<Duration>,
}

/// An expression (`when`, `expect`, `loop`) as written, with where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub source: String,
    pub pos: Pos,
    /// The names it reads, dotted (`steps.a.rate_5xx`), in order of appearance: learned when
    /// it was compiled to check its syntax, so validation does not compile it again.
    pub reads: Vec<String>,
}

/// A string that may contain `{{ }}` templates.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    pub source: String,
    pub pos: Pos,
    /// The names its `{{ }}` read, dotted, in order of appearance (see [`Expr::reads`]).
    pub reads: Vec<String>,
    /// Each `| safe` in it: where it is written, and the roots of the names it is applied to
    /// (`steps`, `item`, `vars`), for the warning on `| safe` over data read from a system.
    pub safe: Vec<(Pos, Vec<String>)>,
}

/// A YAML value in which every string is a template (HTTP `json:` bodies, command `env`).
#[derive(Clone, Debug, PartialEq)]
pub enum TemplateValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Str(Template),
    Seq(Vec<TemplateValue>),
    Map(Vec<(String, TemplateValue)>),
}

/// What a `loop:` iterates over.
#[derive(Clone, Debug, PartialEq)]
pub enum LoopSource {
    /// An expression giving a list, e.g. `vars.reference_sites`.
    Expr(Expr),
    /// A list written in place.
    Items(Vec<Json>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Retry {
    /// Total attempts, the first included.
    pub attempts: u32,
    pub delay: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub enum OnFail {
    Stop,
    Continue,
    Goto { step: String, pos: Pos },
}

/// What a step does: exactly one per step.
#[derive(Clone, Debug)]
pub enum Executor {
    Http(HttpSpec),
    // Boxed: its templates (auth, range, time) make it several times the size of the rest.
    Prometheus(Box<PrometheusSpec>),
    Statuspage(StatuspageSpec),
    Tcp(TcpSpec),
    Command(CommandSpec),
    Manual(ManualSpec),
    Wait(Duration),
}

impl Executor {
    /// The key this executor is written under.
    pub fn kind(&self) -> &'static str {
        match self {
            Executor::Http(_) => "http",
            Executor::Prometheus(_) => "prometheus",
            Executor::Statuspage(_) => "statuspage",
            Executor::Tcp(_) => "tcp",
            Executor::Command(_) => "command",
            Executor::Manual(_) => "manual",
            Executor::Wait(_) => "wait",
        }
    }

    /// The executor's own timeout, if it sets one.
    pub fn timeout(&self) -> Option<Duration> {
        match self {
            Executor::Http(s) => s.timeout,
            Executor::Prometheus(s) => s.timeout,
            Executor::Statuspage(s) => s.timeout,
            Executor::Tcp(s) => s.timeout,
            Executor::Command(s) => s.timeout,
            Executor::Manual(_) | Executor::Wait(_) => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct HttpSpec {
    pub url: Template,
    pub method: String,
    pub headers: Vec<(String, Template)>,
    pub body: Option<HttpBody>,
    pub samples: u32,
    pub concurrency: u32,
    pub timeout: Option<Duration>,
    pub insecure: bool,
    pub follow_redirects: bool,
}

#[derive(Clone, Debug)]
pub enum HttpBody {
    Text(Template),
    Json(TemplateValue),
}

#[derive(Clone, Debug)]
pub struct PrometheusSpec {
    pub url: Template,
    pub query: Template,
    /// Request headers, values templated like an `http` step's.
    pub headers: Vec<(String, Template)>,
    /// A token sent as `Authorization: Bearer <token>`.
    pub bearer: Option<Template>,
    pub basic_auth: Option<BasicAuth>,
    /// `range` and `step` together make a range query (`/api/v1/query_range`).
    pub range: Option<RangeSpec>,
    /// The evaluation time of an instant query: RFC 3339 or unix seconds.
    pub time: Option<Template>,
    pub timeout: Option<Duration>,
}

/// `basic_auth: {username, password}` of a `prometheus` step.
#[derive(Clone, Debug)]
pub struct BasicAuth {
    pub username: Template,
    pub password: Template,
}

/// The window of a range query: `end - range` to `end`, a sample every `step`.
#[derive(Clone, Debug)]
pub struct RangeSpec {
    pub range: Duration,
    pub step: Duration,
    /// RFC 3339 or unix seconds; now when absent.
    pub end: Option<Template>,
}

#[derive(Clone, Debug)]
pub struct StatuspageSpec {
    pub url: Template,
    /// Sent with the request (a private page's credentials); values are templates.
    pub headers: Vec<(String, Template)>,
    pub timeout: Option<Duration>,
}

#[derive(Clone, Debug)]
pub struct TcpSpec {
    pub address: Template,
    pub timeout: Option<Duration>,
}

#[derive(Clone, Debug)]
pub struct CommandSpec {
    pub program: CommandProgram,
    pub env: Vec<(String, Template)>,
    pub cwd: Option<Template>,
    pub timeout: Option<Duration>,
}

#[derive(Clone, Debug)]
pub enum CommandProgram {
    /// Run directly; templates render into single arguments, never through a shell.
    Argv(Vec<Template>),
    /// Run with `sh -c`: the author chose a shell, templates included.
    Shell(Template),
}

#[derive(Clone, Debug)]
pub struct ManualSpec {
    pub instructions: Template,
    pub ask: Vec<AskField>,
}

#[derive(Clone, Debug)]
pub struct AskField {
    pub name: String,
    pub prompt: String,
    pub secret: bool,
}

impl Runbook {
    /// Every step, main list then `finally`.
    pub fn all_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().chain(self.finally.iter())
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.all_steps().find(|s| s.id == id)
    }
}

/// Default timeout of network checks when neither the step nor `defaults` sets one.
pub const DEFAULT_NETWORK_TIMEOUT: Duration = Duration::from_secs(10);
/// Default timeout of commands when neither the step nor `defaults` sets one.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How often one step may be entered in a run before the run fails (bounds `goto` loops).
pub const MAX_STEP_ENTRIES: u32 = 10;
