//! `runbook`: executable incident-response runbooks.
//!
//! Data flows one way: file -> [`runbook`] (parsed, validated) -> [`engine`] -> events ->
//! [`timeline`] and the console. The engine asks a decider (non-interactive policy or a human)
//! and never touches the terminal itself.
pub mod cli;
pub mod diagnostic;
pub mod duration;
pub mod engine;
pub mod escape;
pub mod exec;
pub mod exit;
pub mod expr;
pub mod notify;
pub mod redact;
pub mod report;
pub mod runbook;
pub mod schema;
pub mod serve;
pub mod sim;
pub mod timeline;
pub mod ui;
pub mod yaml;

/// An I/O error as a person reads it: `No such file or directory`, without `(os error 2)`.
pub fn io_message(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error") {
        Some(idx) => text[..idx].to_string(),
        None => text,
    }
}
