"""svalbard-hash-v1 (svalbard_train.hashing) against tests/fixtures/fast_hash_parity.jsonl, known FNV-1a test
vectors, and the vectorised batch implementation (skipped without numpy and scipy)."""
import json
import math
import os
import unittest

from svalbard_train import hashing as ff
from svalbard_train import paths

FIXTURE = os.path.join(paths.FIXTURES, "fast_hash_parity.jsonl")


def fixture_texts():
    with open(FIXTURE, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


class HashingTest(unittest.TestCase):
    def test_fnv_vectors(self):
        # Published FNV-1a 64-bit test vectors.
        self.assertEqual(ff.fnv1a64(b""), 0xCBF29CE484222325)
        self.assertEqual(ff.fnv1a64(b"a"), 0xAF63DC4C8601EC8C)
        self.assertEqual(ff.fnv1a64(b"foobar"), 0x85944171F73967E8)

    def test_tokens_and_features(self):
        self.assertEqual(ff.tokens_reference("Hello, World!"), [b"hello", b",", b"world", b"!"])
        self.assertEqual(ff.tokens_reference("  \t\n "), [])
        # NBSP bytes >= 0x80 are word bytes
        self.assertEqual(ff.tokens_reference("Café\u00a0x"), ["café\u00a0x".encode()])
        self.assertEqual(ff.features_reference("Ab c"), [b"u|ab", b"u|c", b"b|ab c", b"c|ab c"])
        self.assertEqual(ff.features_reference(""), [])
        self.assertEqual(ff.prefix_bytes("a" * 2999 + "é"), b"a" * 2999)
        self.assertEqual(ff.prefix_bytes("a" * 2998 + "é"), ("a" * 2998 + "é").encode())
        self.assertEqual(ff.tokens("Wait... what?!"), ff.tokens_reference("Wait... what?!"))

    def test_fixture(self):
        cases = fixture_texts()
        self.assertGreaterEqual(len(cases), 20)
        for case in cases:
            with self.subTest(case["name"]):
                ids, vals = ff.hash_text_reference(case["text"])
                self.assertEqual(ids, case["ids"])
                self.assertEqual(len(vals), len(case["values"]))
                for a, b in zip(vals, case["values"]):
                    self.assertLessEqual(abs(a - b), 1e-6, (a, b))
                self.assertTrue(ids == sorted(set(ids)) and all(0 <= i < ff.NUM_BUCKETS for i in ids))
                if ids:
                    self.assertLess(abs(math.sqrt(sum(v * v for v in vals)) - 1.0), 1e-5)

    def test_fast_path_matches(self):
        try:
            import numpy  # noqa: F401
            import scipy  # noqa: F401
        except ImportError:
            self.skipTest("numpy/scipy missing: skipping the batch-implementation check")
        texts = [case["text"] for case in fixture_texts()]
        m = ff.hash_texts(texts, batch=7)
        for i, t in enumerate(texts):
            ids, vals = ff.hash_text_reference(t)
            row = m[i]
            self.assertEqual(list(row.indices), ids, i)
            for a, b in zip(row.data, vals):
                self.assertLessEqual(abs(float(a) - b), 1e-6, (i, a, b))


if __name__ == "__main__":
    unittest.main()
