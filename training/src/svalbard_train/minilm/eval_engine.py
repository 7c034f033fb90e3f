"""Evaluates a token classifier (default models/minilm) *through the Rust binary*, so the numbers are what
users get: writes the evaluation sets as JSONL (detect/dev, held-out web_text, held-out books, same splits
as svalbard_train.data.corpora), runs `svalbard filter` with the cheap heuristics and the ensemble off and only
the classifier on, reads the output Arrow IPC parts back and computes the tables of svalbard_train.fast.evaluate.
Also measures throughput (docs/s, MB/s at -j 1 and -j 2) of `fast` and `minilm` alone on a ~2000-doc dev
sample, and the classifier's share of pipeline time (default heuristics + classifier vs heuristics only).

    nice -n 10 .venv/bin/python -m svalbard_train.minilm.eval_engine accuracy     # -> models/minilm/work/rust_eval.json
    nice -n 10 .venv/bin/python -m svalbard_train.minilm.eval_engine throughput   # -> models/minilm/work/throughput.json
Every svalbard command line run is stored next to its numbers in the JSON.
"""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import time
import tomllib

import numpy as np

from svalbard_train import paths
from svalbard_train.data import corpora as fd
from svalbard_train.fast import evaluate as ev

ROOT = paths.REPO
OUT = os.path.join("out", "minilm-eval")
BIN = os.environ.get("SVALBARD_BIN", "target/release/svalbard")
WORK = os.path.join(paths.model_dir("minilm"), "work")

with open(os.path.join(paths.SCRIPTS, "heuristics-off.toml")) as f:
    HEUR_OFF = f.read()
ENSEMBLE_OFF = "[ensemble]\nenabled = false\n"


def cfg(name, heuristics: bool, model: str | None):
    """heuristics: the default Gopher/C4/FineWeb/vocab signals on (else off); model: the only classifier
    (None: classifiers = []). The ensemble is off in every run so that only the listed signals run."""
    text = "" if model is not None else "[signals]\nclassifiers = []\n\n"
    text += ("" if heuristics else HEUR_OFF) + ENSEMBLE_OFF
    if model is not None:
        text += f'\n[[signals.classifiers]]\nmodel = "{model}"\n'
    path = os.path.join(OUT, f"{name}.toml")
    os.makedirs(os.path.join(ROOT, OUT), exist_ok=True)
    with open(os.path.join(ROOT, path), "w") as f:
        f.write(text)
    return path


def write_jsonl(path, recs, prefix):
    with open(path, "w", encoding="utf-8") as f:
        for i, r in enumerate(recs):
            f.write(json.dumps({"id": f"{prefix}-{i}", "text": r["text"]}, ensure_ascii=False) + "\n")


def run(args):
    t0 = time.time()
    p = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    wall = time.time() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(args)} -> exit {p.returncode}\n{p.stderr[-3000:]}")
    return wall, json.loads(p.stdout)


def read_scores(outdir, column):
    import pyarrow.ipc as ipc

    scores = {}
    for part in glob.glob(os.path.join(ROOT, outdir, "clean", "*.arrow")) + \
            glob.glob(os.path.join(ROOT, outdir, "rejected", "*.arrow")):
        with open(part, "rb") as f:
            try:
                t = ipc.open_file(f).read_all()
            except Exception:
                f.seek(0)
                t = ipc.open_stream(f).read_all()
        for i, s in zip(t.column("id").to_pylist(), t.column(column).to_pylist()):
            scores[i] = s
    return scores


