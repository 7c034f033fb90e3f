"""An experiment for the authorship issue: do style-only features generalise across sources better than the
`fast` model's hashed word and character n-grams, and does hard-negative mining help?

Same data, splits, source weights, fit (liblinear, C) and source folds as svalbard_train.fast.train; only the
features (and, with a hard-negative run, the weights) change. Three feature sets:
  A   svalbard-hash-v1 of the canonical view (what `fast` v2 ships);
  B   style only: the same byte tokens, punctuation and ~300 function words kept, every other word replaced
      by its shape (capitalised or not; short, medium or long; all digits), hashed word 1- to 5-grams;
  AB  both, each block L2-normalised and scaled by 1/sqrt(2).
Per set: the full fit (dev and test figures), out-of-fold scores by source, the per-source threshold (as
fast.train picks it), and leave-one-family-out for openai, anthropic and legacy. Every fit is cached
under OUT, so a killed run resumes.

    .venv/bin/python -m svalbard_train.fast.style_probe prep
    .venv/bin/python -m svalbard_train.fast.style_probe eval A|B|AB [C] [HARD_NEGATIVES_FROM_TAG]
e.g. `eval A 4 A-C4` refits A with the top 5% of each human source (by A-C4's out-of-fold scores) weighted 3x.
Prefix length: `A<N>` (e.g. A6000, A12000) is svalbard-hash-v1 of the first N bytes of the canonical view
(A itself is N = 3000). `prep A A6000 A12000` builds only the sets named (default A and B);
`lengths` prints the share of canonical views longer than 3000 / 6000 / 12000 bytes by split and label;
`bins TAG` prints a finished run's test AUROC within canonical-length bins.
Results: docs/results/2026-12-05-style-features.md. Output folder: SVALBARD_PROBE_OUT (bench-data/style).
"""
import json
import math
import os
import re
import sys
import time

import numpy as np
import scipy.sparse as sp

from svalbard_train import canonical as cn
from svalbard_train import hashing as ff
from svalbard_train import paths
from svalbard_train.data import authorship as ad
from svalbard_train.fast import train as tf
from svalbard_train.metrics import auroc, tpr_at_fpr

OUT = os.environ.get("SVALBARD_PROBE_OUT", os.path.join(paths.BENCH_DATA, "style"))
FW = set("""a about above across after afterwards again against all almost alone along already also although always am
among amongst an and another any anyhow anyone anything anyway anywhere are around as at back be became because become
becomes becoming been before beforehand behind being below beside besides between beyond both but by can cannot could
did do does doing done down due during each either else elsewhere enough etc even ever every everyone everything
everywhere except few first for former formerly from further had has have having he hence her here hereafter hereby
herein hers herself him himself his how however i if in indeed instead into is it its itself just last latter
latterly least less many may me meanwhile might mine more moreover most mostly much must my myself namely neither never
nevertheless next no nobody none noone nor not nothing now nowhere of off often on once one only onto or other others
otherwise our ours ourselves out over own per perhaps please rather really same several she should since so some
somehow someone something sometime sometimes somewhere still such than that the their theirs them themselves then
thence there thereafter thereby therefore therein thereupon these they this those though through throughout thru thus
to together too toward towards under until up upon us very via was we well were what whatever when whence whenever
where whereafter whereas whereby wherein whereupon wherever whether which while whither who whoever whole whom whose
why will with within without would yet you your yours yourself yourselves s t don didn doesn isn wasn aren weren won
wouldn couldn shouldn ll ve re d m also just like overall additionally furthermore ultimately importantly
specifically particularly essentially generally typically often usually simply actually basically certainly clearly
especially finally first second third lastly yes ok oh well hey thanks thank lol""".split())
TOK = re.compile(r"[^\W_]+|[^\w\s]")


_BTOK = re.compile(rb"[A-Za-z0-9\x80-\xff]+|[\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]")


