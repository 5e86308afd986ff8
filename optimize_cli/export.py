"""TFLite conversion for every quantization mode of the recipe (none | dynamic | float16 | int8 | int16x8).

A Keras model (plain, stripped, or a QAT model with tfmot's quantize wrappers) is converted with
`TFLiteConverter.from_keras_model`; a plain TF SavedModel (`models.LoadedModel`, format `tf_savedmodel`)
with `from_saved_model`. The converter's C++ log noise is kept off the terminal; a failure becomes a
StageError (exit 4) quoting the converter's own message in one line.
"""
from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

import numpy as np

from .errors import StageError, one_line
from .quiet import native_output_silenced
from .tree import QUANTIZATIONS  # noqa: F401 - the one table of quantization names (re-exported)

_IO_TYPES = ("float32", "int8", "uint8", "int16")

Representative = Union[Callable[[], Iterator], np.ndarray, None]


def representative_from(x: np.ndarray, n: int, seed: int = 0) -> Callable[[], Iterator[list]]:
    """A representative-dataset generator over `n` samples of `x` drawn deterministically (without
    replacement, in index order) — the same samples for the same (x, n, seed). Integer samples (token ids)
    keep their type; others are float32."""
    x = np.asarray(x)
    count = min(int(n), len(x))
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(x), size=count, replace=False)) if count < len(x) else np.arange(len(x))
    picked = np.ascontiguousarray(x[idx], dtype=x.dtype if x.dtype.kind in "iub" else np.float32)

    def gen():
        for i in range(len(picked)):
            yield [picked[i: i + 1]]

    gen.samples = picked  # type: ignore[attr-defined]
    return gen


def _as_generator(rep: Representative) -> Optional[Callable[[], Iterator]]:
    if rep is None:
        return None
    if callable(rep):
        return rep
    arr = np.asarray(rep)
    return representative_from(arr, len(arr), 0)


def _input_dtypes(keras_model, loaded) -> list:
    """numpy dtypes of the model's inputs, in order (a Keras model's, else the SavedModel signature's)."""
    if keras_model is not None:
        return [np.dtype(t.dtype.as_numpy_dtype) for t in keras_model.inputs]
    fn = getattr(loaded, "concrete_function", None)
    if fn is None:
        return []
    return [np.dtype(s.dtype.as_numpy_dtype) for s in fn.structured_input_signature[1].values()]


def _in_model_dtypes(gen: Optional[Callable[[], Iterator]], dtypes: list) -> Optional[Callable[[], Iterator]]:
    """The generator yielding each input in the model's own type where that is an integer (token ids into
    an Embedding): the converter's calibration feeds the interpreter, which takes no float for an int32."""
    if gen is None or not any(d.kind in "iub" for d in dtypes):
        return gen

    def cast():
        for item in gen():
            arrays = list(item) if isinstance(item, (list, tuple)) else [item]
            yield [np.asarray(a).astype(d) if i < len(dtypes) and (d := dtypes[i]).kind in "iub" else a
                   for i, a in enumerate(arrays)]

    return cast


def is_qat_model(model) -> bool:
    """The model carries tfmot quantize wrappers (it was trained with fake quantization)."""
    return any(type(layer).__name__ in ("QuantizeWrapperV2", "QuantizeWrapper", "QuantizeLayer")
               for layer in getattr(model, "layers", []))


def _strip_location(line: str) -> str:
    """MLIR prefixes its diagnostics with the op's location, `loc(callsite(...)): `: drop it."""
    if not line.startswith("loc("):
        return line
    depth = 0
    for i, ch in enumerate(line):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and ch == ")":
            return line[i + 1:].lstrip(": ").strip() or line
    return line


def _first_error_line(e: BaseException, log_text: str) -> str:
    text = str(e)
    lines = [ln.strip() for ln in (text + "\n" + log_text).splitlines() if ln.strip()]
    for ln in lines:
        if "error:" in ln.lower():
            ln = _strip_location(re.sub(r"^.*?error:\s*", "", ln, flags=re.I))
            return ln[:400]
    return one_line(e, 400)


def _tf_type(name: Optional[str], default: str):
    from .tf import tf

    name = name or default
    if name not in _IO_TYPES:
        raise StageError(f"export: inference type '{name}' is not one of {', '.join(_IO_TYPES)}")
    return {"float32": tf.float32, "int8": tf.int8, "uint8": tf.uint8, "int16": tf.int16}[name]


