"""`optimize-cli search` end to end: trials in subprocesses, outputs, best.yaml reproduces, gates, resume."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from search_helpers import HEAD

RECIPE = HEAD + """export: {quantization: {search: {choices: [dynamic, float16, int8]}}}
evaluation: {latency_runs: 3, latency_warmup: 1}
gates: {GATE}
search: {trials: 3, sampler: grid, objectives: [compressed_bytes]}
"""

pytestmark = pytest.mark.slow


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "optimize_cli", *args], capture_output=True, text=True,
                          env=os.environ.copy(), cwd=cwd)


def recipe(tmp_path: Path, gate: str) -> Path:
    p = tmp_path / "sq.yaml"
    p.write_text(RECIPE.replace("{GATE}", "{" + gate + "}"), encoding="utf-8")
    return p


def test_search_three_trials_writes_outputs_and_best_reproduces(tmp_path):
    out = tmp_path / "out"
    res = cli("search", str(recipe(tmp_path, "max_accuracy_drop: 0.05")), "--output", str(out), "--workers", "2",
              "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads((out / "search.json").read_text())
    assert len(doc["trials"]) == 3 and all(t["state"] == "complete" for t in doc["trials"])
    assert sorted(t["params"]["export.quantization"] for t in doc["trials"]) == ["dynamic", "float16", "int8"]
    assert len([ln for ln in res.stderr.splitlines() if ln.startswith("trial ")]) == 3
    best = doc["recommended"]
    assert best is not None and json.loads(res.stdout)["recommended"] == best
    rec = doc["trials"][[t["number"] for t in doc["trials"]].index(best)]
    passing = [t["values"]["compressed_bytes"] for t in doc["trials"] if t["passed"]]
    assert rec["values"]["compressed_bytes"] == min(passing)
    for name in ("search.md", "search.html", "best.yaml", "model.tflite", "report.json", "pareto/00.yaml"):
        assert (out / name).is_file(), name
    assert (out / "trials" / f"{best:04d}" / "report.json").is_file()
    again = cli("run", str(out / "best.yaml"), "--output", str(tmp_path / "again"), "--quiet", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    size, want = (tmp_path / "again" / "model.tflite").stat().st_size, (out / "model.tflite").stat().st_size
    assert abs(size - want) <= 0.01 * want


def test_search_gate_nobody_meets_exits_5_and_resume_stays_within_trials(tmp_path):
    out = tmp_path / "out"
    path = recipe(tmp_path, "max_compressed_bytes: 1")
    res = cli("search", str(path), "--output", str(out), "--trials", "1", "--quiet")
    assert res.returncode == 5, res.stderr
    doc = json.loads((out / "search.json").read_text())
    assert doc["recommended"] is None and len(doc["trials"]) == 1 and not (out / "best.yaml").exists()
    assert (out / "search.md").is_file() and (out / "pareto" / "00.yaml").is_file()
    refused = cli("search", str(path), "--output", str(out), "--trials", "2", "--quiet")
    assert refused.returncode == 2 and "--resume" in refused.stderr
    # an interrupted worker left a trial running: --resume fails it, does not count it, and stops at 2
    import optuna

    study = optuna.load_study(study_name="sq", storage=f"sqlite:///{out / 'study.db'}")
    study.ask()
    res = cli("search", str(path), "--output", str(out), "--trials", "2", "--resume", "--quiet")
    assert res.returncode == 5, res.stderr
    doc = json.loads((out / "search.json").read_text())
    states = [t["state"] for t in doc["trials"]]
    assert states.count("complete") == 2 and states.count("interrupted") == 1
    res = cli("search", str(path), "--output", str(out), "--trials", "2", "--resume", "--quiet")
    assert res.returncode == 5 and len(json.loads((out / "search.json").read_text())["trials"]) == 3
