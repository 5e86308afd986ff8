"""Model paths that would hang or exhaust memory (issue 11, item 8): a device (/dev/zero), a FIFO, a sparse
3 GB file with an unknown suffix. Only regular files and directories are read, headers with bounded reads,
and `validate` checks it too. The hostile cases run in a child process with a 1 GiB address-space limit
and a timeout, so that the code before the fix (which read such files whole, or blocked on the FIFO)
fails the test instead of hanging it."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml
from click.testing import CliRunner

from optimize_cli.cli import main
from optimize_cli.models import files

_CHILD = r"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from click.testing import CliRunner
from optimize_cli.cli import main
from optimize_cli import models
from optimize_cli.errors import InputError
out = {}
for key, path in json.loads(sys.argv[1]).items():
    try:
        models.load_model(path)
        out["load " + key] = "loaded"
    except InputError as e:
        out["load " + key] = "InputError: " + str(e)
    for cmd in ("inspect", "compare"):
        r = CliRunner().invoke(main, [cmd, path])
        out[cmd + " " + key] = [r.exit_code, r.stderr.strip()]
out["tensorflow imported"] = "tensorflow" in sys.modules
print(json.dumps(out))
"""


@pytest.fixture()
def hostile_paths(tmp_path):
    fifo = tmp_path / "model.h5"
    os.mkfifo(fifo)
    sparse = tmp_path / "big.model"
    with open(sparse, "wb") as f:
        f.truncate(3 * 2**30)  # 3 GB of holes: no disk used
    return {"devzero": "/dev/zero", "fifo": str(fifo), "sparse": str(sparse)}


def test_devices_fifos_and_huge_files_are_refused_with_bounded_reads(hostile_paths):
    r = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(hostile_paths)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out.pop("tensorflow imported") is False
    for key, why in (("devzero", "is a device, not a regular file or a directory"),
                     ("fifo", "is a FIFO, not a regular file or a directory"),
                     ("sparse", "not a model this tool can read")):
        path = hostile_paths[key]
        assert out["load " + key].startswith(f"InputError: {path}: {why}"), out["load " + key]
    for key in ("devzero", "fifo"):
        for cmd in ("inspect", "compare"):
            code, err = out[f"{cmd} {key}"]
            assert code == 3 and err.startswith(f"error: {hostile_paths[key]}: is a ") and "\n" not in err, (cmd, err)
    for cmd in ("inspect", "compare"):
        code, err = out[f"{cmd} sparse"]
        assert code == 3 and hostile_paths["sparse"] in err and "\n" not in err, (cmd, err)
    assert "larger than" in out["compare sparse"][1]


def test_read_head_reads_at_most_n_bytes(tmp_path, monkeypatch):
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(3 * 2**30)
    sizes = []
    real_open = open

    class Spy:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.fh.close()

        def read(self, n=-1):
            sizes.append(n)
            return self.fh.read(n)

    monkeypatch.setattr("builtins.open", lambda *a, **k: Spy(real_open(*a, **k)))
    assert files.read_head(big, 8) == b"\0" * 8
    assert sizes == [8]


def test_path_problem_accepts_only_regular_files_and_directories(tmp_path):
    (tmp_path / "f").write_text("x")
    os.mkfifo(tmp_path / "p")
    assert files.path_problem(tmp_path / "f") is None and files.path_problem(tmp_path) is None
    assert files.path_problem(tmp_path / "nope") == "no such file or directory"
    assert files.path_problem(tmp_path / "p") == "is a FIFO, not a regular file or a directory"
    assert files.path_problem("/dev/zero") == "is a device, not a regular file or a directory"
    assert files.path_problem(tmp_path, dir_ok=False) == "is a directory, not a file"


def test_validate_and_run_refuse_a_fifo_or_device_model_naming_it(tmp_path):
    fifo = tmp_path / "model.keras"
    os.mkfifo(fifo)
    for model in (str(fifo), "/dev/zero"):
        recipe = tmp_path / "r.yaml"
        recipe.write_text(yaml.safe_dump({"version": 1, "name": "r", "model": model, "stages": [],
                                          "export": {"quantization": "dynamic"}}))
        for cmd in ("validate", "run"):
            r = CliRunner().invoke(main, [cmd, str(recipe), "--output", str(tmp_path / "o")] if cmd == "run"
                                   else [cmd, str(recipe)])
            assert r.exit_code == 2, (cmd, model, r.output)
            assert f"model: {model}: is a " in r.output + r.stderr, (cmd, r.output)
