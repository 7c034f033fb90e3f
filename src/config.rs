//! The TOML configuration: every knob has a default, unknown keys are errors, and [`Config::validate`]
//! checks the values before anything runs (so `svalbard validate` can vet a config for a DAG).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{Error, Result};
use crate::signal::{ResolvedSettings, Scorer, SignalsConfig};
use crate::spec::Action;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub input: crate::source::InputConfig,
    pub output: crate::sink::OutputConfig,
    pub pipeline: PipelineConfig,
    pub signals: SignalsConfig,
    pub onnx: crate::onnx::OnnxConfig,
    pub vintage: crate::decide::protection::VintageConfig,
    pub trust: crate::decide::protection::TrustConfig,
    /// One calibrated verdict from all signals (the policy file from `svalbard calibrate`).
    pub ensemble: crate::decide::ensemble::EnsembleConfig,
    /// Per-rule action overrides, e.g. `"c4.too_few_sentences" = "flag"`.
    pub rules: BTreeMap<String, Action>,
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

impl Config {
    /// The config in `path`, or the defaults without one (every subcommand's `--config`).
    pub fn load_or_default(path: Option<&Path>) -> Result<Self> {
        path.map_or_else(|| Ok(Config::default()), Config::load)
    }

    /// The settings resolved once from this config and handed to every component that needs them.
    pub fn resolved_settings(&self) -> ResolvedSettings {
        ResolvedSettings { workers: self.pipeline.workers(), onnx_library: self.onnx.library.clone() }
    }

    /// The scorer this config describes: its signals, rule overrides and ensemble.
    pub fn scorer(&self) -> Result<Scorer> {
        Scorer::from_config(&self.signals, &self.rules, &self.ensemble, &self.resolved_settings())
    }

    /// [`Config::scorer`], checked that every `[rules]` override names one of its rules (what `filter`,
    /// `validate` and `rules` run on).
    pub fn checked_scorer(&self) -> Result<Scorer> {
        let scorer = self.scorer()?;
        self.validate_rule_names(scorer.rules())?;
        Ok(scorer)
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
