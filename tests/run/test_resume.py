"""--resume and interruption (DESIGN.md, output layout): Ctrl-C / SIGTERM / SIGKILL during a real run keep
the finished stages, leave DIR as it was and print the exact resume command; --resume continues after the
last finished stage and gives the same result as an uninterrupted run; it refuses (exit 2) naming what
changed when a stage was made from another recipe, model or data, and ignores export/gates/evaluation.

One uninterrupted reference run (prune 1 epoch → cluster 15 epochs on 128 training digits) is shared by
the module; the interrupted runs are real subprocesses (`python -m optimize_cli run ...`)."""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from optimize_cli.cli import main

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "sample_models" / "digits_cnn"
DATA = ROOT / "sample_models" / "digits.npz"
ONE_SAMPLE = 1 / 270  # accuracy tolerance: one of the 270 eval digits

pytestmark = pytest.mark.slow

RECIPE = {
    "version": 1,
    "name": "resume-test",
    "model": str(MODEL),
    "data": {
        "train": {"type": "npz", "path": str(DATA), "x": "x_train", "y": "y_train", "stop": 128},
        "eval": {"type": "npz", "path": str(DATA), "x": "x_test", "y": "y_test", "stop": 270},
    },
    "training": {"batch_size": 64, "seed": 3},
    "stages": [
        {"type": "prune", "target_sparsity": 0.5, "epochs": 1},
        {"type": "cluster", "clusters": 8, "epochs": 15},  # long enough to be interrupted in
    ],
    "export": {"quantization": "dynamic"},
    "evaluation": {"latency_runs": 3, "latency_warmup": 1},
}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Nothing a test runs may write outside its temporary directory (no runs/ in the repository)."""
    monkeypatch.chdir(tmp_path)


def cli(*args):
    return CliRunner(env={"NO_COLOR": "1", "COLUMNS": "200"}).invoke(main, [str(a) for a in args])


def tree_digest(d: Path) -> dict:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file()}


def report(d: Path) -> dict:
    return json.loads((d / "report.json").read_text())


def without_seconds(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k != "seconds"}


def assert_same_result(got: Path, want: Path) -> None:
    """The resumed run's figures equal the uninterrupted run's: stage records (but their wall time), the
    result's sizes and accuracy, and the .tflite bytes (fixed seed, same machine and libraries)."""
    a, b = report(got), report(want)
    assert [s["type"] for s in a["stages"]] == [s["type"] for s in b["stages"]]
    for ra, rb in zip(a["stages"], b["stages"], strict=True):
        assert ra["keras_accuracy"] == pytest.approx(rb["keras_accuracy"], abs=ONE_SAMPLE)
        assert without_seconds(ra) == without_seconds(rb)
    for key in ("tflite_bytes", "compressed_bytes", "layers"):
        assert a["result"][key] == b["result"][key], key
    assert a["result"]["accuracy"] == pytest.approx(b["result"]["accuracy"], abs=ONE_SAMPLE)
    assert (got / "model.tflite").read_bytes() == (want / "model.tflite").read_bytes()


@pytest.fixture(scope="module")
def recipe_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("recipe") / "resume.yaml"
    p.write_text(yaml.safe_dump(RECIPE, sort_keys=False))
    return p


@pytest.fixture(scope="module")
def reference(recipe_file, tmp_path_factory) -> Path:
    """The uninterrupted run (in-process)."""
    out = tmp_path_factory.mktemp("ref") / "out"
    res = cli("run", recipe_file, "--output", out, "--quiet")
    assert res.exit_code == 0, res.output
    return out


def start_run(recipe: Path, out: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "optimize_cli", "run", str(recipe), "--output", str(out),
                             "--quiet", *extra], cwd=out.parent, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


class BackgroundRun:
    """A real run in a subprocess that a watcher thread interrupts with `sig` as soon as
    `.out.partial/stages/01_prune/record.json` exists (stage 1 finished, stage 2 running). It runs in the
    background, so that its TensorFlow start overlaps the in-process runs of the module."""

    def __init__(self, recipe: Path, out: Path, sig: int, *extra: str):
        self.out, self.error, self.stdout, self.stderr = out, None, "", ""
        self.before = tree_digest(out) if out.exists() else None
        self.proc = start_run(recipe, out, *extra)
        self.thread = threading.Thread(target=self._watch, args=(sig,), daemon=True)
        self.thread.start()

    def _watch(self, sig: int) -> None:
        record = self.out.parent / f".{self.out.name}.partial" / "stages" / "01_prune" / "record.json"
        deadline = time.monotonic() + 300
        while not record.exists():
            if self.proc.poll() is not None:
                self.error = f"the run ended (exit {self.proc.returncode}) before stage 1 finished"
                break
            if time.monotonic() > deadline:
                self.proc.kill()
                self.error = "stage 1 did not finish in time"
                break
            time.sleep(0.02)
        else:
            self.proc.send_signal(sig)
        self.stdout, self.stderr = self.proc.communicate(timeout=300)

    def result(self) -> "BackgroundRun":
        self.thread.join(600)
        if self.error:
            pytest.fail(f"{self.error}: {self.stderr}")
        return self


