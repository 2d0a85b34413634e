//! The Markdown report rendered by a real CommonMark parser (pulldown-cmark, with GitHub's
//! tables and strikethrough): text from a note, a title, a command's output and a milestone
//! comes back as written, never as emphasis, a link, HTML or a split table cell, while the
//! report's own headings, table, bold milestones and code spans still format.

use std::process::Command;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::support::*;

/// What a reader sees, block by block: each line, heading and table cell as its text,
/// and every piece of inline formatting that was applied, as (kind, text inside).
struct Rendered {
    blocks: Vec<String>,
    formatting: Vec<(String, String)>,
}

fn render(markdown: &str) -> Rendered {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut blocks = vec![String::new()];
    let mut formatting: Vec<(String, String)> = Vec::new();
    let mut open: Vec<(String, String)> = Vec::new();
    let text = |t: &str, open: &mut Vec<(String, String)>, blocks: &mut Vec<String>| {
        blocks.last_mut().unwrap().push_str(t);
        for (_, inside) in open.iter_mut() {
            inside.push_str(t);
        }
    };
    for event in Parser::new_ext(markdown, options) {
        match event {
            Event::Start(Tag::Paragraph | Tag::Heading { .. } | Tag::TableCell | Tag::Item) => {
                blocks.push(String::new())
            }
            Event::Start(
                tag @ (Tag::Emphasis
                | Tag::Strong
                | Tag::Strikethrough
                | Tag::Link { .. }
                | Tag::Image { .. }),
            ) => open.push((format!("{tag:?}"), String::new())),
            Event::End(
                TagEnd::Emphasis
                | TagEnd::Strong
                | TagEnd::Strikethrough
                | TagEnd::Link
                | TagEnd::Image,
            ) => formatting.push(open.pop().unwrap()),
            Event::Text(t) => text(&t, &mut open, &mut blocks),
            Event::Code(t) => {
                text(&t, &mut open, &mut blocks);
                formatting.push(("Code".into(), t.to_string()));
            }
            Event::SoftBreak => text(" ", &mut open, &mut blocks),
            // The report breaks its timeline's lines with hard breaks: a line is a block here.
            Event::HardBreak => blocks.push(String::new()),
            Event::Html(h) | Event::InlineHtml(h) => {
                formatting.push(("Html".into(), h.to_string()))
            }
            _ => {}
        }
    }
    Rendered { blocks, formatting }
}

impl Rendered {
    fn block_containing(&self, text: &str) -> &str {
        self.blocks
            .iter()
            .find(|b| b.contains(text))
            .unwrap_or_else(|| panic!("no block shows {text:?}: {:#?}", self.blocks))
    }
}

const NOTE: &str = "restarted *all* nodes in us_east_1 | 2 [left]";
const TRICKY: &str = "_all_ **x** ~~y~~ `z` <b>h</b> [a](http://e.example) &amp; #";

#[test]
fn text_from_the_run_comes_back_as_written_and_the_reports_own_formatting_stays() {
    let out = Test::new()
        .runbook(&format!(
            r#"
            name: escapes
            title: "Fix *prod* _now_ [p1] | east"
            steps:
              - id: poke
                title: "Poke the `api`"
                action: false
                command: {{shell: "echo '{TRICKY}'"}}
                milestone: detected
            "#
        ))
        .args(["run"])
        .run()
        .run_outcome("completed", 0);
    let timeline = out.path(TIMELINE);
    let note = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .arg("note")
        .arg(&timeline)
        .arg(NOTE)
        .output()
        .unwrap();
    assert!(note.status.success(), "{note:?}");

    let markdown = report(&timeline, "markdown");
    let seen = render(&markdown);
    // The note, the title and the command's output read exactly as written.
    assert!(seen.block_containing(NOTE).ends_with(NOTE), "{markdown}");
    assert_eq!(
        seen.blocks
            .iter()
            .find(|b| b.starts_with("Timeline: "))
            .unwrap(),
        "Timeline: Fix *prod* _now_ [p1] | east",
        "{markdown}"
    );
    assert!(
        seen.block_containing(TRICKY).ends_with(TRICKY),
        "{markdown}"
    );
    // Nothing from the run formatted; the report's own bold milestone and code spans did.
    let run_id = out.timeline()[0]["run_id"].as_str().unwrap().to_string();
    let allowed = |(kind, inside): &(String, String)| match kind.as_str() {
        "Strong" => inside == "DETECTED" || inside == "completed",
        "Code" => {
            ["escapes", "detected", "mitigated", "resolved"].contains(&inside.as_str())
                || *inside == run_id
                || inside.ends_with(".yaml")
        }
        _ => false,
    };
    for f in &seen.formatting {
        assert!(allowed(f), "{f:?} formatted in\n{markdown}");
    }
    assert!(
        seen.formatting
            .iter()
            .any(|(k, t)| k == "Strong" && t == "DETECTED"),
        "{:?}",
        seen.formatting
    );
    assert!(
        seen.formatting
            .iter()
            .any(|(k, t)| k == "Code" && t == "escapes"),
        "{:?}",
        seen.formatting
    );
    // The summary is still a table: its cells, not a paragraph of pipes.
    assert!(
        seen.blocks.iter().any(|b| b == "Time to detect"),
        "{:#?}",
        seen.blocks
    );
}

#[test]
fn a_title_with_pipes_stays_one_cell_in_the_table_of_runs() {
    let run = |name: &str, title: &str| {
        Test::new()
            .runbook(&format!(
                "name: {name}\ntitle: \"{title}\"\nsteps:\n  - id: ok\n    title: ok\n    action: false\n    command: [true]\n"
            ))
            .args(["run"])
            .run()
            .run_outcome("completed", 0)
    };
    let a = run("first", "a | b *c*");
    let b = run("second", "plain");
    let output = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .arg("timeline")
        .arg(a.path(TIMELINE))
        .arg(b.path(TIMELINE))
        .args(["--format", "markdown"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let markdown = String::from_utf8(output.stdout).unwrap();
    let seen = render(&markdown);
    assert!(
        seen.blocks.iter().any(|b| b == "a | b *c*"),
        "{:#?}\n{markdown}",
        seen.blocks
    );
    assert!(
        seen.blocks.iter().any(|b| b == "first"),
        "{:#?}",
        seen.blocks
    );
}
