//! Gopher quality rules (Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights from
//! Training Gopher", appendix A.1.1), with the published thresholds as defaults.
//!
//! Words are whitespace tokens with leading/trailing punctuation stripped; tokens that are only punctuation
//! are not words ("symbol tokens"). The reference implementation (datatrove) uses NLTK's tokenizer, which
//! splits punctuation off as separate tokens; see docs/results/datatrove-comparison.md for what that changes.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Action, Built, Doc, DocSignal, ResolvedSettings, ScratchSets, SignalConfig, SignalSpec, ratio, rule_bits};
use crate::check;
use crate::error::Result;
use crate::text::{hash_folded, split_lines, WordShapes};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GopherQualityConfig {
    pub enabled: bool,
    pub action: Action,
    pub min_words: usize,
    pub max_words: usize,
    pub min_mean_word_length: f32,
    pub max_mean_word_length: f32,
    /// Max ratio of '#' to tokens, and of ellipses ("..." or "…") to tokens.
    pub max_symbol_word_ratio: f32,
    pub max_bullet_lines_ratio: f32,
    pub max_ellipsis_lines_ratio: f32,
    /// Min fraction of tokens that contain an alphabetic character.
    pub min_alpha_words_ratio: f32,
    pub min_stop_words: usize,
    pub stop_words: Vec<String>,
}

impl Default for GopherQualityConfig {
    fn default() -> Self {
        GopherQualityConfig {
            enabled: true,
            action: Action::Reject,
            min_words: 50,
            max_words: 100_000,
            min_mean_word_length: 3.0,
            max_mean_word_length: 10.0,
            max_symbol_word_ratio: 0.1,
            max_bullet_lines_ratio: 0.9,
            max_ellipsis_lines_ratio: 0.3,
            min_alpha_words_ratio: 0.8,
            min_stop_words: 2,
            stop_words: ["the", "be", "to", "of", "and", "that", "have", "with"].map(String::from).to_vec(),
        }
    }
}

impl SignalConfig for GopherQualityConfig {
    fn enabled(&self) -> bool {
        self.enabled
    }

    fn validate(&self) -> Result<()> {
        const S: &str = "signals.gopher_quality";
        check::at_least(&format!("{S}.min_words"), self.min_words, 0)?;
        check::at_least(&format!("{S}.max_words"), self.max_words, 1)?;
        check::at_least(&format!("{S}.min_stop_words"), self.min_stop_words, 0)?;
        check::ordered(&format!("{S}.min_words"), self.min_words, &format!("{S}.max_words"), self.max_words)?;
        check::non_negative(&format!("{S}.min_mean_word_length"), self.min_mean_word_length)?;
        check::non_negative(&format!("{S}.max_mean_word_length"), self.max_mean_word_length)?;
        check::ordered(
            &format!("{S}.min_mean_word_length"),
            self.min_mean_word_length,
            &format!("{S}.max_mean_word_length"),
            self.max_mean_word_length,
        )?;
        // Symbols per word can exceed 1 ("### ### word").
        check::non_negative(&format!("{S}.max_symbol_word_ratio"), self.max_symbol_word_ratio)?;
        check::unit(&format!("{S}.max_bullet_lines_ratio"), self.max_bullet_lines_ratio)?;
        check::unit(&format!("{S}.max_ellipsis_lines_ratio"), self.max_ellipsis_lines_ratio)?;
        check::unit(&format!("{S}.min_alpha_words_ratio"), self.min_alpha_words_ratio)
    }

    fn build(&self, _: &ResolvedSettings) -> Result<Built> {
        Ok(Built::Doc(Arc::new(GopherQuality::new(self.clone()))))
    }
}

pub struct GopherQuality {
    config: GopherQualityConfig,
    stop_hashes: Vec<u64>,
    /// The stop words' shapes: a word of another shape is none of them, and most words are passed over
    /// without the search.
    stop_shapes: WordShapes,
    /// The bits of `seen` (in `score`) once every stop word has been seen.
    every_stop_word: u64,
    spec: SignalSpec,
}

