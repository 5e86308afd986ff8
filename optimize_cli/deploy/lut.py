"""TFLM look-up-table compression, tensor by tensor, only where it makes the file smaller.

tflite-micro's compressor (`tflite_micro.tensorflow.lite.micro.compression`, imported lazily) rewrites a
constant tensor as `bits`-wide indices into value tables and inserts a `TFLM_DECODE` operator before its
users: the file then runs on TFLM only. For each constant tensor the choice here is:

- the mode follows the tensor's quantization: one table per channel (along its `quantized_dimension`)
  for a per-channel-quantized tensor, one table for the whole tensor otherwise (the other mode gives
  wrong outputs, measured);
- bits = ceil(log2(distinct values per table)), at least 1; LUT indices are at most 7 bits, so a table
  of more than 128 values is skipped;
- greedy over the tensors, largest estimated saving first: a tensor's compression is kept only if the
  whole file (DECODE operator, ancillary tensor and tables included) gets smaller.

`compress(tflite, inputs)` then runs the uncompressed and the compressed file on TFLM over `inputs` and
raises VerifyError unless every output is bit-identical. A file TFLM cannot load raises TflmLoadError.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Optional, Sequence

import numpy as np

from .verify import TflmLoadError, assert_same_outputs, run_tflm

MAX_BITS = 7  # the DCM's bitwidth field (tflite-micro lut.LutAncillaryData.MAX_BITWIDTH)
DCM_BYTES = 16  # the decode common metadata header before the value tables


@dataclass
class TensorLut:
    """One constant tensor's row of the compression table."""

    tensor: int  # index in subgraph 0
    name: str
    shape: list
    dtype: str
    mode: str  # per_channel | per_tensor
    axis: Optional[int]
    distinct: int  # most distinct values in one table
    bits: Optional[int]
    bytes_before: int  # the tensor's data
    bytes_after: Optional[int]  # indices + DCM + value tables (None when not compressed)
    file_saved: int = 0  # bytes the whole file lost by compressing this tensor (kept tensors only)
    compressed: bool = False
    skipped: Optional[str] = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class LutResult:
    """What `compress` returns: the file (the input itself when nothing paid), and one row per tensor."""

    tflite: bytes
    original_bytes: int
    tensors: list = field(default_factory=list)
    verified_samples: int = 0

    @property
    def compressed_bytes(self) -> int:
        return len(self.tflite)

    @property
    def compressed_tensors(self) -> list:
        return [t for t in self.tensors if t.compressed]

    def to_dict(self) -> dict:
        return {"original_bytes": self.original_bytes, "compressed_bytes": self.compressed_bytes,
                "verified_samples": self.verified_samples, "tensors": [t.to_dict() for t in self.tensors]}


_DTYPES = {2: np.int32, 3: np.uint8, 4: np.int64, 7: np.int16, 9: np.int8, 0: np.float32}


def _tables(values: np.ndarray, axis: Optional[int]) -> list:
    if axis is None:
        return [np.unique(values)]
    return [np.unique(s) for s in np.moveaxis(values, axis, 0)]


def _candidate(model, index: int, t, names: Sequence[str]) -> Optional[TensorLut]:
    """The row for a constant tensor (None for a tensor without data)."""
    b = model.buffers[t.buffer]
    if b.data is None or len(b.data) == 0:
        return None
    data = bytes(np.asarray(b.data, dtype=np.uint8))
    shape = [int(s) for s in (t.shape if t.shape is not None else [])]
    q = t.quantization
    per_channel = q is not None and q.scale is not None and len(q.scale) > 1
    axis = int(q.quantizedDimension) if per_channel else None
    name = names[index] if index < len(names) and names[index] else (t.name or b"").decode("utf-8", "replace")
    row = TensorLut(tensor=index, name=name, shape=shape, dtype=str(np.dtype(_DTYPES.get(t.type, np.uint8))),
                    mode="per_channel" if per_channel else "per_tensor", axis=axis, distinct=0, bits=None,
                    bytes_before=len(data), bytes_after=None)
    dtype = _DTYPES.get(t.type)
    if dtype is None or not shape or int(np.prod(shape)) * np.dtype(dtype).itemsize != len(data):
        row.skipped = "not a dense integer or float tensor"
        return row
    values = np.frombuffer(data, dtype=dtype).reshape(shape)
    tables = _tables(values, axis)
    row.distinct = max(len(v) for v in tables)
    bits = max(1, math.ceil(math.log2(row.distinct)))
    if bits > MAX_BITS:
        row.skipped = f"{row.distinct} distinct values per table: needs {bits} bits, LUT indices take at most {MAX_BITS}"
        return row
    row.bits = bits
    row.bytes_after = (math.ceil(values.size * bits / 8) + DCM_BYTES
                       + len(tables) * row.distinct * np.dtype(dtype).itemsize)
    if row.bytes_after >= row.bytes_before:
        row.skipped = f"{bits}-bit indices and tables take {row.bytes_after} B for {row.bytes_before} B"
    return row


