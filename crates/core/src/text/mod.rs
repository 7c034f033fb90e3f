//! One pass over a document's text that every cheap heuristic reads from.
//!
//! The heuristics (Gopher quality and repetition, C4, FineWeb, vocabulary) all need the same raw material:
//! whitespace tokens, the words inside them with punctuation stripped, hashes of those words, character
//! counts. Computing it once per document, in one scan of the bytes with an ASCII fast path, is what lets
//! the cheap signals run at hundreds of MB/s; the scratch buffers are reused from document to document.

pub mod canonical;

/// Python's `str.split()` whitespace for ASCII (it includes the information separators 0x1C..=0x1F, which
/// Rust's `char::is_whitespace` does not): our token boundaries match the reference implementations.
const fn ascii_whitespace_table() -> [bool; 128] {
    let mut t = [false; 128];
    let ws: [u8; 10] = [b' ', b'\t', b'\n', 0x0B, 0x0C, b'\r', 0x1C, 0x1D, 0x1E, 0x1F];
    let mut i = 0;
    while i < ws.len() {
        t[ws[i] as usize] = true;
        i += 1;
    }
    t
}
static ASCII_WS: [bool; 128] = ascii_whitespace_table();

/// `u8::is_ascii_punctuation` as a table: four range tests per byte cost more than one load, and every word's
/// ends are tested.
static ASCII_PUNCT: [bool; 128] = {
    let mut t = [false; 128];
    let mut c = 0;
    while c < 128 {
        t[c] = (c as u8).is_ascii_punctuation();
        c += 1;
    }
    t
};

#[inline]
pub fn is_ascii_ws(b: u8) -> bool {
    b < 128 && ASCII_WS[b as usize]
}

/// Unicode whitespace as Python's `str.isspace()` sees it.
#[inline]
pub fn is_space_char(c: char) -> bool {
    if c.is_ascii() {
        ASCII_WS[c as usize]
    } else {
        c.is_whitespace()
    }
}

/// Punctuation and symbols stripped from the ends of a token to get the word inside ("Hello," → "Hello").
#[inline]
pub fn is_punct_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_punctuation()
    } else {
        matches!(
            c,
            '\u{2010}'..='\u{2027}' // dashes, quotes, bullets, ellipsis
                | '\u{2030}'..='\u{205E}'
                | '\u{00A1}' | '\u{00A7}' | '\u{00AB}' | '\u{00B6}' | '\u{00B7}' | '\u{00BB}' | '\u{00BF}'
                | '\u{3001}'..='\u{3003}' | '\u{3008}'..='\u{3011}' | '\u{3014}'..='\u{301F}'
                | '\u{FF01}'..='\u{FF0F}' | '\u{FF1A}'..='\u{FF20}' | '\u{FF3B}'..='\u{FF40}' | '\u{FF5B}'..='\u{FF65}'
        )
    }
}

/// A fast 64-bit hash for deduplication inside one document (not a stable on-disk format).
#[inline]
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    hash_chunks(bytes, |v| v)
}

/// [`hash_bytes`] of the ASCII-lowercased bytes, for case-insensitive word lists, without a lowercased copy.
#[inline]
pub fn hash_folded(bytes: &[u8]) -> u64 {
    hash_chunks(bytes, lower8)
}

/// The hash of [`hash_bytes`] over `bytes` read 8 at a time, each 8-byte chunk passed through `map` first.
#[inline(always)]
fn hash_chunks(bytes: &[u8], map: impl Fn(u64) -> u64) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        h = (h.rotate_left(5) ^ map(u64::from_le_bytes(c.try_into().unwrap()))).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        h = (h.rotate_left(5) ^ map(load_le_padded(rest))).wrapping_mul(K);
    }
    mix64(h)
}

