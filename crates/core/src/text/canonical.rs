//! The canonical view of a text ("svalbard-canonical-v2"): what its author controls, with what a CMS, an
//! extractor or a Markdown renderer decided taken out. Every detector reads this view; the quality rules keep
//! reading the raw text, since they judge the page as published.
//!
//! Curly or straight quotes, em dashes or hyphens, one paragraph per line or one line per page, `&rsquo;` or
//! `’`, bullets and Markdown are chosen by the publishing pipeline, and the human and machine texts a detector
//! learns from come through different pipelines: a detector that sees them learns the pipeline. The contract
//! is specified, step by step, in `training/src/svalbard_train/canonical.py`, the reference the training code uses; this
//! implementation reproduces it character for character (`training/tests/test_canonical.py` checks the two on the
//! shared corpora and `tests/fixtures/canonical_parity.jsonl` in the unit tests).

use std::borrow::Cow;

use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// Entity decoding repeats while it changes something, this many passes at most (a page escaped twice reads
/// as one escaped once).
const ENTITY_PASSES: usize = 3;

/// Named character references decoded in step 1: the punctuation, spaces and symbols that CMSs write as
/// entities, and the Latin-1 letters (the same table as `ENTITIES` in `training/src/svalbard_train/canonical.py`).
const ENTITIES: &[(&str, u32)] = &[
    ("amp", 0x26),
    ("lt", 0x3C),
    ("gt", 0x3E),
    ("quot", 0x22),
    ("apos", 0x27),
    ("nbsp", 0xA0),
    ("ensp", 0x2002),
    ("emsp", 0x2003),
    ("thinsp", 0x2009),
    ("ndash", 0x2013),
    ("mdash", 0x2014),
    ("minus", 0x2212),
    ("hellip", 0x2026),
    ("lsquo", 0x2018),
    ("rsquo", 0x2019),
    ("sbquo", 0x201A),
    ("ldquo", 0x201C),
    ("rdquo", 0x201D),
    ("bdquo", 0x201E),
    ("laquo", 0xAB),
    ("raquo", 0xBB),
    ("lsaquo", 0x2039),
    ("rsaquo", 0x203A),
    ("prime", 0x2032),
    ("Prime", 0x2033),
    ("bull", 0x2022),
    ("middot", 0xB7),
    ("shy", 0xAD),
    ("zwj", 0x200D),
    ("zwnj", 0x200C),
    ("lrm", 0x200E),
    ("rlm", 0x200F),
    ("copy", 0xA9),
    ("reg", 0xAE),
    ("trade", 0x2122),
    ("deg", 0xB0),
    ("times", 0xD7),
    ("divide", 0xF7),
    ("frac12", 0xBD),
    ("frac14", 0xBC),
    ("frac34", 0xBE),
    ("euro", 0x20AC),
    ("pound", 0xA3),
    ("yen", 0xA5),
    ("cent", 0xA2),
    ("sect", 0xA7),
    ("para", 0xB6),
    ("dagger", 0x2020),
    ("Dagger", 0x2021),
    ("iexcl", 0xA1),
    ("iquest", 0xBF),
    ("Agrave", 0xC0),
    ("Aacute", 0xC1),
    ("Acirc", 0xC2),
    ("Atilde", 0xC3),
    ("Auml", 0xC4),
    ("Aring", 0xC5),
    ("AElig", 0xC6),
    ("Ccedil", 0xC7),
    ("Egrave", 0xC8),
    ("Eacute", 0xC9),
    ("Ecirc", 0xCA),
    ("Euml", 0xCB),
    ("Igrave", 0xCC),
    ("Iacute", 0xCD),
    ("Icirc", 0xCE),
    ("Iuml", 0xCF),
    ("Ntilde", 0xD1),
    ("Ograve", 0xD2),
    ("Oacute", 0xD3),
    ("Ocirc", 0xD4),
    ("Otilde", 0xD5),
    ("Ouml", 0xD6),
    ("Oslash", 0xD8),
    ("Ugrave", 0xD9),
    ("Uacute", 0xDA),
    ("Ucirc", 0xDB),
    ("Uuml", 0xDC),
    ("Yacute", 0xDD),
    ("szlig", 0xDF),
    ("agrave", 0xE0),
    ("aacute", 0xE1),
    ("acirc", 0xE2),
    ("atilde", 0xE3),
    ("auml", 0xE4),
    ("aring", 0xE5),
    ("aelig", 0xE6),
    ("ccedil", 0xE7),
    ("egrave", 0xE8),
    ("eacute", 0xE9),
    ("ecirc", 0xEA),
    ("euml", 0xEB),
    ("igrave", 0xEC),
    ("iacute", 0xED),
    ("icirc", 0xEE),
    ("iuml", 0xEF),
    ("ntilde", 0xF1),
    ("ograve", 0xF2),
    ("oacute", 0xF3),
    ("ocirc", 0xF4),
    ("otilde", 0xF5),
    ("ouml", 0xF6),
    ("oslash", 0xF8),
    ("ugrave", 0xF9),
    ("uacute", 0xFA),
    ("ucirc", 0xFB),
    ("uuml", 0xFC),
    ("yacute", 0xFD),
    ("yuml", 0xFF),
];

