//! The TOML configuration: every knob has a default, unknown keys are errors, and [`Config::validate`]
//! checks the values before anything runs (so `svalbard validate` can vet a config for a DAG).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::signal::c4::C4Config;
use crate::signal::classifier::ClassifierConfig;
use crate::signal::fineweb::FineWebConfig;
use crate::signal::gopher_quality::GopherQualityConfig;
use crate::signal::gopher_repetition::GopherRepetitionConfig;
use crate::signal::ngram_lm::NgramLmConfig;
use crate::signal::vocab::VocabConfig;
use crate::signal::Action;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub input: InputConfig,
    pub output: OutputConfig,
    pub pipeline: PipelineConfig,
    pub signals: SignalsConfig,
    pub onnx: OnnxConfig,
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
        }
    }
}

impl InputConfig {
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

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OnnxConfig {
    /// libonnxruntime.so; else $ORT_DYLIB_PATH, else .svalbard/onnxruntime/ (scripts/setup_ort.sh).
    pub library: Option<std::path::PathBuf>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalsConfig {
    pub gopher_quality: GopherQualityConfig,
    pub gopher_repetition: GopherRepetitionConfig,
    pub c4: C4Config,
    pub fineweb: FineWebConfig,
    pub vocab: VocabConfig,
    pub ngram_lm: NgramLmConfig,
    /// ONNX classifiers; the built-in `fast` model by default. `classifiers = []` runs heuristics only.
    pub classifiers: Vec<ClassifierConfig>,
}

impl Default for SignalsConfig {
    fn default() -> Self {
        SignalsConfig {
            gopher_quality: Default::default(),
            gopher_repetition: Default::default(),
            c4: Default::default(),
            fineweb: Default::default(),
            vocab: Default::default(),
            ngram_lm: Default::default(),
            classifiers: vec![ClassifierConfig::default()],
        }
    }
}

impl Config {
    pub fn from_toml_str(s: &str) -> Result<Self> {
        let c: Config = toml::from_str(s).map_err(|e| {
            // One line, for logs and DAG UIs: the message and where it points.
            let line = e.span().map(|r| s[..r.start.min(s.len())].matches('\n').count() + 1);
            let msg = e.message().trim().replace('\n', " ");
            Error::Config(match line {
                Some(l) => format!("line {l}: {msg}"),
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

    /// Check values that parse but make no sense.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        let i = &self.input;
        if i.text_field.is_empty() {
            return bad("input.text_field is empty".into());
        }
        if i.text_field == i.id_field {
            return bad("input.text_field and input.id_field must differ".into());
        }
        if i.batch_bytes < 1024 || i.batch_docs == 0 {
            return bad("input.batch_bytes must be >= 1024 and input.batch_docs >= 1".into());
        }
        if i.max_doc_bytes == 0 || i.max_doc_bytes > (1 << 31) - 1 {
            return bad("input.max_doc_bytes must be in 1..2^31".into());
        }
        if self.output.max_file_bytes < 1024 {
            return bad("output.max_file_bytes must be >= 1024".into());
        }
        if self.pipeline.queue_depth == 0 {
            return bad("pipeline.queue_depth must be >= 1".into());
        }
        let s = &self.signals;
        let fracs = [
            ("signals.gopher_quality.max_bullet_lines_ratio", s.gopher_quality.max_bullet_lines_ratio),
            ("signals.gopher_quality.max_ellipsis_lines_ratio", s.gopher_quality.max_ellipsis_lines_ratio),
            ("signals.gopher_quality.min_alpha_words_ratio", s.gopher_quality.min_alpha_words_ratio),
            ("signals.fineweb.min_line_punct_frac", s.fineweb.min_line_punct_frac),
            ("signals.fineweb.max_short_line_frac", s.fineweb.max_short_line_frac),
            ("signals.fineweb.max_dup_line_char_frac", s.fineweb.max_dup_line_char_frac),
            ("signals.gopher_repetition.max_dup_line_frac", s.gopher_repetition.max_dup_line_frac),
            ("signals.gopher_repetition.max_dup_para_frac", s.gopher_repetition.max_dup_para_frac),
        ];
        for (name, v) in fracs {
            if !(0.0..=1.0).contains(&v) {
                return bad(format!("{name} = {v} is not a fraction in [0, 1]"));
            }
        }
        if s.gopher_quality.min_words > s.gopher_quality.max_words {
            return bad("signals.gopher_quality.min_words > max_words".into());
        }
        if s.gopher_quality.min_mean_word_length > s.gopher_quality.max_mean_word_length {
            return bad("signals.gopher_quality.min_mean_word_length > max_mean_word_length".into());
        }
        Ok(())
    }

    /// Rule overrides must name real rules; checked once the signals (and so their rule codes) are known.
    pub fn validate_rule_names(&self, known: &[crate::signal::RuleSpec]) -> Result<()> {
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
