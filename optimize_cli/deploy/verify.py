"""Prove a transform changed nothing a runtime computes: run the original and the transformed file on the
same inputs and compare every output bit for bit, with a runner (`run_litert`, `run_tflm`, or any
function `(tflite, inputs) -> outputs per sample`); the targets say which runner is theirs.

`inputs` is a sequence of samples; a sample is one array (a single-input model) or a list of arrays, with
or without the batch dimension of 1. Float samples fed to an integer input are quantized with that input's
own scale and zero point, once, so that both files get the very same tensors.
"""
from __future__ import annotations

import re
from typing import Callable, Optional, Sequence

import numpy as np

from ..errors import StageError
from ..quiet import native_output_silenced


class VerifyError(StageError):
    """The transformed file computed different outputs, or does not run (exit 4; one line)."""


class TflmLoadError(StageError):
    """The TFLM interpreter cannot load or run the file (exit 4); the message is its own error, one line."""


def _sample_arrays(sample) -> list:
    return [np.asarray(a) for a in (sample if isinstance(sample, (list, tuple)) else [sample])]


def _as_input(x: np.ndarray, d: dict) -> np.ndarray:
    """One sample in the input's dtype and shape (quantized with its parameters if it is float)."""
    dtype, shape = np.dtype(d["dtype"]), tuple(int(s) for s in d["shape"])
    x = np.asarray(x)
    if np.issubdtype(dtype, np.integer) and x.dtype.kind == "f":
        q = d.get("quantization_parameters") or {}
        scales, zps = np.asarray(q.get("scales", [])), np.asarray(q.get("zero_points", []))
        if scales.size:
            info = np.iinfo(dtype)
            x = np.clip(np.round(x.astype(np.float32) / np.float32(scales[0]) + zps[0]), info.min, info.max)
    return np.ascontiguousarray(x.astype(dtype, copy=False).reshape(shape))


def _litert(tflite: bytes, reference: bool = False):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kind = OpResolverType.BUILTIN_REF if reference else OpResolverType.AUTO
    return Interpreter(model_content=bytes(tflite), experimental_op_resolver_type=kind)


def _dynamic(d: dict) -> bool:
    """The input has a dimension other than the batch left open (`(None, None, 1)`): sized per sample."""
    sig = list(d.get("shape_signature", d["shape"]))
    return any(int(s) < 0 for s in sig[1:])


def run_litert(tflite: bytes, inputs: Sequence, reference: bool = False) -> list[list[np.ndarray]]:
    """Every output of every sample on LiteRT (its default kernels, or the reference ones); an input with
    open spatial dimensions is resized to each sample's shape."""
    it = _litert(tflite, reference)
    ins = it.get_input_details()
    dynamic = any(_dynamic(d) for d in ins)
    if not dynamic:
        it.allocate_tensors()
    shapes: list = []
    results = []
    for sample in inputs:
        arrays = _sample_arrays(sample)
        if dynamic:
            want = [tuple([1, *np.asarray(x).shape[1:]] if np.asarray(x).ndim == len(d["shape"]) else
                          [1, *np.asarray(x).shape]) if _dynamic(d) else tuple(d["shape"])
                    for d, x in zip(ins, arrays, strict=True)]
            if want != shapes:
                for d, shape in zip(ins, want, strict=True):
                    it.resize_tensor_input(d["index"], list(shape))
                it.allocate_tensors()
                shapes = want
            ins = it.get_input_details()
        for d, x in zip(ins, arrays, strict=True):
            it.set_tensor(d["index"], _as_input(x, d))
        it.invoke()
        results.append([np.array(it.get_tensor(o["index"])) for o in it.get_output_details()])
    return results


def _tflm_io(tflite: bytes) -> tuple[int, int]:
    from .slim import unpack

    sub = unpack(tflite).subgraphs[0]
    return len(sub.inputs), len(sub.outputs)


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.search(r"fail|error|didn't find|not supported|unsupported", ln, re.I)]
    return (errors or lines or [""])[0][:300]


def run_tflm(tflite: bytes, inputs: Sequence, arena_size: Optional[int] = None) -> list[list[np.ndarray]]:
    """Every output of every sample on TFLM's kernels. TflmLoadError when it cannot load or run the file."""
    import tempfile
    from pathlib import Path

    from tflite_micro import runtime

    n_in, n_out = _tflm_io(tflite)
    arena = int(arena_size or max(1 << 20, 10 * len(tflite)))
    with tempfile.TemporaryDirectory(prefix="optimize-cli-deploy-") as tmp:
        log = Path(tmp) / "tflm.log"
        with native_output_silenced(fds=(1, 2), log_path=log, replay_on_error=False, honour_env=False):
            try:
                it = runtime.Interpreter.from_bytes(bytes(tflite), arena_size=arena)
                ins = [it.get_input_details(i) for i in range(n_in)]
                results = []
                for sample in inputs:
                    for i, (d, x) in enumerate(zip(ins, _sample_arrays(sample), strict=True)):
                        it.set_input(_as_input(x, d), i)
                    it.invoke()
                    results.append([np.array(it.get_output(o)) for o in range(n_out)])
                error = None
            except (RuntimeError, ValueError) as e:
                error = e
        if error is not None:
            said = _first_line(log.read_text(encoding="utf-8", errors="replace"))
            raise TflmLoadError(f"TFLM cannot run the model: {' '.join(str(error).split())}"
                                + (f" ({said})" if said else "")) from None
    return results


def first_difference(a: list, b: list) -> Optional[str]:
    """Where two runs' outputs differ (None if they are bit-identical)."""
    if len(a) != len(b):
        return f"{len(a)} vs {len(b)} samples"
    for s, (oa, ob) in enumerate(zip(a, b, strict=True)):
        if len(oa) != len(ob):
            return f"sample {s}: {len(oa)} vs {len(ob)} outputs"
        for k, (x, y) in enumerate(zip(oa, ob, strict=True)):
            if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
                n = int(np.sum(x != y)) if x.shape == y.shape else -1
                return f"sample {s}, output {k}: {n} values differ ({x.dtype}{x.shape} vs {y.dtype}{y.shape})"
    return None


Runner = Callable[[bytes, Sequence], list]


def assert_same_outputs(original: bytes, transformed: bytes, inputs: Sequence, runner: Runner, label: str) -> int:
    """VerifyError unless both files give bit-identical outputs with `runner` for every sample (a transformed
    file that does not load or run is a VerifyError too); returns the number of samples compared. `label`
    names the runtime in the message."""
    inputs = list(inputs)
    if not inputs:
        raise ValueError("verify: no inputs to compare on")
    expected = runner(original, inputs)
    try:
        got = runner(transformed, inputs)
    except (ValueError, RuntimeError, TflmLoadError) as e:
        raise VerifyError(f"{label}: the transformed file does not run: {' '.join(str(e).split())[:300]}") from None
    diff = first_difference(expected, got)
    if diff is not None:
        raise VerifyError(f"{label}: outputs differ from the original's: {diff}")
    return len(inputs)


def run_litert_reference(tflite: bytes, inputs: Sequence) -> list[list[np.ndarray]]:
    """run_litert on LiteRT's reference kernels (the arithmetic TFLM shares)."""
    return run_litert(tflite, inputs, reference=True)
