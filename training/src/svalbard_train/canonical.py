#!/usr/bin/env python3
"""The canonical view of a text, "svalbard-canonical-v2": what its author controls, with what a CMS, an
extractor or a Markdown renderer decided taken out. Every detector reads this view; the quality rules keep
reading the raw text.

This is the reference implementation of the contract that the engine (`crates/core/src/text/canonical.rs`) reproduces
exactly, character for character; `training/tests/test_canonical.py` checks the two against each other, and the
training scripts call `canonical()` before hashing, so a model sees at training time what it sees in the
engine.

Steps, in order:
1. HTML character references decoded, left to right, and again while a pass changed something (at most
   `ENTITY_PASSES`: a page escaped twice, `&amp;rsquo;`, reads as one escaped once): `&#NNN;`, `&#xHH;` (code
   points 0x80..0x9F read as Windows-1252, as browsers do) and the named references of `ENTITIES`, each with
   its `;`.
2. Unicode NFKC (compatibility forms: the ellipsis becomes `...`, NBSP and the other spaces become a space,
   ligatures and full-width forms become their letters).
3. Characters mapped one by one: quotes, apostrophes and primes to `'` or `"`; dashes, minus signs and hyphen
   variants to `-`; bullets and other whitespace to a space; every line break to `\n`; zero-width characters,
   soft hyphens, byte-order marks, bidirectional marks and control characters removed; `*` (Markdown
   emphasis) removed.
4. Per line: Markdown and list prefixes removed (`#` headings, `>` quotes, `-`/`+` bullets, `1.`/`1)` numbering),
   fence lines (```` ``` ````, `~~~`, with at most a one-word info string such as a language) and rule lines
   (`---`, `===`, table separators) dropped, backticks removed, `[text](url)` links reduced to their text, `_`
   emphasis removed (an underscore run beside a non-word character), `|` to a space, dash runs to one `-`.
5. Per word (the words of every line, split at spaces): `>` quote marks at a word's start removed, and then the
   word dropped if nothing is left, or if it is a list or heading mark standing alone (`1.`, `2)`, `##`, `+`,
   `-`: how a list reads once its lines are joined), or a rule run (three or more of `-=_~#+:`). Step 4 does
   this only at a line's start; here it happens anywhere, so that a page whose line breaks an extractor
   removed (an e-mail's `>From`, a `========` underline) reads the same.
6. Site boilerplate at either end, known by what it says, not by where its line breaks fell: while the view
   begins with one of these phrases and goes on after it, the phrase is dropped; then the same at the view's
   end. Words match ASCII letters ignoring case, and nothing else. Neither case nor punctuation around a
   phrase is asked about: an extracted page's text often begins in lower case ("how do ...") and its
   boilerplate runs into it, and the few authored words lost when a text itself begins "Leave a comment ..."
   only shorten what the detectors read.
   - `share this` or `share on`, then any of `SHARE_OBJECTS` ("Share this article", "Share on Facebook
     Twitter"), each of these words with or without a `:` after it;
   - the phrases of `BOILERPLATE` ("continue reading", "related posts", "back to top", "advertisement",
     "leave a reply", "first posted");
   - a comment count: a number and `comment(s)`, or `comment(s)` and a number in brackets;
   - a byline: `posted by`, `posted on` or `posted in` and one word at the start, or one to three words at the
     end.
   Where several phrases end the view, the longest is dropped.
   Nothing is dropped by position or length alone: a letter's closing, a chat model's `[your name]`, a title
   or the items of a final list are the author's, and a page keeps its menus and headlines (words a reader
   reads, which no publishing choice adds to one variant of a text and not to another).
7. Words joined with one space.

A "word character" in step 4 is an ASCII letter or digit or any non-ASCII character (so that the
engine and Python agree without sharing a Unicode database).
"""
from __future__ import annotations

import re
import sys
import unicodedata

NAME = "svalbard-canonical-v2"
ENTITY_PASSES = 3

