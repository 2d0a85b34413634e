//! Redaction end to end: secrets from every way in (environment, vars, `--var`, answers), in
//! every form a server or a command can send them back (plain, escaped, encoded, base64 of
//! `user:secret`, hex, a JSON number, cut at 120 characters), checked in every way out (see
//! `Output::no_secret_anywhere`); and secrets too short to mask, refused before anything runs.

use proptest::prelude::*;
use serde_json::{Value as Json, json};

use runbook::redact::MASK;

use crate::properties::cases;
use crate::support::forms;
use crate::support::*;

/// The user names whose `user:secret` base64 the outputs are searched for.
const USERS: &[&str] = &["ops", "admin"];

/// A declared secret, from the environment: fit for a host name, with mixed case (a URL
/// parser lowercases a host).
const TOKEN: &str = "zQ7-sEcr3t-t0kEn";
/// A declared secret with the characters URL and JSON encoders change: a URL library encodes
/// only some of them, a JSON echo of a JSON request escapes the quote twice.
const PASSWORD: &str = "p@ss w/rd\"é+&1";
/// A secret answer (`secret: true`), known only once the manual step has it.
const OTP: &str = "0tp-4nsw3r-Q9x";
/// A numeric secret: a server may send it back as a JSON number.
const PIN: &str = "48151623";

const SECRETS_RUNBOOK: &str = r#"
    name: redaction
    title: Secrets in, nothing out
    secrets: [RB_E2E_TOKEN, RB_E2E_PASSWORD, RB_E2E_PIN]
    # copy, note, deep, basic and hex come from the vars file or --var of each test.
    vars: {channel: ops, copy: ~, note: ~, deep: ~, basic: ~, hex: ~}
    steps:
      - id: login
        title: Get a one-time password
        manual: Ask the provider for a one-time password.
        ask:
          - {name: otp, prompt: One-time password, secret: true}
      - id: echo
        title: The server echoes everything back in its body
        action: false
        http:
          url: "$SERVER/echo?pw={{ secrets.RB_E2E_PASSWORD }}&otp={{ steps.login.otp }}&copy={{ vars.copy }}"
          method: POST
          headers:
            X-Token: "{{ secrets.RB_E2E_TOKEN }}"
            X-Otp: "{{ steps.login.otp }}"
            Authorization: "Basic {{ vars.basic }}"
          json:
            token: "{{ secrets.RB_E2E_TOKEN }}"
            password: "{{ secrets.RB_E2E_PASSWORD }}"
            otp: "{{ steps.login.otp }}"
            copy: "{{ vars.copy }}"
            note: "{{ vars.note }}"
            deep: "{{ vars.deep.list[0] }}"
            hex: "{{ vars.hex }}"
            pin: "{{ secrets.RB_E2E_PIN }}"
          timeout: 2s
        expect: body == 'not what comes back'
        on_fail: continue
      - id: header
        title: A response header carries the token
        action: false
        http:
          url: "$SERVER/redirect/{{ secrets.RB_E2E_TOKEN }}"
          follow_redirects: false
          timeout: 2s
        expect:
          - status == 200
          - headers.location == 'nowhere'
        on_fail: continue
      - id: dns
        title: The token in a host name that does not resolve
        action: false
        http: {url: "http://{{ secrets.RB_E2E_TOKEN }}.invalid/x?pw={{ secrets.RB_E2E_PASSWORD }}", timeout: 2s}
        on_fail: continue
      - id: stderr
        title: A careless script prints every secret
        action: false
        command:
          argv: [sh, -c, 'echo "token $T password $P otp $O" >&2; echo "copy $C"; exit 3']
          env:
            T: "{{ secrets.RB_E2E_TOKEN }}"
            P: "{{ secrets.RB_E2E_PASSWORD }}"
            O: "{{ steps.login.otp }}"
            C: "{{ vars.copy }}"
        on_fail: continue
      - id: cut
        title: The last line of output is cut at 120 characters, inside the token
        action: false
        command:
          argv: [sh, -c, 'printf "%0114d{{ secrets.RB_E2E_TOKEN }} and more\\n" 7 >&2; exit 1']
        on_fail: continue
      - id: no_program
        title: A program named after the token cannot start
        action: false
        command: {argv: ["/nonexistent/{{ secrets.RB_E2E_TOKEN }}"]}
        on_fail: continue
    finally:
      - id: report
        title: Say what was used
        action: false
        command: {argv: [echo, "{{ vars.note }} {{ vars.copy }} {{ vars.deep }}"]}
    "#;

