"""Tiny real models for the measure tests: one Conv2D → DepthwiseConv2D → Dense model with hand-set kernels,
converted once per session to every TFLite flavour."""
from __future__ import annotations

import numpy as np
import pytest
from measure_models import C_CONV, C_FC, C_IN, DW_MULT, convert, structured_kernel


@pytest.fixture(scope="session")
def tfk():
    from optimize_cli.tf import keras, tf

    return tf, keras


@pytest.fixture(scope="session")
def hand_model(tfk):
    """Conv2D → DepthwiseConv2D → Dense with structured kernels (every kernel ≥ 1024 values except the
    depthwise one, so dynamic-range quantization touches conv and fc only)."""
    tf, keras = tfk
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, C_IN), name="image")
    x = keras.layers.Conv2D(C_CONV, 3, activation="relu", name="conv")(inp)
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=DW_MULT, name="dw")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    out = keras.layers.Dense(C_FC, activation="softmax", name="fc")(x)
    model = keras.Model(inp, out)
    kernels = {
        "conv": structured_kernel((3, 3, C_IN, C_CONV), 1),
        "dw": structured_kernel((3, 3, C_CONV * DW_MULT), 2).reshape(3, 3, C_CONV, DW_MULT),
        "fc": structured_kernel((4 * 4 * C_CONV * DW_MULT, C_FC), 3),
    }
    rng = np.random.default_rng(4)
    for name, k in kernels.items():
        layer = model.get_layer(name)
        w = layer.get_weights()
        layer.set_weights([k, rng.normal(0, 0.05, w[1].shape).astype(np.float32)])
    return model, kernels


@pytest.fixture(scope="session")
def data():
    rng = np.random.default_rng(5)
    x = rng.random((300, 8, 8, C_IN), dtype=np.float32)
    return x



@pytest.fixture(scope="session")
def tflites(tfk, hand_model, data):
    tf, _ = tfk
    model, _ = hand_model
    return {m: convert(tf, model, m, data) for m in ("none", "float16", "dynamic", "int8")}

