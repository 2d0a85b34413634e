//! The runbook format: parsing, validation and the validated model.
pub mod model;
mod names;
pub(crate) mod parse;
mod reads;
pub mod validate;

pub use model::*;
pub use names::unset_required;
pub use validate::{LoadError, from_text, from_tree, load};
