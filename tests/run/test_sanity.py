"""run/sanity.py: the silent mistakes a run says out loud (report.json `warnings`, and stderr)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from optimize_cli.cli import main
from optimize_cli.recipe import load_recipe
from optimize_cli.run import sanity

ROOT = Path(__file__).resolve().parents[2]


def _recipe(tmp_path, data: str):
    path = tmp_path / "r.yaml"
    path.write_text(f"version: 1\nmodel: m\ndata:\n{data}stages: []\nexport: {{quantization: int8}}\n")
    return load_recipe(path, check_paths=False)


def test_sanity_same_train_and_eval_is_about_the_samples_not_their_scaling(tmp_path):
    same = _recipe(tmp_path, "  train: {path: d.npz, x: x, y: y}\n  eval: {path: d.npz, x: x, y: y}\n")
    assert [s for s, _ in sanity.same_train_and_eval(same)] == ["data"]
    img = ("  train: {type: image_dir, path: imgs, image_size: [8, 8]}\n"
           "  eval: {type: image_dir, path: imgs, image_size: [8, 8], scale: 1/127.5, offset: -1}\n")
    assert sanity.same_train_and_eval(_recipe(tmp_path, img)) != []
    other = _recipe(tmp_path, "  train: {path: d.npz, x: x_train, y: y_train}\n  eval: {path: d.npz, x: x_test, y: y_test}\n")
    held = _recipe(tmp_path, "  train: {path: d.npz}\n  eval: {validation_split: 0.2}\n")
    assert sanity.same_train_and_eval(other) == [] == sanity.same_train_and_eval(held)


@pytest.mark.slow
def test_sanity_chance_level_baseline_same_data_and_short_calibration_are_warned(tmp_path):
    """Images the model sees as ~0 (scale 1e-9): a constant prediction, exactly 10% on 10 balanced classes,
    which passed silently; the same folder for train and eval; 100 images for 256 calibration samples."""
    from optimize_cli.tf import tf

    with np.load(ROOT / "sample_models" / "digits.npz") as f:
        x, y = f["x_test"], f["y_test"]
    for c in range(10):
        (tmp_path / "imgs" / str(c)).mkdir(parents=True)
        for j, i in enumerate(np.flatnonzero(y == c)[:10]):
            png = tf.io.encode_png(np.round(x[i] * 255).astype(np.uint8))
            tf.io.write_file(str(tmp_path / "imgs" / str(c) / f"{j}.png"), png)
    src = "{type: image_dir, path: imgs, image_size: [8, 8], color_mode: grayscale, scale: 1.0e-9}"
    (tmp_path / "r.yaml").write_text(
        f"version: 1\nmodel: {ROOT / 'sample_models' / 'digits_cnn'}\n"
        f"data:\n  train: {src}\n  eval: {src}\nstages: []\nexport: {{quantization: int8}}\n")
    res = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "400"}).invoke(
        main, ["run", str(tmp_path / "r.yaml"), "--output", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "out" / "report.json").read_text())
    assert rep["baseline"]["accuracy"] == pytest.approx(0.1)
    warned = {w["source"]: w["message"] for w in rep["warnings"]}
    assert "chance level for 10 classes" in warned["baseline"]
    assert "data.eval.scale" in warned["baseline"] and "data.eval.offset" in warned["baseline"]
    assert "data.train and data.eval are the same data" in warned["data"]
    assert warned["calibration"].startswith("100 samples calibrate int8, fewer than data.representative_samples (256)")
    for message in warned.values():
        assert message in " ".join(res.stderr.split())
