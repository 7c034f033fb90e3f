//! `DocBatch`: the unit that flows from a source through the signals to a sink.

use std::sync::Arc;

use arrow::array::{Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

/// A record that could not be read as a document, kept with its error and raw bytes.
#[derive(Clone, Debug)]
pub struct Quarantined {
    /// Where in the input: "line 17", "row 42", "byte 1024", "file".
    pub location: String,
    pub error: String,
    /// The raw bytes of the record as read (empty when nothing could be read).
    pub raw: Vec<u8>,
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