def _spec(row: TensorLut):
    from tflite_micro.tensorflow.lite.micro.compression import spec

    mode = spec.PerTensor() if row.axis is None else spec.PerChannel(axis=row.axis)
    return spec.Tensor(subgraph=0, tensor=row.tensor,
                       compression=[spec.LookUpTableCompression(index_bitwidth=row.bits, mode=mode)])


def compressed_file(tflite: bytes, rows: list) -> bytes:
    """`tflite` with the tensors of `rows` LUT-compressed as the rows say (no choice, no check)."""
    from tflite_micro.tensorflow.lite.micro.compression import compress as tflm_compress  # the function

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "resulted in expansion": measured here, not warned about
        return bytes(tflm_compress(bytes(tflite), [_spec(r) for r in rows]))


def plan(tflite: bytes, names: Sequence[str] = ()) -> list:
    """One row per constant tensor of subgraph 0: mode, bits and the estimated bytes (nothing compressed)."""
    from .slim import unpack

    model = unpack(tflite)
    if len(model.subgraphs or []) != 1:
        raise ValueError("lut: only single-subgraph models are compressed")
    rows = []
    for i, t in enumerate(model.subgraphs[0].tensors or []):
        row = _candidate(model, i, t, names)
        if row is not None:
            rows.append(row)
    return rows


def compress(tflite: bytes, inputs: Sequence = (), names: Sequence[str] = (), verify: bool = True) -> LutResult:
    """LUT-compress `tflite` for TFLM where it pays (see the module docstring) and check it on `inputs`.

    `names` optionally names the tensors by index (e.g. `tensor_names(unslimmed_file)`: slimming empties
    the names but keeps the indices). Raises TflmLoadError if TFLM cannot load `tflite`, VerifyError if the
    compressed file's outputs differ, ValueError for a multi-subgraph model."""
    from tflite_micro.tensorflow.lite.micro.compression.compressor import CompressionError

    original = bytes(tflite)
    inputs = list(inputs)
    run_tflm(original, inputs[:1] or [], arena_size=None)  # loads (and runs one sample) or TflmLoadError
    rows = plan(original, names)
    result = LutResult(tflite=original, original_bytes=len(original), tensors=rows)
    kept: list = []
    best = original
    for row in sorted((r for r in rows if r.skipped is None), key=lambda r: r.bytes_after - r.bytes_before):
        try:
            candidate = compressed_file(original, kept + [row])
        except CompressionError as e:
            row.skipped = " ".join(str(e).split())[:200]
            continue
        if len(candidate) < len(best):
            row.compressed, row.file_saved = True, len(best) - len(candidate)
            kept.append(row)
            best = candidate
        else:
            row.skipped = f"the file would grow by {len(candidate) - len(best)} B"
    result.tflite = best
    if kept and verify and inputs:
        result.verified_samples = assert_same_outputs(original, best, inputs, run_tflm, "TFLM")
    return result


def tensor_names(tflite: bytes) -> list[str]:
    """Every tensor name of subgraph 0, by index (read before slimming, to label the compression table)."""
    from .slim import unpack

    return [(t.name or b"").decode("utf-8", "replace") for t in unpack(tflite).subgraphs[0].tensors or []]


__all__ = ["LutResult", "TensorLut", "TflmLoadError", "compress", "compressed_file", "plan", "tensor_names"]
