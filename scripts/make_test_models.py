#!/usr/bin/env python3
"""Build the tiny ONNX models and cards that tests/onnx.rs runs (committed under tests/fixtures/models/).

Each model's output is a simple function of its input, so the Rust tests can compute the expected score by
hand. Needs the `onnx` package (e.g. .venv-train/bin/python scripts/make_test_models.py).
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "models")


def save(model, folder, card):
    d = os.path.join(OUT, folder)
    os.makedirs(d, exist_ok=True)
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(d, "model.onnx"))
    with open(os.path.join(d, "model.toml"), "w") as f:
        f.write(card)


def hashed():
    # p = sigmoid(sum_k W[ids[b,k]] * weights[b,k] + bias), W[i] = (i % 7 - 3) / 4 over 16 buckets, bias = -0.5
    W = np.array([(i % 7 - 3) / 4 for i in range(16)], dtype=np.float32)
    nodes = [
        helper.make_node("Gather", ["W", "ids"], ["g"], axis=0),
        helper.make_node("Mul", ["g", "weights"], ["m"]),
        helper.make_node("ReduceSum", ["m", "axes"], ["s"], keepdims=0),
        helper.make_node("Add", ["s", "bias"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["p_machine"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_hashed",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["b", "k"]),
         helper.make_tensor_value_info("weights", TensorProto.FLOAT, ["b", "k"])],
        [helper.make_tensor_value_info("p_machine", TensorProto.FLOAT, ["b"])],
        [numpy_helper.from_array(W, "W"), numpy_helper.from_array(np.array([1], dtype=np.int64), "axes"),
         numpy_helper.from_array(np.array(-0.5, dtype=np.float32), "bias")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    card = """name = "tiny_hashed"
version = "test"
description = "p = sigmoid(sum W[id] * weight - 0.5), W[i] = (i % 7 - 3) / 4, 16 buckets"
[input]
kind = "hashed_ngrams"
features = "svalbard-hash-v1"
buckets = 16
max_bytes = 3000
[onnx]
file = "model.onnx"
inputs = ["ids", "weights"]
output = "p_machine"
output_kind = "probability"
[decision]
threshold = 0.5
"""
    save(model, "tiny_hashed", card)
    # Two heads on one graph: the card's extra output p_flip = sigmoid(-z) = 1 - p_machine.
    two = helper.make_graph(
        nodes + [helper.make_node("Neg", ["z"], ["neg_z"]), helper.make_node("Sigmoid", ["neg_z"], ["p_flip"])],
        "tiny_two_heads", graph.input, list(graph.output) + [helper.make_tensor_value_info("p_flip", TensorProto.FLOAT, ["b"])],
        graph.initializer)
    two_model = helper.make_model(two, opset_imports=[helper.make_opsetid("", 17)])
    two_model.ir_version = 8
    two_card = card.replace('name = "tiny_hashed"', 'name = "tiny_two_heads"').replace(
        'output_kind = "probability"', 'output_kind = "probability"\nextra_outputs = ["p_flip"]')
    save(two_model, "tiny_two_heads", two_card)
    save(two_model, "missing_head", two_card.replace('name = "tiny_two_heads"', 'name = "missing_head"').replace(
        '["p_flip"]', '["p_short"]'))
    # Same graph, a card that names tensors the graph does not have.
    save(model, "wrong_names", card.replace('inputs = ["ids", "weights"]', 'inputs = ["input_ids", "weights"]').replace('name = "tiny_hashed"', 'name = "wrong_names"'))


def tokens_model(name, nodes):
    """A tokens classifier graph: input_ids and attention_mask [b, l] in, logits [b, 2] out, with the constants
    axes = [1], scale = 0.1 and zero = 0 for `nodes` to use."""
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "l"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["b", "l"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["b", 2])],
        [numpy_helper.from_array(np.array([1], dtype=np.int64), "axes"),
         numpy_helper.from_array(np.array(0.1, dtype=np.float32), "scale"),
         numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def save_tokenizer(folder, tok):
    with open(os.path.join(OUT, folder, "tokenizer.json"), "w") as f:
        json.dump(tok, f, indent=1)


def tokens():
    # logits[b] = [0, 0.1 * sum(attention_mask[b])]: p_machine = sigmoid(0.1 * number of tokens)
    nodes = [
        helper.make_node("Cast", ["attention_mask"], ["mf"], to=TensorProto.FLOAT),
        helper.make_node("ReduceSum", ["mf", "axes"], ["n"], keepdims=1),
        helper.make_node("Mul", ["n", "scale"], ["z"]),
        helper.make_node("Mul", ["n", "zero"], ["z0"]),
        helper.make_node("Concat", ["z0", "z"], ["logits"], axis=1),
    ]
    model = tokens_model("tiny_tokens", nodes)
    card = """name = "tiny_tokens"