/// Asserts no secret is in any output of the run in any promised form, nor the password in
/// the form a URL library leaves of it in a query (space and quote encoded, the rest as is).
fn assert_no_secret(out: Output) -> Output {
    let out = out
        .no_secret_anywhere_for(TOKEN, USERS)
        .no_secret_anywhere_for(PASSWORD, USERS)
        .no_secret_anywhere_for(OTP, USERS)
        .no_secret_anywhere_for(PIN, USERS);
    for (place, text) in out.every_output() {
        for part in ["p@ss%20w/rd%22", "p@ss w", "w/rd", "rd%22"] {
            assert!(!text.contains(part), "{place} has {part:?}:\n{text}");
        }
    }
    out
}

/// Runs SECRETS_RUNBOOK with the secrets coming in through the environment, a vars file,
/// `--var note=NOTE`, an answers file; returns the run and what the server saw.
fn run_with_secrets(note: &str) -> (Output, Server) {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(SECRETS_RUNBOOK)
        .write(
            "vars.yaml",
            &format!(
                "copy: prefix-{TOKEN}-suffix\ndeep:\n  list: [{}]\nbasic: {}\nhex: {}\n",
                serde_json::to_string(&format!("x {PASSWORD} y")).unwrap(),
                forms::base64(&format!("ops:{TOKEN}")),
                forms::hex(PASSWORD),
            ),
        )
        .write("answers.yaml", &format!("login: {{otp: {OTP}}}\n"))
        .env("RB_E2E_TOKEN", TOKEN)
        .env("RB_E2E_PASSWORD", PASSWORD)
        .env("RB_E2E_PIN", PIN)
        .args([
            "run",
            "--non-interactive",
            "--vars",
            "vars.yaml",
            "--answers",
            "answers.yaml",
            "--var",
            &format!("note={note}"),
            "--junit",
            "junit.xml",
        ])
        .run()
        .run_outcome("completed", 0);
    (out, server)
}