/// The 0..=7 bytes of `rest` as a little-endian u64 padded with zero bytes, as `u64::from_le_bytes` of them
/// copied into a zeroed `[u8; 8]`. Built from up to two overlapping loads instead: the copy went through a
/// `memcpy` call and an 8-byte load of bytes stored one by one, which cannot be forwarded and stalled the
/// hashing of every short word. Where the two loads overlap they read the same bytes, so OR-ing them is exact.
#[inline]
fn load_le_padded(rest: &[u8]) -> u64 {
    let n = rest.len();
    debug_assert!(n < 8);
    if n >= 4 {
        let lo = u32::from_le_bytes(rest[..4].try_into().unwrap()) as u64;
        let hi = u32::from_le_bytes(rest[n - 4..].try_into().unwrap()) as u64;
        lo | hi << (8 * (n - 4))
    } else if n > 0 {
        rest[0] as u64 | (rest[n / 2] as u64) << (8 * (n / 2)) | (rest[n - 1] as u64) << (8 * (n - 1))
    } else {
        0
    }
}

/// ASCII-lowercase the eight bytes of `v` at once (bytes >= 0x80 are left alone), as std does for
/// `make_ascii_lowercase`.
#[inline]
fn lower8(v: u64) -> u64 {
    const HI: u64 = 0x8080_8080_8080_8080;
    let low7 = v & !HI;
    let ge_a = low7.wrapping_add(0x3f3f_3f3f_3f3f_3f3f); // high bit set where byte >= 'A'
    let gt_z = low7.wrapping_add(0x2525_2525_2525_2525); // high bit set where byte > 'Z'
    let upper = !v & (ge_a ^ gt_z) & HI;
    v | (upper >> 2)
}

/// Combine a running n-gram hash with the next word's hash (order-sensitive).
#[inline]
pub fn combine(h: u64, next: u64) -> u64 {
    mix64(h.rotate_left(23) ^ next.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

#[inline]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A word: a whitespace token with leading and trailing punctuation stripped, non-empty. Its hashes are left to
/// the signals that read them ([`hash_bytes`], [`hash_folded`] of [`Word::bytes`]): most documents of a crawl are
/// rejected before the one signal that hashes every word runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Word {
    /// Byte range of the stripped word in the text.
    pub start: u32,
    pub end: u32,
    /// Length in chars of the stripped word.
    pub chars: u32,
}

impl Word {
    /// The word's bytes in `text`, the text it was found in.
    #[inline]
    pub fn bytes<'t>(&self, text: &'t str) -> &'t [u8] {
        &text.as_bytes()[self.start as usize..self.end as usize]
    }
}

/// Everything the cheap heuristics read, computed by [`Analysis::run`].
#[derive(Default, Debug)]
pub struct Analysis {
    /// Chars in the whole text.
    pub n_chars: usize,
    /// Whitespace-separated tokens (Python `str.split()`).
    pub n_tokens: usize,
    /// Tokens containing at least one alphabetic char.
    pub n_alpha_tokens: usize,
    /// Tokens that are not only punctuation, as words.
    pub words: Vec<Word>,
    /// Occurrences of '#'.
    pub n_hash: usize,
    /// Non-overlapping occurrences of "..." plus occurrences of '…'.
    pub n_ellipsis: usize,
    /// Occurrences of '\n'.
    pub n_newlines: usize,
}

impl Analysis {
    /// Analyse `text`, reusing this value's buffers.
    pub fn run(&mut self, text: &str) {
        self.words.clear();
        let b = text.as_bytes();
        // Python's `len(str)`; the standard library counts chars a machine word at a time.
        self.n_chars = text.chars().count();
        self.n_newlines = memchr::memchr_iter(b'\n', b).count();
        self.n_hash = memchr::memchr_iter(b'#', b).count();
        self.n_ellipsis =
            memchr::memmem::find_iter(b, b"...").count() + memchr::memmem::find_iter(b, "…".as_bytes()).count();
        self.n_tokens = 0;
        self.n_alpha_tokens = 0;
        for_each_token(text, |start, end, has_alpha, ascii| {
            self.n_tokens += 1;
            self.n_alpha_tokens += has_alpha as usize;
            if let Some((ws, we)) = strip_punct(text, start, end) {
                let chars = if ascii { we - ws } else { text[ws..we].chars().count() };
                self.words.push(Word { start: ws as u32, end: we as u32, chars: chars as u32 });
            }
        });
    }

