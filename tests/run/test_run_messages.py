"""What a run tells the user: the model loader's warnings reach stderr and report.json (issue 10 #4), and a
stage's identical per-layer skip messages collapse into one line (issue 10 #7)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from optimize_cli.cli import main
from optimize_cli.run.path import skipped_lines

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_loader_warnings_reach_stderr_and_report_json(tmp_path):
    from optimize_cli.tf import tf

    class Plain(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.float32)])
        def __call__(self, x):
            return {"probs": tf.nn.softmax(tf.reshape(x, [-1, 64])[:, :10])}

    m = Plain()
    tf.saved_model.save(m, str(tmp_path / "plain"), signatures={"serving_default": m.__call__})
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"version": 1, "name": "plain", "model": str(tmp_path / "plain"),
                                      "data": {"eval": {"type": "npz", "path": str(ROOT / "sample_models/digits.npz"),
                                                        "x": "x_test", "y": "y_test"}},
                                      "export": {"quantization": "none"}}))
    res = CliRunner().invoke(main, ["run", str(recipe), "--output", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    warned = json.loads((tmp_path / "out" / "report.json").read_text())["warnings"]
    assert {"source": "model", "message": "a SavedModel without a Keras model: only post-training "
                                          "quantization is possible"} in warned
    assert "only post-training quantization is possible" in res.stderr


def test_identical_skip_messages_collapse_into_one_line_with_count_and_first_names():
    reason = "tfmot: DepthwiseConv2D is not supported"
    skipped = [{"name": f"dw{i}", "class": "DepthwiseConv2D", "reason": reason} for i in range(1, 14)]
    skipped.append({"name": "lambda", "class": "Lambda", "reason": "skip_layers 'lambda'"})
    lines = skipped_lines("prune", skipped)
    assert lines == [f"  prune: skipped 13 DepthwiseConv2D layers (dw1, dw2, dw3, …): {reason}",
                     "  prune: skipped lambda (Lambda): skip_layers 'lambda'"]


def test_same_class_with_different_reasons_stays_apart():
    lines = skipped_lines("cluster", [{"name": "a", "class": "Dense", "reason": "x"},
                                      {"name": "b", "class": "Dense", "reason": "y"},
                                      {"name": "c", "class": "Dense", "reason": "x"}])
    assert lines == ["  cluster: skipped 2 Dense layers (a, c): x", "  cluster: skipped b (Dense): y"]


@pytest.mark.slow
def test_one_hot_labels_say_the_loss_in_the_log_report_and_resolved_recipe(tmp_path):
    """The sample model was saved with a sparse loss; one-hot labels switch it, and the run says so."""
    from optimize_cli import report as rp

    with np.load(ROOT / "sample_models/digits.npz") as f:
        x, y = f["x_train"][:192], f["y_train"][:192]
    data = tmp_path / "onehot.npz"
    np.savez(data, x=x, y=np.eye(10)[y])
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({
        "version": 1, "name": "onehot", "model": str(ROOT / "sample_models/digits_cnn"),
        "data": {"train": {"type": "npz", "path": str(data)}, "eval": {"type": "npz", "path": str(data)}},
        "stages": [{"type": "prune", "epochs": 1}], "export": {"quantization": "dynamic"},
        "evaluation": {"latency_runs": 2, "latency_warmup": 0}}))
    res = CliRunner().invoke(main, ["run", str(recipe), "--output", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    why = "the model was saved with sparse_categorical_crossentropy, but the labels are one-hot vectors of 10"
    assert f"loss: categorical_crossentropy ({why})" in res.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    rp.validate_report(report)
    assert report["model"]["loss"] == {"name": "categorical_crossentropy", "from_logits": False, "source": "saved",
                                       "reason": why}
    resolved = (tmp_path / "out" / "recipe.resolved.yaml").read_text()
    assert f"  loss: null  # used: categorical_crossentropy ({why})\n" in resolved
    assert yaml.safe_load(resolved)["training"]["loss"] is None


@pytest.mark.slow
def test_a_data_error_found_while_loading_names_the_key_file_and_line(tmp_path):
    """Errors of the loaders and of the check against the model are said at the key's file:line, like recipe
    errors; with the option instead when the value came from the command line."""
    with np.load(ROOT / "sample_models/digits.npz") as f:
        x, y = f["x_test"][:40].copy(), f["y_test"][:40]
    x[3, 0, 0, 0] = np.nan
    np.savez(tmp_path / "nan.npz", x=x, y=y)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"version: 1\nmodel: {ROOT / 'sample_models/digits_cnn'}\ndata:\n  eval:\n    path: nan.npz\n"
                      "stages: []\nexport: {quantization: dynamic}\n")
    res = CliRunner().invoke(main, ["run", str(recipe), "--output", str(tmp_path / "out")])
    assert res.exit_code == 3, res.output
    assert f"error: {recipe}:4: data.eval: sample 3 has NaN or infinite input values" in res.stderr
    res = CliRunner().invoke(main, ["run", str(recipe), "--output", str(tmp_path / "out"), "--set",
                                    "data.eval.path=missing.npz", "--set", "data.eval.x=x"])
    assert res.exit_code == 2 and "(from --set data.eval.path)" in res.stderr
