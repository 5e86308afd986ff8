"""Legal models that used to end in an internal error (issue 11, item 11): a subclassed Keras model (it has
no `outputs`) is read through its serving signature, post-training only; a tf.Module SavedModel whose
signature takes two inputs is refused with exit 3 and one line."""
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

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "sample_models" / "digits.npz"


@pytest.fixture(scope="module")
def subclassed(tmp_path_factory):
    from optimize_cli.tf import keras

    class Digits(keras.Model):
        def __init__(self):
            super().__init__()
            self.flat = keras.layers.Flatten()
            self.head = keras.layers.Dense(10, activation="softmax")

        def call(self, x):
            return self.head(self.flat(x))

    keras.utils.set_random_seed(0)
    m = Digits()
    m(np.zeros((1, 8, 8, 1), np.float32))
    d = tmp_path_factory.mktemp("sub") / "sm"
    m.save(str(d), save_format="tf")
    return d


def _recipe(tmp_path: Path, model: Path, stages: list) -> Path:
    doc = {"version": 1, "name": "legal", "model": str(model), "stages": stages,
           "data": {"train": {"type": "npz", "path": str(DATA), "x": "x_train", "y": "y_train", "stop": 64},
                    "eval": {"type": "npz", "path": str(DATA), "x": "x_test", "y": "y_test", "stop": 32}},
           "export": {"quantization": "dynamic"}, "evaluation": {"latency_runs": 1, "latency_warmup": 0}}
    p = tmp_path / "recipe.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def test_subclassed_model_loads_through_its_signature(subclassed):
    lm = models.load_model(str(subclassed))
    assert lm.keras_model is None and lm.format == "tf_savedmodel" and lm.concrete_function is not None
    assert "subclassed Keras model" in lm.warnings[0]


@pytest.mark.slow
def test_run_of_a_subclassed_model_ptq_succeeds_and_training_exits_3(subclassed, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner(env={"NO_COLOR": "1"})
    r = runner.invoke(main, ["run", str(_recipe(tmp_path, subclassed, [])), "--output", str(tmp_path / "ptq"),
                             "--json", "--quiet"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["passed"] is True
    report = json.loads((tmp_path / "ptq" / "report.json").read_text())
    assert report["model"]["format"] == "tf_savedmodel"
    r = runner.invoke(main, ["run", str(_recipe(tmp_path, subclassed, [{"type": "prune", "epochs": 1}])),
                             "--output", str(tmp_path / "prune"), "--quiet"])
    assert r.exit_code == 3, r.output
    err = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and "training stages need the Keras model file" in err[0]


def test_tf_module_with_two_inputs_is_refused_with_one_line(tmp_path):
    from optimize_cli.tf import tf

    class Two(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="a"),
                                      tf.TensorSpec([None, 4], tf.float32, name="b")])
        def __call__(self, a, b):
            return {"y": a + b}

    mod = Two()
    tf.saved_model.save(mod, str(tmp_path / "two"), signatures=mod.__call__)
    with pytest.raises(InputError, match=r"two: the SavedModel's 'serving_default' signature takes 2 inputs \(a, b\)"):
        models.load_model(str(tmp_path / "two"))
    r = CliRunner().invoke(main, ["run", str(_recipe(tmp_path, tmp_path / "two", [])), "--output",
                                  str(tmp_path / "o"), "--quiet"])
    assert r.exit_code == 3, r.output
    assert len([line for line in r.stderr.splitlines() if line.strip()]) == 1


@pytest.mark.slow
def test_signature_only_model_without_data_runs_dynamic_ptq(subclassed, tmp_path):
    """No data section at all: the latency sample comes from the signature's input shape (it used to read
    the Keras model's input shape, which a signature-only model does not have)."""
    doc = {"version": 1, "name": "nodata", "model": str(subclassed), "stages": [],
           "export": {"quantization": "dynamic"}, "evaluation": {"latency_runs": 1, "latency_warmup": 0}}
    p = tmp_path / "recipe.yaml"
    p.write_text(yaml.safe_dump(doc))
    r = CliRunner(env={"NO_COLOR": "1"}).invoke(main, ["run", str(p), "--output", str(tmp_path / "o"), "--json",
                                                       "--quiet"])
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["result"]["accuracy"] is None and report["result"]["latency_ms"] > 0