    pub fn word_str<'t>(&self, text: &'t str, w: &Word) -> &'t str {
        &text[w.start as usize..w.end as usize]
    }
}

/// The whitespace tokens of `text` (Python's `str.split()`), in order: `token(start, end, has_alpha, ascii)`
/// for each, with its byte range, whether it holds an alphabetic char and whether it is all ASCII. The one
/// tokenizer of [`Analysis::run`] and [`for_each_word`]; inlined into each, so that a caller that ignores
/// `has_alpha` does not pay for it.
#[inline(always)]
fn for_each_token(text: &str, mut token: impl FnMut(usize, usize, bool, bool)) {
    let b = text.as_bytes();
    let n = b.len();
    let mut i = 0usize;
    while i < n {
        // Skip whitespace.
        let c = b[i];
        if c < 128 {
            if ASCII_WS[c as usize] {
                i += 1;
                continue;
            }
        } else {
            let ch = text[i..].chars().next().unwrap();
            if ch.is_whitespace() {
                i += ch.len_utf8();
                continue;
            }
        }
        // A token starts at i; find its end while noting alphabetic chars.
        let start = i;
        let mut has_alpha = false;
        let mut ascii = true;
        while i < n {
            // Most of a token is printable ASCII: take it 8 bytes at a time up to the first byte that needs
            // a closer look (one that may be whitespace or starts a multi-byte char).
            if i + 8 <= n {
                let v = u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
                let k = printable_ascii_prefix(v);
                has_alpha |= ascii_alpha_in_prefix(v, k);
                i += k;
                if k == 8 {
                    continue;
                }
            }
            let c = b[i];
            if c < 128 {
                if ASCII_WS[c as usize] {
                    break;
                }
                has_alpha |= c.is_ascii_alphabetic();
                i += 1;
            } else {
                ascii = false;
                let ch = text[i..].chars().next().unwrap();
                if ch.is_whitespace() {
                    break;
                }
                has_alpha |= ch.is_alphabetic();
                i += ch.len_utf8();
            }
        }
        token(start, i, has_alpha, ascii);
    }
}

/// The words of `text` as [`Analysis::words`] has them (whitespace tokens with leading and trailing punctuation
/// stripped, the empty ones left out), as byte slices, without the analysis' hashes, char counts and buffer:
/// for a reader that needs only some words' hashes.
#[inline]
pub fn for_each_word(text: &str, mut word: impl FnMut(&[u8])) {
    let b = text.as_bytes();
    for_each_token(text, |start, end, _, _| {
        if let Some((ws, we)) = strip_punct(text, start, end) {
            word(&b[ws..we]);
        }
    });
}

/// The shapes of a word list's words: a word's shape is its byte length (lengths of 31 bytes or more share one)
/// and the low five bits of its first and last bytes. ASCII case changes only a byte's sixth bit, so a word that
/// equals a listed word up to ASCII case has a listed word's shape; a word whose shape is not in the set is none
/// of the list's words and is passed over unhashed. Most words of a text are: with a list of a few hundred words
/// the length alone let most through.
#[derive(Clone, Debug)]
pub struct WordShapes {
    bits: Box<[u64; 512]>,
}

impl Default for WordShapes {
    fn default() -> Self {
        WordShapes { bits: Box::new([0; 512]) }
    }
}

impl WordShapes {
    #[inline]
    fn index(word: &[u8]) -> usize {
        match (word.first(), word.last()) {
            (Some(&first), Some(&last)) => {
                word.len().min(31) << 10 | usize::from(first & 31) << 5 | usize::from(last & 31)
            }
            _ => 0,
        }
    }

