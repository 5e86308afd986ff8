"""Trials in a long-lived trial process (search/trial_worker.py): TensorFlow imported once, trials one
after another, each still a normal run into DIR/trials/NNNN/; recycled after --recycle-after trials, and
a process that dies costs its trial only."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from search_helpers import HEAD, search_subprocess

pytestmark = pytest.mark.slow

RECIPE = HEAD + """export: {quantization: {search: {choices: [dynamic, float16, int8]}}}
evaluation: {latency_runs: 2, latency_warmup: 1}
search: {trials: 3, sampler: grid, objectives: [compressed_bytes]}
"""


def pid_of(out, number: int):
    m = re.search(r"^trial process (\d+): its trial (\d+)$", (out / "trials" / f"{number:04d}.log").read_text(),
                  re.M)
    return (int(m.group(1)), int(m.group(2))) if m else None


def test_trial_worker_runs_trials_in_one_process_and_recycles_it(tmp_path):
    """About 25 s."""
    res, out = search_subprocess(tmp_path, RECIPE, "--recycle-after", "2")
    assert res.returncode == 0, res.stderr
    doc = json.loads((out / "search.json").read_text())
    assert [t["state"] for t in doc["trials"]] == ["complete"] * 3
    (p0, k0), (p1, k1), (p2, k2) = (pid_of(out, n) for n in range(3))
    assert p0 == p1 and (k0, k1) == (1, 2)  # the second trial reused the first one's process
    assert p2 != p0 and k2 == 1  # recycled after 2 trials
    for n in range(3):
        assert (out / "trials" / f"{n:04d}" / "report.json").is_file()


def test_trial_worker_that_dies_costs_its_trial_only(tmp_path):
    """SIGKILL to the trial process during trial 0: that trial fails (its reason says so), trial 1 runs
    in a fresh process, the search ends normally. About 25 s."""
    (tmp_path / "s.yaml").write_text(RECIPE, encoding="utf-8")
    out = tmp_path / "out"
    p = subprocess.Popen([sys.executable, "-m", "optimize_cli", "search", str(tmp_path / "s.yaml"), "--output",
                          str(out), "--trials", "2", "--quiet"], env=os.environ.copy(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + 180
    while time.monotonic() < end:
        log = out / "trials" / "0000.log"
        if log.is_file() and pid_of(out, 0):
            break
        time.sleep(0.1)
    else:
        raise AssertionError("trial 0 never started")
    os.kill(pid_of(out, 0)[0], signal.SIGKILL)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    doc = json.loads((out / "search.json").read_text())
    first, second = doc["trials"]
    assert first["state"] == "fail" and "killed (signal 9)" in first["reason"]
    assert second["state"] == "complete" and pid_of(out, 1)[0] != pid_of(out, 0)[0]
