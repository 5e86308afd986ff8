"""cli/catalog.py: tree, recipes and schema. Never imports TensorFlow."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml
from click.testing import CliRunner

from optimize_cli.cli import main

ROOT = Path(__file__).resolve().parents[2]
BUILTIN = sorted((ROOT / "recipes").glob("*.yaml"))
BUILTIN_NAMES = [yaml.safe_load(p.read_text())["name"] for p in BUILTIN]


def cli(*args: str, **env: str):
    return CliRunner(env={"NO_COLOR": "1", "COLUMNS": "200", **env}).invoke(main, list(args))


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


# ------------------------------------------------------------------------------ search recipes


def test_cli_recipes_marks_search_recipes_with_every_path():
    rows = {r["name"]: r for r in json.loads(cli("recipes", "--json").stdout)}
    search = rows["search-quantization"]
    assert search["search"] is True and rows["ptq-int8"]["search"] is False
    assert sorted(search["paths"]) == sorted(f"{p}tflite({q})" for p in ("", "prune → ")
                                             for q in ("dynamic", "float16", "int8"))
    assert rows["search-prune-cluster-int8"]["paths"] == ["prune → cluster → tflite(int8)", "prune → tflite(int8)"]
    assert "search-quantization (search)" in cli("recipes").stdout


def test_cli_tree_of_a_search_recipe_shows_every_path_it_may_take():
    result = cli("tree", "search-prune-cluster-int8")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.count("search-prune-cluster-int8") == 3 and "no built-in recipe" not in out  # 2 leaves + the heading
    assert "may take 2 paths:" in out and "prune → tflite(int8)  (stages.1.enabled=false)" in out
    assert "prune → cluster → tflite(int8)  (stages.1.enabled=true, stages.1.clusters=8)" in out
    plain = cli("tree", "ptq-int8")
    assert plain.exit_code == 0 and plain.stdout.rstrip().endswith("ptq-int8: tflite(int8)")
    # the overall tree names a search recipe at each of its paths
    assert cli("tree").stdout.count("search-quantization (search)") == 6


def test_cli_tree_of_a_bad_search_recipe_is_one_error_line_exit_2(tmp_path):
    src = (ROOT / "recipes" / "search-prune-cluster-int8.yaml").read_text()
    path = tmp_path / "s.yaml"
    path.write_text(src.replace("choices: [8, 16]", "choices: [8, 1]"))
    bad = cli("tree", str(path))
    assert bad.exit_code == 2 and bad.stderr.startswith("error: ") and bad.stderr.count("\n") == 1
    assert "clusters" in bad.stderr and "(with stages.1.enabled=true, stages.1.clusters=1)" in bad.stderr


def test_schema_report_prints_the_report_schema_that_validates_reports():
    import json

    from optimize_cli.report.schema import load_schema
    from tests.run_helpers import cli

    r = cli("schema", "--report")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == load_schema()


def test_cli_recipes_are_sorted_by_name_one_line_each_in_a_pipe():
    """Into a pipe (CliRunner's stdout is not a terminal) each recipe is one whole line, even where COLUMNS
    is narrow: `optimize-cli recipes | grep distill` finds the recipe with its description."""
    lines = cli("recipes", COLUMNS="80").stdout.splitlines()
    names = [line.split()[0] for line in lines[1:]]
    assert names == sorted(BUILTIN_NAMES)
    by_name = {r["name"]: r for r in json.loads(cli("recipes", "--json").stdout)}
    assert [r["name"] for r in json.loads(cli("recipes", "--json").stdout)] == sorted(BUILTIN_NAMES)
    for line in lines[1:]:
        row = by_name[line.split()[0]]
        assert row["description"] in line and " | ".join(row["paths"]) in line
        assert line == line.rstrip()
    assert [line for line in lines if "distill" in line]


def test_cli_recipes_on_an_80_column_terminal_never_wrap_inside_a_name():
    import io

    from rich.console import Console

    from optimize_cli.cli.catalog import _recipes_table

    rows = json.loads(cli("recipes", "--json").stdout)
    console = Console(file=io.StringIO(), force_terminal=True, width=80, color_system=None)
    console.print(_recipes_table(rows, console))
    out = console.file.getvalue()
    assert max(len(line) for line in out.splitlines()) <= 80
    words = set(out.split())
    for name in BUILTIN_NAMES:
        assert name in words, f"{name} is wrapped or cut"
    for row in rows:  # the descriptions wrap at spaces: every word of them is whole
        for word in row["description"].split():
            assert word in words, word
