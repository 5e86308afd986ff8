"""Measurements: file and zip sizes, sparsity and unique weights (in Keras and in .tflite weight buffers),
accuracy on the LiteRT interpreter (batched) and single-inference latency.

No TensorFlow import here: .tflite files are read with ``ai_edge_litert`` (flatbuffer schema and
interpreter), Keras models are measured through the objects the caller passes in.

Definitions follow DESIGN.md ("report.json contract"):

* ``compressed_bytes`` is the size of a ZIP_DEFLATED archive holding the file (the tfmot tutorials'
  ``get_gzipped_model_size``). The archive member is named after the file's base name (``model.tflite``
  for bytes), so the figure does not depend on the directory the file happens to lie in.
* sparsity is the fraction of exact zeros; in a quantized tensor a weight is zero when its integer value
  equals the zero point of its channel.
* unique weights are counted over the whole tensor and per output channel; an int8 per-channel kernel
  clustered to N values shows up to N distinct values per channel but more over the tensor.
"""
from __future__ import annotations

import os
import re
import statistics
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import numpy as np

BytesOrPath = Union[bytes, bytearray, memoryview, str, os.PathLike]

METRICS = ("accuracy", "top_k_accuracy", "binary_accuracy", "mae", "mse")
#: metrics where lower is better
LOWER_IS_BETTER = ("mae", "mse")

# ------------------------------------------------------------------------------------------ sizes


def _saved_percent(raw: int, compressed: int) -> float:
    return 100.0 * (1.0 - compressed / raw) if raw else 0.0


