"""Trains the `fast` detector on the canonical view of every source (svalbard_train.data.authorship):
logistic regression on svalbard-hash-v1 features (svalbard_train.hashing) of `canonical(text)`
(svalbard_train.canonical, the engine's `text::canonical`), exported by hand to ONNX (models/fast/model.onnx),
checked with onnxruntime. Then, with whole sources as the unit:
* out-of-fold scores of every training text from models that never saw its *source* (folds by source), for
  the ensemble's fit and the threshold;
* the threshold: the lowest at which no training human source, scored out of fold, has more than 1% flagged;
* figures on the test sources (never used for anything else), per source with Clopper-Pearson bounds;
* leave-one-generator-family-out: the model refitted without a family, judged on that family's texts.
Writes models/fast/{model.onnx, model.toml, metrics.json} (--model-dir) and OUT/{train,dev,test}.jsonl for the
policy. Every step saves its result under OUT, so a killed run resumes where it stopped.

    nice -n 10 .venv/bin/python -m svalbard_train.fast.train [--out bench-data/authorship] [--no-logo]
Data: ../shared/data (override with SVALBARD_DATA).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np

from svalbard_train import canonical as cn
from svalbard_train import hashing as ff
from svalbard_train import paths
from svalbard_train.data import authorship as ad
from svalbard_train.data import corpora as fd
from svalbard_train.metrics import auroc, clopper_pearson_upper, pick_threshold, tpr_at_fpr

MODEL_DIR = paths.model_dir("fast")
C = 4.0
TARGET_FPR = 0.01
FOLDS = 5
# The short-text head (output p_machine_short) is fitted on training texts with fewer whitespace-separated
# words than this: nearly all hc3 texts, 5% of fast-detect-gpt's, short web pages.
SHORT_MAX_WORDS = fd.SHORT_MAX_WORDS
OPSET = 17


def sample_weights(groups: np.ndarray) -> np.ndarray:
    """`groups`: "<label>|<source>". Each source weighs the square root of its size, so that the big ones do not
    drown the small ones (nor the small ones count as much as the big); human and machine weigh the same."""
    w = np.zeros(len(groups))
    names = sorted(set(groups.tolist()))
    for label in ("0", "1"):
        gs = [g for g in names if g.startswith(label + "|")]
        total = sum(math.sqrt((groups == g).sum()) for g in gs)
        for g in gs:
            m = groups == g
            w[m] = math.sqrt(m.sum()) / total / m.sum()
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
    bit, at a twelfth of the time (svalbard_train.fast.graph_bench, onnxruntime 1.31)."""
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
    # The producer name the shipped model.onnx carries (this module's path before the training package): kept,
    # so that a rebuild is byte for byte the shipped file.
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


def _cached(path, build):
    """`build()`'s result, saved at `path` (npy/json) so that a killed run resumes."""
    if os.path.exists(path):
        if path.endswith(".npy"):
            return np.load(path)
        with open(path) as f:
            return json.load(f)
    value = build()
    tmp = path + ".tmp"
    if path.endswith(".npy"):
        with open(tmp, "wb") as f:
            np.save(f, value)
    else:
        with open(tmp, "w") as f:
            json.dump(value, f, indent=1, sort_keys=True)
    os.replace(tmp, path)
    return value


def reset_stale_cache(out):
    """Clear the saved steps under `out` when what produced them changed since (the canonical view, the data,
    the features, the fit's settings): a resumed run never mixes two versions."""
    import glob
    import hashlib
    import inspect

    h = hashlib.sha1()
    for module in (cn, ad, fd, ff):
        with open(module.__file__, "rb") as f:
            h.update(f.read())
    for part in (inspect.getsource(sample_weights), inspect.getsource(fit), inspect.getsource(source_folds),
                 repr((C, FOLDS, SHORT_MAX_WORDS, TARGET_FPR))):
        h.update(part.encode())
    stamp = os.path.join(out, "code.sha1")
    if os.path.exists(stamp) and open(stamp).read() == h.hexdigest():
        return
    for path in glob.glob(os.path.join(out, "*")):
        os.remove(path)
    with open(stamp, "w") as f:
        f.write(h.hexdigest())


def source_folds(sources, k=FOLDS):
    """Fold of each training text: whole sources (both labels) go together, so an out-of-fold score is the
    score of a model that never saw the text's source."""
    import hashlib

    names = sorted(set(sources))
    order = sorted(names, key=lambda s: hashlib.sha1(("fold:" + s).encode()).hexdigest())
    fold_of = {s: i % k for i, s in enumerate(order)}
    return np.array([fold_of[s] for s in sources])


