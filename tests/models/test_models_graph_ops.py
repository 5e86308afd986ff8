"""Models that reach outside themselves through TensorFlow ops rather than Python code: a TFOpLambda layer
calling `tf.io.write_file` (or another side-effect function) in a Keras config, and a SavedModel whose graph
holds a WriteFile / PyFunc op. Both are refused with exit 3 and one line before anything runs; harmless
TFOpLambda layers (`tf.math.abs`) still load."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from optimize_cli import models
from optimize_cli.cli import main
from optimize_cli.errors import InputError
from optimize_cli.models.safety import side_effect_function


def _opl_h5(tmp_path: Path, function: str) -> Path:
    from optimize_cli.tf import keras, tf

    x = keras.Input((4,))
    y = keras.layers.Dense(2)(tf.math.abs(x))
    p = tmp_path / f"{function.replace('.', '_')}.h5"
    keras.Model(x, y).save(p)
    import h5py

    with h5py.File(p, "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        ops = [layer for layer in cfg["config"]["layers"] if layer["class_name"] == "TFOpLambda"]
        assert ops, "the model has a TFOpLambda layer"
        ops[0]["config"]["function"] = function
        f.attrs["model_config"] = json.dumps(cfg)
    return p


def test_side_effect_functions_are_named_by_prefix():
    assert side_effect_function("io.write_file") and side_effect_function("tf.py_function")
    assert side_effect_function("summary.scalar") and side_effect_function("raw_ops.WriteFile")
    assert not side_effect_function("math.abs") and not side_effect_function("nn.relu")
    assert not side_effect_function("io_write_file")


def test_tfoplambda_write_file_in_a_keras_config_is_refused(tmp_path):
    p = _opl_h5(tmp_path, "io.write_file")
    with pytest.raises(InputError) as e:
        models.load_model(str(p))
    msg = str(e.value)
    assert "\n" not in msg and "tf.io.write_file" in msg and "--trust-model" in msg and "tf.math.abs" in msg


def test_harmless_tfoplambda_still_loads(tmp_path):
    lm = models.load_model(str(_opl_h5(tmp_path, "math.abs")))
    assert lm.keras_model is not None


@pytest.fixture(scope="module")
def writer_savedmodel(tmp_path_factory):
    """A tf.Module whose serving function writes a marker file each time it runs."""
    from optimize_cli.tf import tf

    base = tmp_path_factory.mktemp("writer")
    marker = base / "marker.txt"

    class Writer(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.float32)])
        def serve(self, x):
            tf.io.write_file(str(marker), "ran")
            return {"y": tf.reduce_mean(x, axis=[1, 2, 3])}

    m = Writer()
    tf.saved_model.save(m, str(base / "sm"), signatures={"serving_default": m.serve})
    return base / "sm", marker


def test_savedmodel_with_a_write_file_op_is_refused_by_run(writer_savedmodel, tmp_path):
    sm, marker = writer_savedmodel
    doc = {"version": 1, "name": "writer", "model": str(sm), "stages": [], "export": {"quantization": "none"},
           "evaluation": {"latency_runs": 1, "latency_warmup": 0}}
    rp = tmp_path / "r.yaml"
    rp.write_text(yaml.safe_dump(doc))
    r = CliRunner(env={"NO_COLOR": "1"}).invoke(main, ["run", str(rp), "--output", str(tmp_path / "o"), "--quiet"])
    assert r.exit_code == 3, r.output
    err = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and "WriteFile" in err[0] and "--trust-model" in err[0]
    assert not marker.exists() and not (tmp_path / "o").exists()


def test_the_write_file_payload_is_live_with_trust_model(writer_savedmodel):
    sm, marker = writer_savedmodel
    lm = models.load_model(str(sm), trust_model=True)
    lm.concrete_function(x=np.zeros((1, 8, 8, 1), np.float32))
    assert marker.read_text() == "ran"
    marker.unlink()  # the refusal test (same module fixture) checks that nothing wrote it
