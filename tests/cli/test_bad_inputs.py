"""Bad inputs, one table: every wrong recipe, model, data file, output directory or environment fault ends
with its documented exit code (2 usage/recipe/output · 3 model/data · 4 a stage or a write of the run
failed) and exactly one line on stderr that names the file, key or layer at fault — no traceback, nothing
on stdout, and whatever was in the output directory before left as it was.

Each row is a function that builds its bad input in a temporary folder and returns the arguments of
`optimize-cli run` (in-process with CliRunner; one more test runs a row in a real subprocess)."""
from __future__ import annotations

import copy
import errno
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from optimize_cli.cli import main
from optimize_cli.run.run_dir import write_marker

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "sample_models" / "digits_cnn"
DATA = ROOT / "sample_models" / "digits.npz"

#: post-training only: the model and the data are loaded and checked, nothing is trained
PTQ = {
    "version": 1,
    "name": "bad-inputs",
    "model": str(MODEL),
    "data": {"eval": {"type": "npz", "path": str(DATA), "x": "x_test", "y": "y_test", "stop": 60}},
    "stages": [],
    "export": {"quantization": "dynamic"},
    "evaluation": {"latency_runs": 2, "latency_warmup": 0},
}
#: one short training stage on 128 samples
PRUNE = {
    **PTQ,
    "data": {"train": {"type": "npz", "path": str(DATA), "x": "x_train", "y": "y_train", "stop": 128},
             "eval": {"type": "npz", "path": str(DATA), "x": "x_test", "y": "y_test", "stop": 60}},
    "stages": [{"type": "prune", "epochs": 1}],
}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Nothing a test runs may write outside its temporary directory (no runs/ in the repository)."""
    monkeypatch.chdir(tmp_path)


@dataclass
class Work:
    """A row's temporary folder, with helpers to write recipes, arrays and models into it."""

    dir: Path
    monkeypatch: pytest.MonkeyPatch
    keeps: set = field(default_factory=set)  # top-level names a failed run may leave (beyond what existed)

    def recipe(self, doc: dict = PTQ, file: str = "recipe.yaml", **changes) -> Path:
        """`doc` with dotted-key changes (`**{"data.eval.x": "nope"}`), written as YAML."""
        doc = copy.deepcopy(doc)
        for key, value in changes.items():
            node, parts = doc, key.split(".")
            for p in parts[:-1]:
                node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
            node[parts[-1]] = value
        path = self.dir / file
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    def npz(self, name: str = "bad.npz", **arrays) -> Path:
        path = self.dir / name
        np.savez(path, **arrays)
        return path

    def text(self, name: str, content: str | bytes) -> Path:
        path = self.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path

    def earlier_results(self) -> Path:
        """An output directory holding a completed earlier run's files."""
        out = self.dir / "out"
        (out / "stages").mkdir(parents=True)
        write_marker(out, "earlier")
        (out / "model.tflite").write_bytes(b"TFL3" + bytes(range(200)))
        (out / "report.json").write_text(json.dumps({"schema_version": 1}))
        return out


def digits(n: int = 12):
    with np.load(DATA) as f:
        return f["x_test"][:n].copy(), f["y_test"][:n].copy()


CASES: dict[str, tuple[Callable[[Work], list], int, tuple[str, ...]]] = {}


def case(name: str, code: int, *needles: str):
    """Register a row: `needles` must all be in the one stderr line ({w} is the row's folder)."""
    def register(fn):
        assert name not in CASES
        CASES[name] = (fn, code, needles)
        return fn
    return register


# ------------------------------------------------------------------------------------------ recipe


@case("recipe: file missing", 2, "{w}/missing.yaml: recipe file not found")
def _(w):
    return [w.dir / "missing.yaml"]


@case("recipe: is a directory", 2, "{w}/adir: is a directory, not a recipe file")
def _(w):
    (w.dir / "adir").mkdir()
    return [w.dir / "adir"]