def zip_size(path: Union[str, os.PathLike]) -> int:
    """Bytes of a ZIP_DEFLATED archive holding ``path`` (a file, or every file under a directory).

    Exactly the tutorials' ``zipfile.ZipFile(zip, 'w', compression=ZIP_DEFLATED).write(file)``, with the
    member named by its base name (files) or its path relative to the directory (directories).
    """
    p = Path(path)
    with tempfile.TemporaryDirectory(prefix="optimize-cli-zip-") as tmp:
        zpath = os.path.join(tmp, "model.zip")
        with zipfile.ZipFile(zpath, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            if p.is_dir():
                for f in sorted(p.rglob("*")):
                    if f.is_file():
                        zf.write(f, arcname=f.relative_to(p).as_posix())
            else:
                zf.write(p, arcname=p.name)
        return os.path.getsize(zpath)


def path_sizes(path: Union[str, os.PathLike]) -> dict:
    """{"bytes", "compressed_bytes", "compression_saved_percent"} of a file or a directory (sum of files)."""
    p = Path(path)
    raw = sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir() else p.stat().st_size
    comp = zip_size(p)
    return {"bytes": int(raw), "compressed_bytes": int(comp),
            "compression_saved_percent": round(_saved_percent(raw, comp), 4)}


def file_sizes(path_or_bytes: BytesOrPath) -> dict:
    """{"tflite_bytes", "compressed_bytes", "compression_saved_percent"} of a .tflite file or its bytes.

    ``compression_saved_percent`` = 100 * (1 - compressed_bytes / tflite_bytes).
    """
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data = bytes(path_or_bytes)
        with tempfile.TemporaryDirectory(prefix="optimize-cli-size-") as tmp:
            f = os.path.join(tmp, "model.tflite")
            with open(f, "wb") as fh:
                fh.write(data)
            comp = zip_size(f)
        raw = len(data)
    else:
        raw = os.path.getsize(path_or_bytes)
        comp = zip_size(path_or_bytes)
    return {"tflite_bytes": int(raw), "compressed_bytes": int(comp),
            "compression_saved_percent": round(_saved_percent(raw, comp), 4)}


def _as_bytes(model: BytesOrPath) -> bytes:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    return Path(model).read_bytes()


# ------------------------------------------------------------------------- value statistics


def _unique_per_channel(values: np.ndarray, axis: Optional[int]) -> Optional[int]:
    """Max over channels (along ``axis``) of the number of distinct values; None without an axis."""
    if axis is None or values.ndim == 0 or values.size == 0:
        return None
    rows = np.moveaxis(values, axis, 0).reshape(values.shape[axis], -1)
    if rows.shape[1] == 0:
        return 0
    s = np.sort(rows, axis=1)
    counts = 1 + np.count_nonzero(s[:, 1:] != s[:, :-1], axis=1)
    return int(counts.max())


def _zero_mask(values: np.ndarray, zero_point: Optional[np.ndarray], axis: Optional[int]) -> np.ndarray:
    if zero_point is None or zero_point.size == 0 or not np.any(zero_point):
        return values == 0
    if zero_point.size == 1 or axis is None:
        return values == zero_point.reshape(-1)[0]
    shape = [1] * values.ndim
    shape[axis] = -1
    return values == zero_point.reshape(shape)


def value_stats(values: np.ndarray, channel_axis: Optional[int] = None,
                zero_point: Optional[np.ndarray] = None) -> dict:
    """Sparsity (exact zeros, or values equal to the channel's zero point), distinct values over the
    whole array and the largest number of distinct values in one channel along ``channel_axis``."""
    values = np.asarray(values)
    n = int(values.size)
    if channel_axis is not None and values.ndim:
        channel_axis = channel_axis % values.ndim
    else:
        channel_axis = None
    zeros = int(np.count_nonzero(_zero_mask(values, zero_point, channel_axis))) if n else 0
    unique = int(np.unique(values).size) if n else 0
    per_ch = _unique_per_channel(values, channel_axis)
    return {
        "params": n,
        "zeros": zeros,
        "sparsity": zeros / n if n else 0.0,
        "unique_weights": unique,
        "max_unique_per_channel": unique if per_ch is None else per_ch,
        "channels": int(values.shape[channel_axis]) if channel_axis is not None else 1,
    }


# ------------------------------------------------------------------------------ .tflite reading

_NP_TYPES = {
    "FLOAT32": np.dtype("<f4"), "FLOAT16": np.dtype("<f2"), "FLOAT64": np.dtype("<f8"),
    "INT8": np.dtype("i1"), "UINT8": np.dtype("u1"), "INT16": np.dtype("<i2"), "UINT16": np.dtype("<u2"),
    "INT32": np.dtype("<i4"), "UINT32": np.dtype("<u4"), "INT64": np.dtype("<i8"), "UINT64": np.dtype("<u8"),
    "BOOL": np.dtype("?"), "BFLOAT16": np.dtype("<u2"),  # raw bit patterns (numpy has no bfloat16)
}

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

# path components of a tensor name that are TensorFlow ops, not layers (besides CamelCase op names)
_TF_OP_TOKENS = {"depthwise", "kernel", "bias", "tensordot", "readvariableop", "call"}
_TFMOT_PREFIXES = ("prune_low_magnitude_", "quant_")


def _schema():
    from ai_edge_litert import schema_py_generated as schema

    return schema


def _enum_names(cls) -> dict:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


def load_tflite_model(tflite: BytesOrPath):
    """(ModelT, raw bytes) of a .tflite; ValueError when the bytes are not a TFLite flatbuffer."""
    data = _as_bytes(tflite)
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ValueError("not a TFLite flatbuffer (no TFL3 identifier)")
    schema = _schema()
    try:
        model = schema.ModelT.InitFromPackedBuf(data, 0)
    except Exception as e:  # noqa: BLE001 - any decoding failure means "not a readable model"
        raise ValueError(f"cannot decode the TFLite flatbuffer: {e}") from e
    if not model.subgraphs:
        raise ValueError("the TFLite model has no subgraph")
    return model, data


def op_names(model) -> list:
    """Operator name per opcode index (builtin names; custom ops as ``CUSTOM:<code>``)."""
    names = _enum_names(_schema().BuiltinOperator)
    out = []
    for code in model.operatorCodes or []:
        b = max(int(code.builtinCode or 0), int(code.deprecatedBuiltinCode or 0))
        name = names.get(b, f"BUILTIN_{b}")
        if name == "CUSTOM":
            cc = code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode
            name = f"CUSTOM:{cc}"
        out.append(name)
    return out


def _tname(t) -> str:
    n = t.name
    return n.decode("utf-8", "replace") if isinstance(n, (bytes, bytearray)) else str(n or "")


def tensor_type_name(t) -> str:
    return _enum_names(_schema().TensorType).get(t.type, f"TYPE_{t.type}")


def _quant(t) -> tuple:
    """(scale array or None, zero_point array or None, quantized_dimension)."""
    q = t.quantization
    if q is None or q.scale is None or len(q.scale) == 0:
        return None, None, 0
    scale = np.asarray(q.scale, np.float64).reshape(-1)
    zp = np.asarray(q.zeroPoint, np.int64).reshape(-1) if q.zeroPoint is not None and len(q.zeroPoint) else \
        np.zeros(scale.size, np.int64)
    return scale, zp, int(q.quantizedDimension or 0)


def _buffer_bytes(model, raw: bytes, t) -> Optional[bytes]:
    if t.buffer is None or t.buffer <= 0 or t.buffer >= len(model.buffers):
        return None
    b = model.buffers[t.buffer]
    if b.data is not None and len(b.data):
        return np.asarray(b.data, np.uint8).tobytes()
    if b.offset and b.offset > 1 and b.size:  # > 2 GB models keep buffers after the flatbuffer
        return raw[b.offset:b.offset + b.size]
    return None


def _has_data(model, t) -> bool:
    """Whether tensor ``t`` is a constant with a data buffer (cheap: copies nothing)."""
    if t.buffer is None or t.buffer <= 0 or t.buffer >= len(model.buffers):
        return False
    b = model.buffers[t.buffer]
    return (b.data is not None and len(b.data) > 0) or bool(b.offset and b.offset > 1 and b.size)


def _unpack_int4(data: bytes, n: int) -> np.ndarray:
    b = np.frombuffer(data, np.uint8)
    nib = np.empty(b.size * 2, np.int8)
    nib[0::2] = (b & 0x0F).astype(np.int8)
    nib[1::2] = (b >> 4).astype(np.int8)
    nib = ((nib ^ 8) - 8).astype(np.int8)  # sign-extend 4 bits
    return nib[:n]


def _densify(values: np.ndarray, shape: Sequence[int], sp) -> Optional[np.ndarray]:
    """Decode a TFLite sparse tensor (traversal order, block map, DENSE / SPARSE_CSR levels) to dense."""
    order = [int(v) for v in (sp.traversalOrder if sp.traversalOrder is not None else [])]
    bmap = [int(v) for v in (sp.blockMap if sp.blockMap is not None else [])]
    dims = sp.dimMetadata or []
    rank = len(shape)
    if not order or len(dims) != len(order) or len(order) != rank + len(bmap):
        return None
    block_size = [1] * len(bmap)
    for p in range(rank, len(order)):
        block_size[order[p] - rank] = int(dims[p].denseSize)
    pos = np.zeros(1, np.int64)
    cols: list = []
    for d in dims:
        if int(d.format) == 0:  # DENSE
            size = int(d.denseSize)
            cols = [np.repeat(c, size) for c in cols]
            new = np.tile(np.arange(size, dtype=np.int64), pos.size)
            pos = np.repeat(pos, size) * size + new
        else:  # SPARSE_CSR
            if d.arraySegments is None or d.arrayIndices is None:
                return None
            seg = np.asarray(d.arraySegments.values, np.int64)
            ind = np.asarray(d.arrayIndices.values, np.int64)
            starts, counts = seg[pos], seg[pos + 1] - seg[pos]
            cols = [np.repeat(c, counts) for c in cols]
            total = int(counts.sum())
            pos = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total, dtype=np.int64)
            new = ind[pos]
        cols.append(new)
    if pos.size != values.size:
        return None
    orig = [None] * rank
    for i in range(rank):
        orig[order[i]] = cols[i]
    for i in range(rank, len(order)):
        b = order[i] - rank
        orig[bmap[b]] = orig[bmap[b]] * block_size[b] + cols[i]
    dense = np.zeros(tuple(int(s) for s in shape), values.dtype)
    dense[tuple(orig)] = values
    return dense


