"""Samples for fitting and judging a cascade whose full stage reads the neural LM, and the held-out report
(scripts/build_cascade_policy.sh runs both).

  python -m svalbard_train.smollm.cascade sample [--authorship bench-data/authorship] [--out bench-data/cascade]
  python -m svalbard_train.smollm.cascade report NAME=DIR... [--out REPORT.json]
  python -m svalbard_train.smollm.cascade more --human-cap N [--authorship ...] [--out bench-data/cascade]
  python -m svalbard_train.smollm.cascade columns --train DIR --test DIR [--out COLUMNS.json]

The neural LM costs about a CPU-second per document, so the full stage is fitted and judged on samples of
the authorship splits (svalbard_train.fast.train writes them; whole sources are the unit of every split):
each (source, label, generator family) stratum contributes at most a fixed number of documents, drawn with a
fixed seed, so that small sources and families weigh as much as large ones and every held-out human source
has enough documents for a false-positive rate with a useful upper bound. Rows keep every field of the split
(the training rows their out-of-fold `fast` scores). Each split is written in parts of PART_DOCS documents, so
that a killed `svalbard filter` run over them redoes one part, not the split.

`more` widens the training sample's human strata to `--human-cap` documents each, for a threshold that each
training source holds with a budget of more than zero documents: the stratified draw is the same (seed and
order), so the larger sample contains the smaller one, and only the documents `train/` lacks are written, to
`train-more/`, for the LM to score once.

`columns` judges each neural LM column alone, zero-shot, as the policy's threshold rule would use it: oriented so
that higher means machine, its threshold the lowest at which no training human source (the `--train` output)
has more than 1% flagged; then, on the held-out `--test` output, AUROC, the share flagged of every held-out human
source with its 95% upper bound, the share caught of every held-out machine source, native against non-native
essays, and each held-out human source's AUROC against the held-out machine text.

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

from svalbard_train.metrics import auroc, auroc_ranks, clopper_pearson_upper, tpr_at_fpr

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
        write_parts(picked, folder)
        labels = collections.Counter(r["label"] for r in picked)
        print(f"{split}: {len(picked)} of {len(rows)} documents ({labels['human']} human, {labels['machine']} machine) "
              f"from {len(taken)} strata -> {folder}/")


def write_parts(rows, folder):
    os.makedirs(folder, exist_ok=True)
    for k in range(0, len(rows), PART_DOCS):
        path = os.path.join(folder, f"part-{k // PART_DOCS:03d}.jsonl")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            for r in rows[k:k + PART_DOCS]:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        os.replace(path + ".tmp", path)


def more(authorship, out, human_cap, cap=CAPS["train"]):
    """The human training documents of a `human_cap` stratified draw that the `cap` draw (train/) lacks."""
    with open(os.path.join(authorship, "train.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    have = {id(r) for r in stratified(rows, cap)[0]}
    wider = stratified(rows, human_cap)[0]
    extra = [r for r in wider if r["label"] == "human" and id(r) not in have]
    write_parts(extra, os.path.join(out, "train-more"))
    per_source = collections.Counter(r["source"] for r in extra)
    print(f"train-more: {len(extra)} human documents beyond train/ ({dict(sorted(per_source.items()))})")


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


def rate_row(rows, hit=flagged):
    """How many of `rows` are flagged (by `hit`), the share and its 95% Clopper-Pearson upper bound."""
    k, n = sum(hit(r) for r in rows), len(rows)
    return {"n": n, "flagged": k, "rate": round(k / n, 4), "upper95": round(clopper_pearson_upper(k, n), 4)}


def essay_rates(rows, hit=flagged):
    """`rate_row` of the human essays by native and by non-native writers (those the rows hold)."""
    out = {}
    for w in ("native", "non-native"):
        sel = [r for r in rows if r["label"] == "human" and r.get("writer") == w]
        if sel:
            out[f"essays_{w}"] = rate_row(sel, hit)
    return out


def emit(result, out_path=None):
    """Print a report as JSON, and write it to `out_path` too when given."""
    text = json.dumps(result, indent=1, sort_keys=True)
    if out_path:
        with open(out_path, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    print(text)


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
    out.update(essay_rates(rows))
    return out


# Higher means machine for every column after multiplying by its sign.
LM_COLUMNS = {"neural_lm_perplexity": -1, "neural_lm_curvature": 1, "neural_lm_burstiness": 1}


def per_source_threshold(rows, column, sign, target=0.01):
    """The lowest threshold (on sign * column) that flags at most `target` of every human source in `rows`."""
    import math

    by = collections.defaultdict(list)
    for r in rows:
        if r["label"] == "human" and r.get(column) is not None and not math.isnan(r[column]):
            by[r["source"]].append(sign * r[column])
    t = -math.inf
    for scores in by.values():
        scores.sort(reverse=True)
        k = int(math.floor(target * len(scores)))  # documents this source may have flagged
        t = max(t, scores[k])  # flagging needs strictly more than the (k+1)-th highest
    return t


def judge_columns(train_rows, test_rows, columns=LM_COLUMNS):
    import math

    out = {}
    for column, sign in columns.items():
        if not any(column in r for r in test_rows):
            continue
        ok = [r for r in test_rows if r.get(column) is not None and not math.isnan(r[column])]
        t = per_source_threshold(train_rows, column, sign)

        def score(r):
            return sign * r[column]

        def hit(r):
            return score(r) > t

        y = [1 if r["label"] == "machine" else 0 for r in ok]
        col = {"threshold": t * sign, "direction": "higher = machine" if sign > 0 else "lower = machine",
               "unscored": len(test_rows) - len(ok), "auroc": round(auroc(y, [score(r) for r in ok]), 4),
               "tpr_at_1pct_fpr": round(tpr_at_fpr(y, [score(r) for r in ok], 0.01), 4)}
        by = collections.defaultdict(list)
        for r in ok:
            by[(r["label"], r["source"])].append(r)
        machine = [score(r) for r in ok if r["label"] == "machine"]
        col["human_sources"] = {
            s: {**rate_row(v, hit), "auroc_vs_heldout_machine": round(auroc_ranks(machine, [score(r) for r in v]), 4)}
            for (lab, s), v in sorted(by.items()) if lab == "human"}
        col["machine_sources"] = {s: rate_row(v, hit) for (lab, s), v in sorted(by.items()) if lab == "machine"}
        col["max_human_source_rate"] = max(v["rate"] for v in col["human_sources"].values())
        col.update(essay_rates(ok, hit))
        out[column] = col
    return out


def columns_report(train_dir, test_dir, out_path=None):
    emit(judge_columns(read_scored(train_dir), read_scored(test_dir)), out_path)


def report(named_dirs, out_path=None):
    res = {}
    for spec in named_dirs:
        name, _, folder = spec.partition("=")
        res[name] = summarise(read_scored(folder))
    emit(res, out_path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample", help="stratified samples of the authorship splits")
    s.add_argument("--authorship", default="bench-data/authorship")
    s.add_argument("--out", default="bench-data/cascade")
    r = sub.add_parser("report", help="held-out figures of `svalbard filter` outputs")
    r.add_argument("dirs", nargs="+", metavar="NAME=DIR")
    r.add_argument("--out")
    m = sub.add_parser("more", help="more human training documents per source, beyond train/")
    m.add_argument("--authorship", default="bench-data/authorship")
    m.add_argument("--out", default="bench-data/cascade")
    m.add_argument("--human-cap", type=int, required=True)
    c = sub.add_parser("columns", help="each neural LM column alone, zero-shot, on held-out sources")
    c.add_argument("--train", required=True, help="`svalbard filter` output of the training sample (thresholds)")
    c.add_argument("--test", required=True, help="`svalbard filter` output of the held-out sample")
    c.add_argument("--out")
    args = ap.parse_args(argv)
    if args.cmd == "sample":
        sample(args.authorship, args.out)
    elif args.cmd == "more":
        more(args.authorship, args.out, args.human_cap)
    elif args.cmd == "columns":
        columns_report(args.train, args.test, args.out)
    else:
        report(args.dirs, args.out)


if __name__ == "__main__":
    main()
