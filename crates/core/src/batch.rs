//! `DocBatch`: the unit that flows from a source through the signals to a sink.

use std::sync::Arc;

use arrow::array::{Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

/// How much of a record over `input.max_doc_bytes` quarantine keeps: enough to recognise the record, while
/// the reader skips the rest without buffering it, so an input with one enormous line costs bounded memory.
pub const OVERSIZE_RAW_PREFIX: usize = 4 << 10;

/// How much of any other unreadable record quarantine keeps. Malformed records are usually small; the cap
/// keeps one pathological record from making a quarantine row (and its part file) arbitrarily large.
pub const MAX_QUARANTINE_RAW: usize = 64 << 10;

/// A record that could not be read as a document, kept with its error and raw bytes.
#[derive(Clone, Debug)]
pub struct Quarantined {
    /// Where in the input: "line 17", "row 42", "byte 1024", "file".
    pub location: String,
    pub error: String,
    /// The raw bytes of the record as read (empty when nothing could be read), at most
    /// [`MAX_QUARANTINE_RAW`] bytes; see [`Quarantined::new`] and [`Quarantined::oversize`].
    pub raw: Vec<u8>,
}

impl Quarantined {
    /// A record that failed to read. Raw bytes beyond [`MAX_QUARANTINE_RAW`] are dropped, and the error then
    /// says so with the record's true length: "…; raw cut to the first 65536 of 70000 bytes".
    pub fn new(location: impl Into<String>, error: impl Into<String>, raw: &[u8]) -> Self {
        let mut error = error.into();
        if raw.len() > MAX_QUARANTINE_RAW {
            error.push_str(&format!("; raw cut to the first {MAX_QUARANTINE_RAW} of {} bytes", raw.len()));
        }
        Quarantined { location: location.into(), error, raw: raw[..raw.len().min(MAX_QUARANTINE_RAW)].to_vec() }
    }

    /// A record of `length` bytes over `input.max_doc_bytes = max`; `prefix` is its beginning, of which the
    /// first [`OVERSIZE_RAW_PREFIX`] bytes are kept as raw.
    pub fn oversize(location: impl Into<String>, length: u64, max: usize, prefix: &[u8]) -> Self {
        Quarantined {
            location: location.into(),
            error: oversize_error(length, max),
            raw: prefix[..prefix.len().min(OVERSIZE_RAW_PREFIX)].to_vec(),
        }
    }
}

/// The error of a record over `input.max_doc_bytes`, the same for every reader.
pub fn oversize_error(length: u64, max: usize) -> String {
    format!("record of {length} bytes exceeds input.max_doc_bytes = {max}")
}

/// Documents of one input, as Arrow columns: the id (column 0, Utf8), the text (column 1, Utf8), then the
/// input's passthrough columns. Records that failed to read travel beside them in `quarantined`.
#[derive(Debug)]
pub struct DocBatch {
    /// Index of the input in the run's plan.
    pub input: usize,
    pub docs: RecordBatch,
    pub quarantined: Vec<Quarantined>,
    /// Uncompressed input bytes this batch covers (for throughput).
    pub bytes: u64,
    /// Blank lines skipped (JSONL): not documents, counted for transparency.
    pub blank_lines: u64,
    /// Set when the input ended abnormally (truncated stream, unreadable row group): the run goes on, the
    /// damage is recorded in stats and turns the exit code non-zero.
    pub damage: Option<String>,
}

impl DocBatch {
    pub fn texts(&self) -> Vec<&str> {
        let col = self.docs.column(1).as_any().downcast_ref::<StringArray>().expect("text column is Utf8");
        (0..col.len()).map(|i| col.value(i)).collect()
    }

    pub fn len(&self) -> usize {
        self.docs.num_rows()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.num_rows() == 0
    }
}

/// The schema of a DocBatch: id and text first, then passthrough columns.
pub fn doc_schema(id_field: &str, text_field: &str, passthrough: impl IntoIterator<Item = Field>) -> Arc<Schema> {
    let mut fields = vec![Field::new(id_field, DataType::Utf8, false), Field::new(text_field, DataType::Utf8, false)];
    fields.extend(passthrough);
    Arc::new(Schema::new(fields))
}