def tensor_values(model, raw: bytes, t) -> Optional[np.ndarray]:
    """The constant values of tensor ``t`` in its stored dtype and shape (sparse tensors densified);
    None for tensors without data."""
    data = _buffer_bytes(model, raw, t)
    if data is None:
        return None
    tname = tensor_type_name(t)
    shape = [int(s) for s in (t.shape if t.shape is not None else [])]
    n = int(np.prod(shape)) if shape else 1
    if tname == "INT4":
        if t.sparsity is not None:
            return None
        return _unpack_int4(data, n).reshape(shape)
    dt = _NP_TYPES.get(tname)
    if dt is None or len(data) % dt.itemsize:
        return None
    vals = np.frombuffer(data, dt)
    if t.sparsity is not None:
        dense = _densify(vals, shape, t.sparsity)
        return dense
    if vals.size != n:
        return None
    return vals.reshape(shape)


def _op_like(part: str) -> bool:
    base = re.sub(r"\d+$", "", part)
    return base in _TF_OP_TOKENS or re.fullmatch(r"[A-Z][A-Za-z0-9]*", base) is not None


_WEIGHT_OP_PART = re.compile(
    r"(Conv[123]D|conv[123]d|depthwise|MatMul|BatchMatMul(V[23])?|Conv2DBackpropInput|conv[23]d_transpose|"
    r"Tensordot|[Ee]insum|embedding_lookup|GatherV2)(_?\d+)?")


