"""Every built-in recipe runs end to end on the sample models, and the report agrees with independent
measurements of the `.tflite` it wrote (zip size, interpreter accuracy, sparsity, clusters, dtypes)."""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from optimize_cli.cli import main

ROOT = Path(__file__).resolve().parents[2]
#: the plain built-in recipes (search-*.yaml run in tests/search/test_search_builtin.py)
RECIPES = sorted(p.stem for p in (ROOT / "recipes").glob("*.yaml") if not p.stem.startswith("search-"))
DATA = ROOT / "sample_models" / "digits.npz"
ACCURACY_FLOOR = 0.90  # the float model has 0.98 on the 540 test digits; short fine-tunes stay above 0.90
# tiny epoch counts: the suite checks what each path does, not how good its defaults are
SHORT = {"filter_prune": 2, "prune": 2, "cluster": 1, "qat": 1}

pytestmark = pytest.mark.slow


def run_cli(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def short_sets(recipe: Path) -> list[str]:
    doc = yaml.safe_load(recipe.read_text())
    sets = []
    for i, st in enumerate(doc.get("stages") or []):
        t = st if isinstance(st, str) else st["type"]
        sets += ["--set", f"stages.{i}.epochs={SHORT[t]}"]
    return sets


def interpreter(path: Path):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    return it


def loop_accuracy(path: Path, x: np.ndarray, y: np.ndarray) -> float:
    """The tfmot tutorials' one-sample-at-a-time loop, written independently of optimize_cli.measure."""
    it = interpreter(path)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    correct = 0
    for xi, yi in zip(x, y, strict=True):
        xi = xi[None].astype(np.float32)
        if inp["dtype"] != np.float32:
            scale, zp = inp["quantization"]
            info = np.iinfo(inp["dtype"])
            xi = np.clip(np.round(xi / scale + zp), info.min, info.max).astype(inp["dtype"])
        it.set_tensor(inp["index"], xi)
        it.invoke()
        correct += int(np.argmax(it.get_tensor(out["index"])[0]) == yi)
    return correct / len(y)


def weight_tensors(path: Path, layer: str):
    """(values, zero points, quantized_dimension) of the constant weight tensors whose name mentions `layer`."""
    it = interpreter(path)
    out = []
    for d in it.get_tensor_details():
        if layer not in d["name"] or len(d["shape"]) < 2 or "bias" in d["name"].lower():
            continue
        try:
            v = it.get_tensor(d["index"])
        except ValueError:
            continue
        if v.size < 64 or not np.issubdtype(v.dtype, np.number):
            continue
        q = d["quantization_parameters"]
        out.append((v, q["zero_points"], q["quantized_dimension"], d["dtype"]))
    return out


@pytest.fixture(scope="module")
def digits():
    with np.load(DATA) as f:
        return f["x_test"], f["y_test"]


@pytest.mark.parametrize("name", RECIPES)
def test_run_builtin_recipe_produces_measured_tflite(name, tmp_path, digits):
    recipe = ROOT / "recipes" / f"{name}.yaml"
    out = tmp_path / "out"
    # export.slim=false: the facts below are read from the weight tensors by their names, which slimming
    # removes (tests/run/test_run_deployable.py checks slimmed files against these)
    res = run_cli("run", str(recipe), "--output", str(out), "--quiet", "--json", *short_sets(recipe),
                  "--set", "gates={}", "--set", "export.slim=false")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["passed"] is True
    for f in ("model.tflite", "report.json", "report.md", "report.html", "recipe.resolved.yaml"):
        assert (out / f).is_file(), f
    assert not (tmp_path / ".out.partial").exists()
    rep = json.loads((out / "report.json").read_text())
    from optimize_cli.report import validate_report

    validate_report(rep)
    doc = yaml.safe_load(recipe.read_text())
    stages = [s if isinstance(s, str) else s["type"] for s in doc.get("stages") or []]
    assert [s["type"] for s in rep["stages"]] == stages
    resolved = yaml.safe_load((out / "recipe.resolved.yaml").read_text())
    assert [s["learning_rate"] for s in rep["stages"]] == [s["learning_rate"] for s in resolved["stages"]]
    assert sorted(p.name for p in (out / "stages").iterdir() if p.is_dir()) == [
        f"{i:02d}_{t}" for i, t in enumerate(stages, start=1)]

    # sizes: recomputed from the file, ZIP_DEFLATED like the tfmot tutorials
    tfl = out / "model.tflite"
    assert rep["result"]["tflite_bytes"] == tfl.stat().st_size
    zpath = tmp_path / "m.zip"
    with zipfile.ZipFile(zpath, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.write(tfl, arcname="model.tflite")
    assert rep["result"]["compressed_bytes"] == zpath.stat().st_size
    assert rep["result"]["compression_ratio"] == pytest.approx(
        rep["baseline"]["compressed_bytes"] / rep["result"]["compressed_bytes"])

    # accuracy: recomputed with an independent per-sample interpreter loop over the whole eval set
    x, y = digits
    acc = loop_accuracy(tfl, x, y)
    assert rep["result"]["accuracy"] == pytest.approx(acc, abs=1e-9)
    assert acc >= ACCURACY_FLOOR
    assert rep["metric"] == {"name": "accuracy", "higher_is_better": True, "eval_samples": len(y)}

    # the path's facts, read from the .tflite weight tensors
    q = doc["export"]["quantization"]
    it = interpreter(tfl)
    in_dtype = it.get_input_details()[0]["dtype"]
    assert in_dtype == {"int8": np.int8, "int16x8": np.int16}.get(q, np.float32)
    dense = weight_tensors(tfl, "dense1")
    assert dense, "dense1 kernel not found in the .tflite"
    want_dtype = {"none": np.float32, "float16": np.float16, "dynamic": np.int8, "int8": np.int8,
                  "int16x8": np.int8}[q]
    assert any(d == want_dtype for *_, d in dense), [d for *_, d in dense]
    for v, zp, _qdim, _ in dense:
        assert not np.any(zp), "weights are quantized symmetrically: zero is 0"
        if "prune" in stages:
            target = next(s for s in doc["stages"] if s["type"] == "prune")["target_sparsity"]
            sparsity = float(np.mean(v == 0))
            assert sparsity >= target - 0.02, f"{name}: dense1 sparsity {sparsity:.3f} < {target}"
        if "cluster" in stages:
            k = next(s for s in doc["stages"] if s["type"] == "cluster")["clusters"]
            per_channel = [len(np.unique(v[c])) for c in range(v.shape[0])]  # TFLite FC weights: (out, in)
            assert max(per_channel) <= k, f"{name}: {max(per_channel)} values in a channel > {k} clusters"

    if "cluster" in stages:  # every stage from cluster on keeps at most `clusters` values per channel
        k = next(s for s in doc["stages"] if s["type"] == "cluster")["clusters"]
        assert all(st["max_unique_weights"] <= k for st in rep["stages"][stages.index("cluster"):]), rep["stages"]
    rep_layers = {lay["name"]: lay for lay in rep["result"]["layers"]}
    assert "dense1" in rep_layers
    assert all(c["passed"] for c in rep["checks"]), rep["checks"]


def test_run_refuses_existing_output_without_force(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    res = CliRunner().invoke(main, ["run", str(ROOT / "recipes" / "ptq-dynamic.yaml"), "--output", str(out)])
    assert res.exit_code == 2
    # a folder no run wrote: not "from an earlier run", and --force is not offered (it would be refused)
    assert "already exists and is not an optimize-cli output directory" in res.stderr
    assert "from an earlier run" not in res.stderr and "use --force" not in res.stderr
    assert (out / "keep.txt").read_text() == "mine"
    assert not os.path.exists(tmp_path / ".out.partial")


EXAMPLES = sorted((ROOT / "recipes" / "examples").glob("*.yaml"))


@pytest.mark.parametrize("recipe", EXAMPLES, ids=lambda p: p.stem)
def test_run_example_recipe_end_to_end(recipe, tmp_path):
    """image_dir + binary, tfrecord + regression, multi-output npz: each runs and reports its metric."""
    out = tmp_path / "out"
    res = run_cli("run", str(recipe), "--output", str(out), "--quiet", "--json", *short_sets(recipe))
    assert res.exit_code == 0, res.output
    rep = json.loads((out / "report.json").read_text())
    doc = yaml.safe_load(recipe.read_text())
    assert rep["metric"]["name"] == doc["evaluation"]["metric"]
    assert rep["result"]["accuracy"] is not None and rep["baseline"]["accuracy"] is not None
    if rep["metric"]["name"] == "mae":
        assert rep["metric"]["higher_is_better"] is False
        assert rep["result"]["accuracy_drop"] == pytest.approx(rep["result"]["accuracy"] - rep["baseline"]["accuracy"])
    else:
        assert rep["result"]["accuracy"] >= 0.85


def test_run_python_data_source_needs_allow_code_then_runs(tmp_path, digits):
    """A `python` source (module:function returning a tf.data.Dataset) runs only with --allow-code."""
    (tmp_path / "mydata.py").write_text(
        "import numpy as np\n"
        "def load(split):\n"
        "    import tensorflow as tf\n"
        f"    f = np.load({str(DATA)!r})\n"
        "    return tf.data.Dataset.from_tensor_slices((f['x_' + split], f['y_' + split]))\n"
    )
    recipe = tmp_path / "py.yaml"
    recipe.write_text(
        "version: 1\n"
        f"model: {ROOT / 'sample_models' / 'digits_cnn'}\n"
        "data:\n"
        "  train: {type: python, function: 'mydata:load', path: ., kwargs: {split: train}}\n"
        "  eval: {type: python, function: 'mydata:load', path: ., kwargs: {split: test}}\n"
        "stages: []\n"
        "export: {quantization: int8}\n"
    )
    res = CliRunner().invoke(main, ["run", str(recipe), "--output", str(tmp_path / "a"), "--quiet"])
    assert res.exit_code == 2 and "--allow-code" in res.stderr
    assert not (tmp_path / "a").exists()
    res = run_cli("run", str(recipe), "--output", str(tmp_path / "b"), "--quiet", "--json", "--allow-code")
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "b" / "report.json").read_text())
    x, y = digits
    assert rep["metric"]["eval_samples"] == len(y)
    assert rep["result"]["accuracy"] == pytest.approx(loop_accuracy(tmp_path / "b" / "model.tflite", x, y), abs=1e-9)


def test_run_impossible_gate_exits_5_with_everything_written(tmp_path, monkeypatch):
    """A missed gate is exit 5, yet the result, the full report and the CI summary are all written."""
    summary = tmp_path / "step_summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = tmp_path / "out"
    res = CliRunner().invoke(main, [
        "run", str(ROOT / "recipes" / "ptq-dynamic.yaml"), "--output", str(out), "--quiet",
        "--set", "gates.max_compressed_bytes=1000", "--set", "gates.min_compression_ratio=1.5",
    ])
    assert res.exit_code == 5, res.output
    assert "gate missed: max_compressed_bytes (limit 1,000 B, got " in res.stderr  # formatted, not raw
    rep = json.loads((out / "report.json").read_text())
    from optimize_cli.report import validate_report

    validate_report(rep)
    assert rep["passed"] is False
    gates = {g["name"]: g for g in rep["gates"]}
    size = (out / "model.tflite").stat().st_size
    assert gates["max_compressed_bytes"]["limit"] == 1000
    assert gates["max_compressed_bytes"]["value"] == rep["result"]["compressed_bytes"] > 1000
    assert gates["max_compressed_bytes"]["passed"] is False
    # dynamic-range int8 weights: the zip is well over 1.5x smaller than the float32 baseline's
    assert gates["min_compression_ratio"]["value"] == pytest.approx(rep["result"]["compression_ratio"])
    assert gates["min_compression_ratio"]["passed"] is True
    assert rep["result"]["tflite_bytes"] == size
    md = (out / "report.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| max_compressed_bytes"))
    assert "FAIL" in row and f"{rep['result']['compressed_bytes']:,}" in row
    for f in ("report.html", "recipe.resolved.yaml"):
        assert (out / f).is_file()
    text = summary.read_text()
    assert text.startswith("# earlier step\n") and "max_compressed_bytes" in text


def test_run_says_what_it_loads_on_stderr_and_json_stdout_stays_clean(tmp_path):
    """The seconds after the header are not silent: one line per step in a log (stderr); --json's stdout
    is the summary alone, with its exit_code."""
    res = CliRunner().invoke(main, ["run", str(ROOT / "recipes" / "ptq-dynamic.yaml"), "--output",
                                    str(tmp_path / "out"), "--json", "--set", "gates={}"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["exit_code"] == 0 and summary["passed"] is True
    steps = [line.split("] ", 1)[-1] for line in res.stderr.splitlines()]
    header = next(i for i, line in enumerate(steps) if line.startswith("optimize-cli "))
    assert steps[header + 1: header + 4] == ["loading TensorFlow…", "loading the model…", "loading the data…"]
