"""int4: weights through ai-edge-quantizer, LiteRT only, refused for TFLM and Ethos-U before any work."""
from __future__ import annotations

import numpy as np
import pytest

from optimize_cli.deploy import int4
from optimize_cli.deploy import slim as S
from optimize_cli.deploy import verify as V
from optimize_cli.errors import RecipeError
from optimize_cli.targets import ethos_u, litert, tflm


def test_int4_runs_on_litert_only():
    assert litert.INT4 and not tflm.INT4 and not ethos_u.INT4


def test_int4_weight_bits_are_checked():
    assert int4.check_weight_bits(4) == [(".*", 4)]
    assert int4.check_weight_bits({"conv": 4, "out": 8}) == [("conv", 4), ("out", 8)]
    for bad in (2, True, {"conv": 5}, {"(": 4}, "4"):
        with pytest.raises(ValueError):
            int4.check_weight_bits(bad)


def test_int4_without_the_package_names_the_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "ai_edge_quantizer" else real(n, *a))
    assert "pip install 'optimize-cli[int4]'" in int4.package_missing()
    with pytest.raises(RecipeError, match=r"pip install 'optimize-cli\[int4\]'"):
        int4.quantize_int4(b"", [])


@pytest.mark.slow
def test_int4_writes_int4_conv_and_dense_weights_and_runs_on_litert(float_tflite, int8_tflite, digits_data, samples):
    pytest.importorskip("ai_edge_quantizer")
    x_train, _, x_test, _ = digits_data
    r = int4.quantize_int4(float_tflite, x_train[:64])
    bits = {row["layer"]: row["weight_bits"] for row in r.layers}
    assert bits == {"conv": 4, "dw": 8, "pw": 4, "out": 4}  # depthwise stays int8
    assert len(r.tflite) < len(int8_tflite)
    float_out = np.concatenate([o[0] for o in V.run_litert(float_tflite, samples)])
    int4_out = np.concatenate([o[0] for o in V.run_litert(r.tflite, samples)])
    assert int4_out.dtype == np.int8  # AEQ quantizes the interface too (verify quantizes the float samples)
    assert np.mean(np.argmax(int4_out, 1) == np.argmax(float_out, 1)) >= 0.9
    with pytest.raises(V.TflmLoadError):  # why tflm is refused
        V.run_tflm(r.tflite, samples[:1])
    # slimming for LiteRT still applies, bit-identically
    slim = S.slim(r.tflite, litert.SLIM_CHANGES)
    assert "tensor_names" in slim.applied
    V.assert_same_outputs(r.tflite, slim.tflite, samples, V.run_litert, "LiteRT")


@pytest.mark.slow
def test_int4_per_layer_bits(float_tflite, digits_data):
    pytest.importorskip("ai_edge_quantizer")
    r = int4.quantize_int4(float_tflite, digits_data[0][:32], weight_bits={".*": 4, "out": 8})
    bits = {row["layer"]: row["weight_bits"] for row in r.layers}
    assert bits == {"conv": 4, "dw": 8, "pw": 4, "out": 8}


@pytest.mark.slow
def test_int4_grid_fit_says_whether_clustered_values_survive(tiny_model):
    from optimize_cli import export
    from optimize_cli.tf import keras

    model = keras.models.clone_model(tiny_model)
    model.set_weights(tiny_model.get_weights())
    k = model.get_layer("out").get_weights()
    k[0] = np.where(k[0] >= 0, 0.07, -0.03).astype(np.float32) * np.arange(1, 11, dtype=np.float32)  # on the grid
    model.get_layer("out").set_weights(k)
    fits = {f.name.split("/")[1]: f for f in int4.grid_fit(export.convert(model, "none"))}
    out, pw = fits["out"], fits["pw"]
    assert out.max_distinct == 2 and out.exact_channels == out.channels and out.merged_channels == 0
    assert pw.exact_channels == 0 and pw.merged_channels > 0 and pw.max_error_steps > 0.4  # off the grid
