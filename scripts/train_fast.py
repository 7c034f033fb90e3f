#!/usr/bin/env python3
"""Trains the `fast` detector: logistic regression on svalbard-hash-v1 features
(scripts/fast_features.py), exported by hand to ONNX (models/fast/model.onnx), checked with
onnxruntime, default threshold calibrated on held-out human web pages, then evaluated
(scripts/eval_fast.py, including the leave-one-source-out retrains). Writes
models/fast/model.onnx, models/fast/model.toml, models/fast/README.md, models/fast/metrics.json.

    nice -n 10 .venv-train/bin/python scripts/train_fast.py            # everything (~5 min on 2 cores)
    nice -n 10 .venv-train/bin/python scripts/train_fast.py --no-loso  # skip leave-one-source-out
Data: ../shared/data (override with SVALBARD_DATA).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fast_data as fd  # noqa: E402
import fast_features as ff  # noqa: E402

MODEL_DIR = os.path.join(HERE, "..", "models", "fast")
C = 32.0
# Total sample weight of each training group (before rescaling to mean weight 1): human and
# machine get equal total weight; books/NLTK add human weight to keep book-like prose from
# being flagged.
GROUP_WEIGHTS = {"detect-human": 1.0, "detect-machine": 1.0, "web-human": 1.0,
                 "web-machine": 1.0, "books-human": 0.5}
TARGET_WEB_FPR = 0.01
# The short-text head (output p_machine_short) is fitted on training texts with fewer whitespace-separated
# words than this: nearly all hc3 texts, 5% of fast-detect-gpt's, short web pages.
SHORT_MAX_WORDS = fd.SHORT_MAX_WORDS
OPSET = 17


def sample_weights(groups: np.ndarray) -> np.ndarray:
    w = np.zeros(len(groups))
    for g, tot in GROUP_WEIGHTS.items():
        m = groups == g
        if m.any():
            w[m] = tot / m.sum()
    return w * len(groups) / w.sum()


def fit(X, y, groups):
    """Returns (coef float64 [buckets], intercept float)."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=C, solver="liblinear", max_iter=300)
    clf.fit(X, y, sample_weight=sample_weights(groups))
    return clf.coef_.ravel().astype(np.float64), float(clf.intercept_[0])


def predict(coef, intercept, X):
    z = X @ coef + intercept
    return 1.0 / (1.0 + np.exp(-z))


def fit_short(X, y, groups, short):
    """The short-text head: the same model fitted only on the texts under SHORT_MAX_WORDS words (`short`,
    from short_mask).

    A single linear model over every source does worse on short texts than one fitted on them alone
    (dev AUROC on hc3-plus-si-en, median 30 words: 0.814 for p_machine, 0.838 for this head): n-grams
    that mean "machine" in a long article mean little in a one-sentence paraphrase. The engine writes both heads' scores; the ensemble's
    trees, which also see the word count, learn where to trust which."""
    return fit(X[short], y[short], groups[short])


def short_mask(texts) -> np.ndarray:
    return np.array([fd.is_short(t) for t in texts])


def export_onnx(heads, path):
    """`heads`: [(output name, coef, intercept)], the first being p_machine. Each head is
    sigmoid(sum_k W[ids_k] * weights_k + b) over the same inputs, so one run scores them all.

    The weights are looked up with GatherElements on the flattened ids, not Gather: onnxruntime's CPU Gather
    copies each gathered element with its own memcpy call (a row of a 1-D tensor is one float), which cost
    more than all the rest of the model; GatherElements copies typed elements in a loop. Same values, bit for
    bit, at a twelfth of the time (scripts/bench_fast_graph.py, onnxruntime 1.31)."""
    import onnx
    from onnx import TensorProto, helper

    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    flat = helper.make_tensor("flat_shape", TensorProto.INT64, [1], [-1])
    initializers, outputs = [axes, flat], []
    nodes = [helper.make_node("Reshape", ["ids", "flat_shape"], ["ids_flat"], name="flatten_ids"),
             helper.make_node("Shape", ["ids"], ["ids_shape"], name="ids_shape")]
    for name, coef, intercept in heads:
        initializers += [helper.make_tensor(f"W_{name}", TensorProto.FLOAT, [len(coef)],
                                            coef.astype(np.float32).tolist()),
                         helper.make_tensor(f"b_{name}", TensorProto.FLOAT, [], [float(np.float32(intercept))])]
        nodes += [
            helper.make_node("GatherElements", [f"W_{name}", "ids_flat"], [f"w_flat_{name}"], axis=0,
                             name=f"gather_weights_{name}"),
            helper.make_node("Reshape", [f"w_flat_{name}", "ids_shape"], [f"w_g_{name}"], name=f"unflatten_{name}"),
            helper.make_node("Mul", [f"w_g_{name}", "weights"], [f"contrib_{name}"], name=f"mul_feature_values_{name}"),
            helper.make_node("ReduceSum", [f"contrib_{name}", "axes"], [f"dot_{name}"], keepdims=0, name=f"sum_{name}"),
            helper.make_node("Add", [f"dot_{name}", f"b_{name}"], [f"logit_{name}"], name=f"add_bias_{name}"),
            helper.make_node("Sigmoid", [f"logit_{name}"], [name], name=f"sigmoid_{name}"),
        ]
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch"]))
    graph = helper.make_graph(
        nodes, "svalbard_fast_lr",
        inputs=[helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "K"]),
                helper.make_tensor_value_info("weights", TensorProto.FLOAT, ["batch", "K"])],
        outputs=outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="svalbard/scripts/train_fast.py")
    model.ir_version = 8
    model.doc_string = ("svalbard fast detector: logistic regressions over svalbard-hash-v1 hashed "
                        "n-grams (524288 buckets), one per output (" + ", ".join(h[0] for h in heads)
                        + "). p = sigmoid(sum_k W[ids_k]*weights_k + b). Padding: id 0 with weight 0.")
    onnx.checker.check_model(model)
    onnx.save(model, path)


