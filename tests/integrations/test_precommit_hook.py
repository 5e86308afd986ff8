"""The repo's pre-commit hook (.pre-commit-hooks.yaml: optimize-cli-validate), run by pre-commit itself with
`pre-commit try-repo` against a temporary git repository holding one good and one broken recipe: it passes
on the first and fails on the second, naming the file and the line. The hook is `language: system`: it
runs the optimize-cli of this environment (put first on PATH here, as an activated venv does)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from run_helpers import ROOT, ptq_recipe

HOOK = "optimize-cli-validate"


def _precommit() -> list[str]:
    import importlib.util

    if importlib.util.find_spec("pre_commit") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("pre-commit is not installed (the test extra has it)")
        pytest.skip("pre-commit is not installed")
    return [sys.executable, "-m", "pre_commit"]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"})


def _hook_repo(tmp_path: Path) -> Path:
    """The hook's repository as try-repo reads it: this checkout's .pre-commit-hooks.yaml in a git repo
    (a copy, so the test does not depend on the checkout being a git repository or on its state)."""
    repo = tmp_path / "hook-repo"
    repo.mkdir()
    shutil.copy(ROOT / ".pre-commit-hooks.yaml", repo / ".pre-commit-hooks.yaml")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "hooks")
    return repo


def test_precommit_hook_passes_a_good_recipe_and_fails_a_broken_one_naming_file_and_line(tmp_path):
    pre_commit = _precommit()
    if shutil.which("git") is None:
        pytest.fail("git is needed by pre-commit")
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    (hook,) = [h for h in hooks if h["id"] == HOOK]
    assert hook["entry"] == "optimize-cli validate" and hook["language"] == "system"

    project = tmp_path / "project"
    (project / "recipes").mkdir(parents=True)
    good = ptq_recipe("good")
    (project / "recipes" / "good.yaml").write_text(yaml.safe_dump(good, sort_keys=False))
    broken = dict(good, name="broken", export={"quantization": "int9"})
    text = yaml.safe_dump(broken, sort_keys=False)
    (project / "recipes" / "broken.yaml").write_text(text)
    line = 1 + next(i for i, ln in enumerate(text.splitlines()) if "int9" in ln)
    (project / "notes.yaml").write_text("not: a recipe\n")  # outside recipes/: not the hook's business
    _git(project, "init", "-q")
    _git(project, "add", ".")
    _git(project, "commit", "-q", "-m", "recipes")

    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    hook_repo = _hook_repo(tmp_path)

    def try_repo(*files: str):
        return subprocess.run([*pre_commit, "try-repo", str(hook_repo), HOOK, "--files", *files], cwd=project,
                              capture_output=True, text=True, env=env, timeout=300, stdin=subprocess.DEVNULL)

    ok = try_repo("recipes/good.yaml", "notes.yaml")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Passed" in ok.stdout

    bad = try_repo("recipes/good.yaml", "recipes/broken.yaml")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Failed" in bad.stdout
    assert f"recipes/broken.yaml:{line}:" in bad.stdout and "export.quantization" in bad.stdout, bad.stdout
    assert "Traceback" not in bad.stdout
