"""Per-kernel weight statistics of a Keras model (Conv*, DepthwiseConv*, Dense, Embedding, also inside tfmot's
prune / cluster / quantize wrappers and nested models), measured through the objects the caller passes
in: no TensorFlow import here."""
from __future__ import annotations

from typing import Optional

import numpy as np

from .values import value_stats


def _unwrap(layer):
    """The layer a tfmot wrapper (prune / cluster / quantize) holds, recursively."""
    seen = 0
    while seen < 8 and getattr(layer, "layer", None) is not None:
        inner = layer.layer
        if inner is layer:
            break
        layer, seen = inner, seen + 1
    return layer


def iter_layers(model):
    """(outer, inner) per leaf layer; nested models are walked, wrappers yield the layer they hold."""
    for layer in getattr(model, "layers", []):
        inner = _unwrap(layer)
        if inner is layer and getattr(layer, "layers", None) is not None and layer is not model:
            yield from iter_layers(layer)
        elif inner is not layer and getattr(inner, "layers", None) is not None:
            yield from iter_layers(inner)
        else:
            yield layer, inner


def _kernel_array(inner, attr: str, outer=None) -> Optional[np.ndarray]:
    """The layer's ``attr`` weight as an array. Inside a QAT wrapper the attribute holds a symbolic
    fake-quant tensor; then the variable of that name (tracked by the layer or by its wrapper) is read."""
    k = getattr(inner, attr, None)
    if k is not None:
        try:
            return np.asarray(k)
        except (NotImplementedError, TypeError, ValueError):
            pass
    candidates = list(getattr(inner, "weights", []) or [])
    if outer is not None and outer is not inner:
        candidates += list(getattr(outer, "weights", []) or [])
    for w in candidates:
        parts = str(getattr(w, "name", "")).split(":")[0].split("/")
        if parts[-1] == attr and (len(parts) < 2 or parts[-2] == inner.name):
            return np.asarray(w.numpy())
    return None


def keras_kernel(inner, outer=None) -> tuple:
    """(kernel array for the statistics, output-channel axis, the kernel's own shape) of a Conv /
    DepthwiseConv / Dense layer (an Embedding: its table, which tfmot prunes and clusters too); (None, None,
    None) for layers without one."""
    cls = type(inner).__name__
    if cls in ("DepthwiseConv2D", "DepthwiseConv1D"):
        a = _kernel_array(inner, "depthwise_kernel", outer)
        if a is None or a.ndim < 3:
            return a, -1, None if a is None else list(a.shape)
        # [..., I, M] → [..., I*M]: TFLite's channel index is i*M + m
        return a.reshape(a.shape[:-2] + (a.shape[-2] * a.shape[-1],)), -1, list(a.shape)
    if cls in ("SeparableConv2D", "SeparableConv1D"):
        a = _kernel_array(inner, "pointwise_kernel", outer)
        return a, -1, None if a is None else list(a.shape)
    a = _kernel_array(inner, "embeddings" if cls == "Embedding" else "kernel", outer)
    if a is None:
        return None, None, None
    if cls.startswith("Conv") and "Transpose" in cls:
        return a, -2, list(a.shape)  # [..., O, I]
    return a, -1, list(a.shape)


def keras_weight_stats(model) -> list:
    """Per kernel (Conv*, DepthwiseConv*, Dense, also inside tfmot wrappers and nested models):
    name (the Keras layer's own name, without the wrapper's prefix), class, wrapper, shape, params, zeros,
    sparsity, unique_weights, max_unique_per_channel (per output channel), dtype."""
    out = []
    for outer, inner in iter_layers(model):
        try:
            kernel, axis, shape = keras_kernel(inner, outer)
        except Exception:  # noqa: BLE001 - an unbuilt or exotic layer has no measurable kernel
            continue
        if kernel is None or kernel.ndim < 2:
            continue
        st = value_stats(kernel, axis)
        out.append({
            "name": inner.name,
            "class": type(inner).__name__,
            "wrapper": type(outer).__name__ if outer is not inner else None,
            "shape": [int(v) for v in shape],
            "dtype": str(kernel.dtype),
            "params": st["params"],
            "zeros": st["zeros"],
            "sparsity": st["sparsity"],
            "unique_weights": st["unique_weights"],
            "max_unique_per_channel": st["max_unique_per_channel"],
        })
    return out


