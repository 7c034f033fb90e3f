"""Does a fine-tuned transformer generalise across sources and generator families better than `fast`'s n-grams?

Fine-tunes MiniLM-L6 exactly as svalbard_train.minilm.train does (hand-written BERT, mean pooling, linear head, the
first 1024 bytes / 128 tokens, AdamW with warm-up and linear decay, bf16 autocast), but on the authorship splits that
`fast` is judged on (svalbard_train.data.authorship, written by svalbard_train.fast.train to DATA/{train,dev,test}.jsonl)
and on their canonical view (svalbard_train.canonical), so the two detectors are compared on the same documents:
* `dev`: in-distribution (the training sources, other prompts);
* `test`: sources never trained on (saved web pages, BBC, e-mail, Stack Exchange, essays; GPTeacher, TruthfulQA);
* with `--without-family F`, family F's machine texts are left out of training and F is judged on dev against dev's
  human texts, as svalbard_train.fast.train's leave-one-family-out does.

The training texts are a subsample drawn with `fast`'s sample weights (each source weighs the square root of its size,
human and machine alike), so one epoch fits a CPU session. Each stage keeps its result under OUT (model.pt,
scores-*.npy), so a killed run resumes after the last finished stage.

    .venv/bin/python -m svalbard_train.minilm.authorship_probe --data bench-data/authorship --out /tmp/minilm-probe
    .venv/bin/python -m svalbard_train.minilm.authorship_probe ... --without-family openai
    .venv/bin/python -m svalbard_train.minilm.authorship_probe ... --report --engine-dev DIR --engine-test DIR
The report reads `fast` and the default policy's columns from `svalbard filter --score-all` outputs of the same
dev/test files, to put both detectors side by side on the same rows.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import time

import numpy as np

from svalbard_train import canonical as cn
from svalbard_train import paths
from svalbard_train.data.authorship import read_split, weight_group
from svalbard_train.fast.train import sample_weights
from svalbard_train.metrics import auroc, tpr_at_fpr
from svalbard_train.minilm import gpu
from svalbard_train.minilm import train as tm

SEED = 20261207


def save_npy(path, array):
    """`array` at `path`, written whole or not at all (a killed run resumes after the files that exist)."""
    np.save(path + ".tmp.npy", array)
    os.replace(path + ".tmp.npy", path)


def training_subsample(recs, n, without_family):
    """`n` training records drawn without replacement with probability proportional to `fast`'s sample weights,
    family `without_family`'s machine texts excluded."""
    keep = [i for i, r in enumerate(recs) if not (without_family and r["family"] == without_family)]
    groups = np.array([weight_group(recs[i]) for i in keep])
    w = sample_weights(groups)
    rng = np.random.default_rng(SEED)
    pick = rng.choice(len(keep), size=min(n, len(keep)), replace=False, p=w / w.sum())
    return [keep[i] for i in sorted(pick)]


def score(model, tok, texts):
    """p_machine per text on the CPU, in bf16 autocast as trained (svalbard_train.minilm.gpu.score)."""
    import torch

    return gpu.score(model, tm.encode(tok, texts), torch.device("cpu"), 64)


def out_of_fold(args):
    """Scores of every training text from a model fine-tuned without the text's source: folds by source
    (svalbard_train.fast.train.source_folds), each model on a subsample of the other folds as large as their share
    of --n-train. Writes OUT/oof.npy (training-file order); each finished fold is kept (OUT/oof-K.npy)."""
    import torch

    from svalbard_train.fast.train import source_folds

    os.makedirs(args.out, exist_ok=True)
    final = os.path.join(args.out, "oof.npy")
    if os.path.exists(final):
        return
    tok = tm.load_tokenizer()
    recs = read_split(args.data, "train")
    fold = source_folds([r["source"] for r in recs], k=args.oof_folds)
    oof = np.full(len(recs), np.nan)
    for k in range(args.oof_folds):
        path = os.path.join(args.out, f"oof-{k}.npy")
        held = np.flatnonzero(fold == k)
        if not os.path.exists(path):
            t0 = time.time()
            pool = np.flatnonzero(fold != k).tolist()
            sub = training_subsample([recs[i] for i in pool], args.n_train * (args.oof_folds - 1) // args.oof_folds,
                                     None)
            rows = [pool[i] for i in sub]
            model = tm.fine_tune(tok, [cn.canonical(recs[i]["text"]) for i in rows],
                                 [1.0 if recs[i]["label"] == "machine" else 0.0 for i in rows],
                                 bf16=True, epochs=args.epochs, by_length=True)
            torch.set_num_threads(tm.THREADS)
            save_npy(path, score(model, tok, [cn.canonical(recs[i]["text"]) for i in held]))
            print(f"fold {k}: trained on {len(rows)}, scored {len(held)} in {time.time() - t0:.0f} s", flush=True)
        oof[held] = np.load(path)
    save_npy(final, oof)