def per_source_threshold(scores, sources, target=TARGET_FPR):
    """The lowest threshold at which no source has more than `target` of its texts at or above it."""
    return max(pick_threshold(scores[sources == s], target) for s in sorted(set(sources.tolist())))


def fpr_rows(scores, sources, threshold):
    rows = {}
    for s in sorted(set(sources.tolist())):
        v = scores[sources == s]
        k = int((v >= threshold).sum())
        rows[s] = {"n": int(len(v)), "flagged": k, "rate": k / len(v), "upper95": clopper_pearson_upper(k, len(v))}
    return rows


def load_heads(path):
    """The two heads ((coef, intercept) of the main and the short one) saved at `path`."""
    h = np.load(path)
    return (h["coef"], float(h["b"])), (h["coef_s"], float(h["b_s"]))


def saved_heads(path, fit_heads):
    """The two heads saved at `path`, or `fit_heads()`'s, saved there first so that a killed run resumes."""
    if not os.path.exists(path):
        (coef, b), (coef_s, b_s) = fit_heads()
        np.savez(path + ".tmp.npz", coef=coef, b=b, coef_s=coef_s, b_s=b_s)
        os.replace(path + ".tmp.npz", path)
    return load_heads(path)


def family_heads(f, out, fit_without):
    """The two heads refitted without generator family `f`'s training texts, saved under `out`; `fit_without(f)`
    fits them when they are not saved yet."""
    return saved_heads(os.path.join(out, f"logo-heads-{f}.npz"), lambda: fit_without(f))


def leave_family_out(families, fit_heads, score, tr, th, y, fam, p_all, out, t0):
    """Per family: AUROC of its texts against the test humans, from a model fitted without the family (its heads
    saved per family: the refit is the costly part, and svalbard_train.fast.logo_columns reuses them), and from
    the shipped model's scores (`p_all`: out of fold by source on the training texts) for comparison, when
    `p_all` is given."""
    logo = {}
    for f in families:
        fm = (y == 1) & (fam == f)
        yy = np.r_[np.zeros(int(th.sum())), np.ones(int(fm.sum()))]

        def one(f=f, fm=fm, yy=yy):
            mh, _ = family_heads(f, out, lambda f: fit_heads(tr & (fam != f)))
            return {"n_machine": int(fm.sum()), "auroc": auroc(yy, np.r_[score(mh, th), score(mh, fm)])}
        logo[f] = dict(_cached(os.path.join(out, f"logo-{f}.json"), one))
        if p_all is not None:
            logo[f]["auroc_shipped"] = auroc(yy, np.r_[p_all[th], p_all[fm]])
        print(f"  logo {f}: {logo[f]} {time.time() - t0:.0f}s", flush=True)
    return logo


def write_card(res, path):
    """models/fast/model.toml: how the engine runs the model, its threshold and the figures measured here."""
    fpr = res["test_human_fpr"]
    web = {k: v for k, v in fpr.items() if k in ad.WEB_PAGE_SOURCES}
    web_flagged = sum(v["flagged"] for v in web.values())
    web_n = sum(v["n"] for v in web.values())
    lines = [
        'name = "fast"',
        'version = "3"',
        'description = "Default detector: logistic regression (liblinear, C=%g, sources weighted by the square root of '
        'their size) over hashed word 1-2-grams and byte 4-grams (svalbard-hash-v1) of the first 3000 bytes of the '
        'canonical view. Trained on %d texts of %d sources (svalbard_train.data.authorship); judged on sources kept '
        'out of training (docs/ensemble.md)."' % (C, sum(res["train_counts"].values()), len(res["train_counts"])),
        'license = "research only: trained on data under non-commercial research terms (essays, several web_text2 '
        'sources; see ../shared/data/README.md)"',
        "",
        "[input]",
        'kind = "hashed_ngrams"',
        'features = "svalbard-hash-v1"',
        "buckets = 524288",
        "max_bytes = 3000",
        "",
        "[onnx]",
        'file = "model.onnx"',
        'inputs = ["ids", "weights"]',
        'output = "p_machine"',
        'output_kind = "probability"',
        'extra_outputs = ["p_machine_short"]   # the short-text head, a column for the ensemble',
        "",
        "[decision]",
        "threshold = %.5f        # lowest threshold at which no training human source, scored by models that never"
        " saw it (out of fold by source), has more than 1%% flagged" % res["threshold"],
        "",
        "[training]",
        'data = ["svalbard_train.data.authorship: split = train (whole sources); canonical view %s '
        '(svalbard_train.canonical)"]' % cn.NAME,
        'command = "nice -n 10 .venv/bin/python -m svalbard_train.fast.train"',
        "",
        "[metrics]",
        "dev_auroc = %.4f" % res["dev_auroc"],
        "dev_tpr_at_1fpr = %.4f" % res["dev_tpr_at_1fpr"],
        "test_auroc = %.4f   # test human sources against test machine sources, none seen in training" % res["test_auroc"],
        "oof_by_source_auroc = %.4f   # every training text scored by a model that never saw its source" % res["oof_auroc"],
        "test_web_pages_flagged = %d   # of %d held-out real web pages at the threshold" % (web_flagged, web_n),
        "max_test_human_source_fpr = %.4f" % max(v["rate"] for v in fpr.values()),
    ]
    lines += ["test_tpr_%s = %.4f" % (k.replace("-", "_").lower(), v) for k, v in res["test_machine_tpr"].items()]
    lines += ["logo_auroc_%s = %.4f" % (k.replace("-", "_"), v["auroc"]) for k, v in res.get("logo", {}).items()]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


