#!/usr/bin/env python3
"""Evaluation of the `fast` detector (models/fast/model.onnx through onnxruntime).

    nice -n 10 .venv-train/bin/python scripts/eval_fast.py          # tables for the exported model
    nice -n 10 .venv-train/bin/python scripts/eval_fast.py --loso   # + leave-one-source-out retrains

Metrics: AUROC; TPR at 1% / 5% FPR (threshold taken from the human texts of the same table row:
the (floor(f*n)+1)-th highest human score, machine counted when strictly above it); at the
default threshold (machine when p_machine >= threshold): FPR on human texts and TPR on machine
texts. train_fast.py calls this module and writes models/fast/README.md and model.toml.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
MODEL_DIR = os.path.join(HERE, "..", "models", "fast")

TRAIN_CMD = "nice -n 10 .venv-train/bin/python scripts/train_fast.py"


def auroc(y, s):
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    if len(set(y.tolist())) < 2:
        return float("nan")
    return float(roc_auc_score(y, s))


def tpr_at_fpr(y, s, f):
    y = np.asarray(y)
    s = np.asarray(s, dtype=np.float64)
    h = np.sort(s[y == 0])[::-1]
    k = int(math.floor(f * len(h)))
    t = h[k] if k < len(h) else -np.inf
    return float((s[y == 1] > t).mean())


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
    import fast_data as fd

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


def write_model_toml(path, threshold, res):
    import fast_data as fd

    h = res["headline"]
    loso = {r["name"]: r["auroc"] for r in res.get("loso", [])}
    text = f'''name = "fast"
version = "1"
description = "Fast default detector: logistic regression (sklearn liblinear, C=32, group-balanced weights) over hashed word 1-2-grams and byte 4-grams (svalbard-hash-v1) of the first 3000 bytes. Trained on detect/train, 80% of web_text and human book/NLTK chunks; weak on modern chat-model text (see README.md)."
license = "MIT"

[input]
kind = "hashed_ngrams"
features = "svalbard-hash-v1"
buckets = 524288
max_bytes = 3000

[onnx]
file = "model.onnx"
inputs = ["ids", "weights"]
output = "p_machine"
output_kind = "probability"
extra_outputs = ["p_machine_short"]   # the short-text head, a column for the ensemble (README.md)

[decision]
threshold = {threshold}        # lowest threshold with <= 1% FPR on held-out human web pages; machine if p_machine >= threshold

[training]
data = [
  "detect/train.jsonl (all {res['train_counts'].get('detect-human', 0) + res['train_counts'].get('detect-machine', 0)} texts)",
  "web_text/human_web.jsonl.gz + machine_web.jsonl.gz, the {100 - fd.HOLDOUT_PCT}% with sha1('web:'+id) % 100 >= {fd.HOLDOUT_PCT} ({res['train_counts'].get('web-human', 0)} human, {res['train_counts'].get('web-machine', 0)} machine)",
  "human_gutenberg.jsonl.gz books with sha1('gutenberg:'+id) % 100 >= {fd.HOLDOUT_PCT} and human_nltk.jsonl.gz docs with sha1('nltk:'+id) % 100 >= {fd.HOLDOUT_PCT}, cut into ~{fd.CHUNK_CHARS}-char chunks ({res['train_counts'].get('books-human', 0)} chunks)",
]
command = "{TRAIN_CMD}"

[metrics]
dev_auroc = {_f(h['dev_auroc'])}
dev_tpr_at_1fpr = {_f(h['dev_tpr_at_1fpr'])}
dev_tpr_at_5fpr = {_f(h['dev_tpr_at_5fpr'])}
dev_fpr_at_threshold = {_f(h['dev_fpr_at_threshold'])}
dev_tpr_at_threshold = {_f(h['dev_tpr_at_threshold'])}
web_auroc = {_f(h['web_auroc'])}
web_tpr_at_1fpr = {_f(h['web_tpr_at_1fpr'])}
web_tpr_at_5fpr = {_f(h['web_tpr_at_5fpr'])}
web_human_fpr_at_threshold = {_f(h['web_human_fpr_at_threshold'])}
web_machine_tpr_at_threshold = {_f(h['web_machine_tpr_at_threshold'])}
book_human_fpr_at_threshold = {_f(h['book_human_fpr_at_threshold'])}
'''
    for k, v in loso.items():
        text += f"loso_auroc_{k.replace('-', '_')} = {_f(v)}\n"
    for r in res["short_head"]["rows"][:2]:
        key = "dev" if r["name"] == "dev (all)" else "dev_short"
        text += f"short_head_{key}_auroc = {_f(r['auroc'])}\n"
    with open(path, "w") as f:
        f.write(text)


def write_readme(path, threshold, res):
    import fast_data as fd

    loso = res.get("loso")
    loso_md = (_table(loso, threshold_cols=False) + "\n\n(`human`/`machine` = test texts; "
               "training sizes: " + ", ".join(f"{r['name']}: {r['n_train']}" for r in loso) + ")"
               ) if loso else "_not run (train_fast.py --no-loso)_"
    full = {r["name"]: r for r in res["dev_by_source"] + res["web_by_generator"][:3]}
    cmp_rows = []
    for r in loso or []:
        key = r["name"] if not r["name"].startswith("web-") else r["name"]
        if key in full:
            cmp_rows.append(f"| {r['name']} | {_f(full[key]['auroc'])} | {_f(r['auroc'])} |")
    cmp_md = ("| held-out source | AUROC, full model | AUROC, retrained without it |\n| --- | ---: | ---: |\n"
              + "\n".join(cmp_rows)) if cmp_rows else ""
    hum = "\n".join(f"| {h['name']} | {h['n']} | {_f(h['fpr_at_threshold'])} |" for h in res["human_fpr"])
    tc = res["train_counts"]
    text = f"""# `fast` — default svalbard detector

