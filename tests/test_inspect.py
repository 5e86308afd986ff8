"""inspect.py on every model format, built in-test: .tflite (read without TensorFlow), Keras SavedModel,
a plain tf.Module SavedModel, .h5 and .keras; bad inputs give InputError naming the path."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from optimize_cli.errors import InputError
from optimize_cli.inspect import inspect_model, inspection_text


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from optimize_cli.tf import keras, tf

    d = tmp_path_factory.mktemp("models")
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 1), name="image")
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(inp)
    x = keras.layers.Flatten(name="flatten")(x)
    out = keras.layers.Dense(10, activation="softmax", name="fc")(x)
    model = keras.Model(inp, out, name="tiny")
    k = model.get_layer("fc").get_weights()
    k[0][::2] = 0.0  # half the fc kernel is zero
    model.get_layer("fc").set_weights(k)
    paths = {"saved_model": d / "sm", "h5": d / "m.h5", "keras": d / "m.keras", "tflite": d / "m.tflite"}
    model.save(paths["saved_model"])
    model.save(paths["h5"])
    model.save(paths["keras"])
    rng = np.random.default_rng(0)
    c = tf.lite.TFLiteConverter.from_keras_model(model)
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = lambda: ([rng.random((1, 8, 8, 1), dtype=np.float32)] for _ in range(8))
    c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    c.inference_input_type = c.inference_output_type = tf.int8
    paths["tflite"].write_bytes(c.convert())

    class Plain(tf.Module):
        def __init__(self):
            super().__init__()
            w = np.arange(12, dtype=np.float32).reshape(3, 4)
            w[0] = 0.0
            self.w = tf.Variable(w, name="w")

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
        def __call__(self, x):
            return {"y": tf.matmul(x, self.w)}

    plain = Plain()
    paths["plain"] = d / "plain"
    tf.saved_model.save(plain, str(paths["plain"]), signatures={"serving_default": plain.__call__})
    return model, paths


@pytest.mark.slow
def test_inspect_tflite_reports_io_layers_sizes_and_totals(models):
    _, paths = models
    info = inspect_model(paths["tflite"])
    assert info["format"] == "tflite" and info["quantization"] == "int8"
    assert info["sizes"]["bytes"] == paths["tflite"].stat().st_size
    assert 0 < info["sizes"]["compressed_bytes"] < info["sizes"]["bytes"]
    assert info["inputs"][0]["dtype"] == "int8" and info["inputs"][0]["shape"] == [-1, 8, 8, 1]
    assert info["inputs"][0]["quantization"]["scale"][0] > 0
    layers = {lay["layer"]: lay for lay in info["layers"]}
    assert set(layers) == {"conv", "fc"}
    assert layers["fc"]["op"] == "FULLY_CONNECTED" and layers["fc"]["dtype"] == "int8"
    assert layers["fc"]["sparsity"] >= 0.5 and layers["fc"]["params"] == 10 * 6 * 6 * 8
    assert info["ops"]["FULLY_CONNECTED"] == 1
    assert info["totals"]["weight_params"] == 8 * 9 + 10 * 288
    json.dumps(info)  # JSON-able as it is (the CLI prints it with --json)


@pytest.mark.slow
def test_inspect_tflite_does_not_import_tensorflow(models):
    _, paths = models
    code = (
        "import sys, json\n"
        "from click.testing import CliRunner\n"
        "from optimize_cli.cli import main\n"
        f"r = CliRunner().invoke(main, ['inspect', {str(paths['tflite'])!r}, '--json'])\n"
        "t = CliRunner().invoke(main, ['inspect', " + repr(str(paths["tflite"])) + "])\n"
        "print(json.dumps({'code': r.exit_code, 'tcode': t.exit_code, 'tf': 'tensorflow' in sys.modules,\n"
        "                  'format': json.loads(r.output)['format'], 'table': 'FULLY_CONNECTED' in t.output}))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == {
        "code": 0, "tcode": 0, "tf": False, "format": "tflite", "table": True}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["saved_model", "h5", "keras"])
def test_inspect_keras_formats_report_layers_and_kernel_stats(models, fmt):
    model, paths = models
    info = inspect_model(paths[fmt])
    assert info["format"] == fmt
    files = [paths[fmt]] if fmt != "saved_model" else [f for f in paths[fmt].rglob("*") if f.is_file()]
    assert info["sizes"]["bytes"] == sum(f.stat().st_size for f in files)
    assert info["sizes"]["compressed_bytes"] > 0
    assert info["inputs"] == [{"name": "image", "shape": [-1, 8, 8, 1], "dtype": "float32", "quantization": None}]
    layers = {lay["name"]: lay for lay in info["layers"]}
    assert layers["fc"]["class"] == "Dense" and layers["fc"]["sparsity"] == 0.5
    assert layers["fc"]["params"] == 288 * 10 + 10
    assert layers["conv"]["unique_weights"] == np.unique(model.get_layer("conv").get_weights()[0]).size
    assert layers["flatten"]["sparsity"] is None and layers["flatten"]["params"] == 0
    assert info["totals"]["params"] == model.count_params()
    assert info["totals"]["sparsity"] == pytest.approx(1440 / (72 + 2880))
    json.dumps(info)


@pytest.mark.slow
def test_inspect_plain_saved_model_reads_variables_and_signature(models):
    _, paths = models
    info = inspect_model(paths["plain"])
    assert info["format"] == "saved_model"
    (w,) = [lay for lay in info["layers"] if lay["shape"] == [3, 4]]
    assert w["sparsity"] == pytest.approx(4 / 12) and w["unique_weights"] == 9
    assert info["inputs"][0]["name"] == "x" and info["inputs"][0]["shape"] == [-1, 3]
    assert info["outputs"][0]["name"] == "y"


@pytest.mark.slow
def test_inspection_text_is_a_table(models):
    _, paths = models
    out = inspection_text(inspect_model(paths["tflite"])).plain
    assert "FULLY_CONNECTED" in out and "int8" in out and "totals:" in out and str(paths["tflite"]) in out
    out = inspection_text(inspect_model(paths["h5"])).plain
    assert "Dense" in out and "50.0%" in out and "totals:" in out


@pytest.mark.slow
def test_inspect_bad_inputs_raise_input_error_naming_the_path(models, tmp_path):
    _, paths = models
    junk_tflite = tmp_path / "junk.tflite"
    junk_tflite.write_bytes(b"this is not a flatbuffer at all")
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(paths["tflite"].read_bytes()[:200])
    junk_h5 = tmp_path / "junk.h5"
    junk_h5.write_bytes(b"nope")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    for bad in (tmp_path / "missing.tflite", junk_tflite, truncated, junk_h5, text, empty_dir):
        with pytest.raises(InputError) as e:
            inspect_model(bad)
        assert str(bad) in str(e.value) and "\n" not in str(e.value)


def test_cli_inspect_missing_path_exits_3(tmp_path):
    from click.testing import CliRunner

    from optimize_cli.cli import main

    r = CliRunner().invoke(main, ["inspect", str(tmp_path / "nope.tflite")])
    assert r.exit_code == 3 and "nope.tflite" in r.output
