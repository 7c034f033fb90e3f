//! Word tokenizer shared by n-gram training and scoring, plus the 64-bit word
//! and n-gram key hashes.
//!
//! # Tokenization rules
//!
//! [`for_each_token`] is the single tokenizer used everywhere in this module:
//!
//! * **Words** are maximal runs of alphanumeric characters (Unicode
//!   `char::is_alphanumeric`), lowercased (`char::to_lowercase`).
//! * An **apostrophe** (`'` or `’`, the latter normalised to `'`) is kept when it
//!   sits *inside* a word, i.e. between two alphanumeric characters
//!   (`don't`, `o'clock`); leading/trailing quotes are dropped.
//! * **Numbers**: a token made only of ASCII digits, optionally with `.` or `,`
//!   between digits (`1,000`, `3.14`), becomes the single token [`NUM`] (`<num>`).
//!   Mixed tokens (`mp3`, `2nd`) are kept as words.
//! * Everything else (punctuation, symbols, hyphens, whitespace) separates words
//!   and is not itself a token.
//! * **Sentence boundaries**: `!`, `?`, `…`, `。` end a sentence; `.` ends a
//!   sentence unless the next word starts with a lowercase ASCII letter
//!   (a cheap abbreviation guard: `e.g. the`, `Mr. smith` stay together); a
//!   blank line (two newlines with only whitespace between) ends a sentence
//!   (paragraph break). A single newline does *not* (hard-wrapped text). The end
//!   of the text ends the last sentence. Empty sentences are never emitted.
//!
//! The sink receives `word` events and `end_sentence` events; the scorer adds
//! the implicit `<s>` before and `</s>` after each sentence.

/// Sentence-start token.
pub const BOS: &str = "<s>";
/// Sentence-end token.
pub const EOS: &str = "</s>";
/// Unknown-word token.
pub const UNK: &str = "<unk>";
/// Token that replaces every number.
pub const NUM: &str = "<num>";

const K0: u64 = 0x9E37_79B9_7F4A_7C15;
const K1: u64 = 0xC2B2_AE3D_27D4_EB4F;
const K2: u64 = 0x1656_67B1_9E37_79F9;

/// SplitMix64 finaliser: a cheap, well-mixing bijection on `u64`.
#[inline(always)]
pub(crate) fn mix64(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Incremental hash over the UTF-8 bytes of one token (8 bytes per multiply).
#[derive(Clone, Copy)]
struct WordHasher {
    h: u64,
    buf: u64,
    nbuf: u32,
    len: u32,
}

impl WordHasher {
    #[inline(always)]
    fn new() -> Self {
        WordHasher { h: K0, buf: 0, nbuf: 0, len: 0 }
    }
    #[inline(always)]
    fn push(&mut self, b: u8) {
        self.buf |= (b as u64) << (8 * self.nbuf);
        self.nbuf += 1;
        self.len += 1;
        if self.nbuf == 8 {
            self.h = (self.h ^ self.buf).wrapping_mul(K1).rotate_left(31);
            self.buf = 0;
            self.nbuf = 0;
        }
    }
    #[inline(always)]
    fn finish(&self) -> u64 {
        mix64(self.h ^ self.buf.wrapping_mul(K2) ^ ((self.len as u64) << 57)) | 1
    }
}

/// 64-bit hash of a token string (already lowercased/normalised). This is the
/// word identity used in the binary model (no strings are stored there), and is
/// identical to the hash [`for_each_token`] reports for the same token.
/// The result is never zero.
pub fn word_hash(token: &str) -> u64 {
    let mut h = WordHasher::new();
    for &b in token.as_bytes() {
        h.push(b);
    }
    h.finish()
}

/// Extend an n-gram key one word to the **left**: the key of `(w, rest...)`
/// from the key of `(rest...)` and the hash of `w`. The key of a unigram is the
/// word hash itself. Never zero.
#[inline(always)]
pub(crate) fn extend_left(key: u64, left_word: u64) -> u64 {
    mix64(key ^ left_word.rotate_left(23).wrapping_mul(K0)) | 1
}

/// Receiver of tokenizer events.
pub trait TokenSink {
    /// Whether [`TokenSink::word`] needs the token text (if `false`, the
    /// tokenizer skips building it and passes `""`).
    const WANTS_TEXT: bool;
    /// One word token: its [`word_hash`] and (if `WANTS_TEXT`) its text.
    fn word(&mut self, hash: u64, text: &str);
    /// End of a non-empty sentence.
    fn end_sentence(&mut self);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Lower,
    Upper,
    Digit,
    Apos,
    Dot,
    Comma,
    Term,
    Newline,
    Space,
    Other,
}

const fn class_table() -> [Class; 128] {
    let mut t = [Class::Other; 128];
    let mut i = 0;
    while i < 128 {
        let c = i as u8;
        t[i] = if c.is_ascii_lowercase() {
            Class::Lower
        } else if c.is_ascii_uppercase() {
            Class::Upper
        } else if c.is_ascii_digit() {
            Class::Digit
        } else if c == b'\'' {
            Class::Apos
        } else if c == b'.' {
            Class::Dot
        } else if c == b',' {
            Class::Comma
        } else if c == b'!' || c == b'?' {
            Class::Term
        } else if c == b'\n' {
            Class::Newline
        } else if c == b' ' || c == b'\t' || c == b'\r' || c == 0x0b || c == 0x0c {
            Class::Space
        } else {
            Class::Other
        };
        i += 1;
    }
    t
}

static CLASS: [Class; 128] = class_table();

struct Tok<'s, S: TokenSink> {
    sink: &'s mut S,
    text: String,
    h: WordHasher,
    in_word: bool,
    all_digits: bool,
    sent_words: u32,
    pending_dot: bool,
    newlines: u32,
}

