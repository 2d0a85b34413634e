//! YAML reading shared by runbooks, vars files, answers files and scenarios.
mod locate;
pub mod node;
pub mod token;

pub use node::{Key, Node, Pos, SyntaxError, Value, parse};
