"""search.sampler in Optuna 5's idioms: grouped multivariate TPE, the gates as each trial's constraints
(trial.set_constraint, no deprecated constraints_func), gp naming what it needs."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import warnings

import optuna
import pytest
from search_helpers import HEAD

from optimize_cli.errors import RecipeError
from optimize_cli.recipe.space import parse_space
from optimize_cli.run.records import GateRecord
from optimize_cli.search.samplers import make_sampler
from optimize_cli.search.study import set_constraints

HAS_TORCH = importlib.util.find_spec("torch") is not None


def space(sampler: str):
    raw = {"stages": [{"type": "prune", "target_sparsity": {"search": [0.4, 0.8]}},
                      {"type": "cluster", "clusters": {"search": {"choices": [8, 16]}}, "optional": True}],
           "search": {"sampler": sampler}}
    return parse_space("s.yaml", raw)


@pytest.mark.parametrize("name", ["tpe", "tpe-independent", "nsga2", "random"])
def test_samplers_build_without_deprecation_warnings(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sampler = make_sampler(space(name), seed=3)
    assert sampler is not None


def test_samplers_tpe_is_multivariate_and_grouped():
    tpe = make_sampler(space("tpe"))
    assert isinstance(tpe, optuna.samplers.TPESampler) and tpe._multivariate and tpe._group
    assert not make_sampler(space("tpe-independent"))._multivariate


def test_samplers_gates_become_the_trials_own_constraints():
    study = optuna.create_study(directions=["minimize"], sampler=make_sampler(space("tpe")))
    gates = [GateRecord("max_accuracy_drop", 0.02, 0.05, False), GateRecord("min_compression_ratio", 3.0, 4.0, True)]
    for i in range(12):  # past TPE's startup trials: it then splits the trials by their constraints
        t = study.ask()
        x = t.suggest_float("x", 0, 1)
        set_constraints(t, gates if i % 2 else [])
        study.tell(t, x)
    first, second = study.trials[0], study.trials[1]
    assert first.constraints == {"gates": 0.0}
    assert second.constraints["max_accuracy_drop"] == pytest.approx(0.03) and second.constraints[
        "min_compression_ratio"] == 0.0
    assert study.ask().params == {}  # the sampler copes with them


@pytest.mark.skipif(HAS_TORCH, reason="torch is installed here: gp builds")
def test_samplers_gp_without_torch_is_a_recipe_error_naming_it(tmp_path):
    with pytest.raises(RecipeError, match="gp needs torch.*pip install torch"):
        make_sampler(space("gp"))
    (tmp_path / "s.yaml").write_text(HEAD + "stages: [{type: prune, target_sparsity: {search: [0.4, 0.8]}}]\n"
                                     "search: {sampler: gp, trials: 1}\n", encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "optimize_cli", "search", str(tmp_path / "s.yaml"), "--output",
                          str(tmp_path / "out")], capture_output=True, text=True, env=os.environ.copy())
    assert res.returncode == 2 and "pip install torch" in res.stderr, res.stderr
    assert not (tmp_path / "out").exists()
