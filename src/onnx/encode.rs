//! Model inputs: the hashed n-gram features of `svalbard-hash-v1` (specified in models/fast/FEATURES.md and
//! implemented identically by scripts/fast_features.py; tests/fixtures/fast_hash_parity.jsonl holds both
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
    counts: Vec<u32>,
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
    s.buckets.clear();
    let tok = |t: (u32, u32)| &b[t.0 as usize..t.1 as usize];
    for &t in &s.tokens {
        s.buckets.push((fnv(fnv(FNV_OFFSET, b"u|"), tok(t)) & mask) as u32);
    }
    for w in s.tokens.windows(2) {
        let h = fnv(fnv(fnv(fnv(FNV_OFFSET, b"b|"), tok(w[0])), b" "), tok(w[1]));
        s.buckets.push((h & mask) as u32);
    }
    s.joined.clear();
    for (k, &t) in s.tokens.iter().enumerate() {
        if k > 0 {
            s.joined.push(b' ');
        }
        s.joined.extend_from_slice(tok(t));
    }
    let c_state = fnv(FNV_OFFSET, b"c|");
    for win in s.joined.windows(4) {
        s.buckets.push((fnv(c_state, win) & mask) as u32);
    }
    s.buckets.sort_unstable();
    // Runs of equal buckets: their ids and counts.
    s.counts.clear();
    for &id in &s.buckets {
        if ids.last() == Some(&(id as i64)) {
            *s.counts.last_mut().expect("pushed with the id") += 1;
        } else {
            ids.push(id as i64);
            s.counts.push(1);
        }
    }
    // 1 + ln(count), L2-normalised, computed in f64 as the Python side does, then cast.
    let norm2: f64 = s.counts.iter().map(|&n| (1.0 + (n as f64).ln()).powi(2)).sum();
    let inv = if norm2 > 0.0 { 1.0 / norm2.sqrt() } else { 0.0 };
    values.extend(s.counts.iter().map(|&n| ((1.0 + (n as f64).ln()) * inv) as f32));
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
    fn parity_with_the_python_reference() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fast_hash_parity.jsonl");
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