@pytest.fixture(scope="module")
def sigint_run(recipe_file, tmp_path_factory) -> BackgroundRun:
    return BackgroundRun(recipe_file, tmp_path_factory.mktemp("sigint") / "out", signal.SIGINT)


@pytest.fixture(scope="module")
def sigkill_run(recipe_file, reference, tmp_path_factory) -> BackgroundRun:
    """Killed while replacing a completed earlier run (a copy of the reference) with --force; started in
    the background once the reference exists."""
    out = tmp_path_factory.mktemp("sigkill") / "out"
    shutil.copytree(reference, out)
    return BackgroundRun(recipe_file, out, signal.SIGKILL, "--force")


# ----------------------------------------------------------------------------------- interruption


def test_resume_after_sigint_equals_uninterrupted_run(sigint_run, reference, sigkill_run, recipe_file):
    # (fixtures in this order: the SIGINT run starts in the background, the reference runs meanwhile, then
    # the SIGKILL run starts in the background while this test resumes)
    run = sigint_run.result()
    out = run.out
    base = out.parent
    assert run.proc.returncode == 130, run.stderr
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    partial = base / ".out.partial"
    assert lines[0].startswith(f"interrupted: finished stages kept in {partial / 'stages'} (01_prune); resume with: ")
    command = lines[0].split("resume with: ", 1)[1]
    assert shlex.split(command) == [sys.executable, "-m", "optimize_cli", "run", str(recipe_file), "--quiet",
                                    "--output", str(out), "--resume"]  # the program as it was invoked
    # finished stage kept, unfinished one and scratch files removed, DIR not created
    assert (partial / "stages" / "01_prune" / "record.json").is_file()
    assert any((partial / "stages" / "01_prune" / "model").iterdir())
    assert not (partial / "stages" / "02_cluster").exists()
    assert not (partial / ".work").exists()
    assert not out.exists()
    stage1 = json.loads((partial / "stages" / "01_prune" / "record.json").read_text())
    assert without_seconds(stage1) == without_seconds(report(reference)["stages"][0])

    # the printed command, as printed, resumes the run
    os.chdir(base)
    res = cli(*shlex.split(command)[3:])
    assert res.exit_code == 0, res.output
    assert sorted(os.listdir(base)) == ["out"]
    assert report(out)["stages"][0]["seconds"] == stage1["seconds"]  # stage 1 was reused, not re-run
    assert_same_result(out, reference)


def test_sigkill_leaves_previous_results_intact_and_resumes(sigkill_run, recipe_file, reference):
    run = sigkill_run.result()
    out = run.out
    base = out.parent
    assert run.proc.returncode == -signal.SIGKILL
    assert tree_digest(out) == run.before  # DIR byte-identical
    partial = base / ".out.partial"
    assert (partial / "stages" / "01_prune" / "record.json").is_file()
    # without --resume (or --force) the kept stages are not thrown away
    res = cli("run", recipe_file, "--output", out, "--quiet")
    assert res.exit_code == 2 and "--resume" in res.stderr
    assert tree_digest(out) == run.before
    res = cli("run", recipe_file, "--output", out, "--quiet", "--resume")
    assert res.exit_code == 0, res.output
    assert sorted(os.listdir(base)) == ["out"]  # no .partial, .old or scratch left
    assert_same_result(out, reference)


def test_sigterm_during_a_stage_exits_130_and_keeps_finished_stages(recipe_file, tmp_path, monkeypatch):
    """SIGTERM (what CI runners and `timeout` send) behaves like Ctrl-C: the real clustering stage stops at
    its first batch end (the signal handler only records it; training/fit.py checks at every batch)."""
    from optimize_cli.stages import cluster

    real_run = cluster.run

    def terminated(model, params, ctx):
        (Path(ctx.workdir) / "scratch.bin").write_bytes(b"x")
        os.kill(os.getpid(), signal.SIGTERM)
        real_run(model, params, ctx)
        raise AssertionError("SIGTERM did not stop the stage")

    monkeypatch.setattr(cluster, "run", terminated)
    handler = signal.getsignal(signal.SIGTERM)
    out = tmp_path / "out"
    res = cli("run", recipe_file, "--output", out, "--quiet", "--set", "stages.0.epochs=1")
    assert res.exit_code == 130
    line, = res.stderr.strip().splitlines()
    partial = tmp_path / ".out.partial"
    assert line.startswith(f"interrupted: finished stages kept in {partial / 'stages'} (01_prune); resume with: ")
    assert line.endswith(f"--set stages.0.epochs=1 --quiet --output {out} --resume")
    assert (partial / "stages" / "01_prune" / "record.json").is_file()
    assert not (partial / ".work").exists() and not (partial / "stages" / "02_cluster").exists()
    assert signal.getsignal(signal.SIGTERM) is handler and not out.exists()


def test_interrupt_before_any_stage_leaves_nothing_behind(recipe_file, tmp_path, monkeypatch):
    from optimize_cli import export

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(export, "convert", interrupted)
    out = tmp_path / "out"
    res = cli("run", recipe_file, "--output", out)
    assert res.exit_code == 130
    assert res.stderr.strip().splitlines()[-1] == (
        f"interrupted: nothing to resume (no stage had finished); run again with: optimize-cli run {recipe_file} "
        f"--output {out}")
    assert sorted(os.listdir(tmp_path)) == []


