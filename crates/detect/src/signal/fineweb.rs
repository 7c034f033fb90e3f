//! FineWeb quality rules (Penedo et al. 2024, "The FineWeb Datasets", section 3.3), as in the reference
//! implementation (datatrove's `FineWebQualityFilter`), over the non-blank lines of a document:
//! - fraction of lines ending in terminal punctuation ≥ `min_line_punct_frac` (0.12);
//! - fraction of lines of at most `short_line_chars` (30) chars ≤ `max_short_line_frac` (0.67);
//! - chars in duplicated lines over the document's chars excluding newlines ≤ `max_dup_line_char_frac` (0.01);
//! - newlines per word ≤ `max_newline_word_ratio` (0.3).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Action, Built, Doc, DocSignal, ResolvedSettings, ScratchSets, SignalConfig, SignalSpec, ratio, rule_bits};
use crate::check;
use crate::error::Result;
use crate::text::{count_duplicates, py_strip};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FineWebConfig {
    pub enabled: bool,
    pub action: Action,
    pub min_line_punct_frac: f32,
    pub short_line_chars: usize,
    pub max_short_line_frac: f32,
    pub max_dup_line_char_frac: f32,
    pub max_newline_word_ratio: f32,
}

impl Default for FineWebConfig {
    fn default() -> Self {
        FineWebConfig {
            enabled: true,
            action: Action::Reject,
            min_line_punct_frac: 0.12,
            short_line_chars: 30,
            max_short_line_frac: 0.67,
            max_dup_line_char_frac: 0.01,
            max_newline_word_ratio: 0.3,
        }
    }
}

impl SignalConfig for FineWebConfig {
    fn enabled(&self) -> bool {
        self.enabled
    }

    fn validate(&self) -> Result<()> {
        const S: &str = "signals.fineweb";
        check::unit(&format!("{S}.min_line_punct_frac"), self.min_line_punct_frac)?;
        check::at_least(&format!("{S}.short_line_chars"), self.short_line_chars, 0)?;
        check::unit(&format!("{S}.max_short_line_frac"), self.max_short_line_frac)?;
        check::unit(&format!("{S}.max_dup_line_char_frac"), self.max_dup_line_char_frac)?;
        // Newlines per word can exceed 1 (a list of one-word lines with blank lines between them).
        check::non_negative(&format!("{S}.max_newline_word_ratio"), self.max_newline_word_ratio)
    }

    fn build(&self, _: &ResolvedSettings) -> Result<Built> {
        Ok(Built::Doc(Arc::new(FineWeb::new(self.clone()))))
    }
}

pub struct FineWeb {
    config: FineWebConfig,
    spec: SignalSpec,
}

impl FineWeb {
    pub fn new(config: FineWebConfig) -> Self {
        let spec = SignalSpec::new(
            "fineweb",
            config.action,
            &["line_punct_frac", "short_line_frac", "dup_line_char_frac", "newline_word_ratio"],
            &[
                ("empty", "no non-blank line"),
                ("line_punct", "too few lines end in terminal punctuation"),
                ("short_lines", "too many short lines"),
                ("dup_line_char", "too many chars in duplicated lines"),
                ("list_ratio", "too many newlines per word"),
            ],
        )
        .cost_rank(1);
        FineWeb { config, spec }
    }
}

/// Sentence-ending punctuation across scripts (a subset of datatrove's TERMINAL_PUNCTUATION).
fn ends_with_terminal_punct(line: &str) -> bool {
    line.ends_with([
        '.', '!', '?', '\u{2026}', '\u{3002}', '\u{FF01}', '\u{FF1F}', '\u{FF0E}', '\u{061F}', '\u{06D4}', '\u{0964}',
        '\u{0965}', '\u{203C}', '\u{203D}', '\u{2047}', '\u{2048}', '\u{2049}', '\u{FE52}', '\u{FE56}', '\u{FE57}',
        '\u{FF61}',
    ])
}

impl DocSignal for FineWeb {
    fn spec(&self) -> &SignalSpec {
        &self.spec
    }

    fn score(&self, doc: &Doc<'_>, out: &mut [f32], sets: &mut ScratchSets) -> u64 {
        let c = &self.config;
        let lines = doc.text.split('\n').filter(|l| !py_strip(l).is_empty());
        let (mut punct, mut short) = (0usize, 0usize);
        let (n, _, dup_chars) = count_duplicates(
            lines.inspect(|line| {
                punct += ends_with_terminal_punct(line) as usize;
                // Lines are short or long by chars; a char takes 1 to 4 bytes, so bytes bound chars both ways.
                let len = line.len();
                short += (len <= c.short_line_chars
                    || (len <= 4 * c.short_line_chars && line.chars().count() <= c.short_line_chars))
                    as usize;
            }),
            sets.set_a,
        );
        let a = doc.analysis;
        out[0] = ratio(punct, n);
        out[1] = ratio(short, n);
        out[2] = ratio(dup_chars, a.n_chars - a.n_newlines);
        out[3] = ratio(a.n_newlines, a.n_tokens);
        let empty = n == 0;
        rule_bits(&[
            empty,
            !empty && out[0] < c.min_line_punct_frac,
            !empty && out[1] > c.max_short_line_frac,
            !empty && out[2] > c.max_dup_line_char_frac,
            !empty && a.n_tokens > 0 && out[3] > c.max_newline_word_ratio,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::test_util::{approx, run};

    #[test]
    fn hand_computed() {
        // Non-blank lines: "Short one." (10 chars), "Another line without an end here" (32), "Short one." (10).
        // punct: 2/3; short (<=30): 2/3; duplicated line chars: 10 of (10+32+10 = 52, newlines excluded);
        // tokens 2+6+2 = 10, newlines 3 → 0.3.
        let text = "Short one.\nAnother line without an end here\n\nShort one.";
        let (cols, fired) = run(&FineWeb::new(Default::default()), text);
        assert!(approx(cols["fineweb_line_punct_frac"], 2.0 / 3.0));
        assert!(approx(cols["fineweb_short_line_frac"], 2.0 / 3.0));
        assert!(approx(cols["fineweb_dup_line_char_frac"], 10.0 / 52.0));
        assert!(approx(cols["fineweb_newline_word_ratio"], 0.3));
        assert_eq!(fired, vec!["fineweb.dup_line_char"]); // 2/3 is not > 0.67; 0.3 is not > 0.3
    }

    #[test]
    fn lists_and_missing_punctuation() {
        let text = "apples\npears\nplums\ncherries";
        let (_, fired) = run(&FineWeb::new(Default::default()), text);
        assert_eq!(fired, vec!["fineweb.line_punct", "fineweb.short_lines", "fineweb.list_ratio"]);
        let (_, fired) = run(&FineWeb::new(Default::default()), " \n\n");
        assert_eq!(fired, vec!["fineweb.empty"]);
    }
}
