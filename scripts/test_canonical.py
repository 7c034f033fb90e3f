#!/usr/bin/env python3
"""scripts/canonical.py still writes what tests/fixtures/canonical_parity.jsonl (which the engine's unit test
reproduces) says: the training scripts and the engine see the same canonical view. Standard library only.

    python3 scripts/test_canonical.py
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import canonical as cn  # noqa: E402
import make_canonical_fixture as fixture  # noqa: E402


def main():
    bad = 0
    n = 0
    with open(fixture.OUT, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            r = json.loads(line)
            got = cn.canonical(r["text"])
            if got != r["canonical"]:
                bad += 1
                if bad <= 3:
                    print(f"case {n}: {r['text']!r}\n  fixture {r['canonical']!r}\n  python  {got!r}")
    print(f"canonical parity: {n - bad}/{n} cases match")
    return 1 if bad or n == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
