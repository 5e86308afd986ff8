"""search.sensitivity: the kernel operations of the pre-pass, the per-layer sparsities derived from one
global level (fragile layers dense, the weighted mean kept), and a search that runs the pass in its own
subprocess, writes sensitivity.json / search.json["sensitivity"] and gives its trial prune.layer_sparsity
that reaches the .tflite."""
from __future__ import annotations

import json

import numpy as np
import pytest
from search_helpers import HEAD, SAMPLE, search_subprocess

from optimize_cli.errors import StageError
from optimize_cli.search.sensitivity import cluster_alone, prune_alone
from optimize_cli.search.shape import LOG_FILE, Shaper, fragile, layer_plan, run_pass

DOC = {"metric": "accuracy", "baseline": 0.9, "gate": 0.03, "layers": [
    {"name": "robust", "params": 3000, "prune": {"0.5": 0.0, "0.7": 0.0, "0.8": 0.01, "0.9": 0.02}, "cluster": {}},
    {"name": "touchy", "params": 1000, "prune": {"0.5": 0.01, "0.7": 0.05, "0.8": 0.2, "0.9": 0.4}, "cluster": {}},
    {"name": "fragile", "params": 100, "prune": {"0.5": 0.1, "0.7": 0.3, "0.8": 0.5, "0.9": 0.6}, "cluster": {}},
]}


def test_sensitivity_prune_alone_zeroes_the_smallest_magnitudes():
    w = np.array([[0.1, -0.5], [0.05, 2.0], [-0.01, 0.3]], np.float32)
    out = prune_alone(w, 0.5)
    assert (out == 0).tolist() == [[True, False], [True, False], [True, False]]
    assert out[out != 0].tolist() == w[[0, 1, 2], [1, 1, 1]].tolist()


def test_sensitivity_cluster_alone_leaves_at_most_k_values():
    w = np.random.default_rng(0).normal(size=(8, 16)).astype(np.float32)
    out = cluster_alone(w, 4)
    assert out.shape == w.shape and len(np.unique(out)) <= 4
    assert np.abs(out - w).mean() < np.abs(w - w.mean()).mean()  # closer than one value for all


@pytest.mark.parametrize("level", [0.3, 0.6, 0.8])
def test_sensitivity_plan_keeps_the_weighted_mean_and_leaves_fragile_dense(level):
    plan = layer_plan(DOC, level)
    params = {e["name"]: e["params"] for e in DOC["layers"]}
    assert fragile(DOC) == ["fragile"] and plan["fragile"] == 0.0
    assert plan["robust"] > plan["touchy"]
    assert sum(params[n] * s for n, s in plan.items()) / sum(params.values()) == pytest.approx(level, abs=0.002)


def test_sensitivity_fragile_is_an_outlier_above_the_gate():
    # every layer loses more than the gate at 0.5 (as a real model's do without fine-tuning): none is fragile
    doc = {"gate": 0.01, "layers": [{"name": n, "params": 10, "prune": {"0.5": d}} for n, d in
                                    (("a", 0.03), ("b", 0.1), ("c", 0.05))]}
    assert fragile(doc) == []
    doc["layers"].append({"name": "d", "params": 10, "prune": {"0.5": 0.4}})  # ≥ 4× the median (0.075)
    assert fragile(doc) == ["d"]


def test_sensitivity_plan_caps_at_the_highest_tested_level():
    plan = layer_plan(DOC, 0.95)
    assert plan == {"robust": 0.9, "touchy": 0.9, "fragile": 0.0}


def test_sensitivity_shaper_sets_layer_sparsity_unless_the_stage_sets_its_own():
    raw = {"stages": [{"type": "prune", "target_sparsity": 0.6}, {"type": "cluster"},
                      {"type": "prune", "layer_sparsity": {"x": 0.5}}]}
    out = Shaper(DOC)(raw)
    assert out["stages"][0]["layer_sparsity"] == layer_plan(DOC, 0.6)
    assert out["stages"][2]["layer_sparsity"] == {"x": 0.5} and "layer_sparsity" not in out["stages"][1]