impl<S: TokenSink> Tok<'_, S> {
    #[inline(always)]
    fn push_byte(&mut self, b: u8) {
        self.h.push(b);
        if S::WANTS_TEXT {
            self.text.push(b as char);
        }
    }
    #[inline(always)]
    fn push_char(&mut self, c: char) {
        let mut buf = [0u8; 4];
        for &b in c.encode_utf8(&mut buf).as_bytes() {
            self.h.push(b);
        }
        if S::WANTS_TEXT {
            self.text.push(c);
        }
    }
    /// Called before the first character of a new word; `lower_ascii_start`
    /// tells whether it begins with a lowercase ASCII letter.
    #[inline(always)]
    fn begin_word(&mut self, lower_ascii_start: bool) {
        if self.pending_dot {
            self.pending_dot = false;
            if !lower_ascii_start {
                self.end_sentence();
            }
        }
        self.newlines = 0;
        self.in_word = true;
        self.all_digits = true;
        self.h = WordHasher::new();
        if S::WANTS_TEXT {
            self.text.clear();
        }
    }
    #[inline(always)]
    fn end_word(&mut self) {
        if self.in_word {
            self.in_word = false;
            self.sent_words += 1;
            if self.all_digits {
                self.sink.word(num_hash(), NUM);
            } else {
                let h = self.h.finish();
                self.sink.word(h, &self.text);
            }
        }
    }
    #[inline(always)]
    fn end_sentence(&mut self) {
        self.end_word();
        self.pending_dot = false;
        if self.sent_words > 0 {
            self.sent_words = 0;
            self.sink.end_sentence();
        }
    }
}

#[inline(always)]
fn num_hash() -> u64 {
    // word_hash("<num>") is not const; cache it.
    use std::sync::OnceLock;
    static H: OnceLock<u64> = OnceLock::new();
    *H.get_or_init(|| word_hash(NUM))
}

/// Is the character starting at byte `i` alphanumeric? (`false` past the end.)
#[inline(always)]
fn alnum_at(text: &str, i: usize) -> bool {
    let bytes = text.as_bytes();
    match bytes.get(i) {
        None => false,
        Some(&b) if b < 0x80 => b.is_ascii_alphanumeric(),
        Some(_) => text[i..].chars().next().is_some_and(|c| c.is_alphanumeric()),
    }
}

/// Tokenize `text` (see the module docs for the rules), reporting words and
/// sentence ends to `sink`. Allocation-free when `S::WANTS_TEXT` is false.
pub fn for_each_token<S: TokenSink>(text: &str, sink: &mut S) {
    let bytes = text.as_bytes();
    let mut t = Tok {
        sink,
        text: String::new(),
        h: WordHasher::new(),
        in_word: false,
        all_digits: true,
        sent_words: 0,
        pending_dot: false,
        newlines: 0,
    };
    let n = bytes.len();
    let mut i = 0;
    while i < n {
        let b = bytes[i];
        if b < 0x80 {
            t.ascii(b, text, i + 1);
            i += 1;
        } else {
            let c = text[i..].chars().next().unwrap_or('\u{FFFD}');
            i += c.len_utf8();
            t.non_ascii(c, text, i);
        }
    }
    t.end_sentence();
}