version = "test"
description = "logits = [0, 0.1 * tokens]: p_machine = sigmoid(0.1 * number of tokens, at most max_length)"
[input]
kind = "tokens"
tokenizer = "tokenizer.json"
max_length = 8
[onnx]
file = "model.onnx"
inputs = ["input_ids", "attention_mask"]
output = "logits"
output_kind = "logits"
machine_index = 1
[decision]
threshold = 0.6
"""
    save(model, "tiny_tokens", card)
    vocab = {"[UNK]": 0, "the": 1, "cat": 2, "sat": 3, "on": 4, "mat": 5}
    tok = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": None, "decoder": None,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"},
    }
    save_tokenizer("tiny_tokens", tok)
    batch_dependent(card, tok)


def batch_dependent(tokens_card, tok):
    """A graph whose rows depend on each other, as int8 graphs of quantize_dynamic do (a little) through their
    per-run activation scales: logits[b] = [0, 0.1 * the largest token count among the run's rows]. Its card
    says `batch_dependent = true`, so the engine runs it one row at a time and p_machine = sigmoid(0.1 * tokens),
    as for tiny_tokens."""
    nodes = [
        helper.make_node("Cast", ["attention_mask"], ["mf"], to=TensorProto.FLOAT),
        helper.make_node("ReduceSum", ["mf", "axes"], ["n"], keepdims=1),
        helper.make_node("ReduceMax", ["n"], ["nmax"], axes=[0], keepdims=1),
        helper.make_node("Mul", ["n", "zero"], ["z0"]),
        helper.make_node("Add", ["z0", "nmax"], ["nb"]),
        helper.make_node("Mul", ["nb", "scale"], ["z"]),
        helper.make_node("Concat", ["z0", "z"], ["logits"], axis=1),
    ]
    model = tokens_model("tiny_batch_dependent", nodes)
    card = tokens_card.replace('name = "tiny_tokens"', 'name = "tiny_batch_dependent"').replace(
        'description = "logits = [0, 0.1 * tokens]: p_machine = sigmoid(0.1 * number of tokens, at most max_length)"',
        'description = "logits = [0, 0.1 * the most tokens of any row in the run]: rows depend on each other"').replace(
        "machine_index = 1", "machine_index = 1\nbatch_dependent = true")
    save(model, "tiny_batch_dependent", card)
    save_tokenizer("tiny_batch_dependent", tok)


def tiny_lm(name="tiny_lm", rows_matter=False):
    """The neural_lm signal's fixture: per position t, with valid = attention_mask[t+1] (0 at the last position),
    token_logprob = -(input_ids[t+1] % 4) / 2 * valid, expected_logprob = -1 * valid, logprob_variance = 0.25 * valid.
    A WordLevel tokenizer (no start token): <pad> 0, the 1, cat 2, sat 3, on 4, mat 5, dog 6, . 7, ! 8, ? 9, [UNK] 10.
    With `rows_matter` (tiny_lm_batch_dependent) expected_logprob is -(rows in the run) * valid instead, as an
    int8 graph of quantize_dynamic depends on its batchmates; its card says `batch_dependent = true`,
    so the engine runs it one row at a time and it scores as tiny_lm does."""
    i64 = lambda a: numpy_helper.from_array(np.array(a, dtype=np.int64))  # noqa: E731
    expected = ([helper.make_node("Cast", ["b1"], ["rows"], to=TensorProto.FLOAT),
                 helper.make_node("Mul", ["valid", "rows"], ["valid_rows"]),
                 helper.make_node("Mul", ["valid_rows", "minus_one"], ["expected_logprob"])] if rows_matter
                else [helper.make_node("Mul", ["valid", "minus_one"], ["expected_logprob"])])
    nodes = [
        helper.make_node("Shape", ["input_ids"], ["shape"]),
        helper.make_node("Slice", ["shape", "zero1", "one1"], ["b1"]),
        helper.make_node("Concat", ["b1", "one1"], ["bshape"], axis=0),
        helper.make_node("ConstantOfShape", ["bshape"], ["zcol"], value=i64([0])),
        helper.make_node("Slice", ["input_ids", "one1", "big", "one1"], ["ids_tail"]),
        helper.make_node("Concat", ["ids_tail", "zcol"], ["ids_next"], axis=1),
        helper.make_node("Slice", ["attention_mask", "one1", "big", "one1"], ["m_tail"]),
        helper.make_node("Concat", ["m_tail", "zcol"], ["m_next"], axis=1),
        helper.make_node("Cast", ["m_next"], ["valid"], to=TensorProto.FLOAT),
        helper.make_node("Mod", ["ids_next", "four"], ["r"]),
        helper.make_node("Cast", ["r"], ["rf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["rf", "minus_half"], ["lp"]),
        helper.make_node("Mul", ["lp", "valid"], ["token_logprob"]),
        *expected,
        helper.make_node("Mul", ["valid", "quarter"], ["logprob_variance"]),
    ]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "t"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["b", "t"])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["b", "t"])
         for n in ("token_logprob", "expected_logprob", "logprob_variance")],
        [numpy_helper.from_array(np.array([0], dtype=np.int64), "zero1"),
         numpy_helper.from_array(np.array([1], dtype=np.int64), "one1"),
         numpy_helper.from_array(np.array([2**62], dtype=np.int64), "big"),
         numpy_helper.from_array(np.array(4, dtype=np.int64), "four"),
         numpy_helper.from_array(np.array(-0.5, dtype=np.float32), "minus_half"),
         numpy_helper.from_array(np.array(-1.0, dtype=np.float32), "minus_one"),
         numpy_helper.from_array(np.array(0.25, dtype=np.float32), "quarter")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    card = f"""name = "{name}"
version = "test"
description = "token_logprob = -(next id % 4) / 2, expected_logprob = {'-(rows in the run)' if rows_matter else '-1'}, logprob_variance = 0.25 (0 past the end)"
onnx = "model.onnx"
tokenizer = "tokenizer.json"
max_tokens = 256
inputs = ["input_ids", "attention_mask"]
outputs = ["token_logprob", "expected_logprob", "logprob_variance"]
{'batch_dependent = true' + chr(10) if rows_matter else ''}"""
    save(model, name, card)
    vocab = {"<pad>": 0, "the": 1, "cat": 2, "sat": 3, "on": 4, "mat": 5, "dog": 6, ".": 7, "!": 8, "?": 9,
             "[UNK]": 10}
    tok = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": None, "decoder": None,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"},
    }
    with open(os.path.join(OUT, name, "tokenizer.json"), "w") as f:
        json.dump(tok, f, indent=1)


if __name__ == "__main__":
    hashed()
    tokens()
    tiny_lm()
    tiny_lm("tiny_lm_batch_dependent", rows_matter=True)
    print("wrote", os.path.abspath(OUT))