_LATIN1_LETTERS = {
    "Agrave": 0xC0, "Aacute": 0xC1, "Acirc": 0xC2, "Atilde": 0xC3, "Auml": 0xC4, "Aring": 0xC5, "AElig": 0xC6,
    "Ccedil": 0xC7, "Egrave": 0xC8, "Eacute": 0xC9, "Ecirc": 0xCA, "Euml": 0xCB, "Igrave": 0xCC, "Iacute": 0xCD,
    "Icirc": 0xCE, "Iuml": 0xCF, "Ntilde": 0xD1, "Ograve": 0xD2, "Oacute": 0xD3, "Ocirc": 0xD4, "Otilde": 0xD5,
    "Ouml": 0xD6, "Oslash": 0xD8, "Ugrave": 0xD9, "Uacute": 0xDA, "Ucirc": 0xDB, "Uuml": 0xDC, "Yacute": 0xDD,
    "szlig": 0xDF, "agrave": 0xE0, "aacute": 0xE1, "acirc": 0xE2, "atilde": 0xE3, "auml": 0xE4, "aring": 0xE5,
    "aelig": 0xE6, "ccedil": 0xE7, "egrave": 0xE8, "eacute": 0xE9, "ecirc": 0xEA, "euml": 0xEB, "igrave": 0xEC,
    "iacute": 0xED, "icirc": 0xEE, "iuml": 0xEF, "ntilde": 0xF1, "ograve": 0xF2, "oacute": 0xF3, "ocirc": 0xF4,
    "otilde": 0xF5, "ouml": 0xF6, "oslash": 0xF8, "ugrave": 0xF9, "uacute": 0xFA, "ucirc": 0xFB, "uuml": 0xFC,
    "yacute": 0xFD, "yuml": 0xFF,
}
# Named character references decoded in step 1 (with their `;`): the punctuation, spaces and symbols that
# CMSs write as entities, and the Latin-1 letters.
ENTITIES = {
    "amp": 0x26, "lt": 0x3C, "gt": 0x3E, "quot": 0x22, "apos": 0x27, "nbsp": 0xA0, "ensp": 0x2002,
    "emsp": 0x2003, "thinsp": 0x2009, "ndash": 0x2013, "mdash": 0x2014, "minus": 0x2212, "hellip": 0x2026,
    "lsquo": 0x2018, "rsquo": 0x2019, "sbquo": 0x201A, "ldquo": 0x201C, "rdquo": 0x201D, "bdquo": 0x201E,
    "laquo": 0xAB, "raquo": 0xBB, "lsaquo": 0x2039, "rsaquo": 0x203A, "prime": 0x2032, "Prime": 0x2033,
    "bull": 0x2022, "middot": 0xB7, "shy": 0xAD, "zwj": 0x200D, "zwnj": 0x200C, "lrm": 0x200E, "rlm": 0x200F,
    "copy": 0xA9, "reg": 0xAE, "trade": 0x2122, "deg": 0xB0, "times": 0xD7, "divide": 0xF7, "frac12": 0xBD,
    "frac14": 0xBC, "frac34": 0xBE, "euro": 0x20AC, "pound": 0xA3, "yen": 0xA5, "cent": 0xA2, "sect": 0xA7,
    "para": 0xB6, "dagger": 0x2020, "Dagger": 0x2021, "iexcl": 0xA1, "iquest": 0xBF,
    **_LATIN1_LETTERS,
}
ENTITY_MAX_NAME = max(len(k) for k in ENTITIES)
# Numeric references to 0x80..0x9F mean Windows-1252 (unassigned bytes keep their code point).
CP1252 = {
    0x80: 0x20AC, 0x82: 0x201A, 0x83: 0x0192, 0x84: 0x201E, 0x85: 0x2026, 0x86: 0x2020, 0x87: 0x2021,
    0x88: 0x02C6, 0x89: 0x2030, 0x8A: 0x0160, 0x8B: 0x2039, 0x8C: 0x0152, 0x8E: 0x017D, 0x91: 0x2018,
    0x92: 0x2019, 0x93: 0x201C, 0x94: 0x201D, 0x95: 0x2022, 0x96: 0x2013, 0x97: 0x2014, 0x98: 0x02DC,
    0x99: 0x2122, 0x9A: 0x0161, 0x9B: 0x203A, 0x9C: 0x0153, 0x9E: 0x017E, 0x9F: 0x0178,
}