impl<S: TokenSink> Tok<'_, S> {
    /// One ASCII byte; `next` is the index of the byte after it in `text`.
    #[inline(always)]
    fn ascii(&mut self, b: u8, text: &str, next: usize) {
        match CLASS[b as usize] {
            Class::Lower => {
                if !self.in_word {
                    self.begin_word(true);
                }
                self.all_digits = false;
                self.push_byte(b);
            }
            Class::Upper => {
                if !self.in_word {
                    self.begin_word(false);
                }
                self.all_digits = false;
                self.push_byte(b | 0x20);
            }
            Class::Digit => {
                if !self.in_word {
                    self.begin_word(false);
                }
                self.push_byte(b);
            }
            Class::Apos => self.apostrophe(text, next),
            Class::Dot | Class::Comma => {
                if self.in_word && self.all_digits && text.as_bytes().get(next).is_some_and(u8::is_ascii_digit) {
                    self.push_byte(b);
                } else {
                    self.end_word();
                    self.newlines = 0;
                    if b == b'.' && self.sent_words > 0 {
                        self.pending_dot = true;
                    }
                }
            }
            Class::Term => {
                self.end_sentence();
                self.newlines = 0;
            }
            Class::Newline => {
                self.end_word();
                self.newlines += 1;
                if self.newlines >= 2 {
                    self.end_sentence();
                }
            }
            Class::Space => self.end_word(),
            Class::Other => {
                self.end_word();
                self.newlines = 0;
            }
        }
    }

    /// One non-ASCII character; `next` is the index of the byte after it in `text`.
    #[inline(always)]
    fn non_ascii(&mut self, c: char, text: &str, next: usize) {
        if c.is_alphanumeric() {
            if !self.in_word {
                self.begin_word(false);
            }
            self.all_digits = false;
            for lc in c.to_lowercase() {
                self.push_char(lc);
            }
        } else if c == '\u{2019}' {
            self.apostrophe(text, next);
        } else if c == '\u{2026}' || c == '\u{3002}' || c == '\u{FF01}' || c == '\u{FF1F}' {
            self.end_sentence();
            self.newlines = 0;
        } else if c == '\u{2028}' || c == '\u{2029}' {
            self.end_sentence();
        } else if c.is_whitespace() {
            self.end_word();
        } else {
            self.end_word();
            self.newlines = 0;
        }
    }

    /// `'` or `’`: part of the word (as `'`) between two alphanumeric characters, else a separator.
    #[inline(always)]
    fn apostrophe(&mut self, text: &str, next: usize) {
        if self.in_word && alnum_at(text, next) {
            self.all_digits = false;
            self.push_byte(b'\'');
        } else {
            self.end_word();
            self.newlines = 0;
        }
    }
}

/// Convenience wrapper: the sentences of `text` as lists of token strings
/// (without `<s>`/`</s>`). Allocates; meant for inspection and tests.
pub fn tokenize(text: &str) -> Vec<Vec<String>> {
    struct Collect {
        out: Vec<Vec<String>>,
        cur: Vec<String>,
    }
    impl TokenSink for Collect {
        const WANTS_TEXT: bool = true;
        fn word(&mut self, _h: u64, text: &str) {
            self.cur.push(text.to_string());
        }
        fn end_sentence(&mut self) {
            self.out.push(std::mem::take(&mut self.cur));
        }
    }
    let mut c = Collect { out: Vec::new(), cur: Vec::new() };
    for_each_token(text, &mut c);
    c.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        let s = tokenize("Hello, World! It's 3.14 o'clock... 'Quoted' e.g. the U.S. Army\n\nNew para\nsame");
        assert_eq!(
            s,
            vec![
                vec!["hello", "world"],
                vec!["it's", "<num>", "o'clock"],
                vec!["quoted", "e", "g", "the", "u"],
                vec!["s"],
                vec!["army"],
                vec!["new", "para", "same"],
            ]
        );
        assert_eq!(tokenize("Don’t STOP 1,000 mp3 Ärger"), vec![vec!["don't", "stop", "<num>", "mp3", "ärger"]]);
        assert!(tokenize("  ...  !!! \n\n ").is_empty());
    }

    #[test]
    fn hashes_agree() {
        struct H(Vec<u64>);
        impl TokenSink for H {
            const WANTS_TEXT: bool = false;
            fn word(&mut self, h: u64, _t: &str) {
                self.0.push(h);
            }
            fn end_sentence(&mut self) {}
        }
        let mut h = H(vec![]);
        for_each_token("Straße don't 42 abcdefghijklmnopq", &mut h);
        let want: Vec<u64> = ["straße", "don't", "<num>", "abcdefghijklmnopq"].iter().map(|w| word_hash(w)).collect();
        assert_eq!(h.0, want);
        assert_ne!(word_hash("ab"), word_hash("ba"));
        assert_ne!(word_hash(""), word_hash("\0"));
    }
}
