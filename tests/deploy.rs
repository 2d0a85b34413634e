//! The container image and the Kubernetes manifests (issue 15, "Running beyond one machine"):
//! every manifest in deploy/kubernetes is valid against the Kubernetes API schemas (PyPI
//! `kubernetes-validate`, which bundles them, in strict mode so a misspelt field fails), and
//! the files agree with each other, with the Dockerfile and with the real binary: the
//! arguments the pods run are accepted by its parser, the runbooks the routes name are mounted
//! and valid, the uid the image runs as is the one the pods require.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;

use crate::support::*;

/// Where the manifests are, from the repository's root.
const MANIFESTS: &str = "deploy/kubernetes";
/// The oldest Kubernetes the manifests claim to work on, and the newest the validator bundles.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];
/// What `runbook serve` listens on inside a pod: its default, 127.0.0.1, is unreachable from
/// the Service.
const LISTEN: &str = "0.0.0.0:9095";

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// Every Kubernetes object file (not the kustomization), by file name.
fn manifest_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(repo(MANIFESTS))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml") && name != "kustomization.yaml")
        .collect();
    files.sort();
    files
}

fn yaml(text: &str, what: &str) -> Json {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{what} is not YAML: {e}"))
}

fn manifest(file: &str) -> Json {
    yaml(&read(&format!("{MANIFESTS}/{file}")), file)
}

fn strings(value: &Json) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("not a string: {v}"))
                .into()
        })
        .collect()
}

/// The one container of a pod spec.
fn container(pod: &Json) -> &Json {
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1, "one container: {pod}");
    &containers[0]
}

/// The value after `flag` in `args`.
fn flag<'a>(args: &'a [String], flag: &str) -> &'a str {
    let at = args
        .iter()
        .position(|a| a == flag)
        .unwrap_or_else(|| panic!("{flag} missing from {args:?}"));
    args.get(at + 1)
        .unwrap_or_else(|| panic!("{flag} has no value in {args:?}"))
}

/// The volume of `pod` mounted at the directory holding `path` (the longest mount path that is
/// a prefix), and `path` relative to that mount.
fn volume_at<'a>(pod: &'a Json, path: &str) -> (&'a Json, String) {
    let mounts = container(pod)["volumeMounts"].as_array().unwrap();
    let mount = mounts
        .iter()
        .filter(|m| {
            let dir = m["mountPath"].as_str().unwrap();
            path == dir || path.starts_with(&format!("{dir}/"))
        })
        .max_by_key(|m| m["mountPath"].as_str().unwrap().len())
        .unwrap_or_else(|| panic!("no volume is mounted at {path}: {mounts:?}"));
    let name = &mount["name"];
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| &v["name"] == name)
        .unwrap_or_else(|| panic!("the mount {name} has no volume"));
    let rel = path[mount["mountPath"].as_str().unwrap().len()..]
        .trim_start_matches('/')
        .to_string();
    (volume, rel)
}

