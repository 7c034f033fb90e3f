//! Parquet: never a panic or a hang, whatever the footer and pages claim.
//!
//! The parquet crate asserts on some corrupt metadata (e.g. a negative column chunk offset); the reader runs
//! it under `catch_unwind` and turns such a panic into a damaged input or a quarantine row. libfuzzer-sys's
//! panic hook aborts on every panic, caught or not, so this target keeps the default hook: a panic the reader
//! catches is its designed path, and one that escapes still reaches libfuzzer-sys, which aborts on it.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

static QUIET_HOOK: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    QUIET_HOOK.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    drop(common::read_as("in.parquet", data));
});
