//! The timeline: the envelope every event shares, the fields of each event, where it is
//! written, what survives a kill, and that secrets never reach it (nor stdout or stderr).

use std::time::Duration;

use serde_json::{Value as Json, json};

use crate::support::*;

/// `2026-11-22T19:30:00.123Z`: RFC 3339, UTC, milliseconds.
fn assert_rfc3339_utc_millis(ts: &str) {
    let b = ts.as_bytes();
    let shape_ok = b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    assert!(shape_ok, "ts {ts:?} is not RFC 3339 UTC with milliseconds");
    let month: u32 = ts[5..7].parse().unwrap();
    let day: u32 = ts[8..10].parse().unwrap();
    let hour: u32 = ts[11..13].parse().unwrap();
    assert!(
        (1..=12).contains(&month) && (1..=31).contains(&day) && hour < 24,
        "{ts}"
    );
}

/// seq 1..n without gaps, one run_id, a valid ts that never goes backwards, an event name.
fn assert_envelope(timeline: &[Json]) {
    assert!(!timeline.is_empty());
    let run_id = timeline[0]["run_id"].as_str().expect("run_id is a string");
    assert!(!run_id.is_empty());
    let mut last_ts = String::new();
    for (i, event) in timeline.iter().enumerate() {
        assert_eq!(event["seq"], json!(i + 1), "seq of line {}: {event}", i + 1);
        assert_eq!(event["run_id"], run_id, "run_id of line {}: {event}", i + 1);
        assert!(event["event"].is_string(), "{event}");
        let ts = event["ts"].as_str().expect("ts is a string");
        assert_rfc3339_utc_millis(ts);
        assert!(
            ts >= last_ts.as_str(),
            "ts goes backwards at line {}",
            i + 1
        );
        last_ts = ts.to_string();
    }
}

const RUNBOOK_WITH_EVERYTHING: &str = r#"
    name: lb-502
    title: 502 Bad Gateway from the load balancers
    vars:
      lb: "$SERVER"
      max_5xx_rate: 0.02
    steps:
      - id: sample
        title: Sample the LB
        http: {url: "{{ vars.lb }}/flaky", timeout: 500ms}
        expect: status == 200
        retry: {attempts: 3, delay: 10ms}
        milestone: detected
      - id: skipped
        title: Never needed
        when: false
        wait: 1ms
    finally:
      - id: settle
        title: Settle
        wait: 1ms
    "#;

#[test]
fn every_line_shares_the_envelope() {
    let server = Server::start();
    server.sequence("/flaky", [502, 200]);
    let out = Test::new()
        .server(&server)
        .runbook(RUNBOOK_WITH_EVERYTHING)
        .args(["run"])
        // Set but empty is not a fixed clock: the real time is recorded.
        .env("RUNBOOK_TEST_CLOCK", "")
        .run()
        .status(0);
    let timeline = out.timeline();
    assert_envelope(&timeline);
    let names: Vec<&str> = timeline
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "run_started",
            "step_started",
            "step_attempt",
            "step_finished",
            "milestone",
            "step_started",
            "step_finished",
            "step_started",
            "step_finished",
            "run_finished",
        ]
    );
    // One event per line, each line ends with a newline.
    let text = out.timeline_text();
    assert!(text.ends_with('\n'));
    assert_eq!(text.lines().count(), timeline.len());
}

#[test]
fn run_started_records_the_run() {
    let server = Server::start();
    server.sequence("/flaky", [200]);
    let out = Test::new()
        .server(&server)
        .runbook(RUNBOOK_WITH_EVERYTHING)
        .args(["run", "--var", "max_5xx_rate=0.05", "--var", "extra=[1, 2]"])
        .run()
        .status(0);
    let started = &out.events("run_started")[0];
    assert_eq!(started["seq"], 1);
    assert_eq!(started["runbook"], "lb-502");
    assert!(
        started["file"].as_str().unwrap().ends_with("runbook.yaml"),
        "{started}"
    );
    assert_eq!(started["sha256"], sha256_hex(&out.path(RUNBOOK)));
    assert_eq!(started["mode"], "non-interactive");
    assert_eq!(
        started["vars"],
        json!({"lb": server.url(), "max_5xx_rate": 0.05, "extra": [1, 2]})
    );
    assert_eq!(started["version"], env!("CARGO_PKG_VERSION"));
    let actor = started["actor"].as_str().unwrap();
    assert!(actor.contains('@') && actor != "ci", "actor {actor}");
}