def keras_layer_name(tensor_name: str) -> Optional[str]:
    """Best-effort Keras layer name from a TFLite tensor name (``model/conv1/Conv2D`` → ``conv1``;
    ``model/quant_dense/MatMul;…`` → ``dense``; of fused names the part naming the weight op wins, so
    ``model/dw_bn/FusedBatchNormV3;model/dw/depthwise`` → ``dw``); None when no part has a layer scope."""
    if not tensor_name:
        return None
    best, best_score = None, 0
    for seg in tensor_name.split(";"):
        parts = [p for p in seg.split("/") if p]
        if len(parts) < 2:
            continue
        score = 2 if any(_WEIGHT_OP_PART.fullmatch(p) for p in parts[1:]) else 1
        if score <= best_score:
            continue
        while len(parts) > 2 and _op_like(parts[-1]):
            parts.pop()
        # [model, layer, ...] → the innermost layer; [layer, Op] (no model scope) → layer
        name = parts[0] if len(parts) == 2 and _op_like(parts[1]) else parts[-1]
        for pre in _TFMOT_PREFIXES:
            if name.startswith(pre) and len(name) > len(pre):
                name = name[len(pre):]
                break
        best, best_score = name, score
        if score == 2:
            break
    return best


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
    vals = tensor_values(model, raw, t)
    if vals is None:
        return None
    tname = tensor_type_name(t)
    scale, zp, qdim = _quant(t)
    quantized = scale is not None
    per_channel = bool(quantized and scale.size > 1)
    if per_channel:
        axis = qdim
    if vals.ndim == 0:
        axis = None
    elif axis is not None:
        axis = axis % vals.ndim
    st = value_stats(vals, axis, zp if quantized else None)
    name = _tname(t)
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
    if _has_data(model, t) or depth > 4:
        return ti, []
    oi = producers.get(ti)
    if oi is None:
        return ti, []
    op = sg.operators[oi]
    name = ops[op.opcodeIndex] if op.opcodeIndex < len(ops) else "?"
    if name in _PASS_THROUGH and op.inputs is not None and len(op.inputs) and int(op.inputs[0]) >= 0:
        src, via = _weight_source(sg, producers, int(op.inputs[0]), ops, model, raw, depth + 1)
        return src, [name] + via
    return ti, []


def tflite_weight_stats(tflite_bytes: BytesOrPath, large_constant: int = LARGE_CONSTANT) -> list:
    """Per weight tensor of a .tflite (constant buffers feeding Conv2D / DepthwiseConv2D / FullyConnected /
    TransposeConv / BatchMatMul / LSTM … as weights; float16 and sparse weights followed through their
    DEQUANTIZE / DENSIFY op), plus other constant tensors of at least ``large_constant`` values (``role``
    ``"constant"``); biases are left out.

    Each entry: name (tensor name), layer (best-effort Keras layer name), op, role, shape, dtype, params,
    zeros, sparsity, unique_weights, max_unique_per_channel, channel_axis, channels, per_channel, quantized,
    sparse_encoded, subgraph, tensor_index.
    """
    model, raw = load_tflite_model(tflite_bytes)
    ops = op_names(model)
    out = []
    for si, sg in enumerate(model.subgraphs):
        tensors = sg.tensors or []
        producers = _producers(sg)
        seen: set = set()
        bias_like: set = set()
        for op in sg.operators or []:
            name = ops[op.opcodeIndex] if op.opcodeIndex < len(ops) else "?"
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
        if large_constant is None:
            continue
        consumers = _consumers(sg)
        for ti, t in enumerate(tensors):
            if ti in seen or ti in bias_like:
                continue
            shape = [int(s) for s in (t.shape if t.shape is not None else [])]
            if not shape or int(np.prod(shape)) < large_constant:
                continue
            if tensor_type_name(t) not in ("FLOAT32", "FLOAT16", "INT8", "UINT8", "INT16", "INT4", "BFLOAT16"):
                continue
            if not _has_data(model, t):
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