def to_padded(X):
    """CSR rows -> (ids int64 [n,K], weights float32 [n,K]), padding id 0 / weight 0, K >= 1."""
    n = X.shape[0]
    nnz = np.diff(X.indptr)
    K = max(1, int(nnz.max()) if n else 1)
    ids = np.zeros((n, K), dtype=np.int64)
    wts = np.zeros((n, K), dtype=np.float32)
    for i in range(n):
        a, b_ = X.indptr[i], X.indptr[i + 1]
        ids[i, :b_ - a] = X.indices[a:b_]
        wts[i, :b_ - a] = X.data[a:b_]
    return ids, wts


def onnx_scores(sess, X, batch=256, output="p_machine"):
    out = []
    for s in range(0, X.shape[0], batch):
        ids, wts = to_padded(X[s:s + batch])
        out.append(sess.run([output], {"ids": ids, "weights": wts})[0])
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def pick_threshold(human_scores, target=TARGET_WEB_FPR):
    """Lowest threshold t with mean(human_scores >= t) <= target (decision: p >= t), written with the
    fewest decimals (at least 4) that keep it at or below the next higher score: a model whose human
    scores crowd near 1 (0.99995...) would otherwise get t = 1.0 and flag nothing."""
    h = np.sort(np.asarray(human_scores, dtype=np.float64))[::-1]
    k = int(math.floor(target * len(h)))  # false positives allowed
    for decimals in range(4, 10):
        t = math.floor(h[k] * 10 ** decimals) / 10 ** decimals
        while t <= h[k]:  # strictly above the (k+1)-th highest score (a loop: float rounding)
            t = round(t + 10.0 ** -decimals, decimals)
        if k == 0 or t <= h[k - 1]:
            break
    # any lower value at this precision is <= h[k], i.e. would flag k+1 > target*n human texts
    assert t > h[k] and (h >= t).mean() <= target
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-loso", action="store_true", help="skip the leave-one-source-out retrains")
    args = ap.parse_args()
    import onnxruntime as ort
    import eval_fast as ev

    t0 = time.time()
    train, evals = fd.load_all()
    print(f"loaded {len(train)} training texts; eval sets "
          + ", ".join(f"{k}={len(v)}" for k, v in evals.items()), flush=True)
    X = ff.hash_texts([r["text"] for r in train])
    EX = {k: ff.hash_texts([r["text"] for r in v]) for k, v in evals.items()}
    y = np.array([r["y"] for r in train])
    groups = np.array([r["group"] for r in train])
    print(f"features: {time.time() - t0:.0f}s, train nnz {X.nnz}", flush=True)

    coef, intercept = fit(X, y, groups)
    coef_s, intercept_s = fit_short(X, y, groups, short_mask([r["text"] for r in train]))
    print(f"fit: {time.time() - t0:.0f}s", flush=True)

    os.makedirs(MODEL_DIR, exist_ok=True)
    onnx_path = os.path.join(MODEL_DIR, "model.onnx")
    heads = [("p_machine", coef, intercept), ("p_machine_short", coef_s, intercept_s)]
    export_onnx(heads, onnx_path)
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    scores = {k: onnx_scores(sess, M) for k, M in EX.items()}
    short_scores = {k: onnx_scores(sess, M, output="p_machine_short") for k, M in EX.items()}
    max_diff = 0.0
    for k, M in EX.items():
        for got, (_, c, b) in ((scores[k], heads[0]), (short_scores[k], heads[1])):
            max_diff = max(max_diff, float(np.abs(got - predict(c, b, M)).max()))
    print(f"onnx vs python max |diff| = {max_diff:.2e} (size {os.path.getsize(onnx_path)} bytes)")
    assert max_diff < 1e-5, max_diff
    # padding must contribute nothing
    ids, wts = to_padded(EX["dev"][:4])
    p1 = sess.run(None, {"ids": ids, "weights": wts})[0]
    p2 = sess.run(None, {"ids": np.pad(ids, ((0, 0), (0, 7))), "weights": np.pad(wts, ((0, 0), (0, 7)))})[0]
    assert np.abs(p1 - p2).max() < 1e-6, np.abs(p1 - p2).max()  # only summation-order rounding

    web = evals["web_heldout"]
    web_h = scores["web_heldout"][np.array([r["y"] == 0 for r in web])]
    threshold = pick_threshold(web_h)
    print(f"default threshold {threshold} (web human held-out FPR {(web_h >= threshold).mean():.4f})")

    loso = None
    if not args.no_loso:
        loso = ev.leave_one_source_out(train, X, evals, EX, fit, predict)
    results = ev.evaluate(evals, scores, threshold)
    results["short_head"] = ev.short_head(evals, short_scores, SHORT_MAX_WORDS)
    results["onnx_python_max_abs_diff"] = max_diff
    results["onnx_bytes"] = os.path.getsize(onnx_path)
    results["train_counts"] = {g: int((groups == g).sum()) for g in sorted(set(groups))}
    results["seconds"] = round(time.time() - t0)
    if loso is not None:
        results["loso"] = loso
    with open(os.path.join(MODEL_DIR, "metrics.json"), "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
    ev.write_model_toml(os.path.join(MODEL_DIR, "model.toml"), threshold, results)
    ev.write_readme(os.path.join(MODEL_DIR, "README.md"), threshold, results)
    print(ev.summary(results))
    print(f"total {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
