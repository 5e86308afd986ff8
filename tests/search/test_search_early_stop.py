"""search.early_stop: the setting (margin past gates.max_accuracy_drop, false = off), and a search whose
trial must miss the gate (98% sparsity after one epoch) stopped after its first stage and recorded as
Optuna PRUNED with its one-line reason, the study still written (exit 5: no trial met the gates)."""
from __future__ import annotations

import json

import pytest
from search_helpers import HEAD, search_subprocess

from optimize_cli.errors import RecipeError
from optimize_cli.recipe.space import parse_space
from optimize_cli.search.objective import stop_limit

SPACE = {"export": {"quantization": {"search": {"choices": ["dynamic", "int8"]}}}}


def test_early_stop_setting_default_margin_and_off_switch():
    assert parse_space("r", {**SPACE, "search": {}}).config.early_stop == 0.05
    assert parse_space("r", {**SPACE, "search": {"early_stop": False}}).config.early_stop is None
    assert parse_space("r", {**SPACE, "search": {"early_stop": 0.1}}).config.early_stop == 0.1
    with pytest.raises(RecipeError, match="search.early_stop: .*give the margin"):
        parse_space("r", {**SPACE, "search": {"early_stop": True}})


def test_early_stop_limit_is_the_gate_plus_the_margin():
    from optimize_cli.recipe.model import GatesConfig

    assert stop_limit(type("R", (), {"gates": GatesConfig(max_accuracy_drop=0.01)}), 0.05) == pytest.approx(0.06)
    assert stop_limit(type("R", (), {"gates": GatesConfig()}), 0.05) is None
    assert stop_limit(type("R", (), {"gates": GatesConfig(max_accuracy_drop=0.01)}), None) is None


RECIPE = HEAD.replace("y: y_train}", "y: y_train, stop: 64}").replace("y: y_test}", "y: y_test, stop: 200}") + """
stages:
  - {type: prune, target_sparsity: 0.98, schedule: constant, epochs: 1}
  - {type: cluster, clusters: 4, epochs: 1}
export: {quantization: {search: {choices: [dynamic]}}}
evaluation: {latency_runs: 2, latency_warmup: 0}
gates: {max_accuracy_drop: 0.01}
search: {trials: 1, sampler: grid}
"""


@pytest.mark.slow
def test_early_stop_search_marks_a_hopeless_trial_pruned(tmp_path):
    import optuna

    res, out = search_subprocess(tmp_path, RECIPE)
    assert res.returncode == 5, res.stderr
    trial = json.loads((out / "search.json").read_text())["trials"][0]
    assert trial["state"] == "pruned" and trial["exit_code"] == 6
    assert trial["reason"].startswith("stopped early after stage 1 (prune): keras accuracy")
    assert "early-stop limit 0.0600" in trial["reason"]
    assert "trial 0000 pruned" in res.stderr
    study = optuna.load_study(study_name="sq", storage=f"sqlite:///{out / 'study.db'}")
    assert [t.state.name for t in study.trials] == ["PRUNED"]
    assert json.loads((out / "trials" / ".0000.partial" / "early_stop.json").read_text())["drop"] > 0.06
