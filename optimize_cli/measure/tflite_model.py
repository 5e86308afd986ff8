"""Reading a .tflite flatbuffer with the schema that ships with ai-edge-litert (``ModelT``): op names,
tensor names, types and quantization, constant values (int4 unpacked, sparse tensors densified), and
the main subgraph's inputs and outputs. Never imports TensorFlow."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .sizes import BytesOrPath, as_bytes

_NP_TYPES = {
    "FLOAT32": np.dtype("<f4"), "FLOAT16": np.dtype("<f2"), "FLOAT64": np.dtype("<f8"),
    "INT8": np.dtype("i1"), "UINT8": np.dtype("u1"), "INT16": np.dtype("<i2"), "UINT16": np.dtype("<u2"),
    "INT32": np.dtype("<i4"), "UINT32": np.dtype("<u4"), "INT64": np.dtype("<i8"), "UINT64": np.dtype("<u8"),
    "BOOL": np.dtype("?"), "BFLOAT16": np.dtype("<u2"),  # raw bit patterns (numpy has no bfloat16)
}


def _schema():
    from ai_edge_litert import schema_py_generated as schema

    return schema


def _enum_names(cls) -> dict:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


def load_tflite_model(tflite: BytesOrPath):
    """(ModelT, raw bytes) of a .tflite; ValueError when the bytes are not a TFLite flatbuffer."""
    data = as_bytes(tflite)
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


def tensor_name(t) -> str:
    """The tensor's name as text."""
    n = t.name
    return n.decode("utf-8", "replace") if isinstance(n, (bytes, bytearray)) else str(n or "")


def tensor_type_name(t) -> str:
    """The tensor's TensorType name (FLOAT32, INT8, …)."""
    return _enum_names(_schema().TensorType).get(t.type, f"TYPE_{t.type}")


def tensor_quantization(t) -> tuple:
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


def has_data(model, t) -> bool:
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


#: the most values a sparse tensor may densify to, whatever the file says (2**28 float32 values: 1 GiB)
MAX_DENSE_VALUES = 2**28
#: ... and at most this many values per byte of the file (a sparse encoding saves at most ~this much)
DENSE_VALUES_PER_FILE_BYTE = 64


def dense_limit(file_bytes: int) -> int:
    """How many values a tensor read from a file of `file_bytes` bytes may hold once densified."""
    return min(MAX_DENSE_VALUES, DENSE_VALUES_PER_FILE_BYTE * max(int(file_bytes), 1024))


def _elements(shape: Sequence[int]) -> Optional[int]:
    """The number of values of `shape` (Python ints: no int64 wrap-around); None for a negative dim."""
    n = 1
    for s in shape:
        if s < 0:
            return None
        n *= int(s)
    return n


def _too_large(what: str, n: int, limit: int) -> ValueError:
    return ValueError(f"a sparse tensor's {what} ({n:,} values) is more than a file of this size can "
                      f"describe (at most {limit:,})")


def _level_csr(d, pos: np.ndarray):
    """One SPARSE_CSR level: (positions, indices) of the next level; None when the segments and indices are
    inconsistent (out of range, decreasing)."""
    if d.arraySegments is None or d.arrayIndices is None:
        return None
    seg = np.asarray(d.arraySegments.values, np.int64)
    ind = np.asarray(d.arrayIndices.values, np.int64)
    if seg.ndim != 1 or ind.ndim != 1 or (pos.size and int(pos.max()) + 1 >= seg.size):
        return None
    starts, counts = seg[pos], seg[pos + 1] - seg[pos]
    if counts.size and (int(counts.min()) < 0 or int(starts.min()) < 0 or int((starts + counts).max()) > ind.size):
        return None
    total = int(counts.sum())
    if total > ind.size:  # overlapping segments
        return None
    pos = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total, dtype=np.int64)
    return pos, counts, ind[pos]


