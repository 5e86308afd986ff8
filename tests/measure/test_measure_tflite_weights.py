"""measure.tflite_weights / tflite_model / values / layer_names on hand-set kernels converted to every
TFLite flavour."""
from __future__ import annotations

import numpy as np
import pytest
from measure_models import C_CONV, C_IN, DW_MULT, by_layer, channels, convert

from optimize_cli import measure

# ---------------------------------------------------------------------- weights in the .tflite


@pytest.mark.slow
def test_tflite_weight_stats_float32_matches_hand_set_kernels(tflites, hand_model):
    _, kernels = hand_model
    st = by_layer(measure.tflite_weight_stats(tflites["none"]))
    assert set(st) == {"conv", "dw", "fc"}
    assert st["conv"]["op"] == "CONV_2D" and st["dw"]["op"] == "DEPTHWISE_CONV_2D" and st["fc"]["op"] == "FULLY_CONNECTED"
    assert st["conv"]["shape"] == [C_CONV, 3, 3, C_IN] and st["conv"]["channel_axis"] == 0
    assert st["dw"]["shape"] == [1, 3, 3, C_CONV * DW_MULT] and st["dw"]["channel_axis"] == 3
    for name, k in kernels.items():
        s = st[name]
        assert s["dtype"] == "float32" and not s["quantized"]
        assert s["params"] == k.size
        assert s["sparsity"] == pytest.approx(np.count_nonzero(k == 0) / k.size)
        assert s["unique_weights"] == np.unique(k).size
        assert s["max_unique_per_channel"] == 4
    assert st["fc"]["sparsity"] == 0.5 and st["conv"]["sparsity"] == 0.5


@pytest.mark.slow
def test_tflite_weight_stats_float16_reads_the_fp16_buffer_behind_dequantize(tflites, hand_model):
    _, kernels = hand_model
    st = by_layer(measure.tflite_weight_stats(tflites["float16"]))
    for name, k in kernels.items():
        s = st[name]
        assert s["dtype"] == "float16" and s["via"] == "DEQUANTIZE"
        assert s["sparsity"] == pytest.approx(np.count_nonzero(k == 0) / k.size)
        assert s["unique_weights"] == np.unique(k.astype(np.float16)).size
        assert s["max_unique_per_channel"] == 4
    assert measure.guess_quantization(tflites["float16"]) == "float16"


@pytest.mark.slow
def test_tflite_weight_stats_dynamic_range_int8_is_per_channel(tflites, hand_model):
    _, kernels = hand_model
    st = by_layer(measure.tflite_weight_stats(tflites["dynamic"]))
    for name in ("conv", "fc"):
        s, k = st[name], kernels[name]
        assert s["dtype"] == "int8" and s["quantized"] and s["per_channel"]
        assert s["sparsity"] == 0.5
        assert s["max_unique_per_channel"] == 4
        assert s["unique_weights"] == 3 + channels(name, k)
    assert st["dw"]["dtype"] == "float32"  # 576 values: below the converter's dynamic-range threshold
    assert measure.guess_quantization(tflites["dynamic"]) == "dynamic"


@pytest.mark.slow
def test_tflite_weight_stats_int8_shows_clusters_per_channel_not_per_tensor(tflites, hand_model):
    _, kernels = hand_model
    st = by_layer(measure.tflite_weight_stats(tflites["int8"]))
    for name, k in kernels.items():
        s = st[name]
        assert s["dtype"] == "int8" and s["per_channel"]
        assert s["sparsity"] == pytest.approx(np.count_nonzero(k == 0) / k.size)
        assert s["max_unique_per_channel"] == 4
        assert s["unique_weights"] == 3 + channels(name, k)  # 0, ±127 and one r*127 per channel
    assert measure.guess_quantization(tflites["int8"]) == "int8"
    s = measure.summary(measure.tflite_weight_stats(tflites["int8"]))
    total = sum(k.size for k in kernels.values())
    zeros = sum(int(np.count_nonzero(k == 0)) for k in kernels.values())
    assert s["sparsity"] == pytest.approx(zeros / total) and s["max_unique_per_channel"] == 4


@pytest.mark.slow
def test_tflite_weight_stats_sparse_encoded_weights_are_densified(tfk, hand_model, tflites):
    tf, _ = tfk
    model, _ = hand_model
    tfl = convert(tf, model, "sparse")
    st = by_layer(measure.tflite_weight_stats(tfl))
    dense = by_layer(measure.tflite_weight_stats(tflites["none"]))
    assert st["fc"]["sparse_encoded"] and st["fc"]["via"] == "DENSIFY"
    for key in ("shape", "sparsity", "unique_weights", "max_unique_per_channel"):
        assert st["fc"][key] == dense["fc"][key]


def test_value_stats_counts_zero_point_as_zero_per_channel():
    q = np.array([[3, 3, 5, 7], [-2, 0, -2, -2]], np.int8)  # channel 0: zp 3, channel 1: zp -2
    s = measure.value_stats(q, 0, np.array([3, -2]))
    assert s["zeros"] == 5 and s["sparsity"] == 5 / 8
    assert s["unique_weights"] == 5 and s["max_unique_per_channel"] == 3


def test_keras_layer_name_from_tensor_names():
    f = measure.keras_layer_name
    assert f("model/conv1/Conv2D") == "conv1"
    assert f("sequential/dense_1/MatMul;sequential/dense_1/BiasAdd") == "dense_1"
    assert f("model/quant_conv2d/Conv2D/ReadVariableOp") == "conv2d"
    assert f("arith.constant;model/fc/MatMul1") == "fc"
    assert f("model/backbone/conv2d/Conv2D") == "conv2d"
    assert f("m/dw1_bn/FusedBatchNormV3;m/dw1/depthwise;m/dw1_bn/beta") == "dw1"  # BatchNorm folded in
    assert f("m/pw_bn/FusedBatchNormV3;m/pw/Conv2D/ReadVariableOp") == "pw"
    assert f("arith.constant1") is None and f("") is None


@pytest.mark.slow
def test_tflite_weight_stats_reports_large_constants_but_not_biases(tfk):
    tf, keras = tfk
    c = np.arange(1, 1025, dtype=np.float32)
    c[:256] = 0.0
    inp = keras.Input((1024,))
    h = keras.layers.Lambda(lambda t: tf.nn.relu(t - tf.constant(c)))(inp)  # not foldable into fc
    model = keras.Model(inp, keras.layers.Dense(4, name="fc")(h))
    model.get_layer("fc").set_weights([np.ones((1024, 4), np.float32), np.arange(4, dtype=np.float32)])
    stats = measure.tflite_weight_stats(convert(tf, model, "none"))
    (const,) = [s for s in stats if s["role"] == "constant"]
    assert const["op"] == "SUB" and const["params"] == 1024 and const["sparsity"] == 0.25
    assert const["unique_weights"] == 769
    (w,) = [s for s in stats if s["role"] == "weight"]
    assert w["layer"] == "fc" and w["unique_weights"] == 1 and w["shape"] == [4, 1024]
    assert measure.summary(stats)["params"] == 4096  # constants don't count as kernels