@case("recipe: empty", 2, "{w}/recipe.yaml: the recipe is empty")
def _(w):
    return [w.text("recipe.yaml", "# nothing yet\n")]


@case("recipe: not UTF-8", 2, "{w}/recipe.yaml:2: not a UTF-8 text file (byte 0xff)")
def _(w):
    return [w.text("recipe.yaml", b"version: 1\nname: \"\xff\"\n")]


@case("recipe: YAML syntax error", 2, "{w}/recipe.yaml:", "YAML syntax error")
def _(w):
    return [w.text("recipe.yaml", "version: 1\ndata:\n  eval: {path: x.npz, x: x_test\nstages: []\n")]


@case("recipe: unknown key", 2, "{w}/recipe.yaml:", "stagse: unknown key (did you mean 'stages'?)")
def _(w):
    return [w.text("recipe.yaml", f"version: 1\nmodel: {MODEL}\nstagse: []\n")]


@case("recipe: path traversal in name", 2, "{w}/recipe.yaml:", "name: must be letters", "'../evil'")
def _(w):
    return [w.recipe(name="../evil")]


@case("recipe: stages out of order", 2, "{w}/recipe.yaml:", "'prune' cannot come after 'cluster'")
def _(w):
    return [w.recipe(PRUNE, stages=["cluster", "prune"])]


@case("recipe: skip_layers names a missing layer", 2, "stages[0].skip_layers: the model has no layer named 'nope'",
      "dense1")
def _(w):
    return [w.recipe(PRUNE, stages=[{"type": "prune", "epochs": 1, "skip_layers": ["nope"]}])]


@case("command line: --set without =", 2, "--set stages: expected KEY=VALUE")
def _(w):
    return [w.recipe(), "--set", "stages"]


@case("command line: --set unknown key", 2, "training.lr: unknown key", "(from --set training.lr)")
def _(w):
    return [w.recipe(), "--set", "training.lr=0.1"]


@case("command line: --set index out of range", 2, "--set stages.3.epochs: stages[3] does not exist")
def _(w):
    return [w.recipe(PRUNE), "--set", "stages.3.epochs=2"]


@case("command line: unknown option", 2, "No such option '--frob'", "optimize-cli run --help")
def _(w):
    return [w.recipe(), "--frob"]


@case("command line: --seed not a number", 2, "Invalid value for '--seed': 'abc'")
def _(w):
    return [w.recipe(), "--seed", "abc"]


# ------------------------------------------------------------------------------------------- model


@case("model: path missing", 2, "{w}/recipe.yaml:", "model", "{w}/no_model")
def _(w):
    return [w.recipe(model=str(w.dir / "no_model"))]


@case("model: empty directory", 3, "{w}/empty_model: a directory but not a SavedModel (no saved_model.pb)")
def _(w):
    (w.dir / "empty_model").mkdir()
    return [w.recipe(model=str(w.dir / "empty_model"))]


@case("model: corrupt saved_model.pb", 3, "{w}/broken: cannot read saved_model.pb")
def _(w):
    w.text("broken/saved_model.pb", b"\x00garbage\xff" * 10)
    return [w.recipe(model=str(w.dir / "broken"))]


@case("model: Keras 3 .keras file with a layer it cannot translate", 2,
      "model: layer 'noise' is of class 'GaussianNoise', which cannot be translated from Keras 3 to tf_keras")
def _(w):
    layers = [{"class_name": "InputLayer", "config": {"name": "x", "batch_shape": [None, 4]}},
              {"class_name": "GaussianNoise", "config": {"name": "noise", "stddev": 0.1}}]
    with zipfile.ZipFile(w.dir / "k3.keras", "w") as z:
        z.writestr("config.json", json.dumps({"module": "keras", "class_name": "Functional",
                                              "config": {"layers": layers}}))
        z.writestr("metadata.json", json.dumps({"keras_version": "3.3.3"}))
        z.writestr("model.weights.h5", b"")
    return [w.recipe(), "--model", w.dir / "k3.keras"]


