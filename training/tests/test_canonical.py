"""svalbard_train.canonical still writes what tests/fixtures/canonical_parity.jsonl (which the engine's unit test
reproduces) says: the training code and the engine see the same canonical view. Standard library only."""
import json
import unittest

from svalbard_train import canonical as cn
from svalbard_train.fixtures import canonical as fixture


class CanonicalParityTest(unittest.TestCase):
    def test_fixture(self):
        bad = []
        with open(fixture.OUT, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
        self.assertTrue(rows, f"{fixture.OUT} is empty")
        for n, r in enumerate(rows, 1):
            got = cn.canonical(r["text"])
            if got != r["canonical"]:
                bad.append(f"case {n}: {r['text']!r}\n  fixture {r['canonical']!r}\n  python  {got!r}")
        self.assertFalse(bad, f"{len(bad)}/{len(rows)} cases differ:\n" + "\n".join(bad[:3]))


if __name__ == "__main__":
    unittest.main()
