//! C4 rules (Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a Unified Text-to-Text
//! Transformer", section 2.2), in the form of the reference implementation (datatrove's `C4QualityFilter`).
//!
//! C4 both drops lines and drops documents. svalbard never edits text, so the line-level rules become
//! measures (`c4_kept_line_frac`) and the document-level rules decide: a kept line containing "lorem
//! ipsum" or a curly bracket, or fewer than `min_sentences` sentences in the kept lines. A line is kept
//! when, after stripping and removing citation marks ([1], [edit], [citation needed]), it ends in terminal
//! punctuation (and not "..."), has at least `min_words_per_line` words, has no word longer than
//! `max_word_length`, and mentions neither "javascript" nor a cookie/privacy-policy phrase.
//!
//! Sentences are counted with a rule (terminal punctuation followed by a space and an upper-case letter,
//! digit or quote, plus the line's end), where datatrove uses NLTK's Punkt model.

use std::sync::Arc;

use aho_corasick::AhoCorasick;
use serde::{Deserialize, Serialize};

use super::{Action, Built, Doc, DocSignal, ResolvedSettings, ScratchSets, SignalConfig, SignalSpec, ratio, rule_bits};
use crate::check;
use crate::error::Result;
use crate::text::{py_strip, split_lines};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct C4Config {
    pub enabled: bool,
    pub action: Action,
    pub min_sentences: usize,
    pub min_words_per_line: usize,
    pub max_word_length: usize,
    pub policy_substrings: Vec<String>,
}

