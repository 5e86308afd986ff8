"""training/distribute.py: `training.distribute` — TF_CONFIG read and checked without TensorFlow, mirrored on
one CPU device trains as without a strategy, and two CPU workers (separate processes on 127.0.0.1) train a
prune stage together: the chief's result matches a single-worker run and the chief alone writes outputs."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from run_helpers import DATA, MODEL, cli, write_recipe

from optimize_cli.errors import RecipeError
from optimize_cli.run.worker import last_distributed_stage
from optimize_cli.training.distribute import worker_from_env

CLUSTER = {"worker": ["127.0.0.1:1111", "127.0.0.1:2222"]}


def _env(cluster, task) -> dict:
    return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": task})}


@pytest.mark.parametrize("raw, says", [
    (None, "TF_CONFIG is not set"),
    ("{not json", "TF_CONFIG is not valid JSON"),
    (json.dumps({"task": {"type": "worker", "index": 0}}), 'no "cluster" and "task"'),
    (json.dumps({"cluster": {"ps": ["h:1"]}, "task": {"type": "ps", "index": 0}}), "job 'ps' is not supported"),
    (json.dumps({"cluster": {"worker": ["nohost"]}, "task": {"type": "worker", "index": 0}}), '"host:port"'),
    (json.dumps({"cluster": CLUSTER, "task": {"type": "chief", "index": 0}}), "task.type 'chief' is not a job"),
    (json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": 2}}), "task.index 2 is not an index"),
])
def test_distribute_bad_tf_config_is_one_line_naming_it(raw, says):
    with pytest.raises(RecipeError) as e:
        worker_from_env({} if raw is None else {"TF_CONFIG": raw})
    assert "TF_CONFIG" in str(e.value) and says in str(e.value) and "\n" not in str(e.value)


def test_distribute_the_chief_is_worker_0_or_the_chief_job():
    w0 = worker_from_env(_env(CLUSTER, {"type": "worker", "index": 0}))
    w1 = worker_from_env(_env(CLUSTER, {"type": "worker", "index": 1}))
    assert w0.is_chief and not w1.is_chief and w0.workers == 2
    with_chief = {"chief": ["127.0.0.1:3333"], **CLUSTER}
    assert worker_from_env(_env(with_chief, {"type": "chief", "index": 0})).is_chief
    w = worker_from_env(_env(with_chief, {"type": "worker", "index": 0}))
    assert not w.is_chief and w.workers == 3


def test_distribute_non_chief_trains_up_to_the_last_distributed_stage():
    from optimize_cli.recipe.model import Recipe

    def recipe(stages):
        return Recipe.model_validate({"version": 1, "name": "x", "model": str(MODEL), "stages": stages})

    assert last_distributed_stage(recipe([{"type": "prune"}, {"type": "cluster"}, {"type": "qat"}])) == 2
    assert last_distributed_stage(recipe([{"type": "qat"}])) == 0
    assert last_distributed_stage(recipe([{"type": "prune"}, {"type": "cluster", "epochs": 0}])) == 1


def _recipe(tmp_path, name, distribute=None, train=128):
    doc = {
        "version": 1, "name": name, "model": str(MODEL),
        "data": {"train": {"type": "npz", "path": str(DATA), "x": "x_train", "y": "y_train", "stop": train},
                 "eval": {"type": "npz", "path": str(DATA), "x": "x_test", "y": "y_test", "stop": 200}},
        "training": {"batch_size": 32, **({"distribute": {"strategy": distribute}} if distribute else {})},
        "stages": [{"type": "prune", "target_sparsity": 0.5, "epochs": 1}],
        "export": {"quantization": "none"},
        "evaluation": {"latency_runs": 1, "latency_warmup": 0},
    }
    return write_recipe(tmp_path, doc, f"{name}.yaml")


def test_distribute_multi_worker_without_tf_config_exits_2_before_training(tmp_path, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    rec = _recipe(tmp_path, "mw", "multi_worker")
    for args in (("run", rec, "--output", tmp_path / "out"), ("validate", rec)):
        res = cli(*args)
        assert res.exit_code == 2, res.output
        assert "TF_CONFIG is not set" in res.output and len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": 1}}))
    res = cli("run", rec, "--output", tmp_path / "out", "--resume")
    assert res.exit_code == 2 and "--resume: not with training.distribute" in res.output


def test_distribute_qat_trains_on_one_replica_and_says_so(make_ctx):
    from optimize_cli.stages import prune, qat
    from optimize_cli.training.distribute import for_stage

    ctx = make_ctx(distribute={"strategy": "mirrored"})
    rec = for_stage(ctx, "qat", qat.DISTRIBUTED, qat.LOCAL_REASON).record
    assert rec["replicas"] == 1 and rec["note"].startswith("qat: trained on one device: tfmot")
    assert for_stage(make_ctx(), "prune", prune.DISTRIBUTED).record is None  # no training.distribute: no record


@pytest.mark.slow
def test_distribute_mirrored_on_one_cpu_device_trains_as_without_a_strategy(tiny_model, make_ctx):
    """prune (also distilling), cluster and filter_prune fit under MirroredStrategy: on a CPU-only machine
    (one replica) the same losses and weights as without a strategy, and the record says how it ran."""
    from optimize_cli.stages import ClusterStage, FilterPruneStage, PruneStage, run_stage
    from optimize_cli.stages.layers import copy_model
    from optimize_cli.training.distill import DistillConfig
    from optimize_cli.training.distribute import start

    cases = [(PruneStage(target_sparsity=0.5, epochs=1), True), (ClusterStage(clusters=8, epochs=1), False),
             (FilterPruneStage(epochs=1), False)]
    for params, distil in cases:
        runs = []
        for distribute in (None, {"strategy": "mirrored"}):
            ctx = make_ctx(samples=32, **({"distribute": distribute} if distribute else {}))
            start(ctx.training)  # what the entry point does, once
            if distil:
                ctx.distill, ctx.teacher = DistillConfig(), copy_model(tiny_model)
            runs.append(run_stage(tiny_model, params, ctx))
        plain, mirrored = runs
        assert plain.history.distribute is None
        rec = mirrored.history.distribute
        assert rec["strategy"] == "mirrored" and rec["workers"] == 1 and rec["replicas"] >= 1, params.type
        if rec["replicas"] == 1:  # a CPU-only machine: the same fit
            assert mirrored.history.metrics["loss"] == pytest.approx(plain.history.metrics["loss"], rel=1e-5)
            for a, b in zip(plain.model.get_weights(), mirrored.model.get_weights(), strict=True):
                np.testing.assert_allclose(a, b, atol=1e-5, err_msg=params.type)


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _two_workers(rec, tmp_path, timeout: float = 240) -> list[tuple[int, str, str]]:
    """Run `rec` as worker 0 (chief) and worker 1, each into its own output dir; (rc, stdout, stderr) each.
    A worker still running after `timeout` seconds is killed and the test fails (a hang never blocks)."""
    hosts = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    procs = []
    for i in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": {"worker": hosts},
                                                        "task": {"type": "worker", "index": i}}),
               "NO_COLOR": "1"}
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "optimize_cli", "run", str(rec), "--output", str(tmp_path / f"out{i}")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            results.append((p.returncode, out, err))
    except subprocess.TimeoutExpired:
        pytest.fail(f"multi-worker run did not finish within {timeout}s (a hang)")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return results


@pytest.mark.slow
def test_distribute_two_cpu_workers_match_one_and_only_the_chief_writes(tmp_path):
    """Worker 0 (the chief) and worker 1 train the prune stage together, each on its half of every global
    batch; the chief's result matches a single-worker run of the same recipe, and worker 1 wrote nothing."""
    from optimize_cli.report.schema import validate_report

    rec = _recipe(tmp_path, "mw", "multi_worker")
    (chief_rc, chief_out, chief_err), (rc1, out1, err1) = _two_workers(rec, tmp_path)
    assert chief_rc == 0, chief_err[-2000:]
    assert rc1 == 0, err1[-2000:]
    assert len(out1.strip().splitlines()) == 1 and "worker 1 of 2 workers: trained stage 1 (prune)" in out1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mw.yaml", "out0"]  # nothing of worker 1's, no partial dir
    report = json.loads((tmp_path / "out0" / "report.json").read_text())
    assert validate_report(report) == []  # stages[].distribute is in report.json's schema
    stage = report["stages"][0]
    assert stage["distribute"] == {"strategy": "multi_worker", "replicas": 2, "workers": 2,
                                   "note": "prune: each global batch split over 2 replicas on 2 worker(s)"}
    assert stage["sparsity"] > 0.3  # UpdatePruningStep pruned under the strategy (kernels at 50 %)

    (tmp_path / "single").mkdir()
    single = _recipe(tmp_path / "single", "one")
    res = cli("run", single, "--output", tmp_path / "single" / "out", "--quiet")
    assert res.exit_code == 0, res.output
    one = json.loads((tmp_path / "single" / "out" / "report.json").read_text())
    assert one["stages"][0]["distribute"] is None
    assert abs(report["result"]["accuracy"] - one["result"]["accuracy"]) <= 0.01
    assert abs(stage["keras_accuracy"] - one["stages"][0]["keras_accuracy"]) <= 0.01
    # the two halves of every batch together are the single worker's batch: the same loss (not merely close
    # accuracy), which each worker training on the same half, or on all of it, would not give
    assert stage["history"]["loss"] == pytest.approx(one["stages"][0]["history"]["loss"], rel=1e-3)
    assert stage["sparsity"] == pytest.approx(one["stages"][0]["sparsity"], abs=1e-6)
