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

With `minilm_short` built (scripts/train_minilm_short.py), it also writes `minilm_short_p_machine_oof`, which
`calibrate --train-column minilm_short_p_machine=minilm_short_p_machine_oof` fits on: the out-of-fold score of
each text that model trained on (its work/oof.json), and its own int8 score (onnxruntime, cut as the engine
cuts) of every other text, which it never saw.

With --short-only it writes that field alone, for a policy whose full stage reads `minilm_short` but not
`minilm` (scripts/build_policy.sh --minilm-short): every row then has an honest score, so the full stage fits
on all of them and `minilm` need not be built.

    .venv-minilm/bin/python scripts/mark_minilm_unseen.py bench-data/policy/train.jsonl bench-data/policy/train-minilm.jsonl
    .venv-minilm/bin/python scripts/mark_minilm_unseen.py --short-only IN OUT
"""
from __future__ import annotations

import collections
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train_minilm as tm  # noqa: E402
import train_minilm_short as ts  # noqa: E402


def short_model_scores(rows):
    """`minilm_short`'s out-of-sample score of each row, or None when that model is not built."""
    oof_path = os.path.join(ts.WORK, "oof.json")
    model = os.path.join(ts.MODEL_DIR, "model.onnx")
    if not (os.path.exists(oof_path) and os.path.exists(model)):
        print("minilm_short is not built (scripts/train_minilm_short.py): no minilm_short_p_machine_oof field")
        return None
    oof = json.load(open(oof_path))
    keys = [ts.text_key(r["text"]) for r in rows]
    rest = [i for i, k in enumerate(keys) if k not in oof]
    own = tm.ort_scores(model, tm.load_tokenizer(), [rows[i]["text"] for i in rest])
    scores = [oof.get(k) for k in keys]
    for i, s in zip(rest, own):
        scores[i] = float(s)
    print(f"minilm_short: {len(rows) - len(rest)} out-of-fold scores, {len(rest)} of texts it never trained on")
    return scores


def minilm_seen_texts():
    """The texts `minilm` trained on, from its build's plan."""
    plan_path = os.path.join(tm.WORK, "plan.json")
    if not os.path.exists(plan_path):
        sys.exit(f"{plan_path} is missing: which documents minilm trained on is unknown (build it with scripts/build_minilm.sh)")
    plan = json.load(open(plan_path))
    pool, _, _ = tm.training_pool()
    return {pool[i]["text"] for i in tm.trained_indices(pool, plan)}


def main():
    args = sys.argv[1:]
    short_only = "--short-only" in args
    args = [a for a in args if a != "--short-only"]
    if len(args) != 2:
        sys.exit(__doc__)
    src, dst = args
    seen = None if short_only else minilm_seen_texts()
    with open(src, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    short = short_model_scores(rows)
    if short_only and short is None:
        sys.exit("--short-only needs minilm_short (scripts/train_minilm_short.py)")
    counts = collections.Counter()
    tmp = dst + ".tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        for i, r in enumerate(rows):
            if seen is not None:
                r["minilm_unseen"] = r["text"] not in seen
                counts[(r.get("group", ""), r["minilm_unseen"])] += 1
            if short is not None:
                r["minilm_short_p_machine_oof"] = short[i]
            out.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, dst)
    if seen is None:
        print(f"{dst}: {len(rows)} documents")
        return
    n_unseen = sum(n for (_, u), n in counts.items() if u)
    print(f"{dst}: {sum(counts.values())} documents, {n_unseen} unseen by minilm; per group (unseen/all): "
          + ", ".join(f"{g} {counts[(g, True)]}/{counts[(g, True)] + counts[(g, False)]}"
                      for g in sorted({g for g, _ in counts})))


if __name__ == "__main__":
    main()