impl GopherQuality {
    pub fn new(config: GopherQualityConfig) -> Self {
        let stop_hashes = config.stop_words.iter().map(|w| hash_folded(w.as_bytes())).collect();
        let mut stop_shapes = WordShapes::default();
        config.stop_words.iter().for_each(|w| stop_shapes.insert(w.as_bytes()));
        let every_stop_word = (0..config.stop_words.len()).fold(0u64, |bits, k| bits | 1 << (k % 64));
        let spec = SignalSpec::new(
            "gopher_quality",
            config.action,
            &[
                "word_count",
                "mean_word_length",
                "hash_ratio",
                "ellipsis_ratio",
                "bullet_line_frac",
                "ellipsis_line_frac",
                "alpha_word_frac",
                "stop_word_count",
            ],
            &[
                ("too_few_words", "fewer words than min_words"),
                ("too_many_words", "more words than max_words"),
                ("mean_word_length", "mean word length outside [min_mean_word_length, max_mean_word_length]"),
                ("hash_ratio", "'#' per token above max_symbol_word_ratio"),
                ("ellipsis_ratio", "ellipses per token above max_symbol_word_ratio"),
                ("bullet_lines", "fraction of lines starting with a bullet above max_bullet_lines_ratio"),
                ("ellipsis_lines", "fraction of lines ending with an ellipsis above max_ellipsis_lines_ratio"),
                ("alpha_words", "fraction of tokens with a letter below min_alpha_words_ratio"),
                ("stop_words", "fewer stop words than min_stop_words"),
            ],
        )
        .cost_rank(0);
        GopherQuality { config, stop_hashes, stop_shapes, every_stop_word, spec }
    }
}

impl DocSignal for GopherQuality {
    fn spec(&self) -> &SignalSpec {
        &self.spec
    }