    pub fn insert(&mut self, word: &[u8]) {
        let i = Self::index(word);
        self.bits[i / 64] |= 1 << (i % 64);
    }

    /// False when no listed word equals `word` up to ASCII case.
    #[inline]
    pub fn may_contain(&self, word: &[u8]) -> bool {
        let i = Self::index(word);
        self.bits[i / 64] & 1 << (i % 64) != 0
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// How many of the 8 bytes of `v` (little-endian) come before the first one that is not printable ASCII
/// (below 0x21, or 0x80 and above): 0..=8.
#[inline]
fn printable_ascii_prefix(v: u64) -> usize {
    // High bit of each byte below 0x21 (the subtraction's borrow can only mark bytes above the first such
    // byte, so the lowest mark is exact), or of each byte >= 0x80.
    first_marked_byte(((v.wrapping_sub(ONES * 0x21) & !v) | v) & HIGH)
}

/// The index of the lowest byte whose high bit `marks` (a subset of [`HIGH`]) sets, 8 when it sets none.
#[inline]
fn first_marked_byte(marks: u64) -> usize {
    marks.trailing_zeros() as usize / 8
}

/// Whether one of the first `k` bytes of `v`, all ASCII, is a letter.
#[inline]
fn ascii_alpha_in_prefix(v: u64, k: usize) -> bool {
    // Folded to lower case, a letter is 0x61..=0x7A; adding to bytes below 0x80 never carries out of a byte
    // (bytes past `k` may carry, but only into higher bytes, which the mask drops).
    let lower = v | (ONES * 0x20);
    let ge_a = lower.wrapping_add(ONES * (0x80 - 0x61));
    let gt_z = lower.wrapping_add(ONES * (0x80 - 0x7B));
    let keep = if k >= 8 { u64::MAX } else { (1u64 << (8 * k)) - 1 };
    ge_a & !gt_z & HIGH & keep != 0
}

/// Byte range of `text[start..end]` without leading/trailing punctuation, or None if nothing is left.
#[inline]
fn strip_punct(text: &str, mut start: usize, mut end: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    while start < end {
        let c = b[start];
        if c < 128 {
            if !ASCII_PUNCT[c as usize] {
                break;
            }
            start += 1;
        } else {
            let ch = text[start..].chars().next().unwrap();
            if !is_punct_char(ch) {
                break;
            }
            start += ch.len_utf8();
        }
    }
    while end > start {
        let c = b[end - 1];
        if c < 128 {
            if !ASCII_PUNCT[c as usize] {
                break;
            }
            end -= 1;
        } else {
            let ch = text[..end].chars().next_back().unwrap();
            if !is_punct_char(ch) {
                break;
            }
            end -= ch.len_utf8();
        }
    }
    (start < end).then_some((start, end))
}

/// Python's `str.strip()`.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(is_space_char)
}

/// Bytes that can start a line break: the ASCII breaks and the lead bytes of U+0085 (C2 85) and
/// U+2028/U+2029 (E2 80 A8/A9).
const fn break_lead_table() -> [bool; 256] {
    let mut t = [false; 256];
    let leads: [u8; 9] = [b'\n', b'\r', 0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0xC2, 0xE2];
    let mut i = 0;
    while i < leads.len() {
        t[leads[i] as usize] = true;
        i += 1;
    }
    t
}
static BREAK_LEAD: [bool; 256] = break_lead_table();

/// The line break starting at byte `i`, as its length in bytes, if there is one.
#[inline]
fn break_at(b: &[u8], i: usize) -> Option<usize> {
    match b[i] {
        b'\r' => Some(if b.get(i + 1) == Some(&b'\n') { 2 } else { 1 }),
        b'\n' | 0x0B | 0x0C | 0x1C | 0x1D | 0x1E => Some(1),
        0xC2 => (b.get(i + 1) == Some(&0x85)).then_some(2),
        0xE2 => (b.get(i + 1) == Some(&0x80) && matches!(b.get(i + 2), Some(0xA8 | 0xA9))).then_some(3),
        _ => None,
    }
}

/// Whether one of the 8 bytes of `v` may start a line break (see [`BREAK_LEAD`]): a control byte below 0x1F,
/// 0xC2 or 0xE2. Never false for such a byte; now and then true without one (a tab), which costs only a
/// closer look.
#[inline]
fn may_hold_break_lead(v: u64) -> bool {
    // A byte below n (n <= 0x80) sets its high bit in (v - n) & !v; a zero byte is one below 1.
    let below = |v: u64, n: u64| v.wrapping_sub(ONES * n) & !v & HIGH != 0;
    below(v, 0x1F) || below(v ^ (ONES * 0xC2), 1) || below(v ^ (ONES * 0xE2), 1)
}

/// Python's `str.splitlines()`: every line boundary it knows, "\r\n" as one, no empty last line.
pub fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let b = text.as_bytes();
    let mut start = 0usize;
    std::iter::from_fn(move || {
        if start >= b.len() {
            return None;
        }
        let mut i = start;
        while i < b.len() {
            // Lines are long and breaks rare: skip 8 bytes at a time where none can start one, then look at
            // the next 8 (or the last few) byte by byte.
            while i + 8 <= b.len() && !may_hold_break_lead(u64::from_le_bytes(b[i..i + 8].try_into().unwrap())) {
                i += 8;
            }
            let end = (i + 8).min(b.len());
            while i < end {
                if BREAK_LEAD[b[i] as usize] {
                    if let Some(len) = break_at(b, i) {
                        let line = &text[start..i];
                        start = i + len;
                        return Some(line);
                    }
                }
                i += 1;
            }
        }
        let line = &text[start..];
        start = b.len();
        Some(line)
    })
}

