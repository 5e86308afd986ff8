"""Hostile inputs, round 2 (issue 22): devices, FIFOs, bombs and absurd sizes in every path a recipe names,
in the recipe itself, in the environment and on the command line. Each row runs the real entry point in a
subprocess under RLIMIT_AS = 6 GB with a hang limit (HANG_S; each ends in about a second on an idle machine), and asserts its documented exit code (2 usage or
recipe), exactly one stderr line naming the path, key or bound, no traceback, the user's files unchanged
and, for a bomb, a peak memory far below what the bomb asks for. None of these rows imports TensorFlow.

The baseline cache rows (a user's folder under baselines/, tampered, empty and foreign entries) and the
dynamic-shape model run in-process: they are real runs of the sample model."""
from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "sample_models" / "digits_cnn"
DATA = ROOT / "sample_models" / "digits.npz"
AS_LIMIT = 6 * 2**30
#: a row still running after this long hangs (generous: the suite runs beside training tests on 2 cores)
HANG_S = 60
#: the peak resident memory a bomb row may reach (each bomb asks for at least 512 MiB)
BOMB_RSS = 400 * 2**20
#: run under RLIMIT_AS; writes its peak RSS (bytes) to $HOSTILE_RSS on exit
_CHILD = r"""
import atexit, os, resource, runpy, sys
resource.setrlimit(resource.RLIMIT_AS, (%d, %d))
def _peak():  # this program's own high-water mark (VmHWM: ru_maxrss would include the forking parent's)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
atexit.register(lambda: open(os.environ["HOSTILE_RSS"], "w").write(str(_peak())))
sys.argv = ["optimize-cli", *sys.argv[1:]]
runpy.run_module("optimize_cli", run_name="__main__")
""" % (AS_LIMIT, AS_LIMIT)

PLAIN = {
    "version": 1, "name": "hostile", "model": str(MODEL),
    "data": {"eval": {"type": "npz", "path": str(DATA), "x": "x_test", "y": "y_test", "stop": 60}},
    "stages": [], "export": {"quantization": "dynamic"},
}


@dataclass
class W:
    dir: Path
    env: dict = field(default_factory=dict)

    def recipe(self, doc: dict = PLAIN, name: str = "recipe.yaml", **top) -> Path:
        p = self.dir / name
        p.write_text(yaml.safe_dump({**doc, **top}, sort_keys=False))
        return p

    def fifo(self, name: str = "fifo") -> Path:
        p = self.dir / name
        os.mkfifo(p)
        return p

    def sparse(self, name: str, size: int) -> Path:
        p = self.dir / name
        with open(p, "wb") as fh:
            fh.truncate(size)
        return p


def _data(path, split="eval", **extra):
    return {**PLAIN["data"], split: {"type": "npz", "path": str(path), "x": "x_test", "y": "y_test", **extra}}


