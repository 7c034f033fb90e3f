//! Gopher repetition rules (Rae et al. 2021, appendix A.1.1, table A1), with the published thresholds as
//! defaults and the measures defined as in the reference implementation (datatrove's
//! `GopherRepetitionFilter`):
//! - duplicate line / paragraph fraction: elements equal to an earlier element, over all elements;
//! - duplicate line / paragraph char fraction: chars in those repeats over the document's chars;
//! - top n-gram char fraction (n = 2, 3, 4): length of the most frequent n-gram (words joined by a space)
//!   times its count, over the document's chars (ties go to the n-gram seen first);
//! - duplicate n-gram char fraction (n = 5..10): scanning left to right, an n-gram already seen adds its
//!   chars (words concatenated) and the scan jumps past it.
//!
//! All n-gram sizes come from one chain of hashes: the hash of the n-gram at position i extends the
//! (n-1)-gram hash at i by one word, and an n-gram is only counted where its (n-1)-gram prefix repeats, since
//! an n-gram whose prefix is unique is unique too. In ordinary prose few long prefixes repeat, so sizes
//! 4..10 cost little beyond the 2-gram pass.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Action, Built, Doc, DocSignal, ResolvedSettings, ScratchSets, SignalConfig, SignalSpec, ratio, rule_bits};
use crate::check;
use crate::error::Result;
use crate::text::{combine, count_duplicates, hash_bytes, py_strip};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GopherRepetitionConfig {
    pub enabled: bool,
    pub action: Action,
    pub max_dup_line_frac: f32,
    pub max_dup_para_frac: f32,
    pub max_dup_line_char_frac: f32,
    pub max_dup_para_char_frac: f32,
    /// Max char fraction of the top 2-, 3- and 4-gram.
    pub max_top_ngram_char_frac: [f32; 3],
    /// Max duplicate n-gram char fraction for n = 5, 6, 7, 8, 9, 10.
    pub max_dup_ngram_char_frac: [f32; 6],
}

impl Default for GopherRepetitionConfig {
    fn default() -> Self {
        GopherRepetitionConfig {
            enabled: true,
            action: Action::Reject,
            max_dup_line_frac: 0.30,
            max_dup_para_frac: 0.30,
            max_dup_line_char_frac: 0.20,
            max_dup_para_char_frac: 0.20,
            max_top_ngram_char_frac: [0.20, 0.18, 0.16],
            max_dup_ngram_char_frac: [0.15, 0.14, 0.13, 0.12, 0.11, 0.10],
        }
    }
}

impl SignalConfig for GopherRepetitionConfig {
    fn enabled(&self) -> bool {
        self.enabled
    }

    fn validate(&self) -> Result<()> {
        const S: &str = "signals.gopher_repetition";
        check::unit(&format!("{S}.max_dup_line_frac"), self.max_dup_line_frac)?;
        check::unit(&format!("{S}.max_dup_para_frac"), self.max_dup_para_frac)?;
        check::unit(&format!("{S}.max_dup_line_char_frac"), self.max_dup_line_char_frac)?;
        check::unit(&format!("{S}.max_dup_para_char_frac"), self.max_dup_para_char_frac)?;
        for (i, &v) in self.max_top_ngram_char_frac.iter().enumerate() {
            check::unit(&format!("{S}.max_top_ngram_char_frac[{i}]"), v)?;
        }
        for (i, &v) in self.max_dup_ngram_char_frac.iter().enumerate() {
            check::unit(&format!("{S}.max_dup_ngram_char_frac[{i}]"), v)?;
        }
        Ok(())
    }

    fn build(&self, _: &ResolvedSettings) -> Result<Built> {
        Ok(Built::Doc(Arc::new(GopherRepetition::new(self.clone()))))
    }
}

pub struct GopherRepetition {
    config: GopherRepetitionConfig,
    spec: SignalSpec,
}

const COLUMNS: [&str; 13] = [
    "dup_line_frac",
    "dup_para_frac",
    "dup_line_char_frac",
    "dup_para_char_frac",
    "top_2gram_char_frac",
    "top_3gram_char_frac",
    "top_4gram_char_frac",
    "dup_5gram_char_frac",
    "dup_6gram_char_frac",
    "dup_7gram_char_frac",
    "dup_8gram_char_frac",
    "dup_9gram_char_frac",
    "dup_10gram_char_frac",
];

