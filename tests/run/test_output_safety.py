"""The output directory never costs a user a file (issue 11, items 4–7 and 11): --force and --resume touch
only directories a run wrote (the `.optimize-cli-run` marker), siblings `.DIR.partial`/`.DIR.old` only when
marked, one run at a time (a lock naming the holder's PID), no output inside an input, long names, a full
stdout, and `--json` errors as a JSON object."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from run_helpers import MODEL, ROOT, cli, ptq_recipe

from optimize_cli.run.run_dir import MARKER, RunDir, is_marked, sibling

PTQ = ptq_recipe('output-safety', 40)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Nothing a test runs may write outside its temporary directory (no runs/ in the repository)."""
    monkeypatch.chdir(tmp_path)


def write_recipe(folder: Path, doc: dict = PTQ) -> Path:
    p = folder / "recipe.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


def digest(d: Path) -> dict:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file() and not p.is_symlink()}


def one_error_line(res) -> str:
    assert "Traceback" not in res.output
    line, = res.stderr.strip().splitlines()
    assert line.startswith("error: "), line
    return line


@pytest.fixture
def home(tmp_path) -> Path:
    """A user's home folder: a private key and notes, no run ever wrote here."""
    h = tmp_path / "home"
    (h / ".ssh").mkdir(parents=True)
    (h / ".ssh" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n")
    (h / "notes.txt").write_text("mine")
    return h


# ------------------------------------------------------------------- 4: --force / --resume need the marker


@pytest.mark.parametrize("output, flag", [(".", "--force"), ("home", "--force"), ("home", "--resume"),
                                          ("home", None)])
def test_output_a_folder_no_run_wrote_is_never_replaced(home, tmp_path, monkeypatch, output, flag):
    recipe = write_recipe(tmp_path)
    if output == ".":
        monkeypatch.chdir(home)
    before, beside = digest(tmp_path), sorted(os.listdir(tmp_path))
    res = cli("run", recipe, "--output", output, "--quiet", *([flag] if flag else []))
    assert res.exit_code == 2, res.output
    line = one_error_line(res)
    assert line.startswith(f"error: --output {output}: already exists and is not an optimize-cli output directory "
                           f"(it holds files but no {MARKER});")
    assert "from an earlier run" not in line
    if flag:
        assert f"{flag} {'replaces' if flag == '--force' else 'continues'} only a directory that optimize-cli wrote" in line
    assert digest(tmp_path) == before and sorted(os.listdir(tmp_path)) == beside  # nothing touched, nothing new
    assert not is_marked(home)


@pytest.mark.slow
def test_output_every_run_directory_carries_the_marker_and_force_replaces_it(tmp_path):
    recipe = write_recipe(tmp_path)
    res = cli("run", recipe, "--output", "out", "--quiet")
    assert res.exit_code == 0, res.output
    marker = json.loads((tmp_path / "out" / MARKER).read_text())
    assert marker["tool"] == "optimize-cli" and marker["version"] and len(marker["run_id"]) == 32
    res = cli("run", recipe, "--output", "out", "--quiet")  # an earlier run's: the message says so
    assert res.exit_code == 2
    assert "already exists (from an earlier run); use --force" in one_error_line(res)
    res = cli("run", recipe, "--output", "out", "--quiet", "--force")
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "out" / MARKER).read_text())["run_id"] != marker["run_id"]
    assert sorted(os.listdir(tmp_path)) == ["out", "recipe.yaml"]  # no lock, partial or old left


def test_output_an_empty_folder_is_used(tmp_path):
    (tmp_path / "empty").mkdir()
    out = RunDir(tmp_path / "empty", force=False, resume=False)
    try:
        assert is_marked(out.partial)
    finally:
        out.release()


# ------------------------------------------------------------------ 6: siblings are touched only if marked


@pytest.mark.parametrize("name", [".out.old", ".out.partial"])
def test_output_a_users_own_sibling_folder_is_left_alone(tmp_path, name):
    """Before: a user's `.out.old` was renamed over `out`, a user's `.out.partial` deleted by any run."""
    mine = tmp_path / name
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    recipe = write_recipe(tmp_path)
    res = cli("run", recipe, "--output", tmp_path / "out", "--quiet", "--force")
    assert res.exit_code == 2, res.output
    line = one_error_line(res)
    assert f"{mine} exists and was not made by optimize-cli (no {MARKER} in it)" in line
    assert (mine / "thesis.tex").read_text() == "years of work"
    assert sorted(os.listdir(tmp_path)) == [name, "recipe.yaml"]


def test_output_a_users_file_named_like_the_lock_is_left_alone(tmp_path):
    (tmp_path / ".out.lock").write_text("my lock notes")
    with pytest.raises(Exception, match=r"\.out\.lock exists and was not written by optimize-cli"):
        RunDir(tmp_path / "out", force=False, resume=False)
    assert (tmp_path / ".out.lock").read_text() == "my lock notes"
    assert sorted(os.listdir(tmp_path)) == [".out.lock"]


# -------------------------------------------------------------------------- 5: one run at a time