def _densify(values: np.ndarray, shape: Sequence[int], sp, limit: int = MAX_DENSE_VALUES) -> Optional[np.ndarray]:
    """Decode a TFLite sparse tensor (traversal order, block map, DENSE / SPARSE_CSR levels) to dense. Every
    size the file states (dense sizes, segments, the shape) is checked against the values present and
    `limit` before anything is allocated: ValueError when too large, None when inconsistent."""
    order = [int(v) for v in (sp.traversalOrder if sp.traversalOrder is not None else [])]
    bmap = [int(v) for v in (sp.blockMap if sp.blockMap is not None else [])]
    dims = sp.dimMetadata or []
    rank = len(shape)
    if not order or len(dims) != len(order) or len(order) != rank + len(bmap) \
            or sorted(order) != list(range(len(order))):
        return None
    if any(not 0 <= b < rank for b in bmap):
        return None
    n_dense = _elements(shape)
    if n_dense is None:
        return None
    if n_dense > limit:
        raise _too_large("shape", n_dense, limit)
    block_size = [1] * len(bmap)
    for p in range(rank, len(order)):
        block_size[order[p] - rank] = int(dims[p].denseSize)
    pos = np.zeros(1, np.int64)
    cols: list = []
    for d in dims:
        if int(d.format) == 0:  # DENSE
            size = int(d.denseSize)
            if size < 0:
                return None
            if pos.size * size > n_dense:  # a valid encoding never enumerates more than the shape holds
                raise _too_large("dense sizes", pos.size * size, n_dense)
            cols = [np.repeat(c, size) for c in cols]
            new = np.tile(np.arange(size, dtype=np.int64), pos.size)
            pos = np.repeat(pos, size) * size + new
        else:  # SPARSE_CSR
            level = _level_csr(d, pos)
            if level is None:
                return None
            pos, counts, new = level
            cols = [np.repeat(c, counts) for c in cols]
        cols.append(new)
    if pos.size != values.size:
        return None
    orig = [None] * rank
    for i in range(rank):
        orig[order[i]] = cols[i]
    for i in range(rank, len(order)):
        b = order[i] - rank
        orig[bmap[b]] = orig[bmap[b]] * block_size[b] + cols[i]
    if any(o.size and (int(o.min()) < 0 or int(o.max()) >= int(s)) for o, s in zip(orig, shape, strict=True)):
        return None
    dense = np.zeros(tuple(int(s) for s in shape), values.dtype)
    dense[tuple(orig)] = values
    return dense


def tensor_values(model, raw: bytes, t) -> Optional[np.ndarray]:
    """The constant values of tensor ``t`` in its stored dtype and shape (sparse tensors densified, within
    dense_limit(len(raw)): ValueError beyond it); None for tensors without data or with inconsistent
    metadata."""
    data = _buffer_bytes(model, raw, t)
    if data is None:
        return None
    tname = tensor_type_name(t)
    shape = [int(s) for s in (t.shape if t.shape is not None else [])]
    n = _elements(shape)
    if n is None:
        return None
    if tname == "INT4":
        if t.sparsity is not None or n > 2 * len(data):
            return None
        return _unpack_int4(data, n).reshape(shape)
    dt = _NP_TYPES.get(tname)
    if dt is None or len(data) % dt.itemsize:
        return None
    vals = np.frombuffer(data, dt)
    if t.sparsity is not None:
        return _densify(vals, shape, t.sparsity, dense_limit(len(raw)))
    if vals.size != n:
        return None
    return vals.reshape(shape)


def tflite_io(tflite: BytesOrPath) -> dict:
    """Inputs and outputs of the main subgraph: name, shape (−1 for dynamic dims), dtype, quantization."""
    model, _raw = load_tflite_model(tflite)
    sg = model.subgraphs[0]

    def desc(ti):
        t = sg.tensors[int(ti)]
        sig = t.shapeSignature if t.shapeSignature is not None and len(t.shapeSignature) else t.shape
        scale, zp, qdim = tensor_quantization(t)
        q = None
        if scale is not None:
            q = {"scale": [float(s) for s in scale], "zero_point": [int(z) for z in zp], "quantized_dimension": qdim}
        return {"name": tensor_name(t), "shape": [int(s) for s in (sig if sig is not None else [])],
                "dtype": tensor_type_name(t).lower(), "quantization": q}

    return {"inputs": [desc(i) for i in (sg.inputs if sg.inputs is not None else [])],
            "outputs": [desc(i) for i in (sg.outputs if sg.outputs is not None else [])]}