/// Numeric references to 0x80..=0x9F mean Windows-1252, as browsers read them (0 = unassigned: kept).
const CP1252: [u32; 32] = [
    0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0, 0,
    0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
];

/// What step 3 does with one character.
enum Mapped {
    Keep,
    Drop,
    To(char),
}

fn map_char(c: char) -> Mapped {
    use Mapped::*;
    match c {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{2035}' | '\u{02BC}' | '\u{02B9}'
        | '\u{00B4}' | '\u{2039}' | '\u{203A}' => To('\''),
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{2036}' | '\u{00AB}' | '\u{00BB}'
        | '\u{301D}' | '\u{301E}' | '\u{301F}' => To('"'),
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2015}' | '\u{2212}' | '\u{2043}'
        | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}' | '\u{2E3A}' | '\u{2E3B}' | '\u{2E17}' | '\u{30FC}' => To('-'),
        '\u{2022}' | '\u{2023}' | '\u{25E6}' | '\u{25AA}' | '\u{25AB}' | '\u{25CF}' | '\u{25CB}' | '\u{25A0}'
        | '\u{25A1}' | '\u{25C6}' | '\u{25C7}' | '\u{2219}' | '\u{204C}' | '\u{204D}' | '\u{27A2}' | '\u{27A4}'
        | '\u{25BA}' | '\u{25B8}' | '\u{2756}' | '\u{00B7}' => To('-'),
        '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{1C}' | '\u{1D}' | '\u{1E}' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
            To('\n')
        }
        '\t' | '\u{1F}' | '\u{A0}' | '\u{1680}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => {
            To(' ')
        }
        '\u{200B}'
        | '\u{200C}'
        | '\u{200D}'
        | '\u{2060}'..='\u{2064}'
        | '\u{FEFF}'
        | '\u{AD}'
        | '\u{180E}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '*' => Drop,
        '\u{00}'..='\u{1F}' | '\u{7F}'..='\u{9F}' => Drop,
        _ => Keep,
    }
}

/// Step 1: HTML character references, decoded once, left to right.
fn decode_entities(text: &str) -> Cow<'_, str> {
    if memchr::memchr(b'&', text.as_bytes()).is_none() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        match entity_at(rest) {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The character a reference at the start of `s` (which starts with `&`) stands for, and its length.
fn entity_at(s: &str) -> Option<(char, usize)> {
    let b = s.as_bytes();
    if b.get(1) == Some(&b'#') {
        let hex = matches!(b.get(2), Some(b'x' | b'X'));
        let start = if hex { 3 } else { 2 };
        let max = if hex { 6 } else { 7 };
        let digits =
            b[start..].iter().take_while(|c| if hex { c.is_ascii_hexdigit() } else { c.is_ascii_digit() }).count();
        if digits == 0 || digits > max || b.get(start + digits) != Some(&b';') {
            return None;
        }
        let cp = u32::from_str_radix(&s[start..start + digits], if hex { 16 } else { 10 }).ok()?;
        let cp = match cp {
            0x80..=0x9F if CP1252[(cp - 0x80) as usize] != 0 => CP1252[(cp - 0x80) as usize],
            _ => cp,
        };
        if cp == 0 {
            return None;
        }
        return char::from_u32(cp).map(|c| (c, start + digits + 1));
    }
    let name_len = b[1..].iter().take_while(|c| c.is_ascii_alphanumeric()).count();
    if name_len < 2 || !b[1].is_ascii_alphabetic() || b.get(1 + name_len) != Some(&b';') {
        return None;
    }
    let name = &s[1..1 + name_len];
    ENTITIES.iter().find(|(n, _)| *n == name).and_then(|&(_, cp)| char::from_u32(cp)).map(|c| (c, name_len + 2))
}

/// Step 1, repeated while a pass changes something.
fn decode_entities_repeatedly(text: &str) -> Cow<'_, str> {
    let mut current = decode_entities(text);
    for _ in 1..ENTITY_PASSES {
        let next = match decode_entities(&current) {
            Cow::Borrowed(_) => break,
            Cow::Owned(next) if next == *current => break,
            Cow::Owned(next) => next,
        };
        current = Cow::Owned(next);
    }
    current
}

/// How many of the 8 bytes of `v` (little-endian) come before the first one that step 3 may change: a byte
/// below 0x20, 0x7F and above, or `*`. Each test marks the high bit of the bytes it finds; a carry or borrow
/// can only mark bytes above the first such byte, so the lowest mark is exact.
#[inline]
fn kept_ascii_prefix(v: u64) -> usize {
    use super::{first_marked_byte, HIGH, ONES};
    let control = v.wrapping_sub(ONES * 0x20) & !v;
    let high = v.wrapping_add(ONES) | v;
    first_marked_byte((control | high | equal_bytes(v, b'*')) & HIGH)
}

