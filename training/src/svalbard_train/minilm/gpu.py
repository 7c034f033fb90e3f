"""The GPU run of the transformer detector (the GPU issue, step 1), prepared and dry-run on the CPU.

A lent GPU machine has minutes of device time in all, no package registry, and takes at most 64 MiB of files per
call, and gives back at most 8 files of 16 MiB. So the work is split:

  pack    (here, CPU) the encoder's weights in fp16 and every authorship text already cut and tokenized, as the
          engine cuts and tokenizes them (the canonical view's first 1024 bytes, 128 tokens), into DIR: what
          the device needs besides the repository, with no tokenizer, no PyPI package and no shared data.
  train   (there) fine-tune on CUDA in bf16 autocast for a wall-clock budget, with the LR schedule planned from
          the measured step time; score dev; write the fine-tuned weights (fp16, in files under 16 MiB), the
          dev scores and train.json to OUT.
  export  (here) the weights that came back as ONNX (fp32 and int8, as svalbard_train.minilm.train exports),
          checked against the device's dev scores; with --data, dev and test scored by the fp32 graph, for
          svalbard_train.minilm.authorship_probe's report beside `fast`.

Training data: the authorship training split (svalbard_train.data.authorship, as svalbard_train.fast.train writes
it); each epoch draws as many texts as the split holds, with replacement, with `fast`'s sample weights (each
source weighs the square root of its size, human and machine alike).

    .venv/bin/python -m svalbard_train.minilm.gpu pack --data bench-data/authorship --out .gpu/minilm
    # on the device (scripts/gpu_minilm.sh):  python3 -m svalbard_train.minilm.gpu train --pack .gpu/minilm --out $OUT
    .venv/bin/python -m svalbard_train.minilm.gpu export --pack .gpu/minilm --run DIR --out /tmp/minilm-gpu \
        --data bench-data/authorship
    .venv/bin/python -m svalbard_train.minilm.authorship_probe --report --out /tmp/minilm-gpu \
        --engine-dev ... --engine-test ...
Dry run on the CPU: `pack --limit 300`, then `train --device cpu --budget-s 20`.
"""
from __future__ import annotations

import argparse
import io
import json
import lzma
import os
import time

import numpy as np

from svalbard_train.minilm import train as tm

# Test is not packed: it is scored here through the exported graph, and leaving it out keeps the pack and the
# repository within what one device call carries.
SPLITS = ("train", "dev")
SHARD_BYTES = 15 << 20  # under the 16 MiB a file may have to come back from the device
SEED = 20261207


# ---------------------------------------------------------------- pack (CPU)