@case("model: .h5 with a Lambda layer", 3, "{w}/lambda.h5: layer 'doubler' is a Lambda layer", "--trust-model")
def _(w):
    from optimize_cli.tf import keras

    inp = keras.Input((8, 8, 1))
    h = keras.layers.Lambda(lambda t: t * 2.0, name="doubler")(keras.layers.Flatten()(inp))
    keras.Model(inp, keras.layers.Dense(10, activation="softmax")(h)).save(str(w.dir / "lambda.h5"))
    return [w.recipe(), "--model", w.dir / "lambda.h5"]


@case("model: a .tflite file", 3, "{w}/m.tflite: is already a .tflite model")
def _(w):
    return [w.recipe(), "--model", w.text("m.tflite", b"\x1c\x00\x00\x00TFL3" + bytes(64))]


@case("model: .h5 that is not HDF5", 3, "{w}/fake.h5: not a readable HDF5 model file")
def _(w):
    return [w.recipe(), "--model", w.text("fake.h5", b"this is not hdf5")]


@case("model: unknown file format", 3, "{w}/model.bin: not a model this tool can read")
def _(w):
    return [w.recipe(), "--model", w.text("model.bin", b"\x00\x01\x02 no model here")]


@case("model: SavedModel without Keras, with stages", 3,
      "is a SavedModel without a Keras model (tf_savedmodel); training stages need the Keras model file")
def _(w):
    return [w.recipe(PRUNE, model=str(plain_savedmodel(w.dir)))]


# -------------------------------------------------------------------------------------------- data


@case("data: file missing", 2, "{w}/recipe.yaml:", "data.eval.path", "{w}/nothere.npz")
def _(w):
    return [w.recipe(**{"data.eval.path": str(w.dir / "nothere.npz")})]


@case("data: npz key missing", 2, "data.eval.x", "x_tset", "did you mean 'x_test'")  # found in validation (issue 10.13)
def _(w):
    return [w.recipe(**{"data.eval.x": "x_tset"})]


@case("data: npz is not a zip", 3, "data.eval.path: {w}/junk.npz: not a readable .npz file")
def _(w):
    return [w.recipe(**{"data.eval.path": str(w.text("junk.npz", b"plain text, not a zip"))})]


@case("data: x and y lengths differ", 3, "data.eval: bad.npz: 'x' has 12 samples but 'y' has 11")
def _(w):
    x, y = digits()
    return [w.recipe(**{"data.eval": {"path": str(w.npz(x=x, y=y[:11]))}})]


@case("data: NaN in the inputs", 3, "data.eval: sample 3", "has NaN or infinite input values")
def _(w):
    x, y = digits()
    x[3, 2, 2, 0] = np.nan
    return [w.recipe(**{"data.eval": {"path": str(w.npz(x=x, y=y))}})]


@case("data: label out of range", 3, "data.eval: sample 2", "has label 12 but the model has 10 outputs")
def _(w):
    x, y = digits()
    y[2] = 12
    return [w.recipe(**{"data.eval": {"path": str(w.npz(x=x, y=y))}})]


@case("data: input shape differs from the model's", 3, "data.eval: samples have shape (4, 4, 1)",
      "the model's input is (None, 8, 8, 1)")
def _(w):
    x, y = digits()
    return [w.recipe(**{"data.eval": {"path": str(w.npz(x=x[:, :4, :4], y=y))}})]


@case("data: empty slice", 3, "data.eval: digits.npz[x_test] has no samples in the selected range")
def _(w):
    return [w.recipe(**{"data.eval.start": 5000, "data.eval.stop": 6000})]


@case("data: labels are strings", 3, "data.eval: bad.npz[y] has dtype <U1, expected numbers")
def _(w):
    x, y = digits()
    return [w.recipe(**{"data.eval": {"path": str(w.npz(x=x, y=np.array([str(v) for v in y])))}})]


@case("data: python source without --allow-code", 2,
      "data.eval: python data sources run code from the recipe; pass --allow-code")