def test_output_a_second_run_into_a_locked_output_is_refused_naming_the_pid(tmp_path):
    recipe = write_recipe(tmp_path)
    first = RunDir(tmp_path / "out", force=False, resume=False)  # the lock held by this process
    try:
        (first.partial / "stages" / "work-of-the-first-run").write_text("x")
        res = cli("run", recipe, "--output", tmp_path / "out", "--quiet", "--force")
        assert res.exit_code == 2, res.output
        assert (f"--output {tmp_path / 'out'}: another optimize-cli run (PID {os.getpid()}) is writing it"
                in one_error_line(res))
        assert (first.partial / "stages" / "work-of-the-first-run").is_file()  # not deleted
    finally:
        first.release()
    assert not sibling(tmp_path / "out", "lock").exists()


@pytest.mark.slow
def test_output_two_processes_and_a_full_stdout(tmp_path):
    """A real first run (`run --json > /dev/full`), stopped while it holds the lock: a second run is refused
    naming its PID; resumed, the first finishes its results and ends with exit 4 and one line, because
    stdout cannot be written (before: exit 1)."""
    recipe = write_recipe(tmp_path)
    out = tmp_path / "out"
    lock = sibling(out, "lock")
    with open("/dev/full", "w") as full:
        proc = subprocess.Popen([sys.executable, "-m", "optimize_cli", "run", str(recipe), "--output", str(out),
                                 "--quiet", "--json"], stdout=full, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 120
        while f'"pid": {proc.pid}' not in (lock.read_text() if lock.exists() else ""):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr and proc.stderr.read()
            time.sleep(0.02)
        proc.send_signal(signal.SIGSTOP)
        res = cli("run", recipe, "--output", out, "--quiet", "--force")
        assert res.exit_code == 2, res.output
        assert f"another optimize-cli run (PID {proc.pid}) is writing it" in one_error_line(res)
    finally:
        proc.send_signal(signal.SIGCONT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 4, err
    assert err.splitlines() == [f"error: stdout: cannot write the summary (no space left on device (errno 28)); "
                                f"the results are complete in {out}"]
    assert (out / "report.json").is_file() and sorted(os.listdir(tmp_path)) == ["out", "recipe.yaml"]


# ----------------------------------------------------------------------- 7: no output inside an input


def test_output_inside_the_model_directory_is_refused(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(MODEL, model)
    before = digest(model)
    recipe = write_recipe(tmp_path, {**PTQ, "model": str(model)})
    res = cli("run", recipe, "--output", model / "variables" / "out", "--quiet")
    assert res.exit_code == 2, res.output
    assert f"--output {model / 'variables' / 'out'}: is inside {model}, an input of this run" in one_error_line(res)
    assert digest(model) == before and sorted(os.listdir(model)) == sorted(os.listdir(MODEL))


def test_output_inside_a_data_folder_is_refused(tmp_path):
    images = tmp_path / "images"
    (images / "cat").mkdir(parents=True)
    with pytest.raises(Exception, match=f"is inside {images}, an input of this run"):
        RunDir(images / "runs" / "out", force=False, resume=False, read=(str(images),))
    assert sorted(os.listdir(images)) == ["cat"]


# ------------------------------------------------------------------- 11: a long name, --json errors


@pytest.mark.slow
def test_output_a_name_of_255_characters_works(tmp_path):
    """`.NAME.partial` of a 246–255 character NAME is too long for a file name: a shortened sibling is used."""
    recipe = write_recipe(tmp_path)
    name = "r" * 255
    res = cli("run", recipe, "--output", name, "--quiet", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["output_dir"] == str(tmp_path / name)
    assert (tmp_path / name / "report.json").is_file()
    assert sorted(os.listdir(tmp_path)) == sorted([name, "recipe.yaml"])
    for n in range(240, 256):
        for suffix in ("partial", "old", "lock"):
            assert len(sibling(tmp_path / ("x" * n), suffix).name) <= 255
    assert sibling(tmp_path / "x", "partial").name == ".x.partial"
    res = cli("run", recipe, "--output", "r" * 256, "--quiet")
    assert res.exit_code == 2 and "the name is too long (256 bytes" in one_error_line(res)


@pytest.mark.parametrize("args, code, says", [
    (["missing.yaml"], 2, "recipe file not found"),
    (["recipe.yaml", "--no-such-option"], 2, "--no-such-option"),
    (["recipe.yaml", "--output", "home", "--force"], 2, "is not an optimize-cli output directory"),
])
def test_output_json_errors_are_a_json_object_on_stdout(tmp_path, home, args, code, says):
    write_recipe(tmp_path)
    res = cli("run", *args, "--json")
    assert res.exit_code == code
    line = one_error_line(res)
    doc = json.loads(res.stdout)
    assert doc == {"error": line[len("error: "):], "exit_code": code} and says in doc["error"]


def test_output_json_interruption_is_a_json_object_on_stdout(tmp_path, monkeypatch):
    from optimize_cli import export

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(export, "convert", interrupted)
    recipe = write_recipe(tmp_path)
    res = cli("run", recipe, "--output", tmp_path / "out", "--quiet", "--json")
    assert res.exit_code == 130
    line, = res.stderr.strip().splitlines()
    assert json.loads(res.stdout) == {"error": line, "exit_code": 130}
    assert line.startswith("interrupted: nothing to resume (no stage had finished); run again with: ")
