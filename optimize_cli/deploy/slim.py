"""Slim a .tflite for one runtime: drop what that runtime never reads, through the flatbuffer schema's own
object API (`ModelT` unpack → change → pack), never by editing bytes.

The schema module is `ai_edge_litert.schema_py_generated`: the same generated code as TensorFlow's
`tensorflow.lite.python.schema_py_generated` (from the same `schema.fbs`, newer), shipped in the LiteRT
wheel we already require, and importable without importing TensorFlow (20 ms instead of seconds).
Packing is TensorFlow's own `flatbuffer_utils.convert_object_to_bytearray` (a `flatbuffers.Builder`,
`Finish` with the `TFL3` identifier), so an unchanged converter output round-trips byte for byte.

`slim(tflite, changes, check)` applies the named changes in order and measures the bytes each removed
(the file packed before and after it). Which runtime accepts which change is the target's to say (its
module's `SLIM_CHANGES`, optimize_cli/targets/); what was found by running both files
(tests/deploy/test_slim.py; `verify.py` runs them):

| change              | litert | tflm | ethos-u | what it removes |
|---------------------|--------|------|---------|-----------------|
| `tensor_names`      | yes    | yes  | yes     | names of tensors that are not a model input or output |
| `zero_points`       | no     | yes  | no      | an all-zero per-channel zero-point vector → one 0 |
| `metadata`          | yes    | yes  | yes     | `min_runtime_version`, `CONVERSION_METADATA` and the description |
| `empty_buffers`     | yes    | yes  | yes     | the empty buffer each activation gets: they share buffer 0 |
| `duplicate_buffers` | yes    | yes  | yes     | constant buffers with the same bytes: stored once |

LiteRT refuses the collapsed zero points ("QuantizationParam has 1 zero_point values and 64 scale
values"); TFLM reads one zero point for a per-channel tensor as zero for every channel. Vela compiles a
file with them to the same figures, but the operators it leaves to the CPU would run with them, which
cannot be run here, so ethos-u gets the LiteRT set. For ethos-u every change leaves Vela's figures
(cycles, SRAM, operators, encoded weights and its flash) unchanged: Vela rewrites names and buffers in
its own output, so slimming its input saves only the metadata (~220 B) in `model_vela.tflite`.

The TF converter already uniques equal constants, so `duplicate_buffers` finds nothing in its output; it
is for files written by other tools. Slimming keeps every tensor index: a table labelled by tensor names
(per-layer sparsity, LUT rows) reads the names from the file before slimming.

Signature defs, subgraph inputs/outputs (names included), operator codes and any other metadata
(`OfflineMemoryAllocation`, …) are always kept. Buffers stay where the Python packer puts them (4-byte
aligned, like the converter's own int8 output); a 16-byte-aligned input loses that padding (`repack`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

FILE_IDENTIFIER = b"TFL3"
DROPPED_METADATA = ("min_runtime_version", "CONVERSION_METADATA")  # written by the converter, read by no runtime


@dataclass
class SlimResult:
    """What `slim` returns: the slimmed file, the changes applied (in order), the bytes each removed, and
    the changes not applied with the reason (refused by the runtime, or nothing to change)."""

    tflite: bytes
    original_bytes: int
    applied: list[str] = field(default_factory=list)
    removed_bytes: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    verified_samples: int = 0  # samples both files ran bit-identically on (0: not checked)

    @property
    def slim_bytes(self) -> int:
        return len(self.tflite)

    def to_dict(self) -> dict:
        return {"original_bytes": self.original_bytes, "slim_bytes": self.slim_bytes,
                "applied": list(self.applied), "removed_bytes": dict(self.removed_bytes),
                "skipped": dict(self.skipped), "verified_samples": self.verified_samples}


class SlimError(ValueError):
    """The file cannot be slimmed (not a .tflite flatbuffer, or buffers stored outside it)."""


def schema():
    """The flatbuffer schema module (lazy: the LiteRT wheel's copy, see the module docstring)."""
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def unpack(tflite: bytes):
    """The file as the schema's mutable object tree (`ModelT`)."""
    data = bytes(tflite)
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        raise SlimError("not a .tflite flatbuffer (no TFL3 identifier)")
    return schema().ModelT.InitFromPackedBuf(bytearray(data), 0)


def pack(model) -> bytes:
    """`ModelT` → bytes, exactly as TensorFlow's flatbuffer_utils.convert_object_to_bytearray packs it."""
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def _text(v) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, (bytes, bytearray)) else str(v or "")


def _io_tensors(sub) -> set:
    return {int(i) for i in list(sub.inputs if sub.inputs is not None else [])
               + list(sub.outputs if sub.outputs is not None else [])}


def _signature_tensors(model, index: int) -> set:
    keep = set()
    for sig in model.signatureDefs or []:
        if sig.subgraphIndex == index:
            keep |= {int(t.tensorIndex) for t in list(sig.inputs or []) + list(sig.outputs or [])}
    return keep


def empty_tensor_names(model) -> bool:
    """Internal tensor names → empty; a subgraph's inputs and outputs (and signature tensors) keep theirs."""
    changed = False
    for s, sub in enumerate(model.subgraphs or []):
        keep = _io_tensors(sub) | _signature_tensors(model, s)
        for i, t in enumerate(sub.tensors or []):
            if i not in keep and t.name:
                t.name, changed = b"", True
    return changed


