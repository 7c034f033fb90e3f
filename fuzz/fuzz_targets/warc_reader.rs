//! WARC/WET, plain or gzip by the first byte: never a panic or a hang, whatever the headers claim.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let name = if selector % 2 == 0 { "in.warc" } else { "in.warc.gz" };
    drop(common::read_as(name, body));
});
