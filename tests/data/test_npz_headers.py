"""What `validate` reads from an .npz's headers (no array is loaded, no TensorFlow): x/y sample counts, x's
sample shape against the model's input (read from the model's stored config) with the fix, and the "did you
mean" of a missing key ranked by shape; each said at the key's file:line. `run` exits 3 for data that does
not fit, as the loader would."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from optimize_cli.cli import main
from optimize_cli.recipe.auto_space import input_shape


def _keras3(path: Path, batch_shape: list) -> Path:
    """A .keras file as far as its config goes (an InputLayer of Keras 3's config.json)."""
    config = {"module": "keras", "class_name": "Functional", "config": {"name": "m", "layers": [
        {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": batch_shape,
                                                                         "dtype": "float32", "name": "image"}},
        {"module": "keras.layers", "class_name": "Dense", "config": {"name": "logits", "units": 10}}]}}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", json.dumps(config))
        z.writestr("metadata.json", json.dumps({"keras_version": "3.5.0"}))
    return path


def _validate(*args):
    return CliRunner(env={"NO_COLOR": "1", "COLUMNS": "300"}).invoke(main, ["validate", *map(str, args)])


@pytest.fixture
def no_full_load(monkeypatch):
    """Reading an array (rather than its header) fails the test."""
    def refuse(*a, **k):
        raise AssertionError("np.load: validate must read headers only")

    monkeypatch.setattr(np, "load", refuse)


def test_input_shape_is_read_from_the_stored_config_without_tensorflow(tmp_path):
    root = Path(__file__).resolve().parents[2]
    assert input_shape(root / "sample_models" / "digits_cnn") == (8, 8, 1)  # tf_keras keras_metadata.pb
    assert input_shape(_keras3(tmp_path / "m.keras", [None, 28, 28])) == (28, 28)  # Keras 3 config.json
    (tmp_path / "bare").mkdir()
    assert input_shape(tmp_path / "bare") is None


def test_validate_catches_an_x_y_sample_count_mismatch_from_the_headers(tmp_path, no_full_load):
    np.savez(tmp_path / "d.npz", x=np.zeros((1200, 8, 8, 1), np.float32), y=np.zeros(1000, np.int64))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"version: 1\nmodel: {_keras3(tmp_path / 'm.keras', [None, 8, 8, 1])}\ndata:\n"
                      "  train:\n    path: d.npz\nstages: []\nexport: {quantization: int8}\n")
    res = _validate(recipe)
    assert res.exit_code == 2
    assert res.stderr == (f"error: {recipe}:4: data.train: d.npz: 'x' has 1200 samples but 'y' has 1000; x and y "
                          "need one row per sample\n")
    sliced = _validate(recipe, "--set", "data.train.stop=1000")
    assert sliced.exit_code == 0, sliced.output  # start/stop are applied to both before counting


def test_run_exits_3_for_data_that_does_not_fit_before_loading_anything(tmp_path, no_full_load):
    np.savez(tmp_path / "d.npz", x=np.zeros((12, 8, 8, 1), np.float32), y=np.zeros(11, np.int64))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"version: 1\nmodel: {_keras3(tmp_path / 'm.keras', [None, 8, 8, 1])}\ndata:\n"
                      "  eval: {path: d.npz}\nstages: []\nexport: {quantization: dynamic}\n")
    res = CliRunner().invoke(main, ["run", str(recipe), "--output", str(tmp_path / "out")])
    assert res.exit_code == 3, res.output
    assert f"{recipe}:4: data.eval: d.npz: 'x' has 12 samples but 'y' has 11" in res.stderr


@pytest.mark.parametrize("x, fix", [
    (np.zeros((5, 64), np.float32), "these look like flattened images: reshape them: x = x.reshape(-1, 8, 8, 1)"),
    (np.zeros((5, 8, 8), np.float32), "add a channel axis: x = x[..., np.newaxis] before saving"),
    (np.zeros((5, 8, 8, 1, 1), np.float32), "remove the channel axis: x = x.squeeze(-1) before saving"),
])
def test_validate_checks_the_sample_shape_against_the_model_and_gives_the_fix(tmp_path, x, fix):
    np.savez(tmp_path / "d.npz", x_test=x, y_test=np.zeros(5, np.int64))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"version: 1\nmodel: {_keras3(tmp_path / 'm.keras', [None, 8, 8, 1])}\ndata:\n"
                      "  eval: {path: d.npz, x: x_test, y: y_test}\nexport: {quantization: dynamic}\n")
    res = _validate(recipe)
    assert res.exit_code == 2
    assert res.stderr.startswith(f"error: {recipe}:4: data.eval: samples have shape {x.shape[1:]} but the model's "
                                 "input is (None, 8, 8, 1)"), res.stderr
    assert res.stderr.rstrip("\n").endswith(f"; {fix}"), res.stderr


def test_validate_suggests_for_x_the_array_shaped_like_the_model_input(tmp_path, no_full_load):
    # by name, 'y_train' is the closest to 'x_train'; by shape it is the labels, and 'inputs' is x
    np.savez(tmp_path / "d.npz", y_train=np.zeros(9, np.int64), inputs=np.zeros((9, 8, 8, 1), np.float32),
             extra=np.zeros((9, 3), np.float32))
    model = _keras3(tmp_path / "m.keras", [None, 8, 8, 1])
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"version: 1\nmodel: {model}\ndata:\n  train: {{path: d.npz, x: x_train, y: y_train}}\n"
                      "stages: []\nexport: {quantization: int8}\n")
    res = _validate(recipe)
    assert res.exit_code == 2
    assert res.stderr.rstrip("\n").endswith("did you mean 'inputs'?"), res.stderr
    # for data.train the array named for training, for data.eval the one named for testing
    np.savez(tmp_path / "s.npz", x_train=np.zeros((9, 8, 8, 1)), x_test=np.zeros((4, 8, 8, 1)),
             y_train=np.zeros(9), y_test=np.zeros(4))
    for split, want in (("train", "x_train"), ("eval", "x_test")):
        recipe.write_text(f"version: 1\nmodel: {model}\ndata:\n  {split}: {{path: s.npz, x: x, y: y_{split}}}\n"
                          "stages: []\nexport: {quantization: dynamic}\n".replace("y_eval", "y_test"))
        assert _validate(recipe).stderr.rstrip("\n").endswith(f"did you mean '{want}'?"), split
    # images without their channel axis: suggested, with the fix
    np.savez(tmp_path / "c.npz", images=np.zeros((9, 8, 8)), labels=np.zeros(9))
    recipe.write_text(f"version: 1\nmodel: {model}\ndata:\n  eval: {{path: c.npz, y: labels}}\nstages: []\n"
                      "export: {quantization: dynamic}\n")
    assert _validate(recipe).stderr.rstrip("\n").endswith(
        "did you mean 'images'? (its samples are (8, 8): add a channel axis: x = x[..., np.newaxis] before saving)")


def test_without_the_model_input_shape_x_is_the_array_with_the_most_dimensions(tmp_path):
    (tmp_path / "model").mkdir()  # a folder without a readable config
    np.savez(tmp_path / "d.npz", labels=np.zeros(9, np.int64), pixels=np.zeros((9, 8, 8, 1), np.float32))
    recipe = tmp_path / "r.yaml"
    recipe.write_text("version: 1\nmodel: model\ndata:\n  eval: {path: d.npz, y: labels}\nstages: []\n"
                      "export: {quantization: dynamic}\n")
    assert _validate(recipe).stderr.rstrip("\n").endswith("did you mean 'pixels'?")
