"""How much reading more than the first window of a document lifts a MiniLM detector (a model card's
`windows`, see models/README.md): dev and held-out web AUROC and TPR at 1% / 5% FPR, overall and per source,
for each number of windows, scored as the engine scores them (svalbard_train.minilm.train, ort_scores).

    .venv/bin/python -m svalbard_train.minilm.eval_windows models/minilm/model.fp32.onnx --windows 1,2,3

Use the fp32 graph: the int8 graph's scores depend on which texts share a batch (quantize_dynamic scales the
activations per batch), and more windows change the batches.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from svalbard_train.data import corpora as fd
from svalbard_train.fast import evaluate as ev
from svalbard_train.metrics import auroc
from svalbard_train.minilm import train as tm


def figures(y, s, src) -> str:
    r = ev.row("all", y, s)
    line = f"AUROC {r['auroc']:.4f}  TPR@1% {r['tpr_at_1fpr']:.3f}  TPR@5% {r['tpr_at_5fpr']:.3f}"
    for name in sorted(set(src)):
        m = src == name
        if len(set(y[m])) == 2:
            line += f"  | {name} {auroc(y[m], s[m]):.4f}"
    return line


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="an ONNX graph of svalbard_train.minilm.train (p_machine from input_ids, attention_mask)")
    ap.add_argument("--windows", default="1,2,3", help="comma-separated window counts to compare")
    ap.add_argument("--sets", default="dev,web_heldout", help="evaluation sets of svalbard_train.data.corpora")
    args = ap.parse_args()
    tok = tm.load_tokenizer()
    _, evals = fd.load_all()
    for name in args.sets.split(","):
        recs = evals[name]
        y = np.array([r["y"] for r in recs])
        src = np.array([r["source"] for r in recs])
        texts = [r["text"] for r in recs]
        print(f"== {name}: {len(recs)} texts", flush=True)
        for w in (int(x) for x in args.windows.split(",")):
            t0 = time.time()
            s = tm.ort_scores(args.model, tok, texts, windows=w)
            print(f"windows {w}: {figures(y, s, src)}  ({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
