"""Evaluation of the `fast` detector (models/fast/model.onnx through onnxruntime).

    nice -n 10 .venv/bin/python -m svalbard_train.fast.evaluate          # tables for the exported model
    nice -n 10 .venv/bin/python -m svalbard_train.fast.evaluate --loso   # + leave-one-source-out retrains

Metrics: AUROC; TPR at 1% / 5% FPR (threshold taken from the human texts of the same table row:
the (floor(f*n)+1)-th highest human score, machine counted when strictly above it); at the
default threshold (machine when p_machine >= threshold): FPR on human texts and TPR on machine
texts. The minilm evaluations (svalbard_train.minilm) reuse these tables on the same splits.
"""
from __future__ import annotations

import json
import math
import os
import time

import numpy as np

from svalbard_train import paths
from svalbard_train.data import corpora as fd
from svalbard_train.metrics import auroc, tpr_at_fpr

MODEL_DIR = paths.model_dir("fast")

TRAIN_CMD = "nice -n 10 .venv/bin/python -m svalbard_train.fast.train"


def row(name, y, s, threshold=None):
    y = np.asarray(y)
    s = np.asarray(s)
    r = {"name": name, "n_human": int((y == 0).sum()), "n_machine": int((y == 1).sum()),
         "auroc": auroc(y, s), "tpr_at_1fpr": tpr_at_fpr(y, s, 0.01),
         "tpr_at_5fpr": tpr_at_fpr(y, s, 0.05)}
    if threshold is not None:
        r["fpr_at_threshold"] = float((s[y == 0] >= threshold).mean()) if (y == 0).any() else float("nan")
        r["tpr_at_threshold"] = float((s[y == 1] >= threshold).mean()) if (y == 1).any() else float("nan")
    return r


def evaluate(evals, scores, threshold):
    res = {"threshold": threshold}
    dev, sd = evals["dev"], scores["dev"]
    yd = np.array([r["y"] for r in dev])
    src = np.array([r["source"] for r in dev])
    gen = np.array([r["generator"] or "" for r in dev])
    rows = [row("dev (all)", yd, sd, threshold)]
    for s_ in sorted(set(src)):
        m = src == s_
        rows.append(row(s_, yd[m], sd[m], threshold))
    res["dev_by_source"] = rows
    rows = []
    for s_ in sorted(set(src)):
        for g in sorted(set(gen[(src == s_) & (yd == 1)])):
            m = (src == s_) & ((yd == 0) | (gen == g))
            rows.append(row(f"{s_} / {g}", yd[m], sd[m], threshold))
    res["dev_by_generator"] = rows

    web, sw = evals["web_heldout"], scores["web_heldout"]
    yw = np.array([r["y"] for r in web])
    fam = np.array([r["generator"] or "" for r in web])
    raw = np.array([r.get("generator_raw") or "" for r in web])
    rows = [row("web held-out (all)", yw, sw, threshold)]
    for g in sorted(set(fam[yw == 1])):
        m = (yw == 0) | (fam == g)
        rows.append(row(g, yw[m], sw[m], threshold))
    for g in sorted(set(raw[yw == 1])):
        m = (yw == 0) | (raw == g)
        rows.append(row(g, yw[m], sw[m], threshold))
    res["web_by_generator"] = rows

    # human false positive rates at the default threshold
    hum = []
    wsrc = np.array([r.get("web_source", "") for r in web])
    hum.append(("web held-out human (all)", sw[yw == 0]))
    for s_ in sorted(set(wsrc[yw == 0])):
        m = (yw == 0) & (wsrc == s_)
        if m.sum() >= 20:
            hum.append((f"web: {s_}", sw[m]))
    books, sb = evals["books_heldout"], scores["books_heldout"]
    bsrc = np.array([r["source"] for r in books])
    hum.append(("books held-out (gutenberg + nltk chunks)", sb))
    for s_ in sorted(set(bsrc)):
        hum.append((s_, sb[bsrc == s_]))
    hum.append(("dev human (all)", sd[yd == 0]))
    res["human_fpr"] = [{"name": n, "n": int(len(s)), "fpr_at_threshold": float((s >= threshold).mean())}
                        for n, s in hum]

    d = res["dev_by_source"][0]
    w = res["web_by_generator"][0]
    res["headline"] = {
        "dev_auroc": d["auroc"], "dev_tpr_at_1fpr": d["tpr_at_1fpr"], "dev_tpr_at_5fpr": d["tpr_at_5fpr"],
        "dev_fpr_at_threshold": d["fpr_at_threshold"], "dev_tpr_at_threshold": d["tpr_at_threshold"],
        "web_auroc": w["auroc"], "web_tpr_at_1fpr": w["tpr_at_1fpr"], "web_tpr_at_5fpr": w["tpr_at_5fpr"],
        "web_human_fpr_at_threshold": w["fpr_at_threshold"],
        "web_machine_tpr_at_threshold": w["tpr_at_threshold"],
        "book_human_fpr_at_threshold": res["human_fpr"][[h["name"] for h in res["human_fpr"]].index(
            "books held-out (gutenberg + nltk chunks)")]["fpr_at_threshold"],
    }
    return res


