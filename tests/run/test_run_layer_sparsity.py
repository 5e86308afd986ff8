"""prune.layer_sparsity in a run: a key that matches no layer of the model is a recipe error (exit 2)
naming it, found before the baselines are converted or any stage trains."""
from __future__ import annotations

from run_helpers import cli, ptq_recipe, write_recipe


def test_layer_sparsity_key_matching_no_layer_exits_2_before_any_work(tmp_path):
    doc = ptq_recipe("ls")
    doc["data"]["train"] = dict(doc["data"]["eval"], x="x_train", y="y_train")
    doc["stages"] = [{"type": "prune", "epochs": 1, "layer_sparsity": {"conv.*": 0.5, "nope": 0.7}}]
    res = cli("run", write_recipe(tmp_path, doc), "--output", tmp_path / "out")
    assert res.exit_code == 2, res.output
    assert "stages[0].layer_sparsity: 'nope' matches no layer of the model" in res.stderr
    assert "baseline" not in res.stderr and not (tmp_path / "out").exists()