Logistic regression over hashed n-gram features of the first 3000 bytes of a text, run by the engine
through ONNX Runtime (`model.onnx`, {res['onnx_bytes']:,} bytes, opset 17). Features are computed in Rust
exactly as specified in [FEATURES.md](FEATURES.md) (`svalbard-hash-v1`, reference implementation
`scripts/fast_features.py`, parity fixture `tests/fixtures/fast_hash_parity.jsonl`).

Graph: `p_machine = sigmoid(sum_k W[ids[b,k]] * weights[b,k] + bias)`; inputs `ids` int64 `[batch, K]`,
`weights` float32 `[batch, K]` (pad with id 0 / weight 0; use K >= 1 even for an empty text, whose
score is then `sigmoid(bias)`); output `p_machine` float32 `[batch]`.
The weights are looked up with `GatherElements` on the flattened ids, not `Gather`, whose CPU kernel in
onnxruntime copies each gathered float with its own `memcpy` call (11x slower for a batch of 64 x 3,500 ids).
A second output, `p_machine_short`, is the same kind of regression fitted only on training texts under
{res['short_head']['max_words']} words (the card's `extra_outputs`; the engine writes it as the column
`fast_p_machine_short` from the same run). It has no threshold and no rule: it is a column for the
ensemble, whose trees also see the word count (see "Short-text head" below).
Decision: **machine if `p_machine >= {threshold}`** — the lowest threshold (4 decimals) with at most 1% of the
held-out human web pages flagged.

## Reproduce

```sh
python3 -m venv .venv-train
.venv-train/bin/pip install numpy scipy scikit-learn onnx onnxruntime==1.31.1
{TRAIN_CMD}          # train, export, verify with onnxruntime, evaluate, leave-one-source-out; writes this README, model.toml, metrics.json
nice -n 10 .venv-train/bin/python scripts/eval_fast.py   # re-evaluate the exported model.onnx only (prints JSON)
python3 scripts/test_fast_features.py                    # feature parity fixture check
```
Data is read from `../shared/data` (or `$SVALBARD_DATA`). The full run took {res['seconds']} s on 2 shared CPU
cores. ONNX vs Python (scipy) probabilities: max |diff| = {res['onnx_python_max_abs_diff']:.1e}.

## Training data

| group | texts |
| --- | ---: |
""" + "\n".join(f"| {g} | {n} |" for g, n in tc.items()) + f"""

* `detect-*`: all of `detect/train.jsonl`.
* `web-*`: `web_text/*` documents with `sha1("web:" + id) % 100 >= {fd.HOLDOUT_PCT}` (the rest is the held-out web set).
* `books-human`: Gutenberg books (header/footer stripped, first 5% skipped, ≤ {fd.BOOK_CHUNKS} evenly spaced
  ~{fd.CHUNK_CHARS}-char chunks per book) and NLTK documents (≤ {fd.NLTK_CHUNKS} chunks each); books / documents with
  `sha1("gutenberg:"|"nltk:" + id) % 100 < {fd.HOLDOUT_PCT}` are held out.
* Sample weights: each group gets the same total weight (books: half), so human and machine weigh the same.
* `C = 32` and the group weights were chosen by comparing a few settings (C in 4/16/32/64, web weight 1x/2x,
  naive-Bayes feature scaling) on dev and held-out web, so the dev / held-out numbers below are slightly optimistic.

## Results (measured, this model)

Threshold columns use the default threshold {threshold}. TPR@x%FPR uses a threshold chosen on the humans of the same row.

### detect/dev.jsonl, overall and per source

{_table(res['dev_by_source'])}

### detect/dev.jsonl, per generator (machine texts of that generator vs the human texts of the same source)

{_table(res['dev_by_generator'])}

### web_text held-out 20% (machine texts of that generator vs all held-out human web pages)

{_table(res['web_by_generator'])}

### False positive rate on human text at the default threshold

| human set | texts | FPR |
| --- | ---: | ---: |
{hum}

### Short-text head (`p_machine_short`)

Fitted on the training texts under {res['short_head']['max_words']} words only. A single regression over
every source is weaker on short texts than one fitted on them: n-grams that mark machine text in a long
article say little in a one-sentence paraphrase.

{_table(res['short_head']['rows'], threshold_cols=False)}

### Leave-one-source-out

Retrained without one source and tested on it (detect sources: that source's human and machine
training texts removed, tested on its dev texts; web generators: that generator's machine web texts
removed, tested on held-out human web pages vs held-out texts of that generator).

{loso_md}

{cmp_md}

## Limitations

* The machine text it learned from is mostly 2019-2023 model output (GPT-2/Neo/J/NeoX/OPT, GPT-3,
  ChatGPT/GPT-4 via fast-detect-gpt and HC3-Plus). Leave-one-source-out shows how much worse it is on a
  source it never saw; expect lower recall on newer chat models and other domains.
* Only the first 3000 bytes are looked at; the language is effectively English.
* At the default threshold recall is low: it is tuned for a web filter that must rarely flag human pages.
  The human false positives at the threshold concentrate on OpenAI WebText pages (the distribution GPT-2
  imitates); Reuters, Guardian, reviews, books and NLTK texts were not flagged in the held-out sets.
* The in-distribution numbers for fast-detect-gpt and HC3-Plus drop sharply when the source is left out
  of training (table above): much of that accuracy is source/format-specific, not a general machine-text signal.
"""
    with open(path, "w") as f:
        f.write(text)


def main():
    import argparse
    import tomllib

    import onnxruntime as ort

    import fast_data as fd
    import fast_features as ff
    import train_fast as tf

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