def style_tokens(text, max_bytes=3000):
    """svalbard-hash-v1's byte tokens (case kept): punctuation and function words as they are, every other
    word by its shape: capitalised or not, and short (<=3 bytes), medium (<=6) or long; all-digit runs as <d>."""
    out = []
    for tok in _BTOK.findall(ff.prefix_bytes(text, max_bytes)):
        c = tok[0]
        if not (0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A or c >= 0x80):
            out.append(tok.decode())
            continue
        lw = tok.lower().decode("utf-8", "ignore")
        if lw in FW:
            out.append(lw)
        elif tok.isdigit():
            out.append("<d>")
        else:
            n = len(tok)
            shape = "s" if n <= 3 else ("m" if n <= 6 else "l")
            out.append(("<W" if 0x41 <= c <= 0x5A else "<w") + shape + ">")
    return out


def style_features(texts, nbits=19):
    from sklearn.feature_extraction import FeatureHasher
    def feats(t):
        toks = style_tokens(t)
        f = []
        for n in (1, 2, 3, 4, 5):
            f += [f"{n}|" + " ".join(toks[i:i + n]) for i in range(len(toks) - n + 1)]
        return f
    X = FeatureHasher(n_features=1 << nbits, input_type="string", alternate_sign=False).transform(
        feats(t) for t in texts).tocsr()
    X.data = 1.0 + np.log(X.data)
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    norms[norms == 0] = 1
    X = sp.diags(1.0 / norms) @ X
    return X.astype(np.float32).tocsr()


def prefix_len(cfg):
    """A -> svalbard-hash-v1's own 3000; A6000 -> 6000; anything else -> None."""
    if cfg == "A":
        return ff.MAX_BYTES
    return int(cfg[1:]) if re.fullmatch(r"A\d+", cfg) else None


def prep(cfgs=("B", "A")):
    os.makedirs(OUT, exist_ok=True)
    t0 = time.time()
    recs = ad.load_all()
    texts = [cn.canonical(r["text"]) for r in recs]
    print(len(recs), "canonical", time.time() - t0, flush=True)
    meta = {k: [r[k] if r[k] is not None else "" for r in recs] for k in ("y", "split", "source", "family", "genre")}
    meta["native"] = [("" if r["genre"] != "essay" else str(ad.is_native(r))) for r in recs]
    meta["nbytes"] = [len(t.encode("utf-8")) for t in texts]  # canonical view, UTF-8 bytes
    json.dump(meta, open(os.path.join(OUT, "meta.json"), "w"))
    for cfg in cfgs:
        if os.path.exists(os.path.join(OUT, cfg + ".npz")):
            continue
        X = style_features(texts) if cfg == "B" else ff.hash_texts(texts, max_bytes=prefix_len(cfg))
        sp.save_npz(os.path.join(OUT, cfg + ".npz"), X)
        print(cfg, X.nnz, time.time() - t0, flush=True)


def source_thresholds(scores, hum, source):
    """Each human source's threshold: its score ranked at 1% from the top (the per-source rule; the run's
    threshold is their maximum)."""
    return {src: np.sort(scores[hum & (source == src)])[::-1][int(0.01 * (hum & (source == src)).sum())]
            for src in sorted(set(source[hum]))}


def lengths():
    """Share of canonical views longer than 3000 / 6000 / 12000 bytes, by split and label."""
    m = json.load(open(os.path.join(OUT, "meta.json")))
    y, split, nb = np.array(m["y"]), np.array(m["split"]), np.array(m["nbytes"])
    print("| split | label | n | median bytes | > 3000 | > 6000 | > 12000 |\n|---|---|---:|---:|---:|---:|---:|")
    for part in ("train", "dev", "test"):
        for lab, name in ((0, "human"), (1, "machine")):
            mm = (split == part) & (y == lab)
            print(f"| {part} | {name} | {mm.sum()} | {int(np.median(nb[mm]))} | "
                  + " | ".join(f"{(nb[mm] > k).mean():.1%}" for k in (3000, 6000, 12000)) + " |")


