//! Escape sequences a system sends (clear screen, window title, OSC 52 clipboard write, a C1
//! CSI) reach the terminal and the reports only shown escaped (`\x1b`); the JSON timeline keeps
//! the exact text (issue 12).

use serde_json::Value as Json;

use crate::guided::{Pty, dir_of};
use crate::support::{HOSTILE, Server, Test};

/// What [`HOSTILE`] looks like once escaped.
const SHOWN: &str =
    r"\x1b[2J\x1b]0;pwned title\x07\x1b]52;c;cHduZWQ=\x07\x9b31m outage\u{202e}egatuo";

#[test]
fn escape_sequences_from_systems_are_shown_escaped() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: hostile
            title: Hostile answers
            steps:
              - id: page
                title: The provider's status page
                statuspage: "$SERVER/pages/hostile"
                expect: indicator == 'none'
                on_fail: continue
              - id: body
                title: A body
                http: "$SERVER/hostile"
                expect: body == 'fine'
            "#,
        )
        .args(["run", "--junit", "junit.xml"])
        .run()
        .status(1);

    // The timeline has the exact text.
    let page = out.finished("page");
    assert_eq!(page["data"]["description"], HOSTILE);
    let body = out.finished("body");
    assert_eq!(body["data"]["body"], HOSTILE);
    let failures: Vec<&str> = body["failures"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Json::as_str)
        .collect();
    // Quoted as JSON, which escapes C0 but leaves the C1 CSI raw.
    assert!(
        failures
            .iter()
            .any(|f| f.contains("pwned title") && f.contains('\u{9b}')),
        "{failures:?}"
    );

    // The console shows it, escaped.
    assert!(out.stdout.contains(SHOWN), "{}", out.stdout);

    let mut checked = Vec::new();
    for (place, text) in out.every_output() {
        let exact = place.ends_with(".jsonl") || place.contains("--format json`");
        if exact {
            continue;
        }
        assert!(
            !text
                .chars()
                .any(|c| (c.is_control() && c != '\n' && c != '\t') || c == '\u{202e}'),
            "a raw control character in {place}:\n{text}"
        );
        checked.push(place);
    }
    // stdout, stderr, the JUnit file and the text, Markdown, JUnit and HTML reports.
    for kind in [
        "stdout",
        "junit.xml",
        "--format text`",
        "--format markdown`",
        "--format junit`",
    ] {
        assert!(
            checked.iter().any(|p| p.contains(kind)),
            "{kind} not checked: {checked:?}"
        );
    }
    for (place, text) in out.every_output() {
        let report = place.ends_with("--format text`")
            || place.ends_with("--format markdown`")
            || place.ends_with("junit.xml");
        if report {
            assert!(text.contains(r"\x1b]52;c;cHduZWQ="), "{place}:\n{text}");
        }
    }
}

/// The guided UI on a real terminal: the step's result is shown escaped.
#[test]
fn the_guided_ui_shows_escape_sequences_escaped() {
    let server = Server::start();
    let test = Test::new().server(&server).runbook(
        r#"
        name: hostile
        title: Hostile answers
        steps:
          - id: page
            title: The provider's status page
            statuspage: "$SERVER/pages/hostile"
            expect: indicator == 'none'
            on_fail: continue
        "#,
    );
    let dir = dir_of(&test);
    let mut pty = Pty::run(&dir, &[]);
    assert_eq!(pty.finish(), 0);
    let raw = String::from_utf8_lossy(&pty.raw).into_owned();
    for sent in ["\u{1b}]52;", "\u{1b}]0;pwned", "\u{1b}[2J", "\u{9b}31m"] {
        assert!(
            !raw.contains(sent),
            "{sent:?} reached the terminal:\n{raw:?}"
        );
    }
    assert!(raw.contains(r"\x1b]52;c;cHduZWQ="), "{raw:?}");
}
