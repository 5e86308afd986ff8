"""`search --resume`: each session's sampler has a seed of its own (no session re-draws another's
trials), and a trial an interruption stopped is retried once, on purpose, labelled `retry_of`."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import optuna
import pytest
from search_helpers import HEAD

from optimize_cli.search.session import enqueue_retries, owed_retries, session_seed

RECIPE = HEAD + """training: {learning_rate: {search: [1.0e-4, 1.0e-2], log: true}}
export: {quantization: {search: {choices: [dynamic, float16]}}}
evaluation: {latency_runs: 2, latency_warmup: 1}
search: {trials: 1, sampler: tpe, objectives: [compressed_bytes]}
"""


def test_session_seed_differs_by_study_state_and_worker():
    seeds = {session_seed(0, n, w) for n in range(5) for w in range(4)}
    assert len(seeds) == 20
    assert session_seed(0, 3, 1) == session_seed(0, 3, 1)  # reproducible for the same state
    assert session_seed(0, 3, None) != session_seed(0, 3, 0)


def _interrupted(study, lr: float) -> int:
    """A trial with parameters that an interruption stopped (its worker told it FAIL, no exit code)."""
    t = study.ask()
    t.suggest_float("training.learning_rate", 1e-4, 1e-2, log=True)
    study.tell(t, state=optuna.trial.TrialState.FAIL)
    return t.number


def test_session_interrupted_trial_is_retried_once_with_its_parameters():
    study = optuna.create_study()
    first = _interrupted(study, 0.001)
    study.tell(study.ask(), state=optuna.trial.TrialState.FAIL)  # stopped before any parameter: nothing to retry
    assert [t.number for t in owed_retries(study.get_trials())] == [first]
    assert enqueue_retries(study, room=5) == [first]
    assert enqueue_retries(study, room=5) == []  # enqueued already
    retry = study.ask()
    assert retry.user_attrs["retry_of"] == first
    lr = retry.suggest_float("training.learning_rate", 1e-4, 1e-2, log=True)
    assert lr == study.trials[first].params["training.learning_rate"]
    study.tell(retry, state=optuna.trial.TrialState.FAIL)  # the retry is interrupted too: not retried again
    assert enqueue_retries(study, room=5) == []


def test_session_retries_stay_within_the_room_left():
    study = optuna.create_study()
    for _ in range(3):
        _interrupted(study, 0.001)
    assert len(enqueue_retries(study, room=2)) == 2
    assert enqueue_retries(study, room=2) == []


def _search(path, out, trials):
    return subprocess.run([sys.executable, "-m", "optimize_cli", "search", str(path), "--output", str(out),
                           "--trials", str(trials), "--resume", "--quiet"], capture_output=True, text=True,
                          env=os.environ.copy())


@pytest.mark.slow
def test_search_two_resumes_repeat_no_trial_but_the_labelled_retry(tmp_path):
    """Three sessions of one trial each, an interrupted trial left between the first two: the second
    session retries it (labelled), and no two trials share their parameters otherwise. About 30 s."""
    path, out = tmp_path / "s.yaml", tmp_path / "out"
    path.write_text(RECIPE, encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "optimize_cli", "search", str(path), "--output", str(out),
                          "--quiet"], capture_output=True, text=True, env=os.environ.copy())
    assert res.returncode == 0, res.stderr
    study = optuna.load_study(study_name="sq", storage=f"sqlite:///{out / 'study.db'}")
    left = study.ask()  # a worker was stopped mid-trial: RUNNING with its parameters
    left.suggest_float("training.learning_rate", 1e-4, 1e-2, log=True)
    left.suggest_categorical("export.quantization", ["dynamic", "float16"])
    for trials in (2, 3):
        res = _search(path, out, trials)
        assert res.returncode == 0, res.stderr
    doc = json.loads((out / "search.json").read_text())
    ran = [t for t in doc["trials"] if t["state"] == "complete"]
    assert len(ran) == 3
    retries = [t for t in ran if t["retry_of"] is not None]
    assert [t["retry_of"] for t in retries] == [left.number] and retries[0]["params"] == left.params
    fresh = [t for t in doc["trials"] if t["params"] and t["retry_of"] is None]
    keys = [json.dumps(t["params"], sort_keys=True) for t in fresh]
    assert len(set(keys)) == len(keys), keys
    assert f"(retry of {left.number:04d})" in (out / "search.md").read_text()


def _wait_log(out, limit: float = 120.0) -> None:
    import time

    end = time.monotonic() + limit
    while time.monotonic() < end:
        if list((out / "trials").glob("[0-9][0-9][0-9][0-9].log")):
            return
        time.sleep(0.2)
    raise AssertionError(f"no trial started in {out} within {limit} s")


@pytest.mark.slow
def test_search_interrupted_says_the_resume_command_that_continues_it(tmp_path):
    """Ctrl-C during the first trial: exit 130 and one line naming the command to paste; pasted in another
    directory, it continues the study to --trials, retrying the interrupted trial. About 30 s."""
    import shlex
    import signal

    path, out = tmp_path / "s.yaml", tmp_path / "out"
    path.write_text(RECIPE, encoding="utf-8")
    p = subprocess.Popen([sys.executable, "-m", "optimize_cli", "search", "s.yaml", "--output", "out",
                          "--trials", "2"], cwd=tmp_path, env=os.environ.copy(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    _wait_log(out)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 130, err
    assert "started trial 0000 (built-in ptq-dynamic) (1/2): " in err
    (line,) = [ln for ln in err.splitlines() if "resume with: " in ln]
    cmd = shlex.split(line.split("resume with: ", 1)[1])
    assert cmd[-1] == "--resume" and str(path) in cmd and str(out) in cmd and "--trials" in cmd
    (tmp_path / "elsewhere").mkdir()
    res = subprocess.run(cmd, cwd=tmp_path / "elsewhere", capture_output=True, text=True, env=os.environ.copy())
    assert res.returncode == 0, res.stderr
    doc = json.loads((out / "search.json").read_text())
    assert [t["state"] for t in doc["trials"]].count("complete") == 2
    assert any(t["retry_of"] == 0 for t in doc["trials"])