def _(w):
    return [w.recipe(**{"data.eval": {"type": "python", "function": "mod:make", "path": str(w.dir)}})]


@case("data: int8 without calibration data", 2, "{w}/recipe.yaml:", "export.quantization: int8 needs calibration data")
def _(w):
    return [w.recipe(**{"export.quantization": "int8"})]


# ------------------------------------------------------------------------------------------ output


@case("output: is a file", 2, "--output {w}/out: exists and is a file, not a directory")
def _(w):
    return [w.recipe(), "--output", w.text("out", "a file")]


@case("output: exists without --force", 2, "--output {w}/out: already exists (from an earlier run); use --force")
def _(w):
    w.earlier_results()
    return [w.recipe()]


@case("output: parent is a file", 2, "--output {w}/afile/out: {w}/afile is a file, not a directory")
def _(w):
    w.text("afile", "not a folder")
    return [w.recipe(), "--output", w.dir / "afile" / "out"]


@case("output: parent not writable", 2, "--output {w}/ro/out: cannot write there (permission denied (errno 13)")
def _(w):
    (w.dir / "ro").mkdir()
    real = os.mkdir

    def mkdir(path, *a, **k):  # the OS refusing (tests run as root, which ignores chmod 555)
        if str(path).startswith(str(w.dir / "ro")):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(path, *a, **k)

    w.monkeypatch.setattr(os, "mkdir", mkdir)
    return [w.recipe(), "--output", w.dir / "ro" / "out"]


@case("output: the root directory", 2, "--output /: cannot be the root directory")
def _(w):
    return [w.recipe(), "--output", "/"]


@case("output: a link to nothing", 2, "--output {w}/out: is a symbolic link to", "which is not a directory")
def _(w):
    (w.dir / "out").symlink_to(w.dir / "gone")
    return [w.recipe()]


@case("output: holds an input of the run", 2, "--output {w}/out: contains {w}/out/data.npz, an input of this run")
def _(w):
    out = w.earlier_results()
    x, y = digits()
    np.savez(out / "data.npz", x=x, y=y)
    return [w.recipe(**{"data.eval": {"path": str(out / "data.npz")}}), "--force"]


@case("output: interrupted run's stages, no --resume", 2,
      "--output {w}/out: an interrupted run left finished stages in {w}/.out.partial/stages (01_prune)",
      "use --resume to continue it or --force")
def _(w):
    stage = w.dir / ".out.partial" / "stages" / "01_prune"
    w.text(".out.partial/stages/01_prune/record.json", "{}")
    write_marker(w.dir / ".out.partial", "interrupted")
    w.text(".out.partial/stages/01_prune/model/model.keras", b"PK")
    assert stage.is_dir()
    return [w.recipe(PRUNE)]


# ----------------------------------------------------------------------------- stages, environment


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(args[-1] if args else ""))


@case("environment: disk full while saving a stage", 4,
      "stage 1 (prune): cannot save its checkpoint in {w}/.out.partial/stages/01_prune",
      "no space left on device (errno 28)", "run again with --resume")
def _(w):
    from optimize_cli import models

    def save(model, directory):  # part of the checkpoint is written, then the disk is full
        Path(directory).mkdir(parents=True)
        (Path(directory) / "model.keras").write_bytes(b"PK half")
        _disk_full(directory)

    w.monkeypatch.setattr(models, "save_stage_model", save)
    w.earlier_results()
    return [w.recipe(PRUNE), "--force"]


@case("environment: disk full while writing the report", 4, "output: cannot write the results in {w}/.out.partial",
      "no space left on device (errno 28)")
def _(w):
    from optimize_cli import report

    w.monkeypatch.setattr(report, "write_reports", _disk_full)
    w.earlier_results()
    return [w.recipe(), "--force"]


@case("environment: results cannot be moved into place", 4,
      "output: cannot move the results from {w}/.out.partial into {w}/out", "(errno 18)",
      "they are complete in {w}/.out.partial")
