"""Check a translated Keras 3 model against Keras 3 itself, before any stage: both give the same outputs
on a batch of the recipe's data (max abs difference ≤ 1e-5 × the output's scale), layer by layer, so
that a mismatch names the first layer whose output differs.

Keras 3 runs in a subprocess: in this process `TF_USE_LEGACY_KERAS=1` makes TensorFlow use tf_keras, and
the two Keras versions must never share a process. The subprocess loads the file with
`keras.saving.load_model(safe_mode=True)` after models/keras3.py has refused everything outside its
table of built-in layers, so it runs no code from the file either."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..errors import InputError, one_line
from .keras3 import Translation

#: the relative tolerance of the check: max abs difference ≤ RTOL × max |Keras 3 output|
RTOL = 1e-5
SAMPLES = 32

_REFERENCE = r"""
import json, sys
import numpy as np
try:
    import keras
    if int(keras.__version__.split(".")[0]) < 3:
        raise ImportError("keras " + keras.__version__ + " is not Keras 3")
except Exception as e:
    print(json.dumps({"unavailable": type(e).__name__ + ": " + str(e)[:200]}))
    sys.exit(0)
path, xin, out, names = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
m = keras.saving.load_model(path, compile=False, safe_mode=True)

def output_of(layer):
    nodes = getattr(layer, "_inbound_nodes", None)  # its calls; a nested model's .output is its inner one
    if nodes is None:
        return layer.output
    if len(nodes) != 1 or len(nodes[0].output_tensors) != 1:
        raise ValueError("not called exactly once")
    return nodes[0].output_tensors[0]

xs = np.load(xin, allow_pickle=False)
x = [xs["x%d" % i] for i in range(len(xs.files))]
kept, tensors = [], []
if isinstance(m, keras.Sequential):  # its layers have a node per build: call them one after the other
    y, got = x[0], {}
    for layer in m.layers:
        y = layer(y, training=False)
        got[layer.name] = np.asarray(y)
    kept = [n for n in names if n in got]
    ys = [got[n] for n in kept] + [np.asarray(y)]
    kept.append("__output_0__")
else:
    for n in names:
        try:
            tensors.append(output_of(m.get_layer(n)))
            kept.append(n)
        except Exception:
            pass
    outs = list(m.outputs)
    try:
        probe = keras.Model(m.inputs, tensors + outs)
    except Exception:  # a layer output the outer graph does not reach: compare the model's outputs only
        kept, tensors = [], []
        probe = keras.Model(m.inputs, outs)
    kept += ["__output_%d__" % i for i in range(len(outs))]
    ys = probe.predict_on_batch(x if len(x) > 1 else x[0])
    ys = ys if isinstance(ys, (list, tuple)) else [ys]
np.savez(out, **{"y%d" % i: np.asarray(y) for i, y in enumerate(ys)})
print(json.dumps({"layers": kept, "keras_version": keras.__version__}))
"""


def _subprocess_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env.update(KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1")
    return env


def keras3_outputs(path: str, xs: list[np.ndarray], names: list[str]) -> tuple[Optional[dict], str]:
    """({layer name: output} computed by Keras 3 in a subprocess, its version) or (None, why not)."""
    with tempfile.TemporaryDirectory(prefix="optimize-cli-keras3-") as tmp:
        xin, out = Path(tmp) / "x.npz", Path(tmp) / "y.npz"
        np.savez(xin, **{f"x{i}": x for i, x in enumerate(xs)})
        cmd = [sys.executable, "-c", _REFERENCE, os.path.abspath(path), str(xin), str(out), json.dumps(names)]
        try:
            proc = subprocess.run(cmd, cwd=tmp, env=_subprocess_env(), capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            return None, f"Keras 3 could not be run ({one_line(e, 120)})"
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise InputError(f"{path}: Keras 3 cannot compute the reference outputs to check the translation "
                             f"against ({one_line(err, 200)})")
        info = json.loads(lines[-1])
        if "unavailable" in info:
            return None, f"Keras 3 is not importable ({info['unavailable']})"
        with np.load(out, allow_pickle=False) as ys:
            return {n: ys[f"y{i}"] for i, n in enumerate(info["layers"])}, str(info["keras_version"])


def _tf_keras_outputs(model: Any, xs: list[np.ndarray], names: list[str]) -> dict:
    """{name: output} of the named layers and (`__output_<i>__`) of the model, computed on the CPU like the
    reference (a GPU's TF32 matmuls would differ by more than the tolerance)."""
    from ..tf import keras, tf

    n_out = len(model.outputs)
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in names] + list(model.outputs))
    with tf.device("/CPU:0"):
        ys = probe.predict_on_batch(xs if len(xs) > 1 else xs[0])
    ys = ys if isinstance(ys, (list, tuple)) else [ys]
    keys = names + [f"__output_{i}__" for i in range(n_out)]
    return {n: np.asarray(y) for n, y in zip(keys, ys, strict=True)}