class Problem:
    """Every labeled text (svalbard_train.data.authorship), its canonical view and svalbard-hash-v1 features
    (saved as OUT/features.npz), with the arrays the fits and figures index by."""

    def __init__(self, recs, texts, X):
        self.recs, self.texts, self.X = recs, texts, X
        self.y = np.array([r["y"] for r in recs])
        self.split = np.array([r["split"] for r in recs])
        self.source = np.array([r["source"] for r in recs])
        self.fam = np.array([r["family"] or "" for r in recs])
        self.groups = np.array([f"{r['y']}|{r['source']}" for r in recs])
        self.short = short_mask(texts)
        self.tr = self.split == "train"

    @classmethod
    def load(cls, out):
        import scipy.sparse as sp

        recs = ad.load_all()
        texts = [cn.canonical(r["text"]) for r in recs]
        xpath = os.path.join(out, "features.npz")
        if os.path.exists(xpath):
            X = sp.load_npz(xpath).tocsr()
        else:
            X = ff.hash_texts(texts)
            sp.save_npz(xpath + ".tmp.npz", X)
            os.replace(xpath + ".tmp.npz", xpath)
        return cls(recs, texts, X)

    def fit_heads(self, mask):
        coef, b = fit(self.X[mask], self.y[mask], self.groups[mask])
        coef_s, b_s = fit_short(self.X[mask], self.y[mask], self.groups[mask], self.short[mask])
        return (coef, b), (coef_s, b_s)

    def score(self, head, rows):
        coef, b = head
        return predict(coef.astype(np.float32), np.float32(b), self.X[rows])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(paths.BENCH_DATA, "authorship"),
                    help="the saved steps and the policy's data (default: bench-data/authorship)")
    ap.add_argument("--model-dir", default=MODEL_DIR,
                    help="where model.onnx, model.toml and metrics.json go (default: models/fast)")
    ap.add_argument("--no-logo", action="store_true", help="skip the leave-one-generator-family-out refits")
    ap.add_argument("--logo-only", action="store_true",
                    help="only the leave-one-family-out refits, last family first (a second process on a second core: "
                         "each refit is saved, and the first run picks the saved ones up)")
    args = ap.parse_args()
    import onnxruntime as ort

    os.makedirs(args.out, exist_ok=True)
    if not args.logo_only:
        reset_stale_cache(args.out)
    t0 = time.time()
    p = Problem.load(args.out)
    recs, X, y, split, source, fam, groups, tr = p.recs, p.X, p.y, p.split, p.source, p.fam, p.groups, p.tr
    print(f"{len(recs)} texts and their features (nnz {X.nnz}) in {time.time() - t0:.0f}s", flush=True)
    fit_heads, score = p.fit_heads, p.score

    test, dev = split == "test", split == "dev"
    th, tm = test & (y == 0), test & (y == 1)
    heads_path = os.path.join(args.out, "heads.npz")
    if args.logo_only:
        leave_family_out(ad.FAMILIES[::-1], fit_heads, score, tr, th, y, fam, None, args.out, t0)
        return

    # 1. the model
    main_head, short_head = saved_heads(heads_path, lambda: fit_heads(tr))
    print(f"fit: {time.time() - t0:.0f}s", flush=True)
    os.makedirs(args.model_dir, exist_ok=True)
    onnx_path = os.path.join(args.model_dir, "model.onnx")
    export_onnx([("p_machine",) + tuple(main_head), ("p_machine_short",) + tuple(short_head)], onnx_path)
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    rest = np.where(~tr)[0]
    got = onnx_scores(sess, X[rest])
    max_diff = float(np.abs(got - predict(main_head[0], main_head[1], X[rest])).max())
    assert max_diff < 1e-5, max_diff
    p_all = np.zeros(len(recs))
    p_all[rest] = got
    ps_all = np.zeros(len(recs))
    ps_all[rest] = onnx_scores(sess, X[rest], output="p_machine_short")

    # 2. out-of-fold by source
    fold = np.full(len(recs), -1)
    fold[tr] = source_folds(source[tr].tolist())

    def oof():
        out = np.full((2, len(recs)), np.nan)
        for k in range(FOLDS):
            held = tr & (fold == k)
            mh, shh = fit_heads(tr & (fold != k))
            out[0, held] = score(mh, held)
            out[1, held] = score(shh, held)
            print(f"  fold {k}: {sorted(set(source[held].tolist()))} {time.time() - t0:.0f}s", flush=True)
        return out

    oof_scores = _cached(os.path.join(args.out, "oof.npy"), oof)
    p_all[tr], ps_all[tr] = oof_scores[0, tr], oof_scores[1, tr]

    # 3. threshold: every training human source, scored by a model that never saw it, within the target
    hum_tr = tr & (y == 0)
    threshold = per_source_threshold(p_all[hum_tr], source[hum_tr])
    print(f"threshold {threshold}", flush=True)

    # 4. figures
    res = {"threshold": threshold, "onnx_python_max_abs_diff": max_diff, "C": C,
           "train_counts": {g: int((groups[tr] == g).sum()) for g in sorted(set(groups[tr].tolist()))}}
    res["test_human_fpr"] = fpr_rows(p_all[th], source[th], threshold)
    res["test_machine_tpr"] = {s: v["rate"] for s, v in fpr_rows(p_all[tm], source[tm], threshold).items()}
    res["oof_train_human_fpr"] = fpr_rows(p_all[hum_tr], source[hum_tr], threshold)
    res["oof_train_machine_tpr"] = {s: v["rate"] for s, v in
                                    fpr_rows(p_all[tr & (y == 1)], source[tr & (y == 1)], threshold).items()}
    res["test_auroc"] = auroc(y[test], p_all[test])
    res["dev_auroc"] = auroc(y[dev], p_all[dev])
    res["dev_tpr_at_1fpr"] = tpr_at_fpr(y[dev], p_all[dev], 0.01)
    res["oof_auroc"] = auroc(y[tr], p_all[tr])
    res["test_vs_source"] = {s: auroc(np.r_[np.zeros(int((th).sum())), np.ones(int((tm & (source == s)).sum()))],
                                      np.r_[p_all[th], p_all[tm & (source == s)]]) for s in sorted(set(source[tm]))}
    ess = np.array([ad.is_native(r) if r["genre"] == "essay" and r["split"] == "test" else None for r in recs],
                   dtype=object)
    for name, m in (("native", ess == True), ("non_native", ess == False)):  # noqa: E712
        k, n = int((p_all[m] >= threshold).sum()), int(m.sum())
        res[f"test_essays_{name}"] = {"n": n, "flagged": k, "rate": k / max(n, 1), "upper95": clopper_pearson_upper(k, n)}
    print(json.dumps({k: v for k, v in res.items() if "auroc" in k or "essays" in k}, indent=1), flush=True)

    # 5. leave one generator family out: fitted without the family; its texts judged against the test humans
    if not args.no_logo:
        res["logo"] = leave_family_out(ad.FAMILIES, fit_heads, score, tr, th, y, fam, p_all, args.out, t0)
    res["seconds"] = round(time.time() - t0)
    with open(os.path.join(args.model_dir, "metrics.json"), "w") as fh:
        json.dump(res, fh, indent=1, sort_keys=True)
    write_card(res, os.path.join(args.model_dir, "model.toml"))

    # 6. the policy's data: labeled JSONL with the out-of-fold columns on the training rows
    for name, m in (("train", tr), ("dev", dev), ("test", test)):
        with open(os.path.join(args.out, f"{name}.jsonl"), "w", encoding="utf-8") as fh:
            for i in np.where(m)[0]:
                r = recs[i]
                row = {"text": r["text"], "label": "machine" if r["y"] else "human", "source": r["source"],
                       "generator": r["generator"] or "human", "family": r["family"] or "human",
                       "genre": r["genre"] or "", "group": f"{r['source']}|{'machine' if r['y'] else 'human'}"}
                native = ad.is_native(r) if r["genre"] == "essay" else None
                row["writer"] = "" if native is None else ("native" if native else "non-native")
                if name == "train":
                    row["fast_p_machine_oof"] = float(p_all[i])
                    row["fast_p_machine_short_oof"] = float(ps_all[i])
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"total {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
