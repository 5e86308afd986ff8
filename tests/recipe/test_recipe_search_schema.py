"""The JSON Schema knows search recipes: {search: ...} where a stage, training or export key takes a number
or a choice (choices checked against the key's own schema), optional stages and the search: section;
plain recipes validate as before."""
from __future__ import annotations

import copy

import jsonschema
import pytest
import yaml
from recipe_helpers import ROOT

from optimize_cli.recipe import json_schema

SEARCH = yaml.safe_load((ROOT / "recipes" / "search-prune-cluster-int8.yaml").read_text())


@pytest.fixture(scope="module")
def validator():
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def edited(**where):
    doc = copy.deepcopy(SEARCH)
    for path, value in where.items():
        node, *keys = path.split("__")
        target = doc.setdefault(node, {})
        for k in keys[:-1]:
            target = target[int(k)] if k.isdigit() else target[k]
        last = keys[-1]
        target[int(last) if last.isdigit() else last] = value
    return doc


def test_search_spaces_are_accepted_where_a_value_is(validator):
    validator.validate(SEARCH)
    for doc in (edited(training__learning_rate={"search": [1e-4, 1e-2], "log": True}),
                edited(export__quantization={"search": {"choices": ["dynamic", "int8"]}}),
                edited(stages__0__epochs={"search": [1, 3]}),
                edited(stages__0__schedule={"search": {"choices": ["polynomial", "constant"]}})):
        validator.validate(doc)


def test_search_mistakes_are_refused(validator):
    for doc in (edited(export__quantization={"search": {"choices": ["int9"]}}),  # not a quantization
                edited(export__quantization={"search": [1, 2]}),  # a range of a choice
                edited(stages__0__target_sparsity={"search": [0.4, 0.8], "lg": True}),
                edited(stages__0__target_sparsity={"search": [0.4]}),
                edited(stages__1__optional="yes"),
                edited(search__sampler="annealing"),
                edited(search__trials=0)):
        assert not validator.is_valid(doc), doc


def test_plain_recipes_still_refuse_what_they_refused(validator):
    plain = yaml.safe_load((ROOT / "recipes" / "prune-cluster-pcqat.yaml").read_text())
    validator.validate(plain)
    plain["stages"][0]["target_sparsity"] = 1.5
    assert not validator.is_valid(plain)
    plain["stages"][0]["target_sparsity"] = {"choices": [0.5]}  # not a search space
    assert not validator.is_valid(plain)