/// The ConfigMap key a configMap volume shows at `rel` (through `items`).
fn config_key(volume: &Json, rel: &str) -> String {
    volume["configMap"]["items"]
        .as_array()
        .unwrap_or_else(|| panic!("the configMap volume lists no items: {volume}"))
        .iter()
        .find(|item| item["path"] == rel)
        .unwrap_or_else(|| panic!("{volume} shows nothing at {rel}"))["key"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Asserts that the binary's argument parser accepts `args` as a pod runs them: with `--help`
/// appended, clap reads every argument before it prints the subcommand's help, so an unknown
/// flag or a missing value fails.
fn parser_accepts(args: &[String], help_starts: &str) {
    let mut with_help = args.to_vec();
    with_help.push("--help".into());
    Test::new()
        .args(with_help)
        .run()
        .status(0)
        .stdout_has(help_starts);
}

#[test]
fn every_manifest_is_valid_against_the_kubernetes_schemas() {
    let validate = venv_program("kubernetes-validate");
    let files = manifest_files();
    for wanted in [
        "configmap.yaml",
        "cronjob.yaml",
        "deployment.yaml",
        "secret.example.yaml",
        "service.yaml",
        "timelines-pvc.yaml",
    ] {
        assert!(
            files.iter().any(|f| f == wanted),
            "{wanted} missing: {files:?}"
        );
    }
    for version in KUBERNETES_VERSIONS {
        let output = Command::new(&validate)
            .args(["--strict", "--kubernetes-version", version])
            .args(&files)
            .current_dir(repo(MANIFESTS))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "kubernetes-validate {version} failed:\n{stdout}{stderr}"
        );
        let minor = version.rsplit_once('.').unwrap().0;
        for file in &files {
            let object = manifest(file);
            let kind = object["kind"].as_str().unwrap().to_lowercase();
            let name = object["metadata"]["name"].as_str().unwrap();
            let line =
                format!("INFO {file} passed for resource {kind}/{name} against version {minor}");
            assert!(
                stdout.lines().any(|l| l == line),
                "no {line:?} in\n{stdout}"
            );
        }
    }
}

/// The validator in strict mode catches what a reviewer misses: a misspelt field.
#[test]
fn the_validator_rejects_a_misspelt_field() {
    let validate = venv_program("kubernetes-validate");
    let dir = tempfile::tempdir().unwrap();
    let deployment = read(&format!("{MANIFESTS}/deployment.yaml"));
    assert!(deployment.contains("\n  replicas: 1\n"));
    let typo = dir.path().join("deployment.yaml");
    std::fs::write(
        &typo,
        deployment.replace("\n  replicas: 1\n", "\n  replica: 1\n"),
    )
    .unwrap();
    let output = Command::new(&validate)
        .args(["--strict", "--kubernetes-version", KUBERNETES_VERSIONS[0]])
        .arg(&typo)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(
        stdout.contains("did not validate for resource deployment/runbook-serve")
            && stdout.contains("'replica' was unexpected"),
        "{stdout}"
    );
}

#[test]
fn kustomization_applies_every_manifest_but_the_secret_example() {
    let kustomization = manifest("kustomization.yaml");
    let mut resources = strings(&kustomization["resources"]);
    resources.sort();
    let expected: Vec<String> = manifest_files()
        .into_iter()
        .filter(|f| f != "secret.example.yaml")
        .collect();
    assert_eq!(resources, expected);
    // `kustomize edit set image runbook=...` reaches every container.
    let image = kustomization["images"][0]["name"].as_str().unwrap();
    for (file, pod) in [
        ("deployment.yaml", pod_of_deployment()),
        ("cronjob.yaml", pod_of_cronjob()),
    ] {
        let used = container(&pod)["image"].as_str().unwrap();
        assert_eq!(used.split(':').next(), Some(image), "{file}: {used}");
    }
}

fn pod_of_deployment() -> Json {
    manifest("deployment.yaml")["spec"]["template"]["spec"].clone()
}

fn pod_of_cronjob() -> Json {
    manifest("cronjob.yaml")["spec"]["jobTemplate"]["spec"]["template"]["spec"].clone()
}

/// The pod-level and container-level restrictions every pod runs with.
fn assert_locked_down(pod: &Json, what: &str) {
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{what}");
    assert_eq!(
        pod["securityContext"]["runAsUser"].as_u64(),
        Some(dockerfile_uid()),
        "{what}: the Dockerfile's USER"
    );
    assert_eq!(pod["automountServiceAccountToken"], false, "{what}");
    let security = &container(pod)["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true, "{what}");
    assert_eq!(security["allowPrivilegeEscalation"], false, "{what}");
    assert_eq!(
        strings(&security["capabilities"]["drop"]),
        ["ALL"],
        "{what}"
    );
    let resources = &container(pod)["resources"];
    for bound in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(
                resources[bound][resource].is_string(),
                "{what}: no {bound}.{resource} in {resources}"
            );
        }
    }
}

