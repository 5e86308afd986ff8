"""A non-editable install from the wheel has the built-in recipes and sample models: `recipes` lists them,
`tree` names them, and `run ptq-int8` (a built-in recipe given by name) produces a measured .tflite.

The wheel is built from a copy of this checkout and installed with --no-deps into a fresh venv whose other
packages come from the test environment (a plain path entry, so the editable install is not seen)."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_IGNORE = shutil.ignore_patterns(".git", ".venv*", "runs", "build", "dist", "*.egg-info", "__pycache__",
                                 ".pytest_cache", ".hypothesis", ".ruff_cache", "tests", "site")


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the checkout must not look installed
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=_IGNORE)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp / "dist"), str(src)], check=True, capture_output=True, timeout=300, env=env)
    wheel = next((tmp / "dist").glob("optimize_cli-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    # the test environment's packages (TensorFlow …) after the venv's own: a path line, not a site dir
    deps = {sysconfig.get_paths()["purelib"], *site.getsitepackages()}
    Path(purelib, "test-deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet", "--no-deps",
                    str(wheel)], check=True, capture_output=True, timeout=300, env=env)
    return venv / "bin" / "optimize-cli", env, Path(purelib), tmp


@pytest.mark.slow
def test_wheel_installs_outside_the_checkout(wheel_env):
    cli, env, purelib, tmp = wheel_env
    out = subprocess.run([str(cli.parent / "python"), "-c", "import optimize_cli; print(optimize_cli.__file__)"],
                         capture_output=True, text=True, env=env, cwd=tmp, check=True).stdout
    assert Path(out.strip()).is_relative_to(purelib), out


def test_wheel_recipes_lists_every_builtin(wheel_env):
    cli, env, _, tmp = wheel_env
    proc = subprocess.run([str(cli), "recipes", "--json"], capture_output=True, text=True, env=env, cwd=tmp,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    want = sorted(p.stem for p in (ROOT / "recipes").glob("*.yaml"))
    assert sorted(r["name"] for r in rows) == want
    assert all(not r["description"].startswith("INVALID") for r in rows), rows


def test_wheel_tree_names_builtin_recipes(wheel_env):
    cli, env, _, tmp = wheel_env
    proc = subprocess.run([str(cli), "tree"], capture_output=True, text=True, env=env, cwd=tmp, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "prune-cluster-pcqat" in proc.stdout and "ptq-int8" in proc.stdout


@pytest.mark.slow
def test_wheel_runs_builtin_recipe_by_name(wheel_env):
    cli, env, _, tmp = wheel_env
    work = tmp / "work"
    work.mkdir()
    proc = subprocess.run([str(cli), "run", "ptq-int8", "--output", "out", "--json", "--quiet"],
                          capture_output=True, text=True, env=env, cwd=work, timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    report = json.loads((work / "out" / "report.json").read_text())
    assert report["result"]["quantization"] == "int8"
    assert (work / "out" / "model.tflite").stat().st_size == report["result"]["tflite_bytes"]
    assert report["result"]["accuracy"] is not None and report["result"]["accuracy"] > 0.5
    assert summary


def test_setup_cfg_lists_every_package():
    """setup.cfg names the packages one by one (recipes/ and sample_models/ are mapped in as data): a new
    package that is not listed would be missing from the wheel."""
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "optimize_cli").rglob("__init__.py")}
    assert found | {"optimize_cli.recipes", "optimize_cli.sample_models"} == listed


#: the README's command blocks the wheel test runs: a fenced block right after this comment
README_MARK = "<!-- readme-commands:"
#: commands that answer in a second without TensorFlow: run as written
CHEAP = ("recipes", "validate", "schema", "tree", "--version")


def readme_commands(text: str) -> list[list[str]]:
    """The `optimize-cli ...` lines of the README's marked blocks, as argv (comments dropped)."""
    out = []
    for block in re.findall(re.escape(README_MARK) + r"[^\n]*\n```[a-z]*\n(.*?)```", text, re.S):
        for line in block.splitlines():
            argv = shlex.split(line, comments=True)
            if argv and argv[0] == "optimize-cli":
                out.append(argv)
    return out


def test_readme_commands_are_marked_and_need_no_checkout():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = readme_commands(text)
    assert {argv[1] for argv in commands} >= {"recipes", "validate", "run", "schema", "--version"}, commands
    for argv in commands:
        assert not any(a.startswith(("recipes/", ".venv/")) or a.endswith(".yaml") and "/" in a for a in argv), argv
    assert ".venv/bin/optimize-cli" not in text and "dscnn-search.yaml" not in text


@pytest.mark.slow
def test_wheel_runs_the_readme_commands(wheel_env):
    """From the wheel's venv, in an empty folder: the cheap README commands as written; a `run` line is
    validated with the same recipe, --model and --set (the recipe resolves by name, its paths exist)."""
    cli, env, _, tmp = wheel_env
    work = tmp / "readme"
    work.mkdir()
    env = {**env, "PATH": f"{cli.parent}{os.pathsep}{env.get('PATH', '')}"}
    commands = readme_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    ran = 0
    for argv in commands:
        if argv[1] == "run":
            keep, rest = [argv[2]], argv[3:]
            while rest:
                flag = rest.pop(0)
                if flag in ("--model", "--set"):
                    keep += [flag, rest.pop(0)]
            argv = ["optimize-cli", "validate", *keep]
        elif argv[1] not in CHEAP:
            continue
        proc = subprocess.run([str(cli), *argv[1:]], capture_output=True, text=True, env=env, cwd=work, timeout=120)
        assert proc.returncode == 0, (argv, proc.stdout[-2000:], proc.stderr[-2000:])
        ran += 1
    assert ran == len(commands)
    assert json.loads((work / "recipe.schema.json").read_text())["properties"]["stages"]
