//! The signals and the scorer, and the decide stage (verdicts, ensemble, protections).

pub mod decide;
pub mod signal;

pub(crate) use svalbard_core::check;
pub(crate) use svalbard_core::error;
pub(crate) use svalbard_core::labeled;
pub(crate) use svalbard_core::spec;
pub(crate) use svalbard_core::text;
pub(crate) use svalbard_core::Error;
pub(crate) use svalbard_eval as eval;
pub(crate) use svalbard_io::source;
pub(crate) use svalbard_lm as lm;
pub(crate) use svalbard_onnx as onnx;
pub(crate) use svalbard_vault as vault;