impl GopherRepetition {
    pub fn new(config: GopherRepetitionConfig) -> Self {
        let rules: Vec<(String, String)> = COLUMNS
            .iter()
            .map(|c| {
                let code = c.trim_end_matches("_frac").to_string();
                (code, format!("{c} above its threshold"))
            })
            .collect();
        let rules: Vec<(&str, &str)> = rules.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let spec = SignalSpec::new("gopher_repetition", config.action, &COLUMNS, &rules).cost_rank(3);
        GopherRepetition { config, spec }
    }
}

/// Paragraphs: `re.split(r"\n{2,}", text.strip())`.
fn paragraphs(text: &str) -> impl Iterator<Item = &str> {
    let t = py_strip(text);
    let b = t.as_bytes();
    let mut start = 0usize;
    let mut i = 0usize;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        while let Some(off) = memchr::memchr(b'\n', &b[i..]) {
            i += off;
            if i + 1 < b.len() && b[i + 1] == b'\n' {
                let para = &t[start..i];
                while i < b.len() && b[i] == b'\n' {
                    i += 1;
                }
                start = i;
                return Some(para);
            }
            i += 1;
        }
        done = true;
        Some(&t[start..])
    })
}

/// Lines: `re.split(r"\n+", text)`.
fn newline_runs_split(text: &str) -> impl Iterator<Item = &str> {
    let b = text.as_bytes();
    let mut start = 0usize;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        match memchr::memchr(b'\n', &b[start..]) {
            Some(off) => {
                let end = start + off;
                let line = &text[start..end];
                let mut j = end;
                while j < b.len() && b[j] == b'\n' {
                    j += 1;
                }
                start = j;
                Some(line)
            }
            None => {
                done = true;
                Some(&text[start..])
            }
        }
    })
}

/// Measures over word n-grams: [top 2,3,4-gram chars, dup 5..10-gram chars].
///
/// Level n only visits the positions whose (n-1)-gram repeats somewhere ("candidates"): every other n-gram
/// occurs once, which is all the measures need to know about it.
fn ngram_chars(text: &str, words: &[crate::text::Word], sets: &mut ScratchSets) -> [usize; 9] {
    let mut result = [0usize; 9];
    let w = words.len();
    if w < 2 {
        return result;
    }
    // Reused buffer: prefix char sums (w+1), each word's hash (w), n-gram hash by position (w), candidate
    // positions (w), next (w), and each candidate's slot in the counts (w). Every cell is written before it is
    // read, so the buffer is only grown, never zeroed.
    let buf = &mut *sets.hashes;
    if buf.len() < 6 * w + 1 {
        buf.resize(6 * w + 1, 0);
    }
    let (prefix, rest) = buf[..6 * w + 1].split_at_mut(w + 1);
    prefix[0] = 0;
    let (word_hash, rest) = rest.split_at_mut(w);
    let (hash, rest) = rest.split_at_mut(w);
    let (cands, rest) = rest.split_at_mut(w);
    let (next, slots) = rest.split_at_mut(w);
    for (i, word) in words.iter().enumerate() {
        prefix[i + 1] = prefix[i] + word.chars as u64;
        word_hash[i] = hash_bytes(word.bytes(text));
        hash[i] = word_hash[i];
        cands[i] = i as u64;
    }
    let mut n_cands = w;
    let counts = &mut *sets.set_a;
    let seen = &mut *sets.set_b;
    for n in 2..=10usize {
        if w < n {
            break;
        }
        let m = w - n + 1;
        let chars = |i: usize| (prefix[i + n] - prefix[i]) as usize;
        // Candidates that still start a full n-gram; their hashes extend by one word.
        while n_cands > 0 && cands[n_cands - 1] as usize >= m {
            n_cands -= 1;
        }
        counts.clear();
        // Room for every candidate, so that the slots stay put while they are counted.
        counts.reserve_for(n_cands);
        for (&p, slot) in cands[..n_cands].iter().zip(slots.iter_mut()) {
            let p = p as usize;
            hash[p] = combine(hash[p], word_hash[p + n - 1]);
            *slot = counts.increment(hash[p]) as u64;
        }
        let mut n_next = 0;
        let mut best = (1u32, 0usize); // (count, first position with it): the first n-gram if none repeats
        for (&p, &slot) in cands[..n_cands].iter().zip(slots.iter()) {
            let c = counts.count_at(slot as usize);
            if c >= 2 {
                next[n_next] = p;
                n_next += 1;
                if c > best.0 {
                    best = (c, p as usize);
                }
            }
        }
        if n <= 4 {
            // Counter.most_common(1): highest count, first-inserted on ties.
            result[n - 2] = (chars(best.1) + n - 1) * best.0 as usize;
        } else {
            seen.clear();
            seen.reserve_for(n_next);
            let (mut idx, mut repeated) = (0usize, 0usize);
            for &p in &next[..n_next] {
                let p = p as usize;
                if p < idx {
                    continue;
                }
                if seen.insert(hash[p]) {
                    idx = p + 1;
                } else {
                    repeated += chars(p);
                    idx = p + n;
                }
            }
            result[n - 2] = repeated;
        }
        cands[..n_next].copy_from_slice(&next[..n_next]);
        n_cands = n_next;
    }
    result
}

