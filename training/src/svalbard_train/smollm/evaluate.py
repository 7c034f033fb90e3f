"""Measure the neural_lm signal on a labelled detection set (fields id, source, label, generator, text).

  python -m svalbard_train.smollm.evaluate sample ../shared/data/detect/dev.jsonl N OUT.jsonl   # stratified sample
  svalbard filter OUT.jsonl -o DIR -c CONFIG.toml -j 2                                         # score it
  python -m svalbard_train.smollm.evaluate auroc DIR                                           # AUROC tables

AUROC is the probability that a random machine document scores as more machine-like than a random human
one (ties count half), with the orientation of each column: perplexity lower = machine, burstiness and
curvature higher = machine. Needs pyarrow (the `arrow` extra). Documents with a NaN score are left out.
"""
import collections
import glob
import json
import random
import sys

from svalbard_train.metrics import auroc_ranks

ORIENT = {"neural_lm_perplexity": -1, "neural_lm_burstiness": 1, "neural_lm_curvature": 1}


def sample(src, n, out):
    rows = [json.loads(l) for l in open(src)]
    for i, r in enumerate(rows):
        r.setdefault("id", f"{src.rsplit('/', 1)[-1]}:{i + 1}")
    rng = random.Random(0)
    rng.shuffle(rows)
    groups = collections.defaultdict(list)
    for r in rows:
        groups[(r["source"], r["label"], r.get("generator"))].append(r)
    picked = []
    for v in groups.values():
        picked += v[: max(1, round(len(v) * n / len(rows)))]
    rng.shuffle(picked)
    with open(out, "w") as f:
        for r in picked:
            f.write(json.dumps(r) + "\n")
    print(f"{len(picked)} documents from {len(groups)} (source, label, generator) groups -> {out}")


def read(dirpath):
    import pyarrow as pa

    rows = []
    for cat in ("clean", "rejected"):
        for p in sorted(glob.glob(f"{dirpath}/{cat}/*.arrow")):
            with pa.memory_map(p) as src:
                try:
                    t = pa.ipc.open_file(src).read_all()
                except pa.ArrowInvalid:
                    t = pa.ipc.open_stream(src).read_all()
            rows += t.select([c for c in ["id", "source", "label", "generator", *ORIENT] if c in t.column_names]).to_pylist()
    return rows


def median(v):
    v = sorted(v)
    return float("nan") if not v else (v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2)


def report(dirpath):
    rows = read(dirpath)
    ok = lambda x: x is not None and x == x  # noqa: E731  (not None, not NaN)
    out = {"documents": len(rows), "machine": sum(r["label"] == "machine" for r in rows),
           "human": sum(r["label"] == "human" for r in rows),
           "nan": {c: sum(not ok(r.get(c)) for r in rows) for c in ORIENT}}

    def table(sel):
        res = {}
        for col, sign in ORIENT.items():
            pos = [sign * r[col] for r in sel if r["label"] == "machine" and ok(r.get(col))]
            neg = [sign * r[col] for r in sel if r["label"] == "human" and ok(r.get(col))]
            res[col] = round(auroc_ranks(pos, neg), 4)
        return res

    out["overall"] = table(rows)
    out["per_source"] = {}
    for s in sorted({r["source"] for r in rows}):
        sel = [r for r in rows if r["source"] == s]
        out["per_source"][s] = {"n": len(sel), **table(sel)}
    # Per generator: that generator's machine documents against the human documents of the same sources.
    out["per_generator"] = {}
    for g in sorted({r["generator"] for r in rows if r["label"] == "machine" and r["generator"]}):
        gm = [r for r in rows if r["label"] == "machine" and r["generator"] == g]
        srcs = {r["source"] for r in gm}
        hm = [r for r in rows if r["label"] == "human" and r["source"] in srcs]
        out["per_generator"][g] = {"n_machine": len(gm), "n_human": len(hm), **table(gm + hm)}
    out["medians"] = {c: {lab: round(median([r[c] for r in rows if r["label"] == lab and ok(r.get(c))]), 3)
                          for lab in ("human", "machine")} for c in ORIENT}
    print(json.dumps(out, indent=1))


def main():
    if sys.argv[1] == "sample":
        sample(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "auroc":
        report(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
