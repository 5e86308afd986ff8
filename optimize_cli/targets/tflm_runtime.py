"""TensorFlow Lite Micro (`tflite-micro`, imported lazily): the tensor arena the interpreter allocated
(total, head, tail, as its RecordingMicroAllocator reports them), the operators it has no kernel for, and
the metric over the eval set on TFLM's kernels (batch 1, one invoke per sample).

TFLM's C++ prints its allocations and errors straight to the process's stdout/stderr: both are caught
(quiet.native_output_silenced) and parsed, never shown."""
from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path
from typing import Optional

import numpy as np

from ..quiet import native_output_silenced

MIN_ARENA = 1 << 20  # bytes: the arena given by default is 10 × the model, at least this
_ARENA = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")
_MISSING_OP = re.compile(r"Didn't find op for builtin opcode '([^']+)'|Failed to get registration from op code (\S+)")
_CUSTOM_OP = re.compile(r"Didn't find op for custom opcode '([^']+)'|Failed to get registration for custom op (\S+)")


def version() -> str:
    import tflite_micro

    return str(tflite_micro.__version__)


def _caught(fn):
    """Run fn with fds 1 and 2 caught: (its value or the exception it raised, the text caught)."""
    with tempfile.TemporaryDirectory(prefix="optimize-cli-tflm-") as tmp:
        log = Path(tmp) / "tflm.log"
        value = None
        with native_output_silenced(fds=(1, 2), log_path=log, replay_on_error=False, honour_env=False):
            try:
                value = fn()
            except (RuntimeError, ValueError) as e:
                value = e
        return value, log.read_text(encoding="utf-8", errors="replace")


def _details(it, kind: str) -> list[dict]:
    """Every input (or output) tensor's details; their number read from the model's first subgraph."""
    get = getattr(it, f"get_{kind}_details")
    return [get(i) for i in range(it.optimize_cli_io[kind])]


def open_interpreter(tfl: bytes, arena_size: Optional[int] = None):
    """(interpreter or None, figures): arena bytes from the allocator's own report after one invoke on
    zeros, or the operators TFLM cannot run (`unsupported_ops`) and its error (`error`)."""
    from tflite_micro import runtime

    arena = int(arena_size or max(MIN_ARENA, 10 * len(tfl)))
    it, text = _caught(lambda: runtime.Interpreter.from_bytes(bytes(tfl), arena_size=arena))
    figures: dict = {"version": version(), "arena_size_given": arena}
    sub = runtime.convert_bytearray_to_object(bytearray(tfl)).subgraphs[0]
    if isinstance(it, Exception):
        ops = sorted({a or b for a, b in _MISSING_OP.findall(text)} | {a or b for a, b in _CUSTOM_OP.findall(text)})
        figures.update(runs=False, unsupported_ops=ops, arena_bytes=None,
                       error=str(it) + (f" ({text.strip().splitlines()[0]})" if text.strip() else ""))
        return None, figures

    it.optimize_cli_io = {"input": len(sub.inputs), "output": len(sub.outputs)}

    def first_invoke():
        for i, d in enumerate(_details(it, "input")):
            it.set_input(np.zeros(d["shape"], d["dtype"]), i)
        it.invoke()
        it.print_allocations()

    err, text = _caught(first_invoke)
    found = {k: int(v) for k, v in _ARENA.findall(text)}
    figures.update(runs=not isinstance(err, Exception), unsupported_ops=[], arena_bytes=found.get("total"),
                   arena_head_bytes=found.get("head"), arena_tail_bytes=found.get("tail"))
    if isinstance(err, Exception):
        figures["error"] = str(err)
        return None, figures
    return it, figures


def _quantize(x: np.ndarray, d: dict) -> np.ndarray:
    q = d.get("quantization_parameters") or {}
    scales, zps = np.asarray(q.get("scales", [])), np.asarray(q.get("zero_points", []))
    dtype = np.dtype(d["dtype"])
    if np.issubdtype(dtype, np.integer) and scales.size:
        info = np.iinfo(dtype)
        v = np.round(np.asarray(x, np.float32) / np.float32(scales[0]) + zps[0])
        return np.clip(v, info.min, info.max).astype(dtype)
    return np.asarray(x).astype(dtype, copy=False)


