"""Batched LiteRT evaluation (optimize_cli.measure.evaluate_tflite) against the tfmot tutorials'
one-sample-at-a-time loop, on an int8 .tflite over the whole eval set.

    .venv/bin/python benchmarks/eval_batched.py [--repeats 5] [--batch-size 256] [--threads 1]

Uses sample_models/digits_cnn and sample_models/digits.npz when present (else builds and briefly trains a
small CNN on random data), converts it to full-integer int8, checks that both loops give the same accuracy
and prints the speedup (target: ≥ 5x). Both timings include creating the interpreter.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from optimize_cli import measure  # noqa: E402


def tutorial_accuracy(tflite: bytes, x: np.ndarray, y: np.ndarray, round_inputs: bool = True) -> float:
    """The tutorials' evaluate_model (post-training integer quantization tutorial), one sample per
    set_tensor / invoke. The tutorial truncates the quantized input (``astype``); ``round_inputs`` adds the
    np.round that evaluate_tflite does, so that both must agree exactly."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=tflite)
    interpreter.allocate_tensors()
    input_details = interpreter.get_input_details()[0]
    output_details = interpreter.get_output_details()[0]
    predictions = np.zeros((len(x),), dtype=int)
    for i, test_image in enumerate(x):
        if input_details["dtype"] in (np.int8, np.uint8):
            input_scale, input_zero_point = input_details["quantization"]
            test_image = test_image / input_scale + input_zero_point
            if round_inputs:
                test_image = np.round(test_image)
        test_image = np.expand_dims(test_image, axis=0).astype(input_details["dtype"])
        interpreter.set_tensor(input_details["index"], test_image)
        interpreter.invoke()
        output = interpreter.get_tensor(output_details["index"])[0]
        predictions[i] = output.argmax()
    return float(np.mean(predictions == y.reshape(-1)))


def load_or_build(model_dir: Path):
    from optimize_cli.tf import keras, tf

    data = ROOT / "sample_models" / "digits.npz"
    if model_dir.is_dir() and data.is_file():
        d = np.load(data)
        model = keras.models.load_model(str(model_dir), compile=False)
        return tf, model, d["x_train"], d["x_test"], d["y_test"], f"{model_dir} on digits.npz x_test"
    rng = np.random.default_rng(0)
    x = rng.random((2000, 8, 8, 1), dtype=np.float32)
    y = (x.reshape(2000, -1).sum(1) * 7).astype(np.int64) % 10
    inp = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(16, 3, activation="relu", padding="same")(inp)
    h = keras.layers.Conv2D(32, 3, activation="relu")(h)
    h = keras.layers.Flatten()(keras.layers.MaxPooling2D(2)(h))
    out = keras.layers.Dense(10, activation="softmax")(keras.layers.Dense(64, activation="relu")(h))
    model = keras.Model(inp, out)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x[:1500], y[:1500], epochs=2, verbose=0)
    return tf, model, x[:1500], x[1500:], y[1500:], "a freshly built CNN on random data (no sample model)"


def convert(tf, model, x_train, quantization: str) -> bytes:
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantization == "none":
        return conv.convert()
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x_train[i:i + 1].astype(np.float32)] for i in range(min(200, len(x_train))))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    return conv.convert()


def timed(fn, repeats: int):
    times, value = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return value, statistics.median(times), min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", type=Path, default=ROOT / "sample_models" / "digits_cnn",
                    help="a Keras SavedModel taking digits.npz's 8x8x1 images (default sample_models/digits_cnn)")
    ap.add_argument("--quantization", choices=["int8", "none"], default="int8")
    args = ap.parse_args()

    tf, model, x_train, x_test, y_test, what = load_or_build(args.model)
    tflite = convert(tf, model, x_train, args.quantization)
    print(f"model: {what}; {args.quantization} .tflite {len(tflite):,} bytes; {len(x_test)} eval samples; "
          f"batch {args.batch_size}; threads {args.threads}; {os.cpu_count()} CPUs; median of {args.repeats}")

    loop_acc, loop_med, loop_min = timed(lambda: tutorial_accuracy(tflite, x_test, y_test), args.repeats)
    batched_acc, b_med, b_min = timed(
        lambda: measure.evaluate_tflite(tflite, x_test, y_test, threads=args.threads, batch_size=args.batch_size),
        args.repeats)
    trunc_acc = tutorial_accuracy(tflite, x_test, y_test, round_inputs=False)
    print(f"one sample at a time (tutorials): {loop_med * 1000:8.1f} ms  accuracy {loop_acc:.4f} "
          f"(as written, truncating inputs: {trunc_acc:.4f})")
    print(f"batched evaluate_tflite         : {b_med * 1000:8.1f} ms  accuracy {batched_acc:.4f}")
    assert batched_acc == loop_acc, f"accuracy differs: batched {batched_acc} vs loop {loop_acc}"
    # where the time goes: invoke() alone, one sample at a time vs the whole set in one batch
    from ai_edge_litert.interpreter import Interpreter

    def invokes(batch: int):
        it = Interpreter(model_content=tflite, num_threads=args.threads)
        d = it.get_input_details()[0]
        it.resize_tensor_input(d["index"], [batch] + list(d["shape"][1:]))
        it.allocate_tensors()
        it.set_tensor(d["index"], np.zeros([batch] + list(d["shape"][1:]), d["dtype"]))
        return lambda: [it.invoke() for _ in range(len(x_test) // batch)]

    _, one_med, _ = timed(invokes(1), args.repeats)
    _, all_med, _ = timed(invokes(len(x_test)), args.repeats)
    print(f"invoke() alone: {one_med * 1000:.1f} ms one sample at a time, {all_med * 1000:.1f} ms as one batch "
          f"(the floor for any evaluation at {args.threads} thread(s))")
    speedup = loop_med / b_med
    print(f"speedup: {speedup:.1f}x (median of {args.repeats}; best vs best {loop_min / b_min:.1f}x); "
          f"target ≥ 5x: {'met' if speedup >= 5 else 'NOT met'}")
    return 0 if speedup >= 5 else 1


if __name__ == "__main__":
    sys.exit(main())