/// Counts the pieces of text in `items`, how many repeat an earlier one, and the chars in those repeats
/// (datatrove's `find_duplicates`): `(n, duplicates, duplicate_chars)`. Chars are counted only for the
/// repeats, which are few, rather than for every piece.
pub fn count_duplicates<'a>(items: impl Iterator<Item = &'a str>, seen: &mut HashSet64) -> (usize, usize, usize) {
    seen.clear();
    let (mut n, mut dup, mut dup_chars) = (0, 0, 0);
    for item in items {
        n += 1;
        if !seen.insert(hash_bytes(item.as_bytes())) {
            dup += 1;
            dup_chars += item.chars().count();
        }
    }
    (n, dup, dup_chars)
}

/// An open-addressing set/map of 64-bit hashes, reused across documents (clearing is O(capacity) only when
/// it was used). Keys are already well-mixed hashes, so no further hashing is needed.
#[derive(Default, Debug)]
pub struct HashSet64 {
    keys: Vec<u64>,
    vals: Vec<u32>,
    used: Vec<u32>,
    mask: usize,
}

const EMPTY: u64 = 0;

impl HashSet64 {
    /// Prepare for up to `n` distinct keys.
    pub fn reserve_for(&mut self, n: usize) {
        let cap = (n.max(8) * 2).next_power_of_two();
        if cap > self.keys.len() {
            self.keys = vec![EMPTY; cap];
            self.vals = vec![0; cap];
            self.used.clear();
            self.mask = cap - 1;
        }
    }

    pub fn clear(&mut self) {
        for &slot in &self.used {
            self.keys[slot as usize] = EMPTY;
            self.vals[slot as usize] = 0;
        }
        self.used.clear();
    }

