"""Shared helpers of the stage tests: reading kernels from Keras models and int8 .tflite files,
measured here independently of the stages."""
from __future__ import annotations

import re

import numpy as np

PRUNABLE = ("conv", "pw", "out")  # the tiny model's Conv2D / Conv2D 1×1 / Dense kernels


# ------------------------------------------------------------------------------------------ helpers


def kernel(model, name):
    layer = model.get_layer(name)
    inner = getattr(layer, "layer", layer)
    var = getattr(inner, "depthwise_kernel", None)
    if var is None:
        var = inner.kernel
    return np.asarray(var.numpy())


def sparsity(a):
    return float(np.mean(np.asarray(a) == 0))


def max_unique_per_out_channel(k):
    """Keras kernels keep output channels on the last axis."""
    k = np.asarray(k)
    return max(np.unique(k[..., c]).size for c in range(k.shape[-1]))


def tflite_int8_kernels(tfl: bytes) -> dict:
    """name → int8 weight tensor (rank ≥ 2) of a .tflite, read with the LiteRT interpreter."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tfl)
    it.allocate_tensors()
    out = {}
    for t in it.get_tensor_details():
        if t["dtype"] != np.int8 or len(t["shape"]) < 2:
            continue
        try:
            a = it.get_tensor(t["index"])
        except ValueError:
            continue
        out[t["name"]] = a
    return out


def tflite_kernel_of(kernels: dict, layer: str):
    hits = [a for n, a in kernels.items() if re.search(rf"(^|/)(quant_)?{layer}/", n)]
    assert hits, f"no int8 kernel for {layer} in {list(kernels)}"
    return max(hits, key=lambda a: a.size)


def keras_accuracy(model, x, y):
    from optimize_cli.tf import keras

    m = model
    m.compile(loss="sparse_categorical_crossentropy", metrics=[keras.metrics.SparseCategoricalAccuracy()])
    return float(m.evaluate(x, y, verbose=0, batch_size=256)[1])


def simulate_tfmot_updates(plan):
    """Steps (1-based, as tfmot counts) at which masks are updated."""
    b, e, f, t = plan["begin_step"], plan["end_step"], plan["frequency"], plan["total_steps"]
    return [s for s in range(1, t + 1) if b <= s <= e and (s - b) % f == 0]
