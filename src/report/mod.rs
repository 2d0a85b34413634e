//! Reports: a run's timeline handed back in the forms people use — a postmortem timeline to
//! paste (Markdown), a page with the error rate over time (HTML with SVG charts), JUnit for
//! CI, JSON for scripts, and text for the terminal. Several runs (a drill and the real incident,
//! two runbooks paged at once) are reported side by side, each under its own runbook's name.
pub mod axis;
pub mod commonmark;
pub mod html;
pub mod json;
pub mod junit;
pub mod labels;
pub mod lines;
pub mod markdown;
pub mod model;
pub mod runs;
pub mod svg;
pub mod text;

pub use model::Report;
pub use runs::Runs;