def tflite_io(tflite: BytesOrPath) -> dict:
    """Inputs and outputs of the main subgraph: name, shape (−1 for dynamic dims), dtype, quantization."""
    model, _raw = load_tflite_model(tflite)
    sg = model.subgraphs[0]

    def desc(ti):
        t = sg.tensors[int(ti)]
        sig = t.shapeSignature if t.shapeSignature is not None and len(t.shapeSignature) else t.shape
        scale, zp, qdim = _quant(t)
        q = None
        if scale is not None:
            q = {"scale": [float(s) for s in scale], "zero_point": [int(z) for z in zp], "quantized_dimension": qdim}
        return {"name": _tname(t), "shape": [int(s) for s in (sig if sig is not None else [])],
                "dtype": tensor_type_name(t).lower(), "quantization": q}

    return {"inputs": [desc(i) for i in (sg.inputs if sg.inputs is not None else [])],
            "outputs": [desc(i) for i in (sg.outputs if sg.outputs is not None else [])]}


def guess_quantization(tflite: BytesOrPath, weights: Optional[list] = None) -> str:
    """Which export mode produced this file: none | dynamic | float16 | int8 | int16x8 (best effort)."""
    model, raw = load_tflite_model(tflite)
    weights = tflite_weight_stats(raw) if weights is None else weights
    act_types = set()
    for sg in model.subgraphs:
        for t in sg.tensors or []:
            if not _has_data(model, t):
                act_types.add(tensor_type_name(t))
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


# ----------------------------------------------------------------------------------- Keras


def _unwrap(layer):
    """The layer a tfmot wrapper (prune / cluster / quantize) holds, recursively."""
    seen = 0
    while seen < 8 and getattr(layer, "layer", None) is not None:
        inner = layer.layer
        if inner is layer:
            break
        layer, seen = inner, seen + 1
    return layer


def _iter_layers(model):
    """(outer, inner) per leaf layer; nested models are walked, wrappers yield the layer they hold."""
    for layer in getattr(model, "layers", []):
        inner = _unwrap(layer)
        if inner is layer and getattr(layer, "layers", None) is not None and layer is not model:
            yield from _iter_layers(layer)
        elif inner is not layer and getattr(inner, "layers", None) is not None:
            yield from _iter_layers(inner)
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


def _keras_kernel(inner, outer=None) -> tuple:
    """(kernel array for the statistics, output-channel axis, the kernel's own shape) of a Conv /
    DepthwiseConv / Dense layer; (None, None, None) for layers without one."""
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
    a = _kernel_array(inner, "kernel", outer)
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
    for outer, inner in _iter_layers(model):
        try:
            kernel, axis, shape = _keras_kernel(inner, outer)
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


def summary(stats: Iterable[dict], names: Optional[Iterable[str]] = None) -> dict:
    """Params-weighted sparsity and the largest unique-value counts over kernels.

    ``stats`` from keras_weight_stats or tflite_weight_stats (only ``role == "weight"`` entries count);
    ``names`` limits the summary to those layers (e.g. leave out kernels a stage skipped)."""
    wanted = set(names) if names is not None else None
    rows = [s for s in stats if s.get("role", "weight") == "weight"
            and (wanted is None or s.get("name") in wanted or s.get("layer") in wanted)]
    params = sum(int(s["params"]) for s in rows)
    zeros = sum(int(s.get("zeros", round(s["sparsity"] * s["params"]))) for s in rows)
    return {
        "layers": len(rows),
        "params": params,
        "sparsity": zeros / params if params else 0.0,
        "max_unique_weights": max((int(s["unique_weights"]) for s in rows), default=None),
        "max_unique_per_channel": max((int(s["max_unique_per_channel"]) for s in rows), default=None),
    }


# ---------------------------------------------------------------------------------- metrics