SINGLE_QUOTES = "\u2018\u2019\u201a\u201b\u2032\u2035\u02bc\u02b9\u00b4\u2039\u203a"
DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\u301d\u301e\u301f"
DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe58\ufe63\uff0d\u2e3a\u2e3b\u2e17\u30fc"
BULLETS = "\u2022\u2023\u25e6\u25aa\u25ab\u25cf\u25cb\u25a0\u25a1\u25c6\u25c7\u2219\u204c\u204d\u27a2\u27a4\u25ba\u25b8\u2756\u00b7"
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# Removed outright: invisible format characters, and Markdown's code and emphasis marks.
REMOVED = set("\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e\u200e\u200f"
              "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069*")


def _char_map() -> dict[int, str]:
    m: dict[int, str] = {}
    for chars, to in ((SINGLE_QUOTES, "'"), (DOUBLE_QUOTES, '"'), (DASHES, "-"), (BULLETS, "-"),
                      (LINE_BREAKS, "\n"), (REMOVED, "")):
        for c in chars:
            m[ord(c)] = to
    for cp in list(range(0x00, 0x20)) + [0x7F] + list(range(0x80, 0xA0)):
        if cp not in m:
            m[cp] = ""  # control characters
    m[0x09] = " "
    m[0x1F] = " "
    for cp in (0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A,
               0x202F, 0x205F, 0x3000, 0xA0):
        m[cp] = " "
    return m


CHAR_MAP = _char_map()

_ENTITY = re.compile(r"&(#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{1,%d};)" % (ENTITY_MAX_NAME - 1))


def _entity(m: re.Match) -> str:
    body = m.group(1)[:-1]
    if body[0] == "#":
        cp = int(body[2:], 16) if body[1] in "xX" else int(body[1:])
        cp = CP1252.get(cp, cp)
        if cp == 0 or cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
            return m.group(0)
        return chr(cp)
    cp = ENTITIES.get(body)
    return chr(cp) if cp is not None else m.group(0)


def decode_entities(text: str) -> str:
    for _ in range(ENTITY_PASSES):
        if "&" not in text:
            break
        decoded = _ENTITY.sub(_entity, text)
        if decoded == text:
            break
        text = decoded
    return text


def _is_word(c: str) -> bool:
    return c.isascii() and c.isalnum() or not c.isascii()


_PREFIX = re.compile(r"(?:#{1,6}(?: |$)|>|[-+](?: |$)|[0-9]{1,3}[.)](?: |$))")
_RULE_CHARS = set("-_=#~|:+ ")
_LINK = re.compile(r"!?\[([^\[\]\n]*)\]\(([^()\s]*)\)")
_DASH_RUN = re.compile(r"-{2,}")
_SPACES = re.compile(r" {2,}")




def _strip_prefixes(line: str) -> str:
    line = line.strip(" ")
    while True:
        m = _PREFIX.match(line)
        if not m:
            return line
        line = line[m.end():].strip(" ")


def _is_rule(line: str) -> bool:
    return sum(1 for c in line if c != " ") >= 3 and all(c in _RULE_CHARS for c in line)


_UNDERSCORES = re.compile(r"_+")


def _underscores(line: str) -> str:
    def keep_inside_word(m: re.Match) -> str:
        before = line[m.start() - 1] if m.start() > 0 else " "
        after = line[m.end()] if m.end() < len(line) else " "
        return m.group(0) if _is_word(before) and _is_word(after) else ""  # snake_case stays

    return _UNDERSCORES.sub(keep_inside_word, line) if "_" in line else line


def _is_fence(line: str) -> bool:
    """Three or more backticks or tildes, then at most a one-word info string: a line that goes on with text
    is text (an extractor may have joined a whole document onto the fence's line)."""
    if not line or line[0] not in "`~":
        return False
    run = len(line) - len(line.lstrip(line[0]))
    return run >= 3 and " " not in line[run:].strip(" ")


def _line(line: str) -> str:
    line = _strip_prefixes(line)
    if _is_fence(line) or _is_rule(line):
        return ""
    line = _LINK.sub(r"\1", line.replace("`", ""))
    line = _underscores(line)
    line = line.replace("|", " ")
    if "-" in line:
        line = _DASH_RUN.sub("-", line)
    return _SPACES.sub(" ", line).strip(" ")


_LONE_MARK_WORD = re.compile(r"(?:[0-9]{1,3}[.)]|#{1,6}|\+|-)")
_RULE_RUN_CHARS = frozenset("-=_~#+:")