def test_interrupt_in_the_library_carries_facts_not_a_command(recipe_file, tmp_path, monkeypatch):
    """run() names the output directory and the kept stages; the command to type is the CLI's (argv
    never enters the library)."""
    from optimize_cli import export
    from optimize_cli.errors import Interrupted
    from optimize_cli.recipe import load_recipe
    from optimize_cli.run import RunOptions, run

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(export, "convert", interrupted)
    with pytest.raises(Interrupted) as e:
        run(load_recipe(recipe_file), RunOptions(output=tmp_path / "out", quiet=True))
    assert e.value.output == tmp_path / "out" and e.value.stages == [] and e.value.kept_in is None
    assert e.value.advice is None and str(e.value) == "interrupted: nothing to resume (no stage had finished)"


# ------------------------------------------------------------------------------------------ resume


def test_resume_completed_run_reuses_stages_when_export_gates_evaluation_change(recipe_file, reference, tmp_path):
    """Stages in DIR/stages (a completed run) are continued from; export, gates, evaluation and the data
    file's location do not invalidate them; a changed eval set re-measures their Keras accuracy."""
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    moved = tmp_path / "moved.npz"
    shutil.copy(DATA, moved)  # same contents elsewhere
    res = cli("run", recipe_file, "--output", out, "--resume", "--quiet",
              "--set", "export.quantization=float16", "--set", "gates.max_latency_ms=1000",
              "--set", "evaluation.latency_runs=2", "--set", f"data.train.path={moved}",
              "--set", "data.eval.stop=100")
    assert res.exit_code == 0, res.output
    got, want = report(out), report(reference)
    assert got["result"]["quantization"] == "float16"
    assert [s["seconds"] for s in got["stages"]] == [s["seconds"] for s in want["stages"]]  # not re-run
    for ra, rb in zip(got["stages"], want["stages"], strict=True):
        assert {k: v for k, v in ra.items() if k != "keras_accuracy"} == \
            {k: v for k, v in rb.items() if k != "keras_accuracy"}
    from optimize_cli import models

    m = models.load_stage_model(reference / "stages" / "02_cluster" / "model", "cluster")
    with np.load(DATA) as f:
        x, y = f["x_test"][:100], f["y_test"][:100]
    acc = float(np.mean(np.argmax(m.predict(x, verbose=0), axis=1) == y))
    assert got["stages"][1]["keras_accuracy"] == pytest.approx(acc, abs=1e-9)
    assert not (tmp_path / ".out.partial").exists()


@pytest.mark.parametrize("sets, says", [
    (["--set", "stages.0.target_sparsity=0.6"],
     "since stage 1 (prune) was made, the recipe's stage or training parameters changed "
     "(stages[0].target_sparsity: 0.5 → 0.6)"),
    (["--set", "stages.1.clusters=6"],
     "since stage 2 (cluster) was made, the recipe's stage or training parameters changed "
     "(stages[1].clusters: 8 → 6)"),
    (["--seed", "4"], "(training.seed: 3 → 4)"),
    (["--set", "data.train.stop=100"], "the training data changed (data.train.stop: 128 → 100)"),
    (["--model", str(ROOT / "sample_models" / "digits_dscnn")],
     f"the model changed ({ROOT / 'sample_models' / 'digits_dscnn'} has different contents)"),
    ("changed-data", "the training data changed (data.train ("),
])
def test_resume_refuses_what_changed(recipe_file, reference, tmp_path, sets, says):
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    before = tree_digest(out)
    if sets == "changed-data":
        with np.load(DATA) as f:
            arrays = dict(f)
        arrays["y_train"] = arrays["y_train"].copy()
        arrays["y_train"][0] = (arrays["y_train"][0] + 1) % 10
        np.savez(tmp_path / "changed.npz", **arrays)
        sets = ["--set", f"data.train.path={tmp_path / 'changed.npz'}"]
    res = cli("run", recipe_file, "--output", out, "--resume", "--quiet", *sets)
    assert res.exit_code == 2, res.output
    line, = res.stderr.strip().splitlines()
    assert line.startswith(f"error: --resume: cannot continue {out}: ")
    assert says in line
    assert line.endswith("run with --force instead of --resume to start over")
    assert tree_digest(out) == before
    assert not (tmp_path / ".out.partial").exists()


def test_resume_refuses_a_stage_without_fingerprint(recipe_file, reference, tmp_path):
    """A finished stage whose manifest entry is missing is refused rather than trusted."""
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    manifest = json.loads((out / "stages" / "manifest.json").read_text())
    del manifest["stages"]["1"]
    (out / "stages" / "manifest.json").write_text(json.dumps(manifest))
    res = cli("run", recipe_file, "--output", out, "--resume", "--quiet")
    assert res.exit_code == 2
    assert "stage 1 (prune)" in res.stderr and "no fingerprint" in res.stderr
