//! Word-level n-gram language model with interpolated modified Kneser-Ney
//! smoothing, used to measure how *predictable* a text is: machine-generated
//! text tends to have lower perplexity and less sentence-to-sentence variation
//! ("burstiness") than human text.
//!
//! * [`tokenize`] — the one tokenizer used for training and scoring.
//! * [`NgramModel::train_to_file`] — count + estimate (see `train.rs` for the
//!   exact smoothing and pruning) and write the compact binary (format
//!   documented in `table.rs`).
//! * [`NgramModel::load`] — mmap a binary model, or parse a KenLM/SRILM ARPA
//!   file (plain or gzip, detected by content) into memory.
//! * [`NgramModel::score`] — log10 probability, perplexity and per-sentence
//!   log-perplexity statistics of a document; `&self`, `Sync`, allocation-free.
//!
//! Probabilities are base-10 logs like KenLM; `perplexity = 10^(-log10_prob / n_tokens)`
//! where `n_tokens` counts every word plus one `</s>` per sentence (`<s>` is
//! context only) and unknown words are scored as `<unk>` (KenLM's "perplexity
//! including OOVs").

mod arpa;
mod table;
pub mod tokenize;
mod train;

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

pub use table::MAX_ORDER;
pub use tokenize::{for_each_token, tokenize, word_hash, TokenSink};

use table::{ExactTable, Lookup, PackedView, TableHeader};
use tokenize::{extend_left, BOS, EOS, UNK};
use train::Estimated;

/// Errors of the language-model module.
#[derive(Debug, thiserror::Error)]
pub enum LmError {
    /// Underlying I/O failure.
    #[error("lm i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A model file (binary or ARPA) is malformed.
    #[error("lm format: {0}")]
    Format(String),
    /// Invalid training options.
    #[error("lm config: {0}")]
    Config(String),
    /// Training saw no words at all.
    #[error("lm: training corpus has no words")]
    EmptyCorpus,
    /// The operation needs information this model does not carry
    /// (e.g. `write_arpa` on a binary model, which stores no word strings).
    #[error("lm: unsupported: {0}")]
    Unsupported(String),
}

/// Training knobs.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainOptions {
    /// N-gram order (1..=[`MAX_ORDER`]); default 4.
    pub order: usize,
    /// Words seen fewer than this many times become `<unk>` (default 2, which
    /// also gives `<unk>` a probability estimated from real rare-word counts).
    pub min_count: u32,
    /// Keep at most this many words (most frequent first); the rest become `<unk>`.
    pub max_vocab: Option<usize>,
    /// Pruning: minimum raw count to keep an n-gram of order 2, 3, ...
    /// (`prune[0]` is for bigrams; the last value repeats for higher orders;
    /// values are made non-decreasing; empty or 1 = keep everything).
    /// Default `[3, 3, 4]` (about 29 MB for 23 M training words).
    pub prune: Vec<u32>,
    /// Fixed discounts `[D1, D2, D3+]` for every order instead of the
    /// count-of-counts estimates (for tests / hand-checking). Default `None`.
    pub discount_override: Option<[f64; 3]>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions { order: 4, min_count: 2, max_vocab: None, prune: vec![3, 3, 4], discount_override: None }
    }
}

/// What training did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainSummary {
    /// Documents read.
    pub docs: u64,
    /// Sentences (each contributes `<s>` ... `</s>`).
    pub sentences: u64,
    /// Word tokens (excluding `<s>`/`</s>`).
    pub words: u64,
    /// Word tokens mapped to `<unk>` by `min_count`/`max_vocab`.
    pub unk_words: u64,
    /// Vocabulary size including `<s>`, `</s>`, `<unk>`.
    pub vocab_size: u64,
    /// Distinct n-grams seen per order (index 0 = unigrams).
    pub ngrams_seen: Vec<u64>,
    /// N-grams kept in the model per order after pruning.
    pub ngrams_kept: Vec<u64>,
    /// Discounts `[D1, D2, D3+]` per order.
    pub discounts: Vec<[f64; 3]>,
    /// Size of the written file in bytes (0 when nothing was written).
    pub file_bytes: u64,
    /// Wall-clock seconds of the whole training call.
    pub seconds: f64,
}

