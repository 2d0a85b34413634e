//! JSON Schemas of the runbook and scenario formats, for editors (`# yaml-language-server:
//! $schema=...`) and for CI.
//!
//! The parser walks a located YAML tree by hand so that it can report every problem with its
//! position, so there are no serde types to derive a schema from. The schema is derived instead
//! from the mirror types below, shaped as serde would read the format, and the unit tests pin
//! every mapping's property names to the parser's own key tables: a key added to one and not the
//! other fails the tests. The patterns are checked against the parser's own checks the same way.
//!
//! The schemas are JSON Schema draft-07, the draft editors support best (yaml-language-server
//! ignores the newer `unevaluatedProperties`): a step's executors are properties of the step
//! like its control keys, and `oneOf` requires exactly one of them.

use serde_json::Value;

/// The JSON Schema of a runbook file.
pub fn runbook() -> Value {
    generate::<format::Runbook>()
}

/// The JSON Schema of a scenario file (`runbook sim --scenario`, `runbook drill --scenario`).
pub fn scenario() -> Value {
    generate::<format::Scenario>()
}

fn generate<T: schemars::JsonSchema>() -> Value {
    use schemars::transform::{RecursiveTransform, RestrictFormats};
    schemars::generate::SchemaSettings::draft07()
        // `uint32` and the like are not draft-07 formats: `minimum` already says it.
        .with_transform(RestrictFormats::default())
        .with_transform(RecursiveTransform(reflow_description))
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}

/// Doc comments wrap at 100 columns; an editor's hover wraps by itself. Lines are joined,
/// paragraphs kept.
fn reflow_description(schema: &mut schemars::Schema) {
    if let Some(Value::String(text)) = schema.get_mut("description") {
        *text = text
            .split("\n\n")
            .map(|paragraph| paragraph.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n\n");
    }
}

/// A string the parser accepts as a duration (see [`crate::duration::parse`]).
const DURATION_PATTERN: &str = r"^\s*(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(?:ms|s|secs?|m|mins?|h|hrs?)(?:\s*(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(?:ms|s|secs?|m|mins?|h|hrs?))*\s*$";
/// A runbook name ([`crate::runbook::parse::is_valid_name`]).
const NAME_PATTERN: &str = "^[a-z0-9-]+$";
/// A step id or `ask` field name ([`crate::runbook::parse::is_valid_step_id`]).
const ID_PATTERN: &str = "^[a-z][a-z0-9_]*$";
/// An environment variable name ([`crate::runbook::parse::is_env_name`]).
const ENV_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_]*$";

/// The formats as serde would read them. Nothing builds these types: they exist for their
/// schemas. Optional keys are `#[serde(default)]` rather than `Option` where the parser rejects
/// an explicit null, and `Option` where it accepts one (`vars:` with nothing under it).
#[allow(dead_code)]
mod format {
    use std::borrow::Cow;
    use std::collections::BTreeMap;

    use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
    use serde_json::{Map, Value};

    use super::{DURATION_PATTERN, ENV_PATTERN, ID_PATTERN, NAME_PATTERN};

