#!/usr/bin/env python3
"""Writes tests/fixtures/canonical_parity.jsonl: {"text", "canonical"} pairs from scripts/canonical.py, which the
engine's unit test (`text::canonical`) must reproduce exactly and scripts/test_canonical.py re-checks.

Texts are random mixes (fixed seed) of the pieces each step of the contract handles: quotes, dashes, spaces,
line breaks, entities, NFKC forms, invisible characters, Markdown, list prefixes, links, underscores and
furniture lines, with plain words between them.

    python3 scripts/make_canonical_fixture.py
"""
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import canonical as cn  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "canonical_parity.jsonl")
CASES = 500

WORDS = ["the", "model", "said", "it's", "don't", "We", "people", "5", "1990", "x-ray", "e-mail", "snake_case",
         "__init__", "co-op", "naïve", "café", "Zürich", "日本語", "😀", "Ω", "résumé", "fiancée", "a", "I",
         "über", "2.5", "U.S.", "end.", "why?", "yes!", "(note)", "\"quoted\"", "'single'", "well,", "so:"]
PIECES = list(cn.SINGLE_QUOTES + cn.DOUBLE_QUOTES + cn.DASHES + cn.BULLETS + cn.LINE_BREAKS) + [
    "\r\n", "\t", "\u00a0", "\u2009", "\u3000", "\u200b", "\u00ad", "\ufeff", "\u202e", "\x00", "\x07", "\x7f",
    "\u0085", "\u0301", "e\u0301", "\ufb01", "\uff21", "\u2026", "\u2025", "\u00bd", "\u2122", "\u00b2", "\u00b4",
    "&amp;", "&lt;", "&quot;", "&apos;", "&nbsp;", "&mdash;", "&rsquo;", "&hellip;", "&eacute;", "&bogus;",
    "&#8217;", "&#x201C;", "&#146;", "&#150;", "&#129;", "&#0;", "&#xD800;", "&#99999999;", "&amp;amp;", "&", "&#",
    "&AElig;", "&Amp;", "&#x;", "*", "**", "_", "__", "`", "```", "~~~", "#", "## ", "###### ", "####### ", "> ",
    ">", "- ", "+ ", "* ", "1. ", "12) ", "1234. ", "3.", "[", "]", "(", ")", "[link](http://a.b/c_d)",
    "![img](x.png)", "[a [b](c)", "[t](u v)", "[t](u(v))", "|", " | ", "---", "- - -", "===", "|---|:-:|", "--",
    "---", " - ", "-", "a-b", "a--b", "a - b", "Share this article", "Posted by admin", "Read more", "Title Here",
    "  ", "   ", "\n\n", "\n", ".", "!", "?", "\"", "'", ")", ":", ",",
]


def piece(rng):
    r = rng.random()
    if r < 0.45:
        return rng.choice(WORDS)
    if r < 0.9:
        return rng.choice(PIECES)
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))) + rng.choice([".", "", "!", ":"])


def main():
    rng = random.Random(20261202)
    rows = []
    for i in range(CASES):
        n = rng.randint(1, 30)
        sep = rng.choice([" ", "", "\n", " "])
        text = sep.join(piece(rng) for _ in range(n))
        if i % 5 == 0:  # a page: furniture lines around a body
            text = "\n".join([rng.choice(["Share this article", "Home", "My Title"]), text,
                              rng.choice(["Posted by admin", "Comments (3)", "The end."])])
        rows.append({"text": text, "canonical": cn.canonical(text)})
    with open(OUT, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{OUT}: {len(rows)} cases")


if __name__ == "__main__":
    main()
