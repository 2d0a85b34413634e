//! Generated artefacts (JSON Schemas, completions, the man page) and `validate --format json`
//! with GitHub Actions annotations.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use serde_json::Value as Json;

use crate::support::*;

// ---------------------------------------------------------------- JSON Schema

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The output of `runbook schema ARGS`.
fn schema_text(args: &[&str]) -> String {
    Test::new()
        .args(["schema"])
        .args(args.iter().copied())
        .run()
        .status(0)
        .stdout
}

fn schema(args: &[&str]) -> Json {
    serde_json::from_str(&schema_text(args)).expect("`runbook schema` prints JSON")
}

fn validator(schema: &Json) -> jsonschema::Validator {
    jsonschema::validator_for(schema).expect("the schema compiles")
}

/// The YAML as JSON, typed as the runbook parser types it (YAML 1.2 core: `yes` is text).
fn yaml_to_json(text: &str) -> Json {
    runbook::yaml::parse(text)
        .unwrap_or_else(|e| panic!("YAML syntax error at {}: {}", e.pos, e.message))
        .to_json()
}

/// Why `text` does not match the schema, or `None` when it does.
fn schema_errors(validator: &jsonschema::Validator, text: &str) -> Option<String> {
    let instance = yaml_to_json(text);
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    (!errors.is_empty()).then(|| errors.join("\n"))
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The committed schemas are what the code generates, as xh checks its generated files.
#[test]
fn committed_schemas_are_current() {
    for (args, file) in [
        (&[][..], "schema/runbook.schema.json"),
        (&["--scenario"][..], "schema/scenario.schema.json"),
    ] {
        let generated = schema_text(args);
        let committed = std::fs::read_to_string(repo(file)).unwrap_or_default();
        let command = ["schema"]
            .iter()
            .chain(args)
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            committed == generated,
            "{file} is not what `runbook {command}` prints: regenerate it with\n\n    \
             cargo run -- {command} > {file}\n"
        );
    }
}

#[test]
fn every_runbook_and_scenario_in_the_repository_matches_its_schema() {
    let runbook_schema = validator(&schema(&[]));
    let scenario_schema = validator(&schema(&["--scenario"]));
    let mut checked = Vec::new();

    // runbooks/vars/ holds example `--vars` files, not runbooks (tests/real/aws.rs and tests/real/proxies.rs check them).
    for file in yaml_files(&repo("runbooks"))
        .into_iter()
        .filter(|f| !f.starts_with(repo("runbooks/vars")))
    {
        let text = std::fs::read_to_string(&file).unwrap();
        if let Err(e) = runbook::runbook::load(&file) {
            panic!("{} is not a valid runbook:\n{}", file.display(), e.render());
        }
        if let Some(errors) = schema_errors(&runbook_schema, &text) {
            panic!(
                "{} does not match the runbook schema:\n{errors}",
                file.display()
            );
        }
        checked.push(file);
    }
    for file in yaml_files(&repo("scenarios")) {
        let text = std::fs::read_to_string(&file).unwrap();
        if let Err(e) = runbook::sim::scenario::from_text(&file.display().to_string(), &text) {
            panic!("{} is not a valid scenario:\n{}", file.display(), e.message);
        }
        if let Some(errors) = schema_errors(&scenario_schema, &text) {
            panic!(
                "{} does not match the scenario schema:\n{errors}",
                file.display()
            );
        }
        checked.push(file);
    }
    // Fixtures are runbooks or scenarios, some invalid on purpose: each one its parser
    // accepts must match that schema.
    for file in yaml_files(&repo("tests/fixtures")) {
        let text = std::fs::read_to_string(&file).unwrap();
        let schema = if runbook::runbook::load(&file).is_ok() {
            &runbook_schema
        } else if runbook::sim::scenario::from_text("fixture", &text).is_ok() {
            &scenario_schema
        } else {
            continue;
        };
        if let Some(errors) = schema_errors(schema, &text) {
            panic!("{} does not match its schema:\n{errors}", file.display());
        }
        checked.push(file);
    }

    let names: Vec<String> = checked.iter().map(|f| f.display().to_string()).collect();
    for expected in [
        "runbooks/lb-502.yaml",
        "scenarios/classlink-2020.yaml",
        "tests/fixtures/reprovision-only.yaml",
        "tests/fixtures/quiet.yaml",
    ] {
        assert!(
            names.iter().any(|n| n.ends_with(expected)),
            "{expected} was not checked: {names:#?}"
        );
    }
}

