"""Tiny real models for the deploy transforms, converted with the project's own export: the trained tiny
classifier in float32 and int8, the same with every Conv2D/Dense kernel clustered to 4 values (what LUT
compression is for), and a model whose two branches hold the same constant bytes (duplicate buffers)."""
from __future__ import annotations

import numpy as np
import pytest


def clustered_copy(model, clusters: int = 4):
    """A copy of `model` whose Conv2D and Dense kernels hold `clusters` values each (quantiles of the
    kernel, every weight moved to the nearest): a stand-in for tfmot clustering, without the training."""
    from optimize_cli.tf import keras

    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    for layer in clone.layers:
        if type(layer).__name__ in ("Conv2D", "Dense"):
            kernel, *rest = layer.get_weights()
            centroids = np.quantile(kernel, np.linspace(0.05, 0.95, clusters)).astype(np.float32)
            nearest = centroids[np.argmin(np.abs(kernel[..., None] - centroids), axis=-1)]
            layer.set_weights([nearest.astype(np.float32), *rest])
    return clone


@pytest.fixture(scope="session")
def samples(digits_data):
    """32 eval samples, one per invoke (batch dimension 1)."""
    _, _, x_test, _ = digits_data
    return [x_test[i: i + 1] for i in range(32)]


@pytest.fixture(scope="session")
def int8_tflite(tiny_model, digits_data):
    from optimize_cli import export

    return export.convert(tiny_model, "int8", export.representative_from(digits_data[0], 64))


@pytest.fixture(scope="session")
def float_tflite(tiny_model):
    from optimize_cli import export

    return export.convert(tiny_model, "none")


@pytest.fixture(scope="session")
def clustered_int8_tflite(tiny_model, digits_data):
    from optimize_cli import export

    return export.convert(clustered_copy(tiny_model), "int8", export.representative_from(digits_data[0], 64))


@pytest.fixture(scope="session")
def twin_int8_tflite(digits_data):
    """Two Dense heads with the same weights, averaged: their constant buffers are byte for byte equal."""
    from optimize_cli import export
    from optimize_cli.tf import keras

    keras.utils.set_random_seed(0)
    L = keras.layers
    inp = keras.Input((8, 8, 1), name="image")
    h = L.Flatten(name="flatten")(inp)
    a, b = L.Dense(10, name="head_a")(h), L.Dense(10, name="head_b")(h)
    model = keras.Model(inp, L.Average(name="mean")([a, b]))
    model.get_layer("head_b").set_weights(model.get_layer("head_a").get_weights())
    return export.convert(model, "int8", export.representative_from(digits_data[0], 64))