impl DocSignal for GopherRepetition {
    fn spec(&self) -> &SignalSpec {
        &self.spec
    }

    fn score(&self, doc: &Doc<'_>, out: &mut [f32], sets: &mut ScratchSets) -> u64 {
        let c = &self.config;
        let n_chars = doc.analysis.n_chars;
        let (n_para, dup_para, dup_para_chars) = count_duplicates(paragraphs(doc.text), sets.set_a);
        let (n_lines, dup_lines, dup_line_chars) = count_duplicates(newline_runs_split(doc.text), sets.set_a);
        let grams = ngram_chars(doc.text, &doc.analysis.words, sets);
        out[0] = ratio(dup_lines, n_lines);
        out[1] = ratio(dup_para, n_para);
        out[2] = ratio(dup_line_chars, n_chars);
        out[3] = ratio(dup_para_chars, n_chars);
        for (k, g) in grams.iter().enumerate() {
            out[4 + k] = ratio(*g, n_chars);
        }
        let mut fired = vec![
            out[0] > c.max_dup_line_frac,
            out[1] > c.max_dup_para_frac,
            out[2] > c.max_dup_line_char_frac,
            out[3] > c.max_dup_para_char_frac,
        ];
        fired.extend((0..3).map(|k| out[4 + k] > c.max_top_ngram_char_frac[k]));
        fired.extend((0..6).map(|k| out[7 + k] > c.max_dup_ngram_char_frac[k]));
        rule_bits(&fired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::test_util::{approx, run};

    fn rep() -> GopherRepetition {
        GopherRepetition::new(Default::default())
    }

    #[test]
    fn splits_like_the_reference_regexes() {
        assert_eq!(paragraphs("\n a\n\n\nb\nc \n\n").collect::<Vec<_>>(), vec!["a", "b\nc"]);
        assert_eq!(newline_runs_split("\na\n\nb\n").collect::<Vec<_>>(), vec!["", "a", "b", ""]);
        assert_eq!(paragraphs("").collect::<Vec<_>>(), vec![""]);
    }

    #[test]
    fn duplicate_lines_and_paragraphs() {
        // Lines (split on \n+): "ab", "cd", "ab", "ab" → 2 duplicates of 4; dup chars 2+2 = 4.
        // Text "ab\ncd\n\nab\n\nab" has 2+1+2+2+2+2+2 = 13 chars.
        // Paragraphs (split on \n{2,}): "ab\ncd", "ab", "ab" → 1 duplicate of 3, 2 chars.
        let text = "ab\ncd\n\nab\n\nab";
        let (cols, fired) = run(&rep(), text);
        assert!(approx(cols["gopher_repetition_dup_line_frac"], 0.5));
        assert!(approx(cols["gopher_repetition_dup_line_char_frac"], 4.0 / 13.0));
        assert!(approx(cols["gopher_repetition_dup_para_frac"], 1.0 / 3.0));
        assert!(approx(cols["gopher_repetition_dup_para_char_frac"], 2.0 / 13.0));
        assert!(fired.contains(&"gopher_repetition.dup_line".to_string()));
        assert!(fired.contains(&"gopher_repetition.dup_line_char".to_string()));
        assert!(fired.contains(&"gopher_repetition.dup_para".to_string()));
        assert!(!fired.contains(&"gopher_repetition.dup_para_char".to_string()));
    }

    #[test]
    fn top_ngrams_hand_computed() {
        // words: a b a b c   (9 chars)
        // 2-grams: "a b" x2, "b a", "b c" → top "a b" = 3 chars * 2 = 6 → 6/9
        // 3-grams: "a b a", "b a b", "a b c" all once → first one: 5 chars * 1 → 5/9
        // 4-grams: "a b a b", "b a b c" once → 7/9
        let (cols, _) = run(&rep(), "a b a b c");
        assert!(approx(cols["gopher_repetition_top_2gram_char_frac"], 6.0 / 9.0));
        assert!(approx(cols["gopher_repetition_top_3gram_char_frac"], 5.0 / 9.0));
        assert!(approx(cols["gopher_repetition_top_4gram_char_frac"], 7.0 / 9.0));
    }

    #[test]
    fn top_ngram_ties_go_to_the_first_seen() {
        // 2-grams: "x yy"(1) "yy x"(1) "x yy"(2) "yy zzz"(1) "zzz q"(1) "q zzz"(1) "zzz q"(2)
        // both "x yy" and "zzz q" reach 2; "x yy" was inserted first → 4 chars * 2 = 8.
        // text "x yy x yy zzz q zzz q" = 21 chars.
        let (cols, _) = run(&rep(), "x yy x yy zzz q zzz q");
        assert!(approx(cols["gopher_repetition_top_2gram_char_frac"], 8.0 / 21.0));
    }

    #[test]
    fn duplicate_ngrams_skip_past_repeats() {
        // 12 words "w0".."w5" twice: 5-grams at 0..=7. Positions 6 ("w0..w4") repeats position 0: adds
        // 10 chars ("w0w1w2w3w4"), jumps to 11; no 5-gram starts at 11 → total 10.
        // 6-gram at 6 = w0..w5 repeats pos 0 → 12 chars. 7-grams: positions 0..=5, none repeats.
        let words: Vec<String> = (0..6).map(|i| format!("w{i}")).collect();
        let text = format!("{} {}", words.join(" "), words.join(" "));
        let n_chars = text.chars().count() as f64; // 12*2 + 11 spaces = 35
        let (cols, fired) = run(&rep(), &text);
        assert!(approx(cols["gopher_repetition_dup_5gram_char_frac"], 10.0 / n_chars));
        assert!(approx(cols["gopher_repetition_dup_6gram_char_frac"], 12.0 / n_chars));
        assert!(approx(cols["gopher_repetition_dup_7gram_char_frac"], 0.0));
        assert!(fired.contains(&"gopher_repetition.dup_5gram_char".to_string()));
        assert!(fired.contains(&"gopher_repetition.dup_6gram_char".to_string()));
        assert!(!fired.contains(&"gopher_repetition.dup_7gram_char".to_string()));
    }

    #[test]
    fn overlapping_repeats_count_greedily() {
        // "a a a a a a a" (7 words): 5-grams at 0,1,2 all "aaaaa". idx0 new, idx1 repeat (+5, jump to 6),
        // 6 > 2 → stop. Total 5 chars of 13.
        let (cols, _) = run(&rep(), "a a a a a a a");
        assert!(approx(cols["gopher_repetition_dup_5gram_char_frac"], 5.0 / 13.0));
    }

    #[test]
    fn empty_and_short_documents() {
        let (cols, _) = run(&rep(), "");
        assert_eq!(cols["gopher_repetition_top_2gram_char_frac"], 0.0);
        let (cols, _) = run(&rep(), "one");
        assert_eq!(cols["gopher_repetition_dup_5gram_char_frac"], 0.0);
    }
}