def collapse_zero_points(model) -> bool:
    """Every per-channel zero-point vector that is all zero → a single 0 (TFLM only)."""
    changed = False
    for sub in model.subgraphs or []:
        for t in sub.tensors or []:
            q = t.quantization
            zp = None if q is None else q.zeroPoint
            if zp is not None and len(zp) > 1 and not any(int(z) for z in zp):
                q.zeroPoint, changed = [0], True
    return changed


def drop_metadata(model) -> bool:
    """The converter's `min_runtime_version` and `CONVERSION_METADATA` entries and the model description."""
    changed = bool(model.description)
    model.description = None
    kept = [m for m in model.metadata or [] if _text(m.name) not in DROPPED_METADATA]
    changed |= len(kept) != len(model.metadata or [])
    model.metadata = kept or None
    return _drop_unused_buffers(model) or changed


def share_empty_buffers(model) -> bool:
    """Tensors without data all point at buffer 0 (the schema's empty sentinel); their own empty buffers go."""
    if not model.buffers or _has_data(model.buffers[0]):
        return False
    for sub in model.subgraphs or []:
        for t in sub.tensors or []:
            if t.buffer and not _has_data(model.buffers[t.buffer]):
                t.buffer = 0
    return _drop_unused_buffers(model)


def share_duplicate_buffers(model) -> bool:
    """Constant buffers holding the same bytes are stored once; their tensors point at the first."""
    first: dict[bytes, int] = {}
    remap: dict[int, int] = {}
    for i, b in enumerate(model.buffers or []):
        if i and _has_data(b):
            remap[i] = first.setdefault(bytes(_data(b)), i)
    if all(k == v for k, v in remap.items()):
        return False
    for sub in model.subgraphs or []:
        for t in sub.tensors or []:
            t.buffer = remap.get(t.buffer, t.buffer)
    return _drop_unused_buffers(model)


def _data(b):
    return b.data if b.data is not None else b""


def _has_data(b) -> bool:
    return b.data is not None and len(b.data) > 0


def _drop_unused_buffers(model) -> bool:
    """Buffers nothing points at (tensors, metadata) are removed and the indices renumbered; buffer 0 stays."""
    used = {0}
    for sub in model.subgraphs or []:
        used |= {int(t.buffer) for t in sub.tensors or []}
    used |= {int(m.buffer) for m in model.metadata or []}
    used |= {int(b) for b in (model.metadataBuffer if model.metadataBuffer is not None else [])}
    if len(used) == len(model.buffers or []):
        return False
    order = sorted(used)
    new = {old: n for n, old in enumerate(order)}
    model.buffers = [model.buffers[i] for i in order]
    for sub in model.subgraphs or []:
        for t in sub.tensors or []:
            t.buffer = new[int(t.buffer)]
    for m in model.metadata or []:
        m.buffer = new[int(m.buffer)]
    if model.metadataBuffer is not None:
        model.metadataBuffer = [new[int(b)] for b in model.metadataBuffer]
    return True


#: every change, in the order slim applies them: name → the function that makes it (True: it changed something)
CHANGES: dict[str, Callable] = {
    "tensor_names": empty_tensor_names,
    "zero_points": collapse_zero_points,
    "metadata": drop_metadata,
    "empty_buffers": share_empty_buffers,
    "duplicate_buffers": share_duplicate_buffers,
}
CHANGE_NAMES = tuple(CHANGES)
#: the changes every runtime here accepts (LiteRT, TFLM and Vela were each run on them)
SAFE_CHANGES = ("tensor_names", "metadata", "empty_buffers", "duplicate_buffers")


def slim(tflite: bytes, changes: Sequence[str] = SAFE_CHANGES, refused: Optional[dict] = None,
         check: Optional[Callable[[bytes, bytes], int]] = None) -> SlimResult:
    """Apply the named `changes` (in CHANGES' order) and measure each; `refused` (change → why) records the
    changes a runtime does not get as skipped. `check(original, slimmed)` proves the result on the runtime
    (raises verify.VerifyError on a difference; returns the samples compared).

    Raises ValueError for an unknown change, SlimError for a file that is not a .tflite or keeps buffers
    outside the flatbuffer (the >2 GB layout), which this packer cannot write back."""
    wanted = tuple(changes)
    unknown = [c for c in (*wanted, *(refused or {})) if c not in CHANGES]
    if unknown:
        raise ValueError(f"slim: unknown change(s) {', '.join(unknown)} (valid: {', '.join(CHANGE_NAMES)})")
    original = bytes(tflite)
    model = unpack(original)
    if any(getattr(b, "offset", 0) > 1 for b in model.buffers or []):
        raise SlimError("slim: the file stores its buffers outside the flatbuffer (offset/size), not supported")
    result = SlimResult(tflite=original, original_bytes=len(original), skipped=dict(refused or {}))
    current = len(pack(model))  # the round trip itself: 0 for a converter's output, the padding of others
    repacked = len(original) - current
    for name, apply in CHANGES.items():
        if name not in wanted:
            continue
        if not apply(model):
            result.skipped[name] = "nothing to change"
            continue
        size = len(pack(model))
        result.applied.append(name)
        result.removed_bytes[name] = current - size
        current = size
    if result.applied:  # else the file stays as it came, byte for byte
        result.tflite = pack(model)
        if repacked:
            result.removed_bytes = {"repack": repacked, **result.removed_bytes}
        if check is not None:
            result.verified_samples = check(original, result.tflite)
    return result
