//! Issue 14 in a real terminal, at 80 and 120 columns: a jump to a step that reads steps which
//! have not run names them and offers run anyway / pick another / cancel; a target that is no
//! step is said so and asked again; `a` asks `abort the run? [y/N]`; `m` then `-WORD` retracts
//! a milestone, and every report leaves it out.

use super::*;

/// The widths the incident-day terminals had (tmux panes).
const WIDTHS: [u16; 2] = [80, 120];
const NOT_RUN: &str = "refresh_api_lb reads steps.check_cpu, which has not run";
const CHOICES: &str = "[r]un anyway, [p]ick another step, [c]ancel";
const ABORT: &str = "abort the run? [y/N] ";

/// `refresh_api_lb` reads what `check_cpu` found: a jump past `check_cpu` leaves it without.
const JUMP: &str = r#"
    name: jump
    title: Jump past the evidence
    steps:
      - {id: check_cpu, title: Check CPU, action: false, command: {argv: [touch, check_cpu.ran]}}
      - {id: look, title: Look around, action: false, command: {argv: [touch, look.ran]}}
      - id: refresh_api_lb
        title: Refresh the API load balancer
        action: false
        when: "steps.check_cpu.exit_code == 0"
        command: {argv: [touch, refresh.ran]}
      - {id: verify, title: Verify, action: false, command: {argv: [touch, verify.ran]}}
    "#;

impl Pty {
    /// A guided run on a terminal `cols` wide (and 40 rows), set before the program asks.
    fn sized(dir: &Path, cols: u16, extra: &[&str]) -> Pty {
        let mut pty = Pty::run(dir, extra);
        pty.session
            .get_process_mut()
            .set_window_size(cols, 40)
            .expect("set the terminal's size");
        pty
    }
}

#[test]
fn a_jump_past_the_evidence_says_which_and_each_choice_works() {
    for cols in WIDTHS {
        let test = Test::new().runbook(JUMP);
        let dir = dir_of(&test);
        let mut pty = Pty::sized(&dir, cols, &["--step"]);
        pty.expect("[1/4] Check CPU");
        pty.expect(STEP_PROMPT);

        // No such step, by id and by number: said, and asked again.
        pty.key("j");
        pty.expect("4. verify  Verify");
        pty.expect("jump to step (number or id): ");
        pty.line("xyz");
        pty.expect("no step `xyz`; steps are 1-4");
        pty.expect("jump to step (number or id): ");
        pty.line("12");
        pty.expect("no step `12`; steps are 1-4");
        pty.expect("jump to step (number or id): ");

        // Cancel: back at the same step's prompt.
        pty.line("3");
        pty.expect(NOT_RUN);
        pty.expect(CHOICES);
        pty.key("c");
        pty.expect(STEP_PROMPT);

        // Pick another step: the list and the question again.
        pty.key("j");
        pty.expect("jump to step (number or id): ");
        pty.line("refresh_api_lb");
        pty.expect(NOT_RUN);
        pty.expect(CHOICES);
        pty.key("p");
        pty.expect("1. check_cpu  Check CPU");
        pty.expect("jump to step (number or id): ");
        pty.line("look");
        pty.expect("[2/4] Look around");
        pty.expect(STEP_PROMPT);

        // Run anyway: the step fails closed, saying why, and the run goes on.
        pty.key("j");
        pty.expect("jump to step (number or id): ");
        pty.line("3");
        pty.expect(NOT_RUN);
        pty.expect(CHOICES);
        pty.key("r");
        pty.expect(&format!("when: {NOT_RUN}"));
        pty.expect(FAILURE_PROMPT);
        pty.key("s");
        pty.expect("[4/4] Verify");
        pty.expect(STEP_PROMPT);
        pty.key("c");
        pty.expect(TABLE_HEADER);
        let code = pty.finish();

        let timeline = pty.timeline();
        assert_one_whole_run(&timeline);
        let summaries: Vec<(String, String, String)> = events(&timeline, "step_finished")
            .into_iter()
            .map(|e| {
                let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
                (s("step"), s("outcome"), s("summary"))
            })
            .collect();
        let row = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        assert_eq!(
            summaries[..3],
            [
                row("check_cpu", "skipped", "jumped to `look`"),
                row("look", "skipped", "jumped to `refresh_api_lb`"),
                row(
                    "refresh_api_lb",
                    "error",
                    &format!("when: {NOT_RUN} (steps.check_cpu.exit_code is undefined)")
                ),
            ],
            "at {cols} columns\n{}",
            pty.context()
        );
        assert_eq!(
            (&summaries[3].0, summaries[3].1.as_str()),
            (&"verify".to_string(), "passed")
        );
        let finished = &events(&timeline, "run_finished")[0];
        assert_eq!(finished["exit_code"], code, "{finished}");
        for (file, ran) in [
            ("check_cpu.ran", false),
            ("look.ran", false),
            ("refresh.ran", false),
            ("verify.ran", true),
        ] {
            assert_eq!(dir.join(file).exists(), ran, "{file} at {cols} columns");
        }
    }
}