def train_and_score(args):
    import torch

    os.makedirs(args.out, exist_ok=True)
    tok = tm.load_tokenizer()
    weights = os.path.join(args.out, "model.pt")
    if os.path.exists(weights):
        model = tm.build_model(with_pretrained=False)
        model.load_state_dict(torch.load(weights))
        model.eval()
    else:
        recs = read_split(args.data, "train")
        rows = training_subsample(recs, args.n_train, args.without_family)
        texts = [cn.canonical(recs[i]["text"]) for i in rows]
        y = [1.0 if recs[i]["label"] == "machine" else 0.0 for i in rows]
        print(f"training on {len(rows)} texts ({int(sum(y))} machine)", flush=True)
        t0 = time.time()
        model = tm.fine_tune(tok, texts, y, bf16=True, epochs=args.epochs, by_length=True)
        torch.save(model.state_dict(), weights + ".tmp")
        os.replace(weights + ".tmp", weights)
        tm.save_json(os.path.join(args.out, "train.json"),
                     {"n_train": len(rows), "machine": int(sum(y)), "epochs": args.epochs,
                      "without_family": args.without_family, "seconds": time.time() - t0})
    torch.set_num_threads(tm.THREADS)
    for split in (["family"] if args.without_family else ["dev", "test"]):
        path = os.path.join(args.out, f"scores-{split}.npy")
        if os.path.exists(path):
            continue
        t0 = time.time()
        recs = family_rows(args) if split == "family" else read_split(args.data, split)
        save_npy(path, score(model, tok, [cn.canonical(r["text"]) for r in recs]))
        print(f"{split}: {len(recs)} texts scored in {time.time() - t0:.0f} s", flush=True)


def family_rows(args):
    """What a model trained without family F is judged on, as in svalbard_train.fast.train's leave-one-family-out:
    the test split's human texts, then every machine text of F (training, dev and test splits)."""
    test = read_split(args.data, "test")
    rows = [r for r in test if r["label"] == "human"]
    for split in ("train", "dev", "test"):
        recs = test if split == "test" else read_split(args.data, split)
        rows += [r for r in recs if r["label"] == "machine" and r["family"] == args.without_family]
    return rows


def engine_columns(out_dir, n, columns):
    """Columns of a `svalbard filter --score-all` output, in input order (ids are `<file>:<line>`, from 1)."""
    import pyarrow.ipc as ipc

    cols = {c: np.full(n, np.nan) for c in columns}
    for f in glob.glob(os.path.join(out_dir, "*", "*.arrow")):
        t = ipc.open_file(f).read_all().to_pydict()
        for k, doc_id in enumerate(t["id"]):
            line = int(doc_id.rsplit(":", 1)[1]) - 1
            for c in columns:
                v = t[c][k]
                cols[c][line] = np.nan if v is None else v
    return cols


def logit(p):
    q = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(q / (1 - q))