/// The bytes of `v` equal to `byte`, marked by their high bit (with other bits set too, so mask with `HIGH`): the
/// byte becomes zero and the borrow test marks the zeros. A borrow can only mark bytes above the first such byte,
/// so the lowest mark is exact.
#[inline]
fn equal_bytes(v: u64, byte: u8) -> u64 {
    use super::ONES;
    let x = v ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x
}

/// NFKC of `text`, or None when it is already in NFKC. Only the stretches that can change are normalized: each
/// maximal run of non-ASCII characters, with the ASCII character before it (a combining mark composes with it:
/// "e" + U+0301 is "é"). Every ASCII character is a starter that no composition takes as its second
/// character, so the pieces between runs are left as they are and each run normalizes on its own: the result is
/// NFKC of the whole text. Web pages are mostly ASCII with a few non-breaking spaces, ellipses or ligatures,
/// which made NFKC of the whole page a tenth of the `fast` classifier's time.
fn nfkc_by_runs(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut out: Option<String> = None;
    // Bytes before `copied` are in `out` (once it exists); the scan resumes at `pos`.
    let (mut copied, mut pos) = (0, 0);
    while let Some(k) = b[pos..].iter().position(|&c| c >= 0x80) {
        let first = pos + k;
        let start = if first > pos { first - 1 } else { first };
        let end = b[first..].iter().position(|&c| c < 0x80).map_or(b.len(), |e| first + e);
        let run = &text[start..end];
        if is_nfkc_quick(run.chars()) != IsNormalized::Yes {
            let o = out.get_or_insert_with(|| String::with_capacity(text.len() + 16));
            o.push_str(&text[copied..start]);
            o.extend(run.nfkc());
            copied = end;
        }
        pos = end;
    }
    out.map(|mut o| {
        o.push_str(&text[copied..]);
        o
    })
}

/// Steps 1-3 into `out`: entities, NFKC, characters mapped; lines separated by `\n`.
fn normalize_chars(text: &str, out: &mut String) {
    let decoded = decode_entities_repeatedly(text);
    let nfkc = match nfkc_by_runs(&decoded) {
        Some(normalized) => Cow::Owned(normalized),
        None => decoded,
    };
    // Printable ASCII other than `*` is kept as it is: copied in spans (found 8 bytes at a time), the rest
    // mapped a character at a time.
    let (text, bytes) = (nfkc.as_ref(), nfkc.as_bytes());
    let (mut i, mut span) = (0, 0);
    while i < bytes.len() {
        if let Some(chunk) = bytes.get(i..i + 8) {
            let k = kept_ascii_prefix(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
            i += k;
            if k == 8 {
                continue;
            }
        }
        let b = bytes[i];
        if (0x20..0x7F).contains(&b) && b != b'*' {
            i += 1;
            continue;
        }
        out.push_str(&text[span..i]);
        if b == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            i += 1;
            span = i;
            continue;
        }
        let c = text[i..].chars().next().expect("in bounds");
        match map_char(c) {
            Mapped::Keep => out.push(c),
            Mapped::Drop => {}
            Mapped::To(m) => out.push(m),
        }
        i += c.len_utf8();
        span = i;
    }
    out.push_str(&text[span..]);
}

/// A word character for the underscore and link rules: an ASCII letter or digit, or any non-ASCII character.
fn is_word(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_ascii_alphanumeric() || !c.is_ascii())
}

/// The length of a Markdown or list prefix at the start of `line`, consumed space included.
fn prefix_len(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    let space_or_end = |i: usize| i == b.len() || b[i] == b' ';
    let consumed = |i: usize| if i < b.len() { i + 1 } else { i };
    match b.first()? {
        b'#' => {
            let n = b.iter().take_while(|&&c| c == b'#').count();
            (n <= 6 && space_or_end(n)).then(|| consumed(n))
        }
        b'>' => Some(1),
        b'-' | b'+' => space_or_end(1).then(|| consumed(1)),
        b'0'..=b'9' => {
            let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
            (n <= 3 && matches!(b.get(n), Some(b'.' | b')')) && space_or_end(n + 1)).then(|| consumed(n + 1))
        }
        _ => None,
    }
}

fn strip_prefixes(mut line: &str) -> &str {
    line = line.trim_matches(' ');
    while let Some(n) = prefix_len(line) {
        line = line[n..].trim_matches(' ');
    }
    line
}

/// A list or heading mark standing alone as a word (`1.`, `2)`, `##`, `+`, `-`), as a list reads once its
/// lines are joined. `>` quote marks are not asked about: `kept_word` removes them from a word's start first.
fn is_lone_mark(token: &str) -> bool {
    let b = token.as_bytes();
    match b.first() {
        Some(b'0'..=b'9') => {
            let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
            n <= 3 && b.len() == n + 1 && matches!(b[n], b'.' | b')')
        }
        Some(b'#') => b.len() <= 6 && b.iter().all(|&c| c == b'#'),
        Some(b'+' | b'-') => b.len() == 1,
        _ => false,
    }
}

