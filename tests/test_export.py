"""TFLite conversion: every quantization mode produces a loadable .tflite with the expected tensor types."""
from __future__ import annotations

import numpy as np
import pytest

from optimize_cli import export
from optimize_cli.errors import StageError
from optimize_cli.stages import run_stage


def interpreter(tfl: bytes):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tfl)
    it.allocate_tensors()
    return it


def io_dtypes(tfl: bytes):
    it = interpreter(tfl)
    return it.get_input_details()[0]["dtype"], it.get_output_details()[0]["dtype"]


def weight_dtypes(tfl: bytes) -> set:
    """dtypes of the rank ≥ 2 constant tensors (the kernels)."""
    it = interpreter(tfl)
    out = set()
    for t in it.get_tensor_details():
        if len(t["shape"]) >= 2:
            try:
                it.get_tensor(t["index"])
            except ValueError:
                continue
            out.add(np.dtype(t["dtype"]).name)
    return out


def run_one(tfl: bytes, x: np.ndarray) -> np.ndarray:
    it = interpreter(tfl)
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    if i["dtype"] != np.float32:
        s, zp = i["quantization"]
        info = np.iinfo(i["dtype"])
        x = np.clip(np.round(x / s + zp), info.min, info.max).astype(i["dtype"])
    it.set_tensor(i["index"], x)
    it.invoke()
    y = it.get_tensor(o["index"]).astype(np.float32)
    if o["dtype"] != np.float32:
        s, zp = o["quantization"]
        y = (y - zp) * s
    return y


@pytest.fixture(scope="module")
def rep(digits_data):
    return export.representative_from(digits_data[0], 32, seed=0)


@pytest.mark.parametrize("quant,io,kernels", [
    ("none", (np.float32, np.float32), {"float32"}),
    ("dynamic", (np.float32, np.float32), {"int8"}),
    ("float16", (np.float32, np.float32), {"float16"}),
    ("int8", (np.int8, np.int8), {"int8"}),
])
@pytest.mark.slow
def test_convert_modes_give_expected_dtypes(tiny_model, rep, digits_data, tmp_path, quant, io, kernels):
    tfl = export.convert(tiny_model, quant, rep if quant == "int8" else None, None, None, tmp_path)
    assert io_dtypes(tfl) == io
    assert kernels <= weight_dtypes(tfl)
    x = digits_data[2][:1]
    y = run_one(tfl, x)
    assert y.shape == (1, 10) and abs(float(y.sum()) - 1.0) < 0.1  # still a softmax
    assert int(y.argmax()) == int(np.asarray(tiny_model(x)).argmax())


@pytest.mark.slow
def test_convert_int8_uint8_io_from_an_array_of_samples(tiny_model, digits_data):
    tfl = export.convert(tiny_model, "int8", digits_data[0][:16], "uint8", "uint8", None)
    assert io_dtypes(tfl) == (np.uint8, np.uint8)


@pytest.mark.slow
def test_convert_int16x8(tiny_model, rep, digits_data):
    tfl = export.convert(tiny_model, "int16x8", rep, "int16", "int16", None)
    assert io_dtypes(tfl) == (np.int16, np.int16)
    assert "int8" in weight_dtypes(tfl)
    x = digits_data[2][:1]
    assert int(run_one(tfl, x).argmax()) == int(np.asarray(tiny_model(x)).argmax())


@pytest.mark.slow
def test_convert_qat_model_to_int8_without_representative(tiny_model, make_ctx):
    from optimize_cli.stages import QatStage

    res = run_stage(tiny_model, QatStage(epochs=0), make_ctx(index=1))
    tfl = export.convert(res.model, "int8", None, None, None, None)
    assert io_dtypes(tfl) == (np.int8, np.int8)
    assert weight_dtypes(tfl) == {"int8"} or "int8" in weight_dtypes(tfl)
    with pytest.raises(StageError, match="converts to int8 only"):
        export.convert(res.model, "dynamic", None, None, None, None)


@pytest.mark.slow
def test_convert_tf_module_savedmodel(tmp_path):
    from optimize_cli import models
    from optimize_cli.tf import tf

    class Scale(tf.Module):
        def __init__(self):
            self.w = tf.Variable(tf.random.stateless_normal((4, 3), seed=(1, 2)))

        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
        def __call__(self, x):
            return {"y": tf.nn.softmax(tf.matmul(x, self.w))}

    mod = Scale()
    tf.saved_model.save(mod, str(tmp_path / "module"), signatures=mod.__call__)
    lm = models.load_model(str(tmp_path / "module"))
    tfl = export.convert(lm, "none", None, None, None, None)
    assert io_dtypes(tfl) == (np.float32, np.float32)
    x = np.random.default_rng(0).random((20, 4), dtype=np.float32)
    tfl8 = export.convert(lm, "int8", export.representative_from(x, 10, 0), None, None, None)
    assert io_dtypes(tfl8) == (np.int8, np.int8)


@pytest.mark.slow
def test_convert_failure_is_stage_error_in_one_line(tiny_model):
    bad = np.zeros((4, 3, 3, 1), np.float32)  # wrong input shape for calibration
    with pytest.raises(StageError) as e:
        export.convert(tiny_model, "int8", bad, None, None, None)
    assert e.value.exit_code == 4
    assert str(e.value).startswith("export: the TFLite converter failed for int8: ") and "\n" not in str(e.value)


def test_convert_int8_needs_representative(tiny_model):
    with pytest.raises(StageError, match="int8 needs a representative dataset"):
        export.convert(tiny_model, "int8", None, None, None, None)


@pytest.mark.slow
def test_convert_keeps_converter_noise_off_the_terminal(tiny_model, capfd, tmp_path):
    export.convert(tiny_model, "dynamic", None, None, None, tmp_path)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert (tmp_path / "convert-dynamic.log").exists()


def test_representative_from_is_deterministic():
    x = np.arange(100, dtype=np.float32).reshape(100, 1)
    a = [b[0].copy() for b in export.representative_from(x, 10, seed=3)()]
    b = [b[0].copy() for b in export.representative_from(x, 10, seed=3)()]
    c = [b[0].copy() for b in export.representative_from(x, 10, seed=4)()]
    assert len(a) == 10 and all(s.shape == (1, 1) and s.dtype == np.float32 for s in a)
    assert np.array_equal(np.concatenate(a), np.concatenate(b))
    assert not np.array_equal(np.concatenate(a), np.concatenate(c))
    assert len(np.unique(np.concatenate(a))) == 10  # without replacement
    assert len(list(export.representative_from(x, 500, 0)())) == 100
