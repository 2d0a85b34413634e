//! What the person at the terminal sees: the step lines of a non-interactive run, and the
//! prompts, progress and tables of a guided one. The engine reaches it only through events
//! and the decider.
pub mod closing;
pub mod console;
pub mod guided;
pub mod layout;
pub mod progress;
