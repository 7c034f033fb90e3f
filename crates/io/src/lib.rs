//! Sources (JSONL, Parquet, WARC/WET) to document batches, and the partition sinks and stats.

pub mod sink;
pub mod source;
pub mod stats;

pub(crate) use svalbard_core::batch;
pub(crate) use svalbard_core::check;
pub(crate) use svalbard_core::error;
pub(crate) use svalbard_core::files;
pub(crate) use svalbard_vault as vault;
