//! `runbook validate` and `runbook list` over everything a runbooks folder holds: YAML mistakes
//! at the character that caused them, scenarios (named or recognized), one error per bad value,
//! the width of each offending token, and folders with vars files and scenarios in them.

use serde_json::Value as Json;

use crate::support::Test;

/// Writes `text` byte for byte (tabs included: `Test::write` unindents).
fn raw(test: Test, path: &str, text: &str) -> Test {
    std::fs::write(test.path(path), text).unwrap();
    test
}

/// `runbook validate --format json FILES...`: the document, after checking the exit code.
fn json_of(test: Test, args: &[&str], status: i32) -> Json {
    let out = test
        .args(["validate", "--format", "json"])
        .args(args.iter().copied())
        .run()
        .status(status);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

/// Each file's diagnostics as `(line, column, width, message)`.
fn diagnostics(document: &Json, file: &str) -> Vec<(u64, u64, u64, String)> {
    let files = document["files"].as_array().unwrap();
    let entry = files
        .iter()
        .find(|f| f["file"] == file)
        .unwrap_or_else(|| panic!("no {file} in {document:#}"));
    entry["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["line"].as_u64().unwrap(),
                d["column"].as_u64().unwrap(),
                d["width"].as_u64().unwrap(),
                d["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------- YAML syntax errors

/// A file, its text, where its error is (line, column, width) and how its message starts.
type Case = (&'static str, &'static str, (u64, u64, u64), &'static str);

/// Every kind of YAML mistake, with where a YAML user looks for it: the offending character.
const YAML_CASES: &[Case] = &[
    (
        "tab_in_indentation.yaml",
        "name: x\ntitle: y\nsteps:\n  - id: a\n\ttitle: b\n    manual: {instructions: x}\n",
        (5, 1, 1),
        "YAML syntax error: a tab in indentation: YAML indents with spaces only (replace the tab with spaces)",
    ),
    (
        "tab_after_spaces.yaml",
        "name: x\ntitle: y\nsteps:\n  - id: a\n  \ttitle: b\n",
        (5, 3, 1),
        "YAML syntax error: a tab in indentation",
    ),
    (
        "tab_before_nested_key.yaml",
        "name: x\ntitle: y\nsteps:\n  - id: a\n    title: b\n    manual:\n\t  instructions: x\n",
        (7, 1, 1),
        "YAML syntax error: a tab in indentation",
    ),
    (
        "tab_first_line.yaml",
        "\tname: x\ntitle: y\n",
        (1, 1, 1),
        "YAML syntax error: a tab in indentation",
    ),
    (
        "unclosed_quote.yaml",
        "name: x\ntitle: y\nsteps:\n  - id: a\n    title: \"b\n    manual: x\n",
        (5, 12, 1),
        "YAML syntax error: unclosed quote",
    ),
    (
        "indented_too_far.yaml",
        "name: x\ntitle: y\nsteps:\n  - id: a\n     title: b\n",
        (5, 6, 5),
        "YAML syntax error: bad indentation: `title` is at column 6 but the key above it is at column 5",
    ),
    (
        "indented_too_little.yaml",
        "name: x\ntitle: y\nsteps:\n  - id: a\n    title: b\n   manual: c\n",
        (6, 4, 1),
        "YAML syntax error: bad indentation: this line starts at column 4",
    ),
    (
        "duplicate_key.yaml",
        "name: x\ntitle: y\nsteps:\n  - id: a\n    title: b\n    title: c\n",
        (6, 5, 5),
        "YAML syntax error: duplicate key `title`",
    ),
    (
        "unclosed_flow_at_end.yaml",
        "name: x\ntitle: y\nsteps: [a, b\n",
        (3, 8, 1),
        "YAML syntax error: unclosed bracket '['",
    ),
    (
        "unclosed_flow_then_keys.yaml",
        "name: x\ntitle: y\nsteps:\n  - id: a\n    expect: [a, b\n    title: c\n",
        (5, 13, 1),
        "YAML syntax error: unclosed bracket '['",
    ),
    (
        "wrong_closing_bracket.yaml",
        "name: x\ntitle: y\nsteps: [a, b}\n",
        (3, 13, 1),
        "YAML syntax error: `}` closes the `[` opened at 3:8",
    ),
    (
        "bad_escape.yaml",
        "name: x\ntitle: \"C:\\qa\"\nsteps: []\n",
        (2, 11, 2),
        "YAML syntax error: unknown escape `\\q` in a double-quoted string",
    ),
    (
        "no_space_after_colon.yaml",
        "name: x\ntitle: y\nsteps:\n  - id: a\n    title:b\n",
        (5, 10, 1),
        "YAML syntax error: `:` after the key `title` must be followed by a space",
    ),
];

#[test]
fn yaml_errors_are_reported_at_the_offending_character() {
    let with_cases = || {
        YAML_CASES
            .iter()
            .fold(Test::new(), |test, (file, text, _, _)| {
                raw(test, file, text)
            })
    };
    let files: Vec<&str> = YAML_CASES.iter().map(|c| c.0).collect();
    let out = with_cases()
        .args(["validate"])
        .args(files.iter().copied())
        .run()
        .status(2);
    let document = json_of(with_cases(), &files, 2);
    for (file, _, (line, col, width), message) in YAML_CASES {
        // People read `FILE:LINE:COL: message`, with a caret under the character.
        let headline = format!("{file}:{line}:{col}: {message}");
        assert!(
            out.stderr.lines().any(|l| l.starts_with(&headline)),
            "no line starting {headline:?} in:\n{}",
            out.stderr
        );
        // Editors read the same place, and how much to underline.
        let found = diagnostics(&document, file);
        assert_eq!(found.len(), 1, "{file}: {found:?}");
        assert_eq!(
            (found[0].0, found[0].1, found[0].2),
            (*line, *col, *width),
            "{file}: {found:?}"
        );
        assert!(found[0].3.starts_with(message), "{file}: {found:?}");
    }
    // The caret of the tab case sits under the tab itself, on line 5.
    assert!(
        out.stderr.contains("5 | \ttitle: b\n  | ^\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_tab_after_a_key_is_accepted() {
    // YAML allows a tab as the space between `key:` and its value, or after `- `.
    let test = raw(
        Test::new(),
        "tabs.yaml",
        "name:\tx\ntitle: y\nsteps:\n  -\tid: a\n    title:\tb\n    manual:\t{instructions: x}\n",
    );
    test.args(["validate", "tabs.yaml"])
        .run()
        .status(0)
        .stdout_has("tabs.yaml: ok (x, 1 step)");
}

// ---------------------------------------------------------------- scenarios

const SCENARIO: &str = "name: my-outage\ntitle: API nodes out of CPU\nload_balancers:\n  api: {group: api}\nnode_groups:\n  api: {nodes: 4, cpu: 0.25}\nfaults:\n  - stale_config: {lb: api, error_rate: 0.3}\nsuccess:\n  - lb_5xx_below: {lb: all, rate: 0.01}\n  - refreshed: api\n";

#[test]
fn scenarios_are_validated_with_the_scenario_flag() {
    let test = raw(Test::new(), "outage.yaml", SCENARIO);
    let bad = SCENARIO.replace("rate: 0.01", "rate: 1.5");
    let test = raw(test, "bad.yaml", &bad);
    let out = test
        .args(["validate", "--scenario", "outage.yaml", "bad.yaml"])
        .run()
        .status(2)
        .stdout_has("outage.yaml: ok (scenario my-outage, 1 fault, 2 success criteria)")
        .stderr_has("bad.yaml:10:35: `rate` must be from 0 to 1, found 1.5\n")
        .stderr_has("error: bad.yaml: 1 problem");
    // Named as scenarios, they are not guessed at.
    assert!(!out.stderr.contains("note:"), "{}", out.stderr);
}

#[test]
fn a_scenario_is_recognized_from_its_keys_with_a_note() {
    let test = raw(Test::new(), "outage.yaml", SCENARIO);
    test.args(["validate", "outage.yaml"])
        .run()
        .status(0)
        .stdout_has("outage.yaml: ok (scenario my-outage, 1 fault, 2 success criteria)")
        .stderr_has("note: outage.yaml looks like a scenario (load_balancers, success); validated as one — pass --scenario to say so\n");

    // The JSON document says what each file was checked as.
    let test = raw(Test::new(), "outage.yaml", SCENARIO);
    let test = raw(
        test,
        "runbook.yaml",
        "name: x\ntitle: y\nsteps:\n  - {id: a, title: A, wait: 1ms}\n",
    );
    let document = json_of(test, &["outage.yaml", "runbook.yaml"], 0);
    let files = document["files"].as_array().unwrap();
    assert_eq!(files[0]["kind"], "scenario", "{document:#}");
    assert_eq!(
        files[0]["note"],
        "outage.yaml looks like a scenario (load_balancers, success); validated as one — pass --scenario to say so"
    );
    assert_eq!(files[1]["kind"], "runbook", "{document:#}");
    assert!(files[1].get("note").is_none(), "{document:#}");
}

// ---------------------------------------------------------------- one bad value, one error

#[test]
fn one_bad_value_gives_one_error() {
    let cases: &[(&str, String, (u64, u64), &str)] = &[
        // The node group is left out of the scenario; the load balancer, fault and criteria
        // naming it are not errors too.
        (
            "bad_count.yaml",
            SCENARIO.replace("nodes: 4", "nodes: four"),
            (6, 16),
            "`nodes` must be a whole number, found a string",
        ),
        (
            "bad_fraction.yaml",
            SCENARIO.replace("cpu: 0.25", "cpu: 2"),
            (6, 24),
            "`cpu` must be from 0 to 1, found 2",
        ),
        // A load balancer naming a missing group is one error; everything naming the load
        // balancer is not another.
        (
            "bad_reference.yaml",
            SCENARIO.replace("{group: api}", "{group: apii}"),
            (4, 16),
            "no node group named `apii` (did you mean `api`?)",
        ),
        (
            "bad_section.yaml",
            SCENARIO.replace(
                "node_groups:\n  api: {nodes: 4, cpu: 0.25}\n",
                "node_groups: [api]\n",
            ),
            (5, 14),
            "`node_groups` must be a mapping of names, found a list",
        ),
        (
            "bad_duration.yaml",
            format!("{SCENARIO}delays: {{refresh: soon}}\n"),
            (12, 19),
            "delay `refresh`: `soon` is not a duration",
        ),
        (
            "unknown_fault.yaml",
            SCENARIO.replace("stale_config:", "stale_confg:"),
            (8, 5),
            "unknown key `stale_confg` in a fault (did you mean `stale_config`?)",
        ),
    ];
    let mut test = Test::new();
    let mut files = Vec::new();
    for (file, text, _, _) in cases {
        test = raw(test, file, text);
        files.push(*file);
    }
    let mut args = vec!["--scenario"];
    args.extend(&files);
    let document = json_of(test, &args, 2);
    for (file, _, (line, col), message) in cases {
        let found = diagnostics(&document, file);
        assert_eq!(found.len(), 1, "{file}: exactly one error, got {found:#?}");
        assert_eq!((found[0].0, found[0].1), (*line, *col), "{file}: {found:?}");
        assert!(found[0].3.starts_with(message), "{file}: {found:?}");
    }

    // A misspelt executor is the unknown key, not also a step without an executor.
    let test = raw(
        Test::new(),
        "runbook.yaml",
        "name: x\ntitle: y\nsteps:\n  - id: a\n    title: A\n    htp: {url: 'http://x'}\n  - id: b\n    title: B\n    when: steps.a.status == 200\n    wait: 1ms\n",
    );
    let document = json_of(test, &["runbook.yaml"], 2);
    assert_eq!(
        diagnostics(&document, "runbook.yaml"),
        [(
            6,
            5,
            3,
            "unknown key `htp` in step `a` (did you mean `http`?)".to_string()
        )]
    );
}

// ---------------------------------------------------------------- widths

#[test]
fn json_width_is_the_offending_tokens_width() {
    let test = raw(
        Test::new(),
        "runbook.yaml",
        concat!(
            "name: x\n",
            "title: y\n",
            "steps:\n",
            "  - id: a\n",
            "    title: A\n",
            "    tiemout: 5s\n",        // a key: 7
            "    wait: \"soon-ish\"\n", // a quoted value: 10
            "  - id: b\n",
            "    title: {text: B}\n",           // a flow mapping: 9
            "    on_fail: contineu # a typo\n", // a plain value: 7
            "    http: {url: 'http://x', samples: many}\n", // a value in a flow: 4
            "    expect: rate_5xx | roundd < 0.02\n", // an expression's name: 6
        ),
    );
    let document = json_of(test, &["runbook.yaml"], 2);
    let found = diagnostics(&document, "runbook.yaml");
    let width_at = |line: u64| {
        found
            .iter()
            .find(|d| d.0 == line)
            .unwrap_or_else(|| panic!("no diagnostic on line {line}: {found:#?}"))
            .2
    };
    assert_eq!(width_at(6), 7, "{found:#?}");
    assert_eq!(width_at(7), 10, "{found:#?}");
    assert_eq!(width_at(9), 9, "{found:#?}");
    assert_eq!(width_at(10), 8, "{found:#?}");
    assert_eq!(width_at(11), 4, "{found:#?}");
    assert_eq!(width_at(12), 6, "{found:#?}");

    // Scenarios too.
    let test = raw(
        Test::new(),
        "s.yaml",
        &SCENARIO.replace("nodes: 4", "nodes: \"4 big\""),
    );
    let document = json_of(test, &["--scenario", "s.yaml"], 2);
    assert_eq!(
        diagnostics(&document, "s.yaml"),
        [(
            6,
            16,
            7,
            "`nodes` must be a whole number, found a string".to_string()
        )]
    );
}

// ---------------------------------------------------------------- list

#[test]
fn list_shows_scenarios_and_skips_other_yaml_files() {
    let test = Test::new()
        .write(
            "runbooks/lb-502.yaml",
            "name: lb-502\ntitle: 502s from the load balancers\nsteps:\n  - {id: a, title: A, wait: 1ms}\n",
        )
        .write(
            "runbooks/nginx-502.staging.yaml",
            "lb: http://127.0.0.1:8080\nmax_5xx_rate: 0.02\n",
        )
        .write("runbooks/answers.yml", "- not a mapping\n");
    let test = raw(test, "runbooks/outage.yaml", SCENARIO);
    let out = test.args(["list", "runbooks"]).run().status(0);
    assert_eq!(
        out.stdout,
        concat!(
            "NAME    STEPS  TITLE                         FILE\n",
            "lb-502      1  502s from the load balancers  runbooks/lb-502.yaml\n",
            "\n",
            "skipped   runbooks/answers.yml  (not a runbook: a list, not a mapping)\n",
            "skipped   runbooks/nginx-502.staging.yaml  (not a runbook: no steps)\n",
            "scenario  runbooks/outage.yaml  (my-outage: API nodes out of CPU)\n",
        ),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr, "");
}

#[test]
fn list_still_fails_on_an_invalid_runbook_and_shows_its_first_error() {
    let test = Test::new()
        .write(
            "runbooks/good.yaml",
            "name: good\ntitle: Good\nsteps:\n  - {id: a, title: A, wait: 1ms}\n",
        )
        .write(
            "runbooks/broken.yaml",
            "name: broken\ntitle: Broken\nsteps:\n  - id: a\n    title: A\n    wiat: 1s\n",
        )
        .write("runbooks/vars.yaml", "lb: http://x\n");
    test.args(["list", "runbooks"])
        .run()
        .status(2)
        .stdout_line(&["good", "1", "Good", "runbooks/good.yaml"])
        .stdout_has("skipped   runbooks/vars.yaml  (not a runbook: no steps)")
        .stderr_has(
            "error: runbooks/broken.yaml is not a valid runbook (1 problem; run `runbook validate runbooks/broken.yaml`)\n  runbooks/broken.yaml:6:5: unknown key `wiat` in step `a` (did you mean `wait`?)\n",
        );
}

// ---------------------------------------------------------------- sim --help

#[test]
fn sim_help_shows_one_default_for_listen() {
    let out = Test::new().args(["sim", "--help"]).run().status(0);
    // The option's entry runs from `--listen` to the next option.
    let start = out.stdout.find("--listen").expect("--listen in help");
    let rest = &out.stdout[start..];
    let end = rest[2..].find("\n  ").map_or(rest.len(), |i| i + 2);
    let entry = &rest[..end];
    assert_eq!(entry.matches("[default:").count(), 1, "{entry}");
    assert!(
        entry.contains("[default: 127.0.0.1 on an ephemeral port]"),
        "{entry}"
    );
}
