"""Hostile inputs, round 2 (issue 22), that need a real run of the sample model: a user's own folder under
the baseline cache's baselines/ (600 MB, sparse) survives a run; a tampered, an empty and a foreign-writable
cache entry each give one warning naming the entry and a fresh measurement, and the report never shows the
planted figures; a model with a dynamic spatial input is measured on the samples' shape; a FIFO named like
an image is refused (exit 3) without blocking."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from run_helpers import cli, ptq_recipe, write_recipe

from optimize_cli.run import baseline_cache, cache_entry

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "sample_models" / "digits.npz"
pytestmark = pytest.mark.slow  # real conversions of the sample model

PLANTED = {"tflite_bytes": 7, "compressed_bytes": 7, "accuracy": 0.123456, "latency_ms": 99.0}


def _run(tmp_path: Path, name: str) -> tuple[dict, list[str]]:
    out = tmp_path / name
    res = cli("run", write_recipe(tmp_path, ptq_recipe("hostile", eval_samples=60)), "--output", out, "--force")
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.stderr
    return json.loads((out / "report.json").read_text()), [ln for ln in res.stderr.splitlines() if "warning: cache" in ln]


def _baseline_entry() -> Path:
    """The float32 baseline's entry (its figures have quantization 'none')."""
    d = baseline_cache.cache_dir() / "baselines"
    for p in d.iterdir():
        if cache_entry.is_entry(p) and json.loads((p / "entry.json").read_text())["figures"]["quantization"] == "none":
            return p
    raise AssertionError(list(d.iterdir()))


def _plant(entry: Path, figures: dict, rehash: bool) -> None:
    doc = json.loads((entry / "entry.json").read_text())
    doc["figures"] = figures
    if rehash:  # as an attacker who knows the format would
        doc["content_sha256"] = cache_entry.content_hash(doc["key"], figures, doc["tflite_sha256"])
    (entry / "entry.json").write_text(json.dumps(doc))


def _state(d: Path) -> dict:
    return {str(p.relative_to(d)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(d.rglob("*"))}


def test_hostile_cache_users_folder_survives_and_bad_entries_are_measured_again(tmp_path):
    mine = baseline_cache.cache_dir() / "baselines" / "my-models"
    mine.mkdir(parents=True)
    with open(mine / "weights.bin", "wb") as fh:  # 600 MB (sparse): more than the whole cache's bound
        fh.truncate(600 * 2**20)
    (mine / "notes.txt").write_text("mine")
    before = _state(mine)

    fresh, warned = _run(tmp_path, "a")
    assert warned == [] and _state(mine) == before
    truth = {k: fresh["baseline"][k] for k in PLANTED}

    entry = _baseline_entry()
    _plant(entry, {**json.loads((entry / "entry.json").read_text())["figures"], **PLANTED}, rehash=False)
    report, warned = _run(tmp_path, "b")  # edited figures: the content hash no longer matches
    assert len(warned) == 1 and str(entry) in warned[0] and "content_sha256" in warned[0], warned
    assert report["baseline"]["cached"] is False
    assert {k: report["baseline"][k] for k in ("tflite_bytes", "compressed_bytes")} == \
        {k: truth[k] for k in ("tflite_bytes", "compressed_bytes")}

    _plant(_baseline_entry(), {}, rehash=True)  # empty figures (exit 1, KeyError, before)
    report, warned = _run(tmp_path, "c")
    assert len(warned) == 1 and "its figures lack quantization" in warned[0], warned
    assert report["baseline"]["cached"] is False and report["baseline"]["tflite_bytes"] == truth["tflite_bytes"]

    entry = _baseline_entry()
    _plant(entry, {**json.loads((entry / "entry.json").read_text())["figures"], **PLANTED}, rehash=True)
    os.chmod(entry / "entry.json", 0o666)  # anyone could have written it
    planted = (entry / "entry.json").read_bytes()
    report, warned = _run(tmp_path, "d")
    assert len(warned) == 1 and f"{entry / 'entry.json'} is writable by other users" in warned[0], warned
    assert report["baseline"]["cached"] is False and report["baseline"]["tflite_bytes"] == truth["tflite_bytes"]
    assert report["baseline"]["accuracy"] != PLANTED["accuracy"]
    assert (entry / "entry.json").read_bytes() == planted  # another user's file: left as it is
    assert _state(mine) == before


@pytest.fixture(scope="module")
def dynamic_model(tmp_path_factory):
    from optimize_cli.tf import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((None, None, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(10, activation="softmax")(x))
    path = tmp_path_factory.mktemp("dynamic") / "dynamic.h5"
    model.save(path)
    return path


def test_hostile_dynamic_spatial_input_is_measured_on_the_samples_shape(tmp_path, dynamic_model):
    doc = {**ptq_recipe("dynamic", eval_samples=40), "model": str(dynamic_model)}
    res = cli("run", write_recipe(tmp_path, doc), "--output", tmp_path / "out")
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["result"]["accuracy"] is not None and report["baseline"]["latency_ms"] > 0


def test_hostile_fifo_named_like_an_image_is_refused_without_blocking(tmp_path):
    with np.load(DATA) as f:
        x = f["x_test"][:4]
    from PIL import Image

    for c in ("zero", "one"):
        (tmp_path / "imgs" / c).mkdir(parents=True)
        for i, a in enumerate(x[:2]):
            Image.fromarray((a[..., 0] * 255).astype(np.uint8)).save(tmp_path / "imgs" / c / f"{i}.png")
    fifo = tmp_path / "imgs" / "one" / "2.png"
    os.mkfifo(fifo)
    doc = {**ptq_recipe("fifo"), "data": {"eval": {"type": "image_dir", "path": str(tmp_path / "imgs"),
                                                   "image_size": [8, 8], "color_mode": "grayscale"}}}
    proc = subprocess.run([sys.executable, "-m", "optimize_cli", "run", str(write_recipe(tmp_path, doc)), "--output",
                           str(tmp_path / "out"), "--quiet"], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"})
    assert proc.returncode == 3, proc.stderr
    recipe = tmp_path / "recipe.yaml"  # the key's file:line, as recipe errors have it
    assert proc.stderr.splitlines() == [f"error: {recipe}:5: data.eval: cannot read image {fifo}: is a FIFO, not a "
                                        "regular file"]
