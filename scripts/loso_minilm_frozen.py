#!/usr/bin/env python3
"""Leave-one-source-out for the `minilm` detector, *frozen-encoder variant*: re-fine-tuning MiniLM once per
left-out source does not fit on 2 shared CPU cores (one fine-tune is ~30 min), so this measures how well
the pretrained MiniLM-L6 embedding (mean pooling, not fine-tuned) + logistic regression transfers to a
source it did not see. It is NOT the shipped fine-tuned model; the README labels it as such.

Embeddings: the pretrained encoder exported to ONNX and int8-quantized like the shipped model, run by
onnxruntime (2 threads) on the same inputs the engine gives the model (first 1024 bytes, 128 tokens).
Training texts: a balanced subsample (train_minilm.GROUP_SHARE) of the same training pool as the
fine-tuned model (calibration slice excluded). Logistic regression: sklearn lbfgs, C=1 on standardized
features, group-balanced sample weights as in train_fast.py. LOSO protocol: scripts/eval_fast.py.

    nice -n 10 .venv-minilm/bin/python scripts/loso_minilm_frozen.py [N_TRAIN, default 4000; the README run used 3000]   # -> models/minilm/work/loso_frozen.json
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import eval_fast as ev  # noqa: E402
import train_fast as tf  # noqa: E402
import train_minilm as tm  # noqa: E402


def export_pretrained(path):
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    m = tm.build_model().eval()

    class E(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m.embed(input_ids, attention_mask)

    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]])
    fp32 = path.replace(".int8.onnx", ".fp32.onnx")
    torch.onnx.export(E().eval(), (ids, (ids != 0).long()), fp32, dynamo=False,
                      input_names=["input_ids", "attention_mask"], output_names=["emb"],
                      dynamic_axes={"input_ids": {0: "b", 1: "t"}, "attention_mask": {0: "b", 1: "t"},
                                    "emb": {0: "b"}}, opset_version=tm.OPSET)
    quantize_dynamic(fp32, path, weight_type=QuantType.QInt8)


def embed(sess, tok, texts, batch=32):
    ids = tm.encode(tok, texts)
    order = np.argsort([len(x) for x in ids], kind="stable")
    out = np.zeros((len(ids), 384), dtype=np.float32)
    for k in range(0, len(order), batch):
        idx = order[k:k + batch]
        a, m = tm.pad([ids[i] for i in idx])
        out[idx] = sess.run(["emb"], {"input_ids": a, "attention_mask": m})[0]
    return out


def main():
    import onnxruntime as ort

    n_train = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    t0 = time.time()
    path = os.path.join(tm.WORK, "pretrained_encoder.int8.onnx")
    if not os.path.exists(path):
        export_pretrained(path)
    so = ort.SessionOptions()
    so.intra_op_num_threads = tm.THREADS
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    tok = tm.load_tokenizer()
    pool, _calib, evals = tm.training_pool()
    chosen = tm.subsample(pool, n_train, seed=tm.SEED + 7)
    train = [pool[i] for i in chosen]
    cache = os.path.join(tm.WORK, f"frozen_emb_{n_train}.npz")
    if os.path.exists(cache):
        z = np.load(cache)
        X, EX = z["train"], {"dev": z["dev"], "web_heldout": z["web_heldout"]}
    else:
        X = embed(sess, tok, [r["text"] for r in train])
        print(f"train embeddings {time.time() - t0:.0f}s", flush=True)
        EX = {k: embed(sess, tok, [r["text"] for r in evals[k]]) for k in ("dev", "web_heldout")}
        np.savez(cache, train=X, **EX)
    print(f"embeddings {time.time() - t0:.0f}s", flush=True)
    mu, sd = X.mean(0), X.std(0) + 1e-6

    def fit(Xs, y, groups):
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(C=1.0, max_iter=2000)
        clf.fit((Xs - mu) / sd, y, sample_weight=tf.sample_weights(groups))
        return clf.coef_.ravel(), float(clf.intercept_[0])

    def predict(coef, b, Xs):
        return 1 / (1 + np.exp(-(((Xs - mu) / sd) @ coef + b)))

    y = np.array([r["y"] for r in train])
    groups = np.array([r["group"] for r in train])
    coef, b = fit(X, y, groups)
    full = {}
    dev = evals["dev"]
    yd = np.array([r["y"] for r in dev])
    src = np.array([r["source"] for r in dev])
    sdv = predict(coef, b, EX["dev"])
    full["dev (all)"] = ev.auroc(yd, sdv)
    for s_ in sorted(set(src)):
        full[s_] = ev.auroc(yd[src == s_], sdv[src == s_])
    web = evals["web_heldout"]
    yw = np.array([r["y"] for r in web])
    fam = np.array([r["generator"] or "" for r in web])
    sw = predict(coef, b, EX["web_heldout"])
    for g in ("web-gpt2", "web-gpt3"):
        m = (yw == 0) | (fam == g)
        full[g] = ev.auroc(yw[m], sw[m])
    loso = ev.leave_one_source_out(train, X, evals, EX, fit, predict)
    res = {"variant": "frozen pretrained MiniLM-L6 (int8 ONNX) mean-pooled embedding + logistic regression",
           "n_train": len(train), "full_auroc": full, "loso": loso, "seconds": time.time() - t0,
           "command": f"nice -n 10 .venv-minilm/bin/python scripts/loso_minilm_frozen.py {n_train}"}
    with open(os.path.join(tm.WORK, "loso_frozen.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
