#!/usr/bin/env python3
"""Out-of-fold `fast` scores for the ensemble's training set (scripts/build_policy.sh).

The ensemble is fitted on the same documents `fast` was trained on. There `fast`'s own scores are
in-sample: far more confident than on any new text, so a combiner fitted on them trusts `fast` alone
and learns nothing from the other signals (session 2: weight 17.4 for `fast`, the heuristics near 0).
Stacking needs each training document scored by a model that never saw it: this script trains `fast`
K times, each time without one fold, with the same features, C and group weights as
scripts/train_fast.py, and scores the left-out fold. Folds are drawn by `unit` (a detect pair, a web
page, a book), so a human text and the machine text written from the same prompt are never split.

Rewrites OUT_DIR/train.jsonl (as scripts/policy_data.py writes it) with one more field per
head of the model, `fast_p_machine_oof` and `fast_p_machine_short_oof`; `svalbard calibrate --train-column
fast_p_machine=fast_p_machine_oof --train-column fast_p_machine_short=fast_p_machine_short_oof` fits on them.

    .venv-train/bin/python scripts/oof_fast.py bench-data/policy [--folds 5]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fast_data as fd  # noqa: E402
import fast_features as ff  # noqa: E402
import policy_data  # noqa: E402
import train_fast  # noqa: E402


def fold_of(unit: str, folds: int) -> int:
    return int(hashlib.sha1(("fold:" + unit).encode("utf-8")).hexdigest(), 16) % folds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()
    t0 = time.time()
    train, _ = fd.load_all()
    X = ff.hash_texts([r["text"] for r in train])
    y = np.array([r["y"] for r in train])
    groups = np.array([r["group"] for r in train])
    fold = np.array([fold_of(r["unit"], args.folds) for r in train])
    print(f"{len(train)} texts, features in {time.time() - t0:.0f}s", flush=True)
    short = train_fast.short_mask([r["text"] for r in train])
    # one column per head of the fast model, each fitted as scripts/train_fast.py fits it
    heads = {"fast_p_machine_oof": lambda m: train_fast.fit(X[m], y[m], groups[m]),
             "fast_p_machine_short_oof": lambda m: train_fast.fit_short(X[m], y[m], groups[m], short[m])}
    oof = {name: np.full(len(train), np.nan) for name in heads}
    for k in range(args.folds):
        held = fold == k
        for name, fit in heads.items():
            coef, intercept = fit(~held)
            # float32 like the ONNX model the engine runs
            oof[name][held] = train_fast.predict(coef.astype(np.float32), np.float32(intercept), X[held])
        print(f"fold {k}: {held.sum()} scored, {time.time() - t0:.0f}s", flush=True)
    assert not any(np.isnan(v).any() for v in oof.values())
    policy_data.write(os.path.join(args.out_dir, "train.jsonl"), train,
                      [{name: float(v[i]) for name, v in oof.items()} for i in range(len(train))])


if __name__ == "__main__":
    main()
