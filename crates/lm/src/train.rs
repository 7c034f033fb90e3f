//! Counting and interpolated modified Kneser-Ney estimation (Chen & Goodman
//! 1998, as in KenLM's `lmplz`), producing ARPA-style probabilities and
//! backoff weights.
//!
//! * Highest order uses raw counts; lower orders use continuation counts
//!   `N1+(• w...)`, except n-grams starting with `<s>`, which keep raw counts.
//! * Per-order discounts from the count-of-counts of those adjusted counts:
//!   `Y = n1/(n1+2 n2)`, `D1 = 1-2Y n2/n1`, `D2 = 2-3Y n3/n2`, `D3+ = 3-4Y n4/n3`.
//!   A discount that comes out undefined or outside `(0, i]` (tiny corpora) is
//!   replaced by the fallback `0.5 / 1.0 / 1.5` (KenLM would refuse to train).
//! * `p(w|h) = (a(hw) - D(a(hw))) / Σ a(h·) + γ(h) p(w|h')`,
//!   `γ(h) = (D1 N1(h·) + D2 N2(h·) + D3 N3+(h·)) / Σ a(h·)`;
//!   unigrams interpolate with the uniform distribution over the vocabulary
//!   excluding `<s>` (so `<unk>` gets `γ(ε)/|V|` plus its own discounted mass if
//!   rare words were mapped to it). `<s>` gets log10 prob -99 like KenLM.
//! * Pruning drops n-grams (order >= 2) whose raw count is below the order's
//!   threshold (thresholds are made non-decreasing with the order, which keeps
//!   every kept n-gram's prefix and suffix). Kept n-grams keep their unpruned
//!   interpolated probability; the backoff of each context is renormalised
//!   (`bo(h) = γ(h) + Σ_pruned disc(hw) / (1 - Σ_kept p(w|h'))`, which equals
//!   `γ(h)` when nothing is pruned), so the model stays a proper distribution.

use super::tokenize::{for_each_token, word_hash, TokenSink, BOS, EOS, UNK};
use super::{LmError, TrainOptions};
use rayon::prelude::*;
use std::collections::HashMap;

pub(crate) const BOS_ID: u32 = 0;
pub(crate) const EOS_ID: u32 = 1;
pub(crate) const UNK_ID: u32 = 2;

/// One order of an estimated (ARPA-like) model.
pub(crate) struct Grams {
    /// Word ids, `k` per n-gram, n-grams sorted lexicographically.
    pub ids: Vec<u32>,
    /// log10 probability per n-gram.
    pub prob: Vec<f32>,
    /// log10 backoff per n-gram (0 for the highest order).
    pub bo: Vec<f32>,
}

/// An estimated model with its vocabulary: can be written as ARPA or binary.
pub(crate) struct Estimated {
    pub vocab: Vec<String>,
    pub grams: Vec<Grams>,
}

impl Estimated {
    pub fn order(&self) -> usize {
        self.grams.len()
    }
    /// `(key, log10 prob, log10 backoff)` of every n-gram of order `k` (1-based).
    pub fn hashed_entries(&self, k: usize) -> Vec<(u64, f32, f32)> {
        let hashes: Vec<u64> = self.vocab.iter().map(|w| word_hash(w)).collect();
        let g = &self.grams[k - 1];
        g.ids
            .par_chunks(k)
            .zip(g.prob.par_iter().zip(g.bo.par_iter()))
            .map(|(ids, (&p, &b))| (ngram_key(ids.iter().map(|&i| hashes[i as usize])), p, b))
            .collect()
    }
}

/// Key of an n-gram given its word hashes in text order.
pub(crate) fn ngram_key<I: DoubleEndedIterator<Item = u64>>(hashes: I) -> u64 {
    let mut it = hashes.rev();
    let mut key = it.next().unwrap_or(0);
    for h in it {
        key = super::tokenize::extend_left(key, h);
    }
    key
}

/// Counting statistics reported in the summary.
pub(crate) struct Stats {
    pub docs: u64,
    pub sentences: u64,
    pub words: u64,
    pub unk_words: u64,
    pub seen: Vec<u64>,
    pub kept: Vec<u64>,
    pub discounts: Vec<[f64; 3]>,
}

struct BatchSink {
    stream: Vec<u64>,
    counts: HashMap<u64, (String, u64)>,
    eos: u64,
}

