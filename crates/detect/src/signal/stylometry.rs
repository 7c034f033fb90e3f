//! Stylometry: the rhythm and variety of a text's sentences and words, inputs for the ensemble (no rule of its
//! own). People vary sentence length more than a sampled language model does (the "burstiness" detectors such
//! as GPTZero popularised), and a model's word choice is less varied over a stretch of text.
//! - `sentence_words_mean`, `sentence_words_cv`: words per sentence, its mean and its coefficient of variation
//!   (standard deviation over mean; 0 with fewer than two sentences). A sentence ends at a word followed by
//!   `.`, `?`, `!` or a line break before the next word, and at the last word.
//! - `type_token_ratio`: distinct words (ASCII case folded) among the first `ttr_words` (100) words, over the
//!   words counted; a fixed window, since the plain ratio falls with length whoever wrote the text.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Action, Built, Doc, DocSignal, ResolvedSettings, ScratchSets, SignalConfig, SignalSpec, ratio};
use crate::check;
use crate::error::Result;
use crate::text::hash_folded;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StylometryConfig {
    pub enabled: bool,
    /// Words read for the type-token ratio.
    pub ttr_words: usize,
}

impl Default for StylometryConfig {
    fn default() -> Self {
        StylometryConfig { enabled: false, ttr_words: 100 }
    }
}

impl SignalConfig for StylometryConfig {
    fn enabled(&self) -> bool {
        self.enabled
    }

    fn validate(&self) -> Result<()> {
        check::at_least("signals.stylometry.ttr_words", self.ttr_words, 1)
    }

    fn build(&self, _: &ResolvedSettings) -> Result<Built> {
        Ok(Built::Doc(Arc::new(Stylometry::new(self.clone()))))
    }
}

pub struct Stylometry {
    config: StylometryConfig,
    spec: SignalSpec,
}

impl Stylometry {
    pub fn new(config: StylometryConfig) -> Self {
        let spec = SignalSpec::new(
            "stylometry",
            Action::Off,
            &["sentence_words_mean", "sentence_words_cv", "type_token_ratio"],
            &[],
        )
        .detector();
        Stylometry { config, spec }
    }
}

impl DocSignal for Stylometry {
    fn spec(&self) -> &SignalSpec {
        &self.spec
    }

    fn score(&self, doc: &Doc<'_>, out: &mut [f32], scratch: &mut ScratchSets) -> u64 {
        let words = &doc.analysis.words;
        let b = doc.text.as_bytes();
        let (mut sentences, mut sum, mut sum_sq, mut current) = (0usize, 0f64, 0f64, 0usize);
        for (k, w) in words.iter().enumerate() {
            current += 1;
            // The bytes between this word and the next: trailing punctuation, whitespace, opening marks.
            let gap = &b[w.end as usize..words.get(k + 1).map_or(b.len(), |n| n.start as usize)];
            if k + 1 == words.len() || gap.iter().any(|c| matches!(c, b'.' | b'?' | b'!' | b'\n')) {
                sentences += 1;
                sum += current as f64;
                sum_sq += (current * current) as f64;
                current = 0;
            }
        }
        let mean = if sentences == 0 { 0.0 } else { sum / sentences as f64 };
        let cv = if sentences < 2 {
            0.0
        } else {
            let var = (sum_sq / sentences as f64 - mean * mean).max(0.0);
            var.sqrt() / mean
        };
        out[0] = mean as f32;
        out[1] = cv as f32;
        let window = &words[..words.len().min(self.config.ttr_words)];
        scratch.set_a.clear();
        for w in window {
            scratch.set_a.insert(hash_folded(w.bytes(doc.text)));
        }
        out[2] = ratio(scratch.set_a.len(), window.len());
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::test_util::{approx, run};

    #[test]
    fn sentence_lengths_and_word_variety() {
        let s = Stylometry::new(StylometryConfig::default());
        // Sentences of 2 (ended by the line break), 4 and 3 words: mean 3, population std sqrt(2/3).
        let (cols, fired) = run(&s, "Go now\nIs it the end? Maybe the end");
        assert!(fired.is_empty());
        assert!(approx(cols["stylometry_sentence_words_mean"], 3.0));
        assert!(approx(cols["stylometry_sentence_words_cv"], (2.0f64 / 3.0).sqrt() / 3.0));
        // 9 words, 7 distinct ("the" and "end" twice; "Is"/"is" would be one).
        assert!(approx(cols["stylometry_type_token_ratio"], 7.0 / 9.0));
    }

    #[test]
    fn one_sentence_and_empty_text() {
        let s = Stylometry::new(StylometryConfig { ttr_words: 2, ..Default::default() });
        let (cols, _) = run(&s, "the the the");
        assert_eq!(cols["stylometry_sentence_words_mean"], 3.0);
        assert_eq!(cols["stylometry_sentence_words_cv"], 0.0);
        // Only the first two words are read: one distinct of two.
        assert_eq!(cols["stylometry_type_token_ratio"], 0.5);
        let (cols, _) = run(&s, "");
        assert!(cols.values().all(|&v| v == 0.0));
    }
}
