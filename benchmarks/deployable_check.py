"""Check a run's deployable files independently of its report: sizes from the files, accuracy from a
per-sample loop on each runtime's own interpreter (LiteRT for model.tflite, TFLM for model_tflm.tflite),
against an int8 PTQ of the input model converted here with the plain TFLite converter.

    python benchmarks/deployable_check.py RUN_DIR SAVED_MODEL DATA.npz [--calibration 100]

Prints one line per file: bytes, the fraction of the hand-made int8 PTQ's .tflite, accuracy and the
difference from the PTQ's accuracy on the same runtime. Reads no report.json figure."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def litert_accuracy(tfl: bytes, x, y) -> float:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tfl)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    hits = 0
    for xi, yi in zip(x, y, strict=True):
        it.set_tensor(i["index"], _as_input(xi, i))
        it.invoke()
        hits += int(np.argmax(it.get_tensor(o["index"])[0]) == yi)
    return hits / len(y)


def tflm_accuracy(tfl: bytes, x, y) -> float:
    from tflite_micro import runtime

    it = runtime.Interpreter.from_bytes(tfl, arena_size=max(1 << 20, 10 * len(tfl)))
    d = it.get_input_details(0)
    hits = 0
    for xi, yi in zip(x, y, strict=True):
        it.set_input(_as_input(xi, d), 0)
        it.invoke()
        hits += int(np.argmax(it.get_output(0)[0]) == yi)
    return hits / len(y)


def _as_input(xi, d):
    dtype = np.dtype(d["dtype"])
    v = xi[None].astype(np.float32)
    if np.issubdtype(dtype, np.integer):
        scale, zp = d["quantization_parameters"]["scales"][0], d["quantization_parameters"]["zero_points"][0]
        v = np.clip(np.round(v / scale + zp), np.iinfo(dtype).min, np.iinfo(dtype).max)
    return v.astype(dtype).reshape(d["shape"])


def ptq(saved_model: str, x_cal, n: int) -> bytes:
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(0)
    idx = rng.choice(len(x_cal), size=min(n, len(x_cal)), replace=False)
    conv.representative_dataset = lambda: ([x_cal[i: i + 1].astype(np.float32)] for i in idx)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    return conv.convert()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("saved_model")
    ap.add_argument("data", type=Path)
    ap.add_argument("--calibration", type=int, default=100)
    a = ap.parse_args()
    d = np.load(a.data)
    x, y = d["x_test"], d["y_test"]
    ref = ptq(a.saved_model, d["x_train"], a.calibration)
    ref_acc = {"LiteRT": litert_accuracy(ref, x, y), "TFLM": tflm_accuracy(ref, x, y)}
    print(f"int8 PTQ (converted here): {len(ref):,} B, LiteRT {ref_acc['LiteRT']:.4f}, TFLM {ref_acc['TFLM']:.4f}")
    for name, runtime, measure in (("model.tflite", "LiteRT", litert_accuracy), ("model_tflm.tflite", "TFLM", tflm_accuracy)):
        f = a.run_dir / name
        if not f.is_file():
            continue
        tfl = f.read_bytes()
        acc = measure(tfl, x, y)
        print(f"{name} on {runtime}: {len(tfl):,} B = {len(tfl) / len(ref):.3f} of the PTQ, accuracy {acc:.4f} "
              f"({(acc - ref_acc[runtime]) * 100:+.1f} points against the PTQ on {runtime}, "
              f"{(acc - ref_acc['LiteRT']) * 100:+.1f} against its LiteRT accuracy)")


if __name__ == "__main__":
    main()