def length_bins(tag, edges=(0, 500, 1000, 2000, 3000, 6000, 12000, 10 ** 12)):
    """A finished run's test figures within bins of canonical length, from its cached scores: AUROC of the
    bin's held-out humans against the bin's held-out machines (where it has both), against all held-out
    machines, and the share of the bin's humans above the per-source threshold (as evaluate picks it)."""
    m = json.load(open(os.path.join(OUT, "meta.json")))
    y, split, nb = np.array(m["y"]), np.array(m["split"]), np.array(m["nbytes"])
    source = np.array(m["source"])
    tr, test = split == "train", split == "test"
    s = np.full(len(y), np.nan)
    s[~tr] = json.load(open(os.path.join(OUT, f"{tag}-full.json")))
    fold = np.full(len(y), -1)
    fold[tr] = tf.source_folds(source[tr].tolist())
    oof = oof_scores(tag, y, tr, fold)
    hum = tr & (y == 0)
    thr = max(source_thresholds(oof, hum, source).values())
    tm = test & (y == 1)
    out = {"threshold": round(float(thr), 4), "all": round(float(auroc(y[test], s[test])), 4)}
    for lo, hi in zip(edges[:-1], edges[1:]):
        inb = (nb > lo) & (nb <= hi)
        hm, mm = test & (y == 0) & inb, tm & inb
        r = {"humans": int(hm.sum()), "machines": int(mm.sum())}
        if hm.sum() and mm.sum():
            r["auroc_in_bin"] = round(float(auroc(y[hm | mm], s[hm | mm])), 4)
        if hm.sum():
            r["auroc_vs_all_machines"] = round(float(auroc(y[hm | tm], s[hm | tm])), 4)
            r["humans_flagged"] = round(float((s[hm] > thr).mean()), 4)
        if mm.sum():
            r["machines_caught"] = round(float((s[mm] > thr).mean()), 4)
        out[f"({lo},{hi}]"] = r
    json.dump(out, open(os.path.join(OUT, f"{tag}-lenbins.json"), "w"), indent=1)
    print(tag, json.dumps(out, indent=1))


def load_X(cfg):
    if cfg == "AB":
        A, B = load_X("A"), load_X("B")
        return (sp.hstack([A, B], format="csr") * np.float32(1 / math.sqrt(2))).astype(np.float32).tocsr()
    return sp.load_npz(os.path.join(OUT, cfg + ".npz")).tocsr()


def cached(path, build):
    if os.path.exists(path):
        return json.load(open(path))
    v = build()
    json.dump(v, open(path + ".tmp", "w"))
    os.replace(path + ".tmp", path)
    return v


def oof_scores(tag, y, tr, fold):
    s = np.full(len(y), np.nan)
    for k in range(tf.FOLDS):
        s[tr & (fold == k)] = json.load(open(os.path.join(OUT, f"{tag}-fold{k}.json")))
    return s