def pack(args):
    from safetensors.torch import save_file

    from svalbard_train import canonical as cn
    from svalbard_train.data.authorship import read_split, weight_group
    from svalbard_train.fast.train import sample_weights

    os.makedirs(args.out, exist_ok=True)
    model = tm.build_model(with_pretrained=True)
    state = {k: v.half().contiguous() for k, v in model.state_dict().items() if not k.startswith("head.")}
    save_file(state, os.path.join(args.out, "encoder.fp16.safetensors"))
    with open(os.path.join(tm.package_model_dir(), "config.json")) as f:
        config = json.load(f)
    tok = tm.load_tokenizer()
    arrays, meta = {}, {"config": config, "max_length": tm.MAX_LENGTH, "max_bytes": tm.MAX_BYTES, "splits": {}}
    for split in SPLITS:
        recs = read_split(args.data, split)
        if args.limit:
            step = max(1, len(recs) // args.limit)
            recs = recs[::step][:args.limit]
        ids = tm.encode(tok, [cn.canonical(r["text"]) for r in recs])
        lengths = np.array([len(x) for x in ids], dtype=np.int32)
        sources = sorted({r["source"] for r in recs})
        families = sorted({r["family"] for r in recs})
        arrays[f"{split}_ids"] = np.concatenate([np.asarray(x, dtype=np.uint16) for x in ids])
        arrays[f"{split}_lengths"] = lengths
        arrays[f"{split}_label"] = np.array([r["label"] == "machine" for r in recs], dtype=np.uint8)
        arrays[f"{split}_source"] = np.array([sources.index(r["source"]) for r in recs], dtype=np.uint16)
        arrays[f"{split}_family"] = np.array([families.index(r["family"]) for r in recs], dtype=np.uint8)
        if split == "train":
            arrays["train_weight"] = sample_weights(np.array([weight_group(r) for r in recs])).astype(np.float32)
        meta["splits"][split] = {"n": len(recs), "sources": sources, "families": families,
                                 "tokens": int(lengths.sum())}
    assert max(int(a.max()) for k, a in arrays.items() if k.endswith("_ids")) < 1 << 16
    # xz holds the token ids in 30% less than savez_compressed's zlib: room the device call needs.
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with open(os.path.join(args.out, "data.npz.xz.tmp"), "wb") as f:
        f.write(lzma.compress(buf.getvalue(), preset=6))
    os.replace(os.path.join(args.out, "data.npz.xz.tmp"), os.path.join(args.out, "data.npz.xz"))
    tm.save_json(os.path.join(args.out, "meta.json"), meta)
    sizes = {f: os.path.getsize(os.path.join(args.out, f)) for f in sorted(os.listdir(args.out))}
    total = sum(sizes.values())
    print(json.dumps({"bytes": sizes, "total_mib": round(total / 2**20, 1)}), flush=True)
    if total > args.max_mib * 2**20:
        raise SystemExit(f"{args.out}: {total / 2**20:.1f} MiB, over --max-mib {args.max_mib}: the device takes "
                         "64 MiB per call with the repository; pack fewer texts (--limit)")


# ---------------------------------------------------------------- train (device)

def load_pack(path):
    with open(os.path.join(path, "meta.json")) as f:
        meta = json.load(f)
    with open(os.path.join(path, "data.npz.xz"), "rb") as f:
        data = dict(np.load(io.BytesIO(lzma.decompress(f.read()))))
    texts = {}
    for split in SPLITS:
        ends = np.cumsum(data[f"{split}_lengths"])
        starts = ends - data[f"{split}_lengths"]
        flat = data[f"{split}_ids"].astype(np.int64)
        texts[split] = [flat[a:b] for a, b in zip(starts, ends)]
    return meta, data, texts


def padded(seqs, device):
    """svalbard_train.minilm.train.pad's batch, on `device`."""
    import torch

    ids, mask = tm.pad(seqs)
    return torch.from_numpy(ids).to(device, non_blocking=True), torch.from_numpy(mask).to(device, non_blocking=True)


def build(meta, pack_dir, device):
    from safetensors.torch import load_file

    model = tm.build_model(with_pretrained=False, config=meta["config"])
    state = {k: v.float() for k, v in load_file(os.path.join(pack_dir, "encoder.fp16.safetensors")).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert set(missing) == {"head.weight", "head.bias"} and not unexpected, (missing, unexpected)
    return model.to(device)


def score(model, seqs, device, batch):
    """p_machine per token sequence, in bf16 autocast as trained, in batches of similar length."""
    import torch

    order = np.argsort([len(x) for x in seqs], kind="stable")
    out = np.zeros(len(seqs), dtype=np.float64)
    model.eval()
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16):
        for k in range(0, len(order), batch):
            idx = order[k:k + batch]
            ids, mask = padded([seqs[i] for i in idx], device)
            out[idx] = torch.sigmoid(model(ids, mask).float()).cpu().numpy()
    return out


def train(args):
    import torch

    t_start = time.time()
    device = torch.device(args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(SEED)
    os.makedirs(args.out, exist_ok=True)
    meta, data, texts = load_pack(args.pack)
    model = build(meta, args.pack, device)
    opt = tm.make_optimizer(model, args.lr)
    base = [g["lr"] for g in opt.param_groups]
    y = torch.from_numpy(data["train_label"].astype(np.float32))
    w = data["train_weight"].astype(np.float64)
    rng = np.random.default_rng(SEED)
    n = len(texts["train"])

    def epoch_batches():
        """One epoch: n texts drawn with `fast`'s weights, in batches of similar length (padding is waste)."""
        draw = rng.choice(n, size=n, replace=True, p=w / w.sum())
        out = []
        for k in range(0, n, args.batch * 50):
            window = sorted(draw[k:k + args.batch * 50], key=lambda i: len(texts["train"][i]))
            out += [window[j:j + args.batch] for j in range(0, len(window) - args.batch + 1, args.batch)]
        rng.shuffle(out)
        return out

    def step(batch, factor):
        for g, b0 in zip(opt.param_groups, base):
            g["lr"] = b0 * factor
        ids, mask = padded([texts["train"][i] for i in batch], device)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            logits = model(ids, mask)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), y[batch].to(device))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    # Plan the schedule from the measured speed: warm-up steps at a tiny rate, timed, then as many steps as the
    # budget holds (whole epochs or not), with 6% warm-up and linear decay to 0.
    model.train()
    batches = epoch_batches()
    timing = batches[:args.timing_steps]
    for b in timing[:3]:
        step(b, 1e-3)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.time()
    for b in timing[3:]:
        step(b, 1e-3)
    if device.type == "cuda":
        torch.cuda.synchronize()
    per_step = (time.time() - t0) / max(1, len(timing) - 3)
    total = max(10, int(args.budget_s / per_step))
    warm = max(1, int(0.06 * total))
    print(f"{device}: {per_step * 1000:.1f} ms per step of {args.batch}; {total} steps "
          f"({total * args.batch / n:.2f} epochs of {n})", flush=True)
    losses, t0, done = [], time.time(), 0
    while done < total:
        for b in batches:
            if done == total:
                break
            losses.append(step(b, tm.lr_factor(done, warm, total)).detach())
            done += 1
            if done % 200 == 0 or done == total:
                print(f"  step {done}/{total} loss(avg200) {torch.stack(losses[-200:]).mean().item():.4f} "
                      f"{time.time() - t0:.0f}s", flush=True)
        batches = epoch_batches()
    train_s = time.time() - t0
    result = {"device": str(device), "device_name": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
              "batch": args.batch, "lr": args.lr, "steps": total, "ms_per_step": per_step * 1000,
              "epochs": total * args.batch / n, "train_texts": n, "train_seconds": train_s, "torch": torch.__version__}
    t0 = time.time()
    np.save(os.path.join(args.out, "scores-dev.npy"), score(model, texts["dev"], device, args.batch * 4))
    result["score_seconds"] = time.time() - t0
    save_shards(model, args.out)
    result["seconds"] = time.time() - t_start
    tm.save_json(os.path.join(args.out, "train.json"), result)
    print(json.dumps(result), flush=True)