def _keras3_zip(path: Path, config: bytes | None = None, config_bytes: int = 0) -> Path:
    """A Keras 3 .keras zip: `config` as config.json, or `config_bytes` of spaces (a deflate bomb)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.5.0"}))
        if config is not None:
            z.writestr("config.json", config)
        else:
            with z.open("config.json", "w", force_zip64=True) as fh:
                chunk = b" " * (1 << 24)
                for _ in range(config_bytes >> 24):
                    fh.write(chunk)
    return path


def _many_layers(n: int) -> bytes:
    layers = [{"class_name": "InputLayer", "config": {"name": "in", "batch_shape": [None, 4]}}] + [
        {"class_name": "Dense", "config": {"name": f"d{i}", "units": 4}} for i in range(n)]
    return json.dumps({"class_name": "Sequential", "config": {"name": "s", "layers": layers}}).encode()


def _search(w: W, choices: int) -> Path:
    doc = {**PLAIN, "data": {**PLAIN["data"], "train": {**PLAIN["data"]["eval"], "x": "x_train", "y": "y_train"}},
           "stages": [{"type": "prune", "target_sparsity": {"search": {"choices": [
               round(0.05 + 0.9 * i / choices, 6) for i in range(choices)]}}}],
           "search": {"trials": 2}}
    p = w.dir / "search.yaml"
    p.write_text(yaml.safe_dump(doc, default_flow_style=True))
    return p


def _multi_worker(w: W) -> Path:
    doc = {**PLAIN, "data": {**PLAIN["data"], "train": {**PLAIN["data"]["eval"], "x": "x_train", "y": "y_train"}},
           "stages": [{"type": "prune", "epochs": 1}], "training": {"distribute": {"strategy": "multi_worker"}}}
    return w.recipe(doc)


#: name → (builder: W → argv, exit code, needles of the one stderr line ({w}: the row's folder), bomb)
ROWS: dict[str, tuple[Callable[[W], list], int, tuple[str, ...], bool]] = {}


def row(name: str, code: int, *needles: str, bomb: bool = False):
    def register(fn):
        assert name not in ROWS
        ROWS[name] = (fn, code, needles, bomb)
        return fn
    return register


# -------------------------------------------------------------------------------- paths a recipe names


@row("data path /dev/zero", 2, "data.eval.path: /dev/zero: is a device, not a regular file", bomb=True)
def _(w):
    return ["validate", w.recipe(data=_data("/dev/zero"))]


@row("data path a FIFO", 2, "data.eval.path: {w}/fifo: is a FIFO, not a regular file")
def _(w):
    return ["validate", w.recipe(data=_data(w.fifo()))]


@row("calibration data a FIFO", 2, "data.representative.path: {w}/cal: is a FIFO, not a regular file")
def _(w):
    return ["validate", w.recipe(data={**PLAIN["data"], **_data(w.fifo("cal"), "representative")})]


@row("tfrecord path /dev/zero", 2, "data.eval.path: /dev/zero: is a device, not a regular file", bomb=True)
def _(w):
    src = {"type": "tfrecord", "path": "/dev/zero", "features": {"x": {"shape": [8, 8, 1]}, "y": {"dtype": "int64"}}}
    return ["validate", w.recipe(data={"eval": src})]


@row("data path /dev/zero, run", 2, "data.eval.path: /dev/zero: is a device", bomb=True)
def _(w):
    return ["run", w.recipe(data=_data("/dev/zero")), "--output", w.dir / "out"]


@row("target config /dev/zero", 2, "targets[0].config: /dev/zero: is a device, not a regular file", bomb=True)
def _(w):
    return ["validate", w.recipe(targets=[{"type": "ethos-u", "config": "/dev/zero"}])]


@row("target config /dev/zero, run", 2, "targets[0].config: /dev/zero: is a device", bomb=True)
def _(w):
    return ["run", w.recipe(targets=[{"type": "ethos-u", "config": "/dev/zero"}]), "--output", w.dir / "out"]


@row("target config a FIFO", 2, "targets[0].config: {w}/vela.ini: is a FIFO, not a regular file")
def _(w):
    return ["validate", w.recipe(targets=[{"type": "ethos-u", "config": str(w.fifo("vela.ini"))}])]


@row("target config of 2 GiB", 2, "targets[0].config: {w}/vela.ini: is 2,147,483,648 bytes, over the 1,048,576 bytes",
     bomb=True)
def _(w):
    return ["validate", w.recipe(targets=[{"type": "ethos-u", "config": str(w.sparse("vela.ini", 2**31))}])]


@row("model path a FIFO", 2, "model: {w}/m.keras: is a FIFO, not a regular file or a directory")
def _(w):
    return ["validate", w.recipe(model=str(w.fifo("m.keras")))]


# -------------------------------------------------------------------------------- the recipe file itself


@row("recipe is a FIFO", 2, "{w}/r.yaml: cannot read recipe: is a FIFO, not a regular file")
def _(w):
    return ["validate", w.fifo("r.yaml")]


@row("recipe is /dev/zero", 2, "/dev/zero: cannot read recipe: is a device, not a regular file", bomb=True)
def _(w):
    return ["run", "/dev/zero"]


@row("recipe of 2 GiB", 2, "{w}/big.yaml: the recipe is 2,147,483,648 bytes, over the 262,144 bytes", bomb=True)
def _(w):
    return ["validate", w.sparse("big.yaml", 2**31)]


# -------------------------------------------------------------------------------- model files


@row(".keras zip bomb, validate", 2, "model: config.json declares 536,870,912 bytes, over the 268,435,456 bytes",
     bomb=True)
def _(w):
    return ["validate", w.recipe(model=str(_keras3_zip(w.dir / "bomb.keras", config_bytes=2**29)))]


@row(".keras zip bomb, run", 2, "model: config.json declares 536,870,912 bytes, over the 268,435,456 bytes",
     bomb=True)
def _(w):
    return ["run", w.recipe(model=str(_keras3_zip(w.dir / "bomb.keras", config_bytes=2**29))), "--output",
            w.dir / "out"]


@row("Keras 3 config of 200,000 layers", 2, "model: the model has more than 10,000 layers",
     "OPTIMIZE_CLI_MAX_LAYERS")
def _(w):
    return ["validate", w.recipe(model=str(_keras3_zip(w.dir / "many.keras", _many_layers(200_000))))]


# -------------------------------------------------------------------------------- search


@row("search space of 5,000 choices", 2, "stages[0].target_sparsity: 5,000 choices, more than the 1,000",
     "OPTIMIZE_CLI_MAX_SEARCH_CHOICES")
def _(w):
    return ["validate", _search(w, 5000)]


@row("search space of 200,000 choices", 2, "the recipe is", "over the 262,144 bytes this tool reads")
def _(w):
    return ["validate", _search(w, 200_000)]


@row("search --timeout nan", 2, "Invalid value for '--timeout': 'nan' is not a finite number of seconds")
def _(w):
    return ["search", _search(w, 2), "--timeout", "nan", "--output", w.dir / "out"]


@row("search --storage mysql without its driver", 2, "--storage mysql://u@localhost/db: the database driver is not "
     "installed")
def _(w):
    return ["search", "--report-only", "--storage", "mysql://u@localhost/db", "--output", w.dir / "out"]


@row("search --storage sqlite on a text file", 2, "--storage sqlite:///{w}/notes.txt: not an SQLite database")
def _(w):
    (w.dir / "notes.txt").write_text("my notes\n" * 100)
    return ["search", "--report-only", "--storage", f"sqlite:///{w.dir / 'notes.txt'}", "--output", w.dir / "out"]


# -------------------------------------------------------------------------------- environment


@row("TF_CONFIG nested 50,000 deep", 2, "TF_CONFIG is not valid JSON (nested deeper than the 64 levels")
def _(w):
    w.env["TF_CONFIG"] = "[" * 50_000 + "]" * 50_000
    return ["validate", _multi_worker(w)]


@row("TF_CONFIG nested 100 deep inside its task", 2, "TF_CONFIG is not valid JSON (nested deeper than the 64")
def _(w):
    inner = "[" * 100 + "]" * 100
    w.env["TF_CONFIG"] = '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0, "x": %s}}' % inner
    return ["validate", _multi_worker(w)]


# -------------------------------------------------------------------------------- the tests


def _digest(d: Path) -> dict:
    out = {}
    for p in sorted(d.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(d))] = (hashlib.sha256(p.read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode)
                                      and st.st_size < 2**20 else (stat.S_IFMT(st.st_mode), st.st_size))
    return out


@pytest.mark.parametrize("name", list(ROWS))
def test_hostile_input_one_line_exit_code_and_bounded(name, tmp_path):
    fn, code, needles, bomb = ROWS[name]
    w = W(tmp_path / "w")
    w.dir.mkdir()
    args = [str(a) for a in fn(w)]
    before = _digest(w.dir)
    rss = tmp_path / "rss"
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT), "HOSTILE_RSS": str(rss), **w.env}
    proc = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True, text=True, cwd=w.dir,
                          env=env, timeout=HANG_S, stdin=subprocess.DEVNULL)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle.format(w=w.dir) in lines[0], lines[0]
    assert _digest(w.dir) == before  # nothing of the user's changed, nothing written beside it
    if bomb:
        assert int(rss.read_text()) < BOMB_RSS


def test_hostile_search_space_of_1000_choices_validates_in_seconds(tmp_path):
    w = W(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "optimize_cli", "validate", str(_search(w, 1000))],
                          capture_output=True, text=True, timeout=HANG_S,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "search over 1 values" in proc.stdout


def test_hostile_table_covers_every_kind():
    assert len(ROWS) >= 20