impl TokenSink for BatchSink {
    const WANTS_TEXT: bool = true;
    fn word(&mut self, hash: u64, text: &str) {
        self.stream.push(hash);
        match self.counts.get_mut(&hash) {
            Some(e) => e.1 += 1,
            None => {
                self.counts.insert(hash, (text.to_string(), 1));
            }
        }
    }
    fn end_sentence(&mut self) {
        self.stream.push(self.eos);
    }
}

/// Tokenized corpus: `(vocab, id stream, docs, sentences, words, unk words)`.
type Corpus = (Vec<String>, Vec<u32>, u64, u64, u64, u64);

/// Tokenize the corpus and return `(vocab, id stream, docs, sentences, words, unk)`.
/// The stream holds each sentence as `<s> w1 .. wn </s>`.
fn read_corpus<I: IntoIterator<Item = String>>(texts: I, opts: &TrainOptions, max_ids: u64) -> Result<Corpus, LmError> {
    let eos = word_hash(EOS);
    let mut stream: Vec<u64> = Vec::new();
    let mut counts: HashMap<u64, (String, u64)> = HashMap::new();
    let mut docs = 0u64;
    let mut it = texts.into_iter();
    loop {
        let batch: Vec<String> = it.by_ref().take(256).collect();
        if batch.is_empty() {
            break;
        }
        docs += batch.len() as u64;
        let parts: Vec<BatchSink> = batch
            .par_chunks(16)
            .map(|docs| {
                let mut s = BatchSink { stream: Vec::new(), counts: HashMap::new(), eos };
                for d in docs {
                    for_each_token(d, &mut s);
                }
                s
            })
            .collect();
        for p in parts {
            stream.extend_from_slice(&p.stream);
            for (h, (t, c)) in p.counts {
                counts.entry(h).or_insert_with(|| (t, 0)).1 += c;
            }
        }
    }
    // Vocabulary: specials, then words by descending count.
    let mut words: Vec<(u64, String, u64)> = counts
        .into_iter()
        .filter(|(_, (_, c))| *c >= opts.min_count.max(1) as u64)
        .map(|(h, (t, c))| (h, t, c))
        .collect();
    words.sort_unstable_by(|a, b| b.2.cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
    let limit = opts.max_vocab.unwrap_or(usize::MAX).min((max_ids - 3) as usize);
    words.truncate(limit);
    let mut vocab = vec![BOS.to_string(), EOS.to_string(), UNK.to_string()];
    let mut id_of: HashMap<u64, u32> = HashMap::with_capacity(words.len() + 3);
    id_of.insert(eos, EOS_ID);
    for (h, t, _) in words {
        if h == word_hash(BOS) || h == word_hash(UNK) || h == eos {
            continue;
        }
        id_of.insert(h, vocab.len() as u32);
        vocab.push(t);
    }
    let mut ids = Vec::with_capacity(stream.len() + stream.len() / 8);
    let (mut sentences, mut nwords, mut unk) = (0u64, 0u64, 0u64);
    let mut at_start = true;
    for h in stream {
        if at_start {
            ids.push(BOS_ID);
            at_start = false;
        }
        if h == eos {
            ids.push(EOS_ID);
            sentences += 1;
            at_start = true;
        } else {
            nwords += 1;
            let id = id_of.get(&h).copied().unwrap_or(UNK_ID);
            unk += (id == UNK_ID) as u64;
            ids.push(id);
        }
    }
    Ok((vocab, ids, docs, sentences, nwords, unk))
}

/// Sorted unique n-grams of order `k` (packed, first word most significant) with raw counts.
fn count_order(ids: &[u32], k: usize, bits: usize) -> (Vec<u128>, Vec<u32>) {
    let mut all: Vec<u128> = Vec::with_capacity(ids.len());
    let mut start = 0;
    for (i, &w) in ids.iter().enumerate() {
        if w == EOS_ID {
            let sent = &ids[start..=i];
            if sent.len() >= k {
                for win in sent.windows(k) {
                    let mut key = 0u128;
                    for &x in win {
                        key = (key << bits) | x as u128;
                    }
                    all.push(key);
                }
            }
            start = i + 1;
        }
    }
    all.par_sort_unstable();
    rle(&all)
}

fn rle(sorted: &[u128]) -> (Vec<u128>, Vec<u32>) {
    let mut keys = Vec::new();
    let mut counts: Vec<u32> = Vec::new();
    for &x in sorted {
        if keys.last() == Some(&x) {
            let c = counts.last_mut().unwrap();
            *c = c.saturating_add(1);
        } else {
            keys.push(x);
            counts.push(1);
        }
    }
    (keys, counts)
}

/// Modified Kneser-Ney discounts from count-of-counts `n[1..=4]`.
pub(crate) fn kn_discounts(n: [u64; 5]) -> [f64; 3] {
    let (n1, n2, n3, n4) = (n[1] as f64, n[2] as f64, n[3] as f64, n[4] as f64);
    let y = n1 / (n1 + 2.0 * n2);
    let raw = [1.0 - 2.0 * y * n2 / n1, 2.0 - 3.0 * y * n3 / n2, 3.0 - 4.0 * y * n4 / n3];
    let fallback = [0.5, 1.0, 1.5];
    let mut d = [0.0; 3];
    for i in 0..3 {
        d[i] = if raw[i].is_finite() && raw[i] > 0.0 && raw[i] <= (i + 1) as f64 { raw[i] } else { fallback[i] };
    }
    d
}

#[inline]
fn disc(d: &[f64; 3], a: u32) -> f64 {
    match a {
        0 => 0.0,
        1 => d[0],
        2 => d[1],
        _ => d[2],
    }
}

struct Level {
    keys: Vec<u128>,
    raw: Vec<u32>,
    adj: Vec<u32>,
}

/// Train: tokenize, count, estimate. Returns the estimated model and stats.
pub(crate) fn estimate<I: IntoIterator<Item = String>>(
    texts: I,
    opts: &TrainOptions,
) -> Result<(Estimated, Stats), LmError> {
    let n = opts.order;
    if n == 0 || n > super::table::MAX_ORDER {
        return Err(LmError::Config(format!("order must be in 1..={}", super::table::MAX_ORDER)));
    }
    let bits = (128 / n).min(32);
    let max_ids = 1u64 << bits;
    let (vocab, ids, docs, sentences, words, unk_words) = read_corpus(texts, opts, max_ids)?;
    if words == 0 {
        return Err(LmError::EmptyCorpus);
    }
    let mut levels = count_levels(&ids, n, bits, vocab.len());
    drop(ids);
    let seen: Vec<u64> = levels.iter().map(|l| l.keys.len() as u64).collect();
    adjust_counts(&mut levels, bits);
    let discounts = order_discounts(&levels, opts.discount_override);
    let thresholds = prune_thresholds(&opts.prune, n);
    let model = interpolate(levels, &discounts, &thresholds, bits);
    let kept: Vec<u64> = model.keys.iter().map(|k| k.len() as u64).collect();
    let grams = model.into_log10_grams(bits);
    Ok((Estimated { vocab, grams }, Stats { docs, sentences, words, unk_words, seen, kept, discounts }))
}

/// Raw counts of every order. Unigrams are dense (index == id), so that an unseen `<unk>` still gets a row.
fn count_levels(ids: &[u32], n: usize, bits: usize, v: usize) -> Vec<Level> {
    let mut levels: Vec<Level> = Vec::with_capacity(n);
    for k in 1..=n {
        let (keys, raw) = count_order(ids, k, bits);
        if k == 1 {
            let mut dense = vec![0u32; v];
            for (key, c) in keys.iter().zip(&raw) {
                dense[*key as usize] = *c;
            }
            levels.push(Level { keys: (0..v as u128).collect(), raw: dense, adj: Vec::new() });
        } else {
            levels.push(Level { keys, raw, adj: Vec::new() });
        }
    }
    levels
}

/// Kneser-Ney adjusted counts, top-down: the highest order keeps its raw counts, each lower order takes the
/// continuation counts from the order above it.
fn adjust_counts(levels: &mut [Level], bits: usize) {
    let n = levels.len();
    levels[n - 1].adj = levels[n - 1].raw.clone();
    for k in (1..n).rev() {
        levels[k - 1].adj = continuation_counts(&levels[k].keys, &levels[k - 1], k, bits);
    }
}

/// `N1+(• w...)` for each n-gram of `lower` (order `k`), counted over the sorted n-grams of order `k + 1`;
/// n-grams starting with `<s>` have no left extension and keep their raw counts.
fn continuation_counts(upper_keys: &[u128], lower: &Level, k: usize, bits: usize) -> Vec<u32> {
    let mask = (1u128 << (bits * k)) - 1;
    let mut suf: Vec<u128> = upper_keys.par_iter().map(|x| x & mask).collect();
    suf.par_sort_unstable();
    let (sk, sc) = rle(&suf);
    drop(suf);
    let shift = bits * (k - 1);
    let mut adj = Vec::with_capacity(lower.keys.len());
    let mut p = 0;
    for (i, &key) in lower.keys.iter().enumerate() {
        while p < sk.len() && sk[p] < key {
            p += 1;
        }
        let cont = if p < sk.len() && sk[p] == key { sc[p] } else { 0 };
        adj.push(if (key >> shift) as u32 == BOS_ID { lower.raw[i] } else { cont });
    }
    adj
}

/// Per-order discounts from the count-of-counts of the adjusted counts (`<s>` is never predicted, so its
/// unigram does not count), unless fixed by the options.
fn order_discounts(levels: &[Level], fixed: Option<[f64; 3]>) -> Vec<[f64; 3]> {
    let mut discounts = Vec::with_capacity(levels.len());
    for (k, lv) in levels.iter().enumerate() {
        if let Some(d) = fixed {
            discounts.push(d);
            continue;
        }
        let mut cc = [0u64; 5];
        for (i, &a) in lv.adj.iter().enumerate() {
            if k == 0 && i as u32 == BOS_ID {
                continue;
            }
            if (1..=4).contains(&a) {
                cc[a as usize] += 1;
            }
        }
        discounts.push(kn_discounts(cc));
    }
    discounts
}

/// Raw-count threshold per order (unigrams are never pruned). Non-decreasing with the order, so that every
/// kept n-gram's prefix and suffix are kept too.
fn prune_thresholds(prune: &[u32], n: usize) -> Vec<u32> {
    let mut thr = vec![1u32; n];
    let mut run = 1u32;
    for k in 2..=n {
        let t = if prune.is_empty() { 1 } else { prune[(k - 2).min(prune.len() - 1)] };
        run = run.max(t);
        thr[k - 1] = run;
    }
    thr
}

/// `(Σ a, [_, N1, N2, N3+])` of a run of adjusted counts.
#[inline]
fn mass_and_count_of_counts(adj: impl Iterator<Item = u32>) -> (f64, [u64; 4]) {
    let (mut total, mut c) = (0f64, [0u64; 4]);
    for a in adj {
        total += a as f64;
        c[(a as usize).min(3)] += 1;
    }
    (total, c)
}

/// The interpolation weight `γ(h) = (D1 N1(h·) + D2 N2(h·) + D3 N3+(h·)) / Σ a(h·)`.
#[inline]
fn interpolation_weight(d: &[f64; 3], c: &[u64; 4], total: f64) -> f64 {
    (d[0] * c[1] as f64 + d[1] * c[2] as f64 + d[2] * c[3] as f64) / total
}

/// Unigram probabilities, interpolated with the uniform distribution over the vocabulary but `<s>` (which
/// gets 0 here, -99 in the log form).
fn unigram_probs(lv: &Level, d: &[f64; 3]) -> Vec<f64> {
    let v = lv.adj.len();
    let counted = lv.adj.iter().enumerate().filter(|&(i, _)| i as u32 != BOS_ID).map(|(_, &a)| a);
    let (total, nn) = mass_and_count_of_counts(counted);
    let uniform = interpolation_weight(d, &nn, total) / (v - 1) as f64;
    lv.adj
        .iter()
        .enumerate()
        .map(|(i, &a)| if i as u32 == BOS_ID { 0.0 } else { (a as f64 - disc(d, a)).max(0.0) / total + uniform })
        .collect()
}

/// Kept n-grams of every order with their interpolated probabilities and backoff weights (linear, not log).
struct Interpolated {
    keys: Vec<Vec<u128>>,
    p: Vec<Vec<f64>>,
    bo: Vec<Vec<f64>>,
}

/// The kept n-grams of the order below the one being estimated, with their probabilities.
struct LowerOrder<'a> {
    keys: &'a [u128],
    p: &'a [f64],
    /// Unigrams: the key is the index.
    dense: bool,
}

