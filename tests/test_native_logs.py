"""Native logging never reaches the terminal or CI log during `run` (issue 10 #10): fd 2 points at a log
file for the whole run while the tool's own stderr keeps the real one; --quiet prints nothing at all."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from optimize_cli.cli import main

ROOT = Path(__file__).resolve().parent.parent
NOISE = b"E0000 00:00:1700000000.000000 1 mkl_util.h:1] oneDNN supports DT_INT32 only on platforms with AVX-512\n"

# a real run in a fresh interpreter whose input loading also writes native noise straight to fd 2
NOISY_RUN = f"""
import os, sys
import optimize_cli.run.path as path
real = path.load_inputs
def noisy(*a, **k):
    os.write(2, {NOISE!r})
    return real(*a, **k)
path.load_inputs = noisy
from optimize_cli.cli import main
main(sys.argv[1:], prog_name="optimize-cli")
"""


def _ptq_none(tmp_path) -> Path:
    r = tmp_path / "r.yaml"
    r.write_text(f"version: 1\nname: t\nmodel: {ROOT / 'sample_models/digits_cnn'}\n"
                 f"data:\n  eval: {{type: npz, path: {ROOT / 'sample_models/digits.npz'}, x: x_test, y: y_test}}\n"
                 "export: {quantization: none}\n")
    return r


@pytest.mark.slow
def test_native_writes_to_fd2_during_a_run_stay_off_the_terminal(tmp_path, monkeypatch, capfd):
    import optimize_cli.run.path as path

    real = path.load_inputs

    def noisy(*a, **k):
        os.write(2, NOISE)
        return real(*a, **k)

    monkeypatch.setattr(path, "load_inputs", noisy)
    res = CliRunner().invoke(main, ["run", str(_ptq_none(tmp_path)), "--output", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "baseline" in res.stderr  # the tool's own lines still come through
    assert b"oneDNN" not in capfd.readouterr().err.encode()


@pytest.mark.slow
def test_native_logs_env_keeps_native_logs_on_the_terminal(tmp_path):
    """OPTIMIZE_CLI_NATIVE_LOGS=1 (debugging) leaves fd 2 alone: the noise shows, next to the tool's lines."""
    env = {**os.environ, "NO_COLOR": "1", "OPTIMIZE_CLI_NATIVE_LOGS": "1"}
    proc = subprocess.run([sys.executable, "-c", NOISY_RUN, "run", str(_ptq_none(tmp_path)), "--output",
                           str(tmp_path / "b")], capture_output=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"oneDNN" in proc.stderr and b"baseline" in proc.stderr


@pytest.mark.slow
def test_quiet_pcqat_run_prints_nothing_on_stderr(tmp_path):
    """The acceptance check of issue 10: a --quiet PCQAT run (prune → cluster → PCQAT → int8, one short
    epoch each: ~15 s, the one path that logged oneDNN noise) in a fresh interpreter prints nothing on
    stderr, even with native noise injected."""
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("OPTIMIZE_CLI_NATIVE_LOGS", None)
    sets = [a for i in range(3) for a in ("--set", f"stages.{i}.epochs=1")]
    proc = subprocess.run([sys.executable, "-c", NOISY_RUN, "run", "prune-cluster-pcqat", "--quiet",
                           "--output", str(tmp_path / "out"), *sets, "--set", "gates.max_accuracy_drop=1",
                           "--set", "gates.min_compression_ratio=1"],
                          capture_output=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr == b""
    assert b"result" in proc.stdout


@pytest.mark.slow
def test_inspect_of_a_keras_model_keeps_tensorflow_native_log_off_stderr(tmp_path):
    """`inspect` imports TensorFlow for a SavedModel: its native log (absl's warning, oneDNN, CUDA probing,
    printed twice before) stays off stderr; the table is on stdout."""
    env = {k: v for k, v in os.environ.items() if k != "OPTIMIZE_CLI_NATIVE_LOGS"}
    proc = subprocess.run([sys.executable, "-m", "optimize_cli", "inspect", str(ROOT / "sample_models/digits_cnn")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "totals:" in proc.stdout
    assert proc.stderr == "", proc.stderr


def test_inspect_refuses_data_files_by_name_and_magic_bytes_without_tensorflow(tmp_path):
    """A data file, or a .h5 / .keras that is not one, is refused at once (exit 3) from its name and first
    bytes: no TensorFlow import, no native log."""
    fake_h5 = tmp_path / "m.h5"
    fake_h5.write_bytes(b"this is not hdf5")
    fake_keras = tmp_path / "m.keras"
    fake_keras.write_bytes(b"not a zip at all")
    code = ("import sys, json\nfrom click.testing import CliRunner\nfrom optimize_cli.cli import main\nout = {}\n"
            "for p in sys.argv[1:]:\n    r = CliRunner().invoke(main, ['inspect', p])\n"
            "    out[p] = [r.exit_code, r.stderr]\nout['tf'] = 'tensorflow' in sys.modules\nprint(json.dumps(out))\n")
    files = [str(ROOT / "sample_models/digits.npz"), str(fake_h5), str(fake_keras)]
    proc = subprocess.run([sys.executable, "-c", code, *files], capture_output=True, text=True, timeout=120)
    import json

    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out.pop("tf") is False
    assert out[files[0]] == [3, f"error: {files[0]}: a NumPy .npz data file, not a model (expected a .tflite "
                                "file, a SavedModel directory, or a .h5 / .keras file)\n"]
    assert out[files[1]][0] == 3 and "not an HDF5 file" in out[files[1]][1]
    assert out[files[2]][0] == 3 and "not a zip archive" in out[files[2]][1]