def report(args):
    """AUROC and TPR at 1% FPR on dev and test, per held-out human source against the held-out machine texts and
    per family on dev, for the probe, `fast`, the shipped policy and a two-column logistic fitted on dev."""
    from sklearn.linear_model import LogisticRegression

    res = {}
    path = os.path.join(args.out, "scores-family.npy")
    if os.path.exists(path):
        y = np.array([r["label"] == "machine" for r in family_rows(args)], dtype=int)
        res["without_family"] = {"family": args.without_family, "n_machine": int(y.sum()),
                                 "auroc": auroc(y, np.load(path))}
        print(json.dumps(res["without_family"]))
    cols = ["fast_p_machine", "fast_p_machine_short", "vocab_excess_rate", "p_machine"]
    fitted = {}
    for split, eng in (("dev", args.engine_dev), ("test", args.engine_test)):
        path = os.path.join(args.out, f"scores-{split}.npy")
        if not os.path.exists(path):
            continue
        recs = read_split(args.data, split)
        y = np.array([r["label"] == "machine" for r in recs], dtype=int)
        scores = {"minilm": np.load(path)}
        if eng:
            e = engine_columns(eng, len(recs), cols)
            scores["fast"], scores["policy"] = e["fast_p_machine"], e["p_machine"]
            # The default policy's columns, as it transforms them, with and without the probe's; fitted on dev
            # (never trained on), so dev's figures for these rows are in-sample and test's are not.
            default = np.c_[logit(e["fast_p_machine"]), e["fast_p_machine_short"], e["vocab_excess_rate"]]
            for name, X in (("fast+minilm", np.c_[default[:, 0], logit(scores["minilm"])]),
                            ("default columns", default),
                            ("default columns+minilm", np.c_[default, logit(scores["minilm"])])):
                if split == "dev":
                    mu, sd = X.mean(0), X.std(0)
                    fitted[name] = (mu, sd, LogisticRegression(C=1.0).fit((X - mu) / sd, y))
                if name in fitted:
                    mu, sd, lr = fitted[name]
                    scores[name + " (fit on dev)"] = lr.predict_proba((X - mu) / sd)[:, 1]
        src = np.array([r["source"] for r in recs])
        fam = np.array([r["family"] for r in recs])
        table = {}
        for name, s in scores.items():
            row = {"auroc": auroc(y, s), "tpr_at_1fpr": tpr_at_fpr(y, s, 0.01)}
            if split == "test":
                for h in sorted(set(src[y == 0])):
                    m = (y == 1) | (src == h)
                    row[f"human:{h}"] = auroc(y[m], s[m])
            for f in sorted(set(fam[y == 1])):
                m = (y == 0) | (fam == f)
                row[f"family:{f}"] = auroc(y[m], s[m])
            table[name] = row
        res[split] = table
    out = os.path.join(args.out, "report.json")
    tm.save_json(out, res)
    for split, table in res.items():
        if split == "without_family":
            continue
        names = list(table)
        print(f"\n{split}: " + " | ".join(names))
        for k in table[names[0]]:
            print(f"  {k:40s} " + " ".join(f"{table[n].get(k, float('nan')):.4f}" for n in names))


def qa_answer_sources():
    """The human sources of QA answers that the shipped policies report at the threshold instead of guarding it:
    the one list, `qa_answer_sources=` in scripts/lib/policy_fits.sh, which the calibrate runs read."""
    path = os.path.join(paths.SCRIPTS, "lib", "policy_fits.sh")
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("qa_answer_sources="):
                return sorted(line.split("=", 1)[1].strip().split(","))
    raise RuntimeError(f"{path}: no qa_answer_sources= line")


