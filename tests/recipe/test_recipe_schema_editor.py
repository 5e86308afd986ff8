"""The recipe JSON Schema as generic validators and editors see it (issue 10 #14): if/then on `type`
instead of a bare discriminator, a description on every `type`, real defaults instead of null, `data`
required where a training stage or int8 calibration needs it, and errors that name the problem."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from jsonschema.exceptions import best_match

from optimize_cli.cli import main
from optimize_cli.recipe import json_schema

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "recipes").rglob("*.yaml"))
NPZ = {"type": "npz", "path": "d.npz", "x": "x_train", "y": "y_train"}


@pytest.fixture(scope="module")
def validator():
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _walk(node, path=()):
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from _walk(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, (*path, i))


def _message(validator, doc) -> str:
    err = best_match(validator.iter_errors(doc))
    assert err is not None, f"accepted: {doc}"
    return err.message


@pytest.mark.parametrize("path", RECIPES, ids=[str(p.relative_to(ROOT / "recipes")) for p in RECIPES])
def test_every_builtin_and_example_recipe_validates(validator, path):
    validator.validate(yaml.safe_load(path.read_text()))


def test_no_bare_discriminator_no_null_defaults_and_every_type_described():
    schema = json_schema()
    nodes = list(_walk(schema))
    assert not [p for p, n in nodes if "discriminator" in n]
    assert not [p for p, n in nodes if "default" in n and n["default"] is None], "null defaults left"
    types = [(p, n["properties"]["type"]) for p, n in nodes if isinstance(n.get("properties"), dict)
             and isinstance(n["properties"].get("type"), dict) and "if" not in p]  # not the if/then tests
    assert len(types) >= 9  # 3 stages + 6 data sources, plus the if/then enums
    assert all(t.get("description") for _, t in types), [p for p, t in types if not t.get("description")]
    export = schema["$defs"]["ExportConfig"]["properties"]["quantization"]
    assert export["default"] == "int8"


def test_a_misspelled_key_is_named(validator):
    doc = {"version": 1, "model": "m", "data": {"train": NPZ}, "stages": [{"type": "prune", "targt_sparsity": 0.5}]}
    assert "'targt_sparsity' was unexpected" in _message(validator, doc)
    doc = {"version": 1, "model": "m", "data": {"train": {**NPZ, "pth": "x"}}, "export": {"quantization": "none"}}
    assert "'pth' was unexpected" in _message(validator, doc)
    doc = {"version": 1, "model": "m", "data": {"eval": {"validation_splt": 0.2}}, "export": {"quantization": "none"}}
    assert "validation_splt" in _message(validator, doc) or "'path' is a required property" in _message(validator, doc)


def test_missing_data_for_int8_or_a_stage_fails_with_a_clear_message(validator):
    for doc in ({"version": 1, "model": "m"},  # the default export is int8: calibration needs data
                {"version": 1, "model": "m", "export": {"quantization": "int8"}},
                {"version": 1, "model": "m", "export": {"quantization": "none"}, "stages": ["prune"]}):
        assert _message(validator, doc) == "'data' is a required property", doc
    doc = {"version": 1, "model": "m", "export": {"quantization": "none"}, "stages": ["prune"],
           "data": {"eval": NPZ}}
    assert _message(validator, doc) == "'train' is a required property"
    validator.validate({"version": 1, "model": "m", "export": {"quantization": "none"}})  # PTQ float: no data needed
    validator.validate({"version": 1, "model": "m", "data": {"representative": NPZ}})  # int8 calibrated


def test_schema_help_documents_the_yaml_language_server_line(tmp_path):
    res = CliRunner().invoke(main, ["schema", "--help"])
    assert res.exit_code == 0 and "# yaml-language-server: $schema=" in res.output
    out = tmp_path / "recipe.schema.json"
    assert CliRunner().invoke(main, ["schema", "-o", str(out)]).exit_code == 0
    assert json.loads(out.read_text())["$schema"].endswith("2020-12/schema")
