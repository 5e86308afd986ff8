"""The data section: the registry of source types builds it, it imports without TensorFlow, and the
example recipes validate, are small and match the JSON Schema."""
from __future__ import annotations

import subprocess
import sys

import pytest
from data_helpers import EXAMPLES, ROOT
from pydantic_core import PydanticUndefined

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


def test_data_config_every_source_type_is_one_module_of_the_registry():
    from optimize_cli.data import DATA_SOURCES, EVAL_ONLY, SOURCES, DataConfig

    for t, module in {**SOURCES, **EVAL_ONLY}.items():
        assert t == module.TYPE and module.MODEL.model_fields["type"].default in (t, PydanticUndefined)
        assert all(callable(getattr(module, f)) for f in ("check", "files"))
        assert t in EVAL_ONLY or callable(module.load)
    assert {t: m.MODEL for t, m in SOURCES.items()} == DATA_SOURCES
    # the recipe's data section is built from the registry: every source type for train/representative,
    # and validation_split for eval only
    for t, model in DATA_SOURCES.items():
        assert type(DataConfig(train={"type": t, **_minimal(t)}).train) is model
    with pytest.raises(ValueError, match="only data.eval takes validation_split"):
        DataConfig(train={"validation_split": 0.2})
    assert DataConfig(eval={"validation_split": 0.2}).eval.type == "validation_split"


def _minimal(t: str) -> dict:
    return {"npz": {"path": "d.npz"}, "image_dir": {"path": "img", "image_size": [2, 2]},
            "tfrecord": {"path": "d.tfrecord", "features": {"x": {}, "y": {}}},
            "tfds": {"name": "mnist", "data_dir": "."}, "python": {"function": "m:f"}}[t]


def test_data_config_package_imports_without_tensorflow():
    code = ("import sys; import optimize_cli.data, optimize_cli.recipe; "
            "heavy = [m for m in ('tensorflow', 'tf_keras', 'tensorflow_datasets') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