def _word(word: str) -> str:
    """Step 5: the word without its quote marks, or "" when it is a mark or a rule run."""
    word = word.lstrip(">")
    if _LONE_MARK_WORD.fullmatch(word) or len(word) >= 3 and all(c in _RULE_RUN_CHARS for c in word):
        return ""
    return word


_SOCIAL = ("facebook", "twitter", "linkedin", "pinterest", "reddit", "tumblr", "whatsapp", "pocket", "google",
           "google+", "email", "print")
SHARE_OBJECTS = frozenset(("article", "post", "page", "story", "via") + _SOCIAL)
BOILERPLATE = (
    ("continue", "reading"), ("related", "articles"), ("related", "posts"), ("related", "stories"),
    ("back", "to", "top"), ("advertisement",), ("advertisements",), ("leave", "a", "comment"),
    ("leave", "a", "reply"), ("first", "posted"),
)
_COMMENT = ("comment", "comments")
_BYLINE = ("by", "on", "in")


def _is_count(word: str) -> bool:
    return word != "" and all("0" <= c <= "9" for c in word)


def _is_comment_count(first: str, second: str) -> bool:
    return (_is_count(first) and second in _COMMENT
            or first in _COMMENT and len(second) > 2 and second[0] == "(" and second[-1] == ")"
            and _is_count(second[1:-1]))


def _share_word(word: str) -> str:
    return word[:-1] if word.endswith(":") else word


def _boilerplate_at_start(w: list[str]) -> int:
    """How many of the (lower-cased) words `w` a step-6 phrase at their start covers; 0 for none."""
    def at(i: int) -> str:
        return w[i] if i < len(w) else ""

    if at(0) == "share" and _share_word(at(1)) in ("this", "on"):
        n = 2
        while _share_word(at(n)) in SHARE_OBJECTS:
            n += 1
        return n
    for phrase in BOILERPLATE:
        if tuple(w[:len(phrase)]) == phrase:
            return len(phrase)
    if _is_comment_count(at(0), at(1)):
        return 2
    if at(0) == "posted" and at(1) in _BYLINE and len(w) > 2:
        return 3
    return 0


def _boilerplate_at_end(w: list[str]) -> int:
    """How many of the words `w` the longest step-6 phrase at their end covers; 0 for none."""
    def back(i: int) -> str:  # the i-th word from the end
        return w[len(w) - 1 - i] if i < len(w) else ""

    n = 0
    for phrase in BOILERPLATE:
        if len(phrase) <= len(w) and tuple(w[len(w) - len(phrase):]) == phrase:
            n = max(n, len(phrase))
    if _is_comment_count(back(1), back(0)):
        n = max(n, 2)
    k = 0
    while _share_word(back(k)) in SHARE_OBJECTS:
        k += 1
    if _share_word(back(k)) in ("this", "on") and back(k + 1) == "share":
        n = max(n, k + 2)
    for after in (3, 2, 1):
        if back(after + 1) == "posted" and back(after) in _BYLINE:
            n = max(n, after + 2)
            break
    return n


def _strip_boilerplate(words: list[str]) -> list[str]:
    low = [w.lower() if w.isascii() else "\x00" for w in words]  # a word no phrase has
    start, end = 0, len(words)
    while 0 < (n := _boilerplate_at_start(low[start:end])) < end - start:
        start += n
    while 0 < (n := _boilerplate_at_end(low[start:end])) < end - start:
        end -= n
    return words[start:end]


def canonical(text: str) -> str:
    text = decode_entities(text)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").translate(CHAR_MAP)
    words = [w for w in (_word(w) for x in text.split("\n") for w in _line(x).split(" ")) if w]
    return " ".join(_strip_boilerplate(words))


def main(argv: list[str]) -> int:
    """`python -m svalbard_train.canonical --jsonl < in.jsonl`: one {"text": canonical} per input line."""
    import json

    if len(argv) == 2 and argv[1] == "--jsonl":
        for line in sys.stdin:
            if line.strip():
                print(json.dumps({"text": canonical(json.loads(line)["text"])}, ensure_ascii=False))
        return 0
    if len(argv) == 2:
        print(canonical(argv[1]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
