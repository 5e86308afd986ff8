"""Early stopping of a search trial's run (run/early_stop.py): with OPTIMIZE_CLI_EARLY_STOP_DROP set, a
stage whose Keras accuracy is already past that drop stops the run (exit 6, one line, early_stop.json
beside the kept stages); --resume without the variable continues the run; unset, nothing changes."""
from __future__ import annotations

import json

from run_helpers import cli, ptq_recipe, write_recipe

from optimize_cli.run.early_stop import ENV, MARKER


def _recipe(tmp_path):
    doc = ptq_recipe("es", eval_samples=200)
    doc["data"]["train"] = dict(doc["data"]["eval"], x="x_train", y="y_train", stop=64)
    # 98% of every kernel zeroed after one epoch on 64 samples: the digits model falls near chance level
    doc["stages"] = [{"type": "prune", "target_sparsity": 0.98, "schedule": "constant", "epochs": 1},
                     {"type": "cluster", "clusters": 4, "epochs": 1}]
    return write_recipe(tmp_path, doc)


def test_early_stop_stops_after_a_hopeless_stage_and_resume_continues(tmp_path, monkeypatch):
    recipe, out = _recipe(tmp_path), tmp_path / "out"
    monkeypatch.setenv(ENV, "0.06")
    res = cli("run", recipe, "--output", out)
    assert res.exit_code == 6, res.output
    assert "stopped early after stage 1 (prune): keras accuracy" in res.stderr
    assert "early-stop limit 0.0600" in res.stderr and len(res.stderr.strip().splitlines()[-1]) > 0
    partial = tmp_path / ".out.partial"
    marker = json.loads((partial / MARKER).read_text())
    assert marker["stage"] == 1 and marker["drop"] > 0.06 and marker["limit"] == 0.06
    assert marker["drop"] == marker["baseline_accuracy"] - marker["keras_accuracy"]
    assert (partial / "stages" / "01_prune").is_dir() and not (partial / "stages" / "02_cluster").exists()
    assert not out.exists()
    monkeypatch.delenv(ENV)
    res = cli("run", recipe, "--output", out, "--resume")
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    assert [s["type"] for s in report["stages"]] == ["prune", "cluster"]
    assert report["stages"][0]["keras_accuracy"] == marker["keras_accuracy"]  # the kept stage, reused
    assert not (out / MARKER).exists()
