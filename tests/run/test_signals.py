"""Ctrl-C / SIGTERM (issue 11 item 12, item 11's "SIGTERM twice", issue 10 item 9): the handler only
records the signal and the run stops at the next safe point, so a signal at any moment ends with 130 (or 0
when the run had finished), never exit 1 (`SystemError` from a handler raising inside native code) or 143;
`--resume` then finishes; the printed command works when pasted into a shell in another directory.

The twenty random moments are signals to one real driver process that runs the CLI in-process again and
again (TensorFlow is imported once, so twenty interrupted runs fit in seconds); the real program
(`python -m optimize_cli`) is signalled in the other tests."""
from __future__ import annotations

import json
import os
import queue
import random
import shlex
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import yaml

from optimize_cli.cli import invoked_as
from optimize_cli.run.run_dir import sibling

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "sample_models" / "digits_cnn"
DATA = ROOT / "sample_models" / "digits.npz"
ENV = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}

pytestmark = pytest.mark.slow

#: two short training stages: a run is a few seconds in-process, most of it in Keras fits and conversions
TINY = {
    "version": 1,
    "name": "signals",
    "model": str(MODEL),
    "data": {
        "train": {"type": "npz", "path": str(DATA), "x": "x_train", "y": "y_train", "stop": 48},
        "eval": {"type": "npz", "path": str(DATA), "x": "x_test", "y": "y_test", "stop": 20},
    },
    "training": {"batch_size": 8, "seed": 5},
    "stages": [
        {"type": "prune", "target_sparsity": 0.5, "epochs": 1},
        {"type": "cluster", "clusters": 8, "epochs": 1},
    ],
    "export": {"quantization": "dynamic"},
    "evaluation": {"latency_runs": 1, "latency_warmup": 0},
}
PTQ = {**TINY, "data": {"eval": TINY["data"]["eval"]}, "stages": []}

DRIVER = textwrap.dedent("""
    # runs `optimize-cli run ARGS` in-process for each JSON list on stdin; reports on the fd in argv[1]
    import json, os, signal, sys
    from optimize_cli.cli import main

    signal.signal(signal.SIGTERM, lambda s, f: None)  # between runs: a late signal is only dropped
    report = os.fdopen(int(sys.argv[1]), "w", buffering=1)
    sys.stdout = open(os.devnull, "w")
    for line in sys.stdin:
        report.write("start\\n")
        try:
            main.main(args=json.loads(line), standalone_mode=True)
            code = 0
        except SystemExit as e:
            code = e.code
        report.write(f"end {code}\\n")
""")


def write_recipe(folder: Path, doc: dict) -> Path:
    p = folder / "recipe.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


def wait_for(predicate, proc, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"{what}: {proc.communicate()[1]}")
        time.sleep(0.01)


def locked_by(out: Path, pid: int) -> bool:
    lock = sibling(out, "lock")
    try:
        return f'"pid": {pid}' in lock.read_text()
    except OSError:
        return False


class Driver:
    """The driver process: `run(args, delay)` starts one run, sends SIGTERM `delay` seconds after the run
    took its lock (its signal handlers are in place by then), and returns (exit code, seconds it ran)."""

    def __init__(self, folder: Path):
        script = folder / "driver.py"
        script.write_text(DRIVER)
        r, w = os.pipe()
        self.err = open(folder / "driver.err", "w+")
        self.proc = subprocess.Popen([sys.executable, str(script), str(w)], stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=self.err, text=True, env=ENV, cwd=folder,
                                     pass_fds=(w,))
        os.close(w)
        self.events: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, args=(r,), daemon=True).start()

    def _read(self, fd: int) -> None:
        with os.fdopen(fd) as fh:
            for line in fh:
                self.events.put(line.split())

    def run(self, args: list, out: Path, delay) -> tuple[int, float]:
        self.proc.stdin.write(json.dumps([str(a) for a in args]) + "\n")
        self.proc.stdin.flush()
        assert self.events.get(timeout=120) == ["start"]
        wait_for(lambda: locked_by(out, self.proc.pid) or not self.events.empty(), self.proc, "no lock taken")
        t0 = time.monotonic()
        if delay is not None:
            time.sleep(delay)
            self.proc.send_signal(signal.SIGTERM)
        event = self.events.get(timeout=300)
        assert event[0] == "end", event
        return int(event[1]), time.monotonic() - t0

    def close(self) -> str:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.err.seek(0)
        return self.err.read()


@pytest.fixture(scope="module")
def dense_model(tmp_path_factory) -> Path:
    """Flatten → Dense(16) → Dense(10): the cheapest model whose run still fits, converts and saves."""
    import numpy as np

    from optimize_cli.tf import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 1), name="image")
    h = keras.layers.Dense(16, activation="relu", name="hidden")(keras.layers.Flatten(name="flatten")(inp))
    m = keras.Model(inp, keras.layers.Dense(10, activation="softmax", name="out")(h))
    m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    with np.load(DATA) as d:
        m.fit(d["x_train"][:64], d["y_train"][:64], epochs=1, verbose=0)
    path = tmp_path_factory.mktemp("dense") / "dense.keras"
    m.save(str(path))
    return path


