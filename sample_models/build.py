"""Build the sample models and data set that the tests and the README examples use.

Run from the repository root::

    .venv/bin/python sample_models/build.py      # or: make sample-models

Writes, next to this file:

* ``digits.npz``   scikit-learn's bundled 8x8 digits (no download), float32 in [0, 1],
  shape (N, 8, 8, 1), int64 labels, fixed stratified 70/30 split.
* ``digits_cnn/``  a small Conv2D/Dense classifier (tf_keras SavedModel directory).
* ``digits_dscnn/`` a DS-CNN-style classifier (Conv/DepthwiseConv/BatchNorm/ReLU mix of the
  keyword-spotting DS-CNN) in the same format.
* ``digits_tiny/`` a 610-parameter classifier (one 6-filter Conv2D, a pool and the output Dense), sized
  so that pruning, clustering and int4 cost it some accuracy: the built-in paths draw a size/accuracy
  curve on it (``make demo-curve``), where the other two score the same on every path.

``build.py --only digits_tiny`` rebuilds that one alone (the data set and the other models are left as
they are).

Both models are saved with their compile config (loss, metrics, optimizer config) but without
optimizer state, so ``keras.models.load_model(path)`` returns a compiled model whose
``evaluate()`` reports loss and accuracy directly.

Everything is seeded, op determinism is enabled and the run is forced onto one CPU thread, so
two runs give the same weights and accuracies; every output file is byte-identical between runs
except each SavedModel's ``fingerprint.pb``.
"""
from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
sys.path.insert(0, str(REPO_ROOT))

# Deterministic CPU-only run; set before TensorFlow is imported.
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

import numpy as np  # noqa: E402

from optimize_cli.tf import keras, tf  # noqa: E402

SEED = 0
EPOCHS_CNN = 30
EPOCHS_DSCNN = 30
EPOCHS_TINY = 30
BATCH = 32

try:
    tf.config.experimental.enable_op_determinism()
except Exception as exc:  # pragma: no cover - older TF
    print(f"note: op determinism not available: {exc}")
try:
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
except RuntimeError:
    pass


def make_data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0).reshape(-1, 8, 8, 1)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.3, random_state=SEED, stratify=y
    )
    return (
        np.ascontiguousarray(x_train),
        np.ascontiguousarray(y_train),
        np.ascontiguousarray(x_test),
        np.ascontiguousarray(y_test),
    )


def build_cnn():
    inputs = keras.Input(shape=(8, 8, 1), name="image")
    x = keras.layers.Conv2D(16, 3, activation="relu", padding="same", name="conv1")(inputs)
    x = keras.layers.Conv2D(32, 3, activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(64, activation="relu", name="dense1")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="logits")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")


def build_dscnn():
    L = keras.layers
    inputs = keras.Input(shape=(8, 8, 1), name="image")
    x = L.Conv2D(32, 3, padding="same", use_bias=False, name="conv1")(inputs)
    x = L.BatchNormalization(name="conv1_bn")(x)
    x = L.ReLU(name="conv1_relu")(x)
    for i, filters in ((1, 32), (2, 48)):
        x = L.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"dw{i}")(x)
        x = L.BatchNormalization(name=f"dw{i}_bn")(x)
        x = L.ReLU(name=f"dw{i}_relu")(x)
        x = L.Conv2D(filters, 1, use_bias=False, name=f"pw{i}")(x)
        x = L.BatchNormalization(name=f"pw{i}_bn")(x)
        x = L.ReLU(name=f"pw{i}_relu")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    outputs = L.Dense(10, activation="softmax", name="logits")(x)
    return keras.Model(inputs, outputs, name="digits_dscnn")


def build_tiny():
    L = keras.layers
    inputs = keras.Input(shape=(8, 8, 1), name="image")
    x = L.Conv2D(6, 3, activation="relu", name="conv")(inputs)
    x = L.MaxPooling2D(2, name="pool")(x)
    x = L.Flatten(name="flatten")(x)
    outputs = L.Dense(10, activation="softmax", name="logits")(x)
    return keras.Model(inputs, outputs, name="digits_tiny")


def train_and_save(name, build, epochs, data, lr=1e-3, save_lr=None):
    x_train, y_train, x_test, y_test = data
    keras.utils.set_random_seed(SEED)
    model = build()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr),
        loss="sparse_categorical_crossentropy",
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    t0 = time.perf_counter()
    model.fit(x_train, y_train, epochs=epochs, batch_size=BATCH, shuffle=True, verbose=0)
    secs = time.perf_counter() - t0
    loss, acc = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    # `include_optimizer=False` would also drop the compile config ("training_config": loss,
    # metrics) from keras_metadata.pb, so a loaded model could not be evaluated without a
    # recompile. Instead swap in a fresh, never-applied Adam (it has no slot variables yet) and
    # save with the optimizer: the compile config is kept, the training state is not.
    # The metric is given as an explicit SparseCategoricalAccuracy: the string "accuracy" gets
    # resolved at save time from the (None, 10) output shape to *categorical* accuracy, and a
    # loaded model would then report ~0.10 from evaluate().
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr if save_lr is None else save_lr),
        loss="sparse_categorical_crossentropy",
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    out = HERE / name
    if out.exists():
        shutil.rmtree(out)
    model.save(str(out), save_format="tf", include_optimizer=True)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(
        f"{name}: params={model.count_params()} test_loss={loss:.6f} test_accuracy={acc:.6f} "
        f"train_s={secs:.1f} saved={size / 1024:.0f} KiB -> {out.relative_to(REPO_ROOT)}"
    )
    return acc


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Build the sample models and data set.")
    parser.add_argument("--only", choices=["digits_tiny"], help="rebuild this model alone (from digits.npz)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    keras.utils.set_random_seed(SEED)
    if args.only == "digits_tiny":
        with np.load(HERE / "digits.npz") as f:
            data = tuple(f[k] for k in ("x_train", "y_train", "x_test", "y_test"))
        acc = train_and_save("digits_tiny", build_tiny, EPOCHS_TINY, data, lr=1e-2, save_lr=1e-3)
        return 0 if acc >= 0.95 else 1
    data = make_data()
    x_train, y_train, x_test, y_test = data
    np.savez_compressed(
        HERE / "digits.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test
    )
    print(f"digits.npz: train={len(x_train)} test={len(x_test)}")
    acc_cnn = train_and_save("digits_cnn", build_cnn, EPOCHS_CNN, data)
    acc_ds = train_and_save("digits_dscnn", build_dscnn, EPOCHS_DSCNN, data, lr=3e-3)
    acc_tiny = train_and_save("digits_tiny", build_tiny, EPOCHS_TINY, data, lr=1e-2, save_lr=1e-3)
    print(f"total build time {time.perf_counter() - t0:.1f} s")
    ok = acc_cnn >= 0.96 and acc_ds >= 0.93 and acc_tiny >= 0.95
    if not ok:
        print("WARNING: an accuracy is below its target (cnn >= 0.96, dscnn >= 0.93, tiny >= 0.95)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
