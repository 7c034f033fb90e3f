"""Is detector B better than detector A on the same labeled documents, or is it noise?

Reads two `svalbard filter` outputs of the same labeled input (A and B: say two policies or two model
versions) and a score column, pairs the documents by id, and resamples them with replacement (the same
resample for both) to give the difference B - A in AUROC and in TPR at 1% and 5% FPR with a 95%
interval. TPR at 1% FPR rests on the few human documents above the threshold (20 of dev's 1,998), so a
difference of a point or two is usually inside the noise; this says how far inside.

    .venv/bin/python -m svalbard_train.policy.paired_bootstrap OUT_A OUT_B [--column p_machine] [--reps 1000]

OUT_A and OUT_B are `filter --format parquet` output directories (clean/, rejected/, quarantine/ parts);
the input must carry `label` (human/machine). Needs numpy, pandas, pyarrow and scikit-learn.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from svalbard_train.metrics import auroc, tpr_at_fpr  # the metrics every model card uses


def load(out_dir: str, column: str):
    parts = sorted(glob.glob(os.path.join(out_dir, "*", "*.parquet")))
    if not parts:
        sys.exit(f"{out_dir}: no parquet parts (run `svalbard filter --format parquet`)")
    table = pa.concat_tables([pq.read_table(p, columns=["id", "label", column]) for p in parts]).to_pandas()
    return table.set_index("id").sort_index()


def metrics(y, p):
    return np.array([auroc(y, p), tpr_at_fpr(y, p, 0.01), tpr_at_fpr(y, p, 0.05)])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--column", default="p_machine")
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    a, b = load(args.a, args.column), load(args.b, args.column)
    if not a.index.equals(b.index) or not (a.label == b.label).all():
        sys.exit("the two outputs do not hold the same labeled documents")
    if a[args.column].isna().any() or b[args.column].isna().any():
        sys.exit(f"{args.column} is missing for some documents (a cascade column? compare p_machine)")
    y = (a.label == "machine").to_numpy()
    pa_, pb = a[args.column].to_numpy(), b[args.column].to_numpy()
    rng = np.random.default_rng(args.seed)
    diffs, base = [], []
    for _ in range(args.reps):
        i = rng.integers(0, len(y), len(y))
        ma = metrics(y[i], pa_[i])
        diffs.append(metrics(y[i], pb[i]) - ma)
        base.append(ma)
    diffs, base = np.array(diffs), np.array(base)
    ma, mb = metrics(y, pa_), metrics(y, pb)
    print(f"{len(y)} documents ({y.sum()} machine), column {args.column}, {args.reps} paired resamples")
    print("| metric | A | B | B - A | 95% interval | std of A |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for k, name in enumerate(["AUROC", "TPR @1% FPR", "TPR @5% FPR"]):
        lo, hi = np.percentile(diffs[:, k], [2.5, 97.5])
        print(f"| {name} | {ma[k]:.4f} | {mb[k]:.4f} | {mb[k] - ma[k]:+.4f} | [{lo:+.4f}, {hi:+.4f}] | {base[:, k].std():.4f} |")


if __name__ == "__main__":
    main()
