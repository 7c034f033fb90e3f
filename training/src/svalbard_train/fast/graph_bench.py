"""Why models/fast/model.onnx looks its weights up with GatherElements: times the shipped graph against the
same regression written with Gather (the export before 2026-11-24) in onnxruntime, one thread, on a batch shaped
like the engine's (64 documents x 3,500 hashed ids), and checks that both give the same scores.

    .venv/bin/python -m svalbard_train.fast.graph_bench      # the `train` extra (numpy, onnx, onnxruntime)
"""
import os
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

from svalbard_train import paths

BATCH, K, REPS = 64, 3500, 30


def gather_variant(shipped):
    """The shipped graph with each head's GatherElements(flat ids) + Reshape replaced by Gather(ids)."""
    g = shipped.graph
    nodes = []
    for n in g.node:
        if n.op_type == "GatherElements":
            head = n.output[0].removeprefix("w_flat_")
            nodes.append(helper.make_node("Gather", [n.input[0], "ids"], [f"w_g_{head}"], axis=0))
        elif n.op_type in ("Reshape", "Shape"):  # only the ids' flatten and unflatten
            continue
        else:
            nodes.append(n)
    graph = helper.make_graph(nodes, g.name, list(g.input), list(g.output),
                              [i for i in g.initializer if i.name != "flat_shape"])
    model = helper.make_model(graph, opset_imports=shipped.opset_import)
    model.ir_version = shipped.ir_version
    onnx.checker.check_model(model)
    return model


def main():
    shipped = onnx.load(os.path.join(paths.model_dir("fast"), "model.onnx"))
    buckets = next(numpy_helper.to_array(i).shape[0] for i in shipped.graph.initializer if i.name.startswith("W_"))
    rng = np.random.default_rng(0)
    feeds = {"ids": np.sort(rng.integers(0, buckets, size=(BATCH, K)), axis=1).astype(np.int64),
             "weights": rng.random((BATCH, K), dtype=np.float32)}
    results = {}
    for name, model in [("Gather", gather_variant(shipped)), ("GatherElements (shipped)", shipped)]:
        so = ort.SessionOptions()
        so.intra_op_num_threads = so.inter_op_num_threads = 1
        session = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        results[name] = session.run(None, feeds)
        times = []
        for _ in range(REPS):
            t = time.perf_counter()
            session.run(None, feeds)
            times.append(time.perf_counter() - t)
        print(f"{name:26s} median {1e3 * np.median(times):6.2f} ms per batch of {BATCH} x {K} ids ({REPS} runs)")
    a, b = results.values()
    same = all(np.array_equal(x, y) for x, y in zip(a, b))
    print(f"scores identical: {same}")
    if not same:
        raise SystemExit("the two graphs disagree")


if __name__ == "__main__":
    main()
