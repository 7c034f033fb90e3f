//! LLM-style vocabulary: the rate of words that LLM output over-uses ("delve", "intricate", "tapestry", ...).
//!
//! The default list is `models/vocab/excess_words.txt`, compiled into the binary; its origin (Kobak et al.
//! 2024's excess-vocabulary study and the training data) is documented in `models/vocab/README.md`. A
//! config can point to another list (one word per line, `#` comments).

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Action, Built, Doc, DocSignal, ResolvedSettings, ScratchSets, SignalConfig, SignalSpec, ratio, rule_bits};
use crate::check;
use crate::error::{Error, Result};
use crate::text::{for_each_word, hash_folded, HashSet64, WordShapes};

pub const DEFAULT_WORDLIST: &str = include_str!("../../../../models/vocab/excess_words.txt");

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VocabConfig {
    pub enabled: bool,
    /// A weak signal on its own: flags by default, rejects only when configured to.
    pub action: Action,
    /// Word list file; the built-in list when absent.
    pub wordlist: Option<PathBuf>,
    /// The rule fires when the rate of listed words exceeds this and at least `min_count` occur.
    pub max_rate: f32,
    pub min_count: usize,
}

impl Default for VocabConfig {
    fn default() -> Self {
        VocabConfig { enabled: true, action: Action::Flag, wordlist: None, max_rate: 0.01, min_count: 3 }
    }
}

pub struct Vocab {
    config: VocabConfig,
    words: HashSet64,
    /// The listed words' shapes: most words of a text have none of them and are never hashed.
    shapes: WordShapes,
    spec: SignalSpec,
}

impl SignalConfig for VocabConfig {
    fn enabled(&self) -> bool {
        self.enabled
    }

    fn validate(&self) -> Result<()> {
        // A rate of listed words among all words.
        check::unit("signals.vocab.max_rate", self.max_rate)?;
        check::at_least("signals.vocab.min_count", self.min_count, 0)
    }

    fn build(&self, _: &ResolvedSettings) -> Result<Built> {
        Ok(Built::Doc(Arc::new(Vocab::new(self.clone())?)))
    }
}

/// Words of a list file: one per line, blank lines and `#` comments ignored.
pub fn parse_wordlist(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'))
}

impl Vocab {
    pub fn new(config: VocabConfig) -> Result<Self> {
        let owned;
        let text = match &config.wordlist {
            Some(path) => {
                owned = std::fs::read_to_string(path)
                    .map_err(|e| Error::Config(format!("signals.vocab.wordlist {}: {e}", path.display())))?;
                owned.as_str()
            }
            None => DEFAULT_WORDLIST,
        };
        let (mut words, mut shapes) = (HashSet64::default(), WordShapes::default());
        for w in parse_wordlist(text) {
            words.insert(hash_folded(w.as_bytes()));
            shapes.insert(w.as_bytes());
        }
        if words.is_empty() {
            return Err(Error::Config("signals.vocab: the word list is empty".into()));
        }
        let spec = SignalSpec::new(
            "vocab",
            config.action,
            &["excess_count", "excess_rate"],
            &[("excess_rate", "rate of LLM-overused words above max_rate")],
        )
        .detector()
        .without_analysis()
        .not_ensemble_inputs(&["excess_count"]);
        Ok(Vocab { config, words, shapes, spec })
    }
}

impl DocSignal for Vocab {
    fn spec(&self) -> &SignalSpec {
        &self.spec
    }

    /// Reads the words of the text itself, not the shared analysis: at the defaults `vocab` is the only reader of
    /// the canonical view's analysis, and the words and the few hashes it needs cost a fraction of it.
    fn score(&self, doc: &Doc<'_>, out: &mut [f32], _: &mut ScratchSets) -> u64 {
        let (mut words, mut hits) = (0usize, 0usize);
        for_each_word(doc.text, |w| {
            words += 1;
            hits += usize::from(self.shapes.may_contain(w) && self.words.contains(hash_folded(w)));
        });
        out[0] = hits as f32;
        out[1] = ratio(hits, words);
        rule_bits(&[hits >= self.config.min_count && out[1] > self.config.max_rate])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::test_util::{approx, run};

    #[test]
    fn rate_of_listed_words() {
        let v = Vocab::new(VocabConfig { min_count: 2, max_rate: 0.2, ..Default::default() }).unwrap();
        // Words: Let's delve into this intricate tapestry → 6 words, 3 listed (case-insensitive, punctuation stripped).
        let (cols, fired) = run(&v, "Let's DELVE into this intricate tapestry.");
        assert_eq!(cols["vocab_excess_count"], 3.0);
        assert!(approx(cols["vocab_excess_rate"], 0.5));
        assert_eq!(fired, vec!["vocab.excess_rate"]);
        let (cols, fired) = run(&v, "The cat sat on the mat.");
        assert_eq!(cols["vocab_excess_count"], 0.0);
        assert!(fired.is_empty());
    }

    /// `vocab` reads its words from the text ([`SignalSpec::reads_analysis`] is false): the same columns as
    /// from the analysis' words, on listed words of every length with punctuation, case and non-ASCII around
    /// them, and with no analysis at all, as the pipeline runs it.
    #[test]
    fn counts_the_analysis_words_without_the_analysis() {
        let v = Vocab::new(VocabConfig::default()).unwrap();
        assert!(!v.spec().reads_analysis);
        let listed: Vec<&str> = parse_wordlist(DEFAULT_WORDLIST).collect();
        let pieces = ["the", " ", "  ", "\n", ",", "\"", "(", "...", "\u{a0}", "\u{e9}", "\u{201c}", "x", "Delve", "1.5"];
        let mut rng = crate::eval::rng::Rng::new(0x5eed_0000_7e57_0001);
        let mut analysis = crate::text::Analysis::default();
        let no_analysis = crate::text::Analysis::default();
        let mut sets = (HashSet64::default(), HashSet64::default(), Vec::new());
        for case in 0..2000 {
            let mut t = String::new();
            for _ in 0..rng.below(40) {
                if rng.below(3) == 0 {
                    let w = listed[rng.below(listed.len() as u64) as usize];
                    t.push_str(&if rng.below(2) == 0 { w.to_uppercase() } else { w.to_string() });
                } else {
                    t.push_str(pieces[rng.below(pieces.len() as u64) as usize]);
                }
            }
            analysis.run(&t);
            let want = analysis.words.iter().filter(|w| v.words.contains(hash_folded(w.bytes(&t)))).count();
            let mut out = [f32::NAN; 2];
            let doc = Doc { text: &t, analysis: &no_analysis };
            v.score(&doc, &mut out, &mut ScratchSets { set_a: &mut sets.0, set_b: &mut sets.1, hashes: &mut sets.2 });
            assert_eq!(out[0], want as f32, "case {case}: {t:?}");
            assert_eq!(out[1], ratio(want, analysis.words.len()), "case {case}: {t:?}");
        }
    }

    #[test]
    fn custom_list_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.txt");
        std::fs::write(&p, "# my list\nfoo\n\nbar\n").unwrap();
        let v = Vocab::new(VocabConfig { wordlist: Some(p.clone()), min_count: 1, ..Default::default() }).unwrap();
        assert_eq!(run(&v, "foo bar baz delve").0["vocab_excess_count"], 2.0);
        std::fs::write(&p, "# nothing\n").unwrap();
        assert!(Vocab::new(VocabConfig { wordlist: Some(p), ..Default::default() }).is_err());
        assert!(Vocab::new(VocabConfig { wordlist: Some("/nonexistent/x".into()), ..Default::default() }).is_err());
    }
}
