"""Workers in many processes (as on many machines) on one study: PostgreSQL (a real server), SQLite, the
study-wide lock that keeps the total at --trials, heartbeats that fail and retry a dead worker's trial,
--report-only, --resume after an interruption, and the storage's one-line errors."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from search_helpers import HEAD

RECIPE = HEAD + """export: {quantization: {search: {choices: [dynamic, float16]}}}
evaluation: {latency_runs: 3, latency_warmup: 1}
gates: {max_accuracy_drop: 0.05}
search: {trials: 2, sampler: random, objectives: [compressed_bytes]}
"""

#: N processes run the real worker loop (study._Workers.ask) on one study at once, each trial told at
#: once with an exit code: the lock must keep the total exactly at --trials
RACE = """import sys
from pathlib import Path
from optimize_cli.recipe.space import load_space
from optimize_cli.search.study import SearchOptions, _Workers, open_study
space, _ = load_space(sys.argv[1]); space.source = Path(sys.argv[1])
opts = SearchOptions(output=Path(sys.argv[3]), storage=sys.argv[2], study=sys.argv[5], trials=int(sys.argv[4]),
                     heartbeat=1)
study = open_study(space, sys.argv[5], opts, join=True)
w = _Workers(study, space, opts, int(sys.argv[4]), print)
while (t := w.ask()) is not None:
    t.set_user_attr("exit_code", 0)
    study.tell(t, [1.0])
"""


def search(*args, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "optimize_cli", "search", *map(str, args)], env=os.environ.copy(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def load(url: str, name: str):
    import optuna

    from optimize_cli.search.storage import rdb_url

    return optuna.load_study(study_name=name, storage=rdb_url(url))


def wait_running(out: Path, limit: float = 120.0) -> int:
    """The number of the first trial whose run started under `out` (its log file appears when the run's
    subprocess starts; polled, fails after `limit` seconds)."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        logs = sorted((out / "trials").glob("[0-9][0-9][0-9][0-9].log"))
        if logs:
            return int(logs[0].stem)
        time.sleep(0.2)
    raise AssertionError(f"no trial started in {out} within {limit} s")


def test_workers_lock_keeps_the_total_across_processes_on_postgres(pg_url, tmp_path):
    (tmp_path / "r.yaml").write_text(RECIPE, encoding="utf-8")
    (tmp_path / "race.py").write_text(RACE, encoding="utf-8")
    name = f"race-{uuid.uuid4().hex[:8]}"  # a server given by OPTIMIZE_CLI_TEST_PG may hold earlier studies
    procs = [subprocess.Popen([sys.executable, str(tmp_path / "race.py"), str(tmp_path / "r.yaml"), pg_url,
                               str(tmp_path / f"w{i}"), "9", name], env=os.environ.copy()) for i in range(3)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0]
    trials = load(pg_url, name).get_trials(deepcopy=False)
    assert len(trials) == 9 and all(t.state.name == "COMPLETE" for t in trials)
    assert sorted(t.number for t in trials) == list(range(9))