/// Runbooks the parser rejects for what a schema can see: the schema rejects them too.
#[test]
fn the_runbook_schema_rejects_what_the_parser_rejects() {
    let schema = validator(&schema(&[]));
    let step = |body: &str| {
        format!(
            "name: bad\ntitle: Bad\nsteps:\n  - id: one\n    title: One\n{}",
            body.lines()
                .map(|l| format!("    {l}\n"))
                .collect::<String>()
        )
    };
    let good = step("wait: 1s");
    assert_eq!(schema_errors(&schema, &good), None);
    let cases = [
        ("an unknown top-level key", format!("{good}tiemout: 5s\n")),
        ("an unknown step key", step("wait: 1s\ntiemout: 5s")),
        ("two executors", step("wait: 1s\nhttp: http://127.0.0.1:9/")),
        ("no executor", step("when: true")),
        ("a duration without a unit", step("wait: 5")),
        ("a bad step id", good.replace("id: one", "id: Step-One")),
        ("a bad name", good.replace("name: bad", "name: Bad_Name")),
        ("no steps", "name: bad\ntitle: Bad\nsteps: []\n".to_string()),
        ("an unknown on_fail", step("wait: 1s\non_fail: carry_on")),
        (
            "an unknown http key",
            step("http: {url: http://127.0.0.1:9/, metod: POST}"),
        ),
        (
            "body and json",
            step("http: {url: http://127.0.0.1:9/, body: x, json: {a: 1}}"),
        ),
        (
            "argv and shell",
            step("command: {argv: [\"true\"], shell: \"true\"}"),
        ),
        ("ask without manual", step("wait: 1s\nask: [{name: x}]")),
        ("parallel without loop", step("wait: 1s\nparallel: 2")),
        (
            "zero samples",
            step("http: {url: http://127.0.0.1:9/, samples: 0}"),
        ),
        (
            "a bad env name",
            step("command: {argv: [env], env: {BAD-NAME: x}}"),
        ),
    ];
    for (what, text) in cases {
        assert!(
            runbook::runbook::from_text("bad.yaml", text.clone()).is_err(),
            "the parser accepts {what}:\n{text}"
        );
        assert!(
            schema_errors(&schema, &text).is_some(),
            "the schema accepts {what}:\n{text}"
        );
    }
}

#[test]
fn the_scenario_schema_rejects_what_the_parser_rejects() {
    let schema = validator(&schema(&["--scenario"]));
    let good = unindent(
        "
        name: s
        title: S
        load_balancers: {api: {group: api}}
        node_groups: {api: {nodes: 2}}
        faults:
          - stale_config: {lb: api, error_rate: 0.3}
        success:
          - refreshed: api
          - no_scale
        ",
    );
    assert_eq!(schema_errors(&schema, &good), None);
    let also_good = good
        .replace(
            "stale_config: {lb: api, error_rate: 0.3}",
            "hang: {lb: api, until: refresh}\n  - close: {lb: api, rate: 0.3}\n  - exporter_down: {group: api}",
        )
        .replace("no_scale", "run_outcome: [failed, blocked]");
    assert!(
        runbook::sim::scenario::from_text("s.yaml", &also_good).is_ok(),
        "{also_good}"
    );
    assert_eq!(schema_errors(&schema, &also_good), None);
    let cases = [
        ("an unknown key", good.replace("faults:", "fautls:")),
        (
            "an unknown fault",
            good.replace("stale_config:", "stale_confg:"),
        ),
        (
            "two faults in one item",
            good.replace("error_rate: 0.3}", "error_rate: 0.3}\n    hang: {lb: api}"),
        ),
        (
            "an unknown criterion",
            good.replace("no_scale", "no_scales"),
        ),
        ("a rate above 1", good.replace("0.3", "1.5")),
        (
            "an unknown `until`",
            good.replace(
                "stale_config: {lb: api, error_rate: 0.3}",
                "hang: {lb: api, until: reboot}",
            ),
        ),
        (
            "a null `until`",
            good.replace(
                "stale_config: {lb: api, error_rate: 0.3}",
                "hang: {lb: api, until: null}",
            ),
        ),
        (
            "a close without its rate",
            good.replace(
                "stale_config: {lb: api, error_rate: 0.3}",
                "close: {lb: api, until: refresh}",
            ),
        ),
        (
            "an exporter_down without its group",
            good.replace(
                "stale_config: {lb: api, error_rate: 0.3}",
                "exporter_down: {}",
            ),
        ),
        (
            "an empty run_outcome",
            good.replace("no_scale", "run_outcome: []"),
        ),
        (
            "an unknown run outcome",
            good.replace("no_scale", "run_outcome: [failed, stuck]"),
        ),
        (
            "a run_outcome that is not a list",
            good.replace("no_scale", "run_outcome: failed"),
        ),
        (
            "no success criteria",
            good.replace(
                "success:\n  - refreshed: api\n  - no_scale\n",
                "success: []\n",
            ),
        ),
    ];
    for (what, text) in cases {
        assert!(
            runbook::sim::scenario::from_text("s.yaml", &text).is_err(),
            "the parser accepts {what}:\n{text}"
        );
        assert!(
            schema_errors(&schema, &text).is_some(),
            "the schema accepts {what}:\n{text}"
        );
    }
}