def save_shards(model, out):
    """The fine-tuned weights in fp16, in files under SHARD_BYTES (weights-K.safetensors). A tensor larger than
    that (the word embeddings) is cut by rows into parts named `name@i`, which `load_shards` joins."""
    from safetensors.torch import save_file

    parts = []
    for name, v in model.state_dict().items():
        v = v.detach().half().cpu().contiguous()
        rows = max(1, SHARD_BYTES // max(1, v[0].numel() * 2)) if v.dim() > 1 else len(v)
        if v.numel() * 2 <= SHARD_BYTES:
            parts.append((name, v))
        else:
            parts += [(f"{name}@{i}", v[a:a + rows].contiguous()) for i, a in enumerate(range(0, len(v), rows))]
    shard, size, k = {}, 0, 0
    for name, v in parts:
        if shard and size + v.numel() * 2 > SHARD_BYTES:
            save_file(shard, os.path.join(out, f"weights-{k}.safetensors"))
            shard, size, k = {}, 0, k + 1
        shard[name] = v
        size += v.numel() * 2
    save_file(shard, os.path.join(out, f"weights-{k}.safetensors"))


def load_shards(run):
    """The state dict `save_shards` wrote, in fp32."""
    import glob

    import torch
    from safetensors.torch import load_file

    parts = {}
    for path in sorted(glob.glob(os.path.join(run, "weights-*.safetensors"))):
        parts.update(load_file(path))
    state = {}
    for name in sorted({k.split("@")[0] for k in parts}):
        if name in parts:
            state[name] = parts[name].float()
        else:
            pieces = sorted((int(k.split("@")[1]), v) for k, v in parts.items() if k.split("@")[0] == name)
            state[name] = torch.cat([v for _, v in pieces]).float()
    return state


# ---------------------------------------------------------------- export (CPU)

def export(args):
    """ONNX (fp32, int8) from the weights that came back, and how far the fp32 graph's dev scores are from the
    device's (bf16 autocast there, so up to about 1e-2 apart; a wrong weight shows as far more)."""
    import onnxruntime as ort

    meta, _, texts = load_pack(args.pack)
    model = tm.build_model(with_pretrained=False, config=meta["config"])
    model.load_state_dict(load_shards(args.run))
    os.makedirs(args.out, exist_ok=True)
    fp32 = os.path.join(args.out, "model.fp32.onnx")
    tm.export_onnx(model, fp32, os.path.join(args.out, "model.onnx"))
    device_scores = np.load(os.path.join(args.run, "scores-dev.npy"))
    sess = ort.InferenceSession(fp32, providers=["CPUExecutionProvider"])
    k = min(len(device_scores), args.check)
    ours = np.array([sess.run(["p_machine"], {"input_ids": x[None, :], "attention_mask": np.ones((1, len(x)), np.int64)})[0][0]
                     for x in texts["dev"][:k]])
    diff = float(np.abs(ours - device_scores[:k]).max())
    print(f"{args.out}: model.fp32.onnx, model.onnx (int8); dev, first {k}: max |onnx fp32 - device| = {diff:.2e}",
          flush=True)
    if diff > 0.1:
        raise SystemExit("the exported graph does not reproduce the device's scores")
    if args.data:
        # Dev and test through the fp32 graph, as the engine reads it: scores-{dev,test}.npy beside the graphs, so
        # that `svalbard_train.minilm.authorship_probe --report --out OUT` judges them beside `fast`.
        from svalbard_train import canonical as cn
        from svalbard_train.data.authorship import read_split

        tok = tm.load_tokenizer()
        for split in ("dev", "test"):
            recs = read_split(args.data, split)
            s = tm.ort_scores(fp32, tok, [cn.canonical(r["text"]) for r in recs])
            np.save(os.path.join(args.out, f"scores-{split}.npy"), s)
            print(f"{split}: {len(recs)} texts scored by the fp32 graph", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--data", default="bench-data/authorship")
    p.add_argument("--out", default=".gpu/minilm")
    p.add_argument("--limit", type=int, default=0, help="at most this many texts per split (a dry run)")
    p.add_argument("--max-mib", type=float, default=54)
    t = sub.add_parser("train")
    t.add_argument("--pack", default=".gpu/minilm")
    t.add_argument("--out", required=True)
    t.add_argument("--device", default="auto")
    t.add_argument("--budget-s", type=float, default=300, help="wall seconds of training steps")
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--lr", type=float, default=1e-4)
    t.add_argument("--timing-steps", type=int, default=23)
    e = sub.add_parser("export")
    e.add_argument("--pack", default=".gpu/minilm")
    e.add_argument("--run", required=True, help="the device's OUT, as it came back")
    e.add_argument("--out", required=True)
    e.add_argument("--check", type=int, default=200, help="dev texts scored by the fp32 graph against the device")
    e.add_argument("--data", help="svalbard_train.fast.train's --out: also score its dev and test with the fp32 graph")
    args = ap.parse_args()
    {"pack": pack, "train": train, "export": export}[args.cmd](args)


if __name__ == "__main__":
    main()