def short_head(evals, scores, max_words):
    """The short-text head's dev figures, on all dev texts and on those under `max_words` words
    (it has no threshold of its own: only the ensemble reads it)."""
    dev, sd = evals["dev"], np.asarray(scores["dev"])
    yd = np.array([r["y"] for r in dev])
    short = np.array([fd.is_short(r["text"], max_words) for r in dev])
    src = np.array([r["source"] for r in dev])
    rows = [row("dev (all)", yd, sd), row(f"dev, under {max_words} words", yd[short], sd[short])]
    rows += [row(s_, yd[src == s_], sd[src == s_]) for s_ in sorted(set(src))]
    return {"max_words": max_words, "rows": rows}


LOSO_SOURCES = ["fast-detect-gpt", "hc3-plus-si-en", "seqxgpt-doc", "web-gpt2", "web-gpt3"]


def leave_one_source_out(train, X, evals, EX, fit, predict, sources=LOSO_SOURCES):
    """Retrain without one source and test on it. Detect sources: drop that source's human and
    machine training texts, test on its dev texts. Web generators: drop that generator's machine
    web texts, test on held-out web human vs held-out web texts of that generator."""
    out = []
    src = np.array([r["source"] for r in train])
    gen = np.array([r["generator"] or "" for r in train])
    y = np.array([r["y"] for r in train])
    groups = np.array([r["group"] for r in train])
    for s_ in sources:
        t0 = time.time()
        if s_.startswith("web-"):
            keep = ~((src == "web_text") & (gen == s_))
            web = evals["web_heldout"]
            m = np.array([r["y"] == 0 or r["generator"] == s_ for r in web])
            Xt = EX["web_heldout"][np.flatnonzero(m)]
            yt = np.array([r["y"] for r in web])[m]
        else:
            keep = src != s_
            dev = evals["dev"]
            m = np.array([r["source"] == s_ for r in dev])
            Xt = EX["dev"][np.flatnonzero(m)]
            yt = np.array([r["y"] for r in dev])[m]
        coef, b = fit(X[np.flatnonzero(keep)], y[keep], groups[keep])
        s = predict(coef, b, Xt)
        r = row(s_, yt, s)
        r["n_train"] = int(keep.sum())
        out.append(r)
        print(f"loso {s_}: auroc {r['auroc']:.4f} ({time.time() - t0:.0f}s)", flush=True)
    return out


def _f(x, nd=4):
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{nd}f}"


def _table(rows, threshold_cols=True):
    head = "| set | human | machine | AUROC | TPR@1%FPR | TPR@5%FPR |"
    sep = "| --- | ---: | ---: | ---: | ---: | ---: |"
    if threshold_cols:
        head += " FPR@thr | TPR@thr |"
        sep += " ---: | ---: |"
    lines = [head, sep]
    for r in rows:
        line = (f"| {r['name']} | {r['n_human']} | {r['n_machine']} | {_f(r['auroc'])} | "
                f"{_f(r['tpr_at_1fpr'])} | {_f(r['tpr_at_5fpr'])} |")
        if threshold_cols:
            line += f" {_f(r.get('fpr_at_threshold'))} | {_f(r.get('tpr_at_threshold'))} |"
        lines.append(line)
    return "\n".join(lines)


def summary(res):
    h = res["headline"]
    return "\n".join(f"{k} = {_f(v)}" for k, v in h.items())


def main():
    import argparse
    import tomllib

    import onnxruntime as ort

    from svalbard_train import hashing as ff
    from svalbard_train.fast import train as tf

    ap = argparse.ArgumentParser()
    ap.add_argument("--loso", action="store_true")
    args = ap.parse_args()
    with open(os.path.join(MODEL_DIR, "model.toml"), "rb") as f:
        threshold = tomllib.load(f)["decision"]["threshold"]
    train, evals = fd.load_all()
    EX = {k: ff.hash_texts([r["text"] for r in v]) for k, v in evals.items()}
    sess = ort.InferenceSession(os.path.join(MODEL_DIR, "model.onnx"), providers=["CPUExecutionProvider"])
    scores = {k: tf.onnx_scores(sess, M) for k, M in EX.items()}
    res = evaluate(evals, scores, threshold)
    res["short_head"] = short_head(
        evals, {k: tf.onnx_scores(sess, M, output="p_machine_short") for k, M in EX.items()}, tf.SHORT_MAX_WORDS)
    if args.loso:
        X = ff.hash_texts([r["text"] for r in train])
        res["loso"] = leave_one_source_out(train, X, evals, EX, tf.fit, tf.predict)
    print(json.dumps(res, indent=1))
    print(summary(res))


if __name__ == "__main__":
    main()
