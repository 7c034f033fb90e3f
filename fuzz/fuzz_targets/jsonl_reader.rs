//! JSONL, plain, gzip or zstd by the first byte: never a panic; for plain input, every line (after a byte order
//! mark) is a document, a quarantined record or a blank line.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    match selector % 3 {
        0 => {
            let read = common::read_as("in.jsonl", body);
            // A byte order mark is encoding, not content.
            let text = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
            let lines = memchr_count(text) + u64::from(!text.is_empty() && !text.ends_with(b"\n"));
            assert_eq!(read.docs + read.quarantined + read.blank_lines, lines, "a line was lost or counted twice");
        }
        1 => drop(common::read_as("in.jsonl.gz", body)),
        _ => drop(common::read_as("in.jsonl.zst", body)),
    }
});

fn memchr_count(b: &[u8]) -> u64 {
    b.iter().filter(|&&c| c == b'\n').count() as u64
}