impl LowerOrder<'_> {
    /// Probability of a suffix; 0 when it was pruned.
    #[inline]
    fn prob(&self, suffix: u128) -> f64 {
        if self.dense {
            self.p[suffix as usize]
        } else {
            match self.keys.binary_search(&suffix) {
                Ok(i) => self.p[i],
                Err(_) => 0.0,
            }
        }
    }
}

/// Interpolated probabilities bottom-up, each order on top of the kept n-grams of the one below. Each level's
/// counts are dropped once its order is estimated.
fn interpolate(levels: Vec<Level>, discounts: &[[f64; 3]], thresholds: &[u32], bits: usize) -> Interpolated {
    let mut levels = levels.into_iter();
    let unigrams = levels.next().expect("order >= 1");
    let mut lin = unigram_probs(&unigrams, &discounts[0]);
    let mut kept_keys = unigrams.keys;
    let mut out = Interpolated { keys: Vec::new(), p: Vec::new(), bo: vec![vec![1.0; kept_keys.len()]] };
    for (k, lv) in (2..).zip(levels) {
        let lower = LowerOrder { keys: &kept_keys, p: &lin, dense: k == 2 };
        let ctx_bo = out.bo.last_mut().expect("one per order below");
        let (nk, np) = interpolate_order(&lv, &discounts[k - 1], k, bits, thresholds[k - 1], &lower, ctx_bo);
        drop(lv);
        out.bo.push(vec![1.0; nk.len()]);
        out.keys.push(std::mem::replace(&mut kept_keys, nk));
        out.p.push(std::mem::replace(&mut lin, np));
    }
    out.keys.push(kept_keys);
    out.p.push(lin);
    out
}