def convert(
    model_or_loaded: Any,
    quantization: str,
    representative: Representative = None,
    inference_input_type: Optional[str] = None,
    inference_output_type: Optional[str] = None,
    workdir: Union[str, Path, None] = None,
    per_channel: bool = True,
) -> bytes:
    """Convert to a .tflite flatbuffer.

    `representative` is a generator function yielding lists of input arrays (see `representative_from`)
    or an array of samples; int8 and int16x8 need it unless the model is a QAT model (whose ranges were
    learnt). Inference types default to int8 for int8 and float32 otherwise. `per_channel=False` gives one
    int8 scale per weight tensor (post-training int8 only).
    """
    from .tf import tf

    if quantization not in QUANTIZATIONS:
        raise StageError(f"export: unknown quantization '{quantization}' (valid: {', '.join(QUANTIZATIONS)})")
    keras_model = getattr(model_or_loaded, "keras_model", model_or_loaded)
    loaded = model_or_loaded if hasattr(model_or_loaded, "keras_model") else None
    qat = keras_model is not None and is_qat_model(keras_model)
    gen = _in_model_dtypes(_as_generator(representative), _input_dtypes(keras_model, loaded))
    if qat and quantization != "int8":
        raise StageError(f"export: a quantization-aware-trained model converts to int8 only (not {quantization})")

    if keras_model is not None:
        converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    elif loaded is not None and loaded.format == "tf_savedmodel":
        converter = tf.lite.TFLiteConverter.from_saved_model(loaded.path, signature_keys=[loaded.signature_key])
    else:
        raise StageError("export: nothing to convert (no Keras model and no SavedModel)")

    _configure(converter, quantization, gen, qat, inference_input_type, inference_output_type)
    if not per_channel:
        converter._experimental_disable_per_channel = True  # the converter's own switch (no public one)
    return _run(converter, quantization, workdir)


def _configure(converter, quantization: str, gen, qat: bool, inference_input_type: Optional[str],
               inference_output_type: Optional[str]) -> None:
    """Set the converter's optimizations, calibration data, ops and inference types for ``quantization``."""
    from .tf import tf

    if quantization == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantization == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if gen is None and not qat:
            raise StageError("export: int8 needs a representative dataset to calibrate activations "
                             "(data.representative or data.train)")
        if gen is not None:
            converter.representative_dataset = gen
        if not qat:
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # a QAT model carries its learnt ranges (fake-quant nodes): the converter makes the annotated layers
        # int8 from them; layers the qat stage left in float (reported as skipped) stay float
        converter.inference_input_type = _tf_type(inference_input_type, "int8")
        converter.inference_output_type = _tf_type(inference_output_type or inference_input_type, "int8")
    elif quantization == "int16x8":
        if gen is None:
            raise StageError("export: int16x8 needs a representative dataset to calibrate activations "
                             "(data.representative or data.train)")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = gen
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        converter.inference_input_type = _tf_type(inference_input_type, "float32")
        converter.inference_output_type = _tf_type(inference_output_type or inference_input_type, "float32")
    if quantization in ("none", "dynamic", "float16"):
        for k, v in (("inference_input_type", inference_input_type), ("inference_output_type", inference_output_type)):
            if v not in (None, "float32"):
                raise StageError(f"export: {k} '{v}' needs int8 or int16x8 quantization (got {quantization})")


def _run(converter, quantization: str, workdir: Union[str, Path, None]) -> bytes:
    """Run the converter with its native logs captured; StageError with the first error line on failure."""
    log_path = None
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
        log_path = Path(workdir) / f"convert-{quantization}.log"
    with native_output_silenced(fds=(1, 2), log_path=log_path, keep_log=True, replay_on_error=False,
                                ignore_warnings=True, honour_env=False) as lp:
        try:
            out = converter.convert()
            err = None
        except Exception as e:  # ConverterError, ValueError, RuntimeError, ...
            out, err = None, e
    if err is not None:
        try:
            log_text = Path(lp).read_text(errors="replace")
        except OSError:
            log_text = ""
        where = f" (full log: {lp})" if workdir is not None else ""
        raise StageError(f"export: the TFLite converter failed for {quantization}: "
                         f"{_first_error_line(err, log_text)}{where}") from None
    if workdir is None:
        with contextlib.suppress(OSError):
            os.unlink(lp)
    return bytes(out)
