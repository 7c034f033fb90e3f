#!/usr/bin/env python3
"""Checks svalbard-hash-v1 (scripts/fast_features.py) against tests/fixtures/fast_hash_parity.jsonl,
known FNV-1a test vectors, and the vectorised batch implementation.
Run: python3 scripts/test_fast_features.py   (plain python; the numpy check is skipped without numpy)"""
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fast_features as ff  # noqa: E402

FIXTURE = os.path.join(HERE, "..", "tests", "fixtures", "fast_hash_parity.jsonl")


def test_fnv_vectors():
    # Published FNV-1a 64-bit test vectors.
    assert ff.fnv1a64(b"") == 0xCBF29CE484222325
    assert ff.fnv1a64(b"a") == 0xAF63DC4C8601EC8C
    assert ff.fnv1a64(b"foobar") == 0x85944171F73967E8


def test_tokens_and_features():
    assert ff.tokens_reference("Hello, World!") == [b"hello", b",", b"world", b"!"]
    assert ff.tokens_reference("  \t\n ") == []
    assert ff.tokens_reference("Café\u00a0x") == ["café\u00a0x".encode()]  # NBSP bytes >= 0x80 are word bytes
    assert ff.features_reference("Ab c") == [b"u|ab", b"u|c", b"b|ab c", b"c|ab c"]
    assert ff.features_reference("") == []
    assert ff.prefix_bytes("a" * 2999 + "é") == b"a" * 2999
    assert ff.prefix_bytes("a" * 2998 + "é") == ("a" * 2998 + "é").encode()
    assert ff.tokens("Wait... what?!") == ff.tokens_reference("Wait... what?!")


def test_fixture():
    n = 0
    with open(FIXTURE, encoding="utf-8") as f:
        for line in f:
            case = json.loads(line)
            ids, vals = ff.hash_text_reference(case["text"])
            assert ids == case["ids"], case["name"]
            assert len(vals) == len(case["values"]), case["name"]
            for a, b in zip(vals, case["values"]):
                assert abs(a - b) <= 1e-6, (case["name"], a, b)
            assert ids == sorted(set(ids)) and all(0 <= i < ff.NUM_BUCKETS for i in ids)
            if ids:
                assert abs(math.sqrt(sum(v * v for v in vals)) - 1.0) < 1e-5
            n += 1
    assert n >= 20, n
    return n


def test_fast_path_matches():
    try:
        import numpy  # noqa: F401
        import scipy  # noqa: F401
    except ImportError:
        print("numpy/scipy missing: skipping the batch-implementation check")
        return
    texts = [json.loads(l)["text"] for l in open(FIXTURE, encoding="utf-8")]
    m = ff.hash_texts(texts, batch=7)
    for i, t in enumerate(texts):
        ids, vals = ff.hash_text_reference(t)
        row = m[i]
        assert list(row.indices) == ids, i
        for a, b in zip(row.data, vals):
            assert abs(float(a) - b) <= 1e-6, (i, a, b)


if __name__ == "__main__":
    test_fnv_vectors()
    test_tokens_and_features()
    n = test_fixture()
    test_fast_path_matches()
    print(f"ok: {n} parity cases")
