#!/usr/bin/env python3
"""Feature hashing "svalbard-hash-v1" for the `fast` detector (see models/fast/FEATURES.md).

This module is the reference implementation of the contract that the Rust engine
(`src/`) reproduces exactly. Two implementations live here:

* `features_reference(text)` / `hash_text_reference(text)`: plain Python, one byte at a
  time, written to mirror the spec line by line (slow, used by the tests and fixtures);
* `hash_texts(texts)`: a numpy-vectorised batch version used for training, checked
  against the reference by `training/tests/test_hashing.py`.

CLI:
    python3 -m svalbard_train.hashing "some text"          # prints {"ids": [...], "values": [...]}
    python3 -m svalbard_train.hashing --jsonl < in.jsonl   # one {"text": ...} per line in, one result per line out
"""
from __future__ import annotations

import json
import math
import re
import sys

NAME = "svalbard-hash-v1"
MAX_BYTES = 3000
NUM_BUCKETS = 1 << 19  # 524288
BUCKET_MASK = NUM_BUCKETS - 1
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK64 = (1 << 64) - 1

# ASCII A-Z -> a-z, every other byte unchanged.
_LOWER = bytes(b + 32 if 0x41 <= b <= 0x5A else b for b in range(256))
# A token is a maximal run of [a-z0-9] or bytes >= 0x80, or a single ASCII punctuation /
# symbol byte (0x21..=0x7E, not alphanumeric). Applied after lowercasing, so A-Z never occur.
_TOKEN_RE = re.compile(rb"[a-z0-9\x80-\xff]+|[\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]")


# --------------------------------------------------------------------------- reference

def prefix_bytes(text: str | bytes, max_bytes: int = MAX_BYTES) -> bytes:
    """Step 1: the first `max_bytes` bytes of the UTF-8 encoding, backed off to a char boundary."""
    b = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    if len(b) <= max_bytes:
        return b
    cut = max_bytes
    # b[cut] is the first byte that is NOT kept; if it is a continuation byte (10xxxxxx)
    # the cut falls inside a character: move back to that character's first byte.
    while cut > 0 and (b[cut] & 0xC0) == 0x80:
        cut -= 1
    return b[:cut]


def _is_word_byte(c: int) -> bool:
    return (0x61 <= c <= 0x7A) or (0x30 <= c <= 0x39) or c >= 0x80


def _is_punct_byte(c: int) -> bool:
    return 0x21 <= c <= 0x7E and not (0x61 <= c <= 0x7A or 0x41 <= c <= 0x5A or 0x30 <= c <= 0x39)


def tokens_reference(text: str | bytes, max_bytes: int = MAX_BYTES) -> list[bytes]:
    """Steps 1-3, byte by byte."""
    b = prefix_bytes(text, max_bytes)
    b = bytes(c + 32 if 0x41 <= c <= 0x5A else c for c in b)  # step 2
    toks: list[bytes] = []
    cur = bytearray()
    for c in b:
        if _is_word_byte(c):
            cur.append(c)
            continue
        if cur:
            toks.append(bytes(cur))
            cur = bytearray()
        if _is_punct_byte(c):
            toks.append(bytes([c]))
        # anything else (whitespace, control bytes, DEL) only separates tokens
    if cur:
        toks.append(bytes(cur))
    return toks


def features_reference(text: str | bytes, max_bytes: int = MAX_BYTES) -> list[bytes]:
    """Step 4: the feature byte strings, in spec order."""
    toks = tokens_reference(text, max_bytes)
    feats = [b"u|" + t for t in toks]
    feats += [b"b|" + toks[i] + b" " + toks[i + 1] for i in range(len(toks) - 1)]
    s = b" ".join(toks)
    feats += [b"c|" + s[i:i + 4] for i in range(len(s) - 3)]
    return feats


def fnv1a64(data: bytes) -> int:
    h = FNV_OFFSET
    for c in data:
        h ^= c
        h = (h * FNV_PRIME) & MASK64
    return h


def hash_text_reference(text: str | bytes, max_bytes: int = MAX_BYTES,
                        num_buckets: int = NUM_BUCKETS) -> tuple[list[int], list[float]]:
    """Steps 5-7: sorted bucket ids and float32 values (returned as Python floats that are
    exactly representable in float32)."""
    import struct

    counts: dict[int, int] = {}
    for f in features_reference(text, max_bytes):
        k = fnv1a64(f) & (num_buckets - 1)
        counts[k] = counts.get(k, 0) + 1
    ids = sorted(counts)
    vals = [1.0 + math.log(counts[k]) for k in ids]  # f64
    norm = math.sqrt(sum(v * v for v in vals))        # f64, summed in ascending-id order
    out = []
    for v in vals:
        f32 = struct.unpack("<f", struct.pack("<f", v / norm))[0]  # round to f32
        out.append(f32)
    return ids, out


# --------------------------------------------------------------------------- fast (numpy)

