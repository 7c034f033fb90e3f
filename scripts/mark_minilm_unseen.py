#!/usr/bin/env python3
"""Mark the ensemble's training documents that `minilm` never trained on (scripts/build_policy.sh --minilm).

`minilm` trained on a balanced subsample of the training pool, and in `--widen` epochs on a hashed share of
the texts the subsample left out (scripts/train_minilm.py `training_texts`, recorded in
models/minilm/work/plan.json). Its scores of those documents are far more confident than of new text,
and a full stage fitted on them leans on `minilm` where it should not (measured: dev TPR at 1% FPR 0.743
fitted on every row, 0.784 on the unseen ones; README.md, "Ensemble"). Out-of-fold scores would take k
fine-tunes of about two hours each here; the documents the subsample left out are free. This script copies
IN (a train.jsonl of scripts/policy_data.py) to OUT with a boolean field `minilm_unseen`, which
`svalbard calibrate --full-fit-field minilm_unseen` fits the full stage on. A text counts as seen when any
copy of it was trained on.

    .venv-minilm/bin/python scripts/mark_minilm_unseen.py bench-data/policy/train.jsonl bench-data/policy/train-minilm.jsonl
"""
from __future__ import annotations

import collections
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train_minilm as tm  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1:]
    plan_path = os.path.join(tm.WORK, "plan.json")
    if not os.path.exists(plan_path):
        sys.exit(f"{plan_path} is missing: which documents minilm trained on is unknown (build it with scripts/build_minilm.sh)")
    plan = json.load(open(plan_path))
    pool, _, _ = tm.training_pool()
    seen = {pool[i]["text"] for i in tm.trained_indices(pool, plan)}
    counts = collections.Counter()
    tmp = dst + ".tmp"
    with open(src, encoding="utf-8") as f, open(tmp, "w", encoding="utf-8") as out:
        for line in f:
            r = json.loads(line)
            r["minilm_unseen"] = r["text"] not in seen
            counts[(r.get("group", ""), r["minilm_unseen"])] += 1
            out.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, dst)
    n_unseen = sum(n for (_, u), n in counts.items() if u)
    print(f"{dst}: {sum(counts.values())} documents, {n_unseen} unseen by minilm; per group (unseen/all): "
          + ", ".join(f"{g} {counts[(g, True)]}/{counts[(g, True)] + counts[(g, False)]}"
                      for g in sorted({g for g, _ in counts})))


if __name__ == "__main__":
    main()
