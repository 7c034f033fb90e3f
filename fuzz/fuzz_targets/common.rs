//! What every reader target checks: the bytes, written to a file of the given name, are read to the end
//! without a panic or a hang, and every record read is a document or a quarantine row.

use svalbard::source::{detect_format, open, InputConfig, InputFile};

/// Totals of one input read to its end.
pub struct Read {
    pub docs: u64,
    pub quarantined: u64,
    pub blank_lines: u64,
}

pub fn read_as(name: &str, data: &[u8]) -> Read {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join(name);
    std::fs::write(&path, data).expect("write the input");
    let input = InputFile { format: detect_format(&path).expect("a name svalbard reads"), size: data.len() as u64, path };
    // Small batches, so that batch boundaries fall inside the interesting bytes.
    let config = InputConfig { batch_bytes: 1024, batch_docs: 8, max_doc_bytes: 4096, ..InputConfig::default() };
    let mut read = Read { docs: 0, quarantined: 0, blank_lines: 0 };
    let Ok(batches) = open(0, &input, &config) else { return read };
    for b in batches {
        read.docs += b.len() as u64;
        read.quarantined += b.quarantined.len() as u64;
        read.blank_lines += b.blank_lines;
    }
    read
}
