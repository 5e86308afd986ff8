"""Per-layer weight statistics measured in a .tflite's weight buffers: which constant tensors are
weights (the weight input of Conv2D / DepthwiseConv2D / FullyConnected / …, followed back through
DEQUANTIZE / DENSIFY), their sparsity and unique values, and which export mode produced the file."""
from __future__ import annotations

from typing import Optional

import numpy as np

from . import tflite_model as tm
from .layer_names import keras_layer_name
from .sizes import BytesOrPath
from .values import value_stats

# op → (weight input indices, output-channel axis of that weight in TFLite's layout)
_WEIGHT_INPUTS = {
    "CONV_2D": ((1,), 0),                 # [O, H, W, I]
    "DEPTHWISE_CONV_2D": ((1,), 3),       # [1, H, W, I*M]
    "FULLY_CONNECTED": ((1,), 0),         # [O, I]
    "TRANSPOSE_CONV": ((1,), 0),          # [O, H, W, I]
    "CONV_3D": ((1,), 4),                 # [D, H, W, I, O]
    "CONV_3D_TRANSPOSE": ((1,), 3),       # [D, H, W, O, I]
    "BATCH_MATMUL": ((1,), -1),           # rhs [..., K, N]
    "EMBEDDING_LOOKUP": ((1,), 0),
    "GATHER": ((0,), 0),
    "SVDF": ((1, 2), 0),
    "UNIDIRECTIONAL_SEQUENCE_RNN": ((1, 2), 0),
    "RNN": ((1, 2), 0),
    "LSTM": ((1, 2, 3, 4, 5, 6, 7, 8), 0),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": ((1, 2, 3, 4, 5, 6, 7, 8), 0),
}
_BIAS_INPUTS = {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2, "TRANSPOSE_CONV": 3, "CONV_3D": 2,
                "CONV_3D_TRANSPOSE": 3}
# ops whose output is their (constant) input in another representation: the input is the stored weight
_PASS_THROUGH = ("DEQUANTIZE", "DENSIFY")
#: constant tensors that feed no weight input are reported when they hold at least this many values
LARGE_CONSTANT = 1024


def _consumers(sg) -> dict:
    out: dict = {}
    for oi, op in enumerate(sg.operators or []):
        for pos, ti in enumerate(op.inputs if op.inputs is not None else []):
            ti = int(ti)
            if ti >= 0:
                out.setdefault(ti, []).append((oi, pos))
    return out


def _producers(sg) -> dict:
    out = {}
    for oi, op in enumerate(sg.operators or []):
        for ti in op.outputs if op.outputs is not None else []:
            out[int(ti)] = oi
    return out


def _tensor_entry(model, raw, sg_index, ti, t, op_name, role, axis, via=None) -> Optional[dict]:
    vals = tm.tensor_values(model, raw, t)
    if vals is None:
        return None
    tname = tm.tensor_type_name(t)
    scale, zp, qdim = tm.tensor_quantization(t)
    quantized = scale is not None
    per_channel = bool(quantized and scale.size > 1)
    if per_channel:
        axis = qdim
    if vals.ndim == 0:
        axis = None
    elif axis is not None:
        axis = axis % vals.ndim
    st = value_stats(vals, axis, zp if quantized else None)
    name = tm.tensor_name(t)
    entry = {
        "name": name,
        "layer": keras_layer_name(name),
        "op": op_name,
        "role": role,
        "shape": [int(s) for s in vals.shape],
        "dtype": tname.lower(),
        "params": st["params"],
        "zeros": st["zeros"],
        "sparsity": st["sparsity"],
        "unique_weights": st["unique_weights"],
        "max_unique_per_channel": st["max_unique_per_channel"],
        "channel_axis": axis,
        "channels": st["channels"],
        "per_channel": per_channel,
        "quantized": quantized,
        "sparse_encoded": t.sparsity is not None,
        "subgraph": sg_index,
        "tensor_index": ti,
    }
    if via:
        entry["via"] = via  # e.g. DEQUANTIZE for float16 weights
    return entry


def _weight_source(sg, producers, ti, ops, model, raw, depth=0):
    """Follow DEQUANTIZE / DENSIFY back to the stored constant: (tensor index, [op names passed])."""
    t = sg.tensors[ti]
    if tm.has_data(model, t) or depth > 4:
        return ti, []
    oi = producers.get(ti)
    if oi is None:
        return ti, []
    op = sg.operators[oi]
    name = _op_name(ops, op)
    if name in _PASS_THROUGH and op.inputs is not None and len(op.inputs) and int(op.inputs[0]) >= 0:
        src, via = _weight_source(sg, producers, int(op.inputs[0]), ops, model, raw, depth + 1)
        return src, [name] + via
    return ti, []


def _op_name(ops: list, op) -> str:
    return ops[op.opcodeIndex] if op.opcodeIndex < len(ops) else "?"


