//! svalbard: find machine-generated text in web-scale corpora and filter it out.
//!
//! The pipeline is read → score → decide → write:
//! [`source`] turns input files into [`batch::DocBatch`]es, [`signal`]s add score columns and fire rules,
//! [`decide`] turns fired rules and the ensemble's `p_machine` into a verdict with reasons, and [`sink`]
//! writes clean, rejected and quarantine partitions; [`pipeline`] wires the stages with bounded channels and
//! [`stats`] counts. docs/architecture.md draws the module graph.

pub mod batch;
pub mod check;
pub mod cli;
pub mod config;
pub mod decide;
pub mod error;
pub mod eval;
pub mod files;
pub mod invariance;
pub mod labeled;
pub mod lm;
pub mod onnx;
pub mod pipeline;
pub mod signal;
pub mod sink;
pub mod source;
pub mod spec;
pub mod stats;
pub mod text;
pub mod vault;

pub use error::{Error, Result};
