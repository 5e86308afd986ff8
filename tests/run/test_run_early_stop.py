"""Early stopping of a search trial's run (run/early_stop.py): with the hidden `run --early-stop-drop`, a
stage whose Keras accuracy is already past that drop stops the run (exit 6, one line, early_stop.json
beside the kept stages); --resume without the option continues the run; without it, nothing changes —
also when the environment holds the variable the limit used to travel in."""
from __future__ import annotations

import json

import pytest
from run_helpers import cli, ptq_recipe, write_recipe

from optimize_cli.run.early_stop import MARKER, OPTION


def _recipe(tmp_path):
    doc = ptq_recipe("es", eval_samples=200)
    doc["data"]["train"] = dict(doc["data"]["eval"], x="x_train", y="y_train", stop=64)
    # 98% of every kernel zeroed after one epoch on 64 samples: the digits model falls near chance level
    doc["stages"] = [{"type": "prune", "target_sparsity": 0.98, "schedule": "constant", "epochs": 1},
                     {"type": "cluster", "clusters": 4, "epochs": 1}]
    return write_recipe(tmp_path, doc)


@pytest.mark.slow
def test_early_stop_stops_after_a_hopeless_stage_and_resume_continues(tmp_path):
    recipe, out = _recipe(tmp_path), tmp_path / "out"
    res = cli("run", recipe, "--output", out, OPTION, "0.06")
    assert res.exit_code == 6, res.output
    assert "stopped early after stage 1 (prune): keras accuracy" in res.stderr
    assert "early-stop limit 0.0600" in res.stderr and len(res.stderr.strip().splitlines()[-1]) > 0
    partial = tmp_path / ".out.partial"
    marker = json.loads((partial / MARKER).read_text())
    assert marker["stage"] == 1 and marker["drop"] > 0.06 and marker["limit"] == 0.06
    assert marker["drop"] == marker["baseline_accuracy"] - marker["keras_accuracy"]
    assert (partial / "stages" / "01_prune").is_dir() and not (partial / "stages" / "02_cluster").exists()
    assert not out.exists()
    res = cli("run", recipe, "--output", out, "--resume")
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    assert [s["type"] for s in report["stages"]] == ["prune", "cluster"]
    assert report["stages"][0]["keras_accuracy"] == marker["keras_accuracy"]  # the kept stage, reused
    assert not (out / MARKER).exists()


def test_early_stop_environment_variable_is_no_hidden_parameter(tmp_path, monkeypatch):
    """A user who exports OPTIMIZE_CLI_EARLY_STOP_DROP gets a plain run: the limit is an option only."""
    recipe, out = _recipe(tmp_path), tmp_path / "out"
    monkeypatch.setenv("OPTIMIZE_CLI_EARLY_STOP_DROP", "0.06")
    res = cli("run", recipe, "--output", out, "--set", "stages.1.epochs=1")
    assert res.exit_code == 0, res.output
    assert not (out / MARKER).exists() and len(json.loads((out / "report.json").read_text())["stages"]) == 2


def test_early_stop_and_cache_dir_are_hidden_run_options():
    from click.testing import CliRunner

    from optimize_cli.cli import main

    text = CliRunner().invoke(main, ["run", "--help"]).output
    assert "--no-cache" in text and OPTION not in text and "--cache-dir" not in text
