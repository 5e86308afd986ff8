"""The JSON Schema of the recipe."""
from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from recipe_helpers import ALL_BUILTIN, SHORTEST

from optimize_cli.recipe import (
    json_schema,
)

# ------------------------------------------------------------------------------------ JSON Schema


@pytest.fixture(scope="module")
def validator():
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_is_json_and_names_itself():
    schema = json.loads(json.dumps(json_schema()))
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["title"] == "optimize-cli recipe"
    assert {"version", "model", "data", "training", "stages", "export", "evaluation", "gates"} <= set(schema["properties"])


@pytest.mark.parametrize("path", ALL_BUILTIN, ids=[p.stem for p in ALL_BUILTIN])
def test_schema_accepts_builtin_recipe(validator, path):
    validator.validate(yaml.safe_load(path.read_text()))


def test_schema_accepts_the_shortest_recipe_and_empty_sections(validator):
    validator.validate(yaml.safe_load(SHORTEST + "training:\nexport:\n"))


@pytest.mark.parametrize("patch", [
    {"modle": "x"},
    {"version": 2},
    {"stages": ["prunee"]},
    {"stages": [{"type": "prune", "target_sparsity": 1.0}]},
    {"stages": [{"type": "cluster", "clusters": 1}]},
    {"stages": [{"epochs": 3}]},
    {"stages": [{"type": "prune", "targt_sparsity": 0.5}]},
    {"training": {"optimizer": "adamw"}},
    {"training": {"batch_size": "many"}},
    {"export": {"quantization": "int4"}},
    {"data": {"train": {"type": "csv", "path": "x"}}},
    {"gates": {"max_accuracy_drop": -1}},
])
def test_schema_rejects_bad_recipes(validator, patch):
    doc = yaml.safe_load(SHORTEST)
    doc.update(patch)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(doc)


def test_schema_describes_every_stage_parameter():
    defs = json_schema()["$defs"]
    for name in ("PruneStage", "ClusterStage", "QatStage"):
        for field, spec in defs[name]["properties"].items():
            if field != "type":
                assert spec.get("description"), f"{name}.{field} has no description"
