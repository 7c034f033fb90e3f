"""Samples for fitting and judging a cascade whose full stage reads the neural LM, and the held-out report
(scripts/build_cascade_policy.sh runs both).

  python -m svalbard_train.smollm.cascade sample [--authorship bench-data/authorship] [--out bench-data/cascade]
  python -m svalbard_train.smollm.cascade report NAME=DIR... [--out REPORT.json]

The neural LM costs about a CPU-second per document, so the full stage is fitted and judged on samples of
the authorship splits (svalbard_train.fast.train writes them; whole sources are the unit of every split):
each (source, label, generator family) stratum contributes at most a fixed number of documents, drawn with a
fixed seed, so that small sources and families weigh as much as large ones and every held-out human source
has enough documents for a false-positive rate with a useful upper bound. Rows keep every field of the split
(the training rows their out-of-fold `fast` scores). Each split is written in parts of PART_DOCS documents, so
that a killed `svalbard filter` run over them redoes one part, not the split.

`report` reads `svalbard filter` outputs (Parquet, every document scored: `[signals] score_all = true`) of the
same documents under several configurations and gives, per configuration, AUROC and TPR at 1% FPR of
`p_machine`, and per held-out source the share flagged (`ensemble.machine` among the reasons) with its 95%
Clopper-Pearson upper bound, the machine share caught, and native against non-native essays.
"""
import argparse
import collections
import glob
import json
import os
import random

from svalbard_train.metrics import auroc, clopper_pearson_upper, tpr_at_fpr

# Documents per (source, label, family) stratum, per split. Test strata are larger: the per-source
# false-positive bound is what the held-out figures are judged by.
CAPS = {"train": 70, "dev": 35, "test": 200}
PART_DOCS = 250


def stratified(rows, cap, seed=0):
    """At most `cap` rows of every (source, label, family) stratum, in a seeded random order."""
    rng = random.Random(seed)
    order = list(range(len(rows)))
    rng.shuffle(order)
    taken = collections.Counter()
    picked = []
    for i in order:
        r = rows[i]
        key = (r["source"], r["label"], r.get("family"))
        if taken[key] < cap:
            taken[key] += 1
            picked.append(r)
    return picked, taken


def sample(authorship, out, caps=CAPS):
    os.makedirs(out, exist_ok=True)
    for split, cap in caps.items():
        with open(os.path.join(authorship, f"{split}.jsonl"), encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
        picked, taken = stratified(rows, cap)
        folder = os.path.join(out, split)
        os.makedirs(folder, exist_ok=True)
        for k in range(0, len(picked), PART_DOCS):
            path = os.path.join(folder, f"part-{k // PART_DOCS:03d}.jsonl")
            with open(path + ".tmp", "w", encoding="utf-8") as f:
                for r in picked[k:k + PART_DOCS]:
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
            os.replace(path + ".tmp", path)
        labels = collections.Counter(r["label"] for r in picked)
        print(f"{split}: {len(picked)} of {len(rows)} documents ({labels['human']} human, {labels['machine']} machine) "
              f"from {len(taken)} strata -> {folder}/")


def read_scored(folder):
    """The rows of a `svalbard filter` output (clean and rejected Parquet parts), without the text."""
    import pyarrow.parquet as pq

    rows = []
    for path in sorted(glob.glob(os.path.join(folder, "clean", "*.parquet")) +
                       glob.glob(os.path.join(folder, "rejected", "*.parquet"))):
        t = pq.read_table(path)
        rows += t.drop_columns([c for c in ("text",) if c in t.column_names]).to_pylist()
    if not rows:
        raise SystemExit(f"{folder}: no Parquet parts under clean/ or rejected/")
    return rows


def flagged(r):
    """Whether the ensemble called the document machine-written (`reasons` is text: codes joined by ", ")."""
    reasons = r.get("reasons") or ""
    return "ensemble.machine" in (reasons if isinstance(reasons, str) else " ".join(reasons))


def rate_row(rows):
    k, n = sum(flagged(r) for r in rows), len(rows)
    return {"n": n, "flagged": k, "rate": round(k / n, 4), "upper95": round(clopper_pearson_upper(k, n), 4)}


def summarise(rows):
    """AUROC and TPR at 1% FPR of p_machine; per source the flagged share; native and non-native essays."""
    scored = [r for r in rows if r.get("p_machine") is not None]
    y = [1 if r["label"] == "machine" else 0 for r in scored]
    p = [r["p_machine"] for r in scored]
    out = {"documents": len(rows), "unscored": len(rows) - len(scored),
           "auroc": round(auroc(y, p), 4), "tpr_at_1pct_fpr": round(tpr_at_fpr(y, p, 0.01), 4),
           "stage2_share": round(sum(r.get("ensemble_stage") == 2 for r in rows) / len(rows), 4)}
    by = collections.defaultdict(list)
    for r in rows:
        by[(r["label"], r["source"])].append(r)
    out["human_sources"] = {s: rate_row(v) for (lab, s), v in sorted(by.items()) if lab == "human"}
    out["machine_sources"] = {s: rate_row(v) for (lab, s), v in sorted(by.items()) if lab == "machine"}
    out["max_human_source_rate"] = max((v["rate"] for v in out["human_sources"].values()), default=None)
    for w in ("native", "non-native"):
        sel = [r for r in rows if r["label"] == "human" and r.get("writer") == w]
        if sel:
            out[f"essays_{w}"] = rate_row(sel)
    return out


def report(named_dirs, out_path=None):
    res = {}
    for spec in named_dirs:
        name, _, folder = spec.partition("=")
        res[name] = summarise(read_scored(folder))
    text = json.dumps(res, indent=1, sort_keys=True)
    if out_path:
        with open(out_path, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    print(text)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample", help="stratified samples of the authorship splits")
    s.add_argument("--authorship", default="bench-data/authorship")
    s.add_argument("--out", default="bench-data/cascade")
    r = sub.add_parser("report", help="held-out figures of `svalbard filter` outputs")
    r.add_argument("dirs", nargs="+", metavar="NAME=DIR")
    r.add_argument("--out")
    args = ap.parse_args(argv)
    if args.cmd == "sample":
        sample(args.authorship, args.out)
    else:
        report(args.dirs, args.out)


if __name__ == "__main__":
    main()
