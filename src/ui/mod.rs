//! What the person at the terminal sees: the step lines of a run and the prompts of a
//! guided one. The engine reaches it only through events and the decider.
pub mod console;
pub mod prompt;
