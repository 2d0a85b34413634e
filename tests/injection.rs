//! Issue 12: nothing a probed system sends can steer what the runbook does. Values read from
//! steps are escaped for where they land (a shell command, a URL); `| safe` is the deliberate
//! way out, and `validate` warns of it. And no expression allocates without bound.

use crate::support::{Server, Test};

/// `text` percent-encoded for `/say?...`, which answers with it as the body.
fn say(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[test]
fn a_body_in_a_shell_command_adds_no_command() {
    let server = Server::start();
    let test = Test::new()
        .server(&server)
        .runbook(&format!(
            r#"
            name: injection
            title: A hostile version string
            steps:
              - id: version
                title: Read the version
                http: {{url: "$SERVER/say?{body}"}}
              - id: sub
                title: Read another
                http: {{url: "$SERVER/say?{sub}"}}
              - id: tick
                title: And another
                http: {{url: "$SERVER/say?{tick}"}}
              - id: deploy
                title: Announce the deploy
                action: true
                command: {{shell: "echo deployed {{{{ steps.version.body }}}}"}}
              - id: quoted
                title: In the author's own quotes
                action: true
                command: {{shell: "echo \"1 {{{{ steps.sub.body }}}}\" '2 {{{{ steps.tick.body }}}}'"}}
              - id: json
                title: As JSON
                action: true
                command: {{shell: "echo {{{{ steps.sub.body | tojson }}}} {{{{ steps.version.body | upper }}}}"}}
            "#,
            body = say("x; touch PWNED; echo"),
            sub = say("$(touch PWNED_SUB)"),
            tick = say("`touch PWNED_TICK`'"),
        ));
    let out = test.args(["run", "--yes"]).run().status(0);
    for file in ["PWNED", "PWNED_SUB", "PWNED_TICK"] {
        assert!(
            !out.path(file).exists(),
            "the body ran `touch {file}`\n{}",
            out.timeline_text()
        );
    }
    assert_eq!(
        out.outcome("deploy", "passed")["stdout"],
        "deployed x; touch PWNED; echo\n"
    );
    assert_eq!(
        out.outcome("quoted", "passed")["stdout"],
        "1 $(touch PWNED_SUB) 2 `touch PWNED_TICK`'\n"
    );
    assert_eq!(
        out.outcome("json", "passed")["stdout"],
        "\"$(touch PWNED_SUB)\" X; TOUCH PWNED; ECHO\n"
    );
    // What the timeline says will run is what ran.
    let started = out
        .events("action_confirmed")
        .into_iter()
        .chain(out.events("step_started"))
        .map(|e| e.to_string())
        .collect::<String>();
    assert!(!started.contains("echo deployed x; touch"), "{started}");
}

#[test]
fn loop_items_from_a_step_are_escaped_and_items_from_vars_are_not() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(&format!(
            r#"
            name: items
            title: Items from a system
            vars:
              commands: ["echo from vars | tr a-z A-Z"]
            steps:
              - id: list
                title: Read a list
                http: {{url: "$SERVER/say?{list}"}}
              - id: each
                title: Each item from the system
                action: true
                loop: "{{{{ steps.list.json }}}}"
                command: {{shell: "echo item {{{{ item }}}}"}}
              - id: mine
                title: Each item from vars
                action: true
                loop: "{{{{ vars.commands }}}}"
                command: {{shell: "{{{{ item }}}}"}}
            "#,
            list = say(r#"["a; touch PWNED", "b > PWNED2"]"#),
        ))
        .args(["run", "--yes"])
        .run()
        .status(0);
    assert!(!out.path("PWNED").exists() && !out.path("PWNED2").exists());
    let each = out.outcome("each", "passed");
    let stdout: Vec<&str> = each["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["stdout"].as_str().unwrap())
        .collect();
    assert_eq!(
        stdout,
        ["item a; touch PWNED\n", "item b > PWNED2\n"],
        "{each}"
    );
    let mine = out.outcome("mine", "passed");
    assert_eq!(mine["items"][0]["stdout"], "FROM VARS\n", "{mine}");
}

#[test]
fn a_body_in_an_action_url_cannot_move_the_post() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(&format!(
            r#"
            name: moved
            title: A hostile node name
            steps:
              - id: node
                title: Find the node to drain
                http: {{url: "$SERVER/say?{node}"}}
              - id: drain
                title: Drain it
                action: true
                http:
                  method: POST
                  url: "$SERVER/api/nodes/{{{{ steps.node.body }}}}/drain?reason={{{{ steps.node.body }}}}"
                expect: status == 404
            "#,
            node = say("../../admin/delete-everything?x="),
        ))
        .args(["run", "--yes"])
        .run()
        .status(0);
    out.outcome("drain", "passed");
    let posts: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(
        posts[0].path,
        "/api/nodes/%2E%2E%2F%2E%2E%2Fadmin%2Fdelete-everything%3Fx%3D/drain"
    );
    assert_eq!(
        posts[0].query,
        "reason=%2E%2E%2F%2E%2E%2Fadmin%2Fdelete-everything%3Fx%3D"
    );
    assert_eq!(server.count("/admin/delete-everything"), 0);
}

#[test]
fn a_dot_segment_from_a_step_is_refused_in_a_url() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: dots
            title: A node called ..
            steps:
              - id: node
                title: Find the node
                http: {url: "$SERVER/say?.."}
              - id: drain
                title: Drain it
                action: true
                http: {method: POST, url: "$SERVER/api/{{ steps.node.body }}/admin"}
            "#,
        )
        .args(["run", "--yes"])
        .run();
    let finished = out.finished("drain");
    assert_eq!(finished["outcome"], "error", "{finished}");
    assert!(
        finished["summary"]
            .as_str()
            .unwrap()
            .contains("a value read from a step (`..`) would change the URL's path"),
        "{finished}"
    );
    assert!(server.requests().iter().all(|r| r.method != "POST"));
}

