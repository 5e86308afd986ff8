"""int4 weights through AI Edge Quantizer (`ai-edge-quantizer`, extra `[int4]`, imported lazily).

From a float32 .tflite and representative samples, AEQ writes a static-range model: int8 activations
(calibrated on the samples), int8 weights, and int4 weights (per output channel, symmetric) for every
Conv2D and FullyConnected op, or for the ops `weight_bits` names. Depthwise convolutions stay int8.

Runtimes: LiteRT runs these files; TFLM does not allocate them and Vela does not compile int4 weights,
so only a target whose module says `INT4 = True` (LiteRT) may get them; a recipe asking int4 for another
target is refused before any work (recipe validation).

Clustered weights. AEQ's symmetric int4 grid for a channel is `scale = max|w| / 7`, `q = round(w / scale)`
in [-7, 7]. A channel clustered to k ≤ 16 centroids keeps its values exactly only when every centroid is
an integer multiple of that scale: k-means centroids generally are not, so rounding merges or moves some
(no int4 file can hold 16 arbitrary values exactly; TFLM's LUT can, see lut.py). `grid_fit` measures, per
weight tensor of the float file, how many channels are exact and how far the rest move; nothing is
re-rounded by hand, because the values AEQ writes are already the nearest the grid holds.
"""
from __future__ import annotations

import importlib.util
import re
from dataclasses import asdict, dataclass, field
from typing import Callable, Mapping, Optional, Sequence, Union

import numpy as np

from ..errors import RecipeError, StageError

INT4_OPS = ("CONV_2D", "FULLY_CONNECTED")
EXTRA_ADVICE = "int4 weights need ai-edge-quantizer, which is not installed: pip install 'optimize-cli[int4]'"

WeightBits = Union[int, Mapping[str, int]]


def package_missing() -> Optional[str]:
    """None when ai-edge-quantizer is installed, else the one-line advice naming the extra."""
    try:
        found = importlib.util.find_spec("ai_edge_quantizer") is not None
    except (ImportError, ValueError):
        found = False
    return None if found else EXTRA_ADVICE


def check_weight_bits(weight_bits: WeightBits) -> list[tuple[str, int]]:
    """(regex, bits) pairs in the order they apply (a later one wins); ValueError for a bad value."""
    if isinstance(weight_bits, bool) or not isinstance(weight_bits, (int, Mapping)):
        raise ValueError(f"weight_bits must be 4, 8 or {{layer or regex: 4|8}}, not {weight_bits!r}")
    pairs = [(".*", int(weight_bits))] if isinstance(weight_bits, int) else [(str(k), v) for k, v in weight_bits.items()]
    for regex, bits in pairs:
        if isinstance(bits, bool) or bits not in (4, 8):
            raise ValueError(f"weight_bits[{regex!r}]: {bits!r} is not 4 or 8")
        try:
            re.compile(regex)
        except re.error as e:
            raise ValueError(f"weight_bits: {regex!r} is not a regular expression ({e})") from None
    return pairs


@dataclass
class Int4Result:
    """The quantized file and, per Conv2D/FullyConnected op, the weight bits it got."""

    tflite: bytes
    float_bytes: int
    layers: list = field(default_factory=list)  # {"name", "op", "weight_bits"}

    def to_dict(self) -> dict:
        return {"float_bytes": self.float_bytes, "tflite_bytes": len(self.tflite), "layers": list(self.layers)}


def _signature(float_tflite: bytes) -> tuple[str, list[str]]:
    from ai_edge_litert.interpreter import Interpreter

    sigs = Interpreter(model_content=bytes(float_tflite)).get_signature_list()
    if not sigs:
        raise StageError("int4: the float .tflite has no signature (ai-edge-quantizer calibrates by signature)")
    key = next(iter(sigs))
    return key, list(sigs[key]["inputs"])


def _calibration(float_tflite: bytes, representative) -> dict:
    """{signature: [{input name: one sample with its batch dimension}, ...]} from samples or a generator."""
    key, names = _signature(float_tflite)
    samples = representative() if callable(representative) else representative
    rows = []
    for sample in samples:
        arrays = list(sample) if isinstance(sample, (list, tuple)) else [sample]
        arrays = [np.asarray(a, dtype=np.float32) for a in arrays]
        rows.append({n: (a if a.ndim and a.shape[0] == 1 else a[None]) for n, a in zip(names, arrays, strict=True)})
    if not rows:
        raise StageError("int4: no representative samples to calibrate the int8 activations")
    return {key: rows}


def _recipe(pairs: list[tuple[str, int]]):
    from ai_edge_quantizer import recipe_manager
    from ai_edge_quantizer.qtyping import TFLOperationName

    rm = recipe_manager.RecipeManager()
    rm.add_static_config(regex=".*", operation_name=TFLOperationName.ALL_SUPPORTED,
                         activation_num_bits=8, weight_num_bits=8)
    for regex, bits in pairs:
        for op in INT4_OPS:
            rm.add_static_config(regex=regex, operation_name=TFLOperationName(op),
                                 activation_num_bits=8, weight_num_bits=bits)
    return rm.get_quantization_recipe()


