//! The `[output]` section: the partitions' format and size, and whether rejected documents are written.

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::Result;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    #[default]
    Arrow,
    Parquet,
}

impl OutputFormat {
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Arrow => "arrow",
            OutputFormat::Parquet => "parquet",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputConfig {
    pub format: OutputFormat,
    /// A partition file is closed and a new one started past this size.
    pub max_file_bytes: u64,
    /// Write rejected documents (with their text) at all; `false` keeps only their count in the stats.
    pub write_rejected: bool,
}

impl OutputConfig {
    pub fn validate(&self) -> Result<()> {
        check::at_least("output.max_file_bytes", self.max_file_bytes, 1024)
    }
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig { format: OutputFormat::Arrow, max_file_bytes: 512 << 20, write_rejected: true }
    }
}
