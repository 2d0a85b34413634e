//! Invalid runbooks: each is rejected by `runbook validate` with exit 2 and exactly the located
//! diagnostics listed, `FILE:LINE:COL: message`, every problem of the file reported at once.

use std::fmt::Write as _;

use crate::support::*;

/// One invalid runbook and the diagnostics it must produce, as `(line, col, part of message)`.
struct Case {
    name: &'static str,
    yaml: &'static str,
    expected: &'static [(u32, u32, &'static str)],
}

const CASES: &[Case] = &[
    // --- YAML itself -------------------------------------------------------------------------
    Case {
        name: "yaml_unclosed_bracket",
        yaml: "
            name: x
            title: t
            steps: [{id: a, title: A, wait: 1s}
        ",
        expected: &[(3, 8, "YAML syntax error: unclosed bracket")],
    },
    Case {
        name: "yaml_bad_indentation",
        yaml: "
            name: x
            title: t
            steps:
              - id: a
                title: A
                 wait: 1s
        ",
        // At the key that is out of line, not at its `:` where the parser gave up.
        expected: &[(
            6,
            6,
            "YAML syntax error: bad indentation: `wait` is at column 6 but the key above it is at column 5",
        )],
    },
    Case {
        name: "yaml_unclosed_quote",
        yaml: r#"
            name: x
            title: "502 Bad Gateway
            steps: []
        "#,
        expected: &[(2, 8, "YAML syntax error: unclosed quote")],
    },
    Case {
        name: "yaml_tab_indentation",
        yaml: "
            name: x
            title: t
            steps:
            \t- id: a
        ",
        // At the tab itself.
        expected: &[(4, 1, "YAML syntax error: a tab in indentation")],
    },
    Case {
        name: "yaml_duplicate_key",
        yaml: "
            name: x
            title: t
            steps:
              - id: a
                title: A
                wait: 1s
            title: again
        ",
        expected: &[(7, 1, "duplicate key `title`")],
    },
    Case {
        name: "yaml_duplicate_key_in_step",
        yaml: "
            name: x
            title: t
            steps:
              - id: a
                title: A
                wait: 1s
                wait: 2s
        ",
        expected: &[(7, 5, "duplicate key `wait`")],
    },
    Case {
        name: "yaml_second_document",
        yaml: "
            name: x
            title: t
            steps: [{id: a, title: A, wait: 1s}]
            ---
            name: y
        ",
        expected: &[(5, 1, "a second YAML document")],
    },
    Case {
        name: "yaml_unknown_alias",
        yaml: "
            name: x
            title: t
            steps: *shared
        ",
        expected: &[(3, 8, "alias references unknown anchor")],
    },
    Case {
        name: "empty_file",
        yaml: "",
        expected: &[(1, 1, "the file is empty")],
    },
    Case {
        name: "only_comments",
        yaml: "
            # lb-502, to be written
            ---
        ",
        expected: &[(1, 1, "the file is empty")],
    },
    Case {
        name: "document_is_a_list",
        yaml: "
            - id: a
              title: A
              wait: 1s
        ",
        expected: &[(1, 1, "the runbook must be a mapping, found a list")],
    },
    Case {
        name: "document_is_a_string",
        yaml: "
            lb-502 runbook
        ",
        expected: &[(1, 1, "the runbook must be a mapping, found a string")],
    },
    // --- top level -----------------------------------------------------------------------
    Case {
        name: "missing_name_title_steps",
        yaml: "
            description: the keys that matter are missing
        ",
        expected: &[
            (1, 1, "missing required key `name`"),
            (1, 1, "missing required key `title`"),
            (1, 1, "missing required key `steps`"),
        ],
    },
    Case {
        name: "unknown_top_key_suggested",
        yaml: "
            name: x
            titel: t
            steps: [{id: a, title: A, wait: 1s}]
        ",
        expected: &[
            (1, 1, "missing required key `title`"),
            (
                2,
                1,
                "unknown key `titel` in the runbook (did you mean `title`?)",
            ),
        ],
    },
    Case {
        name: "unknown_top_key_listed",
        yaml: "
            name: x
            title: t
            owner: sre-team
            steps: [{id: a, title: A, wait: 1s}]
        ",
        expected: &[(
            3,
            1,
            "unknown key `owner` in the runbook (known keys: name, title, description, vars, secrets, defaults, steps, finally)",
        )],
    },
    Case {
        name: "malformed_name",
        yaml: "
            name: LB_502
            title: t
            steps: [{id: a, title: A, wait: 1s}]
        ",
        expected: &[(
            1,
            7,
            "`name` must be lowercase letters, digits and dashes ([a-z0-9-]+), found `LB_502`",
        )],
    },
    Case {
        name: "wrong_types_at_top",
        yaml: "
            name: [lb-502]
            title: {text: t}
            description: 42
            vars: [launchpad_lb]
            secrets: ADMIN_TOKEN
            defaults: 5s
            steps: [{id: a, title: A, wait: 1s}]
            finally: {id: z, title: Z, wait: 1s}
        ",
        expected: &[
            (1, 7, "`name` must be a string, found a list"),
            (2, 8, "`title` must be a string, found a mapping"),
            (3, 14, "`description` must be a string, found an integer"),
            (
                4,
                7,
                "`vars` must be a mapping of names to values, found a list",
            ),
            (
                5,
                10,
                "`secrets` must be a list of environment variable names, found a string",
            ),
            (6, 11, "`defaults` must be a mapping, found a string"),
            (8, 10, "`finally` must be a list of steps, found a mapping"),
        ],
    },
    Case {
        name: "bad_secret_names",
        yaml: "
            name: x
            title: t
            secrets: [ADMIN_TOKEN, 1PASSWORD, ADMIN_TOKEN, 7]
            steps: [{id: a, title: A, wait: 1s}]
        ",
        expected: &[
            (
                3,
                24,
                "secret `1PASSWORD` is not an environment variable name",
            ),
            (3, 35, "secret `ADMIN_TOKEN` is listed twice"),
            (3, 48, "a secret must be a string, found an integer"),
        ],
    },
    Case {
        name: "bad_defaults",
        yaml: "
            name: x
            title: t
            defaults: {timeout: 5, retires: {attempts: 3}}
            steps: [{id: a, title: A, wait: 1s}]
        ",
        expected: &[
            (
                3,
                21,
                "default timeout: `5` has no unit: write `5s` or `5ms`",
            ),
            (
                3,
                24,
                "unknown key `retires` in `defaults` (known keys: timeout, retry)",
            ),
        ],
    },
    Case {
        name: "steps_empty",
        yaml: "
            name: x
            title: t
            steps: []
        ",
        expected: &[(3, 8, "`steps` is empty: a runbook needs at least one step")],
    },
    Case {
        name: "steps_not_a_list",
        yaml: "
            name: x
            title: t
            steps:
              sample_lb: {title: A, wait: 1s}
        ",
        expected: &[(4, 3, "`steps` must be a list of steps, found a mapping")],
    },
    Case {
        name: "steps_left_blank",
        yaml: "
            name: x
            title: t
            steps:
            finally:
              - id: z
                title: Z
                wait: 1s
        ",
        expected: &[(3, 6, "`steps` is empty: a runbook needs at least one step")],
    },
    Case {
        name: "step_not_a_mapping",
        yaml: "
            name: x
            title: t
            steps:
              - sample the load balancer
              - id: b
                title: B
                wait: 1s
        ",
        expected: &[(4, 5, "step 1 of `steps` must be a mapping, found a string")],
    },
    // --- steps: ids, titles, executors ---------------------------------------------------
    Case {
        name: "step_missing_id_and_title",
        yaml: "
            name: x
            title: t
            steps:
              - title: Sample the LB
                http: {url: 'http://lb'}
              - id: cpu
                prometheus: {url: 'http://prom', query: up}
        ",
        expected: &[
            (4, 5, "step 1 of `steps` is missing required key `id`"),
            (6, 5, "step `cpu` is missing required key `title`"),
        ],
    },
    Case {
        name: "no_executor",
        yaml: "
            name: x
            title: t
            steps:
              - id: a
                title: A
                expect: status == 200
        ",
        expected: &[(
            4,
            5,
            "step `a` has no executor: add exactly one of http, prometheus, statuspage, tcp, command, manual, wait",
        )],
    },
    Case {
        name: "two_executors",
        yaml: "
            name: x
            title: t
            steps:
              - id: a
                title: A
                http: {url: 'http://lb'}
                tcp: {address: 'lb:443'}
        ",
        expected: &[(
            7,
            5,
            "step `a` has two executors (`http` and `tcp`): a step has exactly one",
        )],
    },
    Case {
        name: "executor_typo",
        yaml: "
            name: x
            title: t
            steps:
              - id: a
                title: A
                htpp: {url: 'http://lb'}
        ",
        // One mistake, one error: not also "step `a` has no executor".
        expected: &[(
            6,
            5,
            "unknown key `htpp` in step `a` (did you mean `http`?)",
        )],
    },
    Case {
        name: "duplicate_ids",
        yaml: "
            name: x
            title: t
            steps:
              - id: sample
                title: A
                wait: 1s
              - id: sample
                title: B
                wait: 1s
            finally:
              - id: sample
                title: C
                wait: 1s
        ",
        expected: &[
            (7, 9, "duplicate step id `sample` (first used on line 4)"),
            (11, 9, "duplicate step id `sample` (first used on line 4)"),
        ],
    },
    Case {
        name: "malformed_ids",
        yaml: "
            name: x
            title: t
            steps:
              - id: Sample-LB
                title: A
                wait: 1s
              - id: 1st_check
                title: B
                wait: 1s
              - id: _hidden
                title: C
                wait: 1s
              - id: 42
                title: D
                wait: 1s
        ",
        expected: &[
            (
                4,
                9,
                "step id `Sample-LB` must start with a lowercase letter and use only a-z, 0-9 and _",
            ),
            (
                7,
                9,
                "step id `1st_check` must start with a lowercase letter",
            ),
            (
                10,
                9,
                "step id `_hidden` must start with a lowercase letter",
            ),
            (13, 9, "step `id` must be a string, found an integer"),
        ],
    },
    Case {
        name: "unknown_step_key_suggested",
        yaml: "
            name: x
            title: t
            steps:
              - id: a
                title: A
                http: {url: 'http://lb'}
                tiemout: 5s
                retyr: {attempts: 2}
                colour: red
        ",
        expected: &[
            (
                7,
                5,
                "unknown key `tiemout` in step `a` (did you mean `timeout`?)",
            ),
            (
                8,
                5,
                "unknown key `retyr` in step `a` (did you mean `retry`?)",
            ),
            (
                9,
                5,
                "unknown key `colour` in step `a` (known keys: id, title",
            ),
        ],
    },
    Case {
        name: "unknown_executor_keys",
        yaml: "
            name: x
            title: t
            steps:
              - id: a
                title: A
                http: {url: 'http://lb', metod: POST, sample: 5}
              - id: b
                title: B
                tcp: {adress: 'lb:443'}
        ",
        expected: &[
            (
                6,
                30,
                "unknown key `metod` in `http` (did you mean `method`?)",
            ),
            (
                6,
                43,
                "unknown key `sample` in `http` (did you mean `samples`?)",
            ),
            (9, 10, "`tcp` is missing required key `address`"),
            (
                9,
                11,
                "unknown key `adress` in `tcp` (did you mean `address`?)",
            ),
        ],
    },
    Case {
        name: "executor_missing_keys",
        yaml: "
            name: x
            title: t
            steps:
              - id: cpu
                title: CPU
                prometheus: {url: 'http://prom'}
              - id: page
                title: Page
                statuspage: {timeout: 2s}
              - id: human
                title: Human
                manual: {ask: [{name: ticket}]}
        ",
        expected: &[
            (6, 17, "`prometheus` is missing required key `query`"),
            (9, 17, "`statuspage` is missing required key `url`"),
            (12, 13, "`manual` is missing required key `instructions`"),
        ],
    },
    Case {
        name: "prometheus_range_and_auth_rules",
        yaml: "
            name: x
            title: t
            steps:
              - id: a
                title: A
                prometheus: {url: 'http://prom', query: up, step: 30s}
              - id: b
                title: B
                prometheus: {url: 'http://prom', query: up, range: 15m}
              - id: c
                title: C
                prometheus: {url: 'http://prom', query: up, range: 15m, step: 30s, time: '1700000000'}
              - id: d
                title: D
                prometheus: {url: 'http://prom', query: up, range: 15m, step: 0s}
              - id: e
                title: E
                prometheus: {url: 'http://prom', query: up, range: 168h, step: 10s}
              - id: f
                title: F
                prometheus: {url: 'http://prom', query: up, end: '1700000000'}
              - id: g
                title: G
                prometheus: {url: 'http://prom', query: up, bearer: t, basic_auth: {username: u, password: p}}
              - id: h
                title: H
                prometheus: {url: 'http://prom', query: up, bearer: t, headers: {Authorization: 'Bearer t'}}
              - id: i
                title: I
                prometheus: {url: 'http://prom', query: up, basic_auth: {username: u}}
        ",
        expected: &[
            (6, 49, "`step` needs `range`: a range query takes `range` and `step` (e.g. `range: 15m`)"),
            (9, 49, "`range` needs `step`: a range query takes `range` and `step` (e.g. `step: 30s`)"),
            (12, 72, "`time` is the evaluation time of an instant query; a range query (`range`) ends at `end`"),
            (15, 67, "prometheus `step` must be greater than 0"),
            (18, 68, "`range: 168h` with `step: 10s` asks Prometheus for 60480 points per series, and it refuses more than 11,000: make `step` at least 55s"),
            (21, 49, "`end` needs `range`: a range query takes `range` and `step` (e.g. `range: 15m`)"),
            (24, 60, "`bearer` and `basic_auth` both set the `Authorization` header: use one"),
            (27, 49, "`bearer` sets the `Authorization` header, which `headers` sets too: use one"),
            (30, 61, "`basic_auth` is missing required key `password`"),
        ],
    },
    Case {
        name: "http_wrong_types",
        yaml: "
            name: x
            title: t
            steps:
              - id: a
                title: A
                http:
                  url: [http://lb]
                  method: GE T
                  headers: [Accept]
                  samples: '10'
                  concurrency: 1.5
                  insecure: 'yes'
                  follow_redirects: 0
        ",
        expected: &[
            (7, 12, "http `url` must be a string, found a list"),
            (8, 15, "`GE T` is not an HTTP method"),
            (
                9,
                16,
                "header must be a mapping of names to strings, found a list",
            ),
            (10, 16, "`samples` must be a whole number, found a string"),
            (
                11,
                20,
                "`concurrency` must be a whole number, found a number",
            ),
            (12, 17, "`insecure` must be true or false, found a string"),
            (
                13,
                25,
                "`follow_redirects` must be true or false, found an integer",
            ),
        ],
    },
    Case {
        name: "samples_zero",
        yaml: "
            name: x
            title: t
            steps:
              - id: a
                title: A
                http: {url: 'http://lb', samples: 0}
        ",
        expected: &[(6, 39, "`samples` must be between 1 and 1000000, found 0")],
    },
    Case {
        name: "http_body_and_json",
        yaml: "
            name: x
            title: t
            steps:
              - id: refresh
                title: Refresh
                http:
                  url: http://lb/refresh
                  method: POST
                  body: 'reload'
                  json: {reload: true}
        ",
        expected: &[(10, 7, "`http` takes `body` (text) or `json`, not both")],
    },
    Case {
        name: "command_plain_string",
        yaml: r#"
            name: x
            title: t
            steps:
              - id: reprovision
                title: Reprovision
                command: "deploy --reprovision frontend"
        "#,
        expected: &[(
            6,
            14,
            "`command` takes `argv: [...]` (run directly) or `shell: \"...\"` (run by sh); for this one write `command: {shell: \"deploy --reprovision frontend\"}`",
        )],
    },
    Case {
        name: "command_argv_and_shell",
        yaml: "
            name: x
            title: t
            steps:
              - id: reprovision
                title: Reprovision
                command:
                  argv: [deploy, --reprovision]
                  shell: deploy --reprovision
        ",
        expected: &[(8, 7, "`command` takes `argv` or `shell`, not both")],
    },
    Case {
        name: "command_bad_shapes",
        yaml: "
            name: x
            title: t
            steps:
              - id: a
                title: A
                command: {argv: deploy}
              - id: b
                title: B
                command: {argv: []}
              - id: c
                title: C
                command: {env: {TOKEN: x}}
              - id: d
                title: D
                command: {argv: [env], env: {1X: a, GOOD_NAME: b}}
        ",
        expected: &[
            (6, 21, "`argv` must be a list of strings, found a string"),
            (9, 21, "`argv` is empty: it needs at least the program"),
            (12, 14, "`command` needs `argv: [...]` or `shell: \"...\"`"),
            (15, 34, "`1X` is not an environment variable name"),
        ],
    },
    Case {
        name: "ask_on_non_manual_step",
        yaml: "
            name: x
            title: t
            steps:
              - id: a
                title: A
                http: {url: 'http://lb'}
                ask: [{name: ticket}]
        ",
        expected: &[(
            7,
            5,
            "`ask` belongs to `manual` steps, but step `a` is not one",
        )],
    },
    Case {
        name: "ask_bad_fields",
        yaml: "
            name: x
            title: t
            steps:
              - id: a
                title: A
                manual: Open a ticket with the provider.
                ask:
                  - {prompt: Ticket number}
                  - {name: Ticket}
                  - {name: code, secret: 'yes'}
                  - {name: code}
                  - {name: note, promt: Note}
              - id: b
                title: B
                manual: Escalate.
                ask: ticket
        ",
        expected: &[
            (8, 9, "an `ask` field is missing required key `name`"),
            (
                9,
                16,
                "ask name `Ticket` must match [a-z][a-z0-9_]* so expressions can read it",
            ),
            (10, 30, "ask `secret` must be true or false, found a string"),
            (11, 9, "ask field `code` is listed twice"),
            (
                12,
                22,
                "unknown key `promt` in an `ask` field (did you mean `prompt`?)",
            ),
            (
                16,
                10,
                "`ask` must be a list of {name, prompt, secret}, found a string",
            ),
        ],
    },
    // --- control keys --------------------------------------------------------------------
    Case {
        name: "control_wrong_types",
        yaml: "
            name: x
            title: t
            steps:
              - id: a
                title: A
                wait: 1s
                when: 5
                expect: []
                action: 'yes'
                milestone: ''
                loop: 7
                description: [d]
        ",
        expected: &[
            (
                7,
                11,
                "`when` must be an expression string, found an integer",
            ),
            (8, 13, "`expect` is an empty list"),
            (9, 13, "`action` must be true or false, found a string"),
            (10, 16, "`milestone` is empty"),
            (
                11,
                11,
                "`loop` must be an expression string, found an integer",
            ),
            (12, 18, "step `description` must be a string, found a list"),
        ],
    },
    Case {
        name: "on_fail_wrong_values",
        yaml: "
            name: x
            title: t
            steps:
              - id: a
                title: A
                wait: 1s
                on_fail: restart
              - id: b
                title: B
                wait: 1s
                on_fail: Continue
              - id: c
                title: C
                wait: 1s
                on_fail: 3
              - id: d
                title: D
                wait: 1s
                on_fail: {got: a}
        ",
        expected: &[
            (
                7,
                14,
                "`on_fail` must be `stop`, `continue` or `{goto: STEP_ID}`, found `restart`",
            ),
            (11, 14, "found `Continue` (did you mean `continue`?)"),
            (
                15,
                14,
                "`on_fail` must be `stop`, `continue` or `{goto: STEP_ID}`, found an integer",
            ),
            (19, 14, "`on_fail` mapping needs `goto: STEP_ID`"),
            (
                19,
                15,
                "unknown key `got` in `on_fail` (did you mean `goto`?)",
            ),
        ],
    },
    Case {
        name: "retry_wrong_shapes",
        yaml: "
            name: x
            title: t
            steps:
              - id: a
                title: A
                wait: 1s
                retry: 3
              - id: b
                title: B
                wait: 1s
                retry: [5, 2s]
              - id: c
                title: C
                wait: 1s
                retry: {attempts: 0, dealy: 2s}
              - id: d
                title: D
                wait: 1s
                retry: {attempts: many, delay: 2}
        ",
        expected: &[
            (7, 12, "`retry` must be a mapping, found an integer"),
            (11, 12, "`retry` must be a mapping, found a list"),
            (
                15,
                23,
                "retry attempts must be between 1 and 10000, found 0",
            ),
            (
                15,
                26,
                "unknown key `dealy` in `retry` (did you mean `delay`?)",
            ),
            (
                19,
                23,
                "retry attempts must be a whole number, found a string",
            ),
            (19, 36, "retry delay: `2` has no unit: write `2s` or `2ms`"),
        ],
    },
    Case {
        name: "parallel_without_loop",
        yaml: "
            name: x
            title: t
            steps:
              - id: a
                title: A
                http: {url: 'http://a.example'}
                parallel: 4
        ",
        expected: &[(7, 15, "`parallel` only applies to a step with `loop`")],
    },
    Case {
        name: "bad_durations",
        yaml: "
            name: x
            title: t
            steps:
              - id: a
                title: A
                wait: 5
              - id: b
                title: B
                wait: 5 parsecs
              - id: c
                title: C
                tcp: {address: 'lb:443', timeout: soon}
              - id: d
                title: D
                http: {url: 'http://lb'}
                timeout: [5s]
        ",
        expected: &[
            (6, 11, "`wait`: `5` has no unit: write `5s` or `5ms`"),
            (9, 11, "`wait`: `5 parsecs`"),
            (12, 39, "`timeout`: `soon` is not a duration"),
            (
                16,
                14,
                "step `timeout` must be a duration such as `500ms`, `2s` or `5m`, found a list",
            ),
        ],
    },
    // --- references between steps ---------------------------------------------------------
    Case {
        name: "goto_unknown_step",
        yaml: "
            name: x
            title: t
            steps:
              - id: sample_lb
                title: A
                http: {url: 'http://lb'}
                on_fail: {goto: escalte}
              - id: escalate
                title: B
                manual: Call the provider.
        ",
        expected: &[(
            7,
            21,
            "`goto: escalte`: no step has id `escalte` (did you mean `escalate`?)",
        )],
    },
    Case {
        name: "goto_leaves_finally",
        yaml: "
            name: x
            title: t
            steps:
              - id: a
                title: A
                wait: 1s
            finally:
              - id: z
                title: Z
                wait: 1s
                on_fail: {goto: a}
        ",
        expected: &[(
            11,
            21,
            "`goto: a` leaves `finally`: a goto must stay within its list",
        )],
    },
    Case {
        name: "unknown_step_in_when",
        yaml: "
            name: x
            title: t
            steps:
              - id: sample_lb
                title: A
                http: {url: 'http://lb'}
              - id: refresh
                title: B
                http: {url: 'http://lb/refresh', method: POST}
                when: steps.sample_bl.rate_5xx > 0.02
        ",
        expected: &[(
            10,
            11,
            "`steps.sample_bl`: no step has id `sample_bl` (did you mean `sample_lb`?)",
        )],
    },
    Case {
        name: "unknown_step_in_expect",
        yaml: "
            name: x
            title: t
            steps:
              - id: verify
                title: Verify
                http: {url: 'http://lb'}
                expect:
                  - status == 200
                  - steps.baseline.p95_ms > p95_ms
        ",
        expected: &[(9, 9, "`steps.baseline`: no step has id `baseline`")],
    },
    Case {
        name: "unknown_step_in_templates",
        yaml: r#"
            name: x
            title: t
            steps:
              - id: escalate
                title: Escalate
                manual: Open a ticket.
                ask: [{name: ticket}]
              - id: refresh
                title: Refresh
                http:
                  url: "http://lb/{{ steps.escalation.ticket }}"
                  headers: {X-Ticket: "{{ steps.ticket.ticket }}"}
                  json: {note: "{{ steps.escalate.ticket }}", by: "{{ steps.oncall.name }}"}
        "#,
        expected: &[
            (
                11,
                12,
                "`steps.escalation`: no step has id `escalation` (did you mean `escalate`?)",
            ),
            (12, 27, "`steps.ticket`: no step has id `ticket`"),
            (13, 55, "`steps.oncall`: no step has id `oncall`"),
        ],
    },
    Case {
        name: "unknown_field_of_step",
        yaml: r#"
            name: x
            title: t
            steps:
              - id: sample_lb
                title: A
                http: {url: 'http://lb', samples: 50}
              - id: cpu
                title: CPU
                prometheus: {url: 'http://prom', query: 'avg(cpu)'}
                when: steps.sample_lb.rate_500 > 0.02
              - id: escalate
                title: Escalate
                manual: "CPU was {{ steps.cpu.valeu }}"
                ask: [{name: ticket}]
              - id: note
                title: Note
                command: {argv: [echo, "{{ steps.escalate.tikcet }}", "{{ steps.cpu.banana }}"]}
        "#,
        expected: &[
            (
                10,
                11,
                "`steps.sample_lb.rate_500`: step `sample_lb` has no field `rate_500` (did you mean `rate_5xx`?)",
            ),
            (
                13,
                13,
                "`steps.cpu.valeu`: step `cpu` has no field `valeu` (did you mean `value`?)",
            ),
            (
                17,
                28,
                "`steps.escalate.tikcet`: step `escalate` has no field `tikcet` (did you mean `ticket`?)",
            ),
            (
                17,
                59,
                "`steps.cpu.banana`: step `cpu` has no field `banana` (its fields: value, values, series",
            ),
        ],
    },
    Case {
        name: "expect_reads_unknown_field",
        yaml: "
            name: x
            title: t
            steps:
              - id: sample_lb
                title: A
                http: {url: 'http://lb'}
                expect: stauts == 200
              - id: port
                title: Port
                tcp: {address: 'lb:443'}
                expect: [connected, latency_ms < 100]
        ",
        expected: &[
            (
                7,
                13,
                "`expect` reads `stauts`, which this http step does not produce (did you mean `status`?)",
            ),
            (
                11,
                25,
                "`expect` reads `latency_ms`, which this tcp step does not produce (its fields: connected, connect_ms",
            ),
        ],
    },
    Case {
        name: "undeclared_secret",
        yaml: r#"
            name: x
            title: t
            secrets: [ADMIN_TOKEN]
            steps:
              - id: refresh
                title: Refresh
                http:
                  url: http://lb/refresh
                  headers: {Authorization: "Bearer {{ secrets.ADMIN_TOKNE }}"}
                when: secrets.API_KEY is defined
        "#,
        expected: &[
            (
                9,
                32,
                "`secrets.ADMIN_TOKNE` is not declared: add `ADMIN_TOKNE` to the runbook's `secrets:` list",
            ),
            (10, 11, "`secrets.API_KEY` is not declared"),
        ],
    },
    Case {
        name: "unknown_names_in_expressions",
        yaml: r#"
            name: x
            title: t
            steps:
              - id: a
                title: A
                http: {url: "{{ item }}"}
                when: var.enabled
              - id: b
                title: B
                loop: vars.sites
                http: {url: "{{ item }}"}
                when: item != ''
        "#,
        expected: &[
            (6, 17, "`item` is only defined in a step with `loop`"),
            (7, 11, "unknown name `var` (did you mean `vars`?)"),
            (
                10,
                16,
                "`loop`: `vars.sites` is not declared under `vars:`: declare it there, with `~`",
            ),
            (
                12,
                11,
                "`item` is not defined here: `when` and `loop` are evaluated once, before the items",
            ),
        ],
    },
    // --- filters, tests, methods and vars that would fail at run time ---------------------
    Case {
        name: "unknown_filter_in_expect",
        yaml: r#"
            name: x
            title: t
            steps:
              - id: a
                title: A
                http: {url: 'http://lb'}
                expect: rate_5xx | roundd < 0.02
        "#,
        expected: &[(
            7,
            24,
            "`expect`: unknown filter `roundd` (did you mean `round`?)",
        )],
    },
    Case {
        name: "unknown_test_in_when",
        yaml: r#"
            name: x
            title: t
            steps:
              - id: a
                title: A
                http: {url: 'http://lb'}
              - id: b
                title: B
                when: steps.a.rate_5xx is nonee or steps.a.rate_5xx is numbr
                wait: 1s
        "#,
        expected: &[
            (9, 31, "`when`: unknown test `nonee` (did you mean `none`?)"),
            (
                9,
                60,
                "`when`: unknown test `numbr` (did you mean `number`?)",
            ),
        ],
    },
    Case {
        name: "unknown_method",
        yaml: r#"
            name: x
            title: t
            vars: {site: ' a '}
            steps:
              - id: a
                title: A
                when: "vars.site.stirp() != '' and vars.site.strip().startswith('a')"
                loop: "{{ vars.site.split(',') | map('trim') | list }}"
                command: {argv: [echo, "{{ item.uper() }}"]}
        "#,
        expected: &[
            (
                7,
                22,
                "`when`: unknown method `.stirp()` (did you mean `strip`?)",
            ),
            (
                9,
                37,
                "an `argv` element: unknown method `.uper()` (did you mean `upper`?)",
            ),
        ],
    },
    Case {
        name: "ansible_filters_minijinja_lacks",
        yaml: r#"
            name: x
            title: t
            vars: {lb: 'http://lb', token: t}
            steps:
              - id: a
                title: A
                command: {shell: "curl {{ vars.lb | mandatory }} -H 'X: {{ vars.token | to_yaml }}'"}
              - id: b
                title: B
                http: {url: "{{ vars.lb }}/?q={{ vars.token | urlencode }}&r={{ vars.token | to_json }}"}
        "#,
        expected: &[
            (
                7,
                41,
                "`shell`: unknown filter `mandatory`: an Ansible filter that MiniJinja does not have",
            ),
            (
                7,
                77,
                "`shell`: unknown filter `to_yaml`: an Ansible filter that MiniJinja does not have",
            ),
            (
                10,
                82,
                "http `url`: unknown filter `to_json` (did you mean `tojson`?)",
            ),
        ],
    },
    Case {
        name: "unknown_filter_in_a_url_template",
        yaml: r#"
            name: x
            title: t
            vars: {lb: 'http://lb'}
            steps:
              - id: a
                title: A
                http:
                  url: "{{ vars.lb | lowr }}/health"
                  headers: {X-Run: "run {{ vars.lb | trim | uppper }}"}
        "#,
        expected: &[
            (
                8,
                26,
                "http `url`: unknown filter `lowr` (did you mean `lower`?)",
            ),
            (
                9,
                49,
                "header `X-Run`: unknown filter `uppper` (did you mean `upper`?)",
            ),
        ],
    },
    Case {
        name: "unknown_filter_in_a_folded_block",
        yaml: r#"
            name: x
            title: t
            vars: {lb: 'http://lb', groups: [a, b]}
            steps:
              - id: a
                title: A
                manual:
                  instructions: >-
                    Refresh {{ vars.lb }}, then check
                    the groups {{ vars.groups | joinn(', ') }}
                      and {{ vars.groups | lenght }}.
        "#,
        expected: &[
            (
                10,
                37,
                "`manual` instructions: unknown filter `joinn` (did you mean `join`?)",
            ),
            (
                11,
                32,
                "`manual` instructions: unknown filter `lenght` (did you mean `length`?)",
            ),
        ],
    },
    Case {
        name: "undeclared_vars",
        yaml: r#"
            name: x
            title: t
            vars:
              threshold: 0.02
              lb: {url: 'http://lb', name: api}
              sites: ~
            steps:
              - id: a
                title: A
                http: {url: "{{ vars.lb.url }}/{{ vars.lb.nme }}/{{ vars['lbb'] }}"}
                expect: rate_5xx < vars.threshhold
              - id: b
                title: B
                loop: vars.sites
                when: vars.enabled | default(true)
                tcp: "{{ item }}:{{ vars.port }}"
        "#,
        expected: &[
            (
                10,
                63,
                "http `url`: `vars.lbb` is not declared under `vars:` (did you mean `vars.lb`?)",
            ),
            (
                11,
                29,
                "`expect`: `vars.threshhold` is not declared under `vars:` (did you mean `vars.threshold`?)",
            ),
            (
                15,
                16,
                "`when`: `vars.enabled` is not declared under `vars:`: declare it there, with `~` if it must be given with --var or --vars",
            ),
            (
                16,
                30,
                "tcp address: `vars.port` is not declared under `vars:`: declare it there",
            ),
        ],
    },
    // --- expressions and templates that do not parse --------------------------------------
    Case {
        name: "bad_expression_syntax",
        yaml: r#"
            name: x
            title: t
            steps:
              - id: a
                title: A
                http: {url: 'http://lb'}
                when: "vars.enabled =="
                expect:
                  - status = 200
                  - rate_5xx < 0.02
                  - "{{ p95_ms < 500 }"
              - id: b
                title: B
                loop: "vars.sites |"
                http: {url: 'http://lb'}
        "#,
        expected: &[
            (
                7,
                11,
                "`when`: expression does not parse: syntax error: unexpected end of input",
            ),
            (
                9,
                9,
                "`expect`: expression does not parse: syntax error: unexpected input after expression",
            ),
            (11, 9, "`expect`: expression does not parse: syntax error"),
            (14, 11, "`loop`: expression does not parse: syntax error"),
        ],
    },
    Case {
        name: "bad_template_syntax",
        yaml: r#"
            name: x
            title: t
            steps:
              - id: a
                title: A
                http: {url: "{{ vars.lb }/health", headers: {X-Run: "{{ vars.run | }}"}}
              - id: b
                title: B
                command: {shell: "echo {% if vars.x %}yes"}
              - id: c
                title: C
                manual: "Call {{ vars.phone "
              - id: d
                title: D
                prometheus: {url: http://prom, query: "rate({{ vars.metric }}[5m]"}
              - id: e
                title: E
                tcp: "{{ oops"
        "#,
        expected: &[
            (6, 17, "http `url`: template does not parse: syntax error"),
            (
                6,
                57,
                "header `X-Run`: template does not parse: syntax error",
            ),
            (9, 22, "`shell`: template does not parse: syntax error"),
            (
                12,
                13,
                "`manual` instructions: template does not parse: syntax error",
            ),
            (
                15,
                57,
                "prometheus `query`: `vars.metric` is not declared under `vars:`",
            ),
            (18, 10, "tcp address: template does not parse: syntax error"),
        ],
    },
    // --- everything at once ---------------------------------------------------------------
    Case {
        name: "several_errors_all_reported",
        yaml: r#"
            name: LB 502
            title: 502 Bad Gateway
            secrets: [ADMIN_TOKEN]
            defaults: {timeout: 5}
            steps:
              - id: sample_lb
                title: Sample the LB
                http: {url: "{{ vars.lb }}", samples: 0}
                tiemout: 5s
                expect: rate_5xx < 0.02
                on_fail: {goto: escalte}
              - id: sample_lb
                title: Again
                wait: 1s
              - id: escalate
                title: Escalate
                manual: "Token {{ secrets.TOKEN }}"
                when: "steps.sample_lb.rate_5xx >"
              - title: Refresh
                command: "refresh-lb"
            finally: []
            extra: true
        "#,
        expected: &[
            (
                1,
                7,
                "`name` must be lowercase letters, digits and dashes ([a-z0-9-]+), found `LB 502`",
            ),
            (4, 21, "default timeout: `5` has no unit"),
            (8, 26, "http `url`: `vars.lb` is not declared under `vars:`"),
            (8, 43, "`samples` must be between 1 and 1000000, found 0"),
            (
                9,
                5,
                "unknown key `tiemout` in step `sample_lb` (did you mean `timeout`?)",
            ),
            (
                11,
                21,
                "`goto: escalte`: no step has id `escalte` (did you mean `escalate`?)",
            ),
            (
                12,
                9,
                "duplicate step id `sample_lb` (first used on line 6)",
            ),
            (17, 13, "`secrets.TOKEN` is not declared"),
            (18, 11, "`when`: expression does not parse"),
            (19, 5, "step 4 of `steps` is missing required key `id`"),
            (20, 14, "`command` takes `argv: [...]`"),
            (22, 1, "unknown key `extra` in the runbook (known keys:"),
        ],
    },
];

/// Runs `runbook validate` on every case and checks its exit code and diagnostics; reports every
/// case that does not match, not just the first.
#[test]
fn invalid_runbooks_are_rejected_with_located_messages() {
    assert!(CASES.len() >= 40, "only {} cases", CASES.len());
    let mut failures = String::new();
    for case in CASES {
        let file = format!("{}.yaml", case.name);
        let out = Test::new()
            .write(&file, case.yaml)
            .args(["validate", file.as_str()])
            .run();
        let problems = check(&file, case.expected, &out);
        if !problems.is_empty() {
            let _ = write!(
                failures,
                "\n=== {} ===\n{}--- exit code {:?}, stderr ---\n{}",
                case.name,
                problems,
                out.status.code(),
                out.stderr
            );
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

/// The diagnostic headlines of `stderr`: lines starting with `FILE:LINE:COL: `.
fn headlines(file: &str, stderr: &str) -> Vec<(u32, u32, String)> {
    let prefix = format!("{file}:");
    stderr
        .lines()
        .filter_map(|line| {
            let (line_no, rest) = line.strip_prefix(&prefix)?.split_once(':')?;
            let (col, message) = rest.split_once(": ")?;
            Some((
                line_no.parse().ok()?,
                col.parse().ok()?,
                message.to_string(),
            ))
        })
        .collect()
}

/// What is wrong with one invocation's result, or nothing.
fn check(file: &str, expected: &[(u32, u32, &str)], out: &Output) -> String {
    let mut problems = String::new();
    if out.status.code() != Some(2) {
        let _ = writeln!(problems, "exit code {:?}, expected 2", out.status.code());
    }
    if out.stderr.contains("panicked") {
        let _ = writeln!(problems, "the binary panicked");
    }
    let found = headlines(file, &out.stderr);
    let mut unused: Vec<bool> = vec![true; found.len()];
    for &(line, col, part) in expected {
        let hit = found.iter().enumerate().position(|(i, (l, c, message))| {
            unused[i] && *l == line && *c == col && message.contains(part)
        });
        match hit {
            Some(i) => unused[i] = false,
            None => {
                let _ = writeln!(problems, "missing {file}:{line}:{col}: ...{part}...");
            }
        }
    }
    if found.len() != expected.len() {
        let _ = writeln!(
            problems,
            "{} diagnostics, expected {}",
            found.len(),
            expected.len()
        );
    }
    problems
}

#[test]
fn not_utf8_is_located_at_the_first_bad_byte() {
    let test = Test::new();
    std::fs::write(
        test.path("latin1.yaml"),
        b"name: x\ntitle: caf\xe9\nsteps: []\n",
    )
    .unwrap();
    let out = test.args(["validate", "latin1.yaml"]).run();
    let problems = check(
        "latin1.yaml",
        &[(2, 11, "not UTF-8 text (byte 0xe9 at offset 18)")],
        &out,
    );
    assert!(problems.is_empty(), "{problems}\n{}", out.stderr);
}

/// A runbook using every executor, every control key and every top-level key is valid: the
/// invalid cases above fail for their own reason, not because the checker rejects everything.
#[test]
fn a_runbook_using_every_key_is_valid() {
    Test::new()
        .runbook(
            r#"
            name: lb-502
            title: 502 Bad Gateway from the load balancers
            description: Every executor and control key, once.
            vars:
              lb: http://127.0.0.1:9
              prom: http://127.0.0.1:9
              page: http://127.0.0.1:9
              sites: [http://a.example, http://b.example]
              max_5xx_rate: 0.02
            secrets: [ADMIN_TOKEN]
            defaults:
              timeout: 5s
              retry: {attempts: 2, delay: 500ms}
            steps:
              - id: sample_lb
                title: Sample the load balancer
                description: 502s from the LB.
                http:
                  url: "{{ vars.lb }}/health"
                  method: GET
                  headers: {Authorization: "Bearer {{ secrets.ADMIN_TOKEN }}"}
                  samples: 10
                  concurrency: 2
                  timeout: 2s
                  insecure: false
                  follow_redirects: true
                expect:
                  - rate_5xx < vars.max_5xx_rate
                  - p95_ms < 1000
                on_fail: continue
                milestone: detected
              - id: cpu
                title: Backend CPU
                prometheus: {url: "{{ vars.prom }}", query: "avg(cpu)", timeout: 3s}
                when: steps.sample_lb.rate_5xx > 0
                expect: value < 0.5
                on_fail: continue
              - id: cpu_window
                title: Backend CPU over the last 15 minutes
                prometheus:
                  url: "{{ vars.prom }}/api/v1/query"
                  query: "avg(cpu)"
                  range: 15m
                  step: 30s
                  end: "2026-12-01T08:00:00Z"
                  headers: {X-Scope-OrgID: "{{ vars.prom | length }}"}
                  bearer: "{{ secrets.ADMIN_TOKEN }}"
                  timeout: 3s
                expect: values[0].samples | length > 0
                on_fail: continue
              - id: cpu_then
                title: Backend CPU at the start
                prometheus:
                  url: "{{ vars.prom }}"
                  query: "avg(cpu)"
                  time: 1700000000
                  basic_auth: {username: ops, password: "{{ secrets.ADMIN_TOKEN }}"}
                expect: value < 0.5
                on_fail: stop
              - id: provider
                title: Provider status
                statuspage: {url: "{{ vars.page }}", timeout: 3s}
                expect: indicator == "none"
                on_fail: {goto: escalate}
              - id: references
                title: Reference sites
                loop: vars.sites
                parallel: 2
                http: {url: "{{ item }}"}
                expect: status == 200 and item != ""
              - id: regions
                title: Regions
                loop: [eu, us]
                command: {argv: [echo, "{{ item }}"]}
                action: false
              - id: port
                title: LB port open
                tcp: {address: "127.0.0.1:9", timeout: 1s}
                expect: connected and connect_ms < 500
                retry: {attempts: 3, delay: 1s}
              - id: escalate
                title: Escalate to the provider
                manual: Open a ticket with the provider.
                ask:
                  - {name: ticket, prompt: Ticket number}
                  - {name: code, prompt: One-time code, secret: true}
              - id: reprovision
                title: Reprovision front-end nodes
                command:
                  argv: [echo, "{{ steps.escalate.ticket }}"]
                  env: {TICKET: "{{ steps.escalate.ticket }}"}
                  cwd: /tmp
                  timeout: 30s
                action: true
                expect: exit_code == 0
              - id: refresh
                title: Refresh the LaunchPad LB config
                http:
                  url: "{{ vars.lb }}/refresh"
                  method: POST
                  json: {reason: lb-502, ticket: "{{ steps.escalate.ticket }}", force: true}
                action: true
                timeout: 10s
                milestone: mitigated
              - id: settle
                title: Let it settle
                wait: 1m 30s
              - id: verify
                title: Verify recovery
                command: {shell: "echo ok"}
                action: false
                when: "{{ steps.refresh.passed }}"
                expect: ["exit_code == 0", "'ok' in stdout"]
                milestone: resolved
            finally:
              - id: note
                title: Leave a note
                http: {url: "{{ vars.lb }}/note", method: PUT, body: "done: {{ steps.verify.outcome }}"}
                action: false
                on_fail: continue
            "#,
        )
        .args(["validate", RUNBOOK])
        .run()
        .status(0)
        .stdout_has("ok (lb-502, 13 steps + 1 finally)")
        .stderr_lacks("runbook.yaml:");
}

/// Garbage never makes the binary panic: it is an invalid runbook, exit 2, located.
#[test]
fn garbage_never_panics() {
    // Deterministic junk bytes (a linear congruential generator), so a failure reproduces.
    let mut seed: u32 = 0x2020_1116;
    let junk: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 24) as u8
        })
        .collect();
    let laughs = (1..9).fold(
        String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"),
        |mut s, i| {
            let prev = i - 1;
            let _ = writeln!(
                s,
                "a{i}: &a{i} [{}]",
                vec![format!("*a{prev}"); 9].join(", ")
            );
            s
        },
    );
    // A runbook whose one step ends with `tail`.
    let step = |tail: &str| format!("name: x\ntitle: t\nsteps:\n  - id: a\n    title: A\n{tail}\n");
    let nested = |open: &str, close: &str| format!("{}1{}", open.repeat(200), close.repeat(200));
    let inputs: Vec<(&str, Vec<u8>)> = vec![
        ("binary_junk", junk),
        ("nul_bytes", vec![0; 16]),
        ("nested_lists", nested("[", "]").into()),
        ("nested_maps", nested("{a: ", "}").into()),
        (
            "nested_steps",
            format!("name: x\ntitle: t\nsteps: {}", nested("[", "]")).into(),
        ),
        (
            "nested_vars",
            format!("name: x\nvars:\n{}", nested("  - ", "")).into(),
        ),
        ("unclosed_nesting", "[".repeat(10_000).into()),
        (
            "megabyte_line",
            format!("name: {}\n", "x".repeat(1 << 20)).into(),
        ),
        (
            "megabyte_key",
            format!("{}: 1\n", "k".repeat(1 << 20)).into(),
        ),
        ("billion_laughs", laughs.into()),
        ("recursive_alias", b"steps: &s [*s]\n".to_vec()),
        ("complex_key", b"? [a, b]\n: c\n".to_vec()),
        ("only_colon", b":\n".to_vec()),
        ("tab_indent", b"name: x\n\ttitle: t\n".to_vec()),
        ("control_chars", b"name: \x1b[31mred\x07\n".to_vec()),
        (
            "float_overflow",
            step("    wait: 1s\n    parallel: -1e400").into(),
        ),
        (
            "huge_integers",
            step(concat!(
                "    http: {url: u, samples: 99999999999999999999999}\n",
                "    retry: {attempts: -9223372036854775808}"
            ))
            .into(),
        ),
        (
            "huge_duration",
            step("    wait: 99999999999999999999999999h").into(),
        ),
        (
            "deep_expression",
            step(&format!("    wait: 1s\n    when: \"{}\"", nested("(", ")"))).into(),
        ),
        (
            "deep_template",
            step(&format!(
                "    tcp: \"{{{{ {}{} }}}}\"",
                "[".repeat(5000),
                "]".repeat(5000)
            ))
            .into(),
        ),
    ];
    let mut failures = String::new();
    for (name, bytes) in inputs {
        let file = format!("{name}.yaml");
        let test = Test::new();
        std::fs::write(test.path(&file), &bytes).unwrap();
        let out = test.args(["validate", file.as_str()]).run();
        let located = !headlines(&file, &out.stderr).is_empty();
        if out.status.code() != Some(2) || out.stderr.contains("panicked") || !located {
            let _ = write!(
                failures,
                "\n=== {name} === exit code {:?}, located: {located}\n{}",
                out.status.code(),
                out.stderr.chars().take(2000).collect::<String>()
            );
        }
    }
    assert!(failures.is_empty(), "{failures}");
}
