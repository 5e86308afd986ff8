"""measure.keras_weights: kernels of Keras layers, also inside tfmot wrappers."""
from __future__ import annotations

import numpy as np
import pytest

from optimize_cli import measure

# ----------------------------------------------------------------------------------- Keras


@pytest.mark.slow
def test_keras_weight_stats_reads_kernels_and_inside_wrappers(tfk, hand_model):
    _, keras = tfk
    model, kernels = hand_model
    st = {s["name"]: s for s in measure.keras_weight_stats(model)}
    assert set(st) == {"conv", "dw", "fc"}
    assert st["conv"]["class"] == "Conv2D" and st["dw"]["class"] == "DepthwiseConv2D" and st["fc"]["class"] == "Dense"
    for name, k in kernels.items():
        assert st[name]["params"] == k.size
        assert st[name]["sparsity"] == pytest.approx(np.count_nonzero(k == 0) / k.size)
        assert st[name]["unique_weights"] == np.unique(k).size
        assert st[name]["max_unique_per_channel"] == 4  # depthwise: I*M output channels
    import tensorflow_model_optimization as tfmot

    pruned = tfmot.sparsity.keras.prune_low_magnitude(keras.models.clone_model(model))
    for layer in pruned.layers:
        inner = getattr(layer, "layer", None)
        if inner is not None and inner.name in kernels:
            getattr(inner, "depthwise_kernel" if inner.name == "dw" else "kernel").assign(kernels[inner.name])
    wst = {s["name"]: s for s in measure.keras_weight_stats(pruned)}
    assert wst["conv"]["wrapper"] == "PruneLowMagnitude" and wst["conv"]["sparsity"] == 0.5
    assert wst["fc"]["unique_weights"] == st["fc"]["unique_weights"]
    qat = tfmot.quantization.keras.quantize_model(model)  # kernels behind fake-quant tensors
    qst = {s["name"]: s for s in measure.keras_weight_stats(qat)}
    assert set(qst) == {"conv", "dw", "fc"} and qst["fc"]["wrapper"] == "QuantizeWrapperV2"
    for name in kernels:
        assert {k: qst[name][k] for k in ("sparsity", "unique_weights", "max_unique_per_channel", "shape")} == \
            {k: st[name][k] for k in ("sparsity", "unique_weights", "max_unique_per_channel", "shape")}
    summ = measure.summary(wst.values())
    assert summ["layers"] == 3 and summ["params"] == sum(k.size for k in kernels.values())
    assert measure.summary(st.values(), names=["fc"])["sparsity"] == 0.5


