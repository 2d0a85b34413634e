//! `runbook drill` touches only its simulator: a step aimed elsewhere, and every command step
//! unless `--allow-commands`, is recorded as `blocked` with the reason instead of running
//! (issue 12).

use serde_json::Value as Json;

use crate::support::{Output, Server, Test, parse_timeline, report};

/// The runbook of the drills below: a check of the simulator, a command that would leave a
/// file, an action POSTing a token to a real host, and a tcp probe of that host.
fn runbook(server: &Server) -> String {
    format!(
        r#"
        name: confined
        title: Confined
        vars:
          elsewhere: "{url}"
          reference_sites: ~
        steps:
          - id: inside
            title: A check of the simulator
            http: "{{{{ vars.reference_sites[0] }}}}"
          - id: touch
            title: A command
            command: {{shell: "touch PWNED"}}
            on_fail: continue
          - id: post
            title: A POST to a real host
            action: true
            http:
              method: POST
              url: "{{{{ vars.elsewhere }}}}/echo"
              json: {{token: "t0ken"}}
          - id: probe
            title: A port of a real host
            tcp: "127.0.0.1:{port}"
        "#,
        url = server.url(),
        port = server.port(),
    )
}

fn drill(server: &Server, extra: &[&str]) -> Output {
    let mut args = vec!["drill", "runbook.yaml", "--timeline-dir", "tl"];
    args.extend_from_slice(extra);
    Test::new().runbook(&runbook(server)).args(args).run()
}

/// The one timeline the drill wrote.
fn timeline(out: &Output) -> Vec<Json> {
    let dir = out.path("tl");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    parse_timeline(&std::fs::read_to_string(&files[0]).unwrap())
}

fn finished<'a>(events: &'a [Json], id: &str) -> &'a Json {
    events
        .iter()
        .find(|e| e["event"] == "step_finished" && e["step"] == id)
        .unwrap_or_else(|| panic!("`{id}` never finished: {events:#?}"))
}

/// `127.0.0.1:PORT` of the simulator, from the vars the drill handed the run.
fn sim_address(events: &[Json]) -> String {
    let site = events[0]["vars"]["reference_sites"][0]
        .as_str()
        .unwrap_or_else(|| panic!("no simulator in {:#?}", events[0]));
    let rest = site.strip_prefix("http://").unwrap();
    rest.split('/').next().unwrap().to_string()
}

#[test]
fn a_drill_runs_no_command_and_reaches_no_real_host() {
    let server = Server::start();
    let out = drill(&server, &[]).status(1);
    assert!(!out.path("PWNED").exists(), "the command ran");
    assert!(
        server.requests().is_empty(),
        "a real host was reached: {:?}",
        server.requests()
    );
    let events = timeline(&out);
    let sim = sim_address(&events);
    assert_eq!(finished(&events, "inside")["outcome"], "passed");
    let touch = finished(&events, "touch");
    assert_eq!(touch["outcome"], "blocked");
    assert_eq!(
        touch["summary"],
        "outside the drill: command steps do not run in a drill (use --allow-commands)"
    );
    let post = finished(&events, "post");
    assert_eq!(post["outcome"], "blocked");
    let post_reason = format!(
        "outside the drill: {}/echo is not the simulator ({sim})",
        server.url()
    );
    assert_eq!(post["summary"], post_reason.as_str());
    let probe = finished(&events, "probe");
    assert_eq!(probe["outcome"], "blocked");
    assert_eq!(
        probe["summary"],
        format!(
            "outside the drill: 127.0.0.1:{} is not the simulator ({sim})",
            server.port()
        )
        .as_str()
    );
    // The run went on past each blocked step, and counted them.
    let end = events.last().unwrap();
    assert_eq!(end["event"], "run_finished");
    assert_eq!(end["counts"]["blocked"], 3);
    assert_eq!(end["counts"].get("actions_run"), None);
    // The console shows each, and the verdict says why the drill failed.
    assert!(
        out.stdout.contains(&format!(
            "BLOCKED     post  A POST to a real host: {post_reason}"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("FAIL  every step stayed inside the drill (found: blocked: `touch`, `post`, `probe` (outside the drill: command steps do not run in a drill (use --allow-commands)))"),
        "{}",
        out.stdout
    );
}

#[test]
fn allow_commands_lets_command_steps_run_in_a_drill() {
    let server = Server::start();
    let out = drill(&server, &["--allow-commands"]).status(1);
    assert!(out.path("PWNED").exists(), "the command did not run");
    let events = timeline(&out);
    assert_eq!(finished(&events, "touch")["outcome"], "passed");
    // Real hosts stay out of reach.
    assert_eq!(finished(&events, "post")["outcome"], "blocked");
    assert!(server.requests().is_empty());
}

/// The reports of a drill's timeline show the blocked steps with their reasons.
#[test]
fn the_reports_show_what_was_outside_the_drill() {
    let server = Server::start();
    let out = drill(&server, &[]).status(1);
    let dir = out.path("tl");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    for format in ["text", "markdown", "junit"] {
        let report = report(&file, format);
        assert!(
            report.contains(
                "outside the drill: command steps do not run in a drill (use --allow-commands)"
            ),
            "{format}: {report}"
        );
        assert!(
            report.to_ascii_lowercase().contains("blocked"),
            "{format}: {report}"
        );
    }
}