def accuracy(model="models/minilm"):
    card_dir = "models/fast" if model == "builtin:fast" else model
    card = tomllib.load(open(os.path.join(ROOT, card_dir, "model.toml"), "rb"))
    name, threshold = card["name"], card["decision"]["threshold"]
    _, evals = fd.load_all()
    inp = os.path.join(OUT, "inputs")
    os.makedirs(os.path.join(ROOT, inp), exist_ok=True)
    files = []
    for k in ("dev", "web_heldout", "books_heldout"):
        p = os.path.join(inp, f"{k}.jsonl")
        write_jsonl(os.path.join(ROOT, p), evals[k], k)
        files.append(p)
    c = cfg(f"acc_{name}", heuristics=False, model=model)
    outdir = os.path.join(OUT, f"acc_{name}")
    cmd = [BIN, "filter", *files, "--output", outdir, "-c", c, "--overwrite", "-q", "-j", "2", "--json"]
    wall, stats = run(cmd)
    sc = read_scores(outdir, f"{name}_p_machine")
    scores = {k: np.array([sc[f"{k}-{i}"] for i in range(len(evals[k]))], dtype=np.float64)
              for k in ("dev", "web_heldout", "books_heldout")}
    res = ev.evaluate(evals, scores, threshold)
    res["command"] = " ".join(cmd)
    res["config"] = open(os.path.join(ROOT, c)).read()
    res["wall_s"] = wall
    res["docs"] = stats["totals"]["docs_in"]
    np.save(os.path.join(WORK, f"rust_dev_scores_{name}.npy"), scores["dev"])
    py = os.path.join(WORK, "dev_scores_int8.npy")
    if os.path.exists(py) and name == "minilm":
        pd = np.load(py)
        res["rust_vs_python_int8_dev_max_abs_diff"] = float(np.abs(pd - scores["dev"]).max())
        res["rust_vs_python_int8_dev_mean_abs_diff"] = float(np.abs(pd - scores["dev"]).mean())
    with open(os.path.join(WORK, f"rust_eval_{name}.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(ev.summary(res))
    print(json.dumps({k: res[k] for k in res if k.startswith("rust_vs")}))


def throughput(reps=1):
    dev = fd.load_detect("dev.jsonl")
    sample = dev[::2]
    p = os.path.join(OUT, "inputs", "dev_sample.jsonl")
    os.makedirs(os.path.join(ROOT, OUT, "inputs"), exist_ok=True)
    write_jsonl(os.path.join(ROOT, p), sample, "s")
    nbytes = os.path.getsize(os.path.join(ROOT, p))
    runs = []
    setups = [("fast_only", False, "builtin:fast"), ("minilm_only", False, "models/minilm"),
              ("minilm_fp32_only", False, "models/minilm/model.fp32.toml"),
              ("heuristics_only", True, None), ("heuristics_fast", True, "builtin:fast"),
              ("heuristics_minilm", True, "models/minilm")]
    for name, heur, model in setups:
        c = cfg(f"tp_{name}", heur, model)
        for j in (1, 2):
            best = None
            for _ in range(reps):
                outdir = os.path.join(OUT, f"tp_{name}_j{j}")
                cmd = [BIN, "filter", p, "--output", outdir, "-c", c, "--overwrite", "-q", "-j", str(j), "--json"]
                load = open("/proc/loadavg").read().split()[0]
                wall, stats = run(cmd)
                r = {"setup": name, "threads": j, "reps": reps, "docs": stats["totals"]["docs_in"], "bytes": nbytes,
                     "wall_s": wall, "engine_elapsed_s": stats["elapsed_s"],
                     "docs_per_s": stats["totals"]["docs_in"] / stats["elapsed_s"],
                     "mb_per_s": nbytes / 1e6 / stats["elapsed_s"], "loadavg_before": float(load),
                     "command": " ".join(cmd), "config": open(os.path.join(ROOT, c)).read()}
                if best is None or r["engine_elapsed_s"] < best["engine_elapsed_s"]:
                    best = r
            runs.append(best)
            print(f"{name} -j {j}: {best['docs_per_s']:.1f} docs/s, {best['mb_per_s']:.3f} MB/s "
                  f"({best['engine_elapsed_s']:.1f}s, load {best['loadavg_before']})", flush=True)
    with open(os.path.join(WORK, "throughput.json"), "w") as f:
        json.dump(runs, f, indent=1)


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "accuracy"
    if what == "accuracy":
        accuracy(*(sys.argv[2:3]))
    elif what == "throughput":
        throughput(int(os.environ.get("REPS", "1")))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