/// Score of one document.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DocScore {
    /// Predicted tokens: words plus one `</s>` per sentence. 0 for a text without words.
    pub n_tokens: u32,
    /// Total log10 probability (0.0 for an empty text).
    pub log10_prob: f64,
    /// `10^(-log10_prob / n_tokens)`; NaN when `n_tokens == 0`.
    pub perplexity: f64,
    /// Mean over sentences of the sentence's log10 perplexity
    /// (`-log10 p(sentence) / tokens(sentence)`); NaN when there is no sentence.
    pub sent_logppl_mean: f64,
    /// Population standard deviation of the same (0 for one sentence, NaN for none):
    /// the "burstiness" signal.
    pub sent_logppl_std: f64,
    /// Number of sentences.
    pub n_sentences: u32,
}

enum Storage {
    /// Binary model, memory-mapped; quantised tables.
    Mapped { map: memmap2::Mmap, headers: Vec<TableHeader> },
    /// In-memory model (ARPA or freshly trained): exact f32 values plus the
    /// vocabulary, so it can be written back as ARPA or binary.
    Exact { tables: Vec<ExactTable>, est: Estimated },
}

/// A loaded n-gram language model (binary via mmap, or ARPA/trained in memory).
/// `Send + Sync`; scoring takes `&self`.
pub struct NgramModel {
    storage: Storage,
    order: usize,
    /// `(log10 prob, backoff)` of `<unk>` and backoff of `<s>`.
    unk: (f32, f32),
    bos_bo: f32,
    hashes: Specials,
}

#[derive(Clone, Copy)]
struct Specials {
    bos: u64,
    eos: u64,
    unk: u64,
}

/// log10 probability used for `<unk>` when a model has no `<unk>` entry (KenLM's convention).
const MISSING_UNK_LOG10: f32 = -100.0;

impl NgramModel {
    /// Train a model from `texts` and write it as a compact binary file to `out`.
    pub fn train_to_file<I: IntoIterator<Item = String>>(
        texts: I,
        opts: &TrainOptions,
        out: &Path,
    ) -> Result<TrainSummary, LmError> {
        let t0 = Instant::now();
        let (est, stats) = train::estimate(texts, opts)?;
        let file_bytes = write_binary_from(&est, out)?;
        Ok(summary(&est, stats, file_bytes, t0))
    }

    /// Train a model and keep it in memory (exact values, vocabulary kept, so
    /// [`NgramModel::write_arpa`] and [`NgramModel::save_binary`] work).
    pub fn train<I: IntoIterator<Item = String>>(
        texts: I,
        opts: &TrainOptions,
    ) -> Result<(Self, TrainSummary), LmError> {
        let t0 = Instant::now();
        let (est, stats) = train::estimate(texts, opts)?;
        let s = summary(&est, stats, 0, t0);
        Ok((Self::from_estimated(est), s))
    }

    /// Load a model: the binary format is memory-mapped; anything starting with
    /// `\data\` (optionally gzip-compressed) is parsed as ARPA into memory.
    pub fn load(path: &Path) -> Result<Self, LmError> {
        let mut f = File::open(path)?;
        let mut head = [0u8; 8];
        let n = read_up_to(&mut f, &mut head)?;
        let head = &head[..n];
        if head == table::MAGIC {
            let f = File::open(path)?;
            // SAFETY: the file is opened read-only; as with any mmap, it must not be
            // truncated/modified by another process while the model is in use.
            let map = unsafe { memmap2::Mmap::map(&f)? };
            let headers = table::parse_header(&map)?;
            return Ok(Self::finish(Storage::Mapped { map, headers }));
        }
        let f = File::open(path)?;
        let est = if head.starts_with(&[0x1f, 0x8b]) {
            let mut r = BufReader::with_capacity(1 << 20, flate2::read::MultiGzDecoder::new(f));
            let buf = std::io::BufRead::fill_buf(&mut r)?;
            if !arpa::looks_like_arpa(buf) {
                return Err(LmError::Format(format!("{}: gzip file is not ARPA", path.display())));
            }
            arpa::read_arpa(r)?
        } else {
            let mut r = BufReader::with_capacity(1 << 20, f);
            let buf = std::io::BufRead::fill_buf(&mut r)?;
            if !arpa::looks_like_arpa(buf) {
                return Err(LmError::Format(format!("{}: neither a binary model nor ARPA", path.display())));
            }
            arpa::read_arpa(r)?
        };
        Ok(Self::from_estimated(est))
    }

    /// Parse an ARPA model from text already in memory.
    pub fn from_arpa_str(text: &str) -> Result<Self, LmError> {
        Ok(Self::from_estimated(arpa::read_arpa(text.as_bytes())?))
    }