def tokens(text: str | bytes, max_bytes: int = MAX_BYTES) -> list[bytes]:
    return _TOKEN_RE.findall(prefix_bytes(text, max_bytes).translate(_LOWER))


def hash_texts(texts, max_bytes: int = MAX_BYTES, num_buckets: int = NUM_BUCKETS,
               batch: int = 256):
    """Vectorised svalbard-hash-v1 for many texts. Returns a scipy.sparse.csr_matrix
    (float32, shape [len(texts), num_buckets]) whose rows have sorted column indices."""
    import numpy as np
    import scipy.sparse as sp

    texts = list(texts)
    indptr = [0]
    all_idx = []
    all_val = []
    for start in range(0, len(texts), batch):
        idx_b, val_b, nnz_b = _hash_batch(texts[start:start + batch], max_bytes, num_buckets)
        all_idx.append(idx_b)
        all_val.append(val_b)
        for n in nnz_b:
            indptr.append(indptr[-1] + n)
    idx = np.concatenate(all_idx) if all_idx else np.zeros(0, np.int64)
    val = np.concatenate(all_val) if all_val else np.zeros(0, np.float32)
    return sp.csr_matrix((val, idx, np.asarray(indptr, dtype=np.int64)),
                         shape=(len(texts), num_buckets))


def _hash_batch(texts, max_bytes, num_buckets):
    import numpy as np

    prime = np.uint64(FNV_PRIME)
    mask = np.uint64(num_buckets - 1)

    # Variable-length features (unigrams, bigrams): one buffer, hashed column by column.
    var_feats: list[bytes] = []
    var_doc: list[int] = []
    char_hashes = []
    char_docs = []
    for d, text in enumerate(texts):
        toks = tokens(text, max_bytes)
        n0 = len(var_feats)
        var_feats.extend(b"u|" + t for t in toks)
        var_feats.extend(b"b|" + toks[i] + b" " + toks[i + 1] for i in range(len(toks) - 1))
        var_doc.extend([d] * (len(var_feats) - n0))
        s = b" ".join(toks)
        if len(s) >= 4:
            a = np.frombuffer(s, dtype=np.uint8).astype(np.uint64)
            n = len(s) - 3
            h = np.full(n, fnv1a64(b"c|"), dtype=np.uint64)
            for j in range(4):
                h ^= a[j:j + n]
                h *= prime
            char_hashes.append(h)
            char_docs.append(np.full(n, d, dtype=np.int64))

    if var_feats:
        lens = np.fromiter((len(f) for f in var_feats), dtype=np.int64, count=len(var_feats))
        buf = np.frombuffer(b"".join(var_feats), dtype=np.uint8).astype(np.uint64)
        starts = np.zeros(len(var_feats), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        order = np.argsort(-lens, kind="stable")
        lens_s = lens[order]
        starts_s = starts[order]
        h = np.full(len(var_feats), FNV_OFFSET, dtype=np.uint64)
        maxlen = int(lens_s[0])
        # number of features with length > j, for every j
        neg = -lens_s  # ascending
        for j in range(maxlen):
            k = int(np.searchsorted(neg, -j, side="left"))  # count of lens_s > j
            h[:k] ^= buf[starts_s[:k] + j]
            h[:k] *= prime
        var_h = np.empty_like(h)
        var_h[order] = h
        char_hashes.append(var_h)
        char_docs.append(np.asarray(var_doc, dtype=np.int64))

    if not char_hashes:
        return np.zeros(0, np.int64), np.zeros(0, np.float32), [0] * len(texts)
    hh = np.concatenate(char_hashes)
    dd = np.concatenate(char_docs)
    key = dd * np.int64(num_buckets) + (hh & mask).astype(np.int64)
    uk, cnt = np.unique(key, return_counts=True)  # sorted by (doc, bucket)
    docs = uk // num_buckets
    ids = uk % num_buckets
    vals = 1.0 + np.log(cnt.astype(np.float64))
    nnz = np.bincount(docs, minlength=len(texts))
    sq = np.bincount(docs, weights=vals * vals, minlength=len(texts))
    norms = np.sqrt(sq)
    out = (vals / norms[docs]).astype(np.float32)
    return ids.astype(np.int64), out, nnz.tolist()


def hash_text(text, max_bytes: int = MAX_BYTES, num_buckets: int = NUM_BUCKETS):
    """Single text through the fast path: (ids int64 array, values float32 array)."""
    m = hash_texts([text], max_bytes, num_buckets)
    return m.indices.astype("int64"), m.data.astype("float32")


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[1] == "--jsonl":
        for line in sys.stdin:
            if not line.strip():
                continue
            ids, vals = hash_text_reference(json.loads(line)["text"])
            print(json.dumps({"ids": ids, "values": vals}))
        return 0
    if len(argv) == 2:
        ids, vals = hash_text_reference(argv[1])
        print(json.dumps({"ids": ids, "values": vals}))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