#[test]
fn safe_over_step_data_is_a_warning_of_validate() {
    let test = Test::new().runbook(
        r#"
        name: safe
        title: Deliberate
        vars: {cmd: "ls | wc -l"}
        steps:
          - id: version
            title: Read the version
            command: {argv: [echo, "1.2"]}
          - id: deploy
            title: Deploy it
            action: true
            command:
              shell: "echo {{ vars.cmd | safe }}; deploy {{ steps.version.stdout | trim | safe }}"
          - id: each
            title: Each listed host
            action: true
            loop: "{{ steps.version.stdout.split() }}"
            command: {shell: "ping -c1 {{ item | safe }}"}
          - id: mine
            title: Each of my hosts
            action: true
            loop: "{{ vars.cmd.split() }}"
            command: {shell: "ping -c1 {{ item | safe }}"}
        "#,
    );
    let out = test.args(["validate", "runbook.yaml"]).run().status(0);
    let out = out.stderr_has(
        "runbook.yaml:12:83: warning: `| safe` on `steps` in step `deploy` writes data read from a system unescaped",
    )
    .stdout_has("runbook.yaml: ok")
    .stderr_has("runbook.yaml:17:42: warning: `| safe` on `item`, which comes from a step's result, in step `each`");
    assert_eq!(out.stderr.matches("warning:").count(), 2, "{}", out.stderr);
    let out = out
        .then()
        .args(["validate", "--format", "json", "runbook.yaml"])
        .env("GITHUB_ACTIONS", "true")
        .run()
        .status(0)
        .stdout_has("::warning file=runbook.yaml,line=12,col=83::`| safe` on `steps`");
    let json_end = out.stdout.find("\n::").unwrap();
    let document: serde_json::Value = serde_json::from_str(&out.stdout[..json_end]).unwrap();
    assert_eq!(document["valid"], true);
    let diagnostics = &document["files"][0]["diagnostics"];
    assert_eq!(diagnostics[0]["severity"], "warning", "{document}");
    assert_eq!(diagnostics[0]["line"], 12);
    assert_eq!(diagnostics.as_array().unwrap().len(), 2);
}

#[test]
fn autoescape_blocks_are_refused() {
    Test::new()
        .runbook(
            r#"
            name: off
            title: Switching escaping off
            steps:
              - id: deploy
                title: Deploy
                command: {shell: "{% autoescape false %}echo {{ steps.deploy.stdout }}{% endautoescape %}"}
            "#,
        )
        .args(["validate", "runbook.yaml"])
        .run()
        .status(2)
        .stderr_has("`{% autoescape %}` is not allowed");
}

#[test]
fn quote_and_base64_filters() {
    let out = Test::new()
        .runbook(
            r#"
            name: filters
            title: Ansible's filters
            vars: {word: "it's a b"}
            steps:
              - id: show
                title: Show them
                action: false
                command:
                  argv:
                    - printf
                    - "%s|"
                    - "{{ vars.word | quote }}"
                    - "{{ 'user:pw' | b64encode }}"
                    - "{{ 'dXNlcjpwdw==' | b64decode }}"
                    - "{{ 'a b/c' | urlencode }}"
            "#,
        )
        .args(["run"])
        .run()
        .status(0);
    assert_eq!(
        out.outcome("show", "passed")["stdout"],
        r#"'it'"'"'s a b'|dXNlcjpwdw==|user:pw|a%20b/c|"#
    );
}

#[test]
fn an_allocation_bomb_is_a_step_error_and_the_run_goes_on() {
    let out = Test::new()
        .runbook(
            r#"
            name: bomb
            title: tojson with a huge indent
            vars:
              tree: {a: [1, [2, [3, [4, {b: [5, 6]}]]]]}
            steps:
              - id: bomb
                title: Pretty-print a tree
                action: false
                command: {argv: [echo, "{{ vars.tree | tojson(indent=10000000) }}"]}
                on_fail: continue
              - id: after
                title: The next step
                action: false
                command: {argv: [echo, after]}
            "#,
        )
        .args(["run"])
        .run();
    let finished = out.finished("bomb");
    assert_eq!(finished["outcome"], "error", "{finished}");
    assert!(
        finished["summary"]
            .as_str()
            .unwrap()
            .contains("tojson: indent 10000000 is too wide (at most 1024)"),
        "{finished}"
    );
    assert_eq!(out.outcome("after", "passed")["stdout"], "after\n");
    out.run_finished();
}

#[test]
fn a_line_break_from_a_step_cannot_add_a_header() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(&format!(
            r#"
            name: header
            title: A hostile request id
            steps:
              - id: id
                title: Read a request id
                http: {{url: "$SERVER/say?{id}"}}
              - id: tag
                title: Tag the incident
                action: true
                http:
                  method: POST
                  url: "$SERVER/echo"
                  headers: {{X-Request-Id: "{{{{ steps.id.body }}}}"}}
            "#,
            id = say("abc\r\nX-Api-Key: stolen"),
        ))
        .args(["run", "--yes"])
        .run();
    assert_eq!(out.finished("tag")["outcome"], "error");
    assert!(server.requests().iter().all(|r| r.method != "POST"));
}