def _dequantize(v: np.ndarray, d: dict) -> np.ndarray:
    q = d.get("quantization_parameters") or {}
    scales, zps = np.asarray(q.get("scales", [])), np.asarray(q.get("zero_points", []))
    if np.issubdtype(v.dtype, np.integer) and scales.size:
        return (v.astype(np.float32) - np.float32(zps[0])) * np.float32(scales[0])
    return v.astype(np.float32)


def predict(it, batches) -> tuple[np.ndarray, np.ndarray]:
    """(first output dequantized, labels) over (x, y) batches, one sample per invoke."""
    ins, out = _details(it, "input"), _details(it, "output")[0]
    preds, labels = [], []

    def run_all():
        for x, y in batches:
            if isinstance(x, dict):
                raise ValueError("inputs given by name are not scored on TFLM (its interpreter has no input names)")
            arrays = list(x) if isinstance(x, (list, tuple)) else [x]
            for j in range(len(y)):
                for i, d in enumerate(ins):
                    it.set_input(_quantize(np.asarray(arrays[i][j]).reshape(d["shape"]), d), i)
                it.invoke()
                preds.append(_dequantize(np.asarray(it.get_output(0))[0], out))
            labels.append(np.asarray(y))

    err, text = _caught(run_all)
    if isinstance(err, Exception):
        raise RuntimeError(f"TFLM invoke failed: {err} {text.strip()[-300:]}")
    return np.stack(preds), np.concatenate(labels)


class _ReferenceLitert:
    """LiteRT with its reference kernels (BUILTIN_REF: the arithmetic TFLM's kernels share), behind the
    TFLM interpreter's methods so that `predict` runs it the same way."""

    def __init__(self, tfl: bytes):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        self.it = Interpreter(model_content=bytes(tfl), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        self.it.allocate_tensors()
        self.ins, self.outs = self.it.get_input_details(), self.it.get_output_details()
        self.optimize_cli_io = {"input": len(self.ins), "output": len(self.outs)}

    def get_input_details(self, i):
        return self.ins[i]

    def get_output_details(self, i):
        return self.outs[i]

    def set_input(self, v, i):
        self.it.set_tensor(self.ins[i]["index"], v)

    def invoke(self):
        self.it.invoke()

    def get_output(self, i):
        return self.it.get_tensor(self.outs[i]["index"])


def reference_litert_accuracy(tfl: bytes, batches, metric: str = "accuracy", top_k: int = 5) -> float:
    """The metric with LiteRT's reference kernels, batch 1: where TFLM and LiteRT's default (optimized)
    kernels disagree, this tells whether the difference is the kernels' rounding (it then equals TFLM's)."""
    from ..measure.metrics import compute_metric

    preds, labels = predict(_ReferenceLitert(tfl), batches)
    return float(compute_metric(preds, labels, metric, top_k))


def measure_tflm(tfl: bytes, batches=None, metric: str = "accuracy", top_k: int = 5,
                 arena_size: Optional[int] = None) -> dict:
    """The TFLM figures of a .tflite: version, arena bytes (total/head/tail), unsupported ops, and with
    `batches` (an iterable of (x, y)) the metric on TFLM's kernels and the seconds it took."""
    from ..measure.metrics import compute_metric

    it, figures = open_interpreter(tfl, arena_size)
    if it is None or batches is None:
        return figures
    t0 = time.monotonic()
    try:
        preds, labels = predict(it, batches)
        figures["accuracy"] = float(compute_metric(preds, labels, metric, top_k))
        figures["eval_samples"] = int(len(labels))
    except (RuntimeError, ValueError, IndexError, KeyError, TypeError) as e:
        figures["accuracy"], figures["error"] = None, str(e)[:500]
    figures["accuracy_seconds"] = round(time.monotonic() - t0, 3)
    return figures