/// A code fence: three or more backticks or tildes, then at most an info string of one word (` ```python `).
/// A line that goes on with text after the run is text, not a fence: dropping it would hide the whole of a
/// document whose line breaks an extractor removed, and let anyone hide text from the detectors by putting
/// ` ``` ` before it.
fn is_fence(line: &str) -> bool {
    let Some(mark) = line.bytes().next().filter(|&c| c == b'`' || c == b'~') else { return false };
    let run = line.bytes().take_while(|&c| c == mark).count();
    run >= 3 && !line[run..].trim_matches(' ').contains(' ')
}

/// A horizontal rule, setext underline or table separator: only rule characters, at least three of them.
fn is_rule(line: &str) -> bool {
    line.bytes().all(|c| b"-_=#~|:+ ".contains(&c)) && line.bytes().filter(|&c| c != b' ').count() >= 3
}

/// `[text](url)` (or `![text](url)`) at the start of `s`: the text and the length of the whole link.
fn link_at(s: &str) -> Option<(&str, usize)> {
    let open = if s.starts_with("![") { 1 } else { 0 };
    if s.as_bytes().get(open) != Some(&b'[') {
        return None;
    }
    let text_start = open + 1;
    let close = text_start + memchr::memchr2(b']', b'[', &s.as_bytes()[text_start..])?;
    if s.as_bytes()[close] != b']' || s.as_bytes().get(close + 1) != Some(&b'(') {
        return None;
    }
    let url_start = close + 2;
    let end = url_start + memchr::memchr3(b'(', b')', b' ', &s.as_bytes()[url_start..])?;
    (s.as_bytes()[end] == b')').then(|| (&s[text_start..close], end + 1))
}

/// `[text](url)` and `![text](url)` reduced to `text`.
fn replace_links(line: &str) -> Cow<'_, str> {
    if memchr::memchr(b'[', line.as_bytes()).is_none() {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let (mut copied, mut i) = (0, 0);
    while let Some(k) = memchr::memchr(b'[', &line.as_bytes()[i..]) {
        let pos = i + k;
        // With a `!` before it, the link starts there (unless an earlier link took the `!`); a failed `![`
        // link fails without it too, its brackets being the same.
        let start = if pos > copied && line.as_bytes()[pos - 1] == b'!' { pos - 1 } else { pos };
        match link_at(&line[start..]) {
            Some((text, len)) => {
                out.push_str(&line[copied..start]);
                out.push_str(text);
                copied = start + len;
                i = copied;
            }
            None => i = pos + 1,
        }
    }
    out.push_str(&line[copied..]);
    Cow::Owned(out)
}

/// An underscore run beside a non-word character removed (emphasis), kept inside a word (snake_case); `|` a
/// space.
fn replace_underscores_and_pipes(line: &str) -> Cow<'_, str> {
    let b = line.as_bytes();
    if memchr::memchr2(b'_', b'|', b).is_none() {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let (mut copied, mut i) = (0, 0);
    while let Some(k) = memchr::memchr2(b'_', b'|', &b[i..]) {
        let pos = i + k;
        out.push_str(&line[copied..pos]);
        if b[pos] == b'|' {
            out.push(' ');
            i = pos + 1;
        } else {
            let run = b[pos..].iter().take_while(|&&x| x == b'_').count();
            let before = line[..pos].chars().next_back();
            let after = line[pos + run..].chars().next();
            if is_word(before) && is_word(after) {
                out.push_str(&line[pos..pos + run]);
            }
            i = pos + run;
        }
        copied = i;
    }
    out.push_str(&line[copied..]);
    Cow::Owned(out)
}

/// A dash run becomes one dash (one standing alone is then dropped as a word, by step 5).
fn replace_dashes(line: &str) -> Cow<'_, str> {
    let b = line.as_bytes();
    if memchr::memmem::find(b, b"--").is_none() {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let (mut copied, mut i) = (0, 0);
    while let Some(k) = memchr::memchr(b'-', &b[i..]) {
        let pos = i + k;
        let run = b[pos..].iter().take_while(|&&x| x == b'-').count();
        out.push_str(&line[copied..=pos]);
        i = pos + run;
        copied = i;
    }
    out.push_str(&line[copied..]);
    Cow::Owned(out)
}

/// Step 4 for one line, appended to `out` (nothing for a line that is dropped).
fn canonical_line(line: &str, out: &mut String) {
    let line = strip_prefixes(line);
    if is_fence(line) || is_rule(line) {
        return;
    }
    let unticked: Cow<'_, str> = if memchr::memchr(b'`', line.as_bytes()).is_some() {
        Cow::Owned(line.replace('`', ""))
    } else {
        Cow::Borrowed(line)
    };
    let line = unticked.as_ref();
    // Three passes, as the reference applies them: links; then underscores and `|`, which look at the
    // neighbours that the links left; then dash runs and lone dashes. Each copies untouched spans whole and is
    // skipped when its characters are absent.
    let linked = replace_links(line);
    let piped = replace_underscores_and_pipes(&linked);
    let dashed = replace_dashes(&piped);
    push_words(&dashed, out);
}