    fn score(&self, doc: &Doc<'_>, out: &mut [f32], _: &mut ScratchSets) -> u64 {
        let c = &self.config;
        let a = doc.analysis;
        let n_words = a.words.len();
        let mean_len = if n_words == 0 {
            0.0
        } else {
            (a.words.iter().map(|w| w.chars as u64).sum::<u64>() as f64 / n_words as f64) as f32
        };
        let hash_ratio = ratio(a.n_hash, a.n_tokens);
        let ellipsis_ratio = ratio(a.n_ellipsis, a.n_tokens);
        let (mut n_lines, mut bullets, mut ellipsis_lines) = (0usize, 0usize, 0usize);
        for line in split_lines(doc.text) {
            n_lines += 1;
            let l = line.trim_start();
            bullets += (l.starts_with('•') || l.starts_with('-')) as usize;
            let r = line.trim_end();
            ellipsis_lines += (r.ends_with("...") || r.ends_with('…')) as usize;
        }
        let bullet_frac = ratio(bullets, n_lines);
        let ellipsis_line_frac = ratio(ellipsis_lines, n_lines);
        let alpha_frac = ratio(a.n_alpha_tokens, a.n_tokens);
        // "At least two of the following words": distinct stop words, not occurrences. Once every one has been
        // seen the count is final, which in most prose is a few sentences in.
        let mut seen = 0u64;
        for w in a.words.iter().map(|w| w.bytes(doc.text)).filter(|w| self.stop_shapes.may_contain(w)) {
            let folded = hash_folded(w);
            if let Some(k) = self.stop_hashes.iter().position(|&h| h == folded) {
                seen |= 1 << (k % 64);
                if seen == self.every_stop_word {
                    break;
                }
            }
        }
        let stop_words = seen.count_ones() as usize;

        out.copy_from_slice(&[
            n_words as f32,
            mean_len,
            hash_ratio,
            ellipsis_ratio,
            bullet_frac,
            ellipsis_line_frac,
            alpha_frac,
            stop_words as f32,
        ]);
        rule_bits(&[
            n_words < c.min_words,
            n_words > c.max_words,
            n_words > 0 && (mean_len < c.min_mean_word_length || mean_len > c.max_mean_word_length),
            hash_ratio > c.max_symbol_word_ratio,
            ellipsis_ratio > c.max_symbol_word_ratio,
            bullet_frac > c.max_bullet_lines_ratio,
            ellipsis_line_frac > c.max_ellipsis_lines_ratio,
            a.n_tokens > 0 && alpha_frac < c.min_alpha_words_ratio,
            stop_words < c.min_stop_words,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::test_util::{approx, run};

    fn small() -> GopherQuality {
        // Thresholds scaled down so hand-made examples stay short.
        GopherQuality::new(GopherQualityConfig { min_words: 3, ..Default::default() })
    }

    #[test]
    fn hand_computed_measures() {
        // Tokens: "The" "cat," "sat..." "-" "with" "#tag" "42"  → 7 tokens.
        // Words (punctuation stripped, symbol-only "-" dropped): The(3) cat(3) sat(3) with(4) tag(3) 42(2) → 6
        // mean length 18/6 = 3.0; '#' 1/7; ellipsis 1/7; alpha tokens: all but "-" and "42" → 5/7;
        // stop words: The, with → 2. Lines: "The cat, sat..." (ends with ...) and "- with #tag 42" (bullet).
        let text = "The cat, sat...\n- with #tag 42";
        let (cols, fired) = run(&small(), text);
        assert_eq!(cols["gopher_quality_word_count"], 6.0);
        assert!(approx(cols["gopher_quality_mean_word_length"], 3.0));
        assert!(approx(cols["gopher_quality_hash_ratio"], 1.0 / 7.0));
        assert!(approx(cols["gopher_quality_ellipsis_ratio"], 1.0 / 7.0));
        assert!(approx(cols["gopher_quality_bullet_line_frac"], 0.5));
        assert!(approx(cols["gopher_quality_ellipsis_line_frac"], 0.5));
        assert!(approx(cols["gopher_quality_alpha_word_frac"], 5.0 / 7.0));
        assert_eq!(cols["gopher_quality_stop_word_count"], 2.0);
        // 1/7 > 0.1 for both symbol ratios; 0.5 > 0.3 ellipsis lines; 5/7 < 0.8 alpha.
        assert_eq!(
            fired,
            vec![
                "gopher_quality.hash_ratio",
                "gopher_quality.ellipsis_ratio",
                "gopher_quality.ellipsis_lines",
                "gopher_quality.alpha_words"
            ]
        );
    }

    #[test]
    fn clean_prose_passes_published_thresholds() {
        let sentence = "The quick brown fox jumps over the lazy dog and then it runs to the river with friends. ";
        let text = sentence.repeat(4); // 18 words x 4
        let (cols, fired) = run(&GopherQuality::new(Default::default()), &text);
        assert_eq!(cols["gopher_quality_word_count"], 72.0);
        assert!(fired.is_empty(), "{fired:?}");
    }

    #[test]
    fn word_count_bounds() {
        let g = GopherQuality::new(GopherQualityConfig { min_words: 3, max_words: 4, ..Default::default() });
        assert!(run(&g, "the and").1.contains(&"gopher_quality.too_few_words".to_string()));
        assert!(run(&g, "the and of to with").1.contains(&"gopher_quality.too_many_words".to_string()));
        assert!(run(&g, "").1.contains(&"gopher_quality.too_few_words".to_string()));
    }

    #[test]
    fn mean_word_length_bounds() {
        // Mean 2.0 (<3): "to be or no" 4 words of 2 chars.
        let (cols, fired) = run(&small(), "to be or no");
        assert!(approx(cols["gopher_quality_mean_word_length"], 2.0));
        assert!(fired.contains(&"gopher_quality.mean_word_length".to_string()));
        // Mean 11 (>10).
        let (_, fired) = run(&small(), "abcdefghijk abcdefghijk the and");
        assert!(!fired.contains(&"gopher_quality.mean_word_length".to_string())); // (11+11+3+3)/4 = 7
        let (_, fired) = run(&small(), "abcdefghijkl abcdefghijkl abcdefghijkl");
        assert!(fired.contains(&"gopher_quality.mean_word_length".to_string()));
    }

    #[test]
    fn bullets_need_more_than_ninety_percent() {
        let lines: String = (0..9).map(|_| "- the item and more\n").collect::<String>() + "the end of it";
        let (cols, fired) = run(&small(), &lines);
        assert!(approx(cols["gopher_quality_bullet_line_frac"], 0.9));
        assert!(!fired.contains(&"gopher_quality.bullet_lines".to_string())); // 0.9 is not > 0.9
        let (_, fired) = run(&small(), "• the item\n• and more\n• of that");
        assert!(fired.contains(&"gopher_quality.bullet_lines".to_string()));
    }

    #[test]
    fn stop_words_are_case_insensitive() {
        let (cols, _) = run(&small(), "THE cat And dog");
        assert_eq!(cols["gopher_quality_stop_word_count"], 2.0);
        // Distinct words count, not occurrences: keyword spam of one stop word does not pass.
        let (cols, fired) = run(&small(), "the THE the The cat");
        assert_eq!(cols["gopher_quality_stop_word_count"], 1.0);
        assert!(fired.contains(&"gopher_quality.stop_words".to_string()));
    }

    #[test]
    fn configured_stop_words_of_any_length_count() {
        // Words are passed over by byte length first: a long, a non-ASCII and a 70-byte stop word still count.
        let long = "x".repeat(70);
        let stop_words = vec!["extraordinarily".to_string(), "für".to_string(), long.clone()];
        let q = GopherQuality::new(GopherQualityConfig { stop_words, ..Default::default() });
        let (cols, _) = run(&q, &format!("Extraordinarily good, für mich. {long} the"));
        assert_eq!(cols["gopher_quality_stop_word_count"], 3.0);
        let (cols, _) = run(&q, &format!("ordinarily fur {}", "x".repeat(69)));
        assert_eq!(cols["gopher_quality_stop_word_count"], 0.0);
    }
}
