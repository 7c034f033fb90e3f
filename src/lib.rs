//! svalbard: find machine-generated text in web-scale corpora and filter it out.
//!
//! The pipeline is read → score → decide → write:
//! [`source`] turns input files into [`batch::DocBatch`]es, [`signal`]s add score columns and fire rules,
//! [`decide`] turns fired rules and the ensemble's `p_machine` into a verdict with reasons, and [`sink`]
//! writes clean, rejected and quarantine partitions; [`pipeline`] wires the stages with bounded channels and
//! [`stats`] counts. docs/architecture.md draws the module graph.

// The layers live in their own crates (crates/*, docs/architecture.md); the app crate composes them and
// re-exports each under the path it has always had (`svalbard::signal`, `svalbard::source`, ...).
pub use svalbard_core::{batch, check, error, files, labeled, spec, text};
pub use svalbard_detect::{decide, signal};
pub use svalbard_eval as eval;
pub use svalbard_io::{sink, source, stats};
pub use svalbard_lm as lm;
pub use svalbard_onnx as onnx;
pub use svalbard_vault as vault;

pub mod cli;
pub mod config;
pub mod invariance;
pub mod pipeline;

pub use error::{Error, Result};
