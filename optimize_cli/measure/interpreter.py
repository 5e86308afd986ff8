"""Running a .tflite with the LiteRT interpreter (``ai_edge_litert``, imported lazily): batched
prediction with quantized inputs and dequantized outputs, the metric over a streamed split (for a
.tflite and, scored the same way, for a Keras model), and single-inference latency."""
from __future__ import annotations

import statistics
import time
from typing import Optional

import numpy as np

from .metrics import check_metric, compute_metric
from .sizes import BytesOrPath, as_bytes

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
    """A LiteRT interpreter (``ai_edge_litert.interpreter.Interpreter``) with tensors allocated — unless
    an input has a dynamic dimension besides the batch that the delegate cannot allocate as converted
    (a (None, None, 1) image): then the tensors are allocated by the first resize to the samples' shape."""
    from ai_edge_litert.interpreter import Interpreter

    from ..quiet import native_stderr_silenced

    with native_stderr_silenced():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
        interp = Interpreter(model_content=as_bytes(tflite), num_threads=int(threads))
        try:
            interp.allocate_tensors()
        except RuntimeError:
            sigs = [list(d.get("shape_signature", d["shape"]))[1:] for d in interp.get_input_details()]
            if not any(int(s) == -1 for sig in sigs for s in sig):
                raise
    return interp


class _Runner:
    """Runs a .tflite over arrays in batches: resize the batch dimension once per batch size, quantize
    inputs, dequantize outputs. Falls back to the model's fixed batch (one sample at a time for batch 1)
    when the batch dimension cannot be resized."""

    def __init__(self, tflite: BytesOrPath, threads: int = 1):
        self.interp = make_interpreter(tflite, threads)
        self.inputs = self.interp.get_input_details()
        self.outputs = self.interp.get_output_details()
        self._batch = None  # the input shapes the tensors are allocated for (None: as converted)
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

    def _shapes(self, arrays: list, n: int) -> list:
        """The input shapes for a batch of `n`: the batch dimension `n`, and every other dimension the model
        leaves dynamic (-1 in its signature) taken from the arrays themselves."""
        out = []
        for a, d in zip(arrays, self.inputs, strict=True):
            sig = [int(s) for s in d.get("shape_signature", d["shape"])]
            shape = [int(s) for s in d["shape"]]
            if shape:
                shape[0] = n
            if a.ndim == len(sig):
                shape = [int(a.shape[i]) if i and sig[i] == -1 else shape[i] for i in range(len(sig))]
            out.append(shape)
        return out

    def _inner_dynamic(self) -> bool:
        return any(int(s) == -1 for d in self.inputs for s in list(d.get("shape_signature", d["shape"]))[1:])

    def _resize(self, shapes: list) -> None:
        key = tuple(tuple(s) for s in shapes)
        if self._batch == key:
            return
        for d, shape in zip(self.inputs, shapes, strict=True):
            self.interp.resize_tensor_input(d["index"], shape)
        self.interp.allocate_tensors()
        self._batch = key

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
            part = [a[start:start + m] for a in arrays]
            self._resize(self._shapes(part, m))
            outs = self._run(part, m)
            for i, (o, d) in enumerate(zip(outs, self.outputs, strict=True)):
                if o.ndim == 0 or o.shape[0] != m:
                    raise ValueError(f"output {d['name']} has batch {o.shape[:1]}, expected {m}")
                chunks[i].append(_dequantize_output(o, d))
        return [np.concatenate(c, axis=0) for c in chunks]

    def _predict_fixed(self, arrays, n) -> list:
        """The model's own batch (1 for most fixed-shape models); the last chunk is padded by repeating."""
        b = max(1, self.fixed or 1)
        if self._inner_dynamic():  # the batch stays the model's; the dynamic dimensions follow the arrays
            self._resize(self._shapes([a[:1] for a in arrays], b))
        elif self._batch is not None:
            # back to the shapes the model was converted with
            for d in self.inputs:
                self.interp.resize_tensor_input(d["index"], list(d["shape"]))
            self.interp.allocate_tensors()
            self._batch = None
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
    check_metric(metric)
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
    check_metric(metric)
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
    b = max(1, r.fixed or 1) if not r.dynamic else 1
    if b > 1:
        one = [np.repeat(a, b, axis=0) for a in one]
    if r.dynamic or r._inner_dynamic():
        r._resize(r._shapes(one, b))
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