    /// A type whose schema is written out: the scalars of the formats.
    macro_rules! scalar {
        ($(#[doc = $doc:literal])* $name:ident $schema:tt) => {
            $(#[doc = $doc])*
            #[derive(Default)]
            pub(super) struct $name;

            impl JsonSchema for $name {
                fn schema_name() -> Cow<'static, str> {
                    stringify!($name).into()
                }

                fn json_schema(_: &mut SchemaGenerator) -> Schema {
                    json_schema!($schema)
                }
            }
        };
    }

    scalar!(Text { "type": "string" });
    scalar!(Boolean { "type": "boolean" });
    scalar!(NonBlank { "type": "string", "pattern": "\\S" });
    scalar!(Name {
        "type": "string",
        "pattern": NAME_PATTERN,
        "description": "Lowercase letters, digits and dashes.",
    });
    scalar!(Id {
        "type": "string",
        "pattern": ID_PATTERN,
        "description": "A lowercase letter, then lowercase letters, digits and underscores: \
                        expressions read it as `steps.<id>` or by name.",
    });
    scalar!(EnvName {
        "type": "string",
        "pattern": ENV_PATTERN,
        "description": "The name of an environment variable.",
    });
    scalar!(Duration {
        "type": "string",
        "pattern": DURATION_PATTERN,
        "description": "A duration with its unit: `500ms`, `2s`, `1.5s`, `5m`, `1h`, `1m 30s` \
                        (ms, s, m, h). A bare number is not a duration.",
        "examples": ["500ms", "2s", "5m", "1m 30s"],
    });
    scalar!(Template {
        "type": ["string", "number", "boolean"],
        "description": "Text; `{{ expr }}` inside it is a MiniJinja template rendered when the \
                        step runs (vars, secrets, steps.<id>.<field>, item).",
    });
    // The short forms (`http: URL`, `manual: TEXT`) take text only: a number there is a
    // mistake the parser reports.
    scalar!(TemplateText {
        "type": "string",
        "description": "Text; `{{ expr }}` inside it is a MiniJinja template rendered when the \
                        step runs (vars, secrets, steps.<id>.<field>, item).",
    });
    scalar!(Expression {
        "type": ["string", "boolean"],
        "pattern": "\\S",
        "description": "A MiniJinja (Jinja2) expression such as `rate_error < vars.max_error_rate`; \
                        it reads the step's own fields, vars, secrets and steps.<id>.<field>. \
                        An undefined name is an error, not false; an ordering comparison with a \
                        none, undefined or NaN operand never passes.",
    });
    scalar!(Fraction {
        "type": "number",
        "minimum": 0,
        "maximum": 1,
        "description": "A share from 0 to 1.",
    });

    fn one() -> u32 {
        1
    }
    fn three() -> u32 {
        3
    }
    fn yes() -> bool {
        true
    }
    fn get() -> String {
        "GET".into()
    }

    // ---------------------------------------------------------------------------- runbook

    /// An executable incident-response runbook: checks and actions in order, with the
    /// conditions that choose between them. Run it with `runbook run FILE`; check it with
    /// `runbook validate FILE`.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[schemars(title = "runbook")]
    pub(super) struct Runbook {
        /// The runbook's name, used in timeline file names and reports.
        name: Name,
        /// What is wrong, as the person paged would say it.
        title: Text,
        /// Free text: what the runbook is for and how it decides.
        #[serde(default)]
        description: Text,
        /// Every var the runbook reads, as `vars.<name>`, with its default (any YAML value);
        /// `--vars FILE` and `--var KEY=VALUE` override them. `~` (null) declares a var that
        /// must be given: a run that reads it still null exits 2.
        vars: Option<Map<String, Value>>,
        /// Environment variables read at start, available as `secrets.<NAME>` and redacted
        /// everywhere; a run with one unset exits 2, naming it.
        #[schemars(extend("uniqueItems" = true))]
        secrets: Option<Vec<EnvName>>,
        /// Defaults for every step that does not set its own.
        #[serde(default)]
        defaults: Defaults,
        /// The steps, in order.
        #[schemars(length(min = 1))]
        steps: Vec<Step>,
        /// Steps that always run at the end, also after a failure, an abort or an interrupt.
        finally: Option<Vec<Step>>,
    }

    /// Defaults for every step that does not set its own.
    #[derive(Default, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Defaults {
        /// The timeout of each step (network checks default to 10s, commands to 60s).
        #[serde(default)]
        timeout: Duration,
        /// Repeat each failing step.
        #[serde(default)]
        retry: Retry,
    }