    /// Write the model as ARPA text. Only for in-memory models (ARPA-loaded or
    /// [`NgramModel::train`]); binary models store no word strings.
    pub fn write_arpa(&self, path: &Path) -> Result<(), LmError> {
        match &self.storage {
            Storage::Exact { est, .. } => arpa::write_arpa(est, File::create(path)?),
            Storage::Mapped { .. } => {
                Err(LmError::Unsupported("write_arpa on a binary model (no vocabulary stored)".into()))
            }
        }
    }

    /// Write an in-memory model (e.g. a KenLM ARPA) in the binary format;
    /// returns the file size.
    pub fn save_binary(&self, path: &Path) -> Result<u64, LmError> {
        match &self.storage {
            Storage::Exact { est, .. } => write_binary_from(est, path),
            Storage::Mapped { map, .. } => {
                std::fs::write(path, &map[..])?;
                Ok(map.len() as u64)
            }
        }
    }

    /// N-gram order.
    pub fn order(&self) -> usize {
        self.order
    }

    /// Number of n-grams stored per order (index 0 = unigrams).
    pub fn ngram_counts(&self) -> Vec<u64> {
        match &self.storage {
            Storage::Mapped { headers, .. } => headers.iter().map(|h| h.count).collect(),
            Storage::Exact { tables, .. } => tables.iter().map(|t| t.len() as u64).collect(),
        }
    }

    /// Bytes of model data held: the mapped file size (pages are loaded lazily
    /// and shared between processes) or the heap size of an in-memory model.
    pub fn memory_bytes(&self) -> usize {
        match &self.storage {
            Storage::Mapped { map, .. } => map.len(),
            Storage::Exact { tables, est } => {
                tables.iter().map(|t| t.bytes()).sum::<usize>()
                    + est.vocab.iter().map(|w| w.len() + 24).sum::<usize>()
                    + est.grams.iter().map(|g| g.ids.len() * 4 + g.prob.len() * 8).sum::<usize>()
            }
        }
    }

    /// Score a document (tokenized with [`tokenize`]'s rules). Thread-safe,
    /// allocation-free.
    pub fn score(&self, text: &str) -> DocScore {
        match &self.storage {
            Storage::Mapped { map, headers } => {
                let mut views = [PackedView::default(); MAX_ORDER];
                for (v, h) in views.iter_mut().zip(headers) {
                    *v = PackedView { slots: table::slots_at(map, h), cap: h.cap, qp: h.qp, qb: h.qb };
                }
                self.score_with(&views[..self.order], text)
            }
            Storage::Exact { tables, .. } => self.score_with(tables, text),
        }
    }

    /// log10 probability of each predicted token of `text` (words and `</s>`),
    /// in order; for inspection and tests.
    pub fn token_log10_probs(&self, text: &str) -> Vec<f32> {
        let mut out = Vec::new();
        match &self.storage {
            Storage::Mapped { map, headers } => {
                let mut views = [PackedView::default(); MAX_ORDER];
                for (v, h) in views.iter_mut().zip(headers) {
                    *v = PackedView { slots: table::slots_at(map, h), cap: h.cap, qp: h.qp, qb: h.qb };
                }
                self.run(&views[..self.order], text, Some(&mut out));
            }
            Storage::Exact { tables, .. } => {
                self.run(tables, text, Some(&mut out));
            }
        }
        out
    }

    /// log10 p(`word` | `context`) under the back-off model. `context` lists
    /// tokens oldest first; a leading `"<s>"` means "at sentence start",
    /// otherwise the query starts from an empty context. Tokens must already be
    /// normalised (as produced by [`tokenize`]); unknown ones act as `<unk>`.
    pub fn log10_prob(&self, context: &[&str], word: &str) -> f32 {
        match &self.storage {
            Storage::Mapped { map, headers } => {
                let mut views = [PackedView::default(); MAX_ORDER];
                for (v, h) in views.iter_mut().zip(headers) {
                    *v = PackedView { slots: table::slots_at(map, h), cap: h.cap, qp: h.qp, qb: h.qb };
                }
                self.query(&views[..self.order], context, word)
            }
            Storage::Exact { tables, .. } => self.query(tables, context, word),
        }
    }

    fn query<L: Lookup>(&self, tables: &[L], context: &[&str], word: &str) -> f32 {
        let mut s = self.scorer(tables, None);
        s.reset();
        let ctx = match context.first() {
            Some(&BOS) => &context[1..],
            _ => {
                s.hlen = 0;
                s.bo = [0.0; MAX_ORDER];
                context
            }
        };
        for w in ctx {
            s.push(word_hash(w));
        }
        s.push(word_hash(word))
    }