def quantize_int4(float_tflite: bytes, representative: Union[Sequence, Callable], weight_bits: WeightBits = 4) -> Int4Result:
    """int4 (or per-layer 4/8-bit) weights with int8 activations, through ai-edge-quantizer.

    `representative`: samples (arrays, or lists of arrays for several inputs) or a generator function
    yielding them (export.representative_from). `weight_bits`: 4 for every Conv2D/FullyConnected, 8 for
    none, or {regex searched in the op's output tensor name (a layer name works): 4|8}, later keys winning.
    Raises RecipeError (exit 2) when ai-edge-quantizer is missing or weight_bits is bad, StageError (exit 4)
    when AEQ fails."""
    advice = package_missing()
    if advice:
        raise RecipeError(advice)
    try:
        pairs = check_weight_bits(weight_bits)
    except ValueError as e:
        raise RecipeError(f"export.{e}") from None
    from ai_edge_quantizer import quantizer

    from ..quiet import native_output_silenced

    data = bytes(float_tflite)
    try:
        with native_output_silenced(fds=(1, 2), replay_on_error=False, ignore_warnings=True, honour_env=False):
            q = quantizer.Quantizer(bytearray(data), _recipe(pairs))
            calibration = q.calibrate(_calibration(data, representative))
            out = bytes(q.quantize(calibration, enable_progress_report=False).quantized_model)
    except (ValueError, RuntimeError, KeyError) as e:
        raise StageError(f"int4: ai-edge-quantizer failed: {' '.join(str(e).split())[:300]}") from None
    return Int4Result(tflite=out, float_bytes=len(data), layers=weight_layers(out))


def weight_layers(tflite: bytes) -> list[dict]:
    """Per Conv2D / FullyConnected / DepthwiseConv2D op: its output tensor's name, the Keras layer that name
    points at (measure.layer_names), the op and its weight bits."""
    from ..measure.layer_names import keras_layer_name
    from .slim import schema, unpack

    s = schema()
    model = unpack(tflite)
    builtin = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    bits = {s.TensorType.INT4: 4, s.TensorType.INT8: 8, s.TensorType.FLOAT32: 32, s.TensorType.FLOAT16: 16}
    sub = model.subgraphs[0]
    rows = []
    for op in sub.operators or []:
        code = model.operatorCodes[op.opcodeIndex]
        name = builtin.get(max(code.builtinCode, code.deprecatedBuiltinCode), "?")
        if name in INT4_OPS + ("DEPTHWISE_CONV_2D",) and op.inputs is not None and len(op.inputs) > 1:
            w = sub.tensors[op.inputs[1]]
            out = (sub.tensors[op.outputs[0]].name or b"").decode("utf-8", "replace")
            rows.append({"name": out, "layer": keras_layer_name(out), "op": name, "weight_bits": bits.get(w.type)})
    return rows


@dataclass
class GridFit:
    """How a float weight tensor's values sit on AEQ's symmetric int4 grid (per output channel)."""

    name: str
    channels: int
    max_distinct: int  # most distinct values in one channel
    exact_channels: int  # channels whose every value is an integer multiple of max|w| / 7
    merged_channels: int  # channels where two distinct values round to the same int4 value
    max_error_steps: float  # largest |w / scale - round(w / scale)|, in grid steps (0.5 at worst)

    def to_dict(self) -> dict:
        return asdict(self)


def grid_fit(float_tflite: bytes, axis: int = 0, tol: float = 1e-4) -> list[GridFit]:
    """Per constant weight tensor of the Conv2D / FullyConnected ops of a float file: `GridFit`."""
    from .slim import schema, unpack

    s = schema()
    model = unpack(float_tflite)
    sub = model.subgraphs[0]
    fits = []
    ops = [o for o in sub.operators or [] if _is_weight_op(model, s, o)]
    for row, op in zip(weight_layers(float_tflite), ops, strict=True):
        if row["op"] not in INT4_OPS:
            continue
        t = sub.tensors[op.inputs[1]]
        data = model.buffers[t.buffer].data
        if t.type != s.TensorType.FLOAT32 or data is None or len(data) == 0:
            continue
        w = np.frombuffer(bytes(np.asarray(data, np.uint8)), np.float32).reshape([int(d) for d in t.shape])
        fits.append(_fit_channels((t.name or b"").decode("utf-8", "replace"), np.moveaxis(w, axis, 0), tol))
    return fits


def _is_weight_op(model, s, op) -> bool:
    code = model.operatorCodes[op.opcodeIndex]
    c = max(code.builtinCode, code.deprecatedBuiltinCode)
    return c in (s.BuiltinOperator.CONV_2D, s.BuiltinOperator.FULLY_CONNECTED, s.BuiltinOperator.DEPTHWISE_CONV_2D) \
        and op.inputs is not None and len(op.inputs) > 1


def _fit_channels(name: str, channels: np.ndarray, tol: float) -> GridFit:
    exact = merged = 0
    worst, distinct = 0.0, 0
    for ch in channels:
        values = np.unique(ch)
        distinct = max(distinct, len(values))
        scale = max(float(np.max(np.abs(values))), 1e-9) / 7.0
        steps = values.astype(np.float64) / scale
        err = float(np.max(np.abs(steps - np.rint(steps)))) if len(values) else 0.0
        worst = max(worst, err)
        exact += err <= tol
        merged += len(np.unique(np.rint(steps))) < len(values)
    return GridFit(name=name, channels=len(channels), max_distinct=distinct, exact_channels=int(exact),
                   merged_channels=int(merged), max_error_steps=round(worst, 4))
