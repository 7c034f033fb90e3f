//! The `[input]` section: which fields hold the text and the id, what else is carried through, and the
//! bounds on batches and documents.

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{Error, Result};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InputConfig {
    /// Field (JSONL) or column (Parquet) holding the text.
    pub text_field: String,
    /// Field holding a document id; when absent the id is `<file name>:<line or row>`.
    pub id_field: String,
    /// Fields carried to the output besides id and text: `["*"]` for all, `[]` for none.
    pub passthrough: Vec<String>,
    /// A batch closes at this many bytes of input...
    pub batch_bytes: usize,
    /// ...or this many documents, whichever comes first.
    pub batch_docs: usize,
    /// Documents larger than this go to quarantine instead of being scored.
    pub max_doc_bytes: usize,
    /// Distinct passthrough fields made into columns per input (JSONL); fields first seen beyond this many are
    /// not carried to the output (a warning says how many), so that an input with a key per record cannot
    /// explode the schema.
    pub max_passthrough_keys: usize,
}

impl Default for InputConfig {
    fn default() -> Self {
        InputConfig {
            text_field: "text".into(),
            id_field: "id".into(),
            passthrough: vec!["*".into()],
            batch_bytes: 8 << 20,
            batch_docs: 4096,
            max_doc_bytes: 256 << 20,
            max_passthrough_keys: 256,
        }
    }
}

/// The most `input.max_passthrough_keys` may allow: beyond it a schema costs more per batch than the documents.
const MAX_PASSTHROUGH_KEYS: usize = 65_536;

impl InputConfig {
    pub fn validate(&self) -> Result<()> {
        if self.text_field.is_empty() {
            return Err(Error::Config("input.text_field is empty".into()));
        }
        if self.text_field == self.id_field {
            return Err(Error::Config("input.text_field and input.id_field must differ".into()));
        }
        check::count("input.batch_bytes", self.batch_bytes, 1024..=MAX_TEXT_BYTES)?;
        check::at_least("input.batch_docs", self.batch_docs, 1)?;
        check::count("input.max_doc_bytes", self.max_doc_bytes, 1..=MAX_TEXT_BYTES)?;
        check::count("input.max_passthrough_keys", self.max_passthrough_keys, 0..=MAX_PASSTHROUGH_KEYS)
    }

    pub fn passes_through(&self, field: &str) -> bool {
        field != self.text_field && field != self.id_field && self.passthrough.iter().any(|p| p == "*" || p == field)
    }
}

/// A document, and so a batch of them, must fit one Arrow string array (32-bit offsets).
pub(crate) const MAX_TEXT_BYTES: usize = (1 << 31) - 1;
