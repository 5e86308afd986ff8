"""The baselines are measured once per study: the first trial converts and measures the float32 and int8
PTQ baselines, the next ones take them from the baseline cache (their report.json says so) — also when
two workers start their trials at once (the second waits for the first's entry). One search of two short
trials in subprocesses (~15 s on 2 cores): what the claim is about is the subprocesses sharing the cache."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from search_helpers import SAMPLE

from optimize_cli.search.objective import trial_command
from optimize_cli.search.study import SearchOptions, trial_cache

RECIPE = f"""version: 1
name: sc
model: {SAMPLE / 'digits_cnn'}
data:
  train: {{type: npz, path: {SAMPLE / 'digits.npz'}, x: x_train, y: y_train, stop: 128}}
  eval:  {{type: npz, path: {SAMPLE / 'digits.npz'}, x: x_test,  y: y_test, stop: 100}}
stages:
  - {{type: prune, target_sparsity: {{search: {{choices: [0.3, 0.5]}}}}, epochs: 1}}
export: {{quantization: int8}}
evaluation: {{latency_runs: 2, latency_warmup: 0}}
search: {{trials: 2, sampler: grid, objectives: [compressed_bytes]}}
"""


@pytest.mark.slow
def test_two_trial_search_measures_the_baselines_once(tmp_path):
    (tmp_path / "sc.yaml").write_text(RECIPE, encoding="utf-8")
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "optimize_cli", "search", str(tmp_path / "sc.yaml"), "--output",
                          str(out), "--workers", "2", "--quiet"], capture_output=True, text=True, env=os.environ.copy())
    assert res.returncode == 0, res.stderr
    reports = [json.loads((out / "trials" / n / "report.json").read_text()) for n in ("0000", "0001")]
    user_cache = Path(os.environ["OPTIMIZE_CLI_CACHE_DIR"])  # the user's cache (conftest: a tmp folder)
    for key in ("baseline", "ptq_baseline"):
        measured, reused = sorted((r[key] for r in reports), key=lambda b: b["cached"])
        assert measured["cached"] is False and reused["cached"] is True, key
        assert Path(reused["cached_from"]).parent == user_cache / "baselines"
        assert reused["compressed_bytes"] == measured["compressed_bytes"]
    assert reports[0]["stages"][0]["sparsity"] != reports[1]["stages"][0]["sparsity"]  # two different trials


def test_search_no_cache_gives_the_trials_a_cache_of_the_study(tmp_path):
    assert trial_cache(SearchOptions(output=tmp_path)) is None  # the trial's default: the user's cache
    own = trial_cache(SearchOptions(output=tmp_path / "out", no_cache=True))
    assert own == (tmp_path / "out" / "cache").resolve()
    cmd = trial_command(tmp_path / "t.yaml", tmp_path / "t", early_stop=0.06, cache_dir=own)
    assert cmd[cmd.index("--cache-dir") + 1] == str(own) and cmd[cmd.index("--early-stop-drop") + 1] == "0.06"
    assert "--cache-dir" not in trial_command(tmp_path / "t.yaml", tmp_path / "t")