#[test]
fn actor_is_ci_under_ci() {
    let out = Test::new()
        .runbook("name: ci\ntitle: CI\nsteps:\n  - {id: one, title: One, wait: 1ms}\n")
        .env("CI", "true")
        .args(["run"])
        .run()
        .status(0);
    let started = &out.events("run_started")[0];
    assert_eq!(started["actor"], "ci");
    assert_eq!(started["mode"], "non-interactive");
}

#[test]
fn step_finished_and_run_finished_fields() {
    let server = Server::start();
    server.sequence("/flaky", [502, 502, 200]);
    let out = Test::new()
        .server(&server)
        .runbook(RUNBOOK_WITH_EVERYTHING)
        .args(["run"])
        .run()
        .status(0);
    let finished = out.finished("sample");
    assert_eq!(finished["step"], "sample");
    assert_eq!(finished["title"], "Sample the LB");
    assert_eq!(finished["outcome"], "passed");
    assert!(finished["duration_ms"].is_u64(), "{finished}");
    assert!(
        finished["summary"].as_str().is_some_and(|s| !s.is_empty()),
        "{finished}"
    );
    assert_eq!(finished["data"]["status"], 200);
    assert_eq!(finished["attempt"], 3);
    let skipped = out.finished("skipped");
    assert_eq!(skipped["outcome"], "skipped");
    assert_eq!(skipped["attempt"], 1);
    assert!(skipped["data"].is_object());

    let started: Vec<_> = out
        .events("step_started")
        .into_iter()
        .map(|e| e["step"].clone())
        .collect();
    assert_eq!(
        started,
        [json!("sample"), json!("skipped"), json!("settle")]
    );
    let milestone = &out.events("milestone")[0];
    assert_eq!(milestone["milestone"], "detected");
    assert_eq!(milestone["step"], "sample");

    let run_finished = out.run_finished();
    assert_eq!(run_finished["outcome"], "completed");
    assert_eq!(run_finished["exit_code"], 0);
}

#[test]
fn default_timeline_path_is_under_timelines() {
    let test = Test::new()
        .runbook("name: small-one\ntitle: Small\nsteps:\n  - {id: one, title: One, wait: 1ms}\n")
        .default_timeline();
    let out = test.args(["run"]).run().status(0);
    let files: Vec<_> = std::fs::read_dir(out.path("timelines"))
        .expect("timelines/ created")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = &files[0];
    assert!(
        name.starts_with("small-one-") && name.ends_with(".jsonl"),
        "{name}"
    );
    let stamp = &name["small-one-".len()..name.len() - ".jsonl".len()];
    assert!(
        stamp.chars().filter(char::is_ascii_digit).count() >= 14,
        "no UTC stamp in {name}"
    );
    let text = std::fs::read_to_string(out.path("timelines").join(name)).unwrap();
    let timeline = parse_timeline(&text);
    assert_envelope(&timeline);
    assert_eq!(timeline.last().unwrap()["event"], "run_finished");
    assert!(
        out.stderr.contains(name.as_str()),
        "the path is shown:\n{}",
        out.stderr
    );

    // A second run does not overwrite the first.
    let out = out.then().default_timeline().args(["run"]).run().status(0);
    assert_eq!(std::fs::read_dir(out.path("timelines")).unwrap().count(), 2);
}

#[test]
fn timeline_directories_are_created() {
    let out = Test::new()
        .runbook("name: deep\ntitle: Deep\nsteps:\n  - {id: one, title: One, wait: 1ms}\n")
        .args(["run", "--timeline", "incidents/2026/deep.jsonl"])
        .run()
        .status(0);
    let text = std::fs::read_to_string(out.path("incidents/2026/deep.jsonl")).unwrap();
    assert_envelope(&parse_timeline(&text));
}

#[test]
fn timeline_is_on_disk_before_the_step_ends_and_survives_a_kill() {
    let running = Test::new()
        .runbook(
            r#"
            name: killed
            title: Killed mid-step
            steps:
              - {id: first, title: First, wait: 1ms}
              - {id: soak, title: Soak, wait: 30s}
            finally:
              - {id: cleanup, title: Cleanup, wait: 1ms}
            "#,
        )
        .args(["run"])
        .spawn();
    running.wait_for_event(|e| e["event"] == "step_started" && e["step"] == "soak");
    running.signal(libc::SIGKILL);
    let out = running.wait();
    assert!(out.elapsed < Duration::from_secs(10));
    let timeline = out.timeline();
    assert_envelope(&timeline);
    let last = timeline.last().unwrap();
    assert_eq!(last["event"], "step_started");
    assert_eq!(last["step"], "soak");
    assert_eq!(out.finished("first")["outcome"], "passed");
}