    #[inline]
    fn slot(&mut self, key: u64) -> (usize, bool) {
        // 0 marks an empty slot; remap the (astronomically rare) zero hash.
        let key = if key == EMPTY { 1 } else { key };
        if self.used.len() * 2 >= self.keys.len() {
            self.grow();
        }
        let mut i = (key as usize) & self.mask;
        loop {
            let k = self.keys[i];
            if k == key {
                return (i, false);
            }
            if k == EMPTY {
                self.keys[i] = key;
                self.used.push(i as u32);
                return (i, true);
            }
            i = (i + 1) & self.mask;
        }
    }

    fn grow(&mut self) {
        let old: Vec<(u64, u32)> = self.used.iter().map(|&s| (self.keys[s as usize], self.vals[s as usize])).collect();
        let cap = (self.keys.len() * 2).max(16);
        self.keys = vec![EMPTY; cap];
        self.vals = vec![0; cap];
        self.used.clear();
        self.mask = cap - 1;
        for (k, v) in old {
            let (i, _) = self.slot(k);
            self.vals[i] = v;
        }
    }

    /// Insert; true if the key was new.
    #[inline]
    pub fn insert(&mut self, key: u64) -> bool {
        self.slot(key).1
    }

    /// Add one to the key's count and return the key's slot, where [`Self::count_at`] reads the count without
    /// looking the key up again. A slot holds until the set grows or is cleared; a set given room for all its
    /// keys with [`Self::reserve_for`] does not grow.
    #[inline]
    pub fn increment(&mut self, key: u64) -> usize {
        let (i, _) = self.slot(key);
        self.vals[i] += 1;
        i
    }

    /// The count in a slot that [`Self::increment`] returned.
    #[inline]
    pub fn count_at(&self, slot: usize) -> u32 {
        self.vals[slot]
    }

    #[inline]
    pub fn contains(&self, key: u64) -> bool {
        self.find(key).is_some()
    }

    #[inline]
    fn find(&self, key: u64) -> Option<usize> {
        if self.keys.is_empty() {
            return None;
        }
        let key = if key == EMPTY { 1 } else { key };
        let mut i = (key as usize) & self.mask;
        loop {
            let k = self.keys[i];
            if k == key {
                return Some(i);
            }
            if k == EMPTY {
                return None;
            }
            i = (i + 1) & self.mask;
        }
    }

    pub fn len(&self) -> usize {
        self.used.len()
    }