def compute_metric(pred: np.ndarray, y: np.ndarray, metric: str = "accuracy", top_k: int = 5) -> float:
    """The metric of predictions ``pred`` against labels ``y``, in numpy; the same code scores Keras and
    TFLite outputs. accuracy: top-1 (int or one-hot labels; binary at 0.5 for a single output unit);
    top_k_accuracy: the label scores among the k best (ties count as in); binary_accuracy: prediction
    > 0.5 (the output is taken as a probability) equals label > 0.5; mae / mse: mean over all values."""
    pred = np.asarray(pred)
    y = np.asarray(y)
    n = pred.shape[0] if pred.ndim else 0
    if n == 0:
        raise ValueError("no predictions to score")
    if y.shape[0] != n:
        raise ValueError(f"{n} predictions but {y.shape[0]} labels")
    pred = pred.astype(np.float64)
    if metric in ("mae", "mse"):
        yy = y.astype(np.float64)
        if yy.size == pred.size:
            yy = yy.reshape(pred.shape)
        d = pred - yy
        return float(np.mean(np.abs(d)) if metric == "mae" else np.mean(d * d))
    if metric == "binary_accuracy" or (metric == "accuracy" and (pred.ndim == 1 or pred.shape[-1] == 1)):
        yy = y.astype(np.float64)
        if yy.size == pred.size:
            yy = yy.reshape(pred.shape)
        return float(np.mean((pred > 0.5) == (yy > 0.5)))
    if metric not in ("accuracy", "top_k_accuracy"):
        raise ValueError(f"unknown metric {metric!r}; one of {', '.join(METRICS)}")
    classes = pred.shape[-1]
    if y.ndim == pred.ndim and y.shape[-1] == classes:  # one-hot
        labels = np.argmax(y, axis=-1)
    else:
        labels = y.reshape(pred.shape[:-1]).astype(np.int64)
    if metric == "accuracy":
        return float(np.mean(np.argmax(pred, axis=-1) == labels))
    k = max(1, int(top_k))
    true_score = np.take_along_axis(pred, labels[..., None], axis=-1)
    better = np.sum(pred > true_score, axis=-1)
    return float(np.mean(better < k))


# ------------------------------------------------------------------------------- interpreter

_INT_RANGES = {np.dtype(np.int8): (-128, 127), np.dtype(np.uint8): (0, 255), np.dtype(np.int16): (-32768, 32767)}


def _quantize_input(x: np.ndarray, detail: dict) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    scale, zp = detail.get("quantization", (0.0, 0))
    if dtype in _INT_RANGES and scale:
        lo, hi = _INT_RANGES[dtype]
        q = np.round(np.asarray(x, np.float32) / np.float32(scale) + zp)
        return np.clip(q, lo, hi).astype(dtype)
    return np.asarray(x).astype(dtype, copy=False)


def _dequantize_output(v: np.ndarray, detail: dict) -> np.ndarray:
    scale, zp = detail.get("quantization", (0.0, 0))
    if np.issubdtype(v.dtype, np.integer) and scale:
        return ((v.astype(np.float32) - np.float32(zp)) * np.float32(scale)).astype(np.float32)
    return v.astype(np.float32) if v.dtype != np.float32 and np.issubdtype(v.dtype, np.floating) else v


def make_interpreter(tflite: BytesOrPath, threads: int = 1):
    """A LiteRT interpreter (``ai_edge_litert.interpreter.Interpreter``) with tensors allocated."""
    from ai_edge_litert.interpreter import Interpreter

    from .quiet import native_stderr_silenced

    with native_stderr_silenced():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
        interp = Interpreter(model_content=_as_bytes(tflite), num_threads=int(threads))
        interp.allocate_tensors()
    return interp


