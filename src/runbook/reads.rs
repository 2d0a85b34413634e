//! Which earlier steps a step reads (`steps.check_cpu.rate_5xx` in its `when`, `loop`,
//! `expect` or templates): what a jump to it needs to have run first. The names come from
//! the walker that validation already ran over every expression (`Expr::reads`).

use super::model::{LoopSource, Step};
use super::validate::step_templates;

impl Step {
    /// The ids of the steps this step reads, each once, in the order first written: `when`,
    /// `loop`, templates, then `expect`. A read of `steps` as a whole (`steps[name]`) names no
    /// step and is left out.
    pub fn steps_read(&self) -> Vec<String> {
        let mut names: Vec<&String> = Vec::new();
        names.extend(self.when.iter().flat_map(|e| &e.reads));
        if let Some(LoopSource::Expr(e)) = &self.loop_over {
            names.extend(&e.reads);
        }
        names.extend(step_templates(self).into_iter().flat_map(|t| &t.reads));
        names.extend(self.expect.iter().flat_map(|e| &e.reads));
        let mut ids: Vec<String> = Vec::new();
        for name in names {
            let Some(rest) = name.strip_prefix("steps.") else {
                continue;
            };
            let id = rest.split('.').next().unwrap_or(rest);
            if !id.is_empty() && !ids.iter().any(|known| known == id) {
                ids.push(id.to_string());
            }
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_the_steps_read_once_each_in_order() {
        let runbook = crate::runbook::from_text(
            "t.yaml",
            r#"
name: t
title: T
steps:
  - {id: a, title: A, wait: 1ms}
  - {id: b, title: B, wait: 1ms}
  - id: fix
    title: Fix
    when: "steps.b.passed and steps.a.passed"
    http: {url: "http://127.0.0.1:1/{{ steps.a.summary }}"}
"#
            .to_string(),
        )
        .expect("valid");
        assert_eq!(runbook.steps[2].steps_read(), ["b", "a"]);
        assert!(runbook.steps[0].steps_read().is_empty());
    }
}