def policy_report(args):
    """The default policy's recipe with and without the probe's column: a logistic regression over standardised
    columns, each label|source group weighing the same within its class (calibrate --balance-field group), fitted
    on the training split's out-of-fold columns; the threshold the lowest at which no training human source but
    the QA-answer ones has more than 1% flagged (--fpr-confidence 0). Judged on dev and test with the engine's
    columns and the probe's scores of those splits."""
    from sklearn.linear_model import LogisticRegression

    from svalbard_train.data.authorship import WEB_PAGE_SOURCES
    from svalbard_train.fast.train import fpr_rows, per_source_threshold

    splits = {}
    for split in ("train", "dev", "test"):
        recs = read_split(args.data, split)
        e = engine_columns(getattr(args, f"engine_{split}"), len(recs),
                           ["fast_p_machine", "fast_p_machine_short", "vocab_excess_rate"])
        if split == "train":
            fast = np.array([r["fast_p_machine_oof"] for r in recs])
            short = np.array([r["fast_p_machine_short_oof"] for r in recs])
            probe = np.load(os.path.join(args.oof_dir, "oof.npy"))
        else:
            fast, short = e["fast_p_machine"], e["fast_p_machine_short"]
            probe = np.load(os.path.join(args.out, f"scores-{split}.npy"))
        default = np.c_[logit(fast), short, e["vocab_excess_rate"]]
        splits[split] = (recs, {"default columns": default, "default columns + probe": np.c_[default, logit(probe)]})

    recs = splits["train"][0]
    y = np.array([r["label"] == "machine" for r in recs], dtype=int)
    group = np.array([r["label"] + "|" + r["source"] for r in recs])
    w = np.zeros(len(recs))
    for label in (0, 1):
        names = sorted(set(group[y == label]))
        for g in names:
            m = group == g
            w[m] = 1.0 / len(names) / m.sum()
    source = np.array([r["source"] for r in recs])
    guard = (y == 0) & ~np.isin(source, qa_answer_sources())
    res = {}
    scores = {}
    for name in splits["train"][1]:
        X = splits["train"][1][name]
        mu, sd = X.mean(0), X.std(0)
        lr = LogisticRegression(C=1.0, max_iter=1000).fit((X - mu) / sd, y, sample_weight=w * len(w))
        scores[name] = {"train": lr.predict_proba((X - mu) / sd)[:, 1]}
        for split in ("dev", "test"):
            scores[name][split] = lr.predict_proba((splits[split][1][name] - mu) / sd)[:, 1]
        res[name] = {"coef": lr.coef_[0].tolist()}
    # Cascades: the probe read only where the default columns' score is at least `lo`, chosen so that a share of
    # the guarded training humans is in the band; elsewhere the document is human. Each cascade's threshold on the
    # full stage is fitted by the same per-source rule over its own decisions.
    cheap, full = scores["default columns"], scores["default columns + probe"]
    for share in (0.02, 0.05, 0.10, 0.20):
        lo = float(np.quantile(cheap["train"][guard], 1 - share))
        scores[f"cascade, band = top {share:.0%} of training humans"] = {
            k: np.where(cheap[k] >= lo, full[k], 0.0) for k in ("train", "dev", "test")}
        res[f"cascade, band = top {share:.0%} of training humans"] = {"lo": lo}
    for name, sc in scores.items():
        p_train = sc["train"]
        threshold = per_source_threshold(p_train[guard], source[guard])
        row = res[name]
        row["threshold"] = threshold
        for split in ("dev", "test"):
            srecs = splits[split][0]
            p = sc[split]
            if name.startswith("cascade"):
                cp = cheap[split]
                row[f"{split}_in_band"] = float((cp >= row["lo"]).mean())
                web = np.array([r["source"] in WEB_PAGE_SOURCES for r in srecs])
                if web.any():
                    row[f"{split}_web_pages_in_band"] = float((cp[web] >= row["lo"]).mean())
            yy = np.array([r["label"] == "machine" for r in srecs], dtype=int)
            src = np.array([r["source"] for r in srecs])
            row[f"{split}_auroc"] = auroc(yy, p)
            row[f"{split}_tpr_at_1fpr"] = tpr_at_fpr(yy, p, 0.01)
            row[f"{split}_human_flagged"] = int((p[yy == 0] >= threshold).sum())
            row[f"{split}_human_n"] = int((yy == 0).sum())
            row[f"{split}_machine_caught"] = float((p[yy == 1] >= threshold).mean())
            if split == "test":
                row["test_human_fpr"] = fpr_rows(p[yy == 0], src[yy == 0], threshold)
                row["test_machine_tpr"] = {k: v["rate"] for k, v in fpr_rows(p[yy == 1], src[yy == 1], threshold).items()}
                writer = np.array([r["writer"] for r in srecs])
                for kind in ("native", "non-native"):
                    m = writer == kind
                    row[f"test_essays_{kind}"] = f"{int((p[m] >= threshold).sum())} / {int(m.sum())}"
        res[name] = row
    tm.save_json(os.path.join(args.out, "policy_report.json"), res)
    print(json.dumps(res, indent=1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="bench-data/authorship", help="svalbard_train.fast.train's --out")
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-train", type=int, default=16000)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--without-family", default=None)
    ap.add_argument("--oof-folds", type=int, default=0,
                    help="instead: out-of-fold scores of the training split, this many folds by source")
    ap.add_argument("--report", action="store_true", help="only the report, from the saved scores")
    ap.add_argument("--policy-report", action="store_true",
                    help="the default policy's recipe with and without the probe's column (needs --oof-dir and "
                         "--engine-{train,dev,test})")
    ap.add_argument("--oof-dir", help="the --oof-folds run's OUT")
    ap.add_argument("--engine-train", help="`svalbard filter --score-all` output of DATA/train.jsonl")
    ap.add_argument("--engine-dev", help="`svalbard filter --score-all` output of DATA/dev.jsonl")
    ap.add_argument("--engine-test", help="`svalbard filter --score-all` output of DATA/test.jsonl")
    args = ap.parse_args()
    if args.oof_folds:
        out_of_fold(args)
        return
    if args.policy_report:
        policy_report(args)
        return
    if not args.report:
        train_and_score(args)
    report(args)


if __name__ == "__main__":
    main()