class _Runner:
    """Runs a .tflite over arrays in batches: resize the batch dimension once per batch size, quantize
    inputs, dequantize outputs. Falls back to the model's fixed batch (one sample at a time for batch 1)
    when the batch dimension cannot be resized."""

    def __init__(self, tflite: BytesOrPath, threads: int = 1):
        self.interp = make_interpreter(tflite, threads)
        self.inputs = self.interp.get_input_details()
        self.outputs = self.interp.get_output_details()
        self._batch = None  # the batch size the tensors are allocated for
        sigs = [d.get("shape_signature", d["shape"]) for d in self.inputs]
        self.dynamic = bool(self.inputs) and all(len(s) >= 1 and int(s[0]) == -1 for s in sigs)
        self.fixed = None if self.dynamic else (int(self.inputs[0]["shape"][0]) if len(self.inputs[0]["shape"]) else 0)

    def _arrays(self, x) -> list:
        if isinstance(x, dict):
            out = []
            for d in self.inputs:
                name = d["name"]
                cands = [k for k in x if k == name or name == f"serving_default_{k}:0" or name.split(":")[0] == k]
                if not cands:
                    raise ValueError(f"no input array for model input {name!r} (got {sorted(x)})")
                out.append(np.asarray(x[cands[0]]))
            return out
        if isinstance(x, (list, tuple)):
            if len(x) != len(self.inputs):
                raise ValueError(f"the model has {len(self.inputs)} inputs, got {len(x)} arrays")
            return [np.asarray(a) for a in x]
        if len(self.inputs) != 1:
            raise ValueError(f"the model has {len(self.inputs)} inputs; pass a list or dict of arrays")
        return [np.asarray(x)]

    def _fit(self, a: np.ndarray, detail: dict, n: int) -> np.ndarray:
        """Reshape a batch to the model's per-sample shape when only a trailing 1 is missing, etc."""
        sig = list(detail.get("shape_signature", detail["shape"]))[1:]
        if list(a.shape[1:]) != sig and all(int(s) > 0 for s in sig) and int(np.prod(a.shape[1:])) == int(np.prod(sig)):
            a = a.reshape([n] + [int(s) for s in sig])
        return _quantize_input(a, detail)

    def _resize(self, n: int) -> None:
        if self._batch == n:
            return
        for d in self.inputs:
            shape = list(d["shape"])
            shape[0] = n
            self.interp.resize_tensor_input(d["index"], shape)
        self.interp.allocate_tensors()
        self._batch = n

    def _run(self, arrays: list, n: int) -> list:
        for a, d in zip(arrays, self.inputs, strict=True):
            self.interp.set_tensor(d["index"], self._fit(a, d, n))
        self.interp.invoke()
        return [self.interp.get_tensor(d["index"]) for d in self.outputs]

    def predict(self, x, batch_size: int = 256) -> list:
        arrays = self._arrays(x)
        n = int(arrays[0].shape[0])
        if any(int(a.shape[0]) != n for a in arrays):
            raise ValueError("input arrays have different numbers of samples")
        if n == 0:
            raise ValueError("no samples")
        if self.dynamic:
            try:
                return self._predict_batched(arrays, n, max(1, int(batch_size)))
            except (RuntimeError, ValueError):
                self.dynamic = False
                self.fixed = 1
                self._batch = None
        return self._predict_fixed(arrays, n)

    def _predict_batched(self, arrays, n, bs) -> list:
        chunks: list = [[] for _ in self.outputs]
        for start in range(0, n, bs):
            m = min(bs, n - start)
            self._resize(m)
            outs = self._run([a[start:start + m] for a in arrays], m)
            for i, (o, d) in enumerate(zip(outs, self.outputs, strict=True)):
                if o.ndim == 0 or o.shape[0] != m:
                    raise ValueError(f"output {d['name']} has batch {o.shape[:1]}, expected {m}")
                chunks[i].append(_dequantize_output(o, d))
        return [np.concatenate(c, axis=0) for c in chunks]

    def _predict_fixed(self, arrays, n) -> list:
        """The model's own batch (1 for most fixed-shape models); the last chunk is padded by repeating."""
        if self._batch is not None:
            # back to the shapes the model was converted with
            for d in self.inputs:
                self.interp.resize_tensor_input(d["index"], list(d["shape"]))
            self.interp.allocate_tensors()
            self._batch = None
        b = max(1, self.fixed or 1)
        chunks: list = [[] for _ in self.outputs]
        for start in range(0, n, b):
            m = min(b, n - start)
            part = [a[start:start + m] for a in arrays]
            if m < b:
                idx = np.concatenate([np.arange(m), np.full(b - m, m - 1)])
                part = [p[idx] for p in part]
            outs = self._run(part, b)
            for i, (o, d) in enumerate(zip(outs, self.outputs, strict=True)):
                o = _dequantize_output(o, d)
                chunks[i].append(o[:m] if o.ndim and o.shape[0] == b else o[None, ...])
        return [np.concatenate(c, axis=0) for c in chunks]


def predict_tflite(tflite_bytes: BytesOrPath, x, threads: int = 1, batch_size: int = 256,
                   output_index: Optional[int] = 0):
    """Dequantized outputs of a .tflite over ``x`` (an array, or a list / dict of arrays for several
    inputs), run in batches of ``batch_size``. ``output_index=None`` returns every output as a list."""
    outs = _Runner(tflite_bytes, threads).predict(x, batch_size)
    return outs if output_index is None else outs[output_index]


def _array_batches(x, y, batch_size: int):
    n = len(y)
    for i in range(0, n, batch_size):
        yield x[i:i + batch_size], y[i:i + batch_size]


def _tflite_output_position(runner: "_Runner", output_name: Optional[str]) -> int:
    """Position in the interpreter's output details of the Keras output ``output_name`` (found through the
    serving signature, whose order is not Keras's); 0 without a name or a signature."""
    if output_name is None or len(runner.outputs) == 1:
        return 0
    try:
        sig = runner.interp._get_full_signature_list()
        tensor = next(iter(sig.values()))["outputs"][output_name]
        return [d["index"] for d in runner.outputs].index(tensor)
    except Exception:  # noqa: BLE001 - no signature: fall back to the Keras order
        return 0


