"""cli/__init__.py: --version, --help, usage errors, the entry point; and that the light commands never
import TensorFlow. Never imports TensorFlow itself."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from optimize_cli import __version__
from optimize_cli.cli import main

ROOT = Path(__file__).resolve().parents[2]
BUILTIN = sorted((ROOT / "recipes").glob("*.yaml"))


def cli(*args: str, **env: str):
    return CliRunner(env={"NO_COLOR": "1", "COLUMNS": "200", **env}).invoke(main, list(args))


# --------------------------------------------------------------------------------- version / help


def test_cli_version_names_the_libraries_that_do_the_work():
    from importlib.metadata import version

    result = cli("--version")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"optimize-cli, version {__version__}"
    for label, dist in (("tensorflow", "tensorflow"), ("tf_keras", "tf-keras"),
                        ("tfmot", "tensorflow-model-optimization"), ("litert", "ai-edge-litert")):
        assert any(line.split() == [label, version(dist)] for line in lines), (label, lines)


def test_cli_version_names_the_optional_libraries_only_when_installed(monkeypatch):
    import importlib.metadata as md

    from optimize_cli.cli import OPTIONAL_VERSION_OF

    real = md.version

    def version(dist):
        if dist == "optuna":
            raise md.PackageNotFoundError(dist)
        return real(dist)

    monkeypatch.setattr(md, "version", version)
    lines = cli("--version").stdout.splitlines()
    labels = [line.split()[0] for line in lines[1:]]
    assert "optuna" not in labels  # not installed: not named
    assert {"tflite-micro", "vela", "keras", "ai-edge-quantizer"} <= {label for label, _ in OPTIONAL_VERSION_OF}
    for label, dist in OPTIONAL_VERSION_OF:
        if dist != "optuna":
            try:
                want = real(dist)
            except md.PackageNotFoundError:
                continue
            assert any(line.split() == [label, want] for line in lines), (label, lines)
    assert labels[-1] == "python"


def test_cli_debug_is_accepted_after_the_command(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nmodel: m\nstages: [qat, prune]\n")
    for args in (["validate", str(bad), "--debug"], ["--debug", "validate", str(bad)]):
        result = cli(*args)
        assert result.exit_code == 2, result.output  # validate's own exit code, not "no such option"
        assert "No such option" not in result.output
    result = cli("run", str(tmp_path / "missing.yaml"), "--debug")
    assert "No such option" not in result.output and result.exit_code != 0
    assert result.exception is not None and not isinstance(result.exception, SystemExit)  # --debug: raised


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_cli_completion_prints_the_shell_script(shell):
    result = cli("completion", shell)
    assert result.exit_code == 0
    assert "_OPTIMIZE_CLI_COMPLETE" in result.stdout and f"{shell}_complete" in result.stdout


@pytest.mark.parametrize("command", ["run", "validate", "tree", "recipes", "schema", "inspect", "compare",
                                     "completion"])
def test_cli_command_help_shows_an_example(command):
    result = cli(command, "--help")
    assert result.exit_code == 0
    example = result.stdout.split("Example", 1)[1]
    assert "optimize-cli " in example


@pytest.mark.parametrize("args", [["recipes"], ["tree"], ["schema"], ["completion", "bash"],
                                  ["compare", str(ROOT / "tests/fixtures/report_example.json"), "--format", "table"]])
def test_cli_closed_pipe_ends_quietly_with_exit_0(args):
    """The reader has gone before anything is written (`… | head -1` that already exited): no traceback,
    no BrokenPipe message, exit 0."""
    proc = subprocess.Popen([sys.executable, "-m", "optimize_cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "NO_COLOR": "1"})
    proc.stdout.close()  # before the interpreter has even started: every write meets a closed pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and err == ""


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_cli_help_lists_every_command(flag):
    result = cli(flag)
    assert result.exit_code == 0
    for command in ("run", "validate", "tree", "recipes", "schema", "inspect", "compare"):
        assert command in result.stdout


@pytest.mark.parametrize("command", ["run", "validate", "tree", "recipes", "schema", "inspect", "compare"])
def test_cli_command_help(command):
    result = cli(command, "--help")
    assert result.exit_code == 0 and "Usage:" in result.stdout


def test_cli_unknown_command_is_a_usage_error():
    result = cli("optimise")
    assert result.exit_code == 2


# --------------------------------------------------------------------------- no TensorFlow import


NO_TF = r"""
import sys, json
from click.testing import CliRunner
from optimize_cli.cli import main
runner = CliRunner(env={"NO_COLOR": "1"})
codes = {}
for args in (["--help"], ["--version"], ["validate", *sys.argv[1:]], ["validate", "--json", *sys.argv[1:]],
             ["tree"], ["recipes"], ["recipes", "--json"], ["schema"]):
    codes[" ".join(args[:2])] = runner.invoke(main, args).exit_code
heavy = [m for m in ("tensorflow", "tf_keras", "tensorflow_model_optimization", "keras", "ai_edge_litert")
         if m in sys.modules]
print(json.dumps({"codes": codes, "heavy": heavy}))
"""


def test_cli_light_commands_never_import_tensorflow(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nstages: [qat, prune]\n")
    proc = subprocess.run(
        [sys.executable, "-c", NO_TF, str(BUILTIN[0]), str(bad)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["heavy"] == [], f"imported {out['heavy']}"
    assert out["codes"]["--help"] == 0 and out["codes"]["tree"] == 0 and out["codes"]["schema"] == 0
    assert out["codes"]["validate " + str(BUILTIN[0])] == 2  # the bad file makes the whole call exit 2


def test_cli_entry_point_runs_as_a_module():
    proc = subprocess.run([sys.executable, "-m", "optimize_cli", "--version"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and __version__ in proc.stdout


def test_cli_help_says_command_line_paths_are_relative_to_the_current_directory():
    for command in ("run", "validate"):
        text = " ".join(cli(command, "--help").stdout.split())
        assert "Paths given here are relative to the current directory; paths in the recipe file, to the " \
               "recipe's folder." in text, command
        assert "overrides the recipe" in text and "Relative to the current directory." in text, command