    /// Repeat the step while it fails: this is how "wait until recovered" is written.
    #[derive(Default, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Retry {
        /// Total attempts, the first included.
        #[serde(default = "three")]
        #[schemars(range(min = 1, max = 10_000))]
        attempts: u32,
        /// The pause between attempts.
        #[serde(default)]
        #[schemars(extend("default" = "1s"))]
        delay: Duration,
    }

    /// One step: an `id`, a `title`, exactly one executor (http, prometheus, statuspage, tcp,
    /// command, manual or wait) and the control keys.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[schemars(transform = executors_as_properties)]
    #[schemars(extend("dependencies" = { "ask": ["manual"], "parallel": ["loop"] }))]
    struct Step {
        /// Unique in the runbook; other steps read this step's results as `steps.<id>`.
        id: Id,
        /// What the step does, as the timeline and reports show it.
        title: Text,
        /// Free text shown with the step.
        #[serde(default)]
        description: Text,
        /// Run the step only if this holds; otherwise it is `skipped`.
        #[serde(default)]
        when: Expression,
        /// What must hold for the step to pass: one expression or a list, all of which must
        /// hold. Without it, a step passes on its executor's own success.
        #[serde(default)]
        expect: Expect,
        /// Repeat the step while it fails.
        #[serde(default)]
        retry: Retry,
        /// What a failed step does to the run.
        #[serde(default)]
        #[schemars(extend("default" = "stop"))]
        on_fail: OnFail,
        /// Does the step change systems? Actions ask for confirmation; defaults to true for
        /// `command` and for `http` with a method other than GET or HEAD.
        #[serde(default)]
        action: Boolean,
        /// Run the step once per item (`{{ item }}`): an expression giving a list, or a list.
        #[serde(rename = "loop", default)]
        loop_over: Loop,
        /// With `loop`: how many items run at a time.
        #[serde(default = "one")]
        #[schemars(range(min = 1, max = 10_000))]
        parallel: u32,
        /// The incident milestone the timeline records when the step passes.
        #[serde(default)]
        #[schemars(extend("examples" = ["detected", "mitigated", "resolved"]))]
        milestone: NonBlank,
        /// The step's timeout (an executor's own `timeout` wins).
        #[serde(default)]
        timeout: Duration,
        /// With `manual`: values to ask the operator for, read as fields by name.
        #[serde(default)]
        ask: Vec<AskField>,
        #[serde(flatten)]
        executor: Executor,
    }

    /// Turns the flattened executor enum (`oneOf` objects of one property each, which
    /// draft-07 could only close with `unevaluatedProperties`) into properties of the step and a
    /// `oneOf` that requires exactly one of them.
    fn executors_as_properties(schema: &mut Schema) {
        let Some(Value::Array(variants)) = schema.remove("oneOf") else {
            return;
        };
        let mut one_of = Vec::new();
        let mut executors = Map::new();
        for variant in variants {
            let Value::Object(mut variant) = variant else {
                continue;
            };
            let description = variant.remove("description");
            let Some(Value::Object(properties)) = variant.remove("properties") else {
                continue;
            };
            for (name, mut property) in properties {
                if let (Some(d), Some(p)) = (&description, property.as_object_mut()) {
                    p.insert("description".into(), d.clone());
                }
                one_of.push(serde_json::json!({ "required": [name] }));
                executors.insert(name, property);
            }
        }
        if let Some(Value::Object(properties)) = schema.get_mut("properties") {
            properties.extend(executors);
        }
        schema.insert("oneOf".into(), Value::Array(one_of));
        if let Some(closed) = schema.remove("unevaluatedProperties") {
            schema.insert("additionalProperties".into(), closed);
        }
    }

    /// What a step does: exactly one per step.
    #[derive(JsonSchema)]
    #[serde(rename_all = "snake_case")]
    enum Executor {
        /// One HTTP request, or `samples` requests `concurrency` at a time, recorded as one
        /// aggregate (status, responses, not_sent, status_counts, rate_5xx, rate_error, p50_ms,
        /// p95_ms, body, json, ...). A URL alone is short for `{url: ...}`.
        Http(HttpStep),
        /// An instant query to `<url>/api/v1/query` (value, values, series, string).
        Prometheus(Prometheus),
        /// A Statuspage v2 page, read from `<url>/api/v2/summary.json` (indicator,
        /// description, components, maintenances, incidents). A URL alone is short for
        /// `{url: ...}`.
        Statuspage(StatuspageStep),
        /// Can we connect? (connected, connect_ms). An address alone is short for
        /// `{address: ...}`.
        Tcp(TcpStep),
        /// Runs a program: `argv` directly, or `shell` with `sh -c` (exit_code, stdout,
        /// stderr, json, timed_out). A list alone is short for `{argv: [...]}`.
        Command(CommandStep),
        /// Instructions for the human, optionally asking for values. Text alone is short for
        /// `{instructions: ...}`.
        Manual(ManualStep),
        /// Waits this long.
        Wait(Duration),
    }

    /// An HTTP check or request: a URL, or the full request.
    #[derive(JsonSchema)]
    #[serde(untagged)]
    enum HttpStep {
        Url(TemplateText),
        Request(Http),
    }

    /// An HTTP request.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[schemars(extend("not" = { "required": ["body", "json"] }))]
    struct Http {
        /// The URL.
        url: Template,
        /// The method; any other than GET or HEAD makes the step an action.
        #[serde(default = "get")]
        #[schemars(regex(pattern = "^[A-Za-z]+$"))]
        #[schemars(extend("examples" = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]))]
        method: String,
        /// Request headers; values are templates.
        headers: Option<BTreeMap<String, Template>>,
        /// A text body (not with `json`).
        #[serde(default)]
        body: Template,
        /// A JSON body, any YAML value; a string that is exactly one `{{ expr }}` keeps the
        /// expression's type (not with `body`).
        json: Option<Value>,
        /// How many requests to send.
        #[serde(default = "one")]
        #[schemars(range(min = 1, max = 1_000_000))]
        samples: u32,
        /// How many requests to have in flight at a time.
        #[serde(default = "one")]
        #[schemars(range(min = 1, max = 10_000))]
        concurrency: u32,
        /// The deadline of the whole step: every sample, body included, must finish within it.
        #[serde(default)]
        timeout: Duration,
        /// Accept invalid TLS certificates.
        #[serde(default)]
        insecure: bool,
        /// Follow redirects.
        #[serde(default = "yes")]
        follow_redirects: bool,
    }

    /// A PromQL query, POSTed as a form: instant (`/api/v1/query`), or over a range
    /// (`/api/v1/query_range`) with `range` and `step`.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[schemars(extend("not" = { "required": ["bearer", "basic_auth"] }))]
    #[schemars(extend("dependencies" = {
        "range": ["step"],
        "step": ["range"],
        "end": ["range"],
        "time": { "not": { "required": ["range"] } },
    }))]
    struct Prometheus {
        /// The Prometheus base URL (`http://prom:9090`, `https://host/prom`), or the endpoint
        /// (`.../api/v1/query`); never with credentials in it.
        url: Template,
        /// The PromQL query.
        query: Template,
        /// Request headers (a tenant header, an API key); values are templates.
        headers: Option<BTreeMap<String, Template>>,
        /// A token sent as `Authorization: Bearer <token>` (not with `basic_auth`).
        bearer: Option<Template>,
        /// HTTP basic authentication (not with `bearer`).
        basic_auth: Option<BasicAuth>,
        /// The window of a range query, ending at `end` (with `step`).
        range: Option<Duration>,
        /// The resolution of a range query (with `range`); at most 11,000 points per series.
        step: Option<Duration>,
        /// The end of a range query: RFC 3339 or unix seconds; now when absent.
        end: Option<Template>,
        /// The evaluation time of an instant query: RFC 3339 or unix seconds; now when absent.
        time: Option<Template>,
        /// The request's timeout, also passed to Prometheus as the query's `timeout`.
        #[serde(default)]
        timeout: Duration,
    }

    /// Username and password for HTTP basic authentication.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct BasicAuth {
        username: Template,
        password: Template,
    }

    /// A Statuspage page: its URL, or the URL with headers and a timeout.
    #[derive(JsonSchema)]
    #[serde(untagged)]
    enum StatuspageStep {
        Url(TemplateText),
        Page(Statuspage),
    }

    /// A Statuspage page.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Statuspage {
        /// The page's base URL.
        url: Template,
        /// Request headers, for a private page (`Authorization`); values are templates.
        headers: Option<BTreeMap<String, Template>>,
        /// The request's timeout.
        #[serde(default)]
        timeout: Duration,
    }

    /// A TCP connection: its address, or the address and a timeout.
    #[derive(JsonSchema)]
    #[serde(untagged)]
    enum TcpStep {
        Address(TemplateText),
        Connect(Tcp),
    }

    /// A TCP connection.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Tcp {
        /// `host:port`.
        address: Template,
        /// The connection's timeout.
        #[serde(default)]
        timeout: Duration,
    }

    /// A command: its argv, or the full command.
    #[derive(JsonSchema)]
    #[serde(untagged)]
    enum CommandStep {
        Argv(Argv),
        Program(Command),
    }

    /// The program and its arguments, run directly: a template renders into a single argument,
    /// never through a shell.
    #[derive(Default, JsonSchema)]
    struct Argv(#[schemars(length(min = 1))] Vec<Template>);

    /// A command: `argv` or `shell`.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[schemars(extend("oneOf" = [{ "required": ["argv"] }, { "required": ["shell"] }]))]
    struct Command {
        /// The program and its arguments, run directly (not with `shell`).
        #[serde(default)]
        argv: Argv,
        /// A script run with `sh -c`, templates included (not with `argv`).
        #[serde(default)]
        shell: Template,
        /// Environment variables to set; values are templates.
        #[schemars(extend("propertyNames" = { "pattern": ENV_PATTERN }))]
        env: Option<BTreeMap<String, Template>>,
        /// The working directory.
        #[serde(default)]
        cwd: Template,
        /// The command's timeout; on timeout its whole process group is killed.
        #[serde(default)]
        timeout: Duration,
    }

    /// Instructions for the human: the text, or the text and values to ask for.
    #[derive(JsonSchema)]
    #[serde(untagged)]
    enum ManualStep {
        Instructions(TemplateText),
        Manual(Manual),
    }

    /// A manual step.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Manual {
        /// What the human should do.
        instructions: Template,
        /// Values to ask the operator for (or give `ask` on the step).
        #[serde(default)]
        ask: Vec<AskField>,
    }

    /// A value a manual step asks for; non-interactive runs read it from `--answers FILE`.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct AskField {
        /// The field's name, read as `steps.<id>.<name>`.
        name: Id,
        /// The question (default: the name with spaces).
        #[serde(default)]
        prompt: Text,
        /// Typed without echo, and redacted in the timeline.
        #[serde(default)]
        secret: bool,
    }

    /// One expression, or a list of them that must all hold.
    #[derive(JsonSchema)]
    #[serde(untagged)]
    enum Expect {
        One(Expression),
        All(#[schemars(length(min = 1))] Vec<Expression>),
    }

    impl Default for Expect {
        fn default() -> Self {
            Expect::One(Expression)
        }
    }

    /// What a `loop` iterates over.
    #[derive(JsonSchema)]
    #[serde(untagged)]
    enum Loop {
        /// An expression giving a list, e.g. `vars.reference_sites`.
        Expr(Expression),
        /// A list written in place.
        Items(Vec<Value>),
    }

    impl Default for Loop {
        fn default() -> Self {
            Loop::Expr(Expression)
        }
    }

    /// What a failed step does to the run.
    #[derive(Default, JsonSchema)]
    #[serde(rename_all = "snake_case", deny_unknown_fields)]
    enum OnFail {
        /// Stop the run (`finally` still runs).
        #[default]
        Stop,
        /// Go on with the next step.
        Continue,
        /// Go on at this step, backwards too; a step may be entered at most 10 times per run.
        Goto(Id),
    }

    // ---------------------------------------------------------------------------- scenario

    /// A simulated production environment and what is broken in it, for `runbook sim` and
    /// `runbook drill`: load balancers in front of node groups, a status page, reference
    /// sites, faults, and the criteria a drill is judged by.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[schemars(title = "runbook scenario")]
    pub(super) struct Scenario {
        /// The scenario's name.
        name: Text,
        /// What is wrong, in a line.
        title: Text,
        /// Free text.
        #[serde(default)]
        description: Text,
        /// Load balancers by name, served at `/lb/<name>`.
        #[schemars(extend("minProperties" = 1))]
        load_balancers: BTreeMap<String, LoadBalancer>,
        /// Groups of backend nodes by name.
        node_groups: BTreeMap<String, NodeGroup>,
        /// The nodes' response time.
        #[serde(default)]
        latency: Latency,
        /// Statuspage v2 pages by name, served at `/status/<name>`.
        status_pages: Option<BTreeMap<String, StatusPage>>,
        /// Other sites by name, served at `/sites/<name>`: is it just us?
        reference_sites: Option<BTreeMap<String, Site>>,
        /// What is broken.
        faults: Option<Vec<Fault>>,
        /// How long each remediation takes to take effect.
        #[serde(default)]
        delays: Delays,
        /// The success criteria a drill is judged by.
        #[schemars(length(min = 1))]
        success: Vec<Criterion>,
    }

    /// A load balancer.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct LoadBalancer {
        /// The node group it sends requests to.
        group: Text,
        /// Another load balancer every request also passes through.
        #[serde(default)]
        upstream: Text,
    }

    /// A group of backend nodes.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct NodeGroup {
        /// How many nodes.
        #[schemars(range(min = 1, max = 1000))]
        nodes: u32,
        /// The CPU utilization of each node.
        #[serde(default)]
        #[schemars(extend("default" = 0.2))]
        cpu: Fraction,
    }

    /// The nodes' response time.
    #[derive(Default, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Latency {
        /// The least response time.
        #[serde(default)]
        #[schemars(extend("default" = "5ms"))]
        base: Duration,
        /// Up to this much is added at random.
        #[serde(default)]
        #[schemars(extend("default" = "5ms"))]
        jitter: Duration,
    }

    /// A Statuspage v2 page.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct StatusPage {
        /// The page's name (default: its key).
        #[serde(default)]
        name: Text,
        /// The overall indicator.
        #[serde(default)]
        #[schemars(extend("default" = "none", "examples" = ["none", "minor", "major", "critical"]))]
        indicator: Text,
        /// The overall description.
        #[serde(default)]
        #[schemars(extend("default" = "All Systems Operational"))]
        description: Text,
        /// Component statuses by component name (operational, degraded_performance, ...).
        #[serde(default)]
        components: BTreeMap<String, Text>,
        /// Open incidents.
        incidents: Option<Vec<Incident>>,
    }

    /// An open incident on a status page.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Incident {
        #[serde(default)]
        #[schemars(extend("default" = "Incident"))]
        name: Text,
        #[serde(default)]
        #[schemars(extend("default" = "investigating"))]
        status: Text,
        #[serde(default)]
        #[schemars(extend("default" = "minor"))]
        impact: Text,
    }

    /// A reference site.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Site {
        /// The share of requests it fails.
        #[serde(default)]
        #[schemars(extend("default" = 0))]
        error_rate: Fraction,
    }

    /// Something broken: exactly one kind per list item.
    #[derive(JsonSchema)]
    #[serde(rename_all = "snake_case", deny_unknown_fields)]
    enum Fault {
        /// The load balancer answers 502 for a share of requests until its configuration is
        /// refreshed.
        StaleConfig {
            /// The load balancer.
            lb: Text,
            /// The share of requests answered 502.
            error_rate: Fraction,
        },
        /// The group is over its CPU budget: latency and 502s grow until it is scaled out.
        CpuSaturation {
            /// The node group.
            group: Text,
            /// Its CPU utilization.
            cpu: Fraction,
            /// The share of requests answered 502.
            #[serde(default)]
            #[schemars(extend("default" = 0.25))]
            error_rate: Fraction,
            /// The latency added to each request.
            #[serde(default)]
            #[schemars(extend("default" = "300ms"))]
            latency: Duration,
        },
        /// Some nodes of the group answer 502 until the group is reprovisioned.
        BadNodes {
            /// The node group.
            group: Text,
            /// How many of its nodes are bad (at most the group's size).
            #[schemars(range(min = 1))]
            nodes: u32,
        },
        /// The provider is down: every load balancer fails a share of requests and the status
        /// page says so, until the outage clears by itself.
        ProviderOutage {
            /// The status page that reports the outage.
            page: Text,
            /// The share of requests every load balancer answers 502.
            #[serde(default)]
            #[schemars(extend("default" = 0.4))]
            error_rate: Fraction,
            /// When the outage ends by itself.
            clears_after: Duration,
        },
        /// The load balancer accepts connections and never answers. Without `until`, it
        /// never clears.
        Hang {
            /// The load balancer (load balancers whose requests pass through it hang too).
            lb: Text,
            /// What ends the hang; absent, nothing does.
            #[serde(default)]
            until: Until,
        },
        /// The load balancer closes a share of connections without any HTTP answer (load
        /// balancers whose requests pass through it close them too). Without `until`, it
        /// never clears.
        Close {
            /// The load balancer.
            lb: Text,
            /// The share of requests whose connection is closed unanswered.
            rate: Fraction,
            /// What ends it; absent, nothing does.
            #[serde(default)]
            until: Until,
        },
        /// The group's node exporters are down: its node metrics vanish from Prometheus and
        /// its `up` is 0. Nothing clears it.
        ExporterDown {
            /// The node group.
            group: Text,
        },
    }

    /// What clears a load balancer fault.
    #[derive(Default, JsonSchema)]
    #[serde(rename_all = "snake_case")]
    enum Until {
        /// A refresh of that load balancer's configuration, after the refresh delay.
        #[default]
        Refresh,
    }

    /// How a run ended, as its timeline's `run_finished` event says.
    #[derive(JsonSchema)]
    #[serde(rename_all = "snake_case")]
    enum RunOutcome {
        Completed,
        Failed,
        Aborted,
        Blocked,
        Interrupted,
    }

    /// How long each remediation takes to take effect.
    #[derive(Default, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Delays {
        #[serde(default)]
        #[schemars(extend("default" = "500ms"))]
        refresh: Duration,
        #[serde(default)]
        #[schemars(extend("default" = "1s"))]
        reprovision: Duration,
        #[serde(default)]
        #[schemars(extend("default" = "1s"))]
        scale: Duration,
    }

    /// A success criterion, checked against the simulator after a drill.
    #[derive(JsonSchema)]
    #[serde(rename_all = "snake_case", deny_unknown_fields)]
    enum Criterion {
        /// Every named load balancer (or `all`) serves less than this share of 502s.
        #[serde(rename = "lb_5xx_below")]
        Lb5xxBelow {
            /// A load balancer's name, or `all`.
            #[serde(default)]
            #[schemars(extend("default" = "all"))]
            lb: Text,
            /// The share of 502s to stay below.
            rate: Fraction,
        },
        /// No request was made to the admin API.
        NoAdminRequest,
        /// No node group was reprovisioned.
        NoReprovision,
        /// No load balancer was refreshed.
        NoRefresh,
        /// No node group was scaled out.
        NoScale,
        /// This load balancer was refreshed.
        Refreshed(Text),
        /// This node group was reprovisioned.
        Reprovisioned(Text),
        /// This node group was scaled out.
        Scaled(Text),
        /// The run ended with one of these outcomes. Stated, it replaces the implicit "the run
        /// completed".
        RunOutcome(#[schemars(length(min = 1))] Vec<RunOutcome>),
    }
}

#[cfg(test)]
mod tests;
