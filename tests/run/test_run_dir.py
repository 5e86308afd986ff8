"""run/run_dir.py safety: the output directory is the only place written, and cleaning or replacing it
never follows a symbolic link out of it."""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from run_helpers import MODEL, cli, ptq_recipe, write_recipe

from optimize_cli.errors import RecipeError
from optimize_cli.run.run_dir import RunDir, write_marker

PTQ = ptq_recipe('safety', 100)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Nothing a test runs may write outside its temporary directory (no runs/ in the repository)."""
    monkeypatch.chdir(tmp_path)


def digest(d: Path) -> dict:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file() and not p.is_symlink()}


@pytest.fixture
def no_rmtree_on_links(monkeypatch):
    """Fail if anything calls shutil.rmtree on a symbolic link (it must be unlinked instead)."""
    calls = []
    real = shutil.rmtree

    def guarded(path, *a, **k):
        assert not os.path.islink(path), f"shutil.rmtree called on the symbolic link {path}"
        calls.append(str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(shutil, "rmtree", guarded)
    return calls


# ------------------------------------------------------------------------------ output directory


@pytest.mark.slow
def test_safety_replacing_output_never_follows_links_out_of_it(tmp_path, no_rmtree_on_links):
    """DIR and .DIR.partial hold links to folders outside (planted, or left by a user): --force and
    --resume replace and clean them without removing anything the links point to."""
    outside = tmp_path / "outside"
    (outside / "sub").mkdir(parents=True)
    (outside / "precious.txt").write_text("keep me")
    (outside / "sub" / "also.txt").write_text("keep me too")
    before = digest(outside)
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("from an earlier run")
    (out / "link_to_outside").symlink_to(outside, target_is_directory=True)
    (out / "stages").mkdir()
    (out / "stages" / "01_prune").symlink_to(outside, target_is_directory=True)
    write_marker(out, "earlier")
    partial = tmp_path / ".out.partial"
    (partial / "stages").mkdir(parents=True)
    write_marker(partial, "interrupted")
    (partial / ".work").symlink_to(outside, target_is_directory=True)
    (partial / "stages" / "01_prune").symlink_to(outside, target_is_directory=True)
    (partial / "stages" / "02_cluster").symlink_to(outside / "precious.txt")
    (tmp_path / ".out.old").symlink_to(outside, target_is_directory=True)
    recipe = write_recipe(tmp_path, PTQ)

    # (--resume with no finished stage to continue from runs from the start)
    res = cli("run", recipe, "--output", out, "--quiet", "--resume")
    assert res.exit_code == 0, res.output
    assert digest(outside) == before
    assert not (out / "link_to_outside").exists() and not (out / "old.txt").exists()
    assert (out / "model.tflite").is_file()
    assert sorted(os.listdir(tmp_path)) == ["out", "outside", "recipe.yaml"]

    # .DIR.partial itself a link out of the tree: unlinked, its target untouched (a run without --resume)
    partial.symlink_to(outside, target_is_directory=True)
    (out / "link_to_outside").symlink_to(outside, target_is_directory=True)
    res = cli("run", recipe, "--output", out, "--quiet", "--force")
    assert res.exit_code == 0, res.output
    assert digest(outside) == before
    assert sorted(os.listdir(tmp_path)) == ["out", "outside", "recipe.yaml"]


@pytest.mark.slow
def test_safety_output_given_as_a_link_writes_only_fixed_names_into_its_target(tmp_path, no_rmtree_on_links):
    real = tmp_path / "real_out"
    real.mkdir()
    link = tmp_path / "latest"
    link.symlink_to(real, target_is_directory=True)
    recipe = write_recipe(tmp_path, PTQ)
    res = cli("run", recipe, "--output", link, "--quiet")
    assert res.exit_code == 0, res.output
    assert link.is_symlink() and (link / "model.tflite").is_file()
    # the only paths written are the fixed names inside DIR (no .partial/.old left beside it)
    assert sorted(os.listdir(tmp_path)) == ["latest", "real_out", "recipe.yaml"]
    assert sorted(os.listdir(real)) == [
        ".optimize-cli-run", "model.tflite", "recipe.resolved.yaml", "report.html", "report.json", "report.md", "stages"]
    for p in real.rglob("*"):
        assert not p.is_symlink()
        assert Path(os.path.realpath(p)).is_relative_to(real)


def test_safety_output_link_to_nothing_is_refused(tmp_path):
    link = tmp_path / "dangling"
    link.symlink_to(tmp_path / "missing")
    with pytest.raises(RecipeError, match="is a symbolic link to .*missing, which is not a directory"):
        RunDir(link, force=True, resume=False)
    assert not (tmp_path / "missing").exists()


def test_safety_output_that_holds_an_input_is_refused(tmp_path):
    """--force would replace DIR, deleting the model or data inside it."""
    work = tmp_path / "work"
    shutil.copytree(MODEL, work / "model")
    (work / "notes.txt").write_text("mine")
    recipe = write_recipe(tmp_path, {**PTQ, "model": str(work / "model")})
    res = cli("run", recipe, "--output", work, "--force", "--quiet")
    assert res.exit_code == 2
    line, = res.stderr.strip().splitlines()
    assert f"--output {work}: contains {work / 'model'}, an input of this run" in line
    assert (work / "model" / "saved_model.pb").is_file() and (work / "notes.txt").read_text() == "mine"


def test_safety_commit_after_kill_between_renames_restores_previous_results(tmp_path):
    """A run killed between commit's two renames left DIR missing and `.DIR.old` holding the previous
    results: the next run puts them back before anything else."""
    old = tmp_path / ".out.old"
    old.mkdir()
    (old / "report.json").write_text("{}")
    write_marker(old, "earlier")
    with pytest.raises(RecipeError, match="already exists"):
        RunDir(tmp_path / "out", force=False, resume=False)
    assert (tmp_path / "out" / "report.json").read_text() == "{}"
    assert not old.exists()
