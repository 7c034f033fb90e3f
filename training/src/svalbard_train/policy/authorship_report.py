"""Markdown tables of the authorship figures, from the files that measured them (standard library only):
models/fast/metrics.json (svalbard_train.fast.train), BENCH/report.json of `svalbard bench --group-by source,family`
on the test and dev sets, and the invariance report of `svalbard bench --invariance`.

    .venv/bin/python -m svalbard_train.policy.authorship_report --test bench-data/bench-test --dev bench-data/bench-dev \\
        --invariance bench-data/invariance/invariance.json > table.md
"""
import argparse
import json
import os

from svalbard_train import paths
from svalbard_train.data.authorship import WEB_PAGE_SOURCES as WEB_PAGES


def rows(report, by, signal):
    return [r for r in report["reports"][by]["rows"] if r["signal"] == signal]


def pct(x):
    return "n/a" if x is None else f"{100 * x:.2f}%"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--metrics", default=os.path.join(paths.model_dir("fast"), "metrics.json"))
    ap.add_argument("--test", required=True)
    ap.add_argument("--dev", required=True)
    ap.add_argument("--invariance")
    a = ap.parse_args()
    m = json.load(open(a.metrics))
    test = json.load(open(a.test + "/report.json"))
    dev = json.load(open(a.dev + "/report.json"))
    thr = test["policy_threshold"]
    print(f"p_machine threshold {thr:.4f}; `fast` card threshold {m['threshold']:.4f}.\n")
    print("Held-out human sources (never used for training, thresholds or choices), at the shipped threshold:\n")
    print("| source | kind | documents | flagged by p_machine | FPR | 95% upper (Clopper-Pearson) | flagged by fast alone |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows(test, "source", "p_machine"):
        if not r["n_human"]:
            continue
        f = m["test_human_fpr"].get(r["group"], {})
        kind = "web page" if r["group"] in WEB_PAGES else "other"
        print(f"| {r['group']} | {kind} | {r['n_human']} | {r['human_flagged']} | {pct(r['fpr'])} | "
              f"{pct(r['fpr_upper95'])} | {f.get('flagged', 'n/a')} |")
    print("\nHeld-out machine sources, at the same threshold:\n")
    print("| source | documents | caught by p_machine | caught by fast alone |")
    print("|---|---:|---:|---:|")
    for r in rows(test, "source", "p_machine"):
        if r["n_machine"] and not r["n_human"]:
            print(f"| {r['group']} | {r['n_machine']} | {pct(r['recall'])} | "
                  f"{pct(m['test_machine_tpr'].get(r['group']))} |")
    print("\nOverall (bench, 95% bootstrap intervals):\n")
    print("| set | column | AUROC | TPR at 1% FPR | FPR at threshold | TPR at threshold |")
    print("|---|---|---:|---:|---:|---:|")
    for name, rep in (("test", test), ("dev", dev)):
        for col in ("p_machine", "fast_p_machine"):
            r = rows(rep, "overall", col)[0] if rep["reports"]["overall"]["rows"] else None
            tpr1 = next(t["tpr"] for t in r["tpr_at_fpr"] if abs(t["fpr"] - 0.01) < 1e-9)
            ci = r.get("ci", {})
            auroc_ci = ci.get("auroc")
            auroc = f"{r['auroc']:.4f}" + (f" ({auroc_ci[0]:.3f}-{auroc_ci[1]:.3f})" if auroc_ci else "")
            atthr = f"{pct(r['fpr'])} | {pct(r['recall'])}" if col == "p_machine" else "(own 1% point) | "
            print(f"| {name} | {col} | {auroc} | {tpr1:.3f} | {atthr} |")
    print("\nLeave one generator family out (`fast` refitted without the family; its texts against the held-out "
          "human sources):\n")
    print("| family | texts | AUROC without the family | AUROC of the shipped model |")
    print("|---|---:|---:|---:|")
    for fam, v in sorted(m["logo"].items()):
        print(f"| {fam} | {v['n_machine']} | {v['auroc']:.3f} | {v.get('auroc_shipped', float('nan')):.3f} |")
    print("\nEssays kept out of training, `fast` alone at its threshold:\n")
    for k in ("native", "non_native"):
        e = m[f"test_essays_{k}"]
        print(f"- {k.replace('_', '-')} writers: {e['flagged']} of {e['n']} flagged ({pct(e['rate'])}, "
              f"95% upper {pct(e['upper95'])})")
    if a.invariance:
        inv = json.load(open(a.invariance))["invariance"]
        print(f"\nInvariance ({inv['documents']} documents; |Δ p_machine| over the documents each transformation "
              "changed):\n")
        print("| transformation | changed | max | p99 | flips |")
        print("|---|---:|---:|---:|---:|")
        for t in inv["transformations"]:
            s = next(x for x in t["shifts"] if x["column"] == "p_machine")
            print(f"| {t['name']} | {t['changed']} | {s['max_abs_delta']:.4f} | {s['p99_abs_delta']:.4f} | {s['flips']} |")


if __name__ == "__main__":
    main()