    fn scorer<'a, L: Lookup>(&'a self, tables: &'a [L], trace: Option<&'a mut Vec<f32>>) -> Scorer<'a, L> {
        Scorer {
            m: self,
            tables,
            trace,
            hist: [0; MAX_ORDER],
            bo: [0.0; MAX_ORDER],
            hlen: 0,
            buf: [0; BATCH],
            nbuf: 0,
            last: 0.0,
            sent_lp: 0.0,
            sent_n: 0,
            total_lp: 0.0,
            total_n: 0,
            nsent: 0,
            mean: 0.0,
            m2: 0.0,
        }
    }

    fn score_with<L: Lookup>(&self, tables: &[L], text: &str) -> DocScore {
        self.run(tables, text, None)
    }

    fn run<L: Lookup>(&self, tables: &[L], text: &str, trace: Option<&mut Vec<f32>>) -> DocScore {
        let mut s = self.scorer(tables, trace);
        s.reset();
        for_each_token(text, &mut s);
        let n = s.total_n;
        let (mean, std) = if s.nsent == 0 { (f64::NAN, f64::NAN) } else { (s.mean, (s.m2 / s.nsent as f64).sqrt()) };
        DocScore {
            n_tokens: n,
            log10_prob: s.total_lp,
            perplexity: if n == 0 { f64::NAN } else { 10f64.powf(-s.total_lp / n as f64) },
            sent_logppl_mean: mean,
            sent_logppl_std: std,
            n_sentences: s.nsent,
        }
    }

    fn from_estimated(est: Estimated) -> Self {
        let tables = (1..=est.order())
            .map(|k| {
                let e = est.hashed_entries(k);
                let mut t = ExactTable::with_capacity(e.len());
                for (key, p, b) in e {
                    t.insert(key, p, b);
                }
                t
            })
            .collect();
        Self::finish(Storage::Exact { tables, est })
    }

    fn finish(storage: Storage) -> Self {
        let hashes = Specials { bos: word_hash(BOS), eos: word_hash(EOS), unk: word_hash(UNK) };
        let mut m = NgramModel { storage, order: 0, unk: (MISSING_UNK_LOG10, 0.0), bos_bo: 0.0, hashes };
        let get = |m: &NgramModel, key: u64| -> Option<(f32, f32)> {
            match &m.storage {
                Storage::Mapped { map, headers } => {
                    let h = &headers[0];
                    PackedView { slots: table::slots_at(map, h), cap: h.cap, qp: h.qp, qb: h.qb }.get(key)
                }
                Storage::Exact { tables, .. } => tables[0].get(key),
            }
        };
        m.order = match &m.storage {
            Storage::Mapped { headers, .. } => headers.len(),
            Storage::Exact { tables, .. } => tables.len(),
        };
        if let Some(u) = get(&m, hashes.unk) {
            m.unk = u;
        }
        m.bos_bo = get(&m, hashes.bos).map(|x| x.1).unwrap_or(0.0);
        m
    }
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let r = f.read(&mut buf[n..])?;
        if r == 0 {
            break;
        }
        n += r;
    }
    Ok(n)
}

fn write_binary_from(est: &Estimated, out: &Path) -> Result<u64, LmError> {
    let built: Vec<table::PackedBuilt> =
        (1..=est.order()).map(|k| table::build_packed(&est.hashed_entries(k))).collect();
    table::write_binary(out, &built)
}

fn summary(est: &Estimated, s: train::Stats, file_bytes: u64, t0: Instant) -> TrainSummary {
    TrainSummary {
        docs: s.docs,
        sentences: s.sentences,
        words: s.words,
        unk_words: s.unk_words,
        vocab_size: est.vocab.len() as u64,
        ngrams_seen: s.seen,
        ngrams_kept: s.kept,
        discounts: s.discounts,
        file_bytes,
        seconds: t0.elapsed().as_secs_f64(),
    }
}

/// Tokens scored per batch: keys for a whole batch are computed first so the
/// table lookups can be prefetched [`PREFETCH`] tokens ahead (the tables are
/// larger than the caches; overlapping the misses is what makes scoring fast).
const BATCH: usize = 64;
/// Prefetch distance in tokens.
const PREFETCH: usize = 8;

/// Per-document scoring state (stack only).
struct Scorer<'a, L: Lookup> {
    m: &'a NgramModel,
    tables: &'a [L],
    trace: Option<&'a mut Vec<f32>>,
    /// Word hashes of the context, most recent first (`<unk>`-mapped).
    hist: [u64; MAX_ORDER],
    /// `bo[j-1]`: log10 backoff of the j-gram ending at the previous word (0 if absent).
    bo: [f32; MAX_ORDER],
    hlen: usize,
    /// Pending word hashes of the current sentence.
    buf: [u64; BATCH],
    nbuf: usize,
    last: f32,
    sent_lp: f64,
    sent_n: u32,
    total_lp: f64,
    total_n: u32,
    nsent: u32,
    mean: f64,
    m2: f64,
}