#[test]
fn abort_asks_first_and_only_yes_aborts() {
    for cols in WIDTHS {
        let test = Test::new().runbook(JUMP);
        let dir = dir_of(&test);
        let mut pty = Pty::sized(&dir, cols, &["--step"]);
        pty.expect("[1/4] Check CPU");
        pty.expect(STEP_PROMPT);
        // No (and anything but y or yes): back at the prompt, nothing recorded.
        for answer in ["", "n", "sure"] {
            pty.key("a");
            pty.expect(ABORT);
            pty.line(answer);
            pty.expect(STEP_PROMPT);
        }
        assert!(
            !pty.timeline()
                .iter()
                .any(|e| e["event"] == "step_finished" || e["event"] == "run_finished"),
            "a declined abort ended something\n{}",
            pty.context()
        );
        pty.key("c");
        pty.expect("[2/4] Look around");
        pty.expect(STEP_PROMPT);
        pty.key("a");
        pty.expect(ABORT);
        pty.line("yes");
        pty.expect("run aborted: aborted at step `look` (exit 3) — timeline timeline.jsonl");
        pty.assert_exit(3);
        let timeline = pty.timeline();
        assert_eq!(
            outcomes(&timeline),
            [
                ("check_cpu".to_string(), "passed".to_string()),
                ("look".to_string(), "skipped".to_string()),
            ]
        );
        assert_eq!(
            finished(&timeline, "look")["summary"],
            "aborted by the operator"
        );
        assert_eq!(events(&timeline, "run_finished")[0]["outcome"], "aborted");
        assert!(!dir.join("look.ran").exists());
    }
}

#[test]
fn a_milestone_retracted_at_a_prompt_is_in_no_report() {
    for cols in WIDTHS {
        let server = Server::start();
        let test = Test::new().server(&server).runbook(REFRESH);
        let dir = dir_of(&test);
        let mut pty = Pty::sized(&dir, cols, &[]);
        pty.expect(ACTION_PROMPT);
        pty.key("m");
        pty.expect("milestone (detected, mitigated, resolved, or a word): ");
        pty.line("detected");
        pty.expect("milestone DETECTED recorded.");
        pty.expect(ACTION_PROMPT);
        pty.key("m");
        pty.expect("milestone (");
        pty.line("ESCALAED");
        pty.expect("milestone ESCALAED recorded.");
        pty.expect(ACTION_PROMPT);
        // A word never recorded: said, nothing written.
        pty.key("m");
        pty.expect("milestone (");
        pty.line("-mitigated");
        pty.expect("no milestone MITIGATED to retract (recorded: DETECTED, ESCALAED)");
        pty.expect(ACTION_PROMPT);
        pty.key("m");
        pty.expect("milestone (");
        pty.line("-escalaed");
        pty.expect("milestone ESCALAED retracted.");
        pty.expect(ACTION_PROMPT);
        pty.key("y");
        pty.expect(TABLE_HEADER);
        pty.expect("milestones: DETECTED ");
        pty.expect("run completed");
        pty.assert_exit(0);
        let screen = pty.screen();
        let table = &screen[screen.rfind(TABLE_HEADER).unwrap()..];
        assert!(!table.contains("ESCALAED"), "{table}");

        let timeline = pty.timeline();
        let milestones: Vec<(Json, Json)> = events(&timeline, "milestone")
            .into_iter()
            .map(|e| (e["milestone"].clone(), e["retracted"].clone()))
            .collect();
        assert_eq!(
            milestones,
            [
                (json!("detected"), Json::Null),
                (json!("escalaed"), Json::Null),
                (json!("escalaed"), json!(true)),
            ]
        );
        crate::retract::assert_reports_leave_out(&dir.join(TIMELINE), "ESCALAED");
    }
}
