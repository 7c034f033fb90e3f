"""Data loading and deterministic splits for the `fast` detector (fast.train / fast.evaluate).

Splits (all deterministic, no randomness):
* detect/train.jsonl -> train, detect/dev.jsonl -> evaluation.
* web_text: a document goes to the held-out 20% when sha1(id) % 100 < 20, else to training.
* human_gutenberg: whole books are held out with the same rule on the book id; each book
  (Gutenberg header/footer stripped) is cut into chunks of ~CHUNK_CHARS characters at
  whitespace, and at most BOOK_CHUNKS evenly spaced chunks per book are kept.
* human_nltk: documents held out with the same rule on the doc id; long documents are cut into
  chunks like books, at most NLTK_CHUNKS per document; chunks shorter than MIN_CHARS are dropped.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import re

from svalbard_train.paths import DATA

CHUNK_CHARS = 3000
BOOK_CHUNKS = 40
NLTK_CHUNKS = 4
MIN_CHARS = 200
HOLDOUT_PCT = 20


def heldout(key: str) -> bool:
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % 100 < HOLDOUT_PCT


def web_generator_family(gen: str | None) -> str | None:
    if gen is None:
        return None
    if gen.startswith("GPT-2"):
        return "web-gpt2"
    if gen.startswith("GPT-3"):
        return "web-gpt3"
    return "web-other"


# Texts under this many whitespace-separated words are "short": `fast`'s short-text head and `minilm_short` are
# fitted on them alone, and their figures are also reported on them.
SHORT_MAX_WORDS = 120


def is_short(text: str, max_words: int = SHORT_MAX_WORDS) -> bool:
    return len(text.split()) < max_words


def _rec(text, label, source, generator, group, unit):
    # `unit`: texts that must stay on the same side of any split (a human text and the machine text
    # written from the same prompt; the chunks of one book), used by the out-of-fold scores.
    return {"text": text, "y": 1 if label == "machine" else 0, "source": source,
            "generator": generator, "group": group, "unit": unit}


def load_detect(name: str):
    out = []
    with open(os.path.join(DATA, "detect", name), encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            out.append(_rec(d["text"], d["label"], d["source"], d["generator"],
                            "detect-" + d["label"],
                            "pair:" + str(d["pair_id"]) if d.get("pair_id") is not None
                            else "detect:" + str(d["id"])))
    return out


def load_web():
    train, test = [], []
    for fn, label in (("human_web.jsonl.gz", "human"), ("machine_web.jsonl.gz", "machine")):
        with gzip.open(os.path.join(DATA, "web_text", fn), "rt", encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                if not d["text"].strip():
                    continue
                gen = web_generator_family(d.get("generator")) if label == "machine" else None
                r = _rec(d["text"], label, "web_text", gen, "web-" + label, "web:" + d["id"])
                r["web_source"] = d["source"]
                r["generator_raw"] = d.get("generator")
                (test if heldout("web:" + d["id"]) else train).append(r)
    return train, test


_START = re.compile(r"\*\*\* ?START OF (THE|THIS) PROJECT GUTENBERG[^\n]*\n", re.I)
_END = re.compile(r"\*\*\* ?END OF (THE|THIS) PROJECT GUTENBERG", re.I)


def strip_gutenberg(text: str) -> str:
    m = _START.search(text)
    if m:
        text = text[m.end():]
    m = _END.search(text)
    if m:
        text = text[:m.start()]
    return text.strip()


def chunks(text: str, size: int = CHUNK_CHARS):
    """Cut at whitespace into pieces of about `size` characters."""
    out = []
    i, n = 0, len(text)
    while i < n:
        j = min(n, i + size)
        if j < n:
            k = text.rfind(" ", i + size // 2, j)
            k2 = text.rfind("\n", i + size // 2, j)
            k = max(k, k2)
            if k > i:
                j = k
        piece = text[i:j].strip()
        if len(piece) >= MIN_CHARS:
            out.append(piece)
        i = j
    return out


def _evenly(xs, k):
    if len(xs) <= k:
        return xs
    return [xs[(i * len(xs)) // k] for i in range(k)]


def load_books():
    train, test = [], []
    with gzip.open(os.path.join(DATA, "human_gutenberg.jsonl.gz"), "rt", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            body = strip_gutenberg(d["text"])
            # skip the first 5% (front matter, contents) of the body
            body = body[len(body) // 20:]
            for c in _evenly(chunks(body), BOOK_CHUNKS):
                r = _rec(c, "human", "gutenberg", None, "books-human", "gutenberg:" + str(d["id"]))
                (test if heldout("gutenberg:" + str(d["id"])) else train).append(r)
    with gzip.open(os.path.join(DATA, "human_nltk.jsonl.gz"), "rt", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            for c in _evenly(chunks(d["text"].strip()), NLTK_CHUNKS):
                r = _rec(c, "human", "nltk-" + d["corpus"], None, "books-human", "nltk:" + str(d["id"]))
                (test if heldout("nltk:" + str(d["id"])) else train).append(r)
    return train, test


def load_all():
    """Returns (train, evals) where evals is a dict name -> list of records."""
    tr = load_detect("train.jsonl")
    dev = load_detect("dev.jsonl")
    web_tr, web_te = load_web()
    books_tr, books_te = load_books()
    return tr + web_tr + books_tr, {"dev": dev, "web_heldout": web_te, "books_heldout": books_te}