def test_signals_at_twenty_random_moments_end_130_and_resume_finishes(tmp_path, dense_model):
    """Each of twenty runs (or resumes) of a one-stage recipe gets one SIGTERM at a seeded random moment
    between taking its lock and about the end of an uninterrupted run: loading, the fit, conversions,
    measurements, the checkpoint, reports. Runs in one driver process: about 3 s each when uninterrupted
    (the whole test about 40 s on an idle machine)."""
    recipe = write_recipe(tmp_path, {**TINY, "model": str(dense_model), "stages": TINY["stages"][:1]})
    driver = Driver(tmp_path)
    try:
        code, seconds = driver.run(["run", recipe, "--output", tmp_path / "calibration", "--quiet"],
                                   tmp_path / "calibration", None)
        assert code == 0
        spread = 0.5 * seconds  # the first run in a process takes about twice as long as the next ones
        rng = random.Random(20261201)
        codes, chain, resume = [], 0, False
        for _ in range(20):  # each signal lands somewhere in a run: loading, a fit, a conversion, a save, ...
            out = tmp_path / f"out{chain}"
            args = ["run", recipe, "--output", out, "--quiet", *(["--resume"] if resume else [])]
            code, _ = driver.run(args, out, rng.uniform(0, spread))
            codes.append(code)
            assert code in (130, 0), (codes, driver.close())
            if code == 0:
                chain, resume = chain + 1, False
            else:
                resume = True
        if resume:  # the last run was interrupted: --resume finishes it
            out = tmp_path / f"out{chain}"
            assert driver.run(["run", recipe, "--output", out, "--quiet", "--resume"], out, None)[0] == 0
    finally:
        err = driver.close()
    assert "internal error" not in err and "Traceback" not in err and "SystemError" not in err, err
    lines = err.splitlines()
    assert len(lines) == codes.count(130) and all(line.startswith("interrupted: ") for line in lines), err
    for out in sorted(tmp_path.glob("out*")):  # every run finished, nothing left beside its results
        assert json.loads((out / "report.json").read_text())["result"]["tflite_bytes"] > 0
    assert not list(tmp_path.glob(".*"))


def paste(command: str, cwd: Path) -> subprocess.CompletedProcess:
    """The printed command, as printed, in a shell started in another directory."""
    return subprocess.run(command, shell=True, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300)


def test_signals_sigterm_twice_during_a_stage_is_130_and_the_printed_command_resumes(tmp_path, dense_model):
    recipe = write_recipe(tmp_path, {**TINY, "model": str(dense_model)})
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "optimize_cli", "run", "recipe.yaml", "--output", "out",
                             "--quiet"], cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    record = tmp_path / ".out.partial" / "stages" / "01_prune" / "record.json"
    wait_for(record.exists, proc, "stage 1 did not finish")
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)  # a second one, while the first is being handled: still 130
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr
    assert stdout == ""
    line, = stderr.strip().splitlines()
    head = f"interrupted: finished stages kept in {tmp_path / '.out.partial' / 'stages'} (01_prune"
    assert line.startswith(head), line
    command = line.split("; resume with: ", 1)[1]
    assert shlex.split(command) == [sys.executable, "-m", "optimize_cli", "run", str(recipe), "--quiet",
                                    "--output", str(out), "--resume"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = paste(command, elsewhere)
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "report.json").read_text())["stages"][0]["type"] == "prune"
    assert sorted(os.listdir(tmp_path)) == ["elsewhere", "out", "recipe.yaml"] and not os.listdir(elsewhere)


def test_signals_before_any_stage_says_nothing_to_resume_and_the_printed_command_reruns(tmp_path, dense_model):
    write_recipe(tmp_path, {**PTQ, "model": str(dense_model)})
    proc = subprocess.Popen([sys.executable, "-m", "optimize_cli", "run", "recipe.yaml", "--output", "out",
                             "--quiet"], cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    wait_for(lambda: locked_by(tmp_path / "out", proc.pid), proc, "no lock taken")
    proc.send_signal(signal.SIGTERM)  # the run checks the flag first thing after taking the lock
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr
    line, = stderr.strip().splitlines()
    assert line.startswith("interrupted: nothing to resume (no stage had finished); run again with: "), line
    command = line.split("run again with: ", 1)[1]
    assert shlex.split(command) == [sys.executable, "-m", "optimize_cli", "run", str(tmp_path / "recipe.yaml"),
                                    "--quiet", "--output", str(tmp_path / "out")]  # no --resume
    assert sorted(os.listdir(tmp_path)) == ["recipe.yaml"]
    (tmp_path / "elsewhere").mkdir()
    done = paste(command, tmp_path / "elsewhere")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "model.tflite").is_file()


def test_signals_the_program_is_named_as_it_was_invoked(tmp_path, monkeypatch):
    """`python -m optimize_cli`, a console script by its path (absolute), or by its name when PATH finds it."""
    main_py = str(ROOT / "optimize_cli" / "__main__.py")
    assert invoked_as(main_py) == [sys.executable, "-m", "optimize_cli"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "optimize-cli"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert invoked_as("bin/optimize-cli") == [str(script)]
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    assert invoked_as(str(script)) == ["optimize-cli"]
    assert invoked_as("optimize-cli") == ["optimize-cli"]
