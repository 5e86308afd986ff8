"""Helpers for the measure tests: hand-set structured kernels, the tutorials' one-sample loop, conversion."""
from __future__ import annotations

import numpy as np

C_IN, C_CONV, DW_MULT, C_FC = 4, 32, 2, 16


def structured_kernel(shape, seed: int) -> np.ndarray:
    """Per output channel (last axis): half the values exactly 0, the rest from {s, -s, r*s} with
    s and r different in every channel, r*127 an integer (so int8 values are known exactly)."""
    rng = np.random.default_rng(seed)
    k = np.zeros(shape, np.float32)
    km = np.moveaxis(k, -1, 0)  # a view: writing km writes k
    for c in range(km.shape[0]):
        flat = np.zeros(km[c].size, np.float32)
        nz = rng.permutation(flat.size)[: flat.size - flat.size // 2]
        s, r = 0.05 + 0.01 * c, (10 + c) / 127.0
        flat[nz] = np.array([1.0, -1.0, r], np.float32)[np.arange(nz.size) % 3] * s
        km[c] = flat.reshape(km[c].shape)
    return k


def channels(name: str, k: np.ndarray) -> int:
    """Output channels of a Keras kernel (depthwise: in_channels × multiplier)."""
    return k.shape[-2] * k.shape[-1] if name == "dw" else k.shape[-1]


def tutorial_loop(tfl: bytes, x: np.ndarray) -> np.ndarray:
    """The tfmot tutorials' evaluation: one sample at a time, set_tensor / invoke / get_tensor."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tfl)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    info = np.iinfo(i["dtype"]) if np.issubdtype(i["dtype"], np.integer) else None
    outs = []
    for s in x:
        v = s[None].astype(np.float32)
        if info is not None:
            scale, zp = i["quantization"]
            v = np.clip(np.round(v / scale + zp), info.min, info.max)
        it.set_tensor(i["index"], v.astype(i["dtype"]))
        it.invoke()
        out = it.get_tensor(o["index"])[0]
        if np.issubdtype(out.dtype, np.integer):
            scale, zp = o["quantization"]
            out = (out.astype(np.float32) - zp) * scale
        outs.append(out)
    return np.array(outs)



def convert(tf, model, mode: str, x=None, **kw) -> bytes:
    c = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode != "none":
        c.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        c.target_spec.supported_types = [tf.float16]
    if mode == "sparse":
        c.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    if mode in ("int8", "int16x8"):
        c.representative_dataset = lambda: ([x[i:i + 1]] for i in range(32))
        if mode == "int8":
            c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            c.inference_input_type = c.inference_output_type = tf.int8
        else:
            c.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
            c.inference_input_type = c.inference_output_type = kw.get("io", tf.float32)
    return c.convert()



def by_layer(stats):
    return {s["layer"]: s for s in stats if s["role"] == "weight"}

