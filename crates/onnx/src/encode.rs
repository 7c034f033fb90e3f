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

/// Reusable buffers for [`hash_v1`].
#[derive(Default)]
pub struct HashScratch {
    norm: Vec<u8>,
    tokens: Vec<(u32, u32)>,
    joined: Vec<u8>,
    buckets: Vec<u32>,
    sort_buffer: Vec<u32>,
    counts: Vec<u32>,
}

/// Below this many keys the comparison sort wins: the radix sort's passes each clear and scan a
/// histogram of `1 << RADIX_BITS` counters.
const RADIX_MIN_LEN: usize = 256;
const RADIX_BITS: u32 = 11;

/// Sorts `keys`, all below `1 << key_bits`: LSD radix sort, `RADIX_BITS` per pass, through `buffer`.
/// A document's few thousand bucket ids take two passes (19-bit ids) instead of a comparison sort's
/// ~12 compare-and-branch rounds: the sort was a fifth of the `fast` classifier's time.
fn radix_sort(keys: &mut Vec<u32>, buffer: &mut Vec<u32>, key_bits: u32) {
    if keys.len() < RADIX_MIN_LEN {
        keys.sort_unstable();
        return;
    }
    buffer.clear();
    buffer.resize(keys.len(), 0);
    let mut counts = [0usize; 1 << RADIX_BITS];
    let mask = (1u32 << RADIX_BITS) - 1;
    let mut shift = 0;
    while shift < key_bits {
        counts.fill(0);
        for &k in keys.iter() {
            counts[((k >> shift) & mask) as usize] += 1;
        }
        let mut start = 0;
        for c in counts.iter_mut() {
            let n = *c;
            *c = start;
            start += n;
        }
        for &k in keys.iter() {
            let digit = ((k >> shift) & mask) as usize;
            buffer[counts[digit]] = k;
            counts[digit] += 1;
        }
        std::mem::swap(keys, buffer);
        shift += RADIX_BITS;
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
    let mask = (buckets - 1) as u64;
    let p = prefix(text, max_bytes).as_bytes();
    s.norm.clear();
    s.norm.extend(p.iter().map(|b| b.to_ascii_lowercase()));
    // Tokens: runs of [a-z0-9] or bytes >= 0x80; each ASCII punctuation byte alone; the rest separates.
    s.tokens.clear();
    let b = &s.norm;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_alphanumeric() || c >= 0x80 {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] >= 0x80) {
                i += 1;
            }
            s.tokens.push((start as u32, i as u32));
        } else {
            if (0x21..=0x7E).contains(&c) {
                s.tokens.push((i as u32, i as u32 + 1));
            }
            i += 1;
        }
    }
    let tok = |t: (u32, u32)| &b[t.0 as usize..t.1 as usize];
    s.joined.clear();
    for (k, &t) in s.tokens.iter().enumerate() {
        if k > 0 {
            s.joined.push(b' ');
        }
        s.joined.extend_from_slice(tok(t));
    }
    // `extend` over exact-size iterators: no capacity check per pushed id.
    s.buckets.clear();
    s.buckets.reserve(2 * s.tokens.len() + s.joined.len());
    let u_state = fnv(FNV_OFFSET, b"u|");
    s.buckets.extend(s.tokens.iter().map(|&t| (fnv(u_state, tok(t)) & mask) as u32));
    let b_state = fnv(FNV_OFFSET, b"b|");
    s.buckets.extend(s.tokens.windows(2).map(|w| (fnv(fnv(fnv(b_state, tok(w[0])), b" "), tok(w[1])) & mask) as u32));
    let c_state = fnv(FNV_OFFSET, b"c|");
    let j = &s.joined;
    s.buckets.extend((0..j.len().saturating_sub(3)).map(|i| (fnv(c_state, &j[i..i + 4]) & mask) as u32));
    radix_sort(&mut s.buckets, &mut s.sort_buffer, u64::BITS - mask.leading_zeros());
    // Runs of equal buckets: their ids and counts.
    s.counts.clear();
    let mut previous = None;
    for &id in &s.buckets {
        if previous == Some(id) {
            *s.counts.last_mut().expect("pushed with the id") += 1;
        } else {
            ids.push(id as i64);
            s.counts.push(1);
            previous = Some(id);
        }
    }
    // 1 + ln(count), L2-normalised, computed in f64 as the Python side does, then cast.
    let norm2: f64 = s.counts.iter().map(|&n| one_plus_ln(n).powi(2)).sum();
    let inv = if norm2 > 0.0 { 1.0 / norm2.sqrt() } else { 0.0 };
    values.extend(s.counts.iter().map(|&n| (one_plus_ln(n) * inv) as f32));
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
        let mut buffer = Vec::new();
        for key_bits in [1u32, 8, 11, 12, 19, 22, 31, 32] {
            for len in [0usize, 1, 5, RADIX_MIN_LEN - 1, RADIX_MIN_LEN, 3000] {
                let keys: Vec<u32> = (0..len).map(|_| (rng.next_u64() >> (64 - key_bits)) as u32).collect();
                let (mut radix, mut want) = (keys.clone(), keys);
                radix_sort(&mut radix, &mut buffer, key_bits);
                want.sort_unstable();
                assert_eq!(radix, want, "{key_bits} bits, {len} keys");
            }
        }
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
