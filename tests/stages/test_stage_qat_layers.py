"""qat on layers tfmot's registries claim but cannot configure: preprocessing up front (Rescaling,
Normalization) is quantized on every path (QAT, PQAT, CQAT, PCQAT) and reaches the int8 .tflite."""
from __future__ import annotations

import numpy as np
import pytest

from optimize_cli.stages import QatStage

PATHS = {"QAT": (), "PQAT": ("prune",), "CQAT": ("cluster",), "PCQAT": ("prune", "cluster")}


@pytest.fixture(scope="module")
def prep_model(digits_data):
    """Rescaling → adapted Normalization → given Normalization → Conv2D → Flatten → Dense: a plain tf_keras
    model with preprocessing up front."""
    from optimize_cli.tf import keras

    L = keras.layers
    keras.utils.set_random_seed(0)
    norm = L.Normalization(name="norm")
    norm.adapt(digits_data[0] * 16.0)
    inp = keras.Input((8, 8, 1), name="image")
    h = L.Rescaling(16.0, name="rescale")(inp)
    h = L.Normalization(mean=0.1, variance=2.0, name="given")(norm(h))
    h = L.Conv2D(8, 3, activation="relu", name="conv")(h)
    model = keras.Model(inp, L.Dense(10, activation="softmax", name="out")(L.Flatten()(h)))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(digits_data[0], digits_data[1], epochs=2, verbose=0)
    return model


@pytest.mark.parametrize("scheme", list(PATHS))
def test_qat_quantizes_preprocessing_layers_on_every_path(prep_model, make_ctx, scheme):
    from optimize_cli.stages import qat

    res = qat.run(prep_model, QatStage(epochs=0), make_ctx(previous=list(PATHS[scheme]), index=len(PATHS[scheme]) + 1))
    assert res.scheme == scheme and res.skipped_layers == []
    assert {"rescale", "norm", "given", "conv", "out"} <= set(res.details["quantized_layers"])
    for name in ("rescale", "norm", "given"):
        assert type(res.model.get_layer(f"quant_{name}")).__name__ == "QuantizeWrapperV2"


def test_qat_preprocessing_layers_reach_the_int8_tflite(prep_model, make_ctx, digits_data):
    """PCQAT (the path that failed): the int8 .tflite computes the preprocessing in int8 and agrees with
    the float model."""
    from ai_edge_litert.interpreter import Interpreter

    from optimize_cli import export
    from optimize_cli.stages import qat

    res = qat.run(prep_model, QatStage(epochs=1), make_ctx(previous=["prune", "cluster"], index=3, samples=64))
    tfl = export.convert(res.model, "int8", export.representative_from(digits_data[0], 64, 0), None, None, None)
    it = Interpreter(model_content=tfl)
    it.allocate_tensors()
    ops = {op["op_name"] for op in it._get_ops_details()}  # noqa: SLF001 - no public API for the op list
    assert {"MUL", "SUB"} <= ops and "DEQUANTIZE" not in ops, ops  # Rescaling, the Normalizations
    assert not [d["name"] for d in it.get_tensor_details() if d["dtype"] == np.float32]
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    s, zp = i["quantization"]
    os_, ozp = o["quantization"]
    x = digits_data[2][:64]
    got = []
    for k in range(len(x)):
        it.set_tensor(i["index"], np.clip(np.round(x[k:k + 1] / s + zp), -128, 127).astype(np.int8))
        it.invoke()
        got.append((it.get_tensor(o["index"]).astype(np.float32) - ozp) * os_)
    want = np.asarray(res.model(x))
    assert np.mean(np.concatenate(got).argmax(-1) == want.argmax(-1)) >= 0.9