    pub fn is_empty(&self) -> bool {
        self.used.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_tail_load_is_the_zero_padded_little_endian_value() {
        let bytes: Vec<u8> = (0u8..16).map(|i| i.wrapping_mul(37).wrapping_add(0xA1)).collect();
        for start in 0..8 {
            for n in 0..8 {
                let rest = &bytes[start..start + n];
                let mut buf = [0u8; 8];
                buf[..n].copy_from_slice(rest);
                assert_eq!(load_le_padded(rest), u64::from_le_bytes(buf), "start {start}, {n} bytes");
            }
        }
    }

    #[test]
    fn tokens_and_words() {
        let mut a = Analysis::default();
        let text = "Hello, world... -- # caf\u{e9}\u{a0}\u{201c}ok\u{201d}\n";
        a.run(text);
        // Tokens (Python str.split): "Hello," "world..." "--" "#" "café" "“ok”" ; \u{a0} is whitespace.
        assert_eq!(a.n_tokens, 6);
        let words: Vec<&str> = a.words.iter().map(|w| a.word_str(text, w)).collect();
        assert_eq!(words, vec!["Hello", "world", "café", "ok"]);
        assert_eq!(a.words[2].chars, 4);
        assert_eq!(a.n_alpha_tokens, 4);
        assert_eq!(a.n_hash, 1);
        assert_eq!(a.n_ellipsis, 1);
        assert_eq!(a.n_newlines, 1);
        assert_eq!(a.n_chars, text.chars().count());
    }

    #[test]
    fn byte_class_words_match_each_byte() {
        // Every byte value at every position of an otherwise printable word, and every prefix length.
        for pos in 0..8 {
            for byte in 0u8..=255 {
                let mut w = *b"aB3-z_Q~";
                w[pos] = byte;
                let v = u64::from_le_bytes(w);
                let expect = w.iter().position(|&c| !(0x21..0x80).contains(&c)).unwrap_or(8);
                assert_eq!(printable_ascii_prefix(v), expect, "{w:?}");
                let digits = *b"3-_~0!@[";
                let mut d = digits;
                d[pos] = byte;
                let v = u64::from_le_bytes(d);
                let k = printable_ascii_prefix(v);
                assert_eq!(ascii_alpha_in_prefix(v, k), d[..k].iter().any(u8::is_ascii_alphabetic), "{d:?}");
            }
        }
        // Letters after the prefix do not count.
        let v = u64::from_le_bytes(*b"3- aZ\xc3\xa9x");
        assert_eq!(printable_ascii_prefix(v), 2);
        assert!(!ascii_alpha_in_prefix(v, 2) && ascii_alpha_in_prefix(v, 4));
    }

    #[test]
    fn tokens_match_a_char_by_char_reference() {
        // Random mixes of long ASCII runs (read 8 bytes at a time), ASCII and Unicode spaces, control bytes,
        // letters outside ASCII and punctuation, against Python's str.split() written out char by char.
        let pieces = [
            "abcdefghij",
            "ABC123",
            "0123456789,",
            "x",
            " ",
            "  \t",
            "\n",
            "\x01",
            "\x7f",
            "\u{a0}",
            "\u{3000}",
            "\u{e9}t\u{e9}",
            "\u{201c}q\u{201d}",
            "...",
            "#",
            "\u{4e2d}\u{6587}",
            "__--__--__",
        ];
        let reference = |t: &str| {
            let (mut tokens, mut alpha) = (0, 0);
            for tok in t.split(|c: char| if c.is_ascii() { ASCII_WS[c as usize] } else { c.is_whitespace() }) {
                if !tok.is_empty() {
                    tokens += 1;
                    alpha += tok.chars().any(char::is_alphabetic) as usize;
                }
            }
            (tokens, alpha)
        };
        let mut rng = crate::eval::rng::Rng::new(0x2545_f491_4f6c_dd1d);
        let mut a = Analysis::default();
        for _ in 0..3000 {
            let mut t = String::new();
            for _ in 0..rng.below(20) {
                t.push_str(pieces[rng.below(pieces.len() as u64) as usize]);
            }
            a.run(&t);
            assert_eq!((a.n_tokens, a.n_alpha_tokens), reference(&t), "{t:?}");
            for w in &a.words {
                assert_eq!(w.chars as usize, a.word_str(&t, w).chars().count());
            }
            // The words-only scan yields the analysis' words, in order.
            let mut words = Vec::new();
            for_each_word(&t, |w| words.push(w.to_vec()));
            let analysed: Vec<&[u8]> = a.words.iter().map(|w| a.word_str(&t, w).as_bytes()).collect();
            assert_eq!(words, analysed, "{t:?}");
        }
    }

    #[test]
    fn information_separators_split_like_python() {
        let mut a = Analysis::default();
        a.run("a\u{1c}b\u{1f}c");
        assert_eq!(a.n_tokens, 3);
    }

    #[test]
    fn folded_hash_is_case_insensitive() {
        assert_eq!(hash_folded(b"Delve"), hash_folded(b"delve"));
        assert_ne!(hash_bytes(b"Delve"), hash_bytes(b"delve"));
        // Every ASCII byte folds like to_ascii_lowercase, and non-ASCII bytes stay as they are.
        let all: Vec<u8> = (0u8..=255).collect();
        for w in all.chunks(13) {
            assert_eq!(hash_folded(w), hash_bytes(&w.to_ascii_lowercase()), "{w:?}");
        }
    }

    /// A word equal to a listed word up to ASCII case always passes the shape test (else it would be missed),
    /// and words of other lengths or ends are turned away.
    #[test]
    fn word_shapes_pass_every_case_variant_of_a_listed_word() {
        let listed: [&[u8]; 5] = [b"delve", b"tapestry", b"a", b"na\xc3\xafve", b"x-ray-123_"];
        let mut shapes = WordShapes::default();
        listed.iter().for_each(|w| shapes.insert(w));
        let mut rng = crate::eval::rng::Rng::new(0x5ba9_e500_0000_0001);
        for w in listed {
            for _ in 0..64 {
                let variant: Vec<u8> =
                    w.iter().map(|&c| if rng.below(2) == 0 { c.to_ascii_uppercase() } else { c }).collect();
                assert!(shapes.may_contain(&variant), "{variant:?}");
            }
        }
        for other in [&b"delves"[..], b"delta", b"Tapestrz", b"b", b"", b"the", b"naive"] {
            assert!(!shapes.may_contain(other), "{other:?}");
        }
        // Lengths of 31 bytes or more share one shape.
        shapes.insert(&[b'q'; 40]);
        assert!(shapes.may_contain(&[b'Q'; 31]));
    }

    #[test]
    fn splitlines_like_python() {
        let v: Vec<&str> = split_lines("a\r\nb\n\nc\n").collect();
        assert_eq!(v, vec!["a", "b", "", "c"]);
        let v: Vec<&str> = split_lines("a\rb\u{2028}c\x0bd").collect();
        assert_eq!(v, vec!["a", "b", "c", "d"]);
        assert_eq!(split_lines("").count(), 0);
        assert_eq!(split_lines("\n").collect::<Vec<_>>(), vec![""]);
    }

    #[test]
    fn splitlines_skipping_matches_a_byte_by_byte_reference() {
        // Every break Python knows, its look-alikes (C2 A0, E2 80 A7, "é") and tabs, at random places between
        // runs of plain text long enough for whole 8-byte chunks to be skipped.
        let plain = ["ab", "c ", "long words here ", "and a sentence of some length. "];
        let pieces = [
            "\t", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\u{85}", "\u{a0}", "\u{2028}",
            "\u{2029}", "\u{2027}", "\u{e9}", "\u{201c}",
        ];
        let reference = |t: &str| -> Vec<String> {
            let mut lines = vec![];
            let mut cur = String::new();
            let mut chars = t.chars().peekable();
            while let Some(c) = chars.next() {
                if matches!(
                    c,
                    '\n' | '\r' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}'
                ) {
                    if c == '\r' {
                        chars.next_if_eq(&'\n');
                    }
                    lines.push(std::mem::take(&mut cur));
                } else {
                    cur.push(c);
                }
            }
            if !cur.is_empty() {
                lines.push(cur);
            }
            lines
        };
        let mut rng = crate::eval::rng::Rng::new(0x9e37_79b9_7f4a_7c15);
        for _ in 0..3000 {
            let mut t = String::new();
            for _ in 0..rng.below(30) {
                let list: &[&str] = if rng.below(3) == 0 { &pieces } else { &plain };
                t.push_str(list[rng.below(list.len() as u64) as usize]);
            }
            let got: Vec<&str> = split_lines(&t).collect();
            assert_eq!(got, reference(&t), "{t:?}");
        }
    }

    #[test]
    fn hashset_counts_and_grows() {
        let mut s = HashSet64::default();
        s.reserve_for(2);
        for k in 0..1000u64 {
            s.increment(hash_bytes(&k.to_le_bytes()));
        }
        let seven = s.increment(hash_bytes(&7u64.to_le_bytes()));
        assert_eq!(s.len(), 1000);
        assert_eq!(s.count_at(seven), 2);
        assert!(!s.contains(hash_bytes(&5000u64.to_le_bytes())));
        s.clear();
        assert!(s.is_empty());
        assert!(s.insert(42));
        assert!(!s.insert(42));
        assert!(s.contains(42) && !s.contains(43));
    }
}