/// The words of `line` (split at spaces) appended to `out`, each one space from what `out` already holds, as
/// steps 4 and 5 keep them (see [`kept_word`]). Most lines are words with one space between them: consecutive
/// kept words are copied as one span, so a line costs one copy rather than one per word.
fn push_words(line: &str, out: &mut String) {
    let b = line.as_bytes();
    // The pending span of kept words, `line[span.0..span.1]`, each word of it one space from the next.
    let mut span: Option<(usize, usize)> = None;
    let flush = |span: (usize, usize), out: &mut String| {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&line[span.0..span.1]);
    };
    let mut i = 0;
    while i < b.len() {
        if b[i] == b' ' {
            i += 1;
            continue;
        }
        let mut start = i;
        i = word_end(b, i);
        // `kept_word`'s first bytes, tested here first: most words start with none of them, and the test
        // inline saves a call per word.
        if matches!(b[start], b'0'..=b'9' | b'#' | b'>' | b'+' | b'-' | b'=' | b'_' | b'~' | b':') {
            match kept_word(&line[start..i]) {
                0 => {
                    if let Some(pending) = span.take() {
                        flush(pending, out);
                    }
                    continue;
                }
                kept => start = i - kept,
            }
        }
        span = match span {
            Some((from, to)) if to + 1 == start => Some((from, i)),
            Some(pending) => {
                flush(pending, out);
                Some((start, i))
            }
            None => Some((start, i)),
        };
    }
    if let Some(pending) = span {
        flush(pending, out);
    }
}

/// Step 5 for one word: how many of its last bytes are kept. `>` quote marks at its start go; what is left goes
/// too when it is a lone mark or a rule run.
fn kept_word(word: &str) -> usize {
    let rest = word.trim_start_matches('>');
    let rule_run = rest.len() >= 3 && rest.bytes().all(|c| b"-=_~#+:".contains(&c));
    if rest.is_empty() || rule_run || is_lone_mark(rest) {
        0
    } else {
        rest.len()
    }
}

/// The index of the first space at or after `i` in `b`, or its length; 8 bytes at a time.
#[inline]
fn word_end(b: &[u8], mut i: usize) -> usize {
    use super::{first_marked_byte, HIGH};
    while let Some(chunk) = b.get(i..i + 8) {
        let k = first_marked_byte(equal_bytes(u64::from_le_bytes(chunk.try_into().expect("8 bytes")), b' ') & HIGH);
        i += k;
        if k < 8 {
            return i;
        }
    }
    b[i..].iter().position(|&c| c == b' ').map_or(b.len(), |k| i + k)
}

/// `text.split(sep as char)` for an ASCII `sep`, found with the memchr crate's vectorised search.
fn split_bytes(text: &str, sep: u8) -> impl Iterator<Item = &str> {
    debug_assert!(sep.is_ascii());
    let ends = memchr::memchr_iter(sep, text.as_bytes()).chain(std::iter::once(text.len()));
    let mut start = 0;
    ends.map(move |end| {
        let piece = &text[start..end];
        start = end + 1;
        piece
    })
}

/// The phrases of step 6 besides sharing, counts and bylines (`BOILERPLATE` in the reference).
const BOILERPLATE: &[&[&str]] = &[
    &["continue", "reading"],
    &["related", "articles"],
    &["related", "posts"],
    &["related", "stories"],
    &["back", "to", "top"],
    &["advertisement"],
    &["advertisements"],
    &["leave", "a", "comment"],
    &["leave", "a", "reply"],
    &["first", "posted"],
];
/// What `share this` or `share on` may go on with (`SHARE_OBJECTS` in the reference).
const SHARE_OBJECTS: &[&str] = &[
    "article",
    "post",
    "page",
    "story",
    "via",
    "facebook",
    "twitter",
    "linkedin",
    "pinterest",
    "reddit",
    "tumblr",
    "whatsapp",
    "pocket",
    "google",
    "google+",
    "email",
    "print",
];
const COMMENT: &[&str] = &["comment", "comments"];
const BYLINE: &[&str] = &["by", "on", "in"];
/// The most words any step-6 phrase but sharing covers, and so the words each end is read by.
const EDGE_WORDS: usize = 5;

/// `word` is one of `words`, ignoring the case of ASCII letters (a non-ASCII word is none of them).
fn is_one_of(word: &str, words: &[&str]) -> bool {
    words.iter().any(|w| word.eq_ignore_ascii_case(w))
}

/// [`is_one_of`], with or without a `:` after the word, as share buttons are labelled ("Share this:").
fn is_share_word(word: &str, words: &[&str]) -> bool {
    is_one_of(word.strip_suffix(':').unwrap_or(word), words)
}

fn is_count(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|c| c.is_ascii_digit())
}

