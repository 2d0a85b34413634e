//! The timeline: the JSON Lines record of a run.
pub mod event;
pub mod reader;
pub mod writer;

pub use event::{Event, Outcome, Record, RunOutcome};
pub use writer::{TimelineWriter, append_event, now_rfc3339};