def _batch(model: Any, x: Any) -> list[np.ndarray]:
    """The inputs to compare on: the recipe's data, or (no data) a fixed random batch of the input shape."""
    if hasattr(x, "first"):  # a data split
        x = x.first(SAMPLES)
    if x is not None:
        xs = list(x) if isinstance(x, (list, tuple)) else [x]
        return [np.asarray(a)[:SAMPLES] for a in xs]
    rng = np.random.default_rng(0)
    out = []
    for t in model.inputs:
        shape = [SAMPLES] + [d or 1 for d in t.shape[1:]]
        dtype = t.dtype.as_numpy_dtype
        out.append(np.zeros(shape, dtype) if np.issubdtype(dtype, np.integer) else rng.random(shape).astype(dtype))
    return out


def check_translation(path: str, model: Any, tr: Translation, x: Any = None) -> dict:
    """Compare the tf_keras model with Keras 3 on a batch (InputError naming the first layer whose output
    differs); returns the record the report keeps as `model.translation`."""
    xs = _batch(model, x)
    input_names = {layer.name for layer in model.layers if type(layer).__name__ == "InputLayer"}
    names = [n for n in tr.order if tr.outputs_of[n] not in input_names]
    ref, version = keras3_outputs(path, xs, names)
    record = {"from": "keras3", "samples": int(xs[0].shape[0]), "checked_against": None, "max_abs_diff": None,
              "tolerance": None}
    if ref is None:
        record["note"] = f"{version}: outputs not compared (the weights were copied verbatim)"
        return record
    layers = [n for n in ref if n in tr.outputs_of]
    ours = _tf_keras_outputs(model, xs, [tr.outputs_of[n] for n in layers])
    max_diff, tol_out = 0.0, 0.0
    for n, want in ref.items():  # graph order: the first layer that differs is named
        got = ours[tr.outputs_of.get(n, n)]
        diff, tol = _difference(got, want)
        if not diff <= tol:
            where = f"from layer '{n}' on" if n in tr.outputs_of else f"in output {n.strip('_').split('_')[-1]}"
            raise InputError(f"{path}: the tf_keras translation differs from Keras {version} {where}: max abs "
                             f"difference {diff:.3g} > {tol:.3g} on {xs[0].shape[0]} samples")
        if n not in tr.outputs_of:
            max_diff, tol_out = max(max_diff, diff), max(tol_out, tol)
    record.update(checked_against=f"keras {version}", max_abs_diff=max_diff, tolerance=tol_out,
                  layers_compared=len(layers))
    return record


def _difference(got: np.ndarray, want: np.ndarray) -> tuple[float, float]:
    """(max abs difference, tolerance RTOL × the reference's scale)."""
    tol = RTOL * max(float(np.max(np.abs(want))) if want.size else 0.0, 1e-6)
    if got.shape != want.shape:
        return float("inf"), tol
    return float(np.max(np.abs(got.astype(np.float64) - want))) if want.size else 0.0, tol
