"""A model whose inputs have dynamic dimensions besides the batch (issue 11, item 11): the interpreter is
resized to the shape of the samples, for prediction, evaluation and latency."""
from __future__ import annotations

import numpy as np
import pytest

from optimize_cli import measure


@pytest.fixture(scope="module")
def dynamic_model(tfk):
    """Input (None, None, 3) — any batch, any sequence length — → global average → Dense(4, softmax)."""
    tf, keras = tfk
    keras.utils.set_random_seed(0)
    inp = keras.Input((None, 3), name="seq")
    x = keras.layers.Dense(8, activation="relu", name="proj")(inp)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    model = keras.Model(inp, keras.layers.Dense(4, activation="softmax", name="head")(x))
    return model, tf.lite.TFLiteConverter.from_keras_model(model).convert()


@pytest.mark.slow
def test_predict_evaluate_and_latency_resize_dynamic_dimensions(dynamic_model):
    model, tfl = dynamic_model
    assert measure.tflite_io(tfl)["inputs"][0]["shape"] == [-1, -1, 3]
    x = np.random.default_rng(0).random((10, 7, 3), dtype=np.float32)
    got = measure.predict_tflite(tfl, x, batch_size=4)
    np.testing.assert_allclose(got, np.asarray(model(x)), atol=1e-5)
    y = np.argmax(np.asarray(model(x)), axis=1)
    assert measure.evaluate_tflite(tfl, x, y, batch_size=3) == 1.0
    lat = measure.latency_ms(tfl, x[:1], runs=2, warmup=0)
    assert lat["runs"] == 2 and lat["median_ms"] >= 0