fn is_comment_count(first: &str, second: &str) -> bool {
    is_count(first) && is_one_of(second, COMMENT)
        || is_one_of(first, COMMENT)
            && second.len() > 2
            && second.starts_with('(')
            && second.ends_with(')')
            && is_count(&second[1..second.len() - 1])
}

/// The words of `view` from its start, then empty words.
fn words_from_start(view: &str) -> impl Iterator<Item = &str> {
    view.split(' ').chain(std::iter::repeat(""))
}

/// The words of `view` from its end, last word first, then empty words.
fn words_from_end(view: &str) -> impl Iterator<Item = &str> {
    view.rsplit(' ').chain(std::iter::repeat(""))
}

/// How many words a step-6 phrase at the start of `view` covers; 0 for none.
fn boilerplate_at_start(view: &str) -> usize {
    let mut w = [""; EDGE_WORDS];
    for (slot, word) in w.iter_mut().zip(words_from_start(view)) {
        *slot = word;
    }
    if w[0].eq_ignore_ascii_case("share") && is_share_word(w[1], &["this", "on"]) {
        return 2 + words_from_start(view).skip(2).take_while(|x| is_share_word(x, SHARE_OBJECTS)).count();
    }
    if let Some(phrase) =
        BOILERPLATE.iter().find(|p| p.iter().zip(&w).all(|(want, got)| got.eq_ignore_ascii_case(want)))
    {
        return phrase.len();
    }
    if is_comment_count(w[0], w[1]) {
        return 2;
    }
    if w[0].eq_ignore_ascii_case("posted") && is_one_of(w[1], BYLINE) && !w[2].is_empty() {
        return 3;
    }
    0
}

/// How many words the longest step-6 phrase at the end of `view` covers; 0 for none.
fn boilerplate_at_end(view: &str) -> usize {
    // `back[i]`: the i-th word from the end.
    let mut back = [""; EDGE_WORDS];
    for (slot, word) in back.iter_mut().zip(words_from_end(view)) {
        *slot = word;
    }
    let mut n = BOILERPLATE
        .iter()
        .filter(|p| p.iter().rev().zip(&back).all(|(want, got)| got.eq_ignore_ascii_case(want)))
        .map(|p| p.len())
        .max()
        .unwrap_or(0);
    if is_comment_count(back[1], back[0]) {
        n = n.max(2);
    }
    let objects = words_from_end(view).take_while(|x| is_share_word(x, SHARE_OBJECTS)).count();
    let mut before = words_from_end(view).skip(objects);
    if before.next().is_some_and(|x| is_share_word(x, &["this", "on"]))
        && before.next().is_some_and(|x| x.eq_ignore_ascii_case("share"))
    {
        n = n.max(objects + 2);
    }
    if let Some(after) =
        (1..=3).rev().find(|&a| back[a + 1].eq_ignore_ascii_case("posted") && is_one_of(back[a], BYLINE))
    {
        n = n.max(after + 2);
    }
    n
}

/// Step 6 on the joined view: phrases dropped from its start while one leaves words after it, then from its end.
fn strip_boilerplate(view: &mut String) {
    loop {
        let n = boilerplate_at_start(view);
        // The space after the phrase's last word: none when the phrase is the whole view.
        match (n > 0).then(|| memchr::memchr_iter(b' ', view.as_bytes()).nth(n - 1)).flatten() {
            Some(space) => drop(view.drain(..=space)),
            None => break,
        }
    }
    loop {
        let n = boilerplate_at_end(view);
        match (n > 0).then(|| memchr::memrchr_iter(b' ', view.as_bytes()).nth(n - 1)).flatten() {
            Some(space) => view.truncate(space),
            None => break,
        }
    }
}

/// Reused buffers for [`Canonicalizer::run`].
#[derive(Default)]
pub struct Canonicalizer {
    mapped: String,
}

impl Canonicalizer {
    /// The canonical view of `text`, written into `out` (cleared first).
    pub fn run(&mut self, text: &str, out: &mut String) {
        out.clear();
        self.mapped.clear();
        normalize_chars(text, &mut self.mapped);
        for line in split_bytes(&self.mapped, b'\n') {
            canonical_line(line, out);
        }
        strip_boilerplate(out);
        if self.mapped.capacity() > 1 << 24 {
            *self = Canonicalizer::default();
        }
    }
}

