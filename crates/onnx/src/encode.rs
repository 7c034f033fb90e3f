//! Model inputs: the hashed n-gram features of `svalbard-hash-v1` (specified in models/fast/FEATURES.md and
//! implemented identically by training/src/svalbard_train/hashing.py; tests/fixtures/fast_hash_parity.jsonl holds both
//! sides to agreement), and token ids from a HF tokenizer.

pub const HASH_V1: &str = "svalbard-hash-v1";

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a char boundary.
pub fn prefix(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut cut = max_bytes;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

#[inline]
fn fnv(state: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(state, |h, &b| (h ^ b as u64).wrapping_mul(FNV_PRIME))
}

/// FNV-1a in the low 32 bits of its 64-bit state. A bucket keeps only the hash's low bits, and the low k bits
/// of a product, or of an XOR with a byte, depend only on the low k bits of the operands: so for any bucket
/// count up to 2^32 this gives the same buckets as the 64-bit hash, in arithmetic a vector unit does four or
/// eight lanes at a time.
const FNV32_PRIME: u32 = FNV_PRIME as u32;

/// One byte of FNV-1a in the low 32 bits.
#[inline(always)]
fn fnv32_step(h: u32, b: u8) -> u32 {
    (h ^ b as u32).wrapping_mul(FNV32_PRIME)
}

/// Reusable buffers for [`hash_v1`].
#[derive(Default)]
pub struct HashScratch {
    /// The lowercased tokens joined by single spaces (the spec's `S`).
    joined: Vec<u8>,
    buckets: Vec<u32>,
    /// [`count_dense`]'s table and bitmaps, all zero between documents.
    dense: DenseCounts,
    /// [`count_sorted`]'s buffers, for what the table cannot count.
    sort: SortBuffers,
    /// Each distinct bucket and its count, in increasing bucket order (buffers that only grow).
    run_ids: Vec<u32>,
    counts: Vec<u32>,
}

/// Models with at most this many buckets have theirs counted in a table indexed by bucket ([`count_dense`], a
/// `u16` each: 2 MiB at most per thread); larger ones are sorted.
const DENSE_MAX_BUCKETS: usize = 1 << 20;

/// A count per bucket, a bit per bucket that has one, and a bit per 64 buckets with any.
#[derive(Default)]
struct DenseCounts {
    counts: Vec<u16>,
    bits: Vec<u64>,
    summary: Vec<u64>,
}

/// The radix sort's second array and its histograms (buffers that only grow).
#[derive(Default)]
struct SortBuffers {
    keys: Vec<u32>,
    histograms: Vec<u32>,
}

/// Each distinct id of `ids` and its count, in increasing id order, into `run_ids` and `counts` (as long as
/// `ids`); returns how many. The ids are counted in a table and listed in order from its two-level bitmap: the
/// same ids and counts as sorting gives, without the sort's passes over every id (for `fast`, a document's ids
/// are 19-bit buckets and the radix sort's scatter was the largest part of hashing). Needs every id below
/// `buckets` and fewer than 65,536 ids; leaves the table zeroed.
fn count_dense(ids: &[u32], buckets: usize, d: &mut DenseCounts, run_ids: &mut [u32], counts: &mut [u32]) -> usize {
    debug_assert!(ids.len() <= usize::from(u16::MAX));
    if d.counts.len() < buckets {
        d.counts.resize(buckets, 0);
        d.bits.resize(buckets.div_ceil(64), 0);
        d.summary.resize(buckets.div_ceil(64 * 64), 0);
    }
    for &id in ids {
        let id = id as usize;
        d.counts[id] += 1;
        d.bits[id / 64] |= 1 << (id % 64);
        d.summary[id / 4096] |= 1 << (id / 64 % 64);
    }
    let mut runs = 0;
    for (s, summary) in d.summary[..buckets.div_ceil(64 * 64)].iter_mut().enumerate() {
        let mut words = std::mem::take(summary);
        while words != 0 {
            let word = s * 64 + words.trailing_zeros() as usize;
            words &= words - 1;
            let mut bits = std::mem::take(&mut d.bits[word]);
            while bits != 0 {
                let id = word * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                run_ids[runs] = id as u32;
                counts[runs] = u32::from(std::mem::take(&mut d.counts[id]));
                runs += 1;
            }
        }
    }
    runs
}

/// [`count_dense`] for any ids: sorted (radix sort over `key_bits`), then runs of equal ids counted. Sorts `ids`.
fn count_sorted(
    ids: &mut [u32],
    key_bits: u32,
    sort: &mut SortBuffers,
    run_ids: &mut [u32],
    counts: &mut [u32],
) -> usize {
    radix_sort(ids, &mut sort.keys, &mut sort.histograms, key_bits);
    let Some(&first) = ids.first() else { return 0 };
    // A new run advances the index and restarts its count, so nothing is zeroed per document.
    let (mut run, mut previous) = (0usize, first);
    counts[0] = 0;
    for &id in ids.iter() {
        let new = id != previous;
        run += usize::from(new);
        previous = id;
        run_ids[run] = id;
        counts[run] = if new { 1 } else { counts[run] + 1 };
    }
    run + 1
}

/// Below this many keys the comparison sort wins: the radix sort's passes each clear and scan a
/// histogram of up to `1 << RADIX_MAX_BITS` counters.
const RADIX_MIN_LEN: usize = 256;
const RADIX_MAX_BITS: u32 = 11;

/// Sorts `keys`, all below `1 << key_bits`: LSD radix sort through `buffer`, in as few passes of at most
/// `RADIX_MAX_BITS` as `key_bits` needs, the bits shared evenly between them (19-bit ids: two passes of 10 and
/// 9 bits), with every pass's histogram counted in one read of the keys. A document's few thousand bucket ids
/// take two passes instead of a comparison sort's ~12 compare-and-branch rounds: the sort was a fifth of the
/// `fast` classifier's time. `buffer` and `histograms` only grow; a sort zeroes only the histograms it uses.
fn radix_sort(keys: &mut [u32], buffer: &mut Vec<u32>, histograms: &mut Vec<u32>, key_bits: u32) {
    if keys.len() < RADIX_MIN_LEN {
        keys.sort_unstable();
        return;
    }
    if buffer.len() < keys.len() {
        buffer.resize(keys.len(), 0);
    }
    let n = keys.len();
    let passes = key_bits.div_ceil(RADIX_MAX_BITS).max(1) as usize;
    let bits = key_bits.div_ceil(passes as u32);
    let (size, mask) = (1usize << bits, (1u32 << bits) - 1);
    if histograms.len() < passes * size {
        histograms.resize(passes * size, 0);
    }
    histograms[..passes * size].fill(0);
    // The passes' digits counted in one read of the keys, each pass's loop written out (a loop over the passes
    // inside the loop over the keys cost more than the second read it saves).
    let (first, rest) = histograms.split_at_mut(size);
    match passes {
        1 => keys.iter().for_each(|&k| first[(k & mask) as usize] += 1),
        2 => {
            let second = &mut rest[..size];
            for &k in keys.iter() {
                first[(k & mask) as usize] += 1;
                second[((k >> bits) & mask) as usize] += 1;
            }
        }
        _ => {
            let (second, third) = rest.split_at_mut(size);
            let third = &mut third[..size];
            for &k in keys.iter() {
                first[(k & mask) as usize] += 1;
                second[((k >> bits) & mask) as usize] += 1;
                third[((k >> (2 * bits)) & mask) as usize] += 1;
            }
        }
    }
    let (mut src, mut dst): (&mut [u32], &mut [u32]) = (keys, &mut buffer[..n]);
    for (pass, histogram) in histograms.chunks_exact_mut(size).take(passes).enumerate() {
        let mut start = 0;
        for c in histogram.iter_mut() {
            let n = *c;
            *c = start;
            start += n;
        }
        let shift = bits * pass as u32;
        for &k in src.iter() {
            let digit = ((k >> shift) & mask) as usize;
            dst[histogram[digit] as usize] = k;
            histogram[digit] += 1;
        }
        std::mem::swap(&mut src, &mut dst);
    }
    // After an odd number of passes the sorted keys are in the buffer (`src`) and `dst` is `keys`.
    if passes % 2 == 1 {
        dst.copy_from_slice(src);
    }
}

/// `1 + ln(n)` for the counts a document's buckets usually have, computed with the same f64 `ln` as any
/// other count (so the values are the same), once: `ln` was a tenth of the classifier's time.
fn one_plus_ln(n: u32) -> f64 {
    fn exact(n: usize) -> f64 {
        1.0 + (n as f64).ln()
    }
    static TABLE: std::sync::OnceLock<[f64; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| std::array::from_fn(exact));
    table.get(n as usize).copied().unwrap_or_else(|| exact(n as usize))
}

/// Whether byte `c` (already lowercased) belongs to a word token: `a-z`, `0-9` or any byte >= 0x80.
#[inline]
fn is_word_byte(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c >= 0x80
}

/// Steps 2 to 4 of the spec for the word features, in one scan of `p`: the lowercased tokens into `joined`,
/// separated by single spaces (the spec's `S`), and each token's unigram bucket and each adjacent pair's bigram
/// bucket into `buckets`. A pair's feature is `t_i + " " + t_{i+1}`, so its hash is the state of a chain that
/// read `t_i` and the space, carried on over `t_{i+1}`: the unigram chain, a pair's second half and the next
/// pair's first half advance together over each token's bytes, three independent multiplies per byte where
/// separate passes waited on one. The buckets come out interleaved; counting does not ask their order.
fn tokenize_and_hash_words(p: &[u8], mask: u32, joined: &mut Vec<u8>, buckets: &mut Vec<u32>) {
    joined.clear();
    joined.reserve(2 * p.len());
    let mut words =
        WordChains { unigram: fnv(FNV_OFFSET, b"u|") as u32, bigram: fnv(FNV_OFFSET, b"b|") as u32, pair: None };
    let mut i = 0;
    while i < p.len() {
        let c = p[i].to_ascii_lowercase();
        if is_word_byte(c) {
            let run = p[i..].iter().position(|b| !is_word_byte(b.to_ascii_lowercase())).unwrap_or(p.len() - i);
            words.token(p[i..i + run].iter().map(u8::to_ascii_lowercase), mask, joined, buckets);
            i += run;
        } else {
            if (0x21..=0x7E).contains(&c) {
                words.token(std::iter::once(c), mask, joined, buckets);
            }
            i += 1;
        }
    }
}

/// The hash chains of [`tokenize_and_hash_words`].
struct WordChains {
    /// FNV states after `u|` and after `b|`.
    unigram: u32,
    bigram: u32,
    /// The bigram chain after the previous token and its space; None before the first token.
    pair: Option<u32>,
}

impl WordChains {
    #[inline(always)]
    fn token(&mut self, bytes: impl Iterator<Item = u8>, mask: u32, joined: &mut Vec<u8>, buckets: &mut Vec<u32>) {
        if !joined.is_empty() {
            joined.push(b' ');
        }
        let (mut unigram, mut first, mut second) = (self.unigram, self.bigram, self.pair.unwrap_or(0));
        let start = joined.len();
        joined.extend(bytes);
        for &c in &joined[start..] {
            unigram = fnv32_step(unigram, c);
            first = fnv32_step(first, c);
            second = fnv32_step(second, c);
        }
        buckets.push(unigram & mask);
        if self.pair.is_some() {
            buckets.push(second & mask);
        }
        self.pair = Some(fnv32_step(first, b' '));
    }
}

/// svalbard-hash-v1: sorted bucket ids and their L2-normalised `1 + ln(count)` values.
pub fn hash_v1(
    text: &str,
    max_bytes: usize,
    buckets: u32,
    s: &mut HashScratch,
    ids: &mut Vec<i64>,
    values: &mut Vec<f32>,
) {
    ids.clear();
    values.clear();
    let mask = buckets - 1;
    s.buckets.clear();
    tokenize_and_hash_words(prefix(text, max_bytes).as_bytes(), mask, &mut s.joined, &mut s.buckets);
    let j = &s.joined;
    // The 4-byte windows of `joined`, each read as four slices of the same length so that the loop has no
    // bounds checks and runs in vector lanes.
    let c_state = fnv(FNV_OFFSET, b"c|") as u32;
    if j.len() >= 4 {
        let n = j.len() - 3;
        let (b0, b1, b2, b3) = (&j[..n], &j[1..n + 1], &j[2..n + 2], &j[3..]);
        s.buckets.extend(
            b0.iter()
                .zip(b1)
                .zip(b2)
                .zip(b3)
                .map(|(((&a, &b), &c), &d)| fnv32_step(fnv32_step(fnv32_step(fnv32_step(c_state, a), b), c), d) & mask),
        );
    }
    if s.run_ids.len() < s.buckets.len() {
        s.run_ids.resize(s.buckets.len(), 0);
        s.counts.resize(s.buckets.len(), 0);
    }
    let runs = if buckets as usize <= DENSE_MAX_BUCKETS && s.buckets.len() <= usize::from(u16::MAX) {
        count_dense(&s.buckets, buckets as usize, &mut s.dense, &mut s.run_ids, &mut s.counts)
    } else {
        let key_bits = u32::BITS - mask.leading_zeros();
        count_sorted(&mut s.buckets, key_bits, &mut s.sort, &mut s.run_ids, &mut s.counts)
    };
    let counts = &s.counts[..runs];
    ids.extend(s.run_ids[..runs].iter().map(|&id| i64::from(id)));
    // 1 + ln(count), L2-normalised, computed in f64 as the Python side does, then cast.
    let norm2: f64 = counts.iter().map(|&n| one_plus_ln(n).powi(2)).sum();
    let inv = if norm2 > 0.0 { 1.0 / norm2.sqrt() } else { 0.0 };
    values.extend(counts.iter().map(|&n| (one_plus_ln(n) * inv) as f32));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_backs_off_to_a_char_boundary() {
        assert_eq!(prefix("abc", 10), "abc");
        assert_eq!(prefix("aé", 2), "a"); // é is 2 bytes starting at 1
        assert_eq!(prefix("aé", 3), "aé");
    }

    #[test]
    fn radix_sort_sorts_like_the_comparison_sort() {
        let mut rng = crate::eval::rng::Rng::new(0x9e37_79b9_7f4a_7c15);
        let (mut buffer, mut histograms) = (Vec::new(), Vec::new());
        for key_bits in [1u32, 8, 11, 12, 19, 22, 31, 32] {
            for len in [0usize, 1, 5, RADIX_MIN_LEN - 1, RADIX_MIN_LEN, 3000] {
                let keys: Vec<u32> = (0..len).map(|_| (rng.next_u64() >> (64 - key_bits)) as u32).collect();
                let (mut radix, mut want) = (keys.clone(), keys);
                radix_sort(&mut radix, &mut buffer, &mut histograms, key_bits);
                want.sort_unstable();
                assert_eq!(radix, want, "{key_bits} bits, {len} keys");
            }
        }
    }

    #[test]
    fn dense_and_sorted_counts_agree() {
        let mut rng = crate::eval::rng::Rng::new(0x0dd5_eed5_0000_0001);
        let mut s = HashScratch::default();
        for buckets in [1usize, 16, 64, 4096, 4097, 1 << 19] {
            for len in [0usize, 1, 7, 300, 5000] {
                // Few distinct values as well as many, so that runs are long and short.
                let distinct = if len % 2 == 0 { buckets } else { buckets.min(5) };
                let keys: Vec<u32> = (0..len).map(|_| (rng.next_u64() % distinct as u64) as u32).collect();
                s.run_ids.resize(len.max(1), 0);
                s.counts.resize(len.max(1), 0);
                let runs = count_dense(&keys, buckets, &mut s.dense, &mut s.run_ids, &mut s.counts);
                let dense = (s.run_ids[..runs].to_vec(), s.counts[..runs].to_vec());
                let d = &s.dense;
                assert!(d.counts.iter().all(|&c| c == 0) && d.bits.iter().chain(&d.summary).all(|&b| b == 0));
                let mut sorted_keys = keys.clone();
                let key_bits = usize::BITS - (buckets - 1).leading_zeros();
                let runs = count_sorted(&mut sorted_keys, key_bits, &mut s.sort, &mut s.run_ids, &mut s.counts);
                assert_eq!(
                    dense,
                    (s.run_ids[..runs].to_vec(), s.counts[..runs].to_vec()),
                    "{buckets} buckets, {len} ids"
                );
            }
        }
    }

    /// The spec (models/fast/FEATURES.md) read literally: 64-bit FNV-1a over each feature's bytes, counts in an
    /// ordered map.
    fn hash_v1_reference(text: &str, max_bytes: usize, buckets: u32) -> (Vec<i64>, Vec<f32>) {
        let norm: Vec<u8> = prefix(text, max_bytes).bytes().map(|b| b.to_ascii_lowercase()).collect();
        let mut tokens: Vec<Vec<u8>> = Vec::new();
        let mut current: Vec<u8> = Vec::new();
        for &c in &norm {
            if c.is_ascii_alphanumeric() || c >= 0x80 {
                current.push(c);
                continue;
            }
            if !current.is_empty() {
                tokens.push(std::mem::take(&mut current));
            }
            if (0x21..=0x7E).contains(&c) {
                tokens.push(vec![c]);
            }
        }
        if !current.is_empty() {
            tokens.push(current);
        }
        let mut features: Vec<Vec<u8>> = tokens.iter().map(|t| [b"u|".as_slice(), t].concat()).collect();
        features.extend(tokens.windows(2).map(|w| [b"b|".as_slice(), &w[0], b" ", &w[1]].concat()));
        let joined = tokens.join(&b' ');
        features.extend(joined.windows(4).map(|w| [b"c|".as_slice(), w].concat()));
        let mut counts = std::collections::BTreeMap::new();
        for f in &features {
            *counts.entry((fnv(FNV_OFFSET, f) & (buckets as u64 - 1)) as i64).or_insert(0u32) += 1;
        }
        let norm2: f64 = counts.values().map(|&n| (1.0 + (n as f64).ln()).powi(2)).sum();
        let inv = if norm2 > 0.0 { 1.0 / norm2.sqrt() } else { 0.0 };
        (counts.keys().copied().collect(), counts.values().map(|&n| ((1.0 + (n as f64).ln()) * inv) as f32).collect())
    }

    #[test]
    fn hash_v1_is_the_spec_on_random_text() {
        let mut rng = crate::eval::rng::Rng::new(0x5eed_1234_abcd_0001);
        let pieces = [
            "The",
            "cat",
            "SAT",
            " ",
            "  ",
            "\n",
            "\t",
            ".",
            "...",
            "'",
            "-",
            "é",
            "naïve",
            "日本語",
            "😀",
            "\u{a0}",
            "x",
            "42",
            "\u{7f}",
            "\r\n",
            "Q&A",
            "(ok)",
            "a",
        ];
        let mut s = HashScratch::default();
        let (mut ids, mut values) = (Vec::new(), Vec::new());
        for case in 0..400 {
            let words = (rng.next_u64() % 600) as usize;
            let text: String = (0..words).map(|_| pieces[(rng.next_u64() % pieces.len() as u64) as usize]).collect();
            for (max_bytes, buckets) in [(3000, 1u32 << 19), (64, 1 << 19), (3000, 16), (100_000, 1 << 31)] {
                hash_v1(&text, max_bytes, buckets, &mut s, &mut ids, &mut values);
                let (want_ids, want_values) = hash_v1_reference(&text, max_bytes, buckets);
                assert_eq!(ids, want_ids, "case {case}, {max_bytes} bytes, {buckets} buckets");
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&values), bits(&want_values), "case {case}, {max_bytes} bytes, {buckets} buckets");
            }
        }
    }

    #[test]
    fn hash_v1_sorts_what_the_dense_table_cannot_count() {
        // More than 65,535 features at `fast`'s bucket count: the counts would overflow the dense table's `u16`.
        let text: String = (0..30_000).map(|i| format!("w{} ", i % 977)).collect();
        let (mut s, mut ids, mut values) = (HashScratch::default(), Vec::new(), Vec::new());
        hash_v1(&text, 1 << 20, 1 << 19, &mut s, &mut ids, &mut values);
        let (want_ids, want_values) = hash_v1_reference(&text, 1 << 20, 1 << 19);
        assert!(s.buckets.len() > usize::from(u16::MAX));
        assert_eq!(ids, want_ids);
        assert_eq!(
            values.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            want_values.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn one_plus_ln_is_the_same_inside_and_beyond_the_table() {
        for n in [1u32, 2, 3, 255, 256, 257, 100_000] {
            assert_eq!(one_plus_ln(n).to_bits(), (1.0 + (n as f64).ln()).to_bits(), "{n}");
        }
    }

    #[test]
    fn parity_with_the_python_reference() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/fast_hash_parity.jsonl");
        let text = std::fs::read_to_string(path).unwrap();
        let mut s = HashScratch::default();
        let (mut ids, mut values) = (Vec::new(), Vec::new());
        let mut n = 0;
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            hash_v1(v["text"].as_str().unwrap(), 3000, 1 << 19, &mut s, &mut ids, &mut values);
            let want_ids: Vec<i64> = v["ids"].as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect();
            let want_values: Vec<f64> = v["values"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
            assert_eq!(ids, want_ids, "{}", v["name"]);
            for (a, b) in values.iter().zip(&want_values) {
                assert!((*a as f64 - b).abs() < 1e-6, "{}: {a} vs {b}", v["name"]);
            }
            n += 1;
        }
        assert!(n >= 20);
    }
}