// ---------------------------------------------------------------- redaction

const TOKEN: &str = "tok-9f8e7d6c5b4a";

#[test]
fn a_secret_echoed_back_by_a_server_is_redacted_everywhere() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: secret-echo
            title: Secret in a header
            secrets: [RB_TEST_ADMIN_TOKEN]
            steps:
              - id: call
                title: Call the admin API
                http:
                  url: "$SERVER/echo"
                  headers: {Authorization: "Bearer {{ secrets.RB_TEST_ADMIN_TOKEN }}"}
                  timeout: 500ms
                expect: json.headers.authorization == 'Bearer ' ~ secrets.RB_TEST_ADMIN_TOKEN
              - id: mismatch
                title: A failing expectation shows the body
                http:
                  url: "$SERVER/echo"
                  headers: {X-Token: "{{ secrets.RB_TEST_ADMIN_TOKEN }}"}
                  timeout: 500ms
                expect: body == 'nothing like it'
                on_fail: continue
            "#,
        )
        .env("RB_TEST_ADMIN_TOKEN", TOKEN)
        .args(["run"])
        .run()
        .status(0)
        .no_secret_anywhere(TOKEN);
    // The token was really sent, and really came back.
    let sent = server.requests_to("/echo");
    assert_eq!(
        sent[0].header("authorization"),
        Some(&*format!("Bearer {TOKEN}"))
    );
    assert_eq!(sent[1].header("x-token"), Some(TOKEN));
    out.outcome("call", "passed");
    let data = out.outcome("mismatch", "failed");
    assert!(data["body"].as_str().unwrap().contains("***"), "{data}");
    assert!(out.stdout.contains("***"), "{}", out.stdout);
}

#[test]
fn a_secret_in_a_command_output_is_redacted() {
    let out = Test::new()
        .runbook(
            r#"
            name: secret-stdout
            title: Secret printed by a command
            secrets: [RB_TEST_DB_PASSWORD]
            steps:
              - id: show
                title: A careless script prints the password
                action: false
                command:
                  argv: [sh, -c, 'echo "password is $PW"; echo "$PW" >&2; exit 1']
                  env: {PW: "{{ secrets.RB_TEST_DB_PASSWORD }}"}
                expect: stdout | trim == 'password is ' ~ secrets.RB_TEST_DB_PASSWORD
            "#,
        )
        .env("RB_TEST_DB_PASSWORD", TOKEN)
        .args(["run"])
        .run()
        .no_secret_anywhere(TOKEN);
    let finished = out.finished("show");
    assert_eq!(finished["outcome"], "passed", "{finished}");
    assert_eq!(finished["data"]["stdout"], "password is ***\n");
    assert_eq!(finished["data"]["stderr"], "***\n");
}

#[test]
fn a_secret_answer_is_redacted() {
    let out = Test::new()
        .runbook(
            r#"
            name: secret-answer
            title: Secret typed by the operator
            steps:
              - id: login
                title: Get a one-time password
                manual: Ask the provider for a one-time password.
                ask:
                  - {name: otp, prompt: One-time password, secret: true}
                  - {name: ticket, prompt: Ticket}
              - id: use
                title: Use it
                action: false
                command: {argv: [echo, "otp={{ steps.login.otp }} ticket={{ steps.login.ticket }}"]}
            "#,
        )
        .write(
            "answers.yaml",
            &format!("login: {{otp: {TOKEN}, ticket: INC-77}}\n"),
        )
        .args(["run", "--answers", "answers.yaml"])
        .run()
        .status(0)
        .no_secret_anywhere(TOKEN);
    assert_eq!(out.outcome("login", "passed")["otp"], "***");
    assert_eq!(out.outcome("login", "passed")["ticket"], "INC-77");
    assert_eq!(
        out.outcome("use", "passed")["stdout"],
        "otp=*** ticket=INC-77\n"
    );
}

