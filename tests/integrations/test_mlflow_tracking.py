"""MLflow tracking against a real tracking server: the one OPTIMIZE_CLI_TEST_MLFLOW names (`.ci/run` starts
`mlflow server` before the tests, so its start overlaps theirs), else `mlflow server` (the test extra's full
`mlflow`) with a SQLite backend in a temporary folder, on 127.0.0.1 and a free port, started once for the
module and stopped at teardown; either is waited for (bounded). Experiment names carry a suffix of this
test session, so a server that outlives one session does not mix runs. A run and a 2-trial search are logged and read back through the MLflow
client; a server that is not there, and a client that is not installed, cost the run nothing.

Under CI=true (.ci/run) a missing `mlflow` fails these tests instead of skipping them."""
from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml
from run_helpers import DATA, ptq_recipe, write_recipe

START_SECONDS = 180  # SQLite migrations on a busy 2-core machine; the start never waits longer
SESSION = uuid.uuid4().hex[:8]  # this test session's experiment names


def _missing(what: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is not installed: `make install` installs the test extra (CI=true: no skipping)")
    pytest.skip(f"{what} is not installed (the test extra has it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(url: str, proc=None, log: Path = None) -> None:
    """Until the server at `url` answers /health (its process, when it is ours, must not exit meanwhile)."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"mlflow server exited ({proc.returncode}): " + log.read_text(errors="replace")[-2000:])
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"mlflow server {url} not up after {START_SECONDS} s")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    given = os.environ.get("OPTIMIZE_CLI_TEST_MLFLOW")
    if given:
        _wait_up(given.rstrip("/"))
        yield given.rstrip("/")
        return
    exe = Path(sys.executable).parent / "mlflow"
    if importlib.util.find_spec("mlflow") is None or importlib.util.find_spec("mlflow.server") is None \
            or importlib.util.find_spec("flask") is None or not exe.exists():
        _missing("mlflow (the server)")
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(folder / "server.log", "wb")
    proc = subprocess.Popen([str(exe), "server", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
                             "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "1"], cwd=folder, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_up(url, proc, folder / "server.log")
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the server and its uvicorn worker: its own session
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def _optimize(*args, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "optimize_cli", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL, timeout=timeout)


def _prune_recipe(name: str, sparsity) -> dict:
    doc = ptq_recipe(name)
    doc["data"]["train"] = {"type": "npz", "path": str(DATA), "x": "x_train", "y": "y_train", "stop": 128}
    doc["stages"] = [{"type": "prune", "target_sparsity": sparsity, "epochs": 2, "frequency": 1}]
    return doc


def _runs(client, experiment: str):
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"no experiment {experiment!r}"
    return client.search_runs([exp.experiment_id])


@pytest.mark.slow
def test_mlflow_run_logs_params_metrics_history_artifacts_and_tags(mlflow_server, tmp_path):
    from mlflow.tracking import MlflowClient

    name = f"mlrun-{SESSION}"
    recipe = write_recipe(tmp_path, _prune_recipe(name, 0.5))
    res = _optimize("run", recipe, "--output", tmp_path / "out", "--mlflow", mlflow_server, "--json")
    assert res.returncode == 0, res.stderr
    assert res.stdout.lstrip().startswith("{")  # stdout: the JSON summary only
    assert "Traceback" not in res.stderr and "MLflow: run logged as run" in res.stderr

    client = MlflowClient(mlflow_server)
    (run,) = _runs(client, name)
    assert run.info.status == "FINISHED" and run.info.run_name == name
    p, m, t = run.data.params, run.data.metrics, run.data.tags
    assert p["stages.0.type"] == "prune" and float(p["stages.0.target_sparsity"]) == 0.5
    assert p["export.quantization"] == "dynamic" and "training.learning_rate" in p
    report = yaml.safe_load((tmp_path / "out" / "report.json").read_text())  # JSON is YAML
    for k in ("tflite_bytes", "compressed_bytes", "accuracy", "accuracy_drop", "latency_ms"):
        assert m[k] == pytest.approx(report["result"][k]), k
    assert m["baseline.compressed_bytes"] == report["baseline"]["compressed_bytes"]
    for name, figures in (report["result"].get("targets") or {}).items():  # every numeric target figure
        for k, v in figures.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                assert m[f"targets.{name}.{k}"] == pytest.approx(v)
    assert m["passed"] == 1.0 and m["01_prune/sparsity"] == pytest.approx(report["stages"][0]["sparsity"])
    history = client.get_metric_history(run.info.run_id, "01_prune/epoch_loss")
    assert [h.step for h in sorted(history, key=lambda h: h.step)] == [0, 1]
    assert [h.value for h in sorted(history, key=lambda h: h.step)] == pytest.approx(
        report["stages"][0]["history"]["loss"])
    assert t["optimize_cli.path"] == "prune → dynamic"
    assert t["versions.tensorflow"] == report["versions"]["tensorflow"] and "optimize_cli.version" in t
    assert {"report.json", "report.html", "model.tflite"} <= {a.path for a in client.list_artifacts(run.info.run_id)}
    got = client.download_artifacts(run.info.run_id, "model.tflite", str(tmp_path))
    assert Path(got).read_bytes() == (tmp_path / "out" / "model.tflite").read_bytes()


@pytest.mark.slow
def test_mlflow_search_logs_a_parent_and_a_child_run_per_trial(mlflow_server, tmp_path):
    from mlflow.tracking import MlflowClient

    doc = _prune_recipe("mlsearch", {"search": {"choices": [0.3, 0.5]}})
    doc["stages"][0]["epochs"] = 1
    doc["search"] = {"trials": 2, "sampler": "grid", "objectives": ["compressed_bytes"]}
    doc["tracking"] = {"mlflow": mlflow_server, "experiment": f"ml-search-{SESSION}"}  # the recipe key, not --mlflow
    recipe = write_recipe(tmp_path, doc)
    res = _optimize("search", recipe, "--output", tmp_path / "out", "--quiet")
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr

    client = MlflowClient(mlflow_server)
    runs = _runs(client, f"ml-search-{SESSION}")
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2  # the trials did not log runs of their own
    parent = parents[0]
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}
    assert parent.data.metrics["trials"] == 2 and "search.json" in {
        a.path for a in client.list_artifacts(parent.info.run_id)}
    sparsities = sorted(float(r.data.params["stages.0.target_sparsity"]) for r in children)
    assert sparsities == [0.3, 0.5]
    for child in children:
        assert child.info.status == "FINISHED" and child.data.metrics["compressed_bytes"] > 0
        assert child.data.tags["optimize_cli.trial_state"] == "complete"
        assert "report.json" in {a.path for a in client.list_artifacts(child.info.run_id)}


@pytest.mark.slow
def test_mlflow_file_store_and_an_unreachable_server(tmp_path, monkeypatch):
    if importlib.util.find_spec("mlflow") is None:
        _missing("mlflow-skinny")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 reads a file store only with it (the run sets it)
    from mlflow.tracking import MlflowClient

    recipe = write_recipe(tmp_path, ptq_recipe("mlfile"))
    store = (tmp_path / "store").as_uri()
    res = _optimize("run", recipe, "--output", tmp_path / "a", "--mlflow", store, "--quiet",
                    env={"MLFLOW_ALLOW_FILE_STORE": ""})  # not the test's: the run opts in itself
    assert res.returncode == 0 and "warning" not in res.stderr, res.stderr
    (run,) = _runs(MlflowClient(store), "mlfile")
    assert run.data.metrics["compressed_bytes"] > 0 and run.data.tags["optimize_cli.path"] == "PTQ → dynamic"

    down = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    res = _optimize("run", recipe, "--output", tmp_path / "b", "--mlflow", down, "--quiet")
    assert res.returncode == 0, res.stderr
    warnings = [ln for ln in res.stderr.splitlines() if "MLflow" in ln]
    assert len(warnings) == 1 and down in warnings[0] and "cannot be reached" in warnings[0], res.stderr
    assert "Traceback" not in res.stderr and (tmp_path / "b" / "report.json").is_file()


def test_mlflow_missing_client_is_exit_2_naming_the_extra(tmp_path):
    """The client blocked (as if not installed): exit 2 before any TensorFlow work, the extra named."""
    recipe = write_recipe(tmp_path, ptq_recipe("mlmissing"))
    code = ("import sys; sys.modules['mlflow'] = None; from optimize_cli.cli import main; "
            f"sys.argv = ['optimize-cli', 'run', {str(recipe)!r}, '--output', {str(tmp_path / 'o')!r}, "
            "'--mlflow', 'http://127.0.0.1:1']; main()")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert "pip install 'optimize-cli[mlflow]'" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_mlflow_report_metrics_read_target_figures_generically():
    """Every numeric field of result.targets.<name> (deployable bytes included, nested ones dotted) is a
    metric; per-tensor lists are not; each stage's history is a step metric per epoch."""
    if importlib.util.find_spec("mlflow") is None:
        _missing("mlflow-skinny")
    import json

    from optimize_cli.integrations.mlflow import report_metrics

    report = json.loads((Path(__file__).parents[1] / "fixtures" / "report_example.json").read_text())
    report["result"]["targets"] = {"tflm": {"arena_bytes": 2048, "deployable_bytes": 61000, "slim": {"removed": 3},
                                            "compression": [{"bits": 4}], "ops": ["CONV_2D"]}}
    report["stages"][0]["history"] = {"loss": [0.9, 0.5, 0.4]}
    metrics = {}
    for m in report_metrics(report):
        metrics.setdefault(m.key, []).append((m.step, m.value))
    assert metrics["targets.tflm.deployable_bytes"] == [(0, 61000.0)] and "targets.tflm.slim.removed" in metrics
    assert not [k for k in metrics if "compression." in k or ".ops" in k]
    assert metrics["01_prune/epoch_loss"] == [(0, 0.9), (1, 0.5), (2, 0.4)]
    assert metrics["compressed_bytes"] == [(0, report["result"]["compressed_bytes"])]


def test_mlflow_tracking_is_asked_for_by_the_option_or_the_recipe_and_honours_the_environment(tmp_path,
                                                                                             monkeypatch):
    from optimize_cli.integrations.mlflow import requested
    from optimize_cli.recipe import load_recipe

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example.invalid:5000")
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    plain = load_recipe(write_recipe(tmp_path, ptq_recipe("plain"), "plain.yaml"))
    assert requested(None, plain) is None  # the variable alone does not make every run log
    t = requested("store", plain)  # a folder: its file:// URI, relative to the current directory
    assert t.uri == (Path.cwd() / "store").resolve().as_uri() and t.experiment == "plain"
    doc = dict(ptq_recipe("keyed"), tracking=None)  # `tracking:` alone
    keyed = load_recipe(write_recipe(tmp_path, doc, "keyed.yaml"))
    assert requested(None, keyed).uri == "http://tracking.example.invalid:5000"
    doc["tracking"] = {"mlflow": "runs/mlruns", "experiment": "team"}
    keyed = load_recipe(write_recipe(tmp_path, doc, "keyed.yaml"))
    t = requested(None, keyed)
    assert t.uri == (tmp_path / "runs" / "mlruns").resolve().as_uri() and t.experiment == "team"
    assert requested("http://127.0.0.1:5000", keyed).uri == "http://127.0.0.1:5000"  # --mlflow wins
