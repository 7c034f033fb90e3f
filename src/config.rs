//! The TOML configuration: every knob has a default, unknown keys are errors, and [`Config::validate`]
//! checks the values before anything runs (so `svalbard validate` can vet a config for a DAG).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{Error, Result};
use crate::signal::{Runtime, Scorer, SignalsConfig};
use crate::spec::Action;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub input: InputConfig,
    pub output: OutputConfig,
    pub pipeline: PipelineConfig,
    pub signals: SignalsConfig,
    pub onnx: OnnxConfig,
    pub vintage: VintageConfig,
    pub trust: TrustConfig,
    /// One calibrated verdict from all signals (the policy file from `svalbard calibrate`).
    pub ensemble: crate::ensemble::EnsembleConfig,
    /// Per-rule action overrides, e.g. `"c4.too_few_sentences" = "flag"`.
    pub rules: BTreeMap<String, Action>,
}

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

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Worker threads for scoring; 0 = one per core.
    pub threads: usize,
    /// Batches in flight between stages (bounds memory: about `queue_depth * batch_bytes` per stage).
    pub queue_depth: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig { threads: 0, queue_depth: 2 }
    }
}

/// The most scoring threads a config may ask for. A fixed bound, not one per core, so that `svalbard validate`
/// on a login node gives the answer the compute node will: it is above the hardware threads of the largest
/// machines, and far below the 100000 that `-j` once accepted (each worker holds a thread stack, scratch
/// space and an ONNX session; that run reached 8 GB in 25 s).
pub const MAX_THREADS: usize = 1024;
/// The most batches in flight between two stages: each holds up to `input.batch_bytes` of text.
pub const MAX_QUEUE_DEPTH: usize = 64;

impl PipelineConfig {
    /// The scoring threads this config means: `threads`, or one per core when it is 0.
    pub fn workers(&self) -> usize {
        if self.threads == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        } else {
            self.threads
        }
    }

    pub fn validate(&self) -> Result<()> {
        check::count("pipeline.threads", self.threads, 0..=MAX_THREADS)?;
        check::count("pipeline.queue_depth", self.queue_depth, 1..=MAX_QUEUE_DEPTH)
    }
}

/// Documents written before the cutoff (ChatGPT's release by default) cannot be machine-generated by the
/// LLMs that flood the web since: `vintage = true` in the output, and with `keep` no detector rejects them.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VintageConfig {
    /// YYYY-MM-DD; a document dated strictly before it is vintage.
    pub cutoff: String,
    /// Keep vintage documents whatever the detectors say (quality rules still apply); false = only report.
    pub keep: bool,
    /// Columns holding the date (ISO 8601, date first), tried in order; WARC input provides `warc_date`.
    pub date_fields: Vec<String>,
}

impl Default for VintageConfig {
    fn default() -> Self {
        VintageConfig { cutoff: "2022-11-30".into(), keep: false, date_fields: vec!["date".into(), "warc_date".into()] }
    }
}

impl VintageConfig {
    pub fn cutoff_date(&self) -> Result<chrono::NaiveDate> {
        chrono::NaiveDate::parse_from_str(&self.cutoff, "%Y-%m-%d")
            .map_err(|e| Error::Config(format!("vintage.cutoff {:?}: {e} (expected YYYY-MM-DD)", self.cutoff)))
    }
}

/// Trusted human works: a document whose `signature_field` holds a valid Ed25519 signature (base64) of its
/// text by one of `public_keys` (hex) is `signed_human = true`, and no detector rejects it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrustConfig {
    pub public_keys: Vec<String>,
    pub signature_field: String,
}

impl Default for TrustConfig {
    fn default() -> Self {
        TrustConfig { public_keys: Vec::new(), signature_field: "signature".into() }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OnnxConfig {
    /// libonnxruntime.so; else $ORT_DYLIB_PATH, else .svalbard/onnxruntime/ (scripts/setup_ort.sh).
    pub library: Option<std::path::PathBuf>,
}

impl Config {
    /// The settings resolved once from this config and handed to every component that needs them.
    pub fn runtime(&self) -> Runtime {
        Runtime { workers: self.pipeline.workers(), onnx_library: self.onnx.library.clone() }
    }

    /// The scorer this config describes: its signals, rule overrides and ensemble.
    pub fn scorer(&self) -> Result<Scorer> {
        Scorer::from_config(&self.signals, &self.rules, &self.ensemble, &self.runtime())
    }

    pub fn from_toml_str(s: &str) -> Result<Self> {
        let c: Config = toml::from_str(s).map_err(|e| {
            // One line, for logs and DAG UIs: the message, where it points, and that line's text, which names
            // the key when the message does not ("invalid value: integer `-1`, expected usize").
            let msg = e.message().trim().replace('\n', " ");
            Error::Config(match e.span() {
                Some(r) => {
                    let start = r.start.min(s.len());
                    let line = s[..start].matches('\n').count() + 1;
                    let text: String = s.lines().nth(line - 1).unwrap_or("").trim().chars().take(80).collect();
                    if text.is_empty() {
                        format!("line {line}: {msg}")
                    } else {
                        format!("line {line} ({text}): {msg}")
                    }
                }
                None => msg,
            })
        })?;
        c.validate()?;
        Ok(c)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let s = std::fs::read_to_string(path).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        Self::from_toml_str(&s).map_err(|e| match e {
            Error::Config(m) => Error::Config(format!("{}: {m}", path.display())),
            e => e,
        })
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serializes")
    }

    /// Check values that parse but make no sense: the one gate every config passes before anything is read
    /// (`filter` calls it after applying its flags). Each section checks its own values, and every error names
    /// the key to fix.
    pub fn validate(&self) -> Result<()> {
        self.input.validate()?;
        self.output.validate()?;
        self.pipeline.validate()?;
        self.vintage.cutoff_date()?;
        self.signals.validate()?;
        self.ensemble.validate()
    }

    /// Rule overrides must name real rules; checked once the signals (and so their rule codes) are known.
    pub fn validate_rule_names(&self, known: &[crate::spec::RuleSpec]) -> Result<()> {
        for name in self.rules.keys() {
            if !known.iter().any(|r| &r.code == name) {
                let mut codes: Vec<&str> = known.iter().map(|r| r.code.as_str()).collect();
                codes.sort();
                return Err(Error::Config(format!(
                    "[rules] names unknown rule {name:?} (or its signal is disabled); known rules: {}",
                    codes.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// A document, and so a batch of them, must fit one Arrow string array (32-bit offsets).
const MAX_TEXT_BYTES: usize = (1 << 31) - 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_through_toml() {
        let c = Config::default();
        let back = Config::from_toml_str(&c.to_toml()).unwrap();
        assert_eq!(back.to_toml(), c.to_toml());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        assert!(Config::from_toml_str("[input]\ntext_feild = \"x\"\n").is_err());
        let e = Config::from_toml_str("[signals.fineweb]\nmax_short_line_frac = 1.5\n").unwrap_err();
        assert!(e.to_string().contains("max_short_line_frac"), "{e}");
        assert!(Config::from_toml_str("[input]\ntext_field = \"id\"\n").is_err());
    }

    #[test]
    fn partial_config_keeps_defaults() {
        let c = Config::from_toml_str("[signals.c4]\nenabled = false\n[rules]\n\"fineweb.short_lines\" = \"flag\"\n")
            .unwrap();
        assert!(!c.signals.c4.enabled);
        assert_eq!(c.signals.gopher_quality.min_words, 50);
        assert_eq!(c.rules["fineweb.short_lines"], Action::Flag);
    }
}
