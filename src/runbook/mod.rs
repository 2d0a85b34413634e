//! The runbook format: parsing, validation and the validated model.
pub mod model;
pub(crate) mod parse;
pub mod validate;

pub use model::*;
pub use validate::{LoadError, from_text, load};
