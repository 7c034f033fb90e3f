"""`fast`'s columns out of fold by generator family, for an honest leave-one-family-out of a policy.

`calibrate --loso-field family` refits a policy's combiner without a family and judges that family's held-out
texts; but the engine's `fast` columns on those texts come from the shipped model, which was trained on the
family's other texts. This writes a copy of an engine output (its clean and rejected Parquet partitions) with two more columns,
`fast_p_machine_logo` and `fast_p_machine_short_logo`: on the machine rows of family F, the scores of `fast`'s
two heads refitted without F's training texts (svalbard_train.fast.train's `family_heads`, saved under OUT and
shared with its own leave-one-family-out); on every other row, the shipped heads' scores (OUT/heads.npz), which
equal the engine's to float32 rounding when OUT is the run that built models/fast (checked wherever the
engine output has `fast_p_machine`: the run stops if they differ by more than 1e-4). Map them with `--holdout-column fast_p_machine=fast_p_machine_logo`.

    .venv/bin/python -m svalbard_train.fast.logo_columns ENGINE_OUTPUT COPY [--out bench-data/authorship]
Needs OUT from svalbard_train.fast.train (features.npz, heads.npz); each family's refit takes a minute or two and
is saved, so a killed run resumes.
"""
from __future__ import annotations

import argparse
import glob
import os
import time

import numpy as np

from svalbard_train import canonical as cn
from svalbard_train import hashing as ff
from svalbard_train import paths
from svalbard_train.data import authorship as ad
from svalbard_train.fast import train as tf


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("engine_output", help="a `svalbard filter --format parquet` output folder")
    ap.add_argument("copy", help="where the copy with the two columns goes (same partition layout)")
    ap.add_argument("--out", default=os.path.join(paths.BENCH_DATA, "authorship"),
                    help="svalbard_train.fast.train's saved steps (default: bench-data/authorship)")
    args = ap.parse_args(argv)
    import pyarrow as pa
    import pyarrow.parquet as pq

    heads_path = os.path.join(args.out, "heads.npz")
    if not os.path.exists(heads_path):
        raise SystemExit(f"{heads_path} is missing: run svalbard_train.fast.train --out {args.out} first")
    shipped = tf.load_heads(heads_path)
    # Quarantined records carry no scores to replace.
    parts = sorted(p for kind in ("clean", "rejected") for p in glob.glob(os.path.join(args.engine_output, kind, "*.parquet")))
    if not parts:
        raise SystemExit(f"no Parquet partitions under {args.engine_output}/clean or /rejected")
    tables = {p: pq.read_table(p) for p in parts}
    families = sorted({f for t in tables.values() for f, label in
                       zip(t.column("family").to_pylist(), t.column("label").to_pylist()) if label == "machine"})
    unknown = set(families) - set(ad.FAMILIES)
    if unknown:
        raise SystemExit(f"families {sorted(unknown)} are not svalbard_train.data.authorship's {ad.FAMILIES}")

    t0 = time.time()
    loaded = []  # the texts and features, loaded only for a refit

    def fit_without(f):
        if not loaded:
            loaded.append(tf.Problem.load(args.out))
        p = loaded[0]
        return p.fit_heads(p.tr & (p.fam != f))

    # By the family a machine row belongs to; None (human rows) the shipped heads. In float32, as the engine scores.
    heads = {f: tf.family_heads(f, args.out, fit_without) for f in families}
    print(f"heads refitted without each of {families}: {time.time() - t0:.0f}s", flush=True)
    heads[None] = shipped
    heads = {k: tuple((coef.astype(np.float32), np.float32(b)) for coef, b in pair) for k, pair in heads.items()}

    for path, t in tables.items():
        X = ff.hash_texts([cn.canonical(x) for x in t.column("text").to_pylist()])
        which = [f if label == "machine" else None
                 for f, label in zip(t.column("family").to_pylist(), t.column("label").to_pylist())]
        main, short = np.zeros(t.num_rows), np.zeros(t.num_rows)
        for key, ((coef, b), (coef_s, b_s)) in heads.items():
            rows = np.array([f == key for f in which], dtype=bool)
            if rows.any():
                main[rows] = tf.predict(coef, b, X[rows])
                short[rows] = tf.predict(coef_s, b_s, X[rows])
        if "fast_p_machine" in t.schema.names:
            engine = np.array(t.column("fast_p_machine").to_pylist(), dtype=float)
            same = np.array([f is None for f in which])
            diff = float(np.nanmax(np.abs(engine[same] - main[same]))) if same.any() else 0.0
            if diff > 1e-4:
                raise SystemExit(f"{path}: OUT/heads.npz scores differ from the engine's fast_p_machine by {diff:.2g}: "
                                 f"OUT is not the run that built the engine's model")
            print(f"{os.path.basename(path)}: shipped heads vs engine, max |diff| {diff:.2g}", flush=True)
        t = t.append_column("fast_p_machine_logo", pa.array(main, pa.float64()))
        t = t.append_column("fast_p_machine_short_logo", pa.array(short, pa.float64()))
        target = os.path.join(args.copy, os.path.relpath(path, args.engine_output))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        pq.write_table(t, target + ".tmp")
        os.replace(target + ".tmp", target)
    print(f"{len(tables)} partitions written under {args.copy}: {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
