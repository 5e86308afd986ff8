"""Shared, session-scoped fixtures: tiny real models and data built in-process (no files from the repo).

Everything TensorFlow is imported lazily inside the fixtures, so test modules that never use them stay
free of the TensorFlow import cost.
"""
from __future__ import annotations

import numpy as np
import pytest


def pytest_configure(config):
    """The baseline cache (run/baseline_cache.py) of the whole session, set before collection (modules
    that copy os.environ at import see it too): a tmp folder, never the user's ~/.cache/optimize-cli."""
    import os
    import tempfile

    config._optimize_cli_cache = tempfile.mkdtemp(prefix="optimize-cli-cache-")
    os.environ["OPTIMIZE_CLI_CACHE_DIR"] = config._optimize_cli_cache


def pytest_unconfigure(config):
    import shutil

    shutil.rmtree(getattr(config, "_optimize_cli_cache", ""), ignore_errors=True)


@pytest.fixture(autouse=True)
def _baseline_cache_dir(tmp_path_factory, monkeypatch):
    """Every test gets an empty baseline cache of its own; subprocesses inherit it through the environment."""
    monkeypatch.setenv("OPTIMIZE_CLI_CACHE_DIR", str(tmp_path_factory.mktemp("optimize-cli-cache")))


@pytest.fixture(scope="session")
def digits_data():
    """scikit-learn's bundled 8×8 digits (no download): (x_train, y_train, x_test, y_test), x in [0, 1],
    shape (N, 8, 8, 1) float32, int64 labels. 320 training samples keep fine-tuning fast."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0).reshape(-1, 8, 8, 1)
    y = d.target.astype(np.int64)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(x))
    tr, te = idx[:320], idx[320:720]
    return x[tr], y[tr], x[te], y[te]


def build_tiny_model(name: str = "tiny"):
    """Conv2D → BatchNorm → ReLU → DepthwiseConv2D → Conv2D(1×1) → Flatten → Dense(10, softmax)."""
    from optimize_cli.tf import keras

    L = keras.layers
    inp = keras.Input((8, 8, 1), name="image")
    h = L.Conv2D(8, 3, padding="same", use_bias=False, name="conv")(inp)
    h = L.BatchNormalization(name="bn")(h)
    h = L.ReLU(name="relu")(h)
    h = L.DepthwiseConv2D(3, padding="same", name="dw")(h)
    h = L.Conv2D(16, 1, activation="relu", name="pw")(h)
    h = L.Flatten(name="flatten")(h)
    out = L.Dense(10, activation="softmax", name="out")(h)
    return keras.Model(inp, out, name=name)


@pytest.fixture(scope="session")
def tiny_model(digits_data):
    """A trained tiny classifier (compiled with sparse CE). Treat as read-only: stages copy it."""
    from optimize_cli.tf import keras

    x, y, _, _ = digits_data
    keras.utils.set_random_seed(0)
    model = build_tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="session")
def make_ctx(digits_data, tiny_model):
    """Factory for a `StageContext` over the digits training split: make_ctx(previous=[...], index=1, x=None,
    y=None, samples=None, **training_overrides); `samples` keeps only the first N (faster fine-tuning)."""
    from optimize_cli import models
    from optimize_cli.progress import Reporter
    from optimize_cli.recipe import TrainingConfig
    from optimize_cli.stages import StageContext
    from optimize_cli.tf import tf

    x_train, y_train, _, _ = digits_data

    def make(previous=(), index=1, x=None, y=None, samples=None, tmp=None, **training):
        xs = (x_train if x is None else x)[:samples]
        ys = (y_train if y is None else y)[:samples]
        cfg = TrainingConfig(**{"batch_size": 32, **training})
        info = models.compile_info(tiny_model, cfg)

        def dataset(bs):
            return tf.data.Dataset.from_tensor_slices((xs, ys)).shuffle(len(xs), seed=cfg.seed).batch(bs)

        return StageContext(
            train_dataset=dataset, train_samples=len(xs), training=cfg, compile_info=info,
            previous=list(previous), reporter=Reporter(quiet=True), workdir=tmp or "/tmp", index=index,
        )

    return make


@pytest.fixture
def tflm_direct_allocations(capfd):
    """tflite_micro's interpreter called directly (not through optimize_cli): allocations(tfl, arena_size)
    runs one invoke on zeros and returns its allocator's own printout as {"total", "head", "tail"} bytes."""
    import re

    def allocations(tfl: bytes, arena_size: int) -> dict:
        from tflite_micro import runtime

        it = runtime.Interpreter.from_bytes(tfl, arena_size=arena_size)
        d = it.get_input_details(0)
        it.set_input(np.zeros(d["shape"], d["dtype"]), 0)
        it.invoke()
        capfd.readouterr()
        it.print_allocations()
        text = "".join(capfd.readouterr())
        return {k: int(v) for k, v in re.findall(r"Arena allocation (total|head|tail) (\d+) bytes", text)}

    return allocations