impl<L: Lookup> Scorer<'_, L> {
    #[inline(always)]
    fn reset(&mut self) {
        self.hist[0] = self.m.hashes.bos;
        self.bo = [0.0; MAX_ORDER];
        self.bo[0] = self.m.bos_bo;
        self.hlen = 1;
        self.sent_lp = 0.0;
        self.sent_n = 0;
    }

    #[inline(always)]
    fn queue(&mut self, w: u64) {
        self.buf[self.nbuf] = w;
        self.nbuf += 1;
        if self.nbuf == BATCH {
            self.flush();
        }
    }

    /// Score one token right away (queries); returns its log10 prob.
    fn push(&mut self, w: u64) -> f32 {
        self.queue(w);
        self.flush();
        self.last
    }

    /// Score the queued tokens with the standard ARPA back-off query.
    #[inline(never)]
    #[allow(clippy::needless_range_loop)]
    fn flush(&mut self) {
        let b = self.nbuf;
        if b == 0 {
            return;
        }
        self.nbuf = 0;
        let n = self.tables.len();
        let t = self.tables;
        // 1. unigrams (small table, mostly cached) and <unk> mapping
        let mut uni = [(0f32, 0f32); BATCH];
        for i in 0..b {
            match t[0].get(self.buf[i]) {
                Some(x) => uni[i] = x,
                None => {
                    self.buf[i] = self.m.hashes.unk;
                    uni[i] = self.m.unk;
                }
            }
        }
        // 2. all n-gram keys of the batch: keys[i][k-1] = key of the k-gram ending at i
        let mut keys = [[0u64; MAX_ORDER]; BATCH];
        let h0 = self.hlen;
        for i in 0..b {
            let mut key = self.buf[i];
            let maxk = n.min(h0 + i + 1);
            for k in 2..=maxk {
                let left = if i >= k - 1 { self.buf[i - (k - 1)] } else { self.hist[k - 2 - i] };
                key = extend_left(key, left);
                keys[i][k - 1] = key;
            }
        }
        let prefetch = |i: usize| {
            let maxk = n.min(h0 + i + 1);
            for k in 2..=maxk {
                t[k - 1].prefetch(keys[i][k - 1]);
            }
        };
        for i in 0..b.min(PREFETCH) {
            prefetch(i);
        }
        // 3. back-off query per token
        for i in 0..b {
            if i + PREFETCH < b {
                prefetch(i + PREFETCH);
            }
            let (p1, b1) = uni[i];
            let mut prob = p1;
            let mut found = 1;
            let mut newbo = [0f32; MAX_ORDER];
            newbo[0] = b1;
            let maxk = n.min(self.hlen + 1);
            for k in 2..=maxk {
                match t[k - 1].get(keys[i][k - 1]) {
                    Some((p, bo)) => {
                        prob = p;
                        newbo[k - 1] = bo;
                        found = k;
                    }
                    None => break,
                }
            }
            // Back off from every context longer than the match: lengths found..=hlen.
            let ctx = (n - 1).min(self.hlen);
            for j in found..=ctx {
                prob += self.bo[j - 1];
            }
            if n > 1 {
                for j in (1..n - 1).rev() {
                    self.hist[j] = self.hist[j - 1];
                }
                self.hist[0] = self.buf[i];
                self.bo = newbo;
                self.hlen = (self.hlen + 1).min(n - 1);
            }
            self.sent_lp += prob as f64;
            self.sent_n += 1;
            self.last = prob;
            if let Some(tr) = self.trace.as_deref_mut() {
                tr.push(prob);
            }
        }
    }
}

impl<L: Lookup> TokenSink for Scorer<'_, L> {
    const WANTS_TEXT: bool = false;
    #[inline(always)]
    fn word(&mut self, hash: u64, _text: &str) {
        self.queue(hash);
    }
    fn end_sentence(&mut self) {
        self.queue(self.m.hashes.eos);
        self.flush();
        let lp = -self.sent_lp / self.sent_n as f64;
        self.total_lp += self.sent_lp;
        self.total_n += self.sent_n;
        self.nsent += 1;
        // Welford
        let d = lp - self.mean;
        self.mean += d / self.nsent as f64;
        self.m2 += d * (lp - self.mean);
        self.reset();
    }
}

#[cfg(test)]
mod tests;
