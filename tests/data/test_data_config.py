"""The data section of the example recipes: they validate, are small, and match the JSON Schema."""
from __future__ import annotations

import pytest
from data_helpers import (
    EXAMPLES,
    ROOT,
)

from optimize_cli.recipe import load_recipe


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_data_example_recipes_validate(path):
    r = load_recipe(path)
    assert r.data.eval is not None and (r.data.train is not None or r.data.representative is not None)


def test_data_example_recipes_exist_and_are_small():
    assert {p.stem for p in EXAMPLES} >= {"binary", "regression", "multi_output"}
    files = [p for p in (ROOT / "recipes" / "examples" / "data").rglob("*") if p.is_file()]
    assert files and sum(p.stat().st_size for p in files) < 200_000


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_data_example_recipes_match_the_json_schema(path):
    import jsonschema
    import yaml

    from optimize_cli.recipe import json_schema

    jsonschema.Draft202012Validator(json_schema()).validate(yaml.safe_load(path.read_text()))
