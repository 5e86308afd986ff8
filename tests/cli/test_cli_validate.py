"""cli/validate.py: validate (and run with a bad recipe): exit codes and one-line errors. Never imports
TensorFlow itself."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from optimize_cli.cli import main

ROOT = Path(__file__).resolve().parents[2]
BUILTIN = sorted((ROOT / "recipes").glob("*.yaml"))


def cli(*args: str, **env: str):
    return CliRunner(env={"NO_COLOR": "1", "COLUMNS": "200", **env}).invoke(main, list(args))


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "model").mkdir()
    (tmp_path / "data.npz").write_bytes(b"")
    return tmp_path


GOOD = """\
version: 1
model: model
data:
  train: {path: data.npz}
stages: [prune, cluster, qat]
"""


def write(folder: Path, text: str, name: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


# -------------------------------------------------------------------------------------- validate


def test_cli_validate_good_recipe(work):
    path = write(work, GOOD, "good.yaml")
    result = cli("validate", str(path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{path}: ok (prune → cluster → qat → tflite(int8))\n"
    assert result.stderr == ""


def test_cli_validate_bad_recipe_exits_2_with_one_line(work):
    path = write(work, GOOD.replace("[prune, cluster, qat]", "[qat, prune]"), "bad.yaml")
    result = cli("validate", str(path))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (f"error: {path}:5: stages[1].type: 'prune' cannot come after 'qat': the order is "
                             "filter_prune → prune → cluster → qat (qat is always the last training stage)\n")


def test_cli_validate_json(work):
    good = write(work, GOOD, "good.yaml")
    bad = write(work, GOOD + "training: {batch_size: 0, optimizer: adamw}\n", "bad.yaml")
    result = cli("validate", "--json", str(good), str(bad))
    assert result.exit_code == 2
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0] == {"recipe": str(good), "valid": True, "name": "good", "stages": ["prune", "cluster", "qat"],
                        "scheme": "PCQAT", "quantization": "int8", "problems": []}
    assert lines[1]["recipe"] == str(bad) and lines[1]["valid"] is False
    assert lines[1]["problems"] == [
        {"path": "training.batch_size", "line": 6, "message": "must be >= 1 (got 0)"},
        {"path": "training.optimizer", "line": 6,
         "message": "must be 'adam', 'sgd' or 'rmsprop' (got 'adamw'; did you mean 'adam'?)"},
    ]
    assert lines[1]["error"].startswith(f"{bad}:6: training.batch_size: must be >= 1 (got 0)")


def test_cli_validate_json_for_an_unreadable_file(work):
    result = cli("validate", "--json", str(work / "missing.yaml"))
    assert result.exit_code == 2
    out = json.loads(result.stdout)
    assert out["valid"] is False and out["problems"][0]["message"].endswith("recipe file not found")


def test_cli_validate_many_files_exit_2_if_any_is_bad(work):
    good = write(work, GOOD, "good.yaml")
    bad = write(work, GOOD.replace("version: 1", "version: 2"), "bad.yaml")
    result = cli("validate", str(good), str(bad), str(good))
    assert result.exit_code == 2
    assert result.stdout.count(": ok (") == 2
    assert result.stderr.count("\n") == 1 and f"{bad}:1: version: unsupported recipe version 2" in result.stderr
    assert cli("validate", str(good), str(good)).exit_code == 0


def test_cli_validate_every_builtin_recipe():
    result = cli("validate", *map(str, BUILTIN), "--model", str(ROOT))  # --model: any existing path will do
    assert result.exit_code in (0, 2)
    if (ROOT / "sample_models" / "digits.npz").exists():
        assert result.exit_code == 0, result.stderr
        assert result.stdout.count(": ok (") == len(BUILTIN)


def test_cli_validate_set_and_model_options(work):
    path = write(work, GOOD.replace("model: model\n", ""), "good.yaml")
    result = cli("validate", str(path), "--model", str(work / "model"), "--set", "stages=[prune]",
                 "--set", "export.quantization=dynamic")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{path}: ok (prune → tflite(dynamic))\n"
    result = cli("validate", str(path), "--model", str(work / "model"), "--set", "stages.0.clusters=1")
    assert result.exit_code == 2
    assert result.stderr == (f"error: {path}: stages[0].clusters: unknown key here: 'clusters' belongs in a "
                             "cluster stage (from --set stages.0.clusters)\n")
    result = cli("validate", str(path), "--set", "nonsense")
    assert result.exit_code == 2 and "expected KEY=VALUE" in result.stderr


def test_cli_validate_needs_a_file():
    result = cli("validate")
    assert result.exit_code == 2 and "Missing argument" in result.stderr


def test_cli_validate_missing_file(work):
    result = cli("validate", str(work / "nope.yaml"))
    assert result.exit_code == 2
    assert result.stderr == f"error: {work / 'nope.yaml'}: recipe file not found\n"


def test_cli_run_with_a_bad_recipe_exits_2_before_any_work(work):
    path = write(work, GOOD.replace("prune, cluster", "prune, prune"), "bad.yaml")
    result = cli("run", str(path), "--output", str(work / "out"))
    assert result.exit_code == 2
    assert "'prune' appears twice" in result.stderr and result.stderr.count("\n") == 1
    assert not (work / "out").exists()


def test_cli_validate_message_with_markup_characters(work):
    path = write(work, GOOD + "name: '[/x]'\n", "bad.yaml")
    result = cli("validate", str(path))
    assert result.exit_code == 2
    assert "'[/x]'" in result.stderr
