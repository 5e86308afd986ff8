"""The command line shell: --version, --help, validate, tree, recipes, schema; exit codes; and that none
of these imports TensorFlow. Never imports TensorFlow itself."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from optimize_cli import __version__
from optimize_cli.cli import main

ROOT = Path(__file__).resolve().parent.parent
BUILTIN = sorted((ROOT / "recipes").glob("*.yaml"))
BUILTIN_NAMES = [yaml.safe_load(p.read_text())["name"] for p in BUILTIN]


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


# --------------------------------------------------------------------------------- version / help


def test_cli_version():
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"optimize-cli, version {__version__}"


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
                             "prune → cluster → qat (qat is always the last training stage)\n")


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


# ------------------------------------------------------------------------------ tree / recipes


def test_cli_tree_names_every_builtin_recipe():
    result = cli("tree")
    assert result.exit_code == 0
    for name in BUILTIN_NAMES:
        assert name in result.stdout, f"{name} missing from the tree"
    for node in ("SavedModel", "prune", "cluster", "PQAT", "CQAT", "PCQAT", "int16x8"):
        assert node in result.stdout


def test_cli_recipes_lists_every_builtin_recipe():
    result = cli("recipes")
    assert result.exit_code == 0
    for name in BUILTIN_NAMES:
        assert name in result.stdout
    assert "INVALID" not in result.stdout


def test_cli_recipes_json():
    result = cli("recipes", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert sorted(r["name"] for r in rows) == sorted(BUILTIN_NAMES)
    for row in rows:
        assert row["path"] and row["description"] and Path(row["file"]).exists()
    by_name = {r["name"]: r for r in rows}
    assert by_name["prune-cluster-pcqat"]["path"] == "prune → cluster → qat → tflite(int8)"


# ---------------------------------------------------------------------------------------- schema


def test_cli_schema_is_a_valid_json_schema_that_accepts_the_builtin_recipes():
    result = cli("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in BUILTIN:
        validator.validate(yaml.safe_load(path.read_text()))
    assert not validator.is_valid({"version": 1, "stages": [{"type": "prunee"}]})


def test_cli_schema_to_a_file(tmp_path):
    out = tmp_path / "recipe.schema.json"
    result = cli("schema", "--output", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(out.read_text())["title"] == "optimize-cli recipe"


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
