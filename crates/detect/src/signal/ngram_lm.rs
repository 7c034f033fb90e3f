//! Perplexity under a word n-gram language model of human text (Kneser-Ney, [`crate::lm`]): machine text is
//! more predictable than human text, and varies less in surprise from sentence to sentence.
//!
//! Columns: `ngram_lm_perplexity`, `ngram_lm_sent_logppl_mean` and `ngram_lm_sent_logppl_std` (burstiness),
//! and `ngram_lm_bucket`, CCNet's head (0) / middle (1) / tail (2) split by perplexity thresholds. The model
//! is a binary built by `svalbard lm train` (memory-mapped) or a KenLM ARPA file. Its one rule,
//! `ngram_lm.low_perplexity`, fires below `low_perplexity` when that is set; the default only scores.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Action, Built, Doc, DocSignal, ResolvedSettings, ScratchSets, SignalConfig, SignalSpec, rule_bits};
use crate::check;
use crate::error::{Error, Result};
use crate::lm::NgramModel;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NgramLmConfig {
    pub enabled: bool,
    pub action: Action,
    /// Binary model from `svalbard lm train`, or an ARPA file (plain or .gz).
    pub model: Option<PathBuf>,
    /// Perplexity at or below which a document is in the head bucket...
    pub head_max_perplexity: f32,
    /// ...and at or above which it is in the tail bucket.
    pub tail_min_perplexity: f32,
    /// Fire `ngram_lm.low_perplexity` below this perplexity (unset: never).
    pub low_perplexity: Option<f32>,
}

impl Default for NgramLmConfig {
    fn default() -> Self {
        NgramLmConfig {
            enabled: false,
            action: Action::Flag,
            model: None,
            head_max_perplexity: 300.0,
            tail_min_perplexity: 1000.0,
            low_perplexity: None,
        }
    }
}

impl SignalConfig for NgramLmConfig {
    fn enabled(&self) -> bool {
        self.enabled
    }

    /// The values only; whether the model exists is checked when the signal is built.
    fn validate(&self) -> Result<()> {
        const S: &str = "signals.ngram_lm";
        let (head, tail) = (format!("{S}.head_max_perplexity"), format!("{S}.tail_min_perplexity"));
        check::positive(&head, self.head_max_perplexity)?;
        check::positive(&tail, self.tail_min_perplexity)?;
        check::ordered(&head, self.head_max_perplexity, &tail, self.tail_min_perplexity)?;
        check::optional(&format!("{S}.low_perplexity"), self.low_perplexity, check::positive)
    }

    fn build(&self, _: &ResolvedSettings) -> Result<Built> {
        Ok(Built::Doc(Arc::new(NgramLm::new(self.clone())?)))
    }
}

pub struct NgramLm {
    config: NgramLmConfig,
    model: NgramModel,
    spec: SignalSpec,
}

impl NgramLm {
    pub fn new(config: NgramLmConfig) -> Result<Self> {
        let path = config.model.clone().ok_or_else(|| {
            Error::Config(
                "signals.ngram_lm is enabled but has no model: build one with `svalbard lm train` \
                 (scripts/build_ngram.sh) or point it at a KenLM ARPA file"
                    .into(),
            )
        })?;
        config.validate()?;
        let model =
            NgramModel::load(&path).map_err(|e| Error::Model(format!("n-gram model {}: {e}", path.display())))?;
        let spec = SignalSpec::new(
            "ngram_lm",
            config.action,
            &["perplexity", "sent_logppl_mean", "sent_logppl_std", "bucket"],
            &[("low_perplexity", "perplexity below low_perplexity")],
        )
        .detector();
        Ok(NgramLm { config, model, spec })
    }
}

impl DocSignal for NgramLm {
    fn spec(&self) -> &SignalSpec {
        &self.spec
    }

    fn score(&self, doc: &Doc<'_>, out: &mut [f32], _: &mut ScratchSets) -> u64 {
        let s = self.model.score(doc.text);
        let ppl = s.perplexity as f32;
        out[0] = ppl;
        out[1] = s.sent_logppl_mean as f32;
        out[2] = s.sent_logppl_std as f32;
        out[3] = if ppl.is_nan() {
            f32::NAN
        } else if ppl <= self.config.head_max_perplexity {
            0.0
        } else if ppl >= self.config.tail_min_perplexity {
            2.0
        } else {
            1.0
        };
        rule_bits(&[self.config.low_perplexity.is_some_and(|t| ppl < t)])
    }
}