#[test]
fn the_deployment_serves_alertmanager_on_all_interfaces_with_the_token_from_a_secret() {
    let deployment = manifest("deployment.yaml");
    // One process owns deduplication, rate limits and the ReadWriteOnce volume.
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate");
    let pod = pod_of_deployment();
    assert_locked_down(&pod, "deployment.yaml");
    let serve = container(&pod);
    let args = strings(&serve["args"]);
    assert_eq!(args[0], "serve", "{args:?}");
    assert_eq!(flag(&args, "--listen"), LISTEN);
    parser_accepts(
        &args,
        "Start runs from Alertmanager's webhook; actions wait for approvals",
    );

    // The routes file comes from the ConfigMap, the timelines go to the claim.
    let (routes_volume, routes_rel) = volume_at(&pod, flag(&args, "--routes"));
    assert_eq!(routes_volume["configMap"]["name"], "runbook-config");
    assert_eq!(config_key(routes_volume, &routes_rel), "routes.yaml");
    let (timelines, _) = volume_at(&pod, flag(&args, "--timeline-dir"));
    let claim = manifest("timelines-pvc.yaml");
    assert_eq!(
        timelines["persistentVolumeClaim"]["claimName"],
        claim["metadata"]["name"]
    );
    assert_eq!(strings(&claim["spec"]["accessModes"]), ["ReadWriteOnce"]);

    // The token: from the Secret whose example documents the key.
    let secret = manifest("secret.example.yaml");
    let env = serve["env"].as_array().unwrap();
    let token = env
        .iter()
        .find(|e| e["name"] == "RUNBOOK_SERVE_TOKEN")
        .unwrap_or_else(|| panic!("no RUNBOOK_SERVE_TOKEN in {env:?}"));
    assert!(
        token.get("value").is_none(),
        "a token in plain text: {token}"
    );
    let from = &token["valueFrom"]["secretKeyRef"];
    assert_eq!(from["name"], secret["metadata"]["name"]);
    let key = from["key"].as_str().unwrap();
    let example = secret["stringData"][key].as_str().unwrap();
    assert!(
        example.starts_with("REPLACE-ME") && example.len() >= 16,
        "{example}"
    );

    // Probes on /metrics (no token needed) at the port the Service sends to.
    let port = &serve["ports"][0];
    assert_eq!(port["containerPort"], 9095);
    for probe in ["readinessProbe", "livenessProbe"] {
        assert_eq!(serve[probe]["httpGet"]["path"], "/metrics", "{probe}");
        assert_eq!(serve[probe]["httpGet"]["port"], port["name"], "{probe}");
    }
    let service = manifest("service.yaml");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], port["name"]);
    assert_eq!(service["spec"]["ports"][0]["port"], 9095);
    assert_eq!(
        service["spec"]["selector"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    assert_eq!(
        deployment["spec"]["selector"]["matchLabels"],
        pod_labels(&deployment)
    );
}

fn pod_labels(deployment: &Json) -> Json {
    deployment["spec"]["template"]["metadata"]["labels"].clone()
}

/// The routes file in the ConfigMap names runbooks that the pod mounts, that are valid, and
/// whose secrets the pod has; the runbook is the repository's lb-502.yaml, unchanged.
#[test]
fn the_routes_name_runbooks_the_pod_mounts_and_the_binary_validates() {
    let config = manifest("configmap.yaml");
    let routes = yaml(
        config["data"]["routes.yaml"].as_str().unwrap(),
        "routes.yaml",
    );
    let pod = pod_of_deployment();
    let serve = container(&pod);
    let env: Vec<&str> = serve["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(routes["token_env"], "RUNBOOK_SERVE_TOKEN");
    assert!(env.contains(&"RUNBOOK_SERVE_TOKEN"), "{env:?}");

    let workdir = serve["workingDir"].as_str().unwrap();
    let route_list = routes["routes"].as_array().unwrap();
    assert!(!route_list.is_empty());
    for route in route_list {
        let path = route["runbook"].as_str().unwrap();
        // Relative to the working directory, which is where the routes file is too.
        let full = format!("{workdir}/{path}");
        let (volume, rel) = volume_at(&pod, &full);
        assert_eq!(volume["configMap"]["name"], "runbook-config", "{full}");
        let key = config_key(volume, &rel);
        let text = config["data"][&key]
            .as_str()
            .unwrap_or_else(|| panic!("the ConfigMap has no {key}"));
        let test = Test::new();
        std::fs::write(test.path(&key), text).unwrap();
        let name = yaml(text, &key)["name"].as_str().unwrap().to_string();
        test.args(["validate", key.as_str()])
            .run()
            .status(0)
            .stdout_has(&format!("{key}: ok ({name}, "));
        for secret in yaml(text, &key)["secrets"].as_array().into_iter().flatten() {
            let secret = secret.as_str().unwrap();
            assert!(env.contains(&secret), "{key} needs {secret}: {env:?}");
        }
    }
    assert_eq!(
        config["data"]["lb-502.yaml"].as_str(),
        Some(read("runbooks/lb-502.yaml").as_str()),
        "deploy/kubernetes/configmap.yaml's lb-502.yaml differs from runbooks/lb-502.yaml: copy it"
    );
}

#[test]
fn the_cronjob_drills_every_scenario_nightly_with_flags_the_binary_accepts() {
    let cronjob = manifest("cronjob.yaml");
    assert_eq!(cronjob["spec"]["concurrencyPolicy"], "Forbid");
    let schedule = cronjob["spec"]["schedule"].as_str().unwrap();
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    assert_eq!(fields.len(), 5, "{schedule}");
    assert!(
        fields[..2].iter().all(|f| f.parse::<u32>().is_ok()) && fields[2..] == ["*", "*", "*"],
        "not once a night: {schedule}"
    );
    let pod = pod_of_cronjob();
    assert_eq!(pod["restartPolicy"], "Never");
    assert_locked_down(&pod, "cronjob.yaml");
    let args = strings(&container(&pod)["args"]);
    assert_eq!(args[0], "drill", "{args:?}");
    assert!(args.iter().any(|a| a == "--all"), "{args:?}");

    // The report and the timelines land on the claim, the runbook comes from the ConfigMap.
    for out in [flag(&args, "--junit"), flag(&args, "--timeline-dir")] {
        let (volume, _) = volume_at(&pod, out);
        assert_eq!(
            volume["persistentVolumeClaim"]["claimName"],
            manifest("drills-pvc.yaml")["metadata"]["name"],
            "{out}"
        );
    }
    let runbook = &args[1];
    let (volume, rel) = volume_at(&pod, runbook);
    assert_eq!(config_key(volume, &rel), "lb-502.yaml");

    let help = Test::new().args(["drill", "--help"]).run().status(0);
    for used in args.iter().filter(|a| a.starts_with("--")) {
        assert!(
            help.stdout.contains(&format!("{used} ")),
            "`runbook drill --help` has no {used}:\n{}",
            help.stdout
        );
    }
    parser_accepts(
        &args,
        "Run a runbook against the built-in simulator and judge the scenario's success criteria",
    );
}

/// The Dockerfile's instructions in order, as (instruction, the rest of the line), with
/// continuation lines joined.
fn dockerfile() -> Vec<(String, String)> {
    let text = read("Dockerfile").replace("\\\n", " ");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (op, rest) = l.split_once(' ').unwrap_or((l, ""));
            (op.to_uppercase(), rest.trim().to_string())
        })
        .collect()
}