#[test]
fn secrets_from_every_way_in_reach_no_output() {
    let (out, server) = run_with_secrets(&format!("n-{TOKEN}-{PASSWORD}"));

    // Every secret really went out, and really came back.
    let echo = &server.requests_to("/echo")[0];
    assert_eq!(echo.header("x-token"), Some(TOKEN));
    assert_eq!(echo.header("x-otp"), Some(OTP));
    let sent: Json = serde_json::from_str(&echo.body).unwrap();
    assert_eq!(sent["password"], PASSWORD);
    assert_eq!(sent["copy"], format!("prefix-{TOKEN}-suffix"));
    assert_eq!(sent["note"], format!("n-{TOKEN}-{PASSWORD}"));
    assert_eq!(sent["deep"], format!("x {PASSWORD} y"));
    assert!(echo.query.contains("p@ss%20w/rd%22"), "{}", echo.query);
    assert_eq!(
        echo.header("authorization").map(String::from),
        Some(format!("Basic {}", forms::base64(&format!("ops:{TOKEN}"))))
    );
    assert_eq!(sent["hex"], forms::hex(PASSWORD));
    assert_eq!(sent["pin"], PIN);
    assert_eq!(server.count(&format!("/redirect/{TOKEN}")), 1);

    out.outcome("login", "passed");
    for id in ["echo", "header", "dns", "stderr", "cut", "no_program"] {
        let finished = out.finished(id);
        assert_ne!(finished["outcome"], "passed", "{finished}");
    }
    out.outcome("report", "passed");
    // Where each secret would have been, the mask is.
    let echoed = out.finished("echo");
    assert!(echoed["data"]["body"].as_str().unwrap().contains(MASK));
    let header = out.finished("header");
    assert_eq!(header["data"]["headers"]["location"], "/status/***");
    // The host came back lowercased, the query half-encoded.
    assert_eq!(
        out.finished("dns")["data"]["url"],
        "http://***.invalid/x?pw=***"
    );
    let stderr = out.finished("stderr");
    assert_eq!(
        stderr["data"]["stderr"], "token *** password *** otp ***\n",
        "{stderr}"
    );
    let vars = &out.events("run_started")[0]["vars"];
    assert_eq!(vars["note"], "n-***-***");
    assert_eq!(vars["copy"], "prefix-***-suffix");
    assert_eq!(vars["deep"]["list"][0], "x *** y");
    assert_eq!(vars["hex"], "***");
    // The base64 of `ops:` and the one character shared by `:` and the token stay.
    // Of `base64("ops:TOKEN")` only the characters that also encode `ops:` or the padding
    // stay: 5 for `ops:` and the one it shares with the token, the last one and `=`.
    let full = forms::base64(&format!("ops:{TOKEN}"));
    let basic_masked = format!("{}{MASK}{}", &full[..6], &full[full.len() - 2..]);
    assert_eq!(vars["basic"], basic_masked);
    // The echo's JSON: the header, and the PIN (a string here) masked.
    let body: Json = serde_json::from_str(echoed["data"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["json"]["pin"], MASK, "{body}");
    assert_eq!(
        body["headers"]["authorization"],
        format!("Basic {basic_masked}")
    );
    // The last line of output, cut at 120 characters inside the token: its start is masked.
    let cut = out.finished("cut");
    let summary = cut["summary"].as_str().unwrap();
    let (took, line) = summary.split_once(": ").unwrap();
    assert!(took.starts_with("exit 1 in "), "{summary}");
    assert_eq!(line, format!("{}7{MASK}…", "0".repeat(113)));

    assert_no_secret(out);
}

/// Every run of `len` characters of `secret`.
fn windows(secret: &str, len: usize) -> Vec<String> {
    let chars: Vec<char> = secret.chars().collect();
    chars.windows(len).map(|w| w.iter().collect()).collect()
}

#[test]
fn no_part_of_a_secret_reaches_any_output() {
    let (out, _server) = run_with_secrets(&format!("n-{TOKEN}-{PASSWORD}"));
    for (place, text) in out.every_output() {
        let lower = text.to_ascii_lowercase();
        for secret in [TOKEN, PASSWORD, OTP] {
            for part in windows(secret, 6) {
                assert!(
                    !lower.contains(&part.to_ascii_lowercase()),
                    "{place} has {part:?}, part of {secret:?}:\n{text}"
                );
            }
        }
    }
}

#[test]
fn a_secret_answer_is_redacted_from_the_start() {
    let (out, _server) = run_with_secrets(&format!("n-{OTP}"));
    assert_no_secret(out);
}

// ---------------------------------------------------------------- secrets too short to mask

const SHORT_SECRET_RUNBOOK: &str = r#"
    name: short
    title: A secret too short to mask
    secrets: [RB_SHORT]
    steps:
      - id: login
        title: Get a code
        manual: Ask for a code.
        ask:
          - {name: code, prompt: Code, secret: true}
    "#;

proptest! {
    #![proptest_config(cases(6))]

    /// `RB_SHORT=e` would mask the `e` of every `seq`, `event` and `step` in the timeline:
    /// the run stops with exit 2 before writing anything, naming the variable and not the value.
    #[test]
    fn a_secret_of_fewer_than_4_characters_is_refused(value in "[a-z0-9]{0,3}") {
        let out = Test::new()
            .runbook(SHORT_SECRET_RUNBOOK)
            .env("RB_SHORT", &value)
            .args(["run", "--non-interactive"])
            .run()
            .status(2);
        let length = match value.len() {
            0 => "empty".to_string(),
            1 => "1 character long".to_string(),
            n => format!("{n} characters long"),
        };
        prop_assert_eq!(
            &out.stderr,
            &format!(
                "error: secret `RB_SHORT` is {length}: a secret needs at least 4 characters, or \
                 masking it would mask ordinary words and the timeline's own keys; set its real value\n"
            )
        );
        prop_assert_eq!(&out.stdout, "");
        prop_assert!(!out.path(TIMELINE).exists(), "a timeline was written");
    }
}

#[test]
fn a_secret_answer_of_fewer_than_4_characters_is_refused() {
    let out = Test::new()
        .runbook(SHORT_SECRET_RUNBOOK)
        .env("RB_SHORT", "long-enough")
        .write("answers.yaml", "login: {code: \"x9\"}\n")
        .args(["run", "--non-interactive", "--answers", "answers.yaml"])
        .run()
        .status(2);
    assert_eq!(
        out.stderr,
        "error: the secret answer `code` of step `login` is 2 characters long: a secret needs at \
         least 4 characters, or masking it would mask ordinary words and the timeline's own keys; \
         set its real value\n"
    );
    assert!(!out.path(TIMELINE).exists(), "a timeline was written");
}

/// Four characters are enough: the run goes on and the secret is masked everywhere.
#[test]
fn a_secret_of_4_characters_is_masked_everywhere() {
    Test::new()
        .runbook(SHORT_SECRET_RUNBOOK)
        .env("RB_SHORT", "q7z2")
        .write("answers.yaml", "login: {code: q7z2}\n")
        .args(["run", "--non-interactive", "--answers", "answers.yaml"])
        .run()
        .run_outcome("completed", 0)
        .no_secret_anywhere("q7z2");
}

// ------------------------------------------------------- answers: every value, every message

const ANSWERS_RUNBOOK: &str = r#"
    name: answers
    title: Secret answers of every shape
    steps:
      - id: login
        title: Get the codes
        manual: Ask for the codes.
        ask:
          - {name: codes, prompt: Codes, secret: true}
          - {name: pin, prompt: PIN, secret: true}
          - {name: who, prompt: Who}
      - id: use
        title: A script prints them
        action: false
        command:
          argv: [sh, -c, 'echo "{{ steps.login.codes }} {{ steps.login.codes[1] }} {{ steps.login.pin }}"']
    "#;

/// A list of secret answers is masked item by item, and a numeric one as a number too: the
/// timeline holds them as JSON list items and a JSON number.
#[test]
fn secret_answers_given_as_a_list_or_a_number_are_masked() {
    Test::new()
        .runbook(ANSWERS_RUNBOOK)
        .write(
            "answers.yaml",
            "login: {codes: [first-c0de, second-c0de], pin: 90817263, who: ops}\n",
        )
        .args(["run", "--non-interactive", "--answers", "answers.yaml"])
        .run()
        .run_outcome("completed", 0)
        .stdout_has(r#"codes = ["***","***"], pin = ***, who = "ops""#)
        .no_secret_anywhere("first-c0de")
        .no_secret_anywhere("second-c0de")
        .no_secret_anywhere("90817263");
}

/// An answers file with a mistake on the line of a secret answer (a misspelt field, a syntax
/// error) is reported by place and reason, without the line: which values are secret is not
/// known before the file is understood.
#[test]
fn a_mistake_in_an_answers_file_never_quotes_a_secret_answer() {
    for (answers, headline) in [
        (
            "login: {codes: [first-c0de], pin: 90817263, whom: ops}\n",
            "answers.yaml:1:45: step `login` does not ask for `whom` (did you mean `who`?)",
        ),
        (
            "login: {codez: first-c0de}\n",
            "answers.yaml:1:9: step `login` does not ask for `codez` (did you mean `codes`?)",
        ),
        (
            "login: {codes: first-c0de, pin: [90817263\n",
            "answers.yaml:1:33: YAML syntax error: unclosed bracket '['",
        ),
    ] {
        let out = Test::new()
            .runbook(ANSWERS_RUNBOOK)
            .write("answers.yaml", answers)
            .args(["run", "--non-interactive", "--answers", "answers.yaml"])
            .run()
            .status(2);
        assert_eq!(
            out.stderr,
            format!(
                "{headline}\n  (the line is not shown: this answers file may hold secret answers)\n"
            ),
            "{answers}"
        );
        assert!(!out.path(TIMELINE).exists(), "a timeline was written");
        for secret in ["first-c0de", "90817263"] {
            let found = forms::find(&(out.stdout.clone() + &out.stderr), secret, USERS);
            assert_eq!(found, None, "{secret} in the output of {answers}");
        }
    }
}

/// Secrets of backslashes and escaped quotes against a 1 MiB body of `%5c` (each an encoded
/// backslash): masking took 54 s for 128 KiB, far past the step's 2 s timeout, because every
/// position started an escape that never ends. Masking is linear now (about 9 s for this run
/// in a debug build on a loaded 2-core machine, minutes before); the bound leaves room for a
/// loaded machine (the release figure is in BENCHMARKS.md, figure 5).
#[test]
fn a_hostile_body_against_a_secret_of_backslashes_costs_no_more_than_its_length() {
    let server = Server::start();
    let started = std::time::Instant::now();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: hostile
            title: A body built against the masker
            secrets: [RB_BACKSLASHES, RB_QUOTES]
            steps:
              - id: fetch
                title: Fetch 128 KiB of encoded backslashes
                action: false
                http:
                  url: "$SERVER/repeat/349525?%255c"
                  headers: {X-Key: "{{ secrets.RB_BACKSLASHES }}", X-Quotes: "{{ secrets.RB_QUOTES }}"}
                  timeout: 2s
                expect: body == 'something else'
                on_fail: continue
            "#,
        )
        .env("RB_BACKSLASHES", "\\\\\\\\\\\\\\\\")
        .env("RB_QUOTES", r#"\"\""#)
        .args(["run", "--non-interactive"])
        .run()
        .run_outcome("completed", 0);
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(60),
        "the run took {took:?}"
    );
    // The whole body is encoded backslashes: one run of the secret, masked.
    let data = out.outcome("fetch", "failed");
    assert_eq!(
        (&data["status"], &data["body"]),
        (&json!(200), &json!(MASK)),
        "{data}"
    );
    assert_eq!(server.requests_to("/repeat/349525").len(), 1);
    out.no_secret_anywhere("\\\\\\\\");
}
