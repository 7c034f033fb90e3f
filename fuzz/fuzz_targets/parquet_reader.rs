//! Parquet: never a panic or a hang, whatever the footer and pages claim.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    drop(common::read_as("in.parquet", data));
});
