use std::collections::BTreeSet;

use serde_json::json;

use super::*;
use crate::runbook::parse;
use crate::sim::scenario;

fn definition<'a>(schema: &'a Value, name: &str) -> &'a Value {
    let found = &schema["definitions"][name];
    assert!(found.is_object(), "no definition {name}");
    found
}

fn properties(schema: &Value) -> BTreeSet<String> {
    schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("no properties in {schema:#}"))
        .keys()
        .cloned()
        .collect()
}

fn set<'a>(keys: impl IntoIterator<Item = &'a &'a str>) -> BTreeSet<String> {
    keys.into_iter().map(|k| k.to_string()).collect()
}

/// The names a `oneOf` of externally tagged variants accepts: a string's `const`, or the
/// single key of an object.
fn variant_names(schema: &Value) -> BTreeSet<String> {
    schema["oneOf"]
        .as_array()
        .expect("oneOf")
        .iter()
        .flat_map(|v| match v["const"].as_str() {
            Some(name) => BTreeSet::from([name.to_string()]),
            None => properties(v),
        })
        .collect()
}

#[test]
fn the_schemas_are_draft07_schemas() {
    for schema in [runbook(), scenario()] {
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
        if let Err(e) = jsonschema::meta::validate(&schema) {
            panic!("not a valid schema: {e}");
        }
    }
}

#[test]
fn runbook_keys_are_the_parsers() {
    let schema = runbook();
    assert_eq!(properties(&schema), set(parse::TOP_KEYS));
    let step = definition(&schema, "Step");
    assert_eq!(
        properties(step),
        set(parse::CONTROL_KEYS.iter().chain(parse::EXECUTORS))
    );
    let one_of: BTreeSet<String> = step["oneOf"]
        .as_array()
        .expect("a step's executors are a oneOf")
        .iter()
        .map(|v| {
            v["required"][0]
                .as_str()
                .expect("one required key")
                .to_string()
        })
        .collect();
    assert_eq!(one_of, set(parse::EXECUTORS));
    for (name, keys) in [
        ("Defaults", parse::DEFAULTS_KEYS),
        ("Retry", parse::RETRY_KEYS),
        ("Http", parse::HTTP_KEYS),
        ("Prometheus", parse::PROMETHEUS_KEYS),
        ("BasicAuth", parse::BASIC_AUTH_KEYS),
        ("Statuspage", parse::STATUSPAGE_KEYS),
        ("Tcp", parse::TCP_KEYS),
        ("Command", parse::COMMAND_KEYS),
        ("Manual", parse::MANUAL_KEYS),
        ("AskField", parse::ASK_KEYS),
    ] {
        assert_eq!(properties(definition(&schema, name)), set(keys), "{name}");
    }
    let goto = &definition(&schema, "OnFail")["oneOf"];
    let object = goto
        .as_array()
        .and_then(|a| a.iter().find(|v| v["type"] == "object"))
        .expect("on_fail has a mapping form");
    assert_eq!(properties(object), set(parse::ON_FAIL_KEYS));
}

#[test]
fn every_mapping_of_a_runbook_is_closed() {
    let schema = runbook();
    assert_eq!(schema["additionalProperties"], false);
    for (name, def) in schema["definitions"].as_object().unwrap() {
        if def.get("properties").is_some() {
            assert_eq!(def["additionalProperties"], false, "{name}");
        }
    }
}

#[test]
fn scenario_keys_are_the_parsers() {
    let schema = scenario();
    assert_eq!(properties(&schema), set(scenario::TOP_KEYS));
    assert_eq!(
        variant_names(definition(&schema, "Fault")),
        set(crate::sim::fault::FAULTS)
    );
    assert_eq!(
        variant_names(definition(&schema, "Criterion")),
        set(scenario::CRITERIA)
    );
}

/// Each pattern accepts exactly what the parser's own check accepts, on the edge cases.
#[test]
fn patterns_agree_with_the_parser() {
    let runbook = runbook();
    let check = |name: &str, samples: &[&str], parser: &dyn Fn(&str) -> bool| {
        let validator = jsonschema::draft7::new(definition(&runbook, name)).unwrap();
        for sample in samples {
            assert_eq!(
                validator.is_valid(&json!(sample)),
                parser(sample),
                "{name} {sample:?}"
            );
        }
    };
    check(
        "Duration",
        &[
            "500ms",
            "2s",
            "1.5s",
            "5m",
            "1h",
            "1m 30s",
            "1m30s",
            " 2s ",
            "5 s",
            "1.s",
            ".5s",
            "3secs",
            "2 mins",
            "1hr",
            "0s",
            "",
            "5",
            "s",
            "5 parsecs",
            "1.2.3s",
            "-1s",
            "ms5",
            ".s",
            "1m 30",
            "5msec",
            "2S",
        ],
        &|s| crate::duration::parse(s).is_ok(),
    );
    check(
        "Name",
        &[
            "lb-502", "a", "9-lives", "", "Lb", "lb_502", "lb 502", "lb-502\n",
        ],
        &parse::is_valid_name,
    );
    check(
        "Id",
        &["sample_lb", "a1", "", "1a", "_a", "Sample", "a-b", "a b"],
        &parse::is_valid_step_id,
    );
    check(
        "EnvName",
        &["ADMIN_TOKEN", "_x", "a1", "", "1A", "A-B", "A B"],
        &parse::is_env_name,
    );
}
