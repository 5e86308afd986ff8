"""optimize-cli[dashboard]: optuna-dashboard (a real server, on a free port of 127.0.0.1) reads a
search's SQLite study — the study, its trials, their parameters and user attrs — over its HTTP API."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from search_helpers import HEAD

pytest.importorskip("optuna_dashboard")

RECIPE = HEAD + """export: {quantization: {search: {choices: [dynamic, float16]}}}
search: {trials: 2, sampler: random, objectives: [compressed_bytes]}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dashboard_command() -> list[str]:
    beside = Path(sys.executable).with_name("optuna-dashboard")
    found = str(beside) if beside.is_file() else shutil.which("optuna-dashboard")
    if not found:
        pytest.skip("the optuna-dashboard command is not installed (pip install 'optimize-cli[dashboard]')")
    return [found]


def get(url: str, limit: float = 30.0) -> dict:
    """GET a JSON document, retried while the server starts (at most `limit` seconds)."""
    end = time.monotonic() + limit
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.loads(r.read().decode("utf-8"))
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


@pytest.fixture
def study_db(tmp_path):
    """A search's study in DIR/study.db, its two trials told as a worker tells them (no TensorFlow)."""
    from optimize_cli.recipe.space import load_space
    from optimize_cli.search.space import sample
    from optimize_cli.search.storage import quiet_experimental
    from optimize_cli.search.study import SearchOptions, open_study

    (tmp_path / "s.yaml").write_text(RECIPE, encoding="utf-8")
    space, _ = load_space(tmp_path / "s.yaml")
    space.source = tmp_path / "s.yaml"
    out = tmp_path / "out"
    out.mkdir()
    study = open_study(space, "sq", SearchOptions(output=out))
    for size in (30_000.0, 20_000.0):
        with quiet_experimental():
            t = study.ask()
        sample(t, space)
        t.set_user_attr("exit_code", 0)
        t.set_user_attr("figures", {"compressed_bytes": size})
        study.tell(t, [size])
    return out / "study.db"


def test_dashboard_serves_the_search_study_over_http(study_db):
    port = free_port()
    server = subprocess.Popen([*dashboard_command(), f"sqlite:///{study_db}", "--host", "127.0.0.1", "--port",
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy())
    try:
        studies = get(f"http://127.0.0.1:{port}/api/studies")["study_summaries"]
        (sq,) = [s for s in studies if s["study_name"] == "sq"]
        detail = get(f"http://127.0.0.1:{port}/api/studies/{sq['study_id']}")
        trials = detail["trials"]
        assert [t["state"] for t in trials] == ["Complete", "Complete"]
        assert {p["name"] for t in trials for p in t["params"]} == {"export.quantization"}
        assert [t["values"] for t in trials] == [[30000.0], [20000.0]]
        assert [b["number"] for b in detail["best_trials"]] == [1]
        attrs = {a["key"] for a in trials[0]["user_attrs"]}
        assert {"exit_code", "figures"} <= attrs
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