def _no_model(tmp_path) -> str:
    return f"""version: 1
name: s
model: {tmp_path / 'missing_model'}
data:
  eval: {{type: npz, path: {SAMPLE / 'digits.npz'}, x: x_test, y: y_test}}
export: {{quantization: int8}}
"""


def test_sensitivity_command_maps_its_errors_like_every_command(tmp_path):
    from click.testing import CliRunner

    from optimize_cli.cli import main

    (tmp_path / "s.yaml").write_text(_no_model(tmp_path), encoding="utf-8")
    res = CliRunner().invoke(main, ["search-sensitivity", str(tmp_path / "s.yaml"), str(tmp_path / "o.json"), "--json"])
    assert res.exit_code == 2
    doc = json.loads(res.stdout)
    assert doc["exit_code"] == 2 and "missing_model" in doc["error"] and not (tmp_path / "o.json").exists()


def test_sensitivity_pass_that_fails_is_a_stage_error_with_the_commands_line(tmp_path):
    with pytest.raises(StageError) as e:
        run_pass(_no_model(tmp_path), tmp_path / "out", lambda line: None)
    assert f"model: path does not exist: {tmp_path / 'missing_model'}" in str(e.value)
    assert str(e.value).endswith(f"(search.sensitivity; log: {tmp_path / 'out' / LOG_FILE})")


RECIPE = HEAD.replace("y: y_train}", "y: y_train, stop: 512}") + """stages:
  - {type: prune, target_sparsity: {search: [0.6, 0.8]}, epochs: 1}
export: {quantization: int8}
evaluation: {latency_runs: 2, latency_warmup: 0}
gates: {max_accuracy_drop: 0.03}
search: {trials: 1, sampler: random, sensitivity: true}
"""


@pytest.mark.slow
def test_sensitivity_search_writes_the_pass_and_shapes_the_trial(tmp_path):
    from optimize_cli.measure import tflite_weight_stats

    res, out = search_subprocess(tmp_path, RECIPE)
    assert res.returncode in (0, 5), res.stderr
    sens = json.loads((out / "sensitivity.json").read_text())
    assert set(sens) >= {"metric", "baseline", "layers"} and sens["metric"] == "accuracy"
    names = [e["name"] for e in sens["layers"]]
    assert names == ["conv1", "conv2", "dense1", "logits"]  # the sample model's Conv2D/Dense layers
    assert set(sens["layers"][0]["prune"]) == {"0.5", "0.7", "0.8", "0.9", "0.95"}
    assert set(sens["layers"][0]["cluster"]) == {"4", "8", "16"}
    assert json.loads((out / "search.json").read_text())["sensitivity"] == sens
    import yaml

    trial = yaml.safe_load((out / "trials" / "0000.yaml").read_text())
    level = trial["stages"][0]["target_sparsity"]
    plan = trial["stages"][0]["layer_sparsity"]
    assert plan == layer_plan(sens, level)
    # per layer, as measured in the converted .tflite's weight buffers before slimming empties the names
    # (model.tflite itself is slimmed: the same buffers, so the same overall sparsity, checked below)
    report = json.loads((out / "trials" / "0000" / "report.json").read_text())
    got = {lay["name"]: lay["sparsity"] for lay in report["result"]["layers"] if lay["name"] in plan}
    tfl = (out / "trials" / "0000" / "model.tflite").read_bytes()
    zeros = sum(s["params"] * s["sparsity"] for s in tflite_weight_stats(tfl) if s.get("role", "weight") == "weight")
    assert zeros == pytest.approx(sum(lay["params"] * lay["sparsity"] for lay in report["result"]["layers"]), rel=1e-6)
    for name, want in plan.items():
        assert want - 0.02 <= got[name] <= want + 0.1 if want else got[name] < 0.1, (name, want, got[name])