def _subgraph_weights(model, raw, si: int, sg, ops: list, seen: set, bias_like: set) -> list:
    """The weight entries of one subgraph; fills ``seen`` (weight tensors) and ``bias_like`` (biases)."""
    out = []
    tensors = sg.tensors or []
    producers = _producers(sg)
    for op in sg.operators or []:
        name = _op_name(ops, op)
        inputs = [int(i) for i in (op.inputs if op.inputs is not None else [])]
        if name in _BIAS_INPUTS and _BIAS_INPUTS[name] < len(inputs) and inputs[_BIAS_INPUTS[name]] >= 0:
            bias_like.add(_weight_source(sg, producers, inputs[_BIAS_INPUTS[name]], ops, model, raw)[0])
        if name not in _WEIGHT_INPUTS:
            continue
        positions, axis = _WEIGHT_INPUTS[name]
        for pos in positions:
            if pos >= len(inputs) or inputs[pos] < 0:
                continue
            src, via = _weight_source(sg, producers, inputs[pos], ops, model, raw)
            if src in seen:
                continue
            e = _tensor_entry(model, raw, si, src, tensors[src], name, "weight", axis, "+".join(via) or None)
            if e is not None:
                seen.add(src)
                out.append(e)
    return out


def _large_constants(model, raw, si: int, sg, ops: list, seen: set, bias_like: set, large_constant: int) -> list:
    """Constant tensors of at least ``large_constant`` values that are neither weights nor biases."""
    out = []
    consumers = _consumers(sg)
    for ti, t in enumerate(sg.tensors or []):
        if ti in seen or ti in bias_like:
            continue
        shape = [int(s) for s in (t.shape if t.shape is not None else [])]
        if not shape or int(np.prod(shape)) < large_constant:
            continue
        if tm.tensor_type_name(t) not in ("FLOAT32", "FLOAT16", "INT8", "UINT8", "INT16", "INT4", "BFLOAT16"):
            continue
        if not tm.has_data(model, t):
            continue
        cons = consumers.get(ti, [])
        op_name = ops[sg.operators[cons[0][0]].opcodeIndex] if cons else ""
        if op_name in _PASS_THROUGH:  # report the op behind the DEQUANTIZE / DENSIFY
            outs = sg.operators[cons[0][0]].outputs
            nxt = consumers.get(int(outs[0]), []) if outs is not None and len(outs) else []
            if nxt:
                op_name = ops[sg.operators[nxt[0][0]].opcodeIndex]
        e = _tensor_entry(model, raw, si, ti, t, op_name, "constant", None)
        if e is not None:
            seen.add(ti)
            out.append(e)
    return out


def tflite_weight_stats(tflite_bytes: BytesOrPath, large_constant: int = LARGE_CONSTANT) -> list:
    """Per weight tensor of a .tflite (constant buffers feeding Conv2D / DepthwiseConv2D / FullyConnected /
    TransposeConv / BatchMatMul / LSTM … as weights; float16 and sparse weights followed through their
    DEQUANTIZE / DENSIFY op), plus other constant tensors of at least ``large_constant`` values (``role``
    ``"constant"``); biases are left out.

    Each entry: name (tensor name), layer (best-effort Keras layer name), op, role, shape, dtype, params,
    zeros, sparsity, unique_weights, max_unique_per_channel, channel_axis, channels, per_channel, quantized,
    sparse_encoded, subgraph, tensor_index.
    """
    model, raw = tm.load_tflite_model(tflite_bytes)
    ops = tm.op_names(model)
    out = []
    for si, sg in enumerate(model.subgraphs):
        seen: set = set()
        bias_like: set = set()
        out += _subgraph_weights(model, raw, si, sg, ops, seen, bias_like)
        if large_constant is not None:
            out += _large_constants(model, raw, si, sg, ops, seen, bias_like, large_constant)
    return out


def guess_quantization(tflite: BytesOrPath, weights: Optional[list] = None) -> str:
    """Which export mode produced this file: none | dynamic | float16 | int8 | int16x8 (best effort)."""
    model, raw = tm.load_tflite_model(tflite)
    weights = tflite_weight_stats(raw) if weights is None else weights
    act_types = set()
    for sg in model.subgraphs:
        for t in sg.tensors or []:
            if not tm.has_data(model, t):
                act_types.add(tm.tensor_type_name(t))
    wtypes = {w["dtype"] for w in weights if w["role"] == "weight"}
    if "INT16" in act_types and ("int8" in wtypes or "int4" in wtypes):
        return "int16x8"
    if "INT8" in act_types or "UINT8" in act_types:
        return "int8"
    if "int8" in wtypes or "int4" in wtypes or "uint8" in wtypes:
        return "dynamic"
    if "float16" in wtypes:
        return "float16"
    return "none"

