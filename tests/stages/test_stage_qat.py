"""qat on the tiny model: QAT/PQAT/CQAT/PCQAT, what survives into the int8 .tflite, calibration."""
from __future__ import annotations

import numpy as np
import pytest
from stage_helpers import (
    PRUNABLE,
    keras_accuracy,
    sparsity,
    tflite_int8_kernels,
    tflite_kernel_of,
)

from optimize_cli.stages import QatStage, run_stage

# --------------------------------------------------------------------------------------------- qat


@pytest.mark.slow
def test_qat_pcqat_keeps_sparsity_and_clusters_in_int8_tflite(pcqat, pcqat_int8):
    assert pcqat.scheme.startswith("PCQAT")
    assert pcqat.skipped_layers == []  # BatchNorm after a linear Conv2D is folded, not skipped
    ks = tflite_int8_kernels(pcqat_int8)
    for name in PRUNABLE:
        k = tflite_kernel_of(ks, name)  # TFLite: output channels on axis 0
        assert sparsity(k) >= 0.5 - 0.01, name
        assert max(np.unique(k[c]).size for c in range(k.shape[0])) <= 8, name
    dw = tflite_kernel_of(ks, "dw")
    assert sparsity(dw) < 0.1  # depthwise stayed dense


def test_qat_pcqat_int8_accuracy_matches_keras(pcqat, pcqat_int8, digits_data):
    from ai_edge_litert.interpreter import Interpreter

    _, _, x, y = digits_data
    it = Interpreter(model_content=pcqat_int8)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    assert i["dtype"] == np.int8 and o["dtype"] == np.int8
    s, zp = i["quantization"]
    ok = 0
    for k in range(len(x)):
        it.set_tensor(i["index"], np.clip(np.round(x[k:k + 1] / s + zp), -128, 127).astype(np.int8))
        it.invoke()
        ok += int(it.get_tensor(o["index"]).argmax() == y[k])
    assert abs(ok / len(x) - keras_accuracy(pcqat.model, x, y)) < 0.03


@pytest.mark.slow
def test_qat_pqat_keeps_sparsity(pruned, make_ctx, digits_data):
    from optimize_cli import export

    res = run_stage(pruned.model, QatStage(epochs=1), make_ctx(previous=["prune"], index=2, samples=128))
    assert res.scheme.startswith("PQAT")
    tfl = export.convert(res.model, "int8", export.representative_from(digits_data[0], 32, 0), None, None, None)
    ks = tflite_int8_kernels(tfl)
    for name in PRUNABLE:
        assert sparsity(tflite_kernel_of(ks, name)) >= 0.5 - 0.01, name


@pytest.mark.slow
def test_qat_scheme_follows_previous_stages(tiny_model, make_ctx):
    res = run_stage(tiny_model, QatStage(epochs=0), make_ctx(index=1))
    assert res.scheme == "QAT" and res.details["tfmot_scheme"].startswith("QAT (Default8BitQuantize")
    res = run_stage(tiny_model, QatStage(epochs=0), make_ctx(previous=["cluster"], index=2))
    assert res.scheme == "CQAT" and "preserve_sparsity=False" in res.details["tfmot_scheme"]


def test_qat_leaves_unsupported_layers_in_float(make_ctx):
    from optimize_cli.tf import keras

    L = keras.layers
    inp = keras.Input((8, 8, 1))
    h = L.Conv2D(4, 3, name="conv")(inp)
    h = L.PReLU(name="prelu")(h)
    h = L.Flatten()(h)
    model = keras.Model(inp, L.Dense(10, activation="softmax", name="out")(h))
    res = run_stage(model, QatStage(epochs=0), make_ctx(index=1))
    skipped = {s["name"]: s for s in res.skipped_layers}
    assert skipped["prelu"]["class"] == "PReLU" and "left in float" in skipped["prelu"]["reason"]
    assert type(res.model.get_layer("prelu")).__name__ == "PReLU"


def test_qat_calibrates_activation_ranges(tiny_model, make_ctx):
    def ranges(model):
        return {v.name: float(v.numpy()) for v in model.weights
                if v.name.startswith("quant_relu/output_m") and v.shape.rank == 0}

    calibrated = ranges(run_stage(tiny_model, QatStage(epochs=0), make_ctx(index=1)).model)
    plain = ranges(run_stage(tiny_model, QatStage(epochs=0, calibrate_ranges=False), make_ctx(index=1)).model)
    assert min(plain.values()) == -6.0  # tfmot's initial range, even after a ReLU
    lo = next(v for k, v in calibrated.items() if "min" in k)
    hi = next(v for k, v in calibrated.items() if "max" in k)
    assert lo == 0.0 and 0.0 < hi != 6.0


def test_qat_skip_layers(tiny_model, make_ctx):
    res = run_stage(tiny_model, QatStage(epochs=0, skip_layers=["out"]), make_ctx(index=1))
    assert {s["name"] for s in res.skipped_layers} == {"out"}
    assert type(res.model.get_layer("out")).__name__ == "Dense"


def test_stage_models_round_trip_through_checkpoints(pruned, pcqat, digits_data, tmp_path):
    from optimize_cli import models

    x = digits_data[2][:16]
    for res, typ in ((pruned, "prune"), (pcqat, "qat")):
        d = tmp_path / typ / "model"
        models.save_stage_model(res.model, d)
        back = models.load_stage_model(d.parent, typ)  # the stage folder works as well as its model folder
        np.testing.assert_allclose(np.asarray(back(x)), np.asarray(res.model(x)), atol=1e-5)
