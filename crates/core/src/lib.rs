//! What every layer shares: the document batch, the canonical view and text analysis, rule specs, config checks, the error type, safe file access.

pub mod batch;
pub mod check;
pub mod error;
pub mod files;
pub mod labeled;
pub mod spec;
pub mod text;

pub(crate) use svalbard_eval as eval;
pub(crate) use svalbard_lm as lm;

pub use error::{Error, Result};