fn dockerfile_uid() -> u64 {
    let user = dockerfile()
        .into_iter()
        .rfind(|(op, _)| op == "USER")
        .expect("the Dockerfile sets a USER")
        .1;
    // Numeric, so that Kubernetes' runAsNonRoot can check it.
    let uid = user.split(':').next().unwrap();
    uid.parse()
        .unwrap_or_else(|_| panic!("USER {user} is not numeric"))
}

#[test]
fn the_image_builds_with_the_crates_rust_version_and_runs_runbook_as_non_root() {
    let instructions = dockerfile();
    let stages: Vec<&str> = instructions
        .iter()
        .filter(|(op, _)| op == "FROM")
        .map(|(_, rest)| rest.as_str())
        .collect();
    assert_eq!(stages.len(), 2, "multi-stage: {stages:?}");

    // Built with the official Rust image no older than Cargo.toml's rust-version, on the
    // Debian release the slim run stage has.
    let (image, _) = stages[0].split_once(" AS ").unwrap();
    let (tag, debian) = image
        .strip_prefix("rust:")
        .and_then(|t| t.split_once('-'))
        .unwrap_or_else(|| panic!("not the Rust image: {image}"));
    let version = |v: &str| -> Vec<u32> { v.split('.').map(|p| p.parse().unwrap()).collect() };
    let manifest = read("Cargo.toml");
    let wanted = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .expect("Cargo.toml has a rust-version")
        .trim_matches('"');
    assert!(version(tag) >= version(wanted), "{tag} < {wanted}");
    assert_eq!(stages[1], format!("debian:{debian}-slim"));
    assert!(
        instructions
            .iter()
            .any(|(op, rest)| op == "RUN" && rest.contains("cargo build --release --locked")),
        "{instructions:?}"
    );

    // Non-root, `runbook` as the entrypoint; the default command is one the parser accepts.
    assert!(dockerfile_uid() >= 1000, "uid {}", dockerfile_uid());
    let json = |op: &str| -> Vec<String> {
        let (_, rest) = instructions
            .iter()
            .rfind(|(o, _)| o == op)
            .unwrap_or_else(|| panic!("no {op}"));
        strings(&serde_json::from_str(rest).unwrap_or_else(|e| panic!("{op} {rest}: {e}")))
    };
    assert_eq!(json("ENTRYPOINT"), ["runbook"]);
    let cmd = json("CMD");
    Test::new()
        .args(cmd)
        .run()
        .status(0)
        .stdout_has("Usage: runbook <COMMAND>");

    // The context leaves out target/ and .git but keeps what the build reads: the crate's
    // targets (Cargo.toml names tests/lib.rs and benches/probe.rs) and the files compiled in.
    let ignored: Vec<String> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_matches('/').to_string())
        .collect();
    for out in ["target", ".git"] {
        assert!(ignored.iter().any(|i| i == out), "{out} in the context");
    }
    for kept in [
        "Cargo.toml",
        "Cargo.lock",
        "src",
        "runbooks",
        "scenarios",
        "tests",
        "benches",
    ] {
        assert!(
            !ignored.iter().any(|i| i == kept || i == "*"),
            "{kept} is left out of the build context"
        );
    }
}

/// The ConfigMap's routes file, laid out as the pod mounts it, is one the real `runbook serve`
/// starts with: it listens and answers the probes' `/metrics`.
#[test]
fn the_real_serve_starts_with_the_configmaps_routes() {
    let config = manifest("configmap.yaml");
    let routes = config["data"]["routes.yaml"]
        .as_str()
        .expect("routes.yaml in the ConfigMap");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("runbooks")).unwrap();
    std::fs::copy(
        format!("{}/runbooks/lb-502.yaml", env!("CARGO_MANIFEST_DIR")),
        dir.path().join("runbooks/lb-502.yaml"),
    )
    .unwrap();
    let serving = Serving::start(
        dir.path(),
        routes,
        &[("SIM_ADMIN_TOKEN", "an-admin-token-for-the-test")],
    );
    assert!(serving.metrics().contains("runbook_serve_runs"));
    serving.signal("TERM");
    let (status, log) = serving.wait(std::time::Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{log}");
}
