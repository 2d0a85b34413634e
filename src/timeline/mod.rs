//! The timeline: the JSON Lines record of a run.
pub mod approval;
mod commit;
pub mod event;
pub mod lock;
pub mod reader;
pub mod retract;
pub mod writer;

pub use event::{Event, Outcome, Record, RunOutcome};
pub use lock::{LockError, RunLock};
pub use writer::{TimelineWriter, Unwritten, append_event, append_event_checked, now_rfc3339};