def evaluate_tflite_batches(tflite_bytes: BytesOrPath, batches, metric: str = "accuracy", top_k: int = 5,
                            threads: int = 1, output_name: Optional[str] = None) -> float:
    """The metric of a .tflite over an iterable of (x, y) batches (a streamed split), with one interpreter
    for all of them (inputs quantized as x / scale + zero_point, rounded and clipped; outputs dequantized).
    ``output_name`` picks the scored output of a multi-output model."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; one of {', '.join(METRICS)}")
    runner = _Runner(tflite_bytes, threads)
    k = _tflite_output_position(runner, output_name)
    preds, labels = [], []
    for x, y in batches:
        preds.append(runner.predict(x, len(y))[k])
        labels.append(np.asarray(y))
    return compute_metric(np.concatenate(preds), np.concatenate(labels), metric, top_k)


def evaluate_tflite(tflite_bytes: BytesOrPath, x, y, metric: str = "accuracy", top_k: int = 5,
                    threads: int = 1, batch_size: int = 256) -> float:
    """The metric of a .tflite on arrays (x, y), run with the LiteRT interpreter in batches."""
    return evaluate_tflite_batches(tflite_bytes, _array_batches(x, y, int(batch_size)), metric, top_k, threads)


def evaluate_keras_batches(model, batches, metric: str = "accuracy", top_k: int = 5, output_index: int = 0) -> float:
    """The same metric for a Keras model over (x, y) batches, scored by compute_metric so that Keras and
    .tflite figures are comparable. Calls the model eagerly per batch: ``model.predict`` traces a new
    function for every model (≈0.5 s each), most of the time on small models."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; one of {', '.join(METRICS)}")
    preds, labels = [], []
    for x, y in batches:
        p = model(x, training=False)
        if isinstance(p, dict):
            p = list(p.values())
        p = p[output_index] if isinstance(p, (list, tuple)) else p
        preds.append(np.asarray(p))
        labels.append(np.asarray(y))
    return compute_metric(np.concatenate(preds), np.concatenate(labels), metric, top_k)


def evaluate_keras(model, x, y, metric: str = "accuracy", batch_size: int = 256, top_k: int = 5) -> float:
    """The metric of a Keras model on arrays (x, y), in batches."""
    return evaluate_keras_batches(model, _array_batches(x, y, int(batch_size)), metric, top_k)


def latency_ms(tflite_bytes: BytesOrPath, sample_x, runs: int = 50, warmup: int = 5, threads: int = 1) -> dict:
    """Single-sample inference latency with the LiteRT interpreter: ``warmup`` untimed invocations, then
    ``runs`` timed ``invoke()`` calls (time.perf_counter; the input is set once before).

    ``sample_x``: one sample, or a batch whose first sample is used (a list/dict for several inputs).
    """
    r = _Runner(tflite_bytes, threads)
    arrays = r._arrays(sample_x)
    one = []
    for a, d in zip(arrays, r.inputs, strict=True):
        rank = len(d.get("shape_signature", d["shape"]))
        one.append(a[None, ...] if a.ndim == rank - 1 else a[:1])
    if r.dynamic:
        r._resize(1)
    b = max(1, r.fixed or 1) if not r.dynamic else 1
    if b > 1:
        one = [np.repeat(a, b, axis=0) for a in one]
    for a, d in zip(one, r.inputs, strict=True):
        r.interp.set_tensor(d["index"], r._fit(a, d, b))
    interp = r.interp
    for _ in range(max(0, int(warmup))):
        interp.invoke()
    times = []
    for _ in range(max(1, int(runs))):
        t0 = time.perf_counter()
        interp.invoke()
        times.append((time.perf_counter() - t0) * 1000.0)
    times.sort()
    p90 = times[min(len(times) - 1, int(np.ceil(0.9 * len(times))) - 1)]
    return {"median_ms": float(statistics.median(times)), "p90_ms": float(p90), "runs": len(times),
            "threads": int(threads)}


__all__ = [
    "file_sizes", "path_sizes", "zip_size", "tflite_weight_stats", "tflite_io", "guess_quantization",
    "keras_weight_stats", "summary", "compute_metric", "predict_tflite", "evaluate_tflite", "evaluate_keras",
    "evaluate_tflite_batches", "evaluate_keras_batches",
    "latency_ms", "keras_layer_name", "load_tflite_model", "value_stats", "METRICS", "LOWER_IS_BETTER",
]
