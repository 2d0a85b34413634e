//! A plain terminal decider: asks before actions and for manual steps. (The full guided
//! experience builds on this.)

use std::io::{BufRead, Write};

use dialoguer::Password;
use serde_json::{Map, Value as Json};

use crate::engine::{ActionDecision, ActionPrompt, Decider, ManualDecision, ManualPrompt};

pub struct LinePrompt {
    actor: String,
    yes: bool,
}

impl LinePrompt {
    pub fn new(actor: String, yes: bool) -> Self {
        LinePrompt { actor, yes }
    }

    /// Asks until one of the keys is typed; end of input counts as abort.
    fn choose(&self, question: &str, keys: &[char]) -> char {
        let stdin = std::io::stdin();
        loop {
            eprint!("{question} ");
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            match stdin.lock().read_line(&mut line) {
                Ok(0) | Err(_) => return 'a',
                Ok(_) => {}
            }
            if let Some(c) = line.trim().chars().next().map(|c| c.to_ascii_lowercase())
                && keys.contains(&c)
            {
                return c;
            }
        }
    }
}

impl Decider for LinePrompt {
    fn confirm_action(&self, prompt: &ActionPrompt) -> ActionDecision {
        if self.yes {
            return ActionDecision::Run { by: "--yes".into() };
        }
        eprintln!(
            "\n{} ({})\n  {}",
            prompt.title, prompt.step_id, prompt.preview
        );
        if prompt.was_interrupted {
            eprintln!(
                "  note: this action started before the run stopped; it may already have taken effect"
            );
        }
        match self.choose(
            "Run this action? [y]es / [s]kip / [a]bort",
            &['y', 's', 'a'],
        ) {
            'y' => ActionDecision::Run {
                by: self.actor.clone(),
            },
            's' => ActionDecision::Skip {
                by: self.actor.clone(),
            },
            _ => ActionDecision::Abort,
        }
    }

    fn manual(&self, prompt: &ManualPrompt) -> ManualDecision {
        eprintln!(
            "\n{} ({})\n  {}",
            prompt.title, prompt.step_id, prompt.instructions
        );
        let mut answers = Map::new();
        for field in &prompt.ask {
            let value = if field.secret {
                Password::new()
                    .with_prompt(&field.prompt)
                    .allow_empty_password(true)
                    .interact()
                    .unwrap_or_default()
            } else {
                eprint!("{}: ", field.prompt);
                let _ = std::io::stderr().flush();
                let mut line = String::new();
                if std::io::stdin().lock().read_line(&mut line).unwrap_or(0) == 0 {
                    return ManualDecision::Abort;
                }
                line.trim_end_matches(['\r', '\n']).to_string()
            };
            answers.insert(field.name.clone(), Json::String(value));
        }
        match self.choose("Done? [y]es / [s]kip / [a]bort", &['y', 's', 'a']) {
            'y' => ManualDecision::Done {
                answers,
                by: self.actor.clone(),
            },
            's' => ManualDecision::Skip {
                by: self.actor.clone(),
            },
            _ => ManualDecision::Abort,
        }
    }

    fn actor(&self) -> String {
        self.actor.clone()
    }
}