/// The canonical view of `text` (allocates; the pipeline reuses a [`Canonicalizer`] per thread).
pub fn canonical(text: &str) -> String {
    let mut out = String::new();
    Canonicalizer::default().run(text, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::canonical;

    /// `cases` texts, each of fewer than `max_pieces` pieces drawn from `pieces` (xorshift from `seed`).
    fn random_texts<'p>(
        pieces: &'p [&'p str],
        seed: u64,
        cases: usize,
        max_pieces: u64,
    ) -> impl Iterator<Item = String> + 'p {
        let mut state = seed;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..cases).map(move |_| {
            let len = next() % max_pieces;
            (0..len).map(|_| pieces[(next() % pieces.len() as u64) as usize]).collect()
        })
    }

    /// NFKC by runs of non-ASCII characters is NFKC of the whole text, on random mixes of ASCII, combining marks
    /// (which compose with the ASCII letter before them), compatibility characters, Hangul jamo and CJK.
    #[test]
    fn nfkc_by_runs_is_nfkc_of_the_whole_text() {
        use unicode_normalization::UnicodeNormalization;
        let pieces = [
            "e",
            "a",
            "A",
            " ",
            ".",
            "\n",
            "\u{301}",
            "\u{308}",
            "\u{327}",
            "\u{323}\u{302}",
            "\u{a0}",
            "\u{2026}",
            "\u{fb01}",
            "\u{ff21}",
            "\u{2460}",
            "\u{1100}",
            "\u{1161}",
            "\u{11a8}",
            "\u{ac00}",
            "\u{e9}",
            "\u{212b}",
            "\u{b47}",
            "\u{b3e}",
            "日本",
            "\u{2019}",
            "\u{200b}",
            "\u{1f600}",
            "\u{3099}",
            "\u{304b}",
            "\u{2126}",
        ];
        for (case, text) in random_texts(&pieces, 0x9e37_79b9_7f4a_7c15, 5000, 24).enumerate() {
            let whole: String = text.nfkc().collect();
            let by_runs = super::nfkc_by_runs(&text).unwrap_or_else(|| text.clone());
            assert_eq!(by_runs, whole, "case {case}: {text:?}");
        }
    }

    #[test]
    fn publishing_variants_meet() {
        let plain = "He said \"it's fine\" - and left... The end is near.";
        for variant in [
            "He said \u{201C}it\u{2019}s fine\u{201D} \u{2014} and left\u{2026} The end is near.",
            "He said &ldquo;it&rsquo;s fine&rdquo; &mdash; and left&hellip; The end\u{A0}is near.",
            "He said \"it's fine\" -- and left...\r\nThe end is near.  ",
            "He said \"it's fine\" - and left...\n\nThe end is\u{200B} near.",
        ] {
            assert_eq!(canonical(variant), canonical(plain), "{variant:?}");
        }
        assert_eq!(canonical(plain), "He said \"it's fine\" and left... The end is near.");
    }

    #[test]
    fn markdown_reduced_to_what_a_reader_sees() {
        let md = "## A title here\n\nSure, **this** is _it_: see [the docs](https://x.y/z) and `code`.\n\n\
                  1. First point is this.\n2) Second point is that.\n* Third, snake_case stays.\n\n---\n```rust\n> Quoted line here.";
        assert_eq!(
            canonical(md),
            "A title here Sure, this is it: see the docs and code. First point is this. Second point is that. \
             Third, snake_case stays. Quoted line here."
        );
    }

    #[test]
    fn a_fence_mark_before_text_does_not_hide_the_text() {
        let poem = "One night of lust. One night of sin. Don't make me hate you.";
        // A fence line holds the mark and at most a language; its code is text a reader sees.
        assert_eq!(canonical(&format!("```python\n{poem}\n```")), poem);
        assert_eq!(canonical(&format!("~~~\n{poem}\n~~~~")), poem);
        // A document joined onto one line after a decoration, or text put after a fence on purpose, stays; the
        // decoration's rule runs go, as they would on lines of their own.
        assert_eq!(canonical(&format!("~~~~~~ Unclean ~~~~~~ {poem}")), format!("Unclean {poem}"));
        assert_eq!(canonical(&format!("```{poem}")), poem);
        assert_eq!(canonical(&format!("``` {poem}")), poem);
    }

    #[test]
    fn kept_ascii_prefix_finds_the_first_byte_to_map() {
        // Every byte value at every position of an otherwise kept word, against the byte-by-byte rule.
        let kept = |b: u8| (0x20..0x7F).contains(&b) && b != b'*';
        for pos in 0..8 {
            for byte in 0..=255u8 {
                let mut w = *b"abcdefgh";
                w[pos] = byte;
                let want = w.iter().position(|&b| !kept(b)).unwrap_or(8);
                assert_eq!(super::kept_ascii_prefix(u64::from_le_bytes(w)), want, "{byte:#x} at {pos}");
            }
        }
        // After a byte to map, anything may follow (carries and borrows only run upwards).
        for w in [*b"\xffabcdefg", *b"\x00\xff*\x7f\x1f  ~", *b"~~~~~~~*", *b"        "] {
            let want = w.iter().position(|&b| !kept(b)).unwrap_or(8);
            assert_eq!(super::kept_ascii_prefix(u64::from_le_bytes(w)), want, "{w:?}");
        }
    }

    /// `push_words` against the plain rule: split at spaces, empty words left out, each word as `kept_word`
    /// keeps it, words left empty left out, joined by one space; on random lines of words, marks, rule runs,
    /// digits, non-ASCII characters and runs of spaces.
    #[test]
    fn words_join_like_split_filter_and_join() {
        let pieces = [
            "a", "word", " ", "  ", "1.", "12)", "1234.", "#", "##", "#######", ">", ">>", "+", "++", "-", "é", "日本",
            "x1", "9", ">a", "===", "=", "~", "::", ":", "_", "-x", "=-=",
        ];
        for (case, line) in random_texts(&pieces, 0x2545_f491_4f6c_dd1d, 20_000, 30).enumerate() {
            let want: Vec<&str> = line
                .split(' ')
                .filter(|t| !t.is_empty())
                .map(|t| &t[t.len() - super::kept_word(t)..])
                .filter(|t| !t.is_empty())
                .collect();
            let mut got = String::from("kept");
            super::push_words(&line, &mut got);
            // Appended as `canonical_line` appends a line: one space after what `out` holds.
            let want = if want.is_empty() { "kept".to_string() } else { format!("kept {}", want.join(" ")) };
            assert_eq!(got, want, "case {case}: {line:?}");
        }
    }

    #[test]
    fn split_bytes_splits_like_str_split() {
        for text in ["", " ", "a", "a b", " a  b ", "\n\nx\n", "é ü  ß"] {
            for sep in [b' ', b'\n'] {
                let got: Vec<&str> = super::split_bytes(text, sep).collect();
                assert_eq!(got, text.split(sep as char).collect::<Vec<_>>(), "{text:?}");
            }
        }
    }

    #[test]
    fn boilerplate_at_the_edges_is_dropped_by_what_it_says() {
        let body = "I went to the market today and bought apples.";
        let page = format!("Share this article\n{body}\nPosted by admin\n3 Comments");
        assert_eq!(canonical(&page), body);
        // The same page with its line breaks removed, or with the share buttons spelled out, reads the same.
        assert_eq!(canonical(&page.replace('\n', " ")), body);
        assert_eq!(canonical(&format!("SHARE ON: Facebook Twitter Email\n{body}\nContinue reading")), body);
        // What the author wrote stays, however short its lines: a title, a list that closes the text, a letter's
        // closing, a chat model's placeholder, and a page's menu.
        for kept in [
            format!("My day\n{body}"),
            format!("{body}\n- pears\n- plums"),
            format!("{body}\nBest regards,\n[Your Name]"),
            format!("Menu Home About\n{body}"),
        ] {
            assert_eq!(canonical(&kept), canonical(&kept.replace('\n', " ")), "{kept:?}");
            assert!(canonical(&kept).len() > body.len(), "{kept:?}");
        }
        // A phrase is dropped where it is not the whole text, however the text goes on: extracted pages often begin
        // in lower case. Inside the text, nothing is.
        assert_eq!(canonical("Share this article"), "Share this article");
        assert_eq!(canonical("Share this article\nhow do bands work?"), "how do bands work?");
        assert_eq!(canonical("Leave a comment if you share this view."), "if you share this view.");
        let inside = "We share this view, leave a comment and go back to top speed.";
        assert_eq!(canonical(inside), inside);
    }

    #[test]
    fn quote_marks_and_rule_runs_go_wherever_a_line_break_fell() {
        let mail = "> I disagree.\n>> You said so.\n========\nMy answer is no.\n-- \n=-=-=-=-=";
        let view = canonical(mail);
        assert_eq!(view, "I disagree. You said so. My answer is no.");
        assert_eq!(canonical(&mail.replace('\n', " ")), view);
        // Marks that are not a word's start, and short runs, are text: `a>b`, `x == y`.
        assert_eq!(canonical("if a>b then x == y"), "if a>b then x == y");
    }

    #[test]
    fn entities_decode_up_to_three_times_and_leave_unknown_ones() {
        assert_eq!(canonical("a &amp;lt; b &#8217; &#146; &#x2014; &bogus; &#0; & c."), "a < b ' ' &bogus; &#0; & c.");
        assert_eq!(canonical("&amp;amp;amp;amp; x."), "&amp; x.");
    }
}

#[cfg(test)]
mod parity {
    /// The reference (`svalbard_train.canonical`) and the engine agree on every case of the fixture that
    /// `svalbard_train.fixtures.canonical` wrote: the training code and the engine see the same view.
    #[test]
    fn matches_the_python_reference() {
        let fixture = include_str!("../../../../tests/fixtures/canonical_parity.jsonl");
        let mut failures = Vec::new();
        let mut n = 0;
        for line in fixture.lines() {
            n += 1;
            let case: serde_json::Value = serde_json::from_str(line).expect("fixture line is JSON");
            let (text, want) = (case["text"].as_str().unwrap(), case["canonical"].as_str().unwrap());
            let got = super::canonical(text);
            if got != want {
                failures.push(format!("{text:?}\n  python {want:?}\n  rust   {got:?}"));
            }
        }
        assert!(n >= 500, "{n} cases");
        assert!(
            failures.is_empty(),
            "{} of {n} cases differ; first:\n{}",
            failures.len(),
            failures[..failures.len().min(3)].join("\n")
        );
    }
}