/// One order `k >= 2`: the kept n-grams (raw count at least `threshold`) and their interpolated
/// probabilities. Also writes each context's renormalised backoff into `ctx_bo`, indexed like `lower.keys`.
fn interpolate_order(
    lv: &Level,
    d: &[f64; 3],
    k: usize,
    bits: usize,
    threshold: u32,
    lower: &LowerOrder<'_>,
    ctx_bo: &mut [f64],
) -> (Vec<u128>, Vec<f64>) {
    let mask = (1u128 << (bits * (k - 1))) - 1;
    let mut nk: Vec<u128> = Vec::new();
    let mut np: Vec<f64> = Vec::new();
    let mut cptr = 0usize;
    let mut a = 0usize;
    while a < lv.keys.len() {
        // The n-grams are sorted, so those sharing a context form a run `a..b`.
        let ctx = lv.keys[a] >> bits;
        let b = a + lv.keys[a..].iter().take_while(|&&key| key >> bits == ctx).count();
        let (denom, c) = mass_and_count_of_counts(lv.adj[a..b].iter().copied());
        let gamma = interpolation_weight(d, &c, denom);
        let (mut pruned, mut low_sum) = (0f64, 0f64);
        for j in a..b {
            let x = lv.adj[j];
            let dm = (x as f64 - disc(d, x)).max(0.0) / denom;
            if lv.raw[j] >= threshold {
                let pl = lower.prob(lv.keys[j] & mask);
                nk.push(lv.keys[j]);
                np.push(dm + gamma * pl);
                low_sum += pl;
            } else {
                pruned += dm;
            }
        }
        // The pruned n-grams' discounted mass moves to the backoff, spread over what the lower order gives
        // to the words not kept here.
        let rest = 1.0 - low_sum;
        let bo = if rest > 1e-12 { gamma + pruned / rest } else { gamma };
        // Contexts ascend like the lower order's keys: one forward pointer finds each context's row.
        while cptr < lower.keys.len() && lower.keys[cptr] < ctx {
            cptr += 1;
        }
        if cptr < lower.keys.len() && lower.keys[cptr] == ctx {
            ctx_bo[cptr] = bo;
        }
        a = b;
    }
    (nk, np)
}

impl Interpolated {
    /// The ARPA-like form: word ids unpacked from the keys, log10 probabilities and backoffs (the highest
    /// order has none; `<s>` gets -99 like KenLM).
    fn into_log10_grams(self, bits: usize) -> Vec<Grams> {
        let n = self.keys.len();
        let mut grams = Vec::with_capacity(n);
        for k in 1..=n {
            let keys = &self.keys[k - 1];
            let wmask = (1u128 << bits) - 1;
            let mut ids = Vec::with_capacity(keys.len() * k);
            for &key in keys {
                for i in (0..k).rev() {
                    ids.push(((key >> (bits * i)) & wmask) as u32);
                }
            }
            let prob: Vec<f32> = self.p[k - 1]
                .iter()
                .enumerate()
                .map(|(i, &p)| if k == 1 && i as u32 == BOS_ID { -99.0 } else { p.log10() as f32 })
                .collect();
            let bo: Vec<f32> =
                if k == n { vec![0.0; keys.len()] } else { self.bo[k - 1].iter().map(|&b| b.log10() as f32).collect() };
            grams.push(Grams { ids, prob, bo });
        }
        grams
    }
}