def _(w):
    real = os.replace

    def replace(src, dst, *a, **k):  # e.g. DIR on another file system than its parent
        if str(src) == str(w.dir / ".out.partial"):
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), str(src), None, str(dst))
        return real(src, dst, *a, **k)

    w.monkeypatch.setattr(os, "replace", replace)
    w.earlier_results()
    w.keeps.add(".out.partial")  # the complete results, which the message points to
    return [w.recipe(), "--force"]


@case("stage: training diverges (NaN / exploding loss)", 4, "stage 1 (prune): training diverged at epoch 1/1",
      "lower the learning rate (now 10")
def _(w):
    return [w.recipe(PRUNE, training={"optimizer": "sgd", "learning_rate": 10})]


@case("stage: the TFLite converter fails", 4, "baseline: the TFLite converter failed for none",
      "'tf.Svd' op is neither a custom op nor a flex op", "full log: {w}/.out.partial/baseline-convert-none.log")
def _(w):
    w.keeps.add(".out.partial")  # the converter's log, which the message points to
    return [w.recipe(model=str(plain_savedmodel(w.dir)), export={"quantization": "none"})]


_SVD_MODEL: list[Path] = []


def plain_savedmodel(into: Path) -> Path:
    """A tf.Module SavedModel (no Keras) whose SVD op TFLite cannot convert; built once per session."""
    import shutil

    if not _SVD_MODEL:
        from optimize_cli.tf import tf

        class Svd(tf.Module):
            @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.float32)])
            def __call__(self, x):
                s = tf.linalg.svd(tf.reshape(x, [-1, 8, 8]), compute_uv=False)
                return {"probs": tf.nn.softmax(tf.concat([s, s[:, :2]], axis=1))}

        m = Svd()
        built = Path(os.environ.get("PYTEST_TMP_SVD") or into.parent) / "svd_savedmodel"
        tf.saved_model.save(m, str(built), signatures={"serving_default": m.__call__})
        _SVD_MODEL.append(built)
    target = into / "svd_model"
    shutil.copytree(_SVD_MODEL[0], target)
    return target


# --------------------------------------------------------------------------------------- the tests


def digest(d: Path) -> dict:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file() and not p.is_symlink()}


def test_bad_inputs_table_has_at_least_30_rows():
    assert len(CASES) >= 30, len(CASES)
    kinds = {name.split(":")[0] for name in CASES}
    assert {"recipe", "command line", "model", "data", "output", "environment", "stage"} <= kinds


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_one_line_and_exit_code(name, tmp_path, monkeypatch):
    fn, code, needles = CASES[name]
    w = Work(tmp_path, monkeypatch)
    args = [str(a) for a in fn(w)]
    if "--output" not in args:
        args += ["--output", str(tmp_path / "out")]
    before = digest(tmp_path)
    entries = set(os.listdir(tmp_path))

    res = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "80"}).invoke(main, ["run", *args, "--quiet"])

    assert res.exit_code == code, res.output
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: "), lines[0]
    for needle in needles:
        assert needle.format(w=tmp_path) in lines[0], lines[0]
    assert "Traceback" not in res.stderr
    # what was there before is untouched; a failed run leaves nothing new (but what the row allows)
    after = digest(tmp_path)
    assert {k: after.get(k) for k in before} == before
    assert set(os.listdir(tmp_path)) - entries <= w.keeps


def test_bad_input_in_a_subprocess_is_one_line_without_traceback(tmp_path):
    """The real entry point (`python -m optimize_cli`): exit code, one stderr line, nothing else."""
    w = Work(tmp_path, pytest.MonkeyPatch())
    recipe = w.recipe()
    (tmp_path / "out").write_text("a file")
    proc = subprocess.run([sys.executable, "-m", "optimize_cli", "run", str(recipe), "--output",
                           str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [f"error: --output {tmp_path / 'out'}: exists and is a file, not a directory"]
    assert sorted(os.listdir(tmp_path)) == ["out", "recipe.yaml"]
