//! YAML reading shared by runbooks, vars files, answers files and scenarios.
pub mod node;

pub use node::{Key, Node, Pos, SyntaxError, Value, parse};