// ---------------------------------------------------------------- completions and man

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = Test::new().args(["completions", shell]).run().status(0);
        let script = &out.stdout;
        assert!(!script.trim().is_empty(), "{shell}: empty");
        assert!(script.contains("drill"), "{shell} lacks drill:\n{script}");
        // fish names long options without their dashes: `-l dry-run`.
        let dry_run = if shell == "fish" {
            "-l dry-run"
        } else {
            "--dry-run"
        };
        assert!(
            script.contains(dry_run),
            "{shell} lacks {dry_run}:\n{script}"
        );
    }
}

#[test]
fn bash_completion_parses() {
    let out = Test::new().args(["completions", "bash"]).run().status(0);
    let file = out.path("runbook.bash");
    std::fs::write(&file, &out.stdout).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .expect("bash runs");
    assert!(
        check.status.success(),
        "bash -n fails: {}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn man_page_documents_every_command() {
    let out = Test::new().args(["man"]).run().status(0);
    let page = &out.stdout;
    assert!(page.contains(".TH runbook 1"), "{page}");
    assert!(page.contains(".SH SYNOPSIS"), "{page}");
    let cli = runbook::cli::Cli::command();
    let commands: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
    assert!(commands.contains(&"drill"), "{commands:?}");
    for command in commands {
        assert!(
            page.contains(&format!(".SS {command}\n")),
            "no section for `{command}`:\n{page}"
        );
    }
    // Options of subcommands are documented too, with roff's escaped dashes.
    assert!(page.contains(r"\fB\-\-dry\-run\fR"), "{page}");
}

// ---------------------------------------------------------------- validate --format json

const VALID: &str = "
    name: ok
    title: Fine
    steps:
      - id: settle
        title: Let it settle
        wait: 1s
    ";

/// Two problems: a typo at 6:5 and a second executor at 8:5.
const INVALID: &str = "
    name: bad
    title: Broken
    steps:
      - id: one
        title: One
        tiemout: 2s
        http: http://127.0.0.1:9/
        wait: 1s
    ";

/// The JSON document at the start of stdout (GitHub annotations may follow it).
fn json_document(stdout: &str) -> Json {
    serde_json::Deserializer::from_str(stdout)
        .into_iter::<Json>()
        .next()
        .expect("stdout starts with a JSON document")
        .expect("the JSON document parses")
}

#[test]
fn validate_json_reports_every_file() {
    let out = Test::new()
        .write("ok.yaml", VALID)
        .write("bad.yaml", INVALID)
        .env_remove("GITHUB_ACTIONS")
        .args([
            "validate",
            "--format",
            "json",
            "ok.yaml",
            "bad.yaml",
            "missing.yaml",
        ])
        .run()
        .status(2);
    assert_eq!(out.stderr, "", "json keeps stderr quiet");
    let doc: Json = serde_json::from_str(&out.stdout).expect("stdout is one JSON document");
    assert_eq!(doc["valid"], false);
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);

    assert_eq!(files[0]["file"], "ok.yaml");
    assert_eq!(files[0]["valid"], true);
    assert_eq!(files[0]["diagnostics"], serde_json::json!([]));

    assert_eq!(files[1]["file"], "bad.yaml");
    assert_eq!(files[1]["valid"], false);
    let diagnostics = files[1]["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 2, "{diagnostics:#?}");
    let typo = &diagnostics[0];
    assert_eq!(typo["file"], "bad.yaml");
    assert_eq!(typo["line"], 6);
    assert_eq!(typo["column"], 5);
    assert_eq!(typo["width"], 7);
    assert_eq!(typo["severity"], "error");
    let message = typo["message"].as_str().unwrap();
    assert!(
        message.contains("unknown key `tiemout`") && message.contains("did you mean `timeout`?"),
        "{message}"
    );
    assert_eq!(diagnostics[1]["line"], 8);
    assert!(
        diagnostics[1]["message"]
            .as_str()
            .unwrap()
            .contains("two executors"),
        "{diagnostics:#?}"
    );

    // A file that cannot be read is a problem at its first line.
    assert_eq!(files[2]["file"], "missing.yaml");
    assert_eq!(files[2]["valid"], false);
    let missing = &files[2]["diagnostics"][0];
    assert_eq!(
        (&missing["file"], &missing["line"], &missing["column"]),
        (&Json::from("missing.yaml"), &Json::from(1), &Json::from(1))
    );
    assert!(
        missing["message"]
            .as_str()
            .unwrap()
            .contains("No such file"),
        "{missing}"
    );
    out.stdout_lacks("::error");
}

#[test]
fn validate_json_of_valid_files_exits_0() {
    let out = Test::new()
        .write("ok.yaml", VALID)
        .env_remove("GITHUB_ACTIONS")
        .args(["validate", "--format", "json", "ok.yaml"])
        .run()
        .status(0);
    let doc: Json = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["valid"], true);
    assert_eq!(doc["files"][0]["valid"], true);
}

#[test]
fn validate_text_is_unchanged_outside_github_actions() {
    Test::new()
        .write("bad.yaml", INVALID)
        .env_remove("GITHUB_ACTIONS")
        .args(["validate", "bad.yaml"])
        .run()
        .status(2)
        .stderr_has("bad.yaml:6:5: unknown key `tiemout`")
        .stderr_has("error: bad.yaml: 2 problems")
        .stdout_lacks("::error");
}

#[test]
fn validate_annotates_failures_under_github_actions() {
    for format in ["text", "json"] {
        let out = Test::new()
            .write("ok.yaml", VALID)
            .write("bad.yaml", INVALID)
            .env("GITHUB_ACTIONS", "true")
            .args(["validate", "--format", format, "ok.yaml", "bad.yaml"])
            .run()
            .status(2)
            .stdout_line(&[
                "::error file=bad.yaml,line=6,col=5::unknown key `tiemout`",
                "did you mean `timeout`?",
            ])
            .stdout_has("::error file=bad.yaml,line=8,col=5::step `one` has two executors")
            .stdout_lacks("file=ok.yaml");
        let annotations = out
            .stdout
            .lines()
            .filter(|l| l.starts_with("::error "))
            .count();
        assert_eq!(annotations, 2, "{format}: {}", out.stdout);
        if format == "json" {
            assert_eq!(json_document(&out.stdout)["valid"], false);
        } else {
            out.stderr_has("bad.yaml:6:5: unknown key `tiemout`");
        }
    }
}

/// GitHub reads `%`, CR and LF in a message, and also `:` and `,` in a property, as syntax.
#[test]
fn annotations_escape_what_github_would_read_as_syntax() {
    let out = Test::new()
        .write(
            "odd,name:1.yaml",
            r#"
            name: odd
            title: Odd
            "100%": x
            "two\nlines": y
            steps:
              - id: settle
                title: Settle
                wait: 1s
            "#,
        )
        .env("GITHUB_ACTIONS", "true")
        .args(["validate", "odd,name:1.yaml"])
        .run()
        .status(2)
        .stdout_has("::error file=odd%2Cname%3A1.yaml,line=3,col=1::unknown key `100%25`")
        .stdout_has("unknown key `two%0Alines`");
    assert!(
        out.stdout.lines().all(|l| l.starts_with("::error ")),
        "one line per annotation:\n{}",
        out.stdout
    );
}

#[test]
fn annotations_name_files_that_cannot_be_read() {
    Test::new()
        .env("GITHUB_ACTIONS", "true")
        .args(["validate", "missing.yaml"])
        .run()
        .status(2)
        .stdout_has("::error file=missing.yaml,line=1,col=1::No such file or directory");
}