impl Default for C4Config {
    fn default() -> Self {
        C4Config {
            enabled: true,
            action: Action::Reject,
            min_sentences: 5,
            min_words_per_line: 3,
            max_word_length: 1000,
            policy_substrings: [
                "terms of use",
                "privacy policy",
                "cookie policy",
                "uses cookies",
                "use of cookies",
                "use cookies",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl SignalConfig for C4Config {
    fn enabled(&self) -> bool {
        self.enabled
    }

    fn validate(&self) -> Result<()> {
        // 0 would drop every line that holds a word.
        check::at_least("signals.c4.max_word_length", self.max_word_length, 1)?;
        check::at_least("signals.c4.min_sentences", self.min_sentences, 0)?;
        check::at_least("signals.c4.min_words_per_line", self.min_words_per_line, 0)
    }

    fn build(&self, _: &ResolvedSettings) -> Result<Built> {
        Ok(Built::Doc(Arc::new(C4::new(self.clone()))))
    }
}

pub struct C4 {
    config: C4Config,
    /// Patterns 0 = "lorem ipsum", 1 = "javascript", 2.. = policy substrings; ASCII case-insensitive.
    patterns: AhoCorasick,
    spec: SignalSpec,
}

const END_PUNCTUATION: [char; 5] = ['.', '?', '!', '"', '\''];

impl C4 {
    pub fn new(config: C4Config) -> Self {
        let mut pats = vec!["lorem ipsum".to_string(), "javascript".to_string()];
        pats.extend(config.policy_substrings.iter().cloned());
        let patterns =
            AhoCorasick::builder().ascii_case_insensitive(true).build(&pats).expect("C4 patterns are valid literals");
        let spec = SignalSpec::new(
            "c4",
            config.action,
            &["kept_line_frac", "sentence_count"],
            &[
                ("lorem_ipsum", "a kept line contains 'lorem ipsum'"),
                ("curly_bracket", "a kept line contains '{'"),
                ("too_few_sentences", "fewer than min_sentences sentences in kept lines"),
            ],
        )
        .cost_rank(2);
        C4 { config, patterns, spec }
    }
}

/// Remove trailing citation marks so "text.[1]" ends with '.'; the reference removes them everywhere, but
/// only the line's end and its substrings matter for the rules.
fn strip_trailing_citations(mut line: &str) -> &str {
    loop {
        let before = line;
        for tail in ["[edit]", "[citation needed]"] {
            if let Some(s) = line.strip_suffix(tail) {
                line = s;
            }
        }
        if let Some(s) = line.strip_suffix(']') {
            let digits = s.trim_end_matches(|c: char| c.is_ascii_digit());
            if let Some(s2) = digits.strip_suffix('[') {
                line = s2;
            }
        }
        if line.len() == before.len() {
            return line;
        }
    }
}

/// Whether a line has at least `min_words` words (Python `str.split()`) and whether one is longer than
/// `max_len` chars: `(enough_words, too_long)`.
///
/// Only these two answers matter to the rules, which is what makes this cheap: counting stops at
/// `min_words`, and a line of at most `max_len` bytes cannot hold a word of more than `max_len` chars.
fn word_stats(line: &str, max_len: usize, min_words: usize) -> (bool, bool) {
    let b = line.as_bytes();
    let too_long = b.len() > max_len
        && if line.is_ascii() {
            has_ascii_run_longer_than(b, max_len)
        } else {
            line.split(crate::text::is_space_char).any(|w| w.len() > max_len && w.chars().count() > max_len)
        };
    let enough_words =
        min_words == 0 || line.split(crate::text::is_space_char).filter(|w| !w.is_empty()).nth(min_words - 1).is_some();
    (enough_words, too_long)
}

/// Whether ASCII `b` holds a run of more than `max` bytes without whitespace.
///
/// Looks at windows of `max + 1` bytes from the right: the last whitespace in a window bounds every run that
/// starts inside it, so the scan jumps about `max` bytes at a time instead of reading every byte.
fn has_ascii_run_longer_than(b: &[u8], max: usize) -> bool {
    // Every run starting before `s` is known to be short.
    let mut s = 0usize;
    while s + max < b.len() {
        match b[s..=s + max].iter().rposition(|&c| crate::text::is_ascii_ws(c)) {
            None => return true,
            Some(q) => s += q + 1,
        }
    }
    false
}

/// Sentences in a kept line (which ends with terminal punctuation, so it has at least one).
fn count_sentences(line: &str) -> usize {
    let closers =
        |c: char| matches!(c, '.' | '!' | '?' | '"' | '\'' | ')' | ']' | '\u{201D}' | '\u{2019}' | '\u{00BB}');
    let openers = |c: char| {
        c.is_uppercase() || c.is_ascii_digit() || matches!(c, '"' | '\'' | '(' | '\u{201C}' | '\u{2018}' | '\u{00AB}')
    };
    // Skip the chars of `s` that satisfy `pred`; whether any was skipped.
    let skip = |s: &mut &str, pred: &dyn Fn(char) -> bool| {
        let n = s.char_indices().find(|&(_, c)| !pred(c)).map_or(s.len(), |(i, _)| i);
        *s = &s[n..];
        n > 0
    };
    const ELLIPSIS: &[u8] = "\u{2026}".as_bytes();
    let b = line.as_bytes();
    // The terminators are found with memchr (most of a line is none of them); '…' is rare, so its next
    // position is searched for again only once the scan has passed it.
    let mut next_ellipsis = memchr::memmem::find(b, ELLIPSIS);
    let mut n = 1;
    let mut pos = 0usize;
    loop {
        if next_ellipsis.is_some_and(|e| e < pos) {
            next_ellipsis = memchr::memmem::find(&b[pos..], ELLIPSIS).map(|e| pos + e);
        }
        let ascii = memchr::memchr3(b'.', b'!', b'?', &b[pos..]).map(|o| pos + o);
        let end = match (ascii, next_ellipsis) {
            (Some(a), Some(e)) if e < a => e + ELLIPSIS.len(),
            (Some(a), _) => a + 1,
            (None, Some(e)) => e + ELLIPSIS.len(),
            (None, None) => return n,
        };
        let mut rest = &line[end..];
        skip(&mut rest, &closers);
        let spaced = skip(&mut rest, &|c: char| c.is_whitespace());
        if spaced && rest.chars().next().is_some_and(openers) {
            n += 1;
        }
        pos = line.len() - rest.len();
    }
}

impl DocSignal for C4 {
    fn spec(&self) -> &SignalSpec {
        &self.spec
    }

    fn score(&self, doc: &Doc<'_>, out: &mut [f32], _: &mut ScratchSets) -> u64 {
        let c = &self.config;
        let (mut lines, mut kept, mut sentences) = (0usize, 0usize, 0usize);
        let (mut lorem, mut curly) = (false, false);
        for raw in split_lines(doc.text) {
            lines += 1;
            let line = py_strip(raw);
            let (enough_words, too_long) = word_stats(line, c.max_word_length, c.min_words_per_line);
            if too_long {
                continue;
            }
            let line = strip_trailing_citations(line);
            if !line.ends_with(END_PUNCTUATION) || line.ends_with("...") {
                continue;
            }
            if !enough_words {
                continue;
            }
            let mut javascript = false;
            let mut policy = false;
            // Most lines hold no pattern: one search that stops at the first match (and can use the searcher's
            // prefilter) clears them; only a line that holds one is searched for all of them.
            if self.patterns.is_match(line) {
                for m in self.patterns.find_overlapping_iter(line) {
                    match m.pattern().as_usize() {
                        0 => lorem = true,
                        1 => javascript = true,
                        _ => policy = true,
                    }
                }
            }
            if lorem {
                break;
            }
            if javascript {
                continue;
            }
            if line.contains('{') {
                curly = true;
                break;
            }
            if policy {
                continue;
            }
            kept += 1;
            sentences += count_sentences(line);
        }
        out[0] = ratio(kept, lines);
        out[1] = sentences as f32;
        rule_bits(&[lorem, curly, !lorem && !curly && sentences < c.min_sentences])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::test_util::{approx, run};

    fn c4() -> C4 {
        C4::new(C4Config { min_sentences: 2, ..Default::default() })
    }

    #[test]
    fn keeps_and_drops_lines() {
        let text = [
            "This line is kept because it ends well.",   // kept, 1 sentence
            "This one has no terminal punctuation",      // dropped
            "Too short.",                                // dropped (2 words)
            "Enable JavaScript to see this page.",       // dropped (javascript)
            "This site uses cookies to improve things.", // dropped (policy)
            "Ends with an ellipsis...",                  // dropped
            "A cited fact is here.[12]",                 // kept after citation removal
            "Two sentences here. And a second one!",     // kept, 2 sentences
        ]
        .join("\n");
        let (cols, fired) = run(&c4(), &text);
        assert!(approx(cols["c4_kept_line_frac"], 3.0 / 8.0));
        assert_eq!(cols["c4_sentence_count"], 4.0);
        assert!(fired.is_empty(), "{fired:?}");
    }

    #[test]
    fn lorem_ipsum_and_curly_brackets_reject() {
        let (_, fired) = run(&c4(), "Lorem ipsum dolor sit amet, consectetur.");
        assert_eq!(fired, vec!["c4.lorem_ipsum"]);
        let (_, fired) = run(&c4(), "The function body is { return x; } here.");
        assert_eq!(fired, vec!["c4.curly_bracket"]);
        // A curly bracket on a line that is dropped anyway does not count.
        let (_, fired) = run(&c4(), "if (x) { y }\nOne good sentence is here. And another one here.");
        assert!(fired.is_empty(), "{fired:?}");
    }

    #[test]
    fn too_few_sentences() {
        let (cols, fired) = run(&c4(), "Only one sentence in this document.");
        assert_eq!(cols["c4_sentence_count"], 1.0);
        assert_eq!(fired, vec!["c4.too_few_sentences"]);
    }

    #[test]
    fn sentence_counter() {
        assert_eq!(count_sentences("One. Two! Three? four."), 3); // "four" is lower-case
        assert_eq!(count_sentences("He said \"no.\" Then left."), 2);
        assert_eq!(count_sentences("Version 2.0 is out."), 1);
        // Curly quotes and non-ASCII capitals.
        assert_eq!(count_sentences("It ended on Tuesday. \u{201C}The outcome is clear,\u{201D} she said."), 2);
        assert_eq!(count_sentences("They will negotiate.\u{201D} We wait. \u{00C9}t\u{00E9} arrives."), 3);
    }

    #[test]
    fn sentence_counter_ellipses_and_runs_of_terminators() {
        assert_eq!(count_sentences("Wait\u{2026} Then it came."), 2);
        assert_eq!(count_sentences("Wait\u{2026}Then it came."), 1); // no space after the ellipsis
        assert_eq!(count_sentences("Really?! Yes. \u{2026} No\u{2026} Maybe."), 4); // "…" after "Yes. " is no opener
        assert_eq!(count_sentences("a. . B"), 2); // the second '.' is a terminator of its own
        assert_eq!(count_sentences("Ends here."), 1);
    }

    #[test]
    fn word_stats_counts_to_the_minimum_and_finds_long_words() {
        assert_eq!(word_stats("one two", 1000, 3), (false, false));
        assert_eq!(word_stats(" one  two\tthree ", 1000, 3), (true, false));
        assert_eq!(word_stats("one\u{3000}two\u{a0}three", 1000, 3), (true, false)); // Unicode spaces split
        assert_eq!(word_stats("", 1000, 0), (true, false));
        assert_eq!(word_stats("abcd ab", 3, 1), (true, true));
        assert_eq!(word_stats("abc ab", 3, 1), (true, false));
        // Chars, not bytes: four two-byte chars are a word of 4.
        assert_eq!(word_stats("\u{e9}\u{e9}\u{e9} x", 3, 1), (true, false));
        assert_eq!(word_stats("\u{e9}\u{e9}\u{e9}\u{e9} x", 3, 1), (true, true));
    }

    #[test]
    fn long_run_search_matches_a_scan_of_every_byte() {
        // Deterministic pseudo-random strings of letters and spaces, every max from 0 to 12.
        let mut rng = crate::eval::rng::Rng::new(0x2545_f491_4f6c_dd1d);
        for _ in 0..2000 {
            let x = rng.next_u64();
            let len = (x % 40) as usize;
            let s: Vec<u8> = (0..len).map(|i| if (x >> (i % 64)) & 3 == 0 { b' ' } else { b'a' }).collect();
            let longest = s.split(|&c| c == b' ').map(<[u8]>::len).max().unwrap_or(0);
            for max in 0..13 {
                assert_eq!(
                    has_ascii_run_longer_than(&s, max),
                    longest > max,
                    "{:?} {max}",
                    String::from_utf8_lossy(&s)
                );
            }
        }
    }

    #[test]
    fn citation_stripping() {
        assert_eq!(strip_trailing_citations("fact.[1][23]"), "fact.");
        assert_eq!(strip_trailing_citations("fact.[citation needed]"), "fact.");
        assert_eq!(strip_trailing_citations("fact.[edit]"), "fact.");
        assert_eq!(strip_trailing_citations("a[b]"), "a[b]");
    }
}