#[test]
fn a_secret_in_an_error_message_or_a_var_is_redacted() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let out = Test::new()
        .runbook(&format!(
            r#"
            name: secret-error
            title: Secret in a URL that fails
            secrets: [RB_TEST_KEY]
            vars: {{channel: ~}}
            steps:
              - id: call
                title: Call with the key in the query
                http: {{url: "http://127.0.0.1:{port}/hook?key={{{{ secrets.RB_TEST_KEY }}}}&to={{{{ vars.channel }}}}", timeout: 500ms}}
                on_fail: continue
              - id: cmd
                title: Command with the key in argv that cannot start
                action: false
                command: {{argv: ["/nonexistent/{{{{ secrets.RB_TEST_KEY }}}}"]}}
            "#
        ))
        .env("RB_TEST_KEY", TOKEN)
        .args(["run", "--var", &format!("channel={TOKEN}")])
        .run()
        .status(1)
        .no_secret_anywhere(TOKEN);
    let started = &out.events("run_started")[0];
    assert_eq!(started["vars"]["channel"], "***");
}

// ---------------------------------------------------------------- concurrent writers

#[test]
fn concurrent_writers_never_interleave_or_tear_lines() {
    // Each step waits until another process has appended a note since it started, so the
    // run's own writes are forced to interleave with the others' appends instead of hoping a
    // sleep lines them up; three writers append in a loop, contending with each other too.
    const STEPS: usize = 6;
    const WRITERS: usize = 3;
    let mut yaml = String::from("name: busy\ntitle: Busy timeline\nsteps:\n");
    for i in 0..STEPS {
        yaml.push_str(&format!(
            r#"  - id: s{i}
    title: Step {i}
    action: false
    command:
      shell: |
        before=$(grep -c '"event":"note"' timeline.jsonl)
        while [ "$(grep -c '"event":"note"' timeline.jsonl)" -le "$before" ]; do sleep 0.01; done
      timeout: 20s
"#
        ));
    }
    let running = Test::new().runbook(&yaml).args(["run"]).spawn();
    running.wait_for_event(|e| e["event"] == "run_started");
    let timeline_path = running.path(TIMELINE);
    let done = std::sync::atomic::AtomicBool::new(false);
    let (out, written) = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (done, path) = (&done, &timeline_path);
                scope.spawn(move || {
                    let mut texts = Vec::new();
                    while !done.load(std::sync::atomic::Ordering::SeqCst) {
                        let text = format!("writer {w} note {}", texts.len());
                        let out = std::process::Command::new(env!("CARGO_BIN_EXE_runbook"))
                            .args(["note".as_ref(), path.as_os_str(), text.as_ref()])
                            .env_remove("CI")
                            .output()
                            .unwrap();
                        let stderr = String::from_utf8_lossy(&out.stderr);
                        assert!(out.status.success(), "`runbook note` failed: {stderr}");
                        assert!(stderr.starts_with("runbook: recorded note #"), "{stderr}");
                        texts.push(text);
                    }
                    texts
                })
            })
            .collect();
        let out = running.wait();
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let written: Vec<String> = writers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        (out, written)
    });
    let text = out.timeline_text();
    assert!(text.ends_with('\n'), "a torn last line");
    let timeline = out.timeline();
    assert_envelope(&timeline);
    // Whole lines, one run, `seq` unique and in file order.
    for (i, event) in timeline.iter().enumerate() {
        assert_eq!(event["seq"], json!(i + 1), "seq in file order:\n{text}");
    }
    // Every note written is there exactly once, with its exact text.
    let notes: Vec<&str> = timeline
        .iter()
        .filter(|e| e["event"] == "note")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    let mut expected = written.clone();
    expected.sort();
    let mut found: Vec<String> = notes.iter().map(|n| n.to_string()).collect();
    found.sort();
    assert_eq!(found, expected);
    // The race happened: each step's start and end have another process's note between them.
    for i in 0..STEPS {
        let id = format!("s{i}");
        let at = |event: &str| {
            timeline
                .iter()
                .position(|e| e["event"] == event && e["step"] == id.as_str())
                .unwrap()
        };
        let (start, end) = (at("step_started"), at("step_finished"));
        assert_eq!(timeline[end]["outcome"], "passed", "{}", timeline[end]);
        assert!(
            timeline[start..end].iter().any(|e| e["event"] == "note"),
            "no note between the start and end of `{id}`:\n{text}"
        );
    }
    let ends: Vec<&Json> = timeline
        .iter()
        .filter(|e| e["event"] == "run_finished")
        .collect();
    assert_eq!(ends.len(), 1, "{text}");
    assert_eq!(ends[0]["outcome"], "completed");
    out.status(0);
}