@pytest.mark.slow
def test_workers_two_machines_one_killed_mid_trial_on_postgres(pg_url, tmp_path):
    """Two `search` processes join one study as two machines would; one is killed (with its trial's run)
    mid-trial: its heartbeat stops, the other fails that trial, retries it, and the study ends at 2.
    About 25 s: two real trials one after the other, and the heartbeat's grace (3 s)."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE, encoding="utf-8")
    name = f"two-{uuid.uuid4().hex[:8]}"
    common = ("--storage", pg_url, "--study", name, "--trials", 2, "--heartbeat", 1)
    a = search(recipe, "--output", tmp_path / "a", *common, start_new_session=True)
    b = search(recipe, "--output", tmp_path / "b", *common)
    killed = wait_running(tmp_path / "a")
    os.killpg(a.pid, signal.SIGKILL)  # the worker and its trial's subprocess, at once
    a.wait()
    _, err = b.communicate(timeout=300)
    assert b.returncode == 0, err
    trials = {t.number: t for t in load(pg_url, name).get_trials(deepcopy=False)}
    dead = trials[killed]
    assert dead.state.name == "FAIL" and dead.user_attrs.get("exit_code") is None
    retry = [t for t in trials.values() if t.system_attrs.get("failed_trial") == killed]
    assert len(retry) == 1 and retry[0].state.name == "COMPLETE" and retry[0].params == dead.params
    assert sorted(t.state.name for t in trials.values()) == ["COMPLETE", "COMPLETE", "FAIL"]
    assert (tmp_path / "b" / "trials" / f"{retry[0].number:04d}" / "report.json").is_file()
    # a third machine gathers the study without running anything, and without the trials' files (moved
    # away, as on another machine): every trial; best.yaml from the recipe its worker kept in the study
    kept = [f.read_text() for f in (tmp_path / "b").glob("trials/*.yaml")]
    (tmp_path / "b").rename(tmp_path / "b-elsewhere")
    res = subprocess.run([sys.executable, "-m", "optimize_cli", "search", "--report-only", "--storage", pg_url,
                          "--study", name, "--output", str(tmp_path / "c"), "--json"], capture_output=True,
                         text=True, env=os.environ.copy())
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "c" / "search.json").read_text())
    assert sorted(t["number"] for t in doc["trials"]) == sorted(trials)
    assert [t["state"] for t in doc["trials"]].count("complete") == 2 and doc["recommended"] is not None
    assert not (tmp_path / "c" / "trials").exists() and not (tmp_path / "c" / "model.tflite").exists()
    best = (tmp_path / "c" / "best.yaml").read_text()
    assert best in kept and "quantization" in best


@pytest.mark.slow
def test_workers_interrupted_then_resumed_on_sqlite(tmp_path):
    """Ctrl-C to a `--workers 2` search: both worker processes stop their trials (not counted), exit 130
    with the outputs written; --resume then brings the study to exactly --trials. About 25 s: the
    resumed search runs two real trials."""
    recipe, out = tmp_path / "r.yaml", tmp_path / "out"
    recipe.write_text(RECIPE, encoding="utf-8")
    url = f"sqlite:///{(out / 'study.db').resolve()}"
    p = search(recipe, "--output", out, "--workers", 2, "--trials", 2)
    wait_running(out)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 130, err
    doc = json.loads((out / "search.json").read_text())
    assert doc["interrupted"] and "interrupted" in [t["state"] for t in doc["trials"]]
    assert not [t for t in load(url, "sq").get_trials(deepcopy=False) if t.state.name == "RUNNING"]
    res = search(recipe, "--output", out, "--workers", 2, "--trials", 2, "--resume")
    _, err = res.communicate(timeout=300)
    assert res.returncode == 0, err
    states = [t["state"] for t in json.loads((out / "search.json").read_text())["trials"]]
    assert states.count("complete") == 2 and len(states) == 2 + states.count("interrupted")


def test_workers_storage_errors_are_one_line(tmp_path):
    from optimize_cli.search.storage import rdb_url

    assert rdb_url("postgresql://u@h:5/d") == "postgresql+psycopg://u@h:5/d"
    assert rdb_url("sqlite:///x.db") == "sqlite:///x.db"
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE, encoding="utf-8")
    code = ("import sys; sys.modules['psycopg'] = None\nfrom optimize_cli.cli import main\n"
            f"main(['search', {str(recipe)!r}, '--storage', 'postgresql://u@127.0.0.1:1/d', '--output', 'o'])")
    cases = {2: [sys.executable, "-c", code],
             3: [sys.executable, "-m", "optimize_cli", "search", str(recipe), "--storage",
                 "postgresql://u:secret@127.0.0.1:1/d", "--output", str(tmp_path / "o")]}
    for want, cmd in cases.items():
        res = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy(), timeout=120, cwd=tmp_path)
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert res.returncode == want and len(lines) == 1, res.stderr
        assert ("optimize-cli[postgres]" if want == 2 else "cannot open the study storage") in lines[0]
        assert "secret" not in lines[0]