def evaluate(cfg, C=tf.C, hn_from=None, hn_factor=3.0, hn_top=0.05):
    """hn_from: the tag of a finished run whose out-of-fold scores choose the hard negatives: in every human
    training source, the texts above its (1 - hn_top) quantile weigh hn_factor times more."""
    t0 = time.time()
    m = json.load(open(os.path.join(OUT, "meta.json")))
    y = np.array(m["y"]); split = np.array(m["split"]); source = np.array(m["source"]); fam = np.array(m["family"])
    groups = np.array([f"{a}|{b}" for a, b in zip(y, source)])
    X = load_X(cfg)
    tr, dev, test = split == "train", split == "dev", split == "test"
    th, tm = test & (y == 0), test & (y == 1)
    tag = f"{cfg}-C{C:g}" + (f"-hn{hn_factor:g}x{hn_top:g}-from-{hn_from}" if hn_from else "")
    mult = np.ones(len(y))
    fold = np.full(len(y), -1)
    fold[tr] = tf.source_folds(source[tr].tolist())
    if hn_from:
        prev = oof_scores(hn_from, y, tr, fold)
        for src in sorted(set(source[tr & (y == 0)])):
            m = tr & (y == 0) & (source == src)
            q = np.quantile(prev[m], 1 - hn_top)
            mult[m & (prev >= q)] = hn_factor
        print(tag, "hard negatives", int((mult > 1).sum()), flush=True)
    from sklearn.linear_model import LogisticRegression

    def fit_score(mask, rows):
        clf = LogisticRegression(C=C, solver="liblinear", max_iter=300)
        clf.fit(X[mask], y[mask], sample_weight=tf.sample_weights(groups[mask]) * mult[mask])
        return clf.decision_function(X[rows])

    def full():
        rows = ~tr
        return fit_score(tr, rows).tolist()
    s = np.full(len(y), np.nan)
    s[~tr] = cached(os.path.join(OUT, f"{tag}-full.json"), full)
    print(tag, "full", time.time() - t0, flush=True)
    for k in range(tf.FOLDS):
        held = tr & (fold == k)
        s[held] = cached(os.path.join(OUT, f"{tag}-fold{k}.json"), lambda: fit_score(tr & (fold != k), held).tolist())
        print(tag, "fold", k, time.time() - t0, flush=True)
    res = {"cfg": tag, "oof_auroc": auroc(y[tr], s[tr]), "dev_auroc": auroc(y[dev], s[dev]),
           "dev_tpr1": tpr_at_fpr(y[dev], s[dev], 0.01), "test_auroc": auroc(y[test], s[test]),
           "test_tpr1": tpr_at_fpr(y[test], s[test], 0.01)}
    # per-source-threshold: lowest with every OOF train human source <= 1%
    hum = tr & (y == 0)
    # each source's own 1% point; the threshold is the highest of them
    src_thr = source_thresholds(s, hum, source)
    thr = max(src_thr.values())
    res["test_human_fpr_at_thr"] = {src: round(float((s[th & (source == src)] > thr).mean()), 4) for src in sorted(set(source[th]))}
    res["test_machine_tpr_at_thr"] = {src: round(float((s[tm & (source == src)] > thr).mean()), 4) for src in sorted(set(source[tm]))}
    res["oof_machine_tpr_at_thr"] = round(float((s[tr & (y == 1)] > thr).mean()), 4)
    res["dev_tpr_at_thr"] = round(float((s[dev & (y == 1)] > thr).mean()), 4)
    res["dev_fpr_at_thr"] = round(float((s[dev & (y == 0)] > thr).mean()), 4)
    res["binding_source"] = [src for src, t in src_thr.items() if t == thr]
    res["oof_src_auroc"] = {}
    for src in sorted(set(source[tr & (y == 1)])):
        mm = tr & (y == 1) & (source == src)
        res["oof_src_auroc"][src] = round(auroc(np.r_[np.zeros(hum.sum()), np.ones(mm.sum())], np.r_[s[hum], s[mm]]), 4)
    res["logo"] = {}
    for f in ("openai", "anthropic", "legacy"):
        fm = (y == 1) & (fam == f)
        sc = cached(os.path.join(OUT, f"{tag}-logo-{f}.json"),
                    lambda: fit_score(tr & (fam != f), th | fm).tolist())
        sc = np.array(sc); lab = y[th | fm]
        res["logo"][f] = auroc(lab, sc)
        print(tag, "logo", f, res["logo"][f], time.time() - t0, flush=True)
    json.dump(res, open(os.path.join(OUT, f"{tag}-result.json"), "w"), indent=1)
    print(json.dumps(res, indent=1))


def main():
    if sys.argv[1] == "prep":
        prep(tuple(sys.argv[2:]) or ("B", "A"))
    elif sys.argv[1] == "lengths":
        lengths()
    elif sys.argv[1] == "bins":
        length_bins(sys.argv[2])
    else:
        evaluate(sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else tf.C,
                 sys.argv[4] if len(sys.argv) > 4 else None)


if __name__ == "__main__":
    main()
